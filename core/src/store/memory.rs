//! An in-memory lease store for deterministic tests of the engine. The
//! server side behaves as the API server does for one lease
//! (resourceVersions, optimistic concurrency, an identical write kept
//! without a new version, watches from a version, 410 for compacted ones);
//! each client can be slowed down on its own. Everything runs on tokio's
//! paused clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::WatchEvent;
use kube::core::Status;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use super::{ApiError, LeaseEvents, LeaseStore};

type Watcher = mpsc::UnboundedSender<Result<WatchEvent<Lease>, ApiError>>;

#[derive(Default)]
struct State {
    lease: Option<Lease>,
    revision: u64,
    /// Watching from a version below this one answers 410 Gone.
    compacted_below: u64,
    /// Every change since the last compaction, by revision.
    history: Vec<(u64, WatchEvent<Lease>)>,
    watchers: Vec<Watcher>,
}

impl State {
    fn commit(&mut self, event: impl Fn(Lease) -> WatchEvent<Lease>, lease: Lease) {
        self.history.push((self.revision, event(lease.clone())));
        self.watchers
            .retain(|watcher| watcher.send(Ok(event(lease.clone()))).is_ok());
    }

    fn next_version(&mut self, lease: &mut Lease) {
        self.revision += 1;
        lease.metadata.resource_version = Some(self.revision.to_string());
    }
}

/// The API server's side: one lease, written by the clients and by the
/// test itself (as an administrator would with kubectl).
#[derive(Clone, Default)]
pub struct Server {
    state: Arc<Mutex<State>>,
}

impl Server {
    pub fn new() -> Server {
        Server::default()
    }

    pub fn lease(&self) -> Option<Lease> {
        self.state.lock().unwrap().lease.clone()
    }

    /// Writes `lease` unconditionally (creating it if needed).
    pub fn put(&self, mut lease: Lease) -> Lease {
        let mut state = self.state.lock().unwrap();
        let existed = state.lease.is_some();
        state.next_version(&mut lease);
        state.lease = Some(lease.clone());
        let event = if existed {
            WatchEvent::Modified
        } else {
            WatchEvent::Added
        };
        state.commit(event, lease.clone());
        lease
    }

    pub fn delete(&self) {
        let mut state = self.state.lock().unwrap();
        if let Some(mut lease) = state.lease.take() {
            state.next_version(&mut lease);
            state.commit(WatchEvent::Deleted, lease);
        }
    }

    /// Forgets the history: watching from any version seen so far answers
    /// 410, as after etcd's compaction.
    pub fn compact(&self) {
        let mut state = self.state.lock().unwrap();
        state.compacted_below = state.revision + 1;
        state.history.clear();
    }

    /// Ends every open watch, as the API server does at a watch's timeout.
    pub fn end_watches(&self) {
        self.state.lock().unwrap().watchers.clear();
    }

    fn create(&self, lease: &Lease) -> Result<Lease, ApiError> {
        let mut state = self.state.lock().unwrap();
        if state.lease.is_some() {
            return Err(ApiError::Conflict);
        }
        let mut lease = lease.clone();
        state.next_version(&mut lease);
        state.lease = Some(lease.clone());
        state.commit(WatchEvent::Added, lease.clone());
        Ok(lease)
    }

    fn replace(&self, lease: &Lease) -> Result<Lease, ApiError> {
        let mut state = self.state.lock().unwrap();
        let Some(current) = &state.lease else {
            // As kube-apiserver answers a PUT that carries a resourceVersion
            // for a lease that is gone: a conflict, never a create.
            return Err(ApiError::Conflict);
        };
        if current.metadata.resource_version != lease.metadata.resource_version {
            return Err(ApiError::Conflict);
        }
        if current == lease {
            // The API server keeps an identical object: no new version.
            return Ok(current.clone());
        }
        let mut lease = lease.clone();
        state.next_version(&mut lease);
        state.lease = Some(lease.clone());
        state.commit(WatchEvent::Modified, lease.clone());
        Ok(lease)
    }

    fn watch(&self, from: Option<&str>) -> LeaseEvents {
        let mut state = self.state.lock().unwrap();
        let (sender, receiver) = mpsc::unbounded_channel();
        match from.map(|v| v.parse::<u64>().expect("a version this server gave")) {
            Some(version) if version < state.compacted_below => {
                let gone = Status {
                    code: 410,
                    message: format!("too old resource version: {version}"),
                    reason: "Expired".into(),
                    ..Status::default()
                };
                let _ = sender.send(Ok(WatchEvent::Error(Box::new(gone))));
                drop(sender);
            }
            Some(version) => {
                for (_, event) in state.history.iter().filter(|(rev, _)| *rev > version) {
                    let _ = sender.send(Ok(clone_event(event)));
                }
                state.watchers.push(sender);
            }
            None => {
                if let Some(lease) = &state.lease {
                    let _ = sender.send(Ok(WatchEvent::Added(lease.clone())));
                }
                state.watchers.push(sender);
            }
        }
        futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|event| (event, receiver))
        })
        .boxed()
    }
}

