//! `warden`: run the API locally and administer a deployment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Parser, Subcommand};
use rand::RngCore as _;
use secrecy::ExposeSecret as _;
use secrecy::SecretString;
use warden::Error;
use warden::agents::registry::{NewAgent, NewTool};
use warden::audit::query;
use warden::auth::api_keys::KeySpec;
use warden::auth::login::create_user;
use warden::auth::revocation::RolesOutcome;
use warden::aws::Guards;
use warden::clock::{Clock as _, rfc3339};
use warden::config::{Config, Severity};
use warden::domain::agents::{AgentId, AgentType, KeyOwner, Maturity, ServiceName, WorkspaceId};
use warden::domain::tools::{ToolName, complexity_of_level};
use warden::domain::{Role, Username};
use warden::webhook::SchemeKind;
use warden_cli::seed::{Seed, cli_origin};
use warden_cli::serve::{self, LocalApi};
use warden_cli::{admin, secret_input};

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Warden: the security core of an agent platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the whole API locally (embedded store unless --dynamodb-endpoint).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
        /// A JSON seed file: users, webhook sources, workspaces, agents,
        /// tools and (development) API keys (README "warden serve").
        #[arg(long)]
        seed: Option<PathBuf>,
        /// Use the DynamoDB tables at this endpoint instead of the embedded store.
        #[arg(long)]
        dynamodb_endpoint: Option<String>,
    },
    /// DynamoDB tables.
    Tables {
        #[command(subcommand)]
        command: TablesCommand,
    },
    /// Users in DynamoDB.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Agents in DynamoDB: register, maturity, the kill switch.
    Agents {
        #[command(subcommand)]
        command: AgentsCommand,
    },
    /// Tools agents may call in DynamoDB (governed tool calls): register,
    /// list, remove.
    Tools {
        #[command(subcommand)]
        command: ToolsCommand,
    },
    /// Workspaces in DynamoDB.
    Workspaces {
        #[command(subcommand)]
        command: WorkspacesCommand,
    },
    /// API keys in DynamoDB.
    Apikeys {
        #[command(subcommand)]
        command: ApikeysCommand,
    },
    /// The audit log in DynamoDB.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Webhook sources in Secrets Manager (WARDEN_WEBHOOK_SECRETS_ARN).
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// The KMS keys that sign access tokens, and the key set that
    /// schedules them (API.md "The key set").
    SigningKey {
        #[command(subcommand)]
        command: SigningKeyCommand,
    },
    /// The security health report of the deployment the environment
    /// describes (as GET /security/health shows it); exits 1 when failing.
    Health {
        /// AWS endpoint for DynamoDB, SQS and Secrets Manager (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum AgentsCommand {
    /// Register an agent.
    Register {
        /// The agent's id.
        agent_id: String,
        /// accounting, sales, marketing, logistics, tax, purchasing or planning.
        #[arg(long = "type")]
        agent_type: String,
        /// STUDENT, INTERN, SUPERVISED or AUTONOMOUS.
        #[arg(long)]
        maturity: String,
        /// A workspace it may work in; repeatable.
        #[arg(long = "workspace")]
        workspaces: Vec<String>,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Change an agent's maturity.
    SetMaturity {
        /// The agent's id.
        agent_id: String,
        /// STUDENT, INTERN, SUPERVISED or AUTONOMOUS.
        maturity: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// The kill switch: the agent runs nothing more, queued jobs included.
    Disable {
        /// The agent's id.
        agent_id: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Let a disabled agent run again.
    Enable {
        /// The agent's id.
        agent_id: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// List every agent.
    List {
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum ToolsCommand {
    /// Register a tool, or register an existing one again (a new
    /// complexity, other workspaces): every registration is a new version,
    /// which voids the tool's pending proposals and unused approvals.
    Register {
        /// The tool's name (1-128 of letters, digits, '.', '-', '_';
        /// case-sensitive).
        name: String,
        /// What calling it does: 1 read-only, 2 drafts, 3 changes records,
        /// 4 external effects or money.
        #[arg(long)]
        complexity: u64,
        /// A workspace it may be used in; repeatable.
        #[arg(long = "workspace")]
        workspaces: Vec<String>,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// List every tool: name, complexity, version, registration time,
    /// workspaces.
    List {
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Remove a tool: its calls are refused, and its pending proposals and
    /// unused approvals are void (registering it again revives none).
    Remove {
        /// The tool's name.
        name: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum WorkspacesCommand {
    /// Add a workspace.
    Add {
        /// The workspace's id.
        workspace_id: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Make a user a member of a workspace (counts from their next request).
    AddMember {
        /// The workspace's id.
        workspace_id: String,
        /// The user's name.
        username: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Remove a user from a workspace (counts from their next request).
    RemoveMember {
        /// The workspace's id.
        workspace_id: String,
        /// The user's name.
        username: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum ApikeysCommand {
    /// Create a key for an agent (--owner) or a service (--service); the
    /// key is printed once.
    Create {
        /// The agent the key belongs to (the only one it may run).
        #[arg(long, required_unless_present = "service", conflicts_with = "service")]
        owner: Option<String>,
        /// The service the key belongs to (a resource server calling
        /// POST /auth/introspect, scope tokens:introspect); it runs no agent.
        #[arg(long)]
        service: Option<String>,
        /// The person an agent's key is for (required with --owner): who
        /// answers for the agent, and therefore cannot approve the runs
        /// and tool calls the key asks for.
        #[arg(
            long = "for",
            value_name = "USERNAME",
            required_unless_present = "service",
            conflicts_with = "service"
        )]
        for_user: Option<String>,
        /// A scope (agents:run, agents:read, tools:call for an agent;
        /// tokens:introspect for a service); repeatable.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Days until it stops working (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Requests an hour (default 1000).
        #[arg(long)]
        rate_limit_per_hour: Option<u32>,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Revoke a key at once.
    Revoke {
        /// The key's id (the part between `wdn_` and the second `_`); the
        /// whole key works too (only its id is used, its secret never shown).
        key_id: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// List keys: ids, owner, scopes, expiry, usage, last use; never a secret.
    List {
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Audit events, newest first, one per line: time, type, severity,
    /// actor, origin (request id and client IP of an HTTP request), details.
    /// With --json, one JSON object per line (JSON Lines).
    Query {
        /// Only this actor's events (a user id, `key:<id>`, an operator's
        /// ARN, `local`), through the actor index.
        #[arg(long)]
        actor: Option<String>,
        /// Only events of this type, e.g. LOGIN_FAILED (any case).
        #[arg(long = "type")]
        event_type: Option<String>,
        /// How far back: minutes, hours or days, e.g. 30m, 24h, 7d (at most
        /// 365d; 31d without --actor).
        #[arg(long, default_value = query::DEFAULT_SINCE)]
        since: String,
        /// At most this many events (the newest).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Set a source's secret (read from standard input, never an argument)
    /// as a new version of the sources secret; the source's previous secret
    /// keeps verifying, older ones are dropped.
    SetSecret {
        /// The source: the {source} of POST /webhooks/{source}.
        source: String,
        /// Add the source with this scheme (slack, github, stripe,
        /// standard) if it does not exist; without it, an unknown source is
        /// an error.
        #[arg(long)]
        scheme: Option<String>,
        /// AWS endpoint for Secrets Manager and DynamoDB (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum SigningKeyCommand {
    /// Make a new KMS key like the one signing now and schedule it: it is
    /// published at once and signs from 2 h 6 min on (API Gateway caches a
    /// key set up to 2 hours); the old key is retired 16.5 minutes later.
    /// Nothing has to run at the switch.
    Rotate {
        /// AWS endpoint for KMS and DynamoDB (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Retire a key at once (a key misused or exposed): its tokens are
    /// refused within a minute. Retiring the signing key makes a
    /// replacement that signs at once.
    Retire {
        /// The key's kid (its JWK thumbprint, as `list` shows it).
        kid: String,
        /// Required: retirement takes effect now, not on a schedule.
        #[arg(long, required = true)]
        now: bool,
        /// AWS endpoint for KMS and DynamoDB (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// The key set: each key's kid, ARN and times.
    List {
        /// AWS endpoint for KMS and DynamoDB (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum TablesCommand {
    /// Create every table (keys, indexes, TTL) under WARDEN_TABLE_PREFIX.
    Create {
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a user; the password is read from standard input.
    Add {
        /// The username.
        username: String,
        /// A role (user, approver, admin); repeatable.
        #[arg(long = "role", num_args = 1..)]
        roles: Vec<String>,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Set a user's password (read from standard input) and revoke every token they hold.
    SetPassword {
        /// The username.
        username: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Disable a user: no more logins, and every token it holds dies at once.
    Disable {
        /// The username.
        username: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Enable a disabled user (its old tokens stay dead).
    Enable {
        /// The username.
        username: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// List every user: username, roles, disabled or not (never a hash).
    List {
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Replace a user's roles; every token they hold dies at once (they log
    /// in again to get the new roles).
    Roles {
        /// The username.
        username: String,
        /// A role (user, approver, admin); repeatable.
        #[arg(long = "role", num_args = 1.., required = true)]
        roles: Vec<String>,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Revoke every token of a user at once (as POST /auth/revoke-all).
    RevokeAll {
        /// The username.
        username: String,
        /// Why; recorded in the audit event.
        #[arg(long)]
        reason: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print every configuration finding; exit non-zero if start-up would be refused.
    Check {
        /// DynamoDB endpoint whose users' memberships to check (default:
        /// the AWS configuration, outside development).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        let rust_log = std::env::var("RUST_LOG").ok();
        tracing_subscriber::registry()
            .with(warden::logging::filter(None, rust_log.as_deref()))
            .with(
                // The functions' text format: request text in a field
                // cannot start a line of its own (`warden serve` logs
                // what every request carries).
                warden::logging::text_layer(std::io::stderr)
                    // Colours for a terminal only, not in a log file (and
                    // no ANSI formatting of every request's span).
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
            )
            .init();
    }
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve {
            addr,
            seed,
            dynamodb_endpoint,
        } => run_serve(addr, seed, dynamodb_endpoint).await,
        Command::Tables {
            command: TablesCommand::Create { endpoint },
        } => create_tables(endpoint).await,
        Command::Users {
            command:
                UsersCommand::Add {
                    username,
                    roles,
                    endpoint,
                },
        } => add_user(&username, &roles, endpoint).await,
        Command::Users {
            command: UsersCommand::SetPassword { username, endpoint },
        } => set_password(&username, endpoint).await,
        Command::Users {
            command: UsersCommand::Disable { username, endpoint },
        } => disable_user(&username, endpoint).await,
        Command::Users {
            command: UsersCommand::Enable { username, endpoint },
        } => enable_user(&username, endpoint).await,
        Command::Users {
            command: UsersCommand::List { endpoint },
        } => list_users(endpoint).await,
        Command::Users {
            command:
                UsersCommand::Roles {
                    username,
                    roles,
                    endpoint,
                },
        } => set_roles(&username, &roles, endpoint).await,
        Command::Users {
            command:
                UsersCommand::RevokeAll {
                    username,
                    reason,
                    endpoint,
                },
        } => revoke_all(&username, &reason, endpoint).await,
        Command::Audit { command } => audit(command).await,
        Command::Webhooks { command } => webhooks(command).await,
        Command::SigningKey { command } => signing_key(command).await,
        Command::Config {
            command: ConfigCommand::Check { endpoint },
        } => return config_check(endpoint).await,
        Command::Agents { command } => agents(command).await,
        Command::Tools { command } => tools(command).await,
        Command::Workspaces {
            command:
                WorkspacesCommand::Add {
                    workspace_id,
                    name,
                    endpoint,
                },
        } => add_workspace(&workspace_id, &name, endpoint).await,
        Command::Workspaces {
            command:
                WorkspacesCommand::AddMember {
                    workspace_id,
                    username,
                    endpoint,
                },
        } => set_membership(&workspace_id, &username, true, endpoint).await,
        Command::Workspaces {
            command:
                WorkspacesCommand::RemoveMember {
                    workspace_id,
                    username,
                    endpoint,
                },
        } => set_membership(&workspace_id, &username, false, endpoint).await,
        Command::Apikeys { command } => apikeys(command).await,
        Command::Health { endpoint } => return health(endpoint).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain: an operator needs the AWS error behind an
            // unavailable service.
            eprintln!("error: {}", e.chain());
            ExitCode::FAILURE
        }
    }
}

async fn run_serve(
    addr: SocketAddr,
    seed: Option<PathBuf>,
    endpoint: Option<String>,
) -> Result<(), Error> {
    let mut config = serve::local_config(|k| std::env::var(k).ok())?;
    // Bound first: without WARDEN_ISSUER the issuer is this listener's
    // origin, so the discovery URLs lead back here whatever port it got.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    if config.issuer == warden::config::DEVELOPMENT_ISSUER {
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        config.issuer = format!("http://{bound}");
    }
    let mut seed = seed.as_deref().map(Seed::load).transpose()?;
    let sources = seed
        .as_mut()
        .map(|s| std::mem::take(&mut s.webhook_sources))
        .unwrap_or_default();
    // A webhook source without a secret refuses start-up, before anything is written.
    let states = serve::build_states(config, sources, endpoint.as_deref()).await?;
    match seed {
        Some(seed) => seed.apply(&states).await?,
        None => {
            let mut bytes = [0u8; 18];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let password = URL_SAFE_NO_PAD.encode(bytes);
            let secret = SecretString::from(password.clone());
            let admin = Username::parse("admin")?;
            match create_user(&states.auth, cli_origin(), &admin, &secret, &[Role::Admin]).await {
                Ok(_) => println!("created user admin with password {password} (shown once)"),
                Err(Error::Conflict(_)) => {
                    println!("user admin already exists; its password is unchanged")
                }
                Err(e) => return Err(e),
            }
        }
    }
    for source in states.webhooks.sources.current().all() {
        println!(
            "webhook source {} ({}) at POST /webhooks/{}",
            source.name,
            source.scheme.as_str(),
            source.name
        );
    }
    println!("health probe: one sample a minute (GET /security/health, as an admin)");
    let probe = serve::start_probe(states.health.clone());
    let api = LocalApi::start_on(listener, states)
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    // The last line: scripts wait for it, and may stop reading after it.
    println!("warden listening on {}", api.url());
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Error::internal(format!("waiting for Ctrl-C: {e}")))?;
    println!("shutting down");
    probe.abort();
    Ok(())
}

fn table_prefix() -> String {
    std::env::var("WARDEN_TABLE_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "warden-".into())
}

/// The AWS timeouts from the environment. `tables create` needs no valid
/// configuration otherwise, so one that does not load means the defaults.
fn aws_guards() -> Guards {
    Config::load(|k| std::env::var(k).ok())
        .0
        .map_or_else(Guards::default, |c| c.aws)
}

async fn create_tables(endpoint: Option<String>) -> Result<(), Error> {
    let reports = admin::create_tables(endpoint.as_deref(), &table_prefix(), &aws_guards()).await?;
    for report in &reports {
        println!("{}", admin::render_table_report(report));
    }
    Ok(())
}

/// The password of `username`: prompted for at a terminal (echo off;
/// twice when `new_user`), else the first line of standard input.
fn password_for(username: &Username, new_user: bool) -> Result<SecretString, Error> {
    secret_input::read_stdin(secret_input::Ask {
        prompt: &format!("Password for {username}: "),
        what: "the password",
        confirm: new_user,
    })
}

async fn set_password(username: &str, endpoint: Option<String>) -> Result<(), Error> {
    let username = Username::parse(username)?;
    let password = password_for(&username, true)?;
    let config = serve::local_config(|k| std::env::var(k).ok())?;
    let generation = admin::set_password(endpoint.as_deref(), config, &username, &password).await?;
    println!(
        "password of {username} changed; every token issued before is revoked (generation {generation})"
    );
    Ok(())
}

async fn disable_user(username: &str, endpoint: Option<String>) -> Result<(), Error> {
    let username = Username::parse(username)?;
    let config = serve::local_config(|k| std::env::var(k).ok())?;
    let generation = admin::disable_user(endpoint.as_deref(), config, &username).await?;
    println!(
        "user {username} disabled; every token issued before is revoked (generation {generation})"
    );
    Ok(())
}

async fn enable_user(username: &str, endpoint: Option<String>) -> Result<(), Error> {
    let username = Username::parse(username)?;
    let config = serve::local_config(|k| std::env::var(k).ok())?;
    admin::enable_user(endpoint.as_deref(), config, &username).await?;
    println!("user {username} enabled; it can log in again");
    Ok(())
}

async fn add_user(username: &str, roles: &[String], endpoint: Option<String>) -> Result<(), Error> {
    let roles = roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let username = Username::parse(username)?;
    let password = password_for(&username, true)?;
    let config = serve::local_config(|k| std::env::var(k).ok())?;
    let user_id =
        admin::add_user(endpoint.as_deref(), config, &username, &password, &roles).await?;
    println!("created user {username} ({user_id})");
    Ok(())
}

async fn list_users(endpoint: Option<String>) -> Result<(), Error> {
    let users = admin::list_users(endpoint.as_deref(), config()?).await?;
    if users.is_empty() {
        println!("no users");
    }
    for u in users {
        println!(
            "{:<32} {:<22} {}",
            u.username,
            join(&u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
            if u.disabled { "DISABLED" } else { "enabled" }
        );
    }
    Ok(())
}

async fn set_roles(
    username: &str,
    roles: &[String],
    endpoint: Option<String>,
) -> Result<(), Error> {
    let roles = roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let username = Username::parse(username)?;
    match admin::set_roles(endpoint.as_deref(), config()?, &username, &roles).await? {
        RolesOutcome::Unchanged => {
            println!("user {username} already has exactly these roles; nothing changed");
        }
        RolesOutcome::Changed { from, revoked } => println!(
            "roles of {username} changed from {} to {}; every token issued before is revoked (generation {})",
            join(&from.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
            join(&roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
            revoked.generation
        ),
    }
    Ok(())
}

async fn revoke_all(username: &str, reason: &str, endpoint: Option<String>) -> Result<(), Error> {
    let username = Username::parse(username)?;
    let outcome = admin::revoke_all(endpoint.as_deref(), config()?, &username, reason).await?;
    println!(
        "every token of {username} is revoked ({} live sessions ended; generation {})",
        outcome.revoked_count, outcome.generation
    );
    Ok(())
}

async fn audit(command: AuditCommand) -> Result<(), Error> {
    let AuditCommand::Query {
        actor,
        event_type,
        since,
        limit,
        json,
        endpoint,
    } = command;
    let since = query::parse_since(&since, query::Surface::Cli)?;
    let event_type = event_type
        .as_deref()
        .map(query::parse_event_type)
        .transpose()?;
    let events = admin::audit_query(
        endpoint.as_deref(),
        config()?,
        actor,
        event_type,
        since,
        limit,
    )
    .await?;
    for e in &events {
        if json {
            println!("{}", query::event_json(e));
        } else {
            println!("{}", admin::render_event(e));
        }
    }
    if events.len() == limit {
        eprintln!("showing the newest {limit} events; there may be more (--limit, --since)");
    }
    Ok(())
}

async fn webhooks(command: WebhooksCommand) -> Result<(), Error> {
    let WebhooksCommand::SetSecret {
        source,
        scheme,
        endpoint,
    } = command;
    let scheme = scheme
        .as_deref()
        .map(|s| {
            serde_json::from_value::<SchemeKind>(serde_json::Value::String(
                s.trim().to_ascii_lowercase(),
            ))
            .map_err(|_| {
                Error::BadRequest(format!(
                    "unknown scheme {s:?}; expected slack, github, stripe or standard"
                ))
            })
        })
        .transpose()?;
    let secret = secret_input::read_stdin(secret_input::Ask {
        prompt: &format!("New secret of webhook source {source}: "),
        what: "the webhook secret",
        // Pasted from the provider, and the previous secret keeps
        // verifying: no second entry.
        confirm: false,
    })?;
    let set =
        admin::set_webhook_secret(endpoint.as_deref(), config()?, &source, &secret, scheme).await?;
    println!(
        "webhook source {source} ({}): new secret {} (sources secret version {}); {}{}",
        set.scheme.as_str(),
        if set.created { "added" } else { "set" },
        set.version_id,
        if set.kept_previous {
            "the previous secret still verifies until the next rotation"
        } else {
            "no previous secret"
        },
        if set.dropped > 0 {
            format!("; {} older secret(s) dropped", set.dropped)
        } else {
            String::new()
        }
    );
    println!("warm functions read it within the secret cache TTL (WARDEN_SECRET_CACHE_TTL_SECS)");
    Ok(())
}

async fn signing_key(command: SigningKeyCommand) -> Result<(), Error> {
    let (changed, set) = match command {
        SigningKeyCommand::Rotate { endpoint } => {
            let changed = admin::rotate_signing_key(endpoint.as_deref(), config()?).await?;
            if let (Some(new), Some(entry)) = (&changed.new_key, changed.set.keys.last()) {
                println!(
                    "new signing key {} ({}) is published now and signs from {}",
                    new.kid,
                    new.arn,
                    rfc3339(entry.sign_from)
                );
            }
            (true, changed.set)
        }
        SigningKeyCommand::Retire { kid, now, endpoint } => {
            debug_assert!(now, "clap requires --now");
            let changed = admin::retire_signing_key(endpoint.as_deref(), config()?, &kid).await?;
            println!("signing key {kid} is retired: refused everywhere within a minute");
            if let Some(new) = &changed.new_key {
                println!(
                    "replacement {} ({}) signs now; API Gateway JWT authorizers may refuse its tokens until they fetch the key set again (up to 2 hours)",
                    new.kid, new.arn
                );
            }
            (true, changed.set)
        }
        SigningKeyCommand::List { endpoint } => (
            false,
            admin::signing_keys(endpoint.as_deref(), config()?).await?,
        ),
    };
    let now = warden::clock::SystemClock.now_secs();
    let time = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), rfc3339);
    println!("KID\tSTATE\tPUBLISH_FROM\tSIGN_FROM\tSIGN_UNTIL\tRETIRE_AT\tARN");
    for k in &set.keys {
        let state = if k.retired(now) {
            "retired"
        } else if k.signs(now) {
            "signing"
        } else if k.published(now) && k.sign_from > now {
            "published"
        } else {
            "verifying"
        };
        println!(
            "{}\t{state}\t{}\t{}\t{}\t{}\t{}",
            k.kid,
            time(Some(k.publish_from)),
            time(Some(k.sign_from)),
            time(k.sign_until),
            time(k.retire_at),
            k.arn
        );
    }
    if changed {
        println!("warm functions read the key set again within a minute");
    }
    Ok(())
}

async fn config_check(endpoint: Option<String>) -> ExitCode {
    let mut findings = admin::check_config(|k| std::env::var(k).ok()).await;
    if let Some(f) = admin::check_memberships(|k| std::env::var(k).ok(), endpoint.as_deref()).await
    {
        findings.0.push(f);
    }
    print_findings(&findings);
    if findings.has_errors() {
        println!("start-up would be refused");
        ExitCode::FAILURE
    } else {
        println!("start-up would be allowed");
        ExitCode::SUCCESS
    }
}

/// Every finding, one line each, with the remediation of those not ok.
fn print_findings(findings: &warden::config::Findings) {
    for f in &findings.0 {
        let label = match f.severity {
            Severity::Ok => "ok",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        };
        println!("{label:<8} {:<16} {}", f.check, f.message);
        if f.severity != Severity::Ok {
            println!("{:<8} {:<16} fix: {}", "", "", f.remediation);
        }
    }
}

/// `warden health`: the report of `GET /security/health` for the
/// deployment the environment describes, with the configuration findings
/// of `warden config check` (the same code). Exit 1 when failing.
async fn health(endpoint: Option<String>) -> ExitCode {
    match admin::health_report(|k| std::env::var(k).ok(), endpoint.as_deref()).await {
        Err(findings) => {
            print_findings(&findings);
            println!("the configuration cannot be read: report failing");
            ExitCode::FAILURE
        }
        Ok((findings, report)) => {
            print_findings(&findings);
            println!();
            print!("{}", admin::render_report(&report));
            if report.status == warden::health::Status::Failing {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

fn config() -> Result<Config, Error> {
    serve::local_config(|k| std::env::var(k).ok())
}

async fn add_workspace(id: &str, name: &str, endpoint: Option<String>) -> Result<(), Error> {
    let id = WorkspaceId::parse(id)?;
    let w = admin::add_workspace(endpoint.as_deref(), config()?, id, name).await?;
    println!("added workspace {} ({})", w.workspace_id, w.name);
    Ok(())
}

async fn set_membership(
    workspace_id: &str,
    username: &str,
    member: bool,
    endpoint: Option<String>,
) -> Result<(), Error> {
    let workspace = WorkspaceId::parse(workspace_id)?;
    let user = Username::parse(username)?;
    let user_id =
        admin::set_membership(endpoint.as_deref(), config()?, &workspace, &user, member).await?;
    if member {
        println!("{user} ({user_id}) is a member of workspace {workspace}");
    } else {
        println!("{user} ({user_id}) is no longer a member of workspace {workspace}");
    }
    Ok(())
}

async fn agents(command: AgentsCommand) -> Result<(), Error> {
    match command {
        AgentsCommand::Register {
            agent_id,
            agent_type,
            maturity,
            workspaces,
            endpoint,
        } => {
            let agent = NewAgent {
                agent_id: AgentId::parse(&agent_id)?,
                agent_type: AgentType::parse(&agent_type.to_ascii_lowercase())?,
                maturity: Maturity::parse(&maturity.to_ascii_uppercase())?,
                workspaces: workspaces
                    .iter()
                    .map(|w| WorkspaceId::parse(w))
                    .collect::<Result<_, _>>()?,
                enabled: true,
            };
            let a = admin::register_agent(endpoint.as_deref(), config()?, agent).await?;
            println!(
                "registered agent {} ({}, {}, workspaces: {})",
                a.agent_id,
                a.agent_type,
                a.maturity,
                join(&a.workspaces)
            );
        }
        AgentsCommand::SetMaturity {
            agent_id,
            maturity,
            endpoint,
        } => {
            let id = AgentId::parse(&agent_id)?;
            let maturity = Maturity::parse(&maturity.to_ascii_uppercase())?;
            admin::set_maturity(endpoint.as_deref(), config()?, &id, maturity).await?;
            println!("agent {id} is now {maturity}");
        }
        AgentsCommand::Disable { agent_id, endpoint } => {
            let id = AgentId::parse(&agent_id)?;
            admin::set_enabled(endpoint.as_deref(), config()?, &id, false).await?;
            println!("agent {id} disabled; its queued jobs will not run");
        }
        AgentsCommand::Enable { agent_id, endpoint } => {
            let id = AgentId::parse(&agent_id)?;
            admin::set_enabled(endpoint.as_deref(), config()?, &id, true).await?;
            println!("agent {id} enabled");
        }
        AgentsCommand::List { endpoint } => {
            let agents = admin::list_agents(endpoint.as_deref(), config()?).await?;
            if agents.is_empty() {
                println!("no agents");
            }
            for a in agents {
                println!(
                    "{:<24} {:<11} {:<11} {:<9} {}",
                    a.agent_id,
                    a.agent_type,
                    a.maturity,
                    if a.enabled { "enabled" } else { "DISABLED" },
                    join(&a.workspaces)
                );
            }
        }
    }
    Ok(())
}

async fn tools(command: ToolsCommand) -> Result<(), Error> {
    match command {
        ToolsCommand::Register {
            name,
            complexity,
            workspaces,
            endpoint,
        } => {
            let tool = NewTool {
                name: ToolName::parse(&name)?,
                complexity: complexity_of_level(complexity)?,
                workspaces: workspaces
                    .iter()
                    .map(|w| WorkspaceId::parse(w))
                    .collect::<Result<_, _>>()?,
            };
            let done = admin::register_tool(endpoint.as_deref(), config()?, tool).await?;
            let t = &done.tool;
            let what = format!(
                "tool {} (complexity {}, workspaces: {}, version {})",
                t.name,
                t.complexity.level(),
                join(&t.workspaces),
                t.version
            );
            match &done.replaced {
                None => println!("registered {what}"),
                Some(old) => println!(
                    "re-registered {what}; version {} (complexity {}) is replaced: its pending proposals and unused approvals are void",
                    old.version,
                    old.complexity.level()
                ),
            }
        }
        ToolsCommand::List { endpoint } => {
            let tools = admin::list_tools(endpoint.as_deref(), config()?).await?;
            if tools.is_empty() {
                println!("no tools");
            }
            for t in tools {
                // The workspaces last, as `agents list` does: the only
                // column of any length.
                println!(
                    // `as_str`: a name's `Display` ignores the width.
                    "{:<24} {} {:<26} {:<20} {}",
                    t.name.as_str(),
                    t.complexity.level(),
                    t.version,
                    rfc3339(t.registered_at),
                    join(&t.workspaces)
                );
            }
        }
        ToolsCommand::Remove { name, endpoint } => {
            let name = ToolName::parse(&name)?;
            admin::remove_tool(endpoint.as_deref(), config()?, &name).await?;
            println!(
                "removed tool {name}; its calls are refused, and its pending proposals and unused approvals are void"
            );
        }
    }
    Ok(())
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".into();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

async fn apikeys(command: ApikeysCommand) -> Result<(), Error> {
    match command {
        ApikeysCommand::Create {
            owner,
            service,
            for_user,
            scopes,
            expires_in_days,
            rate_limit_per_hour,
            endpoint,
        } => {
            let expires_at = expires_in_days
                .map(|days| warden::clock::SystemClock.now_secs() + i64::from(days) * 86_400);
            let owner = match (owner, service) {
                (_, Some(service)) => KeyOwner::Service(ServiceName::parse(&service)?),
                (Some(agent), None) => KeyOwner::Agent(AgentId::parse(&agent)?),
                (None, None) => {
                    return Err(Error::BadRequest(
                        "give --owner AGENT or --service NAME".into(),
                    ));
                }
            };
            let for_user = for_user.as_deref().map(Username::parse).transpose()?;
            let spec = KeySpec {
                owner,
                scopes,
                expires_at,
                rate_limit_per_hour,
                created_by: None,
            };
            let created =
                admin::create_key(endpoint.as_deref(), config()?, spec, for_user.as_ref()).await?;
            println!(
                "created API key {} for {} {} (shown once; store it now):",
                created.record.key_id,
                match created.record.owner {
                    KeyOwner::Agent(_) => "agent",
                    KeyOwner::Service(_) => "service",
                },
                created.record.owner
            );
            println!("{}", created.key.expose_secret());
        }
        ApikeysCommand::Revoke { key_id, endpoint } => {
            let key_id = admin::revoke_key(endpoint.as_deref(), config()?, &key_id).await?;
            println!("API key {key_id} revoked");
        }
        ApikeysCommand::List { endpoint } => {
            let keys = admin::list_keys(endpoint.as_deref(), config()?).await?;
            if keys.is_empty() {
                println!("no API keys");
            }
            for k in keys {
                let state = match (k.revoked_at, k.expires_at) {
                    (Some(_), _) => "REVOKED".to_owned(),
                    (None, Some(at)) => format!("expires {}", rfc3339(at)),
                    (None, None) => "no expiry".to_owned(),
                };
                println!(
                    "{} owner={} scopes={} {} limit={}/h used={} last_used={}",
                    k.key_id,
                    k.owner,
                    k.scopes.join(","),
                    state,
                    k.rate_limit_per_hour,
                    k.usage_count,
                    k.last_used_at.map_or_else(|| "never".to_owned(), rfc3339)
                );
            }
        }
    }
    Ok(())
}
