//! The seed file of `warden serve --seed FILE`:
//! `{"users": [{"username": "...", "password": "...", "roles": ["admin"]}]}`.
//! `webhook_sources: [{"name", "scheme", "secrets": [...]}]` configures
//! `POST /webhooks/{source}`. Sections added by later features
//! (`workspaces`, `agents`, `api_keys`) are ignored until their feature
//! reads them.

use std::path::Path;

use secrecy::SecretString;
use serde::Deserialize;
use warden::audit::Origin;
use warden::auth::login::create_user;
use warden::domain::{Role, Username};
use warden::state::Accounts;
use warden::Error;

/// The operator named in the audit events the `warden` command writes.
pub const OPERATOR: &str = "local";

/// A parsed seed file.
#[derive(Debug, Deserialize)]
pub struct Seed {
    /// Users to create.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Webhook sources: `[{"name", "scheme", "secrets": [...]}]`.
    #[serde(default)]
    pub webhook_sources: Vec<warden::webhook::SourceConfig>,
}

/// One user of the seed file.
#[derive(Debug, Deserialize)]
pub struct SeedUser {
    /// The username.
    pub username: String,
    /// The password, hashed with argon2id on load.
    pub password: SecretString,
    /// Roles; `user` when empty.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Seed {
    /// Reads and parses `path`, naming the file in every error.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::BadRequest(format!("reading seed file {}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::BadRequest(format!("seed file {}: {e}", path.display())))
    }

    /// Creates every user. A user that already exists (a DynamoDB store
    /// seeded before) is left as it is, and reported.
    pub async fn apply(&self, accounts: &Accounts) -> Result<(), Error> {
        for user in &self.users {
            let username = Username::parse(&user.username)?;
            let roles = user
                .roles
                .iter()
                .map(|r| Role::parse(r))
                .collect::<Result<Vec<_>, _>>()?;
            match create_user(accounts, cli_origin(), &username, &user.password, &roles).await {
                Ok(u) => println!("seeded user {} ({})", u.username, u.user_id),
                Err(Error::Conflict(_)) => {
                    println!("user {} already exists; left unchanged", user.username)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The origin of audit events written by the `warden` command.
pub fn cli_origin() -> Origin {
    Origin::Cli {
        operator: OPERATOR.into(),
    }
}
