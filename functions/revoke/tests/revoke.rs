//! The revoke function's handler, called as a function, on the memory store
//! and on DynamoDB (moto): revocation takes effect on the very next use.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Body;
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::audit::EventType;
use warden::auth::jwt::AccessClaims;
use warden::auth::login::{self, LoginRequest, RefreshRequest, TokenPair, create_user};
use warden::auth::revocation;
use warden::clock::{Clock, ManualClock};
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::state::AuthState;
use warden::store::{AuthStore, AuthWrite, RevocationKey, Write};
use warden::{Error, testing};

struct Harness {
    state: Arc<AuthState>,
    clock: Arc<ManualClock>,
}

fn ctx() -> RequestContext {
    // A fresh IP per call keeps the per-IP login limit out of these tests.
    let n: u32 = rand_ip();
    RequestContext::for_tests(&format!(
        "10.{}.{}.{}",
        n >> 16 & 255,
        n >> 8 & 255,
        n & 255
    ))
}

/// What a client sends to log `name` in with `password`.
fn login_request(name: &str, password: &str) -> LoginRequest {
    LoginRequest {
        username: name.into(),
        password: SecretString::from(password.to_owned()),
    }
}

fn rand_ip() -> u32 {
    ulid::Ulid::new().random() as u32
}

impl Harness {
    fn new(store: Arc<dyn AuthStore>) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        Self {
            state: Arc::new(testing::state(store, clock.clone())),
            clock,
        }
    }

    async fn user(&self, name: &str, roles: &[Role]) -> String {
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

    /// A login of `name` with its password (`"{name} password"`).
    async fn login(&self, name: &str) -> TokenPair {
        self.login_with(name, &format!("{name} password"))
            .await
            .unwrap()
    }

    /// A login of `name` with `password`.
    async fn login_with(&self, name: &str, password: &str) -> Result<TokenPair, Error> {
        login::login(&self.state, &ctx(), login_request(name, password)).await
    }

    async fn refresh(&self, pair: &TokenPair) -> Result<TokenPair, Error> {
        let request = RefreshRequest {
            refresh_token: SecretString::from(pair.refresh_token.clone()),
        };
        login::refresh(&self.state, &ctx(), request).await
    }

    async fn claims(&self, pair: &TokenPair) -> std::sync::Arc<AccessClaims> {
        self.state.bearer().token(&pair.access_token).await.unwrap()
    }

    async fn accepted(&self, token: &str) -> bool {
        match self.state.bearer().token(token).await {
            Ok(_) => true,
            Err(Error::TokenRefused(_)) => false,
            Err(e) => panic!("unexpected {e}"),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(value) = &authorization {
            headers.push(("authorization", value));
        }
        let body = body.map_or(Body::Empty, |b| Body::from(b.to_string()));
        let req = testing::api_request(method, path, &headers, body, "192.0.2.44");
        let response = warden_revoke::handler(&self.state, req).await.unwrap();
        let status = response.status();
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
        if status == StatusCode::UNAUTHORIZED {
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(
                challenge.starts_with(
                    r#"Bearer resource_metadata="http://127.0.0.1:3000/.well-known/oauth-protected-resource""#
                ),
                "{challenge}"
            );
        }
        (status, testing::json_body(&response))
    }

    /// `POST /auth/revoke` of `token`, as `caller`.
    async fn revoke(&self, caller: &TokenPair, token: &str) -> (StatusCode, Value) {
        let body = json!({"token": token});
        self.call(
            "POST",
            "/auth/revoke",
            Some(&caller.access_token),
            Some(body),
        )
        .await
    }

    /// `POST /auth/revoke-all` with `body`, as `caller`.
    async fn revoke_all(&self, caller: &TokenPair, body: Value) -> (StatusCode, Value) {
        let token = Some(caller.access_token.as_str());
        self.call("POST", "/auth/revoke-all", token, Some(body))
            .await
    }

    /// `GET /auth/sessions` with the access token `token`.
    async fn sessions(&self, token: &str) -> (StatusCode, Value) {
        self.call("GET", "/auth/sessions", Some(token), None).await
    }

    /// `DELETE /auth/sessions/{session_id}`, as `caller`.
    async fn delete_session(&self, caller: &TokenPair, session_id: &str) -> (StatusCode, Value) {
        let path = format!("/auth/sessions/{session_id}");
        self.call("DELETE", &path, Some(&caller.access_token), None)
            .await
    }

    /// The events `actor` caused: a user id names the user (`user:<id>`);
    /// an operator is itself.
    async fn audit_types(&self, actor: &str) -> Vec<(EventType, Value)> {
        let actor = if warden::audit::query::is_event_id(actor) {
            warden::audit::user_actor(actor)
        } else {
            actor.to_owned()
        };
        self.state
            .store
            .audit_by_actor(&actor, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.event_type, Value::Object(e.details)))
            .collect()
    }
}

