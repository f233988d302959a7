//! Evidence checks that need no storage: is it a real JPEG of sane size (or,
//! for a voice, a real WAV clip of sane length), and was it captured while
//! its incident was happening?
//!
//! Binding to an incident and replay detection by content hash need the
//! ledger and the store; the server does those around these checks.

use sha2::{Digest, Sha256};
use vigil_proto::events::EvidenceMedia;
use vigil_proto::{IncidentKind, PrivacyTier, RejectReason, Rejection, UnixMillis};
use zune_core::bytestream::ZCursor;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceLimits {
    pub max_bytes: usize,
    pub min_side: u32,
    pub max_side: u32,
    /// Slack around the incident's span for the capture time (clock jitter,
    /// the frame being grabbed just before the debounce fired).
    pub capture_slack_ms: i64,
    /// How long after an incident's end (or start, if open) an upload is still
    /// taken: long enough for an outbox to drain after a network cut.
    pub upload_deadline_ms: i64,
    /// A sound clip's length, in ms: long enough to tell a voice, short
    /// enough to be a clip and not a recording.
    pub min_clip_ms: u32,
    pub max_clip_ms: u32,
}

impl Default for EvidenceLimits {
    fn default() -> Self {
        EvidenceLimits {
            max_bytes: 512 * 1024,
            min_side: 64,
            max_side: 1920,
            capture_slack_ms: 5_000,
            upload_deadline_ms: 30 * 60_000,
            min_clip_ms: 500,
            max_clip_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegFrame {
    pub width: u32,
    pub height: u32,
    pub sha256: String,
}

/// Parses and fully decodes `bytes`; only a JPEG that decodes is evidence.
pub fn inspect_jpeg(bytes: &[u8], limits: &EvidenceLimits) -> Result<JpegFrame, Rejection> {
    if bytes.len() > limits.max_bytes {
        return Err(Rejection::new(
            RejectReason::TooLarge,
            format!("frame is {} bytes; the limit is {}", bytes.len(), limits.max_bytes),
        ));
    }
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(Rejection::new(RejectReason::NotJpeg, "body does not start with a JPEG SOI marker"));
    }
    // Headers first: a tiny file that claims a huge image is refused on its
    // dimensions before `decode` allocates anything for the pixels.
    // Strict mode: a truncated or corrupt scan is an error, not grey padding.
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| Rejection::new(RejectReason::Undecodable, format!("JPEG header does not parse: {e}")))?;
    let (width, height) = match decoder.info() {
        Some(info) => (u32::from(info.width), u32::from(info.height)),
        None => return Err(Rejection::new(RejectReason::Undecodable, "JPEG header has no frame")),
    };
    check_dimensions(width, height, limits)?;
    // zune-jpeg 0.5.15 panics on some bodies (an output slice too short in
    // its IDCT, SIMD and scalar alike; found by the evidence fuzz target):
    // a body the decoder cannot survive is one it cannot decode.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decoder.decode()))
        .map_err(|_| Rejection::new(RejectReason::Undecodable, "JPEG does not decode: the decoder failed on it"))?;
    decoded.map_err(|e| Rejection::new(RejectReason::Undecodable, format!("JPEG does not decode: {e}")))?;
    Ok(JpegFrame { width, height, sha256: hex::encode(Sha256::digest(bytes)) })
}

fn check_dimensions(width: u32, height: u32, limits: &EvidenceLimits) -> Result<(), Rejection> {
    let ok = |side: u32| (limits.min_side..=limits.max_side).contains(&side);
    if ok(width) && ok(height) {
        Ok(())
    } else {
        Err(Rejection::new(
            RejectReason::DimensionsOutOfRange,
            format!("frame is {width}x{height}; each side must be {}..={}", limits.min_side, limits.max_side),
        ))
    }
}

/// A sound clip that passed [`inspect_wav`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavClip {
    pub sample_rate: u32,
    pub duration_ms: u32,
    pub sha256: String,
}

/// The sample rates a clip may have: telephone to studio.
pub const CLIP_SAMPLE_RATES: std::ops::RangeInclusive<u32> = 8_000..=48_000;

