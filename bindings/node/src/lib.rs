//! The Node.js addon: a thin napi-rs layer over `elector-core`. The JS
//! package (`index.js`) holds the API users see; this exposes the engine.
//!
//! Events leave the engine on its dispatcher thread and reach JavaScript
//! through a threadsafe function, in order, on the main thread. The
//! threadsafe function keeps the process alive while the elector runs and is
//! released after the last event, so a stopped elector lets Node exit.

mod log;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use elector_bindings::ack::HeldAck;
use elector_bindings::json::Leases;
use elector_core::{
    Config, ConfigError, Elector, Field, JITTER_FACTOR, Options, OwnerReference, TimeUnit,
    duration_from_number,
};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use serde_json::json;

/// The package's options as the user gave them (numbers in their own
/// units, unconverted, so that the engine checks them before anything can
/// wrap), type-checked by the JS layer.
#[napi(object)]
pub struct NativeOptions {
    pub namespace: String,
    pub lease_name: String,
    pub identity: String,
    pub lease_duration_sec: f64,
    /// The package's renewal interval: the engine's retry period.
    pub renew_interval_ms: f64,
    /// Absent: derived from the other two (see `renew_deadline`).
    pub renew_deadline_ms: Option<f64>,
    pub release_on_stop: bool,
    /// Absent: the engine's default.
    pub release_timeout_ms: Option<f64>,
    /// Absent: the engine's default.
    pub stop_timeout_ms: Option<f64>,
    /// A kubeconfig path; absent: inferred (KUBECONFIG, then in-cluster).
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
    /// Written on the lease when this elector creates or takes it over.
    pub labels: Option<HashMap<String, String>>,
    pub owner_reference: Option<NativeOwnerReference>,
    /// An API server URL, instead of a kubeconfig, with its credentials.
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub ca_file: Option<String>,
    pub insecure_skip_tls_verify: Option<bool>,
}

/// The lease's owner, in Kubernetes' own shape (`apiVersion`, …).
#[napi(object)]
pub struct NativeOwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub controller: Option<bool>,
    pub block_owner_deletion: Option<bool>,
}

#[napi]
pub struct NativeElector {
    inner: Elector,
    /// `Lost`'s acknowledgement, given by the JS layer once its listeners
    /// and leader work are done.
    lost: Arc<HeldAck>,
}

/// The package's option that sets a core field; `deadline_given`: whether
/// the user set `renew_deadline_ms` (otherwise it is derived from the lease
/// duration, which the error names instead).
fn option_name(field: Field, deadline_given: bool) -> &'static str {
    match field {
        Field::LeaseDuration => "lease_duration_sec",
        Field::RetryPeriod => "renew_interval_ms",
        Field::RenewDeadline if deadline_given => "renew_deadline_ms",
        Field::RenewDeadline => "lease_duration_sec",
        Field::ReleaseTimeout => "release_timeout_ms",
        Field::StopTimeout => "stop_timeout_ms",
        // Kubernetes' own shape, as the object is given.
        Field::OwnerReferenceApiVersion => "owner_reference.apiVersion",
        Field::Namespace
        | Field::LeaseName
        | Field::Identity
        | Field::ReleaseOnStop
        | Field::Labels
        | Field::OwnerReferenceKind
        | Field::OwnerReferenceName
        | Field::OwnerReferenceUid
        | Field::Kubeconfig
        | Field::Context
        | Field::Url
        | Field::Token
        | Field::TokenFile
        | Field::CaFile
        | Field::InsecureSkipTlsVerify => field.name(),
    }
}

/// Each core option as the package spells it, in core's order: for the
/// test that holds the package's options to the engine's.
#[napi]
pub fn option_names() -> Vec<String> {
    Field::all()
        .map(|field| option_name(field, true).to_string())
        .collect()
}

/// A configuration error: the option (as the package spells it) and the
/// rule, for the JS layer to throw a RangeError naming the option.
fn config_error(err: elector_core::ConfigError, deadline_given: bool) -> Error {
    Error::new(
        Status::InvalidArg,
        json!({"option": option_name(err.field, deadline_given), "rule": err.rule}).to_string(),
    )
}

