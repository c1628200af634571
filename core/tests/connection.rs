//! Explicit connections: a URL with a bearer token or a token file, and a CA.
//! Its own test binary because the token-rotation test waits for kube's
//! one-minute token refresh.

mod common;
use common::*;

use std::time::Duration;

use elector_core::{Config, Connection, ErrorKind, Event, Token};
use elector_test_support::{TestEnv, User, cluster, init_tracing, unique_name};

fn url_config(env: &TestEnv, identity: &str, token: Token) -> elector_core::ConfigBuilder {
    Config::builder(&env.namespace, &env.lease, identity)
        .lease_duration(LEASE)
        .renew_deadline(DEADLINE)
        .retry_period(RETRY)
        .connection(Connection::Url {
            url: cluster().server_url(),
            token: Some(token),
            ca_file: Some(cluster().ca_file()),
            insecure_skip_tls_verify: false,
        })
}

#[tokio::test]
async fn an_explicit_url_token_and_ca_connect() {
    init_tracing();
    let env = TestEnv::new().await;
    let mut a = Candidate::start(url_config(
        &env,
        "a",
        Token::Inline(cluster().token(User::Elector)),
    ))
    .await;
    a.acquired(Duration::from_secs(10)).await;
    a.stop().await;
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    init_tracing();
    let env = TestEnv::new().await;
    // The platform's roots do not include the test CA.
    let config = Config::builder(&env.namespace, &env.lease, "a").connection(Connection::Url {
        url: cluster().server_url(),
        token: Some(Token::Inline(cluster().token(User::Elector))),
        ca_file: None,
        insecure_skip_tls_verify: false,
    });
    let mut a = Candidate::start(config).await;
    let event = a
        .wait_for(Duration::from_secs(10), |e| {
            matches!(e, Event::Error { .. })
        })
        .await;
    assert!(
        matches!(&event, Event::Error { kind: ErrorKind::Unavailable, message } if message.contains("certificate")),
        "{event:?}"
    );
    a.stop().await;
}

#[tokio::test]
async fn skipping_verification_accepts_an_unknown_certificate() {
    init_tracing();
    let env = TestEnv::new().await;
    let config = Config::builder(&env.namespace, &env.lease, "a")
        .lease_duration(LEASE)
        .renew_deadline(DEADLINE)
        .retry_period(RETRY)
        .connection(Connection::Url {
            url: cluster().server_url(),
            token: Some(Token::Inline(cluster().token(User::Elector))),
            ca_file: None,
            insecure_skip_tls_verify: true,
        });
    let mut a = Candidate::start(config).await;
    a.acquired(Duration::from_secs(10)).await;
    a.stop().await;
}

#[tokio::test]
async fn a_rotated_token_file_is_read_again() {
    init_tracing();
    let env = TestEnv::new().await;
    let token_file = std::env::temp_dir().join(unique_name("token"));
    std::fs::write(&token_file, cluster().token(User::Nobody)).unwrap();
    let mut a = Candidate::start(url_config(&env, "a", Token::File(token_file.clone()))).await;
    a.wait_for(Duration::from_secs(10), |e| {
        matches!(
            e,
            Event::Error {
                kind: ErrorKind::Forbidden,
                ..
            }
        )
    })
    .await;

    // As the kubelet rotates a projected service account token.
    std::fs::write(&token_file, cluster().token(User::Elector)).unwrap();
    a.acquired(Duration::from_secs(90)).await;
    a.stop().await;
    std::fs::remove_file(token_file).unwrap();
}
