//! Delegated agent tokens on the login function's handler, called as a
//! function: `POST /auth/token`, the RFC 8693 token exchange of API.md
//! "Delegated agent tokens". A person's access token (the subject) and an
//! agent's API key with `tools:call` (the actor) are exchanged for a
//! delegated token: the exact answer and every claim of the token, its
//! life bounded by the subject's and by 15 minutes, the `TOKEN_EXCHANGED`
//! audit; then every refusal the contract lists, each in the token
//! endpoint's own error shape (RFC 6749 section 5.2: `400`, exactly
//! `error` and `error_description`): `invalid_request` for a missing or
//! mistyped parameter, a subject token that is not a person's live token
//! and an actor key that cannot act, `invalid_scope` for a wider scope,
//! `unsupported_grant_type` for another grant; the form rules (a repeated
//! parameter `400`, JSON `415`); and how refusals are audited
//! (`TOKEN_EXCHANGE_REFUSED`, `API_KEY_REJECTED`). Each scenario runs on
//! the memory store and on DynamoDB (moto).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use warden::Error;
use warden::agents::registry::{add_workspace, register_agent, set_enabled};
use warden::audit::{AuditEvent, EventType};
use warden::auth::api_keys::{KeySpec, create_key, revoke_key};
use warden::auth::delegation::{
    ACCESS_TOKEN_TYPE, API_KEY_TOKEN_TYPE, MAX_DELEGATED_TTL_SECS, TOKEN_EXCHANGE_GRANT,
};
use warden::auth::jwt::{AccessClaims, LEEWAY_SECS};
use warden::auth::login::create_user;
use warden::auth::revocation;
use warden::clock::{Clock as _, ManualClock};
use warden::domain::agents::{AgentId, AgentType, KeyOwner, Maturity, ServiceName, WorkspaceId};
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::state::{AuthState, Registry};
use warden::store::{AuthStore, RegistryStore};
use warden::testing;

const FORM: &str = "application/x-www-form-urlencoded";

/// The workspace every agent here is allowed in.
const WORKSPACE: &str = "acme";

struct Harness {
    state: AuthState,
    clock: Arc<ManualClock>,
    next_ip: AtomicU32,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header: {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    /// Asserts a token-endpoint refusal: `400`, `application/json`, exactly
    /// `{"error", "error_description"}` with `error` and a description that
    /// says `says` (what was refused, and why).
    fn assert_refused(&self, error: &str, says: &str, case: &str) {
        assert_eq!(
            self.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            self.body
        );
        assert_eq!(self.header("content-type"), "application/json", "{case}");
        let members: Vec<&str> = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("{case}: not an object: {}", self.body))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(members, ["error", "error_description"], "{case}");
        assert_eq!(self.body["error"], error, "{case}: {}", self.body);
        let description = self.body["error_description"].as_str().unwrap();
        assert!(
            description.contains(says),
            "{case}: {description:?} does not say {says:?}"
        );
    }
}

fn ctx() -> RequestContext {
    RequestContext::for_tests("127.0.0.1")
}

/// `value` percent-encoded for a form body.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An `application/x-www-form-urlencoded` body of `params`, in order.
fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The five parameters of an exchange of `subject` with the actor `key`.
fn exchange_params<'a>(subject: &'a str, key: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", TOKEN_EXCHANGE_GRANT),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("actor_token", key),
        ("actor_token_type", API_KEY_TOKEN_TYPE),
    ]
}

