//! Governed tool calls on the agent-run handler, called as a function, on
//! the memory store and on DynamoDB (moto): every cell of the maturity x
//! complexity table for tools, every refusal `reason` in API.md's order,
//! I-JSON arguments, concurrent identical calls, the binding of an approval
//! to one exact call, the clocks, the kill switch, the pending maximum,
//! tool-call proposals on the proposal endpoints, outcomes, registry changes,
//! decision tokens and idempotency (API.md "Governed tool calls",
//! "Tool-call proposals"; contract-notes 45, 46, 49).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use http::{HeaderMap, StatusCode};
use lambda_http::Body;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use warden::agents::decision::DecisionClaims;
use warden::agents::registry::{self, NewAgent, NewTool};
use warden::audit::{AuditEvent, EventType, Origin};
use warden::auth::api_keys::{KeySpec, create_key};
use warden::auth::login::{self, LoginRequest, create_user};
use warden::clock::{Clock as _, rfc3339};
use warden::domain::agents::{AgentId, AgentType, KeyOwner, Maturity, WorkspaceId};
use warden::domain::tools::{ToolName, complexity_of_level};
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::store::{ApiKeyWrite, AuthStore, RegistryStore, WorkerStore};
use warden::testing::{AgentWorld, api_request, json_body};

/// Every store the agent-run handler reads: the memory store and DynamoDB
/// are both one.
trait Stores: AuthStore + RegistryStore + WorkerStore + 'static {}

impl<S: AuthStore + RegistryStore + WorkerStore + 'static> Stores for S {}

fn cli() -> Origin {
    Origin::Cli {
        operator: "test".into(),
    }
}

/// An argument value that must never reach the audit log (note 46).
const SECRET: &str = "s3cr3t-arg-value";

/// The arguments most checks send: members out of order, a decimal, an
/// array and the secret.
const ARGS: &str = r#"{"note":"s3cr3t-arg-value","amount":19.99,"n":[1,2]}"#;

/// `ARGS` in JCS form.
const ARGS_JCS: &str = r#"{"amount":19.99,"n":[1,2],"note":"s3cr3t-arg-value"}"#;

/// SHA-256 of [`ARGS_JCS`], computed outside Warden (`sha256sum`).
const ARGS_SHA256: &str = "2307321d803a5abc81eec7f9c8f7e4ecd8a9e7ed51cfc9af306f1aaec32b4d91";

/// The default approval window (`WARDEN_TOOL_APPROVAL_TTL_SECS`).
const TTL: f64 = 900.0;

/// A response, read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    /// The body exactly as sent.
    text: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn str(&self, member: &str) -> String {
        self.body[member]
            .as_str()
            .unwrap_or_else(|| panic!("no {member} in {}", self.body))
            .to_owned()
    }
}

/// A person who can call the API.
struct Person {
    token: String,
}

/// An agent's API key as the client holds it, and its id.
struct Key {
    key: String,
    id: String,
}

impl Key {
    /// The caller and audit actor it stands for.
    fn actor(&self) -> String {
        format!("key:{}", self.id)
    }
}

struct Harness {
    world: AgentWorld,
    /// A user, member of `acme`.
    alice: Person,
    /// An approver, member of `acme`.
    bob: Person,
    /// An approver who is a member of no workspace.
    dave: Person,
}

/// Polls every future until all are done (no `futures` crate here): the
/// calls run concurrently, interleaved at their awaits.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

impl Harness {
    /// Workspaces `acme` and `other`; tools `t1` to `t4` (complexity 1 to
    /// 4) in `acme`, `elsewhere` (complexity 1) in `other` only; alice (a
    /// user) and bob (an approver) in `acme`, dave (an approver) nowhere.
    async fn new<S: Stores>(store: Arc<S>) -> Self {
        let world = AgentWorld::over(store);
        for (id, name) in [("acme", "Acme"), ("other", "Other")] {
            registry::add_workspace(&world.agents, cli(), WorkspaceId::parse(id).unwrap(), name)
                .await
                .unwrap();
        }
        let alice = person(&world, "alice", &[Role::User]).await;
        let bob = person(&world, "bob", &[Role::Approver]).await;
        let dave = person(&world, "dave", &[Role::Approver]).await;
        for name in ["alice", "bob"] {
            member(&world, "acme", name).await;
        }
        let h = Self {
            world,
            alice,
            bob,
            dave,
        };
        for level in 1..=4 {
            h.tool(&format!("t{level}"), level, &["acme"]).await;
        }
        h.tool("elsewhere", 1, &["other"]).await;
        h
    }

    /// Registers (or registers again) tool `name` of complexity `level`.
    async fn tool(&self, name: &str, level: u64, workspaces: &[&str]) {
        registry::register_tool(
            &self.world.agents,
            cli(),
            NewTool {
                name: ToolName::parse(name).unwrap(),
                complexity: complexity_of_level(level).unwrap(),
                workspaces: workspaces
                    .iter()
                    .map(|w| WorkspaceId::parse(w).unwrap())
                    .collect(),
            },
        )
        .await
        .unwrap();
    }

    /// Registers an enabled accounting agent `id` at `maturity` in `acme`,
    /// and returns a key of it with scope `tools:call`.
    async fn agent(&self, id: &str, maturity: Maturity) -> Key {
        self.agent_in(id, maturity, &["acme"]).await
    }

    async fn agent_in(&self, id: &str, maturity: Maturity, workspaces: &[&str]) -> Key {
        registry::register_agent(
            &self.world.agents,
            cli(),
            NewAgent {
                agent_id: AgentId::parse(id).unwrap(),
                agent_type: AgentType::Accounting,
                maturity,
                workspaces: workspaces
                    .iter()
                    .map(|w| WorkspaceId::parse(w).unwrap())
                    .collect(),
                enabled: true,
            },
        )
        .await
        .unwrap();
        self.key(id, &["tools:call"]).await
    }

    /// A key of agent `owner` (which need not exist) with `scopes`, and a
    /// limit high enough for bursts of concurrent calls.
    async fn key(&self, owner: &str, scopes: &[&str]) -> Key {
        let created = create_key(
            &self.world.agents,
            &self.world.agents.pepper,
            cli(),
            KeySpec {
                owner: KeyOwner::Agent(AgentId::parse(owner).unwrap()),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                expires_at: None,
                rate_limit_per_hour: Some(600_000),
                created_by: None,
            },
        )
        .await
        .unwrap();
        Key {
            key: created.key.expose_secret().to_owned(),
            id: created.record.key_id,
        }
    }

    /// A key of agent `owner`, which is not in the registry (as if the
    /// agent had been removed from the store after its key was made):
    /// `create_key` refuses an unknown agent, so `like`'s record is stored
    /// again under a new id and that owner.
    async fn orphan_key(&self, like: &Key, owner: &str) -> Key {
        let mut record = self
            .world
            .agents
            .store
            .get_api_key(&like.id)
            .await
            .unwrap()
            .unwrap();
        record.key_id = ulid::Ulid::new().to_string();
        record.owner = KeyOwner::Agent(AgentId::parse(owner).unwrap());
        record.usage_count = 0;
        record.last_used_at = None;
        record.tat = None;
        let secret = like.key.splitn(3, '_').nth(2).unwrap();
        let key = format!("wdn_{}_{secret}", record.key_id);
        let id = record.key_id.clone();
        self.world
            .agents
            .store
            .transact(vec![ApiKeyWrite::Create(record).into()])
            .await
            .unwrap();
        Key { key, id }
    }

    /// Signs everyone in again after the clock moved past their tokens.
    async fn sign_in_again(&mut self) {
        self.alice = sign_in(&self.world, "alice").await;
        self.bob = sign_in(&self.world, "bob").await;
        self.dave = sign_in(&self.world, "dave").await;
    }

