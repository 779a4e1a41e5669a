//! Administration commands: `tables create`, `users add`,
//! `users set-password`, `users disable`, `users enable`, `config check`,
//! `workspaces add`, `agents register|set-maturity|disable|enable|list`,
//! `apikeys create|revoke|list`, `health`.

use std::sync::Arc;

use secrecy::SecretString;
use warden::Error;
use warden::agents::{self, registry::NewAgent};
use warden::auth::api_keys::{self, KeySpec, NewKey};
use warden::auth::login::create_user;
use warden::auth::revocation;
use warden::aws::Guards;
use warden::clock::SystemClock;
use warden::config::{Check, Config, Finding, Findings, Severity, check_jwt_key};
use warden::domain::agents::{
    AgentId, AgentRecord, ApiKeyRecord, Maturity, WorkspaceId, WorkspaceRecord,
};
use warden::domain::{Role, Username};
use warden::health::{self, checks::HealthReport};
use warden::secrets::SecretsManager;
use warden::state::{Accounts, HealthState, Registry, api_key_pepper, signing_keys};
use warden::store::dynamo::{DynamoStore, tables};

use crate::seed::{OPERATOR, cli_origin};
use crate::serve::aws_config;

/// Creates every table under the configured prefix at `endpoint` (or the
/// default AWS configuration), with `guards` on each call. Returns the
/// names created.
pub async fn create_tables(
    endpoint: Option<&str>,
    prefix: &str,
    guards: &Guards,
) -> Result<Vec<String>, Error> {
    let aws = aws_config(guards, endpoint).await;
    tables::create_all(&aws_sdk_dynamodb::Client::new(&aws), prefix).await
}

/// The accounts over the DynamoDB tables at `endpoint`, for user
/// administration. No signing key is read: nothing here issues a token.
async fn accounts(endpoint: Option<&str>, config: Config) -> Result<Accounts, Error> {
    let aws = aws_config(&config.aws, endpoint).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_prefix);
    Accounts::new(config, Arc::new(store), Arc::new(SystemClock))
}

/// Creates a user in DynamoDB with the given roles; returns its id.
pub async fn add_user(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
    password: &SecretString,
    roles: &[Role],
) -> Result<String, Error> {
    let accounts = accounts(endpoint, config).await?;
    let user = create_user(&accounts, cli_origin(), username, password, roles).await?;
    Ok(user.user_id)
}

/// Sets a user's password in DynamoDB and revokes every token they hold;
/// returns the user's new generation.
pub async fn set_password(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
    password: &SecretString,
) -> Result<u64, Error> {
    let accounts = accounts(endpoint, config).await?;
    let outcome =
        revocation::set_password(&accounts, cli_origin(), OPERATOR, username, password).await?;
    Ok(outcome.generation)
}

/// Disables a user in DynamoDB: no more logins, and every token it holds
/// dies in the same write. Returns the user's new generation.
pub async fn disable_user(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
) -> Result<u64, Error> {
    let accounts = accounts(endpoint, config).await?;
    let outcome = revocation::disable_user(&accounts, cli_origin(), OPERATOR, username).await?;
    Ok(outcome.generation)
}

/// Enables a disabled user in DynamoDB.
pub async fn enable_user(
    endpoint: Option<&str>,
    config: Config,
    username: &Username,
) -> Result<(), Error> {
    let accounts = accounts(endpoint, config).await?;
    revocation::enable_user(&accounts, cli_origin(), OPERATOR, username).await
}

/// Every configuration finding, the signing key included (fetched from
/// Secrets Manager when configured so).
pub async fn check_config(lookup: impl Fn(&str) -> Option<String>) -> Findings {
    check_config_at(lookup, None).await
}

/// [`check_config`] with Secrets Manager at `endpoint` (an emulator).
pub async fn check_config_at(
    lookup: impl Fn(&str) -> Option<String>,
    endpoint: Option<&str>,
) -> Findings {
    let (config, mut findings) = Config::load(lookup);
    let Some(config) = config else {
        return findings;
    };
    let secrets = match &config.jwt_secret_arn {
        Some(_) => Some(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            &aws_config(&config.aws, endpoint).await,
        ))),
        None => None,
    };
    let source_ok = !findings
        .0
        .iter()
        .any(|f| f.check == Check::JwtKeySource && f.severity == Severity::Error);
    if source_ok {
        match signing_keys(&config, secrets.as_ref().map(|s| s as _)).await {
            Ok(keys) => findings.0.extend(
                keys.iter()
                    .map(|k| check_jwt_key(&k.value, &format!("key version {}", k.version_id))),
            ),
            Err(e) => findings.0.push(Finding {
                check: Check::JwtKey,
                severity: Severity::Error,
                message: e.to_string(),
                remediation: "make the JWT key readable and at least 32 random bytes".into(),
            }),
        }
    }
    findings
}

