//! The agent-run handler's admin routes (API.md "Admin endpoints"), called
//! as a function, on the memory store and on DynamoDB (moto): `GET
//! /agents` lists the registry; `POST /agents/{agent_id}/disable` and
//! `/enable` flip the kill switch, audited with the admin as actor, and a
//! disabled agent's next run is refused (and its queued job never runs);
//! all three are a person's with role `admin`, by bearer token alone; and
//! the fixed routes under `/agents/runs/` and `/agents/tool-calls/` keep
//! their paths.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Body;
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::agents::registry::{self, NewTool};
use warden::audit::{AuditEvent, EventType, Origin};
use warden::auth::login::{self, LoginRequest, create_user};
use warden::clock::Clock as _;
use warden::domain::agents::{AgentType, Maturity, WorkspaceId};
use warden::domain::tools::{ToolName, complexity_of_level};
use warden::domain::{Role, Username};
use warden::http::{RequestContext, resolve};
use warden::state::AuthState;
use warden::store::{AuditQuery, AuthStore, RegistryStore, WorkerStore};
use warden::testing::{self, AgentWorld, api_request, json_body};
use warden_agent_run::{Endpoint, ROUTES};

/// Every store the handler and its worker read.
trait Stores: AuthStore + RegistryStore + WorkerStore + 'static {}

impl<S: AuthStore + RegistryStore + WorkerStore + 'static> Stores for S {}

fn cli() -> Origin {
    Origin::Cli {
        operator: "test".into(),
    }
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Value,
}

