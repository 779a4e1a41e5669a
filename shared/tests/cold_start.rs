//! The Lambdas' own cold starts (`warden::wiring`, the default credential and
//! endpoint chain) build their clients with the configured guards: against
//! an endpoint that accepts connections and never answers, init fails as
//! unavailable within the guards instead of hanging until Lambda kills it.
//!
//! Its own test binary: it points the process's AWS environment at the
//! hanging endpoint.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use warden::Error;
use warden::config::Config;
use warden::testing::HangingEndpoint;

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

/// Set in the child process, which runs the cold starts.
const CHILD: &str = "WARDEN_COLD_START_CHILD";

/// Runs [`cold_starts_against_the_process_environment`] in a child process
/// whose AWS environment points at a hanging endpoint. A child, because
/// changing this process's environment is `unsafe` (other threads may read
/// it) and the workspace forbids unsafe code.
#[test]
fn every_lambda_cold_start_fails_within_the_guards_when_aws_hangs() {
    let endpoint = HangingEndpoint::start();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cold_starts_against_the_process_environment",
            "--ignored",
            "--nocapture",
        ])
        // What the Lambda environment provides, pointed at the hung endpoint.
        .env("AWS_ENDPOINT_URL", endpoint.url())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env(CHILD, "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains("1 passed"),
        "the child ran the test: {report}"
    );
    assert!(endpoint.connections() >= 2, "both reached the endpoint");
}

/// The cold starts themselves; only meaningful in the child process above.
#[tokio::test]
#[ignore = "run by every_lambda_cold_start_fails_within_the_guards_when_aws_hangs in a child process"]
async fn cold_starts_against_the_process_environment() {
    if std::env::var_os(CHILD).is_none() {
        eprintln!("skipped: run by every_lambda_cold_start_fails_within_the_guards_when_aws_hangs");
        return;
    }
    let config = || {
        let (config, findings) = Config::load(|k| match k {
            "WARDEN_ENV" => Some("staging".into()),
            "WARDEN_ISSUER" => Some("https://auth.example.com".into()),
            "WARDEN_SIGNING_KEY_ARN" => Some("arn:aws:kms:us-east-1:1:key/k".into()),
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
    within_bound("login, revoke, authorizer", warden::wiring::auth(config())).await;
    within_bound("webhook-receive", warden::wiring::webhooks(config())).await;
}
