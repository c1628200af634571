//! The elector handle: create, register the callback, start, stop, free, and
//! read what it knows.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use crate::boundary::{arg, arg_mut, copy_out, ffi_boundary, ffi_boundary_or, try_ffi};
use crate::config::elector_config;
use crate::event::elector_event;
use crate::result::{elector_error, elector_result, fail};

/// A leader elector for one lease. All functions taking a `const elector *`
/// or `elector *` are thread-safe, except elector_free, which must not run
/// concurrently with any other call on the same elector.
#[derive(Debug)]
pub struct elector {
    inner: elector_core::Elector,
}

/// Receives every event of one elector, in order, one at a time, on a
/// dedicated thread of the library (never the thread that called
/// elector_start, never concurrently). `event` and its strings are valid only
/// on that thread until the callback returns: copy what you keep. Return
/// promptly: later events wait. The return from a LOST callback is the
/// acknowledgement that leader work has stopped: only then does the elector
/// release the lease (on stop) or campaign again, so stop leader work before
/// returning, or take the acknowledgement with elector_event_defer_ack. The callback must return normally (no C++
/// exception or longjmp out of it). Ignore event kinds you do not know: new
/// ones may be added. The callback may call any function on its own elector,
/// elector_stop and elector_free included (see there), but must not wait for
/// another elector's callback (A's callback stopping B while B's stops A
/// deadlocks).
pub type elector_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const elector_event)>;

/// Releases the callback's userdata. Called exactly once: on the callback
/// thread after the last event (ELECTOR_EVENT_STOPPED), before the
/// elector_stop or elector_free that ends the elector returns (when that call
/// is made from the callback itself: after the callback returns); or, when
/// elector_set_callback fails, before it returns.
pub type elector_userdata_free = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// The callback and its userdata, owned by the dispatcher thread (or dropped
/// at once when registration fails): either way freed exactly once.
struct Subscriber {
    callback: unsafe extern "C" fn(*mut c_void, *const elector_event),
    userdata: Userdata,
}

impl Subscriber {
    fn deliver(&self, event: &elector_event) {
        // SAFETY: the caller's callback with its own userdata, on the one
        // dispatcher thread; the event outlives the call.
        unsafe { (self.callback)(self.userdata.ptr, event) };
    }
}

/// The caller's userdata, freed with its userdata_free when dropped: by the
/// dispatcher after the last event, or at once when registration fails.
struct Userdata {
    ptr: *mut c_void,
    free: elector_userdata_free,
}

// SAFETY: the userdata pointer is only ever used on the dispatcher thread,
// one call at a time, as the header documents to the C caller.
unsafe impl Send for Userdata {}

impl Drop for Userdata {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller's function for its own userdata, called once.
            unsafe { free(self.ptr) };
        }
    }
}

/// Creates a stopped elector from `config`, checking every option. On an
/// invalid option, returns its ELECTOR_ERR_INVALID_* code, and
/// elector_error_message names the field and the rule. The config is only
/// read: free it when you like. Free the elector with elector_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_new(
    config: *const elector_config,
    out_elector: *mut *mut elector,
) -> elector_result {
    ffi_boundary(|| {
        crate::log::init_stderr_logging();
        // SAFETY: NULL or from elector_config_new; `out_elector` NULL or writable.
        let config = try_ffi!(unsafe { arg(config, "config") });
        let out = try_ffi!(unsafe { arg_mut(out_elector, "out_elector") });
        let config = try_ffi!(config.build());
        *out = Box::into_raw(Box::new(elector {
            inner: elector_core::Elector::new(config),
        }));
        elector_result::ELECTOR_OK
    })
}

/// Registers the one event callback, before elector_start. `userdata` is
/// passed to every call; `userdata_free` (may be NULL) is called exactly once
/// when no event can follow. Ownership of `userdata` passes to the library
/// whatever the result: when registration fails (a NULL elector or callback,
/// or ELECTOR_ERR_CALLBACK_ALREADY_SET after a callback was set or the
/// elector started), `userdata_free` is called before this returns and the
/// callback never is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_set_callback(
    elector: *const elector,
    callback: elector_event_callback,
    userdata: *mut c_void,
    userdata_free: elector_userdata_free,
) -> elector_result {
    // Outside the boundary's closure so that it is freed on every path,
    // a panic included.
    let userdata = Userdata {
        ptr: userdata,
        free: userdata_free,
    };
    ffi_boundary(move || {
        // SAFETY: NULL or a live elector, as documented.
        let elector = try_ffi!(unsafe { arg(elector, "elector") });
        let Some(callback) = callback else {
            return fail(
                elector_result::ELECTOR_ERR_NULL_PARAMETER,
                "callback must not be NULL",
            );
        };
        let subscriber = Subscriber { callback, userdata };
        // On failure the closure, and with it the subscriber, is dropped
        // inside on_event: userdata_free runs before we return.
        match elector
            .inner
            .on_event(move |event| subscriber.deliver(&elector_event::from_core(event)))
        {
            Ok(()) => elector_result::ELECTOR_OK,
            Err(err) => elector_error(&err),
        }
    })
}