async fn after_revoke_all_every_token_is_refused_at_once_and_a_new_login_works(h: Harness) {
    let user_id = h.user("alice", &[]).await;
    let pairs = [
        h.login("alice").await,
        h.login("alice").await,
        h.login("alice").await,
    ];
    // One session is already revoked: it does not count as live.
    let (status, _) = h.delete_session(&pairs[0], &pairs[2].session_id).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = h.revoke_all(&pairs[0], json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"revoked_count": 2, "generation": 1}));

    for pair in &pairs {
        assert!(
            !h.accepted(&pair.access_token).await,
            "access token survived revoke-all"
        );
        assert!(
            matches!(h.refresh(pair).await, Err(Error::Unauthorized)),
            "refresh token survived"
        );
        let (status, _) = h.sessions(&pair.access_token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let fresh = h.login("alice").await;
    let claims = h.claims(&fresh).await;
    assert_eq!(claims.r#gen, 1);
    let (status, body) = h.sessions(&fresh.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sessions"].as_array().unwrap().len(), 1);
    assert!(h.refresh(&fresh).await.is_ok());
    let events = h.audit_types(&user_id).await;
    let all = events
        .iter()
        .find(|(t, _)| *t == EventType::AllTokensRevoked)
        .unwrap();
    assert_eq!(all.1["revoked_count"], 2);
}

async fn revoking_a_refresh_token_kills_its_session_and_no_other(h: Harness) {
    h.user("alice", &[]).await;
    let a = h.login("alice").await;
    let b = h.login("alice").await;
    let (status, body) = h.revoke(&b, &a.refresh_token).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"revoked": 1})));
    assert!(!h.accepted(&a.access_token).await);
    assert!(matches!(h.refresh(&a).await, Err(Error::Unauthorized)));
    assert!(
        h.accepted(&b.access_token).await,
        "the other session lives on"
    );
    let (_, body) = h.revoke(&b, &a.refresh_token).await;
    assert_eq!(body, json!({"revoked": 0}), "already invalid");
}

async fn revoking_an_access_token_kills_that_token_only(h: Harness) {
    let user_id = h.user("alice", &[]).await;
    let first = h.login("alice").await;
    let second = h.refresh(&first).await.unwrap();
    // Accepted once, so the codec has it among its verified tokens: the
    // revocation must still win on the next request.
    assert!(h.accepted(&first.access_token).await);
    let (status, body) = h.revoke(&second, &first.access_token).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"revoked": 1})));
    assert!(!h.accepted(&first.access_token).await);
    assert!(h.accepted(&second.access_token).await);
    assert!(
        h.audit_types(&user_id)
            .await
            .iter()
            .any(|(t, _)| *t == EventType::TokenRevoked)
    );
    // Revoking a session's access token via the session itself:
    let (status, _) = h.delete_session(&second, &second.session_id).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!h.accepted(&second.access_token).await);
    assert!(
        h.audit_types(&user_id)
            .await
            .iter()
            .any(|(t, _)| *t == EventType::SessionRevoked)
    );
}

