//! The leader's program: started in a process group of its own, and stopped
//! as a group (SIGTERM, then SIGKILL at the deadline). `stop` and `exited`
//! return only once no process of the group is left, so that the loss can
//! be acknowledged.

use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep, sleep_until};
use tracing::{info, warn};

/// How often a stopping group is checked for members left.
const POLL: Duration = Duration::from_millis(10);
/// How long processes killed with SIGKILL may take to disappear before
/// elector goes on (a zombie elector cannot reap, as PID 1 without an init,
/// does no work).
const KILL_WAIT: Duration = Duration::from_secs(5);

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
    group: Pid,
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
            // elector's own secret is not the program's.
            .env_remove("ELECTOR_TOKEN")
            .process_group(0)
            .kill_on_drop(false);
        let parent = nix::unistd::getpid();
        // SAFETY: between fork and exec only async-signal-safe calls are
        // made, and nothing allocates: prctl(PR_SET_PDEATHSIG) and getppid.
        // Why: if elector dies (SIGKILL, OOM), the lease expires and another
        // leader starts; without the signal the program would run on.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                // elector may have died before the signal was set.
                if nix::unistd::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(nix::libc::ESRCH));
                }
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let Some(pid) = child.id() else {
            // Exited and reaped already: nothing of it can run.
            let _ = child.start_kill();
            return Err(std::io::Error::other("the program exited as it started"));
        };
        Ok(Running {
            child,
            group: Pid::from_raw(pid as i32),
        })
    }
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.group.as_raw()
    }

    /// Waits for the program to exit on its own, then stops what it left in
    /// its group (SIGTERM, SIGKILL after `grace`).
    pub async fn exited(&mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.stop_group(Instant::now() + grace).await;
        status
    }

    /// Stops the program's group: SIGTERM, then SIGKILL once `grace` has
    /// passed or `hurry` completes. Returns once no process of the group is
    /// left.
    pub async fn stop(
        mut self,
        grace: Duration,
        hurry: impl Future<Output = ()>,
    ) -> std::io::Result<ExitStatus> {
        let deadline = Instant::now() + grace;
        self.signal(Signal::SIGTERM);
        tokio::pin!(hurry);
        let status = tokio::select! {
            status = self.child.wait() => status,
            _ = sleep_until(deadline) => {
                warn!(pid = self.pid(), ?grace, "the program did not exit within the grace period: SIGKILL");
                self.signal(Signal::SIGKILL);
                self.child.wait().await
            }
            _ = &mut hurry => {
                info!(pid = self.pid(), "asked again to stop: SIGKILL");
                self.signal(Signal::SIGKILL);
                self.child.wait().await
            }
        };
        self.stop_group(deadline).await;
        status
    }

    /// The rest of the group after its leader has exited: SIGTERM, until
    /// `deadline` to leave, then SIGKILL, and waits until it is gone. The
    /// group's id cannot be reused while any member lives.
    async fn stop_group(&self, deadline: Instant) {
        if !self.signal(Signal::SIGTERM) {
            return;
        }
        while Instant::now() < deadline {
            if !self.any_left() {
                return;
            }
            sleep(POLL).await;
        }
        warn!(
            pid = self.pid(),
            "processes the program left did not exit in time: SIGKILL"
        );
        self.signal(Signal::SIGKILL);
        let until = Instant::now() + KILL_WAIT;
        while self.any_left() {
            if Instant::now() > until {
                warn!(
                    pid = self.pid(),
                    "processes of the program's group are still there after SIGKILL"
                );
                return;
            }
            sleep(POLL).await;
        }
    }

    /// Sends `signal` to the group; false when none of it is left.
    fn signal(&self, signal: Signal) -> bool {
        killpg(self.group, signal) != Err(Errno::ESRCH)
    }

    /// Whether any process of the group is left.
    fn any_left(&self) -> bool {
        killpg(self.group, None) != Err(Errno::ESRCH)
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
