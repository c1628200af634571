//! A validated elector configuration.
//!
//! Everything a user can get wrong is checked in [`ConfigBuilder::build`], so a
//! [`Config`] that exists is one the engine can run: names are valid
//! Kubernetes names, the identity is not empty, and the timings satisfy
//! `lease_duration > renew_deadline > 1.2 × retry_period`, with `retry_period ≥ 10 ms`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

pub use crate::options::Field;
use crate::options::{DNS_LABEL, DNS_SUBDOMAIN};

/// The namespace of the lease when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";
/// client-go's defaults, so a mixed fleet agrees on timing.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
/// How long `stop()` spends handing the lease back before it leaves it to
/// expire: well inside Kubernetes' default 30 s termination grace period.
pub const DEFAULT_RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stopping leader waits for the host to finish its leader work
/// (to acknowledge `Lost`) before it gives up the lease to expire instead of
/// releasing it. With the release timeout, inside Kubernetes' default 30 s
/// termination grace period.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The factor client-go applies to the retry period when it checks timings:
/// a renewal may be jittered by up to this much and must still fit in the
/// renew deadline.
pub const JITTER_FACTOR: f64 = 1.2;
/// `period` stretched by up to 20 %, so candidates that failed together do
/// not retry in lockstep (client-go's jitter factor).
pub(crate) fn jittered(period: Duration) -> Duration {
    period.mul_f64(1.0 + rand::random::<f64>() * (JITTER_FACTOR - 1.0))
}

/// The shortest retry period accepted.
pub const MIN_RETRY_PERIOD: Duration = Duration::from_millis(10);

/// A configuration value that breaks a rule. `field` names the option;
/// `rule` says what it must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {rule}")]
pub struct ConfigError {
    pub field: Field,
    pub rule: String,
}

impl ConfigError {
    pub(crate) fn new(field: Field, rule: impl Into<String>) -> Self {
        Self {
            field,
            rule: rule.into(),
        }
    }
}

/// The unit a binding's numeric option is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Milliseconds,
}

/// The longest duration any option accepts: leaseDurationSeconds is an
/// int32, and no other timing can usefully exceed the lease.
pub const MAX_DURATION: Duration = Duration::from_secs(i32::MAX as u64);

/// A duration that a binding received as a number (a JS number, a Ruby
/// Numeric), checked in the unit the user wrote it in before any
/// conversion, so that nothing wraps or rounds silently: finite, from 0 to
/// [`MAX_DURATION`], and in milliseconds a whole number. `field` is the
/// option it sets.
pub fn duration_from_number(
    field: Field,
    value: f64,
    unit: TimeUnit,
) -> Result<Duration, ConfigError> {
    let (per_second, what) = match unit {
        TimeUnit::Seconds => (1.0, "a number of seconds"),
        TimeUnit::Milliseconds => (1000.0, "a whole number of milliseconds"),
    };
    let max = MAX_DURATION.as_secs_f64() * per_second;
    let whole = unit == TimeUnit::Seconds || value.fract() == 0.0;
    if !value.is_finite() || !whole || !(0.0..=max).contains(&value) {
        return Err(ConfigError::new(
            field,
            format!("must be {what} from 0 to {max}; received {}", Shown(value)),
        ));
    }
    Ok(Duration::from_secs_f64(value / per_second))
}

/// How the elector reaches the API server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Connection {
    /// As kube-rs infers it: `KUBECONFIG` (or `~/.kube/config`), then the
    /// in-cluster service account.
    #[default]
    Infer,
    /// A kubeconfig file; `None` values mean the file's current context or
    /// the default path.
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
    /// An explicit API server URL.
    Url {
        url: String,
        token: Option<Token>,
        /// PEM file of the CA that signs the server's certificate; `None`
        /// trusts the platform's roots.
        ca_file: Option<PathBuf>,
        /// Accept any server certificate, as a kubeconfig's
        /// `insecure-skip-tls-verify`: for development clusters only.
        insecure_skip_tls_verify: bool,
    },
}

