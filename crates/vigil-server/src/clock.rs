//! The service's only source of time.
//!
//! Every rule is fed `now` from a [`Clock`], and every timer the service
//! runs sleeps through it, so tests can move time by hand: a
//! [`ManualClock`] only advances when told to, and wakes the timers whose
//! deadline it passes.
//!
//! Why not Tokio's paused time: it advances on its own whenever the runtime
//! is idle, and the runtime is idle while a write waits on the SQLite worker
//! thread. A coalescer test would then see the clock jump by a whole
//! interval in the middle of a commit.

use std::fmt::Debug;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::watch;
use vigil_proto::UnixMillis;

pub trait Clock: Send + Sync + Debug + 'static {
    /// Wall-clock time in Unix milliseconds: the time base of the protocol.
    fn now_ms(&self) -> UnixMillis;
    /// Resolves once `now_ms() >= deadline`.
    fn sleep_until(&self, deadline: UnixMillis) -> BoxFuture<'static, ()>;
}

/// The system's wall clock; timers are Tokio's.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> UnixMillis {
        // Before 1970 only on a broken clock; treat it as the epoch.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    fn sleep_until(&self, deadline: UnixMillis) -> BoxFuture<'static, ()> {
        let wait = u64::try_from(deadline.saturating_sub(self.now_ms())).unwrap_or(0);
        Box::pin(tokio::time::sleep(std::time::Duration::from_millis(wait)))
    }
}

/// Time that moves only when a test says so.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<UnixMillis>>,
}

impl ManualClock {
    pub fn new(start: UnixMillis) -> Self {
        ManualClock { now: Arc::new(watch::Sender::new(start)) }
    }

    /// Moves time forward by `ms` and wakes every timer now due.
    pub fn advance(&self, ms: i64) {
        self.now.send_modify(|t| *t = t.saturating_add(ms.max(0)));
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> UnixMillis {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: UnixMillis) -> BoxFuture<'static, ()> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; if it is gone, so is
            // every test that could advance it, and the timer never fires.
            if rx.wait_for(|now| *now >= deadline).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_timers_fire_only_when_time_passes_their_deadline() {
        let clock = ManualClock::new(1_000);
        let mut timer = tokio::spawn(clock.sleep_until(1_100));
        clock.advance(99);
        // Proof that the timer saw the change and went back to sleep: a
        // second timer at the new time resolves, the first does not.
        clock.sleep_until(1_099).await;
        assert!(futures::poll!(&mut timer).is_pending());
        clock.advance(1);
        timer.await.unwrap();
        assert_eq!(clock.now_ms(), 1_100);
    }
}
