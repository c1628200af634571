//! The leader's program: started in a process group of its own, stopped as
//! a group (SIGTERM, then SIGKILL after the grace period), and gone before
//! `stop` returns, so the loss can be acknowledged.

use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::time::sleep;
use tracing::{info, warn};

/// What the program is started with.
#[derive(Debug, Clone)]
pub struct Program {
    pub command: Vec<String>,
    pub lease: String,
    pub identity: String,
}

/// A running program: its process, the leader of its process group.
#[derive(Debug)]
pub struct Running {
    child: Child,
    pid: i32,
}

impl Program {
    /// Starts the program for `term`. Must run on the thread that lives as
    /// long as the process (the runtime's main thread): the parent-death
    /// signal fires when the thread that forked exits.
    pub fn start(&self, term: i32) -> std::io::Result<Running> {
        let (program, args) = self.command.split_first().expect("clap requires a command");
        let mut command = Command::new(program);
        command
            .args(args)
            .env("ELECTOR_LEASE", &self.lease)
            .env("ELECTOR_IDENTITY", &self.identity)
            .env("ELECTOR_TERM", term.to_string())
            .process_group(0)
            .kill_on_drop(false);
        let parent = nix::unistd::getpid();
        // SAFETY: between fork and exec only async-signal-safe calls are
        // made: prctl(PR_SET_PDEATHSIG) and getppid. Why: if this process
        // dies (SIGKILL, OOM), the lease expires and another leader starts;
        // without the signal the program would run on beside it.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                // The parent may have died before the signal was set.
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::other(
                        "elector exited before the program started",
                    ));
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        let pid = child.id().map_or(0, |id| id as i32);
        Ok(Running { child, pid })
    }
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for the program to exit on its own, then ends what it left in
    /// its group.
    pub async fn exited(&mut self) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await?;
        self.kill_group();
        Ok(status)
    }

    /// Stops the program's group: SIGTERM, then SIGKILL once `grace` has
    /// passed or `hurry` completes (a second signal to elector). Returns
    /// once the program has exited.
    pub async fn stop(
        mut self,
        grace: Duration,
        hurry: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<ExitStatus> {
        self.signal(Signal::SIGTERM);
        tokio::pin!(hurry);
        let status = tokio::select! {
            status = self.child.wait() => status?,
            _ = sleep(grace) => {
                warn!(pid = self.pid, ?grace, "the program did not exit within the grace period: SIGKILL");
                self.signal(Signal::SIGKILL);
                self.child.wait().await?
            }
            _ = &mut hurry => {
                info!(pid = self.pid, "asked again to stop: SIGKILL");
                self.signal(Signal::SIGKILL);
                self.child.wait().await?
            }
        };
        self.kill_group();
        Ok(status)
    }

    fn signal(&self, signal: Signal) {
        // ESRCH: the group is gone already.
        let _ = killpg(Pid::from_raw(self.pid), signal);
    }

    /// Leader work is the whole group: what the program started and left
    /// behind must not outlive the term.
    fn kill_group(&self) {
        self.signal(Signal::SIGKILL);
    }
}

/// An exit status as a shell reports it: the code, or 128 + the signal.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1)
}
