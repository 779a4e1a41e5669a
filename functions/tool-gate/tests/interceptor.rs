//! The AgentCore Gateway interceptor (`tool-gate`) on AWS's documented
//! REQUEST interceptor events (`tests/events`), on the memory store and on
//! DynamoDB (moto): other methods pass unchanged; a `tools/call` with a
//! Warden delegated token is decided exactly as `POST
//! /agents/{agent_id}/tool-calls` decides it (allowed: passed on; an
//! approval: the proposal id; refused: the reason), audited with the user
//! and the agent; every missing or refused credential, a missing workspace
//! or `passRequestHeaders: false` is an explicit denial; a retried
//! invocation replays its decision; and the decision's round trips on
//! DynamoDB are counted on the wire.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::{Value, json};
use warden::agents::registry::{self, NewTool};
use warden::audit::{EventType, Origin};
use warden::auth::login::{self, LoginRequest, create_user};
use warden::clock::Clock as _;
use warden::domain::agents::{AgentId, Maturity, WorkspaceId};
use warden::domain::tools::{ToolCallStatus, ToolName, complexity_of_level};
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::state::AuthState;
use warden::store::{AuditQuery, AuthStore, RegistryStore, WorkerStore};
use warden::testing::{self, AgentWorld};
use warden_tool_gate::{
    CODE_APPROVAL_REQUIRED, CODE_INTERNAL, CODE_INVALID_PARAMS, CODE_REFUSED, CODE_UNAUTHORIZED,
    InterceptorEvent, InterceptorOutput, intercept,
};

const TOOLS_LIST: &str = include_str!("events/request_tools_list.json");
const TOOLS_CALL: &str = include_str!("events/request_tools_call.json");

fn cli() -> Origin {
    Origin::Cli {
        operator: "test".into(),
    }
}

struct Harness {
    world: AgentWorld,
    keys: AuthState,
    /// The member of `acme` the agent acts for, and their user id.
    person: String,
    user_id: String,
    /// The agent's key and its delegated token.
    key: String,
    token: String,
    next: std::sync::atomic::AtomicU32,
}

async fn harness<S: AuthStore + RegistryStore + WorkerStore + 'static>(store: Arc<S>) -> Harness {
    let world = AgentWorld::over(store.clone());
    let keys = testing::token_endpoint_state(store, world.clock.clone());
    testing::add_workspace(&world.agents, cli(), "acme", "Acme").await;
    for (name, level) in [("read_file", 1), ("wire_money", 4)] {
        registry::register_tool(
            &world.agents,
            cli(),
            NewTool {
                name: ToolName::parse(name).unwrap(),
                complexity: complexity_of_level(level).unwrap(),
                workspaces: vec![WorkspaceId::parse("acme").unwrap()],
            },
        )
        .await
        .unwrap();
    }
    let username = Username::parse("carol").unwrap();
    create_user(
        &world.auth,
        cli(),
        &username,
        &SecretString::from("carol password"),
        &[Role::User],
    )
    .await
    .unwrap();
    registry::set_membership(
        &world.agents,
        &*world.auth.store,
        cli(),
        &WorkspaceId::parse("acme").unwrap(),
        &username,
        true,
    )
    .await
    .unwrap();
    let mut h = Harness {
        world,
        keys,
        person: String::new(),
        user_id: String::new(),
        key: String::new(),
        token: String::new(),
        next: std::sync::atomic::AtomicU32::new(1),
    };
    h.person = h.login().await;
    h.user_id = h
        .world
        .agents
        .bearer()
        .token(&h.person)
        .await
        .unwrap()
        .sub
        .clone();
    let (token, key) =
        testing::delegate(&h.keys, "assistant", &["acme"], &h.user_id, &h.person).await;
    h.token = token;
    h.key = key;
    h
}

