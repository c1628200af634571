//! The engine's watch of its lease: where to open it from, when to try
//! again after a failure, and what each of its events means. The engine
//! decides what to do with a lease it sees; this keeps the watch's own state.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::WatchEvent;
use tokio::time::Instant;
use tracing::debug;

use crate::config::jittered;
use crate::store::{ApiError, LeaseEvents};

const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A watch that lived this long was healthy: reopen it at once when it ends.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);
/// A watch silent for this long (no event, no bookmark; the server closes
/// every watch after 290 s) is presumed dead: a half-open connection.
const IDLE_TIMEOUT: Duration = Duration::from_secs(330);

/// The open watch on the lease, if any, and when to try again if not.
pub(crate) struct LeaseWatch {
    events: Option<LeaseEvents>,
    resource_version: Option<String>,
    retry_at: Instant,
    backoff: Duration,
    opened_at: Instant,
    last_event_at: Instant,
}

/// What a watch event tells the engine.
pub(crate) enum Seen {
    /// The lease as it now is.
    Lease(Lease),
    /// The lease was deleted; its final state names the holder whose claim
    /// to honour, even if the write that made it the holder was missed.
    Deleted(Lease),
    /// The watch ended or broke and will be opened again; `stale`: what
    /// the engine knows may be outdated (the version was compacted away).
    Restarted { stale: bool },
    /// Nothing about the lease (a bookmark).
    Nothing,
}

impl LeaseWatch {
    pub fn new(now: Instant) -> LeaseWatch {
        LeaseWatch {
            events: None,
            resource_version: None,
            retry_at: now,
            backoff: BACKOFF_MIN,
            opened_at: now,
            last_event_at: now,
        }
    }

    pub fn is_open(&self) -> bool {
        self.events.is_some()
    }

    /// Closed, and its retry time has come.
    pub fn is_due(&self, now: Instant) -> bool {
        self.events.is_none() && now >= self.retry_at
    }

    /// Where to open it from: the last version it delivered (bookmarks keep
    /// that recent), else the current state. Never the lease's own
    /// resourceVersion: that is its last write, which on a lease nobody
    /// writes is soon compacted away, and every open would fail with 410.
    pub fn from(&self) -> Option<&str> {
        self.resource_version.as_deref()
    }

    pub fn opened(&mut self, events: LeaseEvents) {
        debug!(resource_version = ?self.resource_version, "watching the lease");
        self.events = Some(events);
        self.opened_at = Instant::now();
        self.last_event_at = self.opened_at;
    }

    pub fn failed_to_open(&mut self, err: &ApiError) {
        debug!(error = ?err, retry_in = ?self.backoff, "could not open a watch; polling meanwhile");
        if matches!(err, ApiError::Gone) {
            // That version was compacted away: from the current state next.
            self.resource_version = None;
        }
        self.close(true);
    }

    /// The lease was just read: reopen from it, not from older news.
    pub fn read_anew(&mut self) {
        self.resource_version = None;
    }

    /// `wake`, or earlier when the watch is due to be checked or retried.
    pub fn wake(&self, wake: Instant) -> Instant {
        match self.events {
            Some(_) => wake.min(self.last_event_at + IDLE_TIMEOUT),
            None => wake.min(self.retry_at),
        }
    }

    /// The next event; never, while closed.
    pub async fn next(&mut self) -> Option<Result<WatchEvent<Lease>, ApiError>> {
        use futures::StreamExt;
        match &mut self.events {
            Some(stream) => stream.next().await,
            None => std::future::pending().await,
        }
    }

    /// What `event` (`None`: the watch ended) tells the engine.
    pub fn on_event(
        &mut self,
        event: Option<Result<WatchEvent<Lease>, ApiError>>,
        now: Instant,
    ) -> Seen {
        if let Some(Ok(event)) = &event {
            self.last_event_at = now;
            if !matches!(event, WatchEvent::Error(_)) {
                // It delivers: a healthy watch. Only now forget earlier
                // failures; an error event is no sign of health.
                self.backoff = BACKOFF_MIN;
            }
        }
        match event {
            Some(Ok(WatchEvent::Added(lease) | WatchEvent::Modified(lease))) => {
                self.resource_version = lease.metadata.resource_version.clone();
                Seen::Lease(lease)
            }
            Some(Ok(WatchEvent::Deleted(lease))) => {
                self.resource_version = lease.metadata.resource_version.clone();
                debug!("lease deleted");
                Seen::Deleted(lease)
            }
            Some(Ok(WatchEvent::Bookmark(bookmark))) => {
                self.resource_version = Some(bookmark.metadata.resource_version);
                Seen::Nothing
            }
            Some(Ok(WatchEvent::Error(status))) => {
                // 410 Gone: our version was compacted away. Start over from
                // the current state, and read it in case it was deleted.
                debug!(code = status.code, detail = %status.message, "watch error; re-watching");
                let stale = status.code == 410;
                if stale {
                    self.resource_version = None;
                }
                self.close(true);
                Seen::Restarted { stale }
            }
            Some(Err(err)) => {
                debug!(error = ?err, "watch broke; polling until it is back");
                self.close(true);
                Seen::Restarted { stale: false }
            }
            None => {
                // Usually the server's watch timeout: reopen from where we
                // were at once. A watch that ends soon after opening is
                // failing (a proxy dropping it): back off.
                let healthy = self.opened_at.elapsed() >= HEALTHY_AFTER;
                self.close(!healthy);
                Seen::Restarted { stale: false }
            }
        }
    }

    /// Closes a watch silent for too long; true when it did.
    pub fn close_if_idle(&mut self) -> bool {
        if self.events.is_some() && self.last_event_at.elapsed() >= IDLE_TIMEOUT {
            debug!(idle = ?IDLE_TIMEOUT, "watch silent for too long; reopening");
            self.close(true);
            return true;
        }
        false
    }

    fn close(&mut self, backoff: bool) {
        self.events = None;
        if backoff {
            self.retry_at = Instant::now() + jittered(self.backoff);
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        } else {
            self.retry_at = Instant::now();
        }
    }
}
