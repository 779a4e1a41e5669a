//! Every health check, how each is bounded in time, and the reports built
//! from them.
//!
//! A check is one question about the deployment: is the configuration
//! safe, does each table exist and is it `ACTIVE` with its TTL, does each
//! queue answer and is its dead-letter queue empty, is each secret there
//! and rotated, does each webhook source have a secret. All checks of a
//! report run at once, each under the configured timeout
//! (`WARDEN_HEALTH_CHECK_TIMEOUT_MS`, 2 s by default), so a report answers
//! within that timeout whatever its dependencies do. A check is:
//!
//! - `failing` when it fails or hits its timeout (the detail names it);
//! - `degraded` on a warning, or when it took more than half its timeout;
//! - `ok` otherwise.
//!
//! Details name resources and counts, never a secret value or an SDK error
//! text (the cause of a failed call goes to the logs).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::dependencies::{SecretInfo, TableInfo};
use super::uptime::{LONGEST_WINDOW_MS, SLOT_MS, Uptime, uptime};
use super::{Sample, Status};
use crate::aws::{Guards, LAMBDA_TIMEOUT, WORKER_LAMBDA_TIMEOUT};
use crate::clock::rfc3339;
use crate::config::{
    Check, Config, DeadLetterQueues, Environment, Finding, Findings, Severity, health_worst_case,
};
use crate::state::HealthState;
use crate::store::dynamo::tables::{self, TableDef};
use crate::store::health::{DAY_MS, day_of};
use crate::webhook::{SchemeKind, SourceConfig, Sources};

/// A secret not rotated for longer than this is a warning.
pub const ROTATION_ADVISED_DAYS: i64 = 90;

/// One check's result, as `/security/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// `configuration`, `table:<suffix>`, `queue:<name>`, `secret:<name>`,
    /// `webhooks`, or `store` on the embedded store.
    pub name: String,
    /// How it stands.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How long it took, milliseconds (the timeout when it hit it).
    pub latency_ms: u64,
}

/// `GET /security/health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// The worst check's status.
    pub status: Status,
    /// Every check, in a fixed order.
    pub checks: Vec<CheckResult>,
    /// Uptime from the probe's samples.
    pub uptime: Uptime,
    /// Each check's timeout, milliseconds.
    pub check_timeout_ms: u64,
    /// The Lambda invocation's remaining time when the report was done,
    /// milliseconds; `None` outside Lambda. (Set by the handler.)
    pub remaining_ms: Option<u64>,
}

/// One configuration finding as `/security/configuration` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigCheck {
    /// The check's name (see [`Check`]).
    pub name: Check,
    /// `failing` refuses start-up, `degraded` is a warning.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it.
    pub remediation: String,
}

/// One function's time budget under the AWS guards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionBudget {
    /// The function, as `template.yaml` names its binary.
    pub name: &'static str,
    /// Its Lambda timeout, milliseconds.
    pub timeout_ms: u64,
    /// The longest it can wait on AWS in one invocation, milliseconds.
    pub worst_case_ms: u64,
    /// `timeout_ms - worst_case_ms` (negative: the timeout can cut it off).
    pub margin_ms: i64,
}

/// The resource guards in force: the AWS SDK's timeouts and retries, and
/// what they mean for each function's budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardsReport {
    /// `WARDEN_AWS_CONNECT_TIMEOUT_MS`.
    pub connect_timeout_ms: u64,
    /// `WARDEN_AWS_ATTEMPT_TIMEOUT_MS`.
    pub attempt_timeout_ms: u64,
    /// `WARDEN_AWS_OPERATION_TIMEOUT_MS`.
    pub operation_timeout_ms: u64,
    /// `WARDEN_AWS_MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// The SDK's retry strategy: exponential backoff with jitter.
    pub retry_mode: &'static str,
    /// The longest one SDK call can take, retries included.
    pub call_worst_case_ms: u64,
    /// The longest a request can wait on AWS before it is answered `503`.
    pub request_worst_case_ms: u64,
    /// `WARDEN_HEALTH_CHECK_TIMEOUT_MS`.
    pub check_timeout_ms: u64,
    /// Each function's timeout against its worst case.
    pub functions: Vec<FunctionBudget>,
}

