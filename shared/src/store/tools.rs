//! The tools port: the tools registry (items of the Agents table, beside
//! the agents), tool calls, the exact-call items that bind approvals to one
//! call, the pending slots of each agent and workspace, and the
//! idempotency records of tool calls (the ToolCalls table).
//!
//! Every condition a decision relies on is a condition of the store's
//! write, not a read followed by a write: two identical calls racing open
//! one proposal, twenty racing for one approval use it once, and a kill
//! switch that lands between a call's read and its write still refuses it.

use async_trait::async_trait;

use super::agents::Page;
use crate::Result;
use crate::domain::agents::{AgentId, AgentRecord, ApiKeyRecord, ProposalStatus, WorkspaceId};
use crate::domain::agents::{Maturity, WorkspaceRecord};
use crate::domain::tools::{
    ExactCallRecord, Outcome, PendingSlots, ToolCallRecord, ToolCallStatus, ToolIdempotencyRecord,
    ToolName, ToolRecord,
};

/// A tools state change, applied inside [`super::Transactions::transact`].
#[derive(Debug, Clone, PartialEq)]
pub enum ToolWrite {
    /// Registers a tool, replacing any registration of that name (its
    /// new version voids the old one's approvals). Unconditional.
    PutTool(ToolRecord),
    /// Removes a tool. Condition: it is registered.
    RemoveTool(ToolName),
    /// A condition only: the tool is registered at `version` and may be
    /// used in `workspace_id`.
    ToolAllows {
        /// The tool.
        name: ToolName,
        /// The registration version read.
        version: String,
        /// The call's workspace.
        workspace_id: WorkspaceId,
    },
    /// A condition only: the agent exists, is enabled, may work in the
    /// workspace, is at one of `maturities`, and its kill generation is
    /// still `kill_generation`.
    AgentAllows {
        /// The agent.
        agent_id: AgentId,
        /// The call's workspace.
        workspace_id: WorkspaceId,
        /// The maturities that still allow the call.
        maturities: Vec<Maturity>,
        /// The kill generation read.
        kill_generation: u64,
    },
    /// Stores a new call. Condition: its id is new.
    PutCall(ToolCallRecord),
    /// Moves a call. Condition: its status is `from`.
    SettleCall {
        /// The call.
        call_id: String,
        /// The status it must have now.
        from: ToolCallStatus,
        /// The status it gets.
        to: ToolCallStatus,
        /// Its new `decide_by` (an approval's window), or none kept.
        decide_by: Option<i64>,
        /// Epoch milliseconds.
        at: i64,
    },
    /// Keeps the outcome an agent reported. Condition: the call is the
    /// agent's, `ALLOWED`, and has no outcome yet.
    ReportOutcome {
        /// The call.
        call_id: String,
        /// The agent reporting.
        agent_id: AgentId,
        /// What it reported.
        outcome: Outcome,
    },
    /// Opens a proposal on an exact call. Condition: no exact-call item, or
    /// one naming the proposal `replacing` (the one read).
    OpenExact {
        /// The new item.
        record: ExactCallRecord,
        /// The proposal the item named when it was read, if any.
        replacing: Option<String>,
    },
    /// Moves an exact call's proposal. Condition: the item names
    /// `proposal_id` and its status is `from`.
    MoveExact {
        /// The exact-call key.
        key: String,
        /// The proposal it must name.
        proposal_id: String,
        /// The status it must have.
        from: ProposalStatus,
        /// The status it gets.
        to: ProposalStatus,
        /// Epoch milliseconds: becomes `decided_at` (approved, rejected,
        /// expired) or `used_at` (used).
        at: i64,
    },
    /// Notes that an identical call was audited at `at` (epoch ms).
    /// Condition: the item names `proposal_id`, and none was audited after
    /// `not_after`: at most one audit event per proposal per minute.
    MarkAudited {
        /// The exact-call key.
        key: String,
        /// The proposal it must name.
        proposal_id: String,
        /// Epoch milliseconds.
        at: i64,
        /// The latest earlier audit that still allows this one.
        not_after: i64,
    },
    /// Adds a proposal to an agent's pending slots in a workspace and drops
    /// the entries past their window. Condition: the slots' version is
    /// still `version_was` (`0`: no item yet).
    TakeSlot {
        /// The agent.
        agent_id: AgentId,
        /// The workspace.
        workspace_id: WorkspaceId,
        /// The version read.
        version_was: u64,
        /// The new proposal and its creation (epoch ms).
        proposal_id: String,
        /// Its creation, epoch milliseconds.
        created_at: i64,
        /// Stale entries to remove.
        stale: Vec<String>,
    },
    /// Removes a proposal from the pending slots (decided or expired).
    /// Unconditional.
    ReleaseSlot {
        /// The agent.
        agent_id: AgentId,
        /// The workspace.
        workspace_id: WorkspaceId,
        /// The proposal.
        proposal_id: String,
    },
    /// Keeps a tool call's answer. Condition: no live record under its key
    /// at `now` (epoch seconds).
    PutIdempotency {
        /// The record.
        record: ToolIdempotencyRecord,
        /// Epoch seconds.
        now: i64,
    },
}

