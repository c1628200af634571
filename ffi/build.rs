// Gives libelector.so a SONAME carrying the ABI's major version, so programs
// linked against it keep loading the compatible library after upgrades.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libelector.so.{major}");
}
