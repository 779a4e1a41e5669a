//! Run requests: `POST /agents/{agent_id}/runs`, and reading jobs back.
//!
//! A request costs one consistent read of everything governance needs (the
//! agent, the workspace and the idempotency record, [`AgentStore::run_context`])
//! and one transaction that writes the job, its proposal if any, the
//! idempotency record and the audit event together; a run is then sent to
//! the jobs queue. If the audit record cannot be written nothing is: the
//! answer is `503` and no job exists.
//!
//! [`AgentStore::run_context`]: crate::store::AgentStore::run_context

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::governance::{self, Verdict};
use super::proposals::{PROPOSAL_WINDOW_SECS, expire_if_due};
use super::sweeper::PENDING_LEASE_MS;
use crate::audit::{AuditEvent, EventType, Origin, Severity};
use crate::auth::api_keys::{KeyRefusal, refuse_key};
pub use crate::auth::bearer::Caller;
use crate::clock::{rfc3339, ulid_at};
use crate::config::Rate;
use crate::domain::agents::{
    AgentId, IdempotencyRecord, JobRecord, JobStatus, MAX_ITEM_BYTES, ProposalKind, ProposalRecord,
    ProposalStatus, WorkspaceId, is_generated_id,
};
use crate::metrics::{self, Metric};
use crate::queue::{OutgoingMessage, Queue};
use crate::ratelimit::{self, Decision};
use crate::state::AgentState;
use crate::store::{AgentWrite, JobMove, RateLimitStore, RunLookup, Write, keys};
use crate::{Error, Result};

/// How long an idempotency key is kept: 24 hours.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The body of a run request.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// The workspace to run in.
    pub workspace_id: String,
    /// The action's name.
    pub action: String,
    /// The action's input: its JSON text, byte for byte as received.
    pub input: String,
}

/// The `202` answer to a run request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    /// The job.
    pub job_id: String,
    /// `PENDING` or `AWAITING_APPROVAL`.
    pub status: JobStatus,
    /// The proposal, when the run awaits approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
}

/// A job as `GET /agents/runs/{job_id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    /// The job.
    pub job_id: String,
    /// Its agent.
    pub agent_id: AgentId,
    /// Its workspace.
    pub workspace_id: WorkspaceId,
    /// Its action.
    pub action: String,
    /// Where it is.
    pub status: JobStatus,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The proposal it waited on, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
    /// The action's result, once `SUCCESS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Why it failed or was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<JobRecord> for JobView {
    fn from(j: JobRecord) -> Self {
        Self {
            job_id: j.job_id,
            agent_id: j.agent_id,
            workspace_id: j.workspace_id,
            action: j.action,
            status: j.status,
            created_at: rfc3339(j.created_at.div_euclid(1000)),
            updated_at: rfc3339(j.updated_at.div_euclid(1000)),
            proposal_id: j.proposal_id,
            result: j.result,
            error: j.error,
        }
    }
}

/// The message a queued job travels as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct JobMessage {
    /// The job.
    pub job_id: String,
    /// Its agent, so the worker reads both in one round trip.
    pub agent_id: AgentId,
}

/// Checks an `Idempotency-Key` header value: 1 to 255 printable ASCII.
pub fn parse_idempotency_key(raw: &str) -> Result<&str> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_IDEMPOTENCY_KEY_CHARS
        && raw.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if ok {
        Ok(raw)
    } else {
        Err(Error::BadRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
        ))
    }
}

