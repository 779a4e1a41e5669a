//! Black-box tests of polling (API.md, runs and governed tool calls): the
//! local API (`warden serve`'s server) driven over HTTP, once on the
//! embedded store and once on DynamoDB tables in the emulator. Every `202`
//! says where to look (`Location`) and when (`Retry-After`); reading what
//! it points at spends an API key's read limit, never its run limit, so a
//! key allowed 5 runs an hour polls its job and its tool call as often as
//! it needs while its runs stay limited; past the read limit
//! (`WARDEN_API_KEY_READS_PER_HOUR`) a read is `429` with `Retry-After`.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use warden_cli::seed::Seed;
use warden_cli::serve::LocalApi;

/// The agent's run key: `agents:run`, 5 runs an hour.
const RUN_KEY: &str = "wdn_01JPOLLKEY0000000000000001_poll-run-secret_0123456789abcdefghijklmn";
/// The agent's tool key: `tools:call`, 5 calls an hour.
const TOOL_KEY: &str = "wdn_01JPOLLKEY0000000000000002_poll-tool-secret_0123456789abcdefghijklm";

/// The local API with workspace `acme`, a SUPERVISED accounting agent
/// `books` with the two keys above, and the tool `refund` (complexity 4:
/// proposed), with `vars` added to its environment.
async fn spawn_app(dynamodb: Option<(String, String)>, vars: &[(&str, &str)]) -> LocalApi {
    let mut env = vec![
        ("WARDEN_ENV", "development"),
        (
            "WARDEN_SIGNING_KEY_FILE",
            warden::testing::TEST_SIGNING_KEY_FILE,
        ),
        (
            "WARDEN_DECISION_KEY_FILE",
            warden::testing::TEST_DECISION_KEY_FILE,
        ),
    ];
    env.extend_from_slice(vars);
    let seed: Seed = serde_json::from_value(json!({
        "workspaces": [{"workspace_id": "acme", "name": "Acme Ltd"}],
        "agents": [{
            "agent_id": "books",
            "agent_type": "accounting",
            "maturity": "SUPERVISED",
            "workspaces": ["acme"]
        }],
        "tools": [{"name": "refund", "complexity": 4, "workspaces": ["acme"]}],
        "api_keys": [
            {"key": RUN_KEY, "owner": "books", "scopes": ["agents:run"], "rate_limit_per_hour": 5},
            {"key": TOOL_KEY, "owner": "books", "scopes": ["tools:call"], "rate_limit_per_hour": 5}
        ]
    }))
    .unwrap();
    let states = common::states(&env, Vec::new(), dynamodb.as_ref()).await;
    seed.apply(&states).await.unwrap();
    common::start(states).await
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, headers, body)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers[name].to_str().unwrap()
}

/// A run of `resolve_entities` (complexity 3: SUPERVISED runs it at once).
fn run(client: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    client
        .post(format!("{url}/agents/books/runs"))
        .header("x-api-key", RUN_KEY)
        .header("idempotency-key", ulid::Ulid::new().to_string())
        .json(&json!({
            "workspace_id": "acme",
            "action": "resolve_entities",
            "input": {"records": [{"id": "r1", "email": "ann@example.com"}]}
        }))
}

async fn polling_spends_the_read_limit_not_the_run_limit(api: LocalApi) {
    let client = reqwest::Client::new();
    let url = api.url();

    // A run: queued, look at its job in a second.
    let (status, headers, body) = send(run(&client, &url)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job_id = body["job_id"].as_str().unwrap();
    let job = header(&headers, "location").to_owned();
    assert_eq!(job, format!("/agents/runs/{job_id}"));
    assert_eq!(header(&headers, "retry-after"), "1");

    // A tool call that needs a person: look at the call in 30 s.
    let (status, headers, body) = send(
        client
            .post(format!("{url}/agents/books/tool-calls"))
            .header("x-api-key", TOOL_KEY)
            .json(
                &json!({"workspace_id": "acme", "tool": "refund", "arguments": {"order": "A-1"}}),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["decision"], "approval_required");
    let call_id = body["call_id"].as_str().unwrap();
    let call = header(&headers, "location").to_owned();
    assert_eq!(call, format!("/agents/tool-calls/{call_id}"));
    assert_eq!(header(&headers, "retry-after"), "30");

    // Each key polls its Location 55 times at once, well past its run
    // limit (5 an hour, a burst of 1): never 429.
    for poll in 0..55 {
        for (key, path) in [(RUN_KEY, &job), (TOOL_KEY, &call)] {
            let (status, _, body) =
                send(client.get(format!("{url}{path}")).header("x-api-key", key)).await;
            assert_eq!(status, StatusCode::OK, "poll {poll} of {path}: {body}");
        }
    }

    // The run limit still holds: the next run and the next tool call are
    // refused, with when to try again.
    let (status, headers, body) = send(run(&client, &url)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let wait: u64 = header(&headers, "retry-after").parse().unwrap();
    assert!((700..=720).contains(&wait), "{wait}");
    let (status, _, body) = send(
        client
            .post(format!("{url}/agents/books/tool-calls"))
            .header("x-api-key", TOOL_KEY)
            .json(
                &json!({"workspace_id": "acme", "tool": "refund", "arguments": {"order": "A-2"}}),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

async fn past_the_read_limit_a_read_is_429_and_runs_go_on(api: LocalApi) {
    let client = reqwest::Client::new();
    let url = api.url();
    let list = || {
        client
            .get(format!("{url}/agents/runs?workspace_id=acme"))
            .header("x-api-key", RUN_KEY)
    };
    // WARDEN_API_KEY_READS_PER_HOUR=60 (above the key's own 5): one read a
    // minute, a burst of one.
    let (status, _, body) = send(list()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, headers, body) = send(list()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let wait: u64 = header(&headers, "retry-after").parse().unwrap();
    assert!((55..=60).contains(&wait), "{wait}");
    // The run limit is another: the run goes through.
    let (status, headers, body) = send(run(&client, &url)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(header(&headers, "retry-after"), "1");
}

#[tokio::test]
async fn on_the_embedded_store_polling_spends_the_read_limit_not_the_run_limit() {
    polling_spends_the_read_limit_not_the_run_limit(spawn_app(None, &[]).await).await;
}

#[tokio::test]
async fn on_dynamodb_polling_spends_the_read_limit_not_the_run_limit() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    polling_spends_the_read_limit_not_the_run_limit(spawn_app(Some(tables), &[]).await).await;
}

#[tokio::test]
async fn on_the_embedded_store_past_the_read_limit_a_read_is_429_and_runs_go_on() {
    let app = spawn_app(None, &[("WARDEN_API_KEY_READS_PER_HOUR", "60")]).await;
    past_the_read_limit_a_read_is_429_and_runs_go_on(app).await;
}

#[tokio::test]
async fn on_dynamodb_past_the_read_limit_a_read_is_429_and_runs_go_on() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    let app = spawn_app(Some(tables), &[("WARDEN_API_KEY_READS_PER_HOUR", "60")]).await;
    past_the_read_limit_a_read_is_429_and_runs_go_on(app).await;
}
