//! Outages of the control plane. Its own test binary: cargo runs test
//! binaries one at a time, so stopping the API server here disturbs no other
//! test.

mod common;
use common::*;

use std::time::Duration;

use elector_core::{Event, LostReason};
use elector_test_support::{Component, TestEnv, cluster, init_tracing};
use tokio::time::Instant;

#[tokio::test]
async fn a_leader_cut_off_from_the_api_server_loses_within_the_renew_deadline_and_resumes() {
    init_tracing();
    let env = TestEnv::new().await;
    let mut a = Candidate::elected(&env, "a").await;
    a.acquired(Duration::from_secs(10)).await;
    a.wait_for(Duration::from_secs(5), |e| {
        matches!(e, Event::Renewed { .. })
    })
    .await;

    let cut_at = Instant::now();
    tokio::task::spawn_blocking(|| cluster().ctl("stop", Component::ApiServer))
        .await
        .unwrap();
    let reason = a.lost(DEADLINE + Duration::from_secs(10)).await;
    assert_eq!(reason, LostReason::RenewDeadlineExceeded);
    // Stepped down before anyone else could take the lease.
    assert!(
        cut_at.elapsed() < LEASE + Duration::from_secs(5),
        "{:?}",
        cut_at.elapsed()
    );
    assert!(!a.elector.is_leader());
    a.wait_for(Duration::from_secs(2), |e| matches!(e, Event::Error { .. }))
        .await;
    // The run of failures began at the first failed renewal, after the cut.
    let failing_for = a.elector.failing_for().expect("requests are failing");
    assert!(failing_for <= cut_at.elapsed(), "{failing_for:?}");

    tokio::task::spawn_blocking(|| cluster().ctl("start", Component::ApiServer))
        .await
        .unwrap();
    // The lease still names us: reclaimed without waiting for expiry.
    a.acquired(Duration::from_secs(20)).await;
    assert!(a.elector.is_leader());
    assert_eq!(a.elector.failing_for(), None);
    a.stop().await;
}
