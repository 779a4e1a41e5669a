//! The authorizer against a DynamoDB that accepts connections and never
//! answers: a deny (fail closed) within the guards, never a hang.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
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
    let payload: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/example",
        "identitySource": [authorization],
        "routeKey": "GET /example",
        "rawPath": "/example",
        "rawQueryString": "",
        "headers": {"authorization": authorization},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "authz-hang", "routeKey": "GET /example", "stage": "$default",
            "time": "23/Nov/2026:05:00:00 +0000", "timeEpoch": 1_795_410_000_000_i64,
            "http": {"method": "GET", "path": "/example", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"}
        }
    }))
    .unwrap();

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
