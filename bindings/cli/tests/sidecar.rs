//! `elector sidecar` against the local control plane: `/` in the old
//! sidecar's shape, `/readyz` already flipped when `/events` tells of
//! `acquired` and of `lost`, `/metrics` read by a Prometheus text parser,
//! `/healthz`, and the command's errors for bad flags.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use elector_test_support::{User, cluster, unique_name};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::PostParams;
use nix::sys::signal::Signal;

/// `/events` read with curl, one SSE event name per message; returns once
/// the stream's headers have arrived (the subscription is in place).
fn events(port: u16) -> (std::process::Child, mpsc::Receiver<(String, Instant)>) {
    let mut curl = Command::new("curl")
        .args(["-siN", &format!("http://127.0.0.1:{port}/events")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let stdout = curl.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("HTTP/") {
                let _ = sender.send(("(headers)".to_string(), Instant::now()));
            } else if let Some(name) = line.strip_prefix("event: ") {
                let _ = sender.send((name.to_string(), Instant::now()));
            }
        }
    });
    next_event(&receiver, "(headers)");
    (curl, receiver)
}

fn next_event(events: &mpsc::Receiver<(String, Instant)>, name: &str) -> Instant {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let (event, at) = events
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {name} event on /events"));
        if event == name {
            return at;
        }
    }
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sidecar_tells_the_pod_who_leads() {
    let dir = scratch("cli-sidecar");
    let lease = unique_name("cli-sidecar");
    let (first_port, second_port) = (free_port(), free_port());
    let sidecar = |identity: &str, port: u16| {
        let http = format!("127.0.0.1:{port}");
        let mut args = FAST.to_vec();
        args.extend(["--http", &http]);
        elector(&dir, "sidecar", &lease, identity, &args)
    };
    let mut cleanup = Cleanup::default();
    let mut first = sidecar("side-a", first_port);
    cleanup.add(&first);
    eventually(Duration::from_secs(20), "side-a leads", || {
        std::panic::catch_unwind(|| get(first_port, "/readyz").0 == 200)
            .unwrap_or(false)
            .then_some(())
    });
    let mut second = sidecar("side-b", second_port);
    cleanup.add(&second);
    let leader = eventually(Duration::from_secs(20), "side-b follows", || {
        let (status, body) = std::panic::catch_unwind(|| get(second_port, "/")).ok()?;
        (status == 200 && json(&body)["name"] == "side-a").then(|| json(&body))
    });
    // The old sidecar's shape, and ours beside it.
    assert_eq!(leader["lease"], lease.as_str());
    assert_eq!(leader["identity"], "side-b");
    assert_eq!(leader["leading"], false);
    assert_eq!(get(second_port, "/readyz").0, 503);
    assert_eq!(get(second_port, "/healthz").0, 200);

    // side-a stops: side-b's /readyz is 200 by the time /events tells of it.
    let (mut curl, events) = events(second_port);
    cleanup.add(&curl);
    signal(&first, Signal::SIGTERM);
    assert!(wait(&mut first, Duration::from_secs(20)).success());
    let acquired_at = next_event(&events, "acquired");
    let ready = get(second_port, "/readyz");
    eprintln!(
        "/readyz after acquired: {ready:?}, {:?} after the event",
        acquired_at.elapsed()
    );
    assert_eq!(ready.0, 200);
    let leader = json(&get(second_port, "/").1);
    assert_eq!(
        (leader["name"].as_str(), leader["leading"].as_bool()),
        (Some("side-b"), Some(true))
    );
    assert!(leader["since"].is_string(), "{leader}");

    // The metrics, through a real Prometheus text parser.
    let (status, text) = get(second_port, "/metrics");
    assert_eq!(status, 200);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let leading = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "leader_election_master_status" && s.labels.get("name") == Some(&lease)
        })
        .expect("client-go's master status for the lease");
    assert!(matches!(leading.value, prometheus_parse::Value::Gauge(v) if v == 1.0));

    // Another holder takes the lease over: side-b's /readyz is 503 by the
    // time /events tells of the loss.
    let leases: Api<Lease> = Api::namespaced(cluster().client(User::Admin).await, "default");
    // Retried on conflict: side-b renews every 500 ms.
    loop {
        let mut taken = leases.get(&lease).await.unwrap();
        let spec = taken.spec.as_mut().unwrap();
        spec.holder_identity = Some("intruder".into());
        spec.lease_duration_seconds = Some(3600);
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            jiff::Timestamp::now(),
        ));
        match leases.replace(&lease, &PostParams::default(), &taken).await {
            Ok(_) => break,
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(err) => panic!("taking the lease over: {err}"),
        }
    }
    next_event(&events, "lost");
    assert_eq!(get(second_port, "/readyz").0, 503);
    assert_eq!(json(&get(second_port, "/").1)["name"], "intruder");

    signal(&second, Signal::SIGTERM);
    assert!(wait(&mut second, Duration::from_secs(20)).success());
    let _ = curl.kill();
    let _ = curl.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `elector <args>`: its exit code and what it wrote to stderr.
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_elector"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ELECTOR_") {
            command.env_remove(name);
        }
    }
    let output = command.args(args).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_and_values_exit_2_naming_the_flag() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    for (args, named) in [
        (
            vec![
                "run",
                "--lease",
                "l",
                "--lease-duration",
                "banana",
                "--",
                "true",
            ],
            "--lease-duration",
        ),
        (
            vec!["run", "--lease", "Bad_Lease", "--", "true"],
            "invalid --lease:",
        ),
        (
            vec!["run", "--lease", "l", "--grace", "soon", "--", "true"],
            "--grace",
        ),
        (
            vec!["run", "--lease", "l", "--on-exit", "explode", "--", "true"],
            "--on-exit",
        ),
        (
            vec![
                "run",
                "--lease",
                "l",
                "--grace",
                "10s",
                "--stop-timeout",
                "10s",
                "--",
                "true",
            ],
            "invalid --stop-timeout:",
        ),
        (vec!["run", "--lease", "l"], "<CMD>"),
        (vec!["run", "--", "true"], "invalid --lease:"),
        (
            vec!["sidecar", "--lease", "l", "--http", "nowhere"],
            "--http",
        ),
        (
            vec!["sidecar", "--lease", "l", "--http", &busy],
            "invalid --http:",
        ),
        (
            vec!["sidecar", "--lease", "l", "--no-such-flag"],
            "--no-such-flag",
        ),
    ] {
        let (code, stderr) = refused(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(named),
            "{args:?} should name {named}: {stderr}"
        );
    }
    let help = Command::new(env!("CARGO_BIN_EXE_elector"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("Examples:") && help.contains("--lease-duration"),
        "{help}"
    );
}
