//! The native half of the `kubernetes_leader_election` gem: a magnus class
//! over `elector-core`. The Ruby half (`lib/`) holds the API users see and
//! the threads that run their code; this exposes the engine to it.
//!
//! Ruby code never runs on an engine thread. The engine's dispatcher thread
//! only pushes each event, as JSON, into the elector's inbox; a Ruby thread
//! drains it with the GVL released (`next_event`). Logs travel the same way
//! through one process-wide inbox (`next_log_line`).

mod gvl;

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use elector_bindings::ack::HeldAck;
use elector_bindings::json::Leases;
use elector_core::{
    Config, Elector, Field, Options, OwnerReference, TimeUnit, duration_from_number,
};
use magnus::prelude::*;
use magnus::{Error, ExceptionClass, RClass, Ruby, function, method};
use serde_json::Value;

use crate::gvl::{Inbox, Waitable};

/// Log lines kept for the Ruby log thread at most; older ones are dropped
/// if it falls this far behind.
const LOG_BACKLOG: usize = 10_000;

static LOG_LINES: LazyLock<Inbox<String>> = LazyLock::new(Inbox::default);

#[magnus::wrap(class = "KubernetesLeaderElection::Native", free_immediately, size)]
struct Native {
    elector: Elector,
    events: Arc<Inbox<String>>,
    /// `Lost`'s acknowledgement, given by the Ruby layer once the blocks
    /// and `lead`'s block have returned.
    lost: Arc<HeldAck>,
    /// Set by the first `stop`; later calls wait for the same stop.
    stopped: OnceLock<Arc<Waitable<bool>>>,
}

impl Native {
    /// `options` is JSON written by the Ruby layer, which has already
    /// checked the types; the engine checks the values.
    fn new(ruby: &Ruby, options: String) -> Result<Native, Error> {
        let options: Value = serde_json::from_str(&options)
            .map_err(|e| Error::new(ruby.exception_arg_error(), e.to_string()))?;
        let config = config_from(&options).map_err(|e| config_error(ruby, e))?;
        let elector = Elector::new(config);
        let events = Arc::new(Inbox::default());
        let lost = Arc::new(HeldAck::default());
        let (inbox, held) = (events.clone(), lost.clone());
        elector
            .on_event(move |mut event| {
                held.hold(&mut event);
                // Ruby's events hand the Lease to the blocks.
                inbox.push(elector_bindings::json::event(&event, Leases::Included).to_string())
            })
            .map_err(|e| elector_error(ruby, &e))?;
        Ok(Native {
            elector,
            events,
            lost,
            stopped: OnceLock::new(),
        })
    }

    /// Starts campaigning. False when Ruby had an interrupt pending and the
    /// start did not run (the caller retries once it is handled).
    fn start(ruby: &Ruby, rb_self: &Self) -> Result<bool, Error> {
        // Connecting reads files only (kubeconfig, CA): brief, so not
        // interruptible, but other Ruby threads run meanwhile.
        let ran = gvl::outside_gvl(|| rb_self.elector.start_blocking());
        match ran {
            None => Ok(false),
            Some(Ok(())) => Ok(true),
            Some(Err(e)) => Err(elector_error(ruby, &e)),
        }
    }

    /// Stops (a leader releases the lease). True once the engine has
    /// finished and every event is in the inbox; false if Ruby interrupted
    /// the wait, in which case the stop goes on and a later call waits for
    /// the same stop.
    fn stop(&self) -> bool {
        let done = self.stopped.get_or_init(|| {
            let done = Arc::new(Waitable::new(false));
            let (elector, signal) = (self.elector.clone(), done.clone());
            std::thread::Builder::new()
                .name("elector-stop".into())
                .spawn(move || {
                    elector.stop_blocking();
                    signal.update(|finished| *finished = true);
                })
                .expect("spawning the stop thread");
            done
        });
        done.wait(None, |finished| finished.then_some(())).is_some()
    }

    /// Begins stopping and returns at once, for a stop from the thread that
    /// delivers the events (the rest follow in the inbox).
    fn request_stop(&self) {
        self.elector.request_stop();
    }

