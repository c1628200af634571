//! The engine's decisions against the in-memory store, on tokio's paused
//! clock: scripted latencies, lost answers, foreign writes, deletions and
//! compactions, replayed exactly. Tests with several candidates record each
//! one's `Acquired`–`Lost` intervals and check that no two overlap. The
//! integration tests against the real API server stay beside these.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

use super::{Engine, Shared};
use crate::config::{Config, ConfigBuilder};
use crate::events::{self, ErrorKind, Event, LostAck, LostReason};
use crate::record::{OwnWrites, Record};
use crate::store::memory::{Client, Server};

const LEASE: Duration = Duration::from_secs(15);
const DEADLINE: Duration = Duration::from_secs(10);
const RETRY: Duration = Duration::from_secs(2);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn config(identity: &str) -> ConfigBuilder {
    Config::builder("default", "lease", identity)
        .lease_duration(LEASE)
        .renew_deadline(DEADLINE)
        .retry_period(RETRY)
}

/// One elector on the in-memory store, with every event it emitted and
/// when.
struct Candidate {
    identity: String,
    client: Client,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    events: Arc<Mutex<Vec<(Instant, Event)>>>,
    /// How many events `next` has consumed.
    seen: Mutex<usize>,
    /// `Some`: a host whose leader work has not stopped yet holds `Lost`'s
    /// acknowledgement here. `None` (the default): acknowledged at once.
    held: Arc<Mutex<Option<Vec<LostAck>>>>,
    done: tokio::task::JoinHandle<()>,
}

impl Candidate {
    fn start(server: &Server, config: ConfigBuilder) -> Candidate {
        let config = Arc::new(config.build().unwrap());
        let client = Client::new(server, config.request_timeout());
        let shared = Arc::new(Shared::default());
        let cancel = CancellationToken::new();
        let (sender, mut receiver) = events::channel(shared.counters.queued_events.clone());
        let events = Arc::new(Mutex::new(Vec::new()));
        let engine = Engine::new(
            config.clone(),
            client.clone(),
            shared.clone(),
            sender,
            cancel.clone(),
        );
        let record = events.clone();
        let held = Arc::new(Mutex::new(None::<Vec<LostAck>>));
        let holder = held.clone();
        let done = tokio::spawn(async move {
            let recorder = tokio::spawn(async move {
                while let Some(mut event) = receiver.recv().await {
                    if let Some(ack) = event.take_ack()
                        && let Some(acks) = holder.lock().unwrap().as_mut()
                    {
                        acks.push(ack);
                    }
                    record.lock().unwrap().push((Instant::now(), event));
                }
            });
            engine.run().await;
            let _ = recorder.await;
        });
        Candidate {
            identity: config.identity.clone(),
            client,
            shared,
            cancel,
            events,
            seen: Mutex::new(0),
            held,
            done,
        }
    }

    /// Starts, and waits for it to lead.
    async fn leading(server: &Server, config: ConfigBuilder) -> Candidate {
        let candidate = Candidate::start(server, config);
        candidate
            .next(secs(1), |e| matches!(e, Event::Acquired { .. }))
            .await;
        candidate
    }

    /// Stops, and returns how long that took.
    async fn stop(self) -> (Duration, Vec<(Instant, Event)>) {
        let started = Instant::now();
        self.cancel.cancel();
        self.done.await.unwrap();
        let events = self.events.lock().unwrap().clone();
        (started.elapsed(), events)
    }

    /// Cuts it off from the store until it steps down at its renew deadline;
    /// the lease still holds its last write.
    async fn cut_off_until_it_steps_down(&self) {
        self.client.set_latency(secs(3600));
        self.next(DEADLINE + secs(1), |e| {
            matches!(
                e,
                Event::Lost {
                    reason: LostReason::RenewDeadlineExceeded,
                    ..
                }
            )
        })
        .await;
    }

    /// From now on its host holds each `Lost` until [`Self::work_stopped`].
    fn keep_working_after_loss(&self) {
        *self.held.lock().unwrap() = Some(Vec::new());
    }

    /// Its host's leader work has stopped: acknowledge what it held.
    fn work_stopped(&self) {
        *self.held.lock().unwrap() = None;
    }