/// Connects and starts campaigning; returns once the engine runs (the outcome
/// arrives as events). ELECTOR_ERR_CONNECT when the connection settings
/// cannot be used (the message says why), ELECTOR_ERR_ALREADY_STARTED,
/// ELECTOR_ERR_STOPPED. Blocks the calling thread briefly (reading the
/// kubeconfig); do not call from the callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_start(elector: *const elector) -> elector_result {
    ffi_boundary(|| {
        // SAFETY: NULL or a live elector, as documented.
        let elector = try_ffi!(unsafe { arg(elector, "elector") });
        match elector.inner.start_blocking() {
            Ok(()) => elector_result::ELECTOR_OK,
            Err(err) => elector_error(&err),
        }
    })
}

/// Stops: a leader delivers ELECTOR_EVENT_LOST, keeps renewing the lease
/// until that LOST is acknowledged (its callback returned, or the deferred
/// acknowledgement was given; at most the stop timeout), then releases it
/// (unless release on stop is off); then ELECTOR_EVENT_STOPPED is delivered.
/// Returns when no callback will run any more and userdata_free has been
/// called. Idempotent. From inside the callback it only begins the stop and
/// returns at once: the last events (LOST, STOPPED) are delivered after the
/// current callback returns, and the release follows LOST's return.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_stop(elector: *const elector) -> elector_result {
    ffi_boundary(|| {
        // SAFETY: NULL or a live elector, as documented.
        let elector = try_ffi!(unsafe { arg(elector, "elector") });
        elector.inner.stop_blocking();
        elector_result::ELECTOR_OK
    })
}

/// Stops the elector (as elector_stop) and frees it. NULL is a no-op. No
/// other call on this elector may be running or follow, on any thread. From
/// inside the callback: allowed under that rule; the remaining events are
/// still delivered after the callback returns, and must not use the freed
/// elector.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_free(elector: *mut elector) {
    if elector.is_null() {
        return;
    }
    // SAFETY: from elector_new, not freed before, and not in use by another
    // call, as documented.
    let elector = unsafe { Box::from_raw(elector) };
    ffi_boundary_or((), move || {
        elector.inner.stop_blocking();
        drop(elector);
    });
}

/// Whether this process leads now: it holds the lease and its renew deadline
/// has not passed (false for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_is_leader(elector: *const elector) -> bool {
    // SAFETY: NULL or a live elector, as documented.
    ffi_boundary_or(false, || {
        unsafe { elector.as_ref() }.is_some_and(|e| e.inner.is_leader())
    })
}

/// Copies the identity of the observed leader into `buf` (NUL-terminated) and
/// its length into `*out_n`. ELECTOR_ERR_NOT_FOUND when the lease is free,
/// absent or not read yet; ELECTOR_ERR_BUFFER_TOO_SMALL when it does not fit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_get_leader(
    elector: *const elector,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> elector_result {
    ffi_boundary(|| {
        // SAFETY: NULL or a live elector, as documented.
        let elector = try_ffi!(unsafe { arg(elector, "elector") });
        match elector.inner.leader() {
            // SAFETY: `buf` writable for `len` bytes and `out_n` writable.
            Some(leader) => unsafe { copy_out(&leader, buf, len, out_n) },
            None => fail(elector_result::ELECTOR_ERR_NOT_FOUND, "no leader observed"),
        }
    })
}

/// The lease's leaseTransitions as last observed; while this elector leads,
/// its term (a fencing token that grows with every takeover).
/// ELECTOR_ERR_NOT_FOUND before the lease was first read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_get_term(
    elector: *const elector,
    out_term: *mut i32,
) -> elector_result {
    ffi_boundary(|| {
        // SAFETY: NULL or a live elector; `out_term` NULL or writable.
        let elector = try_ffi!(unsafe { arg(elector, "elector") });
        let out = try_ffi!(unsafe { arg_mut(out_term, "out_term") });
        match elector.inner.term() {
            Some(term) => {
                *out = term;
                elector_result::ELECTOR_OK
            }
            None => fail(
                elector_result::ELECTOR_ERR_NOT_FOUND,
                "the lease was not read yet",
            ),
        }
    })
}

