//! `POST /auth/login` against a DynamoDB that accepts connections and never
//! answers: a `503` problem+json within the guards, never a hang.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use lambda_http::{Body, Response};
use serde_json::json;
use warden::aws::Guards;
use warden::state::AuthState;
use warden::testing;

/// Far above the short guards' 800 ms, far below a hang.
const BOUND: Duration = Duration::from_secs(3);

const WHAT: &str = "POST /auth/login";

/// Alice's login, from a client at 198.51.100.7.
async fn login(state: &AuthState) -> Result<Response<Body>, lambda_http::Error> {
    let body = json!({"username": "alice", "password": "alice password"}).to_string();
    let headers = [("content-type", "application/json")];
    let request = testing::api_request("POST", "/auth/login", &headers, body, "198.51.100.7");
    warden_login::handler(state, request).await
}

#[tokio::test]
async fn a_hung_dynamodb_makes_login_a_503_within_the_guards() {
    let (reply, endpoint) =
        testing::on_a_hung_dynamodb(WHAT, testing::SHORT_GUARDS, BOUND, login).await;
    testing::assert_unavailable_within(&reply, BOUND, &endpoint);
}

/// Measures a login against a hung DynamoDB with the default guards:
/// `cargo test -p warden-login --test slow_dependency -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check: takes the default operation timeout"]
async fn measure_login_against_a_hung_dynamodb_with_the_default_guards() {
    let bound = testing::default_guards_bound();
    let (reply, endpoint) =
        testing::on_a_hung_dynamodb(WHAT, Guards::default(), bound, login).await;
    testing::report_measurement(WHAT, &reply, &endpoint);
}
