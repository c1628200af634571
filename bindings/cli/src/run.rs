//! `elector run`: the program runs only while this process leads.
//!
//! On `acquired` the program starts; on `lost` its group is stopped and the
//! loss acknowledged only once the group is gone, so the lease is released
//! (or campaigned for again) after the program: the next leader's program
//! does not start beside this one. A signal to elector stops the program the
//! same way, releases, and exits.

use std::time::Duration;

use clap::ValueEnum;
use elector_core::{Elector, Event, EventStream, LostReason};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, info};

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

/// The run's state between events.
struct Run<'a> {
    elector: &'a Elector,
    policy: &'a Policy,
    running: Option<Running>,
    /// Whether a stop was requested: nothing starts any more.
    stopping: bool,
    /// elector's exit status.
    status: i32,
    term: i32,
    last_start: Option<Instant>,
    restart_at: Option<Instant>,
}

impl Run<'_> {
    fn request_stop(&mut self, why: &str) {
        if !self.stopping {
            info!("{why}: stopping");
            self.stopping = true;
            self.elector.request_stop();
        }
    }

    /// Starts the program unless stopping or no longer leading; a program
    /// that cannot start ends the run with status 1.
    fn start(&mut self) {
        if self.stopping || !self.elector.is_leader() {
            return;
        }
        self.last_start = Some(Instant::now());
        match self.policy.program.start(self.term) {
            Ok(running) => {
                info!(pid = running.pid(), term = self.term, "started the program");
                self.running = Some(running);
            }
            Err(err) => {
                error!("cannot start {:?}: {err}", self.policy.program.command);
                self.status = 1;
                self.request_stop("the program cannot start");
            }
        }
    }
}

/// Campaigns and runs the program while leading; returns elector's exit
/// status: the program's when it ended the run, else 0 (1 when it could not
/// start).
pub async fn run(
    elector: Elector,
    mut events: EventStream,
    policy: Policy,
    publisher: Option<Publisher>,
    mut signals: StopSignals,
) -> i32 {
    let mut run = Run {
        elector: &elector,
        policy: &policy,
        running: None,
        stopping: false,
        status: 0,
        term: 0,
        last_start: None,
        restart_at: None,
    };
    let mut followed: Option<Option<String>> = None;
    let config = elector.config();
    // After a loss the engine did not choose, another candidate may take
    // the lease this long after our step-down: the program must be gone.
    let involuntary_grace = policy
        .grace
        .min(config.lease_duration() - config.renew_deadline());
    loop {
        tokio::select! {
            name = signals.recv(), if !run.stopping => run.request_stop(name),
            _ = sleep_until(run.restart_at.unwrap_or_else(Instant::now)), if run.restart_at.is_some() => {
                run.restart_at = None;
                run.start();
            }
            exited = exited(&mut run.running, policy.grace) => {
                run.running = None;
                let code = match exited {
                    Ok(exit) => exit_code(exit),
                    Err(err) => { error!("waiting for the program: {err}"); 1 }
                };
                match policy.on_exit {
                    OnExit::Release => {
                        info!(code, "the program exited while leading: releasing the lease");
                        run.status = code;
                        run.request_stop("the program exited");
                    }
                    OnExit::Restart => {
                        let at = run.last_start.map_or_else(Instant::now, |last| last + RESTART_PERIOD);
                        info!(code, "the program exited while leading: restarting it");
                        run.restart_at = Some(at);
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
                    Event::Acquired { term, .. } => {
                        run.term = *term;
                        info!(term, "leading: starting {:?}", policy.program.command);
                        run.start();
                    }
                    Event::Lost { reason, .. } => {
                        run.restart_at = None;
                        if let Some(program) = run.running.take() {
                            let grace = match reason {
                                LostReason::Stopped => policy.grace,
                                _ => involuntary_grace,
                            };
                            info!(%reason, pid = program.pid(), ?grace, "lost the lease: stopping the program");
                            // A first signal now asks for the stop (after
                            // this loss); one during the stop hurries it.
                            let hurry = async {
                                loop {
                                    let name = signals.recv().await;
                                    if run.stopping {
                                        break;
                                    }
                                    run.request_stop(name);
                                }
                            };
                            match program.stop(grace, hurry).await {
                                Ok(exit) => info!(code = exit_code(exit), "the program has exited"),
                                Err(err) => error!("waiting for the program: {err}"),
                            }
                        } else {
                            info!(%reason, "lost the lease");
                        }
                        if policy.once {
                            // Before the acknowledgement, so no new term begins.
                            run.request_stop("--once: one term done");
                        }
                        // Only now may the lease go to another leader.
                        drop(ack);
                    }
                    Event::LeaderChanged { leader, .. } => {
                        follow(&mut followed, leader.as_deref(), config.identity());
                    }
                    // The engine warns once per kind of error; repeats are its debug lines.
                    Event::Error { kind, message } => debug!(%kind, "{message}"),
                    Event::Stopped => break,
                    _ => {}
                }
            }
        }
    }
    run.status
}

/// The running program's exit (then its group stopped); never, when there
/// is none.
async fn exited(
    running: &mut Option<Running>,
    grace: Duration,
) -> std::io::Result<std::process::ExitStatus> {
    match running {
        Some(program) => program.exited(grace).await,
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