/// `GET /security/configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigurationReport {
    /// The worst finding's status.
    pub status: Status,
    /// Every finding, passing ones included.
    pub checks: Vec<ConfigCheck>,
    /// The resource guards in force.
    pub guards: GuardsReport,
}

/// One secret as `/security/secrets` shows it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretView {
    /// `jwt_key`, `api_key_pepper` or `webhook_sources`.
    pub name: &'static str,
    /// Whether it exists (and is not scheduled for deletion).
    pub present: bool,
    /// Where it comes from.
    pub source: &'static str,
    /// When it was created.
    pub created_at: Option<String>,
    /// When it was last rotated.
    pub last_rotated_at: Option<String>,
    /// Whole days since the last rotation, or since creation if never.
    pub age_days: Option<i64>,
    /// Whether Secrets Manager rotates it on a schedule.
    pub rotation_enabled: bool,
}

/// `GET /security/secrets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretsReport {
    /// Every secret the deployment uses.
    pub secrets: Vec<SecretView>,
}

/// One webhook source, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSummary {
    /// The `{source}` of `POST /webhooks/{source}`.
    pub name: String,
    /// The signature scheme.
    pub scheme: &'static str,
    /// How many secrets it has (more than one during a rotation).
    pub secrets: usize,
    /// Always true: verification has no switch.
    pub enforced: bool,
}

/// `GET /security/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhooksReport {
    /// Every configured source, by name.
    pub sources: Vec<SourceSummary>,
}

/// The webhook sources as configured: summaries only (the secrets are
/// counted and dropped), and what is wrong with them, if anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookInventory {
    /// Each source, by name.
    pub sources: Vec<SourceSummary>,
    /// Why the configuration would refuse start-up, naming no secret.
    pub problem: Option<String>,
    /// Whether the sources came from `warden serve`'s seed file.
    pub from_seed_file: bool,
}

impl WebhookInventory {
    /// From the seed file's sources, which already passed validation
    /// (`warden serve`).
    pub fn from_sources(sources: &Sources) -> Self {
        let sources: Vec<SourceSummary> = sources
            .all()
            .into_iter()
            .map(|s| summary(&s.name, s.scheme, s.secret_count()))
            .collect();
        Self {
            from_seed_file: !sources.is_empty(),
            sources,
            problem: None,
        }
    }

    /// From the webhook secret's JSON text: each source's name, scheme and
    /// number of secrets, and the validation's verdict. Parse errors are
    /// described by position only, since the text is secret.
    pub fn from_json(text: &str) -> Self {
        let configs: Vec<SourceConfig> = match serde_json::from_str(text) {
            Ok(configs) => configs,
            Err(e) => {
                return Self {
                    sources: Vec::new(),
                    from_seed_file: false,
                    problem: Some(format!(
                        "the webhook sources secret is not a JSON array of {{name, scheme, secrets}} (line {}, column {})",
                        e.line(),
                        e.column()
                    )),
                };
            }
        };
        let mut sources: Vec<SourceSummary> = configs
            .iter()
            .map(|c| summary(c.name.trim(), c.scheme, c.secrets.len()))
            .collect();
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        // Validation's messages name sources, never secret values.
        let problem = Sources::new(configs).err().map(|e| e.to_string());
        Self {
            sources,
            problem,
            from_seed_file: false,
        }
    }
}

fn summary(name: &str, scheme: SchemeKind, secrets: usize) -> SourceSummary {
    SourceSummary {
        name: name.to_owned(),
        scheme: scheme.as_str(),
        secrets,
        enforced: true,
    }
}

/// Where one secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Secrets Manager, by ARN: described with DescribeSecret.
    SecretsManager(String),
    /// Development: from an environment variable.
    Local(&'static str),
    /// Development: from `warden serve`'s seed file.
    SeedFile,
    /// Development: generated for this process.
    Generated,
    /// Nowhere: outside development, a failure.
    NotConfigured,
}

