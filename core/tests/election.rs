//! The lease protocol against the real local control plane.
//!
//! Timings are short so the suite is quick, and every assertion about time
//! is a protocol bound (never before expiry, within the renew deadline) with
//! generous margins, not a performance figure.

use std::time::Duration;

use elector_core::{Config, Connection, Elector, ErrorKind, Event, LostReason};
use elector_test_support::{TestEnv, User, init_tracing};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{DeleteParams, PostParams};
use tokio::time::{Instant, timeout};

mod common;
use common::*;

#[tokio::test]
async fn a_single_candidate_acquires_at_once() {
    init_tracing();
    let env = TestEnv::new().await;
    let mut a = Candidate::elected(&env, "a").await;
    assert_eq!(a.acquired(Duration::from_secs(10)).await, 0);
    assert!(a.elector.is_leader());
    assert_eq!(a.elector.leader().as_deref(), Some("a"));
    assert_eq!(a.elector.term(), Some(0));
    assert!(a.elector.check(Duration::ZERO).is_ok());

    let spec = lease_of(&env).await.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_duration_seconds, Some(3));
    assert_eq!(spec.lease_transitions, Some(0));

    a.wait_for(Duration::from_secs(5), |e| {
        matches!(e, Event::Renewed { .. })
    })
    .await;
    let stats = a.elector.stats();
    assert_eq!(stats.creates, 1);
    assert_eq!(stats.acquisitions, 1);
    assert!(stats.renewals >= 1);
    a.stop().await;

    // Released as client-go does: free, one second, term kept.
    let spec = lease_of(&env).await.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(""));
    assert_eq!(spec.lease_duration_seconds, Some(1));
    assert_eq!(spec.lease_transitions, Some(0));
}

#[tokio::test]
async fn contenders_yield_exactly_one_leader() {
    init_tracing();
    let env = TestEnv::new().await;
    let mut candidates = Vec::new();
    for id in ["a", "b", "c", "d"] {
        candidates.push(Candidate::elected(&env, id).await);
    }
    tokio::time::sleep(LEASE).await;
    let leaders: Vec<_> = candidates
        .iter()
        .filter(|c| c.elector.is_leader())
        .collect();
    assert_eq!(leaders.len(), 1, "exactly one leader");
    // Not even briefly two, by every candidate's Acquired..Lost intervals.
    let terms: Vec<_> = candidates.iter().map(Candidate::terms).collect();
    assert_no_overlap(&terms);
    assert_eq!(
        terms.iter().map(|(_, t)| t.len()).sum::<usize>(),
        1,
        "one term in all"
    );
    let winner = leaders[0].elector.config().identity().to_string();
    for c in &candidates {
        assert_eq!(c.elector.leader().as_deref(), Some(winner.as_str()));
    }
    assert_eq!(
        lease_of(&env).await.spec.unwrap().holder_identity,
        Some(winner)
    );
    for c in candidates {
        c.stop().await;
    }
}