/// A bearer token, inline or in a file that is re-read as it rotates.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Token {
    Inline(String),
    /// Re-read at least once a minute, so bound service account tokens that
    /// the kubelet rotates keep working.
    File(PathBuf),
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Inline(_) => f.write_str("Inline(<redacted>)"),
            Token::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// A value the user gave, quoted, and cut at 64 characters: a message
/// stays short enough for any host's buffer (the C header promises 1024
/// bytes suffice) and a log line.
struct Quoted<'a>(&'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 64;
        match self.0.char_indices().nth(SHOWN) {
            Some((end, _)) => write!(f, "{:?}… ({} bytes)", &self.0[..end], self.0.len()),
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// A number as a user would write it: 1e300, not three hundred digits.
struct Shown(f64);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.abs() {
            large if large >= 1e16 => write!(f, "{:e}", self.0),
            _ => write!(f, "{}", self.0),
        }
    }
}

/// A validated configuration; build one with [`Config::builder`].
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) namespace: String,
    pub(crate) lease_name: String,
    pub(crate) identity: String,
    pub(crate) lease_duration: Duration,
    pub(crate) renew_deadline: Duration,
    pub(crate) retry_period: Duration,
    pub(crate) release_on_stop: bool,
    pub(crate) release_timeout: Duration,
    pub(crate) stop_timeout: Duration,
    pub(crate) owner_reference: Option<OwnerReference>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) connection: Connection,
}

