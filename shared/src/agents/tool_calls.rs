//! Governed tool calls: `POST /agents/{agent_id}/tool-calls`, the decision
//! point for every tool any agent calls (API.md "Governed tool calls").
//!
//! A call is decided, in API.md's order, from one consistent read of
//! everything the decision needs ([`ToolStore::tool_call_context`]: the
//! API key, the agent, the workspace, the tool, the exact call's item, the
//! agent's pending slots and the idempotency record), then the key's
//! counted use (one conditional write), then one transaction that writes
//! the decision and its audit event together: three DynamoDB round trips
//! on the allow path, whatever the path. An allowed call's decision token
//! is signed (KMS) before anything is written, so a failed signature
//! leaves nothing behind.
//!
//! "This exact call" is [`exact_call_key`]: one item keyed by it names the
//! current proposal. A proposal is opened only by a conditional write on
//! that item (absent, or naming the proposal read), so concurrent
//! identical calls share one; an approval is used by a conditional write on
//! it (`APPROVED` -> `USED`), so it is used once; and the write also checks
//! the agent (enabled, its kill generation unchanged) and the tool (its
//! registration unchanged), so a kill switch or a demotion that lands
//! between the read and the write still refuses the call. A write that
//! loses a race reads again and decides again.
//!
//! [`ToolStore::tool_call_context`]: crate::store::ToolStore::tool_call_context

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::decision::{DECISION_TOKEN_TTL_SECS, DecisionActor, DecisionClaims};
use super::governance::{Verdict, by_maturity};
use super::jcs;
use super::run::Caller;
use crate::audit::{AuditEvent, EventType, Origin, Severity};
use crate::auth::api_keys::{
    KeyLimit, KeyRefusal, SCOPE_TOOLS_CALL, judge_key, parse_key, refuse_key, refuse_malformed,
};
use crate::auth::delegation;
use crate::auth::jwt::AccessClaims;
use crate::clock::{rfc3339, ulid_at};
use crate::domain::agents::{
    AgentId, AgentRecord, Complexity, Maturity, ProposalKind, ProposalRecord, ProposalStatus,
    ToolProposal, WorkspaceId, is_generated_id,
};
use crate::domain::tools::{
    ExactCallRecord, Outcome, OutcomeStatus, ToolCallRecord, ToolCallStatus, ToolDecision,
    ToolIdempotencyRecord, ToolName, ToolRecord, exact_call_key,
};
use crate::error::Refusal;
use crate::state::AgentState;
use crate::store::{AgentWrite, Page, ToolCallContext, ToolCallLookup, ToolWrite, Write, keys};
use crate::{Error, Result};

/// The body limit of a tool call, in bytes (80 KiB).
pub const TOOL_CALL_BODY_LIMIT: usize = 80 * 1024;

/// The most bytes a call's `arguments` may take in JCS form (64 KiB).
pub const MAX_ARGUMENTS_BYTES: usize = 64 * 1024;

/// How long a used approval answers identical calls `approval_used`,
/// before an identical call opens a new proposal.
pub const USED_WINDOW_MS: i64 = 60_000;

/// The longest outcome `detail`, in bytes.
pub const MAX_DETAIL_BYTES: usize = 1024;

/// How often a call reads and decides again after losing a race on one of
/// its write's conditions before it gives up (`503`, try again).
const MAX_ATTEMPTS: usize = 8;

/// At most one audit event per pending proposal per this many ms of
/// identical calls.
const PENDING_AUDIT_EVERY_MS: i64 = 60_000;

/// The body of a tool call, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallRequest {
    /// The workspace.
    pub workspace_id: String,
    /// The tool.
    pub tool: String,
    /// The arguments' JSON text, as received.
    pub arguments: String,
}

/// The answer to a tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ToolCallAnswer {
    /// `200`: the call may run; the tool server checks the token.
    Allow {
        /// The call.
        call_id: String,
        /// Lowercase hex SHA-256 of the arguments' JCS form.
        arguments_sha256: String,
        /// The decision token (JWS RS256, `typ` `tool-call+jwt`).
        decision_token: String,
        /// The approval used, if the call needed one.
        #[serde(skip_serializing_if = "Option::is_none")]
        proposal_id: Option<String>,
    },
    /// `202`: a person must approve this exact call first.
    ApprovalRequired {
        /// The call.
        call_id: String,
        /// Its proposal.
        proposal_id: String,
        /// RFC 3339: when the proposal runs out.
        expires_at: String,
    },
}

/// A rule that refused a call: the `403` `reason`, or the `404` audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// No such agent (`404`).
    UnknownAgent,
    /// No such workspace (`404`).
    UnknownWorkspace,
    /// A delegated token's user is not a member of the workspace: answered
    /// exactly like an unknown one (`404`).
    NotAMember,
    /// The agent may not work in the workspace.
    Workspace,
    /// The kill switch is on.
    AgentDisabled,
    /// Unknown tool, or not allowed in the workspace.
    ToolNotAllowed,
    /// The maturity x complexity table blocks it.
    Maturity,
    /// This exact call was rejected less than the approval window ago.
    ApprovalRejected,
    /// This exact call's approval was used less than a minute ago, or by a
    /// concurrent identical call.
    ApprovalUsed,
}

impl Block {
    /// The `reason`, as answered and audited.
    pub fn reason(self) -> &'static str {
        match self {
            Block::UnknownAgent => "unknown_agent",
            Block::UnknownWorkspace => "unknown_workspace",
            Block::NotAMember => "not_a_member",
            Block::Workspace => "workspace",
            Block::AgentDisabled => "agent_disabled",
            Block::ToolNotAllowed => "tool_not_allowed",
            Block::Maturity => "maturity",
            Block::ApprovalRejected => "approval_rejected",
            Block::ApprovalUsed => "approval_used",
        }
    }

    fn error(self, agent: &str, workspace: &str, tool: &str) -> Error {
        let detail = match self {
            Block::UnknownAgent => return Error::NotFound("no such agent".into()),
            Block::UnknownWorkspace | Block::NotAMember => {
                return Error::NotFound("no such workspace".into());
            }
            Block::Workspace => format!("agent {agent} may not work in workspace {workspace}"),
            Block::AgentDisabled => format!("agent {agent} is disabled"),
            Block::ToolNotAllowed => {
                format!("tool {tool} is not registered for workspace {workspace}")
            }
            Block::Maturity => format!("agent {agent}'s maturity does not allow tool {tool}"),
            Block::ApprovalRejected => {
                "this exact call was rejected; an identical call is refused until the rejection runs out".into()
            }
            Block::ApprovalUsed => {
                "this exact call's approval was used already; an identical call opens a new proposal after a minute".into()
            }
        };
        Error::ToolCallRefused {
            reason: self.reason(),
            detail,
        }
    }
}

/// What the decision comes to, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    /// The table says "runs".
    Allow,
    /// The exact call holds an approval, unused and valid: use it.
    Consume(ExactCallRecord),
    /// The exact call's proposal is pending: the same `202`.
    Pending(ExactCallRecord),
    /// Open a new proposal, replacing the item read (if any).
    Open(Option<ExactCallRecord>),
}

