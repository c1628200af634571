//! The four verbs the engine needs from the API server, behind a trait so
//! that the engine's decisions can be tested deterministically: the real
//! store is kube's client ([`crate::client::LeaseApi`]); tests script an
//! in-memory one under a paused clock.

use std::future::Future;

use futures::stream::BoxStream;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::WatchEvent;
use tokio::time::Instant;

use crate::events::ErrorKind;

#[cfg(test)]
pub(crate) mod memory;

/// A request's failure, as the protocol needs to tell them apart.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// 409: another writer changed the lease since we read it.
    Conflict,
    /// 404: the lease does not exist.
    NotFound,
    /// 410: the resourceVersion asked for (a watch's) was compacted away.
    Gone,
    /// Anything else; the elector reports it and retries.
    Failed { kind: ErrorKind, message: String },
}

impl ApiError {
    pub fn timeout(after: std::time::Duration) -> ApiError {
        ApiError::Failed {
            kind: ErrorKind::Timeout,
            message: format!("no answer within {after:?}"),
        }
    }
}

pub type LeaseEvents = BoxStream<'static, Result<WatchEvent<Lease>, ApiError>>;

/// One lease in the API server. Every request ends by its store's request
/// timeout, or by `limit` when that is sooner.
pub trait LeaseStore: Send + Sync + 'static {
    /// The lease, or `None` when it does not exist.
    fn get(
        &self,
        limit: Option<Instant>,
    ) -> impl Future<Output = Result<Option<Lease>, ApiError>> + Send;

    fn create(
        &self,
        lease: &Lease,
        limit: Option<Instant>,
    ) -> impl Future<Output = Result<Lease, ApiError>> + Send;

    /// Replaces the lease if it is still at `lease`'s resourceVersion
    /// (optimistic concurrency: 409 otherwise).
    fn replace(
        &self,
        lease: &Lease,
        limit: Option<Instant>,
    ) -> impl Future<Output = Result<Lease, ApiError>> + Send;

    /// Watches the lease from `resource_version`, or from its current state
    /// (delivered first, as `Added`) when `None`.
    fn watch(
        &self,
        resource_version: Option<&str>,
    ) -> impl Future<Output = Result<LeaseEvents, ApiError>> + Send;
}
