//! The embedded store: every port in process memory, behind one mutex.
//!
//! Holding the lock across a whole transaction makes every
//! [`Transactions::transact`] atomic; conditions are all checked before any
//! write is applied, as DynamoDB does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{
    generation_key, AuditStore, Claim, RateLimitStore, RevocationKey, RevocationState,
    SessionRecord, SessionStore, TatCondition, Transactions, UserRecord, UserStore, WebhookStore,
    Write, STALE_CLAIM_SECS,
};
use crate::audit::AuditEvent;
use crate::{Error, Result};

#[derive(Debug, Default, Clone)]
struct Denied {
    /// Set on `user#` records only.
    generation: Option<u64>,
}

#[derive(Debug, Default)]
struct Tables {
    users: HashMap<String, UserRecord>,
    sessions: BTreeMap<(String, String), SessionRecord>,
    revoked: HashMap<String, Denied>,
    /// By event id (a ULID, so this is also time order).
    audit: BTreeMap<String, AuditEvent>,
    rates: HashMap<String, (i64, i64)>,
    deliveries: HashMap<String, Delivery>,
}

#[derive(Debug, Clone, Copy)]
struct Delivery {
    enqueued: bool,
    claimed_at: i64,
    expires_at: i64,
}

/// The embedded, in-process store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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

impl Tables {
    fn live_session(&self, user_id: &str, session_id: &str, now: i64) -> Option<&SessionRecord> {
        self.sessions
            .get(&(user_id.to_owned(), session_id.to_owned()))
            .filter(|s| s.expires_at > now)
    }

    fn revocation(&self, keys: &[String], user_id: &str) -> (Vec<bool>, u64) {
        let denied = keys.iter().map(|k| self.revoked.contains_key(k)).collect();
        let generation = self
            .revoked
            .get(&generation_key(user_id))
            .and_then(|d| d.generation)
            .unwrap_or(0);
        (denied, generation)
    }

    fn check(&self, write: &Write) -> bool {
        match write {
            Write::CreateUser(u) => {
                !self.users.contains_key(&u.username)
                    && !self.revoked.contains_key(&generation_key(&u.user_id))
            }
            Write::LoginSucceeded {
                username,
                expected_generation,
                ..
            } => self
                .users
                .get(username)
                .is_some_and(|u| u.generation == *expected_generation),
            Write::LoginFailed { username, .. } => self.users.contains_key(username),
            Write::RaiseGeneration {
                username,
                user_id,
                expected_generation,
                ..
            } => {
                self.users
                    .get(username)
                    .is_some_and(|u| u.generation == *expected_generation)
                    && self
                        .revoked
                        .get(&generation_key(user_id))
                        .is_some_and(|d| d.generation == Some(*expected_generation))
            }
            Write::PutSession(s) => !self
                .sessions
                .contains_key(&(s.user_id.clone(), s.session_id.clone())),
            Write::RotateRefresh {
                user_id,
                session_id,
                expected_refresh_hash,
                at,
                ..
            } => self
                .live_session(user_id, session_id, *at)
                .is_some_and(|s| &s.refresh_hash == expected_refresh_hash),
            Write::DeleteSession { .. } | Write::Deny { .. } => true,
            Write::Audit(e) => !self.audit.contains_key(&e.event_id),
            Write::DeliveryEnqueued { delivery_key } => self
                .deliveries
                .get(delivery_key)
                .is_some_and(|d| !d.enqueued),
        }
    }

    fn apply(&mut self, write: Write) {
        match write {
            Write::CreateUser(u) => {
                self.revoked.insert(
                    generation_key(&u.user_id),
                    Denied {
                        generation: Some(u.generation),
                    },
                );
                self.users.insert(u.username.clone(), u);
            }
            Write::LoginSucceeded {
                username,
                new_password_hash,
                ..
            } => {
                if let Some(u) = self.users.get_mut(&username) {
                    u.failed_logins = 0;
                    u.last_failed_at = None;
                    if let Some(h) = new_password_hash {
                        u.password_hash = h;
                    }
                }
            }
            Write::LoginFailed { username, at } => {
                if let Some(u) = self.users.get_mut(&username) {
                    u.failed_logins = u.failed_logins.saturating_add(1);
                    u.last_failed_at = Some(at);
                }
            }
            Write::RaiseGeneration {
                username,
                user_id,
                expected_generation,
                new_password_hash,
            } => {
                if let Some(u) = self.users.get_mut(&username) {
                    u.generation = expected_generation + 1;
                    if let Some(hash) = new_password_hash {
                        u.password_hash = hash;
                        u.failed_logins = 0;
                        u.last_failed_at = None;
                    }
                }
                if let Some(d) = self.revoked.get_mut(&generation_key(&user_id)) {
                    d.generation = Some(expected_generation + 1);
                }
            }
            Write::PutSession(s) => {
                self.sessions
                    .insert((s.user_id.clone(), s.session_id.clone()), s);
            }
            Write::RotateRefresh {
                user_id,
                session_id,
                new_refresh_hash,
                used_refresh_hashes,
                new_jti,
                at,
                expires_at,
                ..
            } => {
                if let Some(s) = self.sessions.get_mut(&(user_id, session_id)) {
                    s.refresh_hash = new_refresh_hash;
                    s.used_refresh_hashes = used_refresh_hashes;
                    s.current_jti = new_jti;
                    s.last_used_at = at;
                    s.expires_at = expires_at;
                }
            }
            Write::DeleteSession {
                user_id,
                session_id,
            } => {
                self.sessions.remove(&(user_id, session_id));
            }
            // The embedded store keeps denylist entries for the life of the
            // process: an entry blocks while it exists, whatever its TTL.
            Write::Deny { key, .. } => {
                self.revoked
                    .insert(key.storage_key(), Denied { generation: None });
            }
            Write::Audit(e) => {
                self.audit.insert(e.event_id.clone(), e);
            }
            Write::DeliveryEnqueued { delivery_key } => {
                if let Some(d) = self.deliveries.get_mut(&delivery_key) {
                    d.enqueued = true;
                }
            }
        }
    }
}

