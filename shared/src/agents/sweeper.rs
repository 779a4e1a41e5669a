//! The sweeper: every job ends, whatever was lost on the way.
//!
//! A queue message can be lost for good: the worker's final write lost
//! while its lease was live (each redelivery refused, the dead-letter pass
//! too), a create that committed after the caller's timeout and was never
//! sent, a queue that refused the send. So every job that has not ended
//! carries a lease (`lease_until`, epoch ms): a `RUNNING` job until its
//! worker's invocation deadline, a `PENDING` job [`PENDING_LEASE_MS`] after
//! each time it is sent to the queue (at submission and at approval). Once
//! a minute the sweeper reads the jobs whose lease has passed (a sparse
//! index in DynamoDB, so this is one Query, never a Scan) and:
//!
//! - ends each `RUNNING` one `FAILED` `interrupted`, on condition that its
//!   lease is still past (an action with an external effect runs at most
//!   once, so it is never run again);
//! - sends each `PENDING` one to the queue again and moves its lease on by
//!   2, 4, 8, 16 then 30 minutes, in one conditional write (a job already
//!   queued is harmless: the worker's conditional `PENDING -> RUNNING` runs
//!   it once); after [`MAX_REQUEUES`] sends it ends `FAILED` `not_queued`.
//!
//! Worst case, then: a `RUNNING` job stays stranded until its lease (the
//! worker's invocation deadline) plus one sweep interval; a `PENDING` job
//! is sent again within [`PENDING_LEASE_MS`] plus one interval, and ends
//! after about two and a half hours if the queue never takes it.

use std::time::Duration;

use super::catalogue::Catalogue;
use super::run::send_job;
use crate::Result;
use crate::audit::{EventType, Origin, Severity};
use crate::domain::agents::{Complexity, JobRecord, JobStatus};
use crate::queue::Queue;
use crate::state::WorkerState;
use crate::store::{AgentWrite, JobMove, Write};

/// How long a `PENDING` job may wait for its worker before the sweeper
/// sends it again: 2 minutes.
pub const PENDING_LEASE_MS: i64 = 2 * 60_000;

/// The longest the sweeper moves a `PENDING` job's lease on by: 30 minutes.
pub const MAX_REQUEUE_STEP_MS: i64 = 30 * 60_000;

/// How many times the sweeper sends a job again before it ends it `FAILED`
/// (2 + 4 + 8 + 16 + 30 + 30 + 30 + 30 minutes: 150 minutes of trying).
pub const MAX_REQUEUES: u32 = 8;

/// How often the sweeper runs: every minute (an EventBridge schedule in
/// AWS, a task in `warden serve`).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// How many due jobs one read returns.
const BATCH: usize = 100;

/// How many reads one sweep makes at most (a job that cannot be handled
/// stays due; this keeps a sweep bounded).
const MAX_BATCHES: usize = 10;

/// The error of a job ended because its worker stopped before finishing.
pub const INTERRUPTED: &str = "interrupted: its worker stopped before finishing; not run again";

/// The error of an interrupted job whose action publishes an effect.
pub const INTERRUPTED_EFFECT: &str =
    "interrupted: its effect may have been published (outbound dedupe id = job id); not run again";

/// How far the `n`-th send again (from 1) moves a `PENDING` job's lease on:
/// 2, 4, 8, 16, then 30 minutes.
pub fn requeue_step_ms(n: u32) -> i64 {
    let doublings = n.saturating_sub(1).min(8);
    (PENDING_LEASE_MS << doublings).min(MAX_REQUEUE_STEP_MS)
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// `RUNNING` jobs ended `FAILED` `interrupted`.
    pub interrupted: usize,
    /// `PENDING` jobs sent to the queue again.
    pub requeued: usize,
    /// `PENDING` jobs ended `FAILED` after [`MAX_REQUEUES`] sends.
    pub abandoned: usize,
    /// Due jobs left for the next sweep (a store or queue failure).
    pub failed: usize,
}

impl Swept {
    /// How many due jobs were moved on (ended or sent again).
    fn settled(self) -> usize {
        self.interrupted + self.requeued + self.abandoned
    }
}

