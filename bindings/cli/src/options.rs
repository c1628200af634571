//! The election's flags: one per core option, made from core's table
//! (`elector_core::options::OPTIONS`), so a new option gets a flag, an
//! `ELECTOR_*` variable and its help without anything written here but its
//! spelling (an exhaustive match: a new option fails to compile until it
//! has one).

use std::time::Duration;

use clap::builder::{ArgAction, ValueParser};
use clap::{Arg, ArgMatches, Args, FromArgMatches};
use elector_core::options::{DefaultValue, Kind, OPTIONS, Spec};
use elector_core::{Config, ConfigError, Field, Options, OwnerReference};

/// The flag that sets a core option, without its dashes.
pub fn flag(field: Field) -> &'static str {
    match field {
        Field::Namespace => "namespace",
        Field::LeaseName => "lease",
        Field::Identity => "identity",
        Field::LeaseDuration => "lease-duration",
        Field::RenewDeadline => "renew-deadline",
        Field::RetryPeriod => "retry-period",
        Field::ReleaseOnStop => "release-on-stop",
        Field::ReleaseTimeout => "release-timeout",
        Field::StopTimeout => "stop-timeout",
        Field::Labels => "label",
        Field::OwnerReferenceApiVersion => "owner-api-version",
        Field::OwnerReferenceKind => "owner-kind",
        Field::OwnerReferenceName => "owner-name",
        Field::OwnerReferenceUid => "owner-uid",
        Field::Kubeconfig => "kubeconfig",
        Field::Context => "context",
        Field::Url => "url",
        Field::Token => "token",
        Field::TokenFile => "token-file",
        Field::CaFile => "ca-file",
        Field::InsecureSkipTlsVerify => "insecure-skip-tls-verify",
    }
}

/// The environment variable that sets a core option when its flag is not
/// given: `ELECTOR_` and the flag in capitals (`ELECTOR_LABELS` for the
/// repeatable `--label`, comma-separated).
pub fn env_var(field: Field) -> String {
    match field {
        Field::Labels => "ELECTOR_LABELS".into(),
        _ => format!("ELECTOR_{}", flag(field).to_uppercase().replace('-', "_")),
    }
}

/// Every core option's flag, and the election they describe.
#[derive(Debug, Clone)]
pub struct Election {
    pub options: Options,
}

impl Election {
    /// The validated configuration, or the broken rule, named by its flag.
    pub fn config(&self) -> Result<Config, String> {
        self.options
            .clone()
            .build()
            .map_err(|err| in_flag_terms(&err))
    }
}

/// A configuration error as the command line spells the option.
pub fn in_flag_terms(err: &ConfigError) -> String {
    format!("invalid --{}: {}", flag(err.field), err.rule)
}

fn arg(spec: &Spec) -> Arg {
    let field = spec.field;
    let default = match spec.default {
        DefaultValue::Required if field == Field::Identity => {
            "POD_NAME, then the host name".to_string()
        }
        DefaultValue::Required => "required".to_string(),
        DefaultValue::Text(_) if field == Field::Namespace => {
            format!("POD_NAMESPACE, then {}", spec.default)
        }
        default => default.to_string(),
    };
    let mut help = format!("{} [default: {default}]", spec.doc);
    if !spec.rule.is_empty() {
        help += &format!(" (must be {})", spec.rule);
    }
    let arg = Arg::new(field.name())
        .long(flag(field))
        .env(env_var(field))
        .help(help)
        .help_heading("Election");
    match spec.kind {
        Kind::Duration => arg
            .value_name("DURATION")
            .value_parser(ValueParser::new(duration)),
        Kind::Flag => arg
            .value_name("BOOL")
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_parser(clap::value_parser!(bool)),
        Kind::Labels => arg
            .value_name("KEY=VALUE")
            .action(ArgAction::Append)
            .value_delimiter(',')
            .value_parser(ValueParser::new(label)),
        Kind::Secret => arg.value_name("TOKEN").hide_env_values(true),
        Kind::Path => arg.value_name("PATH"),
        Kind::Text => arg.value_name("TEXT"),
    }
}

/// A duration as people write one: `15s`, `500ms`, `2m`.
pub fn duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value)
        .map_err(|e| format!("{e}: expected a duration with its unit, such as 15s, 500ms or 2m"))
}

fn label(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((key, value)) => Ok((key.to_string(), value.to_string())),
        None => Err("expected KEY=VALUE".to_string()),
    }
}

impl Args for Election {
    fn augment_args(command: clap::Command) -> clap::Command {
        command.args(OPTIONS.iter().map(arg))
    }
    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for Election {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let text = |field: Field| matches.get_one::<String>(field.name()).cloned();
        let time = |field: Field| matches.get_one::<Duration>(field.name()).copied();
        let flag = |field: Field| matches.get_one::<bool>(field.name()).copied();
        let owner = [
            Field::OwnerReferenceApiVersion,
            Field::OwnerReferenceKind,
            Field::OwnerReferenceName,
            Field::OwnerReferenceUid,
        ]
        .map(text);
        let options = Options {
            namespace: text(Field::Namespace).or_else(|| non_empty_env("POD_NAMESPACE")),
            lease_duration: time(Field::LeaseDuration),
            renew_deadline: time(Field::RenewDeadline),
            retry_period: time(Field::RetryPeriod),
            release_on_stop: flag(Field::ReleaseOnStop),
            release_timeout: time(Field::ReleaseTimeout),
            stop_timeout: time(Field::StopTimeout),
            labels: matches
                .get_many::<(String, String)>(Field::Labels.name())
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            // Any of the four makes an owner; one left out is refused by name.
            owner_reference: owner.iter().any(Option::is_some).then(|| {
                let [api_version, kind, name, uid] = owner.map(Option::unwrap_or_default);
                OwnerReference {
                    api_version,
                    kind,
                    name,
                    uid,
                    ..OwnerReference::default()
                }
            }),
            kubeconfig: text(Field::Kubeconfig).map(Into::into),
            context: text(Field::Context),
            url: text(Field::Url),
            token: text(Field::Token),
            token_file: text(Field::TokenFile).map(Into::into),
            ca_file: text(Field::CaFile).map(Into::into),
            insecure_skip_tls_verify: flag(Field::InsecureSkipTlsVerify),
            ..Options::new(
                text(Field::LeaseName).unwrap_or_default(),
                text(Field::Identity)
                    .or_else(|| non_empty_env("POD_NAME"))
                    .or_else(host_name)
                    .unwrap_or_default(),
            )
        };
        Ok(Election { options })
    }
    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn host_name() -> Option<String> {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_option_has_a_distinct_flag_and_variable() {
        let flags: std::collections::BTreeSet<_> = Field::all().map(flag).collect();
        let vars: std::collections::BTreeSet<_> = Field::all().map(env_var).collect();
        assert_eq!(flags.len(), OPTIONS.len());
        assert_eq!(vars.len(), OPTIONS.len());
    }

    #[test]
    fn the_readme_documents_every_flag() {
        let readme = include_str!("../README.md");
        for field in Field::all() {
            let named = format!("`--{}", flag(field));
            assert!(
                readme.contains(&named),
                "README.md does not document {named}`"
            );
        }
    }
}
