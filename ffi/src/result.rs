//! Result codes, and the message of the last failure on each thread.

use std::cell::RefCell;

/// The outcome of a fallible call. Stable: values are never renumbered or
/// reused; new codes are only added.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum elector_result {
    ELECTOR_OK = 0,
    /// A required pointer argument was NULL.
    ELECTOR_ERR_NULL_PARAMETER = 1,
    /// A string argument was not valid UTF-8.
    ELECTOR_ERR_INVALID_UTF8 = 2,
    /// A Rust panic was caught at the boundary (a bug in libelector).
    ELECTOR_ERR_PANIC = 3,
    /// An engine error this version of the ABI has no code for yet.
    ELECTOR_ERR_INTERNAL = 4,
    /// The namespace is not a DNS label.
    ELECTOR_ERR_INVALID_NAMESPACE = 100,
    /// The lease name is not a DNS subdomain.
    ELECTOR_ERR_INVALID_LEASE_NAME = 101,
    /// The identity is empty.
    ELECTOR_ERR_INVALID_IDENTITY = 102,
    /// The timings break lease_duration > renew_deadline > 1.2 x retry_period, retry_period ≥ 10 ms,
    /// the lease duration is not whole seconds, or release_timeout or stop_timeout is zero.
    ELECTOR_ERR_INVALID_TIMING = 103,
    /// A label key or value is not valid Kubernetes label syntax.
    ELECTOR_ERR_INVALID_LABEL = 104,
    /// An owner reference field is empty.
    ELECTOR_ERR_INVALID_OWNER_REFERENCE = 105,
    /// The connection settings are invalid (URL, token, paths).
    ELECTOR_ERR_INVALID_CONNECTION = 106,
    /// The API connection could not be set up (no kubeconfig, unknown
    /// context, unreadable CA file, ...).
    ELECTOR_ERR_CONNECT = 200,
    /// elector_start on an elector that is already started.
    ELECTOR_ERR_ALREADY_STARTED = 201,
    /// elector_start on an elector that was stopped: create a new one.
    ELECTOR_ERR_STOPPED = 202,
    /// elector_set_callback after a callback was set or the elector started.
    ELECTOR_ERR_CALLBACK_ALREADY_SET = 203,
    /// The caller's buffer cannot hold the string and its NUL.
    ELECTOR_ERR_BUFFER_TOO_SMALL = 300,
    /// There is no value to report (no leader observed, no term yet).
    ELECTOR_ERR_NOT_FOUND = 301,
    /// elector_check: the leader has not renewed for longer than the lease
    /// duration plus the tolerance.
    ELECTOR_ERR_UNHEALTHY = 302,
    /// An argument is out of its range (an unknown enum value, a zero size).
    ELECTOR_ERR_INVALID_ARGUMENT = 303,
}

use elector_result::*;

impl elector_result {
    fn description(self) -> &'static str {
        match self {
            ELECTOR_OK => "success",
            ELECTOR_ERR_NULL_PARAMETER => "a required pointer argument was NULL",
            ELECTOR_ERR_INVALID_UTF8 => "a string argument was not valid UTF-8",
            ELECTOR_ERR_PANIC => "internal error: a panic was caught in libelector",
            ELECTOR_ERR_INTERNAL => "internal error",
            ELECTOR_ERR_INVALID_NAMESPACE => "invalid namespace: must be a DNS label",
            ELECTOR_ERR_INVALID_LEASE_NAME => "invalid lease_name: must be a DNS subdomain",
            ELECTOR_ERR_INVALID_IDENTITY => "invalid identity: must not be empty",
            ELECTOR_ERR_INVALID_TIMING => {
                "invalid timing: lease_duration > renew_deadline > 1.2 x retry_period, retry_period ≥ 10 ms must hold"
            }
            ELECTOR_ERR_INVALID_LABEL => "invalid label",
            ELECTOR_ERR_INVALID_OWNER_REFERENCE => "invalid owner reference",
            ELECTOR_ERR_INVALID_CONNECTION => "invalid connection settings",
            ELECTOR_ERR_CONNECT => "cannot set up the API connection",
            ELECTOR_ERR_ALREADY_STARTED => "the elector is already started",
            ELECTOR_ERR_STOPPED => "the elector is stopped; create a new one to run again",
            ELECTOR_ERR_CALLBACK_ALREADY_SET => {
                "a callback is already set, or the elector has started"
            }
            ELECTOR_ERR_BUFFER_TOO_SMALL => "the buffer is too small",
            ELECTOR_ERR_NOT_FOUND => "no value to report",
            ELECTOR_ERR_UNHEALTHY => "the leader has not renewed its lease in time",
            ELECTOR_ERR_INVALID_ARGUMENT => "an argument is out of range",
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<(elector_result, String)>> = const { RefCell::new(None) };
}

/// Records `message` as the details of a failure with `code` on this thread,
/// and returns `code`.
pub(crate) fn fail(code: elector_result, message: impl Into<String>) -> elector_result {
    // try_with: during thread teardown the details are dropped, not a panic.
    let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = Some((code, message.into())));
    code
}

