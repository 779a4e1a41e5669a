//! The embedded store: every port in process memory, behind one mutex.
//!
//! One module per domain (`auth`, `webhooks`, `agents`, `api_keys`,
//! `tools`, `health`, and
//! the audit log and rate state here) holds its tables and knows its writes' conditions.
//! Holding the lock across a whole transaction makes every
//! [`Transactions::transact`] atomic; all conditions are checked before any
//! write is applied, as DynamoDB does.

mod agents;
mod api_keys;
mod auth;
mod health;
mod tools;
mod webhooks;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{AuditQuery, AuditStore, RateLimitStore, TatOutcome, TatWrite, Transactions, Write};
use crate::audit::AuditEvent;
use crate::{Error, Result};

#[derive(Debug, Default)]
struct Tables {
    auth: auth::AuthTables,
    webhooks: webhooks::DeliveryTables,
    agents: agents::AgentTables,
    api_keys: api_keys::KeyTables,
    tools: tools::ToolTables,
    health: health::SampleTable,
    /// By event id (a ULID, so this is also time order).
    audit: BTreeMap<String, AuditEvent>,
    /// The audit ledger's checkpoints, by minute.
    checkpoints: BTreeMap<i64, crate::store::CheckpointRecord>,
    /// Theoretical arrival time and expiry per limited key.
    rates: HashMap<String, (i64, i64)>,
}

impl Tables {
    /// The identities of the items a write touches, as `table/key`.
    fn item_ids(write: &Write) -> Vec<String> {
        match write {
            Write::Auth(w) => auth::AuthTables::item_ids(w),
            Write::Webhook(w) => webhooks::DeliveryTables::item_ids(w),
            Write::Agent(w) => agents::AgentTables::item_ids(w),
            Write::ApiKey(w) => api_keys::KeyTables::item_ids(w),
            Write::Tool(w) => tools::ToolTables::item_ids(w),
            Write::Health(w) => health::SampleTable::item_ids(w),
            Write::Audit(e) => vec![format!("audit/{}", e.event_id)],
        }
    }

    fn check(&self, write: &Write) -> bool {
        match write {
            Write::Auth(w) => self.auth.check(w),
            Write::Webhook(w) => self.webhooks.check(w),
            Write::Agent(w) => self.agents.check(w),
            Write::ApiKey(w) => self.api_keys.check(w),
            // The one condition across tables: the agent as the call read it.
            Write::Tool(super::ToolWrite::AgentAllows {
                agent_id,
                workspace_id,
                maturities,
                kill_generation,
            }) => self
                .agents
                .allows(agent_id, workspace_id, maturities, Some(*kill_generation)),
            Write::Tool(w) => self.tools.check(w),
            Write::Health(w) => self.health.check(w),
            Write::Audit(e) => !self.audit.contains_key(&e.event_id),
        }
    }

    fn apply(&mut self, write: Write) {
        match write {
            Write::Auth(w) => self.auth.apply(w),
            Write::Webhook(w) => self.webhooks.apply(w),
            Write::Agent(w) => self.agents.apply(w),
            Write::ApiKey(w) => self.api_keys.apply(w),
            Write::Tool(w) => self.tools.apply(w),
            Write::Health(w) => self.health.apply(w),
            Write::Audit(e) => {
                self.audit.insert(e.event_id.clone(), e);
            }
        }
    }
}

