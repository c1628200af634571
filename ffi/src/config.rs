//! The config builder. Setters only record values (checking pointers and
//! UTF-8); every rule is checked at once by elector_new, which names the
//! field that breaks one.

use std::ffi::{CString, c_char};
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use elector_core::{Config, Field, Options};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::boundary::{arg_mut, ffi_boundary, opt_str_arg, str_arg, try_ffi};
use crate::result::{config_error, elector_result, fail};

/// Options for an elector, filled by the elector_config_set_* functions.
/// Not thread-safe: use one config from one thread at a time.
#[derive(Debug)]
pub struct elector_config {
    options: Options,
    /// Whether elector_config_set_kubeconfig was called: with NULL, NULL it
    /// leaves no trace in `options`, yet must not be dropped beside a URL.
    kubeconfig_set: bool,
}

impl elector_config {
    /// The validated core configuration, or the code of the broken rule.
    pub(crate) fn build(&self) -> Result<Config, elector_result> {
        // A path or context beside a URL is core's to refuse, by name.
        let default_kubeconfig =
            self.options.kubeconfig.is_none() && self.options.context.is_none();
        if self.kubeconfig_set && default_kubeconfig && self.options.url.is_some() {
            return Err(fail(
                elector_result::ELECTOR_ERR_INVALID_CONNECTION,
                "invalid kubeconfig: give a kubeconfig or a url, not both \
                 (elector_config_set_kubeconfig and elector_config_set_url were both called)",
            ));
        }
        self.options
            .clone()
            .build()
            .map_err(|err| config_error(&err))
    }
}

/// Creates a config with the defaults: namespace "default", no lease name or
/// identity (both required), lease 15 s, renew deadline 10 s, retry 2 s,
/// release on stop within 5 s, connection inferred as kube-rs does (KUBECONFIG, then the
/// in-cluster service account). Free it with elector_config_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_new(
    out_config: *mut *mut elector_config,
) -> elector_result {
    ffi_boundary(|| {
        // SAFETY: `out_config` is NULL or writable, as documented.
        let out = try_ffi!(unsafe { arg_mut(out_config, "out_config") });
        *out = Box::into_raw(Box::new(elector_config {
            options: Options::new("", ""),
            kubeconfig_set: false,
        }));
        elector_result::ELECTOR_OK
    })
}

/// Frees a config. NULL is a no-op. Electors made from it are unaffected.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_free(config: *mut elector_config) {
    if !config.is_null() {
        // SAFETY: made by elector_config_new and not freed before, as documented.
        drop(unsafe { Box::from_raw(config) });
    }
}

/// Runs `apply` on the config behind `config`, inside the panic boundary.
fn with_config(
    config: *mut elector_config,
    apply: impl FnOnce(&mut elector_config) -> Result<(), elector_result>,
) -> elector_result {
    ffi_boundary(|| {
        // SAFETY: `config` is NULL or from elector_config_new, used by one
        // thread at a time, as documented.
        let config = try_ffi!(unsafe { arg_mut(config, "config") });
        try_ffi!(apply(config));
        elector_result::ELECTOR_OK
    })
}

/// Sets the namespace of the lease (a DNS label; default "default").
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_namespace(
    config: *mut elector_config,
    namespace: *const c_char,
) -> elector_result {
    with_config(config, |c| {
        // SAFETY: a NUL-terminated string or NULL, as documented.
        c.options.namespace = Some(unsafe { str_arg(namespace, "namespace") }?.to_string());
        Ok(())
    })
}

/// Sets the name of the lease (a DNS subdomain; required).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_lease_name(
    config: *mut elector_config,
    lease_name: *const c_char,
) -> elector_result {
    with_config(config, |c| {
        // SAFETY: a NUL-terminated string or NULL, as documented.
        c.options.lease_name = unsafe { str_arg(lease_name, "lease_name") }?.to_string();
        Ok(())
    })
}

/// Sets this candidate's identity (non-empty, unique among candidates;
/// required), e.g. the pod name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_identity(
    config: *mut elector_config,
    identity: *const c_char,
) -> elector_result {
    with_config(config, |c| {
        // SAFETY: a NUL-terminated string or NULL, as documented.
        c.options.identity = unsafe { str_arg(identity, "identity") }?.to_string();
        Ok(())
    })
}

/// Sets how long the lease is valid after its last renewal, in milliseconds
/// (whole seconds; default 15000).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_lease_duration_ms(
    config: *mut elector_config,
    milliseconds: u64,
) -> elector_result {
    with_config(config, |c| {
        c.options.lease_duration = Some(Duration::from_millis(milliseconds));
        Ok(())
    })
}

