//! The security-health handler, called as a function: who may read the
//! reports, what each check finds, how each is bounded in time, and that
//! no answer carries a secret.
//!
//! Most checks describe AWS resources through a scripted `Dependencies`
//! (each resource exists, is missing, answers slowly or never), so every
//! outcome can be set up exactly; `aws_dependencies.rs`-style runs against
//! the emulator through the real SDK are at the end.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;
use warden::Result;
use warden::audit::Origin;
use warden::auth::login::create_user;
use warden::aws::dependencies::AwsDependencies;
use warden::clock::{Clock, ManualClock};
use warden::config::Config;
use warden::domain::{Role, Username};
use warden::health::Status;
use warden::health::dependencies::{Dependencies, QueueInfo, SecretInfo, TableInfo};
use warden::health::inventory::{Inventory, WebhookInventory};
use warden::state::{AuthState, HealthState, SecurityHealthState};
use warden::store::dynamo::DynamoStore;
use warden::store::dynamo::tables::{self, TableDef};
use warden::store::memory::MemoryStore;
use warden::testing::{Intercepted, Interceptor, api_request, json_body, tokens_for};
use warden_security_health::handler;

const NOW_MS: i64 = 1_795_953_600_000; // 2026-11-29T12:00:00Z
const DAY_MS: i64 = 86_400_000;
const PASSWORD: &str = "correct horse battery staple";
const WEBHOOK_SECRET: &str = "gh-webhook-secret-0f9e8d7c6b5a";
const PREFIX: &str = "prod-";

/// How a scripted resource answers.
#[derive(Debug, Clone)]
enum Answer<T> {
    Found(T),
    Missing,
    /// After this long.
    Slow(Duration, T),
    Never,
    /// Fails, with SDK-like text that must never reach an answer.
    Error,
}

/// The text of a scripted failure: it names internals no answer may show.
const SDK_TEXT: &str = "dispatch failure: io error: connection reset by 10.0.3.7:443";

async fn answer<T: Clone>(a: Option<&Answer<T>>) -> Result<Option<T>> {
    match a {
        None | Some(Answer::Missing) => Ok(None),
        Some(Answer::Found(t)) => Ok(Some(t.clone())),
        Some(Answer::Slow(d, t)) => {
            tokio::time::sleep(*d).await;
            Ok(Some(t.clone()))
        }
        Some(Answer::Never) => std::future::pending().await,
        Some(Answer::Error) => Err(warden::Error::unavailable_from(
            "DescribeSomething",
            std::io::Error::other(SDK_TEXT),
        )),
    }
}

/// A deployment described by hand: every resource is what the test says.
#[derive(Debug, Clone, Default)]
struct Scripted {
    tables: HashMap<String, Answer<TableInfo>>,
    queues: HashMap<String, Answer<QueueInfo>>,
    secrets: HashMap<String, Answer<SecretInfo>>,
}

impl Scripted {
    /// The table of `def` (under [`PREFIX`]) answers `answer`.
    fn set_table(&mut self, def: TableDef, answer: Answer<TableInfo>) {
        self.tables.insert(def.name(PREFIX), answer);
    }

    /// The queue at `url` answers `answer`.
    fn set_queue(&mut self, url: String, answer: Answer<QueueInfo>) {
        self.queues.insert(url, answer);
    }

    /// The secret `arn` answers `answer`.
    fn set_secret(&mut self, arn: &str, answer: Answer<SecretInfo>) {
        self.secrets.insert(arn.to_owned(), answer);
    }
}

#[async_trait]
impl Dependencies for Scripted {
    async fn table(&self, name: &str, ttl: bool) -> Result<Option<TableInfo>> {
        let mut info = answer(self.tables.get(name)).await?;
        if let Some(info) = &mut info
            && !ttl
        {
            info.ttl = None;
        }
        Ok(info)
    }

    async fn queue(&self, url: &str) -> Result<Option<QueueInfo>> {
        answer(self.queues.get(url)).await
    }

