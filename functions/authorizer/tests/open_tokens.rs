//! The authorizer under open tokens (API.md "Access tokens"): only RS256
//! tokens of Warden's key set, with exactly its header, pass; forgeries of
//! every kind are denied; a delegated token passes only on a route of
//! `WARDEN_DELEGATED_ROUTES`, forwarding its actor. Each scenario runs on
//! the memory store and on DynamoDB (moto).
//!
//! The authorizer crate has no base64 or HMAC dev-dependency: tokens are
//! taken apart with the small base64url codec below, and the HS256 forgery
//! is MACed with [`warden::webhook::SigningKey`] (HMAC-SHA256).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::authorizer_request;
use lambda_runtime::{Context, LambdaEvent};
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::agents::registry;
use warden::auth::login::{self, LoginRequest, create_user};
use warden::auth::revocation;
use warden::auth::signing::Signer as _;
use warden::clock::ManualClock;
use warden::config::Config;
use warden::domain::agents::WorkspaceId;
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::state::AuthState;
use warden::store::{AuthStore, RegistryStore};
use warden::testing;
use warden::webhook::SigningKey;

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
fn b64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0_u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The bytes of base64url text without padding.
fn unb64(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0_u32, 0);
    for c in text.bytes() {
        let value = BASE64URL
            .iter()
            .position(|&a| a == c)
            .unwrap_or_else(|| panic!("not base64url: {text}"));
        acc = (acc << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Segment `i` of a JWS (0 the header, 1 the claims), as JSON.
fn segment(token: &str, i: usize) -> Value {
    serde_json::from_slice(&unb64(token.split('.').nth(i).unwrap())).unwrap()
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(claims).unwrap())
    )
}

/// A JWS of `header` and `claims` signed RS256 by the test key `arn`.
async fn signed_by(arn: &str, header: &Value, claims: &Value) -> String {
    sign_input(arn, &signing_input(header, claims)).await
}

/// The JWS signing input `input` signed RS256 by the test key `arn`.
async fn sign_input(arn: &str, input: &str) -> String {
    let signature = testing::test_signer()
        .sign(arn, input.as_bytes())
        .await
        .unwrap();
    format!("{input}.{}", b64(&signature))
}

/// The `kid` of the test key `arn`.
fn kid_of(arn: &str) -> String {
    testing::test_signer()
        .public_key_of(arn)
        .unwrap()
        .thumbprint()
}

fn ctx() -> RequestContext {
    RequestContext::for_tests("127.0.0.1")
}

/// The route key a delegated token may be used on in these tests.
const DELEGATED_ROUTE: &str = "POST /orders";

struct Harness {
    state: AuthState,
    /// The token endpoint over the same store (delegated tokens).
    keys: Arc<AuthState>,
    clock: Arc<ManualClock>,
}

impl Harness {
    fn new<S: AuthStore + RegistryStore + 'static>(store: Arc<S>) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        Self {
            state: testing::state(store.clone(), clock.clone()),
            keys: Arc::new(testing::token_endpoint_state(store, clock.clone())),
            clock,
        }
    }

    /// Another authorizer over the same store and clock, with `config`.
    fn with_config(&self, config: Config) -> Self {
        Self {
            state: testing::state_with(config, self.state.store.clone(), self.clock.clone()),
            keys: self.keys.clone(),
            clock: self.clock.clone(),
        }
    }

    /// User `alice` and a fresh login of hers.
    async fn alice(&self) -> login::TokenPair {
        create_user(
            &self.state,
            ctx().origin(),
            &Username::parse("alice").unwrap(),
            &SecretString::from("alice password"),
            &[Role::User],
        )
        .await
        .unwrap();
        self.login().await
    }

    async fn login(&self) -> login::TokenPair {
        let request = LoginRequest {
            username: "alice".into(),
            password: SecretString::from("alice password"),
        };
        login::login(&self.state, &ctx(), request).await.unwrap()
    }

    /// The authorizer's decision on `token` for `route` (a route key).
    async fn decide_on(&self, route: &str, token: &str) -> (bool, Value) {
        let mut payload = authorizer_request(Some(&format!("Bearer {token}")), "authz-1");
        payload.route_key = Some(route.to_owned());
        let event = LambdaEvent::new(payload, Context::default());
        let response = warden_authorizer::handler(&self.state, event)
            .await
            .unwrap();
        (response.is_authorized, response.context)
    }

    async fn allowed(&self, token: &str) -> bool {
        self.decide_on("GET /example", token).await.0
    }

    /// `token` exchanged (RFC 8693) for a token delegated to agent `a`
    /// (registered here, in workspace `acme`) through a new key of its;
    /// returns the token and the key's id.
    async fn delegated(&self, token: &str) -> (String, String) {
        let api_keys = self.keys.api_keys.as_ref().unwrap();
        registry::add_workspace(
            &api_keys.registry,
            ctx().origin(),
            WorkspaceId::parse("acme").unwrap(),
            "Acme",
        )
        .await
        .unwrap();
        let user_id = self.state.bearer().token(token).await.unwrap().sub.clone();
        let (delegated, _) = testing::delegate(&self.keys, "a", &["acme"], &user_id, token).await;
        let key_id = segment(&delegated, 1)["act"]["key_id"]
            .as_str()
            .unwrap()
            .to_owned();
        (delegated, key_id)
    }
}