async fn sessions_list_only_the_callers_live_sessions_and_others_are_404(h: Harness) {
    h.user("alice", &[]).await;
    h.user("bob", &[]).await;
    let a1 = h.login("alice").await;
    let a2 = h.login("alice").await;
    let b1 = h.login("bob").await;
    let (status, body) = h.sessions(&a1.access_token).await;
    assert_eq!(status, StatusCode::OK);
    let sessions = body["sessions"].as_array().unwrap();
    let mut ids: Vec<&str> = sessions
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut want = vec![a1.session_id.as_str(), a2.session_id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    for s in sessions {
        assert_eq!(s["current"], s["session_id"] == a1.session_id.as_str());
        for field in [
            "created_at",
            "last_used_at",
            "expires_at",
            "ip",
            "user_agent",
        ] {
            assert!(s[field].is_string(), "{field}");
        }
    }
    // Bob's session through Alice's token: 404, and it lives on.
    let (status, _) = h.delete_session(&a1, &b1.session_id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(h.accepted(&b1.access_token).await);
    assert!(h.refresh(&b1).await.is_ok());
    let (status, _) = h.delete_session(&a1, "01NOSUCHSESSION").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Expired sessions are not listed.
    h.clock.advance_secs(31.0 * 86_400.0);
    let fresh = h.login("alice").await;
    let (_, body) = h.sessions(&fresh.access_token).await;
    assert_eq!(body["sessions"].as_array().unwrap().len(), 1);
}

async fn another_users_token_is_not_revoked_and_only_admins_revoke_others(h: Harness) {
    let alice_id = h.user("alice", &[]).await;
    let bob_id = h.user("bob", &[]).await;
    let admin_id = h.user("root", &[Role::Admin]).await;
    let alice = h.login("alice").await;
    let bob = h.login("bob").await;
    let admin = h.login("root").await;
    for token in [&bob.access_token, &bob.refresh_token] {
        let (status, body) = h.revoke(&alice, token).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"revoked": 0})));
    }
    assert!(h.accepted(&bob.access_token).await);
    assert!(h.refresh(&bob).await.is_ok());

    let (status, _) = h.revoke_all(&alice, json!({"user_id": bob_id})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Naming oneself is allowed without the admin role.
    let (status, body) = h.revoke_all(&alice, json!({"user_id": alice_id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let bob_now = h.login("bob").await;
    let (status, body) = h
        .revoke_all(
            &admin,
            json!({"user_id": bob_id, "reason": "laptop stolen"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_count"], 2);
    assert!(!h.accepted(&bob_now.access_token).await);
    assert!(
        h.accepted(&admin.access_token).await,
        "the admin's own tokens live on"
    );
    let events = h.audit_types(&admin_id).await;
    let (_, details) = events
        .iter()
        .find(|(t, _)| *t == EventType::AllTokensRevoked)
        .unwrap();
    assert_eq!(details["actor_user_id"], admin_id.as_str());
    assert_eq!(details["target_user_id"], bob_id.as_str());
    assert_eq!(details["reason"], "laptop stolen");
    let (status, _) = h.revoke_all(&admin, json!({"user_id": "01NOBODY"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn unauthenticated_calls_are_401(h: Harness) {
    h.user("alice", &[]).await;
    let pair = h.login("alice").await;
    let routes = [
        (
            "POST",
            "/auth/revoke",
            Some(json!({"token": pair.access_token})),
        ),
        ("POST", "/auth/revoke-all", Some(json!({}))),
        ("GET", "/auth/sessions", None),
        ("DELETE", "/auth/sessions/x", None),
    ];
    for (method, path, body) in routes {
        for token in [None, Some("garbage"), Some(pair.refresh_token.as_str())] {
            let (status, _) = h.call(method, path, token, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}"
            );
        }
    }
    assert!(h.accepted(&pair.access_token).await, "nothing was revoked");
    let (status, _) = h
        .call(
            "POST",
            "/auth/revoke",
            Some(&pair.access_token),
            Some(json!({"tok": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn a_denylist_entry_past_its_ttl_still_blocks_a_token_that_has_not_expired(h: Harness) {
    h.user("alice", &[]).await;
    let pair = h.login("alice").await;
    let claims = h.claims(&pair).await;
    // As if DynamoDB's TTL had passed but the item were not deleted yet.
    let past = h.clock.now_secs() - 3600;
    h.state
        .store
        .transact(vec![Write::Auth(AuthWrite::Deny {
            key: RevocationKey::Token(claims.jti.clone()),
            expires_at: past,
        })])
        .await
        .unwrap();
    assert!(!h.accepted(&pair.access_token).await);
}

async fn a_password_change_revokes_every_token(h: Harness) {
    h.user("alice", &[]).await;
    let a = h.login("alice").await;
    let b = h.login("alice").await;
    let outcome = revocation::set_password(
        &h.state,
        ctx().origin(),
        "tests",
        &Username::parse("Alice").unwrap(),
        &SecretString::from("a new password"),
    )
    .await
    .unwrap();
    assert_eq!((outcome.revoked_count, outcome.generation), (2, 1));
    for pair in [&a, &b] {
        assert!(!h.accepted(&pair.access_token).await);
        assert!(h.refresh(pair).await.is_err());
    }
    let old = h.login_with("alice", "alice password").await;
    assert!(matches!(old, Err(Error::Unauthorized)));
    let pair = h.login_with("alice", "a new password").await.unwrap();
    assert!(h.accepted(&pair.access_token).await);
}

/// Many logins and refreshes for one user race with revoke-all; afterwards
/// no token issued under the old generation is accepted.
async fn no_token_from_before_a_racing_revoke_all_survives(h: Harness) {
    h.user("alice", &[]).await;
    let first = h.login("alice").await;
    let caller = h.claims(&first).await;
    let state = h.state.clone();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                let mut tokens = Vec::new();
                for _ in 0..3 {
                    let request = login_request("alice", "alice password");
                    let Ok(pair) = login::login(&state, &ctx(), request).await else {
                        continue;
                    };
                    tokens.push(pair.access_token.clone());
                    let request = RefreshRequest {
                        refresh_token: SecretString::from(pair.refresh_token.clone()),
                    };
                    if let Ok(next) = login::refresh(&state, &ctx(), request).await {
                        tokens.push(next.access_token);
                    }
                }
                tokens
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    let outcome = revocation::revoke_all(&state, &ctx(), &caller, None, Some("race test"))
        .await
        .unwrap();
    let mut tokens = vec![first.access_token.clone()];
    for w in workers {
        tokens.extend(w.await.unwrap());
    }
    let mut old = 0;
    for token in &tokens {
        let claims = state
            .tokens
            .verify(token, h.clock.now_secs())
            .await
            .unwrap();
        if claims.r#gen < outcome.generation {
            old += 1;
            assert!(
                !h.accepted(token).await,
                "a token issued before the rise was accepted"
            );
        } else {
            assert!(
                h.accepted(token).await,
                "a token issued after the rise was refused"
            );
        }
    }
    assert!(old >= 1);
    // Sessions left behind by logins that lost the race are not live.
    let fresh = h.login("alice").await;
    let listed = revocation::list_sessions(&state, &*h.claims(&fresh).await)
        .await
        .unwrap();
    for s in listed {
        let (session, _) = state
            .store
            .session_with_revocation(&caller.sub, &s.session_id, h.clock.now_secs())
            .await
            .unwrap();
        assert!(session.unwrap().generation >= outcome.generation);
    }
}

async fn a_token_whose_user_is_gone_is_refused(h: Harness) {
    // Signed with the right key, every claim valid, nothing revoked: only
    // the user's `user#` record is missing (no such user, or deleted).
    let now = h.clock.now_secs();
    let (token, _) = h
        .state
        .tokens
        .issue(
            "01NOSUCHUSER0000000000000",
            &[Role::Admin],
            0,
            "01SESSION",
            now,
        )
        .await
        .unwrap();
    assert!(!h.accepted(&token).await, "a token of a missing user");
    let (status, _) = h.sessions(&token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn disabling_a_user_kills_its_tokens_at_once_and_enabling_lets_it_log_in_again(h: Harness) {
    h.user("alice", &[]).await;
    let pair = h.login("alice").await;
    let alice = Username::parse("alice").unwrap();
    let outcome = revocation::disable_user(&h.state, ctx().origin(), "tests", &alice)
        .await
        .unwrap();
    assert_eq!((outcome.revoked_count, outcome.generation), (1, 1));
    assert!(
        !h.accepted(&pair.access_token).await,
        "access token survived"
    );
    assert!(h.refresh(&pair).await.is_err(), "refresh token survived");
    let refused = h.login_with("alice", "alice password").await;
    assert!(matches!(refused, Err(Error::Unauthorized)));
    revocation::enable_user(&h.state, ctx().origin(), "tests", &alice)
        .await
        .unwrap();
    let again = h.login("alice").await;
    assert!(h.accepted(&again.access_token).await);
    assert!(
        !h.accepted(&pair.access_token).await,
        "old tokens stay dead"
    );
    let types: Vec<EventType> = h
        .audit_types("tests")
        .await
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert!(types.contains(&EventType::UserDisabled), "{types:?}");
    assert!(types.contains(&EventType::UserEnabled), "{types:?}");
}

async fn an_explicit_null_for_a_field_is_400_and_changes_nothing(h: Harness) {
    h.user("alice", &[]).await;
    let pair = h.login("alice").await;
    for body in [
        json!({"user_id": null}),
        json!({"reason": null}),
        json!({"token": null}),
    ] {
        let path = if body.get("token").is_some() {
            "/auth/revoke"
        } else {
            "/auth/revoke-all"
        };
        let (status, reply) = h
            .call("POST", path, Some(&pair.access_token), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {reply}");
    }
    assert!(h.accepted(&pair.access_token).await, "nothing was revoked");
    let (status, _) = h
        .call("PUT", "/auth/sessions", Some(&pair.access_token), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// `POST /auth/revoke-all` names a user by `username` as well as by
/// `user_id` (exactly one): an admin revokes another user's tokens by
/// name, matched case-insensitively, audited with the name; an unknown
/// name is `404` for an admin and `403` for anyone else (who learns
/// nothing about who exists); both names, or a reason naming no one, are
/// `400` and revoke nothing.
async fn revoke_all_names_a_user_by_username_or_by_id_never_both(h: Harness) {
    let alice_id = h.user("alice", &[]).await;
    let bob_id = h.user("bob", &[]).await;
    let admin_id = h.user("root", &[Role::Admin]).await;
    let alice = h.login("alice").await;
    let bob = h.login("bob").await;
    let admin = h.login("root").await;

    // Refused bodies, each saying what is wrong; nothing is revoked.
    let refused = [
        (
            json!({"user_id": bob_id, "username": "bob", "reason": "both"}),
            "not both",
        ),
        (
            json!({"reason": "who?"}),
            "a reason goes with user_id or username",
        ),
        (json!({"username": ""}), "username must be"),
        (
            json!({"username": null, "reason": "null"}),
            "invalid JSON body",
        ),
    ];
    for (body, detail) in refused {
        let (status, problem) = h.revoke_all(&admin, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(detail),
            "{body}: {problem}"
        );
    }
    assert!(h.accepted(&bob.access_token).await && h.accepted(&admin.access_token).await);

    // Anyone but an admin may name only themselves: another user, or a
    // name of no one, is 403 alike.
    for name in ["bob", "nobody"] {
        let (status, body) = h.revoke_all(&alice, json!({"username": name})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
    }
    assert!(h.accepted(&bob.access_token).await);

    // An admin, by name in any case.
    let (status, body) = h
        .revoke_all(
            &admin,
            json!({"username": " Bob ", "reason": "laptop stolen"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"revoked_count": 1, "generation": 1}));
    assert!(!h.accepted(&bob.access_token).await);
    assert!(h.refresh(&bob).await.is_err());
    assert!(
        h.accepted(&admin.access_token).await,
        "the admin's tokens live on"
    );
    let events = h.audit_types(&admin_id).await;
    let (_, details) = events
        .iter()
        .find(|(t, _)| *t == EventType::AllTokensRevoked)
        .unwrap();
    assert_eq!(details["target_user_id"], bob_id.as_str());
    assert_eq!(details["username"], "bob");
    assert_eq!(details["reason"], "laptop stolen");
    // An unknown name is 404 for an admin, as an unknown id is.
    let (status, _) = h
        .revoke_all(&admin, json!({"username": "nobody", "reason": "gone"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A user may name themselves by name too.
    let (status, body) = h.revoke_all(&alice, json!({"username": "ALICE"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!h.accepted(&alice.access_token).await);
    let events = h.audit_types(&alice_id).await;
    assert!(
        events
            .iter()
            .any(|(t, d)| *t == EventType::AllTokensRevoked && d["username"] == "alice"),
        "{events:?}"
    );
}

warden::on_both_stores!(
    Harness::new;
    after_revoke_all_every_token_is_refused_at_once_and_a_new_login_works,
    revoking_a_refresh_token_kills_its_session_and_no_other,
    revoking_an_access_token_kills_that_token_only,
    sessions_list_only_the_callers_live_sessions_and_others_are_404,
    another_users_token_is_not_revoked_and_only_admins_revoke_others,
    unauthenticated_calls_are_401,
    a_denylist_entry_past_its_ttl_still_blocks_a_token_that_has_not_expired,
    a_password_change_revokes_every_token,
    no_token_from_before_a_racing_revoke_all_survives,
    a_token_whose_user_is_gone_is_refused,
    disabling_a_user_kills_its_tokens_at_once_and_enabling_lets_it_log_in_again,
    an_explicit_null_for_a_field_is_400_and_changes_nothing,
    revoke_all_names_a_user_by_username_or_by_id_never_both,
);

/// The design's budgets, counted on the wire: checking a bearer token is one
/// DynamoDB round trip; a login is at most three (besides argon2): the IP
/// limit, one batch read of the user and of the failure counter kept for
/// unknown names, and one transaction.
#[tokio::test]
async fn on_dynamodb_a_token_check_is_one_round_trip_and_a_login_three() {
    let Some((store, _, log)) = testing::dynamo_store_with_log().await else {
        return;
    };
    let h = Harness::new(Arc::new(store));
    h.user("alice", &[]).await;
    log.take();
    let pair = h.login("alice").await;
    assert_eq!(
        log.take(),
        ["UpdateItem", "BatchGetItem", "TransactWriteItems"]
    );
    h.claims(&pair).await;
    assert_eq!(log.take(), ["BatchGetItem"]);
    let (status, _) = h.sessions(&pair.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        log.take()[0],
        "BatchGetItem",
        "authentication first, in one read"
    );
    h.refresh(&pair).await.unwrap();
    assert_eq!(log.take(), ["BatchGetItem", "TransactWriteItems"]);
}
