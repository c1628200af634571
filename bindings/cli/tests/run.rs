//! `elector run` against the local control plane: the program runs only
//! while its elector leads, across graceful handovers, SIGKILL of a
//! leader's elector and SIGKILL of the program; a program that ignores
//! SIGTERM is killed after the grace period, and only then is the lease
//! released.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use common::*;
use elector_test_support::{User, cluster, unique_name};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use nix::sys::signal::Signal;

/// The leader's program: units of work of 20 ms, each stamped as it begins
/// and ends on CLOCK_MONOTONIC. SIGTERM ends it after 300 ms more of work:
/// longer than the next program takes to start, so a lease released before
/// the program is gone shows as overlapping units.
const UNITS: &str = r#"
import os, signal, sys, time
path, me, term = sys.argv[1], os.environ["ELECTOR_IDENTITY"], os.environ["ELECTOR_TERM"]
stop_at = None
def on_term(*_):
    global stop_at
    stop_at = time.monotonic() + 0.3
signal.signal(signal.SIGTERM, on_term)
def log(kind):
    with open(path, "a") as f:
        f.write(f"{time.monotonic_ns()} {kind} {me} {term} {os.getpid()}\n")
log("start")
while stop_at is None or time.monotonic() < stop_at:
    log("begin")
    time.sleep(0.02)
    log("end")
log("exit")
"#;

#[derive(Debug, Clone)]
struct Line {
    at: i64,
    kind: String,
    identity: String,
    pid: i32,
}

fn lines(path: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            Some(Line {
                at: parts.next()?.parse().ok()?,
                kind: parts.next()?.to_string(),
                identity: parts.next()?.to_string(),
                pid: {
                    parts.next()?;
                    parts.next()?.parse().ok()?
                },
            })
        })
        .collect()
}

/// The `start` lines after the first `seen`.
fn starts(path: &Path, seen: usize) -> Option<Line> {
    lines(path)
        .into_iter()
        .filter(|line| line.kind == "start")
        .nth(seen)
}

/// How long each program works before the next disruption.
const WORK: Duration = Duration::from_millis(500);

struct Candidates<'a> {
    dir: &'a Path,
    lease: String,
    script: String,
    units: String,
    electors: BTreeMap<String, Child>,
    cleanup: Cleanup,
}

impl Candidates<'_> {
    fn start(&mut self, identity: &str) {
        let mut args: Vec<&str> = FAST.to_vec();
        args.extend(["--grace", "5s", "--", "python3", &self.script, &self.units]);
        let child = elector(self.dir, "run", &self.lease, identity, &args);
        self.cleanup.add(&child);
        self.electors.insert(identity.to_string(), child);
    }
}

