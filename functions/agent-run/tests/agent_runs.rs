//! The agent-run handler, called as a function, on the memory store and on
//! DynamoDB (moto): governance in API.md's order, every cell of the
//! maturity x complexity table, proposals from request to `SUCCESS` or
//! `REJECTED`, expiry, idempotency, and the audit record that every decision
//! needs.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Body;
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::agents::registry::{self, NewAgent};
use warden::audit::{AuditEvent, EventType, Origin};
use warden::auth::login::{self, LoginRequest, create_user};
use warden::clock::Clock as _;
use warden::domain::agents::{AgentId, AgentType, JobRecord, JobStatus, Maturity, WorkspaceId};
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::store::{AuthStore, RegistryStore, WorkerStore};
use warden::testing::{self, AgentWorld, api_request, json_body};

/// Every store the agent-run handler and its worker read: the memory store
/// and DynamoDB are both one.
trait Stores: AuthStore + RegistryStore + WorkerStore + 'static {}

impl<S: AuthStore + RegistryStore + WorkerStore + 'static> Stores for S {}

fn cli() -> Origin {
    Origin::Cli {
        operator: "test".into(),
    }
}

/// A response, read.
struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Value,
}

/// Asserts a `202` that says where its job is (`Location`) and when to
/// look (`Retry-After`, whole seconds).
fn assert_polled(reply: &Reply, retry_after: &str, what: &str) {
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{what}: {}", reply.body);
    let job_id = reply.body["job_id"].as_str().unwrap();
    assert_eq!(
        reply.headers["location"],
        format!("/agents/runs/{job_id}").as_str(),
        "{what}"
    );
    assert_eq!(reply.headers["retry-after"], retry_after, "{what}");
}

/// A person who can call the API.
struct Person {
    id: String,
    token: String,
}

struct Harness {
    world: AgentWorld,
    alice: Person,
    bob: Person,
    carol: Person,
}

/// compare_vendors input (purchasing, complexity 1): v2 is 10 cents cheaper
/// on 10 units, so the saving is (100 - 90) x 10 = 100.
fn c1() -> (&'static str, Value) {
    (
        "compare_vendors",
        json!({"needs": [{"sku": "A", "quantity": 10, "current_vendor": "v1"}],
               "quotes": [{"vendor": "v1", "sku": "A", "unit_price_cents": 100, "min_quantity": 1},
                          {"vendor": "v2", "sku": "A", "unit_price_cents": 90, "min_quantity": 1}]}),
    )
}

/// draft_purchase_order (purchasing, complexity 2).
fn c2() -> (&'static str, Value) {
    (
        "draft_purchase_order",
        json!({"vendor": "v1", "currency": "USD",
               "lines": [{"sku": "A", "quantity": 2, "unit_price_cents": 500}]}),
    )
}

/// resolve_entities (accounting, complexity 3).
fn c3() -> (&'static str, Value) {
    (
        "resolve_entities",
        json!({"records": [{"id": "r1", "email": "Ann@Example.com"},
                           {"id": "r2", "email": " ann@example.com "}]}),
    )
}

/// submit_purchase_order (purchasing, complexity 4).
fn c4() -> (&'static str, Value) {
    (
        "submit_purchase_order",
        json!({"po_number": "PO-1", "vendor": "v1", "currency": "USD",
               "lines": [{"sku": "A", "quantity": 2, "unit_price_cents": 500}]}),
    )
}

impl Harness {
    /// Signs everyone in again after the clock moved past their tokens.
    async fn sign_in_again(&mut self) {
        self.alice = sign_in(&self.world, "alice").await;
        self.bob = sign_in(&self.world, "bob").await;
        self.carol = sign_in(&self.world, "carol").await;
    }

    /// Workspaces `acme` and `other`, and three people signed in: alice
    /// (a user), bob (an approver) and carol (an admin).
    async fn new<S: Stores>(store: Arc<S>) -> Self {
        let world = AgentWorld::over(store);
        for (id, name) in [("acme", "Acme"), ("other", "Other")] {
            registry::add_workspace(&world.agents, cli(), WorkspaceId::parse(id).unwrap(), name)
                .await
                .unwrap();
        }
        let alice = person(&world, "alice", &[Role::User]).await;
        let bob = person(&world, "bob", &[Role::Approver]).await;
        let carol = person(&world, "carol", &[Role::Admin]).await;
        // Alice works in acme and other, bob in acme (carol, an admin,
        // everywhere).
        for (workspace, name) in [("acme", "alice"), ("other", "alice"), ("acme", "bob")] {
            member(&world, workspace, name, true).await;
        }
        Self {
            world,
            alice,
            bob,
            carol,
        }
    }

