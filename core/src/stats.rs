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

impl Stats {
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
