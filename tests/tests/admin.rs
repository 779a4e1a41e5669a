//! Black-box: the admin endpoints (API.md "Admin endpoints") as `warden
//! serve` mounts them, driven over HTTP, on the embedded store and on
//! DynamoDB: `GET /agents`, the kill switch (`POST
//! /agents/{agent_id}/disable` and `/enable`, effective from the next
//! request and audited with the admin as actor), `GET /audit` a page at a
//! time, and `GET /security/health/uptime`; each `401` without a token and
//! `403` to anyone but an admin; and `warden serve` sends each path to the
//! function that serves it.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use warden::health::{Sample, Status};
use warden::store::HealthWrite;
use warden_cli::seed::Seed;
use warden_cli::serve::{Function, LocalApi, route};

const ADMIN_PASSWORD: &str = "admin-pass-Qw7Er2Ty9";
const USER_PASSWORD: &str = "user-pass-Zx4Cv8Bn1";

/// The local API as `warden serve --seed FILE` starts it: an admin, a
/// member of `acme`, and an AUTONOMOUS agent there.
async fn app(dynamodb: Option<(String, String)>) -> LocalApi {
    let env = [(
        "WARDEN_SIGNING_KEY_FILE",
        warden::testing::TEST_SIGNING_KEY_FILE,
    )];
    let seed: Seed = serde_json::from_value(json!({
        "users": [
            {"username": "root", "password": ADMIN_PASSWORD, "roles": ["admin"]},
            {"username": "ann", "password": USER_PASSWORD, "roles": ["user"]},
        ],
        "workspaces": [{"workspace_id": "acme", "name": "Acme", "members": ["ann"]}],
        "agents": [
            {"agent_id": "planner", "agent_type": "planning", "maturity": "AUTONOMOUS", "workspaces": ["acme"]},
        ],
    }))
    .unwrap();
    let states = common::states(&env, Vec::new(), dynamodb.as_ref()).await;
    seed.apply(&states).await.unwrap();
    common::start(states).await
}

