//! The README's main job: an election among three candidate processes on the
//! local control plane, shown as it happens. The leader is stopped gracefully
//! (measured handover), then the next leader is killed with SIGKILL (measured
//! failover), and the standbys' load on the API server is read from both
//! their own counters and the API server's `/metrics`.
//!
//! Run it with `tests/demo`, which starts the control plane first. By hand:
//!
//! ```text
//! cargo build --release -p elector-participant
//! ELECTOR_KUBECONFIG=$(tests/cluster/up | tail -1) target/release/demo
//! ```
//!
//! Each candidate is `elector-participant` (beside this binary), the same
//! program the benchmarks and the chaos suite run, with `--verbose`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// How long the demo watches the standbys at rest to measure their load.
const STEADY_STATE: Duration = Duration::from_secs(20);
/// How long the demo measures the API server's own lease traffic first.
const BASELINE: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> Result<()> {
    match std::env::args().nth(1) {
        None => orchestrate().await,
        Some(other) => Err(format!("unknown argument {other:?}; the demo takes none").into()),
    }
}

fn kubeconfig() -> Result<PathBuf> {
    std::env::var_os("ELECTOR_KUBECONFIG")
        .map(PathBuf::from)
        .ok_or_else(|| "set ELECTOR_KUBECONFIG (tests/demo does)".into())
}

/// The candidate program, built beside this one.
fn participant() -> Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name("elector-participant");
    match path.exists() {
        true => Ok(path),
        false => Err(format!(
            "{} is missing: cargo build -p elector-participant builds it",
            path.display()
        )
        .into()),
    }
}

/// A line a candidate printed, and when the orchestrator read it.
struct Line {
    identity: String,
    text: String,
    at: Instant,
}

struct Demo {
    started: Instant,
    lines: mpsc::UnboundedReceiver<Line>,
    sender: mpsc::UnboundedSender<Line>,
    children: BTreeMap<String, Child>,
    lease: String,
    stats: BTreeMap<String, String>,
}

impl Demo {
    fn spawn(&mut self, identity: &str) -> Result<()> {
        let log = std::env::temp_dir().join(format!("elector-demo-{identity}.log"));
        let kubeconfig = kubeconfig()?;
        let mut child = Command::new(participant()?)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--lease", &self.lease, "--identity", identity, "--verbose"])
            // The engine's info lines (acquired, released, ...) in its log.
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let sender = self.sender.clone();
        let id = identity.to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // `<monotonic ns> <index> <event> [detail]`: the event on.
                let text = line
                    .splitn(3, ' ')
                    .nth(2)
                    .unwrap_or(&line)
                    .trim_end()
                    .to_string();
                let _ = sender.send(Line {
                    identity: id.clone(),
                    text,
                    at: Instant::now(),
                });
            }
        });
        self.say(&format!(
            "started {identity} (pid {}, log {})",
            child.id().unwrap_or(0),
            log.display()
        ));
        self.children.insert(identity.to_string(), child);
        Ok(())
    }

    fn say(&self, text: &str) {
        println!("[{:6.2}s] {text}", self.started.elapsed().as_secs_f64());
    }

    fn show(&mut self, line: &Line) {
        if let Some(stats) = line.text.strip_prefix("requests ") {
            self.stats.insert(line.identity.clone(), stats.to_string());
            return;
        }
        println!(
            "[{:6.2}s]   {}: {}",
            line.at.duration_since(self.started).as_secs_f64(),
            line.identity,
            line.text
        );
    }

    /// Shows lines until one says "acquired"; returns who and when.
    async fn next_leader(&mut self, limit: Duration) -> Result<(String, Instant)> {
        let deadline = Instant::now() + limit;
        loop {
            let line = timeout(deadline - Instant::now(), self.lines.recv())
                .await
                .map_err(|_| format!("no leader within {limit:?}"))?
                .ok_or("all candidates exited")?;
            self.show(&line);
            if line.text.starts_with("acquired") {
                return Ok((line.identity, line.at));
            }
        }
    }

    /// Shows whatever arrives for `period`.
    async fn watch_for(&mut self, period: Duration) {
        let until = Instant::now() + period;
        while let Ok(Some(line)) = timeout(until - Instant::now(), self.lines.recv()).await {
            self.show(&line);
        }
    }

    async fn signal(&mut self, identity: &str, signal: &str) -> Result<()> {
        let pid = self.children[identity].id().ok_or("child already reaped")?;
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .await?;
        if !status.success() {
            return Err(format!("kill -{signal} {pid} failed").into());
        }
        Ok(())
    }

    /// Waits for a child to exit, showing its last lines.
    async fn reap(&mut self, identity: &str) -> Result<()> {
        let mut child = self.children.remove(identity).expect("known child");
        let status = timeout(Duration::from_secs(20), child.wait()).await??;
        // Let its reader deliver the last lines.
        self.watch_for(Duration::from_millis(200)).await;
        self.say(&format!("{identity} exited ({status})"));
        Ok(())
    }
}

