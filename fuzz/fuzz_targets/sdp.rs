#![no_main]
//! See `vigil_fuzz_harness::sdp` (fuzz/harness/src/sdp.rs) for the input format.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vigil_fuzz_harness::sdp::run(data));
