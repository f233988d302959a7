//! Real VP8 (made here by ffmpeg from its test pattern) packetised as a
//! browser does, recorded, and read back by an independent tool: ffprobe
//! must decode every frame the recorder says it wrote, with the key frames
//! and duration it reports. Needs Debian's ffmpeg (scripts/test installs it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigil_record::testing::{Packetiser, decodes_cleanly, probe, record_frames};
use vigil_record::{FinishedSegment, Recorder, RecorderConfig};

const FPS: u64 = 15;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-record-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// `secs` at `size`, a key frame every 2 s.
fn vp8_frames(dir: &Path, size: &str, secs: u32) -> Vec<Vec<u8>> {
    vigil_record::testing::vp8_frames(dir, size, FPS as u32, secs, 30)
}

struct Recorded {
    /// When the first frame was fed, in the simulated time.
    start: Instant,
    segments: Vec<FinishedSegment>,
    keyframe_requests: usize,
}

/// Feeds `frames` at 15 fps of simulated time; `lose` picks packets (by
/// index over the whole stream) that never arrive.
fn record(frames: &[Vec<u8>], cfg: RecorderConfig, lose: impl Fn(usize) -> bool) -> Recorded {
    // Both counters start just before their wrap, as a browser's may.
    let mut camera = Packetiser { seq: 65_500, timestamp: u32::MAX - 20_000, ticks_per_frame: (90_000 / FPS) as u32 };
    let start = Instant::now();
    let (segments, keyframe_requests) =
        record_frames(&mut Recorder::new(cfg), frames, FPS, start, |f| camera.packets(f), lose);
    Recorded { start, segments, keyframe_requests }
}

fn has_cues(webm: &[u8]) -> bool {
    webm.windows(4).any(|w| w == [0x1c, 0x53, 0xbb, 0x6b])
}

#[test]
fn a_recording_decodes_with_ffmpeg_frame_for_frame() {
    let dir = scratch("clean");
    // 8 s at 320x240 then 4 s at 640x480 (a resolution change), a key frame every 2 s.
    let mut frames = vp8_frames(&dir, "320x240", 8);
    frames.extend(vp8_frames(&dir, "640x480", 4));
    let cfg = RecorderConfig { segment_length: Duration::from_secs(3), ..RecorderConfig::default() };
    let rec = record(&frames, cfg, |_| false);
    // Cut at the first key frame after 3 s of video (0–4 s), then at the
    // change of size (4–8 s); the last 4 s hold only 2 s between key frames.
    let sizes: Vec<(u16, u16)> = rec.segments.iter().map(|s| s.size).collect();
    assert_eq!(sizes, vec![(320, 240), (320, 240), (640, 480)]);
    assert_eq!(rec.segments.iter().map(|s| s.frames).sum::<u64>(), frames.len() as u64, "every frame recorded");
    // Each segment knows when its first frame arrived: at 0, 4 and 8 s.
    let starts: Vec<u64> = rec.segments.iter().map(|s| (s.started - rec.start).as_secs()).collect();
    assert_eq!(starts, vec![0, 4, 8]);
    for (i, s) in rec.segments.iter().enumerate() {
        let file = dir.join(format!("segment-{i}.webm"));
        std::fs::write(&file, &s.file).expect("write segment");
        let (decoded, keyframes, duration) = probe(&file);
        assert_eq!(decoded, s.frames, "segment {i}: frames");
        assert_eq!(keyframes, s.keyframes, "segment {i}: key frames");
        assert!(
            (duration - s.duration.as_secs_f64()).abs() < 0.2,
            "segment {i}: {duration} s against {:?}",
            s.duration
        );
        assert!(has_cues(&s.file), "segment {i} has cues, so a player can seek");
        decodes_cleanly(&file);
    }
    let total: f64 = rec.segments.iter().map(|s| s.duration.as_secs_f64()).sum();
    assert!((total - 12.0).abs() < 1.0, "12 s recorded, {total} s in segments");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_recording_with_lost_packets_still_plays() {
    let dir = scratch("lossy");
    let frames = vp8_frames(&dir, "320x240", 8);
    // Every 97th packet never arrives: a frame or two in every second.
    let rec = record(&frames, RecorderConfig::default(), |i| i % 97 == 50);
    assert_eq!(rec.segments.len(), 1);
    let s = &rec.segments[0];
    assert!(rec.keyframe_requests > 0, "losses ask for key frames");
    assert!(s.frames < frames.len() as u64, "frames after a loss are left out until a key frame");
    assert!(s.frames >= 4 * 15 / 2, "but most of the video is there: {} frames", s.frames);
    let file = dir.join("lossy.webm");
    std::fs::write(&file, &s.file).expect("write segment");
    let (decoded, keyframes, _) = probe(&file);
    assert_eq!((decoded, keyframes), (s.frames, s.keyframes));
    decodes_cleanly(&file);
    std::fs::remove_dir_all(&dir).ok();
}
