//! The job worker: one queue message, one job, run at most once.
//!
//! For each message the worker reads the job and its agent in one round
//! trip, then:
//!
//! - a job that has ended, or waits for approval, is left alone (a
//!   redelivered message does nothing);
//! - a `PENDING` job is judged again ([`governance::may_run_now`]: the kill
//!   switch and maturity may have changed since it was queued); refused, it
//!   ends `FAILED` without running; allowed, it moves `PENDING -> RUNNING`
//!   with a conditional write that carries a lease (only one worker wins),
//!   runs under the invocation's deadline, carries out the action's effects,
//!   and ends `SUCCESS` or `FAILED`;
//! - a `RUNNING` job whose lease has passed had a worker that died mid-run:
//!   it ends `FAILED` ("interrupted") and never runs again, since an action
//!   with an external effect must run at most once; one whose lease is live
//!   is retried later;
//! - a message from the dead-letter queue ends its job `FAILED` if it has
//!   not ended, so no job stays `PENDING` or `RUNNING` for ever.
//!
//! A store or queue that fails is an error: the message is reported as a
//! batch item failure and SQS delivers it again.

use std::time::Duration;

use super::catalogue::{Action, Catalogue, Effect, MAX_RESULT_BYTES, Outcome};
use super::governance;
use super::run::JobMessage;
use crate::audit::{AuditEvent, EventType, Origin, Severity};
use crate::domain::agents::{AgentRecord, JobRecord, JobStatus};
use crate::metrics::{self, Metric};
use crate::queue::OutgoingMessage;
use crate::state::WorkerState;
use crate::store::{AgentWrite, JobMove, Write};
use crate::{Error, Result};

/// Time kept back from the invocation's deadline for the final write.
pub const DEADLINE_MARGIN_MS: i64 = 2_000;

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The jobs queue.
    Jobs,
    /// The jobs dead-letter queue: every attempt failed.
    DeadLetter,
}

/// What the worker did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// The action ran; the job ended with this status.
    Ran(JobStatus),
    /// Refused at run time (kill switch, maturity): `FAILED`, not run.
    Blocked,
    /// Its worker had died mid-run: `FAILED`, not run again.
    Interrupted,
    /// From the dead-letter queue: `FAILED`.
    DeadLettered,
    /// Nothing to do (already ended, taken by another worker, unknown).
    Skipped(&'static str),
}

