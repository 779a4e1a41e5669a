//! The agent half's leaf types: agent and workspace ids parsed at the
//! boundary, agent types and maturity levels, action complexity, and the
//! records of agents, workspaces, jobs, proposals and API keys.
//!
//! Every enum here has one stored name per value, and parsing a stored name
//! that is not one of them is an error: an unknown maturity or status read
//! back from the store is never defaulted to something else.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// The agent types and an action's complexity are the business actions'
/// (`warden-business`), whose catalogue table names each action's.
pub use warden_business::{AgentType, Complexity, UnknownAgentType};

/// An agent type a client, an operator or a stored item names that is none
/// of the seven: `400`, listing the names.
impl From<UnknownAgentType> for Error {
    fn from(unknown: UnknownAgentType) -> Self {
        Error::BadRequest(unknown.to_string())
    }
}

/// The longest agent, workspace or caller-chosen id accepted.
pub const MAX_ID_CHARS: usize = 64;

/// Whether `id` has the shape of the ULIDs Warden gives jobs and proposals
/// (26 ASCII letters and digits). Anything else names nothing stored, and
/// is answered `404` without a read (a key longer than DynamoDB accepts
/// would otherwise be a store error).
pub fn is_generated_id(id: &str) -> bool {
    id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Declares an id newtype parsed at the boundary: 1 to [`MAX_ID_CHARS`] of
/// ASCII letters, digits, `.`, `-` and `_` (never `#`, which storage keys
/// use as their separator).
macro_rules! parsed_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses what a client or an operator typed.
            pub fn parse(raw: &str) -> Result<Self> {
                let ok = !raw.is_empty()
                    && raw.len() <= MAX_ID_CHARS
                    && raw
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
                if ok {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err(Error::BadRequest(format!(
                        concat!($what, " must be 1 to {} characters of letters, digits, '.', '-' and '_'"),
                        MAX_ID_CHARS
                    )))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

parsed_id!(
    /// An agent's id, chosen by the operator who registers it.
    AgentId,
    "agent_id"
);
parsed_id!(
    /// A workspace's id, chosen by the operator who adds it.
    WorkspaceId,
    "workspace_id"
);
parsed_id!(
    /// The name of a service holding an API key (a resource server that
    /// introspects tokens), chosen by the operator.
    ServiceName,
    "the service name"
);

/// Whose an API key is: an agent's (it runs that agent only) or a
/// service's (`service:<name>`: it runs no agent, it introspects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// An agent.
    Agent(AgentId),
    /// A service.
    Service(ServiceName),
}

impl KeyOwner {
    /// The prefix of a service owner as stored and shown.
    pub const SERVICE_PREFIX: &'static str = "service:";

    /// Reads a stored owner: `service:<name>`, else an agent id.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw.strip_prefix(Self::SERVICE_PREFIX) {
            Some(name) => ServiceName::parse(name).map(KeyOwner::Service),
            None => AgentId::parse(raw).map(KeyOwner::Agent),
        }
    }

    /// The agent, for an agent's key.
    pub fn agent(&self) -> Option<&AgentId> {
        match self {
            KeyOwner::Agent(id) => Some(id),
            KeyOwner::Service(_) => None,
        }
    }
}

impl fmt::Display for KeyOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOwner::Agent(id) => f.write_str(id.as_str()),
            KeyOwner::Service(name) => write!(f, "{}{name}", Self::SERVICE_PREFIX),
        }
    }
}

