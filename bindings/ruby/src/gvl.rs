//! Waiting without the GVL. Ruby code never runs on engine threads; a Ruby
//! thread that waits for the engine releases the GVL so other Ruby threads
//! run, and stays interruptible: Ruby's unblock function wakes the wait, the
//! call returns empty, and Ruby raises the pending interrupt (Ctrl-C,
//! `Thread#kill`, exit) once it is back in Ruby code.
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Runs `work` with the GVL released; `unblock` is how Ruby interrupts it.
/// `None` when Ruby had an interrupt pending and did not run `work`.
fn without_gvl<W: FnOnce() -> R, R>(work: W, unblock: &(dyn Fn() + Sync)) -> Option<R> {
    struct Call<W, R> {
        work: Option<W>,
        result: Option<std::thread::Result<R>>,
    }

    unsafe extern "C" fn run<W: FnOnce() -> R, R>(data: *mut c_void) -> *mut c_void {
        // SAFETY: `data` is the `Call` below, alive for the whole rb_nogvl.
        let call = unsafe { &mut *data.cast::<Call<W, R>>() };
        if let Some(work) = call.work.take() {
            // A panic must not unwind into Ruby's C frames: carried over and
            // resumed once rb_nogvl has returned.
            call.result = Some(catch_unwind(AssertUnwindSafe(work)));
        }
        std::ptr::null_mut()
    }

    unsafe extern "C" fn interrupt(data: *mut c_void) {
        // SAFETY: `data` is the `unblock` reference below, alive for the
        // whole rb_nogvl (Ruby only calls this during it).
        let unblock = unsafe { &*data.cast::<&(dyn Fn() + Sync)>() };
        let _ = catch_unwind(AssertUnwindSafe(unblock));
    }

    let mut call = Call {
        work: Some(work),
        result: None,
    };
    let mut unblock = unblock;
    // SAFETY: both pointers outlive the call. RB_NOGVL_INTR_FAIL: Ruby checks
    // interrupts neither before nor after in a way that could raise through
    // these Rust frames; it skips `run` if one is pending, and the interrupt
    // is raised when control is back in Ruby.
    unsafe {
        rb_sys::rb_nogvl(
            Some(run::<W, R>),
            (&raw mut call).cast(),
            Some(interrupt),
            (&raw mut unblock).cast(),
            rb_sys::RB_NOGVL_INTR_FAIL as i32,
        );
    }
    match call.result? {
        Ok(value) => Some(value),
        Err(panic) => resume_unwind(panic),
    }
}

/// Runs brief `work` (no network waits) with the GVL released, so other Ruby
/// threads run meanwhile; Ruby cannot interrupt it. `None` when Ruby had an
/// interrupt pending and did not run `work`.
pub fn outside_gvl<R>(work: impl FnOnce() -> R) -> Option<R> {
    without_gvl(work, &|| {})
}

/// State that Ruby threads wait on without the GVL, and engine threads
/// change. An interrupt wakes every waiter, which then returns empty.
#[derive(Debug, Default)]
pub struct Waitable<S> {
    state: Mutex<Guarded<S>>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Guarded<S> {
    value: S,
    interrupts: u64,
}

impl<S: Send> Waitable<S> {
    pub fn new(value: S) -> Self {
        Waitable {
            state: Mutex::new(Guarded {
                value,
                interrupts: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// Changes the state and wakes the waiters.
    pub fn update(&self, change: impl FnOnce(&mut S)) {
        change(&mut self.state.lock().unwrap().value);
        self.changed.notify_all();
    }

    /// Waits, with the GVL released, until `take` finds what it wants in the
    /// state, `timeout` passes (`None`: forever) or Ruby interrupts the wait.
    /// Call with the GVL held. `None` also when Ruby had any interrupt
    /// pending (a thread switch included) or interrupted another waiter on
    /// this state: callers wait again in a Ruby loop, which raises the
    /// interrupt if it was one for this thread.
    pub fn wait<R>(
        &self,
        timeout: Option<Duration>,
        mut take: impl FnMut(&mut S) -> Option<R>,
    ) -> Option<R> {
        // Read with the GVL held, so no unblock call can come before it.
        let seen = self.state.lock().unwrap().interrupts;
        // A timeout too long to represent is forever.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let wait = || {
            let mut state = self.state.lock().unwrap();
            loop {
                if let Some(found) = take(&mut state.value) {
                    return Some(found);
                }
                if state.interrupts != seen {
                    return None;
                }
                state = match deadline {
                    None => self.changed.wait(state).unwrap(),
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return None;
                        }
                        self.changed.wait_timeout(state, left).unwrap().0
                    }
                };
            }
        };
        let interrupt = || {
            self.state.lock().unwrap().interrupts += 1;
            self.changed.notify_all();
        };
        without_gvl(wait, &interrupt).flatten()
    }
}

/// A queue Ruby threads drain.
pub type Inbox<T> = Waitable<VecDeque<T>>;

impl<T: Send> Waitable<VecDeque<T>> {
    pub fn push(&self, item: T) {
        self.update(|queue| queue.push_back(item));
    }

    /// The next item, waiting up to `timeout`; `None` on timeout or interrupt.
    pub fn pop(&self, timeout: Option<Duration>) -> Option<T> {
        self.wait(timeout, VecDeque::pop_front)
    }
}
