//! `elector`: leader election for programs in any language.
//!
//! `elector run -- CMD` runs CMD only while this process leads the lease;
//! `elector sidecar` tells the pod who leads over HTTP. Both campaign with
//! the engine every binding uses, and take a flag (and an `ELECTOR_*`
//! variable) for every core option.

mod child;
mod http;
mod options;
mod run;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use elector_core::Elector;
use tracing::{error, info};

use crate::child::Program;
use crate::options::{Election, duration};
use crate::run::{OnExit, Policy, StopSignals};

/// Status for a bad flag or value, as clap uses.
const USAGE_ERROR: u8 = 2;

const EXAMPLES: &str = "\
Examples:
  # Run a job on exactly one replica; the next one starts once it has exited.
  elector run --lease nightly-report -- ./report.sh

  # In a pod (POD_NAME and POD_NAMESPACE from the downward API):
  elector run --lease my-app --grace 30s -- python worker.py

  # Tell the pod who leads, on 127.0.0.1:4040:
  elector sidecar --lease my-app

Every election flag can also be set as ELECTOR_<FLAG> (ELECTOR_LEASE,
ELECTOR_LEASE_DURATION=15s, ELECTOR_LABELS=app=web,tier=db, ...).
Logs: ELECTOR_LOG (a tracing filter); JSON lines unless stderr is a terminal.";

#[derive(Debug, Parser)]
#[command(name = "elector", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Run a program only while this process leads the lease.
    #[command(after_help = EXAMPLES)]
    Run {
        #[command(flatten)]
        election: Election,
        /// How long the program has to exit after SIGTERM before SIGKILL.
        #[arg(long, env = "ELECTOR_GRACE", default_value = "10s", value_parser = duration)]
        grace: Duration,
        /// What to do when the program exits on its own while leading.
        #[arg(long, env = "ELECTOR_ON_EXIT", value_enum, default_value_t = OnExit::Release)]
        on_exit: OnExit,
        /// Exit after one term instead of campaigning again.
        #[arg(long, env = "ELECTOR_ONCE")]
        once: bool,
        /// Also serve the sidecar's endpoints on this address.
        #[arg(long, env = "ELECTOR_HTTP")]
        http: Option<SocketAddr>,
        /// With --http: how far past the lease duration /healthz tolerates
        /// a leader that has not renewed.
        #[arg(long, env = "ELECTOR_TOLERANCE", default_value = "0s", value_parser = duration)]
        tolerance: Duration,
        /// The program and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Serve who leads over HTTP: /, /healthz, /readyz, /metrics, /events.
    #[command(after_help = EXAMPLES)]
    Sidecar {
        #[command(flatten)]
        election: Election,
        /// The address to serve on (loopback unless you mean otherwise).
        #[arg(long, env = "ELECTOR_HTTP", default_value = "127.0.0.1:4040")]
        http: SocketAddr,
        /// How far past the lease duration /healthz tolerates a leader
        /// that has not renewed.
        #[arg(long, env = "ELECTOR_TOLERANCE", default_value = "0s", value_parser = duration)]
        tolerance: Duration,
    },
}

/// How much longer than `--grace` a stopping leader keeps its lease by
/// default: the program's last moments, then the release.
const STOP_MARGIN: Duration = Duration::from_secs(5);

/// The engine keeps a stopping leader's lease (renewing it) for
/// `stop_timeout`, then leaves it to expire: that must outlast the
/// program's grace, or another leader could start beside it. Unset, it is
/// `--grace` + 5 s; set, it must exceed `--grace`.
fn keep_the_lease_through_the_grace(
    election: &mut Election,
    grace: Duration,
) -> Result<(), String> {
    match election.options.stop_timeout {
        None => {
            election.options.stop_timeout = Some(grace + STOP_MARGIN);
            Ok(())
        }
        Some(stop_timeout) if stop_timeout <= grace => Err(format!(
            "invalid --stop-timeout: must be greater than --grace ({grace:?}), so that the lease \
             outlasts the program's stop; received {stop_timeout:?}"
        )),
        Some(_) => Ok(()),
    }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ELECTOR_LOG")
        // The engine's own info lines would repeat elector's.
        .unwrap_or_else(|_| "warn,elector=info,elector_core=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        logs.init();
    } else {
        logs.json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    }
}

