//! Proves the local control plane is a real API server with real etcd:
//! RBAC, optimistic concurrency, watches and MicroTime precision behave as on
//! a production cluster.

use std::time::Duration;

use elector_test_support::{TestEnv, User};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams, WatchEvent, WatchParams};

fn lease(name: &str, holder: &str) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            ..LeaseSpec::default()
        }),
    }
}

fn api_status(err: kube::Error) -> u16 {
    match err {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn elector_creates_reads_and_updates_a_lease() {
    let env = TestEnv::new().await;
    let leases = env.leases(User::Elector).await;
    let created = leases
        .create(&PostParams::default(), &lease(&env.lease, "a"))
        .await
        .unwrap();
    let mut read = leases.get(&env.lease).await.unwrap();
    assert_eq!(
        read.metadata.resource_version,
        created.metadata.resource_version
    );
    read.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let updated = leases
        .replace(&env.lease, &PostParams::default(), &read)
        .await
        .unwrap();
    assert_eq!(updated.spec.unwrap().holder_identity.as_deref(), Some("b"));
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );
}

#[tokio::test]
async fn a_stale_resource_version_conflicts() {
    let env = TestEnv::new().await;
    let leases = env.leases(User::Elector).await;
    let stale = leases
        .create(&PostParams::default(), &lease(&env.lease, "a"))
        .await
        .unwrap();
    let mut fresh = stale.clone();
    fresh.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases
        .replace(&env.lease, &PostParams::default(), &fresh)
        .await
        .unwrap();

    let mut late = stale;
    late.spec.as_mut().unwrap().holder_identity = Some("c".into());
    let err = leases
        .replace(&env.lease, &PostParams::default(), &late)
        .await
        .unwrap_err();
    assert_eq!(api_status(err), 409);
    let err = leases
        .create(&PostParams::default(), &lease(&env.lease, "d"))
        .await
        .unwrap_err();
    assert_eq!(api_status(err), 409);
}

#[tokio::test]
async fn a_watch_on_one_lease_sees_its_update() {
    let env = TestEnv::new().await;
    let leases = env.leases(User::Elector).await;
    let created = leases
        .create(&PostParams::default(), &lease(&env.lease, "a"))
        .await
        .unwrap();
    let params = WatchParams::default()
        .fields(&format!("metadata.name={}", env.lease))
        .timeout(30);
    let rv = created.metadata.resource_version.clone().unwrap();
    let mut events = leases.watch(&params, &rv).await.unwrap().boxed();

    let mut update = created;
    update.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases
        .replace(&env.lease, &PostParams::default(), &update)
        .await
        .unwrap();

    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.next().await.expect("watch ended").unwrap() {
                WatchEvent::Modified(l) => return l,
                WatchEvent::Bookmark(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("no watch event within 10 s");
    assert_eq!(seen.spec.unwrap().holder_identity.as_deref(), Some("b"));
}

#[tokio::test]
async fn nobody_is_forbidden() {
    let env = TestEnv::new().await;
    let err = env
        .leases(User::Nobody)
        .await
        .get(&env.lease)
        .await
        .unwrap_err();
    assert_eq!(api_status(err), 403);
    let err = env
        .leases(User::Nobody)
        .await
        .create(&PostParams::default(), &lease(&env.lease, "a"))
        .await
        .unwrap_err();
    assert_eq!(api_status(err), 403);
}

#[tokio::test]
async fn elector_is_confined_to_leases() {
    let env = TestEnv::new().await;
    let client = env.client(User::Elector).await;
    let err = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client, "default")
        .get("anything")
        .await
        .unwrap_err();
    assert_eq!(api_status(err), 403);
}

#[tokio::test]
async fn elector_has_its_role_in_a_fresh_namespace() {
    let env = TestEnv::with_namespace().await;
    let leases = env.leases(User::Elector).await;
    leases
        .create(&PostParams::default(), &lease(&env.lease, "a"))
        .await
        .unwrap();
    let err = env
        .leases(User::Nobody)
        .await
        .get(&env.lease)
        .await
        .unwrap_err();
    assert_eq!(api_status(err), 403);
}

#[tokio::test]
async fn micro_time_round_trips_with_six_fractional_digits() {
    let env = TestEnv::new().await;
    let leases = env.leases(User::Elector).await;
    let at: jiff::Timestamp = "2026-01-02T15:04:05.123456Z".parse().unwrap();
    let mut l = lease(&env.lease, "a");
    l.spec.as_mut().unwrap().renew_time = Some(MicroTime(at));
    leases.create(&PostParams::default(), &l).await.unwrap();

    let raw = env
        .client(User::Elector)
        .await
        .request_text(
            http::Request::get(format!(
                "/apis/coordination.k8s.io/v1/namespaces/{}/leases/{}",
                env.namespace, env.lease
            ))
            .body(Vec::new())
            .unwrap(),
        )
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(json["spec"]["renewTime"], "2026-01-02T15:04:05.123456Z");
    let read = leases.get(&env.lease).await.unwrap();
    assert_eq!(read.spec.unwrap().renew_time, Some(MicroTime(at)));
}
