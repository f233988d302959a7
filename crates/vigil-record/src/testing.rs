//! Test media for recordings, made here: real VP8 from ffmpeg's test
//! pattern, packetised as a browser does. For tests (this crate's and the
//! server's); needs Debian's ffmpeg, which scripts/test installs.

use std::path::Path;
use std::process::Command;

/// Runs `cmd`, panicking with its stderr if it fails: test set-up only.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} did not start ({e}): is ffmpeg installed? scripts/test installs it"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// `secs` of ffmpeg's test pattern at `size` ("320x240") and `fps`, VP8
/// with a key frame every `gop` frames, as frames (read from IVF, the
/// codec's own simple container, written in `dir`).
pub fn vp8_frames(dir: &Path, size: &str, fps: u32, secs: u32, gop: u32) -> Vec<Vec<u8>> {
    let ivf = dir.join(format!("{size}-{fps}-{secs}-{gop}.ivf"));
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate={fps}"))
        .args(["-t", &secs.to_string(), "-c:v", "libvpx", "-b:v", "300k", "-g", &gop.to_string(), "-f", "ivf"])
        .arg(&ivf));
    let bytes = std::fs::read(&ivf).expect("ffmpeg wrote the IVF file");
    assert_eq!(bytes.get(..4), Some(&b"DKIF"[..]), "an IVF file");
    let mut at = usize::from(u16::from_le_bytes([bytes[6], bytes[7]]));
    let mut frames = Vec::new();
    while at + 12 <= bytes.len() {
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        frames.push(bytes[at + 12..at + 12 + len].to_vec());
        at += 12 + len;
    }
    frames
}

/// One RTP packet as a test sends it: sequence number, timestamp, marker
/// and payload (VP8 payload descriptor included).
pub type TestPacket = (u16, u32, bool, Vec<u8>);

/// RTP packets of frames per RFC 7741: a one-byte descriptor (S on the
/// first packet of a frame), at most 1,100 bytes of frame each, the marker
/// on the last; the timestamp advances by one frame interval per frame.
#[derive(Debug, Clone)]
pub struct Packetiser {
    pub seq: u16,
    pub timestamp: u32,
    pub ticks_per_frame: u32,
}

impl Packetiser {
    pub fn packets(&mut self, frame: &[u8]) -> Vec<TestPacket> {
        let chunks: Vec<&[u8]> = frame.chunks(1100).collect();
        let out = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut p = vec![if i == 0 { 0x10 } else { 0x00 }];
                p.extend_from_slice(c);
                let seq = self.seq;
                self.seq = self.seq.wrapping_add(1);
                (seq, self.timestamp, i + 1 == chunks.len(), p)
            })
            .collect();
        self.timestamp = self.timestamp.wrapping_add(self.ticks_per_frame);
        out
    }
}

/// (frames decoded, key frames, duration in seconds) of a media file, as
/// ffprobe reads them.
pub fn probe(file: &Path) -> (u64, u64, f64) {
    let count = |extra: &[&str]| -> u64 {
        let out = run(Command::new("ffprobe")
            .args(["-v", "error"])
            .args(extra)
            .args([
                "-count_frames",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=nb_read_frames",
                "-of",
                "csv=p=0",
            ])
            .arg(file));
        out.trim().parse().unwrap_or_else(|_| panic!("ffprobe said {out:?}"))
    };
    let frames = count(&[]);
    let keyframes = count(&["-skip_frame", "nokey"]);
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(file));
    (frames, keyframes, out.trim().parse().unwrap_or_else(|_| panic!("ffprobe said {out:?}")))
}

/// Panics unless ffmpeg decodes the whole file without a single complaint.
pub fn decodes_cleanly(file: &Path) {
    let out = run(Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(file).args(["-f", "null", "-"]));
    assert!(out.trim().is_empty(), "{} did not decode cleanly: {out}", file.display());
}