    async fn agent(&self, id: &str, agent_type: AgentType, maturity: Maturity, enabled: bool) {
        registry::register_agent(
            &self.world.agents,
            cli(),
            NewAgent {
                agent_id: AgentId::parse(id).unwrap(),
                agent_type,
                maturity,
                workspaces: vec![WorkspaceId::parse("acme").unwrap()],
                enabled,
            },
        )
        .await
        .unwrap();
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        // A millisecond per call keeps each call's audit events (ULIDs,
        // random within a millisecond) in order.
        self.world.clock.advance_secs(0.001);
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
        if !matches!(body, Body::Empty) {
            headers.push(("content-type", "application/json"));
        }
        let response = warden_agent_run::handler(
            &self.world.agents,
            api_request(method, path, &headers, body, "10.0.0.1"),
        )
        .await
        .unwrap();
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            body: json_body(&response),
        }
    }

    /// `POST /agents/{agent}/runs` as `who` with `body` exactly as given
    /// (never re-serialised) and a fresh Idempotency-Key.
    async fn run_raw(&self, who: &Person, agent: &str, body: String) -> Reply {
        self.world.clock.advance_secs(0.001);
        let auth = format!("Bearer {}", who.token);
        let key = ulid::Ulid::new().to_string();
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
            ("idempotency-key", key.as_str()),
        ];
        let response = warden_agent_run::handler(
            &self.world.agents,
            api_request(
                "POST",
                &format!("/agents/{agent}/runs"),
                &headers,
                Body::Text(body),
                "10.0.0.1",
            ),
        )
        .await
        .unwrap();
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            body: json_body(&response),
        }
    }

    async fn run(&self, who: &Person, agent: &str, action: (&str, Value)) -> Reply {
        self.run_in(who, agent, "acme", action, &[]).await
    }

    async fn run_in(
        &self,
        who: &Person,
        agent: &str,
        workspace: &str,
        (action, input): (&str, Value),
        extra: &[(&str, &str)],
    ) -> Reply {
        let body = json!({"workspace_id": workspace, "action": action, "input": input});
        // A fresh Idempotency-Key unless the test gives one (or asks for
        // none with an empty one): complexity 3 and 4 need it.
        let fresh = ulid::Ulid::new().to_string();
        let mut headers: Vec<(&str, &str)> = extra
            .iter()
            .copied()
            .filter(|(k, v)| !(k.eq_ignore_ascii_case("idempotency-key") && v.is_empty()))
            .collect();
        if !extra
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("idempotency-key"))
        {
            headers.push(("idempotency-key", &fresh));
        }
        self.call(
            "POST",
            &format!("/agents/{agent}/runs"),
            &who.token,
            Some(body),
            &headers,
        )
        .await
    }

    /// `GET path` as `who`.
    async fn get(&self, who: &Person, path: &str) -> Reply {
        self.call("GET", path, &who.token, None, &[]).await
    }

    async fn job(&self, who: &Person, job_id: &str) -> Reply {
        self.get(who, &format!("/agents/runs/{job_id}")).await
    }

    /// Every job in workspace `acme`, newest first (the first ten).
    async fn acme_jobs(&self) -> Vec<JobRecord> {
        self.world
            .agents
            .store
            .list_jobs(&WorkspaceId::parse("acme").unwrap(), None, 10, None)
            .await
            .unwrap()
            .items
    }

    async fn decide(&self, who: &Person, proposal_id: &str, verb: &str) -> Reply {
        self.call(
            "POST",
            &format!("/agents/proposals/{proposal_id}/{verb}"),
            &who.token,
            None,
            &[],
        )
        .await
    }

    /// The newest audit event `actor` caused.
    async fn last_event(&self, actor: &Person) -> AuditEvent {
        self.world
            .agents
            .store
            .audit_by_actor(&format!("user:{}", actor.id), 1)
            .await
            .unwrap()
            .into_iter()
            .next()
            .expect("an audit event")
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

/// Makes `name` a member of `workspace` (or no longer one).
async fn member(world: &AgentWorld, workspace: &str, name: &str, member: bool) {
    registry::set_membership(
        &world.agents,
        &*world.auth.store,
        cli(),
        &WorkspaceId::parse(workspace).unwrap(),
        &Username::parse(name).unwrap(),
        member,
    )
    .await
    .unwrap();
}

/// A fresh access token (they last 15 minutes; some tests travel in time).
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
    let claims = world
        .auth
        .tokens
        .verify(&pair.access_token, world.clock.now_secs())
        .await
        .unwrap();
    Person {
        id: claims.sub.clone(),
        token: pair.access_token,
    }
}

/// [`Harness::new`], for the checks [`warden::on_both_stores!`] runs.
async fn harness<S: Stores>(store: Arc<S>) -> Harness {
    Harness::new(store).await
}

warden::on_both_stores!(std::convert::identity;
    a_body_whose_numbers_are_written_short_is_stored_byte_for_byte,
    a_job_that_could_not_be_stored_is_413_before_anything_is_written,
    a_persons_runs_are_limited_per_minute_refused_ones_counted_and_audited_once,
    a_person_sees_and_decides_only_in_their_workspaces,
    every_refused_decision_is_audited_with_its_rule,
    an_action_of_complexity_3_or_4_without_a_key_is_400_and_audited,
    an_ambiguous_create_retried_with_the_same_key_runs_exactly_once,
    every_cell_of_the_maturity_by_complexity_table_answers_and_audits_as_documented,
    each_governance_check_refuses_in_order_with_its_status_and_rule,
    an_interns_run_waits_for_an_approver_and_then_runs_to_success,
    only_an_approver_who_did_not_request_it_may_approve_and_only_once,
    a_rejected_proposal_ends_its_job_rejected_and_nothing_runs,
    a_proposal_not_decided_within_seven_days_expires_and_cannot_be_approved,
    the_same_idempotency_key_answers_the_first_job_and_refuses_another_body,
    two_concurrent_requests_with_one_idempotency_key_create_one_job,
    runs_are_listed_newest_first_by_workspace_with_a_cursor,
);

async fn every_cell_of_the_maturity_by_complexity_table_answers_and_audits_as_documented<
    S: Stores,
