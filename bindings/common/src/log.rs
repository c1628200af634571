//! The engine's `tracing` logs for a host language. One sink per process.
//! Each line carries the elector span's `lease` and `identity`, by which the
//! host finds that elector's logger. Node.js and Ruby take JSON lines:
//!
//! `{"level": "warn", "message": "...", "lease": "...", "identity": "...",
//!   "target": "elector_core::engine", "fields": {...}}`
//!
//! and C (so Go) takes each [`LogLine`] through its log callback.
//!
//! The sink runs on engine threads: it must only hand the line over (to a
//! threadsafe function, a queue, a logger that does not block), never run
//! host code that waits on the engine.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber, span};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What is forwarded unless ELECTOR_LOG says otherwise: the engine's own
/// lines from debug up, and warnings from the libraries under it.
const DEFAULT_FILTER: &str = "warn,elector_core=debug";

/// One log line of the engine.
#[derive(Debug)]
pub struct LogLine<'a> {
    pub level: Level,
    pub target: &'a str,
    pub message: &'a str,
    /// The elector's, or `None` for a line outside any elector (a shared
    /// connection's, say).
    pub lease: Option<&'a str>,
    pub identity: Option<&'a str>,
    /// The event's other fields.
    pub fields: &'a Map<String, Value>,
}

impl LogLine<'_> {
    pub fn level_name(&self) -> &'static str {
        match self.level {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        }
    }
}

/// Installs `sink` as the process's log sink, as JSON lines, for lines of
/// an elector only (the host routes them by lease and identity). Returns
/// false, changing nothing, when a sink or another global `tracing`
/// subscriber was already installed.
pub fn install(sink: impl Fn(String) + Send + Sync + 'static) -> bool {
    install_lines(move |line: &LogLine| {
        if line.lease.is_none() && line.identity.is_none() {
            return; // not inside an elector: no logger to route to
        }
        let json = json!({
            "level": line.level_name(),
            "message": line.message,
            "lease": line.lease,
            "identity": line.identity,
            "target": line.target,
            "fields": line.fields,
        });
        sink(json.to_string());
    })
}

/// Installs `sink` as the process's log sink, for every line the filter
/// lets through (`ELECTOR_LOG`, else the engine's from debug up and other
/// libraries' warnings). Returns false, changing nothing, when a sink or
/// another global `tracing` subscriber was already installed.
pub fn install_lines(sink: impl Fn(&LogLine) + Send + Sync + 'static) -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let mut first = false;
    let installed = *INSTALLED.get_or_init(|| {
        first = true;
        let filter = std::env::var("ELECTOR_LOG").unwrap_or_else(|_| DEFAULT_FILTER.to_string());
        // The elector span (an info span in elector_core::elector, where no
        // event is logged) must stay enabled under any filter: it names the
        // logger.
        let filter = format!("{filter},elector_core::elector=info");
        let layer = LineLayer { sink }.with_filter(EnvFilter::new(filter));
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .is_ok()
    });
    first && installed
}

struct LineLayer<F> {
    sink: F,
}

/// The elector span's identifying fields, kept in the span's extensions.
#[derive(Default)]
struct ElectorFields {
    lease: Option<String>,
    identity: Option<String>,
}

impl Visit for ElectorFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "lease" => self.lease = Some(format!("{value:?}")),
            "identity" => self.identity = Some(format!("{value:?}")),
            _ => {}
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
}

/// An event's message and other fields.
#[derive(Default)]
struct EventFields {
    message: String,
    fields: Map<String, Value>,
}

impl Visit for EventFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.insert(
                field.name().to_string(),
                Value::String(format!("{value:?}")),
            );
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.insert(field.name().to_string(), json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.insert(field.name().to_string(), json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.insert(field.name().to_string(), json!(value));
    }
}

impl<S, F> Layer<S> for LineLayer<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    F: Fn(&LogLine) + Send + Sync + 'static,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut fields = ElectorFields::default();
        attrs.record(&mut fields);
        if (fields.lease.is_some() || fields.identity.is_some())
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let (lease, identity) = ctx
            .event_scope(event)
            .and_then(|scope| {
                scope.from_root().find_map(|span| {
                    let extensions = span.extensions();
                    let fields = extensions.get::<ElectorFields>()?;
                    Some((fields.lease.clone(), fields.identity.clone()))
                })
            })
            .unwrap_or_default();
        let mut visited = EventFields::default();
        event.record(&mut visited);
        (self.sink)(&LogLine {
            level: *event.metadata().level(),
            target: event.metadata().target(),
            message: &visited.message,
            lease: lease.as_deref(),
            identity: identity.as_deref(),
            fields: &visited.fields,
        });
    }
}