impl Harness {
    async fn login(&self) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let request = LoginRequest {
            username: "carol".into(),
            password: SecretString::from("carol password"),
        };
        let ip = format!("10.2.0.{n}");
        login::login(&self.world.auth, &RequestContext::for_tests(&ip), request)
            .await
            .unwrap()
            .access_token
    }

    /// The documented `tools/call` event for gateway tool `name` with
    /// `arguments`, its placeholders filled: `authorization` (or none),
    /// the session, the user agent, the raw body; `workspace` as
    /// `X-Warden-Workspace` when given; JSON-RPC id `id`.
    fn call_event(
        &self,
        name: &str,
        arguments: Value,
        authorization: Option<&str>,
        workspace: Option<&str>,
        id: u64,
    ) -> Value {
        let mut event: Value = serde_json::from_str(TOOLS_CALL).unwrap();
        let request = &mut event["mcp"]["gatewayRequest"];
        request["body"]["id"] = id.into();
        request["body"]["params"]["name"] = name.into();
        request["body"]["params"]["arguments"] = arguments;
        let headers = request["headers"].as_object_mut().unwrap();
        match authorization {
            Some(value) => headers.insert("Authorization".into(), value.into()),
            None => headers.remove("Authorization"),
        };
        headers.insert(
            "Mcp-Session-Id".into(),
            "6f1c2a9e-3b7d-4e0a-9c55-2d8f1b0a7e41".into(),
        );
        headers.insert("User-Agent".into(), "python-httpx/0.28.1".into());
        if let Some(w) = workspace {
            headers.insert("X-Warden-Workspace".into(), w.into());
        }
        let raw = request["body"].to_string();
        event["mcp"]["rawGatewayRequest"]["body"] = raw.into();
        event
    }

    /// A call of `tool` behind target `Warden` in `acme` with the
    /// agent's delegated token.
    fn call(&self, tool: &str, id: u64) -> Value {
        let bearer = format!("Bearer {}", self.token);
        self.call_event(
            &format!("Warden___{tool}"),
            json!({"path": "/etc/hostname"}),
            Some(&bearer),
            Some("acme"),
            id,
        )
    }

    async fn gate(&self, event: Value) -> Value {
        self.world.clock.advance_millis(1);
        let event: InterceptorEvent = serde_json::from_value(event).unwrap();
        let output: InterceptorOutput = intercept(&self.world.agents, event, "req-1").await;
        serde_json::to_value(output).unwrap()
    }

    async fn events(&self, event_type: EventType) -> Vec<warden::audit::AuditEvent> {
        let now = self.world.clock.now_millis();
        self.world
            .agents
            .store
            .query_audit(&AuditQuery {
                actor: None,
                event_type: Some(event_type),
                since_millis: now - 3_600_000,
                until_millis: now + 1,
                limit: 100,
                before: None,
            })
            .await
            .unwrap()
    }

    async fn calls(&self) -> Vec<warden::domain::tools::ToolCallRecord> {
        self.world
            .agents
            .store
            .list_tool_calls(&WorkspaceId::parse("acme").unwrap(), None, 100, None)
            .await
            .unwrap()
            .items
    }
}

/// The request was passed on with exactly `body`.
fn passed(output: &Value, body: &Value) {
    assert_eq!(
        output,
        &json!({
            "interceptorOutputVersion": "1.0",
            "mcp": {"transformedGatewayRequest": {"body": body}},
        })
    );
}

/// The gateway answers at once with a JSON-RPC error of `code` and
/// `status`: its `data`.
fn denied(output: &Value, status: u16, code: i64) -> Value {
    assert_eq!(output["interceptorOutputVersion"], "1.0", "{output}");
    assert!(
        output["mcp"].get("transformedGatewayRequest").is_none(),
        "{output}"
    );
    let response = &output["mcp"]["transformedGatewayResponse"];
    assert_eq!(response["statusCode"], status, "{output}");
    // Only statusCode and body: the gateway refuses anything else in a
    // REQUEST interceptor's short-circuit.
    assert_eq!(response.as_object().unwrap().len(), 2, "{output}");
    let body = &response["body"];
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["error"]["code"], code, "{output}");
    assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    body["error"]["data"].clone()
}

async fn the_documented_tools_list_event_passes_unchanged(h: Harness) {
    let event: Value = serde_json::from_str(TOOLS_LIST).unwrap();
    let body = event["mcp"]["gatewayRequest"]["body"].clone();
    // Its Authorization is the guide's placeholder: nothing is checked
    // for a method other than tools/call.
    passed(&h.gate(event.clone()).await, &body);
    assert!(h.calls().await.is_empty());
    // The same through the Lambda handler, as the runtime invokes it; a
    // payload that is no interceptor event is denied, not an error.
    let invoke = |payload: Value| {
        warden_tool_gate::handler(
            &h.world.agents,
            lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default()),
        )
    };
    let output = serde_json::to_value(invoke(event).await.unwrap()).unwrap();
    passed(&output, &body);
    let output = serde_json::to_value(invoke(json!([1, 2])).await.unwrap()).unwrap();
    assert_eq!(
        output["mcp"]["transformedGatewayResponse"]["body"]["error"]["code"],
        -32600
    );
}

