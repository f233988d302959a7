//! The only place in this crate allowed to use `unsafe`: libvpx FFI and the
//! two libc clocks. Everything exported from here is a safe API.

pub mod cputime;
mod ffi;
pub mod vpx;
