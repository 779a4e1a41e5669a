//! Audit events: one for every security decision.
//!
//! An event is never written on its own after the fact: it travels in the
//! same store transaction as the state change it records
//! ([`crate::store::Write::Audit`]), so neither exists without the other.
//! When the audit write fails, the action fails with it (fail closed).
//!
//! Reading them back is [`query`]'s: the one query of `warden audit query`
//! and `GET /audit`.

pub mod checkpoint;
pub mod checkpointer;
pub mod copies;
pub mod ledger;
pub mod mac;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod query;
pub mod verify;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Clock;

/// The largest difference accepted between an event's time and the
/// writer's clock, in milliseconds: a writer refuses to record an event
/// further off ([`mac::MacKey::seal_at`]), and the ledger's grace counts it
/// ([`crate::config::Config::ledger_grace_ms`]).
pub const MAX_CLOCK_ERROR_MS: i64 = 60_000;

/// The prefix naming a person in an event's `actor` or `subject`.
pub const USER_PREFIX: &str = "user:";

/// A person as every event names them, in `actor` and in `subject`:
/// `user:<user id>`, like `key:<key id>`, `agent:<agent id>` and
/// `webhook:<source>` (`warden users list` shows the ids).
pub fn user_actor(user_id: &str) -> String {
    format!("{USER_PREFIX}{user_id}")
}

/// Number of partitions one day of audit events is spread over (the
/// storage key is [`crate::store::keys::audit_bucket`]'s).
pub use crate::store::keys::AUDIT_SHARDS;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// A login succeeded and a session was created.
    LoginSuccess,
    /// A login was refused: unknown user, wrong password or disabled user.
    LoginFailed,
    /// A login was refused by the per-IP or per-account limit.
    LoginRateLimited,
    /// A refresh token was exchanged for a new pair.
    TokenRefreshed,
    /// A refresh token was refused (unknown, expired, revoked).
    RefreshFailed,
    /// A refresh token was used twice: the session was revoked.
    RefreshTokenReused,
    /// A user was created.
    UserCreated,
    /// One access or refresh token was revoked.
    TokenRevoked,
    /// One login session was revoked by its owner.
    SessionRevoked,
    /// Every token of a user was revoked (generation raised).
    AllTokensRevoked,
    /// A user's password was changed; every token of theirs was revoked.
    PasswordChanged,
    /// A user was disabled; every token of theirs was revoked.
    UserDisabled,
    /// A disabled user was enabled again.
    UserEnabled,
    /// A webhook delivery was verified and enqueued.
    WebhookAccepted,
    /// A webhook delivery was refused (the reason is in the details).
    WebhookRejected,
    /// An agent was registered.
    AgentRegistered,
    /// An agent's maturity was changed.
    AgentMaturityChanged,
    /// An agent was disabled (the kill switch): it runs nothing more.
    AgentDisabled,
    /// A disabled agent was enabled again.
    AgentEnabled,
    /// A workspace was added.
    WorkspaceCreated,
    /// An API key was created.
    ApiKeyCreated,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// An API key was refused (the reason is in the details).
    ApiKeyRejected,
    /// An agent run was accepted and queued.
    AgentRunRequested,
    /// An agent run was refused, at submission or at run time (the rule is in the details).
    AgentRunBlocked,
    /// A job ended `FAILED` without a result of its own: interrupted, dead-lettered, or not queued.
    AgentRunFailed,
    /// An agent run became a proposal awaiting approval.
    ProposalCreated,
    /// A proposal was approved and its job queued.
    ProposalApproved,
    /// A proposal was rejected; its job will not run.
    ProposalRejected,
    /// A proposal was not decided in time; its job will not run.
    ProposalExpired,
    /// The health probe found the deployment degraded (a warning or a slow check).
    HealthDegraded,
    /// The health probe found a required check failing.
    HealthFailing,
    /// The health probe found every check ok again.
    HealthRecovered,
    /// A user's roles were replaced; every token of theirs was revoked.
    UserRolesChanged,
    /// A webhook source's secret was replaced in Secrets Manager (the
    /// previous one kept for rotation).
    WebhookSecretRotated,
    /// A new HS256 key version was put in Secrets Manager (before access
    /// tokens were signed in KMS; kept so that older records still read).
    JwtKeyRotated,
    /// A KMS signing key was appended to the key set, to sign after the
    /// schedule's switch (`warden signing-key rotate`).
    SigningKeyRotated,
    /// A signing key was retired at once (`warden signing-key retire --now`).
    SigningKeyRetired,
    /// A webhook delivery already accepted came again (a provider retry): answered `200 duplicate`, not enqueued again.
    WebhookDuplicate,
    /// A job ran and ended `SUCCESS`.
    AgentRunSucceeded,
    /// A user's run requests were refused by the per-user limit (once per user per minute).
    AgentRunRateLimited,
    /// A decision on a proposal was refused (the rule is in the details).
    ProposalDecisionRefused,
    /// A user was made a member of a workspace.
    WorkspaceMemberAdded,
    /// A user was removed from a workspace.
    WorkspaceMemberRemoved,
    /// A tool was registered (or registered again, voiding its approvals).
    ToolRegistered,
    /// A tool was removed, voiding its pending proposals and approvals.
    ToolRemoved,
    /// A tool call was allowed by the maturity x complexity table: a
    /// decision token was issued.
    ToolCallAllowed,
    /// A tool call was refused (the `reason` is in the details).
    ToolCallBlocked,
    /// A tool call became a proposal awaiting approval (or, at most once a
    /// minute, an identical call found it still pending).
    ToolCallProposed,
    /// A tool call used the approval of its exact call (once).
    ToolCallApprovalConsumed,
    /// An agent reported what an allowed tool call did.
    ToolCallOutcome,
    /// A delegated agent token was issued (RFC 8693 token exchange): actor
    /// the user, subject the agent, with the actor key and the scope.
    TokenExchanged,
    /// A token exchange with a live subject token was refused by policy
    /// (the actor key, the agent, the scope).
    TokenExchangeRefused,
}

