//! The storage ports and their two adapters.
//!
//! The traits are narrow and speak the domain's language; [`Write`] lists
//! every state change, and [`Transactions::transact`] applies a list of them
//! all or nothing, which is how an action and its audit record always land
//! together. Both adapters give the same semantics, pinned by one
//! conformance suite (`shared/tests/store_conformance.rs`):
//!
//! - [`dynamo::DynamoStore`]: DynamoDB through the AWS SDK.
//! - [`memory::MemoryStore`]: embedded, in-process; the default of
//!   `warden serve` and of fast unit tests.
//!
//! Items carry an `expires_at` (epoch seconds). DynamoDB deletes expired
//! items days late (and emulators never), so reads take `now` and treat
//! sessions with `expires_at <= now` as absent. Denylist entries are the
//! exception: one that exists blocks, whatever its TTL says, because its job
//! is to outlive the token it blocks; the token's own expiry ends it.

pub mod dynamo;
pub mod memory;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::audit::AuditEvent;
use crate::auth::Role;
use crate::Result;

/// A user account, keyed by its lowercased username.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Lowercased username; the table key.
    pub username: String,
    /// Stable id (ULID); the `sub` of the user's tokens.
    pub user_id: String,
    /// PHC string (argon2id, or a legacy bcrypt hash until the next login).
    pub password_hash: String,
    /// Roles carried into tokens.
    pub roles: Vec<Role>,
    /// A disabled user cannot log in.
    pub disabled: bool,
    /// Consecutive failed logins since the last success.
    pub failed_logins: u32,
    /// When the last failure happened (epoch seconds).
    pub last_failed_at: Option<i64>,
    /// The revocation generation; tokens carry it in `gen`.
    pub generation: u64,
    /// When the user was created (epoch seconds).
    pub created_at: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("username", &self.username)
            .field("user_id", &self.user_id)
            .field("password_hash", &"[redacted]")
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .field("failed_logins", &self.failed_logins)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// A live login session (ActiveTokens): the refresh token's hash and the
/// facts shown by `GET /auth/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The owner.
    pub user_id: String,
    /// The session id (ULID); the `sid` of its access tokens.
    pub session_id: String,
    /// SHA-256 (hex) of the current refresh token.
    pub refresh_hash: String,
    /// Hashes of refresh tokens already exchanged, newest last; presenting
    /// one of them again is reuse.
    pub used_refresh_hashes: Vec<String>,
    /// The `jti` of the newest access token.
    pub current_jti: String,
    /// The user's generation when the session was created.
    pub generation: u64,
    /// Roles carried into the session's tokens.
    pub roles: Vec<Role>,
    /// Client IP at login.
    pub ip: String,
    /// Client user agent at login.
    pub user_agent: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds of the last refresh.
    pub last_used_at: i64,
    /// Epoch seconds; the refresh token's expiry.
    pub expires_at: i64,
}

/// A RevokedTokens denylist key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RevocationKey {
    /// One access token, by `jti`.
    Token(String),
    /// Every token of one login session, by `sid`.
    Session(String),
}

impl RevocationKey {
    /// The stored key: `jti#<id>` or `sid#<id>`.
    pub fn storage_key(&self) -> String {
        match self {
            RevocationKey::Token(jti) => format!("jti#{jti}"),
            RevocationKey::Session(sid) => format!("sid#{sid}"),
        }
    }
}

/// The storage key of a user's generation record: `user#<id>`.
pub fn generation_key(user_id: &str) -> String {
    format!("user#{user_id}")
}

/// What the denylist says about one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RevocationState {
    /// The token's `jti` is revoked.
    pub token_revoked: bool,
    /// The token's session is revoked.
    pub session_revoked: bool,
    /// The user's current generation (0 when never raised).
    pub generation: u64,
}

impl RevocationState {
    /// Whether this state refuses a token with `jti`/`sid` as read and
    /// issued under `generation`: its id or session is denied, or the
    /// user's generation has risen past it.
    pub fn blocks(&self, generation: u64) -> bool {
        self.token_revoked || self.session_revoked || generation < self.generation
    }
}

/// The condition of a rate-limit state update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TatCondition {
    /// The key has no state, or its theoretical arrival time is at most this.
    AbsentOrAtMost(i64),
    /// The key's theoretical arrival time is exactly this.
    Equals(i64),
}

