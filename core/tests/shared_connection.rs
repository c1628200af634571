//! Every elector of a process on few connections: watches are HTTP/2 streams
//! on a connection shared by all electors, up to the server's stream limit,
//! and HTTP/1.1 (one connection per watch) where the server has no HTTP/2.
//! Its own test binary: it counts this process's connections.

mod common;
use common::*;

use std::collections::HashSet;
use std::time::Duration;

use elector_core::{Config, Connection, Token};
use elector_test_support::{Component, TestEnv, User, cluster, init_tracing};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::time::{Instant, sleep};

/// kube-apiserver's default SETTINGS_MAX_CONCURRENT_STREAMS, less the tenth
/// the client keeps free for short requests.
const WATCHES_PER_CONNECTION: usize = 90;

/// The tests take turns: each counts the connections of the whole process.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Established TCP connections from this process to `port` on loopback, from
/// /proc: the socket inodes among our file descriptors, matched against the
/// kernel's TCP table.
fn connections_to(port: u16) -> usize {
    let ours: HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let table = std::fs::read_to_string("/proc/self/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields[2].rsplit(':').next().unwrap();
            const ESTABLISHED: &str = "01";
            u16::from_str_radix(remote_port, 16).unwrap() == port
                && fields[3] == ESTABLISHED
                && ours.contains(fields[9])
        })
        .count()
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// The administrator's view of the test's leases (over its own connections,
/// through the main API server).
async fn admin_leases(env: &TestEnv) -> Api<Lease> {
    Api::namespaced(cluster().client(User::Admin).await, &env.namespace)
}

/// Leases held by someone else for an hour: an elector of one stays a
/// standby, watching, until the test releases it. The client that made them
/// is gone when this returns, so that it leaves no connection to count.
async fn held_leases(env: &TestEnv, names: &[String]) {
    let leases = admin_leases(env).await;
    for name in names {
        held_lease(&leases, name).await;
    }
}

async fn held_lease(leases: &Api<Lease>, name: &str) {
    let now = MicroTime(jiff::Timestamp::now());
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("someone-else".into()),
            lease_duration_seconds: Some(3600),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..LeaseSpec::default()
        }),
    };
    leases.create(&PostParams::default(), &lease).await.unwrap();
}

/// A standby of `lease` through `connection`, started once its watch is open.
async fn standby(env: &TestEnv, lease: &str, connection: Connection) -> Candidate {
    let config = Config::builder(&env.namespace, lease, "standby")
        .lease_duration(LEASE)
        .renew_deadline(DEADLINE)
        .retry_period(RETRY)
        .connection(connection);
    let candidate = Candidate::start(config).await;
    let began = Instant::now();
    while candidate.elector.stats().watches == 0 {
        assert!(began.elapsed() < Duration::from_secs(10), "no watch opened");
        sleep(Duration::from_millis(5)).await;
    }
    candidate
}

/// The holder releases the lease (as a graceful stop does): its standby, told
/// by its watch, takes it at once, long before the hour is up. Told by its
/// watch, not by a poll: it reads the lease no more and reopens no watch.
async fn takes_over_when_released(leases: &Api<Lease>, lease: &str, standby: &mut Candidate) {
    let before = standby.elector.stats();
    let mut released = leases.get(lease).await.unwrap();
    released.spec.as_mut().unwrap().holder_identity = None;
    leases
        .replace(lease, &PostParams::default(), &released)
        .await
        .unwrap();
    standby.acquired(Duration::from_secs(5)).await;
    let after = standby.elector.stats();
    assert_eq!(
        (after.gets, after.watch_restarts),
        (before.gets, before.watch_restarts),
        "{lease}: the standby polled or reopened its watch"
    );
}

/// Waits for the process's connections to `port` to come to `expected`
/// (a watch's connection opens while its request is on the way).
async fn connections_come_to(port: u16, expected: usize, watches: usize) {
    let began = Instant::now();
    while connections_to(port) != expected {
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "{watches} watches on {} connections, not {expected}",
            connections_to(port)
        );
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn standbys_share_a_connection_up_to_the_servers_stream_limit() {
    init_tracing();
    let _turn = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::with_namespace().await;
    let names: Vec<String> = (0..WATCHES_PER_CONNECTION + 60)
        .map(|i| format!("shared-{i}"))
        .collect();
    held_leases(&env, &names).await;
    let port = port_of(&cluster().server_url());
    let began = Instant::now();
    while connections_to(port) > 0 {
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "the set-up's connections stay open"
        );
        sleep(Duration::from_millis(10)).await;
    }
    let connection = Connection::Kubeconfig {
        path: Some(cluster().kubeconfig().to_path_buf()),
        context: Some(User::Elector.context().into()),
    };
    // One at a time, so that every watch finds the connections as the last
    // one left them: the first connection takes exactly its share of
    // watches, and the next watch opens the second.
    let mut standbys = Vec::new();
    for (i, lease) in names.iter().enumerate() {
        standbys.push((
            lease.clone(),
            standby(&env, lease, connection.clone()).await,
        ));
        let watches = i + 1;
        let expected = watches.div_ceil(WATCHES_PER_CONNECTION);
        if watches % WATCHES_PER_CONNECTION <= 1 {
            connections_come_to(port, expected, watches).await;
        }
        if watches == WATCHES_PER_CONNECTION {
            // And no second one opens on its own (a wrong count would open
            // it while this watch's request is on the way).
            sleep(Duration::from_millis(300)).await;
            assert_eq!(connections_to(port), 1, "{watches} watches");
        }
    }
    connections_come_to(port, 2, standbys.len()).await;
    // The watches deliver on both connections.
    let leases = admin_leases(&env).await;
    for index in [0, standbys.len() - 1] {
        let (lease, standby) = &mut standbys[index];
        takes_over_when_released(&leases, lease, standby).await;
    }
    for (_, standby) in standbys {
        standby.stop().await;
    }
}

#[tokio::test]
async fn a_server_without_http2_is_used_over_http11() {
    init_tracing();
    let _turn = ONE_AT_A_TIME.lock().await;
    let env = TestEnv::with_namespace().await;
    tokio::task::spawn_blocking(|| cluster().ctl("start", Component::Http1ApiServer))
        .await
        .unwrap();
    let url = cluster().http1_server_url();
    let names: Vec<String> = (0..5).map(|i| format!("http1-{i}")).collect();
    held_leases(&env, &names).await;
    let connection = Connection::Url {
        url: url.clone(),
        token: Some(Token::Inline(cluster().token(User::Elector))),
        ca_file: Some(cluster().ca_file()),
        insecure_skip_tls_verify: false,
    };
    let mut standbys = Vec::new();
    for lease in &names {
        standbys.push((
            lease.clone(),
            standby(&env, lease, connection.clone()).await,
        ));
    }
    // A connection per watch (and perhaps an idle one in the pool): the
    // probe that found no h2 was closed, and nothing is multiplexed.
    let began = Instant::now();
    while connections_to(port_of(&url)) < names.len() {
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "watches multiplexed"
        );
        sleep(Duration::from_millis(10)).await;
    }
    let connections = connections_to(port_of(&url));
    assert!(connections <= names.len() + 1, "{connections} connections");
    let leases = admin_leases(&env).await;
    let (lease, standby) = &mut standbys[0];
    takes_over_when_released(&leases, lease, standby).await;
    for (_, standby) in standbys {
        standby.stop().await;
    }
    tokio::task::spawn_blocking(|| cluster().ctl("stop", Component::Http1ApiServer))
        .await
        .unwrap();
}