/// One sweep at the state's clock, sending again through `jobs`.
#[tracing::instrument(skip_all)]
pub async fn sweep(state: &WorkerState, jobs: &dyn Queue) -> Result<Swept> {
    let origin = Origin::Schedule {
        rule: "job-sweeper".into(),
    };
    let mut swept = Swept::default();
    for _ in 0..MAX_BATCHES {
        let now_ms = state.clock.now_millis();
        let due = state.store.due_jobs(now_ms, BATCH).await?;
        let full = due.len() == BATCH;
        let settled_before = swept.settled();
        for job in due {
            let handled = match job.status {
                JobStatus::Running => interrupt(state, &origin, &job, now_ms)
                    .await
                    .map(|ended| swept.interrupted += usize::from(ended)),
                JobStatus::Pending => requeue(state, jobs, &origin, &job, now_ms, &mut swept).await,
                // The index holds only jobs that have not ended.
                _ => Ok(()),
            };
            if let Err(e) = handled {
                tracing::warn!(job_id = %job.job_id, error = %e.chain(), "a due job was left for the next sweep");
                swept.failed += 1;
            }
        }
        // Stop when the index is drained, or when a whole batch changed
        // nothing (the same jobs would be read again).
        if !full || swept.settled() == settled_before {
            break;
        }
    }
    if swept != Swept::default() {
        tracing::info!(?swept, "sweep done");
    }
    Ok(swept)
}

/// Ends a `RUNNING` job whose lease has passed; `false` if it moved first.
async fn interrupt(
    state: &WorkerState,
    origin: &Origin,
    job: &JobRecord,
    now_ms: i64,
) -> Result<bool> {
    let reason = if publishes_effect(state, state.catalogue, job).await? {
        INTERRUPTED_EFFECT
    } else {
        INTERRUPTED
    };
    let mut end =
        JobMove::new(&job.job_id, JobStatus::Running, JobStatus::Failed, now_ms).error(reason);
    end.if_lease_before = Some(now_ms);
    let event = state
        .auditor
        .event(EventType::AgentRunFailed, Severity::Warning, origin.clone())
        .subject(format!("agent:{}", job.agent_id))
        .detail("job_id", job.job_id.clone())
        .detail("reason", "interrupted")
        .detail("by", "sweeper");
    ended(
        state
            .store
            .transact(vec![AgentWrite::move_job(end)?.into(), Write::Audit(event)])
            .await,
    )
}

/// Whether the job's action publishes an external effect (complexity 4):
/// its interruption may have happened after the publish.
async fn publishes_effect(
    state: &WorkerState,
    catalogue: &Catalogue,
    job: &JobRecord,
) -> Result<bool> {
    let agent = state.store.get_agent(&job.agent_id).await?;
    Ok(agent
        .and_then(|a| catalogue.find(a.agent_type, &job.action))
        // An action no longer known: say what may have happened.
        .is_none_or(|action| action.complexity() == Complexity::ExternalEffect))
}

/// Sends a `PENDING` job whose lease has passed to the queue again, or
/// ends it once it has been sent [`MAX_REQUEUES`] times.
async fn requeue(
    state: &WorkerState,
    jobs: &dyn Queue,
    origin: &Origin,
    job: &JobRecord,
    now_ms: i64,
    swept: &mut Swept,
) -> Result<()> {
    let Some(lease_was) = job.lease_until else {
        return Ok(());
    };
    if job.requeues >= MAX_REQUEUES {
        let end = JobMove::new(&job.job_id, JobStatus::Pending, JobStatus::Failed, now_ms)
            .error("the job could not be queued; submit it again");
        let event = state
            .auditor
            .event(EventType::AgentRunFailed, Severity::Warning, origin.clone())
            .subject(format!("agent:{}", job.agent_id))
            .detail("job_id", job.job_id.clone())
            .detail("reason", "not_queued")
            .detail("by", "sweeper");
        if ended(
            state
                .store
                .transact(vec![AgentWrite::move_job(end)?.into(), Write::Audit(event)])
                .await,
        )? {
            swept.abandoned += 1;
        }
        return Ok(());
    }
    let requeues = job.requeues + 1;
    // A deduplication id of its own: SQS FIFO drops a repeat of the
    // original id for five minutes, and this send is meant to arrive.
    send_job(
        jobs,
        &job.agent_id,
        &job.job_id,
        &format!("{}-r{requeues}", job.job_id),
    )
    .await?;
    let write = AgentWrite::Requeue {
        job_id: job.job_id.clone(),
        lease_was,
        lease_until: now_ms + requeue_step_ms(requeues),
        requeues,
    };
    if ended(state.store.transact(vec![write.into()]).await)? {
        swept.requeued += 1;
    }
    Ok(())
}

/// A conditional write's outcome: applied, or someone else moved the job
/// first (their outcome stands).
fn ended(written: Result<()>) -> Result<bool> {
    match written {
        Ok(()) => Ok(true),
        Err(crate::Error::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_moves_on_by_two_four_eight_sixteen_then_thirty_minutes() {
        let minutes: Vec<i64> = (1..=MAX_REQUEUES)
            .map(|n| requeue_step_ms(n) / 60_000)
            .collect();
        assert_eq!(minutes, [2, 4, 8, 16, 30, 30, 30, 30]);
        assert_eq!(minutes.iter().sum::<i64>(), 150);
    }
}