struct Client {
    http: reqwest::Client,
    url: String,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Client {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None).await
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let body = json!({"username": username, "password": password});
        let reply = self
            .send(Method::POST, "/auth/login", None, Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    async fn run(&self, token: &str) -> StatusCode {
        let body = json!({"workspace_id": "acme", "action": "cash_runway", "input": {
            "cash_cents": 120_000_000, "as_of": "2026-03-31",
            "months": [{"month": "2026-02", "revenue_cents": 5_000_000, "expenses_cents": 9_000_000}]}});
        self.send(
            Method::POST,
            "/agents/planner/runs",
            Some(token),
            Some(body),
        )
        .await
        .status
    }
}

async fn the_admin_endpoints_over_http(api: LocalApi) {
    let client = Client {
        http: reqwest::Client::new(),
        url: api.url(),
    };
    let root = client.login("root", ADMIN_PASSWORD).await;
    let ann = client.login("ann", USER_PASSWORD).await;
    let root_id = client.get("/me", &root).await.body["user_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Samples 2 to 59 minutes ago, minute 30 failing: whichever minute the
    // request lands in, they are all in the last hour's bucket.
    let now = api.states.health.clock.now_millis();
    for k in 2..=59 {
        let status = if k == 30 { Status::Failing } else { Status::Ok };
        let sample = Sample {
            at_ms: now - k * 60_000,
            status,
            failing: Vec::new(),
        };
        let write = HealthWrite::Sample {
            sample,
            expires_at: now / 1000 + 86_400,
        };
        api.states
            .health
            .store
            .transact(vec![write.into()])
            .await
            .unwrap();
    }

    // Who may: an admin only, by bearer token.
    let paths = [
        (Method::GET, "/agents"),
        (Method::POST, "/agents/planner/disable"),
        (Method::POST, "/agents/planner/enable"),
        (Method::GET, "/audit"),
        (Method::GET, "/security/health/uptime"),
    ];
    for (method, path) in &paths {
        let anonymous = client.send(method.clone(), path, None, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            anonymous.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer resource_metadata="),
            "{path}"
        );
        assert_eq!(
            anonymous.headers["content-type"], "application/problem+json",
            "{path}"
        );
        let user = client.send(method.clone(), path, Some(&ann), None).await;
        assert_eq!(user.status, StatusCode::FORBIDDEN, "{path}: {}", user.body);
    }
    assert_eq!(client.run(&ann).await, StatusCode::ACCEPTED);

    // The registry.
    let agents = client.get("/agents", &root).await;
    assert_eq!(agents.status, StatusCode::OK, "{}", agents.body);
    assert_eq!(
        agents.body,
        json!({"agents": [{"agent_id": "planner", "agent_type": "planning",
            "maturity": "AUTONOMOUS", "enabled": true, "workspaces": ["acme"]}]})
    );

    // The kill switch, from the next request on.
    let reason = json!({"reason": "runaway forecasts"});
    let disabled = client
        .send(
            Method::POST,
            "/agents/planner/disable",
            Some(&root),
            Some(reason),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(disabled.body["enabled"], false);
    assert_eq!(client.run(&ann).await, StatusCode::FORBIDDEN);
    let enabled = client
        .send(Method::POST, "/agents/planner/enable", Some(&root), None)
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    assert_eq!(enabled.body["enabled"], true);
    assert_eq!(client.run(&ann).await, StatusCode::ACCEPTED);
    let unknown = client
        .send(Method::POST, "/agents/nobody/disable", Some(&root), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // A fixed route keeps its path: POST is not one of its methods.
    let fixed = client
        .send(Method::POST, "/agents/runs/disable", Some(&root), None)
        .await;
    assert_eq!(fixed.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(fixed.headers["allow"], "GET, OPTIONS");

    // The audit log: the admin's two switches, a page each, newest first.
    let first = client
        .get(
            &format!("/audit?actor={root_id}&type=agent_disabled"),
            &root,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let event = &first.body["events"][0];
    assert_eq!(event["subject"], "agent:planner");
    assert_eq!(event["details"]["reason"], "runaway forecasts");
    assert_eq!(event["origin"]["kind"], "http");
    // Paged one at a time, each event once (no duplicate, no gap), newest
    // first: by event id, a ULID. Two events of the same millisecond have
    // no order between them (the ids' random part decides), and the two
    // switches can fall in one: their types are compared as a set.
    let mut seen = BTreeSet::new();
    let mut page = client
        .get(&format!("/audit?actor={root_id}&limit=1"), &root)
        .await;
    let mut types = Vec::new();
    let mut ids = Vec::new();
    while types.len() < 2 {
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let events = page.body["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{}", page.body);
        let id = events[0]["event_id"].as_str().unwrap().to_owned();
        assert!(seen.insert(id.clone()));
        ids.push(id);
        types.push(events[0]["event_type"].as_str().unwrap().to_owned());
        let next = page.body["next"].as_str().unwrap().to_owned();
        page = client
            .get(
                &format!("/audit?actor={root_id}&limit=1&next={next}"),
                &root,
            )
            .await;
    }
    assert!(ids[0] > ids[1], "newest first: {ids:?}");
    types.sort();
    assert_eq!(types, ["AGENT_DISABLED", "AGENT_ENABLED"]);
    let bad = client.get("/audit?since=forever", &root).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.headers["content-type"], "application/problem+json");

    // Uptime: the last hour's bucket holds the samples.
    let chart = client
        .get("/security/health/uptime?window=24h", &root)
        .await;
    assert_eq!(chart.status, StatusCode::OK, "{}", chart.body);
    let buckets = chart.body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24);
    // 57 of 60 minutes up (95 %), 2 unknown (3.333 %).
    assert_eq!(buckets[23]["up_pct"], 95.0, "{}", chart.body);
    assert_eq!(buckets[23]["unknown_pct"], 3.333, "{}", chart.body);
    assert_eq!(buckets[0]["unknown_pct"], 100.0);
    for (window, n) in [("7d", 28), ("30d", 30)] {
        let chart = client
            .get(&format!("/security/health/uptime?window={window}"), &root)
            .await;
        assert_eq!(chart.body["window"], window);
        assert_eq!(chart.body["buckets"].as_array().unwrap().len(), n);
    }
    let bad = client.get("/security/health/uptime?window=1y", &root).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[test]
fn warden_serve_sends_each_admin_path_to_its_function() {
    for (path, function) in [
        ("/agents", Function::AgentRun),
        ("/agents/planner/disable", Function::AgentRun),
        ("/agents/planner/enable", Function::AgentRun),
        ("/agents/runs/disable", Function::AgentRun),
        ("/audit", Function::SecurityHealth),
        ("/security/health/uptime", Function::SecurityHealth),
    ] {
        assert_eq!(route(path), Some(function), "{path}");
    }
}

#[tokio::test]
async fn on_the_embedded_store_the_admin_endpoints_work_over_http() {
    the_admin_endpoints_over_http(app(None).await).await;
}

#[tokio::test]
async fn on_dynamodb_the_admin_endpoints_work_over_http() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    the_admin_endpoints_over_http(app(Some(tables)).await).await;
}
