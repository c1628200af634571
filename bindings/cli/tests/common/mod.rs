//! What the `elector` command's tests share: the binary, run against the
//! local control plane as user `elector`, plain HTTP GETs, and the machine's
//! monotonic clock (which the test programs stamp their lines with).

#![allow(dead_code)] // each test file uses part of it

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use elector_test_support::cluster;

/// Client-go's timings, scaled down so a test takes seconds.
pub const FAST: &[&str] = &[
    "--lease-duration",
    "3s",
    "--renew-deadline",
    "2s",
    "--retry-period",
    "500ms",
];

/// `elector <mode> --lease <lease> --identity <identity> <args>`, as user
/// `elector` of the local control plane; stderr (its logs) goes to
/// `<dir>/<identity>.log`.
pub fn elector(dir: &Path, mode: &str, lease: &str, identity: &str, args: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join(format!("{identity}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_elector"))
        .arg(mode)
        .args([
            "--lease",
            lease,
            "--identity",
            identity,
            "--context",
            "elector",
        ])
        .arg("--kubeconfig")
        .arg(cluster().kubeconfig())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting elector")
}

/// CLOCK_MONOTONIC in nanoseconds, as Python's `time.monotonic_ns()`.
pub fn monotonic_ns() -> i64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    now.tv_sec() * 1_000_000_000 + now.tv_nsec()
}

pub fn signal(child: &Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
}

/// Waits up to `limit` for `child` to exit.
pub fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < until,
            "pid {} still runs after {limit:?}",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `condition` every 5 ms for up to `limit`.
pub fn eventually<T>(limit: Duration, what: &str, mut condition: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + limit;
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(Instant::now() < until, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether process `pid` still exists (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// A GET on 127.0.0.1:`port`: the status code and the body.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    (status, body.to_string())
}

/// A free port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh directory for a test's files.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(elector_test_support::unique_name(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Kills what a test started when the test ends, passed or failed, so a
/// failure leaves no elector campaigning (its program dies with it).
#[derive(Debug, Default)]
pub struct Cleanup(Vec<i32>);

impl Cleanup {
    pub fn add(&mut self, child: &Child) {
        self.0.push(child.id() as i32);
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}
