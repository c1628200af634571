// Gives libelector.so a SONAME carrying its ABI version, so programs linked
// against it keep loading a compatible library after upgrades. While the
// major version is 0, minor versions are incompatible (as Cargo treats them),
// so the SONAME carries both. -z nodelete: the library owns threads (its
// runtime) that must never outlive its code, so dlclose leaves it loaded.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libelector.so.{abi}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
