//! The AWS SDK's CPU share of the bearer-token check on DynamoDB, without
//! the network: [`DynamoStore::revocation_state`] (one `BatchGetItem`: the
//! request built, serialised and SigV4-signed, the canned response parsed)
//! through the SDK's whole orchestrator, with an HTTP client that answers
//! at once. What `opt-level` on the SDK crates (Cargo.toml's release
//! profile) costs each authenticated request on Lambda.
//!
//! `cargo bench -p warden --bench sdk`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::body::SdkBody;
use criterion::{Criterion, criterion_group, criterion_main};
use warden::store::SessionStore as _;
use warden::store::dynamo::DynamoStore;

/// A `BatchGetItem` answer with the user's generation record found and
/// neither the token nor the session denied.
const ANSWER: &str = r#"{"Responses":{"bench-revoked-tokens":[{"key":{"S":"user#01USER"},"generation":{"N":"3"},"username":{"S":"alice"},"expires_at":{"N":"1900000000"}}]},"UnprocessedKeys":{}}"#;

#[derive(Debug)]
struct Canned;

impl HttpConnector for Canned {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Ok(HttpResponse::new(
            200.try_into().unwrap(),
            SdkBody::from(ANSWER),
        )))
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDBENCH", "secret", None, None, "bench"))
        .http_client(http_client_fn(|_, _| SharedHttpConnector::new(Canned)))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), "bench-");
    let state = rt
        .block_on(store.revocation_state("01JTI", "01SESSION", "01USER"))
        .unwrap();
    assert!(state.user_exists && state.generation == 3, "{state:?}");

    c.bench_function(
        "revocation_state over the SDK (BatchGetItem, canned answer)",
        |b| {
            b.iter(|| {
                rt.block_on(store.revocation_state(black_box("01JTI"), "01SESSION", "01USER"))
                    .unwrap()
            });
        },
    );
}

criterion_group!(sdk, benches);
criterion_main!(sdk);
