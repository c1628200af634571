//! The decisions of the election, free of I/O and of the clock: every
//! function takes `now`, so unit tests drive them with invented instants.
//!
//! Expiry is judged on this process's monotonic clock, never by comparing the
//! lease's `renewTime` with local wall time: a record is expired when its
//! election record (holder, duration, times, transitions) has not changed for
//! its `leaseDurationSeconds` since this process first saw it, as client-go
//! judges it. Clock skew between nodes therefore cannot make two leaders, and
//! writers of other fields (labels, annotations) cannot keep a dead leader's
//! lease alive.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use tokio::time::Instant;

use crate::clock::Moment;
use crate::record::{OwnWrites, Record};

/// What a candidate knows about the lease.
#[derive(Debug, Clone)]
pub enum Knowledge {
    /// Nothing current: read the lease at `read_at`, unless the watch tells
    /// us its state first. `last` is the lease as last seen, kept so that
    /// reading the same version again does not restart its expiry clock;
    /// `create_not_before`, from an absence seen earlier, so that a re-read
    /// does not cut short the wait for a deleted holder's claim.
    Unknown {
        read_at: Instant,
        last: Option<Box<Observed>>,
        create_not_before: Option<Instant>,
    },
    /// The lease does not exist. Create it no earlier than `not_before`: a
    /// lease deleted while someone held it is honoured until it would have
    /// expired, since that holder may not know yet.
    Absent { not_before: Instant },
    /// The lease as last seen.
    Present(Box<Observed>),
}

/// A lease and when this process saw it change.
#[derive(Debug, Clone)]
pub struct Observed {
    pub lease: Lease,
    pub record: Record,
    /// When this `resourceVersion` was first seen: the start of its expiry.
    pub changed_at: Instant,
    /// When the state was last confirmed by a read (for polling without a watch).
    pub read_at: Instant,
}

impl Observed {
    /// When the holder's claim runs out as judged here: the record's own
    /// duration, or ours for records that carry none.
    pub fn expires_at(&self, default_duration: Duration) -> Instant {
        self.changed_at + self.record.lease_duration.unwrap_or(default_duration)
    }
}

impl Knowledge {
    /// Nothing known yet: read at once.
    pub fn new(now: Instant) -> Knowledge {
        Knowledge::Unknown {
            read_at: now,
            last: None,
            create_not_before: None,
        }
    }

    /// The lease as last seen, current or not.
    pub fn last(&self) -> Option<&Observed> {
        match self {
            Knowledge::Present(observed) => Some(observed),
            Knowledge::Unknown { last, .. } => last.as_deref(),
            Knowledge::Absent { .. } => None,
        }
    }

    /// Folds a freshly seen lease into what we knew. The expiry clock restarts
    /// only when the election record changed: seeing it again (a re-read, a
    /// re-watch, a write to labels or annotations) must not extend the
    /// holder's claim.
    pub fn observe(&mut self, lease: Lease, now: Instant) {
        let record = Record::of(&lease);
        let changed_at = match self.last() {
            Some(old) if old.record == record => old.changed_at,
            _ => now,
        };
        *self = Knowledge::Present(Box::new(Observed {
            record,
            lease,
            changed_at,
            read_at: now,
        }));
    }

    /// What we know may be out of date: read again at `read_at`.
    pub fn outdated(&mut self, read_at: Instant) {
        let (last, create_not_before) = match std::mem::replace(self, Knowledge::new(read_at)) {
            Knowledge::Present(observed) => (Some(observed), None),
            Knowledge::Unknown {
                last,
                create_not_before,
                ..
            } => (last, create_not_before),
            Knowledge::Absent { not_before } => (None, Some(not_before)),
        };
        *self = Knowledge::Unknown {
            read_at,
            last,
            create_not_before,
        };
    }

    /// The lease is gone. Whoever held it last may not know yet: its claim
    /// still runs until it would have expired, even when the record named
    /// this identity (after a lost renew deadline that record may be stale:
    /// someone may have taken the lease since). A wait begun by an earlier
    /// absence is never cut short.
    pub fn absent(&mut self, timing: Timing, now: Instant) {
        let (last_claim, earlier_wait) = match self {
            Knowledge::Present(observed) => (Some(&**observed), None),
            Knowledge::Unknown {
                last,
                create_not_before,
                ..
            } => (last.as_deref(), *create_not_before),
            Knowledge::Absent { not_before } => (None, Some(*not_before)),
        };
        let claim_ends = last_claim
            .filter(|last| last.record.holder.is_some())
            .map(|last| last.expires_at(timing.lease_duration));
        let not_before = [Some(now), claim_ends, earlier_wait]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
        *self = Knowledge::Absent { not_before };
    }

