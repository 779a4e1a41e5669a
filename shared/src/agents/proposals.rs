//! Proposals: runs that wait for a human. An `approver` (or `admin`)
//! approves one (its job is queued) or rejects it (its job ends
//! `REJECTED`); the user who asked for the run may reject it but never
//! approve it. A proposal not decided within [`PROPOSAL_WINDOW_SECS`]
//! expires, applied when it or its job is next read or decided.
//!
//! Each decision is one transaction: the proposal's status (condition: still
//! `PENDING`), the job's move (condition: still `AWAITING_APPROVAL`) and the
//! audit event, so two approvers racing get one success and one `409`.

use serde::Serialize;

use super::run::{Caller, enqueue};
use super::sweeper::PENDING_LEASE_MS;
use crate::audit::{EventType, Origin, Severity};
use crate::clock::rfc3339;
use crate::domain::Role;
use crate::domain::agents::{
    AgentId, JobRecord, JobStatus, ProposalRecord, ProposalStatus, WorkspaceId, is_generated_id,
};
use crate::state::AgentState;
use crate::store::{AgentWrite, JobMove, Write};
use crate::{Error, Result};

/// How long a proposal may wait for a decision: 7 days.
pub const PROPOSAL_WINDOW_SECS: i64 = 7 * 24 * 3600;

/// The error of a job whose proposal expired.
pub const EXPIRED_ERROR: &str = "proposal expired";

/// The longest reason kept with a decision, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The roles that may see and decide proposals.
pub const DECIDERS: &[Role] = &[Role::Approver, Role::Admin];

/// A proposal as `GET /agents/proposals` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposalView {
    /// The proposal.
    pub proposal_id: String,
    /// Its job.
    pub job_id: String,
    /// The agent.
    pub agent_id: AgentId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The action.
    pub action: String,
    /// The action's input, exactly the JSON text the requester sent.
    #[serde(serialize_with = "crate::domain::agents::raw_json")]
    pub input: String,
    /// Who asked for the run.
    pub requested_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: after this it can no longer be decided.
    pub expires_at: String,
    /// Where it is.
    pub status: ProposalStatus,
    /// Who decided it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// The reason given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<ProposalRecord> for ProposalView {
    fn from(p: ProposalRecord) -> Self {
        Self {
            proposal_id: p.proposal_id,
            job_id: p.job_id,
            agent_id: p.agent_id,
            workspace_id: p.workspace_id,
            action: p.action,
            input: p.input,
            requested_by: p.requested_by,
            created_at: rfc3339(p.created_at.div_euclid(1000)),
            expires_at: rfc3339(p.decide_by),
            status: p.status,
            decided_by: p.decided_by,
            reason: p.reason,
        }
    }
}

/// The answer to a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decided {
    /// The proposal.
    pub proposal_id: String,
    /// Its job.
    pub job_id: String,
    /// The job's status now: `PENDING` or `REJECTED`.
    pub status: JobStatus,
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Queue the job.
    Approve,
    /// End the job `REJECTED`.
    Reject,
}

impl Decision {
    /// `approve` or `reject`, as the route names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
}

/// The writes that expire a proposal and reject its job.
fn expiry_writes(
    state: &AgentState,
    origin: &Origin,
    proposal_id: &str,
    job_id: &str,
    agent_id: &AgentId,
    now_ms: i64,
) -> Result<Vec<Write>> {
    Ok(vec![
        AgentWrite::DecideProposal {
            proposal_id: proposal_id.to_owned(),
            status: ProposalStatus::Expired,
            decided_by: None,
            reason: None,
            at: now_ms,
        }
        .into(),
        AgentWrite::move_job(
            JobMove::new(
                job_id,
                JobStatus::AwaitingApproval,
                JobStatus::Rejected,
                now_ms,
            )
            .error(EXPIRED_ERROR),
        )?
        .into(),
        state
            .auditor
            .event(EventType::ProposalExpired, Severity::Info, origin.clone())
            .subject(format!("agent:{agent_id}"))
            .detail("proposal_id", proposal_id)
            .detail("job_id", job_id)
            .into(),
    ])
}