    /// Begins stopping, as `stop()` does, without waiting for the end.
    fn request_stop(&self) {
        self.cancel.cancel();
    }

    fn events(&self) -> Vec<(Instant, Event)> {
        self.events.lock().unwrap().clone()
    }

    fn acquisitions(&self) -> usize {
        self.events()
            .iter()
            .filter(|(_, e)| matches!(e, Event::Acquired { .. }))
            .count()
    }

    fn leader(&self) -> Option<String> {
        self.shared.status.lock().unwrap().leader.clone()
    }

    fn failing_since(&self) -> Option<Instant> {
        self.shared.status.lock().unwrap().failing_since
    }

    /// Waits (in virtual time, up to `limit`) for the next event that
    /// matches, after those found before; returns it and when it came.
    async fn next(&self, limit: Duration, what: impl Fn(&Event) -> bool) -> (Instant, Event) {
        let until = Instant::now() + limit;
        loop {
            let seen = *self.seen.lock().unwrap();
            let events = self.events();
            if let Some(i) = (seen..events.len()).find(|&i| what(&events[i].1)) {
                *self.seen.lock().unwrap() = i + 1;
                return events[i].clone();
            }
            assert!(
                Instant::now() < until,
                "{}: no matching event within {limit:?}: {:?}",
                self.identity,
                self.events()
            );
            sleep(Duration::from_millis(10)).await;
        }
    }

    /// Each term this candidate led: from `Acquired` to `Lost`, or to now.
    fn intervals(&self) -> Vec<(Instant, Instant)> {
        let mut intervals = Vec::new();
        let mut since = None;
        for (at, event) in self.events() {
            match event {
                Event::Acquired { .. } => since = Some(at),
                Event::Lost { .. } => intervals.push((since.take().unwrap(), at)),
                _ => {}
            }
        }
        intervals.extend(since.map(|s| (s, Instant::now())));
        intervals
    }
}

/// No two candidates ever led at the same time.
fn assert_no_overlap(candidates: &[&Candidate]) {
    for (i, a) in candidates.iter().enumerate() {
        for b in &candidates[i + 1..] {
            for (a_from, a_to) in a.intervals() {
                for (b_from, b_to) in b.intervals() {
                    assert!(
                        a_to <= b_from || b_to <= a_from,
                        "{} led {a_from:?}..{a_to:?} and {} led {b_from:?}..{b_to:?}",
                        a.identity,
                        b.identity
                    );
                }
            }
        }
    }
}

/// A lease another process holds for an hour.
fn held_by(holder: &str, renew_time: &str, transitions: i32) -> Lease {
    held_for(holder, renew_time, transitions, 3600)
}

/// A lease another process holds for `seconds`.
fn held_for(holder: &str, renew_time: &str, transitions: i32, seconds: i32) -> Lease {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "lease", "namespace": "default"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds,
            "leaseTransitions": transitions, "renewTime": renew_time},
    }))
    .unwrap()
}

fn record(server: &Server) -> Record {
    Record::of(&server.lease().expect("the lease exists"))
}

// --- Finding 1: an observation is timed from its answer ---

#[tokio::test(start_paused = true)]
async fn a_renewal_that_committed_while_the_get_was_queued_expires_from_the_answer() {
    let server = Server::new();
    server.put(held_for("a", "2026-01-01T00:00:00.000000Z", 0, 15));
    let b = Candidate::start(&server, config("b"));
    // b's GETs wait in a queue (within the request timeout). a renews while
    // the first one waits, for the last time: the answer b gets carries
    // that renewal, so its expiry counts from when the answer came, not
    // from when the GET was sent.
    let queued = secs(4);
    b.client.set_read_queue_delay(queued);
    sleep(queued - secs(1)).await;
    let renewed_at = Instant::now();
    server.put(held_for("a", "2026-01-01T00:00:03.000000Z", 0, 15));
    let (acquired_at, _) = b
        .next(LEASE * 3, |e| matches!(e, Event::Acquired { .. }))
        .await;
    assert!(
        acquired_at >= renewed_at + LEASE,
        "taken {:?} after the last renewal",
        acquired_at - renewed_at
    );
    b.stop().await;
}

// --- Finding 2: two processes with one identity ---