/// Parses `bytes` as a WAV file (RIFF, 16-bit integer PCM, one channel, 8 to
/// 48 kHz) and reads every sample: only a clip that reads to its end is
/// evidence. hound does the parsing (a RIFF chunk walker is easy to get
/// subtly wrong; it is kept by the Rust audio community).
pub fn inspect_wav(bytes: &[u8], limits: &EvidenceLimits) -> Result<WavClip, Rejection> {
    if bytes.len() > limits.max_bytes {
        return Err(Rejection::new(
            RejectReason::TooLarge,
            format!("clip is {} bytes; the limit is {}", bytes.len(), limits.max_bytes),
        ));
    }
    let undecodable = |why: String| Rejection::new(RejectReason::Undecodable, why);
    // hound has no known panic on bad input, but it is network input, and
    // a panic here must read as a bad clip, as for JPEG.
    let parsed = std::panic::catch_unwind(|| -> Result<(hound::WavSpec, u32), Rejection> {
        let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes))
            .map_err(|e| undecodable(format!("not a WAV file: {e}")))?;
        let spec = reader.spec();
        if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 || spec.channels != 1 {
            return Err(undecodable(format!(
                "a clip is 16-bit integer PCM with one channel; this one is {}-bit {:?} with {}",
                spec.bits_per_sample, spec.sample_format, spec.channels
            )));
        }
        if !CLIP_SAMPLE_RATES.contains(&spec.sample_rate) {
            return Err(undecodable(format!("a clip's sample rate is 8000-48000 Hz, not {}", spec.sample_rate)));
        }
        let declared = reader.len();
        let mut read = 0u32;
        for sample in reader.samples::<i16>() {
            sample.map_err(|e| undecodable(format!("the clip's samples do not read: {e}")))?;
            read += 1;
        }
        if read != declared || read == 0 {
            return Err(undecodable(format!("the clip declares {declared} samples and holds {read}")));
        }
        Ok((spec, read))
    })
    .map_err(|_| undecodable("not a WAV file: the parser failed on it".into()))??;
    let (spec, samples) = parsed;
    let duration_ms = u32::try_from(u64::from(samples) * 1000 / u64::from(spec.sample_rate)).unwrap_or(u32::MAX);
    if !(limits.min_clip_ms..=limits.max_clip_ms).contains(&duration_ms) {
        return Err(Rejection::new(
            RejectReason::DurationOutOfRange,
            format!("the clip lasts {duration_ms} ms; a clip lasts {}-{} ms", limits.min_clip_ms, limits.max_clip_ms),
        ));
    }
    Ok(WavClip { sample_rate: spec.sample_rate, duration_ms, sha256: hex::encode(Sha256::digest(bytes)) })
}

/// Checks a frame's capture time against its incident's span and the upload
/// against its deadline.
pub fn check_window(
    limits: &EvidenceLimits,
    started_at: UnixMillis,
    ended_at: Option<UnixMillis>,
    captured_at: UnixMillis,
    now: UnixMillis,
) -> Result<(), Rejection> {
    // Saturating: `captured_at` is the client's number, and an exam window
    // (so an incident's span) may reach either end of i64.
    let earliest_capture = started_at.saturating_sub(limits.capture_slack_ms);
    let latest_capture = ended_at.unwrap_or(now).max(started_at).saturating_add(limits.capture_slack_ms);
    if captured_at < earliest_capture || captured_at > latest_capture {
        return Err(Rejection::new(
            RejectReason::OutsideIncidentWindow,
            format!("frame captured at {captured_at} lies outside the incident's span starting {started_at}"),
        ));
    }
    if now > ended_at.unwrap_or(started_at).saturating_add(limits.upload_deadline_ms) {
        return Err(Rejection::new(
            RejectReason::OutsideIncidentWindow,
            "the upload deadline for this incident has passed",
        ));
    }
    Ok(())
}

/// Whether an exam with this privacy tier keeps evidence frames at all.
pub fn collects_evidence(privacy: PrivacyTier) -> Result<(), Rejection> {
    match privacy {
        PrivacyTier::FlaggedFrames | PrivacyTier::Recording => Ok(()),
        PrivacyTier::EventsOnly => {
            Err(Rejection::new(RejectReason::EvidenceNotCollected, "this exam's privacy tier keeps no evidence frames"))
        }
    }
}

