//! The storage ports and their two adapters, arranged by domain.
//!
//! Each domain has its port here ([`auth`], [`webhooks`], [`agents`],
//! [`api_keys`], [`health`], [`audit`], [`ratelimit`]) and one module in each adapter. Every state change is a
//! [`Write`] of its domain, and [`Transactions::transact`] applies a list of
//! them, across domains, all or nothing: that is how an action and its audit
//! record always land together. [`keys`] builds every storage key. Both
//! adapters give the same semantics, pinned by conformance suites that run
//! every check on both (`shared/tests/store_conformance.rs`, and
//! `shared/tests/agents_store.rs` for agents and API keys):
//!
//! - [`dynamo::DynamoStore`]: DynamoDB through the AWS SDK.
//! - [`memory::MemoryStore`]: embedded, in-process; the default of
//!   `warden serve` and of fast unit tests.
//!
//! Items carry an `expires_at` (epoch seconds). DynamoDB deletes expired
//! items days late (and emulators never), so reads take `now` and treat
//! sessions, rate state, delivery records and idempotency records with
//! `expires_at <= now` as absent. Denylist entries are the exception: one that exists blocks,
//! whatever its TTL says, because its job is to outlive the token it blocks.
//!
//! Each function holds only the ports it uses: [`AuthStore`] for login,
//! revocation and the authorizer, [`WebhookStore`] for webhook intake,
//! [`RegistryStore`] for the agent registry, API keys, runs and
//! proposals, [`WorkerStore`] for the
//! job worker, [`HealthStore`] for the health report and probe.

pub mod agents;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod checkpoints;
pub mod dynamo;
pub mod health;
pub mod keys;
pub mod memory;
pub mod ratelimit;
pub mod tools;
pub mod webhooks;

use async_trait::async_trait;

pub use self::agents::{AgentStore, AgentWrite, JobMove, Page, RunContext, RunLookup};
pub use self::api_keys::{ApiKeyStore, ApiKeyWrite};
pub use self::audit::{AuditQuery, AuditStore, LedgerEvent};
pub use self::auth::{
    AccountChange, AuthWrite, DelegationLookup, DelegationState, SessionStore, TokenLookup,
    UserStore,
};
pub use self::checkpoints::{CheckpointRecord, CheckpointStore};
pub use self::health::{HealthSampleStore, HealthWrite};
pub use self::keys::RevocationKey;
pub use self::ratelimit::{RateLimitStore, TatCondition, TatOutcome, TatWrite};
pub use self::tools::{ToolCallContext, ToolCallLookup, ToolStore, ToolWrite};
pub use self::webhooks::{Claim, DeliveryStore, WebhookWrite};
use crate::Result;
use crate::audit::AuditEvent;

/// One read of a key set item, as [`crate::auth::jwt::KeySource::Stored`]
/// holds it: a boxed future, so that a function's copy of the key set can
/// be read again from any store.
pub type KeySetRead = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<crate::auth::signing::KeySet>>> + Send>,
>;

/// One table a store keeps its items in, as the health checks describe it:
/// the adapter lists its own ([`dynamo::DynamoStore::table_targets`]), so
/// the checks never depend on the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableTarget {
    /// Its short name, as the check is named: `table:<suffix>`.
    pub suffix: &'static str,
    /// Its full name (the deployment's prefix and the suffix).
    pub name: String,
    /// The attribute its items expire by (DynamoDB TTL), if they do.
    pub ttl_attribute: Option<&'static str>,
}

/// A state change of any domain. [`Transactions::transact`] applies a list
/// of them all or nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Users, sessions, the denylist.
    Auth(AuthWrite),
    /// Webhook delivery records.
    Webhook(WebhookWrite),
    /// Agents, workspaces, jobs, proposals, idempotency records.
    Agent(AgentWrite),
    /// API keys.
    ApiKey(ApiKeyWrite),
    /// Tools, tool calls, exact-call items, pending slots.
    Tool(ToolWrite),
    /// The health probe's samples.
    Health(HealthWrite),
    /// Appends an audit event. Condition: its id is new.
    Audit(AuditEvent),
}

impl From<AuthWrite> for Write {
    fn from(w: AuthWrite) -> Self {
        Write::Auth(w)
    }
}

impl From<WebhookWrite> for Write {
    fn from(w: WebhookWrite) -> Self {
        Write::Webhook(w)
    }
}