fn config_with_delegated_routes(routes: &'static str) -> Config {
    let (config, findings) = Config::load(|k| match k {
        "WARDEN_ENV" => Some("development".into()),
        "WARDEN_DELEGATED_ROUTES" => Some(routes.into()),
        _ => None,
    });
    assert!(!findings.has_errors(), "{findings:?}");
    config.unwrap()
}

/// Every forgery API.md names is denied; the genuine token it was made
/// from passes.
async fn forged_tokens_of_every_kind_are_denied_and_a_fresh_login_token_allowed(h: Harness) {
    let pair = h.alice().await;
    let token = pair.access_token.as_str();
    let (allowed, context) = h.decide_on("GET /example", token).await;
    assert!(allowed, "a fresh login token");
    assert_eq!(context["session_id"], pair.session_id.as_str());
    // The codec reads and writes the genuine token's segments exactly.
    for part in token.split('.') {
        assert_eq!(b64(&unb64(part)), part);
    }
    let (head, claims) = (segment(token, 0), segment(token, 1));
    let (input, signature) = token.rsplit_once('.').unwrap();
    let (head_segment, _) = input.split_once('.').unwrap();
    assert_eq!(
        head,
        json!({"alg": "RS256", "typ": "at+jwt", "kid": kid_of("local:test-1")})
    );

    let public = testing::test_signer()
        .public_key_of("local:test-1")
        .unwrap();
    let hs256 = |secret: &[u8]| {
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid_of("local:test-1")});
        let input = signing_input(&header, &claims);
        let mac = SigningKey::new(secret).sign(&[input.as_bytes()]);
        format!("{input}.{}", b64(&mac))
    };
    let mut admin = claims.clone();
    admin["roles"] = json!(["admin"]);
    let test_2_jwk = serde_json::to_value(
        testing::test_signer()
            .public_key_of("local:test-2")
            .unwrap()
            .jwk(),
    )
    .unwrap();
    let forgeries = [
        (
            "HS256, the public key's JWK as secret",
            hs256(&serde_json::to_vec(&public.jwk()).unwrap()),
        ),
        (
            "HS256, the modulus as secret",
            hs256(public.jwk().n.as_bytes()),
        ),
        (
            "alg none",
            format!(
                "{}.",
                signing_input(
                    &json!({"alg": "none", "typ": "at+jwt", "kid": kid_of("local:test-1")}),
                    &claims
                )
            ),
        ),
        (
            "alg none, no kid",
            format!("{}.", signing_input(&json!({"alg": "none"}), &claims)),
        ),
        (
            "an unknown kid (test-2 signing under its own thumbprint)",
            signed_by(
                "local:test-2",
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": kid_of("local:test-2")}),
                &claims,
            )
            .await,
        ),
        (
            "test-2's signature under test-1's kid",
            sign_input("local:test-2", input).await,
        ),
        (
            "a claim changed after signing",
            format!(
                "{head_segment}.{}.{signature}",
                b64(&serde_json::to_vec(&admin).unwrap())
            ),
        ),
        (
            "a jwk header member, signed by the trusted key",
            signed_by(
                "local:test-1",
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": kid_of("local:test-1"), "jwk": public.jwk()}),
                &claims,
            )
            .await,
        ),
        (
            "an embedded jwk of test-2, signed by test-2",
            signed_by(
                "local:test-2",
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": kid_of("local:test-1"), "jwk": test_2_jwk}),
                &claims,
            )
            .await,
        ),
    ];
    for (what, forged) in &forgeries {
        let (allowed, context) = h.decide_on("GET /example", forged).await;
        assert!(!allowed, "{what} was allowed");
        assert!(context.is_null(), "{what}: {context}");
    }
    assert!(h.allowed(token).await, "the genuine token still passes");

    // Past exp and the 30 s leeway.
    h.clock.advance_secs(900.0 + 29.0);
    assert!(h.allowed(token).await, "within the leeway");
    h.clock.advance_secs(1.0);
    assert!(!h.allowed(token).await, "an expired token");
}

