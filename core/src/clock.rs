//! The leader's own deadline, read on two clocks.
//!
//! tokio's `Instant` is `CLOCK_MONOTONIC`, which stands still while the host
//! is suspended or the VM paused. A leader judged on it alone would still
//! answer "leading" after waking, while its followers' clocks (on other
//! machines) ran on and one of them may have taken over. `CLOCK_BOOTTIME`
//! counts the suspension too, so the deadline is passed when either clock
//! says so. Followers' expiry clocks stay monotonic: erring late is safe there.

use std::time::Duration;

use tokio::time::Instant;

/// One moment, as both clocks read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// What timers and tests (with tokio's paused clock) run on.
    pub monotonic: Instant,
    /// Time since boot, suspensions included.
    pub boot: Duration,
}

impl Moment {
    pub fn now() -> Moment {
        Moment {
            monotonic: Instant::now(),
            boot: boot_time(),
        }
    }

    /// `span` after this moment, on both clocks.
    pub fn after(self, span: Duration) -> Moment {
        Moment {
            monotonic: self.monotonic + span,
            boot: self.boot + span,
        }
    }

    /// Whether `now` is at or past this moment on either clock.
    pub fn reached_by(self, now: Moment) -> bool {
        now.monotonic >= self.monotonic || now.boot >= self.boot
    }

    /// The longer of the spans since this moment on the two clocks.
    pub fn elapsed_by(self, now: Moment) -> Duration {
        now.monotonic
            .saturating_duration_since(self.monotonic)
            .max(now.boot.saturating_sub(self.boot))
    }
}

fn boot_time() -> Duration {
    // CLOCK_BOOTTIME exists on every Linux since 2.6.39: it cannot fail there.
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .expect("clock_gettime(CLOCK_BOOTTIME)");
    Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspension_passes_the_deadline_though_the_monotonic_clock_stood_still() {
        let renewed = Moment::now();
        let deadline = renewed.after(Duration::from_secs(10));
        // Woken after a 60 s suspend: monotonic moved 1 s, boot time 61 s.
        let woken = Moment {
            monotonic: renewed.monotonic + Duration::from_secs(1),
            boot: renewed.boot + Duration::from_secs(61),
        };
        assert!(deadline.reached_by(woken));
        assert_eq!(renewed.elapsed_by(woken), Duration::from_secs(61));
    }

    #[test]
    fn either_clock_alone_passes_the_deadline() {
        let start = Moment::now();
        let deadline = start.after(Duration::from_secs(10));
        let monotonic_only = Moment {
            monotonic: start.monotonic + Duration::from_secs(10),
            boot: start.boot,
        };
        assert!(deadline.reached_by(monotonic_only));
        assert!(!deadline.reached_by(start.after(Duration::from_secs(9))));
    }

    #[test]
    fn the_boot_clock_never_runs_slower_than_the_monotonic_one() {
        let a = Moment::now();
        std::thread::sleep(Duration::from_millis(20));
        let b = Moment::now();
        let monotonic = b.monotonic - a.monotonic;
        let boot = b.boot - a.boot;
        assert!(
            boot + Duration::from_millis(2) >= monotonic,
            "{boot:?} < {monotonic:?}"
        );
    }
}
