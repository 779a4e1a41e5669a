//! The auth port: users, login sessions (ActiveTokens) and the denylist
//! (RevokedTokens). What the records mean, and which of them refuse a
//! token, is decided in [`crate::auth::revocation`]; this port only reads
//! and writes them.

use async_trait::async_trait;

use super::keys::RevocationKey;
use crate::Result;
use crate::auth::signing::KeySet;
use crate::domain::agents::{AgentId, AgentRecord, ApiKeyRecord};
use crate::domain::{FailureCount, RevocationState, Role, SessionRecord, UserRecord, Username};

/// The denylist items of one access token: its `jti`, its parent's (a
/// delegated token's subject token), its session and its user's `user#`
/// record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLookup<'a> {
    /// The token's `jti`.
    pub jti: &'a str,
    /// A delegated token's `parent_jti`.
    pub parent_jti: Option<&'a str>,
    /// The token's `sid`.
    pub session_id: &'a str,
    /// The token's `sub`.
    pub user_id: &'a str,
}

/// What the check of a delegated token (RFC 8693) reads, in one round trip:
/// its denylist items, its actor key and its agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelegationLookup<'a> {
    /// The token's denylist items.
    pub token: TokenLookup<'a>,
    /// The API key the agent exchanged (`act.key_id`).
    pub key_id: &'a str,
    /// The agent (`act.sub` without `agent:`).
    pub agent_id: &'a AgentId,
}

/// What one read said about a delegated token, or about the two tokens of
/// an exchange.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DelegationState {
    /// The denylist state; `token_revoked` when the token's `jti` or its
    /// parent's is denied.
    pub revocation: RevocationState,
    /// The actor key, if it exists.
    pub key: Option<ApiKeyRecord>,
    /// The agent, if it exists.
    pub agent: Option<AgentRecord>,
}

/// What a generation rise does besides killing every token issued before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// Nothing else: revoke-all.
    None,
    /// Stores a new password hash and resets the failure counter.
    Password(String),
    /// Disables the account.
    Disable,
    /// Replaces the user's roles (tokens carry the roles they were issued
    /// with, so the old ones die with the rise).
    Roles(Vec<Role>),
}