/// The details of the last failure on this thread, if it had code `result`.
pub(crate) fn last_details(result: u32) -> Option<String> {
    LAST_ERROR
        .try_with(|last| match &*last.borrow() {
            Some((code, details)) if *code as u32 == result => Some(details.clone()),
            _ => None,
        })
        .ok()
        .flatten()
}

/// The fixed description of `result`.
pub(crate) fn describe(result: u32) -> String {
    match from_u32(result) {
        Some(code) => code.description().to_string(),
        None => format!("unknown result code {result}"),
    }
}

fn from_u32(value: u32) -> Option<elector_result> {
    [
        ELECTOR_OK,
        ELECTOR_ERR_NULL_PARAMETER,
        ELECTOR_ERR_INVALID_UTF8,
        ELECTOR_ERR_PANIC,
        ELECTOR_ERR_INTERNAL,
        ELECTOR_ERR_INVALID_NAMESPACE,
        ELECTOR_ERR_INVALID_LEASE_NAME,
        ELECTOR_ERR_INVALID_IDENTITY,
        ELECTOR_ERR_INVALID_TIMING,
        ELECTOR_ERR_INVALID_LABEL,
        ELECTOR_ERR_INVALID_OWNER_REFERENCE,
        ELECTOR_ERR_INVALID_CONNECTION,
        ELECTOR_ERR_CONNECT,
        ELECTOR_ERR_ALREADY_STARTED,
        ELECTOR_ERR_STOPPED,
        ELECTOR_ERR_CALLBACK_ALREADY_SET,
        ELECTOR_ERR_BUFFER_TOO_SMALL,
        ELECTOR_ERR_NOT_FOUND,
        ELECTOR_ERR_UNHEALTHY,
        ELECTOR_ERR_INVALID_ARGUMENT,
    ]
    .into_iter()
    .find(|code| *code as u32 == value)
}

/// The code for a core configuration error, by the field it names.
pub(crate) fn config_error(err: &elector_core::ConfigError) -> elector_result {
    use elector_core::Field;
    let code = match err.field {
        Field::Namespace => ELECTOR_ERR_INVALID_NAMESPACE,
        Field::LeaseName => ELECTOR_ERR_INVALID_LEASE_NAME,
        Field::Identity => ELECTOR_ERR_INVALID_IDENTITY,
        Field::LeaseDuration
        | Field::RenewDeadline
        | Field::RetryPeriod
        | Field::ReleaseTimeout
        | Field::StopTimeout => ELECTOR_ERR_INVALID_TIMING,
        // A flag has no value to refuse: not reached.
        Field::ReleaseOnStop => ELECTOR_ERR_INVALID_ARGUMENT,
        Field::Labels => ELECTOR_ERR_INVALID_LABEL,
        Field::OwnerReferenceApiVersion
        | Field::OwnerReferenceKind
        | Field::OwnerReferenceName
        | Field::OwnerReferenceUid => ELECTOR_ERR_INVALID_OWNER_REFERENCE,
        Field::Kubeconfig
        | Field::Context
        | Field::Url
        | Field::Token
        | Field::TokenFile
        | Field::CaFile
        | Field::InsecureSkipTlsVerify => ELECTOR_ERR_INVALID_CONNECTION,
    };
    fail(code, err.to_string())
}

/// The code for a core elector error.
pub(crate) fn elector_error(err: &elector_core::Error) -> elector_result {
    use elector_core::Error;
    let code = match err {
        Error::Config(config) => return config_error(config),
        Error::Connect(_) => ELECTOR_ERR_CONNECT,
        Error::AlreadyStarted => ELECTOR_ERR_ALREADY_STARTED,
        Error::Stopped => ELECTOR_ERR_STOPPED,
        Error::EventsTaken => ELECTOR_ERR_CALLBACK_ALREADY_SET,
        _ => ELECTOR_ERR_INTERNAL,
    };
    fail(code, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for value in 0..1000 {
            if let Some(code) = from_u32(value) {
                assert_eq!(code as u32, value);
                assert!(!code.description().is_empty());
            }
        }
    }
}
