//! The scoped leader-work API against the real local control plane: work
//! runs while leading, and a graceful handover waits for it to return.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use elector_core::Elector;
use elector_test_support::{TestEnv, User, init_tracing};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

mod common;
use common::*;

/// A lease far longer than any handover here: one that happens within it
/// came from the release, not from expiry.
const LONG_LEASE: Duration = Duration::from_secs(30);

/// Each unit of leader work: who did it, when it began and when it ended.
type Units = Arc<Mutex<Vec<(&'static str, Instant, Instant)>>>;

/// An elector that, while it leads, runs units of work that await for
/// `unit` each (as a database call would) and checks for loss only between
/// units: a unit in flight at the loss runs to its end.
fn worker(
    env: &TestEnv,
    id: &'static str,
    units: &Units,
    unit: Duration,
) -> (Elector, JoinHandle<Result<(), Infallible>>) {
    let config = config(env, id, User::Elector)
        .lease_duration(LONG_LEASE)
        .renew_deadline(LONG_LEASE / 2)
        .build()
        .unwrap();
    let elector = Elector::new(config);
    let units = units.clone();
    let leading = elector
        .lead(move |leadership| {
            let units = units.clone();
            async move {
                while !leadership.is_lost() {
                    let begin = Instant::now();
                    sleep(unit).await;
                    units.lock().unwrap().push((id, begin, Instant::now()));
                }
                Ok(())
            }
        })
        .unwrap();
    (elector, tokio::spawn(leading))
}

async fn until(limit: Duration, what: impl Fn() -> bool) {
    timeout(limit, async {
        while !what() {
            sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("condition not met in time");
}

fn units_of(units: &Units, id: &str) -> Vec<(Instant, Instant)> {
    let units = units.lock().unwrap();
    units
        .iter()
        .filter(|u| u.0 == id)
        .map(|u| (u.1, u.2))
        .collect()
}

#[tokio::test]
async fn a_graceful_handover_waits_for_the_unit_in_flight() {
    init_tracing();
    let env = TestEnv::new().await;
    let units = Units::default();
    let unit = Duration::from_millis(300);
    let (a, a_led) = worker(&env, "a", &units, unit);
    a.start().await.unwrap();
    until(Duration::from_secs(10), || {
        !units_of(&units, "a").is_empty()
    })
    .await;
    let (b, b_led) = worker(&env, "b", &units, unit);
    b.start().await.unwrap();
    until(Duration::from_secs(10), || {
        b.leader().as_deref() == Some("a")
    })
    .await;
    // Stop a in the middle of a unit.
    sleep(unit / 2).await;
    a.stop().await;
    a_led.await.unwrap().unwrap();
    let a_units = units_of(&units, "a");
    let a_done = a_units.last().unwrap().1;
    until(LONG_LEASE / 3, || !units_of(&units, "b").is_empty()).await;
    b.stop().await;
    b_led.await.unwrap().unwrap();
    let b_units = units_of(&units, "b");
    let (b_first, _) = b_units[0];
    assert!(
        a_units.iter().all(|&(_, end)| end <= b_first),
        "b began a unit at {b_first:?}, before a's work ended: {a_units:?}"
    );
    // Released once a's work returned, not left to expire.
    assert!(
        b_first - a_done < LONG_LEASE / 3,
        "b began {:?} after a's work ended",
        b_first - a_done
    );
}

#[tokio::test]
async fn work_that_fails_stops_the_elector_and_is_the_result() {
    init_tracing();
    let env = TestEnv::new().await;
    let elector = Elector::new(config(&env, "a", User::Elector).build().unwrap());
    let leading = elector
        .lead(|leadership| async move { Err(format!("failed in term {}", leadership.term())) })
        .unwrap();
    elector.start().await.unwrap();
    let result = timeout(Duration::from_secs(10), leading).await.unwrap();
    assert_eq!(result, Err("failed in term 0".to_string()));
    assert!(!elector.is_leader());
    // Stopped, and the lease handed back.
    let spec = lease_of(&env).await.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(""));
    assert!(matches!(
        elector.start().await,
        Err(elector_core::Error::Stopped)
    ));
}

#[tokio::test]
async fn lead_takes_the_events() {
    let env = TestEnv::new().await;
    let elector = Elector::new(config(&env, "a", User::Elector).build().unwrap());
    let _leading = elector
        .lead(|_| async { Ok::<(), Infallible>(()) })
        .unwrap();
    assert!(matches!(
        elector.events(),
        Err(elector_core::Error::EventsTaken)
    ));
}

#[tokio::test]
async fn work_that_returns_early_keeps_leading_and_a_stop_releases_at_once() {
    init_tracing();
    let env = TestEnv::new().await;
    let elector = Elector::new(config(&env, "a", User::Elector).build().unwrap());
    let leading = tokio::spawn(
        elector
            .lead(|_| async { Ok::<(), Infallible>(()) })
            .unwrap(),
    );
    elector.start().await.unwrap();
    until(Duration::from_secs(10), || elector.is_leader()).await;
    sleep(RETRY * 3).await;
    assert!(elector.is_leader(), "returning early gave up the lease");
    let stopping = Instant::now();
    elector.stop().await;
    // Nothing to wait for: far below the 10 s stop timeout.
    assert!(stopping.elapsed() < Duration::from_secs(5));
    leading.await.unwrap().unwrap();
    let spec = lease_of(&env).await.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(""));
}
