//! The authorizer, called as a function with API Gateway's payload 2.0.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::authorizer_request;
use lambda_runtime::{Context, LambdaEvent};
use secrecy::SecretString;
use serde_json::json;
use warden::auth::login::{self, LoginRequest, create_user};
use warden::auth::revocation;
use warden::clock::ManualClock;
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::state::AuthState;
use warden::store::memory::MemoryStore;
use warden::testing;

async fn decide(state: &AuthState, authorization: Option<&str>) -> (bool, serde_json::Value) {
    let payload = authorizer_request(authorization, "authz-1");
    let response = warden_authorizer::handler(state, LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap();
    (response.is_authorized, response.context)
}

async fn setup() -> (AuthState, login::TokenPair) {
    let state = testing::state(
        Arc::new(MemoryStore::new()),
        Arc::new(ManualClock::starting_now()),
    );
    let ctx = RequestContext::for_tests("127.0.0.1");
    create_user(
        &state,
        ctx.origin(),
        &Username::parse("alice").unwrap(),
        &SecretString::from("alice password"),
        &[Role::User, Role::Approver],
    )
    .await
    .unwrap();
    let pair = login::login(
        &state,
        &ctx,
        LoginRequest {
            username: "alice".into(),
            password: SecretString::from("alice password"),
        },
    )
    .await
    .unwrap();
    (state, pair)
}

#[tokio::test]
async fn a_valid_token_is_allowed_with_the_user_roles_and_session_as_context() {
    let (state, pair) = setup().await;
    let claims = state.bearer().token(&pair.access_token).await.unwrap();
    let (allowed, context) = decide(&state, Some(&format!("Bearer {}", pair.access_token))).await;
    assert!(allowed);
    assert_eq!(
        context,
        json!({
            "user_id": claims.sub,
            "roles": "user,approver",
            "session_id": pair.session_id,
            "actor": "",
            "actor_key_id": "",
        })
    );
}

#[tokio::test]
async fn missing_forged_and_revoked_tokens_are_denied() {
    let (state, pair) = setup().await;
    assert!(!decide(&state, None).await.0);
    assert!(!decide(&state, Some("Bearer not-a-jwt")).await.0);
    assert!(
        !decide(&state, Some(&format!("Basic {}", pair.access_token)))
            .await
            .0
    );
    // Change one character in the middle of the signature.
    let mut forged: Vec<char> = pair.access_token.chars().collect();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == 'x' { 'y' } else { 'x' };
    let forged: String = forged.into_iter().collect();
    assert!(!decide(&state, Some(&format!("Bearer {forged}"))).await.0);

    let bearer = format!("Bearer {}", pair.access_token);
    assert!(decide(&state, Some(&bearer)).await.0);
    let caller = state.bearer().token(&pair.access_token).await.unwrap();
    let ctx = RequestContext::for_tests("127.0.0.1");
    revocation::revoke_all(&state, &ctx, &caller, None, None)
        .await
        .unwrap();
    let (allowed, context) = decide(&state, Some(&bearer)).await;
    assert!(!allowed, "a revoked token must be denied on its next use");
    assert!(context.is_null());
}
