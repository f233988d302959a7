//! Real H.264 (made here by ffmpeg's libx264 from its test pattern, as a
//! browser's encoder makes it: baseline, no B-frames, SPS and PPS before
//! every IDR) packetised as RFC 6184 says, recorded as MP4, and read back
//! by an independent tool: ffprobe must decode every frame the recorder
//! says it wrote, with the key frames and duration it reports. Needs
//! Debian's ffmpeg (scripts/test installs it).

use std::path::PathBuf;
use std::time::Instant;

use vigil_record::testing::{H264Packetiser, decodes_cleanly, h264_frames, probe, record_frames};
use vigil_record::{AssemblerConfig, Codec, Container, FinishedSegment, Recorder, RecorderConfig};

const FPS: u64 = 10;
/// A key frame every 2 s.
const GOP: u32 = 20;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-record-mp4-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn h264() -> RecorderConfig {
    RecorderConfig {
        assembler: AssemblerConfig { codec: Codec::H264, ..AssemblerConfig::default() },
        ..Default::default()
    }
}

/// Feeds access units at `FPS` of simulated time; `lose` picks packets (by
/// index over the whole stream) that never arrive. Segments and how many
/// key frames the recorder asked for.
fn record(frames: &[Vec<u8>], lose: impl Fn(usize) -> bool) -> (Vec<FinishedSegment>, usize) {
    // Both counters start just before their wrap, as a browser's may.
    let mut camera =
        H264Packetiser { seq: 65_500, timestamp: u32::MAX - 20_000, ticks_per_frame: (90_000 / FPS) as u32 };
    record_frames(&mut Recorder::new(h264()), frames, FPS, Instant::now(), |f| camera.packets(f), lose)
}

#[test]
fn h264_is_recorded_as_mp4_that_decodes_frame_for_frame() {
    let dir = scratch("clean");
    let frames = h264_frames(&dir, "320x240", FPS as u32, 8, GOP);
    let (segments, requests) = record(&frames, |_| false);
    assert_eq!(requests, 0, "nothing was lost");
    assert_eq!(segments.len(), 1);
    let s = &segments[0];
    assert_eq!((s.container, s.size, s.frames, s.keyframes), (Container::Mp4, (320, 240), 80, 4));
    let file = dir.join("clean.mp4");
    std::fs::write(&file, &s.file).unwrap();
    let (decoded, keyframes, duration) = probe(&file);
    assert_eq!((decoded, keyframes), (80, 4));
    assert!((duration - 8.0).abs() < 0.25, "{duration} s");
    assert!((s.duration.as_secs_f64() - 8.0).abs() < 0.01, "{:?}", s.duration);
    decodes_cleanly(&file);
}

#[test]
fn a_lost_packet_drops_its_frame_and_those_after_it_until_the_next_key_frame() {
    let dir = scratch("lossy");
    let frames = h264_frames(&dir, "640x480", FPS as u32, 6, GOP);
    // Find the packets of frame 25 (in the second GOP), and lose its first.
    let mut camera = H264Packetiser { seq: 65_500, timestamp: 0, ticks_per_frame: 9_000 };
    let before: usize = frames[..25].iter().map(|f| camera.packets(f).len()).sum();
    let (segments, requests) = record(&frames, |i| i == before);
    assert!(requests >= 1, "a key frame was asked for");
    // Frames 25–39 are undecodable (they refer to 25); the IDR at 40 starts again.
    let total: u64 = segments.iter().map(|s| s.frames).sum();
    assert_eq!(total, 60 - 15, "{segments:?}");
    for (i, s) in segments.iter().enumerate() {
        let file = dir.join(format!("lossy-{i}.mp4"));
        std::fs::write(&file, &s.file).unwrap();
        assert_eq!(probe(&file).0, s.frames);
        decodes_cleanly(&file);
    }
}
