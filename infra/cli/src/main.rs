//! `warden`: run the API locally and administer a deployment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{CommandFactory as _, Parser, Subcommand};
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
use warden_cli::output::{Column, Listing, Output, OutputArgs, emit, join, print_json};
use warden_cli::seed::{Seed, cli_origin};
use warden_cli::serve::{self, LocalApi};
use warden_cli::stack::{self, Env};
use warden_cli::{admin, secret_input};

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Warden: the security core of an agent platform"
)]
struct Cli {
    /// Log more to standard error: -v for info, -vv for debug (default:
    /// warnings only; `warden serve` logs info). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Read the deployment's tables, queues, secrets, keys and issuer from
    /// this CloudFormation stack's outputs (DescribeStacks) instead of
    /// WARDEN_* variables. Default: WARDEN_STACK.
    #[arg(long, global = true, value_name = "NAME")]
    stack: Option<String>,
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
        /// Where the audit ledger's checkpoint key and write-once copies are
        /// kept (`checkpoint-key.pem`, `checkpoints.log`). Default: `.warden`
        /// with --dynamodb-endpoint; none with the embedded store (both in
        /// memory, as its log is).
        #[arg(long, env = "WARDEN_DATA_DIR")]
        data_dir: Option<PathBuf>,
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
    /// schedules them (README, "Open tokens").
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
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Print a completion script for SHELL (bash, zsh, fish, elvish,
    /// powershell) to standard output, e.g.
    /// `warden completions bash > ~/.local/share/bash-completion/completions/warden`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
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
    /// List every agent: id, type, maturity, enabled, workspaces.
    List {
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
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
        #[command(flatten)]
        out: OutputArgs,
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
        #[command(flatten)]
        out: OutputArgs,
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
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Audit events, newest first: time, type, severity, actor, subject,
    /// origin (request id and client IP of an HTTP request), details. With
    /// --output json, each event as GET /audit shows it, one per line.
    Query {
        /// Only this actor's events, through the actor index: a username or
        /// a user id (either names the person), `key:<id>`,
        /// `webhook:<source>`, an operator's ARN, `local`.
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
        /// The same as `--output json` (kept for scripts written before it).
        #[arg(long, hide = true)]
        json: bool,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Verify the audit ledger: recompute every checkpoint in the range from
    /// the events, check each signature against the checkpoint key, each
    /// event's MAC, the chain and the write-once copies. Exit 0 when all
    /// holds; otherwise 1, naming the first failure.
    Verify {
        /// Where to start: an RFC 3339 time or a duration back from now
        /// (30m, 24h, 7d).
        #[arg(long, default_value = "24h")]
        since: String,
        /// Where to stop (the same forms; default: now).
        #[arg(long)]
        until: Option<String>,
        /// The checkpoint key's public half (PEM), pinned out of band
        /// (default: the key in use, as `warden audit public-key` prints
        /// it).
        #[arg(long, value_name = "PUBKEY.pem")]
        key: Option<PathBuf>,
        /// `warden serve`'s data directory (its checkpoint key and copies).
        #[arg(long, env = "WARDEN_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Print a self-contained proof that an event is in a signed
    /// checkpoint: the event, its audit path and the signed checkpoint
    /// (README "The audit ledger"), for `warden audit check-proof`.
    Prove {
        /// The event's id.
        event_id: String,
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Print the checkpoint key's public half (PEM), to pin out of band.
    PublicKey {
        /// `warden serve`'s data directory (its checkpoint key).
        #[arg(long, env = "WARDEN_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// AWS endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Check a proof from `warden audit prove` offline, with no AWS access:
    /// the checkpoint's signature against the pinned key, the event's
    /// canonical form, and its audit path. Exit 0 when it holds.
    CheckProof {
        /// The proof file (`-` for standard input).
        file: PathBuf,
        /// The checkpoint key's public half (PEM), pinned out of band
        /// (`warden audit public-key`). Required: a proof is never checked
        /// against a key it carries.
        #[arg(long, value_name = "PUBKEY.pem")]
        key: Option<PathBuf>,
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
        #[command(flatten)]
        out: OutputArgs,
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
        #[command(flatten)]
        out: OutputArgs,
    },
    /// The key set: each key's kid, state, times and ARN.
    List {
        /// AWS endpoint for KMS and DynamoDB (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Subcommand)]
enum TablesCommand {
    /// Create every table (keys, indexes, TTL) under WARDEN_TABLE_PREFIX.
    Create {
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
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
    /// List every user: user id, username, roles, disabled or not (never a
    /// hash).
    List {
        /// DynamoDB endpoint (default: the AWS configuration).
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
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
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let serving = matches!(cli.command, Command::Serve { .. });
    init_logging(cli.verbose, serving);
    // The endpoint the command was pointed at, for the hint of an error.
    let endpoint = endpoint_of(&matches);
    let env = match environment(cli.stack, &cli.command).await {
        Ok(env) => env,
        Err(e) => return fail(&e, &Env::process(), endpoint.as_deref()).await,
    };
    match run(cli.command, &env).await {
        Ok(code) => code,
        Err(e) => fail(&e, &env, endpoint.as_deref()).await,
    }
}

/// Logs go to standard error, never mixed into a command's output: warnings
/// only unless `-v` (info) or `-vv` (debug); `warden serve`, a server whose
/// log is its output, logs info. `RUST_LOG` overrides both.
fn init_logging(verbose: u8, serving: bool) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = match (verbose, serving) {
        (0, false) => "warn",
        (0, true) | (1, _) => "info",
        _ => "debug",
    };
    let filter = match std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty()) {
        Some(rust_log) => warden::logging::filter(None, Some(&rust_log)),
        // The AWS SDK's credential and region chain warns of every source
        // it tried and found nothing in (IMDS off a cloud machine): debug
        // text, and the command's own error says what is missing.
        None if verbose == 0 => warden::logging::filter(None, Some("warn,aws_config=error")),
        None => warden::logging::filter(Some(level), None),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(
            // The functions' text format: request text in a field cannot
            // start a line of its own (`warden serve` logs what every
            // request carries).
            warden::logging::text_layer(std::io::stderr)
                // Colours for a terminal only, not in a log file (and no
                // ANSI formatting of every request's span).
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
}

/// The `--endpoint` (or `serve --dynamodb-endpoint`) of the command `matches`
/// holds, if any.
fn endpoint_of(matches: &clap::ArgMatches) -> Option<String> {
    let (_, sub) = matches.subcommand()?;
    for id in ["endpoint", "dynamodb_endpoint"] {
        if let Ok(Some(value)) = sub.try_get_one::<String>(id) {
            return Some(value.clone());
        }
    }
    endpoint_of(sub)
}

/// Where the command's configuration comes from: the stack `--stack` (or
/// `WARDEN_STACK`) names, over the environment, or the environment alone.
/// `warden serve` serves locally: `--stack` is refused there, and
/// `WARDEN_STACK` ignored.
async fn environment(flag: Option<String>, command: &Command) -> Result<Env, Error> {
    let local = matches!(
        command,
        Command::Serve { .. }
            | Command::Completions { .. }
            | Command::Audit {
                command: AuditCommand::CheckProof { .. }
            }
    );
    if local {
        if flag.is_some() {
            return Err(Error::BadRequest(
                "--stack does not apply to `warden serve`, `completions` or `audit check-proof`, which run on this machine alone; use it with the commands that administer a deployment".into(),
            ));
        }
        return Ok(Env::process());
    }
    let name = flag.or_else(|| {
        std::env::var(stack::STACK_VARIABLE)
            .ok()
            .filter(|v| !v.is_empty())
    });
    let Some(name) = name else {
        return Ok(Env::process());
    };
    let guards = Config::load(|k| std::env::var(k).ok())
        .0
        .map_or_else(Guards::default, |c| c.aws);
    let aws = serve::aws_config(&guards, None).await;
    require_region(&aws)?;
    let outputs = stack::outputs(&aws, &name).await?;
    Env::from_outputs(&name, &outputs, |k| std::env::var(k).ok())
}

/// A missing region fails every AWS call with words about endpoints: say
/// what to set instead.
fn require_region(aws: &warden::aws::SdkConfig) -> Result<(), Error> {
    if aws.region().is_none() {
        return Err(Error::Config(
            "no AWS region: set AWS_REGION (or `region` in your AWS profile)".into(),
        ));
    }
    Ok(())
}

/// Prints `error` as one line a person can act on, with a hint where one
/// helps (a missing table is named, with the command that creates it),
/// and answers the failure exit code.
async fn fail(error: &Error, env: &Env, endpoint: Option<&str>) -> ExitCode {
    let mut text = error.chain();
    // Without a region the SDK cannot even build a request, and says so in
    // words about endpoints.
    if text.contains("dispatch failure")
        && require_region(&serve::aws_config(&Guards::default(), endpoint).await).is_err()
    {
        text = "no AWS region: set AWS_REGION (or `region` in your AWS profile)".into();
    }
    if text.contains("ResourceNotFoundException")
        && let Some(hint) = admin::missing_tables(&table_prefix(env), endpoint, env.stack()).await
    {
        text = hint;
    }
    // One line, whatever a cause's text held.
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("error: {line}");
    ExitCode::FAILURE
}

/// Runs one command under `env`; its exit code.
async fn run(command: Command, env: &Env) -> Result<ExitCode, Error> {
    match command {
        Command::Serve {
            addr,
            seed,
            dynamodb_endpoint,
            data_dir,
        } => run_serve(addr, seed, dynamodb_endpoint, data_dir).await?,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "warden", &mut script);
            emit(&String::from_utf8_lossy(&script));
        }
        Command::Tables {
            command: TablesCommand::Create { endpoint, out },
        } => create_tables(env, endpoint, out.output).await?,
        Command::Users { command } => users(command, env).await?,
        Command::Audit { command } => return audit(command, env).await,
        Command::Webhooks { command } => webhooks(command, env).await?,
        Command::SigningKey { command } => signing_key(command, env).await?,
        Command::Config {
            command: ConfigCommand::Check { endpoint, out },
        } => return Ok(config_check(env, endpoint, out.output).await),
        Command::Agents { command } => agents(command, env).await?,
        Command::Tools { command } => tools(command, env).await?,
        Command::Workspaces { command } => workspaces(command, env).await?,
        Command::Apikeys { command } => apikeys(command, env).await?,
        Command::Health { endpoint, out } => return Ok(health(env, endpoint, out.output).await),
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_serve(
    addr: SocketAddr,
    seed: Option<PathBuf>,
    endpoint: Option<String>,
    data_dir: Option<PathBuf>,
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
    let data_dir = match (data_dir, &endpoint) {
        (Some(dir), _) => Some(warden_cli::ledger::data_dir(&dir)?),
        (None, Some(_)) => Some(warden_cli::ledger::data_dir(std::path::Path::new(
            warden_cli::ledger::DEFAULT_DATA_DIR,
        ))?),
        (None, None) => None,
    };
    let states =
        serve::build_states(config, sources, endpoint.as_deref(), data_dir.as_deref()).await?;
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
    match &data_dir {
        Some(dir) => println!(
            "audit ledger: one signed checkpoint a minute; key {}, copies {}",
            dir.join(warden_cli::ledger::KEY_FILE).display(),
            dir.join(warden_cli::ledger::COPIES_FILE).display()
        ),
        None => println!("audit ledger: one signed checkpoint a minute (key and copies in memory)"),
    }
    let checkpoints = warden_cli::ledger::start_checkpointer(states.checkpointer.clone());
    let api = LocalApi::start_on(listener, states)
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    // The last line: scripts wait for it, and may stop reading after it.
    println!("warden listening on {}", api.url());
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Error::internal(format!("waiting for Ctrl-C: {e}")))?;
    println!("shutting down");
    probe.abort();
    checkpoints.abort();
    Ok(())
}

/// The tables' prefix: `WARDEN_TABLE_PREFIX` (or the stack's), else
/// `warden-`.
fn table_prefix(env: &Env) -> String {
    env.var("WARDEN_TABLE_PREFIX")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "warden-".into())
}

/// The command's configuration, in development unless `WARDEN_ENV` (or
/// the stack) says otherwise.
fn config(env: &Env) -> Result<Config, Error> {
    serve::local_config(|k| env.var(k))
}

async fn create_tables(env: &Env, endpoint: Option<String>, output: Output) -> Result<(), Error> {
    // The AWS timeouts from the environment. `tables create` needs no valid
    // configuration otherwise, so one that does not load means the defaults.
    let guards = Config::load(|k| env.var(k))
        .0
        .map_or_else(Guards::default, |c| c.aws);
    let reports = admin::create_tables(endpoint.as_deref(), &table_prefix(env), &guards).await?;
    let mut listing = Listing::new(&[Column::text("TABLE"), Column::text("CHANGES")]);
    for report in &reports {
        listing.push(
            vec![report.name.clone(), admin::table_changes(report)],
            serde_json::json!({
                "table": report.name,
                "created": report.created,
                "indexes_created": report.indexes_created,
                "ttl_enabled": report.ttl_enabled,
            }),
        );
    }
    listing.print(output);
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

fn parse_roles(roles: &[String]) -> Result<Vec<Role>, Error> {
    roles.iter().map(|r| Role::parse(r)).collect()
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

async fn users(command: UsersCommand, env: &Env) -> Result<(), Error> {
    match command {
        UsersCommand::Add {
            username,
            roles,
            endpoint,
        } => {
            let roles = parse_roles(&roles)?;
            let username = Username::parse(&username)?;
            let config = config(env)?;
            let password = password_for(&username, true)?;
            let user_id =
                admin::add_user(endpoint.as_deref(), config, &username, &password, &roles).await?;
            println!("created user {username} ({user_id})");
        }
        UsersCommand::SetPassword { username, endpoint } => {
            let username = Username::parse(&username)?;
            let config = config(env)?;
            let password = password_for(&username, true)?;
            let generation =
                admin::set_password(endpoint.as_deref(), config, &username, &password).await?;
            println!(
                "password of {username} changed; every token issued before is revoked (generation {generation})"
            );
        }
        UsersCommand::Disable { username, endpoint } => {
            let username = Username::parse(&username)?;
            let generation =
                admin::disable_user(endpoint.as_deref(), config(env)?, &username).await?;
            println!(
                "user {username} disabled; every token issued before is revoked (generation {generation})"
            );
        }
        UsersCommand::Enable { username, endpoint } => {
            let username = Username::parse(&username)?;
            admin::enable_user(endpoint.as_deref(), config(env)?, &username).await?;
            println!("user {username} enabled; it can log in again");
        }
        UsersCommand::List { endpoint, out } => {
            let users = admin::list_users(endpoint.as_deref(), config(env)?).await?;
            let mut listing = Listing::new(&[
                Column::text("USER_ID"),
                Column::text("USERNAME"),
                Column::text("ROLES"),
                Column::text("STATE"),
                Column::text("CREATED_AT"),
            ]);
            for u in users {
                let roles = role_names(&u.roles);
                listing.push(
                    vec![
                        u.user_id.clone(),
                        u.username.to_string(),
                        join(&roles),
                        if u.disabled { "disabled" } else { "enabled" }.into(),
                        rfc3339(u.created_at),
                    ],
                    serde_json::json!({
                        "user_id": u.user_id,
                        "username": u.username.as_str(),
                        "roles": roles,
                        "disabled": u.disabled,
                        "created_at": rfc3339(u.created_at),
                    }),
                );
            }
            listing.print(out.output);
        }
        UsersCommand::Roles {
            username,
            roles,
            endpoint,
        } => {
            let roles = parse_roles(&roles)?;
            let username = Username::parse(&username)?;
            match admin::set_roles(endpoint.as_deref(), config(env)?, &username, &roles).await? {
                RolesOutcome::Unchanged => {
                    println!("user {username} already has exactly these roles; nothing changed");
                }
                RolesOutcome::Changed { from, revoked } => println!(
                    "roles of {username} changed from {} to {}; every token issued before is revoked (generation {})",
                    join(&role_names(&from)),
                    join(&role_names(&roles)),
                    revoked.generation
                ),
            }
        }
        UsersCommand::RevokeAll {
            username,
            reason,
            endpoint,
        } => {
            let username = Username::parse(&username)?;
            let outcome =
                admin::revoke_all(endpoint.as_deref(), config(env)?, &username, &reason).await?;
            println!(
                "every token of {username} is revoked ({} live sessions ended; generation {})",
                outcome.revoked_count, outcome.generation
            );
        }
    }
    Ok(())
}

/// `warden audit check-proof FILE --key PUBKEY.pem`: what the proof shows,
/// or an error saying what does not hold.
fn check_proof(file: &std::path::Path, key: Option<&std::path::Path>) -> Result<(), Error> {
    use warden::audit::note::NoteKey;
    use warden::audit::proof::Proof;
    let Some(key) = key else {
        return Err(Error::BadRequest(
            "--key PUBKEY.pem is required: a proof is checked against the checkpoint key pinned out of band (`warden audit public-key`), never against a key it carries".into(),
        ));
    };
    let read = |path: &std::path::Path, what: &str| -> Result<String, Error> {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| {
                Error::BadRequest(format!("reading {what} from standard input: {e}"))
            })?;
            return Ok(text);
        }
        std::fs::read_to_string(path)
            .map_err(|e| Error::BadRequest(format!("reading {what} {}: {e}", path.display())))
    };
    let proof = Proof::parse(&read(file, "the proof")?)?;
    // The key's name is the checkpoint's origin line; the key itself is
    // the pinned one, whose ID the signature must carry.
    let origin = proof.checkpoint.lines().next().unwrap_or_default();
    let key = NoteKey::from_pem(origin, &read(key, "the key")?)?;
    let proven = proof.check(&key)?;
    println!(
        "ok: event {} ({}, {}) is leaf {} of the checkpoint of {} ({} events), signed by {} (key ID {})",
        proven.event.event_id,
        proven.event.event_type.as_str(),
        query::rfc3339_millis(proven.event.at_millis),
        proof.index,
        warden::audit::checkpoint::minute_text(proven.checkpoint.minute),
        proven.checkpoint.size,
        key.name(),
        hex::encode(key.id())
    );
    Ok(())
}

async fn audit(command: AuditCommand, env: &Env) -> Result<ExitCode, Error> {
    let (actor, event_type, since, limit, json, endpoint, out) = match command {
        AuditCommand::CheckProof { file, key } => {
            return check_proof(&file, key.as_deref()).map(|()| ExitCode::SUCCESS);
        }
        AuditCommand::Verify {
            since,
            until,
            key,
            data_dir,
            endpoint,
            out,
        } => {
            return audit_verify(env, (since, until), key, data_dir, endpoint, out.output).await;
        }
        AuditCommand::Prove { event_id, endpoint } => {
            let access =
                warden_cli::ledger::Access::open(endpoint.as_deref(), config(env)?, None).await;
            emit(&access.prove(&event_id).await?);
            return Ok(ExitCode::SUCCESS);
        }
        AuditCommand::PublicKey { data_dir, endpoint } => {
            let access = warden_cli::ledger::Access::open(
                endpoint.as_deref(),
                config(env)?,
                data_dir.as_deref(),
            )
            .await;
            emit(&access.public_key_pem().await?);
            return Ok(ExitCode::SUCCESS);
        }
        AuditCommand::Query {
            actor,
            event_type,
            since,
            limit,
            json,
            endpoint,
            out,
        } => (actor, event_type, since, limit, json, endpoint, out),
    };
    let output = if json { Output::Json } else { out.output };
    let since = query::parse_since(&since, query::Surface::Cli)?;
    let event_type = event_type
        .as_deref()
        .map(query::parse_event_type)
        .transpose()?;
    let events = admin::audit_query(
        endpoint.as_deref(),
        config(env)?,
        actor,
        event_type,
        since,
        limit,
    )
    .await?;
    let mut listing = Listing::new(&[
        Column::text("TIME"),
        Column::text("TYPE"),
        Column::text("SEVERITY"),
        Column::text("ACTOR"),
        Column::text("SUBJECT"),
        Column::text("ORIGIN"),
        Column::text("DETAILS"),
    ]);
    for e in &events {
        listing.push(admin::event_cells(e), query::event_json(e));
    }
    listing.print(output);
    if events.len() == limit {
        eprintln!("showing the newest {limit} events; there may be more (--limit, --since)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `warden audit verify`: exit 0 when the ledger holds over the range, 1
/// naming the first failure. Progress goes to standard error on a
/// terminal.
async fn audit_verify(
    env: &Env,
    (since, until): (String, Option<String>),
    key: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    endpoint: Option<String>,
    output: Output,
) -> Result<ExitCode, Error> {
    use std::io::IsTerminal as _;
    use warden::clock::Clock as _;
    let now = warden::clock::SystemClock.now_millis();
    let since = warden_cli::ledger::parse_time(&since, "--since", now)?;
    let until = until
        .map(|u| warden_cli::ledger::parse_time(&u, "--until", now))
        .transpose()?
        .unwrap_or(now);
    if since > until {
        return Err(Error::BadRequest("--since is after --until".into()));
    }
    let pinned = key
        .map(|path| {
            std::fs::read_to_string(&path)
                .map_err(|e| Error::Config(format!("{} cannot be read: {e}", path.display())))
        })
        .transpose()?;
    let access =
        warden_cli::ledger::Access::open(endpoint.as_deref(), config(env)?, data_dir.as_deref())
            .await;
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |r: &warden::audit::verify::Report| {
        if terminal && let Some((_, to)) = r.minutes {
            eprint!(
                "\rverified through {}: {} checkpoints, {} events ",
                warden::audit::checkpoint::minute_text(to),
                r.checkpoints,
                r.events
            );
        }
    };
    let verified = access
        .verify(pinned.as_deref(), (since, until), now, &mut progress)
        .await?;
    if terminal {
        eprintln!();
    }
    match output {
        Output::Json => print_json(&verified.json()),
        Output::Table => match &verified.report.failure {
            None => emit(&verified.summary()),
            Some(failure) => eprintln!("error: the ledger does not hold: {failure}"),
        },
    }
    Ok(if verified.report.failure.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn webhooks(command: WebhooksCommand, env: &Env) -> Result<(), Error> {
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
    let config = config(env)?;
    let secret = secret_input::read_stdin(secret_input::Ask {
        prompt: &format!("New secret of webhook source {source}: "),
        what: "the webhook secret",
        // Pasted from the provider, and the previous secret keeps
        // verifying: no second entry.
        confirm: false,
    })?;
    let set =
        admin::set_webhook_secret(endpoint.as_deref(), config, &source, &secret, scheme).await?;
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

async fn signing_key(command: SigningKeyCommand, env: &Env) -> Result<(), Error> {
    // What changed, for a person: with the table on standard output, on
    // standard error with JSON (which alone is on standard output).
    let output_of = |c: &SigningKeyCommand| match c {
        SigningKeyCommand::Rotate { out, .. }
        | SigningKeyCommand::Retire { out, .. }
        | SigningKeyCommand::List { out, .. } => out.output,
    };
    let json = output_of(&command) == Output::Json;
    let say = |line: String| {
        if json {
            eprintln!("{line}");
        } else {
            emit(&format!("{line}\n"));
        }
    };
    let (changed, set, output) = match command {
        SigningKeyCommand::Rotate { endpoint, out } => {
            let changed = admin::rotate_signing_key(endpoint.as_deref(), config(env)?).await?;
            if let (Some(new), Some(entry)) = (&changed.new_key, changed.set.keys.last()) {
                say(format!(
                    "new signing key {} ({}) is published now and signs from {}",
                    new.kid,
                    new.arn,
                    rfc3339(entry.sign_from)
                ));
            }
            (true, changed.set, out.output)
        }
        SigningKeyCommand::Retire {
            kid,
            now,
            endpoint,
            out,
        } => {
            debug_assert!(now, "clap requires --now");
            let changed =
                admin::retire_signing_key(endpoint.as_deref(), config(env)?, &kid).await?;
            say(format!(
                "signing key {kid} is retired: refused everywhere within a minute"
            ));
            if let Some(new) = &changed.new_key {
                say(format!(
                    "replacement {} ({}) signs now; API Gateway JWT authorizers may refuse its tokens until they fetch the key set again (up to 2 hours)",
                    new.kid, new.arn
                ));
            }
            (true, changed.set, out.output)
        }
        SigningKeyCommand::List { endpoint, out } => (
            false,
            admin::signing_keys(endpoint.as_deref(), config(env)?).await?,
            out.output,
        ),
    };
    let now = warden::clock::SystemClock.now_secs();
    let time = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), rfc3339);
    let mut listing = Listing::new(&[
        Column::text("KID"),
        Column::text("STATE"),
        Column::text("PUBLISH_FROM"),
        Column::text("SIGN_FROM"),
        Column::text("SIGN_UNTIL"),
        Column::text("RETIRE_AT"),
        Column::text("ARN"),
    ]);
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
        listing.push(
            vec![
                k.kid.clone(),
                state.into(),
                time(Some(k.publish_from)),
                time(Some(k.sign_from)),
                time(k.sign_until),
                time(k.retire_at),
                k.arn.clone(),
            ],
            serde_json::json!({
                "kid": k.kid,
                "state": state,
                "publish_from": time(Some(k.publish_from)),
                "sign_from": time(Some(k.sign_from)),
                "sign_until": k.sign_until.map(rfc3339),
                "retire_at": k.retire_at.map(rfc3339),
                "arn": k.arn,
            }),
        );
    }
    listing.print(output);
    if changed {
        say("warm functions read the key set again within a minute".into());
    }
    Ok(())
}

async fn config_check(env: &Env, endpoint: Option<String>, output: Output) -> ExitCode {
    let mut findings = admin::check_config(|k| env.var(k)).await;
    if let Some(f) = admin::check_memberships(|k| env.var(k), endpoint.as_deref()).await {
        findings.0.push(f);
    }
    let refused = findings.has_errors();
    match output {
        Output::Json => print_json(&serde_json::json!({
            "findings": findings.0,
            "start_up": if refused { "refused" } else { "allowed" },
        })),
        Output::Table => {
            findings_listing(&findings).print(Output::Table);
            emit(&format!(
                "start-up would be {}\n",
                if refused { "refused" } else { "allowed" }
            ));
        }
    }
    if refused {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Every finding, with the remediation of those not ok.
fn findings_listing(findings: &warden::config::Findings) -> Listing {
    let mut listing = Listing::new(&[
        Column::text("SEVERITY"),
        Column::text("CHECK"),
        Column::text("FINDING"),
    ]);
    for f in &findings.0 {
        let label = match f.severity {
            Severity::Ok => "ok",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        };
        // The fix under the finding, in the same column.
        let text = if f.severity == Severity::Ok {
            f.message.clone()
        } else {
            format!("{}\nfix: {}", f.message, f.remediation)
        };
        listing.push(vec![label.into(), f.check.to_string(), text], f);
    }
    listing
}

/// `warden health`: the report of `GET /security/health` for the
/// deployment the environment (or the stack) describes, with the
/// configuration findings of `warden config check` (the same code). Exit 1
/// when failing.
async fn health(env: &Env, endpoint: Option<String>, output: Output) -> ExitCode {
    match admin::health_report(|k| env.var(k), endpoint.as_deref()).await {
        Err(findings) => {
            match output {
                Output::Json => print_json(&serde_json::json!({
                    "status": "failing",
                    "findings": findings.0,
                    "error": "the configuration cannot be read",
                })),
                Output::Table => {
                    findings_listing(&findings).print(Output::Table);
                    emit("the configuration cannot be read: report failing\n");
                }
            }
            ExitCode::FAILURE
        }
        Ok((findings, report)) => {
            match output {
                Output::Json => {
                    let mut document = serde_json::to_value(&report).unwrap_or_default();
                    if let Some(object) = document.as_object_mut() {
                        object.insert(
                            "findings".into(),
                            serde_json::to_value(&findings.0).unwrap_or_default(),
                        );
                    }
                    print_json(&document);
                }
                Output::Table => {
                    findings_listing(&findings).print(Output::Table);
                    emit("\n");
                    admin::report_listing(&report).print(Output::Table);
                    emit(&admin::render_summary(&report));
                }
            }
            if report.status == warden::health::Status::Failing {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

async fn workspaces(command: WorkspacesCommand, env: &Env) -> Result<(), Error> {
    match command {
        WorkspacesCommand::Add {
            workspace_id,
            name,
            endpoint,
        } => {
            let id = WorkspaceId::parse(&workspace_id)?;
            let w = admin::add_workspace(endpoint.as_deref(), config(env)?, id, &name).await?;
            println!("added workspace {} ({})", w.workspace_id, w.name);
        }
        WorkspacesCommand::AddMember {
            workspace_id,
            username,
            endpoint,
        } => set_membership(env, &workspace_id, &username, true, endpoint).await?,
        WorkspacesCommand::RemoveMember {
            workspace_id,
            username,
            endpoint,
        } => set_membership(env, &workspace_id, &username, false, endpoint).await?,
    }
    Ok(())
}

async fn set_membership(
    env: &Env,
    workspace_id: &str,
    username: &str,
    member: bool,
    endpoint: Option<String>,
) -> Result<(), Error> {
    let workspace = WorkspaceId::parse(workspace_id)?;
    let user = Username::parse(username)?;
    let user_id =
        admin::set_membership(endpoint.as_deref(), config(env)?, &workspace, &user, member).await?;
    if member {
        println!("{user} ({user_id}) is a member of workspace {workspace}");
    } else {
        println!("{user} ({user_id}) is no longer a member of workspace {workspace}");
    }
    Ok(())
}

async fn agents(command: AgentsCommand, env: &Env) -> Result<(), Error> {
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
            let a = admin::register_agent(endpoint.as_deref(), config(env)?, agent).await?;
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
            admin::set_maturity(endpoint.as_deref(), config(env)?, &id, maturity).await?;
            println!("agent {id} is now {maturity}");
        }
        AgentsCommand::Disable { agent_id, endpoint } => {
            let id = AgentId::parse(&agent_id)?;
            admin::set_enabled(endpoint.as_deref(), config(env)?, &id, false).await?;
            println!("agent {id} disabled; its queued jobs will not run");
        }
        AgentsCommand::Enable { agent_id, endpoint } => {
            let id = AgentId::parse(&agent_id)?;
            admin::set_enabled(endpoint.as_deref(), config(env)?, &id, true).await?;
            println!("agent {id} enabled");
        }
        AgentsCommand::List { endpoint, out } => {
            let agents = admin::list_agents(endpoint.as_deref(), config(env)?).await?;
            let mut listing = Listing::new(&[
                Column::text("AGENT_ID"),
                Column::text("TYPE"),
                Column::text("MATURITY"),
                Column::text("STATE"),
                Column::text("WORKSPACES"),
            ]);
            for a in agents {
                listing.push(
                    vec![
                        a.agent_id.to_string(),
                        a.agent_type.to_string(),
                        a.maturity.to_string(),
                        if a.enabled { "enabled" } else { "disabled" }.into(),
                        join(&a.workspaces),
                    ],
                    serde_json::json!({
                        "agent_id": a.agent_id,
                        "agent_type": a.agent_type,
                        "maturity": a.maturity,
                        "enabled": a.enabled,
                        "workspaces": a.workspaces,
                    }),
                );
            }
            listing.print(out.output);
        }
    }
    Ok(())
}

async fn tools(command: ToolsCommand, env: &Env) -> Result<(), Error> {
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
            let done = admin::register_tool(endpoint.as_deref(), config(env)?, tool).await?;
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
        ToolsCommand::List { endpoint, out } => {
            let tools = admin::list_tools(endpoint.as_deref(), config(env)?).await?;
            let mut listing = Listing::new(&[
                Column::text("NAME"),
                Column::number("COMPLEXITY"),
                Column::text("VERSION"),
                Column::text("REGISTERED_AT"),
                Column::text("WORKSPACES"),
            ]);
            for t in tools {
                listing.push(
                    vec![
                        t.name.to_string(),
                        t.complexity.level().to_string(),
                        t.version.clone(),
                        rfc3339(t.registered_at),
                        join(&t.workspaces),
                    ],
                    serde_json::json!({
                        "name": t.name.as_str(),
                        "complexity": t.complexity.level(),
                        "version": t.version,
                        "registered_at": rfc3339(t.registered_at),
                        "workspaces": t.workspaces,
                    }),
                );
            }
            listing.print(out.output);
        }
        ToolsCommand::Remove { name, endpoint } => {
            let name = ToolName::parse(&name)?;
            admin::remove_tool(endpoint.as_deref(), config(env)?, &name).await?;
            println!(
                "removed tool {name}; its calls are refused, and its pending proposals and unused approvals are void"
            );
        }
    }
    Ok(())
}

async fn apikeys(command: ApikeysCommand, env: &Env) -> Result<(), Error> {
    match command {
        ApikeysCommand::Create {
            owner,
            service,
            for_user,
            scopes,
            expires_in_days,
            rate_limit_per_hour,
            endpoint,
            out,
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
                admin::create_key(endpoint.as_deref(), config(env)?, spec, for_user.as_ref())
                    .await?;
            let r = &created.record;
            match out.output {
                Output::Json => print_json(&serde_json::json!({
                    "key_id": r.key_id,
                    "key": created.key.expose_secret(),
                    "owner": r.owner.to_string(),
                    "scopes": r.scopes,
                    "expires_at": r.expires_at.map(rfc3339),
                    "rate_limit_per_hour": r.rate_limit_per_hour,
                })),
                Output::Table => {
                    println!(
                        "created API key {} for {} {} (shown once; store it now):",
                        r.key_id,
                        match r.owner {
                            KeyOwner::Agent(_) => "agent",
                            KeyOwner::Service(_) => "service",
                        },
                        r.owner
                    );
                    println!("{}", created.key.expose_secret());
                }
            }
        }
        ApikeysCommand::Revoke { key_id, endpoint } => {
            let key_id = admin::revoke_key(endpoint.as_deref(), config(env)?, &key_id).await?;
            println!("API key {key_id} revoked");
        }
        ApikeysCommand::List { endpoint, out } => {
            let keys = admin::list_keys(endpoint.as_deref(), config(env)?).await?;
            let mut listing = Listing::new(&[
                Column::text("KEY_ID"),
                Column::text("OWNER"),
                Column::text("SCOPES"),
                Column::text("STATE"),
                Column::number("LIMIT/H"),
                Column::number("USED"),
                Column::text("LAST_USED"),
            ]);
            for k in keys {
                let state = match (k.revoked_at, k.expires_at) {
                    (Some(_), _) => "revoked".to_owned(),
                    (None, Some(at)) => format!("expires {}", rfc3339(at)),
                    (None, None) => "no expiry".to_owned(),
                };
                listing.push(
                    vec![
                        k.key_id.clone(),
                        k.owner.to_string(),
                        join(&k.scopes),
                        state,
                        k.rate_limit_per_hour.to_string(),
                        k.usage_count.to_string(),
                        k.last_used_at.map_or_else(|| "never".to_owned(), rfc3339),
                    ],
                    serde_json::json!({
                        "key_id": k.key_id,
                        "owner": k.owner.to_string(),
                        "created_by": k.created_by,
                        "scopes": k.scopes,
                        "expires_at": k.expires_at.map(rfc3339),
                        "revoked_at": k.revoked_at.map(rfc3339),
                        "rate_limit_per_hour": k.rate_limit_per_hour,
                        "usage_count": k.usage_count,
                        "last_used_at": k.last_used_at.map(rfc3339),
                    }),
                );
            }
            listing.print(out.output);
        }
    }
    Ok(())
}
