//! The registry: workspaces, agents, their maturity and the kill switch,
//! and the tools agents may call.
//! Every change is written with its audit event in one transaction.

use serde::Serialize;

use crate::audit::{EventType, Origin, Severity};
use crate::domain::Username;
use crate::domain::agents::{
    AgentId, AgentRecord, AgentType, Complexity, Maturity, WorkspaceId, WorkspaceRecord,
};
use crate::domain::tools::{ToolName, ToolRecord};
use crate::state::Registry;
use crate::store::{AgentWrite, AuthWrite, ToolWrite, UserStore, Write};
use crate::{Error, Result};

/// Agent ids that would make a run path ambiguous with the fixed routes
/// (`/agents/runs/{job_id}`, `/agents/proposals/...`).
pub const RESERVED_AGENT_IDS: &[&str] = &["runs", "proposals", "tool-calls"];

/// Adds a workspace; `409` when its id is taken.
pub async fn add_workspace(
    registry: &Registry,
    origin: Origin,
    workspace_id: WorkspaceId,
    name: &str,
) -> Result<WorkspaceRecord> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::BadRequest(
            "a workspace name is 1 to 200 characters".into(),
        ));
    }
    let record = WorkspaceRecord {
        workspace_id,
        name: name.to_owned(),
        created_at: registry.clock.now_secs(),
    };
    let event = registry
        .auditor
        .event(EventType::WorkspaceCreated, Severity::Info, origin)
        .subject(format!("workspace:{}", record.workspace_id))
        .detail("name", record.name.clone());
    let writes = vec![
        AgentWrite::CreateWorkspace(record.clone()).into(),
        event.into(),
    ];
    match registry.store.transact(writes).await {
        Err(Error::ConditionFailed) => Err(Error::Conflict(format!(
            "workspace {} already exists",
            record.workspace_id
        ))),
        other => other.map(|()| record),
    }
}

/// Makes `username` a member of `workspace_id` (`member`), or no longer
/// one, on the user's `user#` record: the bearer check reads it with every
/// request, so it counts from the next one. Audited
/// (`WORKSPACE_MEMBER_ADDED` or `_REMOVED`). An unknown workspace or user
/// is `404`. Returns the user's id: membership is stored by id, so a user
/// created again under the same name inherits nothing.
pub async fn set_membership(
    registry: &Registry,
    users: &dyn UserStore,
    origin: Origin,
    workspace_id: &WorkspaceId,
    username: &Username,
    member: bool,
) -> Result<String> {
    if registry.store.get_workspace(workspace_id).await?.is_none() {
        return Err(Error::NotFound(format!("no workspace {workspace_id}")));
    }
    let no_user = || Error::NotFound(format!("no user {username}"));
    let user = users.get_user(username).await?.ok_or_else(no_user)?;
    let event_type = if member {
        EventType::WorkspaceMemberAdded
    } else {
        EventType::WorkspaceMemberRemoved
    };
    let event = registry
        .auditor
        .event(event_type, Severity::Info, origin)
        .subject(format!("workspace:{workspace_id}"))
        .detail("user_id", user.user_id.clone())
        .detail("username", username.as_str());
    let writes = vec![
        AuthWrite::SetMembership {
            user_id: user.user_id.clone(),
            workspace_id: workspace_id.clone(),
            member,
        }
        .into(),
        event.into(),
    ];
    match registry.store.transact(writes).await {
        // Its `user#` record is gone: the user was removed meanwhile.
        Err(Error::ConditionFailed) => Err(no_user()),
        other => other.map(|()| user.user_id),
    }
}

/// What registering an agent needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgent {
    /// Its id.
    pub agent_id: AgentId,
    /// Its type.
    pub agent_type: AgentType,
    /// Its maturity.
    pub maturity: Maturity,
    /// The workspaces it may work in; each must exist.
    pub workspaces: Vec<WorkspaceId>,
    /// Whether it may run (the kill switch off).
    pub enabled: bool,
}

/// Registers an agent, audited as `AGENT_REGISTERED`. Every workspace must
/// exist (`404`); a taken or reserved id is `409` / `400`.
pub async fn register_agent(
    registry: &Registry,
    origin: Origin,
    agent: NewAgent,
) -> Result<AgentRecord> {
    if RESERVED_AGENT_IDS.contains(&agent.agent_id.as_str()) {
        return Err(Error::BadRequest(format!(
            "agent id {} is reserved",
            agent.agent_id
        )));
    }
    let mut workspaces = agent.workspaces;
    workspaces.sort();
    workspaces.dedup();
    for w in &workspaces {
        if registry.store.get_workspace(w).await?.is_none() {
            return Err(Error::NotFound(format!("no workspace {w}: add it first")));
        }
    }
    let now = registry.clock.now_secs();
    let record = AgentRecord {
        agent_id: agent.agent_id,
        agent_type: agent.agent_type,
        maturity: agent.maturity,
        enabled: agent.enabled,
        workspaces,
        kill_generation: 0,
        created_at: now,
        updated_at: now,
    };
    let event = registry
        .auditor
        .event(EventType::AgentRegistered, Severity::Info, origin)
        .subject(format!("agent:{}", record.agent_id))
        .detail("agent_type", record.agent_type.as_str())
        .detail("maturity", record.maturity.as_str())
        .detail("enabled", record.enabled)
        .detail(
            "workspaces",
            record
                .workspaces
                .iter()
                .map(|w| w.as_str().to_owned())
                .collect::<Vec<_>>(),
        );
    let writes = vec![AgentWrite::CreateAgent(record.clone()).into(), event.into()];
    match registry.store.transact(writes).await {
        Err(Error::ConditionFailed) => Err(Error::Conflict(format!(
            "agent {} already exists",
            record.agent_id
        ))),
        other => other.map(|()| record),
    }
}

