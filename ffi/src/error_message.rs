//! elector_error_message: what a result code means, with the details of the
//! last failure on the calling thread. Apart from result.rs, which the
//! boundary itself uses to record failures.

use std::ffi::c_char;

use crate::boundary::{copy_out, ffi_boundary};
use crate::result::{describe, elector_result, last_details};

/// Copies a description of `result` into `buf` (NUL-terminated) and its
/// length, without the NUL, into `*out_n`. When `result` is the code of the
/// last failure on the calling thread, the description carries its details
/// ("invalid lease_duration: must be greater than renew_deadline (10s <= 10s)").
///
/// Returns ELECTOR_ERR_BUFFER_TOO_SMALL when `len` cannot hold the message
/// and its NUL; the details are kept, so a retry with a larger buffer (1024
/// bytes always suffice for configuration errors) gets them. Thread-safe
/// (details are per thread).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_error_message(
    result: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> elector_result {
    ffi_boundary(|| {
        let message = last_details(result).unwrap_or_else(|| describe(result));
        // SAFETY: the caller passes a writable buffer of `len` bytes and a
        // writable `out_n`, as documented.
        unsafe { copy_out(&message, buf, len, out_n) }
    })
}
