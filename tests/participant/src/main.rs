//! Our elector as a participant of the benchmarks and the chaos suite:
//! `--count` electors in one process, with client-go's timings by default.
//!
//! Every event is one line on stdout, in the format all participants share:
//!
//! ```text
//! <CLOCK_MONOTONIC ns> <elector index> <event> [detail]
//! ```
//!
//! with the events `started`, `acquired`, `lost`, `identity_conflict` and
//! `stopped`. SIGTERM stops every elector (releasing held leases), prints
//! each one's API requests (`requests total=N ...`) and exits.
//!
//! `--verbose` also prints `leader <identity>` when the observed leader
//! changes (`leader (none)` when there is none) and `error <kind> <message>`
//! for the API errors the elector rides out: the demo shows them.
//!
//! `--work lead` does leader work through `Elector::lead`: units of up to
//! 10 ms of CPU and an await of up to 100 ms, each printed as `unit_begin`
//! and `unit_end`. `--work events` does the same units in the idiom of hosts
//! without `lead` (check `is_leader()`, then run a unit), which the
//! acknowledged handover cannot protect: the chaos suite shows the
//! difference.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use elector_core::{Config, Connection, Elector, ErrorKind, Event};
use futures::future::join_all;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: elector-participant --kubeconfig FILE --lease NAME --identity ID \
[--context elector] [--namespace default] [--count 1] [--distinct-leases] [--first-index 0] \
[--lease-duration-ms 15000] [--renew-deadline-ms 10000] [--retry-period-ms 2000] \
[--work none|lead|events] [--verbose]";

/// Leader work: how a participant runs its units, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    None,
    Lead,
    Events,
}

/// A unit of leader work: up to this much CPU, then up to this much await
/// (as a database call would).
const UNIT_CPU: Duration = Duration::from_millis(10);
const UNIT_AWAIT: Duration = Duration::from_millis(100);

#[derive(Debug)]
struct Options {
    kubeconfig: PathBuf,
    context: String,
    namespace: String,
    lease: String,
    identity: String,
    count: usize,
    distinct_leases: bool,
    /// With `--distinct-leases`, elector `i` takes lease `<lease>-<first_index + i>`.
    first_index: usize,
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
    work: Work,
    verbose: bool,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options> {
        let mut options = Options {
            kubeconfig: PathBuf::new(),
            context: "elector".into(),
            namespace: "default".into(),
            lease: String::new(),
            identity: String::new(),
            count: 1,
            distinct_leases: false,
            first_index: 0,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            work: Work::None,
            verbose: false,
        };
        while let Some(flag) = args.next() {
            // Switches first; every other flag takes a value.
            let switch = match flag.as_str() {
                "--distinct-leases" => Some(&mut options.distinct_leases),
                "--verbose" => Some(&mut options.verbose),
                _ => None,
            };
            if let Some(switch) = switch {
                *switch = true;
                continue;
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let millis = || -> Result<Duration> { Ok(Duration::from_millis(value.parse()?)) };
            match flag.as_str() {
                "--kubeconfig" => options.kubeconfig = value.into(),
                "--context" => options.context = value,
                "--namespace" => options.namespace = value,
                "--lease" => options.lease = value,
                "--identity" => options.identity = value,
                "--count" => options.count = value.parse()?,
                "--first-index" => options.first_index = value.parse()?,
                "--lease-duration-ms" => options.lease_duration = millis()?,
                "--renew-deadline-ms" => options.renew_deadline = millis()?,
                "--retry-period-ms" => options.retry_period = millis()?,
                "--work" => {
                    options.work = match value.as_str() {
                        "none" => Work::None,
                        "lead" => Work::Lead,
                        "events" => Work::Events,
                        other => {
                            return Err(
                                format!("--work: none, lead or events, not {other:?}").into()
                            );
                        }
                    }
                }
                _ => return Err(format!("unknown option {flag}\n{USAGE}").into()),
            }
        }
        if options.lease.is_empty() || options.identity.is_empty() || options.count == 0 {
            return Err(USAGE.into());
        }
        Ok(options)
    }

    /// The config of elector `index`: with more than one, identities get
    /// the index as a suffix; with `--distinct-leases`, leases get
    /// `first_index + index`.
    fn config(&self, index: usize) -> Result<Config> {
        let lease = match self.distinct_leases {
            true => format!("{}-{}", self.lease, self.first_index + index),
            false => self.lease.clone(),
        };
        let identity = match self.count > 1 {
            true => format!("{}-{index}", self.identity),
            false => self.identity.clone(),
        };
        let config = Config::builder(&self.namespace, lease, identity)
            .connection(Connection::Kubeconfig {
                path: Some(self.kubeconfig.clone()),
                context: Some(self.context.clone()),
            })
            .lease_duration(self.lease_duration)
            .renew_deadline(self.renew_deadline)
            .retry_period(self.retry_period)
            .build()?;
        Ok(config)
    }
}

/// Nanoseconds on the machine's monotonic clock, which every participant
/// and the checker share.
fn monotonic_ns() -> u128 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

/// One unit of leader work, stamped as it begins and ends.
async fn unit(index: usize, term: i32) {
    print(monotonic_ns(), index, "unit_begin", &format!("term={term}"));
    let cpu = UNIT_CPU.mul_f64(random_fraction());
    let busy_until = std::time::Instant::now() + cpu;
    while std::time::Instant::now() < busy_until {
        std::hint::spin_loop();
    }
    tokio::time::sleep(UNIT_AWAIT.mul_f64(random_fraction())).await;
    print(monotonic_ns(), index, "unit_end", "");
}

/// A fraction in [0, 1) from the clock's low bits: enough to vary the units.
fn random_fraction() -> f64 {
    let mut x = monotonic_ns() as u64 | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x % 1_000_000) as f64 / 1_000_000.0
}