#[test]
fn a_program_runs_only_while_its_elector_leads() {
    let dir = scratch("cli-run");
    let script = dir.join("units.py");
    std::fs::write(&script, UNITS).unwrap();
    let units = dir.join("units");
    let mut candidates = Candidates {
        dir: &dir,
        lease: unique_name("cli-run"),
        script: script.display().to_string(),
        units: units.display().to_string(),
        electors: BTreeMap::new(),
        cleanup: Cleanup::default(),
    };
    candidates.start("run-a");
    candidates.start("run-b");
    // When each program died, for units it left unfinished.
    let mut deaths: BTreeMap<i32, i64> = BTreeMap::new();
    let mut seen = 0;
    let mut leader = eventually(Duration::from_secs(20), "a first program", || {
        starts(&units, seen)
    });
    seen += 1;
    std::thread::sleep(WORK);

    // A graceful handover: the next program starts once this one has exited,
    // at once, not after the lease's expiry.
    let mut elector = candidates.electors.remove(&leader.identity).unwrap();
    signal(&elector, Signal::SIGTERM);
    assert!(wait(&mut elector, Duration::from_secs(20)).success());
    let next = eventually(Duration::from_secs(20), "the next program", || {
        starts(&units, seen)
    });
    seen += 1;
    let exit = lines(&units)
        .into_iter()
        .find(|line| line.kind == "exit" && line.pid == leader.pid)
        .expect("the first program ended its last unit and exited");
    let handover = Duration::from_nanos((next.at - exit.at) as u64);
    eprintln!("graceful handover, program exit to program start: {handover:?}");
    // Unreleased, the lease would expire 2.5 s or more after the exit.
    assert!(
        handover < Duration::from_secs(2),
        "the next program waited {handover:?}: the lease was not released"
    );
    candidates.start(&leader.identity);
    leader = next;
    std::thread::sleep(WORK);

    // SIGKILL of the leader's elector: its program dies with it (the
    // parent-death signal), and the next starts after the lease expires.
    let mut elector = candidates.electors.remove(&leader.identity).unwrap();
    signal(&elector, Signal::SIGKILL);
    wait(&mut elector, Duration::from_secs(5));
    let pid = leader.pid;
    deaths.insert(
        pid,
        eventually(
            Duration::from_secs(5),
            "the orphaned program's death",
            || (!alive(pid)).then(monotonic_ns),
        ),
    );
    let next = eventually(Duration::from_secs(20), "a program after SIGKILL", || {
        starts(&units, seen)
    });
    seen += 1;
    candidates.start(&leader.identity);
    leader = next;
    std::thread::sleep(WORK);

    // SIGKILL of the program: its elector releases and exits with 128 + 9,
    // and the other one's program starts.
    let killed_at = monotonic_ns();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(leader.pid), Signal::SIGKILL).unwrap();
    deaths.insert(leader.pid, killed_at);
    let mut elector = candidates.electors.remove(&leader.identity).unwrap();
    let status = wait(&mut elector, Duration::from_secs(20));
    assert_eq!(
        status.code(),
        Some(137),
        "elector exits with its program's status"
    );
    eventually(
        Duration::from_secs(20),
        "a program after the program's SIGKILL",
        || starts(&units, seen),
    );

    for (_, mut elector) in std::mem::take(&mut candidates.electors) {
        signal(&elector, Signal::SIGTERM);
        assert!(wait(&mut elector, Duration::from_secs(20)).success());
    }
    check_no_overlap(&lines(&units), &deaths);
    let _ = std::fs::remove_dir_all(&dir);
}

/// No two programs' units of work overlap. A unit a program never ended
/// lasts until that program's death.
fn check_no_overlap(lines: &[Line], deaths: &BTreeMap<i32, i64>) {
    let mut units: Vec<(i64, i64, i32)> = Vec::new();
    let mut open: BTreeMap<i32, i64> = BTreeMap::new();
    for line in lines {
        match line.kind.as_str() {
            "begin" => {
                open.insert(line.pid, line.at);
            }
            "end" => {
                let begin = open.remove(&line.pid).expect("an end after its begin");
                units.push((begin, line.at, line.pid));
            }
            _ => {}
        }
    }
    for (pid, begin) in open {
        let death = deaths
            .get(&pid)
            .unwrap_or_else(|| panic!("program {pid} left a unit open and did not die"));
        units.push((begin, *death, pid));
    }
    units.sort();
    assert!(units.len() > 20, "only {} units of work", units.len());
    let programs: std::collections::BTreeSet<i32> = units.iter().map(|unit| unit.2).collect();
    assert!(programs.len() >= 4, "only {} programs ran", programs.len());
    // Sorted by begin: each unit must begin after every other program's
    // units that began before it have ended.
    let mut latest_end: BTreeMap<i32, i64> = BTreeMap::new();
    for &(begin, end, pid) in &units {
        for (&other, &other_end) in &latest_end {
            assert!(
                other == pid || other_end < begin,
                "program {pid}'s unit began at {begin} before program {other}'s ended at {other_end}"
            );
        }
        let latest = latest_end.entry(pid).or_insert(end);
        *latest = (*latest).max(end);
    }
    eprintln!(
        "{} units of work by {} programs, none overlapping",
        units.len(),
        programs.len()
    );
}