// One thread: the program is forked from it, and its parent-death signal
// follows that thread (see child.rs). The engine runs on its own runtime.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    init_logs();
    let (election, http, tolerance) = match &mut cli.mode {
        Mode::Run {
            election,
            http,
            tolerance,
            grace,
            ..
        } => {
            if let Err(message) = keep_the_lease_through_the_grace(election, *grace) {
                eprintln!("error: {message}");
                return ExitCode::from(USAGE_ERROR);
            }
            (&*election, *http, *tolerance)
        }
        Mode::Sidecar {
            election,
            http,
            tolerance,
        } => (&*election, Some(*http), *tolerance),
    };
    let config = match election.config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    let signals = match StopSignals::new() {
        Ok(signals) => signals,
        Err(err) => return fail(format!("cannot handle signals: {err}")),
    };
    let elector = Elector::new(config);
    let publisher = match http {
        Some(address) => match http::bind(address, elector.clone(), tolerance).await {
            Ok((server, publisher)) => {
                info!(%address, "serving /, /healthz, /readyz, /metrics and /events");
                tokio::spawn(async move {
                    if let Err(err) = server.await {
                        error!("the HTTP server stopped: {err}");
                    }
                });
                Some(publisher)
            }
            Err(err) => {
                eprintln!("error: invalid --http: cannot listen on {address}: {err}");
                return ExitCode::from(USAGE_ERROR);
            }
        },
        None => None,
    };
    let events = match elector.events() {
        Ok(events) => events,
        Err(err) => return fail(err.to_string()),
    };
    if let Err(err) = elector.start().await {
        return fail(err.to_string());
    }
    let status = match cli.mode {
        Mode::Run {
            grace,
            on_exit,
            once,
            command,
            ..
        } => {
            let config = elector.config();
            let policy = Policy {
                program: Program {
                    command,
                    lease: config.lease_name().to_string(),
                    identity: config.identity().to_string(),
                },
                grace,
                on_exit,
                once,
            };
            run::run(elector, events, policy, publisher, signals).await
        }
        Mode::Sidecar { .. } => sidecar(elector, events, publisher, signals).await,
    };
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// The sidecar's loop: events to `/events` and the log; a loss is
/// acknowledged at once (the sidecar runs no leader work of its own).
async fn sidecar(
    elector: Elector,
    mut events: elector_core::EventStream,
    publisher: Option<http::Publisher>,
    mut signals: StopSignals,
) -> i32 {
    let mut followed = None;
    let mut stopping = false;
    loop {
        tokio::select! {
            name = signals.recv(), if !stopping => {
                info!("{name}: stopping");
                stopping = true;
                elector.request_stop();
            }
            event = events.recv() => {
                let Some(event) = event else { break };
                if let Some(publisher) = &publisher {
                    publisher.publish(&event);
                }
                match &event {
                    elector_core::Event::Acquired { term, .. } => info!(term, "leading"),
                    elector_core::Event::Lost { reason, .. } => info!(%reason, "lost the lease"),
                    elector_core::Event::LeaderChanged { leader, .. } => {
                        run::follow(&mut followed, leader.as_deref(), elector.config().identity());
                    }
                    // The engine warns once per kind of error.
                    elector_core::Event::Error { kind, message } => tracing::debug!(%kind, "{message}"),
                    elector_core::Event::Stopped => break,
                    _ => {}
                }
            }
        }
    }
    0
}

