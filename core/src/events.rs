//! The one ordered stream of events an elector delivers.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// What happened to an elector. `Acquired` and `Lost` strictly alternate,
/// starting with `Acquired`; `Stopped` is always last.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// This process is now the leader. `term` is the lease's
    /// `leaseTransitions`: a fencing token for downstream writes.
    Acquired {
        lease: Lease,
        identity: String,
        term: i32,
    },
    /// The leader renewed its lease.
    Renewed { lease: Lease, renew_time: Timestamp },
    /// This process must stop leader work now. `lease` is the last version
    /// this process knew. Keep `ack` until leader work has stopped: the
    /// lease is released, or campaigned for again, only once it is dropped.
    Lost {
        lease: Lease,
        reason: LostReason,
        ack: LostAck,
    },
    /// The observed leader changed (`None`: the lease is free or gone, or
    /// not known since this process lost its renew deadline).
    LeaderChanged {
        lease: Option<Lease>,
        leader: Option<String>,
    },
    /// An API error the elector is riding out (it keeps trying), or an
    /// identity conflict.
    Error { kind: ErrorKind, message: String },
    /// No further events will be delivered.
    Stopped,
}

impl Event {
    /// Every event's name, as bindings spell events, in the order of C's
    /// `elector_event_kind` (its value is the index + 1).
    pub const NAMES: [&'static str; 6] = [
        "acquired",
        "renewed",
        "lost",
        "leader_changed",
        "error",
        "stopped",
    ];

    /// A stable lower-case name, as bindings spell events.
    pub fn name(&self) -> &'static str {
        Self::NAMES[match self {
            Event::Acquired { .. } => 0,
            Event::Renewed { .. } => 1,
            Event::Lost { .. } => 2,
            Event::LeaderChanged { .. } => 3,
            Event::Error { .. } => 4,
            Event::Stopped => 5,
        }]
    }

    /// Takes the acknowledgement out of a `Lost`, for a host that passes it
    /// on to where leader work stops; the event keeps an inert copy.
    pub fn take_ack(&mut self) -> Option<LostAck> {
        match self {
            Event::Lost { ack, .. } => Some(std::mem::replace(ack, LostAck(None))),
            _ => None,
        }
    }
}

/// The host's acknowledgement of [`Event::Lost`]: drop it (or call
/// [`acknowledge`](Self::acknowledge)) once leader work has stopped.
///
/// Until then the engine holds on. On `stop()` it keeps renewing the lease,
/// for up to the stop timeout, and releases it only after the
/// acknowledgement, so a standby never starts while this process's work
/// still runs; at the timeout it stops renewing and lets the lease expire
/// instead. After any other loss it does not campaign again until
/// acknowledged. A `Lost` nobody receives is acknowledged at once.
///
/// Only the event the engine delivered holds it: a clone of the event
/// carries an inert copy, so a log of events delays nothing.
pub struct LostAck(Option<DropGuard>);

impl LostAck {
    /// Leader work has stopped. The same as dropping it.
    pub fn acknowledge(self) {}
}

impl Clone for LostAck {
    fn clone(&self) -> Self {
        LostAck(None)
    }
}

impl fmt::Debug for LostAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "LostAck(held)"
        } else {
            "LostAck(inert)"
        })
    }
}

/// The engine's side of a [`LostAck`]: done once the host dropped it.
#[derive(Debug)]
pub(crate) struct Acknowledgement(CancellationToken);

impl Acknowledgement {
    pub fn new() -> (Acknowledgement, LostAck) {
        let token = CancellationToken::new();
        (
            Acknowledgement(token.clone()),
            LostAck(Some(token.drop_guard())),
        )
    }

    pub async fn done(&self) {
        self.0.cancelled().await
    }
}

/// Why leadership ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LostReason {
    /// `stop()` was called (the lease was released if so configured).
    Stopped,
    /// No renewal succeeded for the renew deadline (API server unreachable,
    /// too slow, or this process was paused).
    RenewDeadlineExceeded,
    /// The lease names another holder (`None`: it was freed by someone else).
    TakenOver { holder: Option<String> },
    /// The lease was deleted.
    Deleted,
}

impl LostReason {
    /// Every reason's name, in the order of C's `elector_lost_reason` (its
    /// value is the index + 1).
    pub const NAMES: [&'static str; 4] = [
        "stopped",
        "renew_deadline_exceeded",
        "taken_over",
        "deleted",
    ];

    /// A stable lower-case name, as bindings spell reasons.
    pub fn name(&self) -> &'static str {
        Self::NAMES[match self {
            LostReason::Stopped => 0,
            LostReason::RenewDeadlineExceeded => 1,
            LostReason::TakenOver { .. } => 2,
            LostReason::Deleted => 3,
        }]
    }
}

impl fmt::Display for LostReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LostReason::Stopped => f.write_str("stopped"),
            LostReason::RenewDeadlineExceeded => f.write_str("renew deadline exceeded"),
            LostReason::TakenOver { holder: Some(h) } => write!(f, "taken over by {h}"),
            LostReason::TakenOver { holder: None } => f.write_str("freed by another writer"),
            LostReason::Deleted => f.write_str("lease deleted"),
        }
    }
}