impl SecretSource {
    fn label(&self) -> &'static str {
        match self {
            SecretSource::SecretsManager(_) => "secrets_manager",
            SecretSource::Local(_) => "environment",
            SecretSource::SeedFile => "seed_file",
            SecretSource::Generated => "generated",
            SecretSource::NotConfigured => "not_configured",
        }
    }
}

/// A queue and its dead-letter queue, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTarget {
    /// `events`, `jobs` or `outbound`.
    pub name: &'static str,
    /// Its URL; `None` in process (`warden serve`) or not configured.
    pub url: Option<String>,
    /// Its dead-letter queue's URL.
    pub dlq_url: Option<String>,
}

/// What the deployment is made of, as the checks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The DynamoDB table prefix; `None` on the embedded store.
    pub table_prefix: Option<String>,
    /// The three queues.
    pub queues: Vec<QueueTarget>,
    /// The three secrets, by name.
    pub secrets: Vec<(&'static str, SecretSource)>,
    /// The webhook sources.
    pub webhooks: WebhookInventory,
}

impl Inventory {
    /// The inventory `config` describes: DynamoDB tables unless
    /// `embedded`, the queues and secrets it names, and `webhooks`.
    pub fn from_config(config: &Config, embedded: bool, webhooks: WebhookInventory) -> Self {
        let dev = config.env == Environment::Development;
        let local_or_missing = |local: Option<SecretSource>| match (local, dev) {
            (Some(source), true) => source,
            (None, true) => SecretSource::Generated,
            (_, false) => SecretSource::NotConfigured,
        };
        let arn_or = |arn: &Option<String>, local| {
            arn.clone()
                .map_or_else(|| local_or_missing(local), SecretSource::SecretsManager)
        };
        let DeadLetterQueues {
            events,
            jobs,
            outbound,
        } = config.dlq_urls.clone();
        Self {
            table_prefix: (!embedded).then(|| config.table_prefix.clone()),
            queues: vec![
                QueueTarget {
                    name: "events",
                    url: config.events_queue_url.clone(),
                    dlq_url: events,
                },
                QueueTarget {
                    name: "jobs",
                    url: config.jobs_queue_url.clone(),
                    dlq_url: jobs,
                },
                QueueTarget {
                    name: "outbound",
                    url: config.outbound_queue_url.clone(),
                    dlq_url: outbound,
                },
            ],
            secrets: vec![
                (
                    "jwt_key",
                    arn_or(
                        &config.jwt_secret_arn,
                        config
                            .jwt_secret
                            .as_ref()
                            .map(|_| SecretSource::Local("WARDEN_JWT_SECRET")),
                    ),
                ),
                (
                    "api_key_pepper",
                    arn_or(
                        &config.api_key_pepper_arn,
                        config
                            .api_key_pepper
                            .as_ref()
                            .map(|_| SecretSource::Local("WARDEN_API_KEY_PEPPER")),
                    ),
                ),
                (
                    "webhook_sources",
                    match (&config.webhook_secrets_arn, webhooks.from_seed_file, dev) {
                        (Some(arn), _, _) => SecretSource::SecretsManager(arn.clone()),
                        (None, true, true) => SecretSource::SeedFile,
                        (None, _, _) => SecretSource::NotConfigured,
                    },
                ),
            ],
            webhooks,
        }
    }
}

/// What one check found, before timing.
struct Outcome {
    status: Status,
    detail: String,
}

impl Outcome {
    fn ok(detail: impl Into<String>) -> Self {
        Self {
            status: Status::Ok,
            detail: detail.into(),
        }
    }

    fn degraded(detail: impl Into<String>) -> Self {
        Self {
            status: Status::Degraded,
            detail: detail.into(),
        }
    }