    /// The Ruby layer's leader work has stopped after a `lost` event.
    fn acknowledge_lost(&self) {
        self.lost.acknowledge();
    }

    /// The next event as JSON, waiting up to `timeout` seconds (`nil`:
    /// forever); `nil` on timeout or interrupt (see `Waitable::wait`).
    fn next_event(&self, timeout: Option<f64>) -> Option<String> {
        self.events.pop(timeout.map(seconds))
    }

    fn is_leader(&self) -> bool {
        self.elector.is_leader()
    }

    fn leader(&self) -> Option<String> {
        self.elector.leader()
    }

    fn term(&self) -> Option<i32> {
        self.elector.term()
    }

    /// The lease as last observed, as Kubernetes JSON.
    fn lease(&self) -> Option<String> {
        self.elector
            .lease()
            .and_then(|lease| serde_json::to_string(&lease).ok())
    }

    fn stats(&self) -> String {
        elector_bindings::json::stats(&self.elector.stats()).to_string()
    }

    /// Seconds API requests have been failing without a success between.
    fn failing_for(&self) -> Option<f64> {
        self.elector.failing_for().map(|d| d.as_secs_f64())
    }

    /// client-go's health check: why this elector is unhealthy, or nil.
    /// `tolerance`: seconds, finite and non-negative (the Ruby layer checks).
    fn check(&self, tolerance: f64) -> Option<String> {
        self.elector
            .check(seconds(tolerance))
            .err()
            .map(|e| e.to_string())
    }
}

/// Sends the engine's logs to the process-wide inbox; false if a sink (or
/// another `tracing` subscriber) was already installed.
fn install_log_sink() -> bool {
    elector_bindings::log::install(|line| {
        LOG_LINES.update(|lines| {
            if lines.len() >= LOG_BACKLOG {
                lines.pop_front();
            }
            lines.push_back(line);
        });
    })
}

/// The next log line as JSON, waiting up to `timeout` seconds (`nil`:
/// forever); `nil` on timeout or interrupt.
fn next_log_line(timeout: Option<f64>) -> Option<String> {
    LOG_LINES.pop(timeout.map(seconds))
}

/// A wait from the Ruby layer, which passes finite, non-negative values.
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::ZERO)
}

/// An option's seconds from Ruby, checked by the engine before conversion: a value
/// the Ruby layer let through (or left out) is an error naming `field`,
/// never a silent default.
fn option_seconds(field: Field, value: &Value) -> Result<Duration, elector_core::ConfigError> {
    duration_from_number(field, value.as_f64().unwrap_or(f64::NAN), TimeUnit::Seconds)
}

/// The Prometheus text exposition of every running elector of the process.
fn metrics() -> String {
    elector_core::metrics::gather()
}