/// Applies the expiry of `job`'s proposal if its window has passed, and
/// returns the job as it now stands. A concurrent decision or expiry wins
/// quietly: the job is read again.
pub async fn expire_if_due(
    state: &AgentState,
    origin: &Origin,
    job: JobRecord,
) -> Result<JobRecord> {
    let now_ms = state.clock.now_millis();
    let due = job.status == JobStatus::AwaitingApproval
        && job
            .decide_by
            .is_some_and(|at| at <= now_ms.div_euclid(1000));
    let (true, Some(proposal_id)) = (due, job.proposal_id.as_deref()) else {
        return Ok(job);
    };
    let writes = expiry_writes(
        state,
        origin,
        proposal_id,
        &job.job_id,
        &job.agent_id,
        now_ms,
    )?;
    match state.store.transact(writes).await {
        Ok(()) => Ok(JobRecord {
            status: JobStatus::Rejected,
            error: Some(EXPIRED_ERROR.into()),
            updated_at: now_ms,
            ..job
        }),
        Err(Error::ConditionFailed) => state
            .store
            .get_job(&job.job_id)
            .await?
            .ok_or_else(|| Error::internal("a job vanished while its proposal expired")),
        Err(e) => Err(e),
    }
}

/// Expires `proposal` if its window has passed; returns whether it did.
async fn expire_proposal_if_due(
    state: &AgentState,
    origin: &Origin,
    proposal: &ProposalRecord,
) -> Result<bool> {
    let now_ms = state.clock.now_millis();
    if proposal.status != ProposalStatus::Pending || proposal.decide_by > now_ms.div_euclid(1000) {
        return Ok(false);
    }
    let writes = expiry_writes(
        state,
        origin,
        &proposal.proposal_id,
        &proposal.job_id,
        &proposal.agent_id,
        now_ms,
    )?;
    match state.store.transact(writes).await {
        Ok(()) | Err(Error::ConditionFailed) => Ok(true),
        Err(e) => Err(e),
    }
}

fn require_decider(caller: &Caller) -> Result<()> {
    if caller.has_role(DECIDERS) {
        Ok(())
    } else {
        // A role missing is RFC 6750's insufficient_scope, challenged in
        // the scheme the caller used.
        Err(Error::InsufficientScope {
            scope: "role:approver role:admin".into(),
            detail: "proposals are for the approver and admin roles".into(),
            scheme: match caller {
                Caller::User { .. } => crate::error::Scheme::Bearer,
                Caller::Key(_) => crate::error::Scheme::ApiKey,
            },
        })
    }
}

/// `GET /agents/proposals?status=S`: oldest first. Listing `PENDING`
/// expires the proposals whose window has passed and leaves them out.
pub async fn list(
    state: &AgentState,
    origin: &Origin,
    caller: &Caller,
    status: ProposalStatus,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<ProposalView>, Option<String>)> {
    require_decider(caller)?;
    let page = state.store.list_proposals(status, limit, after).await?;
    let mut out = Vec::with_capacity(page.items.len());
    for p in page.items {
        // A person sees the proposals of their workspaces only.
        if !caller.sees_workspace(&p.workspace_id) {
            continue;
        }
        if status == ProposalStatus::Pending && expire_proposal_if_due(state, origin, &p).await? {
            continue;
        }
        out.push(p.into());
    }
    Ok((out, page.next))
}