fn fail(message: String) -> ExitCode {
    error!("{message}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};
    use elector_core::Field;

    use super::*;
    use crate::options::flag;

    /// Parses `elector run <args> -- true` and builds its configuration:
    /// the error's text, if any. The environment is ignored (tests/run sets
    /// ELECTOR_KUBECONFIG, which is also --kubeconfig's variable).
    fn refused(args: &[&str]) -> Option<String> {
        let argv = ["elector", "run", "--lease", "l", "--identity", "i"]
            .iter()
            .chain(args)
            .chain(&["--", "true"]);
        let command = Cli::command().mut_subcommand("run", |run| {
            run.mut_args(|arg| arg.env(clap::builder::Resettable::Reset))
        });
        let parsed = command
            .try_get_matches_from(argv)
            .and_then(|matches| Cli::from_arg_matches(&matches));
        match parsed {
            Err(err) => Some(err.to_string()),
            Ok(Cli {
                mode: Mode::Run { election, .. },
            }) => election.config().err(),
            Ok(_) => unreachable!("a run was parsed"),
        }
    }

    #[test]
    fn both_modes_have_a_flag_for_every_core_option() {
        let command = Cli::command();
        for mode in ["run", "sidecar"] {
            let mode = command.find_subcommand(mode).unwrap();
            for field in Field::all() {
                assert!(
                    mode.get_arguments()
                        .any(|arg| arg.get_long() == Some(flag(field))),
                    "{}: no --{}",
                    mode.get_name(),
                    flag(field)
                );
            }
        }
    }

    #[test]
    fn every_core_option_refuses_a_bad_value_naming_its_flag() {
        let cases: &[(Field, &[&str])] = &[
            (Field::Namespace, &["--namespace", "Bad_NS"]),
            (Field::LeaseName, &["--lease=-bad"]),
            (Field::Identity, &["--identity", "a\nb"]),
            (Field::LeaseDuration, &["--lease-duration", "banana"]),
            (Field::LeaseDuration, &["--lease-duration", "1500ms"]),
            (Field::RenewDeadline, &["--renew-deadline", "1s"]),
            (Field::RetryPeriod, &["--retry-period", "1ms"]),
            (Field::ReleaseOnStop, &["--release-on-stop=maybe"]),
            (Field::ReleaseTimeout, &["--release-timeout", "0s"]),
            (Field::StopTimeout, &["--stop-timeout", "0s"]),
            (Field::Labels, &["--label", "novalue"]),
            (Field::Labels, &["--label", "bad key=v"]),
            (
                Field::OwnerReferenceApiVersion,
                &[
                    "--owner-kind",
                    "Pod",
                    "--owner-name",
                    "p",
                    "--owner-uid",
                    "u",
                ],
            ),
            (
                Field::OwnerReferenceKind,
                &[
                    "--owner-api-version",
                    "v1",
                    "--owner-name",
                    "p",
                    "--owner-uid",
                    "u",
                ],
            ),
            (
                Field::OwnerReferenceName,
                &[
                    "--owner-api-version",
                    "v1",
                    "--owner-kind",
                    "Pod",
                    "--owner-uid",
                    "u",
                ],
            ),
            (
                Field::OwnerReferenceUid,
                &[
                    "--owner-api-version",
                    "v1",
                    "--owner-kind",
                    "Pod",
                    "--owner-name",
                    "p",
                ],
            ),
            (
                Field::Kubeconfig,
                &["--kubeconfig", "/k", "--url", "https://k"],
            ),
            (Field::Context, &["--context", ""]),
            (Field::Url, &["--url", "ftp://k"]),
            (Field::Token, &["--token", "t"]),
            (
                Field::TokenFile,
                &["--url", "https://k", "--token", "t", "--token-file", "/t"],
            ),
            (Field::CaFile, &["--ca-file", "/ca"]),
            (
                Field::InsecureSkipTlsVerify,
                &["--insecure-skip-tls-verify"],
            ),
        ];
        for (field, args) in cases {
            let message = refused(args).unwrap_or_else(|| panic!("{args:?} was accepted"));
            assert!(
                message.contains(&format!("--{}", flag(*field))),
                "{args:?}: {message}"
            );
        }
        for field in Field::all() {
            assert!(
                cases.iter().any(|(covered, _)| *covered == field),
                "no invalid case for --{}",
                flag(field)
            );
        }
        assert_eq!(refused(&[]), None);
    }
}
