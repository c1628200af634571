//! The election loop of one elector: campaign (follow the lease through a
//! watch and take it when it is free or expired), lead (renew every retry
//! period, step down at the renew deadline), and release on stop.
//!
//! It runs as one task on the elector runtime and is the only writer of its
//! events, so they are ordered by construction and `Acquired`/`Lost`
//! alternate: every return from [`Engine::lead`] emits exactly one `Lost`.
//!
//! Leader work runs in the host, which hears of a loss later than the
//! engine. So the engine waits for the host to acknowledge each `Lost`
//! before anything that lets another candidate lead on its account: it
//! releases on stop, and campaigns again, only after it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::clock::Moment;
use crate::config::Config;
use crate::config::jittered;
use crate::decide::{Knowledge, LeaderClock, Step, Timing, candidate_step};
use crate::events::{Acknowledgement, ErrorKind, Event, EventSender, LostReason};
use crate::record::{self, OwnWrites, Record};
use crate::stats::{Counters, bump};
use crate::store::{ApiError, LeaseStore};
use crate::watch::{LeaseWatch, Seen};

/// What the handle reads while the engine runs.
#[derive(Debug, Default)]
pub(crate) struct Status {
    /// Set while leading: the moment leadership must end unless renewed.
    pub leading_until: Option<Moment>,
    /// When the last successful acquire or renew was sent.
    pub renewed_at: Option<Moment>,
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

impl Shared {
    /// Whether this process leads now: it holds the lease and its renew
    /// deadline has not passed, checked on every call (a process that was
    /// paused answers `false` the moment it wakes).
    pub fn is_leading(&self) -> bool {
        let status = self.status.lock().unwrap();
        status
            .leading_until
            .is_some_and(|until| !until.reached_by(Moment::now()))
    }
}

pub(crate) struct Engine<S> {
    config: Arc<Config>,
    api: S,
    shared: Arc<Shared>,
    events: EventSender,
    cancel: CancellationToken,
    knowledge: Knowledge,
    /// What this process wrote: tells its records from those of another
    /// process under the same identity.
    own: OwnWrites,
    /// The highest `leaseTransitions` seen, on this lease or a predecessor:
    /// the next term is above it, so the term never goes down.
    highest_term: Option<i32>,
    /// The last error reported, to log repeats quietly.
    last_error: Option<ErrorKind>,
}

/// A leader that was stopped: the host was sent `Lost(Stopped)`, and the
/// lease stays ours, renewed, until the host acknowledges it or `until`.
struct Stopping {
    ack: Acknowledgement,
    until: Instant,
}

#[cfg(test)]
mod tests;

/// How many requests `stop()` makes to release before leaving the lease to
/// expire (and never past the release timeout).
const RELEASE_ATTEMPTS: u32 = 3;

impl<S: LeaseStore> Engine<S> {
    /// Boxed, for [`run`](Self::run).
    pub fn new(
        config: Arc<Config>,
        api: S,
        shared: Arc<Shared>,
        events: EventSender,
        cancel: CancellationToken,
    ) -> Box<Engine<S>> {
        Box::new(Engine {
            own: OwnWrites::new(&config.identity),
            config,
            api,
            shared,
            events,
            cancel,
            knowledge: Knowledge::new(Instant::now()),
            highest_term: None,
            last_error: None,
        })
    }

