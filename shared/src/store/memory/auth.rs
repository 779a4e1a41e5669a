//! Users, sessions and the denylist in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;

use super::MemoryStore;
use crate::Result;
use crate::auth::signing::KeySet;
use crate::domain::agents::WorkspaceId;
use crate::domain::{FailureCount, RevocationState, SessionRecord, UserRecord, Username};
use crate::store::auth::{
    AccountChange, AuthWrite, DelegationLookup, DelegationState, SessionStore, TokenLookup,
    UserStore,
};
use crate::store::keys;

/// A RevokedTokens entry.
#[derive(Debug, Clone)]
enum Revoked {
    /// A `jti#` or `sid#` denylist entry. The embedded store keeps them for
    /// the life of the process: an entry blocks while it exists, whatever
    /// its TTL.
    Denied,
    /// A `user#` record.
    Generation {
        username: Username,
        generation: u64,
        workspaces: BTreeSet<WorkspaceId>,
    },
}

#[derive(Debug, Default)]
pub(super) struct AuthTables {
    users: HashMap<Username, UserRecord>,
    sessions: BTreeMap<(String, String), SessionRecord>,
    revoked: HashMap<String, Revoked>,
    /// Failed logins of usernames with no account, with their expiry.
    unknown_failures: HashMap<Username, (FailureCount, i64)>,
    /// Key set items, by name.
    key_sets: HashMap<String, KeySet>,
}

impl AuthTables {
    fn live_session(&self, user_id: &str, session_id: &str, now: i64) -> Option<&SessionRecord> {
        self.sessions
            .get(&(user_id.to_owned(), session_id.to_owned()))
            .filter(|s| s.expires_at > now)
    }

    fn generation_record(&self, user_id: &str) -> Option<(&Username, u64)> {
        self.generation_at(&keys::generation(user_id))
    }

    /// The generation record stored under `key` (a [`keys::generation`] key).
    fn generation_at(&self, key: &str) -> Option<(&Username, u64)> {
        match self.revoked.get(key) {
            Some(Revoked::Generation {
                username,
                generation,
                ..
            }) => Some((username, *generation)),
            _ => None,
        }
    }

    fn revocation(&self, token: Option<&str>, session_id: &str, user_id: &str) -> RevocationState {
        // One key buffer for the three lookups of every authenticated request.
        let mut key = String::with_capacity(64);
        let mut denied = |prefix, id| {
            self.revoked
                .contains_key(keys::key_in(&mut key, prefix, id))
        };
        let token_revoked = token.is_some_and(|jti| denied(keys::TOKEN_PREFIX, jti));
        let session_revoked = denied(keys::SESSION_PREFIX, session_id);
        match self
            .revoked
            .get(keys::key_in(&mut key, keys::GENERATION_PREFIX, user_id))
        {
            Some(Revoked::Generation {
                username,
                generation,
                workspaces,
            }) => RevocationState {
                token_revoked,
                session_revoked,
                user_exists: true,
                generation: *generation,
                username: Some(username.as_str().to_owned()),
                workspaces: workspaces.iter().cloned().collect(),
            },
            _ => RevocationState {
                token_revoked,
                session_revoked,
                ..RevocationState::default()
            },
        }
    }

    /// [`AuthTables::revocation`] of one token, its parent's `jti` counted
    /// as its own.
    pub(super) fn token_revocation(&self, token: &TokenLookup<'_>) -> RevocationState {
        let mut state = self.revocation(Some(token.jti), token.session_id, token.user_id);
        if let Some(parent) = token.parent_jti {
            let mut key = String::new();
            state.token_revoked |=
                self.revoked
                    .contains_key(keys::key_in(&mut key, keys::TOKEN_PREFIX, parent));
        }
        state
    }

    fn user_at(&self, username: &Username, generation: u64) -> bool {
        self.users
            .get(username)
            .is_some_and(|u| u.generation == generation)
    }