/// `warden health`: the configuration findings of `warden config check`
/// (the same code) and the report of `GET /security/health` for the
/// deployment `lookup` describes, its AWS clients pointed at `endpoint`
/// when given. The findings alone when the configuration cannot be read.
pub async fn health_report(
    lookup: impl Fn(&str) -> Option<String>,
    endpoint: Option<&str>,
) -> Result<(Findings, HealthReport), Findings> {
    let findings = check_config_at(&lookup, endpoint).await;
    let Some(config) = Config::load(&lookup).0 else {
        return Err(findings);
    };
    let aws = aws_config(&config.aws, endpoint).await;
    let mut state = HealthState::with_aws(config, &aws).await;
    state.findings = findings.clone();
    Ok((findings, health::checks::health_report(&state).await))
}

/// A health report as terminal lines: each check, then uptime and the last
/// incident, then the overall status.
pub fn render_report(report: &HealthReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for c in &report.checks {
        let _ = writeln!(
            out,
            "{:<9} {:<26} {:>5} ms  {}",
            c.status.as_str(),
            c.name,
            c.latency_ms,
            c.detail
        );
    }
    let u = &report.uptime;
    let _ = writeln!(
        out,
        "uptime    24h {}% ({}% unknown), 7d {}% ({}% unknown), 30d {}% ({}% unknown)",
        u.pct_24h, u.unknown_pct_24h, u.pct_7d, u.unknown_pct_7d, u.pct_30d, u.unknown_pct_30d
    );
    let _ = match &u.last_incident {
        None => writeln!(out, "incident  none in 30 days"),
        Some(i) => writeln!(
            out,
            "incident  {} to {} ({})",
            i.start,
            i.end.as_deref().unwrap_or("now, still open"),
            i.checks.join(", ")
        ),
    };
    let _ = writeln!(
        out,
        "report    {} (each check's timeout: {} ms)",
        report.status, report.check_timeout_ms
    );
    out
}

/// The agent registry over the DynamoDB tables at `endpoint`.
async fn registry(endpoint: Option<&str>, config: Config) -> Result<Registry, Error> {
    let aws = aws_config(&config.aws, endpoint).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_prefix);
    Ok(Registry {
        config,
        store: Arc::new(store),
        clock: Arc::new(SystemClock),
    })
}

/// Adds a workspace.
pub async fn add_workspace(
    endpoint: Option<&str>,
    config: Config,
    workspace_id: WorkspaceId,
    name: &str,
) -> Result<WorkspaceRecord, Error> {
    let registry = registry(endpoint, config).await?;
    agents::registry::add_workspace(&registry, cli_origin(), workspace_id, name).await
}

/// Registers an agent.
pub async fn register_agent(
    endpoint: Option<&str>,
    config: Config,
    agent: NewAgent,
) -> Result<AgentRecord, Error> {
    let registry = registry(endpoint, config).await?;
    agents::registry::register_agent(&registry, cli_origin(), agent).await
}

/// Changes an agent's maturity.
pub async fn set_maturity(
    endpoint: Option<&str>,
    config: Config,
    agent_id: &AgentId,
    maturity: Maturity,
) -> Result<AgentRecord, Error> {
    let registry = registry(endpoint, config).await?;
    agents::registry::set_maturity(&registry, cli_origin(), agent_id, maturity).await
}

/// Flips an agent's kill switch.
pub async fn set_enabled(
    endpoint: Option<&str>,
    config: Config,
    agent_id: &AgentId,
    enabled: bool,
) -> Result<(), Error> {
    let registry = registry(endpoint, config).await?;
    agents::registry::set_enabled(&registry, cli_origin(), agent_id, enabled).await
}

/// Every agent.
pub async fn list_agents(
    endpoint: Option<&str>,
    config: Config,
) -> Result<Vec<AgentRecord>, Error> {
    registry(endpoint, config).await?.store.list_agents().await
}

/// Creates an API key; the whole key is returned to be shown once. The
/// pepper must be one that the deployed functions share: from
/// `WARDEN_API_KEY_PEPPER_ARN`, or in development `WARDEN_API_KEY_PEPPER`
/// (a pepper generated for this process would make the key useless).
pub async fn create_key(
    endpoint: Option<&str>,
    config: Config,
    spec: KeySpec,
) -> Result<NewKey, Error> {
    if config.api_key_pepper.is_none() && config.api_key_pepper_arn.is_none() {
        return Err(Error::Config(
            "set WARDEN_API_KEY_PEPPER_ARN (or, in development, WARDEN_API_KEY_PEPPER) to the pepper the functions use".into(),
        ));
    }
    let secrets = match &config.api_key_pepper_arn {
        Some(_) => Some(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            &aws_config(&config.aws, None).await,
        ))),
        None => None,
    };
    let pepper = api_key_pepper(&config, secrets.as_ref().map(|s| s as _)).await?;
    let registry = registry(endpoint, config).await?;
    api_keys::create_key(&registry, &pepper, cli_origin(), spec).await
}

/// Revokes an API key at once.
pub async fn revoke_key(endpoint: Option<&str>, config: Config, key_id: &str) -> Result<(), Error> {
    let registry = registry(endpoint, config).await?;
    api_keys::revoke_key(&registry, cli_origin(), key_id).await
}

/// Every API key (never a secret: the store holds none).
pub async fn list_keys(endpoint: Option<&str>, config: Config) -> Result<Vec<ApiKeyRecord>, Error> {
    registry(endpoint, config)
        .await?
        .store
        .list_api_keys()
        .await
}
