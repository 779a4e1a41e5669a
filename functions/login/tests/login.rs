//! The login function's handler, called as a function: what
//! `infra/openapi.yaml` promises for `POST /auth/login` and `POST /auth/refresh`.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

use http::{HeaderMap, StatusCode};
use lambda_http::Body;
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::Error;
use warden::audit::{EventType, Severity};
use warden::auth::login::create_user;
use warden::clock::{Clock, ManualClock};
use warden::config::Config;
use warden::domain::{Role, Username};
use warden::domain::{SessionRecord, UserRecord};
use warden::error::Refusal;
use warden::http::RequestContext;
use warden::state::AuthState;
use warden::store::memory::MemoryStore;
use warden::store::{AuthStore, AuthWrite, Write};
use warden::testing;

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

impl Harness {
    fn new(store: Arc<dyn AuthStore>) -> Self {
        Self::with_config(testing::config(), store)
    }

    /// A harness over `store` with `config` and a manual clock.
    fn with_config(config: Config, store: Arc<dyn AuthStore>) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        Self {
            state: testing::state_with(config, store, clock.clone()),
            clock,
            next_ip: AtomicU32::new(1),
        }
    }

    fn memory() -> Self {
        Self::new(Arc::new(MemoryStore::new()))
    }

    /// A fresh client IP, so tests that are not about the IP limit never hit it.
    fn fresh_ip(&self) -> String {
        let n = self.next_ip.fetch_add(1, Ordering::SeqCst);
        format!("198.51.{}.{}", n / 250, n % 250 + 1)
    }

    async fn add_user(&self, name: &str, password: &str, roles: &[Role]) -> String {
        let ctx = RequestContext::for_tests("127.0.0.1");
        create_user(
            &self.state,
            ctx.origin(),
            &Username::parse(name).unwrap(),
            &SecretString::from(password.to_owned()),
            roles,
        )
        .await
        .unwrap()
        .user_id
    }

    async fn call_raw(&self, path: &str, body: impl Into<Body>, ip: &str) -> Reply {
        let req = testing::api_request(
            "POST",
            path,
            &[("content-type", "application/json")],
            body,
            ip,
        );
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

    async fn login_from(&self, username: &str, password: &str, ip: &str) -> Reply {
        self.call_raw(
            "/auth/login",
            json!({"username": username, "password": password}).to_string(),
            ip,
        )
        .await
    }

    async fn login(&self, username: &str, password: &str) -> Reply {
        let ip = self.fresh_ip();
        self.login_from(username, password, &ip).await
    }

    /// Asserts that a login of `username` with `password` from a fresh IP
    /// answers `status`.
    async fn assert_login(&self, username: &str, password: &str, status: StatusCode) {
        let ip = self.fresh_ip();
        self.assert_login_from(username, password, &ip, status)
            .await;
    }

    /// Asserts that a login of `username` with `password` from `ip`
    /// answers `status`.
    async fn assert_login_from(
        &self,
        username: &str,
        password: &str,
        ip: &str,
        status: StatusCode,
    ) {
        let reply = self.login_from(username, password, ip).await;
        assert_eq!(reply.status, status, "{username} from {ip}: {}", reply.body);
    }

    async fn refresh(&self, refresh_token: &Value) -> Reply {
        let ip = self.fresh_ip();
        self.call_raw(
            "/auth/refresh",
            json!({"refresh_token": refresh_token}).to_string(),
            &ip,
        )
        .await
    }

    /// Asserts that a refresh with `refresh_token` answers `status`.
    async fn assert_refresh(&self, refresh_token: &Value, status: StatusCode) {
        let reply = self.refresh(refresh_token).await;
        assert_eq!(reply.status, status, "{refresh_token}: {}", reply.body);
    }

    /// The stored user `name`, if any.
    async fn user(&self, name: &str) -> Option<UserRecord> {
        let username = Username::parse(name).unwrap();
        self.state.store.get_user(&username).await.unwrap()
    }

    /// Stores `user` as it is, past the account rules (a disabled user, a
    /// legacy hash).
    async fn insert_user(&self, user: UserRecord) {
        let write = Write::Auth(AuthWrite::CreateUser(user));
        self.state.store.transact(vec![write]).await.unwrap();
    }

    /// The live sessions of `user_id` now.
    async fn sessions(&self, user_id: &str) -> Vec<SessionRecord> {
        let now = self.clock.now_secs();
        self.state.store.list_sessions(user_id, now).await.unwrap()
    }

    /// Asserts that `actor` caused an audit event of `event_type` at
    /// `severity` (among its newest hundred).
    async fn assert_audited(&self, actor: &str, event_type: EventType, severity: Severity) {
        // A user id names the user: `user:<id>`; `anonymous` is itself.
        let actor = if actor == "anonymous" {
            actor.to_owned()
        } else {
            warden::audit::user_actor(actor)
        };
        let actor = actor.as_str();
        let events: Vec<(EventType, Severity)> = self
            .state
            .store
            .audit_by_actor(actor, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.event_type, e.severity))
            .collect();
        assert!(
            events.contains(&(event_type, severity)),
            "{actor}: {events:?}"
        );
    }
}