>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    use Maturity::*;
    // (maturity, [complexity 1, 2, 3, 4]): 403 blocked, P proposal, R runs.
    let table = [
        (Student, ["403", "403", "403", "403"]),
        (Intern, ["P", "P", "P", "P"]),
        (Supervised, ["R", "R", "R", "P"]),
        (Autonomous, ["R", "R", "R", "R"]),
    ];
    for (maturity, row) in table {
        let m = maturity.as_str().to_ascii_lowercase();
        h.agent(&format!("buy-{m}"), AgentType::Purchasing, maturity, true)
            .await;
        h.agent(&format!("acct-{m}"), AgentType::Accounting, maturity, true)
            .await;
        let cells = [
            (format!("buy-{m}"), c1()),
            (format!("buy-{m}"), c2()),
            (format!("acct-{m}"), c3()),
            (format!("buy-{m}"), c4()),
        ];
        for (level, ((agent, action), expected)) in cells.into_iter().zip(row).enumerate() {
            let cell = format!("{maturity} x complexity {}", level + 1);
            let reply = h.run(&h.alice, &agent, action).await;
            let event = h.last_event(&h.alice).await;
            match expected {
                "403" => {
                    assert_eq!(
                        reply.status,
                        StatusCode::FORBIDDEN,
                        "{cell}: {}",
                        reply.body
                    );
                    assert_eq!(event.event_type, EventType::AgentRunBlocked, "{cell}");
                    assert_eq!(event.details["rule"], "maturity", "{cell}");
                }
                "P" => {
                    // Waiting for a person: look again in 30 s.
                    assert_polled(&reply, "30", &cell);
                    assert_eq!(reply.body["status"], "AWAITING_APPROVAL", "{cell}");
                    assert!(reply.body["proposal_id"].is_string(), "{cell}");
                    assert_eq!(event.event_type, EventType::ProposalCreated, "{cell}");
                    assert_eq!(event.details["job_id"], reply.body["job_id"], "{cell}");
                }
                _ => {
                    // Queued: look again in a second.
                    assert_polled(&reply, "1", &cell);
                    assert_eq!(reply.body["status"], "PENDING", "{cell}");
                    assert!(reply.body.get("proposal_id").is_none(), "{cell}");
                    assert_eq!(event.event_type, EventType::AgentRunRequested, "{cell}");
                }
            }
        }
    }
    // 6 runs went straight to the queue (SUPERVISED 1-3, AUTONOMOUS 1-3
    // plus AUTONOMOUS 4 = 7); proposals and blocked runs queue nothing.
    assert_eq!(h.world.jobs.messages().len(), 7);
    let outcomes = h.world.work().await;
    assert!(
        outcomes
            .iter()
            .all(|o| *o == warden::agents::worker::Processed::Ran(JobStatus::Success))
    );
    // AUTONOMOUS ran the one external effect.
    assert_eq!(h.world.outbound.messages().len(), 1);
}