#[tokio::test(start_paused = true)]
async fn a_second_process_with_our_identity_waits_instead_of_leading_too() {
    let server = Server::new();
    let first = Candidate::leading(&server, config("a")).await;
    let second = Candidate::start(&server, config("a"));
    sleep(LEASE * 3).await;
    assert_eq!(second.acquisitions(), 0, "{:?}", second.events());
    assert_no_overlap(&[&first, &second]);
    first.stop().await;
    second.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_leader_cut_off_does_not_take_back_what_a_namesake_took_after_expiry() {
    let server = Server::new();
    let first = Candidate::leading(&server, config("a")).await;
    let second = Candidate::start(&server, config("a"));
    // The first process's connection hangs: it steps down at its deadline,
    // and the second takes the expired lease in a new term.
    first.client.set_latency(secs(3600));
    second
        .next(LEASE * 2, |e| matches!(e, Event::Acquired { .. }))
        .await;
    assert_eq!(record(&server).transitions, 1, "a new term");
    first.client.set_latency(Duration::ZERO);
    sleep(LEASE * 3).await;
    assert_eq!(first.acquisitions(), 1, "{:?}", first.events());
    assert_no_overlap(&[&first, &second]);
    first.stop().await;
    second.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_leader_whose_lease_is_renewed_by_a_namesake_steps_down_and_says_why() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a")).await;
    // Another process with identity "a" writes the lease (a renewal of its
    // own), between two of ours.
    let mut theirs = server.lease().unwrap();
    theirs.spec.as_mut().unwrap().renew_time =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            "2030-01-01T00:00:00Z".parse().unwrap(),
        ));
    OwnWrites::new("a").sending(&mut theirs);
    server.put(theirs);
    let (lost_at, lost) = a.next(RETRY * 2, |e| matches!(e, Event::Lost { .. })).await;
    assert!(
        matches!(&lost, Event::Lost { reason: LostReason::TakenOver { holder: Some(h) }, .. } if h == "a"),
        "{lost:?}"
    );
    a.next(Duration::ZERO, |e| {
        matches!(e, Event::Error { kind: ErrorKind::IdentityConflict, message } if message.contains("default/lease"))
    })
    .await;
    // It takes the lease back only once the namesake's record expired, in
    // a new term.
    let (taken_at, taken) = a
        .next(LEASE * 2, |e| matches!(e, Event::Acquired { .. }))
        .await;
    assert!(taken_at >= lost_at + LEASE, "{:?}", taken_at - lost_at);
    assert!(
        matches!(taken, Event::Acquired { term: 1, .. }),
        "{taken:?}"
    );
    a.stop().await;
}

#[tokio::test(start_paused = true)]
async fn namesakes_racing_for_a_free_lease_with_a_future_renew_time_never_both_lead() {
    // The lease was freed by a holder whose clock runs ahead: both namesakes
    // write its renewTime plus one microsecond, the same value. The loser's
    // 409 means its write never stood, and the winner's record carries
    // another writer, so the loser must not take it for its own.
    let server = Server::new();
    server.put(held_by("", "2030-01-01T00:00:00.000000Z", 0));
    let first = Candidate::start(&server, config("a"));
    let second = Candidate::start(&server, config("a"));
    // Both read the free lease before either writes.
    first.client.set_latency(Duration::from_millis(10));
    second.client.set_latency(Duration::from_millis(10));
    sleep(LEASE * 2).await;
    assert_eq!(first.acquisitions() + second.acquisitions(), 1);
    assert_no_overlap(&[&first, &second]);
    first.stop().await;
    second.stop().await;
}

// --- Finding 4: the term only grows ---

#[tokio::test(start_paused = true)]
async fn a_lease_created_after_a_deletion_continues_above_the_highest_term() {
    let server = Server::new();
    server.put(held_for("other", "2026-01-01T00:00:00.000000Z", 7, 15));
    let b = Candidate::start(&server, config("b"));
    b.next(secs(1), |e| matches!(e, Event::LeaderChanged { .. }))
        .await;
    server.delete();
    let (_, acquired) = b
        .next(LEASE * 2, |e| matches!(e, Event::Acquired { .. }))
        .await;
    assert!(
        matches!(acquired, Event::Acquired { term: 8, .. }),
        "{acquired:?}"
    );
    assert_eq!(record(&server).transitions, 8);
    b.stop().await;
}