/// Approves or rejects a proposal, in this order: the caller's role
/// (`403`), the proposal (`404`; one in a workspace the caller is not a
/// member of too), already decided or expired (`409`), an approval by the
/// requester (`403`). An approved job is queued. Every refusal is audited
/// (`PROPOSAL_DECISION_REFUSED` with its rule); a `404` without the
/// proposal's details.
pub async fn decide(
    state: &AgentState,
    origin: Origin,
    caller: &Caller,
    proposal_id: &str,
    decision: Decision,
    reason: Option<String>,
) -> Result<Decided> {
    let refuse = async |rule: &str, seen: Option<&ProposalRecord>, error: Error| -> Error {
        let mut event = state
            .auditor
            .event(
                EventType::ProposalDecisionRefused,
                Severity::Warning,
                origin.clone(),
            )
            .actor(caller.id())
            .detail("rule", rule.to_owned())
            .detail("decision", decision.as_str())
            .detail("status", error.status().as_u16());
        // An id that is not one Warden gives names nothing: not kept.
        if is_generated_id(proposal_id) {
            event = event.detail("proposal_id", proposal_id);
        }
        if let Some(p) = seen {
            event = event
                .subject(format!("agent:{}", p.agent_id))
                .detail("job_id", p.job_id.clone())
                .detail("workspace_id", p.workspace_id.as_str());
        }
        match state.store.transact(vec![Write::Audit(event)]).await {
            Ok(()) => error,
            // Nothing is answered that was not audited.
            Err(e) => e,
        }
    };
    if let Err(e) = require_decider(caller) {
        return Err(refuse("role", None, e).await);
    }
    // Kept short, as revoke-all keeps its reason: it is a note, not a document.
    let reason = reason.map(|r| r.chars().take(MAX_REASON_CHARS).collect::<String>());
    let not_found = || Error::NotFound("no such proposal".into());
    let proposal = if is_generated_id(proposal_id) {
        state.store.get_proposal(proposal_id).await?
    } else {
        None
    };
    let Some(proposal) = proposal else {
        return Err(refuse("unknown_proposal", None, not_found()).await);
    };
    if !caller.sees_workspace(&proposal.workspace_id) {
        return Err(refuse("not_a_member", None, not_found()).await);
    }
    if proposal.status != ProposalStatus::Pending {
        let error = Error::Conflict(format!("the proposal is already {}", proposal.status));
        return Err(refuse("already_decided", Some(&proposal), error).await);
    }
    if expire_proposal_if_due(state, &origin, &proposal).await? {
        let error = Error::Conflict("the proposal has expired".into());
        return Err(refuse("expired", Some(&proposal), error).await);
    }
    if decision == Decision::Approve && proposal.requested_by == caller.id() {
        let error = Error::Forbidden("you cannot approve a run you requested".into());
        return Err(refuse("own_request", Some(&proposal), error).await);
    }
    let now_ms = state.clock.now_millis();
    let (proposal_status, job_status, event_type) = match decision {
        Decision::Approve => (
            ProposalStatus::Approved,
            JobStatus::Pending,
            EventType::ProposalApproved,
        ),
        Decision::Reject => (
            ProposalStatus::Rejected,
            JobStatus::Rejected,
            EventType::ProposalRejected,
        ),
    };
    let mut job_move = JobMove::new(
        &proposal.job_id,
        JobStatus::AwaitingApproval,
        job_status,
        now_ms,
    );
    match decision {
        // Queued now: the sweeper sends it again if it has not started by
        // the end of this lease.
        Decision::Approve => job_move = job_move.lease(now_ms + PENDING_LEASE_MS),
        Decision::Reject => {
            job_move = job_move.error(match &reason {
                Some(r) => format!("proposal rejected: {r}"),
                None => "proposal rejected".into(),
            });
        }
    }
    let mut event = state
        .auditor
        .event(event_type, Severity::Info, origin.clone())
        .actor(caller.id())
        .subject(format!("agent:{}", proposal.agent_id))
        .detail("proposal_id", proposal_id)
        .detail("job_id", proposal.job_id.clone())
        .detail("requested_by", proposal.requested_by.clone());
    if let Some(r) = &reason {
        event = event.detail("reason", r.clone());
    }
    let writes = vec![
        AgentWrite::DecideProposal {
            proposal_id: proposal_id.to_owned(),
            status: proposal_status,
            decided_by: Some(caller.id()),
            reason,
            at: now_ms,
        }
        .into(),
        AgentWrite::move_job(job_move)?.into(),
        event.into(),
    ];
    match state.store.transact(writes).await {
        Ok(()) => {}
        Err(Error::ConditionFailed) => {
            let error = Error::Conflict("the proposal was decided already".into());
            return Err(refuse("already_decided", Some(&proposal), error).await);
        }
        Err(e) => return Err(e),
    }
    if decision == Decision::Approve {
        enqueue(state, &origin, &proposal.agent_id, &proposal.job_id, None).await?;
    }
    Ok(Decided {
        proposal_id: proposal_id.to_owned(),
        job_id: proposal.job_id,
        status: job_status,
    })
}
