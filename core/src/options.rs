//! Every option of an elector, described once.
//!
//! [`Field`] names each option and [`Field::spec`] describes it: its kind,
//! default, rule and one line of doc. [`Options`] holds them flat, as the C
//! setters, the Node.js options, the Ruby keywords, Go's `Config` and the
//! command line take them; [`Options::build`] validates them all at once
//! into a [`Config`]. Bindings only convert their types and spelling: a rule
//! lives here or in [`ConfigBuilder::build`](crate::ConfigBuilder::build),
//! never in a binding.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::config::{
    Config, ConfigError, Connection, DEFAULT_LEASE_DURATION, DEFAULT_NAMESPACE,
    DEFAULT_RELEASE_TIMEOUT, DEFAULT_RENEW_DEADLINE, DEFAULT_RETRY_PERIOD, DEFAULT_STOP_TIMEOUT,
    Token,
};

/// Every option. Bindings map these to their own spelling
/// (`renew_interval_ms`, `LeaseDuration`, …) by matching on them, so a new
/// option fails to compile where a binding has not mapped it; a
/// [`ConfigError`] names the one it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Namespace,
    LeaseName,
    Identity,
    LeaseDuration,
    RenewDeadline,
    RetryPeriod,
    ReleaseOnStop,
    ReleaseTimeout,
    StopTimeout,
    Labels,
    OwnerReferenceApiVersion,
    OwnerReferenceKind,
    OwnerReferenceName,
    OwnerReferenceUid,
    Kubeconfig,
    Context,
    Url,
    Token,
    TokenFile,
    CaFile,
    InsecureSkipTlsVerify,
}

/// What kind of value an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A text that is a secret: never logged or echoed.
    Secret,
    Path,
    Duration,
    Flag,
    /// Keys and values, each in Kubernetes label syntax.
    Labels,
}

/// An option's value when it is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// It must be set.
    Required,
    Text(&'static str),
    Duration(Duration),
    Flag(bool),
    /// Not set, and what that means.
    Unset(&'static str),
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Text => "text",
            Kind::Secret => "secret text",
            Kind::Path => "path",
            Kind::Duration => "duration",
            Kind::Flag => "flag",
            Kind::Labels => "labels",
        })
    }
}

impl std::fmt::Display for DefaultValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DefaultValue::Required => f.write_str("required"),
            DefaultValue::Text(text) => write!(f, "{text:?}"),
            DefaultValue::Duration(duration) => write!(f, "{duration:?}"),
            DefaultValue::Flag(flag) => write!(f, "{flag}"),
            DefaultValue::Unset(meaning) => f.write_str(meaning),
        }
    }
}

/// One option, described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub field: Field,
    pub kind: Kind,
    pub default: DefaultValue,
    /// What a value must satisfy, to follow "must be": empty when any value
    /// of its kind will do.
    pub rule: &'static str,
    pub doc: &'static str,
}

pub(crate) const DNS_LABEL: &str = "a DNS label (at most 63 characters of a-z, 0-9 and '-', \
                         starting and ending with a letter or digit)";
pub(crate) const DNS_SUBDOMAIN: &str = "a DNS subdomain (at most 253 characters of a-z, 0-9, '-' and '.', \
                             each part starting and ending with a letter or digit)";
const OWNER_DEFAULT: DefaultValue = DefaultValue::Unset("no owner: the lease outlives its holders");
const ONLY_WITH_URL: &str = "true only with url";