/// Whether an upload of `media` may be evidence of an incident of `kind`, in
/// an exam with this privacy tier and microphone setting. A frame: whenever
/// the tier keeps frames. A sound clip: only of `voice_detected`, only while
/// the exam uses the microphone, and only at the `recording` tier (sound is
/// more than a picture: an exam that keeps only flagged frames keeps none).
pub fn collects(
    media: EvidenceMedia,
    kind: IncidentKind,
    privacy: PrivacyTier,
    microphone: bool,
) -> Result<(), Rejection> {
    collects_evidence(privacy)?;
    match media {
        EvidenceMedia::Jpeg => Ok(()),
        EvidenceMedia::Wav if kind != IncidentKind::VoiceDetected => Err(Rejection::new(
            RejectReason::UnsupportedMedia,
            format!("a sound clip is evidence of voice_detected only, not of {}", kind.as_str()),
        )),
        EvidenceMedia::Wav if privacy != PrivacyTier::Recording || !microphone => Err(Rejection::new(
            RejectReason::EvidenceNotCollected,
            "this exam keeps no sound clips (they are kept at the recording tier, with the microphone on)",
        )),
        EvidenceMedia::Wav => Ok(()),
    }
}

/// What an upload whose bytes were already stored is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorFrame {
    /// The same student's same upload for the same incident, retried because
    /// the answer was lost: answer as before, store nothing.
    Retry,
    /// The same bytes bound elsewhere: a replayed frame, refused.
    Replay,
}