// --- Finding 5: no GET, WATCH, 410 loop on a lease nobody writes ---

#[tokio::test(start_paused = true)]
async fn a_lease_older_than_the_watch_history_is_watched_without_a_410_loop() {
    let server = Server::new();
    server.put(held_by("gone", "2026-01-01T00:00:00.000000Z", 3));
    server.compact();
    let b = Candidate::start(&server, config("b"));
    b.client.set_latency(Duration::from_millis(1));
    sleep(secs(60)).await;
    let requests = &b.client.requests;
    let watches = requests.watches.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        requests.total() <= 4 && watches <= 2,
        "{requests:?} in 60 s"
    );
    b.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_watch_ended_by_the_server_after_a_compaction_reopens_once() {
    let server = Server::new();
    server.put(held_by("other", "2026-01-01T00:00:00.000000Z", 0));
    let b = Candidate::start(&server, config("b"));
    b.client.set_latency(Duration::from_millis(1));
    sleep(secs(1)).await;
    // Every minute the server ends the watch (its timeout) after the
    // version it was at was compacted: one 410, then a read and a watch
    // from the current state.
    for _ in 0..10 {
        server.compact();
        server.end_watches();
        sleep(secs(60)).await;
    }
    let requests = b.client.requests.total();
    assert!(requests <= 2 + 10 * 3, "{requests} requests in 10 minutes");
    assert_eq!(b.acquisitions(), 0);
    b.stop().await;
}

// --- Finding 6: stop() is prompt and bounded ---

#[tokio::test(start_paused = true)]
async fn a_stop_cuts_a_hanging_campaign_request_short() {
    let server = Server::new();
    server.put(held_by("other", "2026-01-01T00:00:00.000000Z", 0));
    let b = Candidate::start(&server, config("b"));
    b.client.set_latency(secs(3600));
    sleep(secs(1)).await; // its GET hangs until the request timeout
    let (took, _) = b.stop().await;
    assert!(took < Duration::from_millis(100), "stop took {took:?}");
}

#[tokio::test(start_paused = true)]
async fn the_release_keeps_to_its_budget() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a").release_timeout(secs(2))).await;
    a.client.set_latency(secs(3600));
    let (took, events) = a.stop().await;
    assert!(
        took <= secs(2) + Duration::from_millis(50),
        "stop took {took:?}"
    );
    assert!(matches!(events.last(), Some((_, Event::Stopped))));
}

#[tokio::test(start_paused = true)]
async fn an_acquire_that_commits_during_stop_is_released() {
    let server = Server::new();
    let a = Candidate::start(&server, config("a"));
    // The create commits at once; its answer would come after a second.
    a.client.set_write_latency(secs(1));
    sleep(Duration::from_millis(500)).await;
    assert_eq!(record(&server).holder.as_deref(), Some("a"), "committed");
    let (_, events) = a.stop().await;
    assert!(
        !events
            .iter()
            .any(|(_, e)| matches!(e, Event::Acquired { .. }))
    );
    assert_eq!(record(&server).holder, None, "released");
}

// --- Finding 10: the handle's leader after a lost deadline ---

#[tokio::test(start_paused = true)]
async fn after_a_lost_deadline_the_handle_names_no_leader() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a")).await;
    a.cut_off_until_it_steps_down().await;
    a.next(Duration::ZERO, |e| {
        matches!(e, Event::LeaderChanged { leader: None, .. })
    })
    .await;
    assert_eq!(a.leader(), None);
    a.stop().await;
}

// --- Finding 10: a conflict is an answer, so requests are not failing ---

#[tokio::test(start_paused = true)]
async fn a_leader_taken_over_after_failed_renewals_is_not_left_failing() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a")).await;
    // A renewal's answer is lost (it committed): a is failing.
    a.client.set_write_latency(secs(3600));
    a.next(RETRY * 4, |e| matches!(e, Event::Error { .. }))
        .await;
    assert!(a.failing_since().is_some());
    // Then someone takes the lease: a's next renewal meets a 409, which the
    // server answered, and a follows calmly from then on.
    a.client.set_write_latency(Duration::ZERO);
    server.put(held_by("intruder", "2030-01-01T00:00:00.000000Z", 5));
    a.next(RETRY * 2, |e| {
        matches!(
            e,
            Event::Lost {
                reason: LostReason::TakenOver { .. },
                ..
            }
        )
    })
    .await;
    sleep(LEASE).await;
    assert_eq!(a.failing_since(), None, "{:?}", a.events());
    a.stop().await;
}