/// The claims segment of a JWS, as JSON (not verified).
fn claims_json(token: &str) -> Value {
    let segment = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// `token` with one character in the middle of its signature changed.
fn with_flipped_signature(token: &str) -> String {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut signature = signature.to_owned().into_bytes();
    let i = signature.len() / 2;
    signature[i] = if signature[i] == b'A' { b'B' } else { b'A' };
    format!("{input}.{}", String::from_utf8(signature).unwrap())
}

/// The key id of `wdn_<key id>_<secret>`.
fn key_id_of(key: &str) -> &str {
    key.split('_').nth(1).unwrap()
}

/// `key` with the first character of its secret changed (the secret may
/// itself hold `_`: it is everything after the second).
fn with_wrong_secret(key: &str) -> String {
    let secret = key.splitn(3, '_').nth(2).unwrap();
    let prefix = &key[..key.len() - secret.len()];
    let other = if secret.starts_with('A') { 'B' } else { 'A' };
    format!("{prefix}{other}{}", &secret[1..])
}

fn agent_id(id: &str) -> AgentId {
    AgentId::parse(id).unwrap()
}

impl Harness {
    /// The login function's state over `store`, with the API keys the token
    /// endpoint checks actors against.
    fn new<S: AuthStore + RegistryStore + 'static>(store: Arc<S>) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        let state = testing::token_endpoint_state(store, clock.clone());
        Self {
            state,
            clock,
            next_ip: AtomicU32::new(1),
        }
    }

    /// Now, in epoch seconds, by the harness's clock.
    fn clock_now(&self) -> i64 {
        self.clock.now_secs()
    }

    fn registry(&self) -> &Registry {
        &self.state.api_keys.as_ref().unwrap().registry
    }

    fn fresh_ip(&self) -> String {
        let n = self.next_ip.fetch_add(1, Ordering::SeqCst);
        format!("198.51.{}.{}", n / 250, n % 250 + 1)
    }

    /// Creates `name` (password `"{name} password"`) with `roles`; its id.
    async fn add_user(&self, name: &str, roles: &[Role]) -> String {
        create_user(
            &self.state,
            ctx().origin(),
            &Username::parse(name).unwrap(),
            &SecretString::from(format!("{name} password")),
            roles,
        )
        .await
        .unwrap()
        .user_id
    }

    async fn call(&self, path: &str, headers: &[(&str, &str)], body: String) -> Reply {
        let req = testing::api_request("POST", path, headers, body, &self.fresh_ip());
        let response = warden_login::handler(&self.state, req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = testing::json_body(&response);
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `POST /auth/login` of `name` through the handler: its answer.
    async fn login(&self, name: &str) -> Value {
        let body = json!({"username": name, "password": format!("{name} password")});
        let reply = self
            .call(
                "/auth/login",
                &[("content-type", "application/json")],
                body.to_string(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.body);
        reply.body
    }

    /// A fresh access token of `name`.
    async fn token(&self, name: &str) -> String {
        self.login(name).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The verified claims of a live `token`, delegated or not.
    async fn claims(&self, token: &str) -> Arc<AccessClaims> {
        self.state.bearer().live(token).await.unwrap().0
    }

    /// Registers agent `id` (enabled, allowed in [`WORKSPACE`]).
    async fn add_agent(&self, id: &str) {
        let workspace = WorkspaceId::parse(WORKSPACE).unwrap();
        match add_workspace(self.registry(), ctx().origin(), workspace, "Acme").await {
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(e) => panic!("adding {WORKSPACE}: {e}"),
        }
        let agent = testing::new_agent(id, AgentType::Accounting, Maturity::Supervised, WORKSPACE);
        register_agent(self.registry(), ctx().origin(), agent)
            .await
            .unwrap();
    }

    /// A new key of `owner` with `scopes`, expiring at `expires_at`: the
    /// whole key, as an agent sends it.
    async fn new_key(&self, owner: KeyOwner, scopes: &[&str], expires_at: Option<i64>) -> String {
        let keys = self.state.api_keys.as_ref().unwrap();
        let spec = KeySpec {
            owner,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at,
            rate_limit_per_hour: None,
            created_by: None,
        };
        let key = create_key(&keys.registry, &keys.pepper, ctx().origin(), spec)
            .await
            .unwrap();
        key.key.expose_secret().to_owned()
    }

    /// A key of the (registered) agent `id` with `scopes`.
    async fn key_of(&self, id: &str, scopes: &[&str]) -> String {
        self.new_key(KeyOwner::Agent(agent_id(id)), scopes, None)
            .await
    }

    /// Registers agent `id` and gives it a key with `tools:call`.
    async fn agent_with_key(&self, id: &str) -> String {
        self.add_agent(id).await;
        self.key_of(id, &["tools:call"]).await
    }

    /// `POST /auth/token` with the form `params`.
    async fn post_token(&self, params: &[(&str, &str)]) -> Reply {
        self.call("/auth/token", &[("content-type", FORM)], form(params))
            .await
    }

    /// An exchange of `subject` with the actor `key`, plus `extra`.
    async fn exchange(&self, subject: &str, key: &str, extra: &[(&str, &str)]) -> Reply {
        let mut params = exchange_params(subject, key);
        params.extend_from_slice(extra);
        self.post_token(&params).await
    }

    /// A successful exchange: the delegated token.
    async fn delegated(&self, subject: &str, key: &str) -> String {
        let reply = self.exchange(subject, key, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    /// The newest audit events of `actor`, newest first.
    async fn audit_of(&self, actor: &str) -> Vec<AuditEvent> {
        self.state.store.audit_by_actor(actor, 100).await.unwrap()
    }

    /// The newest event of `event_type` by `actor`.
    async fn last_event(&self, actor: &str, event_type: EventType) -> AuditEvent {
        self.audit_of(actor)
            .await
            .into_iter()
            .find(|e| e.event_type == event_type)
            .unwrap_or_else(|| panic!("no {event_type:?} by {actor}"))
    }

    /// How many events of `event_type` `actor` has.
    async fn count_events(&self, actor: &str, event_type: EventType) -> usize {
        self.audit_of(actor)
            .await
            .iter()
            .filter(|e| e.event_type == event_type)
            .count()
    }
}

/// The exchange answers `200` with exactly the contract's members, and the
/// token is a verified access token whose every claim is the contract's:
/// the person as `sub` (their roles not carried, an admin's included), the
/// agent and its key as `act`, the subject's session, generation and `jti`,
/// the agent's kill generation; audited as `TOKEN_EXCHANGED`.
async fn an_exchange_answers_a_delegated_token_with_every_claim_of_the_contract(h: Harness) {
    let user_id = h.add_user("alice", &[Role::Admin]).await;
    let subject = h.token("alice").await;
    let key = h.agent_with_key("books").await;
    // Disabled then enabled again: its kill generation is no longer 0.
    set_enabled(h.registry(), ctx().origin(), &agent_id("books"), false)
        .await
        .unwrap();
    set_enabled(h.registry(), ctx().origin(), &agent_id("books"), true)
        .await
        .unwrap();
    let kill_generation = h
        .registry()
        .store
        .get_agent(&agent_id("books"))
        .await
        .unwrap()
        .unwrap()
        .kill_generation;
    assert_ne!(kill_generation, 0);

    let reply = h.exchange(&subject, &key, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.header("content-type"), "application/json");
    let mut members: Vec<&str> = reply
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [
            "access_token",
            "expires_in",
            "issued_token_type",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(
        reply.body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(reply.body["scope"], "tools:call", "the default scope");
    let expires_in = reply.body["expires_in"].as_i64().unwrap();
    assert_eq!(
        expires_in, MAX_DELEGATED_TTL_SECS,
        "a fresh subject: 15 minutes"
    );
    assert!(expires_in <= 900);

    // Verified like any access token, and exactly these claims.
    let token = reply.body["access_token"].as_str().unwrap();
    let parent = h.claims(&subject).await;
    let claims = h.claims(token).await;
    let now = h.clock_now();
    assert_ne!(claims.jti, parent.jti);
    assert!(
        ulid::Ulid::from_string(&claims.jti).is_ok(),
        "{}",
        claims.jti
    );
    let key_id = key_id_of(&key);
    assert_eq!(
        claims_json(token),
        json!({
            "iss": parent.iss,
            "sub": user_id,
            "aud": parent.aud,
            "exp": now + 900,
            "iat": now,
            "nbf": now,
            "jti": claims.jti,
            "client_id": "agent:books",
            "scope": "tools:call",
            "roles": [],
            "gen": parent.r#gen,
            "sid": parent.sid,
            "act": {"sub": "agent:books", "key_id": key_id},
            "parent_jti": parent.jti,
            "agent_gen": kill_generation,
        })
    );
    assert!(claims.exp <= parent.exp, "never past the subject");
    assert_eq!(claims.exp - now, expires_in);

    // Audited with the facts, and never a token or the key.
    let event = h
        .last_event(&format!("user:{user_id}"), EventType::TokenExchanged)
        .await;
    assert_eq!(event.subject.as_deref(), Some("agent:books"));
    assert_eq!(
        Value::Object(event.details.clone()),
        json!({
            "key_id": key_id,
            "scope": "tools:call",
            "jti": claims.jti,
            "parent_jti": parent.jti,
            "session_id": parent.sid,
            "expires_at": claims.exp,
        })
    );
    let text = serde_json::to_string(&event).unwrap();
    for secret in [token, &subject, &key] {
        assert!(!text.contains(secret), "{text}");
    }
}

/// A subject token with less than 15 minutes left bounds the delegated
/// token: `expires_in` is what the subject has left and `exp` the
/// subject's. A subject past its `exp` is `expired`, within the verifier's
/// leeway too (nothing of no life is issued).
async fn a_delegated_token_expires_with_its_subject_when_that_comes_first(h: Harness) {
    h.add_user("alice", &[]).await;
    let subject = h.token("alice").await;
    let key = h.agent_with_key("books").await;
    let parent = h.claims(&subject).await;

    h.clock.advance_secs(600.0);
    let reply = h.exchange(&subject, &key, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let left = parent.exp - h.clock_now();
    assert_eq!(left, 300);
    assert_eq!(reply.body["expires_in"], left);
    let token = reply.body["access_token"].as_str().unwrap();
    assert_eq!(h.claims(token).await.exp, parent.exp);

    // One second of life left: one second.
    h.clock.advance_secs(299.0);
    let reply = h.exchange(&subject, &key, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["expires_in"], 1);

    // At exp, still inside the leeway the verifier allows: refused all the same.
    h.clock.advance_secs(1.0);
    h.exchange(&subject, &key, &[]).await.assert_refused(
        "invalid_request",
        "subject_token is expired",
        "at exp",
    );
    h.clock.advance_secs(LEEWAY_SECS as f64);
    h.exchange(&subject, &key, &[]).await.assert_refused(
        "invalid_request",
        "subject_token is expired",
        "past exp and the leeway",
    );
}

/// Each of the five parameters missing (or empty), and a subject or actor
/// token type other than the contract's: `invalid_request`.
async fn a_missing_or_mistyped_parameter_is_invalid_request(h: Harness) {
    h.add_user("alice", &[]).await;
    let subject = h.token("alice").await;
    let key = h.agent_with_key("books").await;
    for missing in [
        "grant_type",
        "subject_token",
        "subject_token_type",
        "actor_token",
        "actor_token_type",
    ] {
        let without: Vec<_> = exchange_params(&subject, &key)
            .into_iter()
            .filter(|(k, _)| *k != missing)
            .collect();
        h.post_token(&without).await.assert_refused(
            "invalid_request",
            &format!("{missing} is required"),
            missing,
        );
        let empty: Vec<_> = exchange_params(&subject, &key)
            .into_iter()
            .map(|(k, v)| if k == missing { (k, "") } else { (k, v) })
            .collect();
        h.post_token(&empty).await.assert_refused(
            "invalid_request",
            &format!("{missing} is required"),
            &format!("{missing} empty"),
        );
    }
    h.post_token(&[]).await.assert_refused(
        "invalid_request",
        "grant_type is required",
        "no parameter",
    );

    let mistyped = [
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:refresh_token",
        ),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ("subject_token_type", API_KEY_TOKEN_TYPE),
        ("actor_token_type", ACCESS_TOKEN_TYPE),
        ("actor_token_type", "urn:ietf:params:oauth:token-type:jwt"),
    ];
    for (name, value) in mistyped {
        let params: Vec<_> = exchange_params(&subject, &key)
            .into_iter()
            .map(|(k, v)| if k == name { (k, value) } else { (k, v) })
            .collect();
        h.post_token(&params).await.assert_refused(
            "invalid_request",
            &format!("{name} must be"),
            &format!("{name}={value}"),
        );
    }
    // The right form still works.
    h.delegated(&subject, &key).await;
}

/// A subject token that is not a person's live access token is
/// `invalid_request`: garbage, a refresh token, a forgery, a revoked
/// token, a token of a revoked session, after revoke-all, of a disabled
/// user, and a delegated token (never exchanged again).
async fn a_subject_token_that_is_not_a_persons_live_token_is_invalid_request(h: Harness) {
    h.add_user("alice", &[]).await;
    let key = h.agent_with_key("books").await;
    let refused = |subject: String, says: &'static str, case: &'static str| {
        let h = &h;
        let key = &key;
        async move {
            h.exchange(&subject, key, &[])
                .await
                .assert_refused("invalid_request", says, case);
        }
    };

    let login = h.login("alice").await;
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    for garbage in ["garbage", "a.b.c", ".."] {
        refused(garbage.into(), "subject_token is invalid", garbage).await;
    }
    refused(refresh, "subject_token is invalid", "a refresh token").await;
    let live = h.token("alice").await;
    refused(
        with_flipped_signature(&live),
        "subject_token is invalid",
        "a forged signature",
    )
    .await;

    // Delegated: valid and live, but never exchanged again.
    let delegated = h.delegated(&live, &key).await;
    assert!(h.claims(&delegated).await.is_delegated());
    refused(delegated, "itself delegated", "a delegated token").await;

    // Revoked: that token.
    let revoked = h.token("alice").await;
    let owner = h.claims(&revoked).await;
    revocation::revoke_token(&h.state, &ctx(), &owner, &revoked)
        .await
        .unwrap();
    refused(revoked, "subject_token is revoked", "a revoked token").await;

    // Its session.
    let in_session = h.token("alice").await;
    let owner = h.claims(&in_session).await;
    revocation::revoke_session(&h.state, &ctx(), &owner, &owner.sid)
        .await
        .unwrap();
    refused(in_session, "subject_token is revoked", "a revoked session").await;

    // Revoke-all: every token of the user issued before it.
    let before = h.token("alice").await;
    let owner = h.claims(&before).await;
    revocation::revoke_all(&h.state, &ctx(), &owner, None, None)
        .await
        .unwrap();
    refused(before, "subject_token is revoked", "after revoke-all").await;
    // A token issued after it works (the key is not at fault).
    let after = h.token("alice").await;
    h.delegated(&after, &key).await;

    // A disabled user.
    revocation::disable_user(
        &h.state,
        ctx().origin(),
        "tests",
        &Username::parse("alice").unwrap(),
    )
    .await
    .unwrap();
    refused(after, "subject_token is revoked", "a disabled user").await;
}

/// An actor key that cannot act for a person is `invalid_request`:
/// malformed, unknown, with a wrong secret, revoked, expired, without
/// `tools:call`, a service's, or its agent disabled.
async fn an_actor_key_that_cannot_act_is_invalid_request(h: Harness) {
    h.add_user("alice", &[]).await;
    let subject = h.token("alice").await;
    let key = h.agent_with_key("books").await;
    let refused = |actor: String, says: &'static str, case: &'static str| {
        let h = &h;
        let subject = &subject;
        async move {
            h.exchange(subject, &actor, &[])
                .await
                .assert_refused("invalid_request", says, case);
        }
    };

    refused("not-a-key".into(), "actor_token is invalid", "malformed").await;
    let unknown = format!("wdn_{}_{}", ulid::Ulid::new(), "s".repeat(43));
    refused(unknown, "actor_token is invalid", "unknown").await;
    refused(
        with_wrong_secret(&key),
        "actor_token is invalid",
        "a wrong secret",
    )
    .await;

    let revoked = h.key_of("books", &["tools:call"]).await;
    revoke_key(h.registry(), ctx().origin(), key_id_of(&revoked))
        .await
        .unwrap();
    refused(revoked, "actor_token is revoked", "a revoked key").await;

    let expiring = h
        .new_key(
            KeyOwner::Agent(agent_id("books")),
            &["tools:call"],
            Some(h.clock_now() + 60),
        )
        .await;
    h.delegated(&subject, &expiring).await;
    h.clock.advance_secs(60.0);
    refused(expiring, "actor_token is expired", "an expired key").await;

    let runs_only = h.key_of("books", &["agents:run"]).await;
    refused(runs_only, "lacks the scope tools:call", "agents:run only").await;
    let reads_only = h.key_of("books", &["agents:read"]).await;
    refused(reads_only, "lacks the scope tools:call", "agents:read only").await;

    // A service's key: it cannot even be given tools:call (a service runs
    // no agent), and one with its only scope lacks tools:call.
    let keys = h.state.api_keys.as_ref().unwrap();
    let service = || KeyOwner::Service(ServiceName::parse("rs").unwrap());
    let tools_call_for_a_service = KeySpec {
        owner: service(),
        scopes: vec!["tools:call".into()],
        expires_at: None,
        rate_limit_per_hour: None,
        created_by: None,
    };
    assert!(matches!(
        create_key(
            &keys.registry,
            &keys.pepper,
            ctx().origin(),
            tools_call_for_a_service
        )
        .await,
        Err(Error::BadRequest(_))
    ));
    let service_key = h.new_key(service(), &["tokens:introspect"], None).await;
    refused(service_key, "lacks the scope tools:call", "a service's key").await;

    // The agent disabled: its good key is refused; enabled again, it acts.
    set_enabled(h.registry(), ctx().origin(), &agent_id("books"), false)
        .await
        .unwrap();
    refused(key.clone(), "agent books is disabled", "a disabled agent").await;
    set_enabled(h.registry(), ctx().origin(), &agent_id("books"), true)
        .await
        .unwrap();
    h.delegated(&subject, &key).await;
}

/// Scopes only narrow: a person's token delegates `tools:call` and nothing
/// else, even when the key holds more: `invalid_scope`.
async fn a_wider_scope_is_invalid_scope(h: Harness) {
    let user_id = h.add_user("alice", &[Role::Admin]).await;
    let subject = h.token("alice").await;
    h.add_agent("books").await;
    let key = h.key_of("books", &["tools:call", "agents:run"]).await;
    for scope in [
        "agents:run",
        "warden",
        "tools:call admin",
        "tools:call agents:run",
        "admin",
    ] {
        h.exchange(&subject, &key, &[("scope", scope)])
            .await
            .assert_refused("invalid_scope", "cannot be delegated", scope);
    }
    // Each audited: the subject was live.
    let actor = format!("user:{user_id}");
    assert_eq!(
        h.count_events(&actor, EventType::TokenExchangeRefused)
            .await,
        5
    );
    let event = h.last_event(&actor, EventType::TokenExchangeRefused).await;
    assert_eq!(event.details["reason"], "invalid_scope");
    assert_eq!(h.count_events(&actor, EventType::TokenExchanged).await, 0);
}

/// `scope=tools:call` said explicitly, or twice, is `tools:call`.
async fn tools_call_asked_explicitly_or_twice_is_granted_once(h: Harness) {
    h.add_user("alice", &[]).await;
    let subject = h.token("alice").await;
    let key = h.agent_with_key("books").await;
    for scope in ["tools:call", "tools:call tools:call"] {
        let reply = h.exchange(&subject, &key, &[("scope", scope)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{scope}: {}", reply.body);
        assert_eq!(reply.body["scope"], "tools:call", "{scope}");
        let token = reply.body["access_token"].as_str().unwrap();
        assert_eq!(h.claims(token).await.scope, "tools:call", "{scope}");
    }
}

/// Any grant type but token exchange is `unsupported_grant_type`, checked
/// before anything else.
async fn another_grant_type_is_unsupported_grant_type(h: Harness) {
    h.add_user("alice", &[]).await;
    let subject = h.token("alice").await;
    let key = h.agent_with_key("books").await;
    for grant in [
        "password",
        "authorization_code",
        "refresh_token",
        "client_credentials",
    ] {
        let params: Vec<_> = exchange_params(&subject, &key)
            .into_iter()
            .map(|(k, v)| {
                if k == "grant_type" {
                    (k, grant)
                } else {
                    (k, v)
                }
            })
            .collect();
        h.post_token(&params).await.assert_refused(
            "unsupported_grant_type",
            TOKEN_EXCHANGE_GRANT,
            grant,
        );
        // With nothing else given, still the grant type.
        h.post_token(&[("grant_type", grant)]).await.assert_refused(
            "unsupported_grant_type",
            TOKEN_EXCHANGE_GRANT,
            &format!("{grant} alone"),
        );
    }
}

/// The form rules (API.md "Conventions"): a repeated parameter is `400`,
/// a JSON body `415`; nothing is exchanged.
async fn a_repeated_parameter_is_400_and_a_json_body_415(h: Harness) {
    let user_id = h.add_user("alice", &[]).await;
    let subject = h.token("alice").await;
    let key = h.agent_with_key("books").await;
    for repeated in ["subject_token", "actor_token", "grant_type"] {
        let mut params = exchange_params(&subject, &key);
        let again = *params.iter().find(|(k, _)| *k == repeated).unwrap();
        params.push(again);
        let reply = h.post_token(&params).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{repeated}: {}",
            reply.body
        );
    }
    let mut params = exchange_params(&subject, &key);
    params.extend([("scope", "tools:call"), ("scope", "tools:call")]);
    let reply = h.post_token(&params).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "scope: {}",
        reply.body
    );

    let as_json: serde_json::Map<String, Value> = exchange_params(&subject, &key)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
    let reply = h
        .call(
            "/auth/token",
            &[("content-type", "application/json")],
            Value::Object(as_json).to_string(),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        reply.body
    );
    assert_eq!(
        h.count_events(&format!("user:{user_id}"), EventType::TokenExchanged)
            .await,
        0
    );
}

/// Refusals are audited: a disabled agent's as `TOKEN_EXCHANGE_REFUSED`
/// (reason `agent_disabled`, the person as actor), a wrong secret as the
/// key check's `API_KEY_REJECTED` (reason `wrong_secret`, the key as
/// actor); neither as an exchange.
async fn refusals_are_audited_by_the_exchange_or_by_the_key_check(h: Harness) {
    let user_id = h.add_user("alice", &[]).await;
    let subject = h.token("alice").await;
    let key = h.agent_with_key("books").await;
    let person = format!("user:{user_id}");

    set_enabled(h.registry(), ctx().origin(), &agent_id("books"), false)
        .await
        .unwrap();
    h.exchange(&subject, &key, &[]).await.assert_refused(
        "invalid_request",
        "disabled",
        "a disabled agent",
    );
    let event = h.last_event(&person, EventType::TokenExchangeRefused).await;
    assert_eq!(event.details["reason"], "agent_disabled");
    set_enabled(h.registry(), ctx().origin(), &agent_id("books"), true)
        .await
        .unwrap();

    let wrong = with_wrong_secret(&key);
    h.exchange(&subject, &wrong, &[]).await.assert_refused(
        "invalid_request",
        "actor_token is invalid",
        "a wrong secret",
    );
    let key_actor = format!("key:{}", key_id_of(&key));
    let event = h.last_event(&key_actor, EventType::ApiKeyRejected).await;
    assert_eq!(event.details["reason"], "wrong_secret");
    let text = serde_json::to_string(&event).unwrap();
    let wrong_secret = wrong.splitn(3, '_').nth(2).unwrap();
    assert!(!text.contains(wrong_secret), "{text}");

    // The key check's refusal is not the exchange's as well, and nothing
    // was exchanged.
    assert_eq!(
        h.count_events(&person, EventType::TokenExchangeRefused)
            .await,
        1
    );
    assert_eq!(h.count_events(&person, EventType::TokenExchanged).await, 0);
}

warden::on_both_stores!(
    Harness::new;
    an_exchange_answers_a_delegated_token_with_every_claim_of_the_contract,
    a_delegated_token_expires_with_its_subject_when_that_comes_first,
    a_missing_or_mistyped_parameter_is_invalid_request,
    a_subject_token_that_is_not_a_persons_live_token_is_invalid_request,
    an_actor_key_that_cannot_act_is_invalid_request,
    a_wider_scope_is_invalid_scope,
    tools_call_asked_explicitly_or_twice_is_granted_once,
    another_grant_type_is_unsupported_grant_type,
    a_repeated_parameter_is_400_and_a_json_body_415,
    refusals_are_audited_by_the_exchange_or_by_the_key_check,
);