/// SHA-256 of the request as JSON values: the path's agent id and the whole
/// body (a run's or a tool call's). serde_json's maps are sorted, so key
/// order and whitespace do not matter.
pub(crate) fn request_hash(agent_id: &str, body: &Value) -> String {
    let canonical = json!({ "agent_id": agent_id, "body": body }).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Submits a run of `agent_id` (as the path gave it) for `caller`, with the
/// parsed `request` and the whole `body` (for idempotency), in API.md's
/// governance order. Every decision is audited.
pub async fn submit(
    state: &AgentState,
    origin: Origin,
    caller: &Caller,
    agent_id: &str,
    request: RunRequest,
    body: &Value,
    idempotency_key: Option<&str>,
) -> Result<Accepted> {
    let blocked = |rule: &str| {
        state
            .auditor
            .event(
                EventType::AgentRunBlocked,
                Severity::Warning,
                origin.clone(),
            )
            .actor(caller.id())
            .subject(format!("agent:{agent_id}"))
            .detail("rule", rule.to_owned())
            .detail("action", request.action.clone())
            .detail("workspace_id", request.workspace_id.clone())
    };
    if let Caller::Key(key) = caller
        && key.owner.agent().is_none_or(|own| own.as_str() != agent_id)
    {
        let error = Error::Forbidden("this key may only run its own agent".into());
        return Err(refuse_key(
            state,
            &origin,
            Some(&key.key_id),
            KeyRefusal::OtherAgent,
            error,
        )
        .await);
    }
    let has_key = idempotency_key.is_some();
    let idempotency_key = idempotency_key
        .map(|k| parse_idempotency_key(k).map(|k| keys::idempotency(&caller.id(), k)))
        .transpose()?;
    // An id that does not parse cannot name anything stored; a workspace a
    // person is not a member of is answered exactly like an unknown one,
    // first in the order.
    let parsed = (
        AgentId::parse(agent_id).ok(),
        WorkspaceId::parse(&request.workspace_id).ok(),
    );
    let (agent, workspace) = match parsed {
        (Some(agent), Some(workspace)) => (agent, workspace),
        (agent, workspace) => {
            if let Caller::User { user_id, .. } = caller {
                limit_person(state, &origin, user_id, agent_id, None).await?;
            }
            let (rule, what) = match (workspace, agent) {
                (Some(w), _) if !caller.sees_workspace(&w) => ("not_a_member", "no such workspace"),
                (_, None) => ("unknown_agent", "no such agent"),
                _ => ("unknown_workspace", "no such workspace"),
            };
            audit_only(state, blocked(rule)).await?;
            return Err(Error::NotFound(what.into()));
        }
    };

    let now_ms = state.clock.now_millis();
    let now = now_ms.div_euclid(1000);
    let hash = request_hash(agent_id, body);
    let rate_key = match caller {
        Caller::User { user_id, .. } => Some(keys::user_runs(user_id)),
        Caller::Key(_) => None,
        // Never here: only the tool-call routes take a delegated token.
        Caller::Delegated(_) => return Err(crate::auth::bearer::delegated_refused()),
    };
    let ctx = state
        .store
        .run_context(RunLookup {
            agent_id: &agent,
            workspace_id: &workspace,
            idempotency_key: idempotency_key.as_deref(),
            rate_key: rate_key.as_deref(),
            now,
        })
        .await?;
    // A person's limit comes before every governance answer; its state was
    // read with the rest, so counting this request is one write.
    if let Caller::User { user_id, .. } = caller {
        limit_person(state, &origin, user_id, agent_id, ctx.rate_tat).await?;
    }
    // Read with the rest: an unknown workspace is audited as such.
    if !caller.sees_workspace(&workspace) {
        let rule = match ctx.workspace {
            Some(_) => "not_a_member",
            None => "unknown_workspace",
        };
        audit_only(state, blocked(rule)).await?;
        return Err(Error::NotFound("no such workspace".into()));
    }
    if let Some(earlier) = ctx.idempotency {
        return replay_and_requeue(state, &origin, earlier, &hash).await;
    }

    let admitted = match governance::decide(
        state.catalogue,
        ctx.agent.as_ref(),
        ctx.workspace.as_ref(),
        &request.action,
        &request.input,
        has_key,
    ) {
        Ok(a) => a,
        Err(refusal) => {
            let mut event = blocked(refusal.rule.as_str());
            if refusal.rule == governance::Rule::Maturity
                && let Some(agent) = &ctx.agent
            {
                // The table refused: which table, at which maturity.
                event = event
                    .detail("maturity", agent.maturity.as_str())
                    .detail("table_version", governance::TABLE_VERSION);
                if let Some(action) = state.catalogue.find(agent.agent_type, &request.action) {
                    event = event.detail("complexity", action.complexity().level());
                }
            }
            audit_only(state, event).await?;
            metrics::count(Metric::AgentRunBlocked);
            return Err(refusal.error);
        }
    };

    let job_id = ulid_at(now_ms);
    let proposal = (admitted.verdict == Verdict::Propose).then(|| ProposalRecord {
        proposal_id: ulid_at(now_ms),
        kind: ProposalKind::Run {
            job_id: job_id.clone(),
            action: request.action.clone(),
            input: request.input.clone(),
        },
        agent_id: agent.clone(),
        workspace_id: workspace.clone(),
        agent_maturity: ctx.agent.as_ref().map(|a| a.maturity),
        requested_by: caller.id(),
        status: ProposalStatus::Pending,
        created_at: now_ms,
        decide_by: now + PROPOSAL_WINDOW_SECS,
        decided_by: None,
        reason: None,
        decided_at: None,
    });
    let status = match proposal {
        Some(_) => JobStatus::AwaitingApproval,
        None => JobStatus::Pending,
    };
    let mut job = JobRecord {
        job_id: job_id.clone(),
        agent_id: agent.clone(),
        workspace_id: workspace.clone(),
        action: request.action.clone(),
        input: request.input,
        status,
        decision_event_id: None,
        requested_by: caller.id(),
        proposal_id: proposal.as_ref().map(|p| p.proposal_id.clone()),
        decide_by: proposal.as_ref().map(|p| p.decide_by),
        // A queued job the worker has not started by then is sent again.
        lease_until: (status == JobStatus::Pending).then_some(now_ms + PENDING_LEASE_MS),
        requeues: 0,
        result: None,
        error: None,
        created_at: now_ms,
        updated_at: now_ms,
    };
    // Bound what is stored, not only what was received: refused before
    // anything is written, by the one count both stores are held to.
    let bytes = job.max_stored_bytes();
    if bytes > MAX_ITEM_BYTES {
        return Err(Error::TooLargeToStore {
            bytes,
            limit: MAX_ITEM_BYTES,
        });
    }
    let accepted = Accepted {
        job_id: job_id.clone(),
        status,
        proposal_id: job.proposal_id.clone(),
    };
    let event_type = match proposal {
        Some(_) => EventType::ProposalCreated,
        None => EventType::AgentRunRequested,
    };
    let mut event = state
        .auditor
        .event(event_type, Severity::Info, origin.clone())
        .actor(caller.id())
        .subject(format!("agent:{agent}"))
        .detail("job_id", job_id.clone())
        .detail("action", request.action.clone())
        .detail("workspace_id", workspace.as_str())
        .detail("complexity", admitted.action.complexity().level())
        .detail(
            "maturity",
            ctx.agent.as_ref().map_or("", |a| a.maturity.as_str()),
        )
        .detail("table_version", super::governance::TABLE_VERSION)
        .detail("rule", rule_of(admitted.verdict));
    if let Some(p) = &proposal {
        event = event.detail("proposal_id", p.proposal_id.clone());
    } else {
        // Run at once: this event is the decision its outcome names.
        job.decision_event_id = Some(event.event_id.clone());
    }

    let mut writes: Vec<Write> = vec![AgentWrite::CreateJob(job).into()];
    if let Some(p) = proposal {
        writes.push(AgentWrite::CreateProposal(p).into());
    }
    if let Some(key) = &idempotency_key {
        writes.push(
            AgentWrite::PutIdempotency {
                record: IdempotencyRecord {
                    key: key.clone(),
                    request_hash: hash.clone(),
                    job_id: job_id.clone(),
                    status,
                    proposal_id: accepted.proposal_id.clone(),
                    expires_at: now + IDEMPOTENCY_TTL_SECS,
                },
                now,
            }
            .into(),
        );
    }
    writes.push(event.into());
    match state.store.transact(writes).await {
        Ok(()) => {}
        // Only the idempotency record has a condition another request can
        // win: a concurrent request with the same key got there first.
        Err(Error::ConditionFailed) if idempotency_key.is_some() => {
            let key = idempotency_key.as_deref().unwrap_or_default();
            return match state.store.get_idempotency(key, now).await? {
                Some(earlier) => replay_and_requeue(state, &origin, earlier, &hash).await,
                None => Err(Error::Conflict(
                    "a concurrent request with this Idempotency-Key is in progress".into(),
                )),
            };
        }
        // It may have committed: a retry with the same key finds the job
        // (and queues it if it is still PENDING); without a key, the
        // sweeper queues it once its lease passes.
        Err(e) => return Err(e.settled_by_idempotent_retry()),
    }
    if status == JobStatus::Pending {
        enqueue(state, &origin, &agent, &job_id, idempotency_key.as_deref()).await?;
        metrics::count(Metric::AgentRunQueued);
    } else {
        metrics::count(Metric::AgentRunProposed);
    }
    Ok(accepted)
}

/// The earlier answer under the same key ([`replay`]); if it queued a job
/// that is still `PENDING`, the job is sent to the queue again, so that a
/// create whose answer was lost (`outcome unknown`) is settled by this
/// retry. A job already queued is harmless: the worker runs it once.
async fn replay_and_requeue(
    state: &AgentState,
    origin: &Origin,
    earlier: IdempotencyRecord,
    hash: &str,
) -> Result<Accepted> {
    let key = earlier.key.clone();
    let accepted = replay(earlier, hash)?;
    if accepted.status == JobStatus::Pending
        && let Some(job) = state.store.get_job(&accepted.job_id).await?
        && job.status == JobStatus::Pending
    {
        enqueue(state, origin, &job.agent_id, &job.job_id, Some(&key)).await?;
    }
    Ok(accepted)
}

/// A person's run limit (`WARDEN_RUN_LIMIT_PER_MINUTE`, GCRA over the
/// store, the whole minute usable as one burst), given the state
/// `known_tat` read with the run's context: checked after authentication
/// and before the governance order, so every request counts, refused
/// ones too, and an admin's too. Over it is `429` with
/// `Retry-After`; the refusals are audited at most once per person a
/// minute (`AGENT_RUN_RATE_LIMITED`), so a flood cannot flood the log.
pub(crate) async fn limit_person(
    state: &AgentState,
    origin: &Origin,
    user_id: &str,
    agent_id: &str,
    known_tat: Option<i64>,
) -> Result<()> {
    let now_ms = state.clock.now_millis();
    let limit = Rate {
        limit: state.config.run_limit_per_minute,
        period_secs: 60,
    };
    let store: &dyn RateLimitStore = &*state.store;
    let key = keys::user_runs(user_id);
    let Decision::Limited { retry_after } =
        ratelimit::acquire_from(store, &key, limit.into(), now_ms, known_tat).await?
    else {
        return Ok(());
    };
    let once_a_minute = Rate {
        limit: 1,
        period_secs: 60,
    };
    let audit_now = ratelimit::acquire(
        store,
        &keys::user_runs_audited(user_id),
        once_a_minute,
        now_ms,
    )
    .await?
        == Decision::Allowed;
    if audit_now {
        let event = state
            .auditor
            .event(
                EventType::AgentRunRateLimited,
                Severity::Warning,
                origin.clone(),
            )
            .actor(format!("user:{user_id}"))
            .subject(format!("agent:{agent_id}"))
            .detail("limit_per_minute", state.config.run_limit_per_minute)
            .detail("retry_after_secs", retry_after.as_secs().max(1));
        audit_only(state, event).await?;
    }
    metrics::count(Metric::AgentRunBlocked);
    Err(Error::RateLimited { retry_after })
}

fn rule_of(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Run => "runs",
        Verdict::Propose => "proposal",
        Verdict::Block => "blocked",
    }
}