/// The identities of the items a write touches, as `table/key`.
fn item_ids(write: &Write) -> Vec<String> {
    match write {
        Write::CreateUser(u) => vec![
            format!("users/{}", u.username),
            format!("revoked/{}", generation_key(&u.user_id)),
        ],
        Write::LoginSucceeded { username, .. } | Write::LoginFailed { username, .. } => {
            vec![format!("users/{username}")]
        }
        Write::RaiseGeneration {
            username, user_id, ..
        } => vec![
            format!("users/{username}"),
            format!("revoked/{}", generation_key(user_id)),
        ],
        Write::PutSession(s) => vec![format!("sessions/{}/{}", s.user_id, s.session_id)],
        Write::RotateRefresh {
            user_id,
            session_id,
            ..
        }
        | Write::DeleteSession {
            user_id,
            session_id,
        } => vec![format!("sessions/{user_id}/{session_id}")],
        Write::Deny { key, .. } => vec![format!("revoked/{}", key.storage_key())],
        Write::Audit(e) => vec![format!("audit/{}", e.event_id)],
        Write::DeliveryEnqueued { delivery_key } => vec![format!("deliveries/{delivery_key}")],
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn get_user(&self, username: &str) -> Result<Option<UserRecord>> {
        Ok(self.lock().users.get(username).cloned())
    }

    async fn user_generation(&self, user_id: &str) -> Result<Option<(String, u64)>> {
        let tables = self.lock();
        let generation = tables
            .revoked
            .get(&generation_key(user_id))
            .and_then(|d| d.generation);
        let user = tables.users.values().find(|u| u.user_id == user_id);
        Ok(generation.zip(user).map(|(g, u)| (u.username.clone(), g)))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn session_with_revocation(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> Result<(Option<SessionRecord>, RevocationState)> {
        let tables = self.lock();
        let session = tables.live_session(user_id, session_id, now).cloned();
        let (denied, generation) = tables.revocation(
            &[RevocationKey::Session(session_id.to_owned()).storage_key()],
            user_id,
        );
        Ok((
            session,
            RevocationState {
                token_revoked: false,
                session_revoked: denied[0],
                generation,
            },
        ))
    }

    async fn list_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>> {
        Ok(self
            .lock()
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.expires_at > now)
            .cloned()
            .collect())
    }

    async fn revocation_state(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> Result<RevocationState> {
        let keys = [
            RevocationKey::Token(jti.to_owned()).storage_key(),
            RevocationKey::Session(session_id.to_owned()).storage_key(),
        ];
        let (denied, generation) = self.lock().revocation(&keys, user_id);
        Ok(RevocationState {
            token_revoked: denied[0],
            session_revoked: denied[1],
            generation,
        })
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
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn update_tat(
        &self,
        key: &str,
        condition: TatCondition,
        new_tat: i64,
        expires_at: i64,
    ) -> Result<std::result::Result<(), Option<i64>>> {
        let mut tables = self.lock();
        // No expiry filter needed: an expired state's TAT lies in the past,
        // which every condition treats like an absent one.
        let current = tables.rates.get(key).map(|(tat, _)| *tat);
        let holds = match condition {
            TatCondition::AbsentOrAtMost(limit) => current.is_none_or(|tat| tat <= limit),
            TatCondition::Equals(expected) => current == Some(expected),
        };
        if !holds {
            return Ok(Err(current));
        }
        tables.rates.insert(key.to_owned(), (new_tat, expires_at));
        Ok(Ok(()))
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn claim_delivery(&self, delivery_key: &str, now: i64, expires_at: i64) -> Result<Claim> {
        let mut tables = self.lock();
        match tables.deliveries.get(delivery_key) {
            Some(d) if d.expires_at > now && d.enqueued => return Ok(Claim::Delivered),
            Some(d) if d.expires_at > now && d.claimed_at > now - STALE_CLAIM_SECS => {
                return Ok(Claim::InFlight)
            }
            _ => {}
        }
        tables.deliveries.insert(
            delivery_key.to_owned(),
            Delivery {
                enqueued: false,
                claimed_at: now,
                expires_at,
            },
        );
        Ok(Claim::Claimed)
    }

    async fn release_delivery(&self, delivery_key: &str, claimed_at: i64) -> Result<()> {
        let mut tables = self.lock();
        if tables
            .deliveries
            .get(delivery_key)
            .is_some_and(|d| !d.enqueued && d.claimed_at == claimed_at)
        {
            tables.deliveries.remove(delivery_key);
        }
        Ok(())
    }
}

#[async_trait]
impl Transactions for MemoryStore {
    async fn transact(&self, writes: Vec<Write>) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        if !writes.iter().flat_map(item_ids).all(|id| seen.insert(id)) {
            // DynamoDB refuses such a transaction as invalid; so do we.
            return Err(Error::internal(
                "a transaction may write each item only once",
            ));
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
