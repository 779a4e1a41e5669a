//! The seed file of `warden serve --seed FILE`:
//! `{"users": [{"username": "...", "password": "...", "roles": ["admin"]}]}`.
//! `webhook_sources: [{"name", "scheme", "secrets": [...]}]` configures
//! `POST /webhooks/{source}`.
//! `workspaces: [{"workspace_id", "name", "members": ["username", ...]}]`
//! (members are users of the seed or already stored),
//! `agents: [{"agent_id", "agent_type", "maturity", "workspaces": [...], "enabled": true}]`,
//! `tools: [{"name", "complexity", "workspaces": [...]}]` (the tools agents
//! may call, `complexity` 1 to 4)
//! and (development only)
//! `api_keys: [{"key", "owner", "scopes": [...], "expires_at"?, "rate_limit_per_hour"?, "for"?}]`
//! fill the agent registry; `key` is a whole key `wdn_<key id>_<secret>`,
//! `expires_at` RFC 3339, `for` the username of the person an agent's key
//! is for (who then cannot approve what it asks for).
//!
//! They are applied in that order: users, then workspaces (with their
//! members), then agents and tools (which name workspaces), then API keys
//! (which name agents). An item that already exists is left unchanged.
//!
//! The file is strict: a key it does not define, at the top level or in
//! any entry, refuses it, naming the key and where it is
//! (`unknown field "user" at the top level; expected one of users, ...`).
//! Users' passwords must meet the password policy
//! ([`warden::auth::password_policy`]), checked for every user before
//! anything is written.

use std::path::Path;

use secrecy::SecretString;
use serde::Deserialize;
use warden::Error;
use warden::agents::registry::{self, NewAgent, NewTool};
use warden::audit::Origin;
use warden::auth::api_keys::{KeySpec, store_key};
use warden::auth::login::create_user;
use warden::auth::password_policy;
use warden::config::Environment;
use warden::domain::agents::{AgentId, AgentType, KeyOwner, Maturity, WorkspaceId};
use warden::domain::tools::{ToolName, complexity_of_level};
use warden::domain::{Role, Username};
use warden::state::{Accounts, Registry};

use crate::serve::States;

/// The operator named in the audit events of `warden serve`'s seeding and
/// of the commands run against a local endpoint (`--endpoint`); elsewhere
/// the operator is the AWS caller identity ([`crate::admin::operator`]).
pub const OPERATOR: &str = "local";

/// A parsed seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Users to create.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Webhook sources: `[{"name", "scheme", "secrets": [...]}]`.
    #[serde(default)]
    pub webhook_sources: Vec<warden::webhook::SourceConfig>,
    /// Workspaces to add.
    #[serde(default)]
    pub workspaces: Vec<SeedWorkspace>,
    /// Agents to register.
    #[serde(default)]
    pub agents: Vec<SeedAgent>,
    /// Tools to register.
    #[serde(default)]
    pub tools: Vec<SeedTool>,
    /// API keys to store (development only).
    #[serde(default)]
    pub api_keys: Vec<SeedKey>,
}

/// One workspace of the seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedWorkspace {
    /// Its id.
    pub workspace_id: String,
    /// Its name.
    pub name: String,
    /// The usernames of its members (stored by user id).
    #[serde(default)]
    pub members: Vec<String>,
}

/// One agent of the seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAgent {
    /// Its id.
    pub agent_id: String,
    /// One of the seven agent types.
    pub agent_type: String,
    /// `STUDENT`, `INTERN`, `SUPERVISED` or `AUTONOMOUS`.
    pub maturity: String,
    /// The workspaces it may work in.
    #[serde(default)]
    pub workspaces: Vec<String>,
    /// Whether it may run (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// One tool of the seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTool {
    /// Its name (case-sensitive).
    pub name: String,
    /// What calling it does, 1 (read-only) to 4 (external effects or
    /// money).
    pub complexity: u64,
    /// The workspaces it may be used in.
    #[serde(default)]
    pub workspaces: Vec<String>,
}

fn yes() -> bool {
    true
}

/// One API key of the seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedKey {
    /// The whole key, `wdn_<key id>_<secret>`.
    pub key: SecretString,
    /// The agent it belongs to.
    pub owner: String,
    /// Its scopes, e.g. `["agents:run"]`.
    pub scopes: Vec<String>,
    /// When it stops working, RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// Requests an hour.
    #[serde(default)]
    pub rate_limit_per_hour: Option<u32>,
    /// The username of the person an agent's key is for (`warden apikeys
    /// create --for`): they cannot approve what the key asks for.
    #[serde(default, rename = "for")]
    pub for_user: Option<String>,
}