async fn each_governance_check_refuses_in_order_with_its_status_and_rule<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Autonomous, true)
        .await;
    h.agent("off", AgentType::Purchasing, Maturity::Autonomous, false)
        .await;
    let bad_input = (
        "compare_vendors",
        json!({"needs": [{"sku": "A", "quantity": 0}], "quotes": []}),
    );
    // (agent, workspace, action, status, rule)
    type Case<'a> = (&'a str, &'a str, (&'a str, Value), StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "ghost",
            "acme",
            c1(),
            StatusCode::NOT_FOUND,
            "unknown_agent",
        ),
        (
            "buyer",
            "nowhere",
            c1(),
            StatusCode::NOT_FOUND,
            "unknown_workspace",
        ),
        (
            "buyer",
            "other",
            c1(),
            StatusCode::FORBIDDEN,
            "workspace_not_allowed",
        ),
        // A disabled agent in a workspace it may not use: the workspace
        // rule comes first.
        (
            "off",
            "other",
            c1(),
            StatusCode::FORBIDDEN,
            "workspace_not_allowed",
        ),
        ("off", "acme", c1(), StatusCode::FORBIDDEN, "agent_disabled"),
        // The kill switch comes before the action is even looked at.
        (
            "off",
            "acme",
            ("dance", json!({})),
            StatusCode::FORBIDDEN,
            "agent_disabled",
        ),
        (
            "buyer",
            "acme",
            ("resolve_entities", c3().1),
            StatusCode::BAD_REQUEST,
            "unknown_action",
        ),
        (
            "buyer",
            "acme",
            bad_input,
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
    ];
    for (agent, workspace, action, status, rule) in cases {
        let name = action.0;
        let reply = h.run_in(&h.alice, agent, workspace, action, &[]).await;
        assert_eq!(
            reply.status, status,
            "{agent}/{workspace}/{name}: {}",
            reply.body
        );
        let event = h.last_event(&h.alice).await;
        assert_eq!(event.event_type, EventType::AgentRunBlocked);
        assert_eq!(event.details["rule"], rule, "{agent}/{workspace}/{name}");
    }
    // The invalid input's detail names the field path.
    let reply = h
        .run(
            &h.alice,
            "buyer",
            (
                "compare_vendors",
                json!({"needs": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": -1}], "quotes": []}),
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(detail.contains("input.needs[1].quantity"), "{detail}");
    // Nothing refused was stored or queued.
    assert!(h.world.jobs.messages().is_empty());
    assert!(h.acme_jobs().await.is_empty());
    // Body problems are 400/415 before any rule.
    let reply = h
        .call(
            "POST",
            "/agents/buyer/runs",
            &h.alice.token,
            Some(json!({"workspace_id": "acme", "action": "compare_vendors", "input": null})),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // serde would read a struct from an array: the body, or the input (here
    // compare_vendors' `needs` and `quotes`, in order), is refused instead.
    let needs = json!([{"sku": "PAPER-A4", "quantity": 100}]);
    let quotes = json!([{"vendor": "officeco", "sku": "PAPER-A4", "unit_price_cents": 520, "min_quantity": 1}]);
    for body in [
        json!({"workspace_id": "acme", "action": "compare_vendors", "input": [needs, quotes]}),
        json!(["acme", "compare_vendors", {"needs": needs, "quotes": quotes}]),
    ] {
        let reply = h
            .call(
                "POST",
                "/agents/buyer/runs",
                &h.alice.token,
                Some(body.clone()),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.contains("must be a JSON object"), "{detail}");
    }
    assert!(h.world.jobs.messages().is_empty());
    // No token at all is 401.
    let response = warden_agent_run::handler(
        &h.world.agents,
        api_request("GET", "/agents/runs/x", &[], Body::Empty, "10.0.0.1"),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The route takes either scheme: both are challenged, with no error
    // (no credentials were sent).
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer resource_metadata="http://127.0.0.1:3000/.well-known/oauth-protected-resource", ApiKey resource_metadata="http://127.0.0.1:3000/.well-known/oauth-protected-resource""#
    );
}

async fn an_interns_run_waits_for_an_approver_and_then_runs_to_success<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("intern", AgentType::Purchasing, Maturity::Intern, true)
        .await;
    let reply = h.run(&h.alice, "intern", c1()).await;
    assert_polled(&reply, "30", "a proposal");
    let job_id = reply.body["job_id"].as_str().unwrap().to_owned();
    let proposal_id = reply.body["proposal_id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.job(&h.alice, &job_id).await.body["status"],
        "AWAITING_APPROVAL"
    );
    // Nothing is queued while it waits.
    assert!(h.world.jobs.messages().is_empty());
    // The approver finds it.
    let list = h.get(&h.bob, "/agents/proposals").await;
    assert_eq!(list.status, StatusCode::OK);
    let proposals = list.body["proposals"].as_array().unwrap();
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0]["proposal_id"], proposal_id.as_str());
    assert_eq!(proposals[0]["status"], "PENDING");
    assert_eq!(proposals[0]["requested_by"], format!("user:{}", h.alice.id));
    assert_eq!(proposals[0]["input"], c1().1);
    // A plain user may not list them.
    assert_eq!(
        h.get(&h.alice, "/agents/proposals").await.status,
        StatusCode::FORBIDDEN
    );
    let approved = h.decide(&h.bob, &proposal_id, "approve").await;
    // Approved and queued: the job's Location, soon.
    assert_polled(&approved, "1", "approved");
    assert_eq!(
        approved.body,
        json!({"proposal_id": proposal_id, "job_id": job_id, "status": "PENDING"})
    );
    assert_eq!(
        h.last_event(&h.bob).await.event_type,
        EventType::ProposalApproved
    );
    assert_eq!(h.world.work().await.len(), 1);
    let job = h.job(&h.alice, &job_id).await.body;
    assert_eq!(job["status"], "SUCCESS", "{job}");
    // saving = (100 - 90) x 10 = 100
    assert_eq!(job["result"]["total_saving_cents"], 100);
    assert_eq!(job["proposal_id"], proposal_id.as_str());
    let approved_list = h.get(&h.carol, "/agents/proposals?status=APPROVED").await;
    assert_eq!(
        approved_list.body["proposals"][0]["decided_by"],
        format!("user:{}", h.bob.id)
    );
}

async fn only_an_approver_who_did_not_request_it_may_approve_and_only_once<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    h.agent("intern", AgentType::Purchasing, Maturity::Intern, true)
        .await;
    // Bob (an approver) asks for the run himself.
    let reply = h.run(&h.bob, "intern", c1()).await;
    let proposal_id = reply.body["proposal_id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.decide(&h.alice, &proposal_id, "approve").await.status,
        StatusCode::FORBIDDEN,
        "a plain user"
    );
    assert_eq!(
        h.decide(&h.bob, &proposal_id, "approve").await.status,
        StatusCode::FORBIDDEN,
        "the requester"
    );
    assert_eq!(
        h.decide(&h.carol, &proposal_id, "approve").await.status,
        StatusCode::ACCEPTED,
        "an admin who did not ask"
    );
    for (who, verb) in [(&h.carol, "approve"), (&h.bob, "reject")] {
        assert_eq!(
            h.decide(who, &proposal_id, verb).await.status,
            StatusCode::CONFLICT,
            "a second decision"
        );
    }
    assert_eq!(
        h.decide(&h.carol, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "approve")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The requester may reject his own run.
    let reply = h.run(&h.bob, "intern", c2()).await;
    let second = reply.body["proposal_id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.decide(&h.bob, &second, "reject").await.status,
        StatusCode::OK
    );
}

async fn a_rejected_proposal_ends_its_job_rejected_and_nothing_runs<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("intern", AgentType::Purchasing, Maturity::Intern, true)
        .await;
    let reply = h.run(&h.alice, "intern", c4()).await;
    let job_id = reply.body["job_id"].as_str().unwrap().to_owned();
    let proposal_id = reply.body["proposal_id"].as_str().unwrap().to_owned();
    let rejected = h
        .call(
            "POST",
            &format!("/agents/proposals/{proposal_id}/reject"),
            &h.bob.token,
            Some(json!({"reason": "not this quarter"})),
            &[],
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK);
    assert_eq!(
        rejected.body,
        json!({"proposal_id": proposal_id, "job_id": job_id, "status": "REJECTED"})
    );
    let event = h.last_event(&h.bob).await;
    assert_eq!(event.event_type, EventType::ProposalRejected);
    assert_eq!(event.details["reason"], "not this quarter");
    let job = h.job(&h.alice, &job_id).await.body;
    assert_eq!(job["status"], "REJECTED");
    assert!(h.world.jobs.messages().is_empty());
    assert!(h.world.work().await.is_empty());
    assert!(h.world.outbound.messages().is_empty());
}

