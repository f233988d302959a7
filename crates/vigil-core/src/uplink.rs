//! The uplink probe (issue 19): a student's page uploads throwaway bytes
//! during its system check, and the time they take says how fast its uplink
//! is, so that it can choose the video it publishes before the exam starts.
//!
//! The server reads and times the body; this module holds the limits and
//! the arithmetic, tested without a network.
//!
//! **What is timed.** From the request's arrival (its head) to the body's
//! last byte, with every byte of the body counted. The body is read only
//! once the token and the budgets have been checked; the bytes that arrive
//! meanwhile wait in the kernel and are then read all at once, so a clock
//! started at the first chunk read would see them arrive in no time and
//! overstate the link. A browser sends the head and the body back to back,
//! so the head's arrival is when the body started to arrive.

use std::time::Duration;

use vigil_proto::events::UplinkProbe;
use vigil_proto::{RejectReason, Rejection};

use crate::rate::RateLimit;

/// What a probe may be, and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeLimits {
    /// Largest body. A page needs about a second of its uplink to measure
    /// it; 512 KiB is that at 4 Mbit/s, well past the 1.9 Mbit/s that
    /// allows the page's full video, and bounds what one probe costs.
    pub max_bytes: u64,
    /// Smallest body: below this, the round trip and TCP's first window
    /// decide the time, not the link.
    pub min_bytes: u64,
    /// The whole body must have arrived this long after its reading began
    /// (when the probe took its slots). A slow-loris holding a slot for
    /// ever is what this stops; a page whose probe cannot finish in time
    /// learns its uplink is slow.
    pub deadline: Duration,
    /// The longest silence between two pieces of the body. A link that
    /// moves anything at all delivers a TCP segment far more often.
    pub max_gap: Duration,
}

impl Default for ProbeLimits {
    fn default() -> Self {
        ProbeLimits {
            max_bytes: 512 * 1024,
            min_bytes: 16 * 1024,
            deadline: Duration::from_secs(20),
            max_gap: Duration::from_secs(5),
        }
    }
}

/// Probes per student: a system check sends one or two, and a student who
/// checks again a few more; then one every 20 s. More than that measures
/// nothing new and only costs the server's downlink.
pub const PROBE_RATE: RateLimit = RateLimit { burst: 4, per_second: 0.05 };

/// Probes read at once, server-wide. Probes that share the server's
/// downlink slow each other down and would measure the server instead of
/// the students; a refused page retries shortly or falls back on the
/// browser's own estimate. 64 home lines at 5 Mbit/s are 320 Mbit/s, well
/// within a school server's downlink (the models go the other way), and
/// at an exam start a thousand pages measure within a minute: with a
/// probe of 1.5 s at most, 64 slots take about 40 a second.
pub const DEFAULT_PROBES_IN_FLIGHT: usize = 64;

/// How long a page refused for a busy server (or its own probe still in
/// flight) should wait: about one probe's time.
pub const BUSY_RETRY_MS: u64 = 1_000;

/// The shortest time a rate is computed over: a body that arrived faster
/// (a local network) is reported at the rate of this, a lower bound.
pub const MIN_ELAPSED: Duration = Duration::from_millis(1);

fn too_large(limits: &ProbeLimits) -> Rejection {
    Rejection::new(RejectReason::TooLarge, format!("an uplink probe is at most {} bytes", limits.max_bytes))
}

fn too_small(limits: &ProbeLimits) -> Rejection {
    Rejection::new(RejectReason::InvalidPayload, format!("an uplink probe is at least {} bytes", limits.min_bytes))
}

/// The body's declared length (`Content-Length`), checked before a byte of
/// it is read. `None` (a chunked body) is checked as it arrives.
pub fn check_declared(len: Option<u64>, limits: &ProbeLimits) -> Result<(), Rejection> {
    match len {
        Some(n) if n > limits.max_bytes => Err(too_large(limits)),
        Some(n) if n < limits.min_bytes => Err(too_small(limits)),
        _ => Ok(()),
    }
}

/// Bits per second of `bytes` in `elapsed`, the time taken as at least
/// [`MIN_ELAPSED`].
pub fn rate_bps(bytes: u64, elapsed: Duration) -> u64 {
    let secs = elapsed.max(MIN_ELAPSED).as_secs_f64();
    // Finite and non-negative: bytes ≤ 2^64 and secs ≥ 0.001. `as` saturates.
    (bytes as f64 * 8.0 / secs).round() as u64
}

