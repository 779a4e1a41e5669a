//! Governed tool calls' leaf types: tool names, the tools registry's
//! records, tool calls, the item that binds an approval to one exact call,
//! and the pending-proposal slots of an agent in a workspace.
//!
//! A tool call is decided, not run: Warden never sees what the tool does,
//! only the agent's request (the tool, its canonical arguments, who asks)
//! and, afterwards, the outcome the agent reports.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::agents::{AgentId, Complexity, ProposalStatus, WorkspaceId};
use crate::{Error, Result};

/// The longest tool name accepted.
pub const MAX_TOOL_NAME_CHARS: usize = 128;

/// A tool's name: 1 to [`MAX_TOOL_NAME_CHARS`] of `[A-Za-z0-9._-]`,
/// case-sensitive (API.md "Tools").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ToolName(String);

impl ToolName {
    /// Parses what a client or an operator typed.
    pub fn parse(raw: &str) -> Result<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_TOOL_NAME_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Error::BadRequest(format!(
                "a tool name is 1 to {MAX_TOOL_NAME_CHARS} characters of letters, digits, '.', '-' and '_'"
            )))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ToolName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The complexity of level `level` (1 to 4), or `400`.
pub fn complexity_of_level(level: u64) -> Result<Complexity> {
    match level {
        1 => Ok(Complexity::Analysis),
        2 => Ok(Complexity::Draft),
        3 => Ok(Complexity::ChangesRecords),
        4 => Ok(Complexity::ExternalEffect),
        _ => Err(Error::BadRequest(
            "a complexity is 1 (read-only), 2 (drafts), 3 (changes records) or 4 (external effects or money)"
                .into(),
        )),
    }
}

/// A registered tool (an item of the Agents table, `tool#<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRecord {
    /// Its name.
    pub name: ToolName,
    /// What calling it does, with an action's meaning.
    pub complexity: Complexity,
    /// The workspaces it may be used in.
    pub workspaces: Vec<WorkspaceId>,
    /// A ULID new with each registration: an approval records it and is
    /// honoured only while it is unchanged, so re-registering a tool (a
    /// new complexity, other workspaces) or removing it voids its pending
    /// proposals and unused approvals, even if it is registered again.
    pub version: String,
    /// Epoch seconds of this registration.
    pub registered_at: i64,
}

impl ToolRecord {
    /// Whether the tool may be used in `workspace`.
    pub fn allowed_in(&self, workspace: &WorkspaceId) -> bool {
        self.workspaces.contains(workspace)
    }
}

super::agents::named_enum!(
    /// What Warden answered a tool call.
    ToolDecision, "tool call decision", {
        /// Allowed, with a decision token.
        Allow = "allow",
        /// A proposal waits for a person.
        ApprovalRequired = "approval_required",
    }
);

super::agents::named_enum!(
    /// Where a tool call is (API.md `GET /agents/tool-calls`).
    ToolCallStatus, "tool call status", {
        /// Allowed: a decision token was issued.
        Allowed = "ALLOWED",
        /// Its proposal is pending, or approved and not used yet.
        AwaitingApproval = "AWAITING_APPROVAL",
        /// Its proposal was rejected.
        Rejected = "REJECTED",
        /// Its proposal or its approval ran out of time, or was voided.
        Expired = "EXPIRED",
    }
);

super::agents::named_enum!(
    /// What the agent reports of an allowed call.
    OutcomeStatus, "outcome status", {
        /// The tool did it.
        Succeeded = "succeeded",
        /// The tool failed.
        Failed = "failed",
    }
);

/// The outcome an agent reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Succeeded or failed.
    pub status: OutcomeStatus,
    /// What the agent said, at most 1 KiB.
    pub detail: Option<String>,
    /// Epoch milliseconds.
    pub at: i64,
}

/// One tool call (ToolCalls table, by `call_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallRecord {
    /// A ULID. A call that uses an approval keeps its proposal's call id.
    pub call_id: String,
    /// The agent that asked.
    pub agent_id: AgentId,
    /// Where.
    pub workspace_id: WorkspaceId,
    /// Which tool.
    pub tool: ToolName,
    /// Lowercase hex SHA-256 of the arguments' JCS form.
    pub arguments_sha256: String,
    /// Who asked: `key:<id>` (or, with a delegated token, the user).
    pub caller: String,
    /// What was answered first.
    pub decision: ToolDecision,
    /// Where it is now.
    pub status: ToolCallStatus,
    /// Its proposal, if it needed one.
    pub proposal_id: Option<String>,
    /// While awaiting approval: when the proposal (or, once approved, the
    /// approval) runs out, epoch seconds.
    pub decide_by: Option<i64>,
    /// What the agent reported, once.
    pub outcome: Option<Outcome>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds of the last change.
    pub updated_at: i64,
}

impl ToolCallRecord {
    /// The status as it stands at `now` (epoch seconds): a call awaiting an
    /// approval whose window has passed shows `EXPIRED` before its expiry
    /// is written.
    pub fn status_at(&self, now: i64) -> ToolCallStatus {
        match (self.status, self.decide_by) {
            (ToolCallStatus::AwaitingApproval, Some(by)) if by <= now => ToolCallStatus::Expired,
            (status, _) => status,
        }
    }
}