fn retry_after(reply: &Reply) -> u64 {
    reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn without_request_id(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("request_id");
    body
}

#[tokio::test]
async fn a_login_returns_a_token_pair_that_the_shared_verifier_accepts() {
    let h = Harness::memory();
    let user_id = h
        .add_user("Alice", "correct horse battery", &[Role::Admin])
        .await;
    let reply = h.login("ALICE", "correct horse battery").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let b = &reply.body;
    assert_eq!(
        (b["token_type"].as_str(), b["expires_in"].as_i64()),
        (Some("Bearer"), Some(900))
    );
    assert_eq!(b["refresh_expires_in"].as_i64(), Some(2_592_000));
    assert_eq!(reply.headers["cache-control"], "no-store");
    assert!(reply.headers.contains_key("x-request-id"));
    let claims = h
        .state
        .bearer()
        .token(b["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims.sub, user_id);
    assert_eq!(claims.roles, vec![Role::Admin]);
    assert_eq!(Some(claims.sid.as_str()), b["session_id"].as_str());
    let sessions = h.sessions(&user_id).await;
    assert_eq!(sessions.len(), 1);
    h.assert_audited(&user_id, EventType::LoginSuccess, Severity::Info)
        .await;
}

#[tokio::test]
async fn wrong_password_unknown_user_and_disabled_user_get_the_same_401() {
    let h = Harness::memory();
    h.add_user("alice", "right password", &[]).await;
    let disabled = UserRecord {
        username: Username::parse("dora").unwrap(),
        user_id: "dora-id".into(),
        password_hash: h
            .state
            .passwords
            .hash(&SecretString::from("right password"))
            .await
            .unwrap(),
        roles: vec![Role::User],
        disabled: true,
        failed_logins: 0,
        last_failed_at: None,
        generation: 0,
        created_at: 0,
    };
    h.insert_user(disabled).await;

    let wrong = h.login("alice", "wrong password").await;
    let unknown = h.login("nobody", "right password").await;
    let off = h.login("dora", "right password").await;
    for reply in [&wrong, &unknown, &off] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.headers["www-authenticate"],
            r#"Bearer resource_metadata="http://127.0.0.1:3000/.well-known/oauth-protected-resource""#
        );
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    assert_eq!(
        without_request_id(wrong.body.clone()),
        without_request_id(unknown.body)
    );
    assert_eq!(without_request_id(wrong.body), without_request_id(off.body));
    h.assert_audited("dora-id", EventType::LoginFailed, Severity::Warning)
        .await;
}

#[tokio::test]
async fn an_unknown_user_costs_about_as_much_time_as_a_wrong_password() {
    let h = Harness::memory();
    h.add_user("alice", "right password", &[]).await;
    h.login("nobody", "warm-up").await; // builds the dummy hash once
    let time = |name: &'static str| {
        let h = &h;
        async move {
            let mut samples = Vec::new();
            for _ in 0..3 {
                let start = Instant::now();
                h.login(name, "wrong password").await;
                samples.push(start.elapsed());
            }
            samples.sort();
            samples[1]
        }
    };
    let known = time("alice").await;
    let unknown = time("nobody").await;
    assert!(
        unknown * 3 > known && known * 3 > unknown,
        "unknown user {unknown:?} vs wrong password {known:?}"
    );
}

#[tokio::test]
async fn the_sixth_login_from_one_ip_within_a_minute_is_429_with_retry_after() {
    let h = Harness::memory();
    h.add_user("alice", "right password", &[]).await;
    for i in 0..5 {
        let reply = h
            .login_from("alice", "right password", "203.0.113.50")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "login {i}");
    }
    let limited = h
        .login_from("alice", "right password", "203.0.113.50")
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&limited);
    assert!((1..=12).contains(&wait), "Retry-After {wait}");
    h.assert_login_from("alice", "right password", "203.0.113.51", StatusCode::OK)
        .await;
    h.assert_audited("anonymous", EventType::LoginRateLimited, Severity::Warning)
        .await;
    h.clock.advance_secs(wait as f64);
    h.assert_login_from("alice", "right password", "203.0.113.50", StatusCode::OK)
        .await;
}

