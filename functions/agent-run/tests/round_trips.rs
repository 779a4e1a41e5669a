//! The design's round-trip budgets of agent-run, counted on the wire: every
//! DynamoDB request the handler sends (retries included), and the messages
//! the jobs queue (SQS in AWS, a memory queue here) was sent.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Body;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use warden::agents::registry::register_agent;
use warden::auth::api_keys::{KeySpec, create_key};
use warden::auth::login::{self, LoginRequest, create_user};
use warden::domain::agents::{AgentId, AgentType, Maturity};
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::testing::{self, AgentWorld, api_request, json_body};

fn origin() -> warden::audit::Origin {
    RequestContext::for_tests("127.0.0.1").origin()
}

async fn agent(world: &AgentWorld, id: &str, maturity: Maturity) {
    let agent = testing::new_agent(id, AgentType::Accounting, maturity, "acme");
    register_agent(&world.agents, origin(), agent)
        .await
        .unwrap();
}

async fn bearer(world: &AgentWorld, name: &str, roles: &[Role], ip: &str) -> String {
    let password = format!("{name} password");
    create_user(
        &world.auth,
        origin(),
        &Username::parse(name).unwrap(),
        &SecretString::from(password.clone()),
        roles,
    )
    .await
    .unwrap();
    let request = LoginRequest {
        username: name.into(),
        password: SecretString::from(password),
    };
    let pair = login::login(&world.auth, &RequestContext::for_tests(ip), request)
        .await
        .unwrap();
    format!("Bearer {}", pair.access_token)
}

/// `method path` with `headers` (a credential, and any other) and `body`
/// as JSON: the status and body of the answer.
async fn call(
    world: &AgentWorld,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let body = body.map_or(Body::Empty, |b| Body::from(b.to_string()));
    let req = api_request(method, path, &all, body, "192.0.2.10");
    let response = warden_agent_run::handler(&world.agents, req).await.unwrap();
    (response.status(), json_body(&response))
}

/// A run of [`run_body`] by `agent`, with `headers`.
async fn run(world: &AgentWorld, agent: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let path = format!("/agents/{agent}/runs");
    call(world, "POST", &path, headers, Some(run_body())).await
}

fn run_body() -> Value {
    json!({
        "workspace_id": "acme",
        "action": "resolve_entities",
        "input": {"records": [{"id": "r1", "email": "ann@example.com"}]}
    })
}

