//! The elector's view of the API server: one lease, four verbs, a timeout on
//! every request, counters, and errors sorted into what the protocol cares
//! about (conflict, not found) and what it rides out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::io::{AsyncBufRead, AsyncBufReadExt};
use futures::{FutureExt, StreamExt};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config as KubeConfig};
use tokio::time::Instant;

use tower::BoxError;
use tracing::warn;

use crate::config::{Config, Connection, Token};
use crate::connection::Connections;
use crate::events::ErrorKind;
use crate::stats::{Counters, bump};
use crate::store::{ApiError, LeaseEvents, LeaseStore};

/// The API server's watch timeout we ask for; the server closes the watch
/// then and we reopen it from the last version seen.
const WATCH_TIMEOUT_SECS: u32 = 290;

/// The protocol's view of a kube error.
fn api_error(err: kube::Error) -> ApiError {
    match err {
        kube::Error::Api(status) => match status.code {
            409 => ApiError::Conflict,
            404 => ApiError::NotFound,
            410 => ApiError::Gone,
            code => ApiError::Failed {
                kind: match code {
                    401 => ErrorKind::Unauthorized,
                    403 => ErrorKind::Forbidden,
                    408 | 504 => ErrorKind::Timeout,
                    429 | 500..=599 => ErrorKind::Unavailable,
                    _ => ErrorKind::Invalid,
                },
                message: format!("{} ({code} {})", status.message, status.reason),
            },
        },
        kube::Error::Auth(e) => ApiError::Failed {
            kind: ErrorKind::Unauthorized,
            message: format!("credentials: {e}"),
        },
        other => ApiError::Failed {
            kind: ErrorKind::Unavailable,
            message: error_chain(&other),
        },
    }
}

/// "outer: inner: root", since kube's errors hide the useful part (connection
/// refused, certificate unknown) in their sources.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The one lease an elector works on.
#[derive(Clone)]
pub struct LeaseApi {
    api: Api<Lease>,
    /// The shared client; holding it keeps it in the cache while this
    /// elector runs.
    client: Arc<Client>,
    name: String,
    request_timeout: Duration,
    counters: Arc<Counters>,
}

impl LeaseApi {
    pub fn new(client: Arc<Client>, config: &Config, counters: Arc<Counters>) -> LeaseApi {
        LeaseApi {
            api: Api::namespaced(Client::clone(&client), &config.namespace),
            client,
            name: config.lease_name.clone(),
            request_timeout: config.request_timeout(),
            counters,
        }
    }

    /// Runs one request, ending it at the request timeout or at `limit`,
    /// whichever is sooner. Requests come boxed: kube's request futures are
    /// large, and inline they would sit in every elector's task while it
    /// waits, not only while a request is in flight.
    async fn bounded<T>(
        &self,
        limit: Option<Instant>,
        request: BoxFuture<'_, Result<T, kube::Error>>,
    ) -> Result<T, ApiError> {
        let mut timeout = self.request_timeout;
        if let Some(limit) = limit {
            timeout = timeout.min(limit.saturating_duration_since(Instant::now()));
        }
        match tokio::time::timeout(timeout, request).await {
            Ok(result) => result.map_err(api_error),
            Err(_) => Err(ApiError::timeout(timeout)),
        }
    }
}