    async fn secret(&self, secret_id: &str) -> Result<Option<SecretInfo>> {
        answer(self.secrets.get(secret_id)).await
    }
}

fn active() -> TableInfo {
    TableInfo {
        status: "ACTIVE".into(),
        ttl: Some(("ENABLED".into(), Some("expires_at".into()))),
    }
}

fn empty() -> QueueInfo {
    QueueInfo {
        visible: 0,
        in_flight: 0,
    }
}

fn rotated_days_ago(days: i64) -> SecretInfo {
    SecretInfo {
        created_ms: Some(NOW_MS - 400 * DAY_MS),
        last_rotated_ms: Some(NOW_MS - days * DAY_MS),
        last_changed_ms: Some(NOW_MS - days * DAY_MS),
        rotation_enabled: true,
        scheduled_for_deletion: false,
    }
}

const QUEUES: [&str; 3] = ["events", "jobs", "outbound"];
const SECRET_ARNS: [&str; 2] = ["arn:pepper", "arn:webhooks"];

fn queue_url(name: &str) -> String {
    format!("https://sqs.test/{name}")
}

fn dlq_url(name: &str) -> String {
    format!("https://sqs.test/{name}-dlq")
}

/// Every resource of a production deployment, present and healthy.
fn healthy() -> Scripted {
    let mut s = Scripted::default();
    for def in tables::ALL {
        s.set_table(def, Answer::Found(active()));
    }
    for q in QUEUES {
        s.set_queue(queue_url(q), Answer::Found(empty()));
        s.set_queue(dlq_url(q), Answer::Found(empty()));
    }
    for arn in SECRET_ARNS {
        s.set_secret(arn, Answer::Found(rotated_days_ago(10)));
    }
    s
}