async fn a_proposal_not_decided_within_seven_days_expires_and_cannot_be_approved<S: Stores>(
    store: Arc<S>,
) {
    let mut h = harness(store).await;
    h.agent("intern", AgentType::Purchasing, Maturity::Intern, true)
        .await;
    let first = h.run(&h.alice, "intern", c1()).await;
    let second = h.run(&h.alice, "intern", c2()).await;
    // One second short of seven days: still decidable.
    h.world.clock.advance_secs(7.0 * 86_400.0 - 1.0);
    h.sign_in_again().await;
    let listed = h.get(&h.bob, "/agents/proposals").await;
    assert_eq!(listed.body["proposals"].as_array().unwrap().len(), 2);
    h.world.clock.advance_secs(1.0);
    // Deciding it now is 409, and it shows EXPIRED with its job REJECTED.
    let proposal_id = first.body["proposal_id"].as_str().unwrap();
    assert_eq!(
        h.decide(&h.bob, proposal_id, "approve").await.status,
        StatusCode::CONFLICT
    );
    let job = h
        .job(&h.alice, first.body["job_id"].as_str().unwrap())
        .await
        .body;
    assert_eq!(job["status"], "REJECTED");
    assert_eq!(job["error"], "proposal expired");
    // Reading the other job applies its expiry too.
    let job = h
        .job(&h.alice, second.body["job_id"].as_str().unwrap())
        .await
        .body;
    assert_eq!(job["status"], "REJECTED");
    let pending = h.get(&h.bob, "/agents/proposals").await;
    assert!(pending.body["proposals"].as_array().unwrap().is_empty());
    let expired = h.get(&h.bob, "/agents/proposals?status=EXPIRED").await;
    assert_eq!(expired.body["proposals"].as_array().unwrap().len(), 2);
    assert!(h.world.jobs.messages().is_empty());
    let events = h
        .world
        .agents
        .store
        .audit_by_actor("anonymous", 10)
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == EventType::ProposalExpired)
            .count(),
        2
    );
}

async fn the_same_idempotency_key_answers_the_first_job_and_refuses_another_body<S: Stores>(
    store: Arc<S>,
) {
    let mut h = harness(store).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Autonomous, true)
        .await;
    let key = [("idempotency-key", "order-42")];
    let first = h.run_in(&h.alice, "buyer", "acme", c1(), &key).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    // The same body, keys in another order: the same answer and job.
    let (action, input) = c1();
    let reordered = json!({"input": input, "action": action, "workspace_id": "acme"});
    let again = h
        .call(
            "POST",
            "/agents/buyer/runs",
            &h.alice.token,
            Some(reordered),
            &key,
        )
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body, first.body);
    assert_eq!(h.world.jobs.messages().len(), 1, "queued once");
    // Another body under the key: 409.
    let other = h.run_in(&h.alice, "buyer", "acme", c2(), &key).await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    // The key is the caller's: another user's same key is a new request.
    let bobs = h.run_in(&h.bob, "buyer", "acme", c1(), &key).await;
    assert_eq!(bobs.status, StatusCode::ACCEPTED);
    assert_ne!(bobs.body["job_id"], first.body["job_id"]);
    // Kept 24 hours.
    h.world.clock.advance_secs(24.0 * 3600.0 + 1.0);
    h.sign_in_again().await;
    let later = h.run_in(&h.alice, "buyer", "acme", c1(), &key).await;
    assert_ne!(later.body["job_id"], first.body["job_id"]);
    // A bad key is 400.
    let long = "k".repeat(256);
    let bad = h
        .run_in(
            &h.alice,
            "buyer",
            "acme",
            c1(),
            &[("idempotency-key", long.as_str())],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

async fn two_concurrent_requests_with_one_idempotency_key_create_one_job<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Autonomous, true)
        .await;
    let key = [("idempotency-key", "race")];
    let (a, b) = tokio::join!(
        h.run_in(&h.alice, "buyer", "acme", c1(), &key),
        h.run_in(&h.alice, "buyer", "acme", c1(), &key)
    );
    assert_eq!(
        (a.status, b.status),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(a.body["job_id"], b.body["job_id"]);
    assert_eq!(h.acme_jobs().await.len(), 1);
    assert_eq!(h.world.jobs.messages().len(), 1);
}

async fn runs_are_listed_newest_first_by_workspace_with_a_cursor<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Supervised, true)
        .await;
    let mut ids = Vec::new();
    for action in [c1(), c2(), c4()] {
        h.world.clock.advance_secs(1.0);
        ids.push(h.run(&h.alice, "buyer", action).await.body["job_id"].clone());
    }
    ids.reverse();
    let first = h
        .get(&h.alice, "/agents/runs?workspace_id=acme&limit=2")
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let runs = first.body["runs"].as_array().unwrap();
    assert_eq!(
        runs.iter().map(|r| r["job_id"].clone()).collect::<Vec<_>>(),
        ids[..2]
    );
    let next = first.body["next"].as_str().unwrap();
    let second = h
        .get(
            &h.alice,
            &format!("/agents/runs?workspace_id=acme&limit=2&next={next}"),
        )
        .await;
    assert_eq!(second.body["runs"][0]["job_id"], ids[2]);
    assert!(second.body["next"].is_null());
    let proposed = h
        .get(
            &h.alice,
            "/agents/runs?workspace_id=acme&status=AWAITING_APPROVAL",
        )
        .await;
    assert_eq!(proposed.body["runs"].as_array().unwrap().len(), 1);
    for bad in [
        "/agents/runs",
        "/agents/runs?workspace_id=acme&limit=0",
        "/agents/runs?workspace_id=acme&status=DONE",
        "/agents/runs?workspace_id=acme&next=xyz",
    ] {
        assert_eq!(
            h.get(&h.alice, bad).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        h.get(&h.alice, "/agents/runs?workspace_id=nowhere")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.job(&h.alice, "01ARZ3NDEKTSV4RRFFQ69G5FAV").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_failed_audit_write_refuses_the_run_with_503_and_leaves_no_job() {
    let store = Arc::new(warden::store::memory::MemoryStore::new());
    let h = Harness::new(store.clone()).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Autonomous, true)
        .await;
    h.agent("intern", AgentType::Purchasing, Maturity::Intern, true)
        .await;
    store.simulate_audit_outage(true);
    for agent in ["buyer", "intern", "ghost"] {
        let reply = h.run(&h.alice, agent, c1()).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{agent}");
    }
    store.simulate_audit_outage(false);
    assert!(h.acme_jobs().await.is_empty());
    assert!(h.world.jobs.messages().is_empty());
}

#[tokio::test]
async fn on_dynamodb_a_run_whose_audit_table_is_gone_writes_nothing() {
    let Some((store, client, prefix)) = testing::dynamo_store_and_client().await else {
        return;
    };
    let h = Harness::new(store).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Autonomous, true)
        .await;
    testing::delete_table(&client, &format!("{prefix}audit-log")).await;
    let reply = h.run(&h.alice, "buyer", c1()).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert!(h.acme_jobs().await.is_empty());
    assert!(h.world.jobs.messages().is_empty());
}