/// A delegated token (with `act`) passes only on a listed route, and there
/// forwards its actor.
async fn a_delegated_token_is_allowed_only_on_a_listed_route_with_its_actor_as_context(h: Harness) {
    let pair = h.alice().await;
    let (delegated, key_id) = h.delegated(&pair.access_token).await;
    assert_eq!(
        segment(&delegated, 1)["act"],
        json!({"sub": "agent:a", "key_id": key_id})
    );

    // No route listed: denied everywhere, the person's own token not.
    assert!(h.state.config.delegated_routes.is_empty());
    for route in ["GET /example", DELEGATED_ROUTE] {
        let (allowed, context) = h.decide_on(route, &delegated).await;
        assert!(!allowed, "{route} with no delegated routes");
        assert!(context.is_null());
        assert!(h.decide_on(route, &pair.access_token).await.0);
    }

    let listed = h.with_config(config_with_delegated_routes("POST /orders, GET /tools"));
    assert_eq!(
        listed.state.config.delegated_routes,
        [DELEGATED_ROUTE, "GET /tools"]
    );
    for route in ["GET /example", "POST /tools", "GET /orders"] {
        assert!(
            !listed.decide_on(route, &delegated).await.0,
            "{route} is not listed"
        );
    }
    let claims = listed.state.bearer().live(&delegated).await.unwrap().0;
    let (allowed, context) = listed.decide_on(DELEGATED_ROUTE, &delegated).await;
    assert!(allowed, "a listed route");
    assert_eq!(
        context,
        json!({
            "user_id": claims.sub,
            "roles": "",
            "session_id": pair.session_id,
            "actor": "agent:a",
            "actor_key_id": key_id,
        })
    );
    // A person's own token passes there too, its actor empty.
    let (allowed, context) = listed.decide_on(DELEGATED_ROUTE, &pair.access_token).await;
    assert!(allowed);
    assert_eq!(context["actor"], "", "{context}");
    assert_eq!(context["actor_key_id"], "", "{context}");

    // Its subject's revoke-all denies it at once.
    let caller = listed
        .state
        .bearer()
        .token(&pair.access_token)
        .await
        .unwrap();
    revocation::revoke_all(&listed.state, &ctx(), &caller, None, None)
        .await
        .unwrap();
    assert!(!listed.decide_on(DELEGATED_ROUTE, &delegated).await.0);
}

async fn a_delegated_token_is_denied_at_once_when_its_agent_is_disabled_and_stays_denied(
    h: Harness,
) {
    let pair = h.alice().await;
    let (delegated, _) = h.delegated(&pair.access_token).await;
    let listed = h.with_config(config_with_delegated_routes(DELEGATED_ROUTE));
    assert!(listed.decide_on(DELEGATED_ROUTE, &delegated).await.0);
    let registry = &h.keys.api_keys.as_ref().unwrap().registry;
    let agent = warden::domain::agents::AgentId::parse("a").unwrap();
    registry::set_enabled(registry, ctx().origin(), &agent, false)
        .await
        .unwrap();
    assert!(!listed.decide_on(DELEGATED_ROUTE, &delegated).await.0);
    // Re-enabling the agent revives nothing: its kill generation moved.
    registry::set_enabled(registry, ctx().origin(), &agent, true)
        .await
        .unwrap();
    assert!(!listed.decide_on(DELEGATED_ROUTE, &delegated).await.0);
    // The person's own token was never affected.
    assert!(
        listed
            .decide_on(DELEGATED_ROUTE, &pair.access_token)
            .await
            .0
    );
}

warden::on_both_stores!(
    Harness::new;
    forged_tokens_of_every_kind_are_denied_and_a_fresh_login_token_allowed,
    a_delegated_token_is_allowed_only_on_a_listed_route_with_its_actor_as_context,
    a_delegated_token_is_denied_at_once_when_its_agent_is_disabled_and_stays_denied,
);