#[tokio::test]
async fn with_every_hashing_slot_busy_a_login_is_503_with_retry_after_and_changes_nothing() {
    let load = |concurrency: &'static str| {
        Config::load(move |k| match k {
            "WARDEN_ENV" => Some("development".into()),
            "WARDEN_PASSWORD_CONCURRENCY" => Some(concurrency.into()),
            "WARDEN_PASSWORD_QUEUE_TIMEOUT_MS" => Some("20".into()),
            _ => None,
        })
    };
    let (_, refused) = load("0");
    assert!(
        refused
            .error_summary()
            .contains("WARDEN_PASSWORD_CONCURRENCY"),
        "{refused:?}"
    );
    let (config, findings) = load("1");
    assert!(!findings.has_errors(), "{findings:?}");
    let h = Harness::with_config(config.unwrap(), Arc::new(MemoryStore::new()));
    h.add_user("alice", "right password", &[]).await;

    let busy = h.state.passwords.occupy_every_slot();
    assert_eq!(busy.len(), 1, "WARDEN_PASSWORD_CONCURRENCY=1");
    for (username, password) in [
        ("alice", "wrong password"),
        ("alice", "right password"),
        ("nobody", "any password"),
    ] {
        let reply = h.login(username, password).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{username}: {}",
            reply.body
        );
        assert_eq!(retry_after(&reply), 1);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        assert_eq!(reply.body["status"], 503);
        assert!(
            reply.body["detail"].as_str().unwrap().contains("busy"),
            "{}",
            reply.body
        );
    }
    let alice = h.user("alice").await.unwrap();
    assert_eq!(alice.failed_logins, 0, "a refused login is not a failure");

    drop(busy);
    h.assert_login("alice", "right password", StatusCode::OK)
        .await;
    h.assert_login("nobody", "any password", StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn after_five_failures_an_account_waits_doubling_up_to_900_seconds_and_a_success_resets_it() {
    let h = Harness::memory();
    h.add_user("alice", "right password", &[]).await;
    for _ in 0..5 {
        h.assert_login("alice", "wrong", StatusCode::UNAUTHORIZED)
            .await;
    }
    // Even the right password waits: the account is backing off.
    let limited = h.login("alice", "right password").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&limited), 1);
    let mut expected = 1;
    for failures in 6..=16 {
        h.clock.advance_secs(expected as f64);
        h.assert_login("alice", "wrong", StatusCode::UNAUTHORIZED)
            .await;
        expected = (1_u64 << (failures - 5)).min(900);
        let limited = h.login("alice", "wrong").await;
        assert_eq!(
            limited.status,
            StatusCode::TOO_MANY_REQUESTS,
            "after {failures} failures"
        );
        assert_eq!(retry_after(&limited), expected, "after {failures} failures");
    }
    assert_eq!(expected, 900, "the wait is capped");
    h.clock.advance_secs(900.0);
    h.assert_login("alice", "right password", StatusCode::OK)
        .await;
    assert_eq!(h.user("alice").await.unwrap().failed_logins, 0);
    // Counting starts again.
    h.assert_login("alice", "wrong", StatusCode::UNAUTHORIZED)
        .await;
    h.assert_login("alice", "right password", StatusCode::OK)
        .await;
}

