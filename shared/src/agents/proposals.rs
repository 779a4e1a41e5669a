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
use super::tool_calls;
use crate::audit::{EventType, Origin, Severity};
use crate::clock::rfc3339;
use crate::domain::Role;
use crate::domain::agents::{
    AgentId, JobRecord, JobStatus, Maturity, ProposalKind, ProposalRecord, ProposalStatus,
    WorkspaceId, is_generated_id,
};
use crate::domain::tools::ToolName;
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

/// A proposal as `GET /agents/proposals` shows it: a run's (`kind`
/// `run`, with `job_id`, `action` and `input`) or a tool call's (`kind`
/// `tool_call`, with `call_id`, `tool`, `arguments` and
/// `arguments_sha256`: exactly what will run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposalView {
    /// The proposal.
    pub proposal_id: String,
    /// `run` or `tool_call`.
    pub kind: &'static str,
    /// A run's job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The agent.
    pub agent_id: AgentId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The agent's maturity when it asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_maturity: Option<Maturity>,
    /// A run's action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// A run's input, exactly the JSON text the requester sent.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "raw_json_option"
    )]
    pub input: Option<String>,
    /// A tool call's id (kept by the call that uses the approval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// A tool call's tool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolName>,
    /// A tool call's complexity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complexity: Option<u8>,
    /// A tool call's arguments, in JCS form: what will run.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "raw_json_option"
    )]
    pub arguments: Option<String>,
    /// Lowercase hex SHA-256 of `arguments`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments_sha256: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: after this it can no longer be decided (a tool call's
    /// approval: used).
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

fn raw_json_option<S: serde::Serializer>(
    text: &Option<String>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match text {
        Some(t) => crate::domain::agents::raw_json(t, serializer),
        None => serializer.serialize_none(),
    }
}

impl ProposalView {
    /// The view of `p` at `now_ms`, tool-call approvals under a window of
    /// `ttl_secs`.
    pub fn at(p: ProposalRecord, now_ms: i64, ttl_secs: i64) -> Self {
        let (status, expires_at) = match p.tool_call() {
            Some(_) => (
                tool_calls::shown_status(&p, now_ms, ttl_secs),
                tool_calls::expires_at(&p, ttl_secs),
            ),
            None => (p.status, p.decide_by),
        };
        let mut view = Self {
            proposal_id: p.proposal_id,
            kind: "run",
            job_id: None,
            agent_id: p.agent_id,
            workspace_id: p.workspace_id,
            agent_maturity: p.agent_maturity,
            action: None,
            input: None,
            call_id: None,
            tool: None,
            complexity: None,
            arguments: None,
            arguments_sha256: None,
            requested_by: p.requested_by,
            created_at: rfc3339(p.created_at.div_euclid(1000)),
            expires_at: rfc3339(expires_at),
            status,
            decided_by: p.decided_by,
            reason: p.reason,
        };
        match p.kind {
            ProposalKind::Run {
                job_id,
                action,
                input,
            } => {
                view.job_id = Some(job_id);
                view.action = Some(action);
                view.input = Some(input);
            }
            ProposalKind::ToolCall(t) => {
                view.kind = "tool_call";
                view.call_id = Some(t.call_id);
                view.tool = Some(t.tool);
                view.complexity = Some(t.complexity.level());
                view.arguments = Some(t.arguments);
                view.arguments_sha256 = Some(t.arguments_sha256);
            }
        }
        view
    }
}

/// The answer to a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decided {
    /// The proposal.
    pub proposal_id: String,
    /// A run's job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// A tool call's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// A run's job status now (`PENDING` or `REJECTED`); a tool call's
    /// proposal status (`APPROVED` or `REJECTED`).
    pub status: String,
}

