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