/// What a tool call reads, all in one round trip.
#[derive(Debug, Clone, Copy)]
pub struct ToolCallLookup<'a> {
    /// The API key presented, by id, if the caller used one.
    pub key_id: Option<&'a str>,
    /// The agent in the path.
    pub agent_id: &'a AgentId,
    /// The workspace asked for.
    pub workspace_id: &'a WorkspaceId,
    /// The tool asked for.
    pub tool: &'a ToolName,
    /// [`crate::domain::tools::exact_call_key`] of the call.
    pub exact_call_key: &'a str,
    /// The request's idempotency record key, if it carries one.
    pub idempotency_key: Option<&'a str>,
    /// A delegated token's denylist items, if the caller presented one
    /// (its actor key is `key_id`, its agent `agent_id`).
    pub token: Option<super::TokenLookup<'a>>,
    /// The rate-limit state to read with the rest (a delegated call spends
    /// its user's run limit).
    pub rate_key: Option<&'a str>,
    /// Now, epoch seconds (an expired idempotency record reads as absent).
    pub now: i64,
}

/// What a tool call needs to decide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCallContext {
    /// The API key, if one was presented and exists.
    pub api_key: Option<ApiKeyRecord>,
    /// The agent.
    pub agent: Option<AgentRecord>,
    /// The workspace.
    pub workspace: Option<WorkspaceRecord>,
    /// The tool.
    pub tool: Option<ToolRecord>,
    /// The exact call's item.
    pub exact: Option<ExactCallRecord>,
    /// The agent's pending slots in the workspace (empty when none).
    pub slots: PendingSlots,
    /// A live answer kept under the request's idempotency key.
    pub idempotency: Option<ToolIdempotencyRecord>,
    /// The delegated token's denylist state, when one was looked up.
    pub revocation: Option<crate::domain::RevocationState>,
    /// The GCRA state under `rate_key`, when one was looked up and exists.
    pub rate_tat: Option<i64>,
}

/// Tools and tool calls.
#[async_trait]
pub trait ToolStore: Send + Sync {
    /// Everything a tool call decides on ([`ToolCallLookup`]): one
    /// consistent round trip.
    async fn tool_call_context(&self, lookup: ToolCallLookup<'_>) -> Result<ToolCallContext>;

    /// One tool (consistent).
    async fn get_tool(&self, name: &ToolName) -> Result<Option<ToolRecord>>;

    /// Every tool, by name.
    async fn list_tools(&self) -> Result<Vec<ToolRecord>>;

    /// One call (consistent).
    async fn get_tool_call(&self, call_id: &str) -> Result<Option<ToolCallRecord>>;

    /// One exact call's item (consistent).
    async fn get_exact_call(&self, key: &str) -> Result<Option<ExactCallRecord>>;

    /// The live idempotency record of a tool call under `key` at `now`.
    async fn get_tool_idempotency(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<ToolIdempotencyRecord>>;

    /// A workspace's calls, newest first, optionally of one stored status,
    /// at most `limit`, after the call `after`.
    async fn list_tool_calls(
        &self,
        workspace_id: &WorkspaceId,
        status: Option<ToolCallStatus>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ToolCallRecord>>;
}
