//! The leaf types every other module uses: roles, usernames parsed at the
//! boundary, and the records the store keeps. Nothing here imports another
//! Warden module, so the store, the auth rules and the handlers can all
//! depend on it without depending on each other.

pub mod agents;
pub mod tools;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The longest username accepted, in characters.
pub const MAX_USERNAME_CHARS: usize = 128;

/// A role a user holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An ordinary user.
    User,
    /// May approve or reject agent proposals.
    Approver,
    /// May do anything, including acting on other users' tokens.
    Admin,
}

impl Role {
    /// The role's name as it appears in tokens and the seed file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "user" => Ok(Role::User),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            other => Err(Error::BadRequest(format!(
                "unknown role {other:?}; expected user, approver or admin"
            ))),
        }
    }
}

/// A username as stored: trimmed, lowercased, 1 to
/// [`MAX_USERNAME_CHARS`] characters, no control characters. Usernames are
/// matched case-insensitively because they are stored this way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Parses what a client or an operator typed.
    pub fn parse(raw: &str) -> Result<Self> {
        let name = raw.trim().to_lowercase();
        if name.is_empty() || name.chars().count() > MAX_USERNAME_CHARS {
            return Err(Error::BadRequest(format!(
                "username must be 1 to {MAX_USERNAME_CHARS} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::BadRequest(
                "username must not contain control characters".into(),
            ));
        }
        Ok(Self(name))
    }

    /// A username read back from the store, where it was stored parsed.
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user account, keyed by its username. Not `Serialize`: it holds the
/// password hash, and nothing should turn it into a response or a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The table key.
    pub username: Username,
    /// Stable id (ULID); the `sub` of the user's tokens.
    pub user_id: String,
    /// PHC string (argon2id, or a legacy bcrypt hash until the next login).
    pub password_hash: String,
    /// Roles carried into tokens.
    pub roles: Vec<Role>,
    /// A disabled user cannot log in, and its tokens died when it was
    /// disabled (the same write raised its generation).
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

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// Consecutive failed logins for a username that has no account. They are
/// counted like a real account's, so that the answers never tell which
/// usernames exist (see [`crate::auth::login`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureCount {
    /// Consecutive failures.
    pub failures: u32,
    /// When the last one happened (epoch seconds).
    pub last_failed_at: Option<i64>,
}

/// A live login session (ActiveTokens): the refresh token's hash and the
/// facts shown by `GET /auth/sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// What the denylist says about one token or session, read in one round
/// trip. The rules that judge it live in [`crate::auth::revocation`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationState {
    /// The token's `jti` is denied.
    pub token_revoked: bool,
    /// The token's session is denied.
    pub session_revoked: bool,
    /// The user's `user#` record exists (it is written with the user and
    /// goes with it).
    pub user_exists: bool,
    /// The user's current generation (0 when never raised).
    pub generation: u64,
    /// The user's name, as its `user#` record holds it.
    pub username: Option<String>,
    /// The workspaces the user is a member of (its `user#` record's
    /// `workspaces`), sorted.
    pub workspaces: Vec<agents::WorkspaceId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_lowercased_and_bounded() {
        assert_eq!(Username::parse("  Alice ").unwrap().as_str(), "alice");
        assert!(Username::parse("").is_err());
        assert!(Username::parse(&"a".repeat(129)).is_err());
        assert!(Username::parse(&"a".repeat(128)).is_ok());
        assert!(Username::parse("a\u{0}b").is_err());
    }

    #[test]
    fn roles_parse_case_insensitively_and_refuse_unknown_names() {
        assert_eq!(Role::parse(" Admin ").unwrap(), Role::Admin);
        assert!(Role::parse("root").is_err());
    }
}