/// An auth state change, applied inside [`super::Transactions::transact`].
/// Each has a condition, and one failed condition cancels the whole
/// transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthWrite {
    /// Creates a user and its generation record. Condition: the username
    /// and the user id are free.
    CreateUser(UserRecord),
    /// A successful login: resets the failure counter and, when given,
    /// replaces the password hash. Condition: the user exists with this
    /// generation (a concurrent revoke-all cancels the login).
    LoginSucceeded {
        /// The user.
        username: Username,
        /// The generation the login read.
        expected_generation: u64,
        /// A fresh hash to store (re-hash on login).
        new_password_hash: Option<String>,
    },
    /// A failed login of an existing user: increments its failure counter
    /// atomically. Condition: the user exists.
    LoginFailed {
        /// The user.
        username: Username,
        /// Epoch seconds.
        at: i64,
    },
    /// A failed login of a username with no account: increments the
    /// counter kept for that name (no user is created). No condition.
    UnknownLoginFailed {
        /// The name tried.
        username: Username,
        /// Epoch seconds.
        at: i64,
        /// When the counter may be forgotten (epoch seconds).
        expires_at: i64,
        /// The read found no live counter: start again at one rather than
        /// add to an expired count that DynamoDB has not deleted yet.
        first: bool,
    },
    /// Raises a user's revocation generation by one, on the user and on its
    /// `user#` record, so every token issued before stops working at once,
    /// together with `change`. Condition: both records stand at
    /// `expected_generation` (a concurrent raise cancels this one).
    RaiseGeneration {
        /// The Users key.
        username: Username,
        /// The `user#` key.
        user_id: String,
        /// The generation read before.
        expected_generation: u64,
        /// What else changes in the same write.
        change: AccountChange,
    },
    /// Makes a user a member of a workspace, or no longer one, on its
    /// `user#` record (read with every bearer check, so it counts from the
    /// next request). Condition: the record exists.
    SetMembership {
        /// The user.
        user_id: String,
        /// The workspace.
        workspace_id: crate::domain::agents::WorkspaceId,
        /// Added (`true`) or removed.
        member: bool,
    },
    /// Enables a disabled user. Condition: the user exists.
    EnableUser {
        /// The user.
        username: Username,
    },
    /// Creates a session. Condition: the session id is free.
    PutSession(SessionRecord),
    /// Exchanges a session's refresh token. Condition: the session exists,
    /// is unexpired at `at`, and its current refresh hash is
    /// `expected_refresh_hash`.
    RotateRefresh {
        /// The owner.
        user_id: String,
        /// The session.
        session_id: String,
        /// The hash the caller presented.
        expected_refresh_hash: String,
        /// The new refresh token's hash.
        new_refresh_hash: String,
        /// The new list of used hashes.
        used_refresh_hashes: Vec<String>,
        /// Epoch seconds.
        at: i64,
        /// The session's new expiry (epoch seconds).
        expires_at: i64,
    },
    /// Deletes a session (no condition: deleting a gone session is fine).
    DeleteSession {
        /// The owner.
        user_id: String,
        /// The session.
        session_id: String,
    },
    /// Writes the key set item `name` (API.md "The key set"). Condition:
    /// the stored item is at `set.version - 1` (absent for version 1): two
    /// operators' changes never overwrite each other.
    PutKeySet {
        /// The key set's name ([`crate::auth::signing::ACCESS_KEY_SET`]).
        name: String,
        /// The whole new item.
        set: KeySet,
    },
    /// Adds a denylist entry that lives until `expires_at`, the expiry of
    /// the last token it blocks. No condition.
    Deny {
        /// What is revoked.
        key: RevocationKey,
        /// Epoch seconds.
        expires_at: i64,
    },
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user, read consistently.
    async fn get_user(&self, username: &Username) -> Result<Option<UserRecord>>;

    /// What a login needs about `username` in one consistent read: the user,
    /// and the failure counter kept for the name when it has no account.
    async fn user_for_login(
        &self,
        username: &Username,
        now: i64,
    ) -> Result<(Option<UserRecord>, FailureCount)>;

    /// The username and current generation of the user with this id, read
    /// consistently from its `user#` record.
    async fn user_generation(&self, user_id: &str) -> Result<Option<(Username, u64)>>;

    /// Every user, in username order (an operator's listing: a full read
    /// of the Users table).
    async fn list_users(&self) -> Result<Vec<UserRecord>>;
}

/// Login sessions and the denylist.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// One live session with the denylist state of its `sid` and its user's
    /// `user#` record, in one consistent read. A denylist entry counts while
    /// it exists, even past its TTL.
    async fn session_with_revocation(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> Result<(Option<SessionRecord>, RevocationState)>;

    /// The user's unexpired sessions.
    async fn list_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>>;

    /// The key set item `name`, read consistently; `None` when it was never
    /// written. (It lives beside the denylist, which every function that
    /// checks tokens already reads.)
    async fn key_set(&self, name: &str) -> Result<Option<KeySet>>;

    /// The denylist state of one access token: its `jti`, its `sid` and its
    /// user's `user#` record, in one consistent read (one BatchGetItem).
    async fn revocation_state(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> Result<RevocationState>;

    /// Everything that decides whether a delegated token stands, in one
    /// consistent read (one BatchGetItem across the RevokedTokens, ApiKeys
    /// and Agents tables): the token's and its parent's `jti`, its session,
    /// its user's `user#` record, the actor key and the agent.
    async fn delegation_state(&self, lookup: DelegationLookup<'_>) -> Result<DelegationState>;
}
