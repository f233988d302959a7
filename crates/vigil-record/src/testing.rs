//! Test media for recordings, made here: real VP8 and H.264 from ffmpeg's
//! test pattern, packetised as a browser does. For tests (this crate's and
//! the server's); needs Debian's ffmpeg (with libx264), which scripts/test
//! installs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::h264;
use crate::{FinishedSegment, Recorder, RecorderOutput, RtpIn};

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
/// and payload (VP8's payload descriptor, or H.264's STAP-A or FU-A
/// headers, included).
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

/// `secs` of ffmpeg's test pattern at `size` and `fps`, H.264 as a browser
/// sends it (constrained baseline: no B-frames, so frames come in display
/// order; an IDR picture every `gop` frames, with its SPS and PPS before
/// it), as access units in Annex B form, one per frame. x264 runs two
/// slice threads, so a frame is two slices, as a browser's may be.
///
/// The raw stream (written in `dir`) is cut at x264's access unit
/// delimiters, which are then left out: a browser sends none. Every start
/// code is made the 4-byte one that [`h264::parse_payload`] writes, so
/// that a round trip gives the same bytes.
pub fn h264_frames(dir: &Path, size: &str, fps: u32, secs: u32, gop: u32) -> Vec<Vec<u8>> {
    let raw = dir.join(format!("{size}-{fps}-{secs}-{gop}.h264"));
    let gop = gop.to_string();
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate={fps}"))
        .args(["-t", &secs.to_string(), "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0"])
        .args(["-tune", "zerolatency", "-threads", "2", "-pix_fmt", "yuv420p", "-b:v", "300k"])
        .args(["-g", &gop, "-keyint_min", &gop, "-sc_threshold", "0"])
        .args(["-x264-params", "repeat-headers=1:aud=1", "-f", "h264"])
        .arg(&raw));
    let bytes = std::fs::read(&raw).expect("ffmpeg wrote the H.264 stream");
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for nal in h264::nal_units(&bytes) {
        if nal[0] & 0x1f == NAL_AUD {
            frames.push(Vec::new());
        } else {
            let frame = frames.last_mut().expect("the stream starts with an access unit delimiter");
            frame.extend_from_slice(&h264::START_CODE);
            frame.extend_from_slice(nal);
        }
    }
    assert_eq!(frames.len() as u32, fps * secs, "one access unit per frame");
    let gop: usize = gop.parse().expect("a number");
    for (i, f) in frames.iter().enumerate() {
        let nal_types: Vec<u8> = h264::nal_units(f).map(|n| n[0] & 0x1f).collect();
        let idr = nal_types.contains(&h264::NAL_IDR);
        assert_eq!(idr, i % gop == 0, "frame {i} ({nal_types:?}): an IDR picture every {gop} frames, and only then");
        if idr {
            assert!(nal_types.starts_with(&[h264::NAL_SPS, h264::NAL_PPS]), "frame {i}: {nal_types:?}");
        }
    }
    frames
}

/// An access unit delimiter's NAL unit type.
const NAL_AUD: u8 = 9;

/// RTP packets of H.264 access units per RFC 6184, packetization mode 1,
/// as a browser (libwebrtc) makes them: consecutive NAL units that fit
/// together in 1,100 bytes go in one STAP-A (an IDR picture's SPS and PPS,
/// small slices), a NAL unit that fits alone in a packet of its own, a
/// larger one in FU-A fragments of at most 1,100 bytes; the marker on the
/// access unit's last packet; the timestamp advances by one frame interval
/// per access unit.
#[derive(Debug, Clone)]
pub struct H264Packetiser {
    pub seq: u16,
    pub timestamp: u32,
    pub ticks_per_frame: u32,
}

/// The largest payload [`H264Packetiser`] makes.
const H264_MAX_PAYLOAD: usize = 1100;