/// A production configuration naming every resource, plus `extra`.
fn production(extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("WARDEN_ENV", "production"),
        ("WARDEN_ISSUER", "https://auth.example.com"),
        ("WARDEN_SIGNING_KEY_ARN", "arn:aws:kms:us-east-1:1:key/k"),
        ("WARDEN_API_KEY_PEPPER_ARN", SECRET_ARNS[0]),
        ("WARDEN_WEBHOOK_SECRETS_ARN", SECRET_ARNS[1]),
        ("WARDEN_TABLE_PREFIX", PREFIX),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
        ("WARDEN_HEALTH_CHECK_TIMEOUT_MS", "400"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for q in QUEUES {
        let upper = q.to_ascii_uppercase();
        vars.insert(format!("WARDEN_{upper}_QUEUE_URL"), queue_url(q));
        vars.insert(format!("WARDEN_{upper}_DLQ_URL"), dlq_url(q));
    }
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let (config, findings) = Config::load(|k| vars.get(k).cloned());
    assert!(!findings.has_errors(), "{findings:?}");
    config.unwrap()
}

fn webhooks_json() -> String {
    format!(r#"[{{"name": "github", "scheme": "github", "secrets": ["{WEBHOOK_SECRET}"]}}]"#)
}

/// The handler's state over a memory store, `deps` and `config`, with an
/// admin and a plain user; returns their access tokens.
struct World {
    state: SecurityHealthState,
    admin: String,
    user: String,
    clock: Arc<ManualClock>,
}

async fn world_with(config: Config, deps: Scripted, webhooks: WebhookInventory) -> World {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let auth = AuthState::new(
        config.clone(),
        store.clone(),
        tokens_for(&config),
        clock.clone(),
    )
    .unwrap();
    let mut tokens = Vec::new();
    for (name, role) in [("root", Role::Admin), ("bob", Role::User)] {
        let user = create_user(
            &auth,
            Origin::Cli {
                operator: "tests".into(),
            },
            &Username::parse(name).unwrap(),
            &SecretString::from(PASSWORD),
            &[role],
        )
        .await
        .unwrap();
        let (token, _) = auth
            .tokens
            .issue(&user.user_id, &[role], 0, "01SESSION", clock.now_secs())
            .await
            .unwrap();
        tokens.push(token);
    }
    let tables = DynamoStore::table_targets(&config.table_prefix);
    let inventory = Inventory::from_config(&config, Some(tables), webhooks);
    let access = tokens_for(&config);
    let health = HealthState::new(
        config,
        inventory,
        Some(Arc::new(deps)),
        store.clone(),
        clock.clone(),
    );
    World {
        state: SecurityHealthState::new(health, store, access),
        admin: tokens.remove(0),
        user: tokens.remove(0),
        clock,
    }
}

async fn world(deps: Scripted) -> World {
    world_with(
        production(&[]),
        deps,
        WebhookInventory::from_json(&webhooks_json()),
    )
    .await
}

/// GET `path` with `token` (if any): status, body, raw body text.
async fn get(world: &World, path: &str, token: Option<&str>) -> (u16, Value, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    let response = handler(
        &world.state,
        api_request("GET", path, &headers, "", "203.0.113.7"),
    )
    .await
    .unwrap();
    let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    (response.status().as_u16(), json_body(&response), text)
}

impl World {
    /// GET `path` as the admin: status, body, raw body text.
    async fn as_admin(&self, path: &str) -> (u16, Value, String) {
        get(self, path, Some(&self.admin)).await
    }
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

const ADMIN_PATHS: [&str; 4] = [
    "/security/health",
    "/security/configuration",
    "/security/secrets",
    "/security/webhooks",
];

#[tokio::test]
async fn health_is_public_and_says_only_ok() {
    let w = world(healthy()).await;
    let (status, body, _) = get(&w, "/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn every_security_report_is_for_admins_only() {
    let w = world(healthy()).await;
    for path in ADMIN_PATHS {
        assert_eq!(get(&w, path, None).await.0, 401, "{path} anonymous");
        assert_eq!(get(&w, path, Some("garbage")).await.0, 401, "{path} forged");
        assert_eq!(get(&w, path, Some(&w.user)).await.0, 403, "{path} user");
        assert_eq!(get(&w, path, Some(&w.admin)).await.0, 200, "{path} admin");
    }
    // A token signed with another key is refused, whatever its roles say.
    let other = warden::auth::jwt::AccessTokens::local(
        &w.state.config,
        warden::testing::test_signer(),
        "local:test-2",
    )
    .unwrap();
    let (forged, _) = other
        .issue("01ADMIN", &[Role::Admin], 0, "01S", w.clock.now_secs())
        .await
        .unwrap();
    assert_eq!(get(&w, "/security/health", Some(&forged)).await.0, 401);
}

#[tokio::test]
async fn a_healthy_deployment_reports_ok_with_every_check() {
    let w = world(healthy()).await;
    let (status, report, _) = w.as_admin("/security/health").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "ok", "{report}");
    let names = warden::testing::check_names(&report);
    let mut expected = vec!["configuration".to_owned()];
    expected.extend(tables::ALL.iter().map(|d| format!("table:{}", d.suffix)));
    expected.extend(QUEUES.iter().map(|q| format!("queue:{q}")));
    expected.extend(
        ["api_key_pepper", "webhook_sources"]
            .iter()
            .map(|s| format!("secret:{s}")),
    );
    expected.push("webhooks".into());
    assert_eq!(names, expected);
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{c}");
        assert!(c["latency_ms"].as_u64().is_some(), "{c}");
    }
    assert_eq!(report["check_timeout_ms"], 400);
    assert_eq!(report["remaining_ms"], Value::Null);
    // No sample yet: the whole window is unknown.
    assert_eq!(report["uptime"]["unknown_pct_24h"], 100.0);
    assert_eq!(report["uptime"]["last_incident"], Value::Null);
}

#[tokio::test]
async fn a_missing_table_or_queue_makes_the_report_failing() {
    let mut deps = healthy();
    deps.set_table(tables::AGENT_JOBS, Answer::Missing);
    deps.set_queue(queue_url("jobs"), Answer::Missing);
    deps.set_queue(dlq_url("events"), Answer::Missing);
    let w = world(deps).await;
    let (status, report, _) = w.as_admin("/security/health").await;
    assert_eq!(status, 503);
    assert_eq!(report["status"], "failing");
    let table = check(&report, "table:agent-jobs");
    assert_eq!(table["status"], "failing");
    assert_eq!(table["detail"], "table prod-agent-jobs does not exist");
    assert_eq!(check(&report, "queue:jobs")["status"], "failing");
    assert_eq!(
        check(&report, "queue:jobs")["detail"],
        "the jobs queue does not exist"
    );
    assert_eq!(check(&report, "queue:events")["status"], "failing");
    assert!(
        check(&report, "queue:events")["detail"]
            .as_str()
            .unwrap()
            .contains("the events dead-letter queue does not exist")
    );
    assert_eq!(check(&report, "table:users")["status"], "ok");
}

#[tokio::test]
async fn a_dependency_that_never_answers_fails_its_check_within_the_timeout() {
    let mut deps = healthy();
    deps.set_table(tables::USERS, Answer::Never);
    deps.set_queue(queue_url("outbound"), Answer::Never);
    deps.set_secret(SECRET_ARNS[0], Answer::Never);
    let w = world(deps).await;
    let started = Instant::now();
    let (status, report, _) = w.as_admin("/security/health").await;
    let elapsed = started.elapsed();
    assert_eq!(status, 503, "{report}");
    // Every check ran at once under the 400 ms timeout: the report took
    // one timeout, not three, and not forever.
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(900),
        "{elapsed:?}"
    );
    for name in ["table:users", "queue:outbound", "secret:api_key_pepper"] {
        let c = check(&report, name);
        assert_eq!(c["status"], "failing", "{c}");
        assert_eq!(c["detail"], "no answer within its 400 ms timeout", "{c}");
        assert_eq!(c["latency_ms"], 400, "{c}");
    }
    // The secrets report shows the undescribed secret as not present.
    let (_, secrets, _) = w.as_admin("/security/secrets").await;
    let pepper = &secrets["secrets"][0];
    assert_eq!(pepper["name"], "api_key_pepper");
    assert_eq!(pepper["present"], false);
}

#[tokio::test]
async fn a_failed_aws_call_fails_its_check_without_its_error_text() {
    let mut deps = healthy();
    deps.set_table(tables::USERS, Answer::Error);
    deps.set_queue(dlq_url("jobs"), Answer::Error);
    deps.set_secret(SECRET_ARNS[1], Answer::Error);
    let w = world(deps).await;
    let (status, report, text) = w.as_admin("/security/health").await;
    assert_eq!(status, 503);
    assert_eq!(
        check(&report, "table:users")["detail"],
        "DescribeTable prod-users failed: no answer (the function's logs have the cause)"
    );
    assert_eq!(check(&report, "queue:jobs")["status"], "failing");
    assert_eq!(
        check(&report, "secret:webhook_sources")["status"],
        "failing"
    );
    for path in ADMIN_PATHS {
        let (_, _, text_of_path) = get(&w, path, Some(&w.admin)).await;
        assert!(!text_of_path.contains("10.0.3.7"), "{path}: {text_of_path}");
        assert!(!text_of_path.contains("dispatch failure"), "{path}");
    }
    assert!(!text.contains("connection reset"));
}

#[tokio::test]
async fn a_check_slower_than_half_its_timeout_is_degraded() {
    let mut deps = healthy();
    deps.set_table(
        tables::AUDIT_LOG,
        Answer::Slow(Duration::from_millis(250), active()),
    );
    let w = world(deps).await;
    let (status, report, _) = w.as_admin("/security/health").await;
    assert_eq!(status, 200);
    assert_eq!(report["status"], "degraded");
    let c = check(&report, "table:audit-log");
    assert_eq!(c["status"], "degraded", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("over half its 400 ms timeout"),
        "{c}"
    );
    assert!(c["latency_ms"].as_u64().unwrap() >= 250, "{c}");
}

#[tokio::test]
async fn warnings_degrade_their_check_and_name_what_they_found() {
    let mut deps = healthy();
    // TTL off on the denylist, a table being updated, a job in the DLQ, a
    // stale secret.
    deps.set_table(
        tables::REVOKED_TOKENS,
        Answer::Found(TableInfo {
            status: "ACTIVE".into(),
            ttl: Some(("DISABLED".into(), None)),
        }),
    );
    deps.set_table(
        tables::USERS,
        Answer::Found(TableInfo {
            status: "UPDATING".into(),
            ttl: None,
        }),
    );
    deps.set_queue(
        dlq_url("jobs"),
        Answer::Found(QueueInfo {
            visible: 2,
            in_flight: 1,
        }),
    );
    deps.set_secret(SECRET_ARNS[0], Answer::Found(rotated_days_ago(91)));
    let w = world(deps).await;
    let (status, report, _) = w.as_admin("/security/health").await;
    assert_eq!(status, 200);
    assert_eq!(report["status"], "degraded");
    let degraded = |name: &str, needle: &str| {
        let c = check(&report, name);
        assert_eq!(c["status"], "degraded", "{c}");
        assert!(c["detail"].as_str().unwrap().contains(needle), "{c}");
    };
    degraded("table:revoked-tokens", "TTL on expires_at is DISABLED");
    degraded("table:users", "UPDATING");
    degraded(
        "queue:jobs",
        "the jobs queue's dead-letter queue holds 3 message(s)",
    );
    degraded("secret:api_key_pepper", "not rotated in 91 days");
    // The configuration report has the rotation warning too; 90 days is fine.
    let (_, config, _) = w.as_admin("/security/configuration").await;
    let rotation: Vec<&Value> = config["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "secret_rotation")
        .collect();
    assert_eq!(rotation.len(), 2);
    assert_eq!(rotation[0]["status"], "degraded");
    assert_eq!(rotation[1]["status"], "ok");
    assert_eq!(config["status"], "degraded");
}

#[tokio::test]
async fn a_secrets_age_counts_from_its_last_new_value() {
    let mut deps = healthy();
    // Never rotated by Secrets Manager, a new value put by hand 5 days ago.
    deps.set_secret(
        SECRET_ARNS[0],
        Answer::Found(SecretInfo {
            created_ms: Some(NOW_MS - 400 * DAY_MS),
            last_rotated_ms: None,
            last_changed_ms: Some(NOW_MS - 5 * DAY_MS),
            rotation_enabled: false,
            scheduled_for_deletion: false,
        }),
    );
    // Created 100 days ago and never changed.
    deps.set_secret(
        SECRET_ARNS[1],
        Answer::Found(SecretInfo {
            created_ms: Some(NOW_MS - 100 * DAY_MS),
            last_rotated_ms: None,
            last_changed_ms: None,
            rotation_enabled: false,
            scheduled_for_deletion: false,
        }),
    );
    let w = world(deps).await;
    let (_, report, _) = w.as_admin("/security/health").await;
    assert_eq!(check(&report, "secret:api_key_pepper")["status"], "ok");
    let sources = check(&report, "secret:webhook_sources");
    assert_eq!(sources["status"], "degraded");
    assert!(
        sources["detail"]
            .as_str()
            .unwrap()
            .contains("not rotated in 100 days")
    );
    let (_, secrets, _) = w.as_admin("/security/secrets").await;
    assert_eq!(secrets["secrets"][0]["age_days"], 5);
    assert_eq!(
        secrets["secrets"][0]["last_rotated_at"],
        "2026-11-24T12:00:00Z"
    );
    assert_eq!(secrets["secrets"][1]["age_days"], 100);
    assert_eq!(secrets["secrets"][1]["last_rotated_at"], Value::Null);
}

#[tokio::test]
async fn a_missing_or_deleted_secret_fails_and_shows_as_absent() {
    let mut deps = healthy();
    deps.set_secret(SECRET_ARNS[1], Answer::Missing);
    let mut deleted = rotated_days_ago(1);
    deleted.scheduled_for_deletion = true;
    deps.set_secret(SECRET_ARNS[0], Answer::Found(deleted));
    let w = world(deps).await;
    let (status, report, _) = w.as_admin("/security/health").await;
    assert_eq!(status, 503);
    assert_eq!(
        check(&report, "secret:webhook_sources")["detail"],
        "the webhook_sources secret does not exist"
    );
    assert_eq!(
        check(&report, "secret:api_key_pepper")["detail"],
        "the api_key_pepper secret is scheduled for deletion"
    );
    let (_, secrets, _) = w.as_admin("/security/secrets").await;
    let by_name = |n: &str| {
        secrets["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("webhook_sources")["present"], false);
    assert_eq!(by_name("api_key_pepper")["present"], false);
    // Access tokens are signed in KMS: no signing secret is listed.
    assert_eq!(secrets["secrets"].as_array().unwrap().len(), 2, "{secrets}");
}

#[tokio::test]
async fn a_webhook_source_without_a_secret_fails_and_verification_has_no_switch() {
    let w = world_with(
        production(&[]),
        healthy(),
        WebhookInventory::from_json(&format!(
            r#"[{{"name": "github", "scheme": "github", "secrets": ["{WEBHOOK_SECRET}"]}},
                {{"name": "billing", "scheme": "stripe", "secrets": []}}]"#
        )),
    )
    .await;
    let (status, report, _) = w.as_admin("/security/health").await;
    assert_eq!(status, 503);
    let c = check(&report, "webhooks");
    assert_eq!(c["status"], "failing");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("\"billing\" has no secret"),
        "{c}"
    );
    let (_, webhooks, _) = w.as_admin("/security/webhooks").await;
    assert_eq!(
        webhooks,
        serde_json::json!({"sources": [
            {"name": "billing", "scheme": "stripe", "secrets": 0, "enforced": true},
            {"name": "github", "scheme": "github", "secrets": 1, "enforced": true},
        ]})
    );
}

#[test]
fn an_unparseable_webhook_secret_is_described_by_position_only() {
    let text =
        format!(r#"[{{"name": "github", "scheme": "nope", "secrets": ["{WEBHOOK_SECRET}"]}}]"#);
    let inventory = WebhookInventory::from_json(&text);
    let problem = inventory.problem.unwrap();
    assert!(problem.contains("line 1"), "{problem}");
    assert!(
        !problem.contains(WEBHOOK_SECRET) && !problem.contains("nope"),
        "{problem}"
    );
}

#[tokio::test]
async fn each_insecure_setting_flips_the_configuration_report() {
    for (var, value, check_name) in [
        ("WARDEN_ACCESS_TOKEN_TTL", "7200", "access_token_ttl"),
        ("WARDEN_REFRESH_TOKEN_TTL", "31536000", "refresh_token_ttl"),
        ("ALLOWED_ORIGINS", "http://app.example.com", "cors"),
        ("WARDEN_ARGON2_TARGET_M_COST", "65536", "argon2_target"),
    ] {
        let w = world_with(
            production(&[(var, value)]),
            healthy(),
            WebhookInventory::from_json(&webhooks_json()),
        )
        .await;
        let (_, config, _) = w.as_admin("/security/configuration").await;
        assert_eq!(config["status"], "degraded", "{var}: {config}");
        let flipped: Vec<&str> = config["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] != "ok")
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(flipped, vec![check_name], "{var}");
        let (status, report, _) = w.as_admin("/security/health").await;
        assert_eq!((status, &report["status"]), (200, &Value::from("degraded")));
        assert_eq!(check(&report, "configuration")["status"], "degraded");
    }
}

#[tokio::test]
async fn the_configuration_report_shows_the_guards_in_force() {
    let w = world_with(
        production(&[
            ("WARDEN_AWS_OPERATION_TIMEOUT_MS", "3000"),
            ("WARDEN_AWS_MAX_ATTEMPTS", "2"),
        ]),
        healthy(),
        WebhookInventory::default(),
    )
    .await;
    let (status, config, _) = w.as_admin("/security/configuration").await;
    assert_eq!(status, 200);
    let guards = &config["guards"];
    assert_eq!(guards["connect_timeout_ms"], 1000);
    assert_eq!(guards["attempt_timeout_ms"], 2000);
    assert_eq!(guards["operation_timeout_ms"], 3000);
    assert_eq!(guards["max_attempts"], 2);
    assert_eq!(guards["retry_mode"], "standard");
    // Two attempts of 2 s and a backoff of up to 1 s, cut at 3 s.
    assert_eq!(guards["call_worst_case_ms"], 3000);
    assert_eq!(guards["request_worst_case_ms"], 6000);
    let login = &guards["functions"][0];
    assert_eq!(login["name"], "login");
    assert_eq!(login["margin_ms"], 4000);
}

#[tokio::test]
async fn no_answer_carries_a_secret_a_password_or_a_token() {
    let mut deps = healthy();
    deps.set_table(tables::USERS, Answer::Never);
    let w = world(deps).await;
    let mut texts = Vec::new();
    for path in ["/health"].into_iter().chain(ADMIN_PATHS) {
        for token in [
            None,
            Some("garbage"),
            Some(w.user.as_str()),
            Some(w.admin.as_str()),
        ] {
            texts.push(get(&w, path, token).await.2);
        }
    }
    for text in &texts {
        for secret in [WEBHOOK_SECRET, PASSWORD, &w.admin, &w.user] {
            assert!(!text.contains(secret), "a body carries a secret: {text}");
        }
    }
}

#[tokio::test]
async fn the_report_shows_uptime_from_the_probes_samples() {
    // Three probe runs a minute apart: ok, failing (the users table gone),
    // then ok again; the report an hour later counts them.
    let w = world(healthy()).await;
    let origin = || Origin::Schedule {
        rule: "tests".into(),
    };
    warden::health::probe::probe(&w.state, origin(), w.clock.now_millis())
        .await
        .unwrap();
    w.clock.advance_secs(60.0);
    let mut broken = world(healthy()).await;
    let mut deps = healthy();
    deps.set_table(tables::USERS, Answer::Missing);
    broken.state.health.dependencies = Some(Arc::new(deps));
    broken.state.health.store = w.state.store.clone();
    broken.state.health.clock = w.clock.clone();
    let run = warden::health::probe::probe(&broken.state, origin(), w.clock.now_millis())
        .await
        .unwrap();
    assert_eq!(run.sample.status, Status::Failing);
    assert_eq!(run.sample.failing, vec!["table:users".to_owned()]);
    w.clock.advance_secs(60.0);
    warden::health::probe::probe(&w.state, origin(), w.clock.now_millis())
        .await
        .unwrap();
    w.clock.advance_secs(3600.0);
    // (The admin's token has expired by now: the report is asked directly.)
    let report =
        serde_json::to_value(warden::health::endpoints::health_report(&w.state).await).unwrap();
    let uptime = &report["uptime"];
    // 2 of 1,440 minutes up, 1 down, 1,437 unknown: 0.138 %, 99.791 %.
    assert_eq!(uptime["pct_24h"], 0.138);
    assert_eq!(uptime["unknown_pct_24h"], 99.791);
    assert_eq!(
        uptime["last_incident"],
        serde_json::json!({
            "start": "2026-11-29T12:01:00Z",
            "end": "2026-11-29T12:02:00Z",
            "checks": ["table:users"],
        })
    );
}

/// Hooks that count the days of samples read.
#[derive(Default)]
struct CountDays(std::sync::atomic::AtomicUsize);

#[async_trait]
impl Interceptor for CountDays {
    async fn before_samples_on(&self, _day: i64) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_warm_function_reads_only_the_days_that_can_still_change() {
    let mut w = world(healthy()).await;
    let store = Arc::new(Intercepted::new(
        Arc::new(MemoryStore::new()),
        CountDays::default(),
    ));
    w.state.health.store = store.clone();
    let reads = || store.hooks.0.load(std::sync::atomic::Ordering::SeqCst);
    let report = warden::health::endpoints::health_report(&w.state).await;
    // 12:00 on 29 November: the window reaches back to 11:59 on
    // 30 October, 31 days.
    assert_eq!(reads(), 31);
    // The next report reads today alone: the other days ended over ten
    // minutes ago and cannot change.
    let again = warden::health::endpoints::health_report(&w.state).await;
    assert_eq!(reads(), 32);
    assert_eq!(again.uptime, report.uptime);
    // Just after midnight, yesterday is read again until it has settled.
    w.clock.advance_secs(12.0 * 3600.0 + 60.0);
    warden::health::endpoints::health_report(&w.state).await;
    assert_eq!(reads(), 34);
    w.clock.advance_secs(600.0);
    warden::health::endpoints::health_report(&w.state).await;
    assert_eq!(reads(), 36, "yesterday settles at 00:10, after this read");
    w.clock.advance_secs(60.0);
    warden::health::endpoints::health_report(&w.state).await;
    assert_eq!(reads(), 37);
}

/// The real SDK against the emulator, when `infra/test.sh` runs one: tables
/// and queues that do not exist are failing checks.
#[tokio::test]
async fn on_the_emulator_missing_tables_and_queues_fail_their_checks() {
    let Some(endpoint) = warden::testing::aws_endpoint() else {
        return;
    };
    let aws = warden::testing::aws_config(&endpoint).await;
    let prefix = warden::testing::unique_prefix();
    tables::create_all(&aws_sdk_dynamodb::Client::new(&aws), &prefix)
        .await
        .unwrap();
    aws_sdk_dynamodb::Client::new(&aws)
        .delete_table()
        .table_name(tables::PROPOSALS.name(&prefix))
        .send()
        .await
        .unwrap();
    let config = production(&[
        ("WARDEN_TABLE_PREFIX", &prefix),
        ("WARDEN_HEALTH_CHECK_TIMEOUT_MS", "3000"),
        (
            "WARDEN_JOBS_QUEUE_URL",
            &format!("{endpoint}/000000000000/{prefix}missing"),
        ),
    ]);
    let w = world_with(config.clone(), healthy(), WebhookInventory::default()).await;
    let mut state = w.state;
    state.health.dependencies = Some(Arc::new(AwsDependencies::new(&aws)));
    let report = warden::health::endpoints::health_report(&state).await;
    let by_name = |n: &str| report.checks.iter().find(|c| c.name == n).unwrap().clone();
    assert_eq!(by_name("table:users").status, Status::Ok, "{report:?}");
    assert_eq!(by_name("table:proposals").status, Status::Failing);
    assert_eq!(
        by_name("table:proposals").detail,
        format!("table {prefix}proposals does not exist")
    );
    assert_eq!(by_name("queue:jobs").status, Status::Failing);
    assert_eq!(
        by_name("queue:jobs").detail,
        "the jobs queue does not exist"
    );
    assert_eq!(report.status, Status::Failing);
}

/// The real SDK against an endpoint that accepts connections and never
/// answers: every AWS check fails within the check timeout.
#[tokio::test]
async fn a_hanging_aws_endpoint_fails_every_check_within_the_timeout() {
    let hanging = warden::testing::HangingEndpoint::start();
    let aws = warden::testing::aws_config(hanging.url()).await;
    let w = world_with(
        production(&[("WARDEN_HEALTH_CHECK_TIMEOUT_MS", "300")]),
        healthy(),
        WebhookInventory::default(),
    )
    .await;
    let mut state = w.state;
    state.health.dependencies = Some(Arc::new(AwsDependencies::new(&aws)));
    let started = Instant::now();
    let report = warden::health::endpoints::health_report(&state).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(800), "{elapsed:?}");
    assert_eq!(report.status, Status::Failing);
    for c in report.checks.iter().filter(|c| {
        c.name.starts_with("table:")
            || c.name.starts_with("queue:")
            || c.name.starts_with("secret:")
    }) {
        assert_eq!(c.status, Status::Failing, "{c:?}");
        assert_eq!(c.detail, "no answer within its 300 ms timeout", "{c:?}");
    }
}
