//! `elector run`: the program runs only while this process leads.
//!
//! On `acquired` the program starts; on `lost` its group is stopped and the
//! loss acknowledged only once it has exited, so the lease is released (or
//! campaigned for again) after the program is gone: the next leader's
//! program never starts beside this one. A signal to elector stops the
//! program the same way, releases, and exits.

use std::time::Duration;

use clap::ValueEnum;
use elector_core::{Elector, Event, EventStream};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::{Instant, sleep};
use tracing::{error, info, warn};

use crate::child::{Program, Running, exit_code};
use crate::http::Publisher;

/// What to do when the program exits on its own while leading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnExit {
    /// Release the lease and exit with the program's status.
    Release,
    /// Start the program again (at most once a second).
    Restart,
    /// Keep leading, with no program.
    Stay,
}

/// How `run` behaves, beyond the election.
#[derive(Debug, Clone)]
pub struct Policy {
    pub program: Program,
    pub grace: Duration,
    pub on_exit: OnExit,
    pub once: bool,
}

/// A restarted program waits this long after the last start.
const RESTART_PERIOD: Duration = Duration::from_secs(1);

/// SIGTERM and SIGINT, as one stream of stop requests.
#[derive(Debug)]
pub struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    pub fn new() -> std::io::Result<Self> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Campaigns and runs the program while leading; returns elector's exit
/// status: the program's when it ended the run, else 0.
pub async fn run(
    elector: Elector,
    mut events: EventStream,
    policy: Policy,
    publisher: Option<Publisher>,
    mut signals: StopSignals,
) -> i32 {
    let mut running: Option<Running> = None;
    let mut status = 0;
    let mut stopping = false;
    let mut followed: Option<Option<String>> = None;
    let mut term = 0;
    let mut last_start: Option<Instant> = None;
    loop {
        tokio::select! {
            name = signals.recv(), if !stopping => {
                info!("{name}: stopping");
                stopping = true;
                elector.request_stop();
            }
            exited = exited(&mut running) => {
                let code = match exited {
                    Ok(exit) => exit_code(exit),
                    Err(err) => { error!("waiting for the program: {err}"); 1 }
                };
                running = None;
                match policy.on_exit {
                    OnExit::Release => {
                        info!(code, "the program exited while leading: releasing the lease");
                        status = code;
                        stopping = true;
                        elector.request_stop();
                    }
                    OnExit::Restart => {
                        let wait = last_start.map_or(Duration::ZERO, |at| RESTART_PERIOD.saturating_sub(at.elapsed()));
                        info!(code, "the program exited while leading: restarting it in {wait:?}");
                        sleep(wait).await;
                        if elector.is_leader() {
                            running = start(&policy.program, term, &mut last_start);
                        }
                    }
                    OnExit::Stay => info!(code, "the program exited while leading: leading on without it"),
                }
            }
            event = events.recv() => {
                let Some(mut event) = event else { break };
                if let Some(publisher) = &publisher {
                    publisher.publish(&event);
                }
                // Lost's acknowledgement, kept until the program is gone.
                let ack = event.take_ack();
                match &event {
                    Event::Acquired { term: acquired, .. } => {
                        term = *acquired;
                        info!(term, "leading: starting {:?}", policy.program.command);
                        running = start(&policy.program, term, &mut last_start);
                        if running.is_none() {
                            status = 1;
                            stopping = true;
                            elector.request_stop();
                        }
                    }
                    Event::Lost { reason, .. } => {
                        if let Some(program) = running.take() {
                            info!(%reason, pid = program.pid(), "lost the lease: stopping the program");
                            let hurry = async { signals.recv().await; };
                            match program.stop(policy.grace, hurry).await {
                                Ok(exit) => info!(code = exit_code(exit), "the program has exited"),
                                Err(err) => error!("waiting for the program: {err}"),
                            }
                        } else {
                            info!(%reason, "lost the lease");
                        }
                        // Only now may the lease go to another leader.
                        drop(ack);
                        if policy.once && !stopping {
                            stopping = true;
                            elector.request_stop();
                        }
                    }
                    Event::LeaderChanged { leader, .. } => {
                        follow(&mut followed, leader.as_deref(), elector.config().identity());
                    }
                    Event::Error { kind, message } => warn!(%kind, "{message}"),
                    Event::Stopped => break,
                    _ => {}
                }
            }
        }
    }
    status
}

/// Starts the program; `None` (logged) when it cannot be.
fn start(program: &Program, term: i32, last_start: &mut Option<Instant>) -> Option<Running> {
    *last_start = Some(Instant::now());
    match program.start(term) {
        Ok(running) => {
            info!(pid = running.pid(), "started the program");
            Some(running)
        }
        Err(err) => {
            error!("cannot start {:?}: {err}", program.command);
            None
        }
    }
}

/// The running program's exit; never, when there is none.
async fn exited(running: &mut Option<Running>) -> std::io::Result<std::process::ExitStatus> {
    match running {
        Some(program) => program.exited().await,
        None => std::future::pending().await,
    }
}

/// A standby's two lines: the first leader it follows, and each change.
pub fn follow(followed: &mut Option<Option<String>>, leader: Option<&str>, identity: &str) {
    let leader = leader.map(str::to_string);
    if leader.as_deref() == Some(identity) {
        *followed = Some(leader);
        return;
    }
    let shown = leader.as_deref().unwrap_or("(none)");
    match followed {
        None => info!(leader = shown, "following"),
        Some(previous) if *previous != leader => info!(leader = shown, "the leader changed"),
        Some(_) => return,
    }
    *followed = Some(leader);
}