async fn an_allowed_call_passes_unchanged_recorded_and_audited_with_the_user_and_the_agent(
    h: Harness,
) {
    let event = h.call("read_file", 7);
    let body = event["mcp"]["gatewayRequest"]["body"].clone();
    passed(&h.gate(event).await, &body);
    let calls = h.calls().await;
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.status, ToolCallStatus::Allowed);
    assert_eq!(call.tool.as_str(), "read_file");
    assert_eq!(call.agent_id.as_str(), "assistant");
    assert_eq!(call.caller, format!("user:{}", h.user_id));
    let allowed = h.events(EventType::ToolCallAllowed).await;
    let event = allowed.last().unwrap();
    assert_eq!(event.actor, format!("user:{}", h.user_id));
    assert_eq!(event.subject.as_deref(), Some("agent:assistant"));
    assert_eq!(event.details["act"], "agent:assistant");
    assert_eq!(event.details["key_id"], h.key.split('_').nth(1).unwrap());
    assert_eq!(event.details["call_id"], call.call_id.as_str());
    match &event.origin {
        Origin::Http {
            request_id,
            user_agent,
            ..
        } => {
            assert_eq!(request_id, "req-1");
            assert_eq!(user_agent, "python-httpx/0.28.1");
        }
        other => panic!("{other:?}"),
    }

    // The gateway retries an invocation (same session, same JSON-RPC id):
    // the decision is replayed, not made again.
    let event = h.call("read_file", 7);
    passed(&h.gate(event).await, &body);
    assert_eq!(h.calls().await.len(), 1);
    // A new request (another id) is a new decision.
    let event = h.call("read_file", 8);
    let body = event["mcp"]["gatewayRequest"]["body"].clone();
    passed(&h.gate(event).await, &body);
    assert_eq!(h.calls().await.len(), 2);
}

async fn a_call_that_needs_approval_answers_its_proposal(mut h: Harness) {
    // A SUPERVISED agent proposes complexity 4 (a demotion kills its
    // delegated tokens: a new exchange).
    registry::set_maturity(
        &h.world.agents,
        cli(),
        &AgentId::parse("assistant").unwrap(),
        Maturity::Supervised,
    )
    .await
    .unwrap();
    let dead = h.gate(h.call("wire_money", 1)).await;
    denied(&dead, 401, CODE_UNAUTHORIZED);
    h.token = testing::exchange(&h.keys, &h.person, &h.key).await.unwrap();

    let data = denied(
        &h.gate(h.call("wire_money", 2)).await,
        200,
        CODE_APPROVAL_REQUIRED,
    );
    assert_eq!(data["decision"], "approval_required");
    let proposal = data["proposal_id"].as_str().unwrap().to_owned();
    assert!(data["expires_at"].as_str().unwrap().ends_with('Z'));
    let stored = h.world.agents.store.get_proposal(&proposal).await.unwrap();
    assert!(stored.is_some(), "the proposal is stored");
    // The identical call while it is pending: the same proposal.
    let again = denied(
        &h.gate(h.call("wire_money", 3)).await,
        200,
        CODE_APPROVAL_REQUIRED,
    );
    assert_eq!(again["proposal_id"], proposal.as_str());
}