impl Config {
    /// Starts a configuration for the lease `namespace/lease_name` held under
    /// `identity`, which must be unique among the candidates.
    pub fn builder(
        namespace: impl Into<String>,
        lease_name: impl Into<String>,
        identity: impl Into<String>,
    ) -> ConfigBuilder {
        ConfigBuilder {
            config: Config {
                namespace: namespace.into(),
                lease_name: lease_name.into(),
                identity: identity.into(),
                lease_duration: DEFAULT_LEASE_DURATION,
                renew_deadline: DEFAULT_RENEW_DEADLINE,
                retry_period: DEFAULT_RETRY_PERIOD,
                release_on_stop: true,
                release_timeout: DEFAULT_RELEASE_TIMEOUT,
                stop_timeout: DEFAULT_STOP_TIMEOUT,
                owner_reference: None,
                labels: BTreeMap::new(),
                connection: Connection::Infer,
            },
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    pub fn lease_name(&self) -> &str {
        &self.lease_name
    }
    pub fn identity(&self) -> &str {
        &self.identity
    }
    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }
    pub fn renew_deadline(&self) -> Duration {
        self.renew_deadline
    }
    pub fn retry_period(&self) -> Duration {
        self.retry_period
    }
    pub fn release_on_stop(&self) -> bool {
        self.release_on_stop
    }
    pub fn release_timeout(&self) -> Duration {
        self.release_timeout
    }
    pub fn stop_timeout(&self) -> Duration {
        self.stop_timeout
    }
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The longest any single API request may take: half the renew deadline,
    /// so a leader gets at least two attempts before it must step down, and
    /// never more than the margin between the renew deadline and the lease
    /// duration, so no answer can be so late that a follower's expiry clock,
    /// started when the answer arrives, runs out inside the leader's deadline.
    pub fn request_timeout(&self) -> Duration {
        (self.renew_deadline / 2).min(self.lease_duration - self.renew_deadline)
    }
}

/// Collects options; [`build`](Self::build) validates them all at once.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// How long a lease stays valid for others after its last renewal.
    pub fn lease_duration(mut self, value: Duration) -> Self {
        self.config.lease_duration = value;
        self
    }
    /// How long a leader keeps trying to renew before it steps down.
    pub fn renew_deadline(mut self, value: Duration) -> Self {
        self.config.renew_deadline = value;
        self
    }
    /// How often a leader renews and a candidate without a watch polls.
    pub fn retry_period(mut self, value: Duration) -> Self {
        self.config.retry_period = value;
        self
    }
    /// Whether `stop()` hands the lease back so a standby takes over at once.
    pub fn release_on_stop(mut self, value: bool) -> Self {
        self.config.release_on_stop = value;
        self
    }
    /// The time `stop()` may spend releasing the lease, all requests
    /// together; after it the lease is left to expire, as after a crash.
    pub fn release_timeout(mut self, value: Duration) -> Self {
        self.config.release_timeout = value;
        self
    }
    /// How long a stopping leader keeps the lease (renewing it) while the
    /// host finishes its leader work, that is until `Lost` is acknowledged.
    /// After it the engine stops renewing and does not release: the lease
    /// expires as after a crash, so a standby never starts beside work that
    /// is still running.
    pub fn stop_timeout(mut self, value: Duration) -> Self {
        self.config.stop_timeout = value;
        self
    }
    /// An owner for the lease (usually this Pod), so it is garbage-collected
    /// with it. Written when this elector creates or takes over the lease.
    pub fn owner_reference(mut self, owner: OwnerReference) -> Self {
        self.config.owner_reference = Some(owner);
        self
    }
    /// A label written on the lease when this elector creates or takes it over.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.labels.insert(key.into(), value.into());
        self
    }
    pub fn connection(mut self, connection: Connection) -> Self {
        self.config.connection = connection;
        self
    }

    pub fn build(self) -> Result<Config, ConfigError> {
        let c = self.config;
        check_dns_label(Field::Namespace, &c.namespace)?;
        check_dns_subdomain(Field::LeaseName, &c.lease_name)?;
        if c.identity.trim().is_empty() {
            return Err(ConfigError::new(Field::Identity, "must not be empty"));
        }
        if let Some(at) = c.identity.find(char::is_control) {
            // A NUL would cut it short in C, a newline would split log lines.
            return Err(ConfigError::new(
                Field::Identity,
                format!("contains a control character (such as NUL or a newline) at byte {at}"),
            ));
        }
        // Each duration within range first, so that an absurd value is
        // named itself, not by the rule it breaks beside another.
        for (field, value) in [
            (Field::LeaseDuration, c.lease_duration),
            (Field::RenewDeadline, c.renew_deadline),
            (Field::RetryPeriod, c.retry_period),
            (Field::ReleaseTimeout, c.release_timeout),
            (Field::StopTimeout, c.stop_timeout),
        ] {
            if value > MAX_DURATION {
                return Err(ConfigError::new(
                    field,
                    format!(
                        "must be at most {MAX_DURATION:?} (leaseDurationSeconds' int32 range); received {value:?}"
                    ),
                ));
            }
        }
        check_timings(c.lease_duration, c.renew_deadline, c.retry_period)?;
        if c.release_timeout.is_zero() {
            return Err(ConfigError::new(
                Field::ReleaseTimeout,
                "must be greater than zero (turn release_on_stop off to skip the release)",
            ));
        }
        if c.stop_timeout.is_zero() {
            return Err(ConfigError::new(
                Field::StopTimeout,
                "must be greater than zero: leader work needs time to stop before the lease is released",
            ));
        }
        if c.lease_duration.as_secs() < 1 || c.lease_duration.subsec_nanos() != 0 {
            return Err(ConfigError::new(
                Field::LeaseDuration,
                "must be a whole number of seconds, at least 1 (leaseDurationSeconds is an integer)",
            ));
        }
        if c.lease_duration.as_secs() > i32::MAX as u64 {
            return Err(ConfigError::new(
                Field::LeaseDuration,
                "must fit leaseDurationSeconds (int32)",
            ));
        }
        if let Some(owner) = &c.owner_reference {
            check_owner_reference(owner)?;
        }
        for (key, value) in &c.labels {
            check_label(key, value)?;
        }
        check_connection(&c.connection)?;
        Ok(c)
    }
}