#[tokio::test]
async fn a_release_hands_over_promptly_through_the_watch() {
    init_tracing();
    let env = TestEnv::new().await;
    // A long lease: a handover well inside it can only come from the release.
    let long = |id| {
        config(&env, id, User::Elector)
            .lease_duration(Duration::from_secs(30))
            .renew_deadline(Duration::from_secs(20))
            .retry_period(Duration::from_secs(2))
    };
    let mut a = Candidate::start(long("a")).await;
    a.acquired(Duration::from_secs(10)).await;
    let mut b = Candidate::start(long("b")).await;
    b.wait_for(Duration::from_secs(10), |e| {
        matches!(e, Event::LeaderChanged { .. })
    })
    .await;
    // Its watch is open (it is opened right after the first read).
    timeout(Duration::from_secs(5), async {
        while b.elector.stats().watches == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the standby opened no watch");
    let gets_before = b.elector.stats().gets;

    let stopped_at = Instant::now();
    let a = a.stop().await;
    assert_eq!(
        b.acquired(Duration::from_secs(10)).await,
        1,
        "term grows on takeover"
    );
    assert!(
        stopped_at.elapsed() < Duration::from_secs(10),
        "handover waited for expiry"
    );
    // The standby learned of the release from its watch, not by polling.
    let stats = b.elector.stats();
    assert_eq!(stats.gets, gets_before, "{stats:?}");
    assert!(stats.watches >= 1);
    assert_no_overlap(&[a, b.stop().await]);
}

#[tokio::test]
async fn a_leader_that_dies_without_releasing_is_replaced_only_after_the_lease_duration() {
    init_tracing();
    let env = TestEnv::new().await;
    let mut a = Candidate::start(config(&env, "a", User::Elector).release_on_stop(false)).await;
    a.acquired(Duration::from_secs(10)).await;
    let mut b = Candidate::elected(&env, "b").await;
    b.wait_for(Duration::from_secs(10), |e| {
        matches!(e, Event::LeaderChanged { .. })
    })
    .await;

    // Stopping without release is, for the lease, a crash: renewals end.
    let died_at = Instant::now();
    a.stop().await;
    b.acquired(LEASE * 4).await;
    // a's last renewal was at most one retry period before it died, and b's
    // expiry clock started no earlier.
    let waited = died_at.elapsed();
    assert!(
        waited >= LEASE - RETRY,
        "took over after {waited:?}, before expiry"
    );
    b.stop().await;
}

#[tokio::test]
async fn a_deleted_lease_is_recreated_and_an_election_follows() {
    init_tracing();
    let env = TestEnv::new().await;
    let mut a = Candidate::elected(&env, "a").await;
    a.acquired(Duration::from_secs(10)).await;
    let mut b = Candidate::elected(&env, "b").await;
    b.wait_for(Duration::from_secs(10), |e| {
        matches!(e, Event::LeaderChanged { .. })
    })
    .await;

    env.leases(User::Admin)
        .await
        .delete(&env.lease, &DeleteParams::default())
        .await
        .unwrap();
    // Deleted, or already recreated by the standby when a next renews.
    let reason = a.lost(Duration::from_secs(5)).await;
    assert!(
        matches!(&reason, LostReason::Deleted)
            || reason
                == LostReason::TakenOver {
                    holder: Some("b".into())
                },
        "{reason:?}"
    );

    // Someone recreates it; the term continues past the deleted lease's.
    let deadline = Instant::now() + Duration::from_secs(10);
    let spec = loop {
        if let Some(lease) = env
            .leases(User::Admin)
            .await
            .get_opt(&env.lease)
            .await
            .unwrap()
        {
            break lease.spec.unwrap();
        }
        assert!(Instant::now() < deadline, "lease not recreated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(spec.lease_transitions.unwrap() >= 1, "{spec:?}");
    tokio::time::sleep(RETRY * 2).await;
    assert_eq!(
        [a.elector.is_leader(), b.elector.is_leader()]
            .iter()
            .filter(|l| **l)
            .count(),
        1
    );
    let (a, b) = (a.stop().await, b.stop().await);
    assert_no_overlap(&[a, b]);
}

#[tokio::test]
async fn a_lease_deleted_after_its_holder_died_is_recreated_only_after_its_claim() {
    init_tracing();
    let env = TestEnv::new().await;
    let mut a = Candidate::start(config(&env, "a", User::Elector).release_on_stop(false)).await;
    a.acquired(Duration::from_secs(10)).await;
    let mut b = Candidate::elected(&env, "b").await;
    b.wait_for(Duration::from_secs(10), |e| {
        matches!(e, Event::LeaderChanged { .. })
    })
    .await;

    // a dies without releasing (its last renewal at most a retry period
    // before), then the lease is deleted: nobody renews or re-creates it, and
    // b must honour a's claim, which a could still act on, until it ends.
    let died_at = Instant::now();
    let a = a.stop().await;
    env.leases(User::Admin)
        .await
        .delete(&env.lease, &DeleteParams::default())
        .await
        .unwrap();
    b.acquired(LEASE * 4).await;
    let waited = died_at.elapsed();
    assert!(
        waited >= LEASE - RETRY,
        "re-created {waited:?} after the holder died, inside its claim"
    );
    assert_no_overlap(&[a, b.stop().await]);
}

#[tokio::test]
async fn a_lease_taken_by_another_writer_makes_the_leader_lose() {
    init_tracing();
    let env = TestEnv::new().await;
    let mut a = Candidate::elected(&env, "a").await;
    a.acquired(Duration::from_secs(10)).await;

    let leases = env.leases(User::Admin).await;
    let mut lease = leases.get(&env.lease).await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(60);
    leases
        .replace(&env.lease, &PostParams::default(), &lease)
        .await
        .unwrap();

    assert_eq!(
        a.lost(Duration::from_secs(5)).await,
        LostReason::TakenOver {
            holder: Some("intruder".into())
        }
    );
    assert!(!a.elector.is_leader());
    assert_eq!(a.elector.leader().as_deref(), Some("intruder"));
    a.never_acquires(LEASE).await;
    a.stop().await;
}

#[tokio::test]
async fn rbac_denial_yields_errors_and_never_leadership() {
    init_tracing();
    let env = TestEnv::new().await;
    let mut nobody = Candidate::start(config(&env, "nobody", User::Nobody)).await;
    let error = nobody
        .wait_for(Duration::from_secs(5), |e| matches!(e, Event::Error { .. }))
        .await;
    assert!(
        matches!(error, Event::Error { kind: ErrorKind::Forbidden, ref message } if message.contains("forbidden")),
        "{error:?}"
    );
    nobody.never_acquires(LEASE).await;
    assert!(!nobody.elector.is_leader());
    nobody.stop().await;
}

#[tokio::test]
async fn leases_written_by_other_libraries_are_read_without_failing() {
    init_tracing();
    for (spec, free) in [
        (
            serde_json::json!({"holderIdentity": null, "renewTime": null}),
            true,
        ),
        (serde_json::json!({"holderIdentity": ""}), true),
        (serde_json::json!({}), true),
        // Held, with no duration and no transitions: ours applies.
        (serde_json::json!({"holderIdentity": "legacy"}), false),
    ] {
        let env = TestEnv::new().await;
        let lease: Lease = serde_json::from_value(serde_json::json!({
            "metadata": {"name": env.lease}, "spec": spec
        }))
        .unwrap();
        env.leases(User::Admin)
            .await
            .create(&PostParams::default(), &lease)
            .await
            .unwrap();
        let started = Instant::now();
        let mut a = Candidate::elected(&env, "a").await;
        assert_eq!(a.acquired(LEASE * 4).await, 1, "{spec}");
        if free {
            assert!(started.elapsed() < LEASE, "{spec}: waited for a free lease");
        } else {
            assert!(
                started.elapsed() >= LEASE,
                "{spec}: took a held lease early"
            );
        }
        a.stop().await;
    }
}

#[tokio::test]
async fn stop_from_inside_the_callback_returns_and_the_last_events_follow() {
    init_tracing();
    let env = TestEnv::new().await;
    let elector = Elector::new(config(&env, "a", User::Elector).build().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = elector.clone();
    let runtime = tokio::runtime::Handle::current();
    let leases = env.leases(User::Admin).await;
    let lease = env.lease.clone();
    elector
        .on_event(move |event| {
            let name = event.name();
            tx.send(name).unwrap();
            if name == "acquired" {
                handle.stop_blocking();
                tx.send("stop returned").unwrap();
            }
            if name == "lost" {
                // Leader work stops here: the lease must still be ours, and
                // it is released only after this callback returns.
                let held = runtime.block_on(leases.get(&lease)).unwrap();
                let holder = held.spec.unwrap().holder_identity;
                assert_eq!(
                    holder.as_deref(),
                    Some("a"),
                    "released before lost returned"
                );
                tx.send("still held").unwrap();
            }
        })
        .unwrap();
    elector.start().await.unwrap();
    let seen: Vec<_> = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        while let Ok(name) = rx.recv_timeout(Duration::from_secs(10)) {
            seen.push(name);
        }
        seen
    })
    .await
    .unwrap();
    // Stopping from the callback returns before the last events, which follow
    // once the callback returns: alternation and Stopped-last still hold, and
    // the release (seen as the free lease) follows lost's callback.
    assert_eq!(
        seen,
        [
            "acquired",
            "stop returned",
            "leader_changed",
            "lost",
            "still held",
            "leader_changed",
            "stopped"
        ]
    );
    // Released on the way out.
    assert_eq!(
        lease_of(&env)
            .await
            .spec
            .unwrap()
            .holder_identity
            .as_deref(),
        Some("")
    );
}

#[tokio::test]
async fn callbacks_deliver_everything_before_stop_returns() {
    init_tracing();
    let env = TestEnv::new().await;
    let elector = Elector::new(config(&env, "a", User::Elector).build().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    elector
        .on_event(move |event| {
            assert_eq!(std::thread::current().name(), Some("elector-events"));
            sink.lock().unwrap().push(event.name());
        })
        .unwrap();
    elector.start().await.unwrap();
    timeout(Duration::from_secs(10), async {
        while !elector.is_leader() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    elector.stop().await;
    let at_stop = seen.lock().unwrap().clone();
    assert_eq!(at_stop.first(), Some(&"acquired"));
    assert_eq!(at_stop.last(), Some(&"stopped"));
    assert!(at_stop.contains(&"lost"));
    tokio::time::sleep(RETRY * 2).await;
    assert_eq!(
        *seen.lock().unwrap(),
        at_stop,
        "an event after stop returned"
    );
}

#[tokio::test]
async fn lifecycle_misuse_is_a_typed_error() {
    let env = TestEnv::new().await;
    let elector = Elector::new(config(&env, "a", User::Elector).build().unwrap());
    elector.events().unwrap();
    assert!(matches!(
        elector.events(),
        Err(elector_core::Error::EventsTaken)
    ));
    elector.start().await.unwrap();
    assert!(matches!(
        elector.start().await,
        Err(elector_core::Error::AlreadyStarted)
    ));
    elector.stop().await;
    elector.stop().await;
    assert!(matches!(
        elector.start().await,
        Err(elector_core::Error::Stopped)
    ));

    let missing = Elector::new(
        Config::builder("default", "l", "a")
            .connection(Connection::Kubeconfig {
                path: Some("/nonexistent/kubeconfig".into()),
                context: None,
            })
            .build()
            .unwrap(),
    );
    let err = missing.start().await.unwrap_err();
    assert!(
        matches!(err, elector_core::Error::Connect(ref m) if m.contains("/nonexistent/kubeconfig")),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_namespace_is_reported_without_hammering_the_api_server() {
    init_tracing();
    let env = TestEnv::new().await;
    let config = Config::builder("no-such-namespace", &env.lease, "a")
        .lease_duration(LEASE)
        .renew_deadline(DEADLINE)
        .retry_period(RETRY)
        .connection(Connection::Kubeconfig {
            path: Some(elector_test_support::cluster().kubeconfig().to_path_buf()),
            context: Some("admin".into()),
        });
    let mut a = Candidate::start(config).await;
    let event = a
        .wait_for(Duration::from_secs(5), |e| matches!(e, Event::Error { .. }))
        .await;
    assert!(
        matches!(&event, Event::Error { kind: ErrorKind::Invalid, message } if message.contains("no-such-namespace")),
        "{event:?}"
    );
    tokio::time::sleep(RETRY * 4).await;
    // One create per retry period (with jitter), not a tight loop.
    let creates = a.elector.stats().creates;
    assert!(
        (2..=8).contains(&creates),
        "{creates} creates in {:?}",
        RETRY * 4
    );
    a.stop().await;
}