async fn existing(registry: &Registry, agent_id: &AgentId) -> Result<AgentRecord> {
    registry
        .store
        .get_agent(agent_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no agent {agent_id}")))
}

/// Changes an agent's maturity, audited as `AGENT_MATURITY_CHANGED` with
/// both levels. Queued jobs are judged again by the worker, so a demotion
/// stops those the new level may not run; a demotion also raises the
/// agent's kill generation, which voids its tool-call approvals. A change
/// that lands between the read and the write is `409`.
pub async fn set_maturity(
    registry: &Registry,
    origin: Origin,
    agent_id: &AgentId,
    maturity: Maturity,
) -> Result<AgentRecord> {
    let before = existing(registry, agent_id).await?;
    let event = registry
        .auditor
        .event(EventType::AgentMaturityChanged, Severity::Info, origin)
        .subject(format!("agent:{agent_id}"))
        .detail("from", before.maturity.as_str())
        .detail("to", maturity.as_str());
    let now = registry.clock.now_secs();
    write_change(
        registry,
        agent_id,
        AgentWrite::SetMaturity {
            agent_id: agent_id.clone(),
            was: before.maturity,
            maturity,
            at: now,
        },
        event,
    )
    .await
    .map_err(|e| match e {
        // The agent exists (it was read): its maturity changed meanwhile.
        Error::NotFound(_) => Error::Conflict(format!(
            "agent {agent_id} changed meanwhile; read it and try again"
        )),
        other => other,
    })?;
    Ok(AgentRecord {
        maturity,
        kill_generation: before.kill_generation + u64::from(maturity < before.maturity),
        updated_at: now,
        ..before
    })
}

/// The kill switch: disabling an agent refuses its new runs and tool calls
/// at once, stops its queued jobs (the worker checks again before running)
/// and voids its tool-call approvals (its kill generation is raised; enabling
/// it again revives none), audited as `AGENT_DISABLED` / `AGENT_ENABLED`.
/// The event's actor is the operator of a `warden` command; over HTTP,
/// [`set_enabled_by`] names the person.
pub async fn set_enabled(
    registry: &Registry,
    origin: Origin,
    agent_id: &AgentId,
    enabled: bool,
) -> Result<()> {
    let at = registry.clock.now_secs();
    let event = switch_event(registry, origin, agent_id, enabled);
    write_change(registry, agent_id, switch(agent_id, enabled, at), event).await
}

/// Who flips the kill switch over HTTP, and why: what its audit event
/// records beside the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchedBy<'a> {
    /// The person (a user id), the event's actor.
    pub actor: &'a str,
    /// Why, in the event's details (`reason`): at most
    /// [`MAX_REASON_CHARS`] characters.
    pub reason: Option<&'a str>,
}

/// The longest reason for flipping the kill switch, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// [`set_enabled`] for a person (the admin endpoints): the event names
/// them as its actor and carries their reason; a reason over
/// [`MAX_REASON_CHARS`] is `400`. The agent is read first, so an unknown
/// one is `404` before anything is written, and returned as the switch
/// left it.
pub async fn set_enabled_by(
    registry: &Registry,
    origin: Origin,
    by: SwitchedBy<'_>,
    agent_id: &AgentId,
    enabled: bool,
) -> Result<AgentRecord> {
    if by
        .reason
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(Error::BadRequest(format!(
            "reason is at most {MAX_REASON_CHARS} characters"
        )));
    }
    let before = existing(registry, agent_id).await?;
    let mut event = switch_event(registry, origin, agent_id, enabled).actor(by.actor);
    if let Some(reason) = by.reason {
        event = event.detail("reason", reason);
    }
    let at = registry.clock.now_secs();
    write_change(registry, agent_id, switch(agent_id, enabled, at), event).await?;
    Ok(AgentRecord {
        enabled,
        // As the write does: every disable raises it, an enable never.
        kill_generation: before.kill_generation + u64::from(!enabled),
        updated_at: at,
        ..before
    })
}