impl Serialize for KeyOwner {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Declares a closed enum with one stored (and serialised) name per value;
/// parsing any other name is an error naming what was expected.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Parses a name; anything else is an error that lists the names.
            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(Error::BadRequest(format!(
                        "unknown {} {other:?}; expected one of: {}",
                        $what,
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use named_enum;

named_enum!(
    /// How far an agent is trusted (AWS's agentic security scopes 1-4).
    Maturity, "maturity", {
        /// Blocked from running anything.
        Student = "STUDENT",
        /// Every run is a proposal a human approves.
        Intern = "INTERN",
        /// Runs up to complexity 3; complexity 4 is proposed.
        Supervised = "SUPERVISED",
        /// Runs everything.
        Autonomous = "AUTONOMOUS",
    }
);

named_enum!(
    /// Where a job is in its life. It only moves forward, along
    /// [`JobStatus::can_move_to`], and the store enforces it.
    JobStatus, "job status", {
        /// A proposal waits for a human decision.
        AwaitingApproval = "AWAITING_APPROVAL",
        /// Queued for the worker.
        Pending = "PENDING",
        /// A worker holds it under a lease.
        Running = "RUNNING",
        /// Ran and stored its result.
        Success = "SUCCESS",
        /// Ended without a result; `error` says why.
        Failed = "FAILED",
        /// Its proposal was rejected or expired; it never ran.
        Rejected = "REJECTED",
    }
);

impl JobStatus {
    /// The transitions API.md allows, and no others.
    pub fn can_move_to(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (AwaitingApproval, Pending)
                | (AwaitingApproval, Rejected)
                | (Pending, Running)
                | (Pending, Failed)
                | (Running, Success)
                | (Running, Failed)
        )
    }

    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Success | JobStatus::Failed | JobStatus::Rejected
        )
    }
}

named_enum!(
    /// Where a proposal is.
    ProposalStatus, "proposal status", {
        /// Waiting for an approver.
        Pending = "PENDING",
        /// Approved: its job was queued.
        Approved = "APPROVED",
        /// Rejected: its job ended `REJECTED`.
        Rejected = "REJECTED",
        /// Not decided within its window: its job ended `REJECTED`. A
        /// tool call's approval not used within its window, or voided (its
        /// agent disabled or demoted, its tool changed), ends here too.
        Expired = "EXPIRED",
        /// A tool call's approval, used by the call it was for (once).
        Used = "USED",
    }
);

/// A registered agent (Agents table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRecord {
    /// The agent's id.
    pub agent_id: AgentId,
    /// Which actions it has.
    pub agent_type: AgentType,
    /// How far it is trusted.
    pub maturity: Maturity,
    /// The kill switch: a disabled agent runs nothing, queued jobs included.
    pub enabled: bool,
    /// The workspaces it may work in.
    pub workspaces: Vec<WorkspaceId>,
    /// Raised by every disable and every demotion: a tool-call approval
    /// records it and is honoured only while it is unchanged, so
    /// re-enabling or promoting an agent revives nothing.
    pub kill_generation: u64,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds of the last change.
    pub updated_at: i64,
}

impl AgentRecord {
    /// Whether the agent may work in `workspace`.
    pub fn allowed_in(&self, workspace: &WorkspaceId) -> bool {
        self.workspaces.contains(workspace)
    }
}

/// A workspace (Workspaces table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkspaceRecord {
    /// The workspace's id.
    pub workspace_id: WorkspaceId,
    /// A display name.
    pub name: String,
    /// Epoch seconds.
    pub created_at: i64,
}

/// One agent run (AgentJobs table).
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// A ULID, so ids sort by creation time.
    pub job_id: String,
    /// The agent that runs it.
    pub agent_id: AgentId,
    /// The workspace it runs in.
    pub workspace_id: WorkspaceId,
    /// The action's name.
    pub action: String,
    /// The action's input: the JSON text of the request's `input`, byte
    /// for byte as received (never re-serialised, so what is stored is
    /// what was bounded, and an action reads the client's own digits).
    pub input: String,
    /// Where it is.
    pub status: JobStatus,
    /// Who asked: `user:<id>` or `key:<id>`.
    pub requested_by: String,
    /// The proposal it waits on, if it was proposed.
    pub proposal_id: Option<String>,
    /// The audit event of the decision that let it run: its
    /// `AGENT_RUN_REQUESTED`, or its proposal's `PROPOSAL_APPROVED`. Its
    /// outcome's event names it (`decision_event_id`), so an auditor goes
    /// from what was done to who decided it.
    pub decision_event_id: Option<String>,
    /// When the proposal expires (epoch seconds), if it was proposed.
    pub decide_by: Option<i64>,
    /// While `RUNNING`: until when its worker may still be working (epoch
    /// milliseconds); a redelivery or the sweeper after that finds the
    /// worker dead. While `PENDING`: when the sweeper sends it to the queue
    /// again if it has not started by then. `None` once it has ended (and
    /// while it awaits approval).
    pub lease_until: Option<i64>,
    /// How many times the sweeper has sent it to the queue again.
    pub requeues: u32,
    /// The action's result, once `SUCCESS`.
    pub result: Option<Value>,
    /// Why it failed or was rejected.
    pub error: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds of the last move.
    pub updated_at: i64,
}

/// Serialises JSON text kept as received (a run's `input`) as itself, byte
/// for byte: the text is embedded, not parsed and written again.
pub fn raw_json<S: serde::Serializer>(
    text: &str,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    let raw = serde_json::value::RawValue::from_string(text.to_owned())
        .map_err(serde::ser::Error::custom)?;
    raw.serialize(serializer)
}

/// The most bytes one stored item may take: DynamoDB's item limit (400
/// KiB, attribute names and values counted in UTF-8).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Room kept in a job item for its `error` (a reason of up to 500
/// characters of up to 4 bytes, plus the sentence around it).
const ERROR_ROOM_BYTES: usize = 2 * 1024 + 256;

