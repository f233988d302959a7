//! What recording costs per packet, without the SFU or the store: `N`
//! students' real VP8 (ffmpeg's test pattern at 300 kbit/s, 15 fps,
//! packetised as a browser does) interleaved packet by packet, as the SFU
//! hands them over, pushed through one `Recorder` each for `SECS` seconds
//! of video. Prints packets, segments and the time per packet.
//!
//! `cargo run --release -p vigil-record --example recorder_cost -- 200 120`
//! (for a profile: `perf record -e cpu-clock -g` in front of the binary).

use std::time::{Duration, Instant};

use vigil_record::testing::{Packetiser, vp8_frames};
use vigil_record::{Recorder, RecorderConfig, RecorderOutput, RtpIn};

fn main() {
    let mut args = std::env::args().skip(1);
    let students: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let secs: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(120);
    let dir = std::env::temp_dir().join("vigil-recorder-cost");
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let fps = 15;
    // Ten seconds of video, looped: a key frame every 3 s as vigil-load's cameras.
    let frames = vp8_frames(&dir, "640x480", fps, 10, 45);
    let mut cameras: Vec<Packetiser> =
        (0..students).map(|i| Packetiser { seq: i as u16, timestamp: 0, ticks_per_frame: 90_000 / fps }).collect();
    let mut recorders: Vec<Recorder> = (0..students).map(|_| Recorder::new(RecorderConfig::default())).collect();
    let start = Instant::now();
    let (mut packets, mut segments, mut bytes) = (0u64, 0u64, 0u64);
    let t0 = Instant::now();
    for n in 0..(secs * fps) as usize {
        let arrived = t0 + Duration::from_millis(n as u64 * 1000 / u64::from(fps));
        let frame = &frames[n % frames.len()];
        for (camera, recorder) in cameras.iter_mut().zip(&mut recorders) {
            for (seq, timestamp, marker, payload) in camera.packets(frame) {
                packets += 1;
                recorder.push(arrived, RtpIn { seq, timestamp, marker, payload: &payload });
                while let Some(out) = recorder.poll_output() {
                    if let RecorderOutput::Segment(s) = out {
                        segments += 1;
                        bytes += s.file.len() as u64;
                    }
                }
            }
        }
    }
    let took = start.elapsed();
    println!(
        "{students} students, {secs} s: {packets} packets, {segments} segments, {} MB; {:.2} s, {:.0} ns per packet",
        bytes / 1_000_000,
        took.as_secs_f64(),
        took.as_nanos() as f64 / packets as f64
    );
}
