//! Black-box: the `security-health` function as `warden serve` mounts it,
//! driven over HTTP. `GET /health` is public and says only `ok`; the four
//! `/security/*` reports answer `401` without a valid token, `403` to
//! anyone but an admin, `405` to another method, and `200` to an admin
//! (`/security/health` `503` when its report is failing). No answer of any
//! of them, errors included, carries a secret the deployment was given or a
//! token a caller sent. The probe started with `warden serve` feeds the
//! report's uptime; on DynamoDB every table is checked, and missing tables
//! make the report `503` within the check timeout.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use warden_cli::seed::Seed;
use warden_cli::serve::{LocalApi, start_probe};

/// The JWT signing key: 56 bytes, in no list of known defaults.
const JWT_KEY: &str = "shjwt-Qm3Xv8Kt2Lw7Rz5Nb9Cj4Fh1Gd6Ys0PaUe8Io2Oy4Tr7We1Zq";
/// The API-key pepper: 42 bytes.
const PEPPER: &str = "shpepper-Vz2Lk7Rx3Tw9Bm5Cy1Fp6Hd0Gs8Ja2Ke4";
/// The `github` source's secret.
const GITHUB_SECRET: &str = "shgithub-Tz6Wq1Lx8Rv3Nk5Mb0Pc9Ds";
/// The bytes the `standard` source's `whsec_` secret decodes to (printable,
/// so a leak of the decoded key is also visible as text).
const STANDARD_KEY: &[u8] = b"shstandard-Jc7Pz2Qw9Kv4Hn6Xb1";

const ADMIN_PASSWORD: &str = "shadmin-pass-Hy6Jw2Qx5Rt8";
const USER_PASSWORD: &str = "shuser-pass-Lp4Vb7Nm1Zs3";
const APPROVER_PASSWORD: &str = "shapprover-pass-Gk9Fd2Ws6Ea5";

const REPORTS: [&str; 4] = [
    "/security/health",
    "/security/configuration",
    "/security/secrets",
    "/security/webhooks",
];

/// The `standard` source's secret as configured: `whsec_<base64>`.
fn standard_secret() -> String {
    format!("whsec_{}", STANDARD.encode(STANDARD_KEY))
}

/// The local API as `warden serve --seed FILE` starts it (on the embedded
/// store, or on DynamoDB tables under `dynamodb`'s prefix): the secrets
/// above in its environment, `vars` on top, and a seed file with an admin,
/// a user, an approver and the two webhook sources.
async fn app(dynamodb: Option<(String, String)>, vars: &[(&str, &str)]) -> LocalApi {
    let mut env = vec![
        ("WARDEN_JWT_SECRET", JWT_KEY),
        ("WARDEN_API_KEY_PEPPER", PEPPER),
    ];
    env.extend_from_slice(vars);
    let mut seed: Seed = serde_json::from_value(json!({
        "users": [
            {"username": "root", "password": ADMIN_PASSWORD, "roles": ["admin"]},
            {"username": "bob", "password": USER_PASSWORD, "roles": ["user"]},
            {"username": "carol", "password": APPROVER_PASSWORD, "roles": ["approver"]},
        ],
        "webhook_sources": [
            {"name": "github", "scheme": "github", "secrets": [GITHUB_SECRET]},
            {"name": "standard", "scheme": "standard", "secrets": [standard_secret()]},
        ],
    }))
    .unwrap();
    // As `run_serve` does: the sources go to the states, the rest is applied.
    let sources = std::mem::take(&mut seed.webhook_sources);
    let states = common::states(&env, sources, dynamodb.as_ref()).await;
    seed.apply(&states).await.unwrap();
    common::start(states).await
}

/// One answer, kept whole for the secret scan.
#[derive(Debug)]
struct Answer {
    what: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e}): {}", self.what, self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The status, every header and the body, as one text.
    fn text(&self) -> String {
        let mut text = format!("{}\n", self.status);
        for (name, value) in &self.headers {
            text.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        text.push_str(&self.body);
        text
    }
}