impl Decided {
    /// Whether a job was queued (a run approved): answered `202`.
    pub fn queued(&self) -> bool {
        self.job_id.is_some() && self.status == JobStatus::Pending.as_str()
    }
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
            from: ProposalStatus::Pending,
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

/// Expires `proposal` if its window has passed (a tool call's: also when
/// it was voided, its agent disabled or demoted or its tool changed);
/// returns whether it did.
async fn expire_proposal_if_due(
    state: &AgentState,
    origin: &Origin,
    proposal: &ProposalRecord,
    seen: &mut tool_calls::Registrations,
) -> Result<bool> {
    let now_ms = state.clock.now_millis();
    let writes = match &proposal.kind {
        ProposalKind::Run { job_id, .. } => {
            if proposal.status != ProposalStatus::Pending
                || proposal.decide_by > now_ms.div_euclid(1000)
            {
                return Ok(false);
            }
            expiry_writes(
                state,
                origin,
                &proposal.proposal_id,
                job_id,
                &proposal.agent_id,
                now_ms,
            )?
        }
        ProposalKind::ToolCall(_) => {
            let ttl = state.config.tool_approval_ttl_secs;
            let open = matches!(
                proposal.status,
                ProposalStatus::Pending | ProposalStatus::Approved
            );
            let due = tool_calls::expiry_due(proposal, now_ms, ttl)
                || (open && tool_calls::voided(state, proposal, seen).await?);
            if !due {
                return Ok(false);
            }
            tool_calls::expiry_writes(state, origin, proposal, now_ms)
        }
    };
    match state.store.transact(writes).await {
        Ok(()) | Err(Error::ConditionFailed) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Whether `caller` asked for `proposal`: they made the request (an agent
/// acting for them included), or it came from an agent's API key created
/// for them (`created_by`, `warden apikeys create --for`), by the key
/// itself or through a token delegated with it: the person who answers for
/// an agent does not approve what it asks for. A key's proposal costs one
/// read of the key.
async fn requested_by_caller(
    state: &AgentState,
    proposal: &ProposalRecord,
    caller: &Caller,
) -> Result<bool> {
    if proposal.requested_by == caller.id() {
        return Ok(true);
    }
    let via_key = proposal
        .tool_call()
        .and_then(|t| t.actor_key_id.as_deref())
        .or_else(|| proposal.requested_by.strip_prefix("key:"));
    let (Caller::User { user_id, .. }, Some(key_id)) = (caller, via_key) else {
        return Ok(false);
    };
    let key = state.store.get_api_key(key_id).await?;
    Ok(key.and_then(|k| k.created_by).as_deref() == Some(user_id.as_str()))
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
                Caller::User { .. } | Caller::Delegated(_) => crate::error::Scheme::Bearer,
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
    let mut seen = tool_calls::Registrations::default();
    for p in page.items {
        // A person sees the proposals of their workspaces only.
        if !caller.sees_workspace(&p.workspace_id) {
            continue;
        }
        let open = matches!(status, ProposalStatus::Pending | ProposalStatus::Approved);
        if open && expire_proposal_if_due(state, origin, &p, &mut seen).await? {
            continue;
        }
        out.push(ProposalView::at(
            p,
            state.clock.now_millis(),
            state.config.tool_approval_ttl_secs,
        ));
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
                .detail("workspace_id", p.workspace_id.as_str());
            event = match &p.kind {
                ProposalKind::Run { job_id, .. } => event.detail("job_id", job_id.clone()),
                ProposalKind::ToolCall(t) => event
                    .detail("kind", "tool_call")
                    .detail("call_id", t.call_id.clone()),
            };
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
    let mut seen = tool_calls::Registrations::default();
    if expire_proposal_if_due(state, &origin, &proposal, &mut seen).await? {
        let error = Error::Conflict("the proposal has expired".into());
        return Err(refuse("expired", Some(&proposal), error).await);
    }
    if decision == Decision::Approve && requested_by_caller(state, &proposal, caller).await? {
        let error = Error::Forbidden("you cannot approve what you requested".into());
        return Err(refuse("own_request", Some(&proposal), error).await);
    }
    let now_ms = state.clock.now_millis();
    let (proposal_status, event_type) = match decision {
        Decision::Approve => (ProposalStatus::Approved, EventType::ProposalApproved),
        Decision::Reject => (ProposalStatus::Rejected, EventType::ProposalRejected),
    };
    let mut event = state
        .auditor
        .event(event_type, Severity::Info, origin.clone())
        .actor(caller.id())
        .subject(format!("agent:{}", proposal.agent_id))
        .detail("proposal_id", proposal_id)
        .detail("requested_by", proposal.requested_by.clone());
    if let Some(r) = &reason {
        event = event.detail("reason", r.clone());
    }
    let mut writes: Vec<Write> = vec![
        AgentWrite::DecideProposal {
            proposal_id: proposal_id.to_owned(),
            from: ProposalStatus::Pending,
            status: proposal_status,
            decided_by: Some(caller.id()),
            reason: reason.clone(),
            at: now_ms,
        }
        .into(),
    ];
    let decided = match &proposal.kind {
        ProposalKind::Run { job_id, .. } => {
            let job_status = match decision {
                Decision::Approve => JobStatus::Pending,
                Decision::Reject => JobStatus::Rejected,
            };
            let mut job_move =
                JobMove::new(job_id, JobStatus::AwaitingApproval, job_status, now_ms);
            match decision {
                // Queued now: the sweeper sends it again if it has not
                // started by the end of this lease.
                Decision::Approve => {
                    job_move = job_move
                        .lease(now_ms + PENDING_LEASE_MS)
                        .decision(&event.event_id);
                }
                Decision::Reject => {
                    job_move = job_move.error(match &reason {
                        Some(r) => format!("proposal rejected: {r}"),
                        None => "proposal rejected".into(),
                    });
                }
            }
            writes.push(AgentWrite::move_job(job_move)?.into());
            event = event.detail("job_id", job_id.clone());
            Decided {
                proposal_id: proposal_id.to_owned(),
                job_id: Some(job_id.clone()),
                call_id: None,
                status: job_status.as_str().to_owned(),
            }
        }
        ProposalKind::ToolCall(t) => {
            writes.extend(tool_calls::decision_writes(
                state,
                &proposal,
                decision == Decision::Approve,
                now_ms,
            ));
            event = event
                .detail("kind", "tool_call")
                .detail("call_id", t.call_id.clone())
                .detail("tool", t.tool.as_str())
                .detail("arguments_sha256", t.arguments_sha256.clone());
            Decided {
                proposal_id: proposal_id.to_owned(),
                job_id: None,
                call_id: Some(t.call_id.clone()),
                status: proposal_status.as_str().to_owned(),
            }
        }
    };
    writes.push(event.into());
    match state.store.transact(writes).await {
        Ok(()) => {}
        Err(Error::ConditionFailed) => {
            let error = Error::Conflict("the proposal was decided already".into());
            return Err(refuse("already_decided", Some(&proposal), error).await);
        }
        Err(e) => return Err(e),
    }
    if decided.queued()
        && let Some(job_id) = &decided.job_id
    {
        enqueue(state, &origin, &proposal.agent_id, job_id, None).await?;
    }
    Ok(decided)
}