    fn failing(detail: impl Into<String>) -> Self {
        Self {
            status: Status::Failing,
            detail: detail.into(),
        }
    }
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs every future at once on the current task; outputs in order.
async fn join_all<T>(futures: Vec<Boxed<'_, T>>) -> Vec<T> {
    let mut futures = futures;
    let mut outputs: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (output, future) in outputs.iter_mut().zip(futures.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs `check` under `timeout`, timing it: a check that hits the timeout
/// is failing, one over half of it at least degraded.
async fn timed(
    name: String,
    timeout: Duration,
    check: impl Future<Output = Outcome> + Send,
) -> CheckResult {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, check)
        .await
        .unwrap_or_else(|_| Outcome::failing(timed_out(timeout)));
    finish(name, outcome, started.elapsed().min(timeout), timeout)
}

fn timed_out(timeout: Duration) -> String {
    format!("no answer within its {} ms timeout", millis(timeout))
}

/// A check's result after `elapsed`: an `ok` that took over half its
/// timeout is `degraded`.
fn finish(name: String, outcome: Outcome, elapsed: Duration, timeout: Duration) -> CheckResult {
    let slow = elapsed.saturating_mul(2) > timeout && outcome.status == Status::Ok;
    CheckResult {
        name,
        status: if slow {
            Status::Degraded
        } else {
            outcome.status
        },
        detail: if slow {
            format!(
                "{}; slow: {} ms, over half its {} ms timeout",
                outcome.detail,
                millis(elapsed),
                millis(timeout)
            )
        } else {
            outcome.detail
        },
        latency_ms: millis(elapsed),
    }
}

/// Logs the cause of a failed describe call and says, without SDK text,
/// what could not be done.
fn unreachable_detail(what: &str, err: &crate::Error) -> String {
    tracing::warn!(error = %err, "health check: {what} failed");
    format!("{what} failed: no answer (the function's logs have the cause)")
}

fn status_of(severity: Severity) -> Status {
    match severity {
        Severity::Ok => Status::Ok,
        Severity::Warning => Status::Degraded,
        Severity::Error => Status::Failing,
    }
}

/// The `configuration` check: the start-up findings, warnings included.
fn configuration_outcome(findings: &Findings) -> Outcome {
    let status = Status::worst(findings.0.iter().map(|f| status_of(f.severity)));
    let problems: Vec<String> = findings
        .0
        .iter()
        .filter(|f| f.severity != Severity::Ok)
        .map(|f| format!("{}: {}", f.check, f.message))
        .collect();
    Outcome {
        status,
        detail: if problems.is_empty() {
            format!("{} checks passed", findings.0.len())
        } else {
            problems.join("; ")
        },
    }
}

async fn table_outcome(state: &HealthState, def: TableDef, prefix: &str) -> Outcome {
    let name = def.name(prefix);
    let Some(deps) = &state.dependencies else {
        return Outcome::failing("no AWS client to describe it");
    };
    match deps.table(&name, def.ttl).await {
        Err(e) => Outcome::failing(unreachable_detail(&format!("DescribeTable {name}"), &e)),
        Ok(None) => Outcome::failing(format!("table {name} does not exist")),
        Ok(Some(TableInfo { status, ttl })) => {
            let state_outcome = match status.as_str() {
                "ACTIVE" => Outcome::ok(format!("{name} ACTIVE")),
                "UPDATING" => Outcome::degraded(format!("{name} UPDATING")),
                other => Outcome::failing(format!("{name} is {other}, not ACTIVE")),
            };
            match ttl {
                Some((ttl_status, attribute))
                    if ttl_status != "ENABLED"
                        || attribute.as_deref() != Some(tables::TTL_ATTRIBUTE) =>
                {
                    Outcome {
                        status: state_outcome.status.max(Status::Degraded),
                        detail: format!(
                            "{}; TTL on {} is {ttl_status}: expired items are never deleted",
                            state_outcome.detail,
                            tables::TTL_ATTRIBUTE
                        ),
                    }
                }
                Some(_) => Outcome {
                    status: state_outcome.status,
                    detail: format!(
                        "{}, TTL on {} enabled",
                        state_outcome.detail,
                        tables::TTL_ATTRIBUTE
                    ),
                },
                None => state_outcome,
            }
        }
    }
}

async fn queue_outcome(state: &HealthState, queue: &QueueTarget) -> Outcome {
    let dev = state.config.env == Environment::Development;
    let Some(url) = &queue.url else {
        return if dev {
            Outcome::ok("in process (development): no queue to describe")
        } else {
            Outcome::failing(format!("the {} queue's URL is not configured", queue.name))
        };
    };
    let Some(deps) = &state.dependencies else {
        return Outcome::failing("no AWS client to describe it");
    };
    let dlq = async {
        match &queue.dlq_url {
            Some(dlq) => Some(deps.queue(dlq).await),
            None => None,
        }
    };
    let (main, dlq) = tokio::join!(deps.queue(url), dlq);
    let mut outcome = match main {
        Err(e) => return Outcome::failing(unreachable_detail("GetQueueAttributes", &e)),
        Ok(None) => return Outcome::failing(format!("the {} queue does not exist", queue.name)),
        Ok(Some(q)) => Outcome::ok(format!("{} waiting, {} in flight", q.visible, q.in_flight)),
    };
    let (status, detail) = match dlq {
        None if dev => (Status::Ok, "no dead-letter queue configured".to_owned()),
        None => (
            Status::Degraded,
            "no dead-letter queue URL configured: its depth is unknown".to_owned(),
        ),
        Some(Err(e)) => (
            Status::Failing,
            unreachable_detail("GetQueueAttributes (dead-letter queue)", &e),
        ),
        Some(Ok(None)) => (
            Status::Failing,
            format!("the {} dead-letter queue does not exist", queue.name),
        ),
        Some(Ok(Some(d))) if d.visible + d.in_flight > 0 => (
            Status::Degraded,
            format!(
                "the {} queue's dead-letter queue holds {} message(s)",
                queue.name,
                d.visible + d.in_flight
            ),
        ),
        Some(Ok(Some(_))) => (Status::Ok, "dead-letter queue empty".to_owned()),
    };
    outcome.status = outcome.status.max(status);
    outcome.detail = format!("{}; {detail}", outcome.detail);
    outcome
}

/// A secret described, or what stopped it being described.
enum Described {
    /// Held in process (development), as the detail says.
    Held(String),
    NotConfigured,
    Info(SecretInfo),
    Missing,
    Unreachable(String),
}

async fn describe(state: &HealthState, source: &SecretSource) -> Described {
    let arn = match source {
        SecretSource::Local(from) => return Described::Held(format!("development: from {from}")),
        SecretSource::SeedFile => return Described::Held("development: from the seed file".into()),
        SecretSource::Generated => {
            return Described::Held("development: generated for this process".into());
        }
        SecretSource::NotConfigured => return Described::NotConfigured,
        SecretSource::SecretsManager(arn) => arn,
    };
    let Some(deps) = &state.dependencies else {
        return Described::Unreachable("no AWS client to describe it".into());
    };
    match deps.secret(arn).await {
        Ok(Some(info)) => Described::Info(info),
        Ok(None) => Described::Missing,
        Err(e) => Described::Unreachable(unreachable_detail("DescribeSecret", &e)),
    }
}

/// When the secret's value last changed: `LastRotatedDate`, or
/// `LastChangedDate` when later. Secrets Manager sets the first only when
/// its own rotation runs; a new value put by hand (PutSecretValue) moves
/// only the second. (So does a change of description or tags, which
/// DescribeSecret cannot tell apart.)
fn last_rotated_ms(info: &SecretInfo) -> Option<i64> {
    info.last_rotated_ms.max(info.last_changed_ms)
}

/// Days since the secret's value last changed, or since it was created.
fn age_days(info: &SecretInfo, now_ms: i64) -> Option<i64> {
    last_rotated_ms(info)
        .or(info.created_ms)
        .map(|at| now_ms.saturating_sub(at).max(0) / DAY_MS)
}

/// The secret check and the secret's view, from its description.
fn secret_outcome(
    name: &'static str,
    source: &SecretSource,
    described: Described,
    now_ms: i64,
    dev: bool,
) -> (Outcome, SecretView) {
    let mut view = SecretView {
        name,
        present: false,
        source: source.label(),
        created_at: None,
        last_rotated_at: None,
        age_days: None,
        rotation_enabled: false,
    };
    let outcome = match described {
        Described::Held(detail) => {
            view.present = true;
            Outcome::ok(detail)
        }
        Described::NotConfigured if dev => {
            Outcome::ok(format!("development: {name} is not configured"))
        }
        Described::NotConfigured => Outcome::failing(format!("{name} is not configured")),
        Described::Missing => Outcome::failing(format!("the {name} secret does not exist")),
        Described::Unreachable(detail) => Outcome::failing(detail),
        Described::Info(info) => {
            let seconds = |ms: i64| rfc3339(ms.div_euclid(1000));
            view.present = !info.scheduled_for_deletion;
            view.created_at = info.created_ms.map(seconds);
            view.last_rotated_at = last_rotated_ms(&info).map(seconds);
            view.age_days = age_days(&info, now_ms);
            view.rotation_enabled = info.rotation_enabled;
            match view.age_days {
                _ if info.scheduled_for_deletion => {
                    Outcome::failing(format!("the {name} secret is scheduled for deletion"))
                }
                Some(age) if age > ROTATION_ADVISED_DAYS => Outcome::degraded(format!(
                    "not rotated in {age} days (advised: every {ROTATION_ADVISED_DAYS})"
                )),
                Some(age) => Outcome::ok(format!(
                    "present, {age} day(s) since the last rotation, rotation {}",
                    if info.rotation_enabled {
                        "enabled"
                    } else {
                        "not scheduled"
                    }
                )),
                None => Outcome::ok("present"),
            }
        }
    };
    (outcome, view)
}

/// Every secret, described at once, each under the timeout: its check and
/// its view (a secret whose description timed out shows as not present).
async fn secrets(state: &HealthState) -> Vec<(CheckResult, SecretView)> {
    let timeout = state.config.health_check_timeout;
    let now_ms = state.clock.now_millis();
    let dev = state.config.env == Environment::Development;
    let checks: Vec<Boxed<'_, (CheckResult, SecretView)>> = state
        .inventory
        .secrets
        .iter()
        .map(|(name, source)| -> Boxed<'_, _> {
            let name: &'static str = name;
            Box::pin(async move {
                let started = Instant::now();
                let described = tokio::time::timeout(timeout, describe(state, source))
                    .await
                    .unwrap_or_else(|_| Described::Unreachable(timed_out(timeout)));
                let (outcome, view) = secret_outcome(name, source, described, now_ms, dev);
                let elapsed = started.elapsed().min(timeout);
                (
                    finish(format!("secret:{name}"), outcome, elapsed, timeout),
                    view,
                )
            })
        })
        .collect();
    join_all(checks).await
}

fn webhooks_outcome(webhooks: &WebhookInventory) -> Outcome {
    if let Some(problem) = &webhooks.problem {
        return Outcome::failing(problem.clone());
    }
    let without: Vec<&str> = webhooks
        .sources
        .iter()
        .filter(|s| s.secrets == 0)
        .map(|s| s.name.as_str())
        .collect();
    if !without.is_empty() {
        return Outcome::failing(format!("no secret for: {}", without.join(", ")));
    }
    Outcome::ok(format!(
        "{} source(s), every one with a secret; verification is always on",
        webhooks.sources.len()
    ))
}

/// Every check of `/security/health`, at once, each under the timeout, in
/// a fixed order: configuration, tables (or the embedded store), queues,
/// secrets, webhooks.
pub async fn run_checks(state: &HealthState) -> Vec<CheckResult> {
    let timeout = state.config.health_check_timeout;
    let mut checks: Vec<Boxed<'_, Vec<CheckResult>>> = Vec::new();
    checks.push(Box::pin(async move {
        vec![
            timed("configuration".into(), timeout, async {
                configuration_outcome(&state.findings)
            })
            .await,
        ]
    }));
    match &state.inventory.table_prefix {
        None => checks.push(Box::pin(async move {
            vec![
                timed("store".into(), timeout, async {
                    Outcome::ok("embedded in-process store: no tables to describe")
                })
                .await,
            ]
        })),
        Some(prefix) => {
            for def in tables::ALL {
                checks.push(Box::pin(async move {
                    vec![
                        timed(
                            format!("table:{}", def.suffix),
                            timeout,
                            table_outcome(state, def, prefix),
                        )
                        .await,
                    ]
                }));
            }
        }
    }
    for queue in &state.inventory.queues {
        checks.push(Box::pin(async move {
            vec![
                timed(
                    format!("queue:{}", queue.name),
                    timeout,
                    queue_outcome(state, queue),
                )
                .await,
            ]
        }));
    }
    checks.push(Box::pin(async move {
        secrets(state).await.into_iter().map(|(c, _)| c).collect()
    }));
    checks.push(Box::pin(async move {
        vec![
            timed("webhooks".into(), timeout, async {
                webhooks_outcome(&state.inventory.webhooks)
            })
            .await,
        ]
    }));
    join_all(checks).await.into_iter().flatten().collect()
}

/// A day of samples is cached once it ended this long ago: the probe
/// writes at once, so nothing lands in a day after that.
const SETTLED_MS: i64 = 10 * 60_000;

/// The days of samples a warm function has already read and that can no
/// longer change, so that a report reads only today's (and yesterday's,
/// just after midnight) rather than 31 days each time.
#[derive(Debug, Default)]
pub struct SampleCache(std::sync::Mutex<BTreeMap<i64, Arc<[Sample]>>>);

impl SampleCache {
    /// Forgets every cached day: the next report reads its whole window,
    /// as a cold start does.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Arc<[Sample]>>> {
        // A poisoned lock only means a report panicked while copying: the
        // map itself is whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The samples of every day the 30-day window touches: cached days as
/// they are, the others read side by side, each under the timeout. A day
/// that cannot be read in time is left out (its minutes are unknown).
async fn window_samples(state: &HealthState, now_ms: i64) -> Vec<Sample> {
    let timeout = state.config.health_check_timeout;
    let first = day_of(now_ms.saturating_sub(LONGEST_WINDOW_MS + SLOT_MS));
    let last = day_of(now_ms);
    let cached: Vec<(i64, Arc<[Sample]>)> = {
        let mut cache = state.samples.lock();
        cache.retain(|day, _| *day >= first);
        cache.iter().map(|(d, s)| (*d, s.clone())).collect()
    };
    let reads: Vec<Boxed<'_, (i64, Option<Vec<Sample>>)>> = (first..=last)
        .filter(|day| !cached.iter().any(|(d, _)| d == day))
        .map(|day| -> Boxed<'_, _> {
            Box::pin(async move {
                let read = tokio::time::timeout(timeout, state.store.samples_on(day)).await;
                match read {
                    Ok(Ok(samples)) => (day, Some(samples)),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, day, "health report: samples unreadable");
                        (day, None)
                    }
                    Err(_) => {
                        tracing::warn!(day, "health report: samples not read in time");
                        (day, None)
                    }
                }
            })
        })
        .collect();
    let read = join_all(reads).await;
    let mut samples: Vec<Sample> = cached.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
    let mut cache = state.samples.lock();
    for (day, day_samples) in read {
        let Some(day_samples) = day_samples else {
            continue;
        };
        let settled = (day + 1).saturating_mul(DAY_MS).saturating_add(SETTLED_MS) <= now_ms;
        if settled {
            cache.insert(day, day_samples.clone().into());
        }
        samples.extend(day_samples);
    }
    samples
}

