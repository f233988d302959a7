//! vigil-record: a student's camera, as the SFU receives it (decrypted
//! RTP), written to files without decoding: VP8 to WebM, H.264 to MP4.
//!
//! Everything here is sans-IO: packets and the time they arrived go in,
//! finished segments (bytes) and key frame requests come out. The server
//! runs it off the SFU thread and stores the segments; the SFU turns a key
//! frame request into a PLI to the student.
//!
//! - [`vp8`]: the RTP payload format (RFC 7741) and the frame header bits a
//!   recorder needs.
//! - [`h264`]: the RTP payload format (RFC 6184: single NAL units, STAP-A,
//!   FU-A) into Annex B access units, and whether one is a key frame and of
//!   what size (from its SPS).
//! - [`assemble`]: packets into whole frames, with reordering, loss (drop
//!   until the next key frame, and ask for one) and wrap-around.
//! - [`segment`]: frames into segments (WebM through libwebm, with cues;
//!   MP4 through muxide, index first).
//! - [`Recorder`]: the three together, cutting a segment about every
//!   `segment_length` at a key frame it asks for, and at every change of
//!   resolution.

pub mod assemble;
pub mod h264;
pub mod segment;
pub mod testing;
pub mod vp8;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use assemble::{AssemblerConfig, AssemblerStats, Codec, Frame, FrameAssembler, Output, RtpIn};
pub use segment::{Container, FinishedSegment, SegmentError, SegmentWriter};

#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// A segment is cut at the first key frame after this much video.
    pub segment_length: Duration,
    /// The first segment's length, if not `segment_length`: students who
    /// start together would otherwise cut (and store) their segments in
    /// the same second, every minute. The server spreads their first cuts
    /// over half a segment.
    pub first_segment_length: Option<Duration>,
    /// Past this, a segment is cut even without a key frame, and frames
    /// are dropped until one comes: memory stays bounded if a sender
    /// ignores key frame requests.
    pub max_segment_length: Duration,
    /// A segment is cut, and frames dropped until the next key frame, once
    /// it holds this many bytes: a segment is held in memory, and a sender
    /// at many times a camera's bitrate must not make it grow without end.
    pub max_segment_bytes: u64,
    /// How often a key frame is asked for while one is due.
    pub keyframe_request_interval: Duration,
    pub assembler: AssemblerConfig,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            segment_length: Duration::from_secs(60),
            first_segment_length: None,
            max_segment_length: Duration::from_secs(180),
            // 60 s at 2 Mbit/s: a browser's camera sends 0.3–1.5 Mbit/s.
            max_segment_bytes: 15 << 20,
            keyframe_request_interval: Duration::from_secs(2),
            assembler: AssemblerConfig::default(),
        }
    }
}

#[derive(Debug)]
pub enum RecorderOutput {
    Segment(FinishedSegment),
    /// Ask the sender for a key frame (a PLI).
    NeedKeyframe,
    /// The muxer refused a segment; its frames are lost, recording goes on
    /// at the next key frame.
    Failed(SegmentError),
}

/// One student's recording.
#[derive(Debug)]
pub struct Recorder {
    cfg: RecorderConfig,
    assembler: FrameAssembler,
    current: Option<SegmentWriter>,
    /// The length at which the current segment is cut: the first
    /// segment's, then `segment_length`.
    cut_at: Duration,
    /// The latest gap between two frames, for the last frame's duration.
    frame_interval: u64,
    last_frame: Option<u64>,
    last_request: Option<Instant>,
    /// Frames dropped because a segment hit `max_segment_length` or
    /// `max_segment_bytes`.
    frames_dropped: u64,
    out: VecDeque<RecorderOutput>,
}

/// 15 frames a second until two frames show the real interval.
const DEFAULT_FRAME_INTERVAL: u64 = segment::VIDEO_CLOCK_HZ / 15;

impl Recorder {
    pub fn new(cfg: RecorderConfig) -> Recorder {
        let assembler = FrameAssembler::new(cfg.assembler.clone());
        Recorder {
            cut_at: cfg.first_segment_length.unwrap_or(cfg.segment_length),
            cfg,
            assembler,
            current: None,
            frame_interval: DEFAULT_FRAME_INTERVAL,
            last_frame: None,
            last_request: None,
            frames_dropped: 0,
            out: VecDeque::new(),
        }
    }

    /// The assembler's counts, with frames dropped at a segment's cap.
    pub fn stats(&self) -> AssemblerStats {
        let mut s = self.assembler.stats();
        s.frames_dropped += self.frames_dropped;
        s
    }

    pub fn poll_output(&mut self) -> Option<RecorderOutput> {
        self.out.pop_front()
    }

    pub fn push(&mut self, now: Instant, packet: RtpIn<'_>) {
        self.assembler.push(now, packet);
        while let Some(o) = self.assembler.poll_output() {
            match o {
                Output::NeedKeyframe => self.request_keyframe(now, true),
                Output::Frame(f) => self.frame(now, f),
            }
        }
    }

    /// Ends the recording (the student stopped publishing): finishes the
    /// segment in progress.
    pub fn finish(&mut self) {
        self.close_segment();
    }

