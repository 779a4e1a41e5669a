//! Black-box: a `warden serve --seed` file's `workspaces`, `agents` and
//! `api_keys` sections, applied as `warden serve` applies them, make a key
//! that runs its agent over HTTP; the in-process worker takes the job to
//! `SUCCESS`. On the embedded store and on DynamoDB in the emulator.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use warden_cli::seed::Seed;
use warden_cli::serve::LocalApi;

const KEY_ID: &str = "01JSEEDKEY0000000000000000";
const SECRET: &str = "seeded-secret_0123456789-abcdefghijklmnopqrstu";

/// The local API after applying the seed, on the embedded store or on
/// DynamoDB tables (`endpoint`, `prefix`).
async fn seeded_app(dynamodb: Option<(String, String)>) -> LocalApi {
    let env = [
        ("WARDEN_ENV", "development"),
        (
            "WARDEN_SIGNING_KEY_FILE",
            warden::testing::TEST_SIGNING_KEY_FILE,
        ),
    ];
    let seed: Seed = serde_json::from_value(json!({
        "users": [],
        "workspaces": [{"workspace_id": "acme", "name": "Acme Ltd"}],
        "agents": [{
            "agent_id": "books",
            "agent_type": "accounting",
            "maturity": "SUPERVISED",
            "workspaces": ["acme"]
        }],
        "api_keys": [{
            "key": format!("wdn_{KEY_ID}_{SECRET}"),
            "owner": "books",
            "scopes": ["agents:run"],
            "expires_at": "2099-01-01T00:00:00Z",
            "rate_limit_per_hour": 600
        }]
    }))
    .unwrap();
    let states = common::states(&env, Vec::new(), dynamodb.as_ref()).await;
    seed.apply(&states).await.unwrap();
    // Seeding again (a restart on the same tables) leaves everything as it is.
    if dynamodb.is_some() {
        seed.apply(&states).await.unwrap();
    }
    common::start(states).await
}

async fn a_seeded_key_runs_its_agent_to_success(api: LocalApi) {
    let client = reqwest::Client::new();
    let key = format!("wdn_{KEY_ID}_{SECRET}");
    let response = client
        .post(format!("{}/agents/books/runs", api.url()))
        .header("x-api-key", &key)
        .header("idempotency-key", "seeded-run-1")
        .json(&json!({
            "workspace_id": "acme",
            "action": "resolve_entities",
            "input": {"records": [
                {"id": "r1", "email": "Ann@Example.com"},
                {"id": "r2", "email": "ann@example.com"}
            ]}
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job_id = body["job_id"].as_str().unwrap().to_owned();

    // Another secret under the same id is not the seeded key.
    let response = client
        .get(format!("{}/agents/runs/{job_id}", api.url()))
        .header("x-api-key", format!("wdn_{KEY_ID}_not-the-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let mut job = Value::Null;
    for _ in 0..100 {
        let response = client
            .get(format!("{}/agents/runs/{job_id}", api.url()))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        job = response.json().await.unwrap();
        if job["status"] == "SUCCESS" || job["status"] == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "SUCCESS", "{job}");
    assert_eq!(job["result"]["entity_count"], 1, "{job}");

    let keys = api.states.agents.store.list_api_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id, KEY_ID);
    assert_eq!(keys[0].rate_limit_per_hour, 600);
    assert_eq!(keys[0].expires_at, Some(4_070_908_800));
    assert!(keys[0].usage_count >= 2, "{:?}", keys[0].usage_count);
}

#[tokio::test]
async fn on_the_embedded_store_a_seeded_key_runs_its_agent_to_success() {
    a_seeded_key_runs_its_agent_to_success(seeded_app(None).await).await;
}

#[tokio::test]
async fn on_dynamodb_a_seeded_key_runs_its_agent_to_success() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    a_seeded_key_runs_its_agent_to_success(seeded_app(Some(tables)).await).await;
}