    /// One request to the handler, a millisecond after the last (each
    /// call's ULIDs and audit events then sort in order).
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        self.world.clock.advance_millis(1);
        let mut all = headers.to_vec();
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        let body = body.map_or(Body::Empty, Body::from);
        let response = warden_agent_run::handler(
            &self.world.agents,
            api_request(method, path, &all, body, "10.0.0.1"),
        )
        .await
        .unwrap();
        let status = response.status();
        let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        let body = json_body(&response);
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
        Reply {
            status,
            headers: response.headers().clone(),
            body,
            text,
        }
    }

    /// `POST /agents/{agent}/tool-calls` with `key` and the body as given.
    async fn post_call(
        &self,
        key: &Key,
        agent: &str,
        body: String,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut headers = vec![("x-api-key", key.key.as_str())];
        headers.extend_from_slice(extra);
        self.send(
            "POST",
            &format!("/agents/{agent}/tool-calls"),
            &headers,
            Some(body),
        )
        .await
    }

    /// A call of `tool` in `acme` with `arguments` (JSON text, as written).
    async fn call(&self, key: &Key, agent: &str, tool: &str, arguments: &str) -> Reply {
        self.call_in(key, agent, "acme", tool, arguments).await
    }

    async fn call_in(
        &self,
        key: &Key,
        agent: &str,
        workspace: &str,
        tool: &str,
        arguments: &str,
    ) -> Reply {
        let body =
            format!(r#"{{"workspace_id":"{workspace}","tool":"{tool}","arguments":{arguments}}}"#);
        self.post_call(key, agent, body, &[]).await
    }

    /// `method path` as `who` (bearer).
    async fn as_person(
        &self,
        who: &Person,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Reply {
        let auth = format!("Bearer {}", who.token);
        self.send(method, path, &[("authorization", auth.as_str())], body)
            .await
    }

    /// `method path` with `key`.
    async fn as_key(&self, key: &Key, method: &str, path: &str, body: Option<String>) -> Reply {
        self.send(method, path, &[("x-api-key", key.key.as_str())], body)
            .await
    }

    async fn decide(&self, who: &Person, proposal_id: &str, verb: &str) -> Reply {
        self.as_person(
            who,
            "POST",
            &format!("/agents/proposals/{proposal_id}/{verb}"),
            None,
        )
        .await
    }

    /// Approves `proposal_id` as bob, asserting the `200`.
    async fn approve(&self, proposal_id: &str) -> Reply {
        let reply = self.decide(&self.bob, proposal_id, "approve").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply
    }

    /// The proposals of `status` bob sees.
    async fn proposals(&self, status: &str) -> Vec<Value> {
        let reply = self
            .as_person(
                &self.bob,
                "GET",
                &format!("/agents/proposals?status={status}"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["proposals"].as_array().unwrap().clone()
    }

    /// The ids of the proposals of `status`.
    async fn proposal_ids(&self, status: &str) -> Vec<String> {
        self.proposals(status)
            .await
            .iter()
            .map(|p| p["proposal_id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The newest audit events `actor` caused, newest first.
    async fn events(&self, actor: &str, limit: usize) -> Vec<AuditEvent> {
        self.world
            .agents
            .store
            .audit_by_actor(actor, limit)
            .await
            .unwrap()
    }

    /// The newest audit event of `key`.
    async fn last_event(&self, key: &Key) -> AuditEvent {
        self.events(&key.actor(), 1)
            .await
            .into_iter()
            .next()
            .expect("an audit event")
    }

    /// Verifies a decision token as a tool server of `tool` would, now.
    fn verify(&self, token: &str, tool: &str) -> DecisionClaims {
        self.world
            .agents
            .decisions
            .as_ref()
            .unwrap()
            .verify(token, tool, self.world.clock.now_secs())
            .unwrap_or_else(|e| panic!("the decision token does not verify: {e}"))
    }

    async fn set_enabled(&self, agent: &str, enabled: bool) {
        registry::set_enabled(
            &self.world.agents,
            cli(),
            &AgentId::parse(agent).unwrap(),
            enabled,
        )
        .await
        .unwrap();
    }

    async fn set_maturity(&self, agent: &str, maturity: Maturity) {
        registry::set_maturity(
            &self.world.agents,
            cli(),
            &AgentId::parse(agent).unwrap(),
            maturity,
        )
        .await
        .unwrap();
    }
}

async fn person(world: &AgentWorld, name: &str, roles: &[Role]) -> Person {
    create_user(
        &world.auth,
        cli(),
        &Username::parse(name).unwrap(),
        &SecretString::from(format!("{name} password")),
        roles,
    )
    .await
    .unwrap();
    sign_in(world, name).await
}

/// Makes `name` a member of `workspace`.
async fn member(world: &AgentWorld, workspace: &str, name: &str) {
    registry::set_membership(
        &world.agents,
        &*world.auth.store,
        cli(),
        &WorkspaceId::parse(workspace).unwrap(),
        &Username::parse(name).unwrap(),
        true,
    )
    .await
    .unwrap();
}

/// A fresh access token (they last 15 minutes; some checks travel in time).
async fn sign_in(world: &AgentWorld, name: &str) -> Person {
    let password = SecretString::from(format!("{name} password"));
    let ctx = RequestContext::for_tests(&format!("10.1.{}.{}", name.len(), name.as_bytes()[0]));
    let pair = login::login(
        &world.auth,
        &ctx,
        LoginRequest {
            username: name.into(),
            password,
        },
    )
    .await
    .unwrap();
    Person {
        token: pair.access_token,
    }
}

/// Asserts a `403` with `reason` (a governance refusal: no challenge).
fn assert_refused(reply: &Reply, reason: &str, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "{what}: {}",
        reply.body
    );
    assert_eq!(reply.body["reason"], reason, "{what}: {}", reply.body);
    assert!(
        reply.header("www-authenticate").is_none(),
        "{what}: a governance 403 carries no challenge"
    );
}

/// Asserts a `202` that opened or repeated a proposal, and returns its
/// `(proposal_id, call_id)`.
fn assert_proposed(reply: &Reply, what: &str) -> (String, String) {
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{what}: {}", reply.body);
    assert_eq!(reply.body["decision"], "approval_required", "{what}");
    let call_id = reply.str("call_id");
    assert_eq!(
        reply.header("location"),
        Some(format!("/agents/tool-calls/{call_id}").as_str()),
        "{what}"
    );
    // A person must decide: look again in 30 s.
    assert_eq!(reply.header("retry-after"), Some("30"), "{what}");
    assert!(reply.body["expires_at"].is_string(), "{what}");
    (reply.str("proposal_id"), call_id)
}

/// Asserts a `200` allow, and returns its call id.
fn assert_allowed(reply: &Reply, what: &str) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
    assert_eq!(reply.body["decision"], "allow", "{what}");
    assert!(reply.body["decision_token"].is_string(), "{what}");
    reply.str("call_id")
}

/// [`Harness::new`], for the checks [`warden::on_both_stores!`] runs.
async fn harness<S: Stores>(store: Arc<S>) -> Harness {
    Harness::new(store).await
}

warden::on_both_stores!(std::convert::identity;
    every_cell_of_the_tool_table_answers_and_audits_the_hash_never_the_arguments,
    each_refusal_answers_its_reason_in_the_contracts_order,
    credentials_are_checked_before_the_call_and_a_person_is_not_the_agent,
    a_rejected_call_is_refused_until_the_rejection_runs_out_whatever_the_maturity,
    a_used_approval_refuses_identical_calls_for_a_minute_then_a_new_proposal_opens,
    arguments_must_be_i_json_and_a_null_member_is_kept,
    concurrent_identical_calls_open_one_proposal_and_use_one_approval_once,
    an_approval_binds_the_exact_arguments_not_their_spelling,
    an_unused_approval_and_an_undecided_proposal_expire_after_the_ttl,
    the_kill_switch_and_a_demotion_void_approvals_and_re_enabling_revives_none,
    a_call_over_the_pending_maximum_is_429_and_proposals_past_the_ttl_do_not_count,
    proposals_past_their_window_leave_the_open_listings_and_list_expired,
    tool_call_proposals_are_listed_and_decided_by_the_proposal_endpoints,
    the_agent_reports_an_outcome_once_and_calls_are_listed_like_runs,
    registering_a_tool_again_or_removing_it_voids_its_proposals_and_approvals,
    a_decision_token_is_no_access_token_and_its_key_set_is_public_and_separate,
    an_idempotency_key_answers_the_same_call_again_and_refuses_another_body,
    a_replayed_allow_mints_no_token_once_the_agent_is_disabled_or_demoted,
    the_person_a_key_is_for_cannot_approve_what_it_asks_for,
);

/// `warden apikeys create --for USERNAME`: the person an agent's key is
/// for answers for the agent, so they may reject but never approve what
/// the key asks for; another approver may.
async fn the_person_a_key_is_for_cannot_approve_what_it_asks_for<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("intern", Maturity::Intern).await;
    member(&h.world, "acme", "dave").await;
    let bob_id = h
        .world
        .auth
        .tokens
        .verify(&h.bob.token, h.world.clock.now_secs())
        .await
        .unwrap()
        .sub
        .clone();
    let created = create_key(
        &h.world.agents,
        &h.world.agents.pepper,
        cli(),
        KeySpec {
            owner: KeyOwner::Agent(AgentId::parse("intern").unwrap()),
            scopes: vec!["tools:call".into()],
            expires_at: None,
            rate_limit_per_hour: None,
            created_by: Some(bob_id.clone()),
        },
    )
    .await
    .unwrap();
    assert_eq!(created.record.created_by.as_deref(), Some(bob_id.as_str()));
    let key = Key {
        key: created.key.expose_secret().to_owned(),
        id: created.record.key_id,
    };
    let (first, _) = assert_proposed(&h.call(&key, "intern", "t2", ARGS).await, "first");
    let reply = h.decide(&h.bob, &first, "approve").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    let refused = h
        .world
        .agents
        .store
        .audit_by_actor(&format!("user:{bob_id}"), 10)
        .await
        .unwrap();
    assert!(
        refused
            .iter()
            .any(|e| e.event_type == EventType::ProposalDecisionRefused
                && e.details["rule"] == "own_request"),
        "{refused:?}"
    );
    // Another approver may approve; the person the key is for may reject.
    let reply = h.decide(&h.dave, &first, "approve").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (second, _) = assert_proposed(&h.call(&key, "intern", "t2", r#"{"i":2}"#).await, "second");
    let reply = h.decide(&h.bob, &second, "reject").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn every_cell_of_the_tool_table_answers_and_audits_the_hash_never_the_arguments<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    use Maturity::*;
    // (maturity, [complexity 1, 2, 3, 4]): 403 maturity, P proposal, R runs.
    let table = [
        (Student, ["403", "403", "403", "403"]),
        (Intern, ["P", "P", "P", "P"]),
        (Supervised, ["R", "R", "R", "P"]),
        (Autonomous, ["R", "R", "R", "R"]),
    ];
    for (maturity, row) in table {
        let agent = maturity.as_str().to_ascii_lowercase();
        let key = h.agent(&agent, maturity).await;
        for (i, expected) in row.into_iter().enumerate() {
            let level = i + 1;
            let tool = format!("t{level}");
            let cell = format!("{maturity} x complexity {level}");
            let reply = h.call(&key, &agent, &tool, ARGS).await;
            let event = h.last_event(&key).await;
            match expected {
                "403" => {
                    assert_refused(&reply, "maturity", &cell);
                    assert_eq!(event.event_type, EventType::ToolCallBlocked, "{cell}");
                    assert_eq!(event.details["reason"], "maturity", "{cell}");
                }
                "P" => {
                    let (proposal_id, call_id) = assert_proposed(&reply, &cell);
                    assert_eq!(
                        reply.body["expires_at"],
                        rfc3339(h.world.clock.now_secs() + 900),
                        "{cell}"
                    );
                    assert_eq!(event.event_type, EventType::ToolCallProposed, "{cell}");
                    assert_eq!(event.details["call_id"], call_id.as_str(), "{cell}");
                    assert_eq!(event.details["proposal_id"], proposal_id.as_str(), "{cell}");
                }
                _ => {
                    let call_id = assert_allowed(&reply, &cell);
                    assert!(reply.body.get("proposal_id").is_none(), "{cell}");
                    assert_eq!(reply.body["arguments_sha256"], ARGS_SHA256, "{cell}");
                    let claims = h.verify(&reply.str("decision_token"), &tool);
                    assert_eq!(claims.jti, call_id, "{cell}");
                    assert_eq!(claims.aud, format!("tool:{tool}"), "{cell}");
                    assert_eq!(claims.tool, tool, "{cell}");
                    assert_eq!(claims.arguments_sha256, ARGS_SHA256, "{cell}");
                    assert_eq!(claims.workspace_id, "acme", "{cell}");
                    assert_eq!(claims.sub, key.actor(), "{cell}");
                    assert_eq!(claims.act.sub, format!("agent:{agent}"), "{cell}");
                    assert!(claims.exp - claims.iat <= 60, "{cell}");
                    // A token for another tool does not pass.
                    let other = if tool == "t1" { "t2" } else { "t1" };
                    assert!(
                        h.world
                            .agents
                            .decisions
                            .as_ref()
                            .unwrap()
                            .verify(
                                &reply.str("decision_token"),
                                other,
                                h.world.clock.now_secs()
                            )
                            .is_err(),
                        "{cell}"
                    );
                    assert_eq!(event.event_type, EventType::ToolCallAllowed, "{cell}");
                    assert_eq!(event.details["call_id"], call_id.as_str(), "{cell}");
                }
            }
            // Every decision is audited with the call's fields...
            assert_eq!(event.actor, key.actor(), "{cell}");
            assert_eq!(
                event.subject.as_deref(),
                Some(format!("agent:{agent}").as_str())
            );
            assert_eq!(event.details["caller"], key.actor(), "{cell}");
            assert_eq!(event.details["workspace_id"], "acme", "{cell}");
            assert_eq!(event.details["tool"], tool.as_str(), "{cell}");
            assert_eq!(event.details["arguments_sha256"], ARGS_SHA256, "{cell}");
            assert_eq!(event.details["maturity"], maturity.as_str(), "{cell}");
            assert_eq!(event.details["complexity"], json!(level), "{cell}");
            // ...the table that decided, and the tool's registration.
            assert_eq!(
                event.details["table_version"],
                warden::agents::governance::TABLE_VERSION,
                "{cell}"
            );
            assert!(event.details["tool_version"].is_string(), "{cell}");
            // ...and never the arguments (note 46).
            let text = serde_json::to_string(&event).unwrap();
            assert!(!text.contains(SECRET), "{cell}: {text}");
            assert!(event.details.get("arguments").is_none(), "{cell}");
        }
    }
    // Nothing about the arguments is in any audit event of any caller.
    let events = h
        .world
        .agents
        .store
        .query_audit(&warden::store::AuditQuery {
            actor: None,
            event_type: None,
            since_millis: h.world.clock.now_millis() - 3_600_000,
            until_millis: h.world.clock.now_millis(),
            limit: 1000,
            before: None,
        })
        .await
        .unwrap();
    assert!(events.len() >= 16, "{}", events.len());
    for event in events {
        let text = serde_json::to_string(&event).unwrap();
        assert!(!text.contains(SECRET), "{text}");
    }
}

async fn each_refusal_answers_its_reason_in_the_contracts_order<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    // Unknown agent (a key whose agent is not in the registry), unknown
    // workspace: 404, audited.
    let key = h.agent("worker", Maturity::Student).await;
    let ghost = h.orphan_key(&key, "ghost").await;
    let reply = h.call(&ghost, "ghost", "t1", ARGS).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let event = h.last_event(&ghost).await;
    assert_eq!(event.event_type, EventType::ToolCallBlocked);
    assert_eq!(event.details["reason"], "unknown_agent");
    for workspace in ["nowhere", "not a workspace!"] {
        let reply = h.call_in(&key, "worker", workspace, "t1", ARGS).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{workspace}: {}",
            reply.body
        );
        assert_eq!(
            h.last_event(&key).await.details["reason"],
            "unknown_workspace",
            "{workspace}"
        );
    }
    // `workspace` comes before the tool: `other` exists, the agent may not
    // work there, and t1 is not registered there either.
    let reply = h.call_in(&key, "worker", "other", "t1", ARGS).await;
    assert_refused(&reply, "workspace", "agent outside its workspaces");
    assert_eq!(h.last_event(&key).await.details["reason"], "workspace");
    // `tool_not_allowed` before `maturity` (the agent is a STUDENT): an
    // unknown tool, and a tool not registered for the workspace.
    for tool in ["nope", "elsewhere"] {
        let reply = h.call(&key, "worker", tool, ARGS).await;
        assert_refused(&reply, "tool_not_allowed", tool);
        let event = h.last_event(&key).await;
        assert_eq!(event.details["reason"], "tool_not_allowed", "{tool}");
        assert_eq!(event.details["tool"], tool, "{tool}");
    }
    // `maturity`.
    assert_refused(
        &h.call(&key, "worker", "t1", ARGS).await,
        "maturity",
        "student",
    );
    // `agent_disabled` before `tool_not_allowed` and `maturity`.
    h.set_enabled("worker", false).await;
    for tool in ["nope", "t1"] {
        let reply = h.call(&key, "worker", tool, ARGS).await;
        assert_refused(&reply, "agent_disabled", tool);
        assert_eq!(h.last_event(&key).await.details["reason"], "agent_disabled");
    }
    // ...and after `workspace`.
    assert_refused(
        &h.call_in(&key, "worker", "other", "t1", ARGS).await,
        "workspace",
        "disabled, outside its workspaces",
    );
    // An agent allowed in `other` only may not call in acme.
    let outsider = h
        .agent_in("outsider", Maturity::Autonomous, &["other"])
        .await;
    assert_refused(
        &h.call(&outsider, "outsider", "t1", ARGS).await,
        "workspace",
        "an agent of other in acme",
    );
    let reply = h
        .call_in(&outsider, "outsider", "other", "elsewhere", ARGS)
        .await;
    assert_allowed(&reply, "the tool of other in other");
}

async fn credentials_are_checked_before_the_call_and_a_person_is_not_the_agent<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("worker", Maturity::Autonomous).await;
    let other = h.agent("someone", Maturity::Autonomous).await;
    let body = || json!({"workspace_id": "acme", "tool": "t1", "arguments": {"a": 1}}).to_string();
    // No credentials: 401, even with a malformed body.
    for b in [body(), "not json".to_owned()] {
        let reply = h
            .send("POST", "/agents/worker/tool-calls", &[], Some(b))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
        assert!(reply.header("www-authenticate").is_some());
    }
    // A key without tools:call: 403 insufficient_scope.
    let runner = h.key("worker", &["agents:run"]).await;
    let reply = h.post_call(&runner, "worker", body(), &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|c| c.contains("insufficient_scope")),
        "{:?}",
        reply.headers
    );
    // A person's bearer token (a user's, an approver's): 403, a person is
    // not the agent; the problem carries no reason (no governance rule).
    for who in [&h.alice, &h.bob] {
        let reply = h
            .as_person(who, "POST", "/agents/worker/tool-calls", Some(body()))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert!(reply.body.get("reason").is_none(), "{}", reply.body);
    }
    // Another agent's key: 403, whether or not the path's agent exists.
    for agent in ["worker", "ghost"] {
        let reply = h.post_call(&other, agent, body(), &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{agent}: {}",
            reply.body
        );
    }
    // A malformed body after a valid key: 400.
    for bad in [
        "not json".to_owned(),
        r#"{"workspace_id":"acme","tool":"t1"}"#.to_owned(),
        r#"{"workspace_id":"acme","tool":"t1","arguments":[1]}"#.to_owned(),
        r#"{"workspace_id":"acme","tool":"no spaces allowed","arguments":{}}"#.to_owned(),
    ] {
        let reply = h.post_call(&key, "worker", bad.clone(), &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.body
        );
    }
    // The key's own call goes through.
    assert_allowed(&h.post_call(&key, "worker", body(), &[]).await, "own key");
    // Another agent's key is refused before the body's faults: a body
    // that parses but names no valid tool is 403 (the use case checks the
    // owner first)...
    let reply = h
        .post_call(
            &other,
            "worker",
            r#"{"workspace_id":"acme","tool":"no spaces allowed","arguments":{}}"#.to_owned(),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    // ...and so must a body that does not parse: 403, not 400.
    let reply = h
        .post_call(&other, "worker", "not json".to_owned(), &[])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
}

async fn a_rejected_call_is_refused_until_the_rejection_runs_out_whatever_the_maturity<
    S: Stores,
>(
    store: Arc<S>,
) {
    let mut h = harness(store).await;
    let key = h.agent("intern", Maturity::Intern).await;
    let (proposal_id, _) = assert_proposed(&h.call(&key, "intern", "t4", ARGS).await, "first");
    let rejected = h.decide(&h.bob, &proposal_id, "reject").await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
    assert_eq!(rejected.body["status"], "REJECTED");
    let reply = h.call(&key, "intern", "t4", ARGS).await;
    assert_refused(&reply, "approval_rejected", "identical call");
    let event = h.last_event(&key).await;
    assert_eq!(event.details["reason"], "approval_rejected");
    assert_eq!(event.details["proposal_id"], proposal_id.as_str());
    // Other arguments are another call.
    assert_proposed(
        &h.call(&key, "intern", "t4", r#"{"x":1}"#).await,
        "other args",
    );
    // Whatever the maturity now.
    h.set_maturity("intern", Maturity::Autonomous).await;
    assert_refused(
        &h.call(&key, "intern", "t4", ARGS).await,
        "approval_rejected",
        "promoted",
    );
    // Until rejected_at + TTL: then decided afresh (AUTONOMOUS runs it).
    h.world.clock.advance_secs(TTL - 2.0);
    assert_refused(
        &h.call(&key, "intern", "t4", ARGS).await,
        "approval_rejected",
        "just before the TTL",
    );
    h.world.clock.advance_secs(2.0);
    h.sign_in_again().await;
    let reply = h.call(&key, "intern", "t4", ARGS).await;
    assert_allowed(&reply, "after the TTL");
}

async fn a_used_approval_refuses_identical_calls_for_a_minute_then_a_new_proposal_opens<
    S: Stores,
>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("intern", Maturity::Intern).await;
    let (proposal_id, call_id) =
        assert_proposed(&h.call(&key, "intern", "t2", ARGS).await, "first");
    // While pending, an identical call answers the same 202.
    let again = h.call(&key, "intern", "t2", ARGS).await;
    assert_eq!(
        assert_proposed(&again, "pending"),
        (proposal_id.clone(), call_id.clone())
    );
    h.approve(&proposal_id).await;
    let used = h.call(&key, "intern", "t2", ARGS).await;
    assert_eq!(assert_allowed(&used, "approved"), call_id);
    assert_eq!(used.body["proposal_id"], proposal_id.as_str());
    let event = h.last_event(&key).await;
    assert_eq!(event.event_type, EventType::ToolCallApprovalConsumed);
    assert_eq!(event.details["proposal_id"], proposal_id.as_str());
    let claims = h.verify(&used.str("decision_token"), "t2");
    assert_eq!(claims.jti, call_id);
    assert_eq!(claims.proposal_id.as_deref(), Some(proposal_id.as_str()));
    // Within 60 s: approval_used.
    let reply = h.call(&key, "intern", "t2", ARGS).await;
    assert_refused(&reply, "approval_used", "used a moment ago");
    assert_eq!(h.last_event(&key).await.details["reason"], "approval_used");
    h.world.clock.advance_secs(58.0);
    assert_refused(
        &h.call(&key, "intern", "t2", ARGS).await,
        "approval_used",
        "used 58 s ago",
    );
    // After 60 s: a new proposal.
    h.world.clock.advance_secs(2.0);
    let (new_proposal, new_call) =
        assert_proposed(&h.call(&key, "intern", "t2", ARGS).await, "a minute later");
    assert_ne!(new_proposal, proposal_id);
    assert_ne!(new_call, call_id);
    // The used one lists as USED.
    assert!(h.proposal_ids("USED").await.contains(&proposal_id));
}

async fn arguments_must_be_i_json_and_a_null_member_is_kept<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    let key = h.agent("worker", Maturity::Autonomous).await;
    for (arguments, path) in [
        (r#"{"big":9007199254740993}"#, "arguments.big"),
        (r#"{"big":12345678901234567890}"#, "arguments.big"),
        (
            r#"{"items":[{"price":0.10000000000000000001}]}"#,
            "arguments.items[0].price",
        ),
        (r#"{"a":1,"a":2}"#, "arguments.a"),
        (r#"{"x":{"b":true,"b":true}}"#, "arguments.x.b"),
    ] {
        let reply = h.call(&key, "worker", "t1", arguments).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{arguments}: {}",
            reply.body
        );
        let detail = reply.str("detail");
        assert!(detail.contains(path), "{arguments}: {detail}");
    }
    // Fine: 1E21, 19.99, 2^53.
    let reply = h
        .call(
            &key,
            "worker",
            "t1",
            r#"{"price":19.99,"big":1E21,"max":9007199254740992}"#,
        )
        .await;
    assert_allowed(&reply, "exact numbers");
    assert_eq!(
        reply.body["arguments_sha256"],
        // SHA-256 of {"big":1e+21,"max":9007199254740992,"price":19.99}.
        "5a2e9f782fa3867d99e5019d07b0ffe9339a4255e6c83e27ad3089553698e4db"
    );
    // A null member is kept: it is another call.
    let with_null = h.call(&key, "worker", "t1", r#"{"a":1,"b":null}"#).await;
    let without = h.call(&key, "worker", "t1", r#"{"a":1}"#).await;
    assert_allowed(&with_null, "with null");
    assert_allowed(&without, "without");
    assert_eq!(
        with_null.body["arguments_sha256"],
        "46e0ff59f6164548317489fbea1133a48f7a83c325c3535e44559c9619afb76b"
    );
    assert_eq!(
        without.body["arguments_sha256"],
        "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
    );
}

async fn concurrent_identical_calls_open_one_proposal_and_use_one_approval_once<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("racer", Maturity::Intern).await;
    let first = join_all((0..20).map(|_| h.call(&key, "racer", "t4", ARGS)).collect()).await;
    // Answers refused by the key's rate limiter never reached the decision:
    // they are counted, and refused at the end (see the last assertion).
    let limited = |replies: &[Reply]| {
        replies
            .iter()
            .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
            .count()
    };
    let first_limited = limited(&first);
    let answers: Vec<(String, String)> = first
        .iter()
        .filter(|r| r.status != StatusCode::TOO_MANY_REQUESTS)
        .map(|r| assert_proposed(r, "concurrent"))
        .collect();
    let (proposal_id, call_id) = answers[0].clone();
    assert!(
        answers
            .iter()
            .all(|a| *a == (proposal_id.clone(), call_id.clone())),
        "{answers:?}"
    );
    let listed: Vec<Value> = h
        .proposals("PENDING")
        .await
        .into_iter()
        .filter(|p| p["kind"] == "tool_call")
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["proposal_id"], proposal_id.as_str());
    // Identical calls while it is pending write at most one audit event per
    // proposal per minute: the one that opened it.
    let proposed = |events: &[AuditEvent]| {
        events
            .iter()
            .filter(|e| e.event_type == EventType::ToolCallProposed)
            .count()
    };
    assert_eq!(proposed(&h.events(&key.actor(), 100).await), 1);
    h.world.clock.advance_secs(61.0);
    for _ in 0..3 {
        assert_proposed(&h.call(&key, "racer", "t4", ARGS).await, "a minute later");
    }
    let events = h.events(&key.actor(), 100).await;
    assert_eq!(proposed(&events), 2);
    assert_eq!(events[0].details["repeated"], true, "{:?}", events[0]);
    h.approve(&proposal_id).await;
    let second = join_all((0..20).map(|_| h.call(&key, "racer", "t4", ARGS)).collect()).await;
    let second_limited = limited(&second);
    let allowed: Vec<&Reply> = second
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(
        allowed.len(),
        1,
        "{:?}",
        second.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    assert_eq!(allowed[0].body["proposal_id"], proposal_id.as_str());
    assert_eq!(allowed[0].body["call_id"], call_id.as_str());
    for reply in second
        .iter()
        .filter(|r| r.status != StatusCode::OK && r.status != StatusCode::TOO_MANY_REQUESTS)
    {
        assert_refused(reply, "approval_used", "a concurrent identical call");
    }
    assert_eq!(h.proposal_ids("USED").await, vec![proposal_id]);
    // Twenty requests are far within the key's limit (a burst of 10,000):
    // none may be refused 429.
    assert_eq!(
        (first_limited, second_limited),
        (0, 0),
        "(first round, second round): concurrent calls of one key within its limit \
         were answered 429"
    );
}

async fn an_approval_binds_the_exact_arguments_not_their_spelling<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    let key = h.agent("intern", Maturity::Intern).await;
    let (proposal_id, call_id) =
        assert_proposed(&h.call(&key, "intern", "t3", ARGS).await, "first");
    h.approve(&proposal_id).await;
    // One value differs: its own proposal.
    let changed = r#"{"note":"s3cr3t-arg-value","amount":19.98,"n":[1,2]}"#;
    let (other, _) = assert_proposed(&h.call(&key, "intern", "t3", changed).await, "changed");
    assert_ne!(other, proposal_id);
    // Another tool with the same arguments: its own proposal too.
    let (third, _) = assert_proposed(&h.call(&key, "intern", "t2", ARGS).await, "other tool");
    assert_ne!(third, proposal_id);
    // Another key of the same agent is another caller: its own proposal.
    let second_key = h.key("intern", &["tools:call"]).await;
    let (fourth, _) = assert_proposed(
        &h.call(&second_key, "intern", "t3", ARGS).await,
        "other key",
    );
    assert_ne!(fourth, proposal_id);
    // The same arguments, keys in another order, other whitespace, an
    // escape for a plain letter and a number written otherwise: allowed.
    let respelled =
        "{ \"n\" : [ 1 , 2 ] ,\n\t\"amount\": 1999e-2, \"not\\u0065\":\"s3cr3t-arg-value\" }";
    let reply = h.call(&key, "intern", "t3", respelled).await;
    assert_eq!(assert_allowed(&reply, "respelled"), call_id);
    assert_eq!(reply.body["proposal_id"], proposal_id.as_str());
    assert_eq!(reply.body["arguments_sha256"], ARGS_SHA256);
}

async fn an_unused_approval_and_an_undecided_proposal_expire_after_the_ttl<S: Stores>(
    store: Arc<S>,
) {
    let mut h = harness(store).await;
    assert_eq!(h.world.agents.config.tool_approval_ttl_secs, 900);
    let key = h.agent("intern", Maturity::Intern).await;
    // An approval still counts just before approved_at + TTL.
    let (early, _) = assert_proposed(&h.call(&key, "intern", "t4", r#"{"i":0}"#).await, "early");
    h.approve(&early).await;
    h.world.clock.advance_secs(TTL - 2.0);
    assert_allowed(
        &h.call(&key, "intern", "t4", r#"{"i":0}"#).await,
        "just before the TTL",
    );
    h.sign_in_again().await;
    // An unused approval past approved_at + TTL: a new proposal.
    let (approved, approved_call) =
        assert_proposed(&h.call(&key, "intern", "t4", ARGS).await, "first");
    h.approve(&approved).await;
    // A pending proposal past created_at + TTL.
    let (pending, pending_call) =
        assert_proposed(&h.call(&key, "intern", "t4", r#"{"i":1}"#).await, "pending");
    h.world.clock.advance_secs(TTL);
    h.sign_in_again().await;
    // Their calls read EXPIRED before anything wrote it.
    for call in [&approved_call, &pending_call] {
        let shown = h
            .as_key(&key, "GET", &format!("/agents/tool-calls/{call}"), None)
            .await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
        assert_eq!(shown.body["status"], "EXPIRED", "{}", shown.body);
    }
    let (renewed, _) = assert_proposed(&h.call(&key, "intern", "t4", ARGS).await, "after the TTL");
    assert_ne!(renewed, approved);
    let refused = h.decide(&h.bob, &pending, "approve").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let expired = h.proposal_ids("EXPIRED").await;
    assert!(expired.contains(&approved), "{expired:?}");
    assert!(expired.contains(&pending), "{expired:?}");
    let pending_now = h.proposal_ids("PENDING").await;
    assert_eq!(pending_now, vec![renewed]);
}

/// API.md "Clocks": past its window a pending proposal is `EXPIRED`, and
/// an unused approval "then shows `EXPIRED`". Listing `status=EXPIRED`
/// first, before anything else read them, must show both.
async fn proposals_past_their_window_leave_the_open_listings_and_list_expired<S: Stores>(
    store: Arc<S>,
) {
    let mut h = harness(store).await;
    let key = h.agent("intern", Maturity::Intern).await;
    let (approved, _) = assert_proposed(&h.call(&key, "intern", "t4", ARGS).await, "approved");
    h.approve(&approved).await;
    let (pending, _) =
        assert_proposed(&h.call(&key, "intern", "t4", r#"{"i":1}"#).await, "pending");
    h.world.clock.advance_secs(TTL);
    h.sign_in_again().await;
    // As for runs, an expiry is written when the proposal is next read:
    // the listings of what is still open leave them out and write it.
    assert!(!h.proposal_ids("PENDING").await.contains(&pending));
    assert!(!h.proposal_ids("APPROVED").await.contains(&approved));
    let expired = h.proposal_ids("EXPIRED").await;
    assert!(
        expired.contains(&approved) && expired.contains(&pending),
        "listed EXPIRED: {expired:?}; approved {approved}, pending {pending}"
    );
}

async fn the_kill_switch_and_a_demotion_void_approvals_and_re_enabling_revives_none<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("agent", Maturity::Supervised).await;
    let (approved, _) = assert_proposed(&h.call(&key, "agent", "t4", ARGS).await, "first");
    h.approve(&approved).await;
    let (pending, _) = assert_proposed(&h.call(&key, "agent", "t4", r#"{"i":1}"#).await, "pending");
    h.set_enabled("agent", false).await;
    // A pending proposal of a disabled agent can no longer be approved.
    let reply = h.decide(&h.bob, &pending, "approve").await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert!(h.proposal_ids("EXPIRED").await.contains(&pending));
    assert_refused(
        &h.call(&key, "agent", "t4", ARGS).await,
        "agent_disabled",
        "disabled after the approval",
    );
    // Re-enabling revives nothing: the identical call opens a new proposal.
    h.set_enabled("agent", true).await;
    let (renewed, _) = assert_proposed(&h.call(&key, "agent", "t4", ARGS).await, "re-enabled");
    assert_ne!(renewed, approved);
    assert!(h.proposal_ids("EXPIRED").await.contains(&approved));
    // A demotion voids an approval too.
    h.approve(&renewed).await;
    h.set_maturity("agent", Maturity::Intern).await;
    let (after_demotion, _) = assert_proposed(&h.call(&key, "agent", "t4", ARGS).await, "demoted");
    assert_ne!(after_demotion, renewed);
    // A promotion does not void one.
    h.approve(&after_demotion).await;
    h.set_maturity("agent", Maturity::Supervised).await;
    let reply = h.call(&key, "agent", "t4", ARGS).await;
    assert_allowed(&reply, "promoted");
    assert_eq!(reply.body["proposal_id"], after_demotion.as_str());
}

async fn a_call_over_the_pending_maximum_is_429_and_proposals_past_the_ttl_do_not_count<
    S: Stores,
>(
    store: Arc<S>,
) {
    let mut h = harness(store).await;
    h.world.agents.registry.config.tool_pending_max = 2;
    let key = h.agent("intern", Maturity::Intern).await;
    let other = h.agent("other", Maturity::Intern).await;
    let (first, _) = assert_proposed(&h.call(&key, "intern", "t4", r#"{"i":1}"#).await, "1");
    assert_proposed(&h.call(&key, "intern", "t4", r#"{"i":2}"#).await, "2");
    let reply = h.call(&key, "intern", "t4", r#"{"i":3}"#).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["reason"], "approvals_pending");
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let event = h.last_event(&key).await;
    assert_eq!(event.event_type, EventType::ToolCallBlocked);
    assert_eq!(event.details["reason"], "approvals_pending");
    // An identical call of a pending one opens nothing: the same 202.
    let (same, _) = assert_proposed(&h.call(&key, "intern", "t4", r#"{"i":1}"#).await, "1 again");
    assert_eq!(same, first);
    // The limit is per agent: another agent is not held back.
    assert_proposed(
        &h.call(&other, "other", "t4", r#"{"i":3}"#).await,
        "another agent",
    );
    // A decision frees a slot.
    h.approve(&first).await;
    assert_proposed(
        &h.call(&key, "intern", "t4", r#"{"i":3}"#).await,
        "after a decision",
    );
    assert_eq!(
        h.call(&key, "intern", "t4", r#"{"i":4}"#).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Past created_at + TTL a pending proposal does not count, its expiry
    // written or not (nobody read it since).
    h.world.clock.advance_secs(TTL);
    assert_proposed(
        &h.call(&key, "intern", "t4", r#"{"i":4}"#).await,
        "after the TTL",
    );
    assert_proposed(
        &h.call(&key, "intern", "t4", r#"{"i":5}"#).await,
        "after the TTL",
    );
    assert_eq!(
        h.call(&key, "intern", "t4", r#"{"i":6}"#).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn tool_call_proposals_are_listed_and_decided_by_the_proposal_endpoints<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("intern", Maturity::Intern).await;
    // A run proposal of the same agent, asked for by alice (complexity 3:
    // with an Idempotency-Key).
    let auth = format!("Bearer {}", h.alice.token);
    let run = h
        .send(
            "POST",
            "/agents/intern/runs",
            &[
                ("authorization", auth.as_str()),
                ("idempotency-key", "run-1"),
            ],
            Some(
                json!({"workspace_id": "acme", "action": "resolve_entities",
                       "input": {"records": [{"id": "r1", "email": "ann@example.com"}]}})
                .to_string(),
            ),
        )
        .await;
    assert_eq!(run.status, StatusCode::ACCEPTED, "{}", run.body);
    let run_proposal = run.str("proposal_id");
    let call = h.call(&key, "intern", "t4", ARGS).await;
    let (proposal_id, call_id) = assert_proposed(&call, "tool call");
    let created = h.world.clock.now_secs();
    let listing = h.as_person(&h.bob, "GET", "/agents/proposals", None).await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.body);
    let items = listing.body["proposals"].as_array().unwrap();
    let tool = items
        .iter()
        .find(|p| p["proposal_id"] == proposal_id.as_str())
        .unwrap();
    assert_eq!(tool["kind"], "tool_call");
    assert_eq!(tool["tool"], "t4");
    assert_eq!(tool["call_id"], call_id.as_str());
    assert_eq!(tool["arguments_sha256"], ARGS_SHA256);
    assert_eq!(tool["agent_maturity"], "INTERN");
    assert_eq!(tool["agent_id"], "intern");
    assert_eq!(tool["workspace_id"], "acme");
    assert_eq!(tool["status"], "PENDING");
    assert_eq!(tool["requested_by"], key.actor());
    assert_eq!(tool["expires_at"], rfc3339(created + 900));
    // The arguments, in JCS form (exactly what will run), as JSON.
    assert!(
        listing.text.contains(&format!(r#""arguments":{ARGS_JCS}"#)),
        "{}",
        listing.text
    );
    assert!(tool.get("job_id").is_none() && tool.get("action").is_none());
    let run_item = items
        .iter()
        .find(|p| p["proposal_id"] == run_proposal.as_str())
        .unwrap();
    assert_eq!(run_item["kind"], "run");
    assert_eq!(run_item["agent_maturity"], "INTERN");
    assert!(run_item.get("tool").is_none() && run_item.get("arguments").is_none());
    // A person who is not a member of the workspace: 404, before 409.
    let reply = h.decide(&h.dave, &proposal_id, "approve").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let dave_sees = h.as_person(&h.dave, "GET", "/agents/proposals", None).await;
    assert_eq!(dave_sees.body["proposals"], json!([]));
    // Approving answers 200 with the call id; nothing is queued.
    let queued = h.world.jobs.messages().len();
    let approved = h.decide(&h.bob, &proposal_id, "approve").await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(
        approved.body,
        json!({"proposal_id": proposal_id, "call_id": call_id, "status": "APPROVED"})
    );
    assert_eq!(h.world.jobs.messages().len(), queued);
    let approved_at = h.world.clock.now_secs();
    let listed = h.proposals("APPROVED").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "APPROVED");
    assert_eq!(listed[0]["expires_at"], rfc3339(approved_at + 900));
    assert_eq!(
        listed[0]["decided_by"]
            .as_str()
            .map(|d| d.starts_with("user:")),
        Some(true)
    );
    // A second decision: 409, either way.
    for verb in ["approve", "reject"] {
        let again = h.decide(&h.bob, &proposal_id, verb).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{verb}: {}", again.body);
    }
    let reply = h.decide(&h.dave, &proposal_id, "reject").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    // A user (not an approver) may not decide.
    let reply = h.decide(&h.alice, &proposal_id, "approve").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(h.proposal_ids("APPROVED").await, vec![proposal_id.clone()]);
    // Rejection answers 200 REJECTED.
    let (second, second_call) =
        assert_proposed(&h.call(&key, "intern", "t4", r#"{"x":1}"#).await, "second");
    let rejected = h.decide(&h.bob, &second, "reject").await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
    assert_eq!(rejected.body["status"], "REJECTED");
    assert_eq!(rejected.body["call_id"], second_call.as_str());
    assert!(h.proposal_ids("REJECTED").await.contains(&second));
    // Used: listed USED.
    assert_allowed(&h.call(&key, "intern", "t4", ARGS).await, "approved call");
    let used = h.proposals("USED").await;
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[0]["proposal_id"], proposal_id.as_str());
    assert_eq!(used[0]["status"], "USED");
    assert!(h.proposal_ids("APPROVED").await.is_empty());
}

async fn the_agent_reports_an_outcome_once_and_calls_are_listed_like_runs<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("doer", Maturity::Supervised).await;
    let other = h.agent("other", Maturity::Autonomous).await;
    let mut allowed = Vec::new();
    for tool in ["t1", "t2"] {
        h.world.clock.advance_secs(1.0);
        allowed.push(assert_allowed(
            &h.call(&key, "doer", tool, ARGS).await,
            tool,
        ));
    }
    h.world.clock.advance_secs(1.0);
    let (_, waiting) = assert_proposed(&h.call(&key, "doer", "t4", ARGS).await, "t4");
    h.world.clock.advance_secs(1.0);
    let theirs = assert_allowed(&h.call(&other, "other", "t1", ARGS).await, "other");
    let call_id = allowed[0].clone();
    let outcome = |call: &str| format!("/agents/tool-calls/{call}/outcome");
    // A detail over 1 KiB: 400.
    let long = json!({"status": "succeeded", "detail": "x".repeat(1025)}).to_string();
    let reply = h.as_key(&key, "POST", &outcome(&call_id), Some(long)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = h
        .as_key(
            &key,
            "POST",
            &outcome(&call_id),
            Some(json!({"status": "done"}).to_string()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    // Another agent's key: 404.
    let body = json!({"status": "failed", "detail": "x".repeat(1024)}).to_string();
    let reply = h
        .as_key(&other, "POST", &outcome(&call_id), Some(body.clone()))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    // A call awaiting approval: 404.
    let reply = h
        .as_key(&key, "POST", &outcome(&waiting), Some(body.clone()))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    // The agent's own: 204, audited, once.
    let reply = h
        .as_key(&key, "POST", &outcome(&call_id), Some(body.clone()))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    let event = h.last_event(&key).await;
    assert_eq!(event.event_type, EventType::ToolCallOutcome);
    assert_eq!(event.details["call_id"], call_id.as_str());
    assert_eq!(event.details["status"], "failed");
    let reply = h
        .as_key(
            &key,
            "POST",
            &outcome(&call_id),
            Some(json!({"status": "succeeded"}).to_string()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    // The call shows its outcome.
    let shown = h
        .as_key(&key, "GET", &format!("/agents/tool-calls/{call_id}"), None)
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.body["status"], "ALLOWED");
    assert_eq!(shown.body["decision"], "allow");
    assert_eq!(shown.body["agent_id"], "doer");
    assert_eq!(shown.body["tool"], "t1");
    assert_eq!(shown.body["arguments_sha256"], ARGS_SHA256);
    assert_eq!(shown.body["outcome"]["status"], "failed");
    assert_eq!(shown.body["outcome"]["detail"], "x".repeat(1024));
    // Another agent's key does not see it; a member does; a non-member not.
    let reply = h
        .as_key(
            &other,
            "GET",
            &format!("/agents/tool-calls/{call_id}"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let reply = h
        .as_person(
            &h.alice,
            "GET",
            &format!("/agents/tool-calls/{call_id}"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = h
        .as_person(
            &h.dave,
            "GET",
            &format!("/agents/tool-calls/{call_id}"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    // The awaiting one reads as such.
    let reply = h
        .as_key(&key, "GET", &format!("/agents/tool-calls/{waiting}"), None)
        .await;
    assert_eq!(reply.body["status"], "AWAITING_APPROVAL", "{}", reply.body);
    assert_eq!(reply.body["decision"], "approval_required");
    assert!(reply.body["proposal_id"].is_string());
    // Listed newest first; a key sees its own agent's calls only.
    let ids = |reply: &Reply| -> Vec<String> {
        reply.body["tool_calls"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", reply.body))
            .iter()
            .map(|c| c["call_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mine = h
        .as_key(&key, "GET", "/agents/tool-calls?workspace_id=acme", None)
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert_eq!(
        ids(&mine),
        vec![waiting.clone(), allowed[1].clone(), allowed[0].clone()]
    );
    let everyone = h
        .as_person(&h.bob, "GET", "/agents/tool-calls?workspace_id=acme", None)
        .await;
    assert_eq!(
        ids(&everyone),
        vec![
            theirs,
            waiting.clone(),
            allowed[1].clone(),
            allowed[0].clone()
        ]
    );
    let awaiting = h
        .as_person(
            &h.bob,
            "GET",
            "/agents/tool-calls?workspace_id=acme&status=AWAITING_APPROVAL",
            None,
        )
        .await;
    assert_eq!(ids(&awaiting), vec![waiting]);
    let reply = h
        .as_person(&h.dave, "GET", "/agents/tool-calls?workspace_id=acme", None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
}

async fn registering_a_tool_again_or_removing_it_voids_its_proposals_and_approvals<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("intern", Maturity::Intern).await;
    let (approved, _) = assert_proposed(&h.call(&key, "intern", "t3", ARGS).await, "first");
    h.approve(&approved).await;
    let (pending, _) =
        assert_proposed(&h.call(&key, "intern", "t3", r#"{"i":1}"#).await, "pending");
    // Registered again with another complexity.
    h.tool("t3", 2, &["acme"]).await;
    let (renewed, _) = assert_proposed(&h.call(&key, "intern", "t3", ARGS).await, "re-registered");
    assert_ne!(renewed, approved);
    // The pending one cannot be approved any more, and lists EXPIRED.
    let reply = h.decide(&h.bob, &pending, "approve").await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    let expired = h.proposal_ids("EXPIRED").await;
    assert!(
        expired.contains(&approved) && expired.contains(&pending),
        "{expired:?}"
    );
    assert_eq!(h.proposal_ids("PENDING").await, vec![renewed.clone()]);
    // Registered again identically: still a new registration.
    h.approve(&renewed).await;
    h.tool("t3", 2, &["acme"]).await;
    let (again, _) = assert_proposed(&h.call(&key, "intern", "t3", ARGS).await, "same again");
    assert_ne!(again, renewed);
    // Removed: refused, the approval notwithstanding.
    h.approve(&again).await;
    registry::remove_tool(&h.world.agents, cli(), &ToolName::parse("t3").unwrap())
        .await
        .unwrap();
    assert_refused(
        &h.call(&key, "intern", "t3", ARGS).await,
        "tool_not_allowed",
        "removed",
    );
    // Registered once more: the old approval does not come back.
    h.tool("t3", 2, &["acme"]).await;
    let (last, _) = assert_proposed(&h.call(&key, "intern", "t3", ARGS).await, "back");
    assert_ne!(last, again);
}

async fn a_decision_token_is_no_access_token_and_its_key_set_is_public_and_separate<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("worker", Maturity::Autonomous).await;
    let reply = h.call(&key, "worker", "t1", ARGS).await;
    assert_allowed(&reply, "allowed");
    let token = reply.str("decision_token");
    let header: Value = {
        use base64::Engine as _;
        let encoded = token.split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["typ"], "tool-call+jwt");
    assert_eq!(header["alg"], "RS256");
    // Presented as an access token: 401.
    let as_bearer = h
        .as_person(
            &Person {
                token: token.clone(),
            },
            "GET",
            "/agents/runs?workspace_id=acme",
            None,
        )
        .await;
    assert_eq!(
        as_bearer.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        as_bearer.body
    );
    assert!(
        h.world
            .auth
            .tokens
            .verify(&token, h.world.clock.now_secs())
            .await
            .is_err()
    );
    // The decision key set: public, one RS256 key, not an access key.
    let jwks = h.send("GET", "/tools/jwks.json", &[], None).await;
    assert_eq!(jwks.status, StatusCode::OK, "{}", jwks.body);
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(jwks.header("access-control-allow-origin"), Some("*"));
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{}", jwks.body);
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["use"], "sig");
    assert_eq!(keys[0]["kid"], header["kid"]);
    assert!(keys[0].get("d").is_none());
    let access_kids: Vec<String> = h
        .world
        .agents
        .tokens
        .key_ring()
        .await
        .jwks(h.world.clock.now_secs())
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert!(!access_kids.is_empty());
    assert!(
        !access_kids.iter().any(|k| keys[0]["kid"] == k.as_str()),
        "{access_kids:?}"
    );
    // And an access token does not pass for a decision.
    assert!(
        h.world
            .agents
            .decisions
            .as_ref()
            .unwrap()
            .verify(&h.bob.token, "t1", h.world.clock.now_secs())
            .is_err()
    );
}

async fn an_idempotency_key_answers_the_same_call_again_and_refuses_another_body<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("worker", Maturity::Supervised).await;
    let body = |tool: &str, args: &str| {
        format!(r#"{{"workspace_id":"acme","tool":"{tool}","arguments":{args}}}"#)
    };
    let with = [("idempotency-key", "call-1")];
    let first = h.post_call(&key, "worker", body("t1", ARGS), &with).await;
    let call_id = assert_allowed(&first, "first");
    let again = h.post_call(&key, "worker", body("t1", ARGS), &with).await;
    assert_eq!(assert_allowed(&again, "again"), call_id);
    assert_eq!(h.verify(&again.str("decision_token"), "t1").jti, call_id);
    // Without the key, an identical call is another call.
    let fresh = h.post_call(&key, "worker", body("t1", ARGS), &[]).await;
    assert_ne!(assert_allowed(&fresh, "no key"), call_id);
    // The same key, another body: 409.
    let reply = h
        .post_call(&key, "worker", body("t1", r#"{"x":1}"#), &with)
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    // A proposal is answered again too.
    let with = [("idempotency-key", "call-2")];
    let proposed = h.post_call(&key, "worker", body("t4", ARGS), &with).await;
    let first = assert_proposed(&proposed, "proposal");
    let again = h.post_call(&key, "worker", body("t4", ARGS), &with).await;
    assert_eq!(assert_proposed(&again, "proposal again"), first);
    // Only one call was recorded per key.
    let listed = h
        .as_key(&key, "GET", "/agents/tool-calls?workspace_id=acme", None)
        .await;
    assert_eq!(
        listed.body["tool_calls"].as_array().unwrap().len(),
        3,
        "{}",
        listed.body
    );
}

/// A replay is no way around the kill switch or a demotion: once the agent
/// may no longer make the call, the same Idempotency-Key mints no token
/// (tool_calls.rs `replay` checks the kill switch, the workspace and the
/// tool, not the maturity table nor the kill generation).
async fn a_replayed_allow_mints_no_token_once_the_agent_is_disabled_or_demoted<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    let key = h.agent("worker", Maturity::Supervised).await;
    let body = format!(r#"{{"workspace_id":"acme","tool":"t3","arguments":{ARGS}}}"#);
    let with = [("idempotency-key", "call-3")];
    let first = h.post_call(&key, "worker", body.clone(), &with).await;
    assert_allowed(&first, "complexity 3, supervised");
    h.set_enabled("worker", false).await;
    let replay = h.post_call(&key, "worker", body.clone(), &with).await;
    assert_refused(&replay, "agent_disabled", "replay while disabled");
    h.set_enabled("worker", true).await;
    h.set_maturity("worker", Maturity::Student).await;
    // Without the key the call is refused...
    assert_refused(
        &h.post_call(&key, "worker", body.clone(), &[]).await,
        "maturity",
        "a student, fresh",
    );
    // ...and with it too.
    let replay = h.post_call(&key, "worker", body, &with).await;
    assert_eq!(
        replay.status,
        StatusCode::FORBIDDEN,
        "a STUDENT was given a decision token for a complexity-3 call by replaying \
         an Idempotency-Key: {}",
        replay.body
    );
    assert_eq!(replay.body["reason"], "maturity", "{}", replay.body);
}
