//! The agents port: the registry (agents, workspaces), jobs, proposals and
//! the idempotency records of run requests.
//!
//! A job's status only moves forward: [`JobMove`] names the status it
//! expects, and the store refuses the move ([`crate::Error::ConditionFailed`])
//! when the job is anywhere else, so a redelivered message, a second worker
//! or a late approval can never move a job back.

use async_trait::async_trait;
use serde_json::Value;

use crate::Result;
use crate::domain::agents::{
    AgentId, AgentRecord, IdempotencyRecord, JobRecord, JobStatus, Maturity, ProposalRecord,
    ProposalStatus, WorkspaceId, WorkspaceRecord,
};

/// One forward move of a job's status.
#[derive(Debug, Clone, PartialEq)]
pub struct JobMove {
    /// The job.
    pub job_id: String,
    /// The status it must have now (the write's condition).
    pub from: JobStatus,
    /// The status it gets; `from.can_move_to(to)` must hold.
    pub to: JobStatus,
    /// When (epoch milliseconds); becomes `updated_at`.
    pub at: i64,
    /// The lease of a job moved to `RUNNING`, or when the sweeper sends a
    /// job moved to `PENDING` again (epoch milliseconds). A job that ends
    /// holds none.
    pub lease_until: Option<i64>,
    /// A further condition: the stored lease has passed by this time
    /// (epoch milliseconds). The sweeper's end of an interrupted job.
    pub if_lease_before: Option<i64>,
    /// The result of a job moved to `SUCCESS`.
    pub result: Option<Value>,
    /// Why a job moved to `FAILED` or `REJECTED`.
    pub error: Option<String>,
    /// The decision that let a job moved to `PENDING` run (an approval's
    /// audit event, [`JobRecord::decision_event_id`]).
    pub decision_event_id: Option<String>,
}

impl JobMove {
    /// A move of `job_id` from `from` to `to` at `at`, with nothing else set.
    pub fn new(job_id: &str, from: JobStatus, to: JobStatus, at: i64) -> Self {
        Self {
            job_id: job_id.to_owned(),
            from,
            to,
            at,
            lease_until: None,
            if_lease_before: None,
            result: None,
            error: None,
            decision_event_id: None,
        }
    }

    /// Records the decision that lets the job run (see
    /// [`JobMove::decision_event_id`]).
    pub fn decision(mut self, event_id: &str) -> Self {
        self.decision_event_id = Some(event_id.to_owned());
        self
    }

    /// Sets the lease (see [`JobMove::lease_until`]).
    pub fn lease(mut self, until: i64) -> Self {
        self.lease_until = Some(until);
        self
    }

    /// Sets the error.
    pub fn error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }
}

/// An agents state change, applied inside [`super::Transactions::transact`].
#[derive(Debug, Clone, PartialEq)]
pub enum AgentWrite {
    /// Adds a workspace. Condition: its id is new.
    CreateWorkspace(WorkspaceRecord),
    /// Registers an agent. Condition: its id is new.
    CreateAgent(AgentRecord),
    /// Changes an agent's maturity; a demotion (`maturity` below `was`)
    /// also raises its kill generation. Condition: the agent exists at
    /// maturity `was`.
    SetMaturity {
        /// The agent.
        agent_id: AgentId,
        /// The level read before.
        was: Maturity,
        /// The new level.
        maturity: Maturity,
        /// Epoch seconds.
        at: i64,
    },
    /// Flips the kill switch; disabling also raises the agent's kill
    /// generation. Condition: the agent exists.
    SetEnabled {
        /// The agent.
        agent_id: AgentId,
        /// Whether it may run.
        enabled: bool,
        /// Epoch seconds.
        at: i64,
    },
    /// Stores a new job. Condition: its id is new.
    CreateJob(JobRecord),
    /// Moves a job forward. Condition: its status is `from`, and
    /// `from.can_move_to(to)` (so a write built without
    /// [`AgentWrite::move_job`] cannot move a job back either).
    MoveJob(JobMove),
    /// The sweeper sends a `PENDING` job to the queue again and moves its
    /// lease on. Condition: it is still `PENDING` under the lease read.
    Requeue {
        /// The job.
        job_id: String,
        /// The lease read (epoch milliseconds).
        lease_was: i64,
        /// The next one (epoch milliseconds).
        lease_until: i64,
        /// How many times it has now been sent again.
        requeues: u32,
    },
    /// A condition only, checked with the other writes of a transaction:
    /// the agent exists, is enabled, may work in the workspace, and is at
    /// one of `maturities`. The worker's `PENDING -> RUNNING` carries it,
    /// so a kill switch or a demotion that lands after the worker read the
    /// agent still stops the job.
    AgentAllows {
        /// The agent.
        agent_id: AgentId,
        /// The job's workspace.
        workspace_id: WorkspaceId,
        /// The maturities that still allow the job.
        maturities: Vec<Maturity>,
    },
    /// Stores a new proposal. Condition: its id is new.
    CreateProposal(ProposalRecord),
    /// Decides, expires or uses a proposal. Condition: its status is
    /// `from` (`PENDING` for a decision; `APPROVED` for a tool call's
    /// approval used or expired).
    DecideProposal {
        /// The proposal.
        proposal_id: String,
        /// The status it must have now.
        from: ProposalStatus,
        /// `APPROVED`, `REJECTED`, `EXPIRED` or `USED`.
        status: ProposalStatus,
        /// Who decided (`None` for an expiry).
        decided_by: Option<String>,
        /// The reason given.
        reason: Option<String>,
        /// Epoch milliseconds.
        at: i64,
    },
    /// Keeps a run request's answer. Condition: no live record under its
    /// key (none, or one expired by `now`, epoch seconds).
    PutIdempotency {
        /// The record.
        record: IdempotencyRecord,
        /// Epoch seconds.
        now: i64,
    },
    /// Forgets a run request's answer (its job could not be queued, so a
    /// retry must be able to try again). Unconditional.
    DeleteIdempotency {
        /// See [`super::keys::idempotency`].
        key: String,
    },
}