/// `GET /security/health`: every check and, read at the same time under
/// the same timeout, uptime from the probe's samples (a day of samples
/// that cannot be read in time counts as unknown; the HealthSamples
/// table's own check says why).
pub async fn health_report(state: &HealthState) -> HealthReport {
    let timeout = state.config.health_check_timeout;
    let now_ms = state.clock.now_millis();
    let (checks, samples) = tokio::join!(run_checks(state), window_samples(state, now_ms));
    HealthReport {
        status: Status::worst(checks.iter().map(|c| c.status)),
        checks,
        uptime: uptime(&samples, now_ms),
        check_timeout_ms: millis(timeout),
        remaining_ms: None,
    }
}

/// The guards in force and each function's budget under them.
pub fn guards_report(guards: &Guards, check_timeout: Duration) -> GuardsReport {
    let request = guards.request_worst_case();
    let signed = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let budget_of = |name, timeout: Duration, worst: Duration| FunctionBudget {
        name,
        timeout_ms: millis(timeout),
        worst_case_ms: millis(worst),
        margin_ms: signed(timeout).saturating_sub(signed(worst)),
    };
    let budget = |name, worst| budget_of(name, LAMBDA_TIMEOUT, worst);
    let health = health_worst_case(check_timeout, guards);
    GuardsReport {
        connect_timeout_ms: millis(guards.connect_timeout),
        attempt_timeout_ms: millis(guards.attempt_timeout),
        operation_timeout_ms: millis(guards.operation_timeout),
        max_attempts: guards.max_attempts,
        retry_mode: "standard",
        call_worst_case_ms: millis(guards.call_worst_case()),
        request_worst_case_ms: millis(request),
        check_timeout_ms: millis(check_timeout),
        functions: vec![
            budget("login", request),
            budget("revoke", request),
            budget("authorizer", request),
            budget("webhook-receive", request),
            budget("agent-run", request),
            // One bearer-token read, then the checks side by side.
            budget("security-health", health),
            // The checks beside the previous sample's read, then the write.
            budget("health-probe", health),
            // Per job: its 4 AWS calls (read, start, outbound message, end).
            // The action runs under what the invocation has left, and a job
            // that cannot start in time is left to SQS.
            budget_of(
                "agent-worker",
                WORKER_LAMBDA_TIMEOUT,
                guards.call_worst_case().saturating_mul(4),
            ),
        ],
    }
}

