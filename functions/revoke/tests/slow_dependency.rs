//! `GET /auth/sessions` against a DynamoDB that accepts connections and
//! never answers: a `503` problem+json within the guards, never a hang.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use http::StatusCode;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext as LambdaContext;
use lambda_http::{Body, Request, RequestExt};
use warden::aws::Guards;
use warden::domain::Role;
use warden::state::AuthState;
use warden::testing::{self, HangingEndpoint, TimedReply};

/// Far above the short guards' 800 ms, far below a hang.
const BOUND: Duration = Duration::from_secs(3);

/// `GET /auth/sessions` with a valid access token of a new session.
async fn sessions_request(state: &AuthState) -> Request {
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
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(ulid::Ulid::new().to_string());
    context.http.source_ip = Some("198.51.100.8".into());
    http::Request::builder()
        .method("GET")
        .uri("/auth/sessions")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Empty)
        .unwrap()
        .with_request_context(LambdaContext::ApiGatewayV2(context))
}

/// Calls the handler, failing the test (instead of hanging it) past `bound`.
async fn sessions(state: &AuthState, bound: Duration) -> TimedReply {
    let call = warden_revoke::handler(state, sessions_request(state).await);
    testing::answer_within("GET /auth/sessions", bound, call).await
}

#[tokio::test]
async fn a_hung_dynamodb_makes_the_sessions_list_a_503_within_the_guards() {
    let endpoint = HangingEndpoint::start();
    let state = testing::aws_state(endpoint.url(), testing::SHORT_GUARDS).await;

    let reply = sessions(&state, BOUND).await;
    testing::assert_unavailable_within(&reply, BOUND, &endpoint);
}

/// Measures `GET /auth/sessions` against a hung DynamoDB with the default
/// guards: `cargo test -p warden-revoke --test slow_dependency -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check: takes the default operation timeout"]
async fn measure_the_sessions_list_against_a_hung_dynamodb_with_the_default_guards() {
    let endpoint = HangingEndpoint::start();
    let state = testing::aws_state(endpoint.url(), Guards::default()).await;
    let bound = Guards::default().request_worst_case() + Duration::from_secs(1);
    let TimedReply {
        status, elapsed, ..
    } = sessions(&state, bound).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    println!(
        "GET /auth/sessions, default guards {}: {status} after {elapsed:?} ({} connections)",
        serde_json::to_string(&Guards::default()).unwrap(),
        endpoint.connections()
    );
}