#[tokio::test]
async fn a_legacy_bcrypt_hash_logs_in_and_is_stored_as_argon2id_afterwards() {
    let h = Harness::memory();
    let legacy = UserRecord {
        username: Username::parse("old").unwrap(),
        user_id: "old-id".into(),
        password_hash: bcrypt::hash("legacy password", 4).unwrap(),
        roles: vec![Role::User],
        disabled: false,
        failed_logins: 0,
        last_failed_at: None,
        generation: 0,
        created_at: 0,
    };
    h.insert_user(legacy).await;
    h.assert_login("old", "legacy password", StatusCode::OK)
        .await;
    let stored = h.user("old").await.unwrap().password_hash;
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    h.assert_login("old", "legacy password", StatusCode::OK)
        .await;
    h.assert_login("old", "wrong", StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn a_refresh_rotates_the_pair_and_reusing_the_old_token_kills_the_session() {
    let h = Harness::memory();
    let user_id = h.add_user("alice", "right password", &[]).await;
    let first = h.login("alice", "right password").await.body;
    let second = h.refresh(&first["refresh_token"]).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let second = second.body;
    assert_eq!(second["session_id"], first["session_id"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert!(
        h.state
            .bearer()
            .token(second["access_token"].as_str().unwrap())
            .await
            .is_ok()
    );

    let reuse = h.refresh(&first["refresh_token"]).await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    // The reuse revoked the whole session: the newest pair is dead too.
    h.assert_refresh(&second["refresh_token"], StatusCode::UNAUTHORIZED)
        .await;
    for token in [&first["access_token"], &second["access_token"]] {
        let refused = h.state.bearer().token(token.as_str().unwrap()).await;
        assert!(matches!(refused, Err(Error::TokenRefused(c)) if c.reason == Refusal::Revoked));
    }
    assert!(h.sessions(&user_id).await.is_empty());
    h.assert_audited(&user_id, EventType::RefreshTokenReused, Severity::Critical)
        .await;
    // Other sessions of the same user are untouched.
    let other = h.login("alice", "right password").await.body;
    h.assert_refresh(&other["refresh_token"], StatusCode::OK)
        .await;
}

#[tokio::test]
async fn unknown_malformed_and_expired_refresh_tokens_are_401() {
    let h = Harness::memory();
    h.add_user("alice", "right password", &[]).await;
    let pair = h.login("alice", "right password").await.body;
    let token = pair["refresh_token"].as_str().unwrap();
    let (ids, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{ids}.{}", "A".repeat(43));
    for bad in [json!("garbage"), json!(""), json!(forged)] {
        h.assert_refresh(&bad, StatusCode::UNAUTHORIZED).await;
    }
    // A guess at the secret does not kill the real session.
    h.assert_refresh(&pair["refresh_token"], StatusCode::OK)
        .await;
    let next = h.login("alice", "right password").await.body;
    h.clock.advance_secs(30.0 * 86_400.0 + 1.0);
    h.assert_refresh(&next["refresh_token"], StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_never_a_500() {
    let h = Harness::memory();
    h.add_user("alice", "right password", &[]).await;
    let long_password = "p".repeat(10 * 1000);
    let huge = json!({"username": "alice", "password": "x".repeat(17 * 1024)}).to_string();
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "/auth/login",
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "invalid JSON",
        ),
        (
            "/auth/login",
            r#"{"username": "alice"}"#.into(),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            "/auth/login",
            r#"{"username": 7, "password": "x"}"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid type",
        ),
        (
            "/auth/login",
            String::new(),
            StatusCode::BAD_REQUEST,
            "empty",
        ),
        (
            "/auth/login",
            "[]".into(),
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        ("/auth/login", huge, StatusCode::PAYLOAD_TOO_LARGE, "16384"),
        (
            "/auth/login",
            json!({"username": "alice", "password": long_password}).to_string(),
            StatusCode::BAD_REQUEST,
            "1024 bytes",
        ),
        (
            "/auth/login",
            json!({"username": "", "password": "x"}).to_string(),
            StatusCode::BAD_REQUEST,
            "username",
        ),
        (
            "/auth/refresh",
            "{}".into(),
            StatusCode::BAD_REQUEST,
            "refresh_token",
        ),
        (
            "/auth/nowhere",
            "{}".into(),
            StatusCode::NOT_FOUND,
            "no such endpoint",
        ),
    ];
    for (path, body, status, detail) in cases {
        let ip = h.fresh_ip();
        let reply = h.call_raw(path, body.clone(), &ip).await;
        assert_eq!(reply.status, status, "{path} {body:.60}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        let text = reply.body["detail"].as_str().unwrap();
        assert!(text.contains(detail), "{text:?} should mention {detail:?}");
        assert_eq!(reply.body["status"], status.as_u16());
        assert!(reply.body["request_id"].is_string());
    }
    // An unknown field is ignored.
    let reply = h
        .call_raw(
            "/auth/login",
            json!({"username": "alice", "password": "right password", "remember": true})
                .to_string(),
            &h.fresh_ip(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn a_failed_audit_write_fails_the_login_with_503_and_leaves_no_session() {
    // On DynamoDB the same is shown by deleting the audit table (below).
    let store = Arc::new(MemoryStore::new());
    let h = Harness::new(store.clone());
    let user_id = h.add_user("alice", "right password", &[]).await;
    store.simulate_audit_outage(true);
    let reply = h.login("alice", "right password").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(
        !detail.contains("simulated") && !detail.contains("audit"),
        "{detail}"
    );
    assert!(h.sessions(&user_id).await.is_empty());
    // A wrong password cannot be counted without its audit record either.
    h.assert_login("alice", "wrong", StatusCode::SERVICE_UNAVAILABLE)
        .await;
    assert_eq!(h.user("alice").await.unwrap().failed_logins, 0);
    store.simulate_audit_outage(false);
    h.assert_login("alice", "right password", StatusCode::OK)
        .await;
    assert_eq!(h.sessions(&user_id).await.len(), 1);
}

#[tokio::test]
async fn on_dynamodb_a_login_whose_audit_table_is_gone_writes_nothing() {
    let Some((store, client, prefix)) = testing::dynamo_store_and_client().await else {
        return;
    };
    let h = Harness::new(store);
    let user_id = h.add_user("alice", "right password", &[]).await;
    testing::delete_table(&client, &format!("{prefix}audit-log")).await;
    let reply = h.login("alice", "right password").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert!(h.sessions(&user_id).await.is_empty());
}

#[tokio::test]
async fn on_dynamodb_login_refresh_and_reuse_detection_work_end_to_end() {
    let Some((store, _)) = testing::dynamo_store().await else {
        return;
    };
    let h = Harness::new(Arc::new(store));
    let user_id = h
        .add_user("alice", "right password", &[Role::Approver])
        .await;
    let first = h.login("Alice", "right password").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let second = h.refresh(&first.body["refresh_token"]).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    h.assert_refresh(&first.body["refresh_token"], StatusCode::UNAUTHORIZED)
        .await;
    h.assert_refresh(&second.body["refresh_token"], StatusCode::UNAUTHORIZED)
        .await;
    let token = second.body["access_token"].as_str().unwrap();
    assert!(matches!(
        h.state.bearer().token(token).await,
        Err(Error::TokenRefused(c)) if c.reason == Refusal::Revoked
    ));
    h.assert_audited(&user_id, EventType::RefreshTokenReused, Severity::Critical)
        .await;
}

#[tokio::test]
async fn an_api_gateway_event_with_a_base64_body_is_understood() {
    use base64::Engine as _;
    let h = Harness::memory();
    h.add_user("alice", "right password", &[]).await;
    let body = base64::engine::general_purpose::STANDARD
        .encode(r#"{"username":"alice","password":"right password"}"#);
    let event = json!({
        "version": "2.0",
        "routeKey": "POST /auth/login",
        "rawPath": "/auth/login",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "user-agent": "curl/8", "origin": "https://app.example.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "gw-request-1", "routeKey": "POST /auth/login",
            "stage": "$default", "time": "23/Nov/2026:05:00:00 +0000", "timeEpoch": 1795410000000_i64,
            "http": {"method": "POST", "path": "/auth/login", "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.10", "userAgent": "curl/8"}
        },
        "body": body,
        "isBase64Encoded": true
    });
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = warden_login::handler(&h.state, req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "gw-request-1");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "origin not allowed"
    );
}

/// An unknown username must back off exactly like a real account: the same
/// statuses and the same `Retry-After` sequence, or the answers would tell
/// an attacker which usernames exist. No user is created for it.
async fn an_unknown_username_backs_off_exactly_like_an_account(h: Harness) {
    h.add_user("alice", "right password", &[]).await;
    let mut answers = Vec::new();
    for name in ["alice", "ghost"] {
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push((h.login(name, "wrong").await.status, 0));
        }
        for _ in 0..4 {
            let limited = h.login(name, "wrong").await;
            let wait = retry_after(&limited);
            seen.push((limited.status, wait));
            h.clock.advance_secs(wait as f64);
            seen.push((h.login(name, "wrong").await.status, 0));
        }
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "alice, then ghost");
    assert_eq!(
        answers[1][5..],
        [
            (StatusCode::TOO_MANY_REQUESTS, 1),
            (StatusCode::UNAUTHORIZED, 0),
            (StatusCode::TOO_MANY_REQUESTS, 2),
            (StatusCode::UNAUTHORIZED, 0),
            (StatusCode::TOO_MANY_REQUESTS, 4),
            (StatusCode::UNAUTHORIZED, 0),
            (StatusCode::TOO_MANY_REQUESTS, 8),
            (StatusCode::UNAUTHORIZED, 0),
        ]
    );
    assert!(h.user("ghost").await.is_none());
}

/// The body rules of every JSON endpoint: invalid UTF-8 anywhere is `400`,
/// another content type `415`, a method the path does not serve `405`
/// with `Allow`.
async fn bad_bodies_types_and_methods_get_their_own_4xx(h: Harness) {
    h.add_user("alice", "right password", &[]).await;
    let ip = h.fresh_ip();
    let mut body = br#"{"username":"alice","password":"right password","x":""#.to_vec();
    body.extend_from_slice(&[0xff, b'"', b'}']);
    let reply = h.call_raw("/auth/login", Body::Binary(body), &ip).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.body["detail"].as_str().unwrap().contains("UTF-8"));

    // The right username and password, as an array: serde alone would read
    // the struct from it and log alice in.
    let array = Body::Text(json!(["alice", "right password"]).to_string());
    let reply = h.call_raw("/auth/login", array, &h.fresh_ip()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(
        reply.body["detail"],
        "invalid JSON body: it must be a JSON object"
    );

    let json = json!({"username": "alice", "password": "right password"}).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let req = testing::api_request(
            "POST",
            "/auth/login",
            &[("content-type", content_type)],
            json.clone(),
            &h.fresh_ip(),
        );
        let response = warden_login::handler(&h.state, req).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    for method in ["GET", "PUT", "DELETE"] {
        let req = testing::api_request(method, "/auth/refresh", &[], Body::Empty, &h.fresh_ip());
        let response = warden_login::handler(&h.state, req).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()["allow"], "POST, OPTIONS");
        assert_eq!(
            testing::json_body(&response)["status"],
            405,
            "a problem document"
        );
    }
    let req = testing::api_request("POST", "/auth/nope", &[], Body::Empty, &h.fresh_ip());
    let response = warden_login::handler(&h.state, req).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

warden::on_both_stores!(
    Harness::new;
    an_unknown_username_backs_off_exactly_like_an_account,
    bad_bodies_types_and_methods_get_their_own_4xx,
    a_correct_password_that_loses_the_race_with_revoke_all_still_logs_in,
);

/// A store that lets a revoke-all land between a login's read of the user
/// and its write, once: the race of a correct password with revoke-all,
/// made deterministic.
struct RevokeAllInBetween {
    inner: Arc<dyn AuthStore>,
    armed: AtomicBool,
}

#[async_trait::async_trait]
impl warden::store::UserStore for RevokeAllInBetween {
    async fn get_user(&self, u: &Username) -> Result<Option<UserRecord>, Error> {
        self.inner.get_user(u).await
    }
    async fn user_for_login(
        &self,
        u: &Username,
        now: i64,
    ) -> Result<(Option<UserRecord>, warden::domain::FailureCount), Error> {
        self.inner.user_for_login(u, now).await
    }
    async fn user_generation(&self, id: &str) -> Result<Option<(Username, u64)>, Error> {
        self.inner.user_generation(id).await
    }
    async fn list_users(&self) -> Result<Vec<UserRecord>, Error> {
        self.inner.list_users().await
    }
}

#[async_trait::async_trait]
impl warden::store::SessionStore for RevokeAllInBetween {
    async fn session_with_revocation(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> Result<
        (
            Option<warden::domain::SessionRecord>,
            warden::domain::RevocationState,
        ),
        Error,
    > {
        self.inner
            .session_with_revocation(user_id, session_id, now)
            .await
    }
    async fn list_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<warden::domain::SessionRecord>, Error> {
        self.inner.list_sessions(user_id, now).await
    }
    async fn revocation_state(
        &self,
        jti: &str,
        sid: &str,
        user_id: &str,
    ) -> Result<warden::domain::RevocationState, Error> {
        self.inner.revocation_state(jti, sid, user_id).await
    }
    async fn delegation_state(
        &self,
        lookup: warden::store::DelegationLookup<'_>,
    ) -> Result<warden::store::DelegationState, Error> {
        self.inner.delegation_state(lookup).await
    }
    async fn key_set(&self, name: &str) -> Result<Option<warden::auth::signing::KeySet>, Error> {
        self.inner.key_set(name).await
    }
}

#[async_trait::async_trait]
impl warden::store::RateLimitStore for RevokeAllInBetween {
    async fn update_tat(
        &self,
        key: &str,
        write: warden::store::TatWrite,
        expires_at: i64,
    ) -> Result<warden::store::TatOutcome, Error> {
        self.inner.update_tat(key, write, expires_at).await
    }
}

#[async_trait::async_trait]
impl warden::store::AuditStore for RevokeAllInBetween {
    async fn audit_by_actor(
        &self,
        actor: &str,
        limit: usize,
    ) -> Result<Vec<warden::audit::AuditEvent>, Error> {
        self.inner.audit_by_actor(actor, limit).await
    }
    async fn query_audit(
        &self,
        query: &warden::store::AuditQuery,
    ) -> Result<Vec<warden::audit::AuditEvent>, Error> {
        self.inner.query_audit(query).await
    }
    async fn ledger_events(
        &self,
        since_millis: i64,
        until_millis: i64,
    ) -> Result<Vec<warden::store::LedgerEvent>, Error> {
        self.inner.ledger_events(since_millis, until_millis).await
    }
}

#[async_trait::async_trait]
impl warden::store::Transactions for RevokeAllInBetween {
    async fn transact(&self, writes: Vec<Write>) -> Result<(), Error> {
        let login = writes.iter().find_map(|w| match w {
            Write::Auth(AuthWrite::LoginSucceeded { username, .. }) => Some(username.clone()),
            _ => None,
        });
        if let Some(username) = login
            && self.armed.swap(false, Ordering::SeqCst)
        {
            let user = self.inner.get_user(&username).await?.unwrap();
            self.inner
                .transact(vec![Write::Auth(AuthWrite::RaiseGeneration {
                    username,
                    user_id: user.user_id,
                    expected_generation: user.generation,
                    change: warden::store::AccountChange::None,
                })])
                .await?;
        }
        self.inner.transact(writes).await
    }
}

async fn a_correct_password_that_loses_the_race_with_revoke_all_still_logs_in(h: Harness) {
    let store = Arc::new(RevokeAllInBetween {
        inner: h.state.store.clone(),
        armed: AtomicBool::new(false),
    });
    let raced = Harness::new(store.clone());
    let user_id = raced.add_user("alice", "right password", &[]).await;
    let before = raced.login("alice", "right password").await;
    assert_eq!(before.status, StatusCode::OK);

    store.armed.store(true, Ordering::SeqCst);
    let reply = raced.login("alice", "right password").await;
    assert!(!store.armed.load(Ordering::SeqCst), "the race happened");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.body["access_token"].as_str().unwrap();
    let claims = raced.state.bearer().token(token).await.unwrap();
    assert_eq!((claims.sub.as_str(), claims.r#gen), (user_id.as_str(), 1));
    // Only the token from before the revoke-all died.
    let old = before.body["access_token"].as_str().unwrap();
    assert!(matches!(
        raced.state.bearer().token(old).await,
        Err(Error::TokenRefused(c)) if c.reason == Refusal::Revoked
    ));
}

/// A KMS whose `Sign` is throttled (or fails): its public keys read fine.
#[derive(Debug)]
struct ThrottledSigner(Arc<warden::auth::signing::LocalSigner>);

#[async_trait::async_trait]
impl warden::auth::signing::Signer for ThrottledSigner {
    async fn sign(&self, _arn: &str, _message: &[u8]) -> Result<Vec<u8>, Error> {
        Err(Error::Saturated {
            retry_after: std::time::Duration::from_secs(1),
        })
    }
    async fn public_key(&self, arn: &str) -> Result<warden::auth::signing::RsaPublicKey, Error> {
        self.0.public_key_of(arn)
    }
}

#[tokio::test]
async fn a_throttled_signature_is_503_with_retry_after_and_logs_nobody_in() {
    use warden::auth::jwt::{AccessTokens, KeySource};
    use warden::auth::signing::KeySet;
    use warden::store::SessionStore as _;
    let config = testing::config();
    let clock = Arc::new(ManualClock::starting_now());
    let tokens = AccessTokens::load(
        &config,
        Arc::new(ThrottledSigner(testing::test_signer())),
        KeySource::Fixed(KeySet::initial(testing::TEST_KEY_ARN)),
        clock.clone(),
    )
    .await
    .unwrap();
    let store = Arc::new(MemoryStore::new());
    let h = Harness {
        state: AuthState::new(config, store.clone(), tokens, clock.clone()).unwrap(),
        clock,
        next_ip: AtomicU32::new(0),
    };
    let user_id = h.add_user("alice", "right password", &[]).await;
    let reply = h.login("alice", "right password").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.headers["retry-after"], "1");
    assert!(reply.body.get("access_token").is_none());
    // Nothing changed: no session, and no successful login recorded.
    let now = h.clock.now_secs();
    assert!(store.list_sessions(&user_id, now).await.unwrap().is_empty());
    let events = h.state.store.audit_by_actor(&user_id, 100).await.unwrap();
    assert!(
        events
            .iter()
            .all(|e| e.event_type != EventType::LoginSuccess),
        "{events:?}"
    );
}

/// A signer that counts its `Sign` and `GetPublicKey` calls: KMS's share
/// of each request's round trips.
#[derive(Debug, Default)]
struct CountingSigner {
    inner: Option<Arc<warden::auth::signing::LocalSigner>>,
    signs: AtomicU32,
    public_keys: AtomicU32,
}

#[async_trait::async_trait]
impl warden::auth::signing::Signer for CountingSigner {
    async fn sign(&self, arn: &str, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.signs.fetch_add(1, Ordering::SeqCst);
        warden::auth::signing::Signer::sign(&**self.inner.as_ref().unwrap(), arn, message).await
    }
    async fn public_key(&self, arn: &str) -> Result<warden::auth::signing::RsaPublicKey, Error> {
        self.public_keys.fetch_add(1, Ordering::SeqCst);
        self.inner.as_ref().unwrap().public_key_of(arn)
    }
}

#[tokio::test]
async fn a_login_and_a_refresh_each_sign_once_and_checking_a_token_calls_no_kms() {
    use warden::auth::jwt::{AccessTokens, KeySource};
    use warden::auth::signing::KeySet;
    let config = testing::config();
    let clock = Arc::new(ManualClock::starting_now());
    let signer = Arc::new(CountingSigner {
        inner: Some(testing::test_signer()),
        ..CountingSigner::default()
    });
    let tokens = AccessTokens::load(
        &config,
        signer.clone(),
        KeySource::Fixed(KeySet::initial(testing::TEST_KEY_ARN)),
        clock.clone(),
    )
    .await
    .unwrap();
    let h = Harness {
        state: AuthState::new(config, Arc::new(MemoryStore::new()), tokens, clock.clone()).unwrap(),
        clock,
        next_ip: AtomicU32::new(0),
    };
    let counts = || {
        (
            signer.signs.load(Ordering::SeqCst),
            signer.public_keys.load(Ordering::SeqCst),
        )
    };
    assert_eq!(counts(), (0, 1), "the public key, once, at start");
    h.add_user("alice", "right password", &[]).await;
    let login = h.login("alice", "right password").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(counts(), (1, 1), "one Sign per login");
    let refreshed = h
        .call_raw(
            "/auth/refresh",
            json!({"refresh_token": login.body["refresh_token"]}).to_string(),
            "198.51.100.9",
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(counts(), (2, 1), "one Sign per refresh");
    for _ in 0..3 {
        h.state
            .bearer()
            .token(refreshed.body["access_token"].as_str().unwrap())
            .await
            .unwrap();
    }
    assert_eq!(counts(), (2, 1), "verifying calls no KMS");
}
