//! Open tokens on the login function's handler, called as a function: the
//! discovery documents, the key set, the RS256 access tokens login and
//! refresh issue, and `POST /auth/introspect` (RFC 7662) with its RFC 6750
//! challenges, as API.md "Open tokens" promises them. Each scenario that
//! touches the store runs on the memory store and on DynamoDB (moto).
//!
//! The signature of a login token is checked against the published JWK with
//! [`warden::auth::signing::RsaPublicKey`] built from the JWK's `n` and `e`
//! (the `rsa` crate is a dev-dependency of `warden` only); the key's
//! thumbprint is a known answer computed outside Rust (openssl and Python's
//! hashlib over the test key's modulus).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, StatusCode};
use lambda_http::Body;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use warden::agents::registry::{add_workspace, register_agent};
use warden::auth::api_keys::{KeySpec, create_key};
use warden::auth::jwt::AccessClaims;
use warden::auth::login::create_user;
use warden::auth::revocation;
use warden::auth::signing::{RsaPublicKey, Signer as _};
use warden::clock::ManualClock;
use warden::config::Config;
use warden::domain::agents::{AgentId, AgentType, KeyOwner, Maturity, ServiceName, WorkspaceId};
use warden::domain::{Role, Username};
use warden::http::RequestContext;
use warden::state::{ApiKeys, AuthState, Registry};
use warden::store::{AuthStore, RegistryStore};
use warden::testing;

/// The RFC 7638 thumbprint of `shared/testdata/test-signing-key-1.pem`
/// (`local:test-1`), computed with openssl and Python: SHA-256 of
/// `{"e":"AQAB","kty":"RSA","n":"<modulus>"}`, base64url.
const TEST_KEY_THUMBPRINT: &str = "xXYYmxOz2A0V0ORMnU71ol8VYqEILClYXgRsvuFhFkg";

/// The issuer of [`testing::config`].
const ISSUER: &str = "http://127.0.0.1:3000";

/// Where every `401` challenge says the resource's metadata is.
const METADATA: &str = "http://127.0.0.1:3000/.well-known/oauth-protected-resource";

const FORM: &str = "application/x-www-form-urlencoded";

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
}

/// Who calls `POST /auth/introspect`.
enum Caller<'a> {
    Nobody,
    Bearer(&'a str),
    Key(&'a str),
    Both(&'a str, &'a str),
}

impl Caller<'_> {
    fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Caller::Nobody => vec![],
            Caller::Bearer(token) => vec![("authorization", format!("Bearer {token}"))],
            Caller::Key(key) => vec![("x-api-key", (*key).to_owned())],
            Caller::Both(token, key) => vec![
                ("authorization", format!("Bearer {token}")),
                ("x-api-key", (*key).to_owned()),
            ],
        }
    }
}

fn ctx() -> RequestContext {
    RequestContext::for_tests("127.0.0.1")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// Segment `i` of a JWS (0 the header, 1 the claims), as JSON.
fn segment(token: &str, i: usize) -> Value {
    serde_json::from_slice(&unb64(token.split('.').nth(i).unwrap())).unwrap()
}

/// A JWS of `header` and `claims`, signed RS256 by the test key `arn`
/// (`local:test-1` is the key the states trust, the others are not).
async fn signed_by(arn: &str, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(claims).unwrap())
    );
    let signature = testing::test_signer()
        .sign(arn, input.as_bytes())
        .await
        .unwrap();
    format!("{input}.{}", b64(&signature))
}

/// `token`'s header and claims, exactly, signed by `local:test-2` instead
/// (under test-1's `kid`): a forgery.
async fn forged(token: &str) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    let signature = testing::test_signer()
        .sign("local:test-2", input.as_bytes())
        .await
        .unwrap();
    format!("{input}.{}", b64(&signature))
}

/// A configuration of development with `vars` set.
fn config_with(vars: &'static [(&'static str, &'static str)]) -> Config {
    let (config, findings) = Config::load(|k| match k {
        "WARDEN_ENV" => Some("development".into()),
        _ => vars
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned()),
    });
    assert!(!findings.has_errors(), "{findings:?}");
    config.unwrap()
}

