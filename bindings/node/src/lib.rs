//! The Node.js addon: a thin napi-rs layer over `elector-core`. The JS
//! package (`index.js`) holds the API users see; this exposes the engine.
//!
//! Events leave the engine on its dispatcher thread and reach JavaScript
//! through a threadsafe function, in order, on the main thread. The
//! threadsafe function keeps the process alive while the elector runs and is
//! released after the last event, so a stopped elector lets Node exit.

mod log;

use std::sync::Arc;
use std::time::Duration;

use elector_bindings::ack::HeldAck;
use elector_core::{Config, Connection, Elector};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use serde_json::json;

/// Options as the JS layer passes them, already mapped to the engine's terms.
#[napi(object)]
pub struct NativeOptions {
    pub namespace: String,
    pub lease_name: String,
    pub identity: String,
    pub lease_duration_ms: u32,
    pub renew_deadline_ms: u32,
    pub retry_period_ms: u32,
    pub release_on_stop: bool,
    /// Absent: the engine's default.
    pub release_timeout_ms: Option<u32>,
    /// Absent: the engine's default.
    pub stop_timeout_ms: Option<u32>,
    /// A kubeconfig path; absent: inferred (KUBECONFIG, then in-cluster).
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
}

#[napi]
pub struct NativeElector {
    inner: Elector,
    /// `Lost`'s acknowledgement, given by the JS layer once its listeners
    /// and leader work are done.
    lost: Arc<HeldAck>,
}

/// A configuration error: `field` and `rule` let the JS layer throw an
/// error naming the option.
fn config_error(err: elector_core::ConfigError) -> Error {
    Error::new(
        Status::InvalidArg,
        json!({"field": err.field, "message": err.to_string()}).to_string(),
    )
}

#[napi]
impl NativeElector {
    #[napi(constructor)]
    pub fn new(options: NativeOptions) -> Result<Self> {
        let ms = |v: u32| Duration::from_millis(u64::from(v));
        let connection = match (options.kubeconfig, options.context) {
            (None, None) => Connection::Infer,
            (path, context) => Connection::Kubeconfig {
                path: path.map(Into::into),
                context,
            },
        };
        let mut builder = Config::builder(options.namespace, options.lease_name, options.identity)
            .lease_duration(ms(options.lease_duration_ms))
            .renew_deadline(ms(options.renew_deadline_ms))
            .retry_period(ms(options.retry_period_ms))
            .release_on_stop(options.release_on_stop)
            .connection(connection);
        if let Some(value) = options.release_timeout_ms {
            builder = builder.release_timeout(ms(value));
        }
        if let Some(value) = options.stop_timeout_ms {
            builder = builder.stop_timeout(ms(value));
        }
        let config = builder.build().map_err(config_error)?;
        Ok(NativeElector {
            inner: Elector::new(config),
            lost: Arc::default(),
        })
    }

    /// Registers `on_event` (called with each event as JSON, in order) and
    /// starts campaigning. A `lost` event waits for `acknowledgeLost()`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn start(&self, on_event: Function<String, ()>) -> Result<AsyncTask<Start>> {
        let deliver = on_event
            .build_threadsafe_function::<String>()
            .callee_handled::<false>()
            .build()?;
        let lost = self.lost.clone();
        self.inner
            .on_event(move |mut event| {
                lost.hold(&mut event);
                deliver.call(
                    elector_bindings::json::event(&event).to_string(),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            })
            .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        Ok(AsyncTask::new(Start {
            elector: self.inner.clone(),
        }))
    }

    /// The JS layer's leader work has stopped after a `lost` event: the
    /// engine may release the lease, or campaign again.
    #[napi]
    pub fn acknowledge_lost(&self) {
        self.lost.acknowledge();
    }

    /// Stops; resolves once the engine delivered its last event.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop(&self) -> AsyncTask<Stop> {
        AsyncTask::new(Stop {
            elector: self.inner.clone(),
        })
    }

    #[napi]
    pub fn is_leader(&self) -> bool {
        self.inner.is_leader()
    }

    #[napi]
    pub fn leader(&self) -> Option<String> {
        self.inner.leader()
    }

    #[napi]
    pub fn term(&self) -> Option<i32> {
        self.inner.term()
    }

    /// The lease as last observed, as Kubernetes JSON.
    #[napi]
    pub fn lease(&self) -> Option<String> {
        self.inner
            .lease()
            .and_then(|lease| serde_json::to_string(&lease).ok())
    }

    /// The engine's counters, as JSON.
    #[napi]
    pub fn stats(&self) -> String {
        elector_bindings::json::stats(&self.inner.stats()).to_string()
    }
}

/// Forwards the engine's logs to `sink` (called with one JSON line per log
/// record); once per process. Returns false when a sink was already set.
#[napi]
pub fn set_log_sink(sink: Function<String, ()>) -> Result<bool> {
    log::install(sink)
}

pub struct Start {
    elector: Elector,
}

impl Task for Start {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        self.elector
            .start_blocking()
            .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

pub struct Stop {
    elector: Elector,
}

impl Task for Stop {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        self.elector.stop_blocking();
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}