/// A probe's body as it arrives. Times are offsets from the request's
/// arrival (the caller's monotonic clock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeTimer {
    bytes: u64,
    last: Option<Duration>,
    /// When reading began: the deadline and the first gap count from here,
    /// not from the request's arrival, so a slow check of the token (an
    /// exam loaded from the store at its first request) costs the client
    /// nothing.
    reading_from: Duration,
}

impl ProbeTimer {
    /// A body whose reading begins at `reading_from`.
    pub fn new(reading_from: Duration) -> Self {
        ProbeTimer { bytes: 0, last: None, reading_from }
    }

    /// `len` more bytes arrived at `at`; refused once the body is over the
    /// limit (the rest is not read).
    pub fn on_chunk(&mut self, len: usize, at: Duration, limits: &ProbeLimits) -> Result<(), Rejection> {
        self.bytes = self.bytes.saturating_add(len as u64);
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
        if self.bytes > limits.max_bytes { Err(too_large(limits)) } else { Ok(()) }
    }

    /// How long to wait for the next piece of the body, at `now`: until the
    /// gap since the last piece (or the start of reading) runs out, or the
    /// deadline, whichever is first; the refusal once either has passed.
    pub fn wait_for_next(&self, now: Duration, limits: &ProbeLimits) -> Result<Duration, Rejection> {
        let since = self.last.map_or(self.reading_from, |l| l.max(self.reading_from));
        let gap_ends = since.saturating_add(limits.max_gap);
        let ends = gap_ends.min(self.deadline(limits));
        if now >= ends { Err(self.expired(now, limits)) } else { Ok(ends - now) }
    }

    fn deadline(&self, limits: &ProbeLimits) -> Duration {
        self.reading_from.saturating_add(limits.deadline)
    }

    /// The refusal of a body that stopped arriving or ran past its deadline.
    pub fn expired(&self, now: Duration, limits: &ProbeLimits) -> Rejection {
        let message = if now >= self.deadline(limits) {
            format!(
                "the probe was not complete {} s after it started ({} bytes arrived): the uplink is slower than this probe can measure; send a smaller one",
                limits.deadline.as_secs(),
                self.bytes
            )
        } else {
            format!("nothing of the probe arrived for {} s ({} bytes arrived)", limits.max_gap.as_secs(), self.bytes)
        };
        Rejection::new(RejectReason::TooSlow, message)
    }