/// `GET /security/configuration`: the start-up findings (warnings
/// included), each secret's rotation (DescribeSecret, under the timeout),
/// and the guards.
pub async fn configuration_report(state: &HealthState) -> ConfigurationReport {
    let mut findings = state.findings.0.clone();
    findings.extend(rotation_findings(&secrets(state).await));
    let checks: Vec<ConfigCheck> = findings
        .into_iter()
        .map(|f| ConfigCheck {
            name: f.check,
            status: status_of(f.severity),
            detail: f.message,
            remediation: f.remediation,
        })
        .collect();
    ConfigurationReport {
        status: Status::worst(checks.iter().map(|c| c.status)),
        checks,
        guards: guards_report(&state.config.aws, state.config.health_check_timeout),
    }
}

/// The `secret_rotation` findings: one per secret in Secrets Manager.
fn rotation_findings(secrets: &[(CheckResult, SecretView)]) -> Vec<Finding> {
    secrets
        .iter()
        .filter(|(_, view)| view.source == "secrets_manager")
        .map(|(check, view)| match view.age_days {
            Some(age) if age > ROTATION_ADVISED_DAYS => Finding::new(
                Check::SecretRotation,
                Severity::Warning,
                format!("the {} secret was not rotated in {age} days", view.name),
                "rotate it (a new version in Secrets Manager); warm functions pick it up at their next cold start",
            ),
            Some(age) => Finding::ok(
                Check::SecretRotation,
                format!("the {} secret was rotated {age} day(s) ago", view.name),
            ),
            None => Finding::new(
                Check::SecretRotation,
                Severity::Warning,
                format!("the age of the {} secret is unknown: {}", view.name, check.detail),
                "check that the secret exists and the function may describe it",
            ),
        })
        .collect()
}

/// `GET /security/secrets`.
pub async fn secrets_report(state: &HealthState) -> SecretsReport {
    SecretsReport {
        secrets: secrets(state).await.into_iter().map(|(_, v)| v).collect(),
    }
}

/// `GET /security/webhooks`.
pub fn webhooks_report(state: &HealthState) -> WebhooksReport {
    WebhooksReport {
        sources: state.inventory.webhooks.sources.clone(),
    }
}