fn print(at: u128, index: usize, event: &str, detail: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout means the harness is gone; nothing left to tell.
    let _ = writeln!(out, "{at} {index} {event} {detail}");
    let _ = out.flush();
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let options = Options::parse(std::env::args().skip(1))?;
    let mut terminate = signal(SignalKind::terminate())?;

    let (sender, mut events) = mpsc::unbounded_channel();
    let mut electors = Vec::with_capacity(options.count);
    for index in 0..options.count {
        let elector = Elector::new(options.config(index)?);
        let sender = sender.clone();
        if options.work == Work::Lead {
            // The events go to the printing loop as inert clones: `lead`
            // keeps each Lost's acknowledgement until the work returns.
            let observe = move |event: &Event| {
                let _ = sender.send((monotonic_ns(), index, event.clone()));
            };
            let leading = elector.lead_observing(
                move |leadership| async move {
                    while !leadership.is_lost() {
                        unit(index, leadership.term()).await;
                    }
                    Ok::<(), std::convert::Infallible>(())
                },
                observe,
            )?;
            tokio::spawn(leading);
        } else {
            let mut stream = elector.events()?;
            tokio::spawn(async move {
                // Stamped on arrival: the printing loop may run later.
                while let Some(event) = stream.recv().await {
                    let _ = sender.send((monotonic_ns(), index, event));
                }
            });
        }
        if options.work == Work::Events {
            let elector = elector.clone();
            tokio::spawn(async move {
                loop {
                    match elector.is_leader() {
                        true => unit(index, elector.term().unwrap_or_default()).await,
                        false => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            });
        }
        electors.push(elector);
    }
    drop(sender);
    for (index, elector) in electors.iter().enumerate() {
        print(monotonic_ns(), index, "started", "");
        elector.start().await?;
    }

    // Each stream ends after its `Stopped`, so printing ends once all have.
    let printing = async {
        while let Some((at, index, event)) = events.recv().await {
            match event {
                Event::Acquired { term, .. } => {
                    print(at, index, "acquired", &format!("term={term}"))
                }
                Event::Lost { reason, .. } => print(at, index, "lost", &format!("reason={reason}")),
                // The chaos suite's identity collision looks for this one.
                Event::Error {
                    kind: ErrorKind::IdentityConflict,
                    ..
                } => print(at, index, "identity_conflict", ""),
                Event::Stopped => print(at, index, "stopped", ""),
                Event::LeaderChanged { leader, .. } if options.verbose => {
                    print(at, index, "leader", leader.as_deref().unwrap_or("(none)"))
                }
                Event::Error { kind, message } if options.verbose => {
                    // One event per line, whatever the message holds.
                    let message = message.replace(['\n', '\r'], " ");
                    print(at, index, "error", &format!("{kind} {message}"))
                }
                _ => {}
            }
        }
    };
    tokio::pin!(printing);
    tokio::select! {
        _ = &mut printing => return Ok(()),
        _ = terminate.recv() => {}
    }
    tokio::join!(join_all(electors.iter().map(Elector::stop)), printing);
    // What each elector asked of the API server over its life: the chaos
    // suite's 410 storm bounds it.
    for (index, elector) in electors.iter().enumerate() {
        let stats = elector.stats();
        let detail = format!(
            "total={} gets={} creates={} updates={} watches={} watch_restarts={} conflicts={} renewals={}",
            stats.requests(),
            stats.gets,
            stats.creates,
            stats.updates,
            stats.watches,
            stats.watch_restarts,
            stats.conflicts,
            stats.renewals
        );
        print(monotonic_ns(), index, "requests", &detail);
    }
    Ok(())
}
