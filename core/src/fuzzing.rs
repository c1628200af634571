//! The fuzz target's body (`fuzz/fuzz_targets/decide.rs`): arbitrary leases,
//! as JSON bytes or built from fields, and arbitrary sequences of what a
//! candidate can learn, through record decoding, the candidate's decisions
//! and the records it would write. It checks the rules the engine's safety
//! rests on against a model kept here, independently of `Knowledge`:
//!
//! - a lease another holder claims is never taken or re-created before that
//!   claim (its record's duration, from when the record last changed) ends,
//!   unless the lease was seen free or ours since, or the leader's own
//!   renewal found it deleted. "Ours" is the model's own knowledge (this
//!   candidate wrote it), so a namesake's copy of our record, same identity
//!   and same renewTime, counts as another holder's;
//! - a wait is always in the future (no busy loop);
//! - a takeover's term is above the record's and every term seen before.
//!
//! Built only with the `fuzzing` feature (and in tests, which replay the
//! checked-in corpus).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use tokio::time::Instant;

use crate::config::Config;
use crate::decide::{Knowledge, Step, Timing, candidate_step};
use crate::record::{self, OwnWrites, Record};

const ME: &str = "me";

/// Reads the input a few bytes at a time; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn u8(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn i32(&mut self) -> i32 {
        i32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn take(&mut self, len: usize) -> &[u8] {
        let (taken, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        taken
    }
}

/// A lease from fields: every holder kind, odd durations and terms.
fn lease_from_fields(input: &mut Input<'_>, version: u64) -> Lease {
    let holder = match input.u8() % 5 {
        0 => None,
        1 => Some(String::new()),
        2 => Some(ME.to_string()),
        3 => Some("other".to_string()),
        _ => Some("third".to_string()),
    };
    let duration = match input.u8() % 4 {
        0 => None,
        1 => Some(0),
        2 => Some(-(i32::from(input.u8()))),
        _ => Some(i32::from(input.u8()) + 1),
    };
    let transitions = input.u8().is_multiple_of(2).then(|| input.i32());
    let renew_seconds = input.u16();
    let renew_time = (!renew_seconds.is_multiple_of(7)).then(|| {
        serde_json::Value::String(format!(
            "2026-01-01T{:02}:{:02}:{:02}.{:06}Z",
            renew_seconds / 3600 % 24,
            renew_seconds / 60 % 60,
            renew_seconds % 60,
            input.u16()
        ))
    });
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "lease", "resourceVersion": version.to_string()},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
            "leaseTransitions": transitions, "renewTime": renew_time},
    }))
    .expect("a lease built from valid fields")
}

/// The model: until when a foreign holder's claim stands, as the protocol
/// requires, kept apart from `Knowledge`'s own bookkeeping.
#[derive(Default)]
struct Claims {
    last: Option<Record>,
    foreign_until: Option<Instant>,
}

impl Claims {
    /// `ours`: the record is one this candidate wrote, as the model knows
    /// (not as `OwnWrites` judges it).
    fn observed(&mut self, record: &Record, ours: bool, timing: Timing, now: Instant) {
        if self.last.as_ref() == Some(record) {
            return; // the same record seen again: its claim keeps its start
        }
        self.last = Some(record.clone());
        self.foreign_until = match &record.holder {
            Some(_) if !ours => Some(now + record.lease_duration.unwrap_or(timing.lease_duration)),
            _ => None, // free, or ours
        };
    }
}

/// Runs one input; panics when a rule is broken.
pub fn run(data: &[u8]) {
    let mut input = Input(data);
    let config = Config::builder("default", "lease", ME).build().unwrap();
    let timing = Timing {
        lease_duration: Duration::from_secs(u64::from(input.u8() % 30) + 1),
        retry_period: Duration::from_millis(u64::from(input.u16() % 5000) + 10),
    };
    let start = Instant::now();
    let mut now = start;
    let mut knowledge = Knowledge::new(now);
    let mut own = OwnWrites::new(ME);
    let mut claims = Claims::default();
    let mut highest_term: Option<i32> = None;
    let mut version = 0u64;
    let mut last_written: Option<Lease> = None;
    while let Some(op) = input.byte() {
        now += Duration::from_millis(u64::from(input.u16()));
        version += 1;
        let mut ours = false;
        let seen = match op % 8 {
            0 => {
                let len = usize::from(input.u8());
                serde_json::from_slice::<Lease>(input.take(len)).ok()
            }
            1 | 2 => Some(lease_from_fields(&mut input, version)),
            3 => {
                let read_at = now + Duration::from_millis(u64::from(input.u16()));
                knowledge.outdated(read_at);
                None
            }
            4 => {
                knowledge.absent(timing, now);
                None
            }
            5 => {
                knowledge.deleted_under_the_leader(now);
                claims = Claims::default();
                None
            }
            6 => {
                // A namesake elector's write of the very same record (same
                // identity, same renewTime): never ours.
                last_written.clone().map(|mut namesake| {
                    OwnWrites::new(ME).sending(&mut namesake);
                    namesake
                })
            }
            _ => {
                // What this candidate would write over what it knows, as
                // sent and answered.
                let mut written = match &knowledge {
                    Knowledge::Present(observed) => {
                        let held = own.hold(&observed.record);
                        let taken = record::acquired(&observed.lease, &config, highest_term, held);
                        let term = Record::of(&taken).transitions;
                        if !held && term != i32::MAX {
                            let floor = observed.record.transitions.max(highest_term.unwrap_or(0));
                            assert!(term > floor, "term {term} not above {floor}");
                        }
                        taken
                    }
                    _ => {
                        record::new_lease(&config, highest_term.map_or(0, |t| t.saturating_add(1)))
                    }
                };
                own.sending(&mut written);
                if input.u8().is_multiple_of(2) {
                    own.confirmed(&written);
                }
                ours = true;
                last_written = Some(written.clone());
                Some(written)
            }
        };
        if let Some(lease) = seen {
            let record = Record::of(&lease);
            // Every written form of any lease encodes.
            for written in [record::renewed(&lease, &config), record::released(&lease)] {
                serde_json::to_vec(&written).expect("a written lease encodes");
            }
            highest_term =
                Some(highest_term.map_or(record.transitions, |t| t.max(record.transitions)));
            claims.observed(&record, ours, timing, now);
            knowledge.observe(lease, now);
        }
        let watching = input.u8().is_multiple_of(2);
        match candidate_step(&knowledge, &own, watching, timing, now) {
            Step::WaitUntil(at) => assert!(at > now, "a wait that is not in the future"),
            Step::TakeOver | Step::Create => {
                if let Some(until) = claims.foreign_until {
                    assert!(
                        now >= until,
                        "took a lease {:?} before its holder's claim ended",
                        until - now
                    );
                }
            }
            Step::Read => {}
        }
    }
}

#[cfg(test)]
mod tests {
    /// The checked-in seed corpus, and everything fuzzing added to it,
    /// replayed on every test run.
    #[test]
    fn the_corpus_keeps_every_rule() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/decide");
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).expect("the seed corpus") {
            let path = entry.unwrap().path();
            super::run(&std::fs::read(&path).unwrap());
            inputs += 1;
        }
        assert!(inputs > 0, "no inputs in {}", dir.display());
    }
}
