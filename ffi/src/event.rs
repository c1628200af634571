//! Events as C sees them: an opaque event read through accessors, whose
//! strings are borrowed for the duration of the callback.

use std::ffi::{CString, c_char};
use std::sync::Mutex;

use elector_core::{ErrorKind, Event, LostAck, LostReason};

use crate::boundary::{arg, arg_mut, ffi_boundary, ffi_boundary_or, try_ffi};
use crate::result::{elector_result, fail};

/// What happened. `ELECTOR_EVENT_ACQUIRED` and `ELECTOR_EVENT_LOST` strictly
/// alternate; `ELECTOR_EVENT_STOPPED` is always the last event.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum elector_event_kind {
    /// This process is now the leader; the term is its fencing token.
    ELECTOR_EVENT_ACQUIRED = 1,
    /// The leader renewed its lease.
    ELECTOR_EVENT_RENEWED = 2,
    /// This process must stop leader work now; see the lost reason.
    ELECTOR_EVENT_LOST = 3,
    /// The observed leader changed; the identity is the new one, or NULL.
    ELECTOR_EVENT_LEADER_CHANGED = 4,
    /// An API error the elector is riding out; see the error kind and message.
    ELECTOR_EVENT_ERROR = 5,
    /// No further events will be delivered.
    ELECTOR_EVENT_STOPPED = 6,
}

/// Why leadership was lost (ELECTOR_EVENT_LOST).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum elector_lost_reason {
    /// Not a lost event.
    ELECTOR_LOST_NONE = 0,
    /// elector_stop was called (the lease was released if so configured).
    ELECTOR_LOST_STOPPED = 1,
    /// No renewal succeeded for the renew deadline.
    ELECTOR_LOST_RENEW_DEADLINE_EXCEEDED = 2,
    /// The lease names another holder (the identity), or was freed (NULL).
    ELECTOR_LOST_TAKEN_OVER = 3,
    /// The lease was deleted.
    ELECTOR_LOST_DELETED = 4,
}

/// The class of an API error (ELECTOR_EVENT_ERROR).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum elector_error_kind {
    /// Not an error event.
    ELECTOR_ERROR_NONE = 0,
    /// 401: the credentials were refused.
    ELECTOR_ERROR_UNAUTHORIZED = 1,
    /// 403: RBAC does not allow this on leases.
    ELECTOR_ERROR_FORBIDDEN = 2,
    /// No answer within the request timeout.
    ELECTOR_ERROR_TIMEOUT = 3,
    /// Unreachable, or 429 / 5xx.
    ELECTOR_ERROR_UNAVAILABLE = 4,
    /// Rejected as invalid (another 4xx, such as a missing namespace).
    ELECTOR_ERROR_INVALID = 5,
    /// Another process renewed the lease under this identity: this elector
    /// stepped down and waits for the lease to expire.
    ELECTOR_ERROR_IDENTITY_CONFLICT = 6,
}

/// One event, valid only during the callback it is passed to.
#[derive(Debug)]
pub struct elector_event {
    kind: elector_event_kind,
    identity: Option<CString>,
    term: Option<i32>,
    lost_reason: elector_lost_reason,
    error_kind: elector_error_kind,
    message: Option<CString>,
    lease_json: Option<CString>,
    renew_time_us: i64,
    /// LOST: the acknowledgement, given when the callback returns unless
    /// elector_event_defer_ack took it.
    ack: Mutex<Option<LostAck>>,
}

/// The acknowledgement of one ELECTOR_EVENT_LOST, taken out of the callback
/// with elector_event_defer_ack. Give it with elector_lost_ack_done.
#[derive(Debug)]
pub struct elector_lost_ack {
    _ack: LostAck,
}

/// A C string from Rust text; interior NULs (never valid in Kubernetes names)
/// are dropped rather than failing delivery.
fn c_string(text: impl Into<String>) -> CString {
    let mut bytes = text.into().into_bytes();
    bytes.retain(|b| *b != 0);
    CString::new(bytes).expect("NULs removed")
}