/// Sends `method path`, with `authorization: Bearer <token>` when given.
async fn call(api: &LocalApi, method: Method, path: &str, token: Option<&str>) -> Answer {
    let mut request =
        reqwest::Client::new().request(method.clone(), format!("{}{path}", api.url()));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    Answer {
        what: format!(
            "{method} {path} ({})",
            if token.is_some() {
                "with a token"
            } else {
                "no token"
            }
        ),
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

/// A login's access and refresh tokens, and the login's own answer.
async fn login(api: &LocalApi, username: &str, password: &str) -> (String, String, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/auth/login", api.url()))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "login of {username}");
    let body = response.text().await.unwrap();
    let pair: Value = serde_json::from_str(&body).unwrap();
    (
        pair["access_token"].as_str().unwrap().to_owned(),
        pair["refresh_token"].as_str().unwrap().to_owned(),
        body,
    )
}

/// Asserts a `401` problem that asks for a bearer token.
fn assert_unauthorized(answer: &Answer) {
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "{}: {}",
        answer.what,
        answer.body
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{}",
        answer.what
    );
    let challenge = answer
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("{}: no WWW-Authenticate", answer.what));
    assert!(
        challenge.starts_with("Bearer"),
        "{}: {challenge}",
        answer.what
    );
    assert_eq!(answer.json()["status"], 401, "{}", answer.what);
}

/// Asserts a `405` naming `GET` (and the preflight's `OPTIONS`), never
/// the method sent.
fn assert_method_not_allowed(answer: &Answer) {
    assert_eq!(
        answer.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "{}: {}",
        answer.what,
        answer.body
    );
    let allow: BTreeSet<&str> = answer
        .header("allow")
        .unwrap_or_else(|| panic!("{}: no Allow header", answer.what))
        .split(',')
        .map(str::trim)
        .collect();
    // `warden serve` answers the CORS preflight on every path, so `OPTIONS`
    // is served too; `GET` is the only method of the function itself.
    assert!(allow.contains("GET"), "{}: Allow {allow:?}", answer.what);
    assert!(
        allow.iter().all(|m| ["GET", "HEAD", "OPTIONS"].contains(m)),
        "{}: Allow {allow:?}",
        answer.what
    );
}

/// The tokens of the three seeded users (the admin's refresh token too).
struct Callers {
    admin: String,
    admin_refresh: String,
    user: String,
    approver: String,
}

async fn callers(api: &LocalApi) -> Callers {
    let (admin, admin_refresh, _) = login(api, "root", ADMIN_PASSWORD).await;
    let (user, _, _) = login(api, "bob", USER_PASSWORD).await;
    let (approver, _, _) = login(api, "carol", APPROVER_PASSWORD).await;
    Callers {
        admin,
        admin_refresh,
        user,
        approver,
    }
}

/// Every endpoint of the function, with every kind of caller and a method
/// it does not serve, each answer checked: all the answers. `/security/health`
/// is expected with `health_status` (`200`, or `503` when failing).
async fn walk(api: &LocalApi, callers: &Callers, health_status: StatusCode) -> Vec<Answer> {
    let mut answers = Vec::new();

    let health = call(api, Method::GET, "/health", None).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    assert_eq!(health.body, r#"{"status":"ok"}"#);
    answers.push(health);
    let health = call(api, Method::GET, "/health", Some("garbage")).await;
    assert_eq!(
        health.status,
        StatusCode::OK,
        "a token is not even read: {}",
        health.body
    );
    assert_eq!(health.body, r#"{"status":"ok"}"#);
    answers.push(health);
    let post = call(api, Method::POST, "/health", None).await;
    assert_method_not_allowed(&post);
    answers.push(post);

    for path in REPORTS {
        let none = call(api, Method::GET, path, None).await;
        assert_unauthorized(&none);
        answers.push(none);

        for garbage in ["garbage", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"] {
            let bad = call(api, Method::GET, path, Some(garbage)).await;
            assert_unauthorized(&bad);
            answers.push(bad);
        }

        for (role, token) in [("user", &callers.user), ("approver", &callers.approver)] {
            let forbidden = call(api, Method::GET, path, Some(token)).await;
            assert_eq!(
                forbidden.status,
                StatusCode::FORBIDDEN,
                "{path} as a {role}: {}",
                forbidden.body
            );
            assert_eq!(
                forbidden.header("content-type"),
                Some("application/problem+json"),
                "{path} as a {role}"
            );
            assert_eq!(forbidden.json()["status"], 403);
            answers.push(forbidden);
        }

        let report = call(api, Method::GET, path, Some(&callers.admin)).await;
        let expected = if path == "/security/health" {
            health_status
        } else {
            StatusCode::OK
        };
        assert_eq!(
            report.status, expected,
            "{path} as the admin: {}",
            report.body
        );
        assert_eq!(
            report.header("content-type"),
            Some("application/json"),
            "{path}: a report, not a problem"
        );
        assert_eq!(report.header("cache-control"), Some("no-store"), "{path}");
        assert!(report.header("x-request-id").is_some(), "{path}");
        answers.push(report);

        for token in [None, Some(callers.admin.as_str())] {
            let post = call(api, Method::POST, path, token).await;
            assert_method_not_allowed(&post);
            answers.push(post);
        }
    }
    answers
}

/// The one answer to `GET path` by the admin among `answers`.
fn report<'a>(answers: &'a [Answer], path: &str) -> &'a Answer {
    let what = format!("GET {path} (with a token)");
    answers
        .iter()
        .find(|a| {
            a.what == what
                && (a.status == StatusCode::OK || a.status == StatusCode::SERVICE_UNAVAILABLE)
        })
        .unwrap_or_else(|| panic!("no admin answer to {path}"))
}