/// The embedded, in-process store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    audit_outage: AtomicBool,
    /// Seals every audit event written, when set.
    audit_mac: Option<crate::audit::mac::MacKey>,
    /// The clock a sealing store bounds events' times by (the system's
    /// when `None`).
    writer_clock: Option<std::sync::Arc<dyn crate::clock::Clock>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// This store, sealing every audit event it writes with `key`
    /// ([`crate::audit::mac`]).
    pub fn with_audit_mac(mut self, key: crate::audit::mac::MacKey) -> Self {
        self.audit_mac = Some(key);
        self
    }

    /// This store, bounding the times of the events it seals by `clock`
    /// instead of the system's (the CLI's: the AWS clock; tests: a
    /// manual one).
    pub fn with_writer_clock(mut self, clock: std::sync::Arc<dyn crate::clock::Clock>) -> Self {
        self.writer_clock = Some(clock);
        self
    }

    /// While `on`, every transaction that carries an audit event fails as
    /// unavailable, as it would during a DynamoDB outage of the audit table.
    /// Tests use it to show that no action lands without its audit record
    /// (on DynamoDB they delete the audit table instead).
    pub fn simulate_audit_outage(&self, on: bool) {
        self.audit_outage.store(on, Ordering::SeqCst);
    }

    /// Changes the audit log directly, bypassing every condition, as
    /// someone with write access to the AuditLog table could: the ledger's
    /// tests tamper with it this way (on DynamoDB, through the SDK).
    pub fn tamper_audit(&self, change: impl FnOnce(&mut BTreeMap<String, AuditEvent>)) {
        change(&mut self.lock().audit);
    }

    /// Changes the checkpoints directly, as someone with write access to
    /// the Checkpoints table could (see [`MemoryStore::tamper_audit`]).
    pub fn tamper_checkpoints(
        &self,
        change: impl FnOnce(&mut BTreeMap<i64, crate::store::CheckpointRecord>),
    ) {
        change(&mut self.lock().checkpoints);
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a half-applied
        // transaction (writes are applied after all checks, without
        // fallible steps), so a poisoned lock is safe to reuse.
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Transactions for MemoryStore {
    async fn transact(&self, mut writes: Vec<Write>) -> Result<()> {
        super::seal_audit(
            &mut writes,
            self.audit_mac.as_ref(),
            self.writer_clock.as_deref(),
        )?;
        let mut seen = HashSet::new();
        if !writes
            .iter()
            .flat_map(Tables::item_ids)
            .all(|id| seen.insert(id))
        {
            // DynamoDB refuses such a transaction as invalid; so do we.
            return Err(Error::internal(
                "a transaction may write each item only once",
            ));
        }
        if self.audit_outage.load(Ordering::SeqCst)
            && writes.iter().any(|w| matches!(w, Write::Audit(_)))
        {
            return Err(Error::unavailable("simulated outage of the audit table"));
        }
        let mut tables = self.lock();
        if !writes.iter().all(|w| tables.check(w)) {
            return Err(Error::ConditionFailed);
        }
        for write in writes {
            tables.apply(write);
        }
        Ok(())
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn audit_by_actor(&self, actor: &str, limit: usize) -> Result<Vec<AuditEvent>> {
        Ok(self
            .lock()
            .audit
            .values()
            .rev()
            .filter(|e| e.actor == actor)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        Ok(self
            .lock()
            .audit
            .values()
            .rev()
            .filter(|e| (query.since_millis..=query.until_millis).contains(&e.at_millis))
            .filter(|e| query.actor.as_ref().is_none_or(|a| &e.actor == a))
            .filter(|e| query.event_type.is_none_or(|t| e.event_type == t))
            .filter(|e| query.before.as_ref().is_none_or(|b| &e.event_id < b))
            .take(query.limit)
            .cloned()
            .collect())
    }

    async fn ledger_events(
        &self,
        since_millis: i64,
        until_millis: i64,
    ) -> Result<Vec<super::LedgerEvent>> {
        // The embedded store has no partitions: nothing is misplaced.
        Ok(self
            .lock()
            .audit
            .values()
            .filter(|e| (since_millis..=until_millis).contains(&crate::audit::ledger::id_time(e)))
            .map(|e| super::LedgerEvent {
                event: e.clone(),
                misplaced_in: None,
            })
            .collect())
    }
}

#[async_trait]
impl crate::store::CheckpointStore for MemoryStore {
    async fn latest_checkpoint(&self) -> Result<Option<crate::store::CheckpointRecord>> {
        Ok(self.lock().checkpoints.values().next_back().cloned())
    }

    async fn checkpoints(&self, from: i64, to: i64) -> Result<Vec<crate::store::CheckpointRecord>> {
        if from > to {
            return Ok(Vec::new());
        }
        Ok(self
            .lock()
            .checkpoints
            .range(from..=to)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn put_checkpoint(&self, record: crate::store::CheckpointRecord) -> Result<()> {
        let mut tables = self.lock();
        if tables.checkpoints.contains_key(&record.minute) {
            return Err(crate::Error::ConditionFailed);
        }
        tables.checkpoints.insert(record.minute, record);
        Ok(())
    }
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn update_tat(&self, key: &str, write: TatWrite, expires_at: i64) -> Result<TatOutcome> {
        let mut tables = self.lock();
        // No expiry filter needed: an expired state's TAT lies in the past,
        // which every condition treats like an absent one.
        let current = tables.rates.get(key).map(|(tat, _)| *tat);
        if !write.condition.holds(current) {
            return Ok(Err(current));
        }
        tables
            .rates
            .insert(key.to_owned(), (write.applied_to(current), expires_at));
        Ok(Ok(()))
    }
}