impl Harness {
    /// The login function's state over `store`: its tokens, and the API
    /// keys introspection callers present.
    fn new<S: AuthStore + RegistryStore + 'static>(store: Arc<S>) -> Self {
        Self::over(testing::config(), store.clone(), store)
    }

    fn over(config: Config, auth: Arc<dyn AuthStore>, keys: Arc<dyn RegistryStore>) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        let registry = Registry::new(config.clone(), keys, clock.clone());
        let state = testing::state_with(config, auth, clock.clone()).with_api_keys(ApiKeys {
            registry,
            pepper: testing::test_pepper(),
        });
        Self {
            state,
            clock,
            next_ip: AtomicU32::new(1),
        }
    }

    /// Another login function over the same store, with `config`.
    fn with_config(&self, config: Config) -> Self {
        let keys = self.keys().registry.store.clone();
        Self::over(config, self.state.store.clone(), keys)
    }

    fn keys(&self) -> &ApiKeys {
        self.state.api_keys.as_ref().unwrap()
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

    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let req = testing::api_request(method, path, headers, body, &self.fresh_ip());
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

    async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, &[], Body::Empty).await
    }

    /// `POST /auth/login` of `name` with its password, through the handler.
    async fn login_reply(&self, name: &str) -> Reply {
        let body = json!({"username": name, "password": format!("{name} password")});
        let reply = self
            .call(
                "POST",
                "/auth/login",
                &[("content-type", "application/json")],
                body.to_string(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.body);
        reply
    }

    /// A fresh access token of `name`.
    async fn token(&self, name: &str) -> String {
        let reply = self.login_reply(name).await;
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    /// The verified claims of a live `token`, delegated or not.
    async fn claims(&self, token: &str) -> Arc<AccessClaims> {
        self.state.bearer().live(token).await.unwrap().0
    }

    /// `POST /auth/introspect` as `caller` with the form body `form`.
    async fn introspect_form(&self, caller: &Caller<'_>, form: impl Into<Body>) -> Reply {
        let credentials = caller.headers();
        let mut headers = vec![("content-type", FORM)];
        headers.extend(credentials.iter().map(|(k, v)| (*k, v.as_str())));
        self.call("POST", "/auth/introspect", &headers, form).await
    }

    /// Introspects `token` as `caller`; the answer must be a `200`.
    async fn introspect(&self, caller: &Caller<'_>, token: &str) -> Value {
        let reply = self.introspect_form(caller, format!("token={token}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// A key of service `rs` with `tokens:introspect`.
    async fn service_key(&self) -> String {
        let spec = KeySpec {
            owner: KeyOwner::Service(ServiceName::parse("rs").unwrap()),
            scopes: vec!["tokens:introspect".into()],
            expires_at: None,
            rate_limit_per_hour: None,
            created_by: None,
        };
        self.new_key(spec).await
    }

    /// A key of agent `books` (in workspace `acme`) with `agents:run`.
    async fn agent_key(&self) -> String {
        let registry = &self.keys().registry;
        let acme = WorkspaceId::parse("acme").unwrap();
        add_workspace(registry, ctx().origin(), acme, "Acme")
            .await
            .unwrap();
        let agent =
            testing::new_agent("books", AgentType::Accounting, Maturity::Supervised, "acme");
        register_agent(registry, ctx().origin(), agent)
            .await
            .unwrap();
        let spec = KeySpec {
            owner: KeyOwner::Agent(AgentId::parse("books").unwrap()),
            scopes: vec!["agents:run".into()],
            expires_at: None,
            rate_limit_per_hour: None,
            created_by: None,
        };
        self.new_key(spec).await
    }

    /// `token` exchanged for a token delegated to a new agent `agent_id`
    /// (in workspace `deleg`) through a new key of its with `tools:call`.
    async fn delegated(&self, token: &str, agent_id: &str) -> String {
        let deleg = WorkspaceId::parse("deleg").unwrap();
        // Added by the first delegation; a second add is a conflict.
        let _ = add_workspace(&self.keys().registry, ctx().origin(), deleg, "Deleg").await;
        let user_id = self.claims(token).await.sub.clone();
        testing::delegate(&self.state, agent_id, &["deleg"], &user_id, token)
            .await
            .0
    }

    async fn new_key(&self, spec: KeySpec) -> String {
        let keys = self.keys();
        let new = create_key(&keys.registry, &keys.pepper, ctx().origin(), spec)
            .await
            .unwrap();
        new.key.expose_secret().to_owned()
    }
}

/// The answer API.md gives for a live token of `username`, from its claims.
fn active_answer(token: &str, username: &str) -> Value {
    let claims = segment(token, 1);
    json!({
        "active": true,
        "sub": claims["sub"],
        "username": username,
        "client_id": "warden",
        "scope": "warden",
        "aud": "warden-api",
        "iss": ISSUER,
        "exp": claims["exp"],
        "iat": claims["iat"],
        "nbf": claims["nbf"],
        "jti": claims["jti"],
        "token_type": "Bearer",
    })
}

fn inactive() -> Value {
    json!({"active": false})
}

/// The metadata members API.md lists, with their values for [`ISSUER`].
fn expected_server_metadata() -> Value {
    json!({
        "issuer": ISSUER,
        "jwks_uri": format!("{ISSUER}/.well-known/jwks.json"),
        "token_endpoint": format!("{ISSUER}/auth/token"),
        "grant_types_supported": ["urn:ietf:params:oauth:grant-type:token-exchange"],
        "token_endpoint_auth_methods_supported": ["none"],
        "introspection_endpoint": format!("{ISSUER}/auth/introspect"),
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["warden", "tools:call"],
    })
}

#[tokio::test]
async fn both_metadata_paths_answer_exactly_the_contracts_members_public_and_cacheable_to_any_origin()
 {
    let h = Harness::new(Arc::new(warden::store::memory::MemoryStore::new()));
    assert_eq!(testing::config().issuer, ISSUER);
    assert!(
        !testing::config()
            .allowed_origins
            .iter()
            .any(|o| o == "https://evil.example" || o == "*")
    );
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let reply = h
            .call(
                "GET",
                path,
                &[("origin", "https://evil.example")],
                Body::Empty,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        assert_eq!(reply.body, expected_server_metadata(), "{path}");
        assert_eq!(
            reply.header("cache-control"),
            "public, max-age=300",
            "{path}"
        );
        assert_eq!(reply.header("access-control-allow-origin"), "*", "{path}");
        assert_eq!(reply.header("content-type"), "application/json");
    }
    // CORS is open on the public documents only: a token endpoint does not
    // answer that origin.
    let login = h
        .call(
            "POST",
            "/auth/login",
            &[
                ("origin", "https://evil.example"),
                ("content-type", "application/json"),
            ],
            r#"{"username":"nobody","password":"whatever pw"}"#,
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
    assert!(
        login.headers.get("access-control-allow-origin").is_none(),
        "{:?}",
        login.headers
    );
}

#[tokio::test]
async fn the_protected_resource_is_exactly_the_issuer_and_names_it_as_its_authorization_server() {
    let h = Harness::new(Arc::new(warden::store::memory::MemoryStore::new()));
    let reply = h
        .call(
            "GET",
            "/.well-known/oauth-protected-resource",
            &[("origin", "https://evil.example")],
            Body::Empty,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
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
            "authorization_servers",
            "bearer_methods_supported",
            "resource",
            "scopes_supported"
        ]
    );
    assert_eq!(reply.body["resource"], ISSUER, "exactly, no trailing slash");
    assert_eq!(reply.body["authorization_servers"], json!([ISSUER]));
    assert_eq!(reply.body["bearer_methods_supported"], json!(["header"]));
    assert_eq!(
        reply.body["scopes_supported"],
        expected_server_metadata()["scopes_supported"]
    );
    assert_eq!(reply.header("cache-control"), "public, max-age=300");
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    // Every 401 points at this document.
    let refused = h.introspect_form(&Caller::Nobody, "token=x").await;
    assert!(
        refused.header("www-authenticate").contains(&format!(
            r#"resource_metadata="{ISSUER}/.well-known/oauth-protected-resource""#
        )),
        "{:?}",
        refused.headers
    );
}

#[tokio::test]
async fn the_public_documents_and_introspection_answer_other_methods_405_with_allow() {
    let h = Harness::new(Arc::new(warden::store::memory::MemoryStore::new()));
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
        "/.well-known/oauth-protected-resource",
    ] {
        for method in ["POST", "PUT", "DELETE"] {
            let reply = h.call(method, path, &[], Body::Empty).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(reply.header("allow"), "GET, OPTIONS", "{method} {path}");
            assert_eq!(reply.body["status"], 405, "a problem document");
        }
    }
    for method in ["GET", "PUT", "DELETE"] {
        let reply = h.call(method, "/auth/introspect", &[], Body::Empty).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.header("allow"), "POST, OPTIONS");
    }
}

#[tokio::test]
async fn the_key_set_lists_exactly_the_signing_keys_public_half_under_its_thumbprint() {
    let h = Harness::new(Arc::new(warden::store::memory::MemoryStore::new()));
    let reply = h.get("/.well-known/jwks.json").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), "public, max-age=300");
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    let public = testing::test_signer()
        .public_key_of("local:test-1")
        .unwrap();
    assert_eq!(public.thumbprint(), TEST_KEY_THUMBPRINT);
    let keys = reply.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{}", reply.body);
    let key = &keys[0];
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "{private} published: {key}");
    }
    assert_eq!(
        reply.body,
        json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": TEST_KEY_THUMBPRINT,
            "n": public.jwk().n,
            "e": "AQAB",
        }]})
    );
    // The published n and e are the key the kid names.
    let n = unb64(key["n"].as_str().unwrap());
    assert_eq!(n.len(), 256, "a 2048-bit modulus");
    let rebuilt = RsaPublicKey::from_components(&n, &unb64(key["e"].as_str().unwrap())).unwrap();
    assert_eq!(rebuilt.thumbprint(), TEST_KEY_THUMBPRINT);
}