/// `lease_duration > renew_deadline > 1.2 × retry_period`, as client-go, and
/// `retry_period ≥ 10 ms`.
pub fn check_timings(
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
) -> Result<(), ConfigError> {
    if retry_period < MIN_RETRY_PERIOD {
        return Err(ConfigError::new(
            Field::RetryPeriod,
            format!(
                "must be at least {MIN_RETRY_PERIOD:?}: a shorter one only loads the API server ({retry_period:?})"
            ),
        ));
    }
    if renew_deadline.as_secs_f64() <= JITTER_FACTOR * retry_period.as_secs_f64() {
        return Err(ConfigError::new(
            Field::RenewDeadline,
            format!(
                "must be greater than {JITTER_FACTOR} × retry_period ({:?} ≤ {JITTER_FACTOR} × {:?})",
                renew_deadline, retry_period
            ),
        ));
    }
    if lease_duration <= renew_deadline {
        return Err(ConfigError::new(
            Field::LeaseDuration,
            format!(
                "must be greater than renew_deadline ({:?} ≤ {:?})",
                lease_duration, renew_deadline
            ),
        ));
    }
    Ok(())
}

/// RFC 1123 label: what namespaces must be.
fn check_dns_label(field: Field, value: &str) -> Result<(), ConfigError> {
    if value.len() > 63 || !is_dns_label(value) {
        return Err(ConfigError::new(
            field,
            format!("{} is not {DNS_LABEL}", Quoted(value)),
        ));
    }
    Ok(())
}

/// RFC 1123 subdomain: what lease names must be.
fn check_dns_subdomain(field: Field, value: &str) -> Result<(), ConfigError> {
    if value.len() > 253 || value.is_empty() || !value.split('.').all(is_dns_label) {
        return Err(ConfigError::new(
            field,
            format!("{} is not {DNS_SUBDOMAIN}", Quoted(value)),
        ));
    }
    Ok(())
}

fn is_dns_label(part: &str) -> bool {
    let bytes = part.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn check_owner_reference(owner: &OwnerReference) -> Result<(), ConfigError> {
    for (field, value) in [
        (Field::OwnerReferenceApiVersion, &owner.api_version),
        (Field::OwnerReferenceKind, &owner.kind),
        (Field::OwnerReferenceName, &owner.name),
        (Field::OwnerReferenceUid, &owner.uid),
    ] {
        if value.is_empty() {
            return Err(ConfigError::new(field, "must not be empty"));
        }
    }
    Ok(())
}

/// Kubernetes label syntax: an optional DNS-subdomain prefix and a name of at
/// most 63 alphanumerics, '-', '_' and '.', and a value of the same form or empty.
fn check_label(key: &str, value: &str) -> Result<(), ConfigError> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        check_dns_subdomain(Field::Labels, prefix).map_err(|_| {
            ConfigError::new(
                Field::Labels,
                format!("key {} has an invalid prefix", Quoted(key)),
            )
        })?;
    }
    if name.is_empty() || !is_label_value(name) {
        return Err(ConfigError::new(
            Field::Labels,
            format!(
                "key {} is not a label name (1 to 63 of a-z, A-Z, 0-9, '-', '_', '.', alphanumeric at both ends)",
                Quoted(key)
            ),
        ));
    }
    if !value.is_empty() && !is_label_value(value) {
        return Err(ConfigError::new(
            Field::Labels,
            format!(
                "value {} of {} is not a label value (at most 63 of a-z, A-Z, 0-9, '-', '_', '.', alphanumeric at both ends)",
                Quoted(value),
                Quoted(key)
            ),
        ));
    }
    Ok(())
}

