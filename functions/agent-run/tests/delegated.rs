//! Agents acting for people (API.md "Delegated agent tokens", "People in
//! workspaces") on the agent-run handler, called as a function, on the
//! memory store and on DynamoDB (moto): a delegated token's tool call is
//! decided and audited with both the user and the agent; it reads and
//! reports only its own calls; the token dies at once with every
//! revocation of its user (the token, its parent, the session, revoke-all,
//! disabling the user), with its actor key's revocation and with the
//! agent's kill switch, and re-enabling the agent revives nothing; an
//! admin's delegated token is a member only of the workspaces its user was
//! added to; it never decides a proposal.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Body;
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::agents::registry::{self, NewTool};
use warden::audit::{EventType, Origin};
use warden::auth::api_keys::revoke_key;
use warden::auth::login::{self, LoginRequest, create_user};
use warden::auth::revocation;
use warden::domain::agents::{AgentId, Maturity, WorkspaceId};
use warden::domain::tools::{ToolName, complexity_of_level};
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::state::AuthState;
use warden::store::{AuditQuery, AuthStore, RegistryStore, WorkerStore};
use warden::testing::{self, AgentWorld, api_request, json_body};

fn cli() -> Origin {
    Origin::Cli {
        operator: "test".into(),
    }
}

fn ctx() -> RequestContext {
    RequestContext::for_tests("127.0.0.1")
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Value,
}

/// A person's login.
struct Person {
    user_id: String,
    token: String,
}

/// An agent acting for a person.
struct Delegation {
    token: String,
    key: String,
    agent: String,
    person: Person,
}

struct Harness {
    world: AgentWorld,
    /// The token endpoint over the same store.
    keys: AuthState,
    /// A number for each new agent and user.
    next: std::sync::atomic::AtomicU32,
}

async fn harness<S: AuthStore + RegistryStore + WorkerStore + 'static>(store: Arc<S>) -> Harness {
    let world = AgentWorld::over(store.clone());
    let keys = testing::token_endpoint_state(store, world.clock.clone());
    for id in ["acme", "ops"] {
        testing::add_workspace(&world.agents, cli(), id, id).await;
    }
    for (name, level) in [("read_ledger", 1), ("refund", 4)] {
        registry::register_tool(
            &world.agents,
            cli(),
            NewTool {
                name: ToolName::parse(name).unwrap(),
                complexity: complexity_of_level(level).unwrap(),
                workspaces: vec![
                    WorkspaceId::parse("acme").unwrap(),
                    WorkspaceId::parse("ops").unwrap(),
                ],
            },
        )
        .await
        .unwrap();
    }
    Harness {
        world,
        keys,
        next: std::sync::atomic::AtomicU32::new(0),
    }
}

impl Harness {
    fn n(&self) -> u32 {
        self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }

    /// A new user with `roles`, member of `workspaces`, logged in.
    async fn person(&self, roles: &[Role], workspaces: &[&str]) -> Person {
        let name = format!("user{}", self.n());
        let username = Username::parse(&name).unwrap();
        let password = format!("{name} password");
        create_user(
            &self.world.auth,
            cli(),
            &username,
            &SecretString::from(password.clone()),
            roles,
        )
        .await
        .unwrap();
        for w in workspaces {
            registry::set_membership(
                &self.world.agents,
                &*self.world.auth.store,
                cli(),
                &WorkspaceId::parse(w).unwrap(),
                &username,
                true,
            )
            .await
            .unwrap();
        }
        self.login(&name).await
    }

    async fn login(&self, name: &str) -> Person {
        let request = LoginRequest {
            username: name.into(),
            password: SecretString::from(format!("{name} password")),
        };
        // A fresh address for each login: the per-IP login limit is not
        // what these tests are about.
        let ip = format!("10.1.{}.{}", self.n() / 250, self.n() % 250 + 1);
        let pair = login::login(&self.world.auth, &RequestContext::for_tests(&ip), request)
            .await
            .unwrap();
        let user_id = self
            .world
            .agents
            .bearer()
            .token(&pair.access_token)
            .await
            .unwrap()
            .sub
            .clone();
        Person {
            user_id,
            token: pair.access_token,
        }
    }

    /// A new AUTONOMOUS agent in `acme` and `ops`, acting for `person`.
    async fn delegate(&self, person: Person) -> Delegation {
        let owner = person.user_id.clone();
        self.delegate_owned_by(&owner, person).await
    }

    /// [`Harness::delegate`], the agent's key made for user `owner` (who
    /// answers for the agent).
    async fn delegate_owned_by(&self, owner: &str, person: Person) -> Delegation {
        let agent = format!("helper{}", self.n());
        let (token, key) =
            testing::delegate(&self.keys, &agent, &["acme", "ops"], owner, &person.token).await;
        Delegation {
            token,
            key,
            agent,
            person,
        }
    }