/// Every option in one table, in [`Field`]'s order.
pub static OPTIONS: [Spec; 21] = {
    use DefaultValue::{Duration as D, Flag, Required, Text, Unset};
    use Field as F;
    const fn spec(
        field: Field,
        kind: Kind,
        default: DefaultValue,
        rule: &'static str,
        doc: &'static str,
    ) -> Spec {
        Spec {
            field,
            kind,
            default,
            rule,
            doc,
        }
    }
    [
        spec(
            F::Namespace,
            Kind::Text,
            Text(DEFAULT_NAMESPACE),
            DNS_LABEL,
            "The namespace of the Lease.",
        ),
        spec(
            F::LeaseName,
            Kind::Text,
            Required,
            DNS_SUBDOMAIN,
            "The name of the Lease the candidates share.",
        ),
        spec(
            F::Identity,
            Kind::Text,
            Required,
            "not empty, without control characters, and unique among the candidates",
            "This candidate's name in the Lease (holderIdentity), usually the pod name.",
        ),
        spec(
            F::LeaseDuration,
            Kind::Duration,
            D(DEFAULT_LEASE_DURATION),
            "whole seconds from 1 to 2147483647, and greater than renew_deadline",
            "How long the lease stays valid for others after its last renewal.",
        ),
        spec(
            F::RenewDeadline,
            Kind::Duration,
            D(DEFAULT_RENEW_DEADLINE),
            "greater than 1.2 × retry_period, and at most 2147483647s",
            "How long a leader keeps trying to renew before it steps down.",
        ),
        spec(
            F::RetryPeriod,
            Kind::Duration,
            D(DEFAULT_RETRY_PERIOD),
            "at least 10ms, and at most 2147483647s",
            "How often a leader renews, and a candidate without a watch polls.",
        ),
        spec(
            F::ReleaseOnStop,
            Kind::Flag,
            Flag(true),
            "",
            "Whether stopping hands the lease back, so a standby takes over at once.",
        ),
        spec(
            F::ReleaseTimeout,
            Kind::Duration,
            D(DEFAULT_RELEASE_TIMEOUT),
            "greater than zero, and at most 2147483647s",
            "The time a stop may spend releasing the lease; after it the lease is left to expire.",
        ),
        spec(
            F::StopTimeout,
            Kind::Duration,
            D(DEFAULT_STOP_TIMEOUT),
            "greater than zero, and at most 2147483647s",
            "How long a stopping leader keeps the lease while its work stops (until lost is \
             acknowledged); after it the lease is left to expire.",
        ),
        spec(
            F::Labels,
            Kind::Labels,
            Unset("none"),
            "keys and values in Kubernetes label syntax",
            "Labels written on the Lease when this candidate creates or takes it over.",
        ),
        spec(
            F::OwnerReferenceApiVersion,
            Kind::Text,
            OWNER_DEFAULT,
            "not empty",
            "The apiVersion of the Lease's owner (usually this Pod), so it is deleted with it.",
        ),
        spec(
            F::OwnerReferenceKind,
            Kind::Text,
            OWNER_DEFAULT,
            "not empty",
            "The kind of the Lease's owner.",
        ),
        spec(
            F::OwnerReferenceName,
            Kind::Text,
            OWNER_DEFAULT,
            "not empty",
            "The name of the Lease's owner.",
        ),
        spec(
            F::OwnerReferenceUid,
            Kind::Text,
            OWNER_DEFAULT,
            "not empty",
            "The uid of the Lease's owner.",
        ),
        spec(
            F::Kubeconfig,
            Kind::Path,
            Unset("inferred: KUBECONFIG or ~/.kube/config, then the in-cluster service account"),
            "a path, not empty, and not given with url",
            "The kubeconfig file to connect with.",
        ),
        spec(
            F::Context,
            Kind::Text,
            Unset("the kubeconfig's current context"),
            "not empty, and not given with url",
            "The kubeconfig context to connect with.",
        ),
        spec(
            F::Url,
            Kind::Text,
            Unset("connect by kubeconfig"),
            "an absolute http(s) URL with a host",
            "The API server's URL, to connect without a kubeconfig.",
        ),
        spec(
            F::Token,
            Kind::Secret,
            Unset("no token"),
            "not empty, given only with url, and not with token_file",
            "A bearer token for url.",
        ),
        spec(
            F::TokenFile,
            Kind::Path,
            Unset("no token"),
            "a path, not empty, given only with url, and not with token",
            "A file holding a bearer token for url, re-read as it rotates.",
        ),
        spec(
            F::CaFile,
            Kind::Path,
            Unset("the platform's roots"),
            "a path, not empty, and given only with url",
            "The PEM file of the CA that signs url's certificate.",
        ),
        spec(
            F::InsecureSkipTlsVerify,
            Kind::Flag,
            Flag(false),
            ONLY_WITH_URL,
            "Accept any certificate from url: for development clusters only.",
        ),
    ]
};