/// The earlier answer under the same key, or `409` for another body.
fn replay(earlier: IdempotencyRecord, hash: &str) -> Result<Accepted> {
    if earlier.request_hash == hash {
        Ok(Accepted {
            job_id: earlier.job_id,
            status: earlier.status,
            proposal_id: earlier.proposal_id,
        })
    } else {
        Err(Error::Conflict(
            "this Idempotency-Key was used with another request body".into(),
        ))
    }
}

/// Writes an audit event on its own (a refusal changes nothing else).
async fn audit_only(state: &AgentState, event: AuditEvent) -> Result<()> {
    state.store.transact(vec![Write::Audit(event)]).await
}

/// Sends a `PENDING` job to the jobs queue. When the queue does not take
/// it, the job is ended `FAILED` ("could not be queued") and its
/// idempotency record forgotten, in one write, so that nothing stays
/// `PENDING` for ever and a retry with the same key can try again; the
/// answer is `503`.
pub(crate) async fn enqueue(
    state: &AgentState,
    origin: &Origin,
    agent_id: &AgentId,
    job_id: &str,
    idempotency_key: Option<&str>,
) -> Result<()> {
    let sent = send_job(&*state.jobs, agent_id, job_id, job_id).await;
    let Err(send_error) = sent else {
        return Ok(());
    };
    tracing::error!(job_id, error = %send_error.chain(), "the jobs queue did not take a job");
    let now_ms = state.clock.now_millis();
    let mut writes: Vec<Write> = vec![
        AgentWrite::move_job(
            JobMove::new(job_id, JobStatus::Pending, JobStatus::Failed, now_ms)
                .error("the job could not be queued; submit it again"),
        )?
        .into(),
    ];
    if let Some(key) = idempotency_key {
        writes.push(
            AgentWrite::DeleteIdempotency {
                key: key.to_owned(),
            }
            .into(),
        );
    }
    writes.push(
        state
            .auditor
            .event(EventType::AgentRunFailed, Severity::Warning, origin.clone())
            .subject(format!("agent:{agent_id}"))
            .detail("job_id", job_id)
            .detail("reason", "not_queued")
            .into(),
    );
    if let Err(e) = state.store.transact(writes).await {
        tracing::error!(job_id, error = %e.chain(), "could not mark an unqueued job FAILED");
    }
    Err(send_error)
}