/// Classifies an upload whose content hash is already stored in the same
/// exam, by whether the stored frame belongs to the same student and
/// incident. Frames of other exams are never consulted, so that the answer
/// cannot reveal whether a frame exists elsewhere.
pub fn classify_prior(same_student: bool, same_incident: bool) -> PriorFrame {
    if same_student && same_incident { PriorFrame::Retry } else { PriorFrame::Replay }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `evidence` fuzz target: zune-jpeg 0.5.15 panics while
    /// decoding this body. Refused as undecodable, like any broken frame
    /// (before, the server answered `unavailable`, and a page retried it).
    #[test]
    fn a_body_the_decoder_panics_on_is_refused_as_undecodable() {
        let refused = inspect_jpeg(&fixture("decoder-panic.jpg"), &EvidenceLimits::default()).unwrap_err();
        assert_eq!(refused.reason, RejectReason::Undecodable, "{refused:?}");
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/frames").join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn accepts_a_real_frame() {
        let bytes = fixture("frame-a.jpg");
        let f = inspect_jpeg(&bytes, &EvidenceLimits::default()).unwrap();
        assert_eq!((f.width, f.height), (320, 240));
        assert_eq!(f.sha256.len(), 64);
    }

    #[test]
    fn refuses_bad_dimensions_and_corrupt_scan() {
        let lim = EvidenceLimits::default();
        let wide = fixture("too-wide.jpg");
        assert_eq!(inspect_jpeg(&wide, &lim).unwrap_err().reason, RejectReason::DimensionsOutOfRange);
        // Headers intact, entropy-coded data cut short.
        let bytes = fixture("frame-a.jpg");
        let cut = &bytes[..bytes.len() / 3];
        assert_eq!(inspect_jpeg(cut, &lim).unwrap_err().reason, RejectReason::Undecodable);
    }

    #[test]
    fn refuses_non_jpeg_and_oversize() {
        let lim = EvidenceLimits::default();
        assert_eq!(inspect_jpeg(b"\x89PNG\r\n\x1a\n", &lim).unwrap_err().reason, RejectReason::NotJpeg);
        let big = vec![0xFFu8; lim.max_bytes + 1];
        assert_eq!(inspect_jpeg(&big, &lim).unwrap_err().reason, RejectReason::TooLarge);
        let truncated = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F'];
        assert_eq!(inspect_jpeg(&truncated, &lim).unwrap_err().reason, RejectReason::Undecodable);
    }

    /// A clip as the student page makes it: 16-bit mono PCM.
    fn wav(rate: u32, samples: usize) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for i in 0..samples {
            w.write_sample(((i as f32 * 0.05).sin() * 8000.0) as i16).unwrap();
        }
        w.finalize().unwrap();
        out.into_inner()
    }

    #[test]
    fn accepts_a_clip_and_measures_it() {
        let clip = inspect_wav(&wav(16_000, 48_000), &EvidenceLimits::default()).unwrap();
        assert_eq!((clip.sample_rate, clip.duration_ms, clip.sha256.len()), (16_000, 3_000, 64));
    }

    #[test]
    fn refuses_clips_of_other_formats_lengths_and_broken_ones() {
        let lim = EvidenceLimits::default();
        let reason = |b: &[u8]| inspect_wav(b, &lim).unwrap_err().reason;
        assert_eq!(reason(&wav(16_000, 7_999)), RejectReason::DurationOutOfRange, "under 0.5 s");
        assert_eq!(reason(&wav(16_000, 160_016)), RejectReason::DurationOutOfRange, "over 10 s");
        assert_eq!(reason(&wav(4_000, 8_000)), RejectReason::Undecodable, "4 kHz");
        assert_eq!(reason(b"\xFF\xD8\xFF\xE0"), RejectReason::Undecodable, "a JPEG");
        let full = wav(16_000, 16_000);
        assert_eq!(reason(&full[..full.len() - 100]), RejectReason::Undecodable, "cut short");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut stereo = std::io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut stereo, spec).unwrap();
        for _ in 0..32_000 {
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        assert_eq!(reason(stereo.get_ref()), RejectReason::Undecodable, "stereo");
        assert_eq!(reason(&vec![0u8; lim.max_bytes + 1]), RejectReason::TooLarge);
    }

    #[test]
    fn sound_is_kept_for_voices_at_the_recording_tier_with_the_microphone_on() {
        use EvidenceMedia::{Jpeg, Wav};
        use IncidentKind::{NoFace, VoiceDetected};
        use PrivacyTier::{EventsOnly, FlaggedFrames, Recording};
        assert!(collects(Wav, VoiceDetected, Recording, true).is_ok());
        assert!(collects(Jpeg, VoiceDetected, FlaggedFrames, true).is_ok());
        assert!(collects(Jpeg, NoFace, Recording, false).is_ok());
        let reason = |m, k, p, mic| collects(m, k, p, mic).unwrap_err().reason;
        assert_eq!(reason(Wav, VoiceDetected, FlaggedFrames, true), RejectReason::EvidenceNotCollected);
        assert_eq!(reason(Wav, VoiceDetected, Recording, false), RejectReason::EvidenceNotCollected);
        assert_eq!(reason(Wav, NoFace, Recording, true), RejectReason::UnsupportedMedia);
        assert_eq!(reason(Jpeg, NoFace, EventsOnly, false), RejectReason::EvidenceNotCollected);
        assert_eq!(reason(Wav, VoiceDetected, EventsOnly, true), RejectReason::EvidenceNotCollected);
    }

    #[test]
    fn capture_window() {
        let lim = EvidenceLimits::default();
        assert!(check_window(&lim, 10_000, Some(20_000), 12_000, 21_000).is_ok());
        assert!(check_window(&lim, 10_000, None, 9_000, 11_000).is_ok());
        let r = check_window(&lim, 10_000, Some(20_000), 40_000, 41_000).unwrap_err();
        assert_eq!(r.reason, RejectReason::OutsideIncidentWindow);
        let late = check_window(&lim, 10_000, Some(20_000), 12_000, 20_000 + lim.upload_deadline_ms + 1);
        assert_eq!(late.unwrap_err().reason, RejectReason::OutsideIncidentWindow);
    }

    /// Found by `fuzz/` (target `evidence`): the window arithmetic
    /// overflowed. An exam window may open at i64::MIN (the admin API
    /// accepts it), and the capture time is whatever the client sends.
    #[test]
    fn capture_window_at_the_ends_of_time() {
        let lim = EvidenceLimits::default();
        assert!(check_window(&lim, i64::MIN, None, i64::MIN, i64::MIN + 1).is_ok());
        let r = check_window(&lim, i64::MIN + 1, Some(i64::MIN + 2), i64::MAX, 0).unwrap_err();
        assert_eq!(r.reason, RejectReason::OutsideIncidentWindow);
        let huge = EvidenceLimits { capture_slack_ms: i64::MAX, upload_deadline_ms: i64::MAX, ..lim };
        assert!(check_window(&huge, 0, Some(i64::MAX), i64::MAX, i64::MAX).is_ok());
        assert!(check_window(&huge, i64::MIN, None, i64::MIN, i64::MIN).is_ok());
    }
}