    fn request_keyframe(&mut self, now: Instant, urgent: bool) {
        // The assembler paces its own requests; the recorder's are paced here.
        let due = urgent
            || self.last_request.is_none_or(|t| now.saturating_duration_since(t) >= self.cfg.keyframe_request_interval);
        if due {
            self.last_request = Some(now);
            self.out.push_back(RecorderOutput::NeedKeyframe);
        }
    }

    fn frame(&mut self, now: Instant, f: Frame) {
        if let Some(last) = self.last_frame
            && f.timestamp > last
        {
            self.frame_interval = (f.timestamp - last).min(segment::VIDEO_CLOCK_HZ);
        }
        self.last_frame = Some(f.timestamp);
        if let Some(w) = &self.current {
            let long = w.span_to(f.timestamp) >= self.cut_at;
            let resized = f.size.is_some_and(|s| s != w.size());
            if f.keyframe && (long || resized) {
                self.close_segment();
            } else if w.span() >= self.cfg.max_segment_length || w.bytes() >= self.cfg.max_segment_bytes {
                self.close_segment();
                self.frames_dropped += 1;
                return self.request_keyframe(now, false);
            } else if long {
                self.request_keyframe(now, false);
            }
        }
        match &mut self.current {
            Some(w) => {
                if let Err(e) = w.push(&f) {
                    self.current = None;
                    self.out.push_back(RecorderOutput::Failed(e));
                }
            }
            None if f.keyframe => match SegmentWriter::start(&f, self.cfg.assembler.codec) {
                Ok(w) => self.current = Some(w),
                Err(e) => self.out.push_back(RecorderOutput::Failed(e)),
            },
            None => {
                // After a cut at the cap: wait for the key frame asked for.
                self.frames_dropped += 1;
                self.request_keyframe(now, false);
            }
        }
    }

    fn close_segment(&mut self) {
        if let Some(w) = self.current.take() {
            self.cut_at = self.cfg.segment_length;
            let last = std::time::Duration::from_nanos(segment::ticks_to_ns(self.frame_interval));
            self.out.push_back(match w.finish(last) {
                Ok(s) => RecorderOutput::Segment(s),
                Err(e) => RecorderOutput::Failed(e),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One frame per packet: a key frame (320x240) or a delta frame of `len` bytes.
    fn packet(seq: u16, key: bool, len: usize) -> (u16, u32, Vec<u8>) {
        let mut p = vec![0x10];
        if key {
            p.extend_from_slice(&[0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
        } else {
            p.push(0x51);
        }
        p.resize(len, 0x77);
        (seq, u32::from(seq) * 6000, p)
    }

    #[test]
    fn a_sender_far_above_a_cameras_bitrate_cannot_grow_a_segment_without_end() {
        let cfg = RecorderConfig { max_segment_bytes: 100_000, ..RecorderConfig::default() };
        let mut rec = Recorder::new(cfg);
        let now = Instant::now();
        let mut outputs = Vec::new();
        // A key frame, then 60 deltas of 10 kB each: ten fill the cap.
        for seq in 0..61u16 {
            let (seq, ts, payload) = packet(seq, seq == 0, 10_000);
            rec.push(now, RtpIn { seq, timestamp: ts, marker: true, payload: &payload });
            outputs.extend(std::iter::from_fn(|| rec.poll_output()));
        }
        let segments: Vec<&FinishedSegment> = outputs
            .iter()
            .filter_map(|o| match o {
                RecorderOutput::Segment(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(segments.len(), 1, "cut at the cap");
        assert!(segments[0].file.len() < 120_000, "{} bytes held", segments[0].file.len());
        assert!(outputs.iter().any(|o| matches!(o, RecorderOutput::NeedKeyframe)), "and a key frame is asked for");
        assert!(rec.stats().frames_dropped >= 49, "the rest waits for it: {:?}", rec.stats());
        // The key frame starts the next segment.
        let (seq, ts, payload) = packet(61, true, 10_000);
        rec.push(now, RtpIn { seq, timestamp: ts, marker: true, payload: &payload });
        rec.finish();
        let last: Vec<RecorderOutput> = std::iter::from_fn(|| rec.poll_output()).collect();
        assert!(matches!(last.as_slice(), [RecorderOutput::Segment(s)] if s.frames == 1 && s.keyframes == 1));
    }

    #[test]
    fn the_first_segment_is_cut_at_its_own_length_then_every_segment_length() {
        let cfg = RecorderConfig {
            segment_length: Duration::from_secs(10),
            first_segment_length: Some(Duration::from_secs(5)),
            ..RecorderConfig::default()
        };
        let mut rec = Recorder::new(cfg);
        let now = Instant::now();
        // 32 s at 15 fps, a key frame every second.
        for seq in 0..(32 * 15u16) {
            let (seq, ts, payload) = packet(seq, seq % 15 == 0, 500);
            rec.push(now, RtpIn { seq, timestamp: ts, marker: true, payload: &payload });
        }
        rec.finish();
        let spans: Vec<u64> = std::iter::from_fn(|| rec.poll_output())
            .filter_map(|o| match o {
                RecorderOutput::Segment(s) => Some(s.frames / 15),
                _ => None,
            })
            .collect();
        assert_eq!(spans, [5, 10, 10, 7], "seconds of video per segment");
    }
}