fn clone_event(event: &WatchEvent<Lease>) -> WatchEvent<Lease> {
    match event {
        WatchEvent::Added(l) => WatchEvent::Added(l.clone()),
        WatchEvent::Modified(l) => WatchEvent::Modified(l.clone()),
        WatchEvent::Deleted(l) => WatchEvent::Deleted(l.clone()),
        WatchEvent::Bookmark(b) => WatchEvent::Bookmark(b.clone()),
        WatchEvent::Error(s) => WatchEvent::Error(s.clone()),
    }
}

/// Requests a client made, by verb.
#[derive(Debug, Default)]
pub struct Requests {
    pub gets: AtomicU32,
    pub creates: AtomicU32,
    pub replaces: AtomicU32,
    pub watches: AtomicU32,
}

impl Requests {
    pub fn total(&self) -> u32 {
        [&self.gets, &self.creates, &self.replaces, &self.watches]
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }
}

/// One process's connection to the server. A request reaches the server
/// after the queue delay (at once by default); its answer arrives a latency
/// later, or never within the timeout: a write can commit although its
/// answer is lost.
#[derive(Clone)]
pub struct Client {
    server: Server,
    request_timeout: Duration,
    latency: Arc<Mutex<Latency>>,
    pub requests: Arc<Requests>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Latency {
    /// Before the server reads for a GET: it answers its state at the end
    /// of this delay, not when the request was sent.
    read_queue: Duration,
    reads: Duration,
    writes: Duration,
}

impl Client {
    pub fn new(server: &Server, request_timeout: Duration) -> Client {
        Client {
            server: server.clone(),
            request_timeout,
            latency: Arc::default(),
            requests: Arc::default(),
        }
    }

    /// The latency of every answer from now on.
    pub fn set_latency(&self, latency: Duration) {
        let mut current = self.latency.lock().unwrap();
        current.reads = latency;
        current.writes = latency;
    }

    /// How long every GET waits in a queue before the server reads the
    /// lease, from now on.
    pub fn set_read_queue_delay(&self, delay: Duration) {
        self.latency.lock().unwrap().read_queue = delay;
    }

    /// The latency of the answers to creates and replaces only.
    pub fn set_write_latency(&self, latency: Duration) {
        self.latency.lock().unwrap().writes = latency;
    }

    /// Serves the request once it reaches the server (after `queue`), and
    /// answers after `latency`, unless the request times out first, as
    /// `LeaseApi` bounds its requests.
    async fn request<T>(
        &self,
        limit: Option<Instant>,
        (queue, latency): (Duration, Duration),
        serve: impl FnOnce() -> T,
    ) -> Result<T, ApiError> {
        let mut timeout = self.request_timeout;
        if let Some(limit) = limit {
            timeout = timeout.min(limit.saturating_duration_since(Instant::now()));
        }
        if queue >= timeout {
            sleep(timeout).await;
            return Err(ApiError::timeout(timeout));
        }
        sleep(queue).await;
        let answer = serve();
        if queue + latency >= timeout {
            sleep(timeout - queue).await;
            return Err(ApiError::timeout(timeout));
        }
        sleep(latency).await;
        Ok(answer)
    }

    fn read_delays(&self) -> (Duration, Duration) {
        let latency = self.latency.lock().unwrap();
        (latency.read_queue, latency.reads)
    }

    fn write_delays(&self) -> (Duration, Duration) {
        (Duration::ZERO, self.latency.lock().unwrap().writes)
    }

    fn watch_delays(&self) -> (Duration, Duration) {
        (Duration::ZERO, self.latency.lock().unwrap().reads)
    }
}

impl LeaseStore for Client {
    async fn get(&self, limit: Option<Instant>) -> Result<Option<Lease>, ApiError> {
        self.requests.gets.fetch_add(1, Ordering::Relaxed);
        self.request(limit, self.read_delays(), || self.server.lease())
            .await
    }

    async fn create(&self, lease: &Lease, limit: Option<Instant>) -> Result<Lease, ApiError> {
        self.requests.creates.fetch_add(1, Ordering::Relaxed);
        self.request(limit, self.write_delays(), || self.server.create(lease))
            .await?
    }

    async fn replace(&self, lease: &Lease, limit: Option<Instant>) -> Result<Lease, ApiError> {
        self.requests.replaces.fetch_add(1, Ordering::Relaxed);
        self.request(limit, self.write_delays(), || self.server.replace(lease))
            .await?
    }

    async fn watch(&self, resource_version: Option<&str>) -> Result<LeaseEvents, ApiError> {
        self.requests.watches.fetch_add(1, Ordering::Relaxed);
        self.request(None, self.watch_delays(), || {
            self.server.watch(resource_version)
        })
        .await
    }
}