/// An accepted run by bearer token: the denylist read, one read of the
/// agent, workspace and idempotency record, one transaction; then one
/// message to the jobs queue. By API key: the key's read and its one
/// conditional write (rate limit and usage together) instead of the
/// denylist read. An approval: the denylist read, the proposal, one
/// transaction; then the job is queued.
#[tokio::test]
async fn on_dynamodb_runs_by_token_and_by_key_and_approvals_cost_what_the_design_says() {
    let Some((store, _, log)) = testing::dynamo_store_with_log().await else {
        return;
    };
    let world = AgentWorld::over(Arc::new(store));
    testing::add_workspace(&world.agents, origin(), "acme", "Acme").await;
    agent(&world, "books", Maturity::Supervised).await;
    agent(&world, "trainee", Maturity::Intern).await;
    let alice = bearer(&world, "alice", &[Role::User], "192.0.2.1").await;
    let bob = bearer(&world, "bob", &[Role::Approver], "192.0.2.2").await;
    let key = create_key(
        &world.agents,
        &world.agents.pepper,
        origin(),
        KeySpec {
            owner: warden::domain::agents::KeyOwner::Agent(AgentId::parse("books").unwrap()),
            scopes: vec!["agents:run".into()],
            expires_at: None,
            rate_limit_per_hour: None,
            created_by: None,
        },
    )
    .await
    .unwrap();
    let key = key.key.expose_secret().to_owned();
    // Membership is on the user# record the bearer check reads anyway.
    for name in ["alice", "bob"] {
        warden::agents::registry::set_membership(
            &world.agents,
            &*world.auth.store,
            origin(),
            &warden::domain::agents::WorkspaceId::parse("acme").unwrap(),
            &warden::domain::Username::parse(name).unwrap(),
            true,
        )
        .await
        .unwrap();
    }
    log.take();

    // By bearer token, with an Idempotency-Key (read in the same batch);
    // a second one by the same token.
    for idempotency in [Some("k-0"), Some("k-1")] {
        let sent = world.jobs.messages().len();
        let mut headers = vec![("authorization", alice.as_str())];
        if let Some(k) = idempotency {
            headers.push(("idempotency-key", k));
        }
        let (status, body) = run(&world, "books", &headers).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        // The person's run limit: its state read in the run context's
        // batch, then one conditional UpdateItem.
        assert_eq!(
            log.take(),
            [
                "BatchGetItem",
                "BatchGetItem",
                "UpdateItem",
                "TransactWriteItems"
            ],
            "a run by bearer token, idempotency key {idempotency:?}"
        );
        assert_eq!(world.jobs.messages().len(), sent + 1);
    }

    // By API key.
    let sent = world.jobs.messages().len();
    let (status, body) = run(
        &world,
        "books",
        &[("x-api-key", &key), ("idempotency-key", "k-2")],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        log.take(),
        [
            "GetItem",
            "UpdateItem",
            "BatchGetItem",
            "TransactWriteItems",
        ],
        "a run by API key (usage counted in the rate-limit write)"
    );
    assert_eq!(world.jobs.messages().len(), sent + 1);

    // Reading that job back by key: the job and the key's agent (for its
    // workspaces) in one BatchGetItem.
    let job_id = body["job_id"].as_str().unwrap().to_owned();
    let path = format!("/agents/runs/{job_id}");
    let (status, body) = call(&world, "GET", &path, &[("x-api-key", &key)], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        log.take(),
        ["GetItem", "UpdateItem", "BatchGetItem"],
        "a job read by API key"
    );

    // A proposal, then its approval by someone else.
    let (status, body) = run(
        &world,
        "trainee",
        &[("authorization", &alice), ("idempotency-key", "k-3")],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "AWAITING_APPROVAL");
    assert_eq!(
        log.take(),
        [
            "BatchGetItem",
            "BatchGetItem",
            "UpdateItem",
            "TransactWriteItems"
        ],
        "a proposed run"
    );
    let sent = world.jobs.messages().len();
    let proposal = body["proposal_id"].as_str().unwrap();
    let approve = format!("/agents/proposals/{proposal}/approve");
    let (status, body) = call(&world, "POST", &approve, &[("authorization", &bob)], None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        log.take(),
        ["BatchGetItem", "GetItem", "TransactWriteItems"],
        "an approval"
    );
    assert_eq!(
        world.jobs.messages().len(),
        sent + 1,
        "the approved job is queued"
    );

    // A refused key: its read and the audit record of the refusal; no
    // usage write.
    let wrong = format!("{key}x");
    let (status, _) = run(&world, "books", &[("x-api-key", &wrong)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        log.take(),
        ["GetItem", "TransactWriteItems"],
        "a refused key"
    );
}

/// A tool call's decision, counted on the wire (API.md "Governed tool
/// calls"; the issue's budget: at most three DynamoDB round trips on the
/// allow path). Everything the decision reads, the API key included, is
/// one BatchGetItem; the key's counted use one UpdateItem; the decision
/// and its audit event one TransactWriteItems. So are a proposal opened and
/// an approval used. The decision token's signature is KMS's, not
/// DynamoDB's.
#[tokio::test]
async fn on_dynamodb_a_tool_call_decision_costs_at_most_three_round_trips() {
    let Some((store, _, log)) = testing::dynamo_store_with_log().await else {
        return;
    };
    let world = AgentWorld::over(Arc::new(store));
    testing::add_workspace(&world.agents, origin(), "acme", "Acme").await;
    agent(&world, "books", Maturity::Supervised).await;
    for (name, complexity) in [
        ("read_ledger", warden::domain::agents::Complexity::Analysis),
        ("refund", warden::domain::agents::Complexity::ExternalEffect),
    ] {
        warden::agents::registry::register_tool(
            &world.agents,
            origin(),
            warden::agents::registry::NewTool {
                name: warden::domain::tools::ToolName::parse(name).unwrap(),
                complexity,
                workspaces: vec![warden::domain::agents::WorkspaceId::parse("acme").unwrap()],
            },
        )
        .await
        .unwrap();
    }
    let bob = bearer(&world, "bob", &[Role::Approver, Role::Admin], "192.0.2.2").await;
    let key = create_key(
        &world.agents,
        &world.agents.pepper,
        origin(),
        KeySpec {
            owner: warden::domain::agents::KeyOwner::Agent(AgentId::parse("books").unwrap()),
            scopes: vec!["tools:call".into()],
            expires_at: None,
            rate_limit_per_hour: None,
            created_by: None,
        },
    )
    .await
    .unwrap();
    let key = key.key.expose_secret().to_owned();
    let tool_call = |tool: &'static str| json!({"workspace_id": "acme", "tool": tool, "arguments": {"amount": 19.99, "to": "ann"}});
    log.take();

    // Allowed by the table (SUPERVISED x 1), with an Idempotency-Key (read
    // in the same batch).
    let (status, body) = call(
        &world,
        "POST",
        "/agents/books/tool-calls",
        &[("x-api-key", &key), ("idempotency-key", "t-1")],
        Some(tool_call("read_ledger")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], "allow");
    assert_eq!(
        log.take(),
        ["BatchGetItem", "UpdateItem", "TransactWriteItems"],
        "an allowed tool call"
    );

    // A proposal (SUPERVISED x 4).
    let (status, body) = call(
        &world,
        "POST",
        "/agents/books/tool-calls",
        &[("x-api-key", &key)],
        Some(tool_call("refund")),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        log.take(),
        ["BatchGetItem", "UpdateItem", "TransactWriteItems"],
        "a tool call that opens a proposal"
    );
    let proposal = body["proposal_id"].as_str().unwrap().to_owned();
    let approve = format!("/agents/proposals/{proposal}/approve");
    let (status, body) = call(&world, "POST", &approve, &[("authorization", &bob)], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    log.take();

    // The approval used by the identical call: still three.
    let (status, body) = call(
        &world,
        "POST",
        "/agents/books/tool-calls",
        &[("x-api-key", &key)],
        Some(tool_call("refund")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["proposal_id"], proposal.as_str());
    assert_eq!(
        log.take(),
        ["BatchGetItem", "UpdateItem", "TransactWriteItems"],
        "a tool call that uses its approval"
    );
}

/// A tool call with a delegated token (RFC 8693), counted on the wire: the
/// token's standing (its own and its parent's `jti`, its session, its
/// user, the actor key, the agent) and the user's run limit are read in
/// the decision's one BatchGetItem; the run limit spent is one UpdateItem;
/// the decision and its audit event one TransactWriteItems. Three, as with
/// a key.
#[tokio::test]
async fn on_dynamodb_a_delegated_tool_call_costs_three_round_trips_too() {
    let Some((store, _, log)) = testing::dynamo_store_with_log().await else {
        return;
    };
    let store = Arc::new(store);
    let world = AgentWorld::over(store.clone());
    let keys = testing::token_endpoint_state(store, world.clock.clone());
    testing::add_workspace(&world.agents, origin(), "acme", "Acme").await;
    warden::agents::registry::register_tool(
        &world.agents,
        origin(),
        warden::agents::registry::NewTool {
            name: warden::domain::tools::ToolName::parse("read_ledger").unwrap(),
            complexity: warden::domain::agents::Complexity::Analysis,
            workspaces: vec![warden::domain::agents::WorkspaceId::parse("acme").unwrap()],
        },
    )
    .await
    .unwrap();
    let carol = bearer(&world, "carol", &[Role::User], "192.0.2.3").await;
    let carol = carol.strip_prefix("Bearer ").unwrap().to_owned();
    let carol_id = world
        .agents
        .bearer()
        .token(&carol)
        .await
        .unwrap()
        .sub
        .clone();
    warden::agents::registry::set_membership(
        &world.agents,
        &*world.auth.store,
        origin(),
        &warden::domain::agents::WorkspaceId::parse("acme").unwrap(),
        &Username::parse("carol").unwrap(),
        true,
    )
    .await
    .unwrap();
    let (delegated, _) = testing::delegate(&keys, "helper", &["acme"], &carol_id, &carol).await;
    let authorization = format!("Bearer {delegated}");
    log.take();

    let (status, body) = call(
        &world,
        "POST",
        "/agents/helper/tool-calls",
        &[("authorization", &authorization)],
        Some(json!({"workspace_id": "acme", "tool": "read_ledger", "arguments": {"q": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], "allow");
    assert_eq!(
        log.take(),
        ["BatchGetItem", "UpdateItem", "TransactWriteItems"],
        "a delegated tool call"
    );
}
