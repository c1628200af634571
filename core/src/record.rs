//! The leader election record inside a Lease: reading it defensively and
//! writing it the way client-go does, so mixed fleets share one lease.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

use crate::config::Config;

/// The leader election record inside a Lease, as client-go compares it:
/// tolerant of what other libraries write (a null or empty holder means
/// free; missing durations or transition counts are not errors). Only a
/// change of the record restarts a holder's expiry clock; writes to other
/// fields (labels, annotations) do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `None` when the lease is free (holder null or "").
    pub holder: Option<String>,
    /// `None` when `leaseDurationSeconds` is missing or not positive.
    pub lease_duration: Option<Duration>,
    /// `leaseTransitions`, 0 when missing: the term of the current holder.
    pub transitions: i32,
    pub acquire_time: Option<Timestamp>,
    pub renew_time: Option<Timestamp>,
    /// Our writer annotation ([`WRITER_ANNOTATION`]), where an elector of
    /// ours wrote the record.
    pub writer: Option<String>,
}

impl Record {
    pub fn of(lease: &Lease) -> Record {
        let spec = lease.spec.as_ref();
        Record {
            holder: spec
                .and_then(|s| s.holder_identity.clone())
                .filter(|h| !h.is_empty()),
            lease_duration: spec
                .and_then(|s| s.lease_duration_seconds)
                .filter(|&s| s > 0)
                .map(|s| Duration::from_secs(s as u64)),
            transitions: spec.and_then(|s| s.lease_transitions).unwrap_or(0),
            acquire_time: spec.and_then(|s| s.acquire_time.as_ref()).map(|t| t.0),
            renew_time: spec.and_then(|s| s.renew_time.as_ref()).map(|t| t.0),
            writer: lease
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(WRITER_ANNOTATION))
                .cloned(),
        }
    }

    pub fn is_held_by(&self, identity: &str) -> bool {
        self.holder.as_deref() == Some(identity)
    }
}

/// How many unanswered writes [`OwnWrites`] remembers: a leader sends one
/// per retry period, so a renew deadline holds a handful.
const UNANSWERED_WRITES_KEPT: usize = 64;

/// The annotation naming the elector that wrote the record, a random value
/// per elector: two processes with one identity can write the same
/// `renewTime` (both bump the same record's by a microsecond when their
/// clocks are behind it), never the same writer.
pub const WRITER_ANNOTATION: &str = "elector.dev/writer";

/// What tells this elector's records from another's under the same
/// identity: its writer annotation, and the `renewTime`s it wrote and that
/// may stand. A record that names our identity without both was written by
/// someone else: a second process misconfigured with our identity, another
/// library under it, or an earlier incarnation of this process.
#[derive(Debug, Clone)]
pub struct OwnWrites {
    identity: String,
    writer: String,
    /// The last write confirmed by an answer, then those sent since, whose
    /// answers were lost: any of them may be what the server holds.
    renew_times: Vec<Timestamp>,
}

impl OwnWrites {
    pub fn new(identity: &str) -> OwnWrites {
        OwnWrites {
            identity: identity.to_owned(),
            writer: format!("{:016x}", rand::random::<u64>()),
            renew_times: Vec::new(),
        }
    }

    /// Whether this elector has sent any write that may stand.
    pub fn wrote_any(&self) -> bool {
        !self.renew_times.is_empty()
    }

    /// `lease` is about to be sent: it is marked as this elector's.
    pub fn sending(&mut self, lease: &mut Lease) {
        lease
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(WRITER_ANNOTATION.to_string(), self.writer.clone());
        if let Some(renew_time) = Record::of(lease).renew_time {
            if self.renew_times.len() >= UNANSWERED_WRITES_KEPT {
                // Keep the confirmed one; the oldest unanswered one goes.
                self.renew_times.remove(1);
            }
            self.renew_times.push(renew_time);
        }
    }

    /// The server answered a write with `lease`: it holds that now.
    pub fn confirmed(&mut self, lease: &Lease) {
        self.renew_times.clear();
        self.renew_times.extend(Record::of(lease).renew_time);
    }