fn is_label_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn check_connection(connection: &Connection) -> Result<(), ConfigError> {
    match connection {
        Connection::Infer => Ok(()),
        Connection::Kubeconfig { path, context } => {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(ConfigError::new(
                    Field::Kubeconfig,
                    "path must not be empty",
                ));
            }
            if context.as_ref().is_some_and(String::is_empty) {
                return Err(ConfigError::new(Field::Context, "must not be empty"));
            }
            Ok(())
        }
        Connection::Url {
            url,
            token,
            ca_file,
            ..
        } => {
            match url.parse::<http::Uri>() {
                Ok(u)
                    if matches!(u.scheme_str(), Some("https") | Some("http"))
                        && u.host().is_some() => {}
                _ => {
                    return Err(ConfigError::new(
                        Field::Url,
                        format!("{} is not an absolute http(s) URL with a host", Quoted(url)),
                    ));
                }
            }
            match token {
                Some(Token::Inline(t)) if t.trim().is_empty() => {
                    return Err(ConfigError::new(Field::Token, "must not be empty"));
                }
                Some(Token::File(p)) if p.as_os_str().is_empty() => {
                    return Err(ConfigError::new(Field::TokenFile, "path must not be empty"));
                }
                _ => {}
            }
            if ca_file.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                return Err(ConfigError::new(Field::CaFile, "path must not be empty"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> ConfigBuilder {
        Config::builder("default", "my-lease", "pod-a")
    }

    fn field_of(result: Result<Config, ConfigError>) -> &'static str {
        result.expect_err("config should be rejected").field.name()
    }

    #[test]
    fn defaults_are_client_go_s() {
        let c = builder().build().unwrap();
        assert_eq!(c.lease_duration(), Duration::from_secs(15));
        assert_eq!(c.renew_deadline(), Duration::from_secs(10));
        assert_eq!(c.retry_period(), Duration::from_secs(2));
        assert!(c.release_on_stop());
        assert_eq!(c.connection(), &Connection::Infer);
    }

    #[test]
    fn names_must_be_kubernetes_names() {
        assert_eq!(
            field_of(Config::builder("Default", "l", "i").build()),
            "namespace"
        );
        assert_eq!(field_of(Config::builder("", "l", "i").build()), "namespace");
        assert_eq!(
            field_of(Config::builder("a.b", "l", "i").build()),
            "namespace"
        );
        assert_eq!(
            field_of(Config::builder("ns", "-lease", "i").build()),
            "lease_name"
        );
        assert_eq!(
            field_of(Config::builder("ns", "lease..x", "i").build()),
            "lease_name"
        );
        assert_eq!(
            field_of(Config::builder("ns", "", "i").build()),
            "lease_name"
        );
        assert_eq!(
            field_of(Config::builder("ns", "a".repeat(254), "i").build()),
            "lease_name"
        );
        assert!(Config::builder("ns", "a.b-c.d", "i").build().is_ok());
    }

    #[test]
    fn messages_stay_short_whatever_the_value() {
        let long = "X".repeat(5000);
        for result in [
            Config::builder(long.as_str(), "l", "i").build(),
            Config::builder("ns", long.as_str(), "i").build(),
            builder().label(long.as_str(), "v").build(),
            builder().label("k", long.as_str()).build(),
        ] {
            let message = result.unwrap_err().to_string();
            assert!(message.len() < 400, "{} bytes: {message}", message.len());
        }
    }

    #[test]
    fn identity_has_no_control_characters() {
        assert_eq!(
            field_of(Config::builder("ns", "l", "pod\0a").build()),
            "identity"
        );
        assert_eq!(
            field_of(Config::builder("ns", "l", "pod\na").build()),
            "identity"
        );
    }

    #[test]
    fn numbers_are_checked_in_their_own_unit_before_conversion() {
        use TimeUnit::*;
        let ok = |v, unit| duration_from_number(Field::LeaseDuration, v, unit).unwrap();
        assert_eq!(ok(15.0, Seconds), Duration::from_secs(15));
        assert_eq!(ok(2500.0, Milliseconds), Duration::from_millis(2500));
        assert_eq!(ok(2147483647.0, Seconds), MAX_DURATION);
        assert_eq!(ok(0.5, Seconds), Duration::from_millis(500));
        for (bad, unit) in [
            (4294967311.0, Seconds), // 2^32 + 15: once wrapped to 15 s
            (1e12 * 1000.0, Milliseconds),
            (-1.0, Milliseconds),
            (1.5, Milliseconds),
            (f64::NAN, Seconds),
            (f64::INFINITY, Milliseconds),
            (1e300, Milliseconds),
        ] {
            let err = duration_from_number(Field::RetryPeriod, bad, unit).unwrap_err();
            assert_eq!(err.field, Field::RetryPeriod, "{bad}");
            assert!(err.rule.contains("received"), "{}", err.rule);
            assert!(err.rule.len() < 120, "{}", err.rule);
        }
    }

    #[test]
    fn identity_must_not_be_empty() {
        assert_eq!(field_of(Config::builder("ns", "l", "").build()), "identity");
        assert_eq!(
            field_of(Config::builder("ns", "l", "  ").build()),
            "identity"
        );
    }

    #[test]
    fn timings_follow_client_go_s_rule() {
        let s = Duration::from_secs;
        for too_short in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(9),
        ] {
            let err = builder().retry_period(too_short).build().unwrap_err();
            assert_eq!(err.field.name(), "retry_period");
        }
        // 1.2 × 2 s = 2.4 s: a 2.4 s deadline is not enough.
        let err = builder()
            .renew_deadline(Duration::from_millis(2400))
            .build()
            .unwrap_err();
        assert_eq!(err.field.name(), "renew_deadline");
        assert!(err.rule.contains("1.2 × retry_period"), "{err}");
        assert!(
            builder()
                .renew_deadline(Duration::from_millis(2401))
                .build()
                .is_ok()
        );
        let err = builder().lease_duration(s(10)).build().unwrap_err();
        assert_eq!(err.field.name(), "lease_duration");
        assert_eq!(
            err.to_string(),
            "invalid lease_duration: must be greater than renew_deadline (10s ≤ 10s)"
        );
        assert_eq!(
            field_of(
                builder()
                    .lease_duration(Duration::from_millis(15500))
                    .build()
            ),
            "lease_duration"
        );
    }

    #[test]
    fn one_request_never_outlasts_the_margin_past_the_renew_deadline() {
        let s = Duration::from_secs;
        let timeout = |lease, deadline| {
            builder()
                .lease_duration(s(lease))
                .renew_deadline(s(deadline))
                .build()
                .unwrap()
                .request_timeout()
        };
        assert_eq!(timeout(15, 10), s(5)); // client-go's defaults: half the deadline
        assert_eq!(timeout(15, 11), s(4)); // the margin, not 5.5 s
        assert_eq!(timeout(20, 15), s(5)); // the margin, not 7.5 s
    }

    #[test]
    fn the_release_has_a_positive_budget() {
        assert_eq!(
            builder().build().unwrap().release_timeout(),
            DEFAULT_RELEASE_TIMEOUT
        );
        assert_eq!(
            field_of(builder().release_timeout(Duration::ZERO).build()),
            "release_timeout"
        );
        assert_eq!(
            builder().build().unwrap().stop_timeout(),
            DEFAULT_STOP_TIMEOUT
        );
        assert_eq!(
            field_of(builder().stop_timeout(Duration::ZERO).build()),
            "stop_timeout"
        );
    }

    #[test]
    fn labels_and_owner_are_checked() {
        assert!(
            builder()
                .label("app.kubernetes.io/name", "x")
                .build()
                .is_ok()
        );
        assert_eq!(field_of(builder().label("bad key", "x").build()), "labels");
        assert_eq!(field_of(builder().label("k", "-x").build()), "labels");
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: "p".into(),
            uid: String::new(),
            ..Default::default()
        };
        assert_eq!(
            field_of(builder().owner_reference(owner).build()),
            "owner_reference.uid"
        );
    }

    #[test]
    fn connections_are_checked() {
        let url = |u: &str| Connection::Url {
            url: u.into(),
            token: None,
            ca_file: None,
            insecure_skip_tls_verify: false,
        };
        assert_eq!(
            field_of(builder().connection(url("not a url")).build()),
            "url"
        );
        assert_eq!(
            field_of(builder().connection(url("/relative")).build()),
            "url"
        );
        assert!(
            builder()
                .connection(url("https://127.0.0.1:6443"))
                .build()
                .is_ok()
        );
        let empty_token = Connection::Url {
            url: "https://k".into(),
            token: Some(Token::Inline(String::new())),
            ca_file: None,
            insecure_skip_tls_verify: false,
        };
        assert_eq!(field_of(builder().connection(empty_token).build()), "token");
        let no_context = Connection::Kubeconfig {
            path: None,
            context: Some(String::new()),
        };
        assert_eq!(
            field_of(builder().connection(no_context).build()),
            "context"
        );
    }

    #[test]
    fn tokens_are_not_printed() {
        let t = Token::Inline("secret".into());
        assert!(!format!("{t:?}").contains("secret"));
    }
}