/// Lease requests per second by verb, and open lease watches.
#[derive(Debug, Default)]
struct Traffic {
    per_second: BTreeMap<String, f64>,
    open_watches: f64,
}

impl Traffic {
    fn between(
        before: &BTreeMap<String, f64>,
        after: &BTreeMap<String, f64>,
        period: Duration,
        open_watches: f64,
    ) -> Traffic {
        let per_second = after
            .iter()
            .map(|(verb, total)| {
                let delta = total - before.get(verb).unwrap_or(&0.0);
                (verb.clone(), delta / period.as_secs_f64())
            })
            .collect();
        Traffic {
            per_second,
            open_watches,
        }
    }

    fn minus(&self, baseline: &Traffic) -> Traffic {
        let per_second = self
            .per_second
            .iter()
            .map(|(verb, rate)| {
                let base = baseline.per_second.get(verb).unwrap_or(&0.0);
                (verb.clone(), (rate - base).max(0.0))
            })
            .collect();
        Traffic {
            per_second,
            open_watches: (self.open_watches - baseline.open_watches).max(0.0),
        }
    }
}

impl std::fmt::Display for Traffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for verb in ["GET", "PUT", "POST", "LIST"] {
            let rate = self.per_second.get(verb).unwrap_or(&0.0);
            write!(f, "{verb} {rate:.2}/s, ")?;
        }
        write!(f, "open watches {}", self.open_watches)
    }
}

/// The lease traffic the API server serves over `period`.
async fn lease_traffic(admin: &kube::Client, period: Duration) -> Result<Traffic> {
    let (before, _) = lease_metrics(admin).await?;
    sleep(period).await;
    let (after, open_watches) = lease_metrics(admin).await?;
    Ok(Traffic::between(&before, &after, period, open_watches))
}

/// Lease requests the API server has served, by verb, and its open watches
/// on leases, from its own `/metrics`.
async fn lease_metrics(admin: &kube::Client) -> Result<(BTreeMap<String, f64>, f64)> {
    let text = admin
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await?;
    let mut by_verb = BTreeMap::new();
    let mut watches = 0.0;
    for line in text.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if !series.contains("resource=\"leases\"") {
            continue;
        }
        let value: f64 = value.parse().unwrap_or(0.0);
        let verb = label(series, "verb").unwrap_or_default();
        if series.starts_with("apiserver_request_total{") {
            *by_verb.entry(verb).or_insert(0.0) += value;
        } else if series.starts_with("apiserver_longrunning_requests{") && verb == "WATCH" {
            watches += value;
        }
    }
    Ok((by_verb, watches))
}

fn label(series: &str, name: &str) -> Option<String> {
    let start = series.find(&format!("{name}=\""))? + name.len() + 2;
    let end = series[start..].find('"')? + start;
    Some(series[start..end].to_string())
}