impl AgentWrite {
    /// The write of `mv`, refused before it reaches the store when the move
    /// goes anywhere but forward.
    pub fn move_job(mv: JobMove) -> Result<Self> {
        if mv.from.can_move_to(mv.to) {
            Ok(AgentWrite::MoveJob(mv))
        } else {
            Err(crate::Error::internal(format!(
                "a job cannot move from {} to {}",
                mv.from, mv.to
            )))
        }
    }
}

/// What a run request reads: the agent, the workspace and, if the request
/// carries one, its idempotency record, live at `now` (epoch seconds).
#[derive(Debug, Clone, Copy)]
pub struct RunLookup<'a> {
    /// The agent asked to run.
    pub agent_id: &'a AgentId,
    /// The workspace it would run in.
    pub workspace_id: &'a WorkspaceId,
    /// The request's idempotency record key, if any.
    pub idempotency_key: Option<&'a str>,
    /// The RateLimits key of the caller's run limit, if it has one (a
    /// person: [`super::keys::user_runs`]), read in the same round trip.
    pub rate_key: Option<&'a str>,
    /// Now, epoch seconds.
    pub now: i64,
}

/// What a run request needs to decide, read in one round trip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunContext {
    /// The agent, if registered.
    pub agent: Option<AgentRecord>,
    /// The workspace, if it exists.
    pub workspace: Option<WorkspaceRecord>,
    /// A live answer kept under the request's idempotency key.
    pub idempotency: Option<IdempotencyRecord>,
    /// The theoretical arrival time under `rate_key`, if one is stored.
    pub rate_tat: Option<i64>,
}

/// One page of a listing; `next` is the cursor of the following page (the
/// last id of this one) when there may be more.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// Where the next page starts, if there may be one.
    pub next: Option<String>,
}

/// Agents, workspaces, jobs and proposals.
#[async_trait]
pub trait AgentStore: Send + Sync {
    /// One agent.
    async fn get_agent(&self, agent_id: &AgentId) -> Result<Option<AgentRecord>>;

    /// Every agent, by id.
    async fn list_agents(&self) -> Result<Vec<AgentRecord>>;

    /// One workspace.
    async fn get_workspace(&self, workspace_id: &WorkspaceId) -> Result<Option<WorkspaceRecord>>;

    /// The agent, the workspace and the live idempotency record the
    /// `lookup` names: one consistent round trip.
    async fn run_context(&self, lookup: RunLookup<'_>) -> Result<RunContext>;

    /// The live idempotency record under `key` at `now` (epoch seconds).
    async fn get_idempotency(&self, key: &str, now: i64) -> Result<Option<IdempotencyRecord>>;

    /// One job (consistent).
    async fn get_job(&self, job_id: &str) -> Result<Option<JobRecord>>;

    /// A job and an agent in one consistent round trip (the worker's read).
    async fn job_and_agent(
        &self,
        job_id: &str,
        agent_id: &AgentId,
    ) -> Result<(Option<JobRecord>, Option<AgentRecord>)>;

    /// A workspace's jobs, newest first, optionally of one status, at most
    /// `limit`, after the job `after` (a previous page's `next`).
    async fn list_jobs(
        &self,
        workspace_id: &WorkspaceId,
        status: Option<JobStatus>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<JobRecord>>;

    /// One proposal (consistent).
    async fn get_proposal(&self, proposal_id: &str) -> Result<Option<ProposalRecord>>;

    /// Jobs that have not ended whose lease (`lease_until`) is at or before
    /// `now_ms`, soonest first, at most `limit`: the sweeper's read.
    async fn due_jobs(&self, now_ms: i64, limit: usize) -> Result<Vec<JobRecord>>;

    /// Proposals of one status, oldest first, at most `limit`, after the
    /// proposal `after`.
    async fn list_proposals(
        &self,
        status: ProposalStatus,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ProposalRecord>>;
}
