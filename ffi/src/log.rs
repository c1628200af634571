//! The engine's logs for C: a callback for every line (as rustls-ffi's
//! `rustls_log_callback`), or, without one, standard error when ELECTOR_LOG
//! is set.

use std::ffi::{CString, c_char, c_void};
use std::sync::Once;

use elector_bindings::log::{LogLine, install_lines};
use tracing::Level;

use crate::boundary::ffi_boundary;
use crate::result::{elector_result, fail};

/// A log line's level.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum elector_log_level {
    ELECTOR_LOG_ERROR = 1,
    ELECTOR_LOG_WARN = 2,
    ELECTOR_LOG_INFO = 3,
    ELECTOR_LOG_DEBUG = 4,
    ELECTOR_LOG_TRACE = 5,
}

/// One log line, valid only during the callback: copy what you keep.
#[repr(C)]
#[derive(Debug)]
pub struct elector_log_params {
    pub level: elector_log_level,
    /// The module that logged it, such as "elector_core::engine".
    pub target: *const c_char,
    pub message: *const c_char,
    /// The elector's lease and identity; NULL for a line of no elector (a
    /// connection shared by all of them).
    pub lease: *const c_char,
    pub identity: *const c_char,
    /// The line's other fields as a JSON object, such as {"term":3}.
    pub fields_json: *const c_char,
}

/// Called on the engine's threads, at times on several at once, for every
/// line from debug up (or as ELECTOR_LOG filters them): hand the line to
/// your logger and return; do not call into libelector from it.
pub type elector_log_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, params: *const elector_log_params)>;

/// The callback's userdata: the caller vouches that it may be used from any
/// thread (see elector_set_log_callback).
struct Userdata(*mut c_void);
// SAFETY: documented to the caller, who passes a pointer valid on every thread.
unsafe impl Send for Userdata {}
// SAFETY: as above.
unsafe impl Sync for Userdata {}

/// Sends the engine's log lines to `callback` with `userdata`, for the rest
/// of the process; `userdata` must stay valid and usable from any thread.
/// Set it once, before the first elector_new if ELECTOR_LOG is set (which
/// otherwise logs to standard error): ELECTOR_ERR_INVALID_ARGUMENT when a
/// callback or that logging is already in place.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_set_log_callback(
    callback: elector_log_callback,
    userdata: *mut c_void,
) -> elector_result {
    ffi_boundary(|| {
        let Some(callback) = callback else {
            return fail(
                elector_result::ELECTOR_ERR_NULL_PARAMETER,
                "callback is NULL",
            );
        };
        let userdata = Userdata(userdata);
        let installed = install_lines(move |line| {
            let userdata = &userdata;
            deliver(line, |params| {
                // SAFETY: the caller's callback, with its userdata and a
                // params struct valid for the call.
                unsafe { callback(userdata.0, params) }
            });
        });
        match installed {
            true => elector_result::ELECTOR_OK,
            false => fail(
                elector_result::ELECTOR_ERR_INVALID_ARGUMENT,
                "logs already go elsewhere: a log callback was set, or ELECTOR_LOG's \
                 standard-error logging started with the first elector_new",
            ),
        }
    })
}

/// Builds the C view of `line` for the length of `call`.
fn deliver(line: &LogLine, call: impl FnOnce(&elector_log_params)) {
    // Interior NULs cannot come from the engine's names (core refuses
    // control characters); a message with one is cut there rather than lost.
    let text = |s: &str| {
        CString::new(s).unwrap_or_else(|e| {
            let end = e.nul_position();
            CString::new(&s[..end]).unwrap_or_default()
        })
    };
    let target = text(line.target);
    let message = text(line.message);
    let lease = line.lease.map(text);
    let identity = line.identity.map(text);
    let fields = text(&serde_json::Value::Object(line.fields.clone()).to_string());
    let level = match line.level {
        Level::ERROR => elector_log_level::ELECTOR_LOG_ERROR,
        Level::WARN => elector_log_level::ELECTOR_LOG_WARN,
        Level::INFO => elector_log_level::ELECTOR_LOG_INFO,
        Level::DEBUG => elector_log_level::ELECTOR_LOG_DEBUG,
        Level::TRACE => elector_log_level::ELECTOR_LOG_TRACE,
    };
    call(&elector_log_params {
        level,
        target: target.as_ptr(),
        message: message.as_ptr(),
        lease: lease.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
        identity: identity.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
        fields_json: fields.as_ptr(),
    });
}

/// Without a log callback: standard error when ELECTOR_LOG is set (a
/// tracing filter such as "info" or "elector_core=debug").
pub(crate) fn init_stderr_logging() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Ok(filter) = std::env::var("ELECTOR_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .try_init();
        }
    });
}