/// Sets how long a leader keeps trying to renew before it steps down, in
/// milliseconds (default 10000).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_renew_deadline_ms(
    config: *mut elector_config,
    milliseconds: u64,
) -> elector_result {
    with_config(config, |c| {
        c.options.renew_deadline = Some(Duration::from_millis(milliseconds));
        Ok(())
    })
}

/// Sets how often the leader renews and a candidate without a watch polls,
/// in milliseconds (default 2000).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_retry_period_ms(
    config: *mut elector_config,
    milliseconds: u64,
) -> elector_result {
    with_config(config, |c| {
        c.options.retry_period = Some(Duration::from_millis(milliseconds));
        Ok(())
    })
}

/// Sets whether elector_stop hands the lease back so a standby takes over at
/// once (default true).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_release_on_stop(
    config: *mut elector_config,
    release: bool,
) -> elector_result {
    with_config(config, |c| {
        c.options.release_on_stop = Some(release);
        Ok(())
    })
}

/// Sets how long elector_stop may spend releasing the lease, all requests
/// together (default 5000 ms); after it the lease is left to expire, as
/// after a crash. Must be greater than zero.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_release_timeout_ms(
    config: *mut elector_config,
    milliseconds: u64,
) -> elector_result {
    with_config(config, |c| {
        c.options.release_timeout = Some(Duration::from_millis(milliseconds));
        Ok(())
    })
}

/// Sets how long a stopping leader waits for its LOST to be acknowledged
/// (the callback's return, or elector_lost_ack_done) before it gives up
/// (default 10000 ms). It renews the lease meanwhile and releases it only
/// after the acknowledgement; at the timeout it stops renewing and leaves the
/// lease to expire, as after a crash. Must be greater than zero.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_stop_timeout_ms(
    config: *mut elector_config,
    milliseconds: u64,
) -> elector_result {
    with_config(config, |c| {
        c.options.stop_timeout = Some(Duration::from_millis(milliseconds));
        Ok(())
    })
}

/// Accepts any server certificate on a URL connection, as a kubeconfig's
/// `insecure-skip-tls-verify` (default false): for development clusters
/// only. elector_new fails with ELECTOR_ERR_INVALID_CONNECTION if the
/// connection is not a URL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_insecure_skip_tls_verify(
    config: *mut elector_config,
    insecure: bool,
) -> elector_result {
    with_config(config, |c| {
        c.options.insecure_skip_tls_verify = Some(insecure);
        Ok(())
    })
}

/// Sets an owner of the lease (usually this Pod), written when this elector
/// creates or takes over the lease, so it is garbage-collected with it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_owner_reference(
    config: *mut elector_config,
    api_version: *const c_char,
    kind: *const c_char,
    name: *const c_char,
    uid: *const c_char,
) -> elector_result {
    with_config(config, |c| {
        // SAFETY: NUL-terminated strings or NULL, as documented.
        let owner = unsafe {
            OwnerReference {
                api_version: str_arg(api_version, "api_version")?.to_string(),
                kind: str_arg(kind, "kind")?.to_string(),
                name: str_arg(name, "name")?.to_string(),
                uid: str_arg(uid, "uid")?.to_string(),
                ..OwnerReference::default()
            }
        };
        c.options.owner_reference = Some(owner);
        Ok(())
    })
}

/// Adds a label written on the lease when this elector creates or takes it over.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_add_label(
    config: *mut elector_config,
    key: *const c_char,
    value: *const c_char,
) -> elector_result {
    with_config(config, |c| {
        // SAFETY: NUL-terminated strings or NULL, as documented.
        let (key, value) = unsafe { (str_arg(key, "key")?, str_arg(value, "value")?) };
        c.options.labels.insert(key.to_string(), value.to_string());
        Ok(())
    })
}

/// Connects with a kubeconfig file. `path` NULL: KUBECONFIG or
/// ~/.kube/config; `context` NULL: the file's current context; both NULL:
/// inferred, as by default (then in-cluster when no kubeconfig exists).
/// Not with elector_config_set_url: elector_new then fails with
/// ELECTOR_ERR_INVALID_CONNECTION naming kubeconfig.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_kubeconfig(
    config: *mut elector_config,
    path: *const c_char,
    context: *const c_char,
) -> elector_result {
    with_config(config, |c| {
        // SAFETY: NUL-terminated strings or NULL, as documented.
        let (path, context) =
            unsafe { (opt_str_arg(path, "path")?, opt_str_arg(context, "context")?) };
        c.kubeconfig_set = true;
        c.options.kubeconfig = path.map(PathBuf::from);
        c.options.context = context.map(str::to_string);
        Ok(())
    })
}

