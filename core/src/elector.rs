//! The handle users hold: start, stop, and what the elector knows now.

use std::sync::{Arc, Mutex, Weak};
use std::thread::ThreadId;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::client::{LeaseApi, client_for};
use crate::clock::Moment;
use crate::config::Config;
use crate::engine::{Engine, Shared};
use crate::events::{self, Event, EventReceiver, EventSender, EventStream};
use crate::runtime::{block_on, spawn};
use crate::stats::Stats;

/// Why an elector call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The connection settings could not be turned into a client (no
    /// kubeconfig, unknown context, unreadable CA file, ...).
    #[error("cannot set up the API connection: {0}")]
    Connect(String),
    #[error("the elector is already started")]
    AlreadyStarted,
    #[error("the elector is stopped; create a new one to run again")]
    Stopped,
    #[error("events are already taken (by events() or on_event()), or the elector has started")]
    EventsTaken,
}

impl From<crate::client::ConnectError> for Error {
    fn from(err: crate::client::ConnectError) -> Error {
        Error::Connect(err.0)
    }
}

/// A leader elector for one lease. Cheap to clone; all clones are the same
/// elector. Every method may be called from any thread.
#[derive(Debug, Clone)]
pub struct Elector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<Config>,
    shared: Arc<Shared>,
    lifecycle: Mutex<Lifecycle>,
    dispatcher: Mutex<Option<Dispatcher>>,
}

#[derive(Debug)]
enum Lifecycle {
    Created {
        sender: EventSender,
        receiver: Option<EventReceiver>,
    },
    Running {
        cancel: CancellationToken,
        finished: watch::Receiver<bool>,
    },
    Stopped {
        finished: Option<watch::Receiver<bool>>,
    },
}

/// The thread that hands events to a callback, one at a time, in order.
#[derive(Debug)]
struct Dispatcher {
    thread: ThreadId,
    finished: watch::Receiver<bool>,
}

/// client-go's healthz verdict: a leader that believes it leads but has not
/// renewed for longer than the lease duration plus a tolerance is stuck.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "leader has not renewed its lease for {since:?}, more than the lease duration ({lease_duration:?}) plus the tolerance ({tolerance:?})"
)]
pub struct HealthError {
    pub since: Duration,
    pub lease_duration: Duration,
    pub tolerance: Duration,
}

/// Every elector of the process not dropped yet, for the process's metrics
/// (as client-go's metrics provider sees every elector).
static LIVE: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

impl Elector {
    /// A stopped elector for `config`; nothing runs until [`start`](Self::start).
    pub fn new(config: Config) -> Elector {
        let shared = Arc::<Shared>::default();
        let (sender, receiver) = events::channel(shared.counters.queued_events.clone());
        let inner = Arc::new(Inner {
            config: Arc::new(config),
            shared,
            lifecycle: Mutex::new(Lifecycle::Created {
                sender,
                receiver: Some(receiver),
            }),
            dispatcher: Mutex::new(None),
        });
        let mut live = LIVE.lock().unwrap();
        if live.len() == live.capacity() {
            // Before the list grows: what was dropped goes.
            live.retain(|elector| elector.strong_count() > 0);
        }
        live.push(Arc::downgrade(&inner));
        Elector { inner }
    }