impl H264Packetiser {
    pub fn packets(&mut self, au: &[u8]) -> Vec<TestPacket> {
        let nals: Vec<&[u8]> = h264::nal_units(au).collect();
        let mut payloads: Vec<Vec<u8>> = Vec::new();
        let mut i = 0;
        while i < nals.len() {
            // As many as fit after the STAP-A header, each after its length.
            let mut end = i;
            let mut len = 1;
            while end < nals.len() && len + 2 + nals[end].len() <= H264_MAX_PAYLOAD {
                len += 2 + nals[end].len();
                end += 1;
            }
            if end - i >= 2 {
                // F is any NAL unit's, NRI the highest (RFC 6184, 5.7.1).
                let f = nals[i..end].iter().fold(0, |f, n| f | (n[0] & 0x80));
                let nri = nals[i..end].iter().map(|n| n[0] & 0x60).max().unwrap_or(0);
                let mut p = vec![f | nri | 24];
                for nal in &nals[i..end] {
                    p.extend_from_slice(&(nal.len() as u16).to_be_bytes());
                    p.extend_from_slice(nal);
                }
                payloads.push(p);
                i = end;
                continue;
            }
            let nal = nals[i];
            if nal.len() <= H264_MAX_PAYLOAD {
                payloads.push(nal.to_vec());
            } else {
                // FU indicator (F, NRI, 28) and FU header (S, E, type), then
                // a share of the NAL unit after its header.
                let chunks: Vec<&[u8]> = nal[1..].chunks(H264_MAX_PAYLOAD - 2).collect();
                for (k, c) in chunks.iter().enumerate() {
                    let s = if k == 0 { 0x80 } else { 0 };
                    let e = if k + 1 == chunks.len() { 0x40 } else { 0 };
                    let mut p = vec![(nal[0] & 0xe0) | 28, s | e | (nal[0] & 0x1f)];
                    p.extend_from_slice(c);
                    payloads.push(p);
                }
            }
            i += 1;
        }
        let count = payloads.len();
        let out = payloads
            .into_iter()
            .enumerate()
            .map(|(k, p)| {
                let seq = self.seq;
                self.seq = self.seq.wrapping_add(1);
                (seq, self.timestamp, k + 1 == count, p)
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

/// Feeds `frames`, packetised by `packets`, to `rec` at `fps` frames a
/// second of simulated time from `start`; `lose` picks the packets (by
/// index over the whole stream) that never arrive. Ends the recording;
/// the finished segments and how many key frames it asked for (a muxer
/// failure panics: tests only).
pub fn record_frames(
    rec: &mut Recorder,
    frames: &[Vec<u8>],
    fps: u64,
    start: Instant,
    mut packets: impl FnMut(&[u8]) -> Vec<TestPacket>,
    lose: impl Fn(usize) -> bool,
) -> (Vec<FinishedSegment>, usize) {
    let (mut segments, mut requests, mut index) = (Vec::new(), 0, 0);
    let mut collect = |rec: &mut Recorder| {
        while let Some(o) = rec.poll_output() {
            match o {
                RecorderOutput::Segment(s) => segments.push(s),
                RecorderOutput::NeedKeyframe => requests += 1,
                RecorderOutput::Failed(e) => panic!("the muxer failed: {e}"),
            }
        }
    };
    for (n, f) in frames.iter().enumerate() {
        let now = start + Duration::from_millis(n as u64 * 1000 / fps);
        for (seq, timestamp, marker, payload) in packets(f) {
            if !lose(index) {
                rec.push(now, RtpIn { seq, timestamp, marker, payload: &payload });
            }
            index += 1;
        }
        collect(rec);
    }
    rec.finish();
    collect(rec);
    (segments, requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_frames_survive_packetising_and_depacketising() {
        let dir = std::env::temp_dir().join(format!("vigil-record-{}-h264-round-trip", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let frames = h264_frames(&dir, "320x240", 15, 2, 10);
        let mut camera = H264Packetiser { seq: 65_530, timestamp: u32::MAX - 10_000, ticks_per_frame: 6000 };
        let packets: Vec<TestPacket> = frames.iter().flat_map(|f| camera.packets(f)).collect();
        assert!(packets.iter().all(|p| p.3.len() <= H264_MAX_PAYLOAD));
        // Every kind of packet is there: STAP-A (SPS and PPS), FU-A (the
        // IDR slices), single NAL units (small slices).
        for kind in [24, 28, 1] {
            assert!(packets.iter().any(|p| p.3[0] & 0x1f == kind), "a packet of type {kind}");
        }

        let mut fu = h264::FuState::default();
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut last_timestamp = None;
        for (i, (seq, timestamp, marker, payload)) in packets.iter().enumerate() {
            if last_timestamp != Some(*timestamp) {
                got.push(Vec::new());
                last_timestamp = Some(*timestamp);
            }
            let d = h264::parse_payload(payload, &mut fu).unwrap_or_else(|e| panic!("packet {seq}: {e}"));
            got.last_mut().expect("a frame").extend(d.data);
            let last_of_frame = packets.get(i + 1).is_none_or(|next| next.1 != *timestamp);
            assert_eq!(*marker, last_of_frame, "packet {seq}: the marker on a frame's last packet only");
        }
        assert_eq!(got.len(), frames.len());
        for (i, (got, sent)) in got.iter().zip(&frames).enumerate() {
            assert!(got == sent, "frame {i} differs");
        }
        let first = h264::access_unit_header(&frames[0]);
        assert_eq!(first, h264::AccessUnitHeader { keyframe: true, size: Some((320, 240)) });
        assert!(!h264::access_unit_header(&frames[1]).keyframe);
        assert!(h264::access_unit_header(&frames[10]).keyframe);
        std::fs::remove_dir_all(&dir).ok();
    }
}
