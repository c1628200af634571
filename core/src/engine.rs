//! The election loop of one elector: campaign (follow the lease through a
//! watch and take it when it is free or expired), lead (renew every retry
//! period, step down at the renew deadline), and release on stop.
//!
//! It runs as one task on the elector runtime and is the only writer of its
//! events, so they are ordered by construction and `Acquired`/`Lost`
//! alternate: every return from [`Engine::lead`] emits exactly one `Lost`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::WatchEvent;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::client::{ApiError, LeaseApi, LeaseEvents};
use crate::config::Config;
use crate::decide::{Knowledge, LeaderClock, Step, Timing, candidate_step};
use crate::events::{ErrorKind, Event, LostReason};
use crate::record::{self, Record};
use crate::stats::{Counters, bump};

/// What the handle reads while the engine runs.
#[derive(Debug, Default)]
pub(crate) struct Status {
    /// Set while leading: the instant leadership must end unless renewed.
    pub leading_until: Option<Instant>,
    /// When the last successful acquire or renew was sent.
    pub renewed_at: Option<Instant>,
    pub leader: Option<String>,
    pub term: Option<i32>,
    pub lease: Option<Lease>,
    /// When the current run of failed requests began (`None`: the last
    /// request succeeded).
    pub failing_since: Option<Instant>,
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub status: Mutex<Status>,
    pub counters: Arc<Counters>,
}

pub(crate) struct Engine {
    config: Arc<Config>,
    api: LeaseApi,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Event>,
    cancel: CancellationToken,
    knowledge: Knowledge,
    /// The highest `leaseTransitions` seen, on this lease or a predecessor:
    /// the next term is above it, so the term never goes down.
    highest_term: Option<i32>,
    /// The last error reported, to log repeats quietly.
    last_error: Option<ErrorKind>,
}

/// The open watch on the lease, if any, and when to try again if not.
struct LeaseWatch {
    events: Option<LeaseEvents>,
    resource_version: Option<String>,
    retry_at: Instant,
    backoff: Duration,
    opened_at: Instant,
    last_event_at: Instant,
}

const WATCH_BACKOFF_MIN: Duration = Duration::from_millis(200);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A watch that lived this long was healthy: reopen it at once when it ends.
const WATCH_HEALTHY_AFTER: Duration = Duration::from_secs(10);
/// A watch silent for this long (no event, no bookmark; the server closes
/// every watch after 290 s) is presumed dead: a half-open connection.
const WATCH_IDLE_TIMEOUT: Duration = Duration::from_secs(330);
/// How many times `stop()` tries to release before leaving the lease to expire.
const RELEASE_ATTEMPTS: u32 = 3;

impl Engine {
    pub fn new(
        config: Arc<Config>,
        api: LeaseApi,
        shared: Arc<Shared>,
        events: mpsc::UnboundedSender<Event>,
        cancel: CancellationToken,
    ) -> Engine {
        Engine {
            config,
            api,
            shared,
            events,
            cancel,
            knowledge: Knowledge::new(Instant::now()),
            highest_term: None,
            last_error: None,
        }
    }

    pub async fn run(mut self) {
        info!("elector started");
        while let Some((lease, sent_at)) = self.campaign().await {
            self.on_acquired(lease.clone(), sent_at);
            self.lead(lease, sent_at).await;
            if self.cancel.is_cancelled() {
                break;
            }
        }
        self.status().leading_until = None;
        info!("elector stopped");
        self.emit(Event::Stopped);
    }