impl Field {
    /// Every option, in order.
    pub fn all() -> impl Iterator<Item = Field> {
        OPTIONS.iter().map(|spec| spec.field)
    }

    /// The option as core (and Rust, and the C setters) spell it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Namespace => "namespace",
            Field::LeaseName => "lease_name",
            Field::Identity => "identity",
            Field::LeaseDuration => "lease_duration",
            Field::RenewDeadline => "renew_deadline",
            Field::RetryPeriod => "retry_period",
            Field::ReleaseOnStop => "release_on_stop",
            Field::ReleaseTimeout => "release_timeout",
            Field::StopTimeout => "stop_timeout",
            Field::Labels => "labels",
            Field::OwnerReferenceApiVersion => "owner_reference.api_version",
            Field::OwnerReferenceKind => "owner_reference.kind",
            Field::OwnerReferenceName => "owner_reference.name",
            Field::OwnerReferenceUid => "owner_reference.uid",
            Field::Kubeconfig => "kubeconfig",
            Field::Context => "context",
            Field::Url => "url",
            Field::Token => "token",
            Field::TokenFile => "token_file",
            Field::CaFile => "ca_file",
            Field::InsecureSkipTlsVerify => "insecure_skip_tls_verify",
        }
    }

    /// The option's description in [`OPTIONS`].
    pub fn spec(self) -> &'static Spec {
        OPTIONS
            .iter()
            .find(|spec| spec.field == self)
            .expect("OPTIONS describes every field (checked by a test)")
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every option, flat, as bindings and the command line take them: `None`
/// (or empty labels) is the default. [`build`](Self::build) checks every
/// rule, including how the connection options combine. Its `Debug` output
/// never shows the token.
#[derive(Clone, PartialEq)]
pub struct Options {
    pub namespace: Option<String>,
    pub lease_name: String,
    pub identity: String,
    pub lease_duration: Option<Duration>,
    pub renew_deadline: Option<Duration>,
    pub retry_period: Option<Duration>,
    pub release_on_stop: Option<bool>,
    pub release_timeout: Option<Duration>,
    pub stop_timeout: Option<Duration>,
    pub labels: BTreeMap<String, String>,
    pub owner_reference: Option<OwnerReference>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_tls_verify: Option<bool>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("namespace", &self.namespace)
            .field("lease_name", &self.lease_name)
            .field("identity", &self.identity)
            .field("lease_duration", &self.lease_duration)
            .field("renew_deadline", &self.renew_deadline)
            .field("retry_period", &self.retry_period)
            .field("release_on_stop", &self.release_on_stop)
            .field("release_timeout", &self.release_timeout)
            .field("stop_timeout", &self.stop_timeout)
            .field("labels", &self.labels)
            .field("owner_reference", &self.owner_reference)
            .field("kubeconfig", &self.kubeconfig)
            .field("context", &self.context)
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("ca_file", &self.ca_file)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .finish()
    }
}

impl Options {
    /// Options for the lease `lease_name` held under `identity`, the rest
    /// unset.
    pub fn new(lease_name: impl Into<String>, identity: impl Into<String>) -> Self {
        Options {
            namespace: None,
            lease_name: lease_name.into(),
            identity: identity.into(),
            lease_duration: None,
            renew_deadline: None,
            retry_period: None,
            release_on_stop: None,
            release_timeout: None,
            stop_timeout: None,
            labels: BTreeMap::new(),
            owner_reference: None,
            kubeconfig: None,
            context: None,
            url: None,
            token: None,
            token_file: None,
            ca_file: None,
            insecure_skip_tls_verify: None,
        }
    }

