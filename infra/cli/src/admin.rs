//! Administration commands: `tables create`, `users add`,
//! `users set-password`, `config check`.

use std::sync::Arc;

use secrecy::SecretString;
use warden::auth::login::create_user;
use warden::auth::revocation::set_password as set_password_and_revoke;
use warden::auth::Role;
use warden::aws::Guards;
use warden::clock::SystemClock;
use warden::config::{check_jwt_key, Config, Finding, Findings, Severity};
use warden::secrets::SecretsManager;
use warden::state::{signing_keys, AppState};
use warden::store::dynamo::{tables, DynamoStore};
use warden::Error;

use crate::seed::cli_context;
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

/// A state over the DynamoDB tables at `endpoint`, for user
/// administration. It signs no token, so a throwaway key completes it.
async fn admin_state(endpoint: Option<&str>, config: Config) -> Result<AppState, Error> {
    let aws = aws_config(&config.aws, endpoint).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_prefix);
    let mut throwaway = config.clone();
    throwaway.env = warden::config::Environment::Development;
    throwaway.jwt_secret = None;
    throwaway.jwt_secret_arn = None;
    let keys = signing_keys(&throwaway, None).await?;
    AppState::new(config, Arc::new(store), &keys, Arc::new(SystemClock))
}

/// Creates a user in DynamoDB with the given roles; returns its id.
pub async fn add_user(
    endpoint: Option<&str>,
    config: Config,
    username: &str,
    password: &SecretString,
    roles: &[Role],
) -> Result<String, Error> {
    let state = admin_state(endpoint, config).await?;
    let user = create_user(&state, &cli_context(), username, password, roles).await?;
    Ok(user.user_id)
}

/// Sets a user's password in DynamoDB and revokes every token they hold;
/// returns the user's new generation.
pub async fn set_password(
    endpoint: Option<&str>,
    config: Config,
    username: &str,
    password: &SecretString,
) -> Result<u64, Error> {
    let state = admin_state(endpoint, config).await?;
    let outcome =
        set_password_and_revoke(&state, &cli_context(), "local-cli", username, password).await?;
    Ok(outcome.generation)
}

/// Every configuration finding, the signing key included (fetched from
/// Secrets Manager when configured so).
pub async fn check_config(lookup: impl Fn(&str) -> Option<String>) -> Findings {
    let (config, mut findings) = Config::load(lookup);
    let Some(config) = config else {
        return findings;
    };
    let secrets = match &config.jwt_secret_arn {
        Some(_) => Some(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            &aws_config(&config.aws, None).await,
        ))),
        None => None,
    };
    let source_ok = !findings
        .0
        .iter()
        .any(|f| f.check == "jwt_key_source" && f.severity == Severity::Error);
    if source_ok {
        match signing_keys(&config, secrets.as_ref().map(|s| s as _)).await {
            Ok(keys) => findings.0.extend(
                keys.iter()
                    .map(|k| check_jwt_key(&k.value, &format!("key version {}", k.version_id))),
            ),
            Err(e) => findings.0.push(Finding {
                check: "jwt_key",
                severity: Severity::Error,
                message: e.to_string(),
                remediation: "make the JWT key readable and at least 32 random bytes".into(),
            }),
        }
    }
    findings
}