/// Sends one job's message to the jobs queue under `deduplication_id` (the
/// job id, or the sweeper's own id for a send again).
pub(crate) async fn send_job(
    jobs: &dyn Queue,
    agent_id: &AgentId,
    job_id: &str,
    deduplication_id: &str,
) -> Result<()> {
    let message = JobMessage {
        job_id: job_id.to_owned(),
        agent_id: agent_id.clone(),
    };
    let body = serde_json::to_string(&message)
        .map_err(|e| Error::internal_from("serialising a job message", e))?;
    jobs.send(&OutgoingMessage {
        body,
        group_id: agent_id.as_str().to_owned(),
        deduplication_id: deduplication_id.to_owned(),
    })
    .await
}

/// Whether `caller` may see jobs of `workspace`: a user any, a key only
/// its agent's workspaces. Answers `404` otherwise, so an id's existence is
/// not confirmed.
async fn may_see(state: &AgentState, caller: &Caller, workspace: &WorkspaceId) -> Result<()> {
    let Caller::Key(key) = caller else {
        return if caller.sees_workspace(workspace) {
            Ok(())
        } else {
            Err(Error::NotFound("no such workspace".into()))
        };
    };
    let agent = match key.owner.agent() {
        Some(own) => state.store.get_agent(own).await?,
        None => None,
    };
    if agent.is_some_and(|a| a.allowed_in(workspace)) {
        Ok(())
    } else {
        Err(Error::NotFound("no such job".into()))
    }
}

