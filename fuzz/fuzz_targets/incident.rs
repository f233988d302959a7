#![no_main]
//! See `vigil_fuzz_harness::incident` (fuzz/harness/src/incident.rs) for the input format.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vigil_fuzz_harness::incident::run(data));