/// Handles one message whose invocation must end by `deadline_ms` (epoch
/// milliseconds). `Err` means "deliver it again".
#[tracing::instrument(skip_all, fields(message_id))]
pub async fn process(
    state: &WorkerState,
    message_id: &str,
    body: &str,
    source: Source,
    deadline_ms: i64,
) -> Result<Processed> {
    let origin = Origin::Queue {
        message_id: message_id.to_owned(),
    };
    let Ok(message) = serde_json::from_str::<JobMessage>(body) else {
        // Redelivering a message that can never parse helps nobody.
        tracing::error!(message_id, "dropping a jobs message that does not parse");
        return Ok(Processed::Skipped("malformed message"));
    };
    let (job, agent) = state
        .store
        .job_and_agent(&message.job_id, &message.agent_id)
        .await?;
    let Some(job) = job else {
        tracing::warn!(job_id = %message.job_id, "a jobs message names no job");
        return Ok(Processed::Skipped("no such job"));
    };
    let now_ms = state.clock.now_millis();

    if source == Source::DeadLetter {
        let from = job.status;
        if !matches!(from, JobStatus::Pending | JobStatus::Running) {
            return Ok(Processed::Skipped("already ended"));
        }
        if from == JobStatus::Running && job.lease_until.is_some_and(|lease| lease > now_ms) {
            // Its worker may still finish: judge it when the lease is over.
            return Err(Error::unavailable(
                "a dead-lettered job is running under a live lease",
            ));
        }
        let reason = "dead-lettered: the job could not be processed after repeated attempts";
        fail(state, &origin, &job, from, reason, "dead_lettered", now_ms).await?;
        return Ok(Processed::DeadLettered);
    }

    match job.status {
        JobStatus::Pending => {}
        JobStatus::Running => {
            if job.lease_until.is_some_and(|lease| lease > now_ms) {
                return Err(Error::unavailable(
                    "the job is running under another worker's live lease",
                ));
            }
            let reason = "interrupted: its worker stopped before finishing; not run again";
            fail(
                state,
                &origin,
                &job,
                JobStatus::Running,
                reason,
                "interrupted",
                now_ms,
            )
            .await?;
            return Ok(Processed::Interrupted);
        }
        _ => return Ok(Processed::Skipped("already ended or awaiting approval")),
    }

    // The message names the agent only to save a round trip; the job's own
    // agent is the one judged, should the two ever differ.
    let agent = match agent {
        Some(a) if a.agent_id == job.agent_id => Some(a),
        _ if message.agent_id != job.agent_id => state.store.get_agent(&job.agent_id).await?,
        other => other,
    };
    let (agent, action) = match judge(state.catalogue, &job, agent.as_ref()) {
        Ok(judged) => judged,
        Err((rule, reason)) => {
            block(state, &origin, &job, rule, &reason, now_ms).await?;
            return Ok(Processed::Blocked);
        }
    };

    let budget = deadline_ms - DEADLINE_MARGIN_MS - now_ms;
    if budget <= 0 {
        return Err(Error::unavailable(
            "too little time left in this invocation",
        ));
    }
    // After the invocation's deadline its worker is surely gone.
    let start = JobMove::new(&job.job_id, JobStatus::Pending, JobStatus::Running, now_ms)
        .lease(deadline_ms);
    // The agent as read may be stale by now: the move is conditional on
    // the agent item too, so a kill switch or a demotion that lands in
    // between still stops the job.
    let still_allowed = AgentWrite::AgentAllows {
        agent_id: agent.agent_id.clone(),
        workspace_id: job.workspace_id.clone(),
        maturities: governance::maturities_that_run(&job, action.complexity()),
    };
    match state
        .store
        .transact(vec![
            AgentWrite::move_job(start)?.into(),
            still_allowed.into(),
        ])
        .await
    {
        Ok(()) => {}
        // Another worker (or a redelivery) moved it first, or the agent
        // changed: read both again to tell which.
        Err(Error::ConditionFailed) => return refused_at_start(state, &origin, &job).await,
        Err(e) => return Err(e),
    }

    // The action is pure CPU work: off the async threads, under the deadline.
    let input = job.input.clone();
    let run = tokio::task::spawn_blocking(move || action.run(&input));
    let budget = Duration::from_millis(u64::try_from(budget).unwrap_or(0));
    let outcome = match tokio::time::timeout(budget, run).await {
        Ok(Ok(result)) => result.map_err(|f| f.0).and_then(within_result_limit),
        Ok(Err(join)) => {
            tracing::error!(job_id = %job.job_id, error = %join, "an action panicked");
            Err("the action failed unexpectedly".to_owned())
        }
        Err(_) => Err(format!(
            "deadline exceeded: the action did not finish within {} ms",
            budget.as_millis()
        )),
    };
    let end = match outcome {
        Ok(outcome) => match carry_out(state, &job, &outcome).await {
            Ok(()) => {
                let mut m = JobMove::new(
                    &job.job_id,
                    JobStatus::Running,
                    JobStatus::Success,
                    state.clock.now_millis(),
                );
                m.result = Some(outcome.result);
                m
            }
            Err(e) => {
                tracing::error!(job_id = %job.job_id, error = %e.chain(), "an effect could not be carried out");
                JobMove::new(
                    &job.job_id,
                    JobStatus::Running,
                    JobStatus::Failed,
                    state.clock.now_millis(),
                )
                .error("the action's effect could not be carried out: the outbound queue did not accept it")
            }
        },
        Err(reason) => JobMove::new(
            &job.job_id,
            JobStatus::Running,
            JobStatus::Failed,
            state.clock.now_millis(),
        )
        .error(reason),
    };
    let status = end.to;
    let event = match status {
        JobStatus::Success => state
            .auditor
            .event(EventType::AgentRunSucceeded, Severity::Info, origin.clone())
            .detail("job_id", job.job_id.clone())
            .detail("action", job.action.clone()),
        _ => state
            .auditor
            .event(EventType::AgentRunFailed, Severity::Warning, origin.clone())
            .detail("job_id", job.job_id.clone())
            .detail("action", job.action.clone())
            .detail("reason", end.error.clone().unwrap_or_default()),
    }
    .subject(format!("agent:{}", job.agent_id))
    .detail("workspace_id", job.workspace_id.as_str());
    // The outcome names the decision that let the job run (AISVS 12.4.2).
    let event = match &job.decision_event_id {
        Some(decision) => event.detail("decision_event_id", decision.clone()),
        None => event,
    };
    match end_job(state, end, event).await {
        Ok(()) => {
            metrics::count(match status {
                JobStatus::Success => Metric::JobSucceeded,
                _ => Metric::JobFailed,
            });
            Ok(Processed::Ran(status))
        }
        // A redelivery found the lease passed and ended it meanwhile.
        Err(Error::ConditionFailed) => Ok(Processed::Skipped("ended by another worker")),
        Err(e) => Err(e),
    }
}

