//! What a pod asks its sidecar: who leads (`/`, the old leader-elector
//! sidecar's `{"name": ...}`), whether this pod leads (`/readyz`), whether
//! the elector is healthy (`/healthz`, client-go's check), the metrics, and
//! the events as Server-Sent Events.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use elector_core::Elector;

use serde_json::json;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

/// How many events a slow `/events` client may fall behind before it
/// misses some (it is told how many).
const EVENT_BACKLOG: usize = 256;

/// An event for `/events`: its name and its JSON.
#[derive(Debug, Clone)]
pub struct Published {
    pub name: &'static str,
    pub json: String,
}

#[derive(Debug)]
struct Shared {
    elector: Elector,
    events: broadcast::Sender<Published>,
    tolerance: Duration,
}

/// The endpoints' side of the event stream.
#[derive(Debug, Clone)]
pub struct Publisher(broadcast::Sender<Published>);

impl Publisher {
    pub fn publish(&self, event: &elector_core::Event) {
        let json = elector_bindings::json::event(event, elector_bindings::json::Leases::Omitted);
        // No subscriber: nothing to do.
        let _ = self.0.send(Published {
            name: event.name(),
            json: json.to_string(),
        });
    }
}

/// Binds `address` (so a bad one fails before the election starts) and
/// returns the server to run, with the publisher of its `/events`.
pub async fn bind(
    address: SocketAddr,
    elector: Elector,
    tolerance: Duration,
) -> std::io::Result<(impl Future<Output = std::io::Result<()>>, Publisher)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let (events, _) = broadcast::channel(EVENT_BACKLOG);
    let shared = Arc::new(Shared {
        elector,
        events: events.clone(),
        tolerance,
    });
    let app = Router::new()
        .route("/", get(leader))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/events", get(events_stream))
        .with_state(shared);
    Ok((
        async move { axum::serve(listener, app).await },
        Publisher(events),
    ))
}

/// The old sidecar's `{"name": "<leader>"}`, with the lease and this pod's
/// view beside it.
async fn leader(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    let elector = &shared.elector;
    let config = elector.config();
    let lease = elector.lease();
    let since = lease
        .as_ref()
        .and_then(|lease| lease.spec.as_ref())
        .and_then(|spec| spec.acquire_time.as_ref())
        .map(|time| time.0.to_string());
    Json(json!({
        "name": elector.leader().unwrap_or_default(),
        "lease": config.lease_name(),
        "namespace": config.namespace(),
        "identity": config.identity(),
        "leading": elector.is_leader(),
        "term": elector.term(),
        "since": since,
    }))
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.elector.check(shared.tolerance) {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")).into_response(),
    }
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.elector.is_leader() {
        true => (StatusCode::OK, "leading\n").into_response(),
        false => (StatusCode::SERVICE_UNAVAILABLE, "not leading\n").into_response(),
    }
}

async fn metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        elector_core::metrics::gather(),
    )
        .into_response()
}

async fn events_stream(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    // A first comment sends the response's head at once: the client knows
    // it is subscribed before any event.
    let subscribed = tokio_stream::once(Ok(SseEvent::default().comment("subscribed")));
    let events = BroadcastStream::new(shared.events.subscribe()).map(|item| {
        Ok(match item {
            Ok(event) => SseEvent::default().event(event.name).data(event.json),
            Err(lagged) => SseEvent::default()
                .event("lagged")
                .data(json!({"missed": lagged_count(lagged)}).to_string()),
        })
    });
    Sse::new(subscribed.chain(events)).keep_alive(KeepAlive::default())
}

fn lagged_count(err: tokio_stream::wrappers::errors::BroadcastStreamRecvError) -> u64 {
    match err {
        tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(missed) => missed,
    }
}
