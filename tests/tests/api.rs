//! Black-box tests: the local API (`warden serve`'s server) started on a
//! free port and driven over HTTP, once on the embedded store and once on
//! DynamoDB tables in the emulator that `infra/test.sh` starts.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::auth::login::create_user;
use warden::domain::{Role, Username};
use warden_cli::seed::cli_origin;
use warden_cli::serve::{LocalApi, build_states, local_config};

/// Starts the local API with `vars` as its environment (on top of a
/// development default) and user `alice` created.
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
    create_user(
        &states.auth,
        cli_origin(),
        &Username::parse("alice").unwrap(),
        &SecretString::from("correct horse"),
        &[Role::User],
    )
    .await
    .unwrap();
    (common::start(states).await, reqwest::Client::new())
}

async fn post(
    client: &reqwest::Client,
    api: &LocalApi,
    path: &str,
    body: Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = client
        .post(format!("{}{path}", api.url()))
        .header("origin", "https://app.example.com")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// `POST /auth/login` of `username` with `password`.
async fn login(
    client: &reqwest::Client,
    api: &LocalApi,
    username: &str,
    password: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let body = json!({"username": username, "password": password});
    post(client, api, "/auth/login", body).await
}

/// `POST /auth/refresh` with `refresh_token`.
async fn refresh(
    client: &reqwest::Client,
    api: &LocalApi,
    refresh_token: &Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let body = json!({"refresh_token": refresh_token});
    post(client, api, "/auth/refresh", body).await
}

async fn login_and_refresh_over_http(api: LocalApi, client: reqwest::Client) {
    let (status, headers, pair) = login(&client, &api, "Alice", "correct horse").await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(headers.contains_key("x-request-id"));
    let claims = api
        .states
        .auth
        .tokens
        .verify(
            pair["access_token"].as_str().unwrap(),
            api.states.auth.clock.now_secs(),
        )
        .await;
    assert!(claims.is_ok());

    let (status, _, next) = refresh(&client, &api, &pair["refresh_token"]).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert_eq!(next["session_id"], pair["session_id"]);
    let (status, _, _) = refresh(&client, &api, &pair["refresh_token"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, headers, problem) = login(&client, &api, "alice", "nope").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/problem+json");
    // A failed login challenges like any 401, naming where the resource's
    // metadata is (the issuer's origin).
    let issuer = &api.states.auth.config.issuer;
    assert_eq!(
        headers["www-authenticate"].to_str().unwrap(),
        format!(r#"Bearer resource_metadata="{issuer}/.well-known/oauth-protected-resource""#)
    );
    assert_eq!(
        problem["request_id"].as_str(),
        headers["x-request-id"].to_str().ok()
    );

    let response = client
        .post(format!("{}/auth/login", api.url()))
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = client
        .get(format!("{}/nowhere", api.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // CORS: a preflight from an allowed origin is answered, others are not.
    let preflight = |origin: &'static str| {
        client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/auth/login", api.url()),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        allowed.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn on_the_embedded_store_a_user_logs_in_and_refreshes_over_http() {
    let (api, client) = spawn_app(None, &[]).await;
    login_and_refresh_over_http(api, client).await;
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn sessions_and_revoke_all_over_http(api: LocalApi, client: reqwest::Client) {
    let (_, _, first) = login(&client, &api, "alice", "correct horse").await;
    let (_, _, second) = login(&client, &api, "alice", "correct horse").await;
    let bearer = |pair: &Value| format!("Bearer {}", pair["access_token"].as_str().unwrap());
    let sessions_url = format!("{}/auth/sessions", api.url());

    let (status, body) = send(
        client
            .get(&sessions_url)
            .header("authorization", bearer(&first)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions"].as_array().unwrap().len(), 2);
    let (status, _) = send(client.get(&sessions_url)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let sid = second["session_id"].as_str().unwrap();
    let response = client
        .delete(format!("{sessions_url}/{sid}"))
        .header("authorization", bearer(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = send(
        client
            .get(&sessions_url)
            .header("authorization", bearer(&second)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the deleted session's token is dead"
    );

    let (status, body) = send(
        client
            .post(format!("{}/auth/revoke-all", api.url()))
            .header("authorization", bearer(&first))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"revoked_count": 1, "generation": 1}));
    let (status, _) = send(
        client
            .get(&sessions_url)
            .header("authorization", bearer(&first)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "revoke-all killed the caller's own token"
    );
    let (status, _, _) = refresh(&client, &api, &first["refresh_token"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = login(&client, &api, "alice", "correct horse").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn on_the_embedded_store_sessions_are_listed_deleted_and_revoked_over_http() {
    let (api, client) = spawn_app(None, &[]).await;
    sessions_and_revoke_all_over_http(api, client).await;
}

#[tokio::test]
async fn on_dynamodb_sessions_are_listed_deleted_and_revoked_over_http() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    let (api, client) = spawn_app(Some(tables), &[]).await;
    sessions_and_revoke_all_over_http(api, client).await;
}

#[tokio::test]
async fn on_dynamodb_a_user_logs_in_and_refreshes_over_http() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    let (api, client) = spawn_app(Some(tables), &[]).await;
    login_and_refresh_over_http(api, client).await;
}

#[tokio::test]
async fn the_per_ip_limit_comes_from_the_environment_and_forwarded_for_is_trusted_only_when_told() {
    let (api, client) = spawn_app(None, &[("WARDEN_LOGIN_IP_LIMIT", "2/60")]).await;
    let attempt = |ip: &'static str| {
        let client = client.clone();
        let url = format!("{}/auth/login", api.url());
        async move {
            client
                .post(url)
                .header("x-forwarded-for", ip)
                .json(&json!({"username": "alice", "password": "wrong"}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        attempt("192.0.2.1").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt("192.0.2.2").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Untrusted X-Forwarded-For is ignored: all three came from 127.0.0.1.
    let third = attempt("192.0.2.3").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));

    let (api, client) = spawn_app(
        None,
        &[
            ("WARDEN_LOGIN_IP_LIMIT", "2/60"),
            ("WARDEN_TRUST_FORWARDED_FOR", "true"),
        ],
    )
    .await;
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        let response = client
            .post(format!("{}/auth/login", api.url()))
            .header("x-forwarded-for", ip)
            .json(&json!({"username": "alice", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{ip} has its own budget"
        );
    }
}

#[tokio::test]
async fn an_insecure_configuration_does_not_start() {
    for (var, value, named) in [
        (
            "WARDEN_SIGNING_KEY_FILE",
            "/nonexistent/key.pem".to_owned(),
            "WARDEN_SIGNING_KEY_FILE",
        ),
        (
            "WARDEN_ISSUER",
            "http://127.0.0.1:3000/with/a/path".to_owned(),
            "WARDEN_ISSUER",
        ),
        (
            "WARDEN_ARGON2_M_COST",
            "4096".to_owned(),
            "WARDEN_ARGON2_M_COST",
        ),
    ] {
        let env = [
            (
                "WARDEN_SIGNING_KEY_FILE",
                warden::testing::TEST_SIGNING_KEY_FILE.to_owned(),
            ),
            (var, value.clone()),
        ];
        let started = match local_config(common::lookup(&env)) {
            Ok(config) => build_states(config, Vec::new(), None, None)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        let err = started.expect_err(&format!("{var}={value} must refuse start-up"));
        assert!(err.to_string().contains(named), "{err}");
    }
    let env = [
        ("WARDEN_ENV", "production"),
        ("ALLOWED_ORIGINS", "*"),
        ("WARDEN_ISSUER_PARAMETER", "/warden/x/issuer"),
    ];
    let err = local_config(common::lookup(&env)).unwrap_err();
    assert!(err.to_string().contains("ALLOWED_ORIGINS"), "{err}");
}

#[tokio::test]
async fn a_signed_webhook_is_accepted_once_over_http_and_a_forged_one_refused() {
    use warden::queue::MemoryQueue;
    use warden::webhook::{SigningKey, Sources};

    let env = [(
        "WARDEN_SIGNING_KEY_FILE",
        warden::testing::TEST_SIGNING_KEY_FILE,
    )];
    let mut states = common::states(&env, Vec::new(), None).await;
    let queue = Arc::new(MemoryQueue::new());
    let sources =
        Sources::from_json(r#"[{"name": "gh", "scheme": "github", "secrets": ["s3cret"]}]"#)
            .unwrap();
    let (store, clock) = (states.webhooks.store.clone(), states.webhooks.clock.clone());
    let mut webhooks = warden::testing::webhook_state(store, sources, queue.clone(), clock);
    webhooks.config = states.webhooks.config.clone();
    states.webhooks = Arc::new(webhooks);
    let api = common::start(states).await;
    let client = reqwest::Client::new();
    let body = br#"{"action":"opened"}"#;
    let signature = format!(
        "sha256={}",
        hex::encode(SigningKey::new(b"s3cret").sign(&[body]))
    );
    let deliver = |signature: String, body: &'static [u8]| {
        client
            .post(format!("{}/webhooks/gh", api.url()))
            .header("x-hub-signature-256", signature)
            .header("x-github-delivery", "delivery-1")
            .header("x-github-event", "issues")
            .body(body)
            .send()
    };
    let first = deliver(signature.clone(), body).await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!({"status": "accepted", "delivery_id": "delivery-1"})
    );
    let again = deliver(signature.clone(), body).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let forged = deliver(signature, br#"{"action":"deleted"}"#)
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(queue.messages().len(), 1);
    let unknown = client
        .post(format!("{}/webhooks/nope", api.url()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

/// Every JSON body of the contract over HTTP: a field set to `null`, or a
/// body that is not an object (an array, which serde alone would read as
/// the struct), is a `400` problem, and nothing is done (the caller's
/// token still works afterwards, though `revoke-all` was sent `[]`).
#[tokio::test]
async fn a_null_field_or_a_body_that_is_not_an_object_is_400_on_every_endpoint() {
    let (api, client) = spawn_app(None, &[]).await;
    let (status, _, pair) = login(&client, &api, "alice", "correct horse").await;
    assert_eq!(status, StatusCode::OK);
    let token = pair["access_token"].as_str().unwrap().to_owned();
    let proposal = "01JDA4XK9S0F2H4J6K8M9N1P3Q";
    let cases: Vec<(String, Value)> = [
        (
            "/auth/login",
            json!({"username": null, "password": "correct horse"}),
        ),
        (
            "/auth/login",
            json!({"username": "alice", "password": null}),
        ),
        ("/auth/login", json!(["alice", "correct horse"])),
        ("/auth/login", json!(null)),
        ("/auth/refresh", json!({"refresh_token": null})),
        ("/auth/refresh", json!([pair["refresh_token"].clone()])),
        ("/auth/revoke", json!({"token": null})),
        ("/auth/revoke", json!([token.clone()])),
        ("/auth/revoke-all", json!({"user_id": null})),
        ("/auth/revoke-all", json!({"reason": null})),
        ("/auth/revoke-all", json!([])),
        (
            "/agents/buyer-1/runs",
            json!({"workspace_id": null, "action": "compare_vendors", "input": {}}),
        ),
        (
            "/agents/buyer-1/runs",
            json!({"workspace_id": "acme", "action": null, "input": {}}),
        ),
        (
            "/agents/buyer-1/runs",
            json!({"workspace_id": "acme", "action": "compare_vendors", "input": null}),
        ),
        (
            "/agents/buyer-1/runs",
            json!({"workspace_id": "acme", "action": "compare_vendors", "input": [[], []]}),
        ),
        (
            "/agents/buyer-1/runs",
            json!(["acme", "compare_vendors", {}]),
        ),
        ("/agents/proposals/P/approve", json!({"reason": null})),
        ("/agents/proposals/P/approve", json!(["fine"])),
        ("/agents/proposals/P/reject", json!({"reason": null})),
        ("/agents/proposals/P/reject", json!(["no"])),
    ]
    .into_iter()
    .map(|(path, body)| (path.replace('P', proposal), body))
    .collect();
    for (path, body) in cases {
        let response = client
            .post(format!("{}{path}", api.url()))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path} {body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path} {body}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 400, "{path} {body}");
    }
    let (status, _) = send(
        client
            .get(format!("{}/auth/sessions", api.url()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "no revocation happened");
}

/// `GET /me` tells a person who they are and where they may work; a
/// membership added or removed counts from the next request, and a
/// workspace they are not a member of is `404`, as an unknown one.
async fn me_and_memberships_over_http(api: LocalApi, client: reqwest::Client) {
    let (_, _, pair) = login(&client, &api, "alice", "correct horse").await;
    let token = pair["access_token"].as_str().unwrap().to_owned();
    let me = || send(client.get(format!("{}/me", api.url())).bearer_auth(&token));
    let (status, body) = me().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "alice");
    assert_eq!(body["roles"], json!(["user"]));
    assert_eq!(body["workspaces"], json!([]));
    assert!(body["user_id"].as_str().is_some_and(|id| !id.is_empty()));

    let registry = &api.states.agents;
    let acme = warden::domain::agents::WorkspaceId::parse("acme").unwrap();
    warden::agents::registry::add_workspace(registry, cli_origin(), acme.clone(), "Acme")
        .await
        .unwrap();
    let runs = || {
        send(
            client
                .get(format!("{}/agents/runs?workspace_id=acme", api.url()))
                .bearer_auth(&token),
        )
    };
    let (status, body) = runs().await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not a member yet: {body}");
    let alice = Username::parse("alice").unwrap();
    let set = |member: bool| {
        warden::agents::registry::set_membership(
            registry,
            &*api.states.auth.store,
            cli_origin(),
            &acme,
            &alice,
            member,
        )
    };
    set(true).await.unwrap();
    let (_, body) = me().await;
    assert_eq!(body["workspaces"], json!(["acme"]));
    assert_eq!(runs().await.0, StatusCode::OK);
    set(false).await.unwrap();
    assert_eq!(runs().await.0, StatusCode::NOT_FOUND);
    // Without a token: 401.
    let (status, _) = send(client.get(format!("{}/me", api.url()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn on_the_embedded_store_me_and_memberships_over_http() {
    let (api, client) = spawn_app(None, &[]).await;
    me_and_memberships_over_http(api, client).await;
}

#[tokio::test]
async fn on_dynamodb_me_and_memberships_over_http() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    let (api, client) = spawn_app(Some(tables), &[]).await;
    me_and_memberships_over_http(api, client).await;
}

/// The run rules of the hardening issue over HTTP: an action of
/// complexity 4 without `Idempotency-Key` is `400`, and a person past
/// `WARDEN_RUN_LIMIT_PER_MINUTE` is `429` with `Retry-After`.
async fn run_rules_over_http(api: LocalApi, client: reqwest::Client) {
    let registry = &api.states.agents;
    warden::testing::add_workspace(registry, cli_origin(), "acme", "Acme").await;
    let agent = warden::testing::new_agent(
        "buyer",
        warden::domain::agents::AgentType::Purchasing,
        warden::domain::agents::Maturity::Autonomous,
        "acme",
    );
    warden::agents::registry::register_agent(registry, cli_origin(), agent)
        .await
        .unwrap();
    warden::agents::registry::set_membership(
        registry,
        &*api.states.auth.store,
        cli_origin(),
        &warden::domain::agents::WorkspaceId::parse("acme").unwrap(),
        &Username::parse("alice").unwrap(),
        true,
    )
    .await
    .unwrap();
    let (_, _, pair) = login(&client, &api, "alice", "correct horse").await;
    let token = pair["access_token"].as_str().unwrap().to_owned();
    let order = json!({"workspace_id": "acme", "action": "submit_purchase_order",
        "input": {"po_number": "PO-1", "vendor": "v1", "currency": "USD",
                  "lines": [{"sku": "A", "quantity": 2, "unit_price_cents": 500}]}});
    let run = |key: Option<&str>| {
        let mut request = client
            .post(format!("{}/agents/buyer/runs", api.url()))
            .bearer_auth(&token)
            .json(&order);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };
    let response = run(None).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("Idempotency-Key required"),
        "{problem}"
    );
    // The refused request counted: a limit of 3 leaves two.
    for key in ["po-1", "po-2"] {
        assert_eq!(run(Some(key)).await.unwrap().status(), StatusCode::ACCEPTED);
    }
    let limited = run(Some("po-3")).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn on_the_embedded_store_the_run_rules_hold_over_http() {
    let (api, client) = spawn_app(None, &[("WARDEN_RUN_LIMIT_PER_MINUTE", "3")]).await;
    run_rules_over_http(api, client).await;
}

#[tokio::test]
async fn on_dynamodb_the_run_rules_hold_over_http() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    let (api, client) = spawn_app(Some(tables), &[("WARDEN_RUN_LIMIT_PER_MINUTE", "3")]).await;
    run_rules_over_http(api, client).await;
}