impl EventType {
    /// Every event type, in declaration order (what `warden audit query
    /// --type` accepts).
    pub const ALL: [EventType; 53] = [
        EventType::LoginSuccess,
        EventType::LoginFailed,
        EventType::LoginRateLimited,
        EventType::TokenRefreshed,
        EventType::RefreshFailed,
        EventType::RefreshTokenReused,
        EventType::UserCreated,
        EventType::TokenRevoked,
        EventType::SessionRevoked,
        EventType::AllTokensRevoked,
        EventType::PasswordChanged,
        EventType::UserDisabled,
        EventType::UserEnabled,
        EventType::WebhookAccepted,
        EventType::WebhookRejected,
        EventType::AgentRegistered,
        EventType::AgentMaturityChanged,
        EventType::AgentDisabled,
        EventType::AgentEnabled,
        EventType::WorkspaceCreated,
        EventType::ApiKeyCreated,
        EventType::ApiKeyRevoked,
        EventType::ApiKeyRejected,
        EventType::AgentRunRequested,
        EventType::AgentRunBlocked,
        EventType::AgentRunFailed,
        EventType::ProposalCreated,
        EventType::ProposalApproved,
        EventType::ProposalRejected,
        EventType::ProposalExpired,
        EventType::HealthDegraded,
        EventType::HealthFailing,
        EventType::HealthRecovered,
        EventType::UserRolesChanged,
        EventType::WebhookSecretRotated,
        EventType::JwtKeyRotated,
        EventType::SigningKeyRotated,
        EventType::SigningKeyRetired,
        EventType::WebhookDuplicate,
        EventType::AgentRunSucceeded,
        EventType::AgentRunRateLimited,
        EventType::ProposalDecisionRefused,
        EventType::WorkspaceMemberAdded,
        EventType::WorkspaceMemberRemoved,
        EventType::ToolRegistered,
        EventType::ToolRemoved,
        EventType::ToolCallAllowed,
        EventType::ToolCallBlocked,
        EventType::ToolCallProposed,
        EventType::ToolCallApprovalConsumed,
        EventType::ToolCallOutcome,
        EventType::TokenExchanged,
        EventType::TokenExchangeRefused,
    ];