    /// The validated configuration, or the first rule broken.
    pub fn build(self) -> Result<Config, ConfigError> {
        let connection = self.connection()?;
        let namespace = self.namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.into());
        let mut builder = Config::builder(namespace, self.lease_name, self.identity)
            .connection(connection)
            .release_on_stop(self.release_on_stop.unwrap_or(true));
        if let Some(value) = self.lease_duration {
            builder = builder.lease_duration(value);
        }
        if let Some(value) = self.renew_deadline {
            builder = builder.renew_deadline(value);
        }
        if let Some(value) = self.retry_period {
            builder = builder.retry_period(value);
        }
        if let Some(value) = self.release_timeout {
            builder = builder.release_timeout(value);
        }
        if let Some(value) = self.stop_timeout {
            builder = builder.stop_timeout(value);
        }
        if let Some(owner) = self.owner_reference {
            builder = builder.owner_reference(owner);
        }
        for (key, value) in self.labels {
            builder = builder.label(key, value);
        }
        builder.build()
    }

    /// The connection the options name: a URL (with its token, token file,
    /// CA and verification), else a kubeconfig and context, else inferred.
    /// Options of one kind given with the other are refused, never ignored.
    fn connection(&self) -> Result<Connection, ConfigError> {
        let Some(url) = &self.url else {
            let url_only = [
                (Field::Token, self.token.is_some()),
                (Field::TokenFile, self.token_file.is_some()),
                (Field::CaFile, self.ca_file.is_some()),
                (
                    Field::InsecureSkipTlsVerify,
                    self.insecure_skip_tls_verify == Some(true),
                ),
            ];
            if let Some((field, _)) = url_only.into_iter().find(|(_, given)| *given) {
                return Err(ConfigError::new(
                    field,
                    "applies to a url connection, and no url is given",
                ));
            }
            return Ok(match (&self.kubeconfig, &self.context) {
                (None, None) => Connection::Infer,
                (path, context) => Connection::Kubeconfig {
                    path: path.clone(),
                    context: context.clone(),
                },
            });
        };
        for (field, given) in [
            (Field::Kubeconfig, self.kubeconfig.is_some()),
            (Field::Context, self.context.is_some()),
        ] {
            if given {
                return Err(ConfigError::new(
                    field,
                    "give a kubeconfig or a url, not both",
                ));
            }
        }
        let token = match (&self.token, &self.token_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    Field::TokenFile,
                    "give token or token_file, not both",
                ));
            }
            (Some(token), None) => Some(Token::Inline(token.clone())),
            (None, Some(path)) => Some(Token::File(path.clone())),
            (None, None) => None,
        };
        Ok(Connection::Url {
            url: url.clone(),
            token,
            ca_file: self.ca_file.clone(),
            insecure_skip_tls_verify: self.insecure_skip_tls_verify.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_describes_every_field_once_in_order() {
        let all = [
            Field::Namespace,
            Field::LeaseName,
            Field::Identity,
            Field::LeaseDuration,
            Field::RenewDeadline,
            Field::RetryPeriod,
            Field::ReleaseOnStop,
            Field::ReleaseTimeout,
            Field::StopTimeout,
            Field::Labels,
            Field::OwnerReferenceApiVersion,
            Field::OwnerReferenceKind,
            Field::OwnerReferenceName,
            Field::OwnerReferenceUid,
            Field::Kubeconfig,
            Field::Context,
            Field::Url,
            Field::Token,
            Field::TokenFile,
            Field::CaFile,
            Field::InsecureSkipTlsVerify,
        ];
        // A field added to the enum but not here fails to compile below.
        for field in all {
            match field {
                Field::Namespace
                | Field::LeaseName
                | Field::Identity
                | Field::LeaseDuration
                | Field::RenewDeadline
                | Field::RetryPeriod
                | Field::ReleaseOnStop
                | Field::ReleaseTimeout
                | Field::StopTimeout
                | Field::Labels
                | Field::OwnerReferenceApiVersion
                | Field::OwnerReferenceKind
                | Field::OwnerReferenceName
                | Field::OwnerReferenceUid
                | Field::Kubeconfig
                | Field::Context
                | Field::Url
                | Field::Token
                | Field::TokenFile
                | Field::CaFile
                | Field::InsecureSkipTlsVerify => {}
            }
        }
        assert_eq!(Field::all().collect::<Vec<_>>(), all);
        for spec in &OPTIONS {
            assert!(!spec.doc.is_empty(), "{}", spec.field);
        }
    }

    #[test]
    fn the_table_s_defaults_are_the_builder_s() {
        let config = Options::new("l", "i").build().unwrap();
        let default = |field: Field| field.spec().default;
        assert_eq!(
            default(Field::Namespace),
            DefaultValue::Text(DEFAULT_NAMESPACE)
        );
        assert_eq!(config.namespace(), DEFAULT_NAMESPACE);
        assert_eq!(
            default(Field::LeaseDuration),
            DefaultValue::Duration(config.lease_duration())
        );
        assert_eq!(
            default(Field::RenewDeadline),
            DefaultValue::Duration(config.renew_deadline())
        );
        assert_eq!(
            default(Field::RetryPeriod),
            DefaultValue::Duration(config.retry_period())
        );
        assert_eq!(
            default(Field::ReleaseTimeout),
            DefaultValue::Duration(config.release_timeout())
        );
        assert_eq!(
            default(Field::StopTimeout),
            DefaultValue::Duration(config.stop_timeout())
        );
        assert_eq!(
            default(Field::ReleaseOnStop),
            DefaultValue::Flag(config.release_on_stop())
        );
        assert_eq!(config.connection(), &Connection::Infer);
    }

    #[test]
    fn rule_texts_state_the_constants() {
        use crate::config::{JITTER_FACTOR, MAX_DURATION, MIN_RETRY_PERIOD};
        let rule = |field: Field| field.spec().rule;
        assert!(rule(Field::RetryPeriod).contains(&format!("at least {MIN_RETRY_PERIOD:?}")));
        assert!(rule(Field::RenewDeadline).contains(&format!("{JITTER_FACTOR} × retry_period")));
        for field in [
            Field::LeaseDuration,
            Field::RenewDeadline,
            Field::RetryPeriod,
        ] {
            assert!(
                rule(field).contains(&MAX_DURATION.as_secs().to_string()),
                "{field}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let mut options = Options::new("l", "i");
        options.token = Some("s3cret".into());
        let shown = format!("{options:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn every_duration_is_bounded_and_named_itself() {
        let huge = Some(crate::config::MAX_DURATION + Duration::from_secs(1));
        let field_of = |f: &dyn Fn(&mut Options)| {
            let mut options = Options::new("l", "i");
            f(&mut options);
            options.build().unwrap_err().field
        };
        assert_eq!(field_of(&|o| o.lease_duration = huge), Field::LeaseDuration);
        assert_eq!(field_of(&|o| o.renew_deadline = huge), Field::RenewDeadline);
        assert_eq!(field_of(&|o| o.retry_period = huge), Field::RetryPeriod);
        assert_eq!(
            field_of(&|o| o.release_timeout = huge),
            Field::ReleaseTimeout
        );
        assert_eq!(field_of(&|o| o.stop_timeout = huge), Field::StopTimeout);
    }

    #[test]
    fn connection_options_of_two_kinds_are_refused_by_name() {
        let with = |f: fn(&mut Options)| {
            let mut options = Options::new("l", "i");
            f(&mut options);
            options.build().map(|_| ()).map_err(|e| e.field)
        };
        assert_eq!(with(|o| o.token = Some("t".into())), Err(Field::Token));
        assert_eq!(
            with(|o| o.token_file = Some("/t".into())),
            Err(Field::TokenFile)
        );
        assert_eq!(with(|o| o.ca_file = Some("/ca".into())), Err(Field::CaFile));
        assert_eq!(
            with(|o| o.insecure_skip_tls_verify = Some(true)),
            Err(Field::InsecureSkipTlsVerify)
        );
        assert_eq!(with(|o| o.insecure_skip_tls_verify = Some(false)), Ok(()));
        fn url(o: &mut Options) {
            o.url = Some("https://h:6443".into());
        }
        assert_eq!(
            with(|o| {
                url(o);
                o.kubeconfig = Some("/k".into());
            }),
            Err(Field::Kubeconfig)
        );
        assert_eq!(
            with(|o| {
                url(o);
                o.context = Some("c".into());
            }),
            Err(Field::Context)
        );
        assert_eq!(
            with(|o| {
                url(o);
                o.token = Some("t".into());
                o.token_file = Some("/t".into());
            }),
            Err(Field::TokenFile)
        );
        assert_eq!(
            with(|o| {
                url(o);
                o.token_file = Some("/t".into());
                o.ca_file = Some("/ca".into());
                o.insecure_skip_tls_verify = Some(true);
            }),
            Ok(())
        );
    }
}
