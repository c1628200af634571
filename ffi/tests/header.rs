//! include/elector.h is generated from this crate by cbindgen and checked in;
//! this fails when it is stale. Regenerate with
//! `ELECTOR_UPDATE_HEADER=1 cargo test -p elector-ffi --test header`.

use std::path::Path;

#[test]
fn the_checked_in_header_is_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    let header = crate_dir.join("../include/elector.h");
    if std::env::var_os("ELECTOR_UPDATE_HEADER").is_some() {
        std::fs::write(&header, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&header).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/elector.h is stale: run ELECTOR_UPDATE_HEADER=1 cargo test -p elector-ffi --test header"
    );
}