/// The audit event of flipping `agent_id`'s kill switch to `enabled`.
fn switch_event(
    registry: &Registry,
    origin: Origin,
    agent_id: &AgentId,
    enabled: bool,
) -> crate::audit::AuditEvent {
    let (event_type, severity) = if enabled {
        (EventType::AgentEnabled, Severity::Info)
    } else {
        (EventType::AgentDisabled, Severity::Warning)
    };
    registry
        .auditor
        .event(event_type, severity, origin)
        .subject(format!("agent:{agent_id}"))
}

/// The write that flips `agent_id`'s kill switch to `enabled` at `at`.
fn switch(agent_id: &AgentId, enabled: bool, at: i64) -> AgentWrite {
    AgentWrite::SetEnabled {
        agent_id: agent_id.clone(),
        enabled,
        at,
    }
}

/// An agent as the admin endpoints show it (`GET /agents`, the kill
/// switch): its registration, without the store's bookkeeping (kill
/// generation, times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentView {
    /// Its id.
    pub agent_id: AgentId,
    /// Its type (which actions it has).
    pub agent_type: AgentType,
    /// How far it is trusted.
    pub maturity: Maturity,
    /// The kill switch: `false` when disabled.
    pub enabled: bool,
    /// The workspaces it may work in, sorted.
    pub workspaces: Vec<WorkspaceId>,
}

impl From<AgentRecord> for AgentView {
    fn from(a: AgentRecord) -> Self {
        Self {
            agent_id: a.agent_id,
            agent_type: a.agent_type,
            maturity: a.maturity,
            enabled: a.enabled,
            workspaces: a.workspaces,
        }
    }
}

/// Every registered agent, sorted by id (the tools that share their table
/// left out).
pub async fn list_agents(registry: &Registry) -> Result<Vec<AgentView>> {
    let agents = registry.store.list_agents().await?;
    Ok(agents.into_iter().map(AgentView::from).collect())
}

async fn write_change(
    registry: &Registry,
    agent_id: &AgentId,
    write: AgentWrite,
    event: crate::audit::AuditEvent,
) -> Result<()> {
    match registry
        .store
        .transact(vec![Write::Agent(write), Write::Audit(event)])
        .await
    {
        Err(Error::ConditionFailed) => Err(Error::NotFound(format!("no agent {agent_id}"))),
        other => other,
    }
}

/// What registering a tool needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTool {
    /// Its name.
    pub name: ToolName,
    /// What calling it does (an action's meaning).
    pub complexity: Complexity,
    /// The workspaces it may be used in; each must exist.
    pub workspaces: Vec<WorkspaceId>,
}

/// Registers a tool, or registers it again with a new complexity or other
/// workspaces, audited as `TOOL_REGISTERED`. Every registration has a new
/// version, which voids the tool's pending proposals and unused approvals
/// (API.md "Tools"). Every workspace must exist (`404`).
pub async fn register_tool(
    registry: &Registry,
    origin: Origin,
    tool: NewTool,
) -> Result<ToolRecord> {
    let mut workspaces = tool.workspaces;
    workspaces.sort();
    workspaces.dedup();
    for w in &workspaces {
        if registry.store.get_workspace(w).await?.is_none() {
            return Err(Error::NotFound(format!("no workspace {w}: add it first")));
        }
    }
    let before = registry.store.get_tool(&tool.name).await?;
    let record = ToolRecord {
        name: tool.name,
        complexity: tool.complexity,
        workspaces,
        version: ulid::Ulid::new().to_string(),
        registered_at: registry.clock.now_secs(),
    };
    let mut event = registry
        .auditor
        .event(EventType::ToolRegistered, Severity::Info, origin)
        .subject(format!("tool:{}", record.name))
        .detail("complexity", record.complexity.level())
        .detail(
            "workspaces",
            record
                .workspaces
                .iter()
                .map(|w| w.as_str().to_owned())
                .collect::<Vec<_>>(),
        )
        .detail("version", record.version.clone());
    if let Some(old) = before {
        event = event
            .detail("replaces_version", old.version)
            .detail("previous_complexity", old.complexity.level());
    }
    let writes = vec![ToolWrite::PutTool(record.clone()).into(), event.into()];
    registry.store.transact(writes).await?;
    Ok(record)
}

/// Removes a tool, audited as `TOOL_REMOVED`: its calls are refused
/// (`tool_not_allowed`) and its pending proposals and unused approvals are
/// void. An unknown tool is `404`.
pub async fn remove_tool(registry: &Registry, origin: Origin, name: &ToolName) -> Result<()> {
    let event = registry
        .auditor
        .event(EventType::ToolRemoved, Severity::Warning, origin)
        .subject(format!("tool:{name}"));
    let writes = vec![ToolWrite::RemoveTool(name.clone()).into(), event.into()];
    match registry.store.transact(writes).await {
        Err(Error::ConditionFailed) => Err(Error::NotFound(format!("no tool {name}"))),
        other => other,
    }
}
