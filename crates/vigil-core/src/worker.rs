//! The student's inference worker as the server sees it through heartbeats.
//!
//! The page reports `worker_ok` and `inference_fps` in every heartbeat. A
//! student who kills the worker (or whose laptop cannot keep up) would
//! otherwise go unnoticed as long as heartbeats keep coming, because the
//! client-side incidents for these conditions come from the very code that
//! stopped. So the server raises them itself, once per episode:
//!
//! - `worker_stalled` on the first heartbeat that says the worker is not ok;
//! - `inference_rate_low` once the rate has stayed below `min_fps` for
//!   `low_for_ms` (a single slow interval on a busy laptop is not an episode).
//!
//! An episode ends when a heartbeat shows the condition cleared; the next
//! occurrence is a new episode.
//!
//! Pages send heartbeats from the moment they join, while the models are
//! still loading and the worker is not up yet. So watching starts at the
//! first heartbeat that reports a working worker, or `startup_grace_ms`
//! after the first heartbeat, whichever comes first: a slow laptop is not
//! flagged for loading, and a worker that never starts is still caught.

use vigil_proto::events::Heartbeat;
use vigil_proto::{IncidentKind, UnixMillis};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerWatchConfig {
    /// Inferences per second below which detection is too sparse to trust.
    pub min_fps: f64,
    /// How long the rate must stay low before it is an incident.
    pub low_for_ms: i64,
    /// How long after the first heartbeat a worker may take to start.
    pub startup_grace_ms: i64,
}

impl Default for WorkerWatchConfig {
    fn default() -> Self {
        WorkerWatchConfig { min_fps: 1.0, low_for_ms: 10_000, startup_grace_ms: 120_000 }
    }
}

/// A finding to raise as a server incident.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerFinding {
    pub kind: IncidentKind,
    pub started_at: UnixMillis,
    pub detail: String,
}

/// One student's worker state across heartbeats.
#[derive(Debug, Clone, Default)]
pub struct WorkerWatch {
    /// When the first heartbeat arrived.
    first_beat: Option<UnixMillis>,
    /// Whether the worker has been watched since (see the module docs).
    armed: bool,
    stalled: bool,
    /// When the current run of low-rate heartbeats began.
    low_since: Option<UnixMillis>,
    low_raised: bool,
}

impl WorkerWatch {
    /// Feeds one admitted heartbeat, received at `now` (server time: the
    /// client's `at` is not trusted for durations).
    pub fn heartbeat(&mut self, cfg: &WorkerWatchConfig, hb: &Heartbeat, now: UnixMillis) -> Option<WorkerFinding> {
        let first = *self.first_beat.get_or_insert(now);
        self.armed |= hb.worker_ok || now.saturating_sub(first) >= cfg.startup_grace_ms;
        if !self.armed {
            return None;
        }
        if !hb.worker_ok {
            self.low_since = None;
            self.low_raised = false;
            if self.stalled {
                return None;
            }
            self.stalled = true;
            return Some(WorkerFinding {
                kind: IncidentKind::WorkerStalled,
                started_at: now,
                detail: format!("the page reports its inference worker stopped ({} restarts)", hb.worker_restarts),
            });
        }
        self.stalled = false;
        let low = !hb.inference_fps.is_finite() || hb.inference_fps < cfg.min_fps;
        if !low {
            self.low_since = None;
            self.low_raised = false;
            return None;
        }
        let since = *self.low_since.get_or_insert(now);
        if self.low_raised || now - since < cfg.low_for_ms {
            return None;
        }
        self.low_raised = true;
        Some(WorkerFinding {
            kind: IncidentKind::InferenceRateLow,
            started_at: since,
            detail: format!(
                "inference ran at {:.1}/s, below {:.1}/s, for {} s",
                if hb.inference_fps.is_finite() { hb.inference_fps } else { 0.0 },
                cfg.min_fps,
                (now - since) / 1000
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(worker_ok: bool, fps: f64) -> Heartbeat {
        Heartbeat { at: 0, inference_fps: fps, worker_ok, worker_restarts: 0, camera_live: true }
    }

    #[test]
    fn a_stalled_worker_is_raised_once_per_episode() {
        let (cfg, mut w) = (WorkerWatchConfig::default(), WorkerWatch::default());
        assert_eq!(w.heartbeat(&cfg, &hb(true, 12.0), 0), None);
        let f = w.heartbeat(&cfg, &hb(false, 0.0), 1_000).expect("raised");
        assert_eq!((f.kind, f.started_at), (IncidentKind::WorkerStalled, 1_000));
        assert_eq!(w.heartbeat(&cfg, &hb(false, 0.0), 2_000), None);
        assert_eq!(w.heartbeat(&cfg, &hb(true, 12.0), 3_000), None);
        assert!(w.heartbeat(&cfg, &hb(false, 0.0), 4_000).is_some(), "a new episode");
    }

    #[test]
    fn loading_is_not_a_stall_but_never_starting_is() {
        let (cfg, mut w) = (WorkerWatchConfig::default(), WorkerWatch::default());
        assert_eq!(w.heartbeat(&cfg, &hb(false, 0.0), 0), None, "models still loading");
        assert_eq!(w.heartbeat(&cfg, &hb(false, 0.0), 119_999), None);
        let f = w.heartbeat(&cfg, &hb(false, 0.0), 120_000).expect("past the grace period");
        assert_eq!(f.kind, IncidentKind::WorkerStalled);
    }

    #[test]
    fn a_low_rate_must_last_before_it_counts() {
        let (cfg, mut w) = (WorkerWatchConfig::default(), WorkerWatch::default());
        assert_eq!(w.heartbeat(&cfg, &hb(true, 0.5), 0), None);
        assert_eq!(w.heartbeat(&cfg, &hb(true, 0.5), 9_999), None);
        let f = w.heartbeat(&cfg, &hb(true, 0.5), 10_000).expect("raised");
        assert_eq!((f.kind, f.started_at), (IncidentKind::InferenceRateLow, 0));
        assert_eq!(w.heartbeat(&cfg, &hb(true, 0.2), 20_000), None, "once per episode");
        // Recovery in between restarts the clock.
        assert_eq!(w.heartbeat(&cfg, &hb(true, 8.0), 21_000), None);
        assert_eq!(w.heartbeat(&cfg, &hb(true, 0.5), 22_000), None);
        assert_eq!(w.heartbeat(&cfg, &hb(true, f64::NAN), 31_999), None);
        assert!(w.heartbeat(&cfg, &hb(true, 0.5), 32_000).is_some());
    }
}
