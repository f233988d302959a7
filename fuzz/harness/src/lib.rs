//! What the fuzz targets in `fuzz/fuzz_targets` run, as a library.
//!
//! Each target is one line calling a `run` function here, so the same code
//! replays the committed seeds and any crash input on stable Rust
//! (`cargo test` in `fuzz/`; see `tests/seeds.rs`), and the seed generator
//! (`examples/make_seeds.rs`) writes inputs in exactly the format the
//! targets read.
//!
//! - [`incident`]: `incident` / `incident_end` JSON decoded as the server
//!   decodes it, then fed to a student's `Ledger` on simulated time.
//! - [`evidence`]: `inspect_jpeg` on arbitrary bytes and `check_window` on
//!   arbitrary numbers.
//! - [`sdp`]: a sequence of signalling commands (publish, subscribe,
//!   candidates, watch, close, time) on a sans-IO `Router`.
//! - [`stun`]: datagrams from arbitrary addresses into a `Router` that has
//!   a publisher and a proctor, plus the STUN demultiplexing helpers.
//!
//! Nothing here may panic on any input; the only panics are the checks of
//! properties that must hold (and each says which).

pub mod evidence;
pub mod incident;
pub mod ops;
pub mod sdp;
pub mod stun;

/// What a fuzz target runs on one input.
pub type Run = fn(&[u8]);

/// The fuzz targets, by name, with their `run` functions.
pub const TARGETS: [(&str, Run); 4] =
    [("incident", incident::run), ("evidence", evidence::run), ("sdp", sdp::run), ("stun", stun::run)];