/// Login and refresh tokens: RS256 under the published key, the exact
/// header, `client_id` and `scope` `warden`, and `no-store` answers.
async fn login_and_refresh_tokens_verify_with_the_published_jwk_and_name_the_warden_client(
    h: Harness,
) {
    let user_id = h.add_user("alice", &[]).await;
    let login = h.login_reply("alice").await;
    assert_eq!(login.header("cache-control"), "no-store");
    let refresh = h
        .call(
            "POST",
            "/auth/refresh",
            &[("content-type", "application/json")],
            json!({"refresh_token": login.body["refresh_token"]}).to_string(),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::OK, "{}", refresh.body);
    assert_eq!(refresh.header("cache-control"), "no-store");

    let jwks = h.get("/.well-known/jwks.json").await.body;
    for token in [&login.body["access_token"], &refresh.body["access_token"]] {
        let token = token.as_str().unwrap();
        let header = segment(token, 0);
        assert_eq!(
            header,
            json!({"alg": "RS256", "typ": "at+jwt", "kid": TEST_KEY_THUMBPRINT})
        );
        assert_eq!(
            header.as_object().unwrap().len(),
            3,
            "no member beyond alg, typ, kid"
        );
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .unwrap_or_else(|| panic!("no published key {}", header["kid"]));
        let public = RsaPublicKey::from_components(
            &unb64(jwk["n"].as_str().unwrap()),
            &unb64(jwk["e"].as_str().unwrap()),
        )
        .unwrap();
        let (input, signature) = token.rsplit_once('.').unwrap();
        assert!(public.verifies(input.as_bytes(), &unb64(signature)));
        // The check means something: another input does not verify.
        assert!(!public.verifies(format!("{input}x").as_bytes(), &unb64(signature)));

        let claims = segment(token, 1);
        assert_eq!(claims["client_id"], "warden");
        assert_eq!(claims["scope"], "warden");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], "warden-api");
        assert_eq!(claims["sub"], user_id.as_str());
        assert_eq!(claims["sid"], login.body["session_id"]);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            900
        );
    }
}