    /// The server refused `lease` (409): it never stood.
    pub fn rejected(&mut self, lease: &Lease) {
        if let Some(renew_time) = Record::of(lease).renew_time {
            self.renew_times.retain(|t| *t != renew_time);
        }
    }

    /// Whether `record` is held by this elector, written by one of its writes.
    pub fn hold(&self, record: &Record) -> bool {
        record.is_held_by(&self.identity)
            && record.writer.as_deref() == Some(self.writer.as_str())
            && record
                .renew_time
                .is_some_and(|t| self.renew_times.contains(&t))
    }

    /// Whether `record` names this identity though this process did not
    /// write it.
    pub fn collide(&self, record: &Record) -> bool {
        record.is_held_by(&self.identity) && !self.hold(record)
    }
}

/// Now, at the microsecond precision the API server stores, so what we write
/// is exactly what we read back.
pub fn micro_now() -> MicroTime {
    let now = Timestamp::now();
    let micros = now.as_microsecond();
    MicroTime(Timestamp::from_microsecond(micros).unwrap_or(now))
}

/// Now, but strictly after `previous`: a renewal must change the record even
/// when the wall clock stood still or stepped back, or the API server keeps
/// the identical object and followers see no renewal.
fn micro_now_after(previous: Option<&MicroTime>) -> MicroTime {
    let now = micro_now();
    match previous {
        Some(previous) if now.0 <= previous.0 => MicroTime(
            previous
                .0
                .checked_add(jiff::SignedDuration::from_micros(1))
                .unwrap_or(previous.0),
        ),
        _ => now,
    }
}

/// The next term: one past the highest seen, on this lease or on any
/// predecessor this elector saw, so the fencing token never goes down (a
/// lease re-created at 0 by another library, or restored from a backup).
/// At `i32::MAX` the term stays there: fencing on it then can no longer tell
/// terms apart, which at one takeover a second takes 68 years.
pub fn next_term(record_transitions: i32, highest_seen: Option<i32>) -> i32 {
    record_transitions
        .max(highest_seen.unwrap_or(0))
        .saturating_add(1)
}

/// A new lease held by this elector. `transitions` continues the count of a
/// deleted predecessor when one was seen, so the term never goes backwards
/// for anyone who saw the old lease.
pub fn new_lease(config: &Config, transitions: i32) -> Lease {
    let now = micro_now();
    Lease {
        metadata: ObjectMeta {
            name: Some(config.lease_name.clone()),
            namespace: Some(config.namespace.clone()),
            labels: (!config.labels.is_empty()).then(|| config.labels.clone()),
            owner_references: config.owner_reference.clone().map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(config.identity.clone()),
            lease_duration_seconds: Some(lease_duration_seconds(config)),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }),
    }
}

/// `current` taken by this elector. Taking over from another holder (or a
/// free lease) counts a transition past the highest term seen and sets
/// `acquireTime`; reclaiming a lease this process still holds (`ours`: its
/// own last write, after a lost deadline) keeps both. A lease that names
/// this identity but was written by another process is taken over like any
/// other, so the term tells the two apart. Other spec fields
/// (preferredHolder, strategy) and metadata are kept.
pub fn acquired(current: &Lease, config: &Config, highest_term: Option<i32>, ours: bool) -> Lease {
    let mut lease = current.clone();
    let record = Record::of(current);
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let now = micro_now_after(spec.renew_time.as_ref());
    if !ours {
        spec.lease_transitions = Some(next_term(record.transitions, highest_term));
        spec.acquire_time = Some(now.clone());
        if let Some(owner) = &config.owner_reference {
            lease.metadata.owner_references = Some(vec![owner.clone()]);
        }
        if !config.labels.is_empty() {
            merge_labels(&mut lease.metadata, &config.labels);
        }
    } else {
        spec.lease_transitions = Some(record.transitions);
        spec.acquire_time.get_or_insert_with(|| now.clone());
    }
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = Some(config.identity.clone());
    spec.lease_duration_seconds = Some(lease_duration_seconds(config));
    spec.renew_time = Some(now);
    lease
}