/// Decides a call from what was read, in API.md's order (the credential
/// checks are done): `404`s, the `403` reasons, then the maturity x
/// complexity table, at `now_ms` with approval window `ttl_secs`.
pub fn judge(
    ctx: &ToolCallContext,
    workspace: &WorkspaceId,
    now_ms: i64,
    ttl_secs: i64,
) -> std::result::Result<(Judged, Verdict), Block> {
    let agent = ctx.agent.as_ref().ok_or(Block::UnknownAgent)?;
    if ctx.workspace.is_none() {
        return Err(Block::UnknownWorkspace);
    }
    if !agent.allowed_in(workspace) {
        return Err(Block::Workspace);
    }
    if !agent.enabled {
        return Err(Block::AgentDisabled);
    }
    let tool = ctx
        .tool
        .as_ref()
        .filter(|t| t.allowed_in(workspace))
        .ok_or(Block::ToolNotAllowed)?;
    let verdict = by_maturity(agent.maturity, tool.complexity);
    if verdict == Verdict::Block {
        return Err(Block::Maturity);
    }
    let ttl_ms = ttl_secs * 1000;
    if let Some(exact) = &ctx.exact {
        match exact.status {
            ProposalStatus::Rejected if exact.decided_at.is_some_and(|at| at + ttl_ms > now_ms) => {
                return Err(Block::ApprovalRejected);
            }
            ProposalStatus::Used
                if exact.used_at.is_some_and(|at| at + USED_WINDOW_MS > now_ms) =>
            {
                return Err(Block::ApprovalUsed);
            }
            _ => {}
        }
    }
    if verdict == Verdict::Run {
        return Ok((Judged::Allow, verdict));
    }
    let Some(exact) = &ctx.exact else {
        return Ok((Judged::Open(None), verdict));
    };
    let current =
        exact.kill_generation == agent.kill_generation && exact.tool_version == tool.version;
    let judged = match exact.status {
        ProposalStatus::Pending if current && exact.created_at + ttl_ms > now_ms => {
            Judged::Pending(exact.clone())
        }
        ProposalStatus::Approved
            if current && exact.decided_at.is_some_and(|at| at + ttl_ms > now_ms) =>
        {
            Judged::Consume(exact.clone())
        }
        _ => Judged::Open(Some(exact.clone())),
    };
    Ok((judged, verdict))
}

/// The maturities at which a call of `complexity` is still decided as it
/// was: those whose cell is "runs" for a direct allow, every one not
/// blocked for an approval used.
fn maturities_for(complexity: Complexity, through_approval: bool) -> Vec<Maturity> {
    Maturity::ALL
        .iter()
        .copied()
        .filter(|m| match by_maturity(*m, complexity) {
            Verdict::Run => true,
            Verdict::Propose => through_approval,
            Verdict::Block => false,
        })
        .collect()
}

/// What a call is, once its body parsed.
struct Prepared {
    agent: AgentId,
    workspace: WorkspaceId,
    tool: ToolName,
    arguments: String,
    arguments_sha256: String,
}

/// The body's checks that need no read: ids (`404` when they cannot name
/// anything), the tool's name and the arguments (`400`).
fn prepare(agent_id: &str, request: &ToolCallRequest) -> Result<Prepared> {
    let agent = AgentId::parse(agent_id).map_err(|_| Error::NotFound("no such agent".into()))?;
    let workspace = WorkspaceId::parse(&request.workspace_id)
        .map_err(|_| Error::NotFound("no such workspace".into()))?;
    let tool = ToolName::parse(&request.tool)?;
    if !request.arguments.trim_start().starts_with('{') {
        return Err(Error::BadRequest("arguments must be a JSON object".into()));
    }
    let arguments = jcs::canonicalize(&request.arguments, "arguments")
        .map_err(|e| Error::BadRequest(format!("arguments are not I-JSON: {e}")))?;
    if arguments.len() > MAX_ARGUMENTS_BYTES {
        return Err(Error::PayloadTooLarge {
            limit: MAX_ARGUMENTS_BYTES,
        });
    }
    let arguments_sha256 = jcs::sha256_hex(&arguments);
    Ok(Prepared {
        agent,
        workspace,
        tool,
        arguments,
        arguments_sha256,
    })
}

/// How the caller of a tool call presented itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// The agent's own API key (`X-API-Key`), as sent.
    ApiKey(&'a str),
    /// An access token (`Authorization: Bearer`), as sent: a delegated
    /// token of the agent is the agent acting for its user; a person's
    /// own token is refused (a person is not the agent).
    Token(&'a str),
}

/// The caller once its credentials are read: the key (checked with the
/// rest of the context) or the delegated token (verified, its standing
/// judged with the rest of the context).
enum Asker<'t> {
    Key(crate::auth::api_keys::ParsedKey),
    Delegated {
        /// The token as sent.
        token: &'t str,
        claims: std::sync::Arc<AccessClaims>,
        agent: AgentId,
    },
}

impl Asker<'_> {
    /// The caller as recorded on calls and proposals, in the exact call's
    /// key and as the decision token's `sub`: `key:<id>`, or the delegated
    /// token's user `user:<id>`.
    fn caller(&self) -> String {
        match self {
            Asker::Key(parsed) => format!("key:{}", parsed.key_id),
            Asker::Delegated { claims, .. } => format!("user:{}", claims.sub),
        }
    }

    /// Whose idempotency keys these are: the key, or the user through the
    /// agent's key.
    fn idempotency_scope(&self) -> String {
        match self {
            Asker::Key(parsed) => format!("key:{}", parsed.key_id),
            Asker::Delegated { claims, .. } => format!(
                "user:{}/key:{}",
                claims.sub,
                claims.act.as_ref().map_or("", |a| a.key_id.as_str())
            ),
        }
    }
}

/// Reads `credential`: a key's shape (a malformed key is refused,
/// audited), or a token's signature and claims. A person's own token is
/// checked whole and then refused `403`: a person is not the agent.
async fn asker<'t>(
    state: &AgentState,
    origin: &Origin,
    credential: Credential<'t>,
) -> Result<Asker<'t>> {
    match credential {
        Credential::ApiKey(raw) => match parse_key(raw) {
            Some(parsed) => Ok(Asker::Key(parsed)),
            None => Err(refuse_malformed(state, origin).await),
        },
        Credential::Token(token) => {
            let claims = state
                .tokens
                .verify(token, state.clock.now_secs())
                .await
                .map_err(Error::on_either_scheme)?;
            match delegation::actor_agent(&claims).map_err(Error::on_either_scheme)? {
                Some(agent) => Ok(Asker::Delegated {
                    token,
                    claims,
                    agent,
                }),
                None => {
                    state
                        .bearer()
                        .person(token)
                        .await
                        .map_err(Error::on_either_scheme)?;
                    Err(Error::Forbidden(
                        "a person is not the agent: an agent asks with its API key (scope tools:call) or with a token delegated to it (POST /auth/token)".into(),
                    ))
                }
            }
        }
    }
}

/// The credential checks of a delegated token that are not its standing:
/// scope `tools:call` (`403`), the user's run limit (`429`, read with the
/// context as `rate_tat`), then the token's agent against the path's
/// (`403`), in API.md's order.
async fn delegated_checks(
    state: &AgentState,
    origin: &Origin,
    claims: &AccessClaims,
    agent: &AgentId,
    agent_id: &str,
    rate_tat: Option<i64>,
) -> Result<()> {
    delegation::require_scope(claims, SCOPE_TOOLS_CALL)?;
    super::run::limit_person(state, origin, &claims.sub, agent_id, rate_tat).await?;
    if agent.as_str() != agent_id {
        return Err(Error::Forbidden(
            "this token may only call tools for the agent it was delegated to".into(),
        ));
    }
    Ok(())
}

/// The whole credential check of a tool call whose body cannot be read,
/// or whose delegated token names another agent: everything API.md puts
/// before the body's faults, reading what it needs on its own.
async fn check_asker(
    state: &AgentState,
    origin: &Origin,
    asker: &Asker<'_>,
    agent_id: &str,
) -> Result<()> {
    match asker {
        Asker::Key(parsed) => {
            let record = state.store.get_api_key(&parsed.key_id).await?;
            let key = judge_key(
                state,
                &state.pepper,
                origin,
                parsed,
                record,
                &[SCOPE_TOOLS_CALL],
                KeyLimit::Run,
            )
            .await?;
            own_agent(state, origin, &key, agent_id).await
        }
        Asker::Delegated {
            token,
            claims,
            agent,
        } => {
            // The token's whole check, on its own read.
            state
                .bearer()
                .live(token)
                .await
                .map_err(Error::on_either_scheme)?;
            delegated_checks(state, origin, claims, agent, agent_id, None).await
        }
    }
}

