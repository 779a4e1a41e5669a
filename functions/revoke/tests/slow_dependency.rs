//! `GET /auth/sessions` against a DynamoDB that accepts connections and
//! never answers: a `503` problem+json within the guards, never a hang.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use lambda_http::{Body, Response};
use warden::aws::Guards;
use warden::domain::Role;
use warden::state::AuthState;
use warden::testing;

/// Far above the short guards' 800 ms, far below a hang.
const BOUND: Duration = Duration::from_secs(3);

const WHAT: &str = "GET /auth/sessions";

/// `GET /auth/sessions` with a valid access token of a new session, from a
/// client at 198.51.100.8.
async fn sessions(state: &AuthState) -> Result<Response<Body>, lambda_http::Error> {
    let now = state.clock.now_secs();
    let (token, _) = state
        .tokens
        .issue(
            &ulid::Ulid::new().to_string(),
            &[Role::User],
            0,
            &ulid::Ulid::new().to_string(),
            now,
        )
        .await
        .unwrap();
    let authorization = format!("Bearer {token}");
    let headers = [("authorization", authorization.as_str())];
    let request = testing::api_request(
        "GET",
        "/auth/sessions",
        &headers,
        Body::Empty,
        "198.51.100.8",
    );
    warden_revoke::handler(state, request).await
}

#[tokio::test]
async fn a_hung_dynamodb_makes_the_sessions_list_a_503_within_the_guards() {
    let (reply, endpoint) =
        testing::on_a_hung_dynamodb(WHAT, testing::SHORT_GUARDS, BOUND, sessions).await;
    testing::assert_unavailable_within(&reply, BOUND, &endpoint);
}

/// Measures `GET /auth/sessions` against a hung DynamoDB with the default
/// guards: `cargo test -p warden-revoke --test slow_dependency -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check: takes the default operation timeout"]
async fn measure_the_sessions_list_against_a_hung_dynamodb_with_the_default_guards() {
    let bound = testing::default_guards_bound();
    let (reply, endpoint) =
        testing::on_a_hung_dynamodb(WHAT, Guards::default(), bound, sessions).await;
    testing::report_measurement(WHAT, &reply, &endpoint);
}