    fn timing(&self) -> Timing {
        Timing {
            lease_duration: self.config.lease_duration,
            retry_period: self.config.retry_period,
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.shared.status.lock().unwrap()
    }

    fn emit(&self, event: Event) {
        // No receiver (nobody subscribed) is fine: events are optional.
        let _ = self.events.send(event);
    }

    /// Follows the lease until this elector holds it; returns the lease and
    /// when the winning write was sent, or `None` when stopped.
    async fn campaign(&mut self) -> Option<(Lease, Instant)> {
        let now = Instant::now();
        let mut watch = LeaseWatch {
            events: None,
            resource_version: None,
            retry_at: now,
            backoff: WATCH_BACKOFF_MIN,
            opened_at: now,
            last_event_at: now,
        };
        loop {
            if self.cancel.is_cancelled() {
                return None;
            }
            let now = Instant::now();
            let wake = match candidate_step(
                &self.knowledge,
                &self.config.identity,
                watch.events.is_some(),
                self.timing(),
                now,
            ) {
                Step::Read => {
                    self.read(&mut watch).await;
                    continue;
                }
                Step::Create | Step::TakeOver => {
                    let Some((lease, sent_at)) = self.try_acquire(watch.events.is_some()).await
                    else {
                        continue;
                    };
                    if self.cancel.is_cancelled() {
                        // Won while stopping: the host never heard of it, so
                        // hand it straight back.
                        self.release(lease).await;
                        return None;
                    }
                    if Instant::now() >= sent_at + self.config.renew_deadline {
                        // The answer came too late to lead on (this process
                        // was paused or starved): others may have judged the
                        // lease expired meanwhile. Read it again; if it still
                        // names us it is reclaimed with a fresh deadline.
                        warn!("acquired the lease too late to lead on it; reading it again");
                        self.knowledge.outdated(Instant::now());
                        continue;
                    }
                    return Some((lease, sent_at));
                }
                Step::WaitUntil(at) => at,
            };
            if watch.events.is_none() && now >= watch.retry_at {
                self.open_watch(&mut watch).await;
                continue;
            }
            let wake = match watch.events {
                Some(_) => wake.min(watch.last_event_at + WATCH_IDLE_TIMEOUT),
                None => wake.min(watch.retry_at),
            };
            tokio::select! {
                _ = self.cancel.cancelled() => return None,
                _ = sleep_until(wake) => {}
                event = next_event(&mut watch.events) => self.on_watch_event(event, &mut watch),
            }
            if watch.events.is_some() && watch.last_event_at.elapsed() >= WATCH_IDLE_TIMEOUT {
                debug!(idle = ?WATCH_IDLE_TIMEOUT, "watch silent for too long; reopening");
                bump(&self.shared.counters.watch_restarts);
                self.close_watch(&mut watch, true);
            }
        }
    }

    async fn read(&mut self, watch: &mut LeaseWatch) {
        let result = self.api.get(None).await;
        // Timed from the answer, not the request: a version that committed
        // while the GET was on its way must not start its expiry early.
        let now = Instant::now();
        match result {
            Ok(Some(lease)) => {
                self.recovered();
                self.observe(lease, now);
                // Reopen a watch from what was just read, not from older news.
                watch.resource_version = None;
            }
            Ok(None) => {
                self.recovered();
                self.forget_lease();
            }
            Err(err) => {
                self.report(err);
                self.knowledge
                    .outdated(now + jittered(self.config.retry_period));
            }
        }
    }

    /// Creates or takes over the lease as decided; `Some` when it is ours.
    async fn try_acquire(&mut self, watching: bool) -> Option<(Lease, Instant)> {
        let sent_at = Instant::now();
        let result = match &self.knowledge {
            Knowledge::Absent { .. } => {
                let transitions = self.highest_term.map_or(0, |t| t.saturating_add(1));
                self.api
                    .create(&record::new_lease(&self.config, transitions), None)
                    .await
            }
            Knowledge::Present(observed) => {
                self.api
                    .replace(
                        &record::acquired(&observed.lease, &self.config, self.highest_term),
                        None,
                    )
                    .await
            }
            Knowledge::Unknown { .. } => return None,
        };
        match result {
            Ok(lease) => {
                self.recovered();
                Some((lease, sent_at))
            }
            Err(ApiError::Conflict) => {
                // Another candidate won. The watch will show us its write;
                // without one, read it now. The API server answered: requests
                // are not failing.
                self.recovered();
                bump(&self.shared.counters.conflicts);
                debug!("another candidate wrote the lease first");
                let wait = if watching {
                    self.config.retry_period
                } else {
                    Duration::ZERO
                };
                self.knowledge.outdated(Instant::now() + wait);
                None
            }
            Err(ApiError::NotFound) if matches!(self.knowledge, Knowledge::Present(_)) => {
                // Deleted since we saw it.
                self.recovered();
                self.forget_lease();
                None
            }
            Err(err) => {
                // A 404 here is from create: the namespace does not exist.
                let err = match err {
                    ApiError::NotFound => ApiError::Failed {
                        kind: ErrorKind::Invalid,
                        message: format!("namespace {:?} not found", self.config.namespace),
                    },
                    other => other,
                };
                self.report(err);
                self.knowledge
                    .outdated(Instant::now() + jittered(self.config.retry_period));
                None
            }
        }
    }

    fn on_acquired(&mut self, lease: Lease, sent_at: Instant) {
        let term = Record::of(&lease).transitions;
        bump(&self.shared.counters.acquisitions);
        info!(term, "acquired leadership");
        {
            let mut status = self.status();
            status.leading_until = Some(sent_at + self.config.renew_deadline);
            status.renewed_at = Some(sent_at);
        }
        // The handle's state (leader, term, lease) is current before the
        // host hears of the acquisition; the leader change follows it.
        let leader_changed = self.note(lease.clone(), sent_at);
        self.emit(Event::Acquired {
            lease,
            identity: self.config.identity.clone(),
            term,
        });
        self.emit_some(leader_changed);
    }

    /// Renews until leadership ends; always ends by emitting `Lost`.
    async fn lead(&mut self, mut lease: Lease, acquired_at: Instant) {
        let mut clock = LeaderClock {
            renewed_at: acquired_at,
            renew_deadline: self.config.renew_deadline,
            retry_period: self.config.retry_period,
        };
        let mut next_attempt = clock.next_renewal();
        loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => {
                    self.lose(&lease, LostReason::Stopped);
                    if self.config.release_on_stop {
                        self.release(lease).await;
                    }
                    return;
                }
                _ = sleep_until(next_attempt.min(clock.deadline())) => {}
            }
            let sent_at = Instant::now();
            if clock.expired(sent_at) {
                warn!(
                    deadline = ?self.config.renew_deadline,
                    "no renewal succeeded within the renew deadline: stepping down"
                );
                self.knowledge.outdated(sent_at);
                self.lose(&lease, LostReason::RenewDeadlineExceeded);
                return;
            }
            let renewal = record::renewed(&lease, &self.config);
            let result = self.api.replace(&renewal, Some(clock.deadline())).await;
            if clock.expired(Instant::now()) {
                // However it went, the answer came after the deadline (this
                // process was paused or starved): step down at the top of the
                // loop; the campaign reclaims the lease if it still names us.
                continue;
            }
            let result = match result {
                Err(ApiError::Conflict) => {
                    // Slow path: someone else wrote the lease. Still ours if
                    // it still names us (our last write's answer was lost, or
                    // another field changed): renew over the new version.
                    bump(&self.shared.counters.conflicts);
                    match self.api.get(Some(clock.deadline())).await {
                        Ok(Some(current))
                            if Record::of(&current).is_held_by(&self.config.identity) =>
                        {
                            debug!("lease changed under us but still names us; renewing again");
                            lease = current;
                            next_attempt = Instant::now();
                            continue;
                        }
                        Ok(Some(current)) => {
                            // The handle names the new holder before the
                            // host hears of the loss; the leader change
                            // follows it.
                            let holder = Record::of(&current).holder;
                            let leader_changed = self.note(current, Instant::now());
                            self.lose(&lease, LostReason::TakenOver { holder });
                            self.emit_some(leader_changed);
                            return;
                        }
                        Ok(None) => Err(ApiError::NotFound),
                        Err(err) => Err(err),
                    }
                }
                other => other,
            };
            match result {
                Ok(renewed) => {
                    self.recovered();
                    clock.renewed_at = sent_at;
                    next_attempt = clock.next_renewal();
                    lease = renewed;
                    self.on_renewed(&lease, &clock);
                }
                Err(ApiError::NotFound) => {
                    let leader_changed = self.forget();
                    self.knowledge.deleted_under_the_leader(Instant::now());
                    self.lose(&lease, LostReason::Deleted);
                    self.emit_some(leader_changed);
                    return;
                }
                Err(err) => {
                    self.renewal_failed(err);
                    next_attempt = Instant::now() + self.config.retry_period;
                }
            }
        }
    }

    fn on_renewed(&mut self, lease: &Lease, clock: &LeaderClock) {
        bump(&self.shared.counters.renewals);
        debug!("renewed");
        {
            let mut status = self.status();
            status.leading_until = Some(clock.deadline());
            status.renewed_at = Some(clock.renewed_at);
            status.lease = Some(lease.clone());
        }
        let renew_time = lease
            .spec
            .as_ref()
            .and_then(|s| s.renew_time.as_ref())
            .map_or_else(jiff::Timestamp::now, |t| t.0);
        self.emit(Event::Renewed {
            lease: lease.clone(),
            renew_time,
        });
        self.observe(lease.clone(), clock.renewed_at);
    }

    fn renewal_failed(&mut self, err: ApiError) {
        bump(&self.shared.counters.failed_renewals);
        self.report(err);
    }

    fn lose(&mut self, lease: &Lease, reason: LostReason) {
        bump(&self.shared.counters.losses);
        self.status().leading_until = None;
        info!(%reason, "lost leadership");
        self.emit(Event::Lost {
            lease: lease.clone(),
            reason,
        });
    }

    /// Hands the lease back (holder "", duration 1 s) so a standby takes over
    /// at once. The write carries the lease's resourceVersion, so it can never
    /// free a lease someone else has taken meanwhile.
    async fn release(&mut self, mut lease: Lease) {
        for _ in 0..RELEASE_ATTEMPTS {
            match self.api.replace(&record::released(&lease), None).await {
                Ok(released) => {
                    info!("released the lease");
                    self.observe(released, Instant::now());
                    return;
                }
                Err(ApiError::Conflict) => match self.api.get(None).await {
                    Ok(Some(current)) if Record::of(&current).is_held_by(&self.config.identity) => {
                        lease = current;
                    }
                    Ok(_) => return, // no longer ours: nothing to release
                    Err(err) => self.report(err),
                },
                Err(ApiError::NotFound) => return,
                Err(err) => self.report(err),
            }
        }
        warn!(
            attempts = RELEASE_ATTEMPTS,
            "could not release the lease; others take over when it expires"
        );
    }

    async fn open_watch(&mut self, watch: &mut LeaseWatch) {
        let from = watch
            .resource_version
            .clone()
            .or_else(|| match &self.knowledge {
                Knowledge::Present(o) => record::resource_version(&o.lease).map(str::to_owned),
                _ => None,
            });
        match self.api.watch(from.as_deref()).await {
            Ok(events) => {
                debug!(resource_version = ?from, "watching the lease");
                watch.events = Some(events);
                watch.opened_at = Instant::now();
                watch.last_event_at = watch.opened_at;
            }
            Err(err) => {
                debug!(error = ?err, retry_in = ?watch.backoff, "could not open a watch; polling meanwhile");
                self.close_watch(watch, true);
            }
        }
    }

    fn close_watch(&self, watch: &mut LeaseWatch, backoff: bool) {
        watch.events = None;
        if backoff {
            watch.retry_at = Instant::now() + jittered(watch.backoff);
            watch.backoff = (watch.backoff * 2).min(WATCH_BACKOFF_MAX);
        } else {
            watch.retry_at = Instant::now();
        }
    }

    fn on_watch_event(
        &mut self,
        event: Option<Result<WatchEvent<Lease>, ApiError>>,
        watch: &mut LeaseWatch,
    ) {
        let now = Instant::now();
        if matches!(event, Some(Ok(_))) {
            // It delivers: a healthy watch. Only now forget earlier failures.
            watch.last_event_at = now;
            watch.backoff = WATCH_BACKOFF_MIN;
        }
        match event {
            Some(Ok(WatchEvent::Added(lease) | WatchEvent::Modified(lease))) => {
                watch.resource_version = lease.metadata.resource_version.clone();
                self.observe(lease, now);
            }
            Some(Ok(WatchEvent::Deleted(lease))) => {
                watch.resource_version = lease.metadata.resource_version.clone();
                debug!("lease deleted");
                // Its final state names the holder whose claim to honour,
                // even if we missed the write that made it the holder.
                self.knowledge.observe(lease, now);
                self.forget_lease();
            }
            Some(Ok(WatchEvent::Bookmark(bookmark))) => {
                watch.resource_version = Some(bookmark.metadata.resource_version);
            }
            Some(Ok(WatchEvent::Error(status))) => {
                // 410 Gone: our version was compacted away. Start over from
                // the current state, and read it in case it was deleted.
                debug!(code = status.code, detail = %status.message, "watch error; re-watching");
                bump(&self.shared.counters.watch_restarts);
                if status.code == 410 {
                    watch.resource_version = None;
                    self.knowledge.outdated(now);
                }
                self.close_watch(watch, status.code != 410);
            }
            Some(Err(err)) => {
                debug!(error = ?err, "watch broke; polling until it is back");
                bump(&self.shared.counters.watch_restarts);
                self.close_watch(watch, true);
            }
            None => {
                // Usually the server's watch timeout: reopen from where we
                // were at once. A watch that ends soon after opening is
                // failing (a proxy dropping it): back off.
                bump(&self.shared.counters.watch_restarts);
                let healthy = watch.opened_at.elapsed() >= WATCH_HEALTHY_AFTER;
                self.close_watch(watch, !healthy);
            }
        }
    }

    /// Folds a seen lease into what this elector knows, and tells the host
    /// when the holder changed.
    fn observe(&mut self, lease: Lease, now: Instant) {
        let leader_changed = self.note(lease, now);
        self.emit_some(leader_changed);
    }

    /// `observe`, returning the leader change to tell instead of telling it.
    fn note(&mut self, lease: Lease, now: Instant) -> Option<Event> {
        let record = Record::of(&lease);
        self.highest_term = Some(
            self.highest_term
                .map_or(record.transitions, |t| t.max(record.transitions)),
        );
        let changed = {
            let mut status = self.status();
            let changed = status.leader != record.holder;
            status.leader = record.holder.clone();
            status.term = Some(record.transitions);
            status.lease = Some(lease.clone());
            changed
        };
        let event = changed.then(|| {
            match &record.holder {
                Some(holder) => info!(leader = %holder, "leader changed"),
                None => info!("lease is free"),
            }
            Event::LeaderChanged {
                lease: Some(lease.clone()),
                leader: record.holder,
            }
        });
        self.knowledge.observe(lease, now);
        event
    }

    fn forget_lease(&mut self) {
        let leader_changed = self.forget();
        self.emit_some(leader_changed);
    }

    /// `forget_lease`, returning the leader change to tell instead of telling it.
    fn forget(&mut self) -> Option<Event> {
        let timing = self.timing();
        self.knowledge.absent(timing, Instant::now());
        let had_leader = {
            let mut status = self.status();
            status.lease = None;
            status.leader.take().is_some()
        };
        had_leader.then(|| {
            info!("lease is gone");
            Event::LeaderChanged {
                lease: None,
                leader: None,
            }
        })
    }

    fn emit_some(&self, event: Option<Event>) {
        if let Some(event) = event {
            self.emit(event);
        }
    }

    /// Emits an `Error` event. Logs a warning when the kind of trouble is new
    /// and quietly when it repeats, so a long outage does not flood the logs.
    fn report(&mut self, err: ApiError) {
        let (kind, message) = match err {
            ApiError::Failed { kind, message } => (kind, message),
            ApiError::Conflict => (ErrorKind::Invalid, "unexpected conflict".to_string()),
            ApiError::NotFound => (ErrorKind::Invalid, "unexpected not found".to_string()),
        };
        if self.last_error == Some(kind) {
            debug!(%kind, detail = %message, "API error persists");
        } else {
            warn!(%kind, detail = %message, "API error; retrying");
        }
        self.last_error = Some(kind);
        self.status().failing_since.get_or_insert_with(Instant::now);
        self.emit(Event::Error { kind, message });
    }

    fn recovered(&mut self) {
        if let Some(kind) = self.last_error.take() {
            info!(after = %kind, "API requests succeed again");
            self.status().failing_since = None;
        }
    }
}

async fn next_event(
    events: &mut Option<LeaseEvents>,
) -> Option<Result<WatchEvent<Lease>, ApiError>> {
    use futures::StreamExt;
    match events {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// `period` stretched by up to 20 %, so candidates that failed together do
/// not retry in lockstep (client-go's jitter factor).
fn jittered(period: Duration) -> Duration {
    period.mul_f64(1.0 + rand::random::<f64>() * (crate::config::JITTER_FACTOR - 1.0))
}