impl elector_event {
    /// The event as C sees it; it owns a LOST's acknowledgement.
    pub(crate) fn from_core(mut event: Event) -> elector_event {
        let ack = Mutex::new(event.take_ack());
        let mut out = elector_event {
            kind: elector_event_kind::ELECTOR_EVENT_STOPPED,
            identity: None,
            term: None,
            lost_reason: elector_lost_reason::ELECTOR_LOST_NONE,
            error_kind: elector_error_kind::ELECTOR_ERROR_NONE,
            message: None,
            lease_json: None,
            renew_time_us: 0,
            ack,
        };
        let lease = match &event {
            Event::Acquired {
                lease,
                identity,
                term,
            } => {
                out.kind = elector_event_kind::ELECTOR_EVENT_ACQUIRED;
                out.identity = Some(c_string(identity.as_str()));
                out.term = Some(*term);
                Some(lease)
            }
            Event::Renewed { lease, renew_time } => {
                out.kind = elector_event_kind::ELECTOR_EVENT_RENEWED;
                out.renew_time_us = renew_time.as_microsecond();
                Some(lease)
            }
            Event::Lost { lease, reason, .. } => {
                out.kind = elector_event_kind::ELECTOR_EVENT_LOST;
                out.message = Some(c_string(reason.to_string()));
                out.lost_reason = match reason {
                    LostReason::Stopped => elector_lost_reason::ELECTOR_LOST_STOPPED,
                    LostReason::RenewDeadlineExceeded => {
                        elector_lost_reason::ELECTOR_LOST_RENEW_DEADLINE_EXCEEDED
                    }
                    LostReason::TakenOver { holder } => {
                        out.identity = holder.as_deref().map(c_string);
                        elector_lost_reason::ELECTOR_LOST_TAKEN_OVER
                    }
                    LostReason::Deleted | _ => elector_lost_reason::ELECTOR_LOST_DELETED,
                };
                Some(lease)
            }
            Event::LeaderChanged { lease, leader } => {
                out.kind = elector_event_kind::ELECTOR_EVENT_LEADER_CHANGED;
                out.identity = leader.as_deref().map(c_string);
                lease.as_ref()
            }
            Event::Error { kind, message } => {
                out.kind = elector_event_kind::ELECTOR_EVENT_ERROR;
                out.message = Some(c_string(message.as_str()));
                out.error_kind = match kind {
                    ErrorKind::Unauthorized => elector_error_kind::ELECTOR_ERROR_UNAUTHORIZED,
                    ErrorKind::Forbidden => elector_error_kind::ELECTOR_ERROR_FORBIDDEN,
                    ErrorKind::Timeout => elector_error_kind::ELECTOR_ERROR_TIMEOUT,
                    ErrorKind::Unavailable => elector_error_kind::ELECTOR_ERROR_UNAVAILABLE,
                    ErrorKind::IdentityConflict => {
                        elector_error_kind::ELECTOR_ERROR_IDENTITY_CONFLICT
                    }
                    ErrorKind::Invalid | _ => elector_error_kind::ELECTOR_ERROR_INVALID,
                };
                None
            }
            Event::Stopped | _ => None,
        };
        if let Some(lease) = lease {
            out.term = out
                .term
                .or_else(|| lease.spec.as_ref().and_then(|s| s.lease_transitions));
            out.lease_json = serde_json::to_string(lease).ok().map(c_string);
        }
        out
    }
}

fn borrowed(value: &Option<CString>) -> *const c_char {
    value.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The event's kind (0 if `event` is NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_event_get_kind(event: *const elector_event) -> u32 {
    // SAFETY: NULL or the event passed to the running callback.
    ffi_boundary_or(0, || unsafe { event.as_ref() }.map_or(0, |e| e.kind as u32))
}

/// ACQUIRED: this elector's identity. LEADER_CHANGED: the new leader, or NULL
/// when the lease is free or gone. LOST with ELECTOR_LOST_TAKEN_OVER: the new
/// holder, or NULL. Otherwise NULL. Borrowed until the callback returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_event_get_identity(event: *const elector_event) -> *const c_char {
    // SAFETY: NULL or the event passed to the running callback.
    ffi_boundary_or(std::ptr::null(), || {
        unsafe { event.as_ref() }.map_or(std::ptr::null(), |e| borrowed(&e.identity))
    })
}

/// The lease's leaseTransitions carried by the event: for ACQUIRED, this
/// elector's term (a fencing token). ELECTOR_ERR_NOT_FOUND when the event
/// carries no lease.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_event_get_term(
    event: *const elector_event,
    out_term: *mut i32,
) -> elector_result {
    ffi_boundary(|| {
        // SAFETY: NULL or the event passed to the running callback; `out_term`
        // NULL or writable.
        let (event, out) = try_ffi!(unsafe {
            arg(event, "event").and_then(|e| Ok((e, arg_mut(out_term, "out_term")?)))
        });
        match event.term {
            Some(term) => {
                *out = term;
                elector_result::ELECTOR_OK
            }
            None => fail(
                elector_result::ELECTOR_ERR_NOT_FOUND,
                "this event carries no lease",
            ),
        }
    })
}

/// LOST: why (an elector_lost_reason). Otherwise ELECTOR_LOST_NONE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_event_get_lost_reason(event: *const elector_event) -> u32 {
    // SAFETY: NULL or the event passed to the running callback.
    ffi_boundary_or(0, || {
        unsafe { event.as_ref() }.map_or(0, |e| e.lost_reason as u32)
    })
}

/// ERROR: the class (an elector_error_kind). Otherwise ELECTOR_ERROR_NONE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_event_get_error_kind(event: *const elector_event) -> u32 {
    // SAFETY: NULL or the event passed to the running callback.
    ffi_boundary_or(0, || {
        unsafe { event.as_ref() }.map_or(0, |e| e.error_kind as u32)
    })
}