/// Decides a tool call of `agent_id` (as the path gave it) asked for with
/// `credential`, in API.md's order, and writes the decision with its audit
/// event. `request` is the body read, or why it could not be (told only
/// once the credentials passed); `body` is the whole body as a value
/// (idempotency).
pub async fn submit(
    state: &AgentState,
    origin: Origin,
    credential: Credential<'_>,
    agent_id: &str,
    request: Result<(ToolCallRequest, Value)>,
    idempotency_key: Option<&str>,
) -> Result<(ToolCallAnswer, Option<String>)> {
    let asker = asker(state, &origin, credential).await?;
    let (request, body) = match request {
        Ok(r) => r,
        Err(e) => {
            // Credentials (and whose key it is) before the body's faults.
            check_asker(state, &origin, &asker, agent_id).await?;
            return Err(e);
        }
    };
    if let Asker::Delegated { agent, .. } = &asker
        && agent.as_str() != agent_id
    {
        check_asker(state, &origin, &asker, agent_id).await?;
    }
    let caller = asker.caller();
    let client_key = idempotency_key
        .map(super::run::parse_idempotency_key)
        .transpose()?
        .map(|k| keys::tool_idempotency(&asker.idempotency_scope(), k));
    let prepared = match prepare(agent_id, &request) {
        Ok(p) => p,
        Err(e) => {
            check_asker(state, &origin, &asker, agent_id).await?;
            if matches!(e, Error::NotFound(_)) {
                let rule = if AgentId::parse(agent_id).is_err() {
                    Block::UnknownAgent
                } else {
                    Block::UnknownWorkspace
                };
                let event = blocked_event(state, &origin, &caller, agent_id, &request, rule);
                state.store.transact(vec![event.into()]).await?;
            }
            return Err(e);
        }
    };
    let exact_key = exact_call_key(
        &prepared.agent,
        &prepared.workspace,
        &prepared.tool,
        &caller,
        &prepared.arguments_sha256,
    );
    let rate_key = match &asker {
        Asker::Delegated { claims, .. } => Some(keys::user_runs(&claims.sub)),
        Asker::Key(_) => None,
    };
    let lookup = ToolCallLookup {
        key_id: Some(match &asker {
            Asker::Key(parsed) => parsed.key_id.as_str(),
            Asker::Delegated { claims, .. } => claims.act.as_ref().map_or("", |a| &a.key_id),
        }),
        agent_id: &prepared.agent,
        workspace_id: &prepared.workspace,
        tool: &prepared.tool,
        exact_call_key: &exact_key,
        idempotency_key: client_key.as_deref(),
        token: match &asker {
            Asker::Delegated { claims, .. } => Some(delegation::token_lookup(claims)),
            Asker::Key(_) => None,
        },
        rate_key: rate_key.as_deref(),
        now: state.clock.now_secs(),
    };
    let mut ctx = state.store.tool_call_context(lookup).await?;
    let via_key = match &asker {
        Asker::Key(parsed) => {
            let key = judge_key(
                state,
                &state.pepper,
                &origin,
                parsed,
                ctx.api_key.take(),
                &[SCOPE_TOOLS_CALL],
                KeyLimit::Run,
            )
            .await?;
            own_agent(state, &origin, &key, agent_id).await?;
            None
        }
        Asker::Delegated { claims, agent, .. } => {
            standing(state, claims, &ctx)?;
            delegated_checks(state, &origin, claims, agent, agent_id, ctx.rate_tat).await?;
            claims.act.as_ref().map(|a| a.key_id.clone())
        }
    };
    let call = Call {
        state,
        origin: &origin,
        caller: &caller,
        via_key: via_key.as_deref(),
        prepared: &prepared,
        exact_key: &exact_key,
        client_key: client_key.as_deref(),
        hash: super::run::request_hash(agent_id, &body),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let decided = match &asker {
            // A delegated token is judged again on every read: a kill
            // switch or a revocation that lands during the call counts.
            Asker::Delegated { claims, .. } => match standing(state, claims, &ctx) {
                Ok(()) => {
                    call.decide_for(&ctx, Some(&delegated_workspaces(&ctx)))
                        .await
                }
                Err(e) => Err(e),
            },
            Asker::Key(_) => call.decide_for(&ctx, None).await,
        };
        match decided {
            Err(Error::ConditionFailed) if attempt < MAX_ATTEMPTS => {
                // Lost a race on one of the write's conditions: read
                // everything again and decide again.
                let lookup = ToolCallLookup {
                    now: state.clock.now_secs(),
                    ..lookup
                };
                ctx = state.store.tool_call_context(lookup).await?;
            }
            Err(Error::ConditionFailed) => {
                return Err(Error::Saturated {
                    retry_after: Duration::from_secs(1),
                });
            }
            other => return other,
        }
    }
}

/// Whether the delegated token `claims` stands, judged on what the call's
/// one read said (its denylist items, the actor key, the agent): `401`
/// `revoked` otherwise.
fn standing(state: &AgentState, claims: &AccessClaims, ctx: &ToolCallContext) -> Result<()> {
    let not_read = crate::domain::RevocationState::default();
    let read = delegation::StandingRead {
        // Always read with a token; absent, nothing stands.
        revocation: ctx.revocation.as_ref().unwrap_or(&not_read),
        key: ctx.api_key.as_ref(),
        agent: ctx.agent.as_ref(),
    };
    match delegation::refusal(claims, read, state.clock.now_secs()) {
        None => Ok(()),
        Some(why) => {
            tracing::debug!(jti = %claims.jti, why, "delegated token refused");
            Err(Error::token(Refusal::Revoked).on_either_scheme())
        }
    }
}

/// The workspaces a delegated token's user is a member of, as the call's
/// read said.
fn delegated_workspaces(ctx: &ToolCallContext) -> Vec<WorkspaceId> {
    ctx.revocation
        .as_ref()
        .map(|r| r.workspaces.clone())
        .unwrap_or_default()
}

/// A key calls only for its own agent: another agent's, whether or not it
/// exists, is `403`, audited.
async fn own_agent(
    state: &AgentState,
    origin: &Origin,
    key: &crate::auth::api_keys::KeyCaller,
    agent_id: &str,
) -> Result<()> {
    if key
        .owner
        .agent()
        .is_some_and(|own| own.as_str() == agent_id)
    {
        return Ok(());
    }
    let error = Error::Forbidden("this key may only call tools for its own agent".into());
    Err(refuse_key(
        state,
        origin,
        Some(&key.key_id),
        KeyRefusal::OtherAgent,
        error,
    )
    .await)
}

fn blocked_event(
    state: &AgentState,
    origin: &Origin,
    caller: &str,
    agent_id: &str,
    request: &ToolCallRequest,
    block: Block,
) -> AuditEvent {
    state
        .auditor
        .event(
            EventType::ToolCallBlocked,
            Severity::Warning,
            origin.clone(),
        )
        .actor(caller)
        .subject(format!("agent:{agent_id}"))
        .detail("reason", block.reason())
        .detail("caller", caller)
        .detail("workspace_id", request.workspace_id.clone())
        .detail("tool", request.tool.clone())
}

/// One call being decided.
struct Call<'a> {
    state: &'a AgentState,
    origin: &'a Origin,
    caller: &'a str,
    /// A delegated call's actor key (the agent acts for `caller`).
    via_key: Option<&'a str>,
    prepared: &'a Prepared,
    exact_key: &'a str,
    client_key: Option<&'a str>,
    hash: String,
}

