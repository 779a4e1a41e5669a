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

use super::checks::run_checks;
use super::report::CheckResult;
use super::uptime::SLOT_MS;
use super::{Sample, Status};
use crate::Result;
use crate::audit::{EventType, Origin, Severity};
use crate::metrics::{Metric, count};
use crate::state::HealthState;
use crate::store::Write;
use crate::store::health::{HealthWrite, SAMPLE_RETENTION_SECS, day_of};

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
    /// `false` when this minute's sample was already stored (a second
    /// delivery of the scheduled event): nothing was written.
    pub recorded: bool,
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
/// change) at `at_ms`: the minute the schedule fired for, so that a late
/// or slow run still lands in its own slot, and a second delivery of the
/// same scheduled event finds its sample stored and writes nothing. Fails,
/// writing nothing, when the sample cannot be stored.
pub async fn probe(state: &HealthState, origin: Origin, at_ms: i64) -> Result<ProbeRun> {
    let timeout = state.config.health_check_timeout;
    // The previous sample is read beside the checks, under the same
    // timeout; an unreadable one must not stop the new one from being
    // stored: the change is then judged against `ok`.
    let previous = async {
        match tokio::time::timeout(timeout, state.store.latest_sample(day_of(at_ms))).await {
            Ok(Ok(previous)) => previous,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "probe: newest sample unreadable");
                None
            }
            Err(_) => {
                tracing::warn!("probe: newest sample not read in time");
                None
            }
        }
    };
    let (checks, previous) = tokio::join!(run_checks(state), previous);
    let status = Status::worst(checks.iter().map(|c| c.status));
    // Counted before the write: a store that cannot take the sample is
    // itself a reason to alarm.
    if status == Status::Failing {
        count(Metric::HealthFailing);
    }
    let sample = Sample {
        at_ms,
        status,
        failing: names(&checks, Status::Failing),
    };
    let mut writes: Vec<Write> = vec![
        HealthWrite::Sample {
            sample: sample.clone(),
            expires_at: at_ms.div_euclid(1000) + SAMPLE_RETENTION_SECS,
        }
        .into(),
    ];
    let change = transition(previous.as_ref().map(|p| p.status), status);
    if let Some((event_type, severity)) = change {
        let event = state
            .auditor
            .event(event_type, severity, origin)
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
    let recorded = match state.store.transact(writes).await {
        Ok(()) => true,
        // This minute's sample is already stored: a second delivery.
        Err(crate::Error::ConditionFailed) => false,
        Err(e) => return Err(e),
    };
    // A change is worth a line at info; a steady state once a minute is not.
    if recorded && change.is_some() {
        tracing::info!(status = %status, failing = ?sample.failing, "health changed");
    } else {
        tracing::debug!(status = %status, failing = ?sample.failing, recorded, "health probe");
    }
    Ok(ProbeRun {
        sample,
        event: change.filter(|_| recorded).map(|(e, _)| e),
        checks,
        recorded,
    })
}

/// The start of the minute `at_ms` falls in: a scheduled run's sample
/// time.
pub fn minute_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(SLOT_MS).saturating_mul(SLOT_MS)
}

/// The sample time of a run for a scheduled event whose `time` is
/// `event_time` (RFC 3339, as EventBridge sends it): the start of that
/// minute, or of the minute of `now_ms` when the event has no readable
/// time.
pub fn scheduled_at(event_time: Option<&str>, now_ms: i64) -> i64 {
    let scheduled = event_time.and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    });
    let at_ms = scheduled
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok())
        .unwrap_or(now_ms);
    minute_of(at_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduled_run_is_sampled_at_the_start_of_its_minute() {
        // 2026-11-29T12:00:00Z
        let minute = 1_795_953_600_000;
        assert_eq!(scheduled_at(Some("2026-11-29T12:00:00Z"), 0), minute);
        assert_eq!(scheduled_at(Some("2026-11-29T12:00:59.9Z"), 0), minute);
        assert_eq!(scheduled_at(None, minute + 59_999), minute);
        assert_eq!(scheduled_at(Some("yesterday"), minute + 1), minute);
    }

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
