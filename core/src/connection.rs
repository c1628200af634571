//! The connections to one API server, shared by every elector in the process:
//! HTTP/2 (negotiated with ALPN), so that a thousand standbys' watches are a
//! thousand streams on one connection, not a thousand TLS connections.
//!
//! Hand-written over hyper's connection-level HTTP/2 client because hyper's
//! pools put every request of an origin on a single HTTP/2 connection and
//! queue the streams beyond the server's `SETTINGS_MAX_CONCURRENT_STREAMS`
//! (kube-apiserver allows 100 by default). Watches never end on their own, so
//! a queued request would wait for a watch to close: a leader's renewal
//! behind a hundred standbys' watches would miss its deadline. Here a
//! connection takes watches only up to its limit less a reserve for short
//! requests, and another connection opens beyond that, as Go's HTTP/2
//! transport does for client-go.
//!
//! Liveness: a request cut by its timeout resets its stream (dropping a
//! stream sends RST_STREAM), never the connection, which others share. A dead
//! connection (a blackhole) is found by HTTP/2 PING and closed; the next
//! request opens a new one. A connection on which a request fails before its
//! response (the server's GOAWAY, a connection closing) takes no new streams;
//! the streams it has run on until they end.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, Uri};
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use hyper::client::conn::http2;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as Http1Client;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::Body;
use tower::{BoxError, Service, ServiceExt};
use tracing::{debug, info, warn};

/// A connection that has read nothing for this long is sent a PING...
const PING_AFTER_IDLE: Duration = Duration::from_secs(3);
/// ...and closed when no answer comes within this. A blackholed connection is
/// thus closed within 6 s of its last frame, and the watches it carried
/// reopen on a new one, well inside the shortest usual lease (15 s): a
/// standby watching through it sees the leader's renewals again before its
/// lease timer could fire. client-go waits 30 s + 15 s; our PINGs cost one
/// frame per idle connection, not per elector.
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// A request refused by a connection that turned out closed before it was
/// sent goes to another connection, this many times at most.
const UNSENT_RETRIES: usize = 2;

/// Every connection to one API server. A `Service` for kube's client stack.
#[derive(Clone)]
pub(crate) struct Connections {
    shared: Arc<Shared>,
}

struct Shared {
    server: Uri,
    /// Offers h2 and http/1.1 by ALPN.
    connector: HttpsConnector<HttpConnector>,
    /// Offers http/1.1 only: the fallback's pool must not get an h2
    /// connection from a server that offers both after all (a load balancer
    /// with mixed backends), as it would queue streams beyond the limit.
    http1_connector: HttpsConnector<HttpConnector>,
    connect_timeout: Duration,
    http2: http2::Builder<TokioExecutor>,
    open: Mutex<Vec<Http2Connection>>,
    /// One connection is opened at a time: electors that need one wait for it
    /// rather than each opening their own.
    connecting: tokio::sync::Mutex<()>,
    /// Set when the server does not offer HTTP/2: one connection per open
    /// request from then on, as before HTTP/2.
    http1: std::sync::OnceLock<Http1Client<HttpsConnector<HttpConnector>, Body>>,
    next_id: AtomicUsize,
}

struct Http2Connection {
    id: usize,
    sender: http2::SendRequest<Body>,
    state: Arc<ConnectionState>,
}

/// What the connection's streams and its task tell the choice of connection.
#[derive(Default)]
struct ConnectionState {
    /// Streams open on it (counted by us: hyper does not say).
    streams: AtomicUsize,
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS, as last seen by the
    /// connection's task.
    max_streams: AtomicUsize,
    /// Takes no new streams: a request on it failed before its response.
    retired: AtomicBool,
}