/// The renew deadline when the package's user gave none (the package has no
/// such option): halfway between the shortest client-go's rule allows
/// (`JITTER_FACTOR` × the retry period) and the lease duration, to the
/// millisecond. Where there is no room between them the lease is too short
/// for the renewal interval, and the error says so in the package's terms.
fn derived_renew_deadline(
    lease_duration: Duration,
    retry_period: Duration,
) -> std::result::Result<Duration, ConfigError> {
    let shortest = retry_period.mul_f64(JITTER_FACTOR);
    let halfway = Duration::from_millis(((lease_duration + shortest) / 2).as_millis() as u64);
    if halfway <= shortest || halfway >= lease_duration {
        return Err(ConfigError {
            field: Field::LeaseDuration,
            rule: format!(
                "must exceed {JITTER_FACTOR} x renew_interval_ms with room for a renew deadline \
                 between them (lease_duration_sec={}, renew_interval_ms={})",
                lease_duration.as_secs_f64(),
                retry_period.as_millis()
            ),
        });
    }
    Ok(halfway)
}

fn config_from(options: NativeOptions) -> std::result::Result<Config, ConfigError> {
    use TimeUnit::{Milliseconds, Seconds};
    let milliseconds = |field, value: Option<f64>| {
        value
            .map(|ms| duration_from_number(field, ms, Milliseconds))
            .transpose()
    };
    // The renewal interval first: the lease duration's default derives from it.
    let retry_period =
        duration_from_number(Field::RetryPeriod, options.renew_interval_ms, Milliseconds)?;
    let lease_duration =
        duration_from_number(Field::LeaseDuration, options.lease_duration_sec, Seconds)?;
    let renew_deadline = match options.renew_deadline_ms {
        Some(ms) => duration_from_number(Field::RenewDeadline, ms, Milliseconds)?,
        None => derived_renew_deadline(lease_duration, retry_period)?,
    };
    Options {
        namespace: Some(options.namespace),
        lease_duration: Some(lease_duration),
        renew_deadline: Some(renew_deadline),
        retry_period: Some(retry_period),
        release_on_stop: Some(options.release_on_stop),
        release_timeout: milliseconds(Field::ReleaseTimeout, options.release_timeout_ms)?,
        stop_timeout: milliseconds(Field::StopTimeout, options.stop_timeout_ms)?,
        labels: options.labels.unwrap_or_default().into_iter().collect(),
        owner_reference: options.owner_reference.map(|owner| OwnerReference {
            api_version: owner.api_version,
            kind: owner.kind,
            name: owner.name,
            uid: owner.uid,
            controller: owner.controller,
            block_owner_deletion: owner.block_owner_deletion,
        }),
        kubeconfig: options.kubeconfig.map(Into::into),
        context: options.context,
        url: options.url,
        token: options.token,
        token_file: options.token_file.map(Into::into),
        ca_file: options.ca_file.map(Into::into),
        insecure_skip_tls_verify: options.insecure_skip_tls_verify,
        ..Options::new(options.lease_name, options.identity)
    }
    .build()
}

#[napi]
impl NativeElector {
    #[napi(constructor)]
    pub fn new(options: NativeOptions) -> Result<Self> {
        let deadline_given = options.renew_deadline_ms.is_some();
        let config = config_from(options).map_err(|e| config_error(e, deadline_given))?;
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
                    // The JS events name the lease; they never show it.
                    elector_bindings::json::event(&event, Leases::Omitted).to_string(),
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

    /// client-go's health check: why this elector is unhealthy (it believes
    /// it leads but has not renewed for longer than the lease duration plus
    /// `tolerance_ms`), or null when it is healthy.
    #[napi]
    pub fn check(&self, tolerance_ms: f64) -> Result<Option<String>> {
        let tolerance = Duration::try_from_secs_f64(tolerance_ms / 1000.0).map_err(|_| {
            Error::new(
                Status::InvalidArg,
                format!("tolerance_ms {tolerance_ms} is not a duration"),
            )
        })?;
        Ok(self.inner.check(tolerance).err().map(|e| e.to_string()))
    }
}

/// The Prometheus text exposition of every running elector of the process.
#[napi]
pub fn metrics() -> String {
    elector_core::metrics::gather()
}

/// The same metrics as JSON, in prom-client's shape (see
/// `elector_bindings::json::metric_families`).
#[napi]
pub fn metric_families() -> String {
    elector_bindings::json::metric_families(&elector_core::metrics::gather_families()).to_string()
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
