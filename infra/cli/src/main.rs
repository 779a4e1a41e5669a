//! `warden`: run the API locally and administer a deployment.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::{Parser, Subcommand};
use rand::RngCore as _;
use secrecy::SecretString;
use warden::auth::login::create_user;
use warden::aws::Guards;
use warden::config::{Config, Severity};
use warden::domain::{Role, Username};
use warden::Error;
use warden_cli::admin;
use warden_cli::seed::{cli_origin, Seed};
use warden_cli::serve::{self, LocalApi};

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
        /// A JSON seed file: {"users": [{"username", "password", "roles"}]}.
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
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print every configuration finding; exit non-zero if start-up would be refused.
    Check,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
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
        Command::Config {
            command: ConfigCommand::Check,
        } => return config_check().await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_serve(
    addr: SocketAddr,
    seed: Option<PathBuf>,
    endpoint: Option<String>,
) -> Result<(), Error> {
    let config = serve::local_config(|k| std::env::var(k).ok())?;
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
    for source in states.webhooks.sources.all() {
        println!(
            "webhook source {} ({}) at POST /webhooks/{}",
            source.name,
            source.scheme.as_str(),
            source.name
        );
    }
    let api = LocalApi::start_with(addr, states)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    println!("warden listening on {}", api.url());
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Error::internal(format!("waiting for Ctrl-C: {e}")))?;
    println!("shutting down");
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
    let created = admin::create_tables(endpoint.as_deref(), &table_prefix(), &aws_guards()).await?;
    if created.is_empty() {
        println!("every table already exists");
    }
    for name in created {
        println!("created table {name}");
    }
    Ok(())
}

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> Result<SecretString, Error> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::BadRequest(format!("reading the password from stdin: {e}")))?;
    Ok(SecretString::from(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

async fn set_password(username: &str, endpoint: Option<String>) -> Result<(), Error> {
    let username = Username::parse(username)?;
    let password = password_from_stdin()?;
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
    let password = password_from_stdin()?;
    let config = serve::local_config(|k| std::env::var(k).ok())?;
    let user_id =
        admin::add_user(endpoint.as_deref(), config, &username, &password, &roles).await?;
    println!("created user {username} ({user_id})");
    Ok(())
}

async fn config_check() -> ExitCode {
    let findings = admin::check_config(|k| std::env::var(k).ok()).await;
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
    if findings.has_errors() {
        println!("start-up would be refused");
        ExitCode::FAILURE
    } else {
        println!("start-up would be allowed");
        ExitCode::SUCCESS
    }
}
