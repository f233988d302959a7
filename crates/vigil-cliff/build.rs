// Links the system libvpx through pkg-config and compiles a tiny C probe that
// reports, from the real headers, the struct layouts and ABI constants that the
// hand-written FFI in src/sys/vpx.rs assumes. The unit test `layout_matches_headers`
// compares the two, so a libvpx whose headers drift fails `cargo test` instead
// of corrupting memory at run time.

fn main() {
    println!("cargo:rerun-if-changed=csrc/layout_probe.c");

    // The bindings are written against libvpx 1.12's ABI; an older library
    // lacks fields we set, so refuse it here rather than at run time.
    let lib = match pkg_config::Config::new().atleast_version("1.12").probe("vpx") {
        Ok(lib) => lib,
        Err(e) => {
            println!(
                "cargo:warning=libvpx >= 1.12 not found through pkg-config \
                 (Debian: apt-get install -y libvpx-dev pkg-config): {e}"
            );
            std::process::exit(1);
        }
    };
    println!("cargo:rustc-env=VIGIL_CLIFF_VPX_PKG_VERSION={}", lib.version);

    let mut build = cc::Build::new();
    build.file("csrc/layout_probe.c").warnings(true);
    for dir in &lib.include_paths {
        build.include(dir);
    }
    build.compile("vigil_cliff_layout_probe");
}