    /// Every elector of this process that runs (started, not stopped),
    /// oldest first: one stopped, or never started, is no longer (or not
    /// yet) in the election, and its series would stand beside those of
    /// the elector that replaced it.
    pub(crate) fn running() -> Vec<Elector> {
        let live: Vec<Arc<Inner>> = LIVE
            .lock()
            .unwrap()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        live.into_iter()
            .filter(|inner| matches!(*inner.lifecycle.lock().unwrap(), Lifecycle::Running { .. }))
            .map(|inner| Elector { inner })
            .collect()
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The event stream, for Rust callers. Take it before `start()`; it can be
    /// taken once, and not together with [`on_event`](Self::on_event).
    pub fn events(&self) -> Result<EventStream, Error> {
        Ok(EventStream {
            receiver: take_receiver(&mut self.inner.lifecycle.lock().unwrap())?,
        })
    }

    /// Runs `work` while this elector leads: once per term, from `Acquired`,
    /// with a [`Leadership`](crate::Leadership) whose `lost()` completes when
    /// the term ends. The loss is acknowledged only once `work` has returned,
    /// so on `stop()` the lease is released after it, and the next leader's
    /// work never overlaps this one's. A `work` that returns early leaves this
    /// elector leading, idle, until the term ends; one that fails stops the
    /// elector, and its error is the result.
    ///
    /// Takes the event stream: call it before `start()`, instead of
    /// [`events`](Self::events). It does not start the elector. The returned
    /// future runs the work: await it (or spawn it); it completes after
    /// `Stopped`. To stop from inside the work, call
    /// [`request_stop`](Self::request_stop) (or return an error): `stop()`
    /// waits for the work to return.
    ///
    /// ```no_run
    /// # async fn run(elector: elector_core::Elector) -> Result<(), Box<dyn std::error::Error>> {
    /// let leading = elector.lead(|leadership| async move {
    ///     while !leadership.is_lost() {
    ///         // one unit of leader work, fenced with leadership.term()
    ///         # tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    ///     }
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// elector.start().await?;
    /// leading.await?; // after stop(), from elsewhere
    /// # Ok(()) }
    /// ```
    pub fn lead<F, Fut, E>(
        &self,
        work: F,
    ) -> Result<impl Future<Output = Result<(), E>> + Send + 'static, Error>
    where
        F: FnMut(crate::Leadership) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Send + 'static,
    {
        self.lead_observing(work, |_| {})
    }

    /// [`lead`](Self::lead), also handing every event to `observe` (for logs
    /// or metrics) as it arrives, before `lead` acts on it.
    pub fn lead_observing<F, Fut, E>(
        &self,
        work: F,
        observe: impl FnMut(&Event) + Send + 'static,
    ) -> Result<impl Future<Output = Result<(), E>> + Send + 'static, Error>
    where
        F: FnMut(crate::Leadership) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Send + 'static,
    {
        let events = self.events()?;
        let inner = Arc::downgrade(&self.inner);
        let stop = move || {
            if let Some(inner) = inner.upgrade() {
                inner.request_stop();
            }
        };
        let terms = crate::lead::Terms {
            shared: self.inner.shared.clone(),
            stop,
            observe,
        };
        Ok(crate::lead::run(events, terms, work))
    }

    /// Delivers every event to `callback` on a dedicated thread (never an
    /// async runtime worker), in order, one at a time. Register before
    /// `start()`. A `Lost` is acknowledged when the callback returns, unless
    /// it keeps the event's [`LostAck`](crate::LostAck). The callback may
    /// call any method of this elector, `stop()` included: called from the
    /// callback, `stop()` only begins the stop and returns; the last events
    /// (`Lost` if leading, then `Stopped`) are delivered after the callback
    /// returns, and the lease is released after `Lost`'s callback returns.
    ///
    /// The callback must not own this elector's last handle forever (a
    /// cycle): the engine runs until `stop()`.
    pub fn on_event<F>(&self, mut callback: F) -> Result<(), Error>
    where
        F: FnMut(Event) + Send + 'static,
    {
        // Taking the receiver and registering the dispatcher happen under
        // the lifecycle lock, so a concurrent stop() either refuses this
        // registration or waits for the dispatcher it registered.
        let mut lifecycle = self.inner.lifecycle.lock().unwrap();
        let mut receiver = take_receiver(&mut lifecycle)?;
        let (done, finished) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("elector-events".into())
            .spawn(move || {
                while let Some(event) = receiver.blocking_recv() {
                    callback(event);
                }
                // Release what the callback owns (a host's userdata) before
                // stop() may return.
                drop(callback);
                let _ = done.send(true);
            })
            .expect("spawning the event dispatcher thread");
        *self.inner.dispatcher.lock().unwrap() = Some(Dispatcher {
            thread: thread.thread().id(),
            finished,
        });
        drop(lifecycle);
        Ok(())
    }

    /// Connects and starts campaigning. Returns once the engine runs; the
    /// outcome arrives as events.
    pub async fn start(&self) -> Result<(), Error> {
        let inner = self.inner.clone();
        spawn(async move { inner.start().await }).await
    }

    pub fn start_blocking(&self) -> Result<(), Error> {
        let inner = self.inner.clone();
        block_on(async move { inner.start().await })
    }

    /// Stops: a leader emits `Lost`, keeps renewing until the host
    /// acknowledges it (for up to the stop timeout), then releases the lease
    /// (unless `release_on_stop` is off); then `Stopped` is emitted. Returns
    /// when no further event will be delivered. Idempotent; safe from any
    /// thread, including the event callback (see
    /// [`on_event`](Self::on_event)).
    ///
    /// A host that reads [`events`](Self::events) must go on reading them
    /// while this runs: the `Lost` it has not taken is not acknowledged.
    pub async fn stop(&self) {
        let inner = self.inner.clone();
        let caller = std::thread::current().id();
        spawn(async move { inner.stop(caller).await }).await
    }

    pub fn stop_blocking(&self) {
        let inner = self.inner.clone();
        let caller = std::thread::current().id();
        block_on(async move { inner.stop(caller).await })
    }

    /// Begins stopping and returns at once; the events that follow (`Lost`
    /// if leading, then `Stopped`) tell the rest. For hosts that deliver
    /// events on the thread that wants to stop.
    pub fn request_stop(&self) {
        self.inner.request_stop();
    }

    /// Whether this process leads now: it holds the lease and its renew
    /// deadline has not passed (checked on every call, so a process that was
    /// paused answers `false` at once on waking).
    pub fn is_leader(&self) -> bool {
        self.inner.shared.is_leading()
    }

    /// The identity holding the lease as last observed (`None`: free, absent
    /// or not yet read).
    pub fn leader(&self) -> Option<String> {
        self.inner.shared.status.lock().unwrap().leader.clone()
    }

    /// The lease's `leaseTransitions` as last observed. While this elector
    /// leads, it is its term: a fencing token that grows with each takeover.
    pub fn term(&self) -> Option<i32> {
        self.inner.shared.status.lock().unwrap().term
    }

    /// The lease as last observed.
    pub fn lease(&self) -> Option<Lease> {
        self.inner.shared.status.lock().unwrap().lease.clone()
    }

    /// How long API requests have been failing, with no success between
    /// (`None`: the last request succeeded). Hosts that give up after a
    /// retry budget, as the Ruby gem does, read this on each `Error` event.
    pub fn failing_for(&self) -> Option<Duration> {
        let status = self.inner.shared.status.lock().unwrap();
        status.failing_since.map(|since| since.elapsed())
    }

    pub fn stats(&self) -> Stats {
        self.inner.shared.counters.snapshot()
    }

    /// Healthy unless this elector believes it leads yet has not renewed for
    /// longer than the lease duration plus `tolerance` (a stuck process), as
    /// client-go's `Check(maxTolerableExpiredLease)`.
    pub fn check(&self, tolerance: Duration) -> Result<(), HealthError> {
        let status = self.inner.shared.status.lock().unwrap();
        let (Some(_), Some(renewed_at)) = (status.leading_until, status.renewed_at) else {
            return Ok(());
        };
        let since = renewed_at.elapsed_by(Moment::now());
        let lease_duration = self.inner.config.lease_duration;
        if since > lease_duration + tolerance {
            return Err(HealthError {
                since,
                lease_duration,
                tolerance,
            });
        }
        Ok(())
    }
}

impl Inner {
    /// Runs on the elector runtime.
    async fn start(&self) -> Result<(), Error> {
        if !matches!(*self.lifecycle.lock().unwrap(), Lifecycle::Created { .. }) {
            return Err(self.not_startable());
        }
        let client = client_for(&self.config).await?;
        let mut lifecycle = self.lifecycle.lock().unwrap();
        let Lifecycle::Created { sender, receiver } = &mut *lifecycle else {
            // Raced with another start() or a stop() while connecting.
            return Err(not_startable(&lifecycle));
        };
        let sender = sender.clone();
        // Nobody subscribed: drop the receiver so events are not queued forever.
        receiver.take();
        let cancel = CancellationToken::new();
        let (done, finished) = watch::channel(false);
        let api = LeaseApi::new(client, &self.config, self.shared.counters.clone());
        let engine = Engine::new(
            self.config.clone(),
            api,
            self.shared.clone(),
            sender,
            cancel.clone(),
        );
        let span = tracing::info_span!(
            "elector",
            lease = %format_args!("{}/{}", self.config.namespace, self.config.lease_name),
            identity = %self.config.identity,
        );
        tokio::spawn(
            async move {
                engine.run().await;
                let _ = done.send(true);
            }
            .instrument(span),
        );
        *lifecycle = Lifecycle::Running { cancel, finished };
        Ok(())
    }

