//! vigil-cliff: measures the per-stream CPU cost of decoding students' VP8
//! video on a server (the design vigil's forwarding SFU replaces).

pub mod bench;
pub mod convert;
pub mod frame;
pub mod report;
pub mod scene;
// `unsafe` is denied workspace-wide; `sys` is the one exception here: it
// declares libvpx's C API itself (FFI calls are unsafe by nature) and calls
// two libc clocks, and exports only safe wrappers.
#[allow(unsafe_code)]
pub mod sys;

pub use sys::vpx::{DecodedImage, Decoder, EncodedFrame, Encoder, EncoderConfig, VpxError};
