//! Black-box tests of open tokens (API.md "Open tokens"): the local API
//! (`warden serve`'s server) driven over HTTP, once on the embedded store
//! and once on DynamoDB tables in the emulator. A verifier starts from the
//! discovery document, follows `jwks_uri`, checks a login token's
//! signature with the published key, and sees forgeries refused both by a
//! protected route and by introspection.
//!
//! The blackbox crate has no `rsa` or HMAC dev-dependency: the signature
//! is checked with [`warden::auth::signing::RsaPublicKey`] built from the
//! JWK's `n` and `e` alone, and the HS256 forgery is MACed with
//! [`warden::webhook::SigningKey`] (HMAC-SHA256).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::auth::login::create_user;
use warden::auth::signing::{RsaPublicKey, Signer as _};
use warden::domain::{Role, Username};
use warden_cli::seed::cli_origin;
use warden_cli::serve::LocalApi;

/// The RFC 7638 thumbprint of `shared/testdata/test-signing-key-1.pem`
/// (`WARDEN_SIGNING_KEY_FILE` here), computed with openssl and Python.
const TEST_KEY_THUMBPRINT: &str = "xXYYmxOz2A0V0ORMnU71ol8VYqEILClYXgRsvuFhFkg";

/// Starts the local API signing with the first test key, with `vars` as
/// its environment on top, and users `alice` (a user) and `root` (an
/// admin), each with the password `"{name} password"`.
async fn spawn_app(
    dynamodb: Option<(String, String)>,
    vars: &[(&str, &str)],
) -> (LocalApi, reqwest::Client) {
    let mut env = vec![
        (
            "WARDEN_SIGNING_KEY_FILE",
            warden::testing::TEST_SIGNING_KEY_FILE,
        ),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
    ];
    env.extend_from_slice(vars);
    let states = common::states(&env, Vec::new(), dynamodb.as_ref()).await;
    for (name, roles) in [("alice", vec![Role::User]), ("root", vec![Role::Admin])] {
        create_user(
            &states.auth,
            cli_origin(),
            &Username::parse(name).unwrap(),
            &SecretString::from(format!("{name} password")),
            &roles,
        )
        .await
        .unwrap();
    }
    (common::start(states).await, reqwest::Client::new())
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

fn encoded(value: &Value) -> String {
    b64(&serde_json::to_vec(value).unwrap())
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A fresh access token of `name`, by `POST /auth/login`.
async fn login(client: &reqwest::Client, api: &LocalApi, name: &str) -> String {
    let (status, headers, pair) = send(
        client
            .post(format!("{}/auth/login", api.url()))
            .json(&json!({"username": name, "password": format!("{name} password")})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{name}: {pair}");
    assert_eq!(headers["cache-control"], "no-store");
    pair["access_token"].as_str().unwrap().to_owned()
}

/// `GET /auth/sessions` with `token`.
async fn sessions(
    client: &reqwest::Client,
    api: &LocalApi,
    token: &str,
) -> (StatusCode, HeaderMap, Value) {
    send(
        client
            .get(format!("{}/auth/sessions", api.url()))
            .bearer_auth(token),
    )
    .await
}

/// Asserts that `GET /auth/sessions` refuses `token` with `401` saying
/// `word` (RFC 6750), in the challenge and in the problem's `detail`.
async fn assert_refused(client: &reqwest::Client, api: &LocalApi, token: &str, word: &str) {
    let (status, headers, problem) = sessions(client, api, token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{word}: {problem}");
    let issuer = &api.states.auth.config.issuer;
    assert_eq!(
        headers["www-authenticate"].to_str().unwrap(),
        format!(
            r#"Bearer resource_metadata="{issuer}/.well-known/oauth-protected-resource", error="invalid_token", error_description="{word}""#
        )
    );
    assert_eq!(problem["detail"], word);
}

/// `POST /auth/introspect` of `token` as the admin `admin`: the answer.
async fn introspect(client: &reqwest::Client, api: &LocalApi, admin: &str, token: &str) -> Value {
    let (status, _, answer) = send(
        client
            .post(format!("{}/auth/introspect", api.url()))
            .bearer_auth(admin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// Discovery, the key set and a signature checked with it; forgeries
/// refused by a route and inactive by introspection; a revoked token
/// inactive at once.
async fn a_verifier_finds_the_key_from_discovery_and_forgeries_are_refused_everywhere(
    api: LocalApi,
    client: reqwest::Client,
) {
    let issuer = api.states.auth.config.issuer.clone();
    assert_eq!(issuer, "http://127.0.0.1:3000", "development's issuer");
    let (status, headers, metadata) = send(
        client
            .get(format!("{}/.well-known/openid-configuration", api.url()))
            .header("origin", "https://evil.example"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{metadata}");
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(metadata["issuer"], issuer.as_str());
    assert_eq!(
        metadata["introspection_endpoint"],
        format!("{issuer}/auth/introspect")
    );
    let jwks_uri = metadata["jwks_uri"].as_str().unwrap();
    let jwks_path = jwks_uri
        .strip_prefix(issuer.as_str())
        .unwrap_or_else(|| panic!("{jwks_uri} is not under the issuer {issuer}"));
    let (status, headers, jwks) = send(client.get(format!("{}{jwks_path}", api.url()))).await;
    assert_eq!(status, StatusCode::OK, "{jwks}");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");

    // A login token, checked with nothing but the published key.
    let token = login(&client, &api, "alice").await;
    let head = segment(&token, 0);
    assert_eq!(
        head,
        json!({"alg": "RS256", "typ": "at+jwt", "kid": TEST_KEY_THUMBPRINT})
    );
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == head["kid"])
        .unwrap_or_else(|| panic!("{} is not published: {jwks}", head["kid"]));
    assert_eq!(
        (&jwk["kty"], &jwk["alg"], &jwk["use"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"))
    );
    let public = RsaPublicKey::from_components(
        &unb64(jwk["n"].as_str().unwrap()),
        &unb64(jwk["e"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(public.thumbprint(), TEST_KEY_THUMBPRINT);
    let (input, signature) = token.rsplit_once('.').unwrap();
    assert!(public.verifies(input.as_bytes(), &unb64(signature)));
    let claims = segment(&token, 1);
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(
        (&claims["client_id"], &claims["scope"]),
        (&json!("warden"), &json!("warden"))
    );

    let admin = login(&client, &api, "root").await;
    assert_eq!(
        introspect(&client, &api, &admin, &token).await["active"],
        true
    );
    assert_eq!(sessions(&client, &api, &token).await.0, StatusCode::OK);

    // Forgeries, each from the genuine token.
    let (head_segment, _) = input.split_once('.').unwrap();
    let hs256 = {
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": TEST_KEY_THUMBPRINT});
        let input = format!("{}.{}", encoded(&header), encoded(&claims));
        let secret = serde_json::to_vec(jwk).unwrap();
        let mac = warden::webhook::SigningKey::new(&secret).sign(&[input.as_bytes()]);
        format!("{input}.{}", b64(&mac))
    };
    let none = format!(
        "{}.{}.",
        encoded(&json!({"alg": "none", "typ": "at+jwt", "kid": TEST_KEY_THUMBPRINT})),
        encoded(&claims)
    );
    let signer = warden::testing::test_signer();
    let other_kid = signer.public_key_of("local:test-2").unwrap().thumbprint();
    let unknown_kid = {
        let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": other_kid});
        let input = format!("{}.{}", encoded(&header), encoded(&claims));
        let signature = signer.sign("local:test-2", input.as_bytes()).await.unwrap();
        format!("{input}.{}", b64(&signature))
    };
    let changed_claim = {
        let mut admin_claims = claims.clone();
        admin_claims["roles"] = json!(["admin"]);
        format!("{head_segment}.{}.{signature}", encoded(&admin_claims))
    };
    for (what, forged) in [
        ("HS256 with the public key as secret", &hs256),
        ("alg none", &none),
        ("an unknown kid", &unknown_kid),
        ("a changed claim", &changed_claim),
    ] {
        assert_refused(&client, &api, forged, "invalid").await;
        assert_eq!(
            introspect(&client, &api, &admin, forged).await,
            json!({"active": false}),
            "{what}"
        );
    }
    assert_eq!(
        sessions(&client, &api, &token).await.0,
        StatusCode::OK,
        "untouched"
    );

    // Revoked: inactive at once, and the route says revoked.
    let (status, _, body) = send(
        client
            .post(format!("{}/auth/revoke", api.url()))
            .bearer_auth(&admin)
            .json(&json!({"token": token})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"revoked": 1})));
    assert_eq!(
        introspect(&client, &api, &admin, &token).await,
        json!({"active": false})
    );
    assert_refused(&client, &api, &token, "revoked").await;
}

#[tokio::test]
async fn on_the_embedded_store_a_verifier_finds_the_key_from_discovery_and_forgeries_are_refused() {
    let (api, client) = spawn_app(None, &[]).await;
    a_verifier_finds_the_key_from_discovery_and_forgeries_are_refused_everywhere(api, client).await;
}

#[tokio::test]
async fn on_dynamodb_a_verifier_finds_the_key_from_discovery_and_forgeries_are_refused() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    let (api, client) = spawn_app(Some(tables), &[]).await;
    a_verifier_finds_the_key_from_discovery_and_forgeries_are_refused_everywhere(api, client).await;
}

/// With `WARDEN_ACCESS_TOKEN_TTL=1` a token is past its `exp` and the
/// 30 s leeway after 31 s: the route says `expired`, introspection
/// `{"active": false}`.
async fn an_expired_token_is_refused_as_expired(api: LocalApi, client: reqwest::Client) {
    let token = login(&client, &api, "alice").await;
    let admin_then = login(&client, &api, "root").await;
    let claims = segment(&token, 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1
    );
    assert_eq!(sessions(&client, &api, &token).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_secs(32)).await;
    assert_refused(&client, &api, &token, "expired").await;
    assert_refused(&client, &api, &admin_then, "expired").await;
    let admin = login(&client, &api, "root").await;
    assert_eq!(
        introspect(&client, &api, &admin, &token).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn on_the_embedded_store_an_expired_token_is_refused_as_expired() {
    let (api, client) = spawn_app(None, &[("WARDEN_ACCESS_TOKEN_TTL", "1")]).await;
    an_expired_token_is_refused_as_expired(api, client).await;
}

#[tokio::test]
async fn on_dynamodb_an_expired_token_is_refused_as_expired() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    let (api, client) = spawn_app(Some(tables), &[("WARDEN_ACCESS_TOKEN_TTL", "1")]).await;
    an_expired_token_is_refused_as_expired(api, client).await;
}
