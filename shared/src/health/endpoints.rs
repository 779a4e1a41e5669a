//! What each security health endpoint answers, assembled from the checks
//! ([`super::checks`]), the samples ([`super::samples`]) and the
//! configuration's findings; the uptime chart from the samples alone.

use std::sync::Arc;
use std::time::Duration;

use super::checks::{Boxed, join_all};
use super::checks::{ROTATION_ADVISED_DAYS, millis, run_checks, secrets, status_of};
use super::report::{
    CheckResult, ConfigCheck, ConfigurationReport, FunctionBudget, GuardsReport, HealthReport,
    SecretView, SecretsReport, WebhooksReport,
};
use super::samples::SETTLED_MS;
use super::uptime::{LONGEST_WINDOW_MS, SLOT_MS, UptimeChart, Window, chart, uptime};
use super::{Sample, Status};
use crate::config::{Check, Finding, Severity, health_worst_case};
use crate::guards::{Guards, LAMBDA_TIMEOUT, WORKER_LAMBDA_TIMEOUT};
use crate::state::HealthState;
use crate::store::health::{DAY_MS, day_of};

/// `GET /security/health`: every check and, read at the same time under
/// the same timeout, uptime from the probe's samples (a day of samples
/// that cannot be read in time counts as unknown; the HealthSamples
/// table's own check says why).
pub async fn health_report(state: &HealthState) -> HealthReport {
    let timeout = state.config.health_check_timeout;
    let now_ms = state.clock.now_millis();
    let (checks, samples) = tokio::join!(
        run_checks(state),
        window_samples(state, now_ms, LONGEST_WINDOW_MS)
    );
    HealthReport {
        status: Status::worst(checks.iter().map(|c| c.status)),
        checks,
        uptime: uptime(&samples, now_ms),
        check_timeout_ms: millis(timeout),
        remaining_ms: None,
    }
}

/// `GET /security/health/uptime?window=W`: the chart of one window's
/// buckets, from the probe's samples read as for the report (cached days
/// as they are; a day that cannot be read in time counts as unknown).
pub async fn uptime_report(state: &HealthState, window: Window) -> UptimeChart {
    let now_ms = state.clock.now_millis();
    let samples = window_samples(state, now_ms, window.millis()).await;
    chart(&samples, now_ms, window)
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

/// The samples of every day a window of `span_ms` (at most 30 days)
/// before `now_ms` touches: cached days as they are, the others read side
/// by side, each under the timeout. A day that cannot be read in time is
/// left out (its minutes are unknown).
async fn window_samples(state: &HealthState, now_ms: i64, span_ms: i64) -> Vec<Sample> {
    let timeout = state.config.health_check_timeout;
    let first = day_of(now_ms.saturating_sub(span_ms.min(LONGEST_WINDOW_MS) + SLOT_MS));
    let last = day_of(now_ms);
    let cached: Vec<(i64, Arc<[Sample]>)> = {
        let mut cache = state.samples.lock();
        // Only the longest window's days stay: a shorter one's read must
        // not drop what the next report needs.
        let oldest = day_of(now_ms.saturating_sub(LONGEST_WINDOW_MS + SLOT_MS));
        cache.retain(|day, _| *day >= oldest);
        cache
            .iter()
            .filter(|(d, _)| **d >= first)
            .map(|(d, s)| (*d, s.clone()))
            .collect()
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