// --- Finding 3: a deleted lease's holder is waited out ---

#[tokio::test(start_paused = true)]
async fn a_lease_deleted_under_a_cut_off_leader_is_recreated_only_after_its_claim() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a")).await;
    let b = Candidate::start(&server, config("b"));
    b.next(secs(1), |e| matches!(e, Event::LeaderChanged { .. }))
        .await;
    // a is cut off, then the lease deleted: b must wait out a's claim, which
    // a keeps until its renew deadline.
    let cut_at = Instant::now();
    a.client.set_latency(secs(3600));
    sleep(Duration::from_millis(100)).await;
    server.delete();
    let (acquired_at, _) = b
        .next(LEASE * 2, |e| matches!(e, Event::Acquired { .. }))
        .await;
    let (lost_at, _) = a
        .next(Duration::ZERO, |e| matches!(e, Event::Lost { .. }))
        .await;
    // a's last renewal was at most a retry period before it was cut off.
    assert!(
        acquired_at >= cut_at + LEASE - RETRY,
        "created {:?} after the cut",
        acquired_at - cut_at
    );
    assert!(lost_at <= acquired_at);
    assert_no_overlap(&[&a, &b]);
    a.stop().await;
    b.stop().await;
}

// --- Safe handover: nothing is handed over before the host's work stops ---

fn is_stopped_loss(e: &Event) -> bool {
    matches!(
        e,
        Event::Lost {
            reason: LostReason::Stopped,
            ..
        }
    )
}

#[tokio::test(start_paused = true)]
async fn a_stopped_leader_keeps_the_lease_until_its_work_stops_then_releases() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a").stop_timeout(secs(60))).await;
    let b = Candidate::start(&server, config("b"));
    b.next(secs(1), |e| matches!(e, Event::LeaderChanged { .. }))
        .await;
    a.keep_working_after_loss();
    a.request_stop();
    a.next(secs(1), is_stopped_loss).await;
    // Longer than the lease: a renews it while its host winds down, so b,
    // watching, never sees it expire.
    sleep(LEASE * 2).await;
    assert_eq!(record(&server).holder.as_deref(), Some("a"));
    assert_eq!(b.acquisitions(), 0);
    assert!(a.shared.status.lock().unwrap().leading_until.is_none());
    let stopped_at = Instant::now();
    a.work_stopped();
    let (acquired_at, _) = b
        .next(secs(1), |e| matches!(e, Event::Acquired { .. }))
        .await;
    assert!(acquired_at >= stopped_at && acquired_at - stopped_at < Duration::from_millis(100));
    assert_no_overlap(&[&a, &b]);
    let (_, events) = a.stop().await;
    // No `Renewed` after `Lost`: the host was told it no longer leads.
    let lost = events.iter().position(|(_, e)| is_stopped_loss(e)).unwrap();
    assert!(
        !events[lost..]
            .iter()
            .any(|(_, e)| matches!(e, Event::Renewed { .. }))
    );
    b.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_leader_whose_work_never_stops_is_left_to_expire_after_the_stop_timeout() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a").stop_timeout(secs(5))).await;
    let b = Candidate::start(&server, config("b"));
    b.next(secs(1), |e| matches!(e, Event::LeaderChanged { .. }))
        .await;
    a.keep_working_after_loss();
    let stopped_at = Instant::now();
    let (took, events) = a.stop().await;
    assert!(took >= secs(5) && took < secs(6), "stop took {took:?}");
    assert!(matches!(events.last(), Some((_, Event::Stopped))));
    // Not released: b takes it only when it expires, a lease duration after
    // a's last renewal, made within a retry period of the timeout.
    assert_eq!(record(&server).holder.as_deref(), Some("a"));
    let (acquired_at, _) = b
        .next(LEASE * 2, |e| matches!(e, Event::Acquired { .. }))
        .await;
    let after = acquired_at - stopped_at;
    assert!(
        after >= secs(5) - RETRY * 2 + LEASE && after <= secs(5) + LEASE + RETRY * 2,
        "b acquired {after:?} after the stop"
    );
    b.stop().await;
}

