//! The cost of a governed tool call's decision (API.md "Governed tool
//! calls"; issue budget: the CPU beyond JSON parsing, hashing and the
//! decision token's signature within 50 µs).
//!
//! - `arguments: JCS + SHA-256`: the I-JSON check, the canonical form and
//!   its hash, for a typical arguments object (the parsing and hashing the
//!   budget leaves out);
//! - `judge`: the pure decision from what was read;
//! - `decision, embedded store, signature excluded`: the whole use case
//!   (key check, one read, the decision, one transaction, the audit event)
//!   on the embedded store with a signer that returns a fixed signature:
//!   minus the first line, what the budget counts;
//! - `decision, embedded store sealing audit events, ...`: the same on a
//!   store that seals each audit event with the audit MAC key, as every
//!   deployed writer's does (the audit ledger's cost on a decision);
//! - `decision token signature (local RSA 2048)`: what KMS does in AWS;
//! - `delegated decision, ...`: the same with a delegated token (RFC 8693)
//!   instead of a key: its verification (a cache hit) and standing, read
//!   with the rest, and the person's run limit instead of the key's.
//!
//! Then, printed: p50 and p99 of whole decisions under 32 concurrent
//! callers on the embedded store and, when `WARDEN_TEST_AWS_ENDPOINT` names
//! the emulator, on DynamoDB (moto), with the local RSA signer; and the
//! latency of one `kms:Sign` on moto.
//!
//! `cargo bench -p warden --bench tool_calls`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use warden::agents::decision::DecisionTokens;
use warden::agents::jcs;
use warden::agents::registry::{NewTool, register_agent, register_tool};
use warden::agents::tool_calls::{self, ToolCallRequest};
use warden::audit::Origin;
use warden::auth::api_keys::{KeySpec, create_key};
use warden::auth::signing::{RsaPublicKey, Signer};
use warden::clock::SystemClock;
use warden::domain::agents::{AgentId, AgentType, Complexity, KeyOwner, Maturity, WorkspaceId};
use warden::domain::tools::ToolName;
use warden::queue::MemoryQueue;
use warden::state::AgentState;
use warden::store::RegistryStore;
use warden::store::memory::MemoryStore;

/// Signs nothing: a fixed 256-byte "signature", so that the decision's own
/// CPU can be measured apart from RSA (KMS in AWS).
#[derive(Debug)]
struct FixedSigner(RsaPublicKey);

#[async_trait]
impl Signer for FixedSigner {
    async fn sign(&self, _arn: &str, _message: &[u8]) -> warden::Result<Vec<u8>> {
        Ok(vec![7; 256])
    }
    async fn public_key(&self, _arn: &str) -> warden::Result<RsaPublicKey> {
        Ok(self.0.clone())
    }
}

fn origin() -> Origin {
    Origin::Cli {
        operator: "bench".into(),
    }
}

fn arguments() -> Value {
    json!({
        "to": ["ann@example.com", "bob@example.com"],
        "subject": "Invoice 2026-0042",
        "body": "Dear Ann, please find attached the invoice for November.",
        "amount": 1999.99,
        "currency": "EUR",
        "attachments": [{"name": "invoice.pdf", "size": 48213}],
        "send_at": null
    })
}

/// A state over `store` with an AUTONOMOUS agent in `acme`, a complexity-4
/// tool, and `keys` `tools:call` keys without a practical limit (one per
/// concurrent caller, as each agent runtime holds its own); the keys.
async fn world(
    store: Arc<dyn RegistryStore>,
    signer: Option<Arc<dyn Signer>>,
    keys: usize,
) -> (AgentState, Vec<String>) {
    let clock = Arc::new(SystemClock);
    let sessions = Arc::new(MemoryStore::new());
    let mut state =
        warden::testing::agent_state(store, sessions, Arc::new(MemoryQueue::new()), clock);
    if let Some(signer) = signer {
        let decisions = DecisionTokens::load(signer, "fixed", &state.config.issuer)
            .await
            .unwrap();
        state = state.with_decisions(Arc::new(decisions));
    }
    warden::testing::add_workspace(&state, origin(), "acme", "Acme").await;
    let agent =
        warden::testing::new_agent("mailer", AgentType::Sales, Maturity::Autonomous, "acme");
    register_agent(&state, origin(), agent).await.unwrap();
    register_tool(
        &state,
        origin(),
        NewTool {
            name: ToolName::parse("send_email").unwrap(),
            complexity: Complexity::ExternalEffect,
            workspaces: vec![WorkspaceId::parse("acme").unwrap()],
        },
    )
    .await
    .unwrap();
    let mut made = Vec::new();
    for _ in 0..keys {
        let key = create_key(
            &state,
            &state.pepper,
            origin(),
            KeySpec {
                owner: KeyOwner::Agent(AgentId::parse("mailer").unwrap()),
                scopes: vec!["tools:call".into()],
                expires_at: None,
                rate_limit_per_hour: Some(u32::MAX),
                created_by: None,
            },
        )
        .await
        .unwrap();
        made.push(key.key.expose_secret().to_owned());
    }
    (state, made)
}