/// A jobs queue that takes nothing, as SQS during an outage.
struct DownQueue;

#[async_trait::async_trait]
impl warden::queue::Queue for DownQueue {
    async fn send(&self, _: &warden::queue::OutgoingMessage) -> warden::Result<()> {
        Err(warden::Error::unavailable("SendMessage: simulated outage"))
    }
}

#[tokio::test]
async fn a_run_the_queue_does_not_take_is_503_ends_failed_and_its_key_can_be_retried() {
    let store = Arc::new(warden::store::memory::MemoryStore::new());
    let mut h = Harness::new(store.clone()).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Autonomous, true)
        .await;
    let healthy = std::mem::replace(
        &mut h.world.agents,
        warden::state::AgentState::new(
            testing::config(),
            store.clone(),
            store.clone(),
            testing::tokens_for(&testing::config()),
            testing::test_pepper(),
            Arc::new(DownQueue),
            h.world.clock.clone(),
        ),
    );
    let key = [("idempotency-key", "retry-me")];
    let reply = h.run_in(&h.alice, "buyer", "acme", c1(), &key).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    // Nothing stays PENDING: the job that could not be queued has failed.
    let jobs = h.acme_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, JobStatus::Failed);
    assert!(
        jobs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("could not be queued")
    );
    // With the queue back, the same key runs the request again.
    h.world.agents = healthy;
    let retry = h.run_in(&h.alice, "buyer", "acme", c1(), &key).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.body);
    assert_ne!(retry.body["job_id"], jobs[0].job_id.as_str());
    assert_eq!(h.world.jobs.messages().len(), 1);
}

#[tokio::test]
async fn on_dynamodb_an_id_no_job_or_proposal_can_have_is_404_without_a_read() {
    let Some((store, _, log)) = testing::dynamo_store_with_log().await else {
        return;
    };
    let h = Harness::new(Arc::new(store)).await;
    // Longer than DynamoDB accepts as a key: reading it would be a
    // ValidationException (a 503), not the 404 it deserves.
    let long = "A".repeat(3000);
    log.take();
    assert_eq!(h.job(&h.alice, &long).await.status, StatusCode::NOT_FOUND);
    assert_eq!(log.take(), ["BatchGetItem"], "the bearer check only");
    assert_eq!(
        h.decide(&h.bob, &long, "approve").await.status,
        StatusCode::NOT_FOUND
    );
    // The bearer check, and the refusal's audit event: no read.
    assert_eq!(log.take(), ["BatchGetItem", "TransactWriteItems"]);
}

/// The audit events of `type` whose detail `rule` is `rule`.
async fn refusals(h: &Harness, who: &Person, rule: &str) -> Vec<AuditEvent> {
    h.world
        .agents
        .store
        .audit_by_actor(&format!("user:{}", who.id), 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == EventType::ProposalDecisionRefused && e.details["rule"] == rule)
        .collect()
}

async fn a_person_sees_and_decides_only_in_their_workspaces<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("intern", AgentType::Purchasing, Maturity::Intern, true)
        .await;
    let reply = h.run(&h.alice, "intern", c4()).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let job_id = reply.body["job_id"].as_str().unwrap().to_owned();
    let proposal_id = reply.body["proposal_id"].as_str().unwrap().to_owned();
    // Bob leaves acme: from his next request on, acme is a workspace he
    // cannot tell from one that does not exist.
    member(&h.world, "acme", "bob", false).await;
    assert_eq!(h.job(&h.bob, &job_id).await.status, StatusCode::NOT_FOUND);
    let listed = h.get(&h.bob, "/agents/runs?workspace_id=acme").await;
    assert_eq!(listed.status, StatusCode::NOT_FOUND, "{}", listed.body);
    let proposals = h.get(&h.bob, "/agents/proposals").await;
    assert_eq!(proposals.body["proposals"], json!([]), "{}", proposals.body);
    let refused = h.decide(&h.bob, &proposal_id, "approve").await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    // Audited, without the proposal's details.
    let audited = refusals(&h, &h.bob, "not_a_member").await;
    assert_eq!(audited.len(), 1);
    assert!(
        audited[0].details.get("job_id").is_none(),
        "{:?}",
        audited[0]
    );
    let run = h.run(&h.bob, "intern", c2()).await;
    assert_eq!(run.status, StatusCode::NOT_FOUND, "{}", run.body);
    // The workspace first, even for an agent id that names nothing.
    let run = h.run(&h.bob, "no%20such", c2()).await;
    assert_eq!(run.body["detail"], "no such workspace", "{}", run.body);
    // An admin is a member of every workspace.
    assert_eq!(h.job(&h.carol, &job_id).await.status, StatusCode::OK);
    // Back in acme, bob sees and decides at once.
    member(&h.world, "acme", "bob", true).await;
    assert_eq!(h.job(&h.bob, &job_id).await.status, StatusCode::OK);
    let approved = h.decide(&h.bob, &proposal_id, "approve").await;
    assert_eq!(approved.status, StatusCode::ACCEPTED, "{}", approved.body);
    // Decided: a non-member is still 404 first, before the 409.
    member(&h.world, "acme", "bob", false).await;
    let again = h.decide(&h.bob, &proposal_id, "approve").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
}

