//! The authorizer against a DynamoDB that accepts connections and never
//! answers: a deny (fail closed) within the guards, never a hang.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::authorizer_request;
use lambda_runtime::{Context, LambdaEvent};
use warden::domain::Role;
use warden::testing::{self, HangingEndpoint};

/// Far above the short guards' 800 ms, far below a hang.
const BOUND: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_hung_dynamodb_makes_the_authorizer_deny_within_the_guards() {
    let endpoint = HangingEndpoint::start();
    let state = testing::aws_state(endpoint.url(), testing::SHORT_GUARDS).await;
    let (token, _) = state
        .tokens
        .issue(
            "01USER",
            &[Role::User],
            0,
            "01SESSION",
            state.clock.now_secs(),
        )
        .await
        .unwrap();
    let authorization = format!("Bearer {token}");
    let payload = authorizer_request(Some(&authorization), "authz-hang");

    let started = Instant::now();
    let response = tokio::time::timeout(
        BOUND,
        warden_authorizer::handler(&state, LambdaEvent::new(payload, Context::default())),
    )
    .await
    .unwrap_or_else(|_| panic!("the authorizer still undecided after {BOUND:?}"))
    .unwrap();
    let elapsed = started.elapsed();

    assert!(
        !response.is_authorized,
        "a store that never answers must deny"
    );
    assert!(
        endpoint.connections() > 0,
        "the check never reached the endpoint"
    );
    assert!(elapsed < BOUND, "{elapsed:?}");
}