/// A live token introspected by an admin's bearer and by a service key
/// with `tokens:introspect`: exactly API.md's members, the same for both;
/// a delegated token's answer adds `act`.
async fn an_admin_and_a_service_key_see_a_live_token_with_exactly_the_contracts_members(
    h: Harness,
) {
    h.add_user("root", &[Role::Admin]).await;
    h.add_user("alice", &[]).await;
    let admin = h.token("root").await;
    let token = h.token("alice").await;
    let key = h.service_key().await;

    let by_admin = h.introspect(&Caller::Bearer(&admin), &token).await;
    assert_eq!(by_admin, active_answer(&token, "alice"));
    let by_key = h.introspect(&Caller::Key(&key), &token).await;
    assert_eq!(by_key, by_admin);
    // token_type_hint is ignored.
    let hinted = h
        .introspect_form(
            &Caller::Key(&key),
            format!("token={token}&token_type_hint=refresh_token"),
        )
        .await;
    assert_eq!(hinted.body, by_admin);

    // A delegated token (act) is live too, and says who acts.
    let delegated = h.delegated(&token, "books").await;
    let key_id = h.claims(&delegated).await.act.clone().unwrap().key_id;
    let answer = h.introspect(&Caller::Key(&key), &delegated).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(
        answer["act"],
        json!({"sub": "agent:books", "key_id": key_id})
    );
    assert_eq!(answer["client_id"], "agent:books");
    assert_eq!(answer["scope"], "tools:call");
}

