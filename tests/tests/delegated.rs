//! Black-box tests of delegated agent tokens (API.md "Delegated agent
//! tokens: POST /auth/token (RFC 8693)", "People in workspaces", "Governed
//! tool calls"): the local API (`warden serve`'s server) driven over HTTP,
//! once on the embedded store and once on DynamoDB tables in the emulator.
//! An agent exchanges a person's access token and its own API key for a
//! delegated token, which calls tools for the person and is refused by
//! every other authenticated route; its user is a member only of the
//! workspaces stored for them; it dies at once with the person's
//! revoke-all; a person's own token is not the agent.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use warden::audit::EventType;
use warden_cli::seed::Seed;
use warden_cli::serve::{Function, LocalApi};

/// The key of `books` (AUTONOMOUS, in `acme` and `ops`), scope `tools:call`.
const BOOKS_KEY_ID: &str = "01JDELEGATEDKEY00000000001";
/// The key of `clerk` (SUPERVISED, in `acme`), scope `tools:call`.
const CLERK_KEY_ID: &str = "01JDELEGATEDKEY00000000002";
const SECRET: &str = "delegated-secret_0123456789-abcdefghijklmnopq";

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const API_KEY_TYPE: &str = "urn:warden:params:oauth:token-type:api_key";

/// The challenge of a delegated token on a route that does not take one.
const DELEGATED_REFUSED: &str = r#"Bearer error="insufficient_scope", scope="warden""#;

fn key(key_id: &str) -> String {
    format!("wdn_{key_id}_{SECRET}")
}