    /// The body is complete: what it says of the uplink.
    pub fn finish(&self, limits: &ProbeLimits) -> Result<UplinkProbe, Rejection> {
        if self.bytes < limits.min_bytes {
            return Err(too_small(limits));
        }
        let elapsed = self.last.unwrap_or(Duration::ZERO);
        Ok(UplinkProbe {
            bytes: self.bytes,
            elapsed_ms: (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            bps: rate_bps(self.bytes, elapsed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: ProbeLimits = ProbeLimits {
        max_bytes: 512 * 1024,
        min_bytes: 16 * 1024,
        deadline: Duration::from_secs(20),
        max_gap: Duration::from_secs(5),
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_body_is_timed_from_the_request_to_its_last_byte() {
        let mut t = ProbeTimer::new(Duration::ZERO);
        // 256 KiB in four pieces, the last one second after the request.
        for (i, at) in [100, 400, 700, 1_000].into_iter().enumerate() {
            t.on_chunk(64 * 1024, ms(at), &L).unwrap_or_else(|e| panic!("chunk {i}: {e:?}"));
        }
        let p = t.finish(&L).expect("a measurement");
        assert_eq!(p.bytes, 256 * 1024);
        assert_eq!(p.elapsed_ms, 1_000.0);
        // 2 Mbit/s and a little: 262,144 bytes × 8 in 1 s.
        assert_eq!(p.bps, 2_097_152);
    }

    #[test]
    fn a_body_faster_than_a_millisecond_reads_as_a_lower_bound() {
        assert_eq!(rate_bps(125_000, Duration::from_micros(10)), 1_000_000_000);
        assert_eq!(rate_bps(125_000, Duration::ZERO), 1_000_000_000);
        assert_eq!(rate_bps(125_000, Duration::from_secs(1)), 1_000_000);
        // Saturates instead of wrapping.
        assert_eq!(rate_bps(u64::MAX, Duration::ZERO), u64::MAX);
    }

    #[test]
    fn the_elapsed_time_keeps_microseconds() {
        let mut t = ProbeTimer::new(Duration::ZERO);
        t.on_chunk(32 * 1024, Duration::from_micros(2_345_678), &L).unwrap();
        assert_eq!(t.finish(&L).unwrap().elapsed_ms, 2_345.678);
    }

    #[test]
    fn too_large_is_refused_from_the_declared_length_or_as_it_arrives() {
        assert_eq!(check_declared(Some(512 * 1024), &L), Ok(()));
        assert_eq!(check_declared(None, &L), Ok(()));
        assert_eq!(check_declared(Some(512 * 1024 + 1), &L).unwrap_err().reason, RejectReason::TooLarge);
        assert_eq!(check_declared(Some(u64::MAX), &L).unwrap_err().reason, RejectReason::TooLarge);
        let mut t = ProbeTimer::new(Duration::ZERO);
        assert!(t.on_chunk(512 * 1024, ms(10), &L).is_ok());
        assert_eq!(t.on_chunk(1, ms(11), &L).unwrap_err().reason, RejectReason::TooLarge);
    }

    #[test]
    fn too_small_measures_nothing() {
        assert_eq!(check_declared(Some(100), &L).unwrap_err().reason, RejectReason::InvalidPayload);
        assert_eq!(check_declared(Some(0), &L).unwrap_err().reason, RejectReason::InvalidPayload);
        let mut t = ProbeTimer::new(Duration::ZERO);
        t.on_chunk(1_000, ms(5), &L).unwrap();
        assert_eq!(t.finish(&L).unwrap_err().reason, RejectReason::InvalidPayload);
        assert_eq!(ProbeTimer::new(Duration::ZERO).finish(&L).unwrap_err().reason, RejectReason::InvalidPayload);
    }

    #[test]
    fn a_silent_or_dripping_body_runs_out_of_time() {
        let mut t = ProbeTimer::new(Duration::ZERO);
        // Nothing yet: up to the first gap.
        assert_eq!(t.wait_for_next(ms(0), &L), Ok(ms(5_000)));
        assert_eq!(t.wait_for_next(ms(4_000), &L), Ok(ms(1_000)));
        let silent = t.wait_for_next(ms(5_000), &L).unwrap_err();
        assert_eq!(silent.reason, RejectReason::TooSlow);
        assert!(silent.message.contains("nothing"), "{}", silent.message);
        // A byte every 4 s keeps the gap short, but not past the deadline.
        for at in (4_000..=16_000).step_by(4_000) {
            t.on_chunk(1, ms(at), &L).unwrap();
        }
        assert_eq!(t.wait_for_next(ms(16_000), &L), Ok(ms(4_000)));
        t.on_chunk(1, ms(19_000), &L).unwrap();
        assert_eq!(t.wait_for_next(ms(19_000), &L), Ok(ms(1_000)));
        let late = t.wait_for_next(ms(20_000), &L).unwrap_err();
        assert_eq!(late.reason, RejectReason::TooSlow);
        assert!(late.message.contains("not complete"), "{}", late.message);
    }

    #[test]
    fn the_deadlines_count_from_the_start_of_reading_and_the_rate_from_the_request() {
        // The token's check took 3 s (an exam loaded at its first request).
        let mut t = ProbeTimer::new(ms(3_000));
        assert_eq!(t.wait_for_next(ms(3_000), &L), Ok(ms(5_000)));
        assert_eq!(t.wait_for_next(ms(7_999), &L), Ok(ms(1)));
        // Bytes that waited in the kernel meanwhile arrive at once, then the rest.
        t.on_chunk(60 * 1024, ms(3_001), &L).unwrap();
        t.on_chunk(4 * 1024, ms(4_000), &L).unwrap();
        // 64 KiB over the 4 s since the request, not over the last second.
        assert_eq!(t.finish(&L).unwrap().bps, 131_072);
        // A drip keeps the gap short until 20 s after reading began.
        t.on_chunk(1, ms(8_000), &L).unwrap();
        assert_eq!(t.wait_for_next(ms(8_000), &L), Ok(ms(5_000)));
        for at in (12_000..=21_000).step_by(3_000) {
            t.on_chunk(1, ms(at), &L).unwrap();
        }
        assert_eq!(t.wait_for_next(ms(22_000), &L), Ok(ms(1_000)));
        assert_eq!(t.wait_for_next(ms(23_000), &L).unwrap_err().reason, RejectReason::TooSlow);
    }

    #[test]
    fn a_clock_read_out_of_order_never_shortens_the_time() {
        let mut t = ProbeTimer::new(Duration::ZERO);
        t.on_chunk(20 * 1024, ms(800), &L).unwrap();
        t.on_chunk(20 * 1024, ms(700), &L).unwrap();
        assert_eq!(t.finish(&L).unwrap().elapsed_ms, 800.0);
    }
}