    pub(super) fn item_ids(write: &AuthWrite) -> Vec<String> {
        match write {
            AuthWrite::CreateUser(u) => vec![
                format!("users/{}", u.username),
                format!("revoked/{}", keys::generation(&u.user_id)),
            ],
            AuthWrite::LoginSucceeded { username, .. }
            | AuthWrite::LoginFailed { username, .. }
            | AuthWrite::EnableUser { username } => vec![format!("users/{username}")],
            AuthWrite::SetMembership { user_id, .. } => {
                vec![format!("revoked/{}", keys::generation(user_id))]
            }
            AuthWrite::UnknownLoginFailed { username, .. } => {
                vec![format!("rates/{}", keys::unknown_user_failures(username))]
            }
            AuthWrite::RaiseGeneration {
                username, user_id, ..
            } => vec![
                format!("users/{username}"),
                format!("revoked/{}", keys::generation(user_id)),
            ],
            AuthWrite::PutSession(s) => vec![format!("sessions/{}/{}", s.user_id, s.session_id)],
            AuthWrite::RotateRefresh {
                user_id,
                session_id,
                ..
            }
            | AuthWrite::DeleteSession {
                user_id,
                session_id,
            } => vec![format!("sessions/{user_id}/{session_id}")],
            AuthWrite::Deny { key, .. } => vec![format!("revoked/{}", key.storage_key())],
            AuthWrite::PutKeySet { name, .. } => vec![format!("revoked/{}", keys::key_set(name))],
        }
    }

    pub(super) fn check(&self, write: &AuthWrite) -> bool {
        match write {
            AuthWrite::CreateUser(u) => {
                !self.users.contains_key(&u.username)
                    && !self.revoked.contains_key(&keys::generation(&u.user_id))
            }
            AuthWrite::LoginSucceeded {
                username,
                expected_generation,
                ..
            } => self.user_at(username, *expected_generation),
            AuthWrite::LoginFailed { username, .. } | AuthWrite::EnableUser { username } => {
                self.users.contains_key(username)
            }
            AuthWrite::SetMembership { user_id, .. } => self.generation_record(user_id).is_some(),
            AuthWrite::RaiseGeneration {
                username,
                user_id,
                expected_generation,
                ..
            } => {
                self.user_at(username, *expected_generation)
                    && self
                        .generation_record(user_id)
                        .is_some_and(|(_, g)| g == *expected_generation)
            }
            AuthWrite::PutSession(s) => !self
                .sessions
                .contains_key(&(s.user_id.clone(), s.session_id.clone())),
            AuthWrite::RotateRefresh {
                user_id,
                session_id,
                expected_refresh_hash,
                at,
                ..
            } => self
                .live_session(user_id, session_id, *at)
                .is_some_and(|s| &s.refresh_hash == expected_refresh_hash),
            AuthWrite::PutKeySet { name, set } => {
                self.key_sets.get(name).map(|stored| stored.version)
                    == set.version.checked_sub(1).filter(|&v| v > 0)
            }
            AuthWrite::UnknownLoginFailed { .. }
            | AuthWrite::DeleteSession { .. }
            | AuthWrite::Deny { .. } => true,
        }
    }

