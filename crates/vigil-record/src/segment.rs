//! Frames into WebM segments of about a minute, each playable and seekable
//! on its own (it starts with a key frame and carries cues).
//!
//! The muxing itself is libwebm's (through the `webm` crate): it writes the
//! cues and the duration when a segment is finished.

use std::io::Cursor;
use std::time::{Duration, Instant};

use thiserror::Error;
use webm::mux::{SegmentBuilder, VideoCodecId, VideoTrack, Writer};

use crate::assemble::Frame;

/// The RTP clock of video.
pub const VIDEO_CLOCK_HZ: u64 = 90_000;

#[derive(Debug, Error)]
pub enum SegmentError {
    #[error("a segment must start with a key frame that carries its size")]
    NotAKeyframe,
    #[error("the WebM muxer refused: {0}")]
    Mux(String),
}

/// A finished segment: the WebM bytes and what they hold.
#[derive(Debug, Clone)]
pub struct FinishedSegment {
    pub webm: Vec<u8>,
    /// The RTP timestamp (extended, 90 kHz) of its first frame.
    pub first_timestamp: u64,
    /// When its first frame arrived.
    pub started: Instant,
    /// From the first frame to the end of the last one.
    pub duration: Duration,
    pub frames: u64,
    pub keyframes: u64,
    pub size: (u16, u16),
}

/// One segment being written.
pub struct SegmentWriter {
    segment: webm::mux::Segment<Cursor<Vec<u8>>>,
    track: VideoTrack,
    first_timestamp: u64,
    started: Instant,
    last_timestamp: u64,
    frames: u64,
    keyframes: u64,
    size: (u16, u16),
    /// Frame bytes written so far (the WebM is a little larger).
    bytes: u64,
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("first_timestamp", &self.first_timestamp)
            .field("frames", &self.frames)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

fn mux_error(e: webm::mux::Error) -> SegmentError {
    SegmentError::Mux(e.to_string())
}

/// Nanoseconds in `ticks` of the 90 kHz clock.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(VIDEO_CLOCK_HZ)).unwrap_or(u64::MAX)
}

impl SegmentWriter {
    /// Starts a segment at `keyframe`, whose size becomes the track's.
    pub fn start(keyframe: &Frame) -> Result<SegmentWriter, SegmentError> {
        let (Some(size), true) = (keyframe.size, keyframe.keyframe) else {
            return Err(SegmentError::NotAKeyframe);
        };
        let builder = SegmentBuilder::new(Writer::new(Cursor::new(Vec::new())))
            .and_then(|b| b.set_writing_app("vigil"))
            .map_err(mux_error)?;
        let (builder, track) = builder
            .add_video_track(u32::from(size.0), u32::from(size.1), VideoCodecId::VP8, None)
            .map_err(mux_error)?;
        let mut writer = SegmentWriter {
            segment: builder.build(),
            track,
            first_timestamp: keyframe.timestamp,
            started: keyframe.completed_at,
            last_timestamp: keyframe.timestamp,
            frames: 0,
            keyframes: 0,
            size,
            bytes: 0,
        };
        writer.push(keyframe)?;
        Ok(writer)
    }

    /// The track's size: a key frame of another size starts a new segment.
    pub fn size(&self) -> (u16, u16) {
        self.size
    }

    /// How much video the segment holds so far.
    pub fn span(&self) -> Duration {
        self.span_to(self.last_timestamp)
    }

    /// From the segment's first frame to a frame at `timestamp`.
    pub fn span_to(&self, timestamp: u64) -> Duration {
        Duration::from_nanos(ticks_to_ns(timestamp.saturating_sub(self.first_timestamp)))
    }

    /// Adds a frame. Frames whose timestamp runs backwards (a sender's
    /// clock jump) are written at the last timestamp, as the muxer needs
    /// timestamps that never decrease.
    pub fn push(&mut self, frame: &Frame) -> Result<(), SegmentError> {
        let timestamp = frame.timestamp.max(self.last_timestamp);
        let at = ticks_to_ns(timestamp - self.first_timestamp);
        self.segment.add_frame(self.track, &frame.data, at, frame.keyframe).map_err(mux_error)?;
        self.last_timestamp = timestamp;
        self.frames += 1;
        self.keyframes += u64::from(frame.keyframe);
        self.bytes += frame.data.len() as u64;
        Ok(())
    }

    /// Frame bytes in the segment so far: what it holds in memory.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Writes the cues and the duration; `frame_duration` is how long the
    /// last frame lasts (the stream's frame interval).
    pub fn finish(self, frame_duration: Duration) -> Result<FinishedSegment, SegmentError> {
        let span = self.span() + frame_duration;
        let span_ns = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        // The duration element is in the segment's timecode scale, 1 ms by default.
        let writer = self
            .segment
            .finalize(Some(span_ns / 1_000_000))
            .map_err(|_| SegmentError::Mux("finalize failed".into()))?;
        Ok(FinishedSegment {
            webm: writer.into_inner().into_inner(),
            first_timestamp: self.first_timestamp,
            started: self.started,
            duration: span,
            frames: self.frames,
            keyframes: self.keyframes,
            size: self.size,
        })
    }
}