/// `current`, held by this elector, renewed now.
pub fn renewed(current: &Lease, config: &Config) -> Lease {
    let mut lease = current.clone();
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = Some(config.identity.clone());
    spec.lease_duration_seconds = Some(lease_duration_seconds(config));
    spec.renew_time = Some(micro_now_after(spec.renew_time.as_ref()));
    lease
}

/// `current` handed back: free, expiring in one second, transitions kept, as
/// client-go's ReleaseOnCancel writes it.
pub fn released(current: &Lease) -> Lease {
    let now = micro_now();
    let mut lease = current.clone();
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = Some(String::new());
    spec.lease_duration_seconds = Some(1);
    spec.acquire_time = Some(now.clone());
    spec.renew_time = Some(now);
    lease
}

fn lease_duration_seconds(config: &Config) -> i32 {
    // Validated to be whole seconds that fit an i32.
    config.lease_duration.as_secs() as i32
}

fn merge_labels(metadata: &mut ObjectMeta, labels: &BTreeMap<String, String>) {
    let existing = metadata.labels.get_or_insert_with(BTreeMap::new);
    existing.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config::builder("default", "l", "me")
            .label("app", "x")
            .build()
            .unwrap()
    }

    fn lease(spec: serde_json::Value) -> Lease {
        serde_json::from_value(json!({
            "metadata": {"name": "l", "namespace": "default", "resourceVersion": "7"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn reads_what_other_libraries_write() {
        let free = Record {
            holder: None,
            lease_duration: None,
            transitions: 0,
            acquire_time: None,
            renew_time: None,
            writer: None,
        };
        assert_eq!(Record::of(&lease(json!({}))), free);
        assert_eq!(Record::of(&lease(json!(null))), free);
        assert_eq!(
            Record::of(&lease(json!({"holderIdentity": null, "renewTime": null}))),
            free
        );
        assert_eq!(Record::of(&lease(json!({"holderIdentity": ""}))), free);
        assert_eq!(
            Record::of(&lease(
                json!({"holderIdentity": "a", "leaseDurationSeconds": 0})
            )),
            Record {
                holder: Some("a".into()),
                lease_duration: None,
                transitions: 0,
                acquire_time: None,
                renew_time: None,
                writer: None,
            }
        );
        assert_eq!(
            Record::of(&lease(
                json!({"holderIdentity": "a", "leaseDurationSeconds": 20, "leaseTransitions": 4})
            )),
            Record {
                holder: Some("a".into()),
                lease_duration: Some(Duration::from_secs(20)),
                transitions: 4,
                acquire_time: None,
                renew_time: None,
                writer: None,
            }
        );
    }

    #[test]
    fn takeover_counts_a_transition_and_reclaim_does_not() {
        let c = config();
        let theirs = lease(json!({"holderIdentity": "other", "leaseTransitions": 3,
            "acquireTime": "2020-01-01T00:00:00.000000Z", "preferredHolder": "p"}));
        let taken = acquired(&theirs, &c, None, false);
        let spec = taken.spec.as_ref().unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_transitions, Some(4));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_ne!(
            spec.acquire_time,
            theirs.spec.as_ref().unwrap().acquire_time
        );
        assert_eq!(spec.preferred_holder.as_deref(), Some("p"));
        assert_eq!(taken.metadata.labels.as_ref().unwrap()["app"], "x");
        assert_eq!(taken.metadata.resource_version.as_deref(), Some("7"));

        let mine = lease(json!({"holderIdentity": "me", "leaseTransitions": 3,
            "acquireTime": "2020-01-01T00:00:00.000000Z"}));
        let reclaimed = acquired(&mine, &c, None, true);
        let spec = reclaimed.spec.as_ref().unwrap();
        assert_eq!(spec.lease_transitions, Some(3));
        assert_eq!(spec.acquire_time, mine.spec.as_ref().unwrap().acquire_time);

        // Our identity, written by another process: a new term.
        let namesake = acquired(&mine, &c, None, false);
        let spec = namesake.spec.as_ref().unwrap();
        assert_eq!(spec.lease_transitions, Some(4));
        assert_ne!(spec.acquire_time, mine.spec.as_ref().unwrap().acquire_time);
    }

    #[test]
    fn only_our_own_writes_make_a_record_ours() {
        let c = config();
        let mut own = OwnWrites::new("me");
        let theirs = lease(json!({"holderIdentity": "me",
            "renewTime": "2026-01-01T00:00:00.000000Z"}));
        assert!(own.collide(&Record::of(&theirs)));
        assert!(!own.hold(&Record::of(&theirs)));

        // Sent, answer lost: it may stand, so it is ours.
        let mut first = acquired(&theirs, &c, None, false);
        own.sending(&mut first);
        assert!(own.hold(&Record::of(&first)));
        let mut second = renewed(&first, &c);
        own.sending(&mut second);
        assert!(own.hold(&Record::of(&first)) && own.hold(&Record::of(&second)));
        // Answered: only the answer stands.
        own.confirmed(&second);
        assert!(!own.hold(&Record::of(&first)));
        assert!(own.hold(&Record::of(&second)));
        assert!(own.collide(&Record::of(&theirs)));
        // Refused with a 409: it never stood.
        let mut third = renewed(&second, &c);
        own.sending(&mut third);
        own.rejected(&third);
        assert!(!own.hold(&Record::of(&third)) && own.hold(&Record::of(&second)));
        // The same renewTime from a namesake elector: not ours.
        let namesake = OwnWrites::new("me");
        let mut same_time = second.clone();
        namesake.clone().sending(&mut same_time);
        assert!(own.collide(&Record::of(&same_time)));
        // Another holder is neither ours nor a collision.
        let other = lease(json!({"holderIdentity": "other",
            "renewTime": "2026-01-01T00:00:00.000000Z"}));
        assert!(!own.hold(&Record::of(&other)) && !own.collide(&Record::of(&other)));
    }

    #[test]
    fn the_term_never_goes_below_the_highest_seen() {
        let c = config();
        // Re-created by another library at 0 after this elector saw term 7.
        let recreated = lease(json!({"holderIdentity": "other", "leaseTransitions": 0}));
        let taken = acquired(&recreated, &c, Some(7), false);
        assert_eq!(taken.spec.unwrap().lease_transitions, Some(8));
        // A record ahead of what we saw wins.
        let ahead = lease(json!({"holderIdentity": "other", "leaseTransitions": 9}));
        assert_eq!(
            acquired(&ahead, &c, Some(7), false)
                .spec
                .unwrap()
                .lease_transitions,
            Some(10)
        );
        assert_eq!(next_term(i32::MAX, Some(3)), i32::MAX);
    }

    #[test]
    fn a_renewal_always_changes_renew_time() {
        // The wall clock stepped back (or stood still): the renewal still
        // writes a later renewTime than the lease holds, so the write is a
        // real change that followers see.
        let c = config();
        let future = "2999-01-01T00:00:00.000000Z";
        let mine = lease(json!({"holderIdentity": "me", "renewTime": future,
            "acquireTime": future}));
        for written in [renewed(&mine, &c), acquired(&mine, &c, None, true)] {
            let renew = written.spec.unwrap().renew_time.unwrap().0;
            assert_eq!(renew.to_string(), "2999-01-01T00:00:00.000001Z");
        }
    }

    #[test]
    fn release_frees_the_lease_and_keeps_the_term() {
        let mine = lease(
            json!({"holderIdentity": "me", "leaseTransitions": 3, "leaseDurationSeconds": 15}),
        );
        let spec = released(&mine).spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some(""));
        assert_eq!(spec.lease_duration_seconds, Some(1));
        assert_eq!(spec.lease_transitions, Some(3));
    }

    #[test]
    fn micro_time_has_six_fractional_digits() {
        let lease = new_lease(&config(), 0);
        let json = serde_json::to_value(&lease).unwrap();
        let renew = json["spec"]["renewTime"].as_str().unwrap();
        let fraction = renew.split('.').nth(1).unwrap();
        assert_eq!(fraction.len(), 7, "{renew}"); // six digits and the Z
        assert!(renew.ends_with('Z'));
    }
}