    pub(super) fn apply(&mut self, write: AuthWrite) {
        match write {
            AuthWrite::CreateUser(u) => {
                self.revoked.insert(
                    keys::generation(&u.user_id),
                    Revoked::Generation {
                        username: u.username.clone(),
                        generation: u.generation,
                        workspaces: BTreeSet::new(),
                    },
                );
                self.users.insert(u.username.clone(), u);
            }
            AuthWrite::LoginSucceeded {
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
            AuthWrite::LoginFailed { username, at } => {
                if let Some(u) = self.users.get_mut(&username) {
                    u.failed_logins = u.failed_logins.saturating_add(1);
                    u.last_failed_at = Some(at);
                }
            }
            AuthWrite::UnknownLoginFailed {
                username,
                at,
                expires_at,
                first,
            } => {
                let entry = self
                    .unknown_failures
                    .entry(username)
                    .or_insert((FailureCount::default(), expires_at));
                entry.0.failures = if first {
                    1
                } else {
                    entry.0.failures.saturating_add(1)
                };
                entry.0.last_failed_at = Some(at);
                entry.1 = expires_at;
            }
            AuthWrite::RaiseGeneration {
                username,
                user_id,
                expected_generation,
                change,
            } => {
                let next = expected_generation + 1;
                if let Some(u) = self.users.get_mut(&username) {
                    u.generation = next;
                    match change {
                        AccountChange::None => {}
                        AccountChange::Password(hash) => {
                            u.password_hash = hash;
                            u.failed_logins = 0;
                            u.last_failed_at = None;
                        }
                        AccountChange::Disable => u.disabled = true,
                        AccountChange::Roles(roles) => u.roles = roles,
                    }
                }
                if let Some(Revoked::Generation { generation, .. }) =
                    self.revoked.get_mut(&keys::generation(&user_id))
                {
                    *generation = next;
                }
            }
            AuthWrite::EnableUser { username } => {
                if let Some(u) = self.users.get_mut(&username) {
                    u.disabled = false;
                }
            }
            AuthWrite::SetMembership {
                user_id,
                workspace_id,
                member,
            } => {
                if let Some(Revoked::Generation { workspaces, .. }) =
                    self.revoked.get_mut(&keys::generation(&user_id))
                {
                    if member {
                        workspaces.insert(workspace_id);
                    } else {
                        workspaces.remove(&workspace_id);
                    }
                }
            }
            AuthWrite::PutSession(s) => {
                self.sessions
                    .insert((s.user_id.clone(), s.session_id.clone()), s);
            }
            AuthWrite::RotateRefresh {
                user_id,
                session_id,
                new_refresh_hash,
                used_refresh_hashes,
                at,
                expires_at,
                ..
            } => {
                if let Some(s) = self.sessions.get_mut(&(user_id, session_id)) {
                    s.refresh_hash = new_refresh_hash;
                    s.used_refresh_hashes = used_refresh_hashes;
                    s.last_used_at = at;
                    s.expires_at = expires_at;
                }
            }
            AuthWrite::DeleteSession {
                user_id,
                session_id,
            } => {
                self.sessions.remove(&(user_id, session_id));
            }
            AuthWrite::Deny { key, .. } => {
                self.revoked.insert(key.storage_key(), Revoked::Denied);
            }
            AuthWrite::PutKeySet { name, set } => {
                self.key_sets.insert(name, set);
            }
        }
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn get_user(&self, username: &Username) -> Result<Option<UserRecord>> {
        Ok(self.lock().auth.users.get(username).cloned())
    }

    async fn user_for_login(
        &self,
        username: &Username,
        now: i64,
    ) -> Result<(Option<UserRecord>, FailureCount)> {
        let tables = self.lock();
        let failures = tables
            .auth
            .unknown_failures
            .get(username)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(count, _)| *count)
            .unwrap_or_default();
        Ok((tables.auth.users.get(username).cloned(), failures))
    }

    async fn user_generation(&self, user_id: &str) -> Result<Option<(Username, u64)>> {
        Ok(self
            .lock()
            .auth
            .generation_record(user_id)
            .map(|(username, generation)| (username.clone(), generation)))
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let mut users: Vec<UserRecord> = self.lock().auth.users.values().cloned().collect();
        users.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
        Ok(users)
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
        let session = tables.auth.live_session(user_id, session_id, now).cloned();
        Ok((session, tables.auth.revocation(None, session_id, user_id)))
    }

    async fn list_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>> {
        Ok(self
            .lock()
            .auth
            .sessions
            .range((user_id.to_owned(), String::new())..)
            .take_while(|((owner, _), _)| owner == user_id)
            .map(|(_, s)| s)
            .filter(|s| s.expires_at > now)
            .cloned()
            .collect())
    }

    async fn revocation_state(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> Result<RevocationState> {
        Ok(self.lock().auth.revocation(Some(jti), session_id, user_id))
    }

    async fn delegation_state(&self, lookup: DelegationLookup<'_>) -> Result<DelegationState> {
        let tables = self.lock();
        Ok(DelegationState {
            revocation: tables.auth.token_revocation(&lookup.token),
            key: tables.api_keys.key(lookup.key_id).cloned(),
            agent: tables.agents.agent(lookup.agent_id).cloned(),
        })
    }

    async fn key_set(&self, name: &str) -> Result<Option<KeySet>> {
        Ok(self.lock().auth.key_sets.get(name).cloned())
    }
}