/// A state change. [`Transactions::transact`] applies a list of them all or
/// nothing; each has a condition, and one failed condition cancels all.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Creates a user and its generation record. Condition: the username is free.
    CreateUser(UserRecord),
    /// A successful login: resets the failure counter and, when given,
    /// replaces the password hash. Condition: the user exists with this
    /// generation (a concurrent revoke-all cancels the login).
    LoginSucceeded {
        /// The user.
        username: String,
        /// The generation the login read.
        expected_generation: u64,
        /// A fresh hash to store (re-hash on login).
        new_password_hash: Option<String>,
    },
    /// A failed login: increments the failure counter atomically.
    /// Condition: the user exists.
    LoginFailed {
        /// The user.
        username: String,
        /// Epoch seconds.
        at: i64,
    },
    /// Raises a user's revocation generation by one, on the user and on its
    /// `user#` record, so every token issued before stops working at once;
    /// with a new password hash it is a password change (and resets the
    /// failure counter). Condition: both records stand at
    /// `expected_generation` (a concurrent raise cancels this one).
    RaiseGeneration {
        /// The user's (lowercased) name: the Users key.
        username: String,
        /// The user's id: the `user#` key.
        user_id: String,
        /// The generation read before.
        expected_generation: u64,
        /// A new password hash to store in the same write.
        new_password_hash: Option<String>,
    },
    /// Creates a session. Condition: the session id is free.
    PutSession(SessionRecord),
    /// Exchanges a session's refresh token. Condition: the session exists
    /// and its current refresh hash is `expected_refresh_hash`.
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
        /// The new access token's `jti`.
        new_jti: String,
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
    /// Adds a denylist entry that lives until `expires_at`, the expiry of the
    /// last token it blocks.
    Deny {
        /// What is revoked.
        key: RevocationKey,
        /// Epoch seconds.
        expires_at: i64,
    },
    /// Marks a claimed webhook delivery as enqueued. Condition: it is
    /// claimed (pending).
    DeliveryEnqueued {
        /// `<source>#<delivery id>`.
        delivery_key: String,
    },
    /// Appends an audit event. Condition: its id is new.
    Audit(AuditEvent),
}

/// What claiming a webhook delivery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The delivery is new (or its earlier claim went stale): it is ours.
    Claimed,
    /// The delivery was enqueued before: a duplicate.
    Delivered,
    /// Another request holds a fresh claim and may still fail: try later.
    InFlight,
}

/// How long a pending claim blocks others before it counts as abandoned
/// (far longer than a function's timeout).
pub const STALE_CLAIM_SECS: i64 = 60;

/// Webhook deliveries: the dedupe record of every accepted delivery.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Claims `delivery_key` at `now` (epoch seconds) with a pending record
    /// that expires at `expires_at`. One conditional write.
    async fn claim_delivery(&self, delivery_key: &str, now: i64, expires_at: i64) -> Result<Claim>;

    /// Deletes our pending claim (made at `claimed_at`) so the provider's
    /// retry is accepted; an enqueued record or someone else's claim stays.
    async fn release_delivery(&self, delivery_key: &str, claimed_at: i64) -> Result<()>;
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user named `username` (lowercased), read consistently.
    async fn get_user(&self, username: &str) -> Result<Option<UserRecord>>;

    /// The username and current generation of the user with this id, read
    /// consistently from its `user#` record.
    async fn user_generation(&self, user_id: &str) -> Result<Option<(String, u64)>>;
}

/// Login sessions (ActiveTokens) and the denylist (RevokedTokens).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// One live session, with the denylist state of its `sid` and its user's
    /// generation, in one consistent read. A denylist entry counts while it
    /// exists, even past its TTL. A denylist entry counts while it
    /// exists, even past its TTL.
    async fn session_with_revocation(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> Result<(Option<SessionRecord>, RevocationState)>;

    /// The user's live sessions.
    async fn list_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>>;

    /// The denylist state of one access token: its `jti`, its `sid` and its
    /// user's generation, in one consistent read (one BatchGetItem). An
    /// entry counts while it exists, even past its TTL.
    async fn revocation_state(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> Result<RevocationState>;
}

/// The audit log, for reading back (writes go through [`Transactions`]).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The newest events whose actor is `actor`, newest first.
    async fn audit_by_actor(&self, actor: &str, limit: usize) -> Result<Vec<AuditEvent>>;
}

/// GCRA state per limited key.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Sets the key's theoretical arrival time (ms) to `new_tat` if
    /// `condition` holds. On a failed condition, returns the current value
    /// (`None` when the key has no live state).
    async fn update_tat(
        &self,
        key: &str,
        condition: TatCondition,
        new_tat: i64,
        expires_at: i64,
    ) -> Result<std::result::Result<(), Option<i64>>>;
}

/// Atomic multi-item writes.
#[async_trait]
pub trait Transactions: Send + Sync {
    /// Applies every write or none. A failed condition is
    /// [`crate::Error::ConditionFailed`]; a store failure is
    /// [`crate::Error::Unavailable`].
    async fn transact(&self, writes: Vec<Write>) -> Result<()>;
}

/// Every port together; what the handlers hold.
pub trait Store:
    UserStore + SessionStore + AuditStore + RateLimitStore + WebhookStore + Transactions
{
}

impl<T: UserStore + SessionStore + AuditStore + RateLimitStore + WebhookStore + Transactions> Store
    for T
{
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn Store")
    }
}

/// A shared handle to a store.
pub type SharedStore = Arc<dyn Store>;
