//! The `evidence` target: `inspect_jpeg` and `inspect_wav` on arbitrary
//! bytes with the server's limits, and `check_window` on arbitrary numbers.
//!
//! Input: a fixed-size prefix of [`Window`] numbers (`arbitrary`-derived,
//! [`PREFIX`] bytes), then the uploaded body. Seeds are a prefix plus a real
//! JPEG or WAV clip, so most mutations land in the body.

use arbitrary::{Arbitrary, Unstructured};
use vigil_core::evidence::{CLIP_SAMPLE_RATES, EvidenceLimits, check_window, inspect_jpeg, inspect_wav};
use vigil_proto::UnixMillis;

/// The numbers `check_window` is called with. Every field has a fixed size,
/// so the prefix is always [`PREFIX`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub struct Window {
    pub started_at: UnixMillis,
    pub ended_at: UnixMillis,
    pub open: bool,
    pub captured_at: UnixMillis,
    pub now: UnixMillis,
    pub capture_slack_ms: i64,
    pub upload_deadline_ms: i64,
}

/// Bytes of [`Window`] before the body.
pub const PREFIX: usize = 6 * 8 + 1;

/// The prefix that reads back as `w` (for seeds): `arbitrary` reads
/// integers little-endian and a bool from one byte's lowest bit.
pub fn prefix(w: &Window) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX);
    out.extend_from_slice(&w.started_at.to_le_bytes());
    out.extend_from_slice(&w.ended_at.to_le_bytes());
    out.push(u8::from(w.open));
    for v in [w.captured_at, w.now, w.capture_slack_ms, w.upload_deadline_ms] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

thread_local! {
    /// Set while `inspect_jpeg` runs: it catches a panic of its JPEG decoder
    /// itself (zune-jpeg 0.5.15 panics on some bodies), which libFuzzer's
    /// panic hook would otherwise report as a crash before the catch.
    static IN_INSPECT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Wraps the panic hook (libFuzzer's aborts) once: a panic inside
/// `inspect_jpeg` or `inspect_wav` is left to its `catch_unwind`; one that escapes it still
/// ends the run (libfuzzer-sys aborts on an unwind out of the target).
fn hook_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_INSPECT.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

pub fn run(data: &[u8]) {
    hook_once();
    let mut u = Unstructured::new(data);
    let Ok(w) = Window::arbitrary(&mut u) else { return };
    let body = u.take_rest();

    let limits = EvidenceLimits::default();
    IN_INSPECT.with(|f| f.set(true));
    let inspected = inspect_jpeg(body, &limits);
    let clip = inspect_wav(body, &limits);
    IN_INSPECT.with(|f| f.set(false));
    if let Ok(clip) = clip {
        // Property: only clips within the limits are accepted.
        assert!(body.len() <= limits.max_bytes);
        assert!((limits.min_clip_ms..=limits.max_clip_ms).contains(&clip.duration_ms), "{clip:?}");
        assert!(CLIP_SAMPLE_RATES.contains(&clip.sample_rate), "{clip:?}");
        assert_eq!(clip.sha256.len(), 64);
    }
    if let Ok(frame) = inspected {
        // Property: only frames within the limits are accepted.
        assert!(body.len() <= limits.max_bytes);
        for side in [frame.width, frame.height] {
            assert!((limits.min_side..=limits.max_side).contains(&side), "{}x{}", frame.width, frame.height);
        }
        assert_eq!(frame.sha256.len(), 64);
    }

    let limits = EvidenceLimits {
        capture_slack_ms: w.capture_slack_ms,
        upload_deadline_ms: w.upload_deadline_ms,
        ..EvidenceLimits::default()
    };
    let ended_at = (!w.open).then_some(w.ended_at);
    let got = check_window(&limits, w.started_at, ended_at, w.captured_at, w.now).is_ok();
    // Property: with limits that make sense (not negative), the answer is
    // the one exact arithmetic gives.
    if w.capture_slack_ms >= 0 && w.upload_deadline_ms >= 0 {
        assert_eq!(got, window_ok_exact(&limits, w.started_at, ended_at, w.captured_at, w.now), "{w:?}");
    }
}

/// `check_window`'s rule in 128-bit arithmetic, where nothing can overflow.
fn window_ok_exact(
    limits: &EvidenceLimits,
    started_at: UnixMillis,
    ended_at: Option<UnixMillis>,
    captured_at: UnixMillis,
    now: UnixMillis,
) -> bool {
    let slack = i128::from(limits.capture_slack_ms);
    let earliest = i128::from(started_at) - slack;
    let latest = i128::from(ended_at.unwrap_or(now).max(started_at)) + slack;
    let captured = i128::from(captured_at);
    let deadline = i128::from(ended_at.unwrap_or(started_at)) + i128::from(limits.upload_deadline_ms);
    earliest <= captured && captured <= latest && i128::from(now) <= deadline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_has_a_fixed_size() {
        assert_eq!(<Window as Arbitrary>::size_hint(0), (PREFIX, Some(PREFIX)));
        let mut data = vec![0u8; PREFIX];
        data.extend_from_slice(b"\xFF\xD8\xFF");
        let mut u = Unstructured::new(&data);
        Window::arbitrary(&mut u).unwrap();
        assert_eq!(u.take_rest(), b"\xFF\xD8\xFF");
    }

    #[test]
    fn prefix_reads_back() {
        let w = Window {
            started_at: -1,
            ended_at: i64::MAX,
            open: true,
            captured_at: 1_700_000_000_000,
            now: i64::MIN,
            capture_slack_ms: 5_000,
            upload_deadline_ms: 0x0102_0304_0506_0708,
        };
        let bytes = prefix(&w);
        assert_eq!(bytes.len(), PREFIX);
        assert_eq!(Window::arbitrary(&mut Unstructured::new(&bytes)).unwrap(), w);
    }
}