#[tokio::test]
async fn health_is_public_and_says_only_ok() {
    let api = app(None, &[]).await;
    let answer = call(&api, Method::GET, "/health", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, r#"{"status":"ok"}"#);
    assert_eq!(answer.json(), json!({"status": "ok"}));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(answer.header("www-authenticate").is_none());
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        assert_method_not_allowed(&call(&api, method, "/health", None).await);
    }
}

#[tokio::test]
async fn every_security_report_is_401_without_a_valid_token_403_to_non_admins_405_to_post_and_200_to_an_admin()
 {
    let api = app(None, &[]).await;
    let callers = callers(&api).await;
    let answers = walk(&api, &callers, StatusCode::OK).await;
    // On the embedded store in development the report is `degraded`: its
    // configuration check carries development warnings; nothing fails.
    let health = report(&answers, "/security/health").json();
    assert_eq!(health["status"], "degraded", "{health:#}");
    let names = warden::testing::check_names(&health);
    assert!(names.contains(&"store"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("table:")), "{names:?}");
    assert_eq!(
        health["remaining_ms"],
        Value::Null,
        "no Lambda deadline locally"
    );
}

#[tokio::test]
async fn a_revoked_admin_token_is_refused_by_every_report() {
    let api = app(None, &[]).await;
    let (first, _, _) = login(&api, "root", ADMIN_PASSWORD).await;
    let (second, _, _) = login(&api, "root", ADMIN_PASSWORD).await;
    for path in REPORTS {
        assert_eq!(
            call(&api, Method::GET, path, Some(&first)).await.status,
            StatusCode::OK
        );
    }

    // `/auth/revoke` of one access token stops that token only.
    let revoked = reqwest::Client::new()
        .post(format!("{}/auth/revoke", api.url()))
        .header("authorization", format!("Bearer {second}"))
        .json(&json!({"token": first}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        revoked.json::<Value>().await.unwrap(),
        json!({"revoked": 1})
    );
    for path in REPORTS {
        assert_unauthorized(&call(&api, Method::GET, path, Some(&first)).await);
        assert_eq!(
            call(&api, Method::GET, path, Some(&second)).await.status,
            StatusCode::OK,
            "{path}: the other session's token still works"
        );
    }

    // `/auth/revoke-all` stops every token of the admin, the caller's own.
    let all = reqwest::Client::new()
        .post(format!("{}/auth/revoke-all", api.url()))
        .header("authorization", format!("Bearer {second}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), StatusCode::OK);
    for path in REPORTS {
        assert_unauthorized(&call(&api, Method::GET, path, Some(&second)).await);
    }
}

/// Every form of every secret and token that must never appear in an
/// answer, with a label for the failure message.
fn needles(callers: &Callers) -> Vec<(String, String)> {
    let mut needles: Vec<(String, String)> = Vec::new();
    let mut encoded = |label: &str, value: &[u8]| {
        needles.push((format!("{label} (base64)"), STANDARD.encode(value)));
        needles.push((format!("{label} (base64url)"), URL_SAFE.encode(value)));
        needles.push((
            format!("{label} (base64url, no padding)"),
            URL_SAFE_NO_PAD.encode(value),
        ));
        needles.push((format!("{label} (hex)"), hex::encode(value)));
    };
    encoded("JWT key", JWT_KEY.as_bytes());
    encoded("pepper", PEPPER.as_bytes());
    encoded("github webhook secret", GITHUB_SECRET.as_bytes());
    encoded("standard webhook key", STANDARD_KEY);
    let whsec = standard_secret();
    needles.extend([
        ("JWT key".to_owned(), JWT_KEY.to_owned()),
        ("pepper".to_owned(), PEPPER.to_owned()),
        ("github webhook secret".to_owned(), GITHUB_SECRET.to_owned()),
        ("standard webhook secret".to_owned(), whsec.clone()),
        (
            "standard webhook secret's base64".to_owned(),
            whsec.trim_start_matches("whsec_").to_owned(),
        ),
        (
            "standard webhook key, decoded".to_owned(),
            String::from_utf8(STANDARD_KEY.to_vec()).unwrap(),
        ),
        ("admin password".to_owned(), ADMIN_PASSWORD.to_owned()),
        ("user password".to_owned(), USER_PASSWORD.to_owned()),
        ("approver password".to_owned(), APPROVER_PASSWORD.to_owned()),
        ("admin access token".to_owned(), callers.admin.clone()),
        (
            "admin refresh token".to_owned(),
            callers.admin_refresh.clone(),
        ),
        ("user access token".to_owned(), callers.user.clone()),
        ("approver access token".to_owned(), callers.approver.clone()),
    ]);
    // A JWT's signature alone is as good as a leak of the key's output.
    for (label, token) in [
        ("admin", &callers.admin),
        ("user", &callers.user),
        ("approver", &callers.approver),
    ] {
        if let Some(signature) = token.rsplit('.').next().filter(|_| token.contains('.')) {
            needles.push((
                format!("{label} access token's signature"),
                signature.to_owned(),
            ));
        }
    }
    needles
}

/// The labels of every needle found in `text` (case-insensitively, so a hex
/// dump in capitals counts too).
fn found_in(text: &str, needles: &[(String, String)]) -> Vec<String> {
    let text = text.to_lowercase();
    needles
        .iter()
        .filter(|(_, needle)| text.contains(&needle.to_lowercase()))
        .map(|(label, _)| label.clone())
        .collect()
}

#[tokio::test]
async fn no_answer_of_any_health_endpoint_holds_a_secret_or_a_token() {
    let api = app(None, &[]).await;
    let callers = callers(&api).await;
    let mut answers = walk(&api, &callers, StatusCode::OK).await;
    // The admin's token once revoked: those 401s too.
    let (revoked, _, _) = login(&api, "root", ADMIN_PASSWORD).await;
    let response = reqwest::Client::new()
        .post(format!("{}/auth/revoke", api.url()))
        .header("authorization", format!("Bearer {}", callers.admin))
        .json(&json!({"token": revoked}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for path in REPORTS {
        let answer = call(&api, Method::GET, path, Some(&revoked)).await;
        assert_unauthorized(&answer);
        answers.push(answer);
    }

    let mut needles = needles(&callers);
    needles.push(("the revoked admin token".into(), revoked));
    // The scan finds what is there: a login's answer holds its tokens.
    let (access, refresh, login_answer) = login(&api, "root", ADMIN_PASSWORD).await;
    let probe = [
        ("access".to_owned(), access),
        ("refresh".to_owned(), refresh),
    ];
    assert_eq!(
        found_in(&login_answer, &probe).len(),
        2,
        "the scan must see a token where one is"
    );

    assert!(answers.len() > 30, "{} answers", answers.len());
    for answer in &answers {
        let leaks = found_in(&answer.text(), &needles);
        assert!(
            leaks.is_empty(),
            "{} ({}) reveals {leaks:?}:\n{}",
            answer.what,
            answer.status,
            answer.text()
        );
    }
}

#[tokio::test]
async fn the_reports_show_sources_secrets_and_guards_without_a_value() {
    let api = app(
        None,
        &[
            ("WARDEN_AWS_CONNECT_TIMEOUT_MS", "900"),
            ("WARDEN_AWS_ATTEMPT_TIMEOUT_MS", "1700"),
            ("WARDEN_AWS_OPERATION_TIMEOUT_MS", "3300"),
            ("WARDEN_AWS_MAX_ATTEMPTS", "2"),
        ],
    )
    .await;
    let callers = callers(&api).await;
    let get = |path: &'static str| {
        let api = &api;
        let token = callers.admin.clone();
        async move {
            let answer = call(api, Method::GET, path, Some(&token)).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
            answer.json()
        }
    };

    let webhooks = get("/security/webhooks").await;
    assert_eq!(
        webhooks,
        json!({"sources": [
            {"name": "github", "scheme": "github", "secrets": 1, "enforced": true},
            {"name": "standard", "scheme": "standard", "secrets": 1, "enforced": true},
        ]})
    );

    let secrets = get("/security/secrets").await;
    let listed = secrets["secrets"].as_array().unwrap();
    let names: Vec<&str> = listed.iter().map(|s| s["name"].as_str().unwrap()).collect();
    // Access tokens are signed in KMS: no signing secret to list.
    assert_eq!(names, ["api_key_pepper", "webhook_sources"]);
    for secret in listed {
        // Exactly these fields: where it comes from and its dates, never a
        // value (locally there are no dates: nothing was described).
        assert_eq!(
            secret,
            &json!({
                "name": secret["name"],
                "present": true,
                "source": if secret["name"] == "webhook_sources" { "seed_file" } else { "environment" },
                "created_at": null,
                "last_rotated_at": null,
                "age_days": null,
                "rotation_enabled": false,
            }),
            "{secret}"
        );
    }

    let configuration = get("/security/configuration").await;
    let statuses = ["ok", "degraded", "failing"];
    assert!(
        statuses.contains(&configuration["status"].as_str().unwrap()),
        "{configuration:#}"
    );
    let checks = configuration["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    for check in checks {
        assert!(check["name"].is_string(), "{check}");
        assert!(
            statuses.contains(&check["status"].as_str().unwrap()),
            "{check}"
        );
        assert!(check["detail"].is_string(), "{check}");
        assert!(check["remediation"].is_string(), "{check}");
    }
    let worst = checks
        .iter()
        .map(|c| statuses.iter().position(|s| c["status"] == *s).unwrap())
        .max()
        .unwrap();
    assert_eq!(
        configuration["status"], statuses[worst],
        "the worst finding's"
    );
    let guards = &configuration["guards"];
    assert_eq!(guards["connect_timeout_ms"], 900, "{guards:#}");
    assert_eq!(guards["attempt_timeout_ms"], 1700);
    assert_eq!(guards["operation_timeout_ms"], 3300);
    assert_eq!(guards["max_attempts"], 2);
    assert_eq!(
        guards["check_timeout_ms"], 2000,
        "the default check timeout"
    );
}

/// The current time, milliseconds since the epoch (the app's clock is the
/// system clock).
fn now_ms() -> i64 {
    use warden::clock::Clock as _;
    warden::clock::SystemClock.now_millis()
}

#[tokio::test]
async fn the_probe_started_with_serve_gives_the_report_its_uptime() {
    let api = app(None, &[]).await;
    let (admin, _, _) = login(&api, "root", ADMIN_PASSWORD).await;
    // Keep the probe's sample and the report in the same minute: too close
    // to its end, wait for the next one.
    let into_minute = now_ms().rem_euclid(60_000);
    if into_minute > 55_000 {
        tokio::time::sleep(Duration::from_millis(
            u64::try_from(60_000 - into_minute + 200).unwrap(),
        ))
        .await;
    }
    let probe = start_probe(api.states.health.clone());
    let mut sample = None;
    for _ in 0..100 {
        sample = api
            .states
            .health
            .store
            .latest_sample(warden::store::health::day_of(now_ms()))
            .await
            .unwrap();
        if sample.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sample = sample.expect("the probe stored no sample within 5 s");
    assert_eq!(sample.status.as_str(), "degraded", "{sample:?}");

    let before = now_ms();
    let answer = call(&api, Method::GET, "/security/health", Some(&admin)).await;
    let after = now_ms();
    probe.abort();
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let uptime = &answer.json()["uptime"];
    for field in [
        "pct_24h",
        "pct_7d",
        "pct_30d",
        "unknown_pct_24h",
        "unknown_pct_7d",
        "unknown_pct_30d",
    ] {
        let pct = uptime[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{field} is not a number: {uptime}"));
        assert!((0.0..=100.0).contains(&pct), "{field} = {pct}");
    }
    assert_eq!(uptime["last_incident"], Value::Null, "{uptime}");

    // A window is the whole minutes before the current one: the sample
    // the probe just took is in the current minute, so it counts only once
    // that minute has ended. In a fresh app every slot is unknown, 0 % up;
    // if the minute ended before the report (a very slow machine), its one
    // `degraded` sample is one slot up: 1/1440 = 0.069 %, 1/10080 =
    // 0.009 %, 1/43200 = 0.002 % (rounded down).
    let fresh = json!({"pct_24h": 0.0, "pct_7d": 0.0, "pct_30d": 0.0,
        "unknown_pct_24h": 100.0, "unknown_pct_7d": 100.0, "unknown_pct_30d": 100.0,
        "last_incident": null});
    let one_up = json!({"pct_24h": 0.069, "pct_7d": 0.009, "pct_30d": 0.002,
        "unknown_pct_24h": 99.930, "unknown_pct_7d": 99.990, "unknown_pct_30d": 99.997,
        "last_incident": null});
    let minute = |ms: i64| ms.div_euclid(60_000);
    let expected: Vec<&Value> = match (
        minute(before) - minute(sample.at_ms),
        minute(after) - minute(sample.at_ms),
    ) {
        (0, 0) => vec![&fresh],
        (0, _) => vec![&fresh, &one_up],
        _ => vec![&one_up],
    };
    assert!(expected.contains(&uptime), "{uptime}");
    // And the sample the probe stored is what the next minute's report
    // counts: one slot up.
    let day = warden::store::health::day_of(sample.at_ms);
    let stored = api.states.health.store.samples_on(day).await.unwrap();
    let next_minute = serde_json::to_value(warden::health::uptime::uptime(
        &stored,
        sample.at_ms + 60_000,
    ))
    .unwrap();
    assert_eq!(next_minute, one_up);
}

#[tokio::test]
async fn on_dynamodb_every_table_is_checked_and_ok() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    let api = app(Some(tables), &[]).await;
    let callers = callers(&api).await;
    let answers = walk(&api, &callers, StatusCode::OK).await;
    let needles = needles(&callers);
    for answer in &answers {
        let leaks = found_in(&answer.text(), &needles);
        assert!(leaks.is_empty(), "{} reveals {leaks:?}", answer.what);
    }

    let health = report(&answers, "/security/health").json();
    let checks = health["checks"].as_array().unwrap();
    let tables: Vec<&Value> = checks
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("table:"))
        .collect();
    let names: BTreeSet<String> = tables
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = warden::store::dynamo::tables::ALL
        .iter()
        .map(|t| format!("table:{}", t.suffix))
        .collect();
    assert_eq!(names, expected);
    assert_eq!(tables.len(), expected.len(), "each table once");
    for table in &tables {
        assert_eq!(table["status"], "ok", "{table}");
    }
    assert!(
        !checks.iter().any(|c| c["name"] == "store"),
        "no embedded-store check on DynamoDB: {health:#}"
    );
    assert_ne!(health["status"], "failing", "{health:#}");
}

#[tokio::test]
async fn on_dynamodb_missing_tables_make_the_report_503_naming_each() {
    let Some((endpoint, prefix)) = warden::testing::emulator_tables().await else {
        return;
    };
    let api = app(
        Some((endpoint.clone(), prefix.clone())),
        &[("WARDEN_HEALTH_CHECK_TIMEOUT_MS", "1500")],
    )
    .await;
    // Logged in while every table is there; the bearer check needs only the
    // token tables, which stay.
    let (admin, _, _) = login(&api, "root", ADMIN_PASSWORD).await;
    let client = aws_sdk_dynamodb::Client::new(&warden::testing::aws_config(&endpoint).await);
    let missing = ["agents", "health-samples"];
    for suffix in missing {
        warden::testing::delete_table(&client, &format!("{prefix}{suffix}")).await;
    }

    let started = Instant::now();
    let answer = call(&api, Method::GET, "/security/health", Some(&admin)).await;
    let elapsed = started.elapsed();
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "the report itself, not a problem"
    );
    let health = answer.json();
    assert_eq!(health["status"], "failing", "{health:#}");
    assert_eq!(health["check_timeout_ms"], 1500);
    for check in health["checks"].as_array().unwrap() {
        let name = check["name"].as_str().unwrap();
        let Some(suffix) = name.strip_prefix("table:") else {
            continue;
        };
        if missing.contains(&suffix) {
            assert_eq!(check["status"], "failing", "{check}");
            let detail = check["detail"].as_str().unwrap();
            assert!(detail.contains(&format!("{prefix}{suffix}")), "{check}");
            assert!(detail.contains("does not exist"), "{check}");
        } else {
            assert_eq!(check["status"], "ok", "{check}");
        }
    }
    // The samples' table is gone: nothing known of uptime, no incident.
    assert_eq!(health["uptime"]["unknown_pct_24h"], 100.0);
    assert_eq!(health["uptime"]["last_incident"], Value::Null);
    // The checks run at once, each cut at 1500 ms; the bearer check's one
    // read and the emulator's own slowness (one Python process serving
    // every test of the run) come on top. 3 s is double the timeout: a
    // report that waited on its checks one after another (13 tables) or
    // past their timeout would take far longer.
    assert!(elapsed < Duration::from_millis(3_000), "took {elapsed:?}");
}