impl Call<'_> {
    /// An audit event of this call with its fields.
    /// A delegated call names both the user (actor, `caller`) and the
    /// agent acting for them (subject, `act`) with its key.
    fn event(&self, event_type: EventType, severity: Severity) -> AuditEvent {
        let p = self.prepared;
        let event = self
            .state
            .auditor
            .event(event_type, severity, self.origin.clone())
            .actor(self.caller)
            .subject(format!("agent:{}", p.agent))
            .detail("caller", self.caller)
            .detail("workspace_id", p.workspace.as_str())
            .detail("tool", p.tool.as_str())
            .detail("arguments_sha256", p.arguments_sha256.clone());
        match self.via_key {
            Some(key_id) => event
                .detail("act", format!("agent:{}", p.agent))
                .detail("key_id", key_id),
            None => event,
        }
    }

    /// The event of a decision under the table: its maturity, complexity
    /// and cell (the policy that made it).
    fn decided(
        &self,
        event_type: EventType,
        agent: &AgentRecord,
        tool: &ToolRecord,
        verdict: Verdict,
    ) -> AuditEvent {
        self.event(event_type, Severity::Info)
            .detail("maturity", agent.maturity.as_str())
            .detail("complexity", tool.complexity.level())
            .detail("table_version", super::governance::TABLE_VERSION)
            .detail("tool_version", tool.version.clone())
            .detail(
                "rule",
                match verdict {
                    Verdict::Run => "runs",
                    Verdict::Propose => "proposal",
                    Verdict::Block => "blocked",
                },
            )
    }

    /// Decides the call on `ctx`; `members` are a delegated token's
    /// user's workspaces (any other workspace is answered like an unknown
    /// one, after an unknown agent).
    async fn decide_for(
        &self,
        ctx: &ToolCallContext,
        members: Option<&[WorkspaceId]>,
    ) -> Result<(ToolCallAnswer, Option<String>)> {
        let state = self.state;
        let now_ms = state.clock.now_millis();
        let ttl = state.config.tool_approval_ttl_secs;
        if let Some(members) = members
            && ctx.agent.is_some()
            && !members.contains(&self.prepared.workspace)
        {
            return Err(self.refuse(ctx, Block::NotAMember).await);
        }
        if let Some(earlier) = &ctx.idempotency {
            return self.replay(ctx, earlier, now_ms).await;
        }
        let (judged, verdict) = match judge(ctx, &self.prepared.workspace, now_ms, ttl) {
            Ok(j) => j,
            Err(block) => return Err(self.refuse(ctx, block).await),
        };
        // `judge` returned Ok: the agent and the tool were read.
        let (Some(agent), Some(tool)) = (&ctx.agent, &ctx.tool) else {
            return Err(Error::internal("a judged call without its agent or tool"));
        };
        match judged {
            Judged::Allow => self.allow(agent, tool, verdict, now_ms).await,
            Judged::Consume(exact) => self.consume(agent, tool, verdict, &exact, now_ms).await,
            Judged::Pending(exact) => {
                self.still_pending(agent, tool, verdict, &exact, now_ms)
                    .await
            }
            Judged::Open(replacing) => {
                self.open(ctx, agent, tool, verdict, replacing, now_ms)
                    .await
            }
        }
    }

    /// Audits a refusal and returns its answer.
    async fn refuse(&self, ctx: &ToolCallContext, block: Block) -> Error {
        let p = self.prepared;
        let mut event = self
            .event(EventType::ToolCallBlocked, Severity::Warning)
            .detail("reason", block.reason());
        if let Some(agent) = &ctx.agent {
            event = event.detail("maturity", agent.maturity.as_str());
        }
        if let Some(tool) = &ctx.tool {
            event = event
                .detail("complexity", tool.complexity.level())
                .detail("tool_version", tool.version.clone());
        }
        if block == Block::Maturity {
            // The table refused: which table.
            event = event.detail("table_version", super::governance::TABLE_VERSION);
        }
        if let (Some(exact), Block::ApprovalRejected | Block::ApprovalUsed) = (&ctx.exact, block) {
            event = event.detail("proposal_id", exact.proposal_id.clone());
        }
        let error = block.error(p.agent.as_str(), p.workspace.as_str(), p.tool.as_str());
        match self.state.store.transact(vec![event.into()]).await {
            Ok(()) => error,
            Err(e) => e,
        }
    }

    /// Signs the decision token of `call_id` (before anything is written).
    async fn token(&self, call_id: &str, proposal_id: Option<&str>, now_ms: i64) -> Result<String> {
        let decisions = self.state.decisions.as_ref().ok_or_else(|| {
            tracing::error!("tool calls need a decision key (WARDEN_DECISION_KEY_ARN)");
            Error::unavailable("no decision key")
        })?;
        let now = now_ms.div_euclid(1000);
        let p = self.prepared;
        let claims = DecisionClaims {
            iss: decisions.issuer().to_owned(),
            sub: self.caller.to_owned(),
            act: DecisionActor {
                sub: format!("agent:{}", p.agent),
            },
            aud: format!("tool:{}", p.tool),
            exp: now + DECISION_TOKEN_TTL_SECS,
            iat: now,
            jti: call_id.to_owned(),
            tool: p.tool.as_str().to_owned(),
            arguments_sha256: p.arguments_sha256.clone(),
            workspace_id: p.workspace.as_str().to_owned(),
            proposal_id: proposal_id.map(str::to_owned),
        };
        decisions.sign(&claims).await
    }

    fn idempotency(
        &self,
        call_id: &str,
        decision: ToolDecision,
        proposal_id: Option<&str>,
        kill_generation: u64,
        now_ms: i64,
    ) -> Option<Write> {
        let now = now_ms.div_euclid(1000);
        self.client_key.map(|key| {
            ToolWrite::PutIdempotency {
                record: ToolIdempotencyRecord {
                    key: key.to_owned(),
                    request_hash: self.hash.clone(),
                    call_id: call_id.to_owned(),
                    decision,
                    proposal_id: proposal_id.map(str::to_owned),
                    kill_generation,
                    expires_at: now + super::run::IDEMPOTENCY_TTL_SECS,
                },
                now,
            }
            .into()
        })
    }

    fn record(&self, call_id: &str, status: ToolCallStatus, now_ms: i64) -> ToolCallRecord {
        let p = self.prepared;
        ToolCallRecord {
            call_id: call_id.to_owned(),
            agent_id: p.agent.clone(),
            workspace_id: p.workspace.clone(),
            tool: p.tool.clone(),
            arguments_sha256: p.arguments_sha256.clone(),
            caller: self.caller.to_owned(),
            decision: match status {
                ToolCallStatus::Allowed => ToolDecision::Allow,
                _ => ToolDecision::ApprovalRequired,
            },
            status,
            proposal_id: None,
            decide_by: None,
            outcome: None,
            created_at: now_ms,
            updated_at: now_ms,
        }
    }

    /// Writes `writes`; a write whose outcome is unknown is settled by a
    /// retry with the same `Idempotency-Key`.
    async fn write(&self, writes: Vec<Write>) -> Result<()> {
        self.state
            .store
            .transact(writes)
            .await
            .map_err(Error::settled_by_idempotent_retry)
    }

    async fn allow(
        &self,
        agent: &AgentRecord,
        tool: &ToolRecord,
        verdict: Verdict,
        now_ms: i64,
    ) -> Result<(ToolCallAnswer, Option<String>)> {
        let p = self.prepared;
        let call_id = ulid_at(now_ms);
        let token = self.token(&call_id, None, now_ms).await?;
        let mut writes: Vec<Write> = vec![
            ToolWrite::PutCall(self.record(&call_id, ToolCallStatus::Allowed, now_ms)).into(),
            ToolWrite::AgentAllows {
                agent_id: p.agent.clone(),
                workspace_id: p.workspace.clone(),
                maturities: maturities_for(tool.complexity, false),
                kill_generation: agent.kill_generation,
            }
            .into(),
            ToolWrite::ToolAllows {
                name: tool.name.clone(),
                version: tool.version.clone(),
                workspace_id: p.workspace.clone(),
            }
            .into(),
            self.decided(EventType::ToolCallAllowed, agent, tool, verdict)
                .detail("call_id", call_id.clone())
                .into(),
        ];
        writes.extend(self.idempotency(
            &call_id,
            ToolDecision::Allow,
            None,
            agent.kill_generation,
            now_ms,
        ));
        self.write(writes).await?;
        Ok((
            ToolCallAnswer::Allow {
                call_id,
                arguments_sha256: p.arguments_sha256.clone(),
                decision_token: token,
                proposal_id: None,
            },
            None,
        ))
    }

    async fn consume(
        &self,
        agent: &AgentRecord,
        tool: &ToolRecord,
        verdict: Verdict,
        exact: &ExactCallRecord,
        now_ms: i64,
    ) -> Result<(ToolCallAnswer, Option<String>)> {
        let p = self.prepared;
        let call_id = exact.call_id.clone();
        let proposal_id = exact.proposal_id.clone();
        let token = self.token(&call_id, Some(&proposal_id), now_ms).await?;
        let mut writes: Vec<Write> = vec![
            ToolWrite::MoveExact {
                key: self.exact_key.to_owned(),
                proposal_id: proposal_id.clone(),
                from: ProposalStatus::Approved,
                to: ProposalStatus::Used,
                at: now_ms,
            }
            .into(),
            AgentWrite::DecideProposal {
                proposal_id: proposal_id.clone(),
                from: ProposalStatus::Approved,
                status: ProposalStatus::Used,
                decided_by: None,
                reason: None,
                at: now_ms,
            }
            .into(),
            ToolWrite::SettleCall {
                call_id: call_id.clone(),
                from: ToolCallStatus::AwaitingApproval,
                to: ToolCallStatus::Allowed,
                decide_by: None,
                at: now_ms,
            }
            .into(),
            ToolWrite::AgentAllows {
                agent_id: p.agent.clone(),
                workspace_id: p.workspace.clone(),
                maturities: maturities_for(tool.complexity, true),
                kill_generation: exact.kill_generation,
            }
            .into(),
            ToolWrite::ToolAllows {
                name: tool.name.clone(),
                version: exact.tool_version.clone(),
                workspace_id: p.workspace.clone(),
            }
            .into(),
            self.decided(EventType::ToolCallApprovalConsumed, agent, tool, verdict)
                .detail("call_id", call_id.clone())
                .detail("proposal_id", proposal_id.clone())
                .into(),
        ];
        writes.extend(self.idempotency(
            &call_id,
            ToolDecision::Allow,
            Some(&proposal_id),
            exact.kill_generation,
            now_ms,
        ));
        self.write(writes).await?;
        Ok((
            ToolCallAnswer::Allow {
                call_id,
                arguments_sha256: p.arguments_sha256.clone(),
                decision_token: token,
                proposal_id: Some(proposal_id),
            },
            None,
        ))
    }

    /// The `202` of the proposal `proposal_id` opened by `call_id` at
    /// `created_at` (epoch ms), with its `Location`.
    fn approval_required(
        &self,
        call_id: &str,
        proposal_id: &str,
        created_at: i64,
    ) -> (ToolCallAnswer, Option<String>) {
        let ttl = self.state.config.tool_approval_ttl_secs;
        let answer = ToolCallAnswer::ApprovalRequired {
            call_id: call_id.to_owned(),
            proposal_id: proposal_id.to_owned(),
            expires_at: rfc3339(created_at.div_euclid(1000) + ttl),
        };
        (answer, Some(format!("/agents/tool-calls/{call_id}")))
    }

    /// An identical call while its proposal is pending: the same `202`,
    /// audited at most once a minute per proposal.
    async fn still_pending(
        &self,
        agent: &AgentRecord,
        tool: &ToolRecord,
        verdict: Verdict,
        exact: &ExactCallRecord,
        now_ms: i64,
    ) -> Result<(ToolCallAnswer, Option<String>)> {
        let idempotency = self.idempotency(
            &exact.call_id,
            ToolDecision::ApprovalRequired,
            Some(&exact.proposal_id),
            agent.kill_generation,
            now_ms,
        );
        let mut writes: Vec<Write> = vec![
            ToolWrite::MarkAudited {
                key: self.exact_key.to_owned(),
                proposal_id: exact.proposal_id.clone(),
                at: now_ms,
                not_after: now_ms - PENDING_AUDIT_EVERY_MS,
            }
            .into(),
            self.decided(EventType::ToolCallProposed, agent, tool, verdict)
                .detail("call_id", exact.call_id.clone())
                .detail("proposal_id", exact.proposal_id.clone())
                .detail("repeated", true)
                .into(),
        ];
        writes.extend(idempotency.clone());
        match self.state.store.transact(writes).await {
            Ok(()) => {}
            // Audited less than a minute ago (or the proposal moved on: the
            // answer still stands for this request).
            Err(Error::ConditionFailed) => {
                if let Some(write) = idempotency {
                    match self.state.store.transact(vec![write]).await {
                        Ok(()) | Err(Error::ConditionFailed) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
        Ok(self.approval_required(&exact.call_id, &exact.proposal_id, exact.created_at))
    }

    async fn open(
        &self,
        ctx: &ToolCallContext,
        agent: &AgentRecord,
        tool: &ToolRecord,
        verdict: Verdict,
        replacing: Option<ExactCallRecord>,
        now_ms: i64,
    ) -> Result<(ToolCallAnswer, Option<String>)> {
        let state = self.state;
        let p = self.prepared;
        let ttl = state.config.tool_approval_ttl_secs;
        let ttl_ms = ttl * 1000;
        // The proposal replaced leaves the slots with this write.
        let mut stale = ctx.slots.stale(now_ms, ttl);
        let mut live = ctx.slots.live(now_ms, ttl);
        if let Some(old) = &replacing
            && let Some(&created) = ctx.slots.entries.get(&old.proposal_id)
        {
            if created + ttl_ms > now_ms {
                live -= 1;
            }
            if !stale.contains(&old.proposal_id) {
                stale.push(old.proposal_id.clone());
            }
        }
        let max = usize::try_from(state.config.tool_pending_max).unwrap_or(usize::MAX);
        if live >= max {
            let oldest = ctx
                .slots
                .entries
                .values()
                .filter(|&&c| c + ttl_ms > now_ms)
                .min()
                .copied()
                .unwrap_or(now_ms);
            let wait_ms = (oldest + ttl_ms - now_ms).max(1000);
            let event = self
                .decided(EventType::ToolCallBlocked, agent, tool, verdict)
                .detail("reason", "approvals_pending")
                .detail("pending", live);
            state.store.transact(vec![event.into()]).await?;
            return Err(Error::ApprovalsPending {
                retry_after: Duration::from_millis(wait_ms.unsigned_abs()),
                detail: format!(
                    "agent {} already has {live} pending tool-call proposals in workspace {}: wait until one is decided or runs out",
                    p.agent, p.workspace
                ),
            });
        }
        let call_id = ulid_at(now_ms);
        let proposal_id = ulid_at(now_ms);
        let created = now_ms;
        let exact = ExactCallRecord {
            key: self.exact_key.to_owned(),
            proposal_id: proposal_id.clone(),
            call_id: call_id.clone(),
            status: ProposalStatus::Pending,
            created_at: created,
            decided_at: None,
            used_at: None,
            kill_generation: agent.kill_generation,
            tool_version: tool.version.clone(),
            audited_at: Some(now_ms),
        };
        let proposal = ProposalRecord {
            proposal_id: proposal_id.clone(),
            kind: ProposalKind::ToolCall(ToolProposal {
                call_id: call_id.clone(),
                tool: p.tool.clone(),
                complexity: tool.complexity,
                arguments: p.arguments.clone(),
                arguments_sha256: p.arguments_sha256.clone(),
                exact_call_key: self.exact_key.to_owned(),
                tool_version: tool.version.clone(),
                kill_generation: agent.kill_generation,
                actor_key_id: self.via_key.map(str::to_owned),
            }),
            agent_id: p.agent.clone(),
            workspace_id: p.workspace.clone(),
            agent_maturity: Some(agent.maturity),
            requested_by: self.caller.to_owned(),
            status: ProposalStatus::Pending,
            created_at: created,
            decide_by: created.div_euclid(1000) + ttl,
            decided_by: None,
            reason: None,
            decided_at: None,
        };
        let mut record = self.record(&call_id, ToolCallStatus::AwaitingApproval, now_ms);
        record.proposal_id = Some(proposal_id.clone());
        record.decide_by = Some(proposal.decide_by);
        let mut writes: Vec<Write> = vec![
            ToolWrite::OpenExact {
                record: exact.clone(),
                replacing: replacing.as_ref().map(|r| r.proposal_id.clone()),
            }
            .into(),
            AgentWrite::CreateProposal(proposal).into(),
            ToolWrite::PutCall(record).into(),
            ToolWrite::TakeSlot {
                agent_id: p.agent.clone(),
                workspace_id: p.workspace.clone(),
                version_was: ctx.slots.version,
                proposal_id: proposal_id.clone(),
                created_at: created,
                stale,
            }
            .into(),
        ];
        let mut event = self
            .decided(EventType::ToolCallProposed, agent, tool, verdict)
            .detail("call_id", call_id.clone())
            .detail("proposal_id", proposal_id.clone());
        if let Some(old) = &replacing
            && matches!(
                old.status,
                ProposalStatus::Pending | ProposalStatus::Approved
            )
        {
            // The proposal it replaces was void (its window passed, or its
            // agent or tool changed): it ends EXPIRED in the same write.
            writes.push(
                AgentWrite::DecideProposal {
                    proposal_id: old.proposal_id.clone(),
                    from: old.status,
                    status: ProposalStatus::Expired,
                    decided_by: None,
                    reason: None,
                    at: now_ms,
                }
                .into(),
            );
            writes.push(
                ToolWrite::SettleCall {
                    call_id: old.call_id.clone(),
                    from: ToolCallStatus::AwaitingApproval,
                    to: ToolCallStatus::Expired,
                    decide_by: None,
                    at: now_ms,
                }
                .into(),
            );
            event = event.detail("replaces_proposal_id", old.proposal_id.clone());
        }
        writes.push(event.into());
        writes.extend(self.idempotency(
            &call_id,
            ToolDecision::ApprovalRequired,
            Some(&proposal_id),
            agent.kill_generation,
            now_ms,
        ));
        self.write(writes).await?;
        Ok(self.approval_required(&call_id, &proposal_id, created))
    }

    /// The earlier answer under the same `Idempotency-Key`: `409` for
    /// another body; an allow is answered again with a fresh decision
    /// token for the same call, unless the agent or the tool no longer
    /// allows it (the kill switch holds for retries too).
    async fn replay(
        &self,
        ctx: &ToolCallContext,
        earlier: &ToolIdempotencyRecord,
        now_ms: i64,
    ) -> Result<(ToolCallAnswer, Option<String>)> {
        if earlier.request_hash != self.hash {
            return Err(Error::Conflict(
                "this Idempotency-Key was used with another request body".into(),
            ));
        }
        let p = self.prepared;
        match earlier.decision {
            ToolDecision::Allow => {
                // The allow holds again only as the agent and the tool
                // stand now: enabled, allowed there, at a maturity that
                // still allows it, its kill generation unchanged.
                let gate = match (&ctx.agent, &ctx.tool) {
                    (None, _) => Err(Block::UnknownAgent),
                    (Some(a), _) if !a.allowed_in(&p.workspace) => Err(Block::Workspace),
                    (Some(a), _) if !a.enabled => Err(Block::AgentDisabled),
                    (Some(_), None) => Err(Block::ToolNotAllowed),
                    (Some(_), Some(t)) if !t.allowed_in(&p.workspace) => Err(Block::ToolNotAllowed),
                    (Some(a), Some(t)) => {
                        let through_approval = earlier.proposal_id.is_some();
                        if !maturities_for(t.complexity, through_approval).contains(&a.maturity) {
                            Err(Block::Maturity)
                        } else if a.kill_generation != earlier.kill_generation {
                            // Disabled (or demoted) and enabled again since:
                            // re-enabling revives nothing.
                            Err(Block::AgentDisabled)
                        } else {
                            Ok(())
                        }
                    }
                };
                if let Err(block) = gate {
                    return Err(self.refuse(ctx, block).await);
                }
                let token = self
                    .token(&earlier.call_id, earlier.proposal_id.as_deref(), now_ms)
                    .await?;
                Ok((
                    ToolCallAnswer::Allow {
                        call_id: earlier.call_id.clone(),
                        arguments_sha256: p.arguments_sha256.clone(),
                        decision_token: token,
                        proposal_id: earlier.proposal_id.clone(),
                    },
                    None,
                ))
            }
            ToolDecision::ApprovalRequired => {
                // The call's id is the ULID of the moment it (and its
                // proposal) was opened: its time needs no read.
                let created = ulid::Ulid::from_string(&earlier.call_id)
                    .ok()
                    .and_then(|u| i64::try_from(u.timestamp_ms()).ok())
                    .unwrap_or(now_ms);
                let proposal_id = earlier.proposal_id.as_deref().unwrap_or_default();
                Ok(self.approval_required(&earlier.call_id, proposal_id, created))
            }
        }
    }
}

/// A tool call as `GET /agents/tool-calls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCallView {
    /// The call.
    pub call_id: String,
    /// The agent.
    pub agent_id: AgentId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The tool.
    pub tool: ToolName,
    /// Lowercase hex SHA-256 of the arguments' JCS form.
    pub arguments_sha256: String,
    /// What was answered first.
    pub decision: ToolDecision,
    /// Where it is now.
    pub status: ToolCallStatus,
    /// Its proposal, if it needed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_id: Option<String>,
    /// What the agent reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeView>,
    /// RFC 3339.
    pub created_at: String,
}

/// A reported outcome as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeView {
    /// `succeeded` or `failed`.
    pub status: OutcomeStatus,
    /// What the agent said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// RFC 3339.
    pub reported_at: String,
}

impl ToolCallView {
    fn at(call: ToolCallRecord, now: i64) -> Self {
        Self {
            status: call.status_at(now),
            call_id: call.call_id,
            agent_id: call.agent_id,
            workspace_id: call.workspace_id,
            tool: call.tool,
            arguments_sha256: call.arguments_sha256,
            decision: call.decision,
            proposal_id: call.proposal_id,
            outcome: call.outcome.map(|o| OutcomeView {
                status: o.status,
                detail: o.detail,
                reported_at: rfc3339(o.at.div_euclid(1000)),
            }),
            created_at: rfc3339(call.created_at.div_euclid(1000)),
        }
    }
}

/// Whether `caller` may see `call`: a person in its workspace, a key of
/// its agent, a delegated token a call it made (its agent, for its user,
/// in a workspace the user is a member of).
fn sees_call(caller: &Caller, call: &ToolCallRecord) -> bool {
    match caller {
        Caller::User { .. } => caller.sees_workspace(&call.workspace_id),
        Caller::Delegated(d) => {
            call.agent_id == d.agent_id
                && call.caller == caller.id()
                && caller.sees_workspace(&call.workspace_id)
        }
        Caller::Key(key) => key.owner.agent() == Some(&call.agent_id),
    }
}

/// `GET /agents/tool-calls/{call_id}`.
pub async fn get_call(state: &AgentState, caller: &Caller, call_id: &str) -> Result<ToolCallView> {
    let not_found = || Error::NotFound("no such tool call".into());
    if !is_generated_id(call_id) {
        return Err(not_found());
    }
    let call = state
        .store
        .get_tool_call(call_id)
        .await?
        .filter(|c| sees_call(caller, c))
        .ok_or_else(not_found)?;
    Ok(ToolCallView::at(call, state.clock.now_secs()))
}

/// `GET /agents/tool-calls?workspace_id=W[&status=S]`: newest first; a
/// key sees its own agent's calls only.
pub async fn list_calls(
    state: &AgentState,
    caller: &Caller,
    workspace_id: &str,
    status: Option<ToolCallStatus>,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<ToolCallView>, Option<String>)> {
    let not_found = || Error::NotFound("no such workspace".into());
    let workspace = WorkspaceId::parse(workspace_id).map_err(|_| not_found())?;
    match caller {
        Caller::User { .. } => {
            if !caller.sees_workspace(&workspace)
                || state.store.get_workspace(&workspace).await?.is_none()
            {
                return Err(not_found());
            }
        }
        Caller::Key(key) => {
            let agent = match key.owner.agent() {
                Some(own) => state.store.get_agent(own).await?,
                None => None,
            };
            if !agent.is_some_and(|a| a.allowed_in(&workspace)) {
                return Err(not_found());
            }
        }
        // Never here: listing is not a delegated token's route.
        Caller::Delegated(_) => return Err(crate::auth::bearer::delegated_refused()),
    }
    let Page { items, next } = state
        .store
        .list_tool_calls(&workspace, status, limit, after)
        .await?;
    let now = state.clock.now_secs();
    let calls = items
        .into_iter()
        .filter(|c| sees_call(caller, c))
        .map(|c| ToolCallView::at(c, now))
        .collect();
    Ok((calls, next))
}

/// `POST /agents/tool-calls/{call_id}/outcome` by the call's agent: kept
/// once with its audit event; a second report is `409`; a call that is
/// not this agent's allowed call `404`.
pub async fn report_outcome(
    state: &AgentState,
    origin: Origin,
    caller: &Caller,
    call_id: &str,
    status: OutcomeStatus,
    detail: Option<String>,
) -> Result<()> {
    let not_found = || Error::NotFound("no such allowed tool call of this agent".into());
    let agent = match caller {
        Caller::Key(key) => key.owner.agent().ok_or_else(not_found)?,
        Caller::Delegated(d) => &d.agent_id,
        Caller::User { .. } => {
            return Err(Error::Forbidden(
                "the agent reports its tool calls' outcomes, with its API key or a token delegated to it".into(),
            ));
        }
    };
    if !is_generated_id(call_id) {
        return Err(not_found());
    }
    if let Some(d) = &detail
        && d.len() > MAX_DETAIL_BYTES
    {
        return Err(Error::BadRequest(format!(
            "detail is at most {MAX_DETAIL_BYTES} bytes"
        )));
    }
    let now_ms = state.clock.now_millis();
    let event = state
        .auditor
        .event(EventType::ToolCallOutcome, Severity::Info, origin)
        .actor(caller.id())
        .subject(format!("agent:{agent}"))
        .detail("call_id", call_id)
        .detail("status", status.as_str());
    let writes = vec![
        ToolWrite::ReportOutcome {
            call_id: call_id.to_owned(),
            agent_id: agent.clone(),
            outcome: Outcome {
                status,
                detail,
                at: now_ms,
            },
        }
        .into(),
        event.into(),
    ];
    match state.store.transact(writes).await {
        Ok(()) => Ok(()),
        Err(Error::ConditionFailed) => match state.store.get_tool_call(call_id).await? {
            Some(c)
                if &c.agent_id == agent
                    && c.status == ToolCallStatus::Allowed
                    && c.outcome.is_some() =>
            {
                Err(Error::Conflict(
                    "this call's outcome was reported already".into(),
                ))
            }
            _ => Err(not_found()),
        },
        Err(e) => Err(e),
    }
}

/// How a tool-call proposal stands at `now_ms` (window `ttl_secs`): a
/// pending one past `created_at + TTL`, or an approval past
/// `approved_at + TTL`, shows `EXPIRED` before its expiry is written.
pub fn shown_status(p: &ProposalRecord, now_ms: i64, ttl_secs: i64) -> ProposalStatus {
    let ttl_ms = ttl_secs * 1000;
    match p.status {
        ProposalStatus::Pending if p.created_at + ttl_ms <= now_ms => ProposalStatus::Expired,
        ProposalStatus::Approved
            if p.tool_call().is_some() && p.decided_at.is_some_and(|at| at + ttl_ms <= now_ms) =>
        {
            ProposalStatus::Expired
        }
        status => status,
    }
}

/// When a tool-call proposal runs out (epoch seconds): its decision window
/// while pending, its approval's once approved.
pub fn expires_at(p: &ProposalRecord, ttl_secs: i64) -> i64 {
    match (p.status, p.decided_at) {
        (ProposalStatus::Approved | ProposalStatus::Used, Some(at)) => {
            at.div_euclid(1000) + ttl_secs
        }
        _ => p.created_at.div_euclid(1000) + ttl_secs,
    }
}

/// The agents and tools [`voided`] has read, kept for one listing or
/// decision: a page of one agent's calls of one tool reads each once.
#[derive(Debug, Default)]
pub struct Registrations {
    agents: HashMap<AgentId, Option<AgentRecord>>,
    tools: HashMap<ToolName, Option<ToolRecord>>,
}

/// Whether a tool-call proposal no longer counts although its window has
/// not passed: its agent was disabled or demoted, or its tool registered
/// again or removed. Reads the agent and the tool, unless `seen` has them.
pub async fn voided(
    state: &AgentState,
    p: &ProposalRecord,
    seen: &mut Registrations,
) -> Result<bool> {
    let Some(t) = p.tool_call() else {
        return Ok(false);
    };
    if !seen.agents.contains_key(&p.agent_id) {
        let agent = state.store.get_agent(&p.agent_id).await?;
        seen.agents.insert(p.agent_id.clone(), agent);
    }
    let agent_stands = seen.agents[&p.agent_id]
        .as_ref()
        .is_some_and(|a| a.enabled && a.kill_generation == t.kill_generation);
    if !agent_stands {
        return Ok(true);
    }
    if !seen.tools.contains_key(&t.tool) {
        let tool = state.store.get_tool(&t.tool).await?;
        seen.tools.insert(t.tool.clone(), tool);
    }
    Ok(seen.tools[&t.tool]
        .as_ref()
        .is_none_or(|tool| tool.version != t.tool_version))
}

/// The writes that end a tool-call proposal `EXPIRED` (its window passed,
/// or it was voided): the proposal, its exact call's item, its call and
/// its pending slot, with the audit event.
pub fn expiry_writes(
    state: &AgentState,
    origin: &Origin,
    p: &ProposalRecord,
    now_ms: i64,
) -> Vec<Write> {
    let Some(t) = p.tool_call() else {
        return Vec::new();
    };
    let mut writes: Vec<Write> = vec![
        AgentWrite::DecideProposal {
            proposal_id: p.proposal_id.clone(),
            from: p.status,
            status: ProposalStatus::Expired,
            decided_by: None,
            reason: None,
            at: now_ms,
        }
        .into(),
        ToolWrite::MoveExact {
            key: t.exact_call_key.clone(),
            proposal_id: p.proposal_id.clone(),
            from: p.status,
            to: ProposalStatus::Expired,
            at: now_ms,
        }
        .into(),
        ToolWrite::SettleCall {
            call_id: t.call_id.clone(),
            from: ToolCallStatus::AwaitingApproval,
            to: ToolCallStatus::Expired,
            decide_by: None,
            at: now_ms,
        }
        .into(),
    ];
    if p.status == ProposalStatus::Pending {
        writes.push(
            ToolWrite::ReleaseSlot {
                agent_id: p.agent_id.clone(),
                workspace_id: p.workspace_id.clone(),
                proposal_id: p.proposal_id.clone(),
            }
            .into(),
        );
    }
    writes.push(
        state
            .auditor
            .event(EventType::ProposalExpired, Severity::Info, origin.clone())
            .subject(format!("agent:{}", p.agent_id))
            .detail("proposal_id", p.proposal_id.clone())
            .detail("kind", "tool_call")
            .detail("call_id", t.call_id.clone())
            .detail("tool", t.tool.as_str())
            .detail("arguments_sha256", t.arguments_sha256.clone())
            .into(),
    );
    writes
}

/// The writes of a decision on a pending tool-call proposal besides the
/// proposal's own: its exact call's item (`APPROVED`: the identical call
/// may use it once, within the window; `REJECTED`: identical calls are
/// refused within the window), its call, its pending slot.
pub fn decision_writes(
    state: &AgentState,
    p: &ProposalRecord,
    approve: bool,
    now_ms: i64,
) -> Vec<Write> {
    let Some(t) = p.tool_call() else {
        return Vec::new();
    };
    let ttl = state.config.tool_approval_ttl_secs;
    vec![
        ToolWrite::MoveExact {
            key: t.exact_call_key.clone(),
            proposal_id: p.proposal_id.clone(),
            from: ProposalStatus::Pending,
            to: if approve {
                ProposalStatus::Approved
            } else {
                ProposalStatus::Rejected
            },
            at: now_ms,
        }
        .into(),
        ToolWrite::SettleCall {
            call_id: t.call_id.clone(),
            from: ToolCallStatus::AwaitingApproval,
            to: if approve {
                ToolCallStatus::AwaitingApproval
            } else {
                ToolCallStatus::Rejected
            },
            decide_by: approve.then(|| now_ms.div_euclid(1000) + ttl),
            at: now_ms,
        }
        .into(),
        ToolWrite::ReleaseSlot {
            agent_id: p.agent_id.clone(),
            workspace_id: p.workspace_id.clone(),
            proposal_id: p.proposal_id.clone(),
        }
        .into(),
    ]
}

/// Whether `p` is a tool-call proposal that needs its expiry written at
/// `now_ms`: shown `EXPIRED` but stored `PENDING` or `APPROVED`.
pub fn expiry_due(p: &ProposalRecord, now_ms: i64, ttl_secs: i64) -> bool {
    p.tool_call().is_some()
        && p.status != ProposalStatus::Expired
        && shown_status(p, now_ms, ttl_secs) == ProposalStatus::Expired
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::agents::{AgentType, WorkspaceRecord};
    use crate::domain::tools::PendingSlots;

    const NOW: i64 = 1_900_000_000_000;
    const TTL: i64 = 900;

    fn ws() -> WorkspaceId {
        WorkspaceId::parse("acme").unwrap()
    }

    fn context(maturity: Maturity, complexity: Complexity) -> ToolCallContext {
        ToolCallContext {
            api_key: None,
            agent: Some(AgentRecord {
                agent_id: AgentId::parse("a").unwrap(),
                agent_type: AgentType::Accounting,
                maturity,
                enabled: true,
                workspaces: vec![ws()],
                kill_generation: 3,
                created_at: 0,
                updated_at: 0,
            }),
            workspace: Some(WorkspaceRecord {
                workspace_id: ws(),
                name: "Acme".into(),
                created_at: 0,
            }),
            tool: Some(ToolRecord {
                name: ToolName::parse("refund").unwrap(),
                complexity,
                workspaces: vec![ws()],
                version: "v1".into(),
                registered_at: 0,
            }),
            exact: None,
            slots: PendingSlots {
                version: 0,
                entries: BTreeMap::new(),
            },
            idempotency: None,
            revocation: None,
            rate_tat: None,
        }
    }

    fn exact(status: ProposalStatus, decided_at: Option<i64>) -> ExactCallRecord {
        ExactCallRecord {
            key: "k".into(),
            proposal_id: "p".into(),
            call_id: "c".into(),
            status,
            created_at: NOW - 1000,
            decided_at,
            used_at: None,
            kill_generation: 3,
            tool_version: "v1".into(),
            audited_at: None,
        }
    }

    #[test]
    fn every_cell_of_the_table_decides_a_fresh_call() {
        use Complexity::*;
        use Maturity::*;
        for (maturity, complexity, expected) in [
            (Student, Analysis, Err(Block::Maturity)),
            (Student, ExternalEffect, Err(Block::Maturity)),
            (Intern, Analysis, Ok(Judged::Open(None))),
            (Intern, ExternalEffect, Ok(Judged::Open(None))),
            (Supervised, ChangesRecords, Ok(Judged::Allow)),
            (Supervised, ExternalEffect, Ok(Judged::Open(None))),
            (Autonomous, ExternalEffect, Ok(Judged::Allow)),
        ] {
            let got = judge(&context(maturity, complexity), &ws(), NOW, TTL).map(|(j, _)| j);
            assert_eq!(got, expected, "{maturity} x {}", complexity.level());
        }
    }

    #[test]
    fn the_reasons_come_in_the_contracts_order() {
        let mut ctx = context(Maturity::Intern, Complexity::ExternalEffect);
        ctx.exact = Some(exact(ProposalStatus::Rejected, Some(NOW - 1000)));
        assert_eq!(judge(&ctx, &ws(), NOW, TTL), Err(Block::ApprovalRejected));
        // A rejection binds whatever the maturity now.
        ctx.agent.as_mut().unwrap().maturity = Maturity::Autonomous;
        assert_eq!(judge(&ctx, &ws(), NOW, TTL), Err(Block::ApprovalRejected));
        // ...until it runs out.
        assert_eq!(
            judge(&ctx, &ws(), NOW + TTL * 1000, TTL).map(|(j, _)| j),
            Ok(Judged::Allow)
        );
        ctx.tool.as_mut().unwrap().workspaces.clear();
        assert_eq!(judge(&ctx, &ws(), NOW, TTL), Err(Block::ToolNotAllowed));
        ctx.agent.as_mut().unwrap().enabled = false;
        assert_eq!(judge(&ctx, &ws(), NOW, TTL), Err(Block::AgentDisabled));
        ctx.agent.as_mut().unwrap().workspaces.clear();
        assert_eq!(judge(&ctx, &ws(), NOW, TTL), Err(Block::Workspace));
        ctx.workspace = None;
        assert_eq!(judge(&ctx, &ws(), NOW, TTL), Err(Block::UnknownWorkspace));
        ctx.agent = None;
        assert_eq!(judge(&ctx, &ws(), NOW, TTL), Err(Block::UnknownAgent));
    }

    #[test]
    fn an_approval_is_used_only_while_it_and_its_agent_and_tool_are_current() {
        let mut ctx = context(Maturity::Intern, Complexity::Draft);
        ctx.exact = Some(exact(ProposalStatus::Approved, Some(NOW - 1000)));
        assert!(matches!(
            judge(&ctx, &ws(), NOW, TTL),
            Ok((Judged::Consume(_), _))
        ));
        // Expired approval: a new proposal replaces it.
        assert!(matches!(
            judge(&ctx, &ws(), NOW - 1000 + TTL * 1000, TTL),
            Ok((Judged::Open(Some(_)), _))
        ));
        // A kill generation raised since (disable, demotion) voids it.
        ctx.agent.as_mut().unwrap().kill_generation = 4;
        assert!(matches!(
            judge(&ctx, &ws(), NOW, TTL),
            Ok((Judged::Open(Some(_)), _))
        ));
        ctx.agent.as_mut().unwrap().kill_generation = 3;
        ctx.tool.as_mut().unwrap().version = "v2".into();
        assert!(matches!(
            judge(&ctx, &ws(), NOW, TTL),
            Ok((Judged::Open(Some(_)), _))
        ));
        // Used less than a minute ago: approval_used, then a new proposal.
        let mut used = exact(ProposalStatus::Used, Some(NOW - 5000));
        used.used_at = Some(NOW - 1000);
        ctx.exact = Some(used);
        assert_eq!(judge(&ctx, &ws(), NOW, TTL), Err(Block::ApprovalUsed));
        assert!(matches!(
            judge(&ctx, &ws(), NOW + USED_WINDOW_MS, TTL),
            Ok((Judged::Open(Some(_)), _))
        ));
    }

    #[test]
    fn a_pending_proposal_is_shared_until_its_window_passes() {
        let mut ctx = context(Maturity::Supervised, Complexity::ExternalEffect);
        ctx.exact = Some(exact(ProposalStatus::Pending, None));
        assert!(matches!(
            judge(&ctx, &ws(), NOW, TTL),
            Ok((Judged::Pending(_), Verdict::Propose))
        ));
        assert!(matches!(
            judge(&ctx, &ws(), NOW - 1000 + TTL * 1000, TTL),
            Ok((Judged::Open(Some(_)), _))
        ));
    }

    #[test]
    fn a_direct_allow_holds_at_the_maturities_that_run_it_and_an_approval_at_any_not_blocked() {
        assert_eq!(
            maturities_for(Complexity::ExternalEffect, false),
            vec![Maturity::Autonomous]
        );
        assert_eq!(
            maturities_for(Complexity::ExternalEffect, true),
            vec![Maturity::Intern, Maturity::Supervised, Maturity::Autonomous]
        );
    }
}
