//! Frames into segments of about a minute, each playable and seekable on
//! its own (it starts with a key frame): WebM for VP8, MP4 for H.264, which
//! WebM cannot hold.
//!
//! The muxing itself is libraries': libwebm's (through the `webm` crate),
//! which writes the cues and the duration when a segment is finished, and
//! muxide's for MP4, which writes the index (`moov`) first so that a
//! browser plays the file before its last byte.

use std::io::Cursor;
use std::time::{Duration, Instant};

use thiserror::Error;
use webm::mux::{SegmentBuilder, VideoCodecId, VideoTrack, Writer};

use crate::assemble::{Codec, Frame};

/// The RTP clock of video.
pub const VIDEO_CLOCK_HZ: u64 = 90_000;

#[derive(Debug, Error)]
pub enum SegmentError {
    #[error("a segment must start with a key frame that carries its size")]
    NotAKeyframe,
    #[error("the WebM muxer refused: {0}")]
    Mux(String),
}

/// The file a segment is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Webm,
    Mp4,
}

/// A finished segment: the file's bytes and what they hold.
#[derive(Debug, Clone)]
pub struct FinishedSegment {
    /// The file's bytes (WebM or MP4, as `container` says).
    pub file: Vec<u8>,
    pub container: Container,
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

/// The muxer of one segment.
enum Mux {
    Webm {
        segment: webm::mux::Segment<Cursor<Vec<u8>>>,
        track: VideoTrack,
    },
    /// Boxed: muxide's muxer is large, and most recordings are WebM.
    Mp4(Box<muxide::api::Muxer<Vec<u8>>>),
}

/// One segment being written.
pub struct SegmentWriter {
    mux: Mux,
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

fn mux_error(e: impl std::fmt::Display) -> SegmentError {
    SegmentError::Mux(e.to_string())
}

/// Nanoseconds in `ticks` of the 90 kHz clock.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(VIDEO_CLOCK_HZ)).unwrap_or(u64::MAX)
}

impl SegmentWriter {
    /// Starts a segment at `keyframe`, whose size becomes the track's.
    pub fn start(keyframe: &Frame, codec: Codec) -> Result<SegmentWriter, SegmentError> {
        let (Some(size), true) = (keyframe.size, keyframe.keyframe) else {
            return Err(SegmentError::NotAKeyframe);
        };
        let (width, height) = (u32::from(size.0), u32::from(size.1));
        let mux = match codec {
            Codec::Vp8 => {
                let builder = SegmentBuilder::new(Writer::new(Cursor::new(Vec::new())))
                    .and_then(|b| b.set_writing_app("vigil"))
                    .map_err(mux_error)?;
                let (builder, track) =
                    builder.add_video_track(width, height, VideoCodecId::VP8, None).map_err(mux_error)?;
                Mux::Webm { segment: builder.build(), track }
            }
            Codec::H264 => Mux::Mp4(Box::new(
                muxide::api::MuxerBuilder::new(Vec::new())
                    // The rate only sets a default frame duration: every
                    // frame here has its own time.
                    .video(muxide::api::VideoCodec::H264, width, height, 15.0)
                    .with_fast_start(true)
                    .build()
                    .map_err(mux_error)?,
            )),
        };
        let mut writer = SegmentWriter {
            mux,
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

    /// Adds a frame. Times never run backwards in a container: a frame
    /// whose timestamp does (a sender's clock jump) is written at the last
    /// time, or a tick after it in MP4, whose times must strictly increase.
    pub fn push(&mut self, frame: &Frame) -> Result<(), SegmentError> {
        let mut timestamp = frame.timestamp.max(self.last_timestamp);
        if matches!(self.mux, Mux::Mp4(_)) && self.frames > 0 && timestamp == self.last_timestamp {
            timestamp += 1;
        }
        let ticks = timestamp - self.first_timestamp;
        match &mut self.mux {
            Mux::Webm { segment, track } => {
                segment.add_frame(*track, &frame.data, ticks_to_ns(ticks), frame.keyframe).map_err(mux_error)?
            }
            Mux::Mp4(muxer) => muxer
                .write_video(ticks as f64 / VIDEO_CLOCK_HZ as f64, &frame.data, frame.keyframe)
                .map_err(mux_error)?,
        }
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
        let (bytes, container) = match self.mux {
            Mux::Webm { segment, .. } => {
                // The duration element is in the segment's timecode scale, 1 ms by default.
                let writer = segment
                    .finalize(Some(span_ns / 1_000_000))
                    .map_err(|_| SegmentError::Mux("finalize failed".into()))?;
                (writer.into_inner().into_inner(), Container::Webm)
            }
            Mux::Mp4(mut muxer) => {
                muxer.finish_in_place().map_err(mux_error)?;
                (muxer.into_writer(), Container::Mp4)
            }
        };
        Ok(FinishedSegment {
            file: bytes,
            container,
            first_timestamp: self.first_timestamp,
            started: self.started,
            duration: span,
            frames: self.frames,
            keyframes: self.keyframes,
            size: self.size,
        })
    }
}
