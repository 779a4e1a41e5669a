//! Every health check and how each is bounded in time; the reports built
//! from them are [`super::endpoints`]'s.
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

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use super::Status;
use super::dependencies::{SecretInfo, TableInfo};
use super::inventory::{QueueTarget, SecretSource, WebhookInventory};
use super::report::{CheckResult, SecretView};
use crate::clock::rfc3339;
use crate::config::{Environment, Findings, Severity};
use crate::state::HealthState;
use crate::store::TableTarget;
use crate::store::health::DAY_MS;

/// A secret not rotated for longer than this is a warning.
pub const ROTATION_ADVISED_DAYS: i64 = 90;

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

pub(super) type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs every future at once on the current task; outputs in order.
pub(super) async fn join_all<T>(futures: Vec<Boxed<'_, T>>) -> Vec<T> {
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

pub(super) fn millis(d: Duration) -> u64 {
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

pub(super) fn status_of(severity: Severity) -> Status {
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

async fn table_outcome(state: &HealthState, table: &TableTarget) -> Outcome {
    let name = &table.name;
    let Some(deps) = &state.dependencies else {
        return Outcome::failing("no AWS client to describe it");
    };
    match deps.table(name, table.ttl_attribute.is_some()).await {
        Err(e) => Outcome::failing(unreachable_detail(&format!("DescribeTable {name}"), &e)),
        Ok(None) => Outcome::failing(format!("table {name} does not exist")),
        Ok(Some(TableInfo { status, ttl })) => {
            let state_outcome = match status.as_str() {
                "ACTIVE" => Outcome::ok(format!("{name} ACTIVE")),
                "UPDATING" => Outcome::degraded(format!("{name} UPDATING")),
                other => Outcome::failing(format!("{name} is {other}, not ACTIVE")),
            };
            let expected = table.ttl_attribute.unwrap_or_default();
            match ttl {
                Some((ttl_status, attribute))
                    if ttl_status != "ENABLED" || attribute.as_deref() != Some(expected) =>
                {
                    Outcome {
                        status: state_outcome.status.max(Status::Degraded),
                        detail: format!(
                            "{}; TTL on {expected} is {ttl_status}: expired items are never deleted",
                            state_outcome.detail,
                        ),
                    }
                }
                Some(_) => Outcome {
                    status: state_outcome.status,
                    detail: format!("{}, TTL on {expected} enabled", state_outcome.detail),
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
pub(super) async fn secrets(state: &HealthState) -> Vec<(CheckResult, SecretView)> {
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
    match &state.inventory.tables {
        None => checks.push(Box::pin(async move {
            vec![
                timed("store".into(), timeout, async {
                    Outcome::ok("embedded in-process store: no tables to describe")
                })
                .await,
            ]
        })),
        Some(tables) => {
            for table in tables {
                checks.push(Box::pin(async move {
                    vec![
                        timed(
                            format!("table:{}", table.suffix),
                            timeout,
                            table_outcome(state, table),
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
