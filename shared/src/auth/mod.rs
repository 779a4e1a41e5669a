//! Authentication: password hashing, JWT access tokens, login sessions with
//! rotating refresh tokens, and revocation.

pub mod jwt;
pub mod login;
pub mod password;
pub mod revocation;
pub mod tokens;

use serde::{Deserialize, Serialize};

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
    pub fn parse(s: &str) -> crate::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "user" => Ok(Role::User),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            other => Err(crate::Error::BadRequest(format!(
                "unknown role {other:?}; expected user, approver or admin"
            ))),
        }
    }
}
