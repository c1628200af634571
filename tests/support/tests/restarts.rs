//! Restarting one component of the control plane keeps the data. Its own test
//! binary: cargo runs test binaries one at a time, so the restarts disturb
//! no other test.

use elector_test_support::{Component, TestEnv, User, cluster};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{ObjectMeta, PostParams};

#[tokio::test]
async fn etcd_and_the_api_server_restart_alone_keeping_leases() {
    let env = TestEnv::new().await;
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(env.lease.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("survivor".into()),
            ..LeaseSpec::default()
        }),
    };
    env.leases(User::Elector)
        .await
        .create(&PostParams::default(), &lease)
        .await
        .unwrap();

    for component in [Component::Etcd, Component::ApiServer] {
        tokio::task::spawn_blocking(move || cluster().ctl("restart", component))
            .await
            .unwrap();
        // A new client: the old connections went with the restarted server.
        let read = env
            .leases(User::Elector)
            .await
            .get(&env.lease)
            .await
            .unwrap();
        assert_eq!(
            read.spec.unwrap().holder_identity.as_deref(),
            Some("survivor")
        );
    }
}