/// The item that names the current proposal of one exact call (ToolCalls
/// table, `exact#<exact_call_key>`): a proposal is opened only by a
/// conditional write on it, so concurrent identical calls share one, and
/// an approval is used by a conditional write on it, so it is used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactCallRecord {
    /// [`exact_call_key`] of the call.
    pub key: String,
    /// The current proposal.
    pub proposal_id: String,
    /// The call that opened it (and that using its approval keeps).
    pub call_id: String,
    /// `PENDING`, `APPROVED`, `REJECTED`, `USED` or `EXPIRED`.
    pub status: ProposalStatus,
    /// Epoch milliseconds the proposal was opened.
    pub created_at: i64,
    /// Epoch milliseconds of the decision (approval or rejection), if any.
    pub decided_at: Option<i64>,
    /// Epoch milliseconds the approval was used, if it was.
    pub used_at: Option<i64>,
    /// The agent's kill generation when the proposal was opened.
    pub kill_generation: u64,
    /// The tool's registration version when the proposal was opened.
    pub tool_version: String,
    /// Epoch milliseconds of the last audited identical call while pending.
    pub audited_at: Option<i64>,
}

/// The pending tool-call proposals of one agent in one workspace (ToolCalls
/// table, `pending#<agent>#<workspace>`): proposal id to its creation
/// (epoch ms). Opening a proposal rewrites it on the version read, so the
/// bound `WARDEN_TOOL_PENDING_MAX` holds under concurrent calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingSlots {
    /// Bumped by each proposal opened; `0` when the item does not exist.
    pub version: u64,
    /// Proposal id to creation time, epoch milliseconds.
    pub entries: BTreeMap<String, i64>,
}

impl PendingSlots {
    /// The proposals still pending at `now_ms` under a window of
    /// `ttl_secs`: one past `created_at + TTL` does not count, whether or
    /// not its expiry has been written.
    pub fn live(&self, now_ms: i64, ttl_secs: i64) -> usize {
        self.entries
            .values()
            .filter(|&&created| created + ttl_secs * 1000 > now_ms)
            .count()
    }

    /// The entries past their window at `now_ms`: removed with the next
    /// proposal opened.
    pub fn stale(&self, now_ms: i64, ttl_secs: i64) -> Vec<String> {
        self.entries
            .iter()
            .filter(|&(_, &created)| created + ttl_secs * 1000 <= now_ms)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// The answer a tool call with an `Idempotency-Key` gave, kept 24 hours
/// (ToolCalls table, `idem#<caller>#<sha-256 of the key>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolIdempotencyRecord {
    /// See [`crate::store::keys::idempotency`].
    pub key: String,
    /// SHA-256 (hex) of the request: the path's agent id and the body, as
    /// JSON values.
    pub request_hash: String,
    /// The call answered.
    pub call_id: String,
    /// What was answered.
    pub decision: ToolDecision,
    /// The proposal answered, if any.
    pub proposal_id: Option<String>,
    /// The agent's kill generation when it was answered: an allow is
    /// answered again only while it is unchanged (a disable or demotion
    /// since stops retries too).
    pub kill_generation: u64,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// API.md's `exact_call_key`: SHA-256 (lowercase hex) of the agent, the
/// workspace, the tool, the caller and `arguments_sha256`, each written as
/// a JSON string in a JSON array (so no two different calls can write the
/// same bytes: none of the five can contain an unescaped `"`).
pub fn exact_call_key(
    agent_id: &AgentId,
    workspace_id: &WorkspaceId,
    tool: &ToolName,
    caller: &str,
    arguments_sha256: &str,
) -> String {
    let parts = serde_json::json!([
        agent_id.as_str(),
        workspace_id.as_str(),
        tool.as_str(),
        caller,
        arguments_sha256
    ]);
    hex::encode(Sha256::digest(parts.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_case_sensitive_and_bounded() {
        assert!(ToolName::parse("send_email.v2-beta").is_ok());
        assert_ne!(
            ToolName::parse("Send").unwrap(),
            ToolName::parse("send").unwrap()
        );
        assert!(ToolName::parse(&"a".repeat(128)).is_ok());
        for bad in ["", "a b", "a#b", "a/b", "é", &"a".repeat(129)] {
            assert!(ToolName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_exact_call_key_changes_with_each_part() {
        let a = AgentId::parse("a").unwrap();
        let w = WorkspaceId::parse("w").unwrap();
        let t = ToolName::parse("t").unwrap();
        let base = exact_call_key(&a, &w, &t, "key:K", "00");
        assert_eq!(base.len(), 64);
        assert_ne!(base, exact_call_key(&a, &w, &t, "key:K", "01"));
        assert_ne!(base, exact_call_key(&a, &w, &t, "key:L", "00"));
        let t2 = ToolName::parse("t2").unwrap();
        assert_ne!(base, exact_call_key(&a, &w, &t2, "key:K", "00"));
    }

    #[test]
    fn a_slot_past_its_window_does_not_count() {
        let slots = PendingSlots {
            version: 3,
            entries: BTreeMap::from([("old".into(), 0), ("new".into(), 900_000)]),
        };
        assert_eq!(slots.live(900_000, 900), 1);
        assert_eq!(slots.stale(900_000, 900), vec!["old".to_owned()]);
    }

    #[test]
    fn an_awaiting_call_past_its_window_shows_expired() {
        let call = ToolCallRecord {
            call_id: "c".into(),
            agent_id: AgentId::parse("a").unwrap(),
            workspace_id: WorkspaceId::parse("w").unwrap(),
            tool: ToolName::parse("t").unwrap(),
            arguments_sha256: "00".into(),
            caller: "key:K".into(),
            decision: ToolDecision::ApprovalRequired,
            status: ToolCallStatus::AwaitingApproval,
            proposal_id: Some("p".into()),
            decide_by: Some(100),
            outcome: None,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(call.status_at(99), ToolCallStatus::AwaitingApproval);
        assert_eq!(call.status_at(100), ToolCallStatus::Expired);
        assert!(complexity_of_level(0).is_err() && complexity_of_level(5).is_err());
        assert_eq!(complexity_of_level(4).unwrap(), Complexity::ExternalEffect);
    }
}