/// A program that ignores SIGTERM and says it is alive every 10 ms.
const STUBBORN: &str = r#"
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    with open(sys.argv[1], "a") as f:
        f.write(f"{time.monotonic_ns()}\n")
    time.sleep(0.01)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_program_that_ignores_sigterm_is_killed_after_the_grace_period_then_released() {
    let dir = scratch("cli-grace");
    let script = dir.join("stubborn.py");
    std::fs::write(&script, STUBBORN).unwrap();
    let alive_file = dir.join("alive");
    let lease = unique_name("cli-grace");
    let mut args: Vec<&str> = FAST.to_vec();
    let (script, alive_path) = (
        script.display().to_string(),
        alive_file.display().to_string(),
    );
    args.extend(["--grace", "1s", "--", "python3", &script, &alive_path]);
    let mut elector = elector(&dir, "run", &lease, "grace-a", &args);
    let mut cleanup = Cleanup::default();
    cleanup.add(&elector);
    let stamps = |path: &Path| -> Vec<i64> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.parse().ok())
            .collect()
    };
    eventually(Duration::from_secs(20), "the program", || {
        (!stamps(&alive_file).is_empty()).then_some(())
    });
    let leases: Api<Lease> = Api::namespaced(cluster().client(User::Admin).await, "default");
    let sigterm_at = monotonic_ns();
    signal(&elector, Signal::SIGTERM);
    // The release, as the API server shows it, polled every 5 ms.
    let released_at = loop {
        let lease = leases.get(&lease).await.unwrap();
        let holder = lease.spec.and_then(|spec| spec.holder_identity);
        if holder.unwrap_or_default().is_empty() {
            break monotonic_ns();
        }
        assert!(
            monotonic_ns() - sigterm_at < 20_000_000_000,
            "no release within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(wait(&mut elector, Duration::from_secs(20)).success());
    let last_alive = *stamps(&alive_file).last().unwrap();
    let lived = Duration::from_nanos((last_alive - sigterm_at) as u64);
    eprintln!(
        "the program lived {lived:?} after SIGTERM; released {:?} after its last sign of life",
        Duration::from_nanos((released_at - last_alive) as u64)
    );
    assert!(
        lived >= Duration::from_millis(900),
        "killed after {lived:?}, before the 1 s grace"
    );
    assert!(
        released_at > last_alive,
        "the lease was released while the program still ran"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--once`: one term, then elector releases and exits with the program's
/// status; `--on-exit stay` leads on without the program; `--on-exit
/// restart` starts it again.
#[test]
fn what_happens_when_the_program_exits_on_its_own() {
    let dir = scratch("cli-exit");
    let marks = dir.join("marks");
    let mark = format!("echo started >> {}; exit 3", marks.display());
    let started = || {
        std::fs::read_to_string(&marks)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let mut cleanup = Cleanup::default();

    let mut once = elector(
        &dir,
        "run",
        &unique_name("cli-once"),
        "once-a",
        &[FAST, &["--once", "--", "sh", "-c", &mark]].concat(),
    );
    cleanup.add(&once);
    assert_eq!(wait(&mut once, Duration::from_secs(20)).code(), Some(3));
    assert_eq!(started(), 1);

    let port = free_port();
    let http = format!("127.0.0.1:{port}");
    let mut stay = elector(
        &dir,
        "run",
        &unique_name("cli-stay"),
        "stay-a",
        &[
            FAST,
            &[
                "--on-exit",
                "stay",
                "--http",
                &http,
                "--",
                "sh",
                "-c",
                &mark,
            ],
        ]
        .concat(),
    );
    cleanup.add(&stay);
    eventually(Duration::from_secs(20), "the program ran", || {
        (started() == 2).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        get(port, "/readyz").0,
        200,
        "still leading without the program"
    );
    assert_eq!(started(), 2, "not started again");
    signal(&stay, Signal::SIGTERM);
    assert!(wait(&mut stay, Duration::from_secs(20)).success());

    let mut restart = elector(
        &dir,
        "run",
        &unique_name("cli-restart"),
        "restart-a",
        &[FAST, &["--on-exit", "restart", "--", "sh", "-c", &mark]].concat(),
    );
    cleanup.add(&restart);
    eventually(Duration::from_secs(20), "the program restarted", || {
        (started() >= 4).then_some(())
    });
    signal(&restart, Signal::SIGTERM);
    assert!(wait(&mut restart, Duration::from_secs(20)).success());
    let _ = std::fs::remove_dir_all(&dir);
}