    /// The leader's own renewal found the lease gone: nobody else can hold
    /// it (a lease created anew would have answered 409), so it may be
    /// created at once.
    pub fn deleted_under_the_leader(&mut self, now: Instant) {
        *self = Knowledge::Absent { not_before: now };
    }
}

/// A candidate's next move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read the lease (GET).
    Read,
    /// Create the lease, holding it.
    Create,
    /// Write ourselves as holder over the observed version: it is free,
    /// expired, or already names us.
    TakeOver,
    /// Nothing to do before this instant (or an earlier watch event).
    WaitUntil(Instant),
}

/// Timings a candidate decides with.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub lease_duration: Duration,
    pub retry_period: Duration,
}

/// The candidate's next move, given what it knows and whether a watch is
/// keeping that knowledge current. Without a watch it re-reads every retry
/// period, as client-go does. A lease is taken at once when it is free or
/// this process's own (`own`: after a lost deadline it may still hold it); a
/// lease that names our identity but was written by another process is
/// waited out like any holder's.
pub fn candidate_step(
    knowledge: &Knowledge,
    own: &OwnWrites,
    watching: bool,
    timing: Timing,
    now: Instant,
) -> Step {
    match knowledge {
        Knowledge::Unknown { read_at, .. } if now >= *read_at => Step::Read,
        Knowledge::Unknown { read_at, .. } => Step::WaitUntil(*read_at),
        Knowledge::Absent { not_before } if now >= *not_before => Step::Create,
        Knowledge::Absent { not_before } => Step::WaitUntil(*not_before),
        Knowledge::Present(observed) => {
            let record = &observed.record;
            if record.holder.is_none() || own.hold(record) {
                return Step::TakeOver;
            }
            let expires_at = observed.expires_at(timing.lease_duration);
            if now >= expires_at {
                return Step::TakeOver;
            }
            if watching {
                return Step::WaitUntil(expires_at);
            }
            let poll_at = observed.read_at + timing.retry_period;
            if now >= poll_at {
                Step::Read
            } else {
                Step::WaitUntil(poll_at.min(expires_at))
            }
        }
    }
}

/// A leader's clock: it renews every retry period and must step down when it
/// has not renewed for the renew deadline. Times are when the successful
/// write was *sent*: the server committed it no earlier, so every other
/// candidate's expiry clock started later still, and stepping down at
/// `sent + renew_deadline < sent + lease_duration` is always in time. The
/// deadline counts time this host spent suspended (see [`Moment`]).
#[derive(Debug, Clone, Copy)]
pub struct LeaderClock {
    pub renewed_at: Moment,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderClock {
    pub fn deadline(&self) -> Moment {
        self.renewed_at.after(self.renew_deadline)
    }

    pub fn next_renewal(&self) -> Instant {
        self.renewed_at.monotonic + self.retry_period
    }

    pub fn expired(&self, now: Moment) -> bool {
        self.deadline().reached_by(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ME: &str = "me";

    /// A process that has written nothing yet.
    fn own() -> OwnWrites {
        OwnWrites::new(ME)
    }
    const TIMING: Timing = Timing {
        lease_duration: Duration::from_secs(15),
        retry_period: Duration::from_secs(2),
    };

    fn lease(rv: &str, spec: serde_json::Value) -> Lease {
        serde_json::from_value(json!({
            "metadata": {"name": "l", "resourceVersion": rv},
            "spec": spec,
        }))
        .unwrap()
    }

    /// A lease as its holder writes it: each version a renewal.
    fn held_by(holder: &str, rv: &str) -> Lease {
        lease(
            rv,
            json!({"holderIdentity": holder, "leaseDurationSeconds": 15,
                "renewTime": format!("2026-01-01T00:00:{rv:0>2}.000000Z")}),
        )
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn unknown_reads_when_due() {
        let t0 = Instant::now();
        let k = Knowledge::new(t0 + secs(2));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0),
            Step::WaitUntil(t0 + secs(2))
        );
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(2)),
            Step::Read
        );
    }