impl Reply {
    fn challenge(&self) -> &str {
        self.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A person signed in.
struct Person {
    id: String,
    token: String,
}

struct Harness {
    world: AgentWorld,
    /// The token endpoint over the same store (delegated tokens).
    keys: AuthState,
    /// An admin.
    root: Person,
    /// A member of `acme` with no role but `user`.
    ann: Person,
    /// An approver, member of `acme`.
    bob: Person,
}

/// compare_vendors (purchasing, complexity 1): runs at once for an
/// AUTONOMOUS agent.
fn compare_vendors() -> Value {
    json!({"workspace_id": "acme", "action": "compare_vendors", "input": {
        "needs": [{"sku": "A", "quantity": 10, "current_vendor": "v1"}],
        "quotes": [{"vendor": "v1", "sku": "A", "unit_price_cents": 100, "min_quantity": 1},
                   {"vendor": "v2", "sku": "A", "unit_price_cents": 90, "min_quantity": 1}]}})
}

async fn harness<S: Stores>(store: Arc<S>) -> Harness {
    let world = AgentWorld::over(store.clone());
    let keys = testing::token_endpoint_state(store, world.clock.clone());
    for id in ["acme", "other"] {
        testing::add_workspace(&world.agents, cli(), id, id).await;
    }
    // Registered out of order, one disabled; a tool shares their table.
    for (id, agent_type, maturity, enabled) in [
        ("buyer", AgentType::Purchasing, Maturity::Autonomous, true),
        ("accountant", AgentType::Accounting, Maturity::Intern, false),
        ("seller", AgentType::Sales, Maturity::Student, true),
    ] {
        let mut agent = testing::new_agent(id, agent_type, maturity, "acme");
        agent.enabled = enabled;
        if id == "seller" {
            agent.workspaces.push(WorkspaceId::parse("other").unwrap());
        }
        registry::register_agent(&world.agents, cli(), agent)
            .await
            .unwrap();
    }
    registry::register_tool(
        &world.agents,
        cli(),
        NewTool {
            name: ToolName::parse("send_email").unwrap(),
            complexity: complexity_of_level(2).unwrap(),
            workspaces: vec![WorkspaceId::parse("acme").unwrap()],
        },
    )
    .await
    .unwrap();
    let root = person(&world, "root", &[Role::Admin], &[]).await;
    let ann = person(&world, "ann", &[Role::User], &["acme"]).await;
    let bob = person(&world, "bob", &[Role::Approver], &["acme"]).await;
    Harness {
        world,
        keys,
        root,
        ann,
        bob,
    }
}

async fn person(world: &AgentWorld, name: &str, roles: &[Role], workspaces: &[&str]) -> Person {
    let username = Username::parse(name).unwrap();
    let password = SecretString::from(format!("{name} password"));
    create_user(&world.auth, cli(), &username, &password, roles)
        .await
        .unwrap();
    for w in workspaces {
        registry::set_membership(
            &world.agents,
            &*world.auth.store,
            cli(),
            &WorkspaceId::parse(w).unwrap(),
            &username,
            true,
        )
        .await
        .unwrap();
    }
    let ctx = RequestContext::for_tests(&format!("10.2.{}.{}", name.len(), name.as_bytes()[0]));
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

impl Harness {
    /// `method path` with `headers` and `body` (sent as JSON when given).
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        // A millisecond per call keeps each call's audit events in order.
        self.world.clock.advance_millis(1);
        let mut headers = headers.to_vec();
        if body.is_some() && !headers.iter().any(|(k, _)| *k == "content-type") {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map_or(Body::Empty, |b| Body::Text(b.to_owned()));
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

    /// `method path` as `who`, with `body` as JSON when given.
    async fn call(&self, who: &Person, method: &str, path: &str, body: Option<&str>) -> Reply {
        let auth = format!("Bearer {}", who.token);
        self.send(method, path, &[("authorization", &auth)], body)
            .await
    }

    async fn run(&self, who: &Person, agent: &str) -> Reply {
        let body = compare_vendors().to_string();
        self.call(who, "POST", &format!("/agents/{agent}/runs"), Some(&body))
            .await
    }

    /// The kill switch events, oldest first.
    async fn switches(&self) -> Vec<AuditEvent> {
        let now = self.world.clock.now_millis();
        let mut events = Vec::new();
        for t in [EventType::AgentDisabled, EventType::AgentEnabled] {
            let query = AuditQuery {
                actor: None,
                event_type: Some(t),
                since_millis: now - 3_600_000,
                until_millis: now + 1,
                limit: 1000,
                before: None,
            };
            events.extend(self.world.agents.store.query_audit(&query).await.unwrap());
        }
        events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        events
    }

    async fn enabled(&self, agent: &str) -> bool {
        let id = warden::domain::agents::AgentId::parse(agent).unwrap();
        let record = self.world.agents.store.get_agent(&id).await.unwrap();
        record.unwrap().enabled
    }
}

warden::on_both_stores!(async harness;
    the_registry_and_the_kill_switch_are_for_admins_only,
    admins_list_the_registry_sorted_by_id_without_tools,
    the_kill_switch_refuses_the_next_run_and_enable_lets_it_run_again,
    a_bad_body_or_an_unknown_agent_changes_nothing,
    the_fixed_routes_keep_their_paths,
);

const ADMIN_ROUTES: [(&str, &str); 3] = [
    ("GET", "/agents"),
    ("POST", "/agents/buyer/disable"),
    ("POST", "/agents/buyer/enable"),
];

async fn the_registry_and_the_kill_switch_are_for_admins_only(h: Harness) {
    // An agent acting for the admin, and its API key.
    let (delegated, key) =
        testing::delegate(&h.keys, "helper", &["acme"], &h.root.id, &h.root.token).await;
    let before = h.switches().await.len();
    for (method, path) in ADMIN_ROUTES {
        // No credentials: the bearer challenge alone (no API key is taken).
        let reply = h.send(method, path, &[], None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            reply.challenge().starts_with("Bearer resource_metadata=")
                && !reply.challenge().contains("ApiKey"),
            "{path}: {}",
            reply.challenge()
        );
        // An API key is no person: the same 401.
        let reply = h.send(method, path, &[("x-api-key", &key)], None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path} key");
        assert!(!reply.challenge().contains("ApiKey"), "{path} key");
        // A person without role admin, the approver included.
        for who in [&h.ann, &h.bob] {
            let reply = h.call(who, method, path, None).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{path}: {}",
                reply.body
            );
            assert_eq!(
                reply.challenge(),
                r#"Bearer error="insufficient_scope", scope="role:admin""#
            );
        }
        // The admin's own delegated token: an agent is not its person.
        let auth = format!("Bearer {delegated}");
        let reply = h
            .send(method, path, &[("authorization", &auth)], None)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            reply.body
        );
        assert_eq!(
            reply.challenge(),
            r#"Bearer error="insufficient_scope", scope="warden""#
        );
        // A token that is not one.
        let reply = h
            .send(method, path, &[("authorization", "Bearer nope")], None)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path} forged");
    }
    // Nothing was switched.
    assert!(h.enabled("buyer").await);
    assert_eq!(h.switches().await.len(), before);
    // The admin may.
    for (method, path) in ADMIN_ROUTES {
        let reply = h.call(&h.root, method, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
}

async fn admins_list_the_registry_sorted_by_id_without_tools(h: Harness) {
    let reply = h.call(&h.root, "GET", "/agents", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"agents": [
            {"agent_id": "accountant", "agent_type": "accounting", "maturity": "INTERN",
             "enabled": false, "workspaces": ["acme"]},
            {"agent_id": "buyer", "agent_type": "purchasing", "maturity": "AUTONOMOUS",
             "enabled": true, "workspaces": ["acme"]},
            {"agent_id": "seller", "agent_type": "sales", "maturity": "STUDENT",
             "enabled": true, "workspaces": ["acme", "other"]},
        ]})
    );
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.headers["cache-control"], "no-store");
}