impl Http2Connection {
    /// Whether this connection can take another stream of this kind now.
    fn has_room(&self, watch: bool) -> bool {
        // At least one: a server that allowed none would have us connect forever.
        let limit = self.state.max_streams.load(Ordering::Relaxed).max(1);
        let limit = if watch { watch_limit(limit) } else { limit };
        !self.state.retired.load(Ordering::Relaxed)
            && !self.sender.is_closed()
            && self.state.streams.load(Ordering::Relaxed) < limit
    }
}

/// Watches never end on their own: they may take nine tenths of a
/// connection's streams, and the last tenth stays free for short requests
/// (get, create, replace), so that a renewal never queues behind watches.
fn watch_limit(max_streams: usize) -> usize {
    max_streams - max_streams / 10
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("server", &self.shared.server)
            .field("http2", &self.shared.http1.get().is_none())
            .finish_non_exhaustive()
    }
}

impl Connections {
    /// `connector` must offer h2 and http/1.1 by ALPN, `http1_connector`
    /// http/1.1 only.
    pub(crate) fn new(
        server: Uri,
        connector: HttpsConnector<HttpConnector>,
        http1_connector: HttpsConnector<HttpConnector>,
        connect_timeout: Duration,
    ) -> Connections {
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .keep_alive_interval(PING_AFTER_IDLE)
            .keep_alive_timeout(PING_TIMEOUT)
            .keep_alive_while_idle(true);
        Connections {
            shared: Arc::new(Shared {
                server,
                connector,
                http1_connector,
                connect_timeout,
                http2,
                open: Mutex::default(),
                connecting: tokio::sync::Mutex::const_new(()),
                http1: std::sync::OnceLock::new(),
                next_id: AtomicUsize::new(1),
            }),
        }
    }
}

impl Shared {
    /// A connection with room for one more stream, and that stream counted.
    fn reserve(&self, watch: bool) -> Option<Reserved> {
        let mut open = self.open.lock().unwrap();
        open.retain(|connection| {
            let closed = connection.sender.is_closed();
            if closed {
                debug!(connection = connection.id, "HTTP/2 connection closed");
            }
            // A retired connection closes once its last stream ends and
            // nothing holds its sender.
            let drained = connection.state.retired.load(Ordering::Relaxed)
                && connection.state.streams.load(Ordering::Relaxed) == 0;
            !closed && !drained
        });
        let connection = open.iter().find(|c| c.has_room(watch))?;
        Some(Reserved::on(connection))
    }

    async fn send(
        self: Arc<Self>,
        mut request: Request<Body>,
    ) -> Result<Response<Streamed>, BoxError> {
        for _ in 0..UNSENT_RETRIES {
            let Some(Reserved { mut sender, guard }) =
                self.reserve_or_connect(is_watch(&request)).await?
            else {
                // The server has no HTTP/2: this goes by HTTP/1.1.
                return self.send_http1(request).await;
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(response.map(|body| Streamed::counted(body, guard))),
                Err(mut failed) => {
                    // GOAWAY, or the connection closing: whatever it was, the
                    // next request goes elsewhere, and this one too if it was
                    // not sent.
                    guard.retire_connection();
                    match failed.take_message() {
                        Some(unsent) => request = unsent,
                        None => return Err(failed.into_error().into()),
                    }
                }
            }
        }
        Err(format!("no connection to {} took the request", self.server).into())
    }

    async fn send_http1(&self, request: Request<Body>) -> Result<Response<Streamed>, BoxError> {
        let http1 = self
            .http1
            .get()
            .expect("set before a request goes by HTTP/1.1");
        Ok(http1.request(request).await?.map(Streamed::uncounted))
    }

    /// A stream on an open connection, or on a new one; `None` once the
    /// server is known to speak HTTP/1.1 only.
    async fn reserve_or_connect(&self, watch: bool) -> Result<Option<Reserved>, BoxError> {
        if self.http1.get().is_some() {
            return Ok(None);
        }
        Ok(match self.reserve(watch) {
            Some(reserved) => Some(reserved),
            None => {
                let _one_at_a_time = self.connecting.lock().await;
                if self.http1.get().is_some() {
                    None // found out while this request waited its turn
                } else {
                    match self.reserve(watch) {
                        Some(reserved) => Some(reserved),
                        // Boxed: its TLS handshake would otherwise sit in
                        // every request's future.
                        None => Box::pin(self.connect()).await?,
                    }
                }
            }
        })
    }