/// One user of the seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Reads and parses `path`, naming the file in every error, and the
    /// place in it (`users[0]`) of a key it does not define or a value
    /// that does not fit.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::BadRequest(format!("reading seed file {}: {e}", path.display())))?;
        Self::parse(&text)
            .map_err(|e| Error::BadRequest(format!("seed file {}: {e}", path.display())))
    }

    /// Parses the seed file's text; the error says what is wrong and
    /// where, never quoting a value (it may be a password or a secret).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut json = serde_json::Deserializer::from_str(text);
        let seed = serde_path_to_error::deserialize(&mut json).map_err(|e| {
            let path = e.path().clone();
            describe(&path, &e.into_inner())
        })?;
        // Nothing but whitespace may follow, as `serde_json::from_str` says.
        json.end()
            .map_err(|e| warden::http::without_values(&e.to_string()))?;
        Ok(seed)
    }

    /// Creates every user, workspace, agent, tool and key, in that order.
    /// One that already exists (a DynamoDB store seeded before) is left as
    /// it is, and reported: a tool too, since registering it again would
    /// void its approvals at every start. API keys are refused outside development: a key
    /// written in a file is not a production secret.
    pub async fn apply(&self, states: &States) -> Result<(), Error> {
        let accounts: &Accounts = &states.auth;
        // Every user is checked first (name, roles, the password policy):
        // a seed with one bad user writes none.
        let mut users = Vec::with_capacity(self.users.len());
        for user in &self.users {
            let username = Username::parse(&user.username)?;
            let roles = user
                .roles
                .iter()
                .map(|r| Role::parse(r))
                .collect::<Result<Vec<_>, _>>()?;
            password_policy::check(&user.password, accounts.config.password_min_length)
                .map_err(|e| Error::BadRequest(format!("seed user {:?}: {e}", user.username)))?;
            users.push((user, username, roles));
        }
        for (user, username, roles) in users {
            match create_user(accounts, cli_origin(), &username, &user.password, &roles).await {
                Ok(u) => println!("seeded user {} ({})", u.username, u.user_id),
                Err(Error::Conflict(_)) => {
                    println!("user {} already exists; left unchanged", user.username)
                }
                Err(e) => return Err(e),
            }
        }
        let registry: &Registry = &states.agents;
        for w in &self.workspaces {
            let id = WorkspaceId::parse(&w.workspace_id)?;
            report(
                "workspace",
                &w.workspace_id,
                registry::add_workspace(registry, cli_origin(), id.clone(), &w.name).await,
            )?;
            for member in &w.members {
                let username = Username::parse(member)?;
                let users = &*states.auth.store;
                registry::set_membership(registry, users, cli_origin(), &id, &username, true)
                    .await?;
                println!("seeded member {username} of workspace {id}");
            }
        }
        for a in &self.agents {
            let agent = NewAgent {
                agent_id: AgentId::parse(&a.agent_id)?,
                agent_type: AgentType::parse(&a.agent_type)?,
                maturity: Maturity::parse(&a.maturity)?,
                workspaces: a
                    .workspaces
                    .iter()
                    .map(|w| WorkspaceId::parse(w))
                    .collect::<Result<_, _>>()?,
                enabled: a.enabled,
            };
            report(
                "agent",
                &a.agent_id,
                registry::register_agent(registry, cli_origin(), agent).await,
            )?;
        }
        for t in &self.tools {
            let tool = t.parse()?;
            // Checked first: registering an existing tool is not refused
            // but makes a new version, which would void its pending
            // proposals and unused approvals at every start on DynamoDB.
            if registry.store.get_tool(&tool.name).await?.is_some() {
                println!(
                    "tool {} already exists; left unchanged (`warden tools register` changes it)",
                    tool.name
                );
                continue;
            }
            let name = tool.name.clone();
            let r = registry::register_tool(registry, cli_origin(), tool)
                .await
                .map_err(|e| match e {
                    // A workspace it names does not exist.
                    Error::NotFound(m) => Error::NotFound(format!("seed tool {name}: {m}")),
                    other => other,
                })?;
            println!(
                "seeded tool {} (complexity {}, workspaces: {})",
                r.name,
                r.complexity.level(),
                r.workspaces
                    .iter()
                    .map(WorkspaceId::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
        if !self.api_keys.is_empty() && registry.config.env != Environment::Development {
            return Err(Error::Config(
                "the seed file's api_keys are for development only; create keys with `warden apikeys create`"
                    .into(),
            ));
        }
        for k in &self.api_keys {
            let expires_at = k
                .expires_at
                .as_deref()
                .map(|t| {
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .map(|t| t.unix_timestamp())
                        .map_err(|_| {
                            Error::BadRequest(format!("api_keys expires_at {t:?} is not RFC 3339"))
                        })
                })
                .transpose()?;
            let created_by =
                match &k.for_user {
                    Some(name) => {
                        let username = Username::parse(name)?;
                        let user = states.auth.store.get_user(&username).await?.ok_or_else(
                            || {
                                Error::BadRequest(format!(
                                    "api_keys for {username:?}: no such user (add it under users)"
                                ))
                            },
                        )?;
                        Some(user.user_id)
                    }
                    None => None,
                };
            let spec = KeySpec {
                owner: KeyOwner::parse(&k.owner)?,
                scopes: k.scopes.clone(),
                expires_at,
                rate_limit_per_hour: k.rate_limit_per_hour,
                created_by,
            };
            let stored =
                store_key(registry, &states.agents.pepper, cli_origin(), &k.key, spec).await;
            match stored {
                Ok(r) => println!("seeded API key {} for {}", r.key_id, r.owner),
                Err(Error::Conflict(_)) => {
                    println!("an API key of the seed already exists; left unchanged")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl SeedTool {
    /// The registration this entry asks for; an error names the tool.
    fn parse(&self) -> Result<NewTool, Error> {
        let name = ToolName::parse(&self.name)
            .map_err(|e| Error::BadRequest(format!("seed tool {:?}: {e}", self.name)))?;
        let complexity = complexity_of_level(self.complexity).map_err(|e| {
            Error::BadRequest(format!(
                "seed tool {name}: complexity {}: {e}",
                self.complexity
            ))
        })?;
        let workspaces = self
            .workspaces
            .iter()
            .map(|w| WorkspaceId::parse(w))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::BadRequest(format!("seed tool {name}: {e}")))?;
        Ok(NewTool {
            name,
            complexity,
            workspaces,
        })
    }
}

/// What serde found wrong at `path`, said without the value it stumbled
/// on: `unknown field "user" at the top level; expected one of users, ...`,
/// `missing field `password` at users[0]`. A syntax error keeps serde's
/// line and column instead: there is no path to name.
fn describe(path: &serde_path_to_error::Path, e: &serde_json::Error) -> String {
    use serde_path_to_error::Segment;

    let message = warden::http::without_values(&e.to_string());
    if !e.is_data() {
        return message;
    }
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = message.strip_suffix(&position).unwrap_or(&message);
    let segments: Vec<&Segment> = path.iter().collect();
    // An unknown field's path ends with the field itself: the place is
    // the object holding it.
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'));
    let place = match unknown {
        Some(_) => &segments[..segments.len().saturating_sub(1)],
        None => &segments[..],
    };
    let place = place_of(place);
    match unknown {
        Some((field, expected)) => {
            let expected = expected.trim_start_matches(',').trim().replace('`', "");
            format!("unknown field {field:?} at {place}; {expected}")
        }
        None => format!("{message} at {place}"),
    }
}

/// `users[0].roles`, or `the top level` for no segment at all.
fn place_of(segments: &[&serde_path_to_error::Segment]) -> String {
    use serde_path_to_error::Segment;

    let mut place = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => place.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !place.is_empty() {
                    place.push('.');
                }
                place.push_str(key);
            }
            Segment::Unknown => {
                if !place.is_empty() {
                    place.push('.');
                }
                place.push('?');
            }
        }
    }
    if place.is_empty() {
        "the top level".into()
    } else {
        place
    }
}

/// Prints what seeding one item did; an item that exists is not an error.
fn report<T>(what: &str, id: &str, outcome: Result<T, Error>) -> Result<(), Error> {
    match outcome {
        Ok(_) => {
            println!("seeded {what} {id}");
            Ok(())
        }
        Err(Error::Conflict(_)) => {
            println!("{what} {id} already exists; left unchanged");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The origin of audit events written by the `warden` command.
pub fn cli_origin() -> Origin {
    Origin::Cli {
        operator: OPERATOR.into(),
    }
}