/// A state over one store whose agent `mailer` acts for `carol` (a member
/// of `acme`): the state and the delegated token. Carol's run limit is
/// lifted, so that the loop measures decisions, not refusals.
async fn delegated_world(signer: Arc<dyn Signer>) -> (AgentState, String) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(SystemClock);
    let decisions = DecisionTokens::load(signer, "fixed", "http://127.0.0.1:3000")
        .await
        .unwrap();
    let mut state = warden::testing::agent_state(
        store.clone(),
        store.clone(),
        Arc::new(MemoryQueue::new()),
        clock.clone(),
    )
    .with_decisions(Arc::new(decisions));
    state.registry.config.run_limit_per_minute = u32::MAX;
    warden::testing::add_workspace(&state, origin(), "acme", "Acme").await;
    register_tool(
        &state,
        origin(),
        NewTool {
            name: ToolName::parse("send_email").unwrap(),
            complexity: Complexity::ExternalEffect,
            workspaces: vec![WorkspaceId::parse("acme").unwrap()],
        },
    )
    .await
    .unwrap();
    let keys = warden::testing::token_endpoint_state(store, clock);
    let carol = warden::domain::Username::parse("carol").unwrap();
    let user = warden::auth::login::create_user(
        &keys,
        origin(),
        &carol,
        &secrecy::SecretString::from("a bench password"),
        &[warden::domain::Role::User],
    )
    .await
    .unwrap();
    warden::agents::registry::set_membership(
        &state,
        &*keys.store,
        origin(),
        &WorkspaceId::parse("acme").unwrap(),
        &carol,
        true,
    )
    .await
    .unwrap();
    let now = warden::clock::Clock::now_secs(&SystemClock);
    let subject = keys
        .tokens
        .issue(
            &user.user_id,
            &[warden::domain::Role::User],
            0,
            "01CAROL",
            now,
        )
        .await
        .unwrap()
        .0;
    let (token, _) =
        warden::testing::delegate(&keys, "mailer", &["acme"], &user.user_id, &subject).await;
    (state, token)
}

