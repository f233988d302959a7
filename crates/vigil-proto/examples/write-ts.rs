//! Rewrites the committed TypeScript bindings from the Rust wire types.
fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(vigil_proto::typescript::BINDINGS_PATH);
    std::fs::create_dir_all(path.parent().expect("bindings path has a parent"))?;
    std::fs::write(&path, vigil_proto::typescript::bindings())?;
    println!("wrote {}", path.display());
    Ok(())
}