async fn the_kill_switch_refuses_the_next_run_and_enable_lets_it_run_again(h: Harness) {
    // A run queued before the switch, not yet worked.
    let queued = h.run(&h.ann, "buyer").await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let job_id = queued.body["job_id"].as_str().unwrap().to_owned();

    let reason = json!({"reason": "it ordered 400 reams"}).to_string();
    let disabled = h
        .call(&h.root, "POST", "/agents/buyer/disable", Some(&reason))
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(
        disabled.body,
        json!({"agent_id": "buyer", "agent_type": "purchasing", "maturity": "AUTONOMOUS",
               "enabled": false, "workspaces": ["acme"]})
    );
    assert!(!h.enabled("buyer").await);
    // From the next request on: the run is refused, and the queued job
    // never runs.
    let refused = h.run(&h.ann, "buyer").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    h.world.work().await;
    let job = h
        .call(&h.ann, "GET", &format!("/agents/runs/{job_id}"), None)
        .await;
    assert_eq!(job.body["status"], "FAILED", "{}", job.body);
    assert!(
        job.body["error"]
            .as_str()
            .unwrap()
            .starts_with("agent buyer was disabled"),
        "{}",
        job.body
    );
    // The list says so too.
    let list = h.call(&h.root, "GET", "/agents", None).await;
    assert_eq!(list.body["agents"][1]["enabled"], false);

    // Disabling it again is answered the same (and audited again).
    let again = h.call(&h.root, "POST", "/agents/buyer/disable", None).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["enabled"], false);

    let enabled = h.call(&h.root, "POST", "/agents/buyer/enable", None).await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    assert_eq!(enabled.body["enabled"], true);
    assert_eq!(h.run(&h.ann, "buyer").await.status, StatusCode::ACCEPTED);

    // Each switch is audited with the admin as its actor, the agent as its
    // subject, the request as its origin, and the reason when one was given.
    let events = h.switches().await;
    let kinds: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
    assert_eq!(
        kinds,
        [
            EventType::AgentDisabled,
            EventType::AgentDisabled,
            EventType::AgentEnabled
        ]
    );
    for e in &events {
        assert_eq!(e.actor, warden::audit::user_actor(&h.root.id));
        assert_eq!(e.subject.as_deref(), Some("agent:buyer"));
        assert!(matches!(e.origin, Origin::Http { .. }), "{:?}", e.origin);
    }
    assert_eq!(events[0].details["reason"], "it ordered 400 reams");
    assert!(!events[1].details.contains_key("reason"));
    assert!(!events[2].details.contains_key("reason"));
}

