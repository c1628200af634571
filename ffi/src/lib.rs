//! The C ABI of the elector, in the manner of rustls-ffi: opaque handles, a
//! config builder, `uint32_t` result codes, out-parameters written only on
//! success, and a panic boundary around every exported function.
//!
//! `include/elector.h` is generated from this crate by cbindgen.
#![allow(non_camel_case_types)]
// The pointer contract of every function is stated once, in the header's
// conventions (ffi/cbindgen.toml), and per argument in each doc comment.
#![allow(clippy::missing_safety_doc)]

mod boundary;
mod config;
mod error_message;
mod event;
mod handle;
mod log;
mod result;

pub use config::*;
pub use error_message::*;
pub use event::*;
pub use handle::*;
pub use log::*;
pub use result::*;

/// The ABI's version; equal to the crate's (checked by a test).
pub const ELECTOR_VERSION_MAJOR: u32 = 0;
pub const ELECTOR_VERSION_MINOR: u32 = 1;
pub const ELECTOR_VERSION_PATCH: u32 = 0;

/// The library's version, "MAJOR.MINOR.PATCH", as a static NUL-terminated
/// string. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn elector_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_constants_match_the_crate() {
        assert_eq!(
            super::ELECTOR_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            super::ELECTOR_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            super::ELECTOR_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        let version = unsafe { std::ffi::CStr::from_ptr(super::elector_version()) };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