async fn refusals_answer_their_reason_and_nothing_passes(mut h: Harness) {
    // A tool that is not registered.
    let data = denied(&h.gate(h.call("rm_rf", 1)).await, 200, CODE_REFUSED);
    assert_eq!(data["reason"], "tool_not_allowed");
    assert_eq!(data["status"], 403);

    // No Authorization, a garbage token, a person's own token.
    let none = h.call_event("Warden___read_file", json!({}), None, Some("acme"), 2);
    denied(&h.gate(none).await, 401, CODE_UNAUTHORIZED);
    let garbage = h.call_event(
        "Warden___read_file",
        json!({}),
        Some("Bearer not-a-token"),
        Some("acme"),
        3,
    );
    denied(&h.gate(garbage).await, 401, CODE_UNAUTHORIZED);
    let person = format!("Bearer {}", h.person);
    let own = h.call_event(
        "Warden___read_file",
        json!({}),
        Some(&person),
        Some("acme"),
        4,
    );
    let data = denied(&h.gate(own).await, 200, CODE_REFUSED);
    assert_eq!(data["status"], 403);

    // Without passRequestHeaders the gate cannot see the token: denied.
    let mut headless = h.call("read_file", 5);
    headless["mcp"]["gatewayRequest"]
        .as_object_mut()
        .unwrap()
        .remove("headers");
    denied(&h.gate(headless).await, 200, CODE_INTERNAL);

    // No workspace header and no DefaultWorkspace: denied; with a default,
    // decided there; a header wins over the default.
    let bearer = format!("Bearer {}", h.token);
    let nowhere = h.call_event("Warden___read_file", json!({}), Some(&bearer), None, 6);
    denied(&h.gate(nowhere.clone()).await, 200, CODE_INVALID_PARAMS);
    h.world.agents.registry.config.default_workspace = Some("acme".into());
    let event = nowhere;
    let body = event["mcp"]["gatewayRequest"]["body"].clone();
    passed(&h.gate(event).await, &body);
    let elsewhere = h.call_event(
        "Warden___read_file",
        json!({}),
        Some(&bearer),
        Some("ops"),
        7,
    );
    let data = denied(&h.gate(elsewhere).await, 200, CODE_REFUSED);
    assert_eq!(data["status"], 404);

    // Arguments that are not I-JSON (a number JCS cannot keep): invalid
    // params, nothing allowed.
    let mut event = h.call("read_file", 8);
    event["mcp"]["rawGatewayRequest"]["body"] = r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"Warden___read_file","arguments":{"n":12345678901234567890}}}"#.into();
    denied(&h.gate(event).await, 200, CODE_INVALID_PARAMS);

    // The kill switch: the token is dead at once.
    registry::set_enabled(
        &h.world.agents,
        cli(),
        &AgentId::parse("assistant").unwrap(),
        false,
    )
    .await
    .unwrap();
    denied(
        &h.gate(h.call("read_file", 9)).await,
        401,
        CODE_UNAUTHORIZED,
    );
    let allowed = h.calls().await;
    assert_eq!(allowed.len(), 1, "only the default-workspace call passed");
}

async fn a_response_interceptor_event_passes_the_response_through(h: Harness) {
    let mut event: Value = serde_json::from_str(TOOLS_LIST).unwrap();
    let response =
        json!({"statusCode": 200, "body": {"jsonrpc": "2.0", "id": 1, "result": {"tools": []}}});
    event["mcp"]["gatewayResponse"] = response.clone();
    let output = h.gate(event).await;
    assert_eq!(
        output,
        json!({"interceptorOutputVersion": "1.0", "mcp": {"transformedGatewayResponse": response}})
    );
    // And a payload that is no interceptor event at all is denied.
    let output =
        warden_tool_gate::intercept(&h.world.agents, InterceptorEvent::default(), "req-2").await;
    let output = serde_json::to_value(output).unwrap();
    assert!(output["mcp"]["transformedGatewayResponse"]["body"]["error"].is_object());
}

warden::on_both_stores!(
    async harness;
    the_documented_tools_list_event_passes_unchanged,
    an_allowed_call_passes_unchanged_recorded_and_audited_with_the_user_and_the_agent,
    a_call_that_needs_approval_answers_its_proposal,
    refusals_answer_their_reason_and_nothing_passes,
    a_response_interceptor_event_passes_the_response_through,
);

/// The decision behind the gate, counted on the wire: one BatchGetItem
/// (the token's standing, the user's run limit, the agent, the tool, the
/// workspace, the exact call, the slots and the idempotency record of the
/// MCP session and id), one UpdateItem (the run limit spent), one
/// TransactWriteItems (the decision and its audit event).
#[tokio::test]
async fn on_dynamodb_a_gated_call_costs_three_round_trips() {
    let Some((store, _, log)) = testing::dynamo_store_with_log().await else {
        return;
    };
    let h = harness(Arc::new(store)).await;
    log.take();
    let event = h.call("read_file", 1);
    let body = event["mcp"]["gatewayRequest"]["body"].clone();
    passed(&h.gate(event).await, &body);
    assert_eq!(
        log.take(),
        ["BatchGetItem", "UpdateItem", "TransactWriteItems"]
    );
}
