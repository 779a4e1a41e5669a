//! Black-box tests of governed tool calls (API.md "Governed tool calls"):
//! the local API (`warden serve`'s server) driven over HTTP, once on the
//! embedded store and once on DynamoDB tables in the emulator, through an
//! agent's whole loop: call, approval required, an approver sees exactly
//! what will run and approves, the identical call is allowed with a
//! decision token that a tool server verifies from `/tools/jwks.json`
//! alone, the outcome is reported once. The decision token is refused as
//! an access token.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::agents::registry::{NewTool, register_tool};
use warden::auth::login::create_user;
use warden::auth::signing::RsaPublicKey;
use warden::domain::agents::{Complexity, WorkspaceId};
use warden::domain::tools::ToolName;
use warden::domain::{Role, Username};
use warden_cli::seed::{Seed, cli_origin};
use warden_cli::serve::LocalApi;

const KEY_ID: &str = "01JTOOLKEY0000000000000000";
const SECRET: &str = "tool-secret_0123456789-abcdefghijklmnopqrstuvw";

/// The local API with workspace `acme`, a SUPERVISED agent `books` whose
/// key may call tools, the tool `refund` (complexity 4: proposed) and an
/// approver `root` (admin) with the password `root password`.
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
            "scopes": ["tools:call"]
        }]
    }))
    .unwrap();
    let states = common::states(&env, Vec::new(), dynamodb.as_ref()).await;
    seed.apply(&states).await.unwrap();
    register_tool(
        &states.agents,
        cli_origin(),
        NewTool {
            name: ToolName::parse("refund").unwrap(),
            complexity: Complexity::ExternalEffect,
            workspaces: vec![WorkspaceId::parse("acme").unwrap()],
        },
    )
    .await
    .unwrap();
    create_user(
        &states.auth,
        cli_origin(),
        &Username::parse("root").unwrap(),
        &SecretString::from("root password"),
        &[Role::Admin],
    )
    .await
    .unwrap();
    common::start(states).await
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
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