/// Room kept for the attributes a job gains as it moves (`status`,
/// `updated_at`, `lease_until`, `sweep`, `requeues`): names and values.
const MOVE_ROOM_BYTES: usize = 256;

impl JobRecord {
    /// The most bytes this job's item can ever take, counted as DynamoDB
    /// counts them (each attribute's name plus its value's UTF-8 length,
    /// numbers at their 21-byte worst case): what it holds now, plus the
    /// largest result a job keeps ([`crate::agents::catalogue::MAX_RESULT_BYTES`]),
    /// an error and the moves' attributes. Both stores refuse a job over
    /// [`MAX_ITEM_BYTES`] by this one function, before anything is written.
    pub fn max_stored_bytes(&self) -> usize {
        const NUMBER: usize = 21;
        let text = |name: &str, value: &str| name.len() + value.len();
        let number = |name: &str| name.len() + NUMBER;
        let mut bytes = text("job_id", &self.job_id)
            + text("agent_id", self.agent_id.as_str())
            + text("workspace_id", self.workspace_id.as_str())
            + text("action", &self.action)
            + text("input", &self.input)
            + text("status", JobStatus::AwaitingApproval.as_str())
            + text("requested_by", &self.requested_by)
            + number("created_at")
            + number("updated_at")
            + number("decide_by")
            + "result".len()
            + crate::agents::catalogue::MAX_RESULT_BYTES
            + "error".len()
            + ERROR_ROOM_BYTES
            + MOVE_ROOM_BYTES;
        if let Some(p) = &self.proposal_id {
            bytes += text("proposal_id", p);
        }
        bytes
    }
}

/// A proposal: a run or a tool call waiting for a human decision
/// (Proposals table).
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalRecord {
    /// A ULID, so ids sort by creation time.
    pub proposal_id: String,
    /// What it holds back: a run's job or a tool call.
    pub kind: ProposalKind,
    /// The agent.
    pub agent_id: AgentId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The agent's maturity when it asked (`None` on proposals stored
    /// before it was kept).
    pub agent_maturity: Option<Maturity>,
    /// Who asked (`user:<id>` or `key:<id>`).
    pub requested_by: String,
    /// Where it is.
    pub status: ProposalStatus,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// After this (epoch seconds) it can no longer be decided.
    pub decide_by: i64,
    /// Who approved or rejected it.
    pub decided_by: Option<String>,
    /// The reason given with the decision.
    pub reason: Option<String>,
    /// Epoch milliseconds of the decision or expiry.
    pub decided_at: Option<i64>,
}

/// What a proposal holds back.
#[derive(Debug, Clone, PartialEq)]
pub enum ProposalKind {
    /// A run: approving it queues the job.
    Run {
        /// The job it holds back.
        job_id: String,
        /// The action's name.
        action: String,
        /// The action's input, the JSON text as received (see
        /// [`JobRecord::input`]).
        input: String,
    },
    /// A tool call: approving it lets the identical call through once.
    ToolCall(ToolProposal),
}

/// What a tool-call proposal binds its approval to.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolProposal {
    /// The call that opened it; the call that uses the approval keeps it.
    pub call_id: String,
    /// The tool.
    pub tool: super::tools::ToolName,
    /// The tool's complexity when the call was made.
    pub complexity: Complexity,
    /// The arguments' JCS form: exactly what will run, shown to approvers.
    pub arguments: String,
    /// Lowercase hex SHA-256 of `arguments`.
    pub arguments_sha256: String,
    /// [`super::tools::exact_call_key`] of the call.
    pub exact_call_key: String,
    /// The tool's registration version when the call was made.
    pub tool_version: String,
    /// The agent's kill generation when the call was made.
    pub kill_generation: u64,
    /// The API key a delegated call came through (the agent acting for
    /// `requested_by`): the person that key was created for may not
    /// approve it either. `None` for a call made with the key itself
    /// (`requested_by` names it).
    pub actor_key_id: Option<String>,
}

impl ProposalRecord {
    /// The job of a run proposal.
    pub fn job_id(&self) -> Option<&str> {
        match &self.kind {
            ProposalKind::Run { job_id, .. } => Some(job_id),
            ProposalKind::ToolCall(_) => None,
        }
    }

    /// The tool call of a tool-call proposal.
    pub fn tool_call(&self) -> Option<&ToolProposal> {
        match &self.kind {
            ProposalKind::ToolCall(t) => Some(t),
            ProposalKind::Run { .. } => None,
        }
    }
}

