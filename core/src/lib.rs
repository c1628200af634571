//! Kubernetes leader election over a `coordination.k8s.io/v1` Lease, wire
//! compatible with client-go's `tools/leaderelection`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use elector_core::{Config, Elector, Event};
//!
//! let config = Config::builder("default", "my-controller", "pod-a").build()?;
//! let elector = Elector::new(config);
//! let mut events = elector.events()?;
//! elector.start().await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         Event::Acquired { term, .. } => println!("leading in term {term}"),
//!         Event::Lost { reason, .. } => println!("stop leading now: {reason}"),
//!         Event::Stopped => break,
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The engine runs on a runtime of its own; see [`Elector`] for the calls and
//! [`Event`] for what it reports. The protocol is described in the project's
//! README.

mod client;
mod clock;
mod config;
mod connection;
mod decide;
mod elector;
mod engine;
mod events;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod lead;
pub mod metrics;
pub mod options;
mod record;
mod runtime;
mod stats;
mod store;
mod watch;

pub use config::{
    Config, ConfigBuilder, ConfigError, Connection, DEFAULT_LEASE_DURATION, DEFAULT_NAMESPACE,
    DEFAULT_RELEASE_TIMEOUT, DEFAULT_RENEW_DEADLINE, DEFAULT_RETRY_PERIOD, DEFAULT_STOP_TIMEOUT,
    Field, JITTER_FACTOR, MAX_DURATION, TimeUnit, Token, duration_from_number,
};
pub use elector::{Elector, Error, HealthError};
pub use events::{ErrorKind, Event, EventStream, LostAck, LostReason};
pub use k8s_openapi::api::coordination::v1::Lease;
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
pub use lead::Leadership;
pub use options::Options;
pub use stats::{StatField, StatKind, Stats};