/// Connects to an explicit API server `url` ("https://host:port"), with a
/// bearer `token` or a `token_file` (re-read at least once a minute as it
/// rotates; at most one of the two, both may be NULL) and the PEM `ca_file`
/// of the server's CA (NULL: the platform's roots). Not with
/// elector_config_set_kubeconfig (see there). `url` NULL with any of the others:
/// elector_new refuses them (ELECTOR_ERR_INVALID_CONNECTION, naming the
/// option), as it refuses a token with a token file; all four NULL:
/// ELECTOR_ERR_NULL_PARAMETER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn elector_config_set_url(
    config: *mut elector_config,
    url: *const c_char,
    token: *const c_char,
    token_file: *const c_char,
    ca_file: *const c_char,
) -> elector_result {
    with_config(config, |c| {
        // SAFETY: NUL-terminated strings or NULL, as documented.
        let (url, token, token_file, ca_file) = unsafe {
            (
                opt_str_arg(url, "url")?,
                opt_str_arg(token, "token")?,
                opt_str_arg(token_file, "token_file")?,
                opt_str_arg(ca_file, "ca_file")?,
            )
        };
        if [url, token, token_file, ca_file]
            .iter()
            .all(Option::is_none)
        {
            return Err(fail(
                elector_result::ELECTOR_ERR_NULL_PARAMETER,
                "url: NULL, and no token, token_file or ca_file either",
            ));
        }
        c.options.url = url.map(str::to_string);
        c.options.token = token.map(str::to_string);
        c.options.token_file = token_file.map(PathBuf::from);
        c.options.ca_file = ca_file.map(PathBuf::from);
        Ok(())
    })
}

/// The name of core option `index` (0, 1, … in order), as elector_new's
/// errors spell it ("lease_duration", "owner_reference.uid"), or NULL past
/// the last one. For a host to check that it maps every option. The string
/// is static: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn elector_option_name(index: usize) -> *const c_char {
    static NAMES: LazyLock<Vec<CString>> = LazyLock::new(|| {
        Field::all()
            .map(|field| CString::new(field.name()).expect("option names have no NUL"))
            .collect()
    });
    NAMES
        .get(index)
        .map_or(std::ptr::null(), |name| name.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C function that sets `field`: an option added to core fails to
    /// compile here until C can set it.
    fn setter(field: Field) -> &'static str {
        match field {
            Field::Namespace => "elector_config_set_namespace",
            Field::LeaseName => "elector_config_set_lease_name",
            Field::Identity => "elector_config_set_identity",
            Field::LeaseDuration => "elector_config_set_lease_duration_ms",
            Field::RenewDeadline => "elector_config_set_renew_deadline_ms",
            Field::RetryPeriod => "elector_config_set_retry_period_ms",
            Field::ReleaseOnStop => "elector_config_set_release_on_stop",
            Field::ReleaseTimeout => "elector_config_set_release_timeout_ms",
            Field::StopTimeout => "elector_config_set_stop_timeout_ms",
            Field::Labels => "elector_config_add_label",
            Field::OwnerReferenceApiVersion
            | Field::OwnerReferenceKind
            | Field::OwnerReferenceName
            | Field::OwnerReferenceUid => "elector_config_set_owner_reference",
            Field::Kubeconfig | Field::Context => "elector_config_set_kubeconfig",
            Field::Url | Field::Token | Field::TokenFile | Field::CaFile => {
                "elector_config_set_url"
            }
            Field::InsecureSkipTlsVerify => "elector_config_set_insecure_skip_tls_verify",
        }
    }

    #[test]
    fn the_header_sets_every_core_option() {
        let header = include_str!("../../include/elector.h");
        for field in Field::all() {
            let declared = format!("elector_result {}(", setter(field));
            assert!(header.contains(&declared), "{field}: no {declared}");
        }
        let readme = include_str!("../README.md");
        for field in Field::all() {
            let named = format!("`{}`", setter(field));
            assert!(
                readme.contains(&named),
                "README.md does not document {named}"
            );
        }
    }

    #[test]
    fn option_names_are_core_s_in_order() {
        let names: Vec<String> = (0..)
            .map(|index: usize| elector_option_name(index))
            .take_while(|name| !name.is_null())
            // SAFETY: a static NUL-terminated string.
            .map(|name| {
                unsafe { std::ffi::CStr::from_ptr(name) }
                    .to_str()
                    .unwrap()
                    .into()
            })
            .collect();
        let core: Vec<&str> = Field::all().map(Field::name).collect();
        assert_eq!(names, core);
    }
}