    /// Opens a connection and reserves a stream on it; `None` when the server
    /// does not speak HTTP/2 (every request goes by HTTP/1.1 from then on).
    async fn connect(&self) -> Result<Option<Reserved>, BoxError> {
        let connect = async {
            let io = self.connector.clone().oneshot(self.server.clone()).await?;
            if !io.connected().is_negotiated_h2() {
                return Ok::<_, BoxError>(None);
            }
            let (sender, connection) = self.http2.handshake(io).await?;
            Ok(Some((sender, connection)))
        };
        let Some((sender, mut connection)) = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| format!("no connection within {:?}", self.connect_timeout))??
        else {
            warn!(
                server = %self.server,
                "the API server does not offer HTTP/2: one connection per watch (HTTP/1.1)"
            );
            let http1 =
                Http1Client::builder(TokioExecutor::new()).build(self.http1_connector.clone());
            let _ = self.http1.set(http1);
            return Ok(None);
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnectionState {
            max_streams: AtomicUsize::new(connection.current_max_send_streams()),
            ..ConnectionState::default()
        });
        let seen = Arc::clone(&state);
        let driven = std::future::poll_fn(move |cx| {
            let polled = Pin::new(&mut connection).poll(cx);
            // The server may change its limit in any SETTINGS frame.
            seen.max_streams
                .store(connection.current_max_send_streams(), Ordering::Relaxed);
            polled
        });
        tokio::spawn(async move {
            match driven.await {
                Ok(()) => debug!(connection = id, "HTTP/2 connection ended"),
                // A PING unanswered, a reset, the server gone: the next request
                // opens a new connection.
                Err(err) => info!(connection = id, error = %err, "HTTP/2 connection lost"),
            }
        });
        let mut open = self.open.lock().unwrap();
        debug!(
            connection = id,
            open = open.len() + 1,
            "HTTP/2 connection to the API server"
        );
        let connection = Http2Connection { id, sender, state };
        let reserved = Reserved::on(&connection);
        open.push(connection);
        Ok(Some(reserved))
    }
}

/// A stream counted on a connection, for one request.
struct Reserved {
    sender: http2::SendRequest<Body>,
    guard: StreamGuard,
}

impl Reserved {
    fn on(connection: &Http2Connection) -> Reserved {
        Reserved {
            sender: connection.sender.clone(),
            guard: StreamGuard::new(&connection.state),
        }
    }
}

/// kube asks for watches with `watch=true` (or `watch=1`).
fn is_watch(request: &Request<Body>) -> bool {
    request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    })
}

impl Service<Request<Body>> for Connections {
    type Response = Response<Streamed>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        Box::pin(Arc::clone(&self.shared).send(request))
    }
}

/// Counts a stream on its connection while it is open.
struct StreamGuard(Arc<ConnectionState>);

impl StreamGuard {
    fn new(connection: &Arc<ConnectionState>) -> StreamGuard {
        connection.streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(Arc::clone(connection))
    }

    fn retire_connection(&self) {
        self.0.retired.store(true, Ordering::Relaxed);
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its stream counted until it is dropped.
pub(crate) struct Streamed {
    body: Incoming,
    _stream: Option<StreamGuard>,
}

impl Streamed {
    fn counted(body: Incoming, stream: StreamGuard) -> Streamed {
        Streamed {
            body,
            _stream: Some(stream),
        }
    }

    fn uncounted(body: Incoming) -> Streamed {
        Streamed {
            body,
            _stream: None,
        }
    }
}

impl HttpBody for Streamed {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