/// The class of an API error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 401: the credentials were refused.
    Unauthorized,
    /// 403: RBAC does not allow this on leases.
    Forbidden,
    /// The request did not finish within its timeout.
    Timeout,
    /// The API server could not be reached, or answered 429 or 5xx.
    Unavailable,
    /// The API server rejected the request as invalid (another 4xx).
    Invalid,
    /// Another process renewed this lease under this elector's identity.
    /// This elector stepped down and waits for the lease to expire; the
    /// identities need fixing (each candidate must have its own).
    IdentityConflict,
}

impl ErrorKind {
    /// Every kind's name, in the order of C's `elector_error_kind` (its
    /// value is the index + 1).
    pub const NAMES: [&'static str; 6] = [
        "unauthorized",
        "forbidden",
        "timeout",
        "unavailable",
        "invalid",
        "identity_conflict",
    ];

    /// A stable lower-case name, as bindings spell error kinds.
    pub fn name(self) -> &'static str {
        Self::NAMES[match self {
            ErrorKind::Unauthorized => 0,
            ErrorKind::Forbidden => 1,
            ErrorKind::Timeout => 2,
            ErrorKind::Unavailable => 3,
            ErrorKind::Invalid => 4,
            ErrorKind::IdentityConflict => 5,
        }]
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The queue between the engine and the host: unbounded, so the engine never
/// waits on a host, and counted, so that a host that takes the events and
/// never reads them shows up in [`Stats::queued_events`](crate::Stats).
/// Events travel boxed: the channel allocates its first block of 32 slots at
/// once, which for events themselves (a `Lease` each) was 8.6 KiB per
/// elector, most of an idle standby's cost.
pub(crate) fn channel(queued: Arc<AtomicU64>) -> (EventSender, EventReceiver) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (
        EventSender {
            sender,
            queued: queued.clone(),
        },
        EventReceiver { receiver, queued },
    )
}

#[derive(Debug, Clone)]
pub(crate) struct EventSender {
    sender: mpsc::UnboundedSender<Box<Event>>,
    queued: Arc<AtomicU64>,
}

impl EventSender {
    /// Queues the event; without a receiver (nobody subscribed) it is dropped.
    pub fn send(&self, event: Event) {
        // Counted before it can be taken, so the count never goes below zero.
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.sender.send(Box::new(event)).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[derive(Debug)]
pub(crate) struct EventReceiver {
    receiver: mpsc::UnboundedReceiver<Box<Event>>,
    queued: Arc<AtomicU64>,
}

impl EventReceiver {
    fn taken(&self, event: Option<Box<Event>>) -> Option<Event> {
        let event = *event?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Some(event)
    }

    pub async fn recv(&mut self) -> Option<Event> {
        let event = self.receiver.recv().await;
        self.taken(event)
    }

    pub fn blocking_recv(&mut self) -> Option<Event> {
        let event = self.receiver.blocking_recv();
        self.taken(event)
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.receiver.poll_recv(cx).map(|event| self.taken(event))
    }
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        // Closed first, so no send lands after the count of what is left.
        self.receiver.close();
        let left = self.receiver.len() as u64;
        self.queued.fetch_sub(left, Ordering::Relaxed);
    }
}

/// The events of one elector, for Rust callers: a `Stream`, or `recv` in a
/// loop. Ends after [`Event::Stopped`].
#[derive(Debug)]
pub struct EventStream {
    pub(crate) receiver: EventReceiver,
}

impl EventStream {
    pub async fn recv(&mut self) -> Option<Event> {
        self.receiver.recv().await
    }

    /// Waits for the next event on a thread that is not an async runtime's.
    pub fn blocking_recv(&mut self) -> Option<Event> {
        self.receiver.blocking_recv()
    }
}

impl futures::Stream for EventStream {
    type Item = Event;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.receiver.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Elector};

    #[test]
    fn the_queue_counts_what_the_host_has_not_taken() {
        let queued = Arc::new(AtomicU64::new(0));
        let count = || queued.load(Ordering::Relaxed);
        let (sender, mut receiver) = channel(queued.clone());
        for _ in 0..3 {
            sender.send(Event::Stopped);
        }
        assert_eq!(count(), 3);
        assert!(receiver.blocking_recv().is_some());
        assert_eq!(count(), 2);
        // Dropped unread: what it held is no longer queued, nor what follows.
        drop(receiver);
        assert_eq!(count(), 0);
        sender.send(Event::Stopped);
        assert_eq!(count(), 0);
    }

    #[test]
    fn an_elector_whose_events_are_never_read_shows_them_in_its_stats() {
        let elector = Elector::new(Config::builder("default", "lease", "a").build().unwrap());
        let mut events = elector.events().unwrap();
        elector.stop_blocking(); // never started: the stream gets `Stopped`
        assert_eq!(elector.stats().queued_events, 1);
        assert!(matches!(events.blocking_recv(), Some(Event::Stopped)));
        assert_eq!(elector.stats().queued_events, 0);
    }
}
