//! The scheduled probe: every minute (an EventBridge schedule in AWS, a
//! timer under `warden serve`) it runs the health checks, stores one
//! sample, and audits each change of status, in one transaction with the
//! sample, so that neither exists without the other.
//!
//! A change is judged against the newest stored sample, read while the
//! checks run: `HEALTH_FAILING` (critical) when the status becomes
//! `failing`, `HEALTH_DEGRADED` (warning) when it becomes `degraded`,
//! `HEALTH_RECOVERED` when it becomes `ok` again. The first sample ever
//! audits only a status other than `ok`.

use super::checks::{run_checks, CheckResult};
use super::{Sample, Status};
use crate::audit::{EventType, Origin, Severity};
use crate::metrics::{count, Metric};
use crate::state::HealthState;
use crate::store::health::{day_of, HealthWrite, SAMPLE_RETENTION_SECS};
use crate::store::Write;
use crate::Result;

/// The audit actor of the probe's events.
pub const PROBE_ACTOR: &str = "health-probe";

/// What one probe run found and recorded.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// The stored sample.
    pub sample: Sample,
    /// The audit event written with it, if the status changed.
    pub event: Option<EventType>,
    /// Every check, as the report would show it.
    pub checks: Vec<CheckResult>,
}

/// The audit event of a change from `previous` to `current`, if any.
pub fn transition(previous: Option<Status>, current: Status) -> Option<(EventType, Severity)> {
    if previous.unwrap_or(Status::Ok) == current {
        return None;
    }
    Some(match current {
        Status::Failing => (EventType::HealthFailing, Severity::Critical),
        Status::Degraded => (EventType::HealthDegraded, Severity::Warning),
        Status::Ok => (EventType::HealthRecovered, Severity::Info),
    })
}

fn names(checks: &[CheckResult], status: Status) -> Vec<String> {
    let mut names: Vec<String> = checks
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.name.clone())
        .collect();
    names.sort();
    names
}

/// Runs the checks and records the sample (and the audit event of a
/// change). Fails, writing nothing, when the sample cannot be stored.
pub async fn probe(state: &HealthState, origin: Origin) -> Result<ProbeRun> {
    let today = day_of(state.clock.now_millis());
    let (checks, previous) = tokio::join!(run_checks(state), state.store.latest_sample(today));
    // An unreadable previous sample must not stop the new one from being
    // stored: the change is then judged against `ok`.
    let previous = previous
        .inspect_err(|e| tracing::warn!(error = %e, "probe: newest sample unreadable"))
        .ok()
        .flatten();
    let status = Status::worst(checks.iter().map(|c| c.status));
    let at_ms = state.clock.now_millis();
    let sample = Sample {
        at_ms,
        status,
        failing: names(&checks, Status::Failing),
    };
    let mut writes: Vec<Write> = vec![HealthWrite::Sample {
        sample: sample.clone(),
        expires_at: at_ms.div_euclid(1000) + SAMPLE_RETENTION_SECS,
    }
    .into()];
    let change = transition(previous.as_ref().map(|p| p.status), status);
    if let Some((event_type, severity)) = change {
        let event = state
            .audit(event_type, severity, origin)
            .actor(PROBE_ACTOR)
            .detail("status", status.as_str())
            .detail(
                "previous",
                previous.as_ref().map_or("none", |p| p.status.as_str()),
            )
            .detail("failing", sample.failing.clone())
            .detail("degraded", names(&checks, Status::Degraded));
        writes.push(event.into());
    }
    state.store.transact(writes).await?;
    if status == Status::Failing {
        count(Metric::HealthFailing);
    }
    tracing::info!(status = %status, failing = ?sample.failing, "health probe");
    Ok(ProbeRun {
        sample,
        event: change.map(|(e, _)| e),
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_of_status_has_its_event_and_no_change_has_none() {
        use EventType::{HealthDegraded, HealthFailing, HealthRecovered};
        use Status::{Degraded, Failing, Ok};
        let cases = [
            (None, Ok, None),
            (None, Degraded, Some(HealthDegraded)),
            (None, Failing, Some(HealthFailing)),
            (Some(Ok), Ok, None),
            (Some(Ok), Degraded, Some(HealthDegraded)),
            (Some(Ok), Failing, Some(HealthFailing)),
            (Some(Degraded), Degraded, None),
            (Some(Degraded), Failing, Some(HealthFailing)),
            (Some(Degraded), Ok, Some(HealthRecovered)),
            (Some(Failing), Failing, None),
            (Some(Failing), Degraded, Some(HealthDegraded)),
            (Some(Failing), Ok, Some(HealthRecovered)),
        ];
        for (previous, current, expected) in cases {
            assert_eq!(
                transition(previous, current).map(|(e, _)| e),
                expected,
                "{previous:?} -> {current:?}"
            );
        }
        assert_eq!(
            transition(Some(Ok), Failing).map(|(_, s)| s),
            Some(Severity::Critical)
        );
    }
}
