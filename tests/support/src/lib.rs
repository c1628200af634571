//! Test support for every Rust integration test: the local control plane of
//! `tests/cluster`, started once per test run (or reused when already up),
//! clients for its three users, and fresh leases and namespaces that are
//! removed when the test ends.
//!
//! `ELECTOR_KUBECONFIG` points the tests at a cluster that is already up
//! instead of running `tests/cluster/up`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// The three users of the local cluster's kubeconfig, one context each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// Group `system:masters`.
    Admin,
    /// Only the `lease-manager` Role (leases) in namespace `default` and in
    /// namespaces made by [`TestEnv::with_namespace`].
    Elector,
    /// Authenticated, no rights.
    Nobody,
}

impl User {
    pub fn context(self) -> &'static str {
        match self {
            User::Admin => "admin",
            User::Elector => "elector",
            User::Nobody => "nobody",
        }
    }
}

/// The running local control plane.
#[derive(Debug)]
pub struct Cluster {
    kubeconfig: PathBuf,
}

/// The cluster, started on first use by `tests/cluster/up`.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let kubeconfig = match std::env::var_os("ELECTOR_KUBECONFIG") {
            Some(path) => PathBuf::from(path),
            None => {
                let output = Command::new(cluster_script("up"))
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .expect("running tests/cluster/up");
                assert!(output.status.success(), "tests/cluster/up failed");
                let stdout = String::from_utf8(output.stdout).expect("utf-8 from up");
                PathBuf::from(
                    stdout
                        .lines()
                        .last()
                        .expect("up prints the kubeconfig path"),
                )
            }
        };
        Cluster { kubeconfig }
    })
}

fn cluster_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cluster")
        .join(name)
}

/// A component of the control plane that tests can stop and start.
#[derive(Debug, Clone, Copy)]
pub enum Component {
    ApiServer,
    Etcd,
    /// A second API server on the same etcd that offers HTTP/1.1 only;
    /// stopped until a test starts it.
    Http1ApiServer,
}

impl Cluster {
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kube-rs configuration for `user`, as the kubeconfig describes it.
    pub async fn config(&self, user: User) -> Config {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).expect("reading the kubeconfig");
        let options = KubeConfigOptions {
            context: Some(user.context().to_string()),
            ..KubeConfigOptions::default()
        };
        Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .expect("kubeconfig context")
    }

    pub async fn client(&self, user: User) -> Client {
        Client::try_from(self.config(user).await).expect("building a client")
    }

    /// The cluster's state directory (beside the kubeconfig).
    fn dir(&self) -> &Path {
        self.kubeconfig
            .parent()
            .expect("kubeconfig in the cluster directory")
    }

    fn env_value(&self, key: &str) -> String {
        let env = std::fs::read_to_string(self.dir().join("env")).expect("reading the cluster env");
        env.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} missing from the cluster env"))
            .to_string()
    }

    /// The API server's URL, for tests of explicit connections.
    pub fn server_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.env_value("APISERVER_PORT"))
    }

    /// The URL of the API server without HTTP/2 ([`Component::Http1ApiServer`]).
    pub fn http1_server_url(&self) -> String {
        format!(
            "https://127.0.0.1:{}",
            self.env_value("HTTP1_APISERVER_PORT")
        )
    }

    /// The PEM file of the CA that signed the API server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir().join("pki/ca.crt")
    }

    /// The bearer token of `user`.
    pub fn token(&self, user: User) -> String {
        self.env_value(&format!("{}_TOKEN", user.context().to_uppercase()))
    }

    /// Runs `tests/cluster/ctl <action> <component>`: `stop`, `kill`, `start`
    /// or `restart`, keeping data. Blocking; call from `spawn_blocking` in
    /// async tests if other tasks must run meanwhile.
    pub fn ctl(&self, action: &str, component: Component) {
        let name = match component {
            Component::ApiServer => "apiserver",
            Component::Etcd => "etcd",
            Component::Http1ApiServer => "apiserver-http1",
        };
        let status = Command::new(cluster_script("ctl"))
            .args([action, name])
            .status()
            .expect("running tests/cluster/ctl");
        assert!(status.success(), "tests/cluster/ctl {action} {name} failed");
    }
}

/// A fresh lease name (and optionally a fresh namespace) for one test; the
/// lease, and the namespace if this made it, are deleted when it drops.
#[derive(Debug)]
pub struct TestEnv {
    pub namespace: String,
    pub lease: String,
    owns_namespace: bool,
}

/// A name unique to this run: `prefix-<random>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

impl TestEnv {
    /// A fresh lease name in namespace `default`.
    pub async fn new() -> TestEnv {
        cluster();
        TestEnv {
            namespace: "default".into(),
            lease: unique_name("lease"),
            owns_namespace: false,
        }
    }

    /// A fresh namespace in which user `elector` has the same Role as in
    /// `default`, and a fresh lease name in it.
    pub async fn with_namespace() -> TestEnv {
        let admin = cluster().client(User::Admin).await;
        let namespace = unique_name("ns");
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": namespace}
        }))
        .unwrap();
        Api::<Namespace>::all(admin.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("creating a namespace");
        grant_elector_role(&admin, &namespace).await;
        TestEnv {
            namespace,
            lease: unique_name("lease"),
            owns_namespace: true,
        }
    }

    pub async fn client(&self, user: User) -> Client {
        cluster().client(user).await
    }

    /// The leases of this test's namespace, as `user`.
    pub async fn leases(&self, user: User) -> Api<Lease> {
        Api::namespaced(self.client(user).await, &self.namespace)
    }
}

/// The Role and RoleBinding of `tests/cluster/rbac`, the same objects
/// `tests/cluster/up` applies in `default`.
async fn grant_elector_role(admin: &Client, namespace: &str) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let role: Role = serde_json::from_str(include_str!("../../cluster/rbac/role.json")).unwrap();
    let binding: RoleBinding =
        serde_json::from_str(include_str!("../../cluster/rbac/rolebinding.json")).unwrap();
    Api::<Role>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &role)
        .await
        .expect("creating the elector Role");
    Api::<RoleBinding>::namespaced(admin.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await
        .expect("binding the elector Role");
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Drop cannot await, and may run inside the test's runtime: clean up
        // on a thread of its own with a runtime of its own.
        let (namespace, lease, owns_namespace) = (
            self.namespace.clone(),
            self.lease.clone(),
            self.owns_namespace,
        );
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async move {
                let admin = cluster().client(User::Admin).await;
                let dp = DeleteParams::default();
                if owns_namespace {
                    let _ = Api::<Namespace>::all(admin).delete(&namespace, &dp).await;
                } else {
                    let _ = Api::<Lease>::namespaced(admin, &namespace)
                        .delete(&lease, &dp)
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Logs of the code under test, shown for failing tests (`RUST_LOG` filters,
/// default `debug` for the elector).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,elector_core=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
