//! Tools, tool calls, exact-call items, pending slots and tool-call
//! idempotency records in memory, with DynamoDB's conditions.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::MemoryStore;
use super::agents::page;
use crate::Result;
use crate::domain::agents::{AgentId, WorkspaceId};
use crate::domain::tools::{
    ExactCallRecord, PendingSlots, ToolCallRecord, ToolCallStatus, ToolIdempotencyRecord, ToolName,
    ToolRecord,
};
use crate::store::agents::Page;
use crate::store::keys;
use crate::store::tools::{ToolCallContext, ToolCallLookup, ToolStore, ToolWrite};

#[derive(Debug, Default)]
pub(super) struct ToolTables {
    tools: BTreeMap<ToolName, ToolRecord>,
    /// By call id (a ULID, so also creation order).
    calls: BTreeMap<String, ToolCallRecord>,
    exact: HashMap<String, ExactCallRecord>,
    slots: HashMap<String, PendingSlots>,
    idempotency: HashMap<String, ToolIdempotencyRecord>,
}

fn slot_key(agent_id: &AgentId, workspace_id: &WorkspaceId) -> String {
    keys::pending_slots(agent_id, workspace_id)
}

impl ToolTables {
    /// The items a write touches, named as in DynamoDB: tools are items of
    /// the Agents table; the rest share the ToolCalls table.
    pub(super) fn item_ids(write: &ToolWrite) -> Vec<String> {
        let id = match write {
            ToolWrite::PutTool(t) => format!("agents/{}", keys::tool(&t.name)),
            ToolWrite::RemoveTool(name) | ToolWrite::ToolAllows { name, .. } => {
                format!("agents/{}", keys::tool(name))
            }
            ToolWrite::AgentAllows { agent_id, .. } => format!("agents/{agent_id}"),
            ToolWrite::PutCall(c) => format!("tool_calls/{}", c.call_id),
            ToolWrite::SettleCall { call_id, .. } | ToolWrite::ReportOutcome { call_id, .. } => {
                format!("tool_calls/{call_id}")
            }
            ToolWrite::OpenExact { record, .. } => {
                format!("tool_calls/{}", keys::exact_call(&record.key))
            }
            ToolWrite::MoveExact { key, .. } | ToolWrite::MarkAudited { key, .. } => {
                format!("tool_calls/{}", keys::exact_call(key))
            }
            ToolWrite::TakeSlot {
                agent_id,
                workspace_id,
                ..
            }
            | ToolWrite::ReleaseSlot {
                agent_id,
                workspace_id,
                ..
            } => format!("tool_calls/{}", slot_key(agent_id, workspace_id)),
            ToolWrite::PutIdempotency { record, .. } => format!("tool_calls/{}", record.key),
        };
        vec![id]
    }

    /// Whether the write's condition holds; [`ToolWrite::AgentAllows`] is
    /// checked by the caller against the agents' tables.
    pub(super) fn check(&self, write: &ToolWrite) -> bool {
        match write {
            ToolWrite::PutTool(_) | ToolWrite::ReleaseSlot { .. } => true,
            ToolWrite::RemoveTool(name) => self.tools.contains_key(name),
            ToolWrite::ToolAllows {
                name,
                version,
                workspace_id,
            } => self
                .tools
                .get(name)
                .is_some_and(|t| &t.version == version && t.allowed_in(workspace_id)),
            ToolWrite::AgentAllows { .. } => false,
            ToolWrite::PutCall(c) => !self.calls.contains_key(&c.call_id),
            ToolWrite::SettleCall { call_id, from, .. } => {
                self.calls.get(call_id).is_some_and(|c| c.status == *from)
            }
            ToolWrite::ReportOutcome {
                call_id, agent_id, ..
            } => self.calls.get(call_id).is_some_and(|c| {
                &c.agent_id == agent_id
                    && c.status == ToolCallStatus::Allowed
                    && c.outcome.is_none()
            }),
            ToolWrite::OpenExact { record, replacing } => match self.exact.get(&record.key) {
                None => true,
                Some(e) => replacing.as_ref() == Some(&e.proposal_id),
            },
            ToolWrite::MoveExact {
                key,
                proposal_id,
                from,
                ..
            } => self
                .exact
                .get(key)
                .is_some_and(|e| &e.proposal_id == proposal_id && e.status == *from),
            ToolWrite::MarkAudited {
                key,
                proposal_id,
                not_after,
                ..
            } => self.exact.get(key).is_some_and(|e| {
                &e.proposal_id == proposal_id && e.audited_at.is_none_or(|a| a <= *not_after)
            }),
            ToolWrite::TakeSlot {
                agent_id,
                workspace_id,
                version_was,
                ..
            } => {
                let version = self
                    .slots
                    .get(&slot_key(agent_id, workspace_id))
                    .map_or(0, |s| s.version);
                version == *version_was
            }
            ToolWrite::PutIdempotency { record, now } => self
                .idempotency
                .get(&record.key)
                .is_none_or(|r| r.expires_at <= *now),
        }
    }

