//! What the load generator's tests share.

use std::path::PathBuf;
use std::process::Command;

/// The server binary: `$VIGIL_BIN` when set, else the `vigil` in the target
/// dir this test was built into, which the cargo running the test builds (or
/// finds fresh) first. `cargo test --workspace` itself builds no plain `vigil`
/// binary (that crate has no integration tests), so on a clean checkout there
/// is none until this builds it.
pub fn vigil_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("VIGIL_BIN") {
        return bin.into();
    }
    let bin = vigil_load::target_vigil();
    let cargo = std::env::var_os("CARGO").or_else(|| option_env!("CARGO").map(Into::into));
    // <target dir>/<profile dir>/vigil; the profile dir of `dev` is `debug`.
    let profile_dir = bin.parent().expect("vigil's dir");
    if let (Some(cargo), Some(target_dir), Some(profile)) =
        (cargo, profile_dir.parent(), profile_dir.file_name().and_then(|p| p.to_str()))
    {
        let profile = if profile == "debug" { "dev" } else { profile };
        // `--workspace` resolves features as `cargo test --workspace` and
        // `cargo build --workspace` do, so the dependencies those built are
        // reused rather than compiled again with another feature set.
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--workspace", "--bin", "vigil", "--profile", profile, "--target-dir"])
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --bin vigil failed");
    }
    assert!(bin.exists(), "{} is missing: cargo build -p vigil first", bin.display());
    bin
}

/// A run of `students` publishing video with one proctor watching two of
/// them, for `secs` seconds after the ramp.
pub fn video_run(students: u32, secs: u64, incident_rate: f64) -> vigil_load::LoadConfig {
    use vigil_load::sim;
    vigil_load::LoadConfig {
        steps: vec![students],
        proctors: 1,
        watch: 2,
        duration: std::time::Duration::from_secs(secs),
        student: sim::StudentConfig {
            incident_rate,
            evidence_share: 0.2,
            heartbeat_every: std::time::Duration::from_secs(2),
            signals_every: std::time::Duration::from_secs(1),
            video: Some(vigil_load::media::VideoConfig::default()),
        },
        show_progress: false,
        loadgen_nice: 0,
        media_nice: 0,
        record: false,
    }
}

/// What every run must show: at least `min_acked` incidents, each acked and
/// covered by a score at the proctor, every evidence frame stored, nothing
/// refused, no reconnect, every camera's packets at the SFU and the watched
/// streams at the proctor without a gap.
pub fn assert_nothing_lost(outcome: &vigil_load::RunOutcome, min_acked: u64) {
    assert!(outcome.total_acked >= min_acked, "too few incidents for a meaningful run: {}", outcome.total_acked);
    assert_eq!(outcome.total_sent, outcome.total_acked, "every incident acked; errors: {:?}", outcome.errors);
    assert_eq!(outcome.undelivered, 0, "every acked incident reached the proctor as a score");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.total_evidence_accepted > 0);
    assert_eq!(outcome.total_evidence_accepted, outcome.total_evidence_sent, "every evidence frame stored");
    assert_eq!(outcome.steps[0].reconnects, 0);
    assert!(outcome.total_rtp_sent > 0);
    assert_eq!(outcome.total_rtp_sfu_received, outcome.total_rtp_sent, "the SFU received every packet sent");
    assert_eq!(outcome.total_rtp_lost, 0, "no gaps on loopback");
    assert_eq!(outcome.total_rtp_received, outcome.total_rtp_forwarded, "every forwarded packet arrived");
}