/// The outcome, if its result is within [`MAX_RESULT_BYTES`]; else why the
/// job fails (before any effect is carried out).
fn within_result_limit(outcome: Outcome) -> std::result::Result<Outcome, String> {
    let bytes = serde_json::to_vec(&outcome.result).map_or(usize::MAX, |b| b.len());
    if bytes > MAX_RESULT_BYTES {
        Err(format!(
            "the result is {bytes} bytes, more than the {MAX_RESULT_BYTES} a job keeps: split the input"
        ))
    } else {
        Ok(outcome)
    }
}

/// How often the final write of a job that ran is tried before the message
/// is given back to SQS. The action has run (and its effect may have been
/// published): losing that write would end the job "interrupted" on the
/// next delivery, so a brief store hiccup is retried here first.
const END_ATTEMPTS: u32 = 3;

/// Writes a ran job's end (`RUNNING -> SUCCESS | FAILED`) and its audit
/// event in one transaction, retrying a store that is briefly unavailable.
/// The write is conditional on `RUNNING`, so retrying it can never apply it
/// twice (a retry of one that did commit finds the condition failed).
async fn end_job(state: &WorkerState, end: JobMove, event: AuditEvent) -> Result<()> {
    let writes: Vec<Write> = vec![AgentWrite::move_job(end)?.into(), Write::Audit(event)];
    let mut attempt = 1;
    loop {
        match state.store.transact(writes.clone()).await {
            Err(Error::Unavailable { .. } | Error::OutcomeUnknown { .. })
                if attempt < END_ATTEMPTS =>
            {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// After the conditional start failed: the job was taken by another worker
/// (or a redelivery), or the agent no longer allows it (the kill switch or
/// a demotion landed after the first read), which ends it `FAILED`
/// without running, audited like any run-time refusal.
async fn refused_at_start(
    state: &WorkerState,
    origin: &Origin,
    job: &JobRecord,
) -> Result<Processed> {
    let (now_job, agent) = state
        .store
        .job_and_agent(&job.job_id, &job.agent_id)
        .await?;
    if now_job.is_none_or(|j| j.status != JobStatus::Pending) {
        return Ok(Processed::Skipped("taken by another worker"));
    }
    match judge(state.catalogue, job, agent.as_ref()) {
        Err((rule, reason)) => {
            block(state, origin, job, rule, &reason, state.clock.now_millis()).await?;
            Ok(Processed::Blocked)
        }
        // The agent allows it again (it was changed twice meanwhile): a
        // redelivery will run it.
        Ok(_) => Err(Error::unavailable(
            "the agent changed while the job was starting",
        )),
    }
}

/// Whether `job` may run now with its agent as read (`None`: gone): the
/// agent and the action it runs, or the rule and reason that refuse it at
/// run time.
fn judge<'a>(
    catalogue: &'static Catalogue,
    job: &JobRecord,
    agent: Option<&'a AgentRecord>,
) -> std::result::Result<(&'a AgentRecord, &'static dyn Action), (&'static str, String)> {
    let Some(agent) = agent else {
        let reason = format!("agent {} no longer exists", job.agent_id);
        return Err(("unknown_agent", reason));
    };
    let Some(action) = catalogue.find(agent.agent_type, &job.action) else {
        let reason = format!(
            "unknown action {} for a {} agent",
            job.action, agent.agent_type
        );
        return Err(("unknown_action", reason));
    };
    governance::may_run_now(job, agent, action)
        .map_err(|(rule, reason)| (rule.as_str(), reason))?;
    Ok((agent, action))
}

/// Publishes each effect; the job id is the deduplication id, so a
/// repeated publish is delivered once.
async fn carry_out(state: &WorkerState, job: &JobRecord, outcome: &Outcome) -> Result<()> {
    for effect in &outcome.effects {
        match effect {
            Effect::PublishOutbound(body) => {
                let body = serde_json::to_string(&serde_json::json!({
                    "job_id": job.job_id,
                    "agent_id": job.agent_id,
                    "workspace_id": job.workspace_id,
                    "action": job.action,
                    "payload": body,
                }))
                .map_err(|e| Error::internal_from("serialising an outbound message", e))?;
                state
                    .outbound
                    .send(&OutgoingMessage {
                        body,
                        group_id: job.workspace_id.as_str().to_owned(),
                        deduplication_id: job.job_id.clone(),
                    })
                    .await?;
            }
        }
    }
    Ok(())
}

/// Ends a job `FAILED` from `from` without running it, audited as
/// `AGENT_RUN_FAILED` with `kind`.
async fn fail(
    state: &WorkerState,
    origin: &Origin,
    job: &JobRecord,
    from: JobStatus,
    reason: &str,
    kind: &str,
    now_ms: i64,
) -> Result<()> {
    let event = state
        .auditor
        .event(EventType::AgentRunFailed, Severity::Warning, origin.clone())
        .subject(format!("agent:{}", job.agent_id))
        .detail("job_id", job.job_id.clone())
        .detail("reason", kind.to_owned());
    end_without_running(state, job, from, reason, event, now_ms).await
}

/// Ends a `PENDING` job `FAILED` because governance refused it at run time,
/// audited as `AGENT_RUN_BLOCKED` with the rule.
async fn block(
    state: &WorkerState,
    origin: &Origin,
    job: &JobRecord,
    rule: &str,
    reason: &str,
    now_ms: i64,
) -> Result<()> {
    let event = state
        .auditor
        .event(
            EventType::AgentRunBlocked,
            Severity::Warning,
            origin.clone(),
        )
        .subject(format!("agent:{}", job.agent_id))
        .detail("job_id", job.job_id.clone())
        .detail("rule", rule.to_owned())
        .detail("at", "run_time");
    end_without_running(state, job, JobStatus::Pending, reason, event, now_ms).await
}

async fn end_without_running(
    state: &WorkerState,
    job: &JobRecord,
    from: JobStatus,
    reason: &str,
    event: crate::audit::AuditEvent,
    now_ms: i64,
) -> Result<()> {
    let m = JobMove::new(&job.job_id, from, JobStatus::Failed, now_ms).error(reason);
    match state
        .store
        .transact(vec![AgentWrite::move_job(m)?.into(), Write::Audit(event)])
        .await
    {
        Ok(()) => {
            metrics::count(Metric::JobFailed);
            Ok(())
        }
        // Someone else moved it first; their outcome stands.
        Err(Error::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Receives before a local message is treated as dead-lettered, as the
/// jobs queue's redrive policy does in AWS.
pub const MAX_RECEIVES: u32 = 5;

/// How long one local invocation may take, standing in for the Lambda
/// timeout.
pub const LOCAL_INVOCATION_MS: i64 = 30_000;

/// How long the embedded queue waits before delivering a message again
/// after its `attempt`-th failure (from 1): 1, 2, 4, 8, 16 seconds. Their
/// sum outlasts [`LOCAL_INVOCATION_MS`], the lease a started job holds, so
/// a job whose final write was lost is still delivered once its lease has
/// passed (and ended `interrupted`) rather than dead-lettered while the
/// lease refuses every delivery; the sweeper covers the rest.
pub fn local_redelivery_delay(attempt: u32) -> Duration {
    Duration::from_secs(1 << attempt.saturating_sub(1).min(10))
}

/// The in-process worker of `warden serve`: takes each message from the
/// embedded jobs queue and processes it like the Lambda would, each on its
/// own task. A failure is retried with backoff, like an SQS redelivery;
/// after [`MAX_RECEIVES`] attempts the message is handled as a dead letter.
/// Runs until the queue's senders are gone.
pub async fn drain_local(
    state: std::sync::Arc<WorkerState>,
    mut messages: tokio::sync::mpsc::UnboundedReceiver<OutgoingMessage>,
) {
    while let Some(message) = messages.recv().await {
        let state = state.clone();
        tokio::spawn(async move {
            let id = ulid::Ulid::new().to_string();
            for attempt in 1..=MAX_RECEIVES {
                let deadline = state.clock.now_millis() + LOCAL_INVOCATION_MS;
                match process(&state, &id, &message.body, Source::Jobs, deadline).await {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::warn!(message_id = %id, attempt, error = %e.chain(), "job message failed; retrying");
                        tokio::time::sleep(local_redelivery_delay(attempt)).await;
                    }
                }
            }
            let deadline = state.clock.now_millis() + LOCAL_INVOCATION_MS;
            if let Err(e) = process(&state, &id, &message.body, Source::DeadLetter, deadline).await
            {
                tracing::error!(message_id = %id, error = %e.chain(), "a dead-lettered job could not be marked FAILED");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_queue_keeps_delivering_past_a_started_jobs_lease() {
        // A job whose final write was lost is RUNNING under a lease of one
        // local invocation; the deliveries must outlast it, or the job is
        // dead-lettered while the lease refuses every delivery.
        let retrying: Duration = (1..MAX_RECEIVES).map(local_redelivery_delay).sum();
        let lease = Duration::from_millis(u64::try_from(LOCAL_INVOCATION_MS).unwrap_or(0));
        assert!(retrying + local_redelivery_delay(MAX_RECEIVES) > lease);
        assert_eq!(
            (1..=MAX_RECEIVES)
                .map(|a| local_redelivery_delay(a).as_secs())
                .collect::<Vec<_>>(),
            [1, 2, 4, 8, 16]
        );
    }
}