impl LeaseStore for LeaseApi {
    async fn get(&self, limit: Option<Instant>) -> Result<Option<Lease>, ApiError> {
        bump(&self.counters.gets);
        match self.bounded(limit, self.api.get(&self.name).boxed()).await {
            Ok(lease) => Ok(Some(slim(lease))),
            Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create(&self, lease: &Lease, limit: Option<Instant>) -> Result<Lease, ApiError> {
        bump(&self.counters.creates);
        let params = PostParams::default();
        let create = self.api.create(&params, lease);
        self.bounded(limit, create.boxed()).await.map(slim)
    }

    async fn replace(&self, lease: &Lease, limit: Option<Instant>) -> Result<Lease, ApiError> {
        bump(&self.counters.updates);
        let params = PostParams::default();
        let replace = self.api.replace(&self.name, &params, lease);
        self.bounded(limit, replace.boxed()).await.map(slim)
    }

    /// A field selector on the lease's name; "0" (any version, from the
    /// watch cache) when no version is given, which starts with the current
    /// state as `Added`.
    async fn watch(&self, resource_version: Option<&str>) -> Result<LeaseEvents, ApiError> {
        bump(&self.counters.watches);
        let params = WatchParams::default()
            .fields(&format!("metadata.name={}", self.name))
            .timeout(WATCH_TIMEOUT_SECS);
        let version = resource_version.unwrap_or("0");
        let request = kube::core::Request::new(self.api.resource_url())
            .watch(&params, version)
            .map_err(|e| api_error(kube::Error::BuildRequest(e)))?;
        let body = self
            .bounded(None, self.client.request_stream(request).boxed())
            .await?;
        Ok(watch_events(body))
    }
}

/// The lease without its managedFields, which the elector never reads and
/// which were a third of every copy it keeps. A replace that omits them
/// leaves the server's as they are.
fn slim(mut lease: Lease) -> Lease {
    lease.metadata.managed_fields = None;
    lease
}

/// The events of a watch, one JSON object per line. Decoded here rather than
/// by kube's `Api::watch`, whose line reader keeps an 8 KiB buffer for the
/// life of every watch; this one holds a line only while it arrives.
fn watch_events(body: impl AsyncBufRead + Send + Unpin + 'static) -> LeaseEvents {
    futures::stream::unfold(body, |mut body| async move {
        let mut line = Vec::new();
        let event = match body.read_until(b'\n', &mut line).await {
            Ok(0) => return None,
            Ok(_) if line.last() != Some(&b'\n') => Err(ApiError::Failed {
                kind: ErrorKind::Unavailable,
                message: "watch broke in the middle of an event".into(),
            }),
            Ok(_) => watch_event(&line),
            Err(e) => Err(ApiError::Failed {
                kind: ErrorKind::Unavailable,
                message: format!("watch broke: {}", error_chain(&e)),
            }),
        };
        Some((event, body))
    })
    .boxed()
}

fn watch_event(line: &[u8]) -> Result<WatchEvent<Lease>, ApiError> {
    match serde_json::from_slice(line) {
        Ok(WatchEvent::Added(lease)) => Ok(WatchEvent::Added(slim(lease))),
        Ok(WatchEvent::Modified(lease)) => Ok(WatchEvent::Modified(slim(lease))),
        Ok(WatchEvent::Deleted(lease)) => Ok(WatchEvent::Deleted(slim(lease))),
        Ok(other) => Ok(other),
        Err(e) => Err(ApiError::Failed {
            kind: ErrorKind::Invalid,
            message: format!(
                "watch event: {e}: {}",
                String::from_utf8_lossy(&line[..line.len().min(200)])
            ),
        }),
    }
}

/// Why the connection settings could not be turned into a client, with the
/// chain of causes; the handle reports it as its `Error::Connect`.
#[derive(Debug)]
pub(crate) struct ConnectError(pub String);

/// A client for `connection`. Electors with the same connection share one
/// client (its connection pool and TLS setup), so an extra lease in a
/// process costs little. The cache holds clients weakly: once the last
/// elector using one is gone, so is the client, and the next elector
/// connects anew (with the credentials and CA as they are then). Must run
/// on the elector runtime: the client spawns its worker there.
pub async fn client_for(config: &Config) -> Result<Arc<Client>, ConnectError> {
    static CLIENTS: OnceLock<Mutex<HashMap<Connection, Weak<Client>>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    let shared = |clients: &HashMap<Connection, Weak<Client>>| {
        clients.get(&config.connection).and_then(Weak::upgrade)
    };
    if let Some(client) = shared(&clients.lock().unwrap()) {
        return Ok(client);
    }
    let mut kube_config = kube_config(&config.connection).await?;
    // The elector retries on its own schedule and bounds every request itself;
    // hidden retries would eat into the renew deadline.
    kube_config.default_retry = false;
    kube_config.connect_timeout = Some(config.request_timeout());
    let client = build_client(kube_config, config.request_timeout())
        .map_err(|e| ConnectError(error_chain(&*e)))?;
    let mut clients = clients.lock().unwrap();
    // Another elector may have connected while this one did: share its client.
    if let Some(client) = shared(&clients) {
        return Ok(client);
    }
    clients.retain(|_, client| client.strong_count() > 0);
    let client = Arc::new(client);
    clients.insert(config.connection.clone(), Arc::downgrade(&client));
    Ok(client)
}

/// kube's client stack (base URI, auth, extra headers) over our
/// [`Connections`]: HTTP/2 shared by every elector of the process, on TCP
/// connections with TCP_NODELAY. kube's own connector leaves Nagle on: the
/// first request on a new connection, sent right after the TLS handshake's
/// last flight, then waits for the server's delayed ACK, about 40 ms on
/// Linux. Request timeouts are the engine's own (every call is bounded), so
/// kube's timeout connector is not needed here.
fn build_client(kube_config: KubeConfig, connect_timeout: Duration) -> Result<Client, BoxError> {
    use kube::client::ConfigExt;
    use tower::ServiceBuilder;

    if kube_config.proxy_url.is_some() {
        // kube's own stack knows the proxy kinds; it speaks HTTP/1.1 only and
        // keeps Nagle on.
        warn!(
            "a proxy is configured: HTTP/1.1, one connection per watch, instead of one shared HTTP/2 connection"
        );
        return Ok(Client::try_from(kube_config)?);
    }
    let connections = Connections::new(
        kube_config.cluster_url.clone(),
        https_connector(&kube_config, HttpVersions::Http2AndHttp1)?,
        https_connector(&kube_config, HttpVersions::Http1Only)?,
        connect_timeout,
    );
    let service = ServiceBuilder::new()
        .layer(kube_config.base_uri_layer())
        .option_layer(kube_config.auth_layer()?)
        .layer(kube_config.extra_headers_layer()?)
        .service(connections);
    Ok(Client::new(service, kube_config.default_namespace))
}

/// What a connector offers the server by ALPN.
enum HttpVersions {
    Http2AndHttp1,
    Http1Only,
}

/// TLS (or plain HTTP, for an `http://` server) over TCP with TCP_NODELAY.
/// The connect timeout is `Connections`' own, around TCP, TLS and HTTP/2.
fn https_connector(
    kube_config: &KubeConfig,
    versions: HttpVersions,
) -> Result<HttpsConnector<HttpConnector>, BoxError> {
    use kube::client::ConfigExt;

    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(kube_config.rustls_client_config()?)
        .https_or_http();
    if let Some(name) = &kube_config.tls_server_name {
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(
            name.clone().try_into()?,
        ));
    }
    Ok(match versions {
        HttpVersions::Http2AndHttp1 => https.enable_all_versions().wrap_connector(http),
        HttpVersions::Http1Only => https.enable_http1().wrap_connector(http),
    })
}

async fn kube_config(connection: &Connection) -> Result<KubeConfig, ConnectError> {
    let connect_error = |e: &dyn std::error::Error| ConnectError(error_chain(e));
    match connection {
        Connection::Infer => KubeConfig::infer().await.map_err(|e| connect_error(&e)),
        Connection::Kubeconfig { path, context } => {
            let kubeconfig = match path {
                Some(path) => Kubeconfig::read_from(path),
                None => Kubeconfig::read(),
            }
            .map_err(|e| connect_error(&e))?;
            let options = KubeConfigOptions {
                context: context.clone(),
                ..KubeConfigOptions::default()
            };
            KubeConfig::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| connect_error(&e))
        }
        Connection::Url {
            url,
            token,
            ca_file,
            insecure_skip_tls_verify,
        } => {
            let uri = url
                .parse()
                .map_err(|e: http::uri::InvalidUri| connect_error(&e))?;
            let mut config = KubeConfig::new(uri);
            match token {
                Some(Token::Inline(token)) => {
                    config.auth_info.token = Some(token.clone().into());
                }
                Some(Token::File(path)) => {
                    config.auth_info.token_file = Some(path.display().to_string());
                }
                None => {}
            }
            if let Some(ca_file) = ca_file {
                // kube re-reads this file as it rotates; fail early and
                // clearly if it cannot be read at all.
                std::fs::metadata(ca_file)
                    .map_err(|e| ConnectError(format!("ca_file {}: {e}", ca_file.display())))?;
                config.root_cert_file = Some(ca_file.clone());
            }
            config.accept_invalid_certs = *insecure_skip_tls_verify;
            Ok(config)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watch_is_read_line_by_line_without_managed_fields() {
        let lease = r#"{"metadata":{"name":"a","resourceVersion":"7","managedFields":[{"manager":"m","fieldsV1":{"f:spec":{}}}]},"spec":{"holderIdentity":"x"}}"#;
        let body = format!(
            "{{\"type\":\"ADDED\",\"object\":{lease}}}\nnot json\n{{\"type\":\"MODIFIED\",\"object\":{lease}}}"
        );
        let mut events = watch_events(futures::io::Cursor::new(body.into_bytes()));
        match events.next().await {
            Some(Ok(WatchEvent::Added(lease))) => {
                assert_eq!(lease.metadata.resource_version.as_deref(), Some("7"));
                assert!(lease.metadata.managed_fields.is_none());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            events.next().await,
            Some(Err(ApiError::Failed { kind: ErrorKind::Invalid, message })) if message.contains("not json")
        ));
        // The stream ended in the middle of the last event.
        assert!(matches!(
            events.next().await,
            Some(Err(ApiError::Failed {
                kind: ErrorKind::Unavailable,
                ..
            }))
        ));
        assert!(events.next().await.is_none());
    }

    #[tokio::test]
    async fn electors_share_a_client_until_the_last_one_is_gone() {
        // No server is contacted: building a client does not connect.
        let connection = Connection::Url {
            url: "https://127.0.0.1:9".into(),
            token: None,
            ca_file: None,
            insecure_skip_tls_verify: false,
        };
        let config = |lease: &str| {
            Config::builder("default", lease, "me")
                .connection(connection.clone())
                .build()
                .unwrap()
        };
        let first = client_for(&config("a")).await.unwrap();
        let second = client_for(&config("b")).await.unwrap();
        assert!(Arc::ptr_eq(&first, &second), "one client per connection");
        let gone = Arc::downgrade(&first);
        drop((first, second));
        assert!(gone.upgrade().is_none(), "the cache does not keep it alive");
        let third = client_for(&config("a")).await.unwrap();
        assert_eq!(Arc::strong_count(&third), 1, "a new client");
    }
}