async fn every_refused_decision_is_audited_with_its_rule<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("intern", AgentType::Purchasing, Maturity::Intern, true)
        .await;
    let by_bob = h.run(&h.bob, "intern", c2()).await;
    let bobs = by_bob.body["proposal_id"].as_str().unwrap().to_owned();
    // Without the approver role.
    let refused = h.decide(&h.alice, &bobs, "approve").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refusals(&h, &h.alice, "role").await.len(), 1);
    // His own run.
    let refused = h.decide(&h.bob, &bobs, "approve").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let own = refusals(&h, &h.bob, "own_request").await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].details["proposal_id"], bobs.as_str());
    // Unknown.
    let unknown = h
        .decide(&h.bob, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "reject")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(refusals(&h, &h.bob, "unknown_proposal").await.len(), 1);
    // Already decided.
    assert_eq!(
        h.decide(&h.carol, &bobs, "approve").await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        h.decide(&h.carol, &bobs, "reject").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(refusals(&h, &h.carol, "already_decided").await.len(), 1);
}

async fn an_action_of_complexity_3_or_4_without_a_key_is_400_and_audited<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Autonomous, true)
        .await;
    let none = [("idempotency-key", "")];
    for action in [c4()] {
        let name = action.0;
        let reply = h.run_in(&h.alice, "buyer", "acme", action, &none).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            reply.body
        );
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Idempotency-Key required"),
            "{}",
            reply.body
        );
        let event = h.last_event(&h.alice).await;
        assert_eq!(event.event_type, EventType::AgentRunBlocked);
        assert_eq!(event.details["rule"], "idempotency_key_required");
    }
    assert!(h.acme_jobs().await.is_empty());
    // Complexity 1 and 2 still run without one.
    for action in [c1(), c2()] {
        let reply = h.run_in(&h.alice, "buyer", "acme", action, &none).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    }
}

