//! What every exported function needs at the boundary: no panic crosses into
//! C, strings come in checked, strings go out into caller buffers.

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::result::{elector_result, fail};

/// Runs `body`, turning a panic into ELECTOR_ERR_PANIC.
pub(crate) fn ffi_boundary(body: impl FnOnce() -> elector_result) -> elector_result {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        fail(
            elector_result::ELECTOR_ERR_PANIC,
            "internal error: a panic was caught in libelector",
        )
    })
}

/// Runs `body`, turning a panic into `fallback`, for functions that return
/// a value rather than a result.
pub(crate) fn ffi_boundary_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Early return of a failed result from inside a boundary closure.
macro_rules! try_ffi {
    ($expr:expr) => {
        match $expr {
            Ok(value) => value,
            Err(code) => return code,
        }
    };
}
pub(crate) use try_ffi;

/// A `&T` from a pointer argument named `name`, or ELECTOR_ERR_NULL_PARAMETER.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` for the returned lifetime.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, elector_result> {
    // SAFETY: as the caller promises.
    unsafe { ptr.as_ref() }.ok_or_else(|| {
        fail(
            elector_result::ELECTOR_ERR_NULL_PARAMETER,
            format!("{name} must not be NULL"),
        )
    })
}

/// A `&mut T` from a pointer argument, or ELECTOR_ERR_NULL_PARAMETER.
///
/// # Safety
/// `ptr` is NULL or points to a live `T`, not aliased, for the returned lifetime.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, elector_result> {
    // SAFETY: as the caller promises.
    unsafe { ptr.as_mut() }.ok_or_else(|| {
        fail(
            elector_result::ELECTOR_ERR_NULL_PARAMETER,
            format!("{name} must not be NULL"),
        )
    })
}

/// A string argument: NUL-terminated UTF-8, required.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string live for the returned lifetime.
pub(crate) unsafe fn str_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<&'a str, elector_result> {
    if ptr.is_null() {
        return Err(fail(
            elector_result::ELECTOR_ERR_NULL_PARAMETER,
            format!("{name} must not be NULL"),
        ));
    }
    // SAFETY: non-null and NUL-terminated, as the caller promises.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| {
        fail(
            elector_result::ELECTOR_ERR_INVALID_UTF8,
            format!("{name} is not valid UTF-8"),
        )
    })
}

/// An optional string argument: NULL means none.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, elector_result> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: as the caller promises.
    unsafe { str_arg(ptr, name) }.map(Some)
}

/// Copies `value` and a NUL into `buf` (`len` bytes) and its length into
/// `*out_n`; nothing is written to `buf` unless it fits, and when it does
/// not, `*out_n` gets the length needed (without the NUL). A failure here
/// does not replace the thread's last error details, so the caller can
/// retry.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes; `out_n` is NULL or writable.
pub(crate) unsafe fn copy_out(
    value: &str,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> elector_result {
    if buf.is_null() || out_n.is_null() {
        return elector_result::ELECTOR_ERR_NULL_PARAMETER;
    }
    if value.len() >= len {
        // SAFETY: `out_n` is writable, as the caller promises.
        unsafe { *out_n = value.len() };
        return elector_result::ELECTOR_ERR_BUFFER_TOO_SMALL;
    }
    // SAFETY: `buf` holds at least `value.len() + 1` bytes, and `out_n` is
    // writable, as the caller promises; the regions cannot overlap `value`.
    unsafe {
        std::ptr::copy_nonoverlapping(value.as_ptr(), buf.cast::<u8>(), value.len());
        *buf.add(value.len()) = 0;
        *out_n = value.len();
    }
    elector_result::ELECTOR_OK
}