    #[test]
    fn a_lease_that_was_never_seen_is_created_at_once() {
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.absent(TIMING, t0);
        assert_eq!(candidate_step(&k, &own(), true, TIMING, t0), Step::Create);
    }

    #[test]
    fn a_deleted_lease_held_by_another_is_honoured_until_it_would_expire() {
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.observe(held_by("other", "1"), t0);
        k.absent(TIMING, t0 + secs(1));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(1)),
            Step::WaitUntil(t0 + secs(15))
        );
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(15)),
            Step::Create
        );

        // A free one is recreated at once.
        let mut k = Knowledge::new(t0);
        k.observe(held_by("", "1"), t0);
        k.absent(TIMING, t0);
        assert_eq!(candidate_step(&k, &own(), true, TIMING, t0), Step::Create);
    }

    #[test]
    fn a_deleted_lease_that_named_us_is_honoured_unless_we_were_leading() {
        // After a lost renew deadline, the record naming us may be stale:
        // another may hold the lease now, unseen, and it was deleted since.
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.observe(held_by(ME, "1"), t0);
        k.outdated(t0 + secs(10));
        k.absent(TIMING, t0 + secs(10));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(10)),
            Step::WaitUntil(t0 + secs(15))
        );
        // The leader's own renewal answered 404: nobody else holds it.
        k.deleted_under_the_leader(t0 + secs(10));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(10)),
            Step::Create
        );
    }

    #[test]
    fn a_re_read_during_the_wait_for_a_deleted_holder_keeps_the_wait() {
        // A 410 on the watch makes the candidate read again; the 404 it gets
        // must not allow a create before the deleted holder's claim ends.
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.observe(held_by("other", "1"), t0);
        k.absent(TIMING, t0 + secs(1));
        k.outdated(t0 + secs(2));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(2)),
            Step::Read
        );
        k.absent(TIMING, t0 + secs(2));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(2)),
            Step::WaitUntil(t0 + secs(15))
        );
    }

    #[test]
    fn an_outdated_view_keeps_the_expiry_clock() {
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.observe(held_by("other", "1"), t0);
        // A failed write makes us re-read; the same version read back later
        // is still judged from when it was first seen.
        k.outdated(t0 + secs(5));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(5)),
            Step::Read
        );
        k.observe(held_by("other", "1"), t0 + secs(6));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(15)),
            Step::TakeOver
        );
    }

    #[test]
    fn a_free_or_own_lease_is_taken_at_once() {
        let t0 = Instant::now();
        for spec in [
            json!({"holderIdentity": ""}),
            json!({"holderIdentity": null}),
            json!({}),
        ] {
            let mut k = Knowledge::new(t0);
            k.observe(lease("1", spec.clone()), t0);
            assert_eq!(
                candidate_step(&k, &own(), true, TIMING, t0),
                Step::TakeOver,
                "{spec}"
            );
        }
        // Our own last write, e.g. after a lost renew deadline.
        let mut writes = own();
        let mut mine = held_by(ME, "1");
        writes.sending(&mut mine);
        let mut k = Knowledge::new(t0);
        k.observe(mine, t0);
        assert_eq!(
            candidate_step(&k, &writes, true, TIMING, t0),
            Step::TakeOver
        );
    }

    #[test]
    fn a_lease_naming_us_that_we_did_not_write_is_waited_out() {
        // Another process runs under our identity, or an earlier incarnation
        // of this one crashed: taking it at once would make two leaders.
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.observe(held_by(ME, "1"), t0);
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0),
            Step::WaitUntil(t0 + secs(15))
        );
        // Still renewed by its writer: still waited out.
        k.observe(held_by(ME, "2"), t0 + secs(10));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(15)),
            Step::WaitUntil(t0 + secs(25))
        );
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(25)),
            Step::TakeOver
        );
    }

    #[test]
    fn another_holder_is_followed_until_expiry_on_the_local_clock() {
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        // renewTime far in the past by the wall clock: irrelevant.
        k.observe(
            lease(
                "1",
                json!({"holderIdentity": "other", "leaseDurationSeconds": 15,
                "renewTime": "2001-01-01T00:00:00.000000Z"}),
            ),
            t0,
        );
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0),
            Step::WaitUntil(t0 + secs(15))
        );
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(14)),
            Step::WaitUntil(t0 + secs(15))
        );
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(15)),
            Step::TakeOver
        );
    }

    #[test]
    fn a_renewal_restarts_the_expiry_clock_but_a_reread_does_not() {
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.observe(held_by("other", "1"), t0);
        // The same version seen again later, e.g. by a re-watch.
        k.observe(held_by("other", "1"), t0 + secs(10));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(15)),
            Step::TakeOver
        );
        // A new version: the holder renewed.
        k.observe(held_by("other", "2"), t0 + secs(12));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(15)),
            Step::WaitUntil(t0 + secs(27))
        );
    }

    #[test]
    fn a_write_to_other_fields_does_not_restart_the_expiry_clock() {
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.observe(held_by("other", "1"), t0);
        // A GitOps reconciler labels the dead leader's lease: a new version,
        // the same election record.
        let mut labelled = held_by("other", "1");
        labelled.metadata.resource_version = Some("2".into());
        labelled.metadata.labels = Some([("team".to_string(), "a".to_string())].into());
        k.observe(labelled, t0 + secs(10));
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0 + secs(15)),
            Step::TakeOver
        );
    }

    #[test]
    fn the_record_s_duration_wins_and_ours_fills_in_when_missing() {
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.observe(
            lease(
                "1",
                json!({"holderIdentity": "other", "leaseDurationSeconds": 40}),
            ),
            t0,
        );
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0),
            Step::WaitUntil(t0 + secs(40))
        );
        k.observe(
            lease(
                "2",
                json!({"holderIdentity": "other", "leaseDurationSeconds": 0}),
            ),
            t0,
        );
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0),
            Step::WaitUntil(t0 + secs(15))
        );
        k.observe(lease("3", json!({"holderIdentity": "other"})), t0);
        assert_eq!(
            candidate_step(&k, &own(), true, TIMING, t0),
            Step::WaitUntil(t0 + secs(15))
        );
    }

    #[test]
    fn without_a_watch_the_candidate_polls_every_retry_period() {
        let t0 = Instant::now();
        let mut k = Knowledge::new(t0);
        k.observe(held_by("other", "1"), t0);
        assert_eq!(
            candidate_step(&k, &own(), false, TIMING, t0),
            Step::WaitUntil(t0 + secs(2))
        );
        assert_eq!(
            candidate_step(&k, &own(), false, TIMING, t0 + secs(2)),
            Step::Read
        );
        // A read that finds the same version confirms it without extending it.
        k.observe(held_by("other", "1"), t0 + secs(2));
        assert_eq!(
            candidate_step(&k, &own(), false, TIMING, t0 + secs(3)),
            Step::WaitUntil(t0 + secs(4))
        );
        assert_eq!(
            candidate_step(&k, &own(), false, TIMING, t0 + secs(15)),
            Step::TakeOver
        );
    }

    #[test]
    fn leader_steps_down_at_the_renew_deadline_counted_from_the_send() {
        let t0 = Moment::now();
        let clock = LeaderClock {
            renewed_at: t0,
            renew_deadline: secs(10),
            retry_period: secs(2),
        };
        assert_eq!(clock.next_renewal(), t0.monotonic + secs(2));
        assert!(!clock.expired(t0.after(Duration::from_millis(9999))));
        assert!(clock.expired(t0.after(secs(10))));
        // Safe against any follower, for every accepted timing: it saw the
        // write no earlier than the send, so its expiry comes later still.
        let mut accepted = 0;
        for lease in 1..=20 {
            for renew in 1..=20 {
                for retry in [1, 2, 5, 10] {
                    let (lease, renew) = (secs(lease), secs(renew));
                    let retry = Duration::from_millis(retry * 100);
                    if crate::config::check_timings(lease, renew, retry).is_err() {
                        continue;
                    }
                    accepted += 1;
                    let clock = LeaderClock {
                        renewed_at: t0,
                        renew_deadline: renew,
                        retry_period: retry,
                    };
                    assert!(
                        clock.deadline().monotonic < t0.monotonic + lease,
                        "{lease:?}/{renew:?}/{retry:?}"
                    );
                }
            }
        }
        assert!(accepted > 100);
        // A host suspended for a minute after the send is past its deadline
        // on waking, though its monotonic clock moved one second.
        let woken = Moment {
            monotonic: t0.monotonic + secs(1),
            boot: t0.boot + secs(61),
        };
        assert!(clock.expired(woken));
    }
}
