//! Counters of what an elector did, for metrics and for measuring the load it
//! puts on the API server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of an elector's counters since it was created.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// API requests by verb.
    pub gets: u64,
    pub creates: u64,
    pub updates: u64,
    pub watches: u64,
    /// Writes refused with 409 because another writer got there first
    /// (client-go's slow path).
    pub conflicts: u64,
    pub acquisitions: u64,
    pub losses: u64,
    pub renewals: u64,
    pub failed_renewals: u64,
    /// Watches that ended or broke and were opened again.
    pub watch_restarts: u64,
    /// Events queued for the host and not yet taken: it grows without bound
    /// if the host took `events()` and stopped reading.
    pub queued_events: u64,
}

/// How a figure of [`Stats`] behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    /// Only grows.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One figure of [`Stats`], described once for every binding: its name (the
/// key in Node's and Ruby's stats, Go's field in snake case; C's
/// `elector_stat` is its index in [`Stats::FIELDS`] + 1) and what it counts,
/// which metrics export as their help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatField {
    pub name: &'static str,
    pub kind: StatKind,
    pub help: &'static str,
}

const fn counter(name: &'static str, help: &'static str) -> StatField {
    StatField {
        name,
        kind: StatKind::Counter,
        help,
    }
}

impl Stats {
    /// Every figure, in the order of [`values`](Self::values).
    pub const FIELDS: [StatField; 11] = [
        counter("gets", "API requests that read the lease."),
        counter("creates", "API requests that created the lease."),
        counter("updates", "API requests that wrote the lease."),
        counter("watches", "Watches of the lease opened."),
        counter(
            "conflicts",
            "Writes refused because another writer was first (client-go's slow path).",
        ),
        counter(
            "acquisitions",
            "Terms begun: the lease acquired or taken over.",
        ),
        counter("losses", "Terms ended: leadership lost or given up."),
        counter("renewals", "Renewals of the lease while leading."),
        counter(
            "failed_renewals",
            "Renewal attempts that failed (a leader steps down at its renew deadline).",
        ),
        counter(
            "watch_restarts",
            "Watches that ended or broke and were opened again.",
        ),
        StatField {
            name: "queued_events",
            kind: StatKind::Gauge,
            help: "Events queued for the host and not yet taken.",
        },
    ];

    /// The figures in the order of [`FIELDS`](Self::FIELDS).
    pub fn values(&self) -> [u64; 11] {
        [
            self.gets,
            self.creates,
            self.updates,
            self.watches,
            self.conflicts,
            self.acquisitions,
            self.losses,
            self.renewals,
            self.failed_renewals,
            self.watch_restarts,
            self.queued_events,
        ]
    }

    /// Each figure with its description.
    pub fn named(&self) -> impl Iterator<Item = (&'static StatField, u64)> {
        Self::FIELDS.iter().zip(self.values())
    }

    /// All API requests made.
    pub fn requests(&self) -> u64 {
        self.gets + self.creates + self.updates + self.watches
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub gets: AtomicU64,
    pub creates: AtomicU64,
    pub updates: AtomicU64,
    pub watches: AtomicU64,
    pub conflicts: AtomicU64,
    pub acquisitions: AtomicU64,
    pub losses: AtomicU64,
    pub renewals: AtomicU64,
    pub failed_renewals: AtomicU64,
    pub watch_restarts: AtomicU64,
    /// Shared with the event queue, which keeps it (see `events::channel`).
    pub queued_events: Arc<AtomicU64>,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            gets: get(&self.gets),
            creates: get(&self.creates),
            updates: get(&self.updates),
            watches: get(&self.watches),
            conflicts: get(&self.conflicts),
            acquisitions: get(&self.acquisitions),
            losses: get(&self.losses),
            renewals: get(&self.renewals),
            failed_renewals: get(&self.failed_renewals),
            watch_restarts: get(&self.watch_restarts),
            queued_events: get(&self.queued_events),
        }
    }
}