/// ERROR: the API error's message. LOST: the reason in words. Otherwise
/// NULL. Borrowed until the callback returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_event_get_message(event: *const elector_event) -> *const c_char {
    // SAFETY: NULL or the event passed to the running callback.
    ffi_boundary_or(std::ptr::null(), || {
        unsafe { event.as_ref() }.map_or(std::ptr::null(), |e| borrowed(&e.message))
    })
}

/// The lease as Kubernetes JSON (ACQUIRED, RENEWED, LOST, and LEADER_CHANGED
/// when the lease exists), or NULL. Borrowed until the callback returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_event_get_lease_json(
    event: *const elector_event,
) -> *const c_char {
    // SAFETY: NULL or the event passed to the running callback.
    ffi_boundary_or(std::ptr::null(), || {
        unsafe { event.as_ref() }.map_or(std::ptr::null(), |e| borrowed(&e.lease_json))
    })
}

/// RENEWED: the renew time written, in microseconds since the Unix epoch.
/// Otherwise 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_event_get_renew_time_us(event: *const elector_event) -> i64 {
    // SAFETY: NULL or the event passed to the running callback.
    ffi_boundary_or(0, || {
        unsafe { event.as_ref() }.map_or(0, |e| e.renew_time_us)
    })
}

/// LOST: takes the event's acknowledgement out of the callback. A LOST is
/// acknowledged when the callback returns; a host whose leader work stops
/// elsewhere (another thread, a queue) takes it here instead and calls
/// elector_lost_ack_done once that work has stopped. Until then the elector
/// does not release the lease on stop (it renews it, for up to the stop
/// timeout) and does not campaign again, and elector_stop and elector_free
/// wait for it: do not call them on the thread that is to give it. NULL for
/// other events, a NULL event, or when already taken.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_event_defer_ack(
    event: *const elector_event,
) -> *mut elector_lost_ack {
    // SAFETY: NULL or the event passed to the running callback.
    ffi_boundary_or(std::ptr::null_mut(), || {
        let Some(event) = (unsafe { event.as_ref() }) else {
            return std::ptr::null_mut();
        };
        let taken = event.ack.lock().unwrap_or_else(|e| e.into_inner()).take();
        taken.map_or(std::ptr::null_mut(), |ack| {
            Box::into_raw(Box::new(elector_lost_ack { _ack: ack }))
        })
    })
}

/// Acknowledges the loss (leader work has stopped) and frees `ack`, on any
/// thread, once. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_lost_ack_done(ack: *mut elector_lost_ack) {
    if ack.is_null() {
        return;
    }
    // SAFETY: from elector_event_defer_ack, not given before, as documented.
    let ack = unsafe { Box::from_raw(ack) };
    ffi_boundary_or((), move || drop(ack));
}

#[cfg(test)]
mod tests {
    use super::elector_error_kind::*;
    use super::elector_event_kind::*;
    use super::elector_lost_reason::*;
    use elector_core::{ErrorKind, Event, LostReason};

    /// C's constants are core's names, in core's order (value = index + 1):
    /// a kind, reason or error added to core without its constant fails.
    #[test]
    fn every_core_name_has_its_c_constant() {
        let events = [
            (ELECTOR_EVENT_ACQUIRED as u32, "acquired"),
            (ELECTOR_EVENT_RENEWED as u32, "renewed"),
            (ELECTOR_EVENT_LOST as u32, "lost"),
            (ELECTOR_EVENT_LEADER_CHANGED as u32, "leader_changed"),
            (ELECTOR_EVENT_ERROR as u32, "error"),
            (ELECTOR_EVENT_STOPPED as u32, "stopped"),
        ];
        let reasons = [
            (ELECTOR_LOST_STOPPED as u32, "stopped"),
            (
                ELECTOR_LOST_RENEW_DEADLINE_EXCEEDED as u32,
                "renew_deadline_exceeded",
            ),
            (ELECTOR_LOST_TAKEN_OVER as u32, "taken_over"),
            (ELECTOR_LOST_DELETED as u32, "deleted"),
        ];
        let errors = [
            (ELECTOR_ERROR_UNAUTHORIZED as u32, "unauthorized"),
            (ELECTOR_ERROR_FORBIDDEN as u32, "forbidden"),
            (ELECTOR_ERROR_TIMEOUT as u32, "timeout"),
            (ELECTOR_ERROR_UNAVAILABLE as u32, "unavailable"),
            (ELECTOR_ERROR_INVALID as u32, "invalid"),
            (ELECTOR_ERROR_IDENTITY_CONFLICT as u32, "identity_conflict"),
        ];
        for (c, core) in [
            (&events[..], &Event::NAMES[..]),
            (&reasons[..], &LostReason::NAMES[..]),
            (&errors[..], &ErrorKind::NAMES[..]),
        ] {
            let names: Vec<&str> = c.iter().map(|(_, name)| *name).collect();
            assert_eq!(names, core);
            for (index, (value, _)) in c.iter().enumerate() {
                assert_eq!(*value as usize, index + 1, "{}", core[index]);
            }
        }
    }
}