/// `GET /agents/runs/{job_id}`; a proposal past its window is expired first.
/// For an API key the job and the key's agent are read in one round trip.
pub async fn get_job(
    state: &AgentState,
    origin: &Origin,
    caller: &Caller,
    job_id: &str,
) -> Result<JobView> {
    let not_found = || Error::NotFound("no such job".into());
    if !is_generated_id(job_id) {
        return Err(not_found());
    }
    let job = match caller {
        Caller::User { .. } => state
            .store
            .get_job(job_id)
            .await?
            .filter(|job| caller.sees_workspace(&job.workspace_id)),
        Caller::Key(key) => {
            let own = key.owner.agent().ok_or_else(not_found)?;
            let (job, agent) = state.store.job_and_agent(job_id, own).await?;
            match (job, agent) {
                (Some(job), Some(agent)) if agent.allowed_in(&job.workspace_id) => Some(job),
                _ => return Err(not_found()),
            }
        }
        Caller::Delegated(_) => return Err(crate::auth::bearer::delegated_refused()),
    };
    let job = job.ok_or_else(not_found)?;
    Ok(expire_if_due(state, origin, job).await?.into())
}

/// The most jobs one page of `GET /agents/runs` holds.
pub const MAX_PAGE: usize = 100;

/// The default page size.
pub const DEFAULT_PAGE: usize = 50;

/// `GET /agents/runs?workspace_id=W[&status=S]`: newest first, `limit` per
/// page, after the cursor `after`.
pub async fn list_jobs(
    state: &AgentState,
    origin: &Origin,
    caller: &Caller,
    workspace_id: &str,
    status: Option<JobStatus>,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<JobView>, Option<String>)> {
    let workspace = WorkspaceId::parse(workspace_id)
        .map_err(|_| Error::NotFound("no such workspace".into()))?;
    may_see(state, caller, &workspace).await?;
    if matches!(caller, Caller::User { .. })
        && state.store.get_workspace(&workspace).await?.is_none()
    {
        return Err(Error::NotFound("no such workspace".into()));
    }
    let page = state
        .store
        .list_jobs(&workspace, status, limit, after)
        .await?;
    let mut runs = Vec::with_capacity(page.items.len());
    for job in page.items {
        runs.push(expire_if_due(state, origin, job).await?.into());
    }
    Ok((runs, page.next))
}