async fn the_agents_loop_runs_as_the_contract_says(api: LocalApi) {
    let client = reqwest::Client::new();
    let url = api.url();
    let key = format!("wdn_{KEY_ID}_{SECRET}");
    // The arguments as a client writes them; their JCS form sorts the keys.
    let arguments = r#"{"order": "A-17", "amount": 19.99, "currency": "EUR"}"#;
    let canonical = r#"{"amount":19.99,"currency":"EUR","order":"A-17"}"#;
    let body = format!(r#"{{"workspace_id": "acme", "tool": "refund", "arguments": {arguments}}}"#);
    let call = || {
        client
            .post(format!("{url}/agents/books/tool-calls"))
            .header("x-api-key", &key)
            .header("content-type", "application/json")
            .body(body.clone())
    };

    // 1. The call: approval required, with where to look.
    let (status, headers, first) = send(call()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["decision"], "approval_required");
    let call_id = first["call_id"].as_str().unwrap().to_owned();
    let proposal_id = first["proposal_id"].as_str().unwrap().to_owned();
    assert_eq!(
        headers["location"].to_str().unwrap(),
        format!("/agents/tool-calls/{call_id}")
    );

    // 2. The approver sees exactly what will run.
    let login: Value = client
        .post(format!("{url}/auth/login"))
        .json(&json!({"username": "root", "password": "root password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", login["access_token"].as_str().unwrap());
    let (status, _, listed) = send(
        client
            .get(format!("{url}/agents/proposals"))
            .header("authorization", &bearer),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let item = listed["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["proposal_id"] == proposal_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["kind"], "tool_call");
    assert_eq!(item["tool"], "refund");
    assert_eq!(item["call_id"], call_id.as_str());
    assert_eq!(item["agent_maturity"], "SUPERVISED");
    assert_eq!(item["arguments"].to_string(), canonical);
    let sha = warden::agents::jcs::sha256_hex(canonical);
    assert_eq!(item["arguments_sha256"], sha.as_str());
    assert!(
        item.get("job_id").is_none() && item.get("input").is_none(),
        "{item}"
    );

    // 3. Approved: nothing is queued, the agent calls again.
    let (status, _, approved) = send(
        client
            .post(format!("{url}/agents/proposals/{proposal_id}/approve"))
            .header("authorization", &bearer),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "APPROVED");

    // 4. The identical call (its keys in another order) uses the approval.
    let reordered = r#"{"tool": "refund", "workspace_id": "acme", "arguments": {"currency": "EUR", "order": "A-17", "amount": 19.99}}"#;
    let (status, _, allowed) = send(
        client
            .post(format!("{url}/agents/books/tool-calls"))
            .header("x-api-key", &key)
            .header("content-type", "application/json")
            .body(reordered),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{allowed}");
    assert_eq!(allowed["decision"], "allow");
    assert_eq!(allowed["call_id"], call_id.as_str());
    assert_eq!(allowed["proposal_id"], proposal_id.as_str());
    assert_eq!(allowed["arguments_sha256"], sha.as_str());
    let token = allowed["decision_token"].as_str().unwrap().to_owned();

    // 5. A tool server verifies the token from the published key set alone.
    let (status, headers, jwks) = send(client.get(format!("{url}/tools/jwks.json"))).await;
    assert_eq!(status, StatusCode::OK, "{jwks}");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("public")
    );
    let jwk = &jwks["keys"][0];
    let public = RsaPublicKey::from_components(
        &URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
        &URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    assert!(public.verifies(
        input.as_bytes(),
        &URL_SAFE_NO_PAD.decode(signature).unwrap()
    ));
    let (header, claims) = input.split_once('.').unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(header["typ"], "tool-call+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], jwk["kid"]);
    assert_eq!(claims["aud"], "tool:refund");
    assert_eq!(claims["jti"], call_id.as_str());
    assert_eq!(claims["arguments_sha256"], sha.as_str());
    assert_eq!(claims["act"]["sub"], "agent:books");
    assert_eq!(claims["sub"], format!("key:{KEY_ID}"));
    let (_, _, discovery) =
        send(client.get(format!("{url}/.well-known/openid-configuration"))).await;
    assert_eq!(claims["iss"], discovery["issuer"]);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!((1..=60).contains(&lifetime), "{claims}");
    // Not the access tokens' key.
    let (_, _, access_keys) = send(client.get(format!("{url}/.well-known/jwks.json"))).await;
    assert!(
        access_keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"] != jwk["kid"]),
        "{access_keys}"
    );

    // 6. A decision token is never an access token.
    let (status, headers, _) = send(
        client
            .get(format!("{url}/auth/sessions"))
            .header("authorization", format!("Bearer {token}")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key("www-authenticate"));

    // 7. The same approval is used once.
    let (status, _, again) = send(call()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{again}");
    assert_eq!(again["reason"], "approval_used");

    // 8. The outcome, once.
    let outcome = format!("{url}/agents/tool-calls/{call_id}/outcome");
    let report = json!({"status": "succeeded", "detail": "refund 19.99 EUR issued"});
    let (status, _, _) = send(
        client
            .post(&outcome)
            .header("x-api-key", &key)
            .json(&report),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, second) = send(
        client
            .post(&outcome)
            .header("x-api-key", &key)
            .json(&report),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{second}");
    let (status, _, shown) = send(
        client
            .get(format!("{url}/agents/tool-calls/{call_id}"))
            .header("x-api-key", &key),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["status"], "ALLOWED");
    assert_eq!(shown["outcome"]["status"], "succeeded");

    // 9. Arguments that are not I-JSON are refused, naming the path.
    let (status, _, refused) = send(
        client
            .post(format!("{url}/agents/books/tool-calls"))
            .header("x-api-key", &key)
            .header("content-type", "application/json")
            .body(r#"{"workspace_id":"acme","tool":"refund","arguments":{"amount":9007199254740993}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("arguments.amount"),
        "{refused}"
    );
}

#[tokio::test]
async fn on_the_embedded_store_the_agents_loop_runs_as_the_contract_says() {
    the_agents_loop_runs_as_the_contract_says(spawn_app(None).await).await;
}

#[tokio::test]
async fn on_dynamodb_the_agents_loop_runs_as_the_contract_says() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    the_agents_loop_runs_as_the_contract_says(spawn_app(Some(tables)).await).await;
}

/// A key of the refusals' app: `wdn_<id>_<secret>`, the id ending in `n`.
fn refusal_key(n: u8) -> String {
    format!("wdn_01JTOOLKEY000000000000000{n}_refusal-secret_0123456789abcdefghijklmn")
}

/// The local API for the refusals: workspaces `acme` and `other`; agents
/// `student` (STUDENT), `intern` (INTERN) and `off` (AUTONOMOUS, disabled),
/// all in `acme`, each with a `tools:call` key (1, 2, 3), and a key of
/// `intern` with `agents:run` only (4); tools `read` (complexity 1, in
/// `acme`) and `elsewhere` (in `other`); at most one pending proposal per
/// agent and workspace; an admin `root`.
async fn spawn_refusals_app(dynamodb: Option<(String, String)>) -> LocalApi {
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
        ("WARDEN_TOOL_PENDING_MAX", "1"),
    ];
    let agent = |id: &str, maturity: &str, enabled: bool| {
        json!({"agent_id": id, "agent_type": "accounting", "maturity": maturity,
               "workspaces": ["acme"], "enabled": enabled})
    };
    let key = |n: u8, owner: &str, scope: &str| json!({"key": refusal_key(n), "owner": owner, "scopes": [scope]});
    let seed: Seed = serde_json::from_value(json!({
        "workspaces": [
            {"workspace_id": "acme", "name": "Acme Ltd"},
            {"workspace_id": "other", "name": "Other Ltd"}
        ],
        "agents": [
            agent("student", "STUDENT", true),
            agent("intern", "INTERN", true),
            agent("off", "AUTONOMOUS", false)
        ],
        "tools": [
            {"name": "read", "complexity": 1, "workspaces": ["acme"]},
            {"name": "elsewhere", "complexity": 1, "workspaces": ["other"]}
        ],
        "api_keys": [
            key(1, "student", "tools:call"),
            key(2, "intern", "tools:call"),
            key(3, "off", "tools:call"),
            key(4, "intern", "agents:run")
        ]
    }))
    .unwrap();
    let states = common::states(&env, Vec::new(), dynamodb.as_ref()).await;
    seed.apply(&states).await.unwrap();
    create_user(
        &states.auth,
        cli_origin(),
        &Username::parse("root").unwrap(),
        &SecretString::from("root password"),
        &[Role::Admin],
    )
    .await
    .unwrap();
    common::start(states).await
}

/// Every refusal of API.md's order over HTTP, each with its status and, for
/// the governance ones, the `reason` a program acts on.
async fn every_refusal_answers_its_status_and_reason(api: LocalApi) {
    let client = reqwest::Client::new();
    let url = api.url();
    let call = |agent: &str, key: Option<String>, workspace: &str, tool: &str, arguments: Value| {
        let mut request = client
            .post(format!("{url}/agents/{agent}/tool-calls"))
            .json(&json!({"workspace_id": workspace, "tool": tool, "arguments": arguments}));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        send(request)
    };
    let refused = |reply: &(StatusCode, reqwest::header::HeaderMap, Value),
                   status: StatusCode,
                   reason: Option<&str>,
                   what: &str| {
        assert_eq!(reply.0, status, "{what}: {}", reply.2);
        assert_eq!(reply.2["reason"].as_str(), reason, "{what}: {}", reply.2);
    };
    let args = json!({"id": 1});

    let reply = call("intern", None, "acme", "read", args.clone()).await;
    refused(&reply, StatusCode::UNAUTHORIZED, None, "no key");
    assert!(reply.1.contains_key("www-authenticate"));
    let reply = call("intern", Some(refusal_key(4)), "acme", "read", args.clone()).await;
    refused(
        &reply,
        StatusCode::FORBIDDEN,
        None,
        "a key without tools:call",
    );
    let reply = call(
        "student",
        Some(refusal_key(2)),
        "acme",
        "read",
        args.clone(),
    )
    .await;
    refused(&reply, StatusCode::FORBIDDEN, None, "another agent's key");
    let reply = call(
        "intern",
        Some(refusal_key(2)),
        "nowhere",
        "read",
        args.clone(),
    )
    .await;
    refused(&reply, StatusCode::NOT_FOUND, None, "an unknown workspace");
    let reply = call(
        "student",
        Some(refusal_key(1)),
        "other",
        "read",
        args.clone(),
    )
    .await;
    refused(
        &reply,
        StatusCode::FORBIDDEN,
        Some("workspace"),
        "a workspace not allowed",
    );
    let reply = call("off", Some(refusal_key(3)), "acme", "read", args.clone()).await;
    refused(
        &reply,
        StatusCode::FORBIDDEN,
        Some("agent_disabled"),
        "disabled",
    );
    for tool in ["elsewhere", "ghost"] {
        let reply = call("intern", Some(refusal_key(2)), "acme", tool, args.clone()).await;
        refused(
            &reply,
            StatusCode::FORBIDDEN,
            Some("tool_not_allowed"),
            tool,
        );
    }
    let reply = call(
        "student",
        Some(refusal_key(1)),
        "acme",
        "read",
        args.clone(),
    )
    .await;
    refused(&reply, StatusCode::FORBIDDEN, Some("maturity"), "a STUDENT");

    // A person is not the agent.
    let login: Value = client
        .post(format!("{url}/auth/login"))
        .json(&json!({"username": "root", "password": "root password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", login["access_token"].as_str().unwrap());
    let reply = send(
        client
            .post(format!("{url}/agents/intern/tool-calls"))
            .header("authorization", &bearer)
            .json(&json!({"workspace_id": "acme", "tool": "read", "arguments": args})),
    )
    .await;
    refused(&reply, StatusCode::FORBIDDEN, None, "a person's token");

    // A rejected call is refused while the rejection stands.
    let proposed = call("intern", Some(refusal_key(2)), "acme", "read", args.clone()).await;
    assert_eq!(proposed.0, StatusCode::ACCEPTED, "{}", proposed.2);
    let proposal_id = proposed.2["proposal_id"].as_str().unwrap();
    let (status, _, rejected) = send(
        client
            .post(format!("{url}/agents/proposals/{proposal_id}/reject"))
            .header("authorization", &bearer)
            .json(&json!({"reason": "not now"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    let reply = call("intern", Some(refusal_key(2)), "acme", "read", args.clone()).await;
    refused(
        &reply,
        StatusCode::FORBIDDEN,
        Some("approval_rejected"),
        "rejected",
    );

    // One pending proposal at most (WARDEN_TOOL_PENDING_MAX=1).
    let other = json!({"id": 2});
    let pending = call("intern", Some(refusal_key(2)), "acme", "read", other).await;
    assert_eq!(pending.0, StatusCode::ACCEPTED, "{}", pending.2);
    let reply = call(
        "intern",
        Some(refusal_key(2)),
        "acme",
        "read",
        json!({"id": 3}),
    )
    .await;
    refused(
        &reply,
        StatusCode::TOO_MANY_REQUESTS,
        Some("approvals_pending"),
        "over the pending maximum",
    );
    assert!(reply.1.contains_key("retry-after"), "{:?}", reply.1);
}

#[tokio::test]
async fn on_the_embedded_store_every_refusal_answers_its_status_and_reason() {
    every_refusal_answers_its_status_and_reason(spawn_refusals_app(None).await).await;
}

#[tokio::test]
async fn on_dynamodb_every_refusal_answers_its_status_and_reason() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    every_refusal_answers_its_status_and_reason(spawn_refusals_app(Some(tables)).await).await;
}
