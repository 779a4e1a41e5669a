//! `POST /webhooks/{source}` against DynamoDB and SQS that accept
//! connections and never answer: a `503` problem+json within the guards,
//! never a hang, and nothing enqueued.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request};
use serde_json::json;
use warden::aws::Guards;
use warden::clock::ManualClock;
use warden::queue::SqsQueue;
use warden::state::WebhookState;
use warden::store::dynamo::DynamoStore;
use warden::store::memory::MemoryStore;
use warden::store::{Claim, DeliveryStore, WebhookStore};
use warden::testing::{self, HangingEndpoint, TimedReply};
use warden::webhook::{SigningKey, Sources};

/// Far above the short guards' 800 ms, far below a hang.
const BOUND: Duration = Duration::from_secs(3);

const GITHUB_SECRET: &str = "github-secret";

/// The production intake's parts over `store`: a source, and SQS at
/// `endpoint`.
async fn state(store: Arc<dyn WebhookStore>, endpoint: &str, guards: &Guards) -> WebhookState {
    let sources = Sources::from_json(
        &json!([{"name": "gh", "scheme": "github", "secrets": [GITHUB_SECRET]}]).to_string(),
    )
    .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&testing::aws_config_with(endpoint, guards).await);
    let queue = Arc::new(SqsQueue::new(
        sqs,
        &format!("{endpoint}/000000000000/events.fifo"),
    ));
    testing::webhook_state(store, sources, queue, Arc::new(ManualClock::starting_now()))
}

/// DynamoDB at `endpoint`, with `guards`.
async fn dynamo(endpoint: &str, guards: &Guards) -> Arc<dyn WebhookStore> {
    let aws = testing::aws_config_with(endpoint, guards).await;
    Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), "t-"))
}

/// A delivery signed the way GitHub signs it.
fn delivery() -> Request {
    let body = json!({"zen": "Keep it logically awesome."}).to_string();
    let signature = hex::encode(SigningKey::new(GITHUB_SECRET.as_bytes()).sign(&[body.as_bytes()]));
    let delivery_id = ulid::Ulid::new().to_string();
    testing::api_request(
        "POST",
        "/webhooks/gh",
        &[
            ("x-hub-signature-256", &format!("sha256={signature}")),
            ("x-github-delivery", &delivery_id),
            ("x-github-event", "ping"),
        ],
        Body::Binary(body.into_bytes()),
        "192.0.2.80",
    )
}

/// Posts a fresh [`delivery`], failing the test (instead of hanging it)
/// past `bound`.
async fn post(state: &WebhookState, bound: Duration) -> TimedReply {
    post_request(state, delivery(), bound).await
}

/// Calls the handler, failing the test (instead of hanging it) past `bound`.
async fn post_request(state: &WebhookState, request: Request, bound: Duration) -> TimedReply {
    let call = warden_webhook_receive::handler(state, request);
    testing::answer_within("POST /webhooks/gh", bound, call).await
}

#[tokio::test]
async fn a_hung_dynamodb_makes_a_delivery_a_503_within_the_guards() {
    let endpoint = HangingEndpoint::start();
    let store = dynamo(endpoint.url(), &testing::SHORT_GUARDS).await;
    let state = state(store, endpoint.url(), &testing::SHORT_GUARDS).await;

    let reply = post(&state, BOUND).await;
    testing::assert_unavailable_within(&reply, BOUND, &endpoint);
}

#[tokio::test]
async fn a_hung_sqs_makes_a_delivery_a_503_within_the_guards_and_releases_the_claim() {
    let endpoint = HangingEndpoint::start();
    let store = Arc::new(MemoryStore::new());
    let state = state(store.clone(), endpoint.url(), &testing::SHORT_GUARDS).await;
    let request = delivery();
    let delivery_id = request.headers()["x-github-delivery"]
        .to_str()
        .unwrap()
        .to_owned();

    let reply = post_request(&state, request, BOUND).await;
    testing::assert_unavailable_within(&reply, BOUND, &endpoint);
    // Released: the provider's retry is claimed afresh.
    let now = state.clock.now_secs();
    assert_eq!(
        store
            .claim_delivery(&format!("gh#{delivery_id}"), now, now + 60)
            .await
            .unwrap(),
        Claim::Claimed
    );
}

/// Measures a delivery against a hung DynamoDB and SQS with the default
/// guards: `cargo test -p warden-webhook-receive --test slow_dependency -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check: takes the default operation timeout"]
async fn measure_a_delivery_against_a_hung_dynamodb_with_the_default_guards() {
    let endpoint = HangingEndpoint::start();
    let store = dynamo(endpoint.url(), &Guards::default()).await;
    let state = state(store, endpoint.url(), &Guards::default()).await;
    let reply = post(&state, testing::default_guards_bound()).await;
    testing::report_measurement("POST /webhooks/gh", &reply, &endpoint);
}