    /// The name stored and shown, e.g. `LOGIN_SUCCESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LoginSuccess => "LOGIN_SUCCESS",
            EventType::LoginFailed => "LOGIN_FAILED",
            EventType::LoginRateLimited => "LOGIN_RATE_LIMITED",
            EventType::TokenRefreshed => "TOKEN_REFRESHED",
            EventType::RefreshFailed => "REFRESH_FAILED",
            EventType::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            EventType::UserCreated => "USER_CREATED",
            EventType::TokenRevoked => "TOKEN_REVOKED",
            EventType::SessionRevoked => "SESSION_REVOKED",
            EventType::AllTokensRevoked => "ALL_TOKENS_REVOKED",
            EventType::PasswordChanged => "PASSWORD_CHANGED",
            EventType::UserDisabled => "USER_DISABLED",
            EventType::UserEnabled => "USER_ENABLED",
            EventType::WebhookAccepted => "WEBHOOK_ACCEPTED",
            EventType::WebhookRejected => "WEBHOOK_REJECTED",
            EventType::AgentRegistered => "AGENT_REGISTERED",
            EventType::AgentMaturityChanged => "AGENT_MATURITY_CHANGED",
            EventType::AgentDisabled => "AGENT_DISABLED",
            EventType::AgentEnabled => "AGENT_ENABLED",
            EventType::WorkspaceCreated => "WORKSPACE_CREATED",
            EventType::ApiKeyCreated => "API_KEY_CREATED",
            EventType::ApiKeyRevoked => "API_KEY_REVOKED",
            EventType::ApiKeyRejected => "API_KEY_REJECTED",
            EventType::AgentRunRequested => "AGENT_RUN_REQUESTED",
            EventType::AgentRunBlocked => "AGENT_RUN_BLOCKED",
            EventType::AgentRunFailed => "AGENT_RUN_FAILED",
            EventType::ProposalCreated => "PROPOSAL_CREATED",
            EventType::ProposalApproved => "PROPOSAL_APPROVED",
            EventType::ProposalRejected => "PROPOSAL_REJECTED",
            EventType::ProposalExpired => "PROPOSAL_EXPIRED",
            EventType::HealthDegraded => "HEALTH_DEGRADED",
            EventType::HealthFailing => "HEALTH_FAILING",
            EventType::HealthRecovered => "HEALTH_RECOVERED",
            EventType::UserRolesChanged => "USER_ROLES_CHANGED",
            EventType::WebhookSecretRotated => "WEBHOOK_SECRET_ROTATED",
            EventType::JwtKeyRotated => "JWT_KEY_ROTATED",
            EventType::SigningKeyRotated => "SIGNING_KEY_ROTATED",
            EventType::SigningKeyRetired => "SIGNING_KEY_RETIRED",
            EventType::WebhookDuplicate => "WEBHOOK_DUPLICATE",
            EventType::AgentRunSucceeded => "AGENT_RUN_SUCCEEDED",
            EventType::AgentRunRateLimited => "AGENT_RUN_RATE_LIMITED",
            EventType::ProposalDecisionRefused => "PROPOSAL_DECISION_REFUSED",
            EventType::WorkspaceMemberAdded => "WORKSPACE_MEMBER_ADDED",
            EventType::WorkspaceMemberRemoved => "WORKSPACE_MEMBER_REMOVED",
            EventType::ToolRegistered => "TOOL_REGISTERED",
            EventType::ToolRemoved => "TOOL_REMOVED",
            EventType::ToolCallAllowed => "TOOL_CALL_ALLOWED",
            EventType::ToolCallBlocked => "TOOL_CALL_BLOCKED",
            EventType::ToolCallProposed => "TOOL_CALL_PROPOSED",
            EventType::ToolCallApprovalConsumed => "TOOL_CALL_APPROVAL_CONSUMED",
            EventType::ToolCallOutcome => "TOOL_CALL_OUTCOME",
            EventType::TokenExchanged => "TOKEN_EXCHANGED",
            EventType::TokenExchangeRefused => "TOKEN_EXCHANGE_REFUSED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// How much an event matters to whoever watches the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Routine.
    Info,
    /// Refused or unusual; worth a look in numbers.
    Warning,
    /// A likely attack or compromise.
    Critical,
}

impl Severity {
    /// The name stored and shown, e.g. `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// Where a decision was asked for. The HTTP request context is one origin
/// among several: the CLI, queue workers and the scheduled probe write audit
/// events too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// An API request.
    Http {
        /// The client IP, as API Gateway saw it.
        ip: String,
        /// The client's user agent.
        user_agent: String,
        /// The request id, as in the logs and the `x-request-id` header.
        request_id: String,
    },
    /// The `warden` command.
    Cli {
        /// Who ran it: the AWS caller identity, or `local`.
        operator: String,
    },
    /// A queue message (the agent worker).
    Queue {
        /// The message id.
        message_id: String,
    },
    /// A scheduled invocation (the health probe).
    Schedule {
        /// The schedule's name.
        rule: String,
    },
}

impl Origin {
    /// The request id or message id this origin is traced by, if any.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Origin::Http { request_id, .. } => Some(request_id),
            Origin::Queue { message_id } => Some(message_id),
            Origin::Cli { .. } | Origin::Schedule { .. } => None,
        }
    }
}

/// Builds every audit event Warden writes: stamped with its clock's time
/// and the configured retention, asked for by an origin. Each state holds
/// one; nothing else calls [`AuditEvent::new`].
#[derive(Debug, Clone)]
pub struct Auditor {
    clock: Arc<dyn Clock>,
    retention_days: i64,
}

