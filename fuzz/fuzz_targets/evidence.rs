#![no_main]
//! See `vigil_fuzz_harness::evidence` (fuzz/harness/src/evidence.rs) for the input format.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vigil_fuzz_harness::evidence::run(data));