async fn orchestrate() -> Result<()> {
    let kubeconfig = kubeconfig()?;
    let admin = {
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig)?;
        let options = kube::config::KubeConfigOptions {
            context: Some("admin".into()),
            ..Default::default()
        };
        kube::Client::try_from(kube::Config::from_custom_kubeconfig(kc, &options).await?)?
    };
    let (sender, lines) = mpsc::unbounded_channel();
    let mut demo = Demo {
        started: Instant::now(),
        lines,
        sender,
        children: BTreeMap::new(),
        lease: format!("demo-{:06x}", rand_suffix()),
        stats: BTreeMap::new(),
    };
    let lease_duration = elector_core::DEFAULT_LEASE_DURATION;
    demo.say(&format!(
        "election on lease default/{} with client-go's timings (lease 15 s, renew deadline 10 s, retry 2 s)",
        demo.lease
    ));
    // The API server renews and watches leases of its own (kube-system):
    // measure that first, so only the candidates' traffic is reported.
    demo.say(&format!(
        "measuring the API server's own lease traffic for {} s before any candidate starts",
        BASELINE.as_secs()
    ));
    let baseline = lease_traffic(&admin, BASELINE).await?;
    for identity in ["candidate-a", "candidate-b", "candidate-c"] {
        demo.spawn(identity)?;
    }
    let (first, _) = demo.next_leader(Duration::from_secs(30)).await?;
    demo.say(&format!("==> {first} leads"));

    demo.watch_for(Duration::from_secs(2)).await;
    demo.say(&format!(
        "measuring the API server's lease traffic for {} s: one leader, two standbys",
        STEADY_STATE.as_secs()
    ));
    let (before, _) = lease_metrics(&admin).await?;
    demo.watch_for(STEADY_STATE).await;
    let (after, open_watches) = lease_metrics(&admin).await?;
    let traffic = Traffic::between(&before, &after, STEADY_STATE, open_watches);
    let steady = traffic.minus(&baseline).to_string();
    demo.say(&format!(
        "API server lease requests from the candidates: {steady}"
    ));
    demo.say("  (the leader renews with one PUT per retry period; standbys only hold a watch)");

    demo.say(&format!(
        "==> graceful stop of {first} (SIGTERM): it releases the lease"
    ));
    let stop_sent = Instant::now();
    demo.signal(&first, "TERM").await?;
    let (second, at) = demo.next_leader(Duration::from_secs(30)).await?;
    let handover = at.duration_since(stop_sent);
    demo.say(&format!(
        "==> {second} leads: handover took {:.0} ms",
        handover.as_secs_f64() * 1000.0
    ));
    demo.reap(&first).await?;

    demo.watch_for(Duration::from_secs(3)).await;
    demo.say(&format!(
        "==> hard kill of {second} (SIGKILL): no release, the lease must expire"
    ));
    let kill_sent = Instant::now();
    demo.signal(&second, "KILL").await?;
    let (third, at) = demo.next_leader(lease_duration * 3).await?;
    let failover = at.duration_since(kill_sent);
    demo.say(&format!(
        "==> {third} leads: failover took {:.2} s ({:+.2} s against the {} s lease duration)",
        failover.as_secs_f64(),
        failover.as_secs_f64() - lease_duration.as_secs_f64(),
        lease_duration.as_secs()
    ));
    demo.reap(&second).await?;

    demo.say("stopping the last candidate");
    demo.signal(&third, "TERM").await?;
    demo.reap(&third).await?;

    println!();
    println!("Summary");
    println!(
        "  handover after a graceful stop: {:.0} ms",
        handover.as_secs_f64() * 1000.0
    );
    println!(
        "  failover after SIGKILL:         {:.2} s (lease duration {} s)",
        failover.as_secs_f64(),
        lease_duration.as_secs()
    );
    println!("  steady state at the API server: {steady}");
    println!("  each candidate's own API requests over its lifetime:");
    for (identity, stats) in &demo.stats {
        println!("    {identity}: {stats}");
    }
    Ok(())
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32))
        & 0xff_ffff
}