    /// The engine itself and every step that is not where an elector waits
    /// most of its life (a standby in `campaign`'s watch, a leader between
    /// renewals) are boxed: inline, each would add its largest state to every
    /// elector's task for good (6.5 KiB of it when they were). Boxed, a rare
    /// step costs an allocation while it runs.
    pub async fn run(mut self: Box<Self>) {
        info!("elector started");
        loop {
            let Some((lease, sent_at)) = Box::pin(self.campaign()).await else {
                break;
            };
            self.on_acquired(lease.clone(), sent_at);
            let Some(ack) = Box::pin(self.lead(lease, sent_at)).await else {
                break; // stopped while leading, and the stop seen through
            };
            if !self.host_acknowledged(ack).await {
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
        self.events.send(event);
    }

    /// Follows the lease until this elector holds it; returns the lease and
    /// when the winning write was sent, or `None` when stopped. A stop cuts
    /// every request short.
    async fn campaign(&mut self) -> Option<(Lease, Moment)> {
        let cancel = self.cancel.clone();
        let mut watch = LeaseWatch::new(Instant::now());
        loop {
            if cancel.is_cancelled() {
                return Box::pin(self.campaign_stopped()).await;
            }
            let now = Instant::now();
            let wake = match candidate_step(
                &self.knowledge,
                &self.own,
                watch.is_open(),
                self.timing(),
                now,
            ) {
                Step::Read => {
                    if cancel
                        .run_until_cancelled(Box::pin(self.read(&mut watch)))
                        .await
                        .is_none()
                    {
                        return Box::pin(self.campaign_stopped()).await;
                    }
                    continue;
                }
                Step::Create | Step::TakeOver => {
                    let watching = watch.is_open();
                    let Some(won) = cancel
                        .run_until_cancelled(Box::pin(self.try_acquire(watching)))
                        .await
                    else {
                        // Stopped with the write on its way: it may have
                        // committed. The host never heard of it: hand it back.
                        Box::pin(self.release(None)).await;
                        return None;
                    };
                    let Some((lease, sent_at)) = won else {
                        continue;
                    };
                    if cancel.is_cancelled() {
                        // Won while stopping: hand it straight back.
                        Box::pin(self.release(Some(lease))).await;
                        return None;
                    }
                    if sent_at
                        .after(self.config.renew_deadline)
                        .reached_by(Moment::now())
                    {
                        // The answer came too late to lead on (this process
                        // was paused or starved): others may have judged the
                        // lease expired meanwhile. Read it again; if it still
                        // holds our write it is reclaimed with a fresh deadline.
                        warn!("acquired the lease too late to lead on it; reading it again");
                        self.knowledge.outdated(Instant::now());
                        continue;
                    }
                    return Some((lease, sent_at));
                }
                Step::WaitUntil(at) => at,
            };
            if watch.is_due(now) {
                if cancel
                    .run_until_cancelled(Box::pin(self.open_watch(&mut watch)))
                    .await
                    .is_none()
                {
                    return Box::pin(self.campaign_stopped()).await;
                }
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return Box::pin(self.campaign_stopped()).await,
                _ = sleep_until(watch.wake(wake)) => {}
                event = watch.next() => {
                    let now = Instant::now();
                    let seen = watch.on_event(event, now);
                    self.on_watch_event(seen, now);
                }
            }
            if watch.close_if_idle() {
                bump(&self.shared.counters.watch_restarts);
            }
        }
    }

    /// Stopped while campaigning. A lease that may still hold our last write
    /// (after a lost renew deadline, or an acquire that came too late) is
    /// handed back if so configured, rather than left to expire.
    async fn campaign_stopped(&mut self) -> Option<(Lease, Moment)> {
        if self.config.release_on_stop && self.own.wrote_any() {
            Box::pin(self.release(None)).await;
        }
        None
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
                watch.read_anew();
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
    async fn try_acquire(&mut self, watching: bool) -> Option<(Lease, Moment)> {
        let sent_at = Moment::now();
        let (mut attempt, create) = match &self.knowledge {
            Knowledge::Absent { .. } => {
                let transitions = self.highest_term.map_or(0, |t| t.saturating_add(1));
                (record::new_lease(&self.config, transitions), true)
            }
            Knowledge::Present(observed) => {
                let ours = self.own.hold(&observed.record);
                let taken =
                    record::acquired(&observed.lease, &self.config, self.highest_term, ours);
                (taken, false)
            }
            Knowledge::Unknown { .. } => return None,
        };
        self.own.sending(&mut attempt);
        let result = if create {
            self.api.create(&attempt, None).await
        } else {
            self.api.replace(&attempt, None).await
        };
        match result {
            Ok(lease) => {
                self.recovered();
                self.own.confirmed(&lease);
                Some((lease, sent_at))
            }
            Err(ApiError::Conflict) => {
                // Another candidate won. The watch will show us its write;
                // without one, read it now. The API server answered: requests
                // are not failing.
                self.own.rejected(&attempt);
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

    fn on_acquired(&mut self, lease: Lease, sent_at: Moment) {
        let term = Record::of(&lease).transitions;
        bump(&self.shared.counters.acquisitions);
        info!(term, "acquired leadership");
        {
            let mut status = self.status();
            status.leading_until = Some(sent_at.after(self.config.renew_deadline));
            status.renewed_at = Some(sent_at);
        }
        // The handle's state (leader, term, lease) is current before the
        // host hears of the acquisition; the leader change follows it.
        let leader_changed = self.note(lease.clone(), sent_at.monotonic);
        self.emit(Event::Acquired {
            lease,
            identity: self.config.identity.clone(),
            term,
        });
        self.emit_some(leader_changed);
    }

    /// Renews until leadership ends, which always emits one `Lost`. Returns
    /// the host's acknowledgement to wait for before campaigning again, or
    /// `None` when stopped: the stop is then seen through (released once the
    /// host acknowledged, or left to expire).
    async fn lead(&mut self, mut lease: Lease, acquired_at: Moment) -> Option<Acknowledgement> {
        let cancel = self.cancel.clone();
        let mut clock = LeaderClock {
            renewed_at: acquired_at,
            renew_deadline: self.config.renew_deadline,
            retry_period: self.config.retry_period,
        };
        let mut next_attempt = clock.next_renewal();
        let mut stopping: Option<Stopping> = None;
        loop {
            let wake = next_attempt.min(clock.deadline().monotonic);
            match &stopping {
                None => {
                    if cancel
                        .run_until_cancelled(sleep_until(wake))
                        .await
                        .is_none()
                    {
                        stopping = Some(self.begin_stop(&lease));
                        continue;
                    }
                }
                Some(stop) => tokio::select! {
                    _ = stop.ack.done() => {
                        Box::pin(self.host_stopped(lease)).await;
                        return None;
                    }
                    _ = sleep_until(stop.until) => {
                        self.abandoned();
                        return None;
                    }
                    _ = sleep_until(wake) => {}
                },
            }
            let sent_at = Moment::now();
            if clock.expired(sent_at) {
                warn!(
                    deadline = ?self.config.renew_deadline,
                    "no renewal succeeded within the renew deadline: stepping down"
                );
                self.knowledge.outdated(sent_at.monotonic);
                // Who leads now is unknown until the lease is read again.
                let leader_changed = self.forget_leader();
                let ack = self.end_term(
                    &lease,
                    LostReason::RenewDeadlineExceeded,
                    stopping.is_some(),
                );
                self.emit_some(leader_changed);
                return ack;
            }
            let mut renewal = record::renewed(&lease, &self.config);
            self.own.sending(&mut renewal);
            let limit = Some(clock.deadline().monotonic);
            let replaced = self.api.replace(&renewal, limit);
            let Some(result) = unless_stopped(&cancel, stopping.is_some(), replaced).await else {
                // Stopped with the renewal on its way. It may have committed:
                // the next renewal finds out (its conflict reads the lease).
                stopping = Some(self.begin_stop(&lease));
                next_attempt = Instant::now();
                continue;
            };
            if clock.expired(Moment::now()) {
                // However it went, the answer came after the deadline (this
                // process was paused or starved): step down at the top of the
                // loop; the campaign reclaims the lease if it still holds our
                // last write.
                continue;
            }
            let result = match result {
                Err(ApiError::Conflict) => {
                    // Slow path: someone else wrote the lease. Still ours if
                    // it holds one of our writes (our last write's answer was
                    // lost, or another field changed): renew over it. The
                    // server answered: requests are not failing.
                    self.recovered();
                    bump(&self.shared.counters.conflicts);
                    self.own.rejected(&renewal);
                    let read = self.api.get(limit);
                    let Some(current) = unless_stopped(&cancel, stopping.is_some(), read).await
                    else {
                        stopping = Some(self.begin_stop(&lease));
                        next_attempt = Instant::now();
                        continue;
                    };
                    match current {
                        Ok(Some(current)) if self.own.hold(&Record::of(&current)) => {
                            debug!("lease changed under us but holds our write; renewing again");
                            lease = current;
                            next_attempt = Instant::now();
                            continue;
                        }
                        Ok(Some(current)) => {
                            return self.taken_over(lease, current, stopping.is_some());
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
                    self.own.confirmed(&renewed);
                    clock.renewed_at = sent_at;
                    next_attempt = clock.next_renewal();
                    lease = renewed;
                    self.on_renewed(&lease, &clock, stopping.is_some());
                }
                Err(ApiError::NotFound) => {
                    self.recovered();
                    let leader_changed = self.forget();
                    self.knowledge.deleted_under_the_leader(Instant::now());
                    let ack = self.end_term(&lease, LostReason::Deleted, stopping.is_some());
                    self.emit_some(leader_changed);
                    return ack;
                }
                Err(err) => {
                    self.renewal_failed(err);
                    next_attempt = Instant::now() + self.config.retry_period;
                }
            }
        }
    }

    /// Another writer holds the lease now. When it names our identity, two
    /// processes run under one identity: this one steps down, says so, and
    /// waits for the lease to expire like any candidate (the other renews
    /// it, so it keeps leading).
    fn taken_over(
        &mut self,
        lease: Lease,
        current: Lease,
        stopping: bool,
    ) -> Option<Acknowledgement> {
        let record = Record::of(&current);
        let collided = self.own.collide(&record);
        // The handle names the new holder before the host hears of the
        // loss; the leader change follows it.
        let leader_changed = self.note(current, Instant::now());
        let ack = self.end_term(
            &lease,
            LostReason::TakenOver {
                holder: record.holder,
            },
            stopping,
        );
        self.emit_some(leader_changed);
        if collided {
            let message = format!(
                "lease {}/{} was renewed by another process with this identity ({:?}): identities must be unique among candidates; stepped down, and waiting for the lease to expire",
                self.config.namespace, self.config.lease_name, self.config.identity
            );
            warn!(%message, "identity conflict");
            self.emit(Event::Error {
                kind: ErrorKind::IdentityConflict,
                message,
            });
        }
        ack
    }

    /// Stopped while leading: the host hears first. The lease stays ours,
    /// renewed, while its leader work winds down.
    fn begin_stop(&mut self, lease: &Lease) -> Stopping {
        debug!(timeout = ?self.config.stop_timeout, "stopping: waiting for the host to stop its leader work");
        Stopping {
            ack: self.tell_lost(lease, LostReason::Stopped),
            until: Instant::now() + self.config.stop_timeout,
        }
    }

    /// The host acknowledged `Lost(Stopped)`: its leader work has stopped,
    /// so the lease can be handed back if so configured.
    async fn host_stopped(&mut self, lease: Lease) {
        debug!("the host stopped its leader work");
        if self.config.release_on_stop {
            Box::pin(self.release(Some(lease))).await;
        }
    }

    /// Waits for the host to acknowledge a `Lost` before campaigning again:
    /// until then its leader work may still run. False when stopped meanwhile
    /// and the host did not acknowledge within the stop timeout: then nothing
    /// may be released on its behalf.
    async fn host_acknowledged(&self, ack: Acknowledgement) -> bool {
        let timeout = self.config.stop_timeout;
        let slow = async {
            sleep(timeout).await;
            warn!(
                ?timeout,
                "the host has not acknowledged the loss of leadership; not campaigning until it does"
            );
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = ack.done() => return true,
            _ = self.cancel.cancelled() => {}
            _ = slow => {}
        }
        if tokio::time::timeout(timeout, ack.done()).await.is_ok() {
            return true;
        }
        self.abandoned();
        false
    }

    fn abandoned(&self) {
        warn!(
            timeout = ?self.config.stop_timeout,
            "the host did not stop its leader work within the stop timeout; the lease is not released: others take over when it expires"
        );
    }

    fn on_renewed(&mut self, lease: &Lease, clock: &LeaderClock, stopping: bool) {
        bump(&self.shared.counters.renewals);
        if stopping {
            // Kept only while the host winds down: no deadline to lead by,
            // and no `Renewed` after `Lost`.
            debug!("renewed while the host stops its leader work");
            self.observe(lease.clone(), clock.renewed_at.monotonic);
            return;
        }
        debug!("renewed");
        {
            let mut status = self.status();
            status.leading_until = Some(clock.deadline());
            status.renewed_at = Some(clock.renewed_at);
        }
        // The handle is current before the host hears of the renewal.
        let leader_changed = self.note(lease.clone(), clock.renewed_at.monotonic);
        let renew_time = lease
            .spec
            .as_ref()
            .and_then(|s| s.renew_time.as_ref())
            .map_or_else(jiff::Timestamp::now, |t| t.0);
        self.emit(Event::Renewed {
            lease: lease.clone(),
            renew_time,
        });
        self.emit_some(leader_changed);
    }

    fn renewal_failed(&mut self, err: ApiError) {
        bump(&self.shared.counters.failed_renewals);
        self.report(err);
    }

    /// Leadership ended for `reason`. Returns the host's acknowledgement to
    /// wait for; `None` while stopping, when the host was told already and
    /// the stop ends here, with nothing to release.
    fn end_term(
        &mut self,
        lease: &Lease,
        reason: LostReason,
        stopping: bool,
    ) -> Option<Acknowledgement> {
        if stopping {
            self.status().leading_until = None;
            warn!(%reason, "lost the lease while the host stops its leader work; it is not released");
            return None;
        }
        Some(self.tell_lost(lease, reason))
    }

    fn tell_lost(&mut self, lease: &Lease, reason: LostReason) -> Acknowledgement {
        bump(&self.shared.counters.losses);
        self.status().leading_until = None;
        info!(%reason, "lost leadership");
        let (ack, guard) = Acknowledgement::new();
        self.emit(Event::Lost {
            lease: lease.clone(),
            reason,
            ack: guard,
        });
        ack
    }

    /// Hands the lease back (holder "", duration 1 s) so a standby takes over
    /// at once, within the release timeout. The write carries the lease's
    /// resourceVersion, so it can never free a lease someone else has taken
    /// meanwhile. `None` (or a conflict): the version is not known, since a
    /// write was cut short; read it, and release it only if it holds our
    /// write.
    async fn release(&mut self, mut lease: Option<Lease>) {
        let deadline = Instant::now() + self.config.release_timeout;
        for _ in 0..RELEASE_ATTEMPTS {
            let current = match lease.take() {
                Some(lease) => lease,
                None => match self.api.get(Some(deadline)).await {
                    Ok(Some(current)) if self.own.hold(&Record::of(&current)) => current,
                    Ok(_) => return, // not ours: nothing to release
                    Err(err) => {
                        self.report(err);
                        continue;
                    }
                },
            };
            match self
                .api
                .replace(&record::released(&current), Some(deadline))
                .await
            {
                Ok(released) => {
                    info!("released the lease");
                    self.observe(released, Instant::now());
                    return;
                }
                Err(ApiError::Conflict) => {}
                Err(ApiError::NotFound) => return,
                Err(err) => {
                    self.report(err);
                    lease = Some(current);
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        warn!(
            timeout = ?self.config.release_timeout,
            "could not release the lease; others take over when it expires"
        );
    }

    async fn open_watch(&mut self, watch: &mut LeaseWatch) {
        match self.api.watch(watch.from()).await {
            Ok(events) => watch.opened(events),
            Err(err) => watch.failed_to_open(&err),
        }
    }

    /// Acts on what the watch saw at `now`.
    fn on_watch_event(&mut self, seen: Seen, now: Instant) {
        match seen {
            Seen::Lease(lease) => self.observe(lease, now),
            Seen::Deleted(lease) => {
                self.knowledge.observe(lease, now);
                self.forget_lease();
            }
            Seen::Restarted { stale } => {
                bump(&self.shared.counters.watch_restarts);
                if stale {
                    self.knowledge.outdated(now);
                }
            }
            Seen::Nothing => {}
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
        // Logged after the status lock is let go: a host's log handler must
        // not hold up (or call back into) the handle's readers.
        let (changed, collided) = {
            let mut status = self.status();
            let changed = status.leader != record.holder;
            let collided = changed && status.leading_until.is_none() && self.own.collide(&record);
            status.leader = record.holder.clone();
            status.term = Some(record.transitions);
            status.lease = Some(lease.clone());
            (changed, collided)
        };
        if collided {
            warn!(
                "the lease names this identity but another process wrote it (a second process with this identity, \
                 or an earlier one of this process that did not release it): waiting for it to expire"
            );
        }
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

    /// Who leads is no longer known: the handle names nobody until the lease
    /// is read again.
    fn forget_leader(&mut self) -> Option<Event> {
        let had_leader = self.status().leader.take().is_some();
        had_leader.then_some(Event::LeaderChanged {
            lease: None,
            leader: None,
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
            ApiError::Gone => (ErrorKind::Invalid, "unexpected 410 Gone".to_string()),
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

/// Runs `request`, cut short by a stop unless already stopping: a stopping
/// leader still needs its renewals.
async fn unless_stopped<F: Future>(
    cancel: &CancellationToken,
    stopping: bool,
    request: F,
) -> Option<F::Output> {
    if stopping {
        Some(request.await)
    } else {
        cancel.run_until_cancelled(request).await
    }
}