impl From<AgentWrite> for Write {
    fn from(w: AgentWrite) -> Self {
        Write::Agent(w)
    }
}

impl From<ApiKeyWrite> for Write {
    fn from(w: ApiKeyWrite) -> Self {
        Write::ApiKey(w)
    }
}

impl From<ToolWrite> for Write {
    fn from(w: ToolWrite) -> Self {
        Write::Tool(w)
    }
}

impl From<HealthWrite> for Write {
    fn from(w: HealthWrite) -> Self {
        Write::Health(w)
    }
}

impl From<AuditEvent> for Write {
    fn from(e: AuditEvent) -> Self {
        Write::Audit(e)
    }
}

/// Seals every audit event of `writes` with `key` ([`crate::audit::mac`]):
/// what a store with the audit MAC key does last, before it writes, so
/// that every event a writer records carries its MAC, whoever built it.
/// Such a store is a deployed writer's, and it also refuses an event
/// stamped more than [`crate::audit::MAX_CLOCK_ERROR_MS`] from its
/// `clock` (the system's unless given): the ledger checkpoints a minute
/// once the grace has passed, and counts on no writer's event arriving
/// later.
pub(crate) fn seal_audit(
    writes: &mut [Write],
    key: Option<&crate::audit::mac::MacKey>,
    clock: Option<&dyn crate::clock::Clock>,
) -> crate::Result<()> {
    use crate::clock::Clock as _;
    let Some(key) = key else {
        return Ok(());
    };
    let now = clock.map_or_else(
        || crate::clock::SystemClock.now_millis(),
        |c| c.now_millis(),
    );
    for write in writes {
        if let Write::Audit(event) = write {
            let off = event.at_millis.saturating_sub(now);
            if off.abs() > crate::audit::MAX_CLOCK_ERROR_MS {
                return Err(crate::Error::internal(format!(
                    "audit event {} ({}) is stamped {off} ms from this writer's clock: more than {} ms off is refused, for the audit ledger",
                    event.event_id,
                    event.event_type.as_str(),
                    crate::audit::MAX_CLOCK_ERROR_MS
                )));
            }
            key.seal(event)?;
        }
    }
    Ok(())
}

/// Atomic multi-item writes across domains.
#[async_trait]
pub trait Transactions: Send + Sync {
    /// Applies every write or none. A failed condition is
    /// [`crate::Error::ConditionFailed`]; a store failure is
    /// [`crate::Error::Unavailable`].
    async fn transact(&self, writes: Vec<Write>) -> Result<()>;
}

/// The ports of login, revocation and the authorizer.
pub trait AuthStore: UserStore + SessionStore + RateLimitStore + AuditStore + Transactions {}

impl<T: UserStore + SessionStore + RateLimitStore + AuditStore + Transactions> AuthStore for T {}

impl std::fmt::Debug for dyn AuthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn AuthStore")
    }
}

/// The ports of webhook intake.
pub trait WebhookStore: DeliveryStore + AuditStore + Transactions {}

impl<T: DeliveryStore + AuditStore + Transactions> WebhookStore for T {}

impl std::fmt::Debug for dyn WebhookStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn WebhookStore")
    }
}

/// The ports of the agent registry, API keys, runs, tool calls and
/// proposals: the agents and tools domains, API keys, audit, and the rate
/// state of people's runs.
/// (Agent runs also verify bearer tokens, through a [`SessionStore`] over
/// the same tables.)
pub trait RegistryStore:
    AgentStore + ToolStore + ApiKeyStore + AuditStore + RateLimitStore + Transactions
{
}

impl<T: AgentStore + ToolStore + ApiKeyStore + AuditStore + RateLimitStore + Transactions>
    RegistryStore for T
{
}

impl std::fmt::Debug for dyn RegistryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn RegistryStore")
    }
}

/// The ports of the health report and the probe: samples, audit.
pub trait HealthStore: HealthSampleStore + AuditStore + Transactions {}

impl<T: HealthSampleStore + AuditStore + Transactions> HealthStore for T {}

impl std::fmt::Debug for dyn HealthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn HealthStore")
    }
}

/// The ports of the job worker: jobs and agents, audit.
pub trait WorkerStore: AgentStore + AuditStore + Transactions {}

impl<T: AgentStore + AuditStore + Transactions> WorkerStore for T {}

impl std::fmt::Debug for dyn WorkerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn WorkerStore")
    }
}