/// The answer an idempotent run request gave, kept 24 hours so that a
/// retry with the same key and body gets it again (AgentJobs table, under
/// an `idem#` key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// See [`crate::store::keys::idempotency`].
    pub key: String,
    /// SHA-256 (hex) of the request: path agent id and body, as JSON values.
    pub request_hash: String,
    /// The job the first request created.
    pub job_id: String,
    /// The status it answered.
    pub status: JobStatus,
    /// The proposal it answered, if any.
    pub proposal_id: Option<String>,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// An API key as stored (ApiKeys table): never the key itself, only an
/// HMAC of its secret under the pepper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The id part of `wdn_<key id>_<secret>` (a ULID: no `_`).
    pub key_id: String,
    /// HMAC-SHA256 of the secret under the pepper, hex.
    pub secret_hmac: String,
    /// The agent the key belongs to (and the only one it may run), or the
    /// service (which runs none).
    pub owner: KeyOwner,
    /// What it may do, e.g. `agents:run`.
    pub scopes: Vec<String>,
    /// Epoch seconds; `None` never expires.
    pub expires_at: Option<i64>,
    /// Requests per hour.
    pub rate_limit_per_hour: u32,
    /// Epoch seconds, once revoked.
    pub revoked_at: Option<i64>,
    /// Epoch seconds.
    pub created_at: i64,
    /// The user (by id) an agent's key was created for: the person who
    /// answers for that agent, who therefore cannot approve what the key
    /// asks for (`warden apikeys create --for USERNAME`). `None` on a
    /// service's key and on keys created before it was kept.
    pub created_by: Option<String>,
    /// Requests counted so far.
    pub usage_count: u64,
    /// Epoch seconds of the last counted request.
    pub last_used_at: Option<i64>,
    /// The GCRA theoretical arrival time (epoch ms) of the key's run
    /// limit ([`KeyLimit::Run`]), if used.
    pub tat: Option<i64>,
    /// The GCRA theoretical arrival time (epoch ms) of the key's read
    /// limit ([`KeyLimit::Read`]), if used.
    pub read_tat: Option<i64>,
}

/// Which of an API key's two hourly limits a request spends (API.md): each
/// route declares one. Both are GCRA states on the key's own item, so a key
/// polling its jobs never uses up what it needs to run them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLimit {
    /// Runs and every other write (a run, a tool call, an outcome, a
    /// token exchange): the key's `rate_limit_per_hour`.
    Run,
    /// Reads (a job, a listing, a tool call's record, an introspection):
    /// for an agent's key the larger of its `rate_limit_per_hour` and
    /// `WARDEN_API_KEY_READS_PER_HOUR`, for a service's key its own
    /// `rate_limit_per_hour` ([`crate::auth::api_keys::read_limit_per_hour`]).
    Read,
}

impl KeyLimit {
    /// This limit's GCRA state on `key`.
    pub fn tat_of(self, key: &ApiKeyRecord) -> Option<i64> {
        match self {
            KeyLimit::Run => key.tat,
            KeyLimit::Read => key.read_tat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_empty_long_and_separator_characters() {
        assert!(AgentId::parse("books-1.a_b").is_ok());
        for bad in ["", "a#b", "a b", "ä", &"a".repeat(65)] {
            assert!(AgentId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            WorkspaceId::parse(&"w".repeat(64)).unwrap().as_str().len(),
            64
        );
    }

    #[test]
    fn stored_names_round_trip_and_unknown_names_are_errors() {
        for m in Maturity::ALL {
            assert_eq!(Maturity::parse(m.as_str()).unwrap(), *m);
        }
        for t in AgentType::ALL {
            assert_eq!(AgentType::parse(t.as_str()).unwrap(), *t);
        }
        assert!(Maturity::parse("intern").is_err());
        // `AgentType::parse(..)?` answers 400 naming every type.
        assert!(matches!(
            Error::from(AgentType::parse("robot").unwrap_err()),
            Error::BadRequest(m) if m == "unknown agent type \"robot\"; expected one of: \
                accounting, sales, marketing, logistics, tax, purchasing, planning"
        ));
        assert!(JobStatus::parse("done").is_err());
        assert_eq!(
            serde_json::to_value(JobStatus::AwaitingApproval).unwrap(),
            "AWAITING_APPROVAL"
        );
    }

    #[test]
    fn jobs_move_only_along_the_documented_transitions() {
        use JobStatus::*;
        let allowed = [
            (AwaitingApproval, Pending),
            (AwaitingApproval, Rejected),
            (Pending, Running),
            (Pending, Failed),
            (Running, Success),
            (Running, Failed),
        ];
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                assert_eq!(
                    from.can_move_to(*to),
                    allowed.contains(&(*from, *to)),
                    "{from} -> {to}"
                );
            }
        }
    }
}