    /// A member of `acme` and an agent acting for them.
    async fn member_delegation(&self) -> Delegation {
        let person = self.person(&[Role::User], &["acme"]).await;
        self.delegate(person).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        authorization: &str,
        body: Option<Value>,
    ) -> Reply {
        self.world.clock.advance_millis(1);
        let bearer = format!("Bearer {authorization}");
        let mut headers = vec![("authorization", bearer.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map_or(Body::Empty, |b| Body::from(b.to_string()));
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

    /// A call of `tool` in `workspace` by `d`'s agent with its token.
    async fn call(&self, d: &Delegation, workspace: &str, tool: &str) -> Reply {
        let path = format!("/agents/{}/tool-calls", d.agent);
        let body = json!({"workspace_id": workspace, "tool": tool, "arguments": {"n": 1}});
        self.send("POST", &path, &d.token, Some(body)).await
    }

    /// Audit events of `event_type`, oldest first.
    async fn events(&self, event_type: EventType) -> Vec<warden::audit::AuditEvent> {
        let now = self.world.clock.now_millis();
        let mut events = self
            .world
            .agents
            .store
            .query_audit(&AuditQuery {
                actor: None,
                event_type: Some(event_type),
                since_millis: now - 3_600_000,
                until_millis: now + 1,
                limit: 1000,
                before: None,
            })
            .await
            .unwrap();
        events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        events
    }
}

fn is_revoked(reply: &Reply) -> bool {
    reply.status == StatusCode::UNAUTHORIZED
        && reply
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains(r#"error_description="revoked""#))
}

use warden::clock::Clock as _;

async fn a_delegated_call_is_decided_and_audited_with_the_user_and_the_agent(h: Harness) {
    let d = h.member_delegation().await;
    let reply = h.call(&d, "acme", "read_ledger").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["decision"], "allow");
    let call_id = reply.body["call_id"].as_str().unwrap().to_owned();
    // The decision token names the person as the caller, the agent as
    // the actor.
    let claims = h
        .world
        .agents
        .decisions
        .as_ref()
        .unwrap()
        .verify(
            reply.body["decision_token"].as_str().unwrap(),
            "read_ledger",
            h.world.clock.now_secs(),
        )
        .unwrap();
    assert_eq!(claims.sub, format!("user:{}", d.person.user_id));
    assert_eq!(claims.act.sub, format!("agent:{}", d.agent));

    let allowed = h.events(EventType::ToolCallAllowed).await;
    let event = allowed.last().unwrap();
    let user = format!("user:{}", d.person.user_id);
    assert_eq!(event.actor, user);
    assert_eq!(
        event.subject.as_deref(),
        Some(format!("agent:{}", d.agent).as_str())
    );
    assert_eq!(event.details["caller"], user.as_str());
    assert_eq!(event.details["act"], format!("agent:{}", d.agent));
    let key_id = d.key.split('_').nth(1).unwrap();
    assert_eq!(event.details["key_id"], key_id);
    assert_eq!(event.details["call_id"], call_id.as_str());

    // It reads the call it made, and reports its outcome.
    let path = format!("/agents/tool-calls/{call_id}");
    let read = h.send("GET", &path, &d.token, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["call_id"], call_id.as_str());
    // Another person's agent does not see it (404, not 403).
    let other = h.member_delegation().await;
    let hidden = h.send("GET", &path, &other.token, None).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.body);
    let outcome = h
        .send(
            "POST",
            &format!("{path}/outcome"),
            &d.token,
            Some(json!({"status": "succeeded"})),
        )
        .await;
    assert_eq!(outcome.status, StatusCode::NO_CONTENT, "{}", outcome.body);

    // It calls for its own agent only.
    let path = format!("/agents/{}/tool-calls", other.agent);
    let body = json!({"workspace_id": "acme", "tool": "read_ledger", "arguments": {}});
    let reply = h.send("POST", &path, &d.token, Some(body)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);

    // Listing, runs and proposals are not its routes.
    for (method, path) in [
        ("GET", "/agents/tool-calls?workspace_id=acme".to_owned()),
        ("GET", "/agents/proposals".to_owned()),
        ("GET", "/agents/runs?workspace_id=acme".to_owned()),
        (
            "POST",
            format!("/agents/proposals/{}/approve", ulid::Ulid::new()),
        ),
    ] {
        let reply = h.send(method, &path, &d.token, None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
        let challenge = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with(r#"Bearer error="insufficient_scope""#),
            "{challenge}"
        );
    }
}

async fn a_delegated_proposal_is_approved_by_another_person_never_by_a_delegated_token(h: Harness) {
    let d = h.member_delegation().await;
    // The agent is AUTONOMOUS: make it SUPERVISED, so that a complexity-4
    // tool needs an approval (a demotion raises the kill generation: a new
    // delegation is needed).
    let agent = AgentId::parse(&d.agent).unwrap();
    registry::set_maturity(&h.world.agents, cli(), &agent, Maturity::Supervised)
        .await
        .unwrap();
    assert!(is_revoked(&h.call(&d, "acme", "refund").await));
    let subject = h.login(&username_of(&h, &d).await).await;
    let token = testing::exchange(&h.keys, &subject.token, &d.key)
        .await
        .unwrap();
    let d = Delegation {
        token,
        person: subject,
        ..d
    };
    let proposed = h.call(&d, "acme", "refund").await;
    assert_eq!(proposed.status, StatusCode::ACCEPTED, "{}", proposed.body);
    let proposal = proposed.body["proposal_id"].as_str().unwrap().to_owned();
    let approve = format!("/agents/proposals/{proposal}/approve");

    // No token with act decides a proposal: an admin's delegated token
    // neither.
    let admin = h.person(&[Role::Admin, Role::Approver], &["acme"]).await;
    let admin_token = admin.token.clone();
    let admins_agent = h.delegate(admin).await;
    let reply = h.send("POST", &approve, &admins_agent.token, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    // The person the agent acts for cannot approve what was asked for
    // them.
    let own = h.send("POST", &approve, &d.person.token, None).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    // Another person can, and the identical delegated call uses it once.
    let reply = h.send("POST", &approve, &admin_token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let used = h.call(&d, "acme", "refund").await;
    assert_eq!(used.status, StatusCode::OK, "{}", used.body);
    assert_eq!(used.body["proposal_id"], proposal.as_str());
    let consumed = h.events(EventType::ToolCallApprovalConsumed).await;
    assert_eq!(
        consumed.last().unwrap().details["act"],
        format!("agent:{}", d.agent)
    );

    // The person the agent's key was made for answers for the agent: they
    // do not approve what it asks for, whoever it acts for.
    let owner = h.person(&[Role::Approver], &["acme"]).await;
    let owner_token = owner.token.clone();
    let member = h.person(&[Role::User], &["acme"]).await;
    let owned = h.delegate_owned_by(&owner.user_id, member).await;
    let agent = AgentId::parse(&owned.agent).unwrap();
    registry::set_maturity(&h.world.agents, cli(), &agent, Maturity::Supervised)
        .await
        .unwrap();
    let token = testing::exchange(&h.keys, &owned.person.token, &owned.key)
        .await
        .unwrap();
    let owned = Delegation { token, ..owned };
    let proposed = h.call(&owned, "acme", "refund").await;
    assert_eq!(proposed.status, StatusCode::ACCEPTED, "{}", proposed.body);
    let approve = format!(
        "/agents/proposals/{}/approve",
        proposed.body["proposal_id"].as_str().unwrap()
    );
    let reply = h.send("POST", &approve, &owner_token, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    let reply = h.send("POST", &approve, &admin_token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// The username of `d`'s person.
async fn username_of(h: &Harness, d: &Delegation) -> String {
    h.world
        .agents
        .bearer()
        .person(&d.person.token)
        .await
        .unwrap()
        .1
        .username
        .unwrap()
}

async fn a_delegated_token_dies_at_once_with_every_revocation(h: Harness) {
    let caller = |token: &str| {
        let agents = &h.world.agents;
        let token = token.to_owned();
        async move { agents.bearer().token(&token).await.unwrap() }
    };

    // The delegated token itself, revoked by its person.
    let d = h.member_delegation().await;
    assert_eq!(
        h.call(&d, "acme", "read_ledger").await.status,
        StatusCode::OK
    );
    let person = caller(&d.person.token).await;
    let revoked = revocation::revoke_token(&h.world.auth, &ctx(), &person, &d.token)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert!(
        is_revoked(&h.call(&d, "acme", "read_ledger").await),
        "token"
    );

    // Its parent (the person's token it was exchanged for).
    let d = h.member_delegation().await;
    let person = caller(&d.person.token).await;
    revocation::revoke_token(&h.world.auth, &ctx(), &person, &d.person.token)
        .await
        .unwrap();
    assert!(
        is_revoked(&h.call(&d, "acme", "read_ledger").await),
        "parent"
    );

    // The session.
    let d = h.member_delegation().await;
    let person = caller(&d.person.token).await;
    revocation::revoke_session(&h.world.auth, &ctx(), &person, &person.sid)
        .await
        .unwrap();
    assert!(
        is_revoked(&h.call(&d, "acme", "read_ledger").await),
        "session"
    );

    // Revoke-all.
    let d = h.member_delegation().await;
    let person = caller(&d.person.token).await;
    revocation::revoke_all(&h.world.auth, &ctx(), &person, None, None)
        .await
        .unwrap();
    assert!(
        is_revoked(&h.call(&d, "acme", "read_ledger").await),
        "revoke-all"
    );

    // The user disabled.
    let d = h.member_delegation().await;
    let username = username_of(&h, &d).await;
    revocation::disable_user(
        &h.world.auth,
        cli(),
        "test",
        &Username::parse(&username).unwrap(),
    )
    .await
    .unwrap();
    assert!(
        is_revoked(&h.call(&d, "acme", "read_ledger").await),
        "disable"
    );

    // The actor key revoked.
    let d = h.member_delegation().await;
    revoke_key(&h.world.agents, cli(), &d.key).await.unwrap();
    assert!(is_revoked(&h.call(&d, "acme", "read_ledger").await), "key");

    // The agent's kill switch; re-enabling it revives nothing.
    let d = h.member_delegation().await;
    let agent = AgentId::parse(&d.agent).unwrap();
    registry::set_enabled(&h.world.agents, cli(), &agent, false)
        .await
        .unwrap();
    assert!(is_revoked(&h.call(&d, "acme", "read_ledger").await), "kill");
    registry::set_enabled(&h.world.agents, cli(), &agent, true)
        .await
        .unwrap();
    assert!(
        is_revoked(&h.call(&d, "acme", "read_ledger").await),
        "revived"
    );
    // ...while a fresh exchange works again.
    let token = testing::exchange(&h.keys, &d.person.token, &d.key)
        .await
        .unwrap();
    let fresh = Delegation { token, ..d };
    assert_eq!(
        h.call(&fresh, "acme", "read_ledger").await.status,
        StatusCode::OK
    );
    // Reading a call and reporting an outcome refuse a dead token too.
    registry::set_enabled(&h.world.agents, cli(), &agent, false)
        .await
        .unwrap();
    let path = format!("/agents/tool-calls/{}", ulid::Ulid::new());
    let read = h.send("GET", &path, &fresh.token, None).await;
    assert!(is_revoked(&read));
    // These routes take keys too: the challenge names both schemes.
    let challenge = read.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("ApiKey"), "{challenge}");
    let outcome = h
        .send(
            "POST",
            &format!("{path}/outcome"),
            &fresh.token,
            Some(json!({"status": "failed"})),
        )
        .await;
    assert!(is_revoked(&outcome));
}

async fn an_admins_delegated_token_is_a_member_only_where_the_admin_was_added(h: Harness) {
    // The admin sees every workspace with their own token...
    let admin = h.person(&[Role::Admin], &["acme"]).await;
    let d = h.delegate(admin).await;
    // ...but their agent acts only where they are a member: `ops` is
    // answered like an unknown workspace, and audited as not a member.
    let reply = h.call(&d, "ops", "read_ledger").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let unknown = h.call(&d, "nowhere", "read_ledger").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.body["detail"], unknown.body["detail"],
        "not a member reads exactly like unknown"
    );
    let blocked = h.events(EventType::ToolCallBlocked).await;
    assert!(
        blocked
            .iter()
            .any(|e| e.details["reason"] == "not_a_member" && e.details["workspace_id"] == "ops"),
        "{blocked:?}"
    );
    let reply = h.call(&d, "acme", "read_ledger").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // Membership counts from the next request.
    let username = username_of(&h, &d).await;
    registry::set_membership(
        &h.world.agents,
        &*h.world.auth.store,
        cli(),
        &WorkspaceId::parse("ops").unwrap(),
        &Username::parse(&username).unwrap(),
        true,
    )
    .await
    .unwrap();
    let reply = h.call(&d, "ops", "read_ledger").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

async fn a_persons_own_token_is_not_the_agent(h: Harness) {
    let d = h.member_delegation().await;
    let path = format!("/agents/{}/tool-calls", d.agent);
    let body = json!({"workspace_id": "acme", "tool": "read_ledger", "arguments": {}});
    let reply = h.send("POST", &path, &d.person.token, Some(body)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("a person is not the agent")
    );
}

warden::on_both_stores!(
    async harness;
    a_delegated_call_is_decided_and_audited_with_the_user_and_the_agent,
    a_delegated_proposal_is_approved_by_another_person_never_by_a_delegated_token,
    a_delegated_token_dies_at_once_with_every_revocation,
    an_admins_delegated_token_is_a_member_only_where_the_admin_was_added,
    a_persons_own_token_is_not_the_agent,
);