/// A counter of elector_get_stat.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum elector_stat {
    /// API requests by verb.
    ELECTOR_STAT_GETS = 1,
    ELECTOR_STAT_CREATES = 2,
    ELECTOR_STAT_UPDATES = 3,
    ELECTOR_STAT_WATCHES = 4,
    /// Writes refused with 409 because another writer was first.
    ELECTOR_STAT_CONFLICTS = 5,
    ELECTOR_STAT_ACQUISITIONS = 6,
    ELECTOR_STAT_LOSSES = 7,
    ELECTOR_STAT_RENEWALS = 8,
    ELECTOR_STAT_FAILED_RENEWALS = 9,
    ELECTOR_STAT_WATCH_RESTARTS = 10,
    /// Events queued for the callback and not yet delivered (a gauge).
    ELECTOR_STAT_QUEUED_EVENTS = 11,
}

/// Reads one counter (an elector_stat) since the elector was created.
/// ELECTOR_ERR_INVALID_ARGUMENT for an unknown counter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_get_stat(
    elector: *const elector,
    stat: u32,
    out_value: *mut u64,
) -> elector_result {
    ffi_boundary(|| {
        // SAFETY: NULL or a live elector; `out_value` NULL or writable.
        let elector = try_ffi!(unsafe { arg(elector, "elector") });
        let out = try_ffi!(unsafe { arg_mut(out_value, "out_value") });
        // elector_stat is the index in core's Stats::FIELDS + 1.
        let values = elector.inner.stats().values();
        match (stat as usize).checked_sub(1).and_then(|i| values.get(i)) {
            Some(value) => {
                *out = *value;
                elector_result::ELECTOR_OK
            }
            None => fail(
                elector_result::ELECTOR_ERR_INVALID_ARGUMENT,
                format!("unknown stat {stat}"),
            ),
        }
    })
}

/// Copies the Prometheus text exposition of every running elector of the process
/// (client-go's `leader_election_master_status` and
/// `leader_election_slowpath_total`, then every stat as `elector_<name>`)
/// into `buf`, NUL-terminated, and its length into `*out_n`.
/// ELECTOR_ERR_BUFFER_TOO_SMALL when it does not fit: `*out_n` then holds
/// the length needed, without the NUL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_metrics(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> elector_result {
    ffi_boundary(|| {
        let text = elector_core::metrics::gather();
        // SAFETY: `buf` writable for `len` bytes and `out_n` writable.
        unsafe { copy_out(&text, buf, len, out_n) }
    })
}

/// client-go's health check: ELECTOR_ERR_UNHEALTHY when this elector believes
/// it leads but has not renewed for longer than the lease duration plus
/// `tolerance_ms` (a stuck process); ELECTOR_OK otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_check(
    elector: *const elector,
    tolerance_ms: u64,
) -> elector_result {
    ffi_boundary(|| {
        // SAFETY: NULL or a live elector, as documented.
        let elector = try_ffi!(unsafe { arg(elector, "elector") });
        match elector.inner.check(Duration::from_millis(tolerance_ms)) {
            Ok(()) => elector_result::ELECTOR_OK,
            Err(err) => fail(elector_result::ELECTOR_ERR_UNHEALTHY, err.to_string()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::elector_stat::*;

    /// C's counters are core's, in core's order: a stat added to core
    /// without its constant here fails.
    #[test]
    fn every_core_stat_has_its_c_constant() {
        let c = [
            (ELECTOR_STAT_GETS, "gets"),
            (ELECTOR_STAT_CREATES, "creates"),
            (ELECTOR_STAT_UPDATES, "updates"),
            (ELECTOR_STAT_WATCHES, "watches"),
            (ELECTOR_STAT_CONFLICTS, "conflicts"),
            (ELECTOR_STAT_ACQUISITIONS, "acquisitions"),
            (ELECTOR_STAT_LOSSES, "losses"),
            (ELECTOR_STAT_RENEWALS, "renewals"),
            (ELECTOR_STAT_FAILED_RENEWALS, "failed_renewals"),
            (ELECTOR_STAT_WATCH_RESTARTS, "watch_restarts"),
            (ELECTOR_STAT_QUEUED_EVENTS, "queued_events"),
        ];
        let core: Vec<&str> = elector_core::Stats::FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(c.map(|(_, name)| name).to_vec(), core);
        for (index, (constant, _)) in c.iter().enumerate() {
            assert_eq!(*constant as usize, index + 1);
        }
    }
}