async fn decide(state: &AgentState, key: &str, body: &Value) {
    let request = ToolCallRequest {
        workspace_id: "acme".into(),
        tool: "send_email".into(),
        arguments: body["arguments"].to_string(),
    };
    let (answer, _) = tool_calls::submit(
        state,
        origin(),
        tool_calls::Credential::ApiKey(key),
        "mailer",
        Ok((request, body.clone())),
        None,
    )
    .await
    .unwrap();
    black_box(answer);
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let text = arguments().to_string();
    c.bench_function("arguments: JCS + SHA-256", |b| {
        b.iter(|| {
            let canonical = jcs::canonicalize(black_box(&text), "arguments").unwrap();
            black_box(jcs::sha256_hex(&canonical))
        });
    });

    let public = warden::testing::test_signer()
        .public_key_of(warden::testing::TEST_DECISION_KEY_ARN)
        .unwrap();
    let (state, keys) = rt.block_on(world(
        Arc::new(MemoryStore::new()),
        Some(Arc::new(FixedSigner(public.clone()))),
        1,
    ));
    let key = &keys[0];
    let body = json!({"workspace_id": "acme", "tool": "send_email", "arguments": arguments()});
    c.bench_function("decision, embedded store, signature excluded", |b| {
        b.iter(|| rt.block_on(decide(&state, key, &body)));
    });

    // The same on a store that seals each audit event with the audit MAC
    // key and bounds its time, as every deployed writer's does.
    let mac = warden::audit::mac::MacKey::new(&secrecy::SecretString::from(
        "bench-audit-mac-key-0123456789abcdef0123456789".to_owned(),
    ))
    .unwrap();
    let (sealed, sealed_keys) = rt.block_on(world(
        Arc::new(MemoryStore::new().with_audit_mac(mac)),
        Some(Arc::new(FixedSigner(public.clone()))),
        1,
    ));
    c.bench_function(
        "decision, embedded store sealing audit events, signature excluded",
        |b| {
            b.iter(|| rt.block_on(decide(&sealed, &sealed_keys[0], &body)));
        },
    );

    let (delegated, token) = rt.block_on(delegated_world(Arc::new(FixedSigner(public.clone()))));
    c.bench_function(
        "delegated decision, embedded store, signature excluded",
        |b| {
            b.iter(|| {
                let request = ToolCallRequest {
                    workspace_id: "acme".into(),
                    tool: "send_email".into(),
                    arguments: body["arguments"].to_string(),
                };
                let answer = rt.block_on(tool_calls::submit(
                    &delegated,
                    origin(),
                    tool_calls::Credential::Token(&token),
                    "mailer",
                    Ok((request, body.clone())),
                    None,
                ));
                black_box(answer.unwrap())
            });
        },
    );

    let decisions = warden::testing::decisions_for(&warden::testing::config());
    let claims = warden::agents::decision::DecisionClaims {
        iss: "http://127.0.0.1:3000".into(),
        sub: "key:01J".into(),
        act: warden::agents::decision::DecisionActor {
            sub: "agent:mailer".into(),
        },
        aud: "tool:send_email".into(),
        exp: 2_000_000_000,
        iat: 1_999_999_940,
        jti: "01JCALL".into(),
        tool: "send_email".into(),
        arguments_sha256: "0".repeat(64),
        workspace_id: "acme".into(),
        proposal_id: None,
    };
    c.bench_function("decision token signature (local RSA 2048)", |b| {
        b.iter(|| rt.block_on(decisions.sign(black_box(&claims))).unwrap());
    });
}

/// One task per key, each making `each` decisions one after another: the
/// latencies of all, sorted.
async fn under_load(state: Arc<AgentState>, keys: &[String], each: usize) -> Vec<Duration> {
    let body =
        Arc::new(json!({"workspace_id": "acme", "tool": "send_email", "arguments": arguments()}));
    let mut tasks = Vec::new();
    for key in keys {
        let (state, key, body) = (state.clone(), key.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(each);
            for _ in 0..each {
                let start = Instant::now();
                decide(&state, &key, &body).await;
                out.push(start.elapsed());
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

fn report(name: &str, latencies: &[Duration]) {
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{name}: {} decisions, 32 concurrent callers: p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );
}

fn load(_: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (state, keys) = world(Arc::new(MemoryStore::new()), None, 32).await;
        let state = Arc::new(state);
        under_load(state.clone(), &keys, 2).await;
        report(
            "embedded store, local RSA signer",
            &under_load(state, &keys, 20).await,
        );
        let Some(endpoint) = warden::testing::aws_endpoint() else {
            println!("DynamoDB (moto): skipped, WARDEN_TEST_AWS_ENDPOINT is not set");
            return;
        };
        let (store, _) = warden::testing::dynamo_store().await.unwrap();
        let (state, keys) = world(Arc::new(store), None, 32).await;
        let state = Arc::new(state);
        under_load(state.clone(), &keys, 1).await;
        report(
            "DynamoDB on moto, local RSA signer",
            &under_load(state, &keys, 5).await,
        );
        // One KMS Sign on moto, as the decision token's signature costs in AWS.
        let arn = warden::testing::create_signing_key(&endpoint).await;
        let kms = warden::aws::kms::KmsSigner::new(aws_sdk_kms::Client::new(
            &warden::testing::aws_config(&endpoint).await,
        ));
        let mut signs = Vec::new();
        for _ in 0..50 {
            let start = Instant::now();
            kms.sign(&arn, b"header.claims").await.unwrap();
            signs.push(start.elapsed());
        }
        signs.sort();
        println!(
            "kms:Sign on moto (RSA 2048, one at a time): p50 {:.2} ms, p99 {:.2} ms",
            signs[25].as_secs_f64() * 1e3,
            signs[49].as_secs_f64() * 1e3
        );
    });
}

criterion_group!(benches_group, benches, load);
criterion_main!(benches_group);