/// The local API with workspaces `acme` (members `alice` and `root`) and
/// `ops` (no members); `alice` a user, `root` an admin (so a member of
/// every workspace, but stored as a member of `acme` only); agents `books`
/// (AUTONOMOUS, allowed in `acme` and `ops`) and `clerk` (SUPERVISED, in
/// `acme`), each with a `tools:call` key; tools `lookup` (complexity 1, in
/// `acme` and `ops`: `books` runs it) and `refund` (complexity 4, in
/// `acme`: `clerk` proposes it).
async fn spawn_app(dynamodb: Option<(String, String)>) -> LocalApi {
    let env = [
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
    let seed: Seed = serde_json::from_value(json!({
        "users": [
            {"username": "alice", "password": "alice password"},
            {"username": "root", "password": "root password", "roles": ["admin"]}
        ],
        "workspaces": [
            {"workspace_id": "acme", "name": "Acme Ltd", "members": ["alice", "root"]},
            {"workspace_id": "ops", "name": "Operations"}
        ],
        "agents": [
            {"agent_id": "books", "agent_type": "accounting", "maturity": "AUTONOMOUS",
             "workspaces": ["acme", "ops"]},
            {"agent_id": "clerk", "agent_type": "accounting", "maturity": "SUPERVISED",
             "workspaces": ["acme"]}
        ],
        "tools": [
            {"name": "lookup", "complexity": 1, "workspaces": ["acme", "ops"]},
            {"name": "refund", "complexity": 4, "workspaces": ["acme"]}
        ],
        "api_keys": [
            {"key": key(BOOKS_KEY_ID), "owner": "books", "scopes": ["tools:call"]},
            {"key": key(CLERK_KEY_ID), "owner": "clerk", "scopes": ["tools:call"]}
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
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, headers, body)
}

/// The `WWW-Authenticate` header, or `""`.
fn challenge(headers: &HeaderMap) -> &str {
    headers
        .get("www-authenticate")
        .map_or("", |v| v.to_str().unwrap())
}

/// A JWS's claims, unverified (the server verifies; the test reads).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A person's access token, by `POST /auth/login`.
async fn login(client: &reqwest::Client, url: &str, username: &str, password: &str) -> String {
    let (status, _, body) = send(
        client
            .post(format!("{url}/auth/login"))
            .json(&json!({"username": username, "password": password})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "login {username}: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// `POST /auth/token`: `subject` (a person's access token) exchanged with
/// the agent's key `actor`.
async fn exchange(
    client: &reqwest::Client,
    url: &str,
    subject: &str,
    actor: &str,
) -> (StatusCode, Value) {
    let (status, _, body) = send(client.post(format!("{url}/auth/token")).form(&[
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("actor_token", actor),
        ("actor_token_type", API_KEY_TYPE),
    ]))
    .await;
    (status, body)
}

/// A delegated token of `books` for the person whose token is `subject`.
async fn delegated(client: &reqwest::Client, url: &str, subject: &str) -> String {
    let (status, body) = exchange(client, url, subject, &key(BOOKS_KEY_ID)).await;
    assert_eq!(status, StatusCode::OK, "exchange: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// `POST /agents/{agent}/tool-calls` with `Authorization: Bearer token`.
async fn tool_call(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    agent: &str,
    workspace: &str,
    tool: &str,
    arguments: Value,
) -> (StatusCode, HeaderMap, Value) {
    send(
        client
            .post(format!("{url}/agents/{agent}/tool-calls"))
            .header("authorization", format!("Bearer {token}"))
            .json(&json!({"workspace_id": workspace, "tool": tool, "arguments": arguments})),
    )
    .await
}

/// `GET /me`'s `user_id` for a person's own token.
async fn user_id(client: &reqwest::Client, url: &str, token: &str) -> String {
    let (status, _, me) = send(
        client
            .get(format!("{url}/me"))
            .header("authorization", format!("Bearer {token}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me["user_id"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------
// 1. The loop over HTTP.

async fn the_agent_calls_a_tool_for_a_person(api: LocalApi) {
    let client = reqwest::Client::new();
    let url = api.url();
    let own = login(&client, &url, "alice", "alice password").await;
    let alice = user_id(&client, &url, &own).await;

    // The exchange answers as RFC 8693 says.
    let (status, issued) = exchange(&client, &url, &own, &key(BOOKS_KEY_ID)).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["scope"], "tools:call");
    let expires_in = issued["expires_in"].as_i64().unwrap();
    assert!((1..=900).contains(&expires_in), "{issued}");
    let token = issued["access_token"].as_str().unwrap().to_owned();
    let delegated_claims = claims(&token);
    assert_eq!(delegated_claims["sub"], alice.as_str());
    assert_eq!(delegated_claims["act"]["sub"], "agent:books");
    assert_eq!(delegated_claims["act"]["key_id"], BOOKS_KEY_ID);
    assert_eq!(delegated_claims["client_id"], "agent:books");
    assert_eq!(delegated_claims["roles"], json!([]));
    assert!(
        delegated_claims["exp"].as_i64().unwrap() <= claims(&own)["exp"].as_i64().unwrap(),
        "{delegated_claims}"
    );

    // The call: allowed, the decision token naming the person and the agent.
    let arguments = json!({"invoice": "INV-42"});
    let (status, _, allowed) = tool_call(
        &client,
        &url,
        &token,
        "books",
        "acme",
        "lookup",
        arguments.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{allowed}");
    assert_eq!(allowed["decision"], "allow");
    let call_id = allowed["call_id"].as_str().unwrap().to_owned();
    let sha = warden::agents::jcs::sha256_hex(r#"{"invoice":"INV-42"}"#);
    assert_eq!(allowed["arguments_sha256"], sha.as_str());
    let decision = claims(allowed["decision_token"].as_str().unwrap());
    assert_eq!(decision["sub"], format!("user:{alice}"));
    assert_eq!(decision["act"]["sub"], "agent:books");
    assert_eq!(decision["jti"], call_id.as_str());
    assert_eq!(decision["aud"], "tool:lookup");
    assert_eq!(decision["workspace_id"], "acme");

    // The token is its own agent's only.
    let (status, _, other) =
        tool_call(&client, &url, &token, "clerk", "acme", "lookup", arguments).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{other}");

    // The call it made, read with it.
    let (status, _, shown) = send(
        client
            .get(format!("{url}/agents/tool-calls/{call_id}"))
            .header("authorization", format!("Bearer {token}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["call_id"], call_id.as_str());
    assert_eq!(shown["agent_id"], "books");
    assert_eq!(shown["workspace_id"], "acme");
    assert_eq!(shown["tool"], "lookup");
    assert_eq!(shown["status"], "ALLOWED");
    // A call it did not make (the same agent's, by its key) is not shown.
    let (status, _, by_key) = send(
        client
            .post(format!("{url}/agents/books/tool-calls"))
            .header("x-api-key", key(BOOKS_KEY_ID))
            .json(&json!({"workspace_id": "acme", "tool": "lookup", "arguments": {"n": 2}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{by_key}");
    let (status, _, hidden) = send(
        client
            .get(format!(
                "{url}/agents/tool-calls/{}",
                by_key["call_id"].as_str().unwrap()
            ))
            .header("authorization", format!("Bearer {token}")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{hidden}");

    // Its outcome, reported with it, once.
    let outcome = format!("{url}/agents/tool-calls/{call_id}/outcome");
    let report = json!({"status": "succeeded", "detail": "found"});
    let (status, _, body) = send(
        client
            .post(&outcome)
            .header("authorization", format!("Bearer {token}"))
            .json(&report),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = send(
        client
            .post(&outcome)
            .header("authorization", format!("Bearer {token}"))
            .json(&report),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, _, shown) = send(
        client
            .get(format!("{url}/agents/tool-calls/{call_id}"))
            .header("authorization", format!("Bearer {token}")),
    )
    .await;
    assert_eq!(shown["outcome"]["status"], "succeeded", "{shown}");

    // Audited as the person, with the agent acting for them and its key.
    // No HTTP route reads the audit log in the local API: read through the
    // store it serves from.
    let actor = format!("user:{alice}");
    let events = api
        .states
        .agents
        .registry
        .store
        .audit_by_actor(&actor, 50)
        .await
        .unwrap();
    let event = events
        .iter()
        .find(|e| e.event_type == EventType::ToolCallAllowed)
        .unwrap_or_else(|| panic!("no TOOL_CALL_ALLOWED by {actor}: {events:?}"));
    assert_eq!(event.actor, actor);
    assert_eq!(event.subject.as_deref(), Some("agent:books"));
    assert_eq!(event.details["caller"], actor.as_str());
    assert_eq!(event.details["act"], "agent:books");
    assert_eq!(event.details["key_id"], BOOKS_KEY_ID);
    assert_eq!(event.details["workspace_id"], "acme");
    assert_eq!(event.details["tool"], "lookup");
    assert_eq!(event.details["arguments_sha256"], sha.as_str());
}

#[tokio::test]
async fn on_the_embedded_store_the_agent_calls_a_tool_for_a_person() {
    the_agent_calls_a_tool_for_a_person(spawn_app(None).await).await;
}

#[tokio::test]
async fn on_dynamodb_the_agent_calls_a_tool_for_a_person() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    the_agent_calls_a_tool_for_a_person(spawn_app(Some(tables)).await).await;
}

// ---------------------------------------------------------------------------
// 2. Every other authenticated route refuses it.

/// Routes no bearer token is asked for: login, refresh, the token endpoint
/// itself, discovery, the key sets, liveness, the console's page and
/// assets (static: the page calls the API itself). (Webhooks are left out whole:
/// they are signed, not bearer-authenticated.)
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/auth/login" | "/auth/refresh" | "/auth/token" | "/tools/jwks.json" | "/health"
    ) || path.starts_with("/.well-known/")
        || path.starts_with("/console")
}

/// The routes a delegated token is taken by.
fn takes_delegated(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        ("POST", "/agents/{agent_id}/tool-calls")
            | ("GET", "/agents/tool-calls/{call_id}")
            | ("POST", "/agents/tool-calls/{call_id}/outcome")
    )
}

/// Every route that takes a bearer token and refuses a delegated one, as
/// the function crates export them (the same tables `warden serve` and
/// `template.yaml` route by).
fn refusing_routes() -> Vec<(&'static str, &'static str)> {
    Function::ALL
        .iter()
        .filter(|(function, _)| *function != Function::WebhookReceive)
        .flat_map(|(function, _)| function.routes())
        .filter(|(method, path)| !is_public(path) && !takes_delegated(method, path))
        .collect()
}

async fn every_other_route_refuses_an_admins_delegated_token(api: LocalApi) {
    let client = reqwest::Client::new();
    let url = api.url();
    let own = login(&client, &url, "root", "root password").await;
    let token = delegated(&client, &url, &own).await;
    let sid = claims(&token)["sid"].as_str().unwrap().to_owned();

    // A real pending proposal, so that approve and reject have one to try.
    let (status, _, proposed) = send(
        client
            .post(format!("{url}/agents/clerk/tool-calls"))
            .header("x-api-key", key(CLERK_KEY_ID))
            .json(
                &json!({"workspace_id": "acme", "tool": "refund", "arguments": {"order": "A-1"}}),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{proposed}");
    let proposal_id = proposed["proposal_id"].as_str().unwrap().to_owned();
    // And a run-like id nothing has.
    let ulid = ulid::Ulid::new().to_string();

    let routes = refusing_routes();
    assert!(routes.len() >= 12, "{routes:?}");
    for named in [
        ("GET", "/agents/tool-calls"),
        ("POST", "/agents/proposals/{proposal_id}/approve"),
        ("POST", "/agents/proposals/{proposal_id}/reject"),
        ("GET", "/agents/proposals"),
        ("POST", "/agents/{agent_id}/runs"),
        ("GET", "/agents/runs"),
        ("POST", "/auth/introspect"),
        ("POST", "/auth/revoke"),
        ("POST", "/auth/revoke-all"),
        ("GET", "/auth/sessions"),
        ("DELETE", "/auth/sessions/{sid}"),
        ("GET", "/me"),
        ("GET", "/security/health"),
    ] {
        assert!(routes.contains(&named), "{named:?} not in {routes:?}");
    }

    for (method, template) in routes {
        let mut path = template
            .replace("{agent_id}", "books")
            .replace("{proposal_id}", &proposal_id)
            .replace("{sid}", &sid)
            .replace("{job_id}", &ulid)
            .replace("{call_id}", &ulid);
        assert!(!path.contains('{'), "a parameter left in {path}");
        match template {
            "/agents/tool-calls" | "/agents/runs" | "/agents/proposals" => {
                path.push_str("?workspace_id=acme");
            }
            "/security/health/uptime" => path.push_str("?window=24h"),
            _ => {}
        }
        let method_ = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = client
            .request(method_, format!("{url}{path}"))
            .header("authorization", format!("Bearer {token}"));
        request = match (method, template) {
            (_, "/auth/introspect") => request.form(&[("token", token.as_str())]),
            (_, "/auth/revoke") => request.json(&json!({"token": token})),
            (_, "/auth/revoke-all") => request.json(&json!({})),
            (_, "/agents/{agent_id}/runs") => request
                .json(&json!({"workspace_id": "acme", "action": "resolve_entities", "input": {}})),
            (_, "/agents/proposals/{proposal_id}/reject") => request.json(&json!({"reason": "no"})),
            ("POST", _) => request.json(&json!({})),
            _ => request,
        };
        let (status, headers, body) = send(request).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {headers:?} {body}"
        );
        assert_eq!(
            challenge(&headers),
            DELEGATED_REFUSED,
            "{method} {path}: {body}"
        );
    }

    // Nothing it was refused happened: the proposal is still pending, and
    // the token (not revoked by itself) still calls its tool.
    let (status, _, listed) = send(
        client
            .get(format!("{url}/agents/proposals?workspace_id=acme"))
            .header("authorization", format!("Bearer {own}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let item = listed["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["proposal_id"] == proposal_id.as_str())
        .unwrap_or_else(|| panic!("{proposal_id} not listed: {listed}"))
        .clone();
    assert_eq!(item["status"], "PENDING", "{item}");
    let (status, _, allowed) = tool_call(
        &client,
        &url,
        &token,
        "books",
        "acme",
        "lookup",
        json!({"id": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{allowed}");
}

#[tokio::test]
async fn on_the_embedded_store_every_other_route_refuses_an_admins_delegated_token() {
    every_other_route_refuses_an_admins_delegated_token(spawn_app(None).await).await;
}

#[tokio::test]
async fn on_dynamodb_every_other_route_refuses_an_admins_delegated_token() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    every_other_route_refuses_an_admins_delegated_token(spawn_app(Some(tables)).await).await;
}

// ---------------------------------------------------------------------------
// 3. An admin's delegated token is a member of the stored workspaces only.

async fn an_admins_delegated_token_is_no_member_of_other_workspaces(api: LocalApi) {
    let client = reqwest::Client::new();
    let url = api.url();
    let own = login(&client, &url, "root", "root password").await;
    let token = delegated(&client, &url, &own).await;
    let arguments = json!({"host": "db-1"});

    // The agent is allowed in `ops`: its own key calls there.
    let (status, _, by_key) = send(
        client
            .post(format!("{url}/agents/books/tool-calls"))
            .header("x-api-key", key(BOOKS_KEY_ID))
            .json(&json!({"workspace_id": "ops", "tool": "lookup", "arguments": arguments})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{by_key}");

    // For the admin, who was never added to `ops`: exactly an unknown one.
    let (status, _, refused) = tool_call(
        &client,
        &url,
        &token,
        "books",
        "ops",
        "lookup",
        arguments.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    let (status, _, unknown) = tool_call(
        &client,
        &url,
        &token,
        "books",
        "nowhere",
        "lookup",
        arguments.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    assert_eq!(refused["title"], unknown["title"], "{refused} {unknown}");
    assert!(refused.get("reason").is_none(), "{refused}");

    // In `acme`, of which the admin is a member: decided.
    let (status, _, decided) =
        tool_call(&client, &url, &token, "books", "acme", "lookup", arguments).await;
    assert!(
        status == StatusCode::OK || status == StatusCode::ACCEPTED,
        "{status}: {decided}"
    );
    assert!(decided["call_id"].is_string(), "{decided}");
}

#[tokio::test]
async fn on_the_embedded_store_an_admins_delegated_token_is_no_member_of_other_workspaces() {
    an_admins_delegated_token_is_no_member_of_other_workspaces(spawn_app(None).await).await;
}

#[tokio::test]
async fn on_dynamodb_an_admins_delegated_token_is_no_member_of_other_workspaces() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    an_admins_delegated_token_is_no_member_of_other_workspaces(spawn_app(Some(tables)).await).await;
}

// ---------------------------------------------------------------------------
// 4. The person's revoke-all ends it at once.

async fn revoke_all_ends_the_delegated_token_at_once(api: LocalApi) {
    let client = reqwest::Client::new();
    let url = api.url();
    let own = login(&client, &url, "alice", "alice password").await;
    let token = delegated(&client, &url, &own).await;
    let arguments = json!({"invoice": "INV-7"});
    let (status, _, allowed) = tool_call(
        &client,
        &url,
        &token,
        "books",
        "acme",
        "lookup",
        arguments.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{allowed}");

    let (status, _, revoked) = send(
        client
            .post(format!("{url}/auth/revoke-all"))
            .header("authorization", format!("Bearer {own}"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");

    // The very next call is refused as a revoked token.
    let (status, headers, refused) = tool_call(
        &client,
        &url,
        &token,
        "books",
        "acme",
        "lookup",
        arguments.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    assert!(
        challenge(&headers).contains(r#"error="invalid_token""#),
        "{headers:?}"
    );
    // Nor can the revoked person's token be exchanged again.
    let (status, body) = exchange(&client, &url, &own, &key(BOOKS_KEY_ID)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");

    // A fresh login and a fresh exchange work again.
    let own = login(&client, &url, "alice", "alice password").await;
    let token = delegated(&client, &url, &own).await;
    let (status, _, allowed) =
        tool_call(&client, &url, &token, "books", "acme", "lookup", arguments).await;
    assert_eq!(status, StatusCode::OK, "{allowed}");
}

#[tokio::test]
async fn on_the_embedded_store_revoke_all_ends_the_delegated_token_at_once() {
    revoke_all_ends_the_delegated_token_at_once(spawn_app(None).await).await;
}

#[tokio::test]
async fn on_dynamodb_revoke_all_ends_the_delegated_token_at_once() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    revoke_all_ends_the_delegated_token_at_once(spawn_app(Some(tables)).await).await;
}

// ---------------------------------------------------------------------------
// 5. A person is not the agent.

async fn a_persons_own_token_is_not_the_agent(api: LocalApi) {
    let client = reqwest::Client::new();
    let url = api.url();
    for (username, password) in [("alice", "alice password"), ("root", "root password")] {
        let own = login(&client, &url, username, password).await;
        let (status, _, refused) = tool_call(
            &client,
            &url,
            &own,
            "books",
            "acme",
            "lookup",
            json!({"id": 1}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{username}: {refused}");
        assert!(refused.get("call_id").is_none(), "{username}: {refused}");
    }
}

#[tokio::test]
async fn on_the_embedded_store_a_persons_own_token_is_not_the_agent() {
    a_persons_own_token_is_not_the_agent(spawn_app(None).await).await;
}

#[tokio::test]
async fn on_dynamodb_a_persons_own_token_is_not_the_agent() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    a_persons_own_token_is_not_the_agent(spawn_app(Some(tables)).await).await;
}