    fn not_startable(&self) -> Error {
        not_startable(&self.lifecycle.lock().unwrap())
    }

    /// Cancels the engine (or ends a never-started elector's events);
    /// returns what tells when the engine has finished.
    fn request_stop(&self) -> Option<watch::Receiver<bool>> {
        let mut lifecycle = self.lifecycle.lock().unwrap();
        let finished = match &*lifecycle {
            Lifecycle::Created { sender, .. } => {
                // Never started: the stream still ends with Stopped.
                sender.send(Event::Stopped);
                None
            }
            Lifecycle::Running { cancel, finished } => {
                cancel.cancel();
                Some(finished.clone())
            }
            Lifecycle::Stopped { finished } => finished.clone(),
        };
        // Dropping a never-started elector's sender ends its event stream.
        *lifecycle = Lifecycle::Stopped {
            finished: finished.clone(),
        };
        finished
    }

    /// Runs on the elector runtime; `caller` is the thread that called stop.
    async fn stop(&self, caller: ThreadId) {
        let finished = self.request_stop();
        let dispatcher = self
            .dispatcher
            .lock()
            .unwrap()
            .as_ref()
            .map(|d| (d.thread, d.finished.clone()));
        // From inside the callback, waiting would wait for ourselves: the
        // engine waits for `Lost` to be acknowledged, which the dispatcher
        // delivers once this callback returns, and the last events after it.
        if let Some((thread, _)) = &dispatcher
            && *thread == caller
        {
            return;
        }
        if let Some(mut finished) = finished {
            let _ = finished.wait_for(|done| *done).await;
        }
        if let Some((_, mut finished)) = dispatcher {
            let _ = finished.wait_for(|done| *done).await;
        }
    }
}

fn take_receiver(lifecycle: &mut Lifecycle) -> Result<EventReceiver, Error> {
    match lifecycle {
        Lifecycle::Created { receiver, .. } => receiver.take().ok_or(Error::EventsTaken),
        _ => Err(Error::EventsTaken),
    }
}

fn not_startable(lifecycle: &Lifecycle) -> Error {
    match lifecycle {
        Lifecycle::Created { .. } => Error::AlreadyStarted,
        Lifecycle::Running { .. } => Error::AlreadyStarted,
        Lifecycle::Stopped { .. } => Error::Stopped,
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: stop the engine rather than leak it. (A
        // leader that is dropped without stop() still emits Lost, and releases
        // once that is acknowledged.)
        let lifecycle = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        if let Lifecycle::Running { cancel, .. } = &*lifecycle {
            cancel.cancel();
        }
    }
}