    pub(super) fn apply(&mut self, write: ToolWrite) {
        match write {
            ToolWrite::PutTool(t) => {
                self.tools.insert(t.name.clone(), t);
            }
            ToolWrite::RemoveTool(name) => {
                self.tools.remove(&name);
            }
            ToolWrite::ToolAllows { .. } | ToolWrite::AgentAllows { .. } => {}
            ToolWrite::PutCall(c) => {
                self.calls.insert(c.call_id.clone(), c);
            }
            ToolWrite::SettleCall {
                call_id,
                to,
                decide_by,
                at,
                ..
            } => {
                if let Some(c) = self.calls.get_mut(&call_id) {
                    c.status = to;
                    c.decide_by = decide_by;
                    c.updated_at = at;
                    if to == ToolCallStatus::Allowed {
                        c.decision = crate::domain::tools::ToolDecision::Allow;
                    }
                }
            }
            ToolWrite::ReportOutcome {
                call_id, outcome, ..
            } => {
                if let Some(c) = self.calls.get_mut(&call_id) {
                    c.updated_at = outcome.at;
                    c.outcome = Some(outcome);
                }
            }
            ToolWrite::OpenExact { record, .. } => {
                self.exact.insert(record.key.clone(), record);
            }
            ToolWrite::MoveExact { key, to, at, .. } => {
                if let Some(e) = self.exact.get_mut(&key) {
                    e.status = to;
                    if to == crate::domain::agents::ProposalStatus::Used {
                        e.used_at = Some(at);
                    } else {
                        e.decided_at = Some(at);
                    }
                }
            }
            ToolWrite::MarkAudited { key, at, .. } => {
                if let Some(e) = self.exact.get_mut(&key) {
                    e.audited_at = Some(at);
                }
            }
            ToolWrite::TakeSlot {
                agent_id,
                workspace_id,
                proposal_id,
                created_at,
                stale,
                ..
            } => {
                let slots = self
                    .slots
                    .entry(slot_key(&agent_id, &workspace_id))
                    .or_default();
                for id in stale {
                    slots.entries.remove(&id);
                }
                slots.entries.insert(proposal_id, created_at);
                slots.version += 1;
            }
            ToolWrite::ReleaseSlot {
                agent_id,
                workspace_id,
                proposal_id,
            } => {
                if let Some(slots) = self.slots.get_mut(&slot_key(&agent_id, &workspace_id)) {
                    slots.entries.remove(&proposal_id);
                }
            }
            ToolWrite::PutIdempotency { record, .. } => {
                self.idempotency.insert(record.key.clone(), record);
            }
        }
    }

    fn live_idempotency(&self, key: &str, now: i64) -> Option<ToolIdempotencyRecord> {
        self.idempotency
            .get(key)
            .filter(|r| r.expires_at > now)
            .cloned()
    }
}

#[async_trait]
impl ToolStore for MemoryStore {
    async fn tool_call_context(&self, lookup: ToolCallLookup<'_>) -> Result<ToolCallContext> {
        let tables = self.lock();
        let t = &tables.tools;
        Ok(ToolCallContext {
            api_key: lookup
                .key_id
                .and_then(|id| tables.api_keys.key(id).cloned()),
            agent: tables.agents.agent(lookup.agent_id).cloned(),
            workspace: tables.agents.workspace(lookup.workspace_id).cloned(),
            tool: t.tools.get(lookup.tool).cloned(),
            exact: t.exact.get(lookup.exact_call_key).cloned(),
            slots: t
                .slots
                .get(&slot_key(lookup.agent_id, lookup.workspace_id))
                .cloned()
                .unwrap_or_default(),
            idempotency: lookup
                .idempotency_key
                .and_then(|k| t.live_idempotency(k, lookup.now)),
            revocation: lookup
                .token
                .map(|token| tables.auth.token_revocation(&token)),
            rate_tat: lookup
                .rate_key
                .and_then(|k| tables.rates.get(k).map(|(tat, _)| *tat)),
        })
    }

    async fn get_tool(&self, name: &ToolName) -> Result<Option<ToolRecord>> {
        Ok(self.lock().tools.tools.get(name).cloned())
    }

    async fn list_tools(&self) -> Result<Vec<ToolRecord>> {
        Ok(self.lock().tools.tools.values().cloned().collect())
    }

    async fn get_tool_call(&self, call_id: &str) -> Result<Option<ToolCallRecord>> {
        Ok(self.lock().tools.calls.get(call_id).cloned())
    }

    async fn get_exact_call(&self, key: &str) -> Result<Option<ExactCallRecord>> {
        Ok(self.lock().tools.exact.get(key).cloned())
    }

    async fn get_tool_idempotency(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<ToolIdempotencyRecord>> {
        Ok(self.lock().tools.live_idempotency(key, now))
    }

    async fn list_tool_calls(
        &self,
        workspace_id: &WorkspaceId,
        status: Option<ToolCallStatus>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ToolCallRecord>> {
        let tables = self.lock();
        let matching = tables
            .tools
            .calls
            .values()
            .rev()
            .filter(|c| &c.workspace_id == workspace_id && status.is_none_or(|s| c.status == s))
            .map(|c| (c.call_id.clone(), c.clone()));
        Ok(page(matching, limit, after, true))
    }
}