impl Auditor {
    /// An auditor stamping events with `clock` and keeping them
    /// `retention_days` (`WARDEN_AUDIT_RETENTION_DAYS`).
    pub fn new(clock: Arc<dyn Clock>, retention_days: i64) -> Self {
        Self {
            clock,
            retention_days,
        }
    }

    /// A new event of `event_type` asked for by `origin`, now.
    pub fn event(
        &self,
        event_type: EventType,
        severity: Severity,
        origin: impl Into<Origin>,
    ) -> AuditEvent {
        AuditEvent::new(
            event_type,
            severity,
            origin.into(),
            self.clock.now_millis(),
            self.retention_days,
        )
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// A ULID: unique, and sorts by time.
    pub event_id: String,
    /// When, in milliseconds since the epoch.
    pub at_millis: i64,
    /// What happened.
    pub event_type: EventType,
    /// How much it matters.
    pub severity: Severity,
    /// Who acted: a user id, the operator of a `warden` command (its
    /// origin's), or `anonymous`.
    pub actor: String,
    /// Whom it concerned, when not the actor (e.g. the username tried).
    pub subject: Option<String>,
    /// Where the decision was asked for: an HTTP request, the CLI, a queue
    /// message, the schedule.
    pub origin: Origin,
    /// Event-specific facts; never a password, token or secret.
    pub details: Map<String, Value>,
    /// When the record may be deleted (epoch seconds): the retention.
    pub expires_at: i64,
    /// HMAC-SHA256 of the event's canonical form without it, under the
    /// audit MAC key ([`mac`]): absent from events written before the
    /// ledger, and from events of a writer without the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl AuditEvent {
    /// A new event of `event_type` that `origin` asked for. Its actor is
    /// the operator when the `warden` command asked (so every change an
    /// operator makes is found by their identity), else `anonymous` until
    /// [`AuditEvent::actor`] names one.
    pub fn new(
        event_type: EventType,
        severity: Severity,
        origin: Origin,
        at_millis: i64,
        retention_days: i64,
    ) -> Self {
        let actor = match &origin {
            Origin::Cli { operator } => operator.clone(),
            _ => "anonymous".into(),
        };
        Self {
            event_id: crate::clock::ulid_at(at_millis),
            at_millis,
            event_type,
            severity,
            actor,
            subject: None,
            origin,
            details: Map::new(),
            expires_at: at_millis.div_euclid(1000) + retention_days * 86_400,
            mac: None,
        }
    }

    /// Sets who acted.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Sets whom the event concerned.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// The AuditLog partition key: `YYYY-MM-DD#<shard>`, built by
    /// [`crate::store::keys::audit_bucket`].
    pub fn bucket(&self) -> String {
        crate::store::keys::audit_bucket(self.at_millis, &self.event_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_name_the_day_and_one_of_sixteen_shards() {
        let origin = Origin::Cli {
            operator: "local".into(),
        };
        let mut shards = std::collections::HashSet::new();
        for _ in 0..200 {
            let e = AuditEvent::new(
                EventType::LoginFailed,
                Severity::Warning,
                origin.clone(),
                1_700_000_000_000,
                30,
            );
            let bucket = e.bucket();
            let (day, shard) = bucket.split_once('#').unwrap();
            assert_eq!(day, "2023-11-14");
            shards.insert(shard.parse::<u32>().unwrap());
        }
        assert!(shards.iter().all(|s| *s < AUDIT_SHARDS));
        assert!(
            shards.len() > 8,
            "events should spread over shards: {shards:?}"
        );
    }

    #[test]
    fn every_event_type_is_listed_once_and_round_trips() {
        let names: std::collections::HashSet<_> =
            EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names.len(), EventType::ALL.len());
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn a_cli_event_names_its_operator_as_the_actor() {
        let cli = Origin::Cli {
            operator: "arn:aws:iam::123456789012:user/ops".into(),
        };
        let e = AuditEvent::new(EventType::UserEnabled, Severity::Info, cli, 0, 1);
        assert_eq!(e.actor, "arn:aws:iam::123456789012:user/ops");
        let queue = Origin::Queue {
            message_id: "m".into(),
        };
        let e = AuditEvent::new(EventType::AgentRunFailed, Severity::Info, queue, 0, 1);
        assert_eq!(e.actor, "anonymous");
    }

    #[test]
    fn event_names_round_trip() {
        for t in [
            EventType::LoginSuccess,
            EventType::RefreshTokenReused,
            EventType::LoginRateLimited,
        ] {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(Severity::parse("CRITICAL"), Some(Severity::Critical));
    }
}
