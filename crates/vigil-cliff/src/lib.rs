//! vigil-cliff: measures the per-stream CPU cost of decoding students' VP8
//! video on a server (the design vigil's forwarding SFU replaces).

#![deny(unsafe_code)]

pub mod bench;
pub mod convert;
pub mod frame;
pub mod report;
pub mod scene;
#[allow(unsafe_code)]
pub mod sys;

pub use sys::vpx::{DecodedImage, Decoder, EncodedFrame, Encoder, EncoderConfig, VpxError};
