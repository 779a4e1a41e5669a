//! The Lambdas' own cold starts (`from_aws`, the default credential and
//! endpoint chain) build their clients with the configured guards: against
//! an endpoint that accepts connections and never answers, init fails as
//! unavailable within the guards instead of hanging until Lambda kills it.
//!
//! Its own test binary: it points the process's AWS environment at the
//! hanging endpoint.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use warden::config::Config;
use warden::state::{AuthState, WebhookState};
use warden::testing::HangingEndpoint;
use warden::Error;

/// Far above the short guards below, far below a hang.
const BOUND: Duration = Duration::from_secs(4);

async fn within_bound<T: std::fmt::Debug>(
    what: &str,
    init: impl std::future::Future<Output = warden::Result<T>>,
) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(BOUND, init)
        .await
        .unwrap_or_else(|_| panic!("{what} still initialising after {BOUND:?}"));
    assert!(
        matches!(outcome, Err(Error::Unavailable { .. })),
        "{what}: {outcome:?}"
    );
    assert!(started.elapsed() < BOUND, "{what}: {:?}", started.elapsed());
}

#[tokio::test]
async fn every_lambda_cold_start_fails_within_the_guards_when_aws_hangs() {
    let endpoint = HangingEndpoint::start();
    // What the Lambda environment provides, pointed at the hung endpoint.
    for (name, value) in [
        ("AWS_ENDPOINT_URL", endpoint.url()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        std::env::set_var(name, value);
    }
    let config = || {
        let (config, findings) = Config::load(|k| match k {
            "WARDEN_ENV" => Some("staging".into()),
            "WARDEN_JWT_SECRET_ARN" => Some("arn:jwt".into()),
            "WARDEN_WEBHOOK_SECRETS_ARN" => Some("arn:sources".into()),
            "WARDEN_EVENTS_QUEUE_URL" => Some("https://sqs.invalid/1/events.fifo".into()),
            "WARDEN_AWS_CONNECT_TIMEOUT_MS" => Some("200".into()),
            "WARDEN_AWS_ATTEMPT_TIMEOUT_MS" => Some("300".into()),
            "WARDEN_AWS_OPERATION_TIMEOUT_MS" => Some("800".into()),
            "WARDEN_AWS_MAX_ATTEMPTS" => Some("2".into()),
            _ => None,
        });
        assert!(!findings.has_errors(), "{findings:?}");
        config.unwrap()
    };
    within_bound("login, revoke, authorizer", AuthState::from_aws(config())).await;
    within_bound("webhook-receive", WebhookState::from_aws(config())).await;
    assert!(endpoint.connections() >= 2, "both reached the endpoint");
}