async fn a_bad_body_or_an_unknown_agent_changes_nothing(h: Harness) {
    let before = h.switches().await.len();
    let long = json!({"reason": "x".repeat(501)}).to_string();
    for (body, content_type, status) in [
        (
            r#"{"reason": null}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"reason": 7}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (r#"["off"]"#, "application/json", StatusCode::BAD_REQUEST),
        ("null", "application/json", StatusCode::BAD_REQUEST),
        ("{broken", "application/json", StatusCode::BAD_REQUEST),
        (long.as_str(), "application/json", StatusCode::BAD_REQUEST),
        (
            r#"{"reason": "x"}"#,
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let auth = format!("Bearer {}", h.root.token);
        let reply = h
            .send(
                "POST",
                "/agents/buyer/disable",
                &[("authorization", &auth), ("content-type", content_type)],
                Some(body),
            )
            .await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    let detail = h
        .call(&h.root, "POST", "/agents/buyer/disable", Some(&long))
        .await
        .body["detail"]
        .clone();
    assert_eq!(detail, "reason is at most 500 characters");
    // Unknown, malformed or reserved ids name no agent.
    for agent in ["nobody", "a*b", "proposals", &"a".repeat(65)] {
        let reply = h
            .call(&h.root, "POST", &format!("/agents/{agent}/disable"), None)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{agent}: {}",
            reply.body
        );
    }
    assert!(h.enabled("buyer").await);
    assert_eq!(h.switches().await.len(), before);
    // 500 characters (not bytes) are fine; an empty body or `{}` too.
    let full = json!({"reason": "é".repeat(500)}).to_string();
    for body in [Some(full.as_str()), Some("{}"), Some("  "), None] {
        let reply = h
            .call(&h.root, "POST", "/agents/seller/disable", body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{body:?}: {}", reply.body);
    }
    assert_eq!(h.switches().await.len(), before + 4);
}

async fn the_fixed_routes_keep_their_paths(h: Harness) {
    // As `resolve` picks them: a literal segment beats `{agent_id}`.
    let endpoint = |method: http::Method, path: &str| {
        resolve(ROUTES, &method, path).map(|(route, _)| route.endpoint)
    };
    assert_eq!(
        endpoint(http::Method::GET, "/agents/runs/disable").ok(),
        Some(Endpoint::Job)
    );
    assert_eq!(
        endpoint(http::Method::GET, "/agents/tool-calls/enable").ok(),
        Some(Endpoint::ToolCallRecord)
    );
    assert_eq!(
        endpoint(http::Method::POST, "/agents/buyer/disable").ok(),
        Some(Endpoint::SetEnabled(false))
    );
    assert_eq!(
        endpoint(http::Method::POST, "/agents/disable/enable").ok(),
        Some(Endpoint::SetEnabled(true))
    );
    assert_eq!(
        endpoint(http::Method::GET, "/agents").ok(),
        Some(Endpoint::Agents)
    );
    // Through the handler, as the admin: a method the fixed route does not
    // serve is 405 naming its methods, as before the switch existed.
    for (method, path, allow) in [
        ("POST", "/agents/runs/disable", "GET, OPTIONS"),
        ("POST", "/agents/runs/enable", "GET, OPTIONS"),
        ("POST", "/agents/tool-calls/disable", "GET, OPTIONS"),
        ("GET", "/agents/buyer/disable", "POST, OPTIONS"),
        ("DELETE", "/agents/buyer/enable", "POST, OPTIONS"),
        ("POST", "/agents", "GET, OPTIONS"),
    ] {
        let reply = h.call(&h.root, method, path, None).await;
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            reply.body
        );
        assert_eq!(reply.headers["allow"], allow, "{method} {path}");
    }
    // `GET /agents/runs/disable` reads a job of that id: there is none.
    let job = h.call(&h.root, "GET", "/agents/runs/disable", None).await;
    assert_eq!(job.status, StatusCode::NOT_FOUND, "{}", job.body);
    // No agent was switched by any of it.
    assert!(h.switches().await.is_empty());
}
