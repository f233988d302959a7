//! Sequence number and timestamp rewriting for one watch slot.
//!
//! A slot is one outgoing SSRC towards a proctor. Whatever student or layer
//! it shows, the proctor's jitter buffer must see one continuous stream:
//! sequence numbers that go up by one, and timestamps that move forward by
//! roughly the wall time between the last packet of the old source and the
//! first of the new one. Both are a constant offset per source, fixed at the
//! keyframe where the slot switches.

use std::time::Instant;

/// The first outgoing sequence number. Small, so the SRTP rollover counter
/// starts at 0 and needs no out-of-band signalling (see `str0m::rtp::RtpWrite`).
const FIRST_SEQ: u64 = 1;

#[derive(Debug)]
pub struct Rewriter {
    /// Next sequence number to hand out after a switch.
    next_seq: u64,
    /// Last outgoing timestamp and when it was sent.
    last_ts: Option<(u32, Instant)>,
    /// Incoming extended sequence number that maps to `base_seq`.
    start_in_seq: u64,
    base_seq: u64,
    ts_offset: u32,
    active: bool,
}

impl Default for Rewriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Rewriter {
    pub fn new() -> Self {
        Rewriter {
            next_seq: FIRST_SEQ,
            last_ts: None,
            start_in_seq: 0,
            base_seq: FIRST_SEQ,
            ts_offset: 0,
            active: false,
        }
    }

    /// Starts mapping a new source at the packet (`in_seq`, `in_ts`), which
    /// must be the first packet of a keyframe.
    pub fn switch(&mut self, in_seq: u64, in_ts: u32, now: Instant, clock_rate: u32) {
        self.start_in_seq = in_seq;
        self.base_seq = self.next_seq;
        let out_ts = match self.last_ts {
            Some((ts, at)) => {
                let elapsed = now.saturating_duration_since(at);
                let ticks = (elapsed.as_secs_f64() * clock_rate as f64) as u64;
                // At least one tick, so the new frame never shares the old
                // frame's timestamp.
                ts.wrapping_add(ticks.clamp(1, u32::MAX as u64 / 2) as u32)
            }
            None => in_ts,
        };
        self.ts_offset = out_ts.wrapping_sub(in_ts);
        self.active = true;
    }

    /// Maps an incoming packet of the current source. `None` for packets
    /// from before the switch point (late or retransmitted).
    pub fn rewrite(&mut self, in_seq: u64, in_ts: u32, now: Instant) -> Option<(u64, u32)> {
        if !self.active || in_seq < self.start_in_seq {
            return None;
        }
        let out_seq = self.base_seq + (in_seq - self.start_in_seq);
        let out_ts = in_ts.wrapping_add(self.ts_offset);
        if out_seq >= self.next_seq {
            self.next_seq = out_seq + 1;
            self.last_ts = Some((out_ts, now));
        }
        Some((out_seq, out_ts))
    }

    /// Stops mapping; the next source continues the sequence.
    pub fn stop(&mut self) {
        self.active = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn continuous_across_switch() {
        let t0 = Instant::now();
        let mut r = Rewriter::new();
        r.switch(5000, 1_000_000, t0, 90_000);
        assert_eq!(r.rewrite(5000, 1_000_000, t0), Some((1, 1_000_000)));
        assert_eq!(r.rewrite(5001, 1_003_000, t0), Some((2, 1_003_000)));
        assert_eq!(r.rewrite(4999, 997_000, t0), None);

        // Another student whose numbers are nothing alike, 100 ms later.
        let t1 = t0 + Duration::from_millis(100);
        r.switch(70_000, 5, t1, 90_000);
        assert_eq!(r.rewrite(70_000, 5, t1), Some((3, 1_003_000 + 9_000)));
        assert_eq!(r.rewrite(70_001, 3005, t1), Some((4, 1_015_000)));
    }

    #[test]
    fn loss_keeps_gaps_so_nack_still_works() {
        let t0 = Instant::now();
        let mut r = Rewriter::new();
        r.switch(10, 0, t0, 90_000);
        assert_eq!(r.rewrite(10, 0, t0).map(|x| x.0), Some(1));
        assert_eq!(r.rewrite(12, 0, t0).map(|x| x.0), Some(3));
        // The late one fills the gap it left.
        assert_eq!(r.rewrite(11, 0, t0).map(|x| x.0), Some(2));
        r.switch(100, 0, t0, 90_000);
        assert_eq!(r.rewrite(100, 0, t0).map(|x| x.0), Some(4));
    }

    #[test]
    fn timestamp_wraps() {
        let t0 = Instant::now();
        let mut r = Rewriter::new();
        r.switch(1, u32::MAX - 10, t0, 90_000);
        r.rewrite(1, u32::MAX - 10, t0);
        assert_eq!(r.rewrite(2, 20, t0), Some((2, 20)));
        r.stop();
        assert_eq!(r.rewrite(3, 30, t0), None);
    }
}