/// The engine's configuration from the Ruby layer's options (a JSON
/// object with core's names; absent or null: the default).
fn config_from(options: &Value) -> Result<Config, elector_core::ConfigError> {
    let text = |key: &str| options[key].as_str().map(str::to_string);
    let seconds = |field: Field| {
        let value = &options[field.name()];
        (!value.is_null())
            .then(|| option_seconds(field, value))
            .transpose()
    };
    let owner = &options["owner"];
    Options {
        namespace: text("namespace"),
        lease_duration: seconds(Field::LeaseDuration)?,
        renew_deadline: seconds(Field::RenewDeadline)?,
        retry_period: seconds(Field::RetryPeriod)?,
        release_on_stop: options["release_on_stop"].as_bool(),
        release_timeout: seconds(Field::ReleaseTimeout)?,
        stop_timeout: seconds(Field::StopTimeout)?,
        labels: options["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().into()))
            .collect(),
        // Missing keys become empty strings, which the engine refuses by name.
        owner_reference: (!owner.is_null()).then(|| {
            let text = |key: &str| owner[key].as_str().unwrap_or_default().to_string();
            OwnerReference {
                api_version: text("apiVersion"),
                kind: text("kind"),
                name: text("name"),
                uid: text("uid"),
                controller: owner["controller"].as_bool(),
                block_owner_deletion: owner["blockOwnerDeletion"].as_bool(),
            }
        }),
        kubeconfig: text("kubeconfig").map(Into::into),
        context: text("context"),
        url: text("url"),
        token: text("token"),
        token_file: text("token_file").map(Into::into),
        ca_file: text("ca_file").map(Into::into),
        insecure_skip_tls_verify: options["insecure_skip_tls_verify"].as_bool(),
        ..Options::new(
            text("lease_name").unwrap_or_default(),
            text("identity").unwrap_or_default(),
        )
    }
    .build()
}

/// The gem's keyword (or key of `owner:`) that sets a core option.
fn keyword(field: Field) -> &'static str {
    match field {
        Field::LeaseName => "name",
        Field::OwnerReferenceApiVersion => "owner.apiVersion",
        Field::OwnerReferenceKind => "owner.kind",
        Field::OwnerReferenceName => "owner.name",
        Field::OwnerReferenceUid => "owner.uid",
        Field::Namespace
        | Field::Identity
        | Field::LeaseDuration
        | Field::RenewDeadline
        | Field::RetryPeriod
        | Field::ReleaseOnStop
        | Field::ReleaseTimeout
        | Field::StopTimeout
        | Field::Labels
        | Field::Kubeconfig
        | Field::Context
        | Field::Url
        | Field::Token
        | Field::TokenFile
        | Field::CaFile
        | Field::InsecureSkipTlsVerify => field.name(),
    }
}

/// Each core option as the gem spells it, in core's order: for the test
/// that holds the gem's keywords to the engine's options.
fn option_names() -> Vec<&'static str> {
    Field::all().map(keyword).collect()
}

/// The Ruby exception class `KubernetesLeaderElection::<name>`.
fn error_class(ruby: &Ruby, name: &str) -> ExceptionClass {
    ruby.class_object()
        .const_get::<_, RClass>("KubernetesLeaderElection")
        .and_then(|outer| outer.const_get(name))
        .unwrap_or_else(|_| ruby.exception_runtime_error())
}

/// `ConfigError` (an `ArgumentError`) naming the keyword and the rule.
fn config_error(ruby: &Ruby, err: elector_core::ConfigError) -> Error {
    let class = error_class(ruby, "ConfigError");
    let field = keyword(err.field);
    let message = format!("invalid {field}: {}", err.rule);
    match class.new_instance((message, field)) {
        Ok(exception) => exception.into(),
        Err(e) => e,
    }
}

fn elector_error(ruby: &Ruby, err: &elector_core::Error) -> Error {
    match err {
        elector_core::Error::Config(e) => config_error(ruby, e.clone()),
        other => Error::new(error_class(ruby, "Error"), other.to_string()),
    }
}

#[magnus::init(name = "native")]
fn init(ruby: &Ruby) -> Result<(), Error> {
    let outer: RClass = ruby.class_object().const_get("KubernetesLeaderElection")?;
    let class = outer.define_class("Native", ruby.class_object())?;
    class.define_singleton_method("new", function!(Native::new, 1))?;
    class.define_singleton_method("install_log_sink", function!(install_log_sink, 0))?;
    class.define_singleton_method("next_log_line", function!(next_log_line, 1))?;
    class.define_singleton_method("metrics", function!(metrics, 0))?;
    class.define_singleton_method("option_names", function!(option_names, 0))?;
    class.define_method("start", method!(Native::start, 0))?;
    class.define_method("stop", method!(Native::stop, 0))?;
    class.define_method("next_event", method!(Native::next_event, 1))?;
    class.define_method("request_stop", method!(Native::request_stop, 0))?;
    class.define_method("acknowledge_lost", method!(Native::acknowledge_lost, 0))?;
    class.define_method("leader?", method!(Native::is_leader, 0))?;
    class.define_method("leader", method!(Native::leader, 0))?;
    class.define_method("term", method!(Native::term, 0))?;
    class.define_method("lease", method!(Native::lease, 0))?;
    class.define_method("stats", method!(Native::stats, 0))?;
    class.define_method("failing_for", method!(Native::failing_for, 0))?;
    class.define_method("check", method!(Native::check, 1))?;
    Ok(())
}