#[tokio::test(start_paused = true)]
async fn after_a_takeover_no_campaign_until_the_host_acknowledges() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a")).await;
    a.keep_working_after_loss();
    // An intruder takes the lease for a second and leaves it to expire.
    server.put(held_for("intruder", "2026-01-01T00:00:00.000000Z", 5, 1));
    a.next(RETRY * 2, |e| {
        matches!(
            e,
            Event::Lost {
                reason: LostReason::TakenOver { .. },
                ..
            }
        )
    })
    .await;
    sleep(LEASE * 2).await;
    assert_eq!(
        a.acquisitions(),
        1,
        "campaigned with its work still running"
    );
    let stopped_at = Instant::now();
    a.work_stopped();
    let (acquired_at, _) = a
        .next(RETRY * 2, |e| matches!(e, Event::Acquired { .. }))
        .await;
    // At once: the intruder's lease expired long ago.
    assert!(acquired_at - stopped_at < Duration::from_millis(100));
    assert_eq!(record(&server).holder.as_deref(), Some("a"));
    a.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_loss_nobody_receives_is_acknowledged_at_once() {
    let server = Server::new();
    let config = Arc::new(config("a").build().unwrap());
    let client = Client::new(&server, config.request_timeout());
    let shared = Arc::new(Shared::default());
    let cancel = CancellationToken::new();
    let (sender, receiver) = events::channel(shared.counters.queued_events.clone());
    drop(receiver);
    let engine = Engine::new(config, client, shared.clone(), sender, cancel.clone());
    let done = tokio::spawn(engine.run());
    while shared.status.lock().unwrap().leading_until.is_none() {
        sleep(Duration::from_millis(10)).await;
    }
    let stopped_at = Instant::now();
    cancel.cancel();
    done.await.unwrap();
    assert!(stopped_at.elapsed() < Duration::from_millis(100));
    assert_eq!(record(&server).holder, None, "released");
}

fn losses(events: &[(Instant, Event)]) -> usize {
    events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Lost { .. }))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_stop_after_an_unacknowledged_loss_releases_only_once_acknowledged() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a").stop_timeout(secs(30))).await;
    a.keep_working_after_loss();
    a.cut_off_until_it_steps_down().await;
    a.client.set_latency(Duration::ZERO);
    a.request_stop();
    sleep(secs(5)).await;
    assert_eq!(
        record(&server).holder.as_deref(),
        Some("a"),
        "released under running work"
    );
    a.work_stopped();
    let (_, events) = a.stop().await;
    assert_eq!(record(&server).holder, None, "released once acknowledged");
    assert_eq!(losses(&events), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stop_after_a_loss_never_acknowledged_ends_at_the_stop_timeout_without_release() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a").stop_timeout(secs(5))).await;
    a.keep_working_after_loss();
    a.cut_off_until_it_steps_down().await;
    a.client.set_latency(Duration::ZERO);
    let (took, events) = a.stop().await;
    assert!(took >= secs(5) && took < secs(6), "stop took {took:?}");
    assert!(matches!(events.last(), Some((_, Event::Stopped))));
    assert_eq!(record(&server).holder.as_deref(), Some("a"));
}

#[tokio::test(start_paused = true)]
async fn a_lease_taken_while_stopping_ends_the_stop_with_no_second_lost_and_no_release() {
    let server = Server::new();
    let a = Candidate::leading(&server, config("a").stop_timeout(secs(60))).await;
    a.keep_working_after_loss();
    a.request_stop();
    a.next(secs(1), is_stopped_loss).await;
    server.put(held_by("intruder", "2030-01-01T00:00:00.000000Z", 5));
    let (_, events) = a.stop().await;
    assert_eq!(losses(&events), 1);
    assert!(matches!(events.last(), Some((_, Event::Stopped))));
    assert_eq!(record(&server).holder.as_deref(), Some("intruder"));
}