/// A token revoked by any means is inactive on the very next
/// introspection: its own revocation, revoke-all, disabling its user.
async fn a_token_is_inactive_at_once_after_revoke_revoke_all_or_disabling_its_user(h: Harness) {
    h.add_user("root", &[Role::Admin]).await;
    h.add_user("alice", &[]).await;
    let admin = h.token("root").await;
    let admin = Caller::Bearer(&admin);
    let first = h.token("alice").await;
    let second = h.token("alice").await;
    assert_eq!(h.introspect(&admin, &first).await["active"], true);
    assert_eq!(h.introspect(&admin, &second).await["active"], true);

    let owner = h.claims(&first).await;
    let revoked = revocation::revoke_token(&h.state, &ctx(), &owner, &first)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert_eq!(h.introspect(&admin, &first).await, inactive());
    assert_eq!(
        h.introspect(&admin, &second).await["active"],
        true,
        "only that token"
    );

    revocation::revoke_all(&h.state, &ctx(), &*h.claims(&second).await, None, None)
        .await
        .unwrap();
    assert_eq!(h.introspect(&admin, &second).await, inactive());

    let third = h.token("alice").await;
    assert_eq!(h.introspect(&admin, &third).await["active"], true);
    revocation::disable_user(
        &h.state,
        ctx().origin(),
        "tests",
        &Username::parse("alice").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(h.introspect(&admin, &third).await, inactive());
}

/// Garbage, a refresh token, an expired token and forgeries are
/// `{"active": false}` and nothing more.
async fn garbage_expired_and_forged_tokens_are_inactive_and_nothing_more(h: Harness) {
    h.add_user("root", &[Role::Admin]).await;
    h.add_user("alice", &[]).await;
    let key = h.service_key().await;
    let by_key = Caller::Key(&key);
    let login = h.login_reply("alice").await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(h.introspect(&by_key, &token).await["active"], true);

    let refresh = login.body["refresh_token"].as_str().unwrap();
    let long = "x".repeat(9000);
    for garbage in ["garbage", "a.b.c", "..", refresh, &long] {
        assert_eq!(
            h.introspect(&by_key, garbage).await,
            inactive(),
            "{garbage:.40}"
        );
    }
    // Signed by local:test-2 under test-1's kid, and by test-2 under its own.
    let forgery = forged(&token).await;
    assert_eq!(h.introspect(&by_key, &forgery).await, inactive());
    let own_kid = testing::test_signer()
        .public_key_of("local:test-2")
        .unwrap()
        .thumbprint();
    let other_key = signed_by(
        "local:test-2",
        &json!({"alg": "RS256", "typ": "at+jwt", "kid": own_kid}),
        &segment(&token, 1),
    )
    .await;
    assert_eq!(h.introspect(&by_key, &other_key).await, inactive());

    // Past exp and the 30 s leeway (the admin logs in again: theirs expired too).
    h.clock.advance_secs(900.0 + 30.0);
    assert_eq!(h.introspect(&by_key, &token).await, inactive());
    let admin = h.token("root").await;
    assert_eq!(
        h.introspect(&Caller::Bearer(&admin), &token).await,
        inactive()
    );
}

/// Who may introspect: nobody without credentials (`401`, both
/// challenges), no bearer without `admin`, no key without
/// `tokens:introspect` (`403`), never two credentials at once (`400`).
async fn introspection_callers_without_the_right_credentials_are_refused_with_their_challenge(
    h: Harness,
) {
    h.add_user("root", &[Role::Admin]).await;
    h.add_user("alice", &[]).await;
    let admin = h.token("root").await;
    let alice = h.token("alice").await;
    let agent_key = h.agent_key().await;
    let service_key = h.service_key().await;
    let form = format!("token={alice}");

    let reply = h.introspect_form(&Caller::Nobody, form.clone()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header("www-authenticate"),
        format!(r#"Bearer resource_metadata="{METADATA}", ApiKey resource_metadata="{METADATA}""#)
    );
    assert_eq!(reply.header("content-type"), "application/problem+json");

    let reply = h
        .introspect_form(&Caller::Bearer(&alice), form.clone())
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer error="insufficient_scope", scope="role:admin""#
    );

    let reply = h
        .introspect_form(&Caller::Key(&agent_key), form.clone())
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(
        reply.header("www-authenticate"),
        r#"ApiKey error="insufficient_scope", scope="tokens:introspect""#
    );

    for both in [
        Caller::Both(&admin, &service_key),
        Caller::Both(&alice, &agent_key),
    ] {
        let reply = h.introspect_form(&both, form.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            reply
                .header("www-authenticate")
                .contains(r#"error="invalid_request""#),
            "{:?}",
            reply.headers
        );
    }
    // A delegated token is never a caller, an admin's included.
    let delegated = h.delegated(&admin, "helper").await;
    let reply = h
        .introspect_form(&Caller::Bearer(&delegated), form.clone())
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(
        reply
            .header("www-authenticate")
            .starts_with(r#"Bearer error="insufficient_scope""#),
        "{:?}",
        reply.headers
    );
    // The right callers, for contrast.
    assert_eq!(
        h.introspect(&Caller::Bearer(&admin), &alice).await["active"],
        true
    );
    assert_eq!(
        h.introspect(&Caller::Key(&service_key), &alice).await["active"],
        true
    );
}

/// The form rules (API.md "Conventions"): JSON `415`, a repeated or missing
/// `token` `400`, more than 16 KiB `413`, even from an admin.
async fn introspection_takes_one_token_in_a_form_of_at_most_16_kib(h: Harness) {
    h.add_user("root", &[Role::Admin]).await;
    h.add_user("alice", &[]).await;
    let admin = h.token("root").await;
    let alice = h.token("alice").await;
    let bearer = format!("Bearer {admin}");
    let send = |content_type: &'static str, body: String| {
        let bearer = bearer.clone();
        let h = &h;
        async move {
            h.call(
                "POST",
                "/auth/introspect",
                &[("content-type", content_type), ("authorization", &bearer)],
                body,
            )
            .await
        }
    };
    let json_body = json!({"token": alice}).to_string();
    let cases = [
        (
            "application/json",
            json_body,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            FORM,
            format!("token={alice}&token={alice}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            FORM,
            "token_type_hint=access_token".into(),
            StatusCode::BAD_REQUEST,
        ),
        (FORM, String::new(), StatusCode::BAD_REQUEST),
        (
            FORM,
            format!("token={alice}&pad={}", "p".repeat(16 * 1024)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (content_type, body, status) in cases {
        let reply = send(content_type, body.clone()).await;
        assert_eq!(
            reply.status, status,
            "{content_type} {body:.80}: {}",
            reply.body
        );
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(reply.body["status"], status.as_u16());
    }
    let ok = send(FORM, format!("token={alice}")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["active"], true);
}

/// An admin's introspections spend their per-minute run limit
/// (`WARDEN_RUN_LIMIT_PER_MINUTE`); a service key's spend its own hourly
/// limit instead.
async fn an_admins_introspections_spend_the_run_limit_and_the_next_is_429_with_retry_after(
    h: Harness,
) {
    let h = h.with_config(config_with(&[("WARDEN_RUN_LIMIT_PER_MINUTE", "2")]));
    assert_eq!(h.state.config.run_limit_per_minute, 2);
    h.add_user("root", &[Role::Admin]).await;
    h.add_user("alice", &[]).await;
    let admin = h.token("root").await;
    let alice = h.token("alice").await;
    let key = h.service_key().await;
    let as_admin = Caller::Bearer(&admin);
    for i in 0..2 {
        assert_eq!(h.introspect(&as_admin, &alice).await["active"], true, "{i}");
    }
    let limited = h.introspect_form(&as_admin, format!("token={alice}")).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    let wait: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        h.introspect(&Caller::Key(&key), &alice).await["active"],
        true
    );
    h.clock.advance_secs(wait as f64);
    assert_eq!(h.introspect(&as_admin, &alice).await["active"], true);

    // A key's introspections spend its hourly limit (1 an hour: a burst
    // of one).
    let spec = KeySpec {
        owner: KeyOwner::Service(ServiceName::parse("small").unwrap()),
        scopes: vec!["tokens:introspect".into()],
        expires_at: None,
        rate_limit_per_hour: Some(1),
        created_by: None,
    };
    let small = h.new_key(spec).await;
    assert_eq!(
        h.introspect(&Caller::Key(&small), &alice).await["active"],
        true
    );
    let limited = h
        .introspect_form(&Caller::Key(&small), format!("token={alice}"))
        .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert!(limited.header("retry-after").parse::<u64>().unwrap() >= 1);
}

/// A caller's own token refused (RFC 6750): `invalid_token` with
/// `expired`, `revoked` or `invalid`, the problem's `detail` the same word.
async fn an_introspecting_admin_whose_token_is_refused_is_told_expired_revoked_or_invalid(
    h: Harness,
) {
    h.add_user("root", &[Role::Admin]).await;
    h.add_user("alice", &[]).await;
    let alice = h.token("alice").await;
    let form = format!("token={alice}");
    let assert_refused = |reply: Reply, word: &str| {
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{word}: {}",
            reply.body
        );
        assert_eq!(
            reply.header("www-authenticate"),
            format!(
                r#"Bearer resource_metadata="{METADATA}", error="invalid_token", error_description="{word}", ApiKey resource_metadata="{METADATA}""#
            )
        );
        assert_eq!(reply.body["detail"], word);
    };

    let revoked = h.token("root").await;
    let owner = h.claims(&revoked).await;
    revocation::revoke_token(&h.state, &ctx(), &owner, &revoked)
        .await
        .unwrap();
    let reply = h
        .introspect_form(&Caller::Bearer(&revoked), form.clone())
        .await;
    assert_refused(reply, "revoked");

    let live = h.token("root").await;
    let reply = h
        .introspect_form(&Caller::Bearer(&forged(&live).await), form.clone())
        .await;
    assert_refused(reply, "invalid");
    let reply = h
        .introspect_form(&Caller::Bearer("not-a-jwt"), form.clone())
        .await;
    assert_refused(reply, "invalid");

    // Past its exp: expired. A forgery past its exp is only invalid.
    h.clock.advance_secs(900.0 + 30.0);
    let forged_and_old = forged(&live).await;
    let reply = h
        .introspect_form(&Caller::Bearer(&live), form.clone())
        .await;
    assert_refused(reply, "expired");
    let reply = h
        .introspect_form(&Caller::Bearer(&forged_and_old), form)
        .await;
    assert_refused(reply, "invalid");
}

warden::on_both_stores!(
    Harness::new;
    login_and_refresh_tokens_verify_with_the_published_jwk_and_name_the_warden_client,
    an_admin_and_a_service_key_see_a_live_token_with_exactly_the_contracts_members,
    a_token_is_inactive_at_once_after_revoke_revoke_all_or_disabling_its_user,
    garbage_expired_and_forged_tokens_are_inactive_and_nothing_more,
    introspection_callers_without_the_right_credentials_are_refused_with_their_challenge,
    introspection_takes_one_token_in_a_form_of_at_most_16_kib,
    an_admins_introspections_spend_the_run_limit_and_the_next_is_429_with_retry_after,
    an_introspecting_admin_whose_token_is_refused_is_told_expired_revoked_or_invalid,
);

/// The round trips on the wire: an admin's introspection of a live token
/// is the caller's check, the run limit and the token's check, one request
/// each; the public documents read nothing (the key set is fixed).
#[tokio::test]
async fn on_dynamodb_an_introspection_is_three_round_trips_and_the_public_documents_none() {
    let Some((store, _, log)) = testing::dynamo_store_with_log().await else {
        return;
    };
    let h = Harness::new(Arc::new(store));
    h.add_user("root", &[Role::Admin]).await;
    h.add_user("alice", &[]).await;
    let admin = h.token("root").await;
    let alice = h.token("alice").await;
    log.take();
    let answer = h.introspect(&Caller::Bearer(&admin), &alice).await;
    assert_eq!(answer["active"], true);
    assert_eq!(log.take(), ["BatchGetItem", "UpdateItem", "BatchGetItem"]);
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
        "/.well-known/oauth-protected-resource",
    ] {
        assert_eq!(h.get(path).await.status, StatusCode::OK, "{path}");
    }
    assert_eq!(log.take(), Vec::<String>::new());
}