async fn a_persons_runs_are_limited_per_minute_refused_ones_counted_and_audited_once<S: Stores>(
    store: Arc<S>,
) {
    let mut h = harness(store).await;
    h.world.agents.registry.config.run_limit_per_minute = 3;
    h.agent("buyer", AgentType::Purchasing, Maturity::Supervised, true)
        .await;
    // A refused run counts as much as an accepted one.
    let refused = h.run_in(&h.alice, "buyer", "nowhere", c1(), &[]).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    for _ in 0..2 {
        assert_eq!(
            h.run(&h.alice, "buyer", c1()).await.status,
            StatusCode::ACCEPTED
        );
    }
    // The fourth within the minute, and every one after it, is 429.
    for _ in 0..3 {
        let limited = h.run(&h.alice, "buyer", c1()).await;
        assert_eq!(
            limited.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            limited.body
        );
    }
    // Audited once for the minute, not once per refusal.
    let audited: Vec<AuditEvent> = h
        .world
        .agents
        .store
        .audit_by_actor(&format!("user:{}", h.alice.id), 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == EventType::AgentRunRateLimited)
        .collect();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].details["limit_per_minute"], 3);
    // Another person is not held back by alice's limit; an admin is
    // limited too.
    assert_eq!(
        h.run(&h.bob, "buyer", c1()).await.status,
        StatusCode::ACCEPTED
    );
    for _ in 0..3 {
        h.run(&h.carol, "buyer", c1()).await;
    }
    assert_eq!(
        h.run(&h.carol, "buyer", c1()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // One emission interval (20 s) later, alice may run once more.
    h.world.clock.advance_secs(20.0);
    h.sign_in_again().await;
    assert_eq!(
        h.run(&h.alice, "buyer", c1()).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        h.run(&h.alice, "buyer", c1()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn a_body_whose_numbers_are_written_short_is_stored_byte_for_byte<S: Stores>(store: Arc<S>) {
    let h = harness(store).await;
    h.agent("books", AgentType::Accounting, Maturity::Autonomous, true)
        .await;
    // 30,000 copies of `1E15` in a free object the action ignores but for
    // its `price_cents` (an invoice line's `metadata`): 150 KB as sent,
    // about 570 KB were it written back as `1000000000000000.0`.
    let ignored = vec!["1E15"; 30_000].join(",");
    let input = format!(
        r#"{{"customer": {{"id": "c-1", "name": "Acme"}}, "currency": "USD",
            "lines": [{{"description": "Setup", "quantity": 1, "deposit_cents": 100,
                        "metadata": {{"notes": [{ignored}]}}}}]}}"#
    );
    let body =
        format!(r#"{{"workspace_id": "acme", "action": "draft_invoice", "input": {input}}}"#);
    assert!(body.len() < 256 * 1024, "{}", body.len());
    let reply = h.run_raw(&h.alice, "books", body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let job_id = reply.body["job_id"].as_str().unwrap();
    let stored = h.world.agents.store.get_job(job_id).await.unwrap().unwrap();
    assert_eq!(stored.input, input, "stored as received");
    // And it runs: the action reads the same text.
    h.world.work().await;
    assert_eq!(h.job(&h.alice, job_id).await.body["status"], "SUCCESS");
}

async fn a_job_that_could_not_be_stored_is_413_before_anything_is_written<S: Stores>(
    store: Arc<S>,
) {
    let h = harness(store).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Autonomous, true)
        .await;
    // Larger than any body the endpoint takes: the bound itself, as the
    // use case applies it to whatever reaches it.
    // A valid input (inputs refuse unknown fields, so the bulk is a sku).
    let (action, _) = c1();
    let pad = "x".repeat(300 * 1024);
    let input = json!({"needs": [{"sku": pad, "quantity": 1}], "quotes": []}).to_string();
    let body = json!({"workspace_id": "acme", "action": action});
    let alice = warden::agents::run::Caller::User {
        user_id: h.alice.id.clone(),
        roles: vec![Role::User],
        workspaces: vec![WorkspaceId::parse("acme").unwrap()],
    };
    let refused = warden::agents::run::submit(
        &h.world.agents,
        cli(),
        &alice,
        "buyer",
        warden::agents::run::RunRequest {
            workspace_id: "acme".into(),
            action: action.into(),
            input,
        },
        &body,
        Some("too-large"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(refused, warden::Error::TooLargeToStore { bytes, limit } if bytes > limit && limit == 400 * 1024),
        "{refused:?}"
    );
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(refused.to_string().contains("stored as up to"), "{refused}");
    assert!(h.acme_jobs().await.is_empty());
    assert!(h.world.jobs.messages().is_empty());
    let events = h
        .world
        .agents
        .store
        .audit_by_actor(&format!("user:{}", h.alice.id), 10)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .all(|e| e.event_type != EventType::AgentRunRequested),
        "{events:?}"
    );
}

/// A store whose answer to the transaction that creates a job is lost
/// after it committed, as when the answer comes after the timeout.
struct LostCreateAnswer;

#[async_trait::async_trait]
impl testing::Interceptor for LostCreateAnswer {
    async fn after_transact(
        &self,
        writes: &[warden::store::Write],
        applied: warden::Result<()>,
    ) -> warden::Result<()> {
        applied?;
        let creates_a_job = matches!(
            writes.first(),
            Some(warden::store::Write::Agent(
                warden::store::AgentWrite::CreateJob(_)
            ))
        );
        if creates_a_job {
            return Err(warden::Error::OutcomeUnknown {
                context: "TransactWriteItems: timed out (simulated)".into(),
                retry_with_key: false,
                source: None,
            });
        }
        Ok(())
    }
}

async fn an_ambiguous_create_retried_with_the_same_key_runs_exactly_once<S: Stores>(store: Arc<S>) {
    let lossy = Arc::new(testing::Intercepted::new(store.clone(), LostCreateAnswer));
    let sessions: Arc<dyn warden::store::SessionStore> = store.clone();
    let mut h = harness(store).await;
    h.agent("buyer", AgentType::Purchasing, Maturity::Autonomous, true)
        .await;
    let healthy = std::mem::replace(
        &mut h.world.agents,
        warden::state::AgentState::new(
            testing::config(),
            lossy,
            sessions,
            testing::tokens_for(&testing::config()),
            testing::test_pepper(),
            h.world.jobs.clone(),
            h.world.clock.clone(),
        ),
    );
    let key = [("idempotency-key", "ambiguous-1")];
    let first = h.run_in(&h.alice, "buyer", "acme", c4(), &key).await;
    assert_eq!(
        first.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        first.body
    );
    assert_eq!(
        first.body["detail"],
        "outcome unknown: retry with the same Idempotency-Key"
    );
    // It committed, and nothing queued it.
    let jobs = h.acme_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, JobStatus::Pending);
    assert!(h.world.jobs.messages().is_empty());
    // The retry answers that job and queues it.
    h.world.agents = healthy;
    let retry = h.run_in(&h.alice, "buyer", "acme", c4(), &key).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.body);
    assert_eq!(retry.body["job_id"], jobs[0].job_id.as_str());
    assert_eq!(h.world.jobs.messages().len(), 1);
    h.world.work().await;
    let job = h.job(&h.alice, &jobs[0].job_id).await;
    assert_eq!(job.body["status"], "SUCCESS", "{}", job.body);
    // Another retry answers the same, and queues nothing more.
    let again = h.run_in(&h.alice, "buyer", "acme", c4(), &key).await;
    assert_eq!(again.body["job_id"], jobs[0].job_id.as_str());
    assert_eq!(h.acme_jobs().await.len(), 1);
    assert_eq!(h.world.jobs.messages().len(), 1);
}

#[tokio::test]
async fn agent_ids_that_would_shadow_a_fixed_route_are_refused() {
    let h = Harness::new(Arc::new(warden::store::memory::MemoryStore::new())).await;
    for reserved in ["runs", "proposals"] {
        let refused = registry::register_agent(
            &h.world.agents,
            cli(),
            NewAgent {
                agent_id: AgentId::parse(reserved).unwrap(),
                agent_type: AgentType::Purchasing,
                maturity: Maturity::Autonomous,
                workspaces: vec![WorkspaceId::parse("acme").unwrap()],
                enabled: true,
            },
        )
        .await;
        assert!(
            matches!(refused, Err(warden::Error::BadRequest(_))),
            "{reserved}"
        );
    }
}

/// Request text in a log cannot start a line: an unknown `stage` that
/// carries a newline and a forged `warden::audit` entry (serde's message,
/// which the refusal logs, quotes it as it is) stays inside the line of
/// the refusal, escaped, in both of the functions' log formats.
#[tokio::test]
async fn a_newline_in_a_request_does_not_forge_a_log_line() {
    let forged = "lead\n INFO warden::audit: USER_ROLE_CHANGED \x1b[2K";
    for json in [false, true] {
        let h = Harness::new(Arc::new(warden::store::memory::MemoryStore::new())).await;
        h.agent("seller", AgentType::Sales, Maturity::Autonomous, true)
            .await;
        let (log, _guard) = testing::capture_logs(json);
        let input = json!({"as_of": "2025-03-31", "deals": [{"id": "d-1", "stage": forged}]});
        let reply = h.run(&h.alice, "seller", ("pipeline_health", input)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        let log = log.text();
        assert!(log.contains("request refused"), "{log}");
        for line in log.lines() {
            assert!(!line.contains(|c: char| c.is_control()), "{line:?}");
            assert!(
                !line.trim_start().starts_with("INFO warden::audit"),
                "{log}"
            );
            if json {
                serde_json::from_str::<Value>(line).unwrap();
            }
        }
        let escaped = if json {
            r"lead\n INFO warden::audit: USER_ROLE_CHANGED \u001b[2K"
        } else {
            r"lead\n INFO warden::audit: USER_ROLE_CHANGED \u{1b}[2K"
        };
        assert!(log.contains(escaped), "{log}");
    }
}
