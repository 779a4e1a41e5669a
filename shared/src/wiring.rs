//! The Lambda cold starts: each function's state filled from AWS, once per
//! cold start, and the rules for where each secret comes from.
//!
//! This module sits above the use cases: it builds the SDK clients (with
//! the timeouts of [`crate::aws`]), the DynamoDB store, the SQS queues and
//! the Secrets Manager reads, and hands them to the plain structs of
//! [`crate::state`]. The use cases take those structs and never import
//! this module; outside [`crate::aws`] and the adapters it is the only
//! file that names the AWS SDK. A cold start fails (the function's init
//! errors, so it never serves) when anything is insecure or missing.
//!
//! Where secrets come from:
//! - the JWT signing keys ([`signing_keys`]): Secrets Manager by ARN, read
//!   again every cache TTL and on an unknown `kid`; in development
//!   `WARDEN_JWT_SECRET` or a key generated for the process;
//! - the API-key pepper ([`api_key_pepper`]): Secrets Manager by ARN, read
//!   once; in development `WARDEN_API_KEY_PEPPER` or generated;
//! - the webhook sources: Secrets Manager by ARN (`WARDEN_WEBHOOK_SECRETS_ARN`),
//!   read again every cache TTL and when a delivery does not verify; the
//!   health functions keep only their summaries ([`WebhookInventory`]).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};

use crate::auth::jwt::{AccessTokens, TokenCodec};
use crate::auth::pepper::Pepper;
use crate::aws::SdkConfig;
use crate::aws::dependencies::AwsDependencies;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Environment, Severity as FindingSeverity, check_jwt_key};
use crate::health::inventory::{Inventory, WebhookInventory};
use crate::queue::SqsQueue;
use crate::secrets::cache::{CachedSecret, Versions};
use crate::secrets::{SecretVersion, SecretsManager, SecretsPort};
use crate::state::{
    AgentState, AuthState, HealthState, SecurityHealthState, WebhookState, WorkerState,
};
use crate::store::dynamo::DynamoStore;
use crate::webhook::sources::Sources;
use crate::{Error, Result};

/// A Lambda function's cold start: its log subscriber (Lambda's log format
/// and level controls), the configuration from the environment, then the
/// state `build` makes of it, e.g. `cold_start(wiring::agents)`. An
/// insecure or incomplete configuration fails the init: no serving.
pub async fn cold_start<S, F>(build: impl FnOnce(Config) -> F) -> Result<S>
where
    F: std::future::Future<Output = Result<S>>,
{
    crate::logging::init_lambda();
    build(Config::from_env()?).await
}

/// The SDK configuration of a Lambda function: region and credentials from
/// the environment Lambda sets, the configured timeouts and retries.
fn sdk(config: &Config) -> Result<SdkConfig> {
    crate::aws::sdk_config(&config.aws, None)
}

/// The DynamoDB store over `aws`, with the configured table prefix.
fn dynamo(config: &Config, aws: &SdkConfig) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_prefix)
}

/// The Secrets Manager reads over `aws`.
fn secrets_manager(aws: &SdkConfig) -> Arc<dyn SecretsPort> {
    Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
        aws,
    )))
}

/// The SQS queue at `url`, which `variable` must have set.
fn sqs(aws: &SdkConfig, url: Option<&String>, variable: &str) -> Result<Arc<SqsQueue>> {
    let url = url.ok_or_else(|| Error::Config(format!("{variable} is not set")))?;
    Ok(Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(aws), url)))
}

/// The access tokens over `keys`, each checked first. When `keys` came from
/// Secrets Manager (`secrets` given and the configuration names the JWT
/// secret's ARN, see [`signing_keys`]), they are read again every cache TTL
/// and on an unknown `kid` ([`AccessTokens::verify`]); else they are fixed.
fn access_tokens(
    config: &Config,
    keys: &[SecretVersion],
    secrets: Option<Arc<dyn SecretsPort>>,
    clock: Arc<dyn Clock>,
) -> Result<AccessTokens> {
    let codec = TokenCodec::checked(config, keys)?;
    let (Some(secrets), Some(arn)) = (secrets, jwt_secret_arn_in_use(config)) else {
        return Ok(AccessTokens::fixed(codec));
    };
    let rebuild = config.clone();
    Ok(AccessTokens::new(CachedSecret::seeded(
        codec,
        secrets,
        arn,
        Versions::CurrentAndPrevious,
        config.secret_cache_ttl_secs,
        clock,
        move |keys| TokenCodec::checked(&rebuild, &keys),
    )))
}

/// The JWT secret's ARN when the keys come from it: always when it is
/// set, except in development with `WARDEN_JWT_SECRET` (which wins there).
fn jwt_secret_arn_in_use(config: &Config) -> Option<&str> {
    match (config.env, &config.jwt_secret) {
        (Environment::Development, Some(_)) => None,
        _ => config.jwt_secret_arn.as_deref(),
    }
}

/// The signing keys from Secrets Manager and, meanwhile, the DynamoDB
/// connection opened ([`DynamoStore::warm_up`]): a cold start waits for
/// the slower of the two, and the first request finds the connection open.
async fn keys_and_warm_up(
    config: &Config,
    secrets: &dyn SecretsPort,
    store: &DynamoStore,
) -> Result<Vec<SecretVersion>> {
    let (keys, ()) = tokio::join!(signing_keys(config, Some(secrets)), store.warm_up());
    keys
}

/// The JWT signing key set: from Secrets Manager by ARN (current and
/// previous versions), or in development from `WARDEN_JWT_SECRET`, or, in
/// development with neither, a random key for this process only.
pub async fn signing_keys(
    config: &Config,
    secrets: Option<&dyn SecretsPort>,
) -> Result<Vec<SecretVersion>> {
    if let Some(arn) = jwt_secret_arn_in_use(config) {
        let secrets = secrets.ok_or_else(|| {
            Error::Config("WARDEN_JWT_SECRET_ARN is set but no secrets client".into())
        })?;
        return secrets.current_and_previous(arn).await;
    }
    match (config.env, &config.jwt_secret) {
        (Environment::Development, Some(secret)) => {
            let finding = check_jwt_key(secret, "WARDEN_JWT_SECRET");
            if finding.severity == FindingSeverity::Error {
                return Err(Error::Config(format!(
                    "{}: {}",
                    finding.check, finding.message
                )));
            }
            Ok(vec![SecretVersion {
                version_id: "local".into(),
                value: secret.clone(),
                current: true,
            }])
        }
        (Environment::Development, None) => {
            let mut bytes = [0u8; 48];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            Ok(vec![SecretVersion {
                version_id: "generated".into(),
                value: SecretString::from(URL_SAFE_NO_PAD.encode(bytes)),
                current: true,
            }])
        }
        _ => Err(Error::Config(
            "outside development the JWT key must come from WARDEN_JWT_SECRET_ARN".into(),
        )),
    }
}

/// The API-key pepper: from Secrets Manager by ARN, or in development from
/// `WARDEN_API_KEY_PEPPER`, or, in development with neither, a random one
/// for this process only.
pub async fn api_key_pepper(config: &Config, secrets: Option<&dyn SecretsPort>) -> Result<Pepper> {
    match (
        config.env,
        &config.api_key_pepper,
        &config.api_key_pepper_arn,
    ) {
        (Environment::Development, Some(pepper), _) => Pepper::new(pepper),
        (_, _, Some(arn)) => {
            let secrets = secrets.ok_or_else(|| {
                Error::Config("WARDEN_API_KEY_PEPPER_ARN is set but no secrets client".into())
            })?;
            // Only the current version, read once per cold start: a pepper
            // is not rotated (every stored key would stop matching).
            Pepper::new(&secrets.current(arn).await?.value)
        }
        (Environment::Development, None, None) => Ok(Pepper::generate()),
        _ => Err(Error::Config(
            "outside development the API-key pepper must come from WARDEN_API_KEY_PEPPER_ARN"
                .into(),
        )),
    }
}

/// Login, revoke and the authorizer: AWS clients from the default
/// configuration with the configured timeouts ([`crate::aws`]), the
/// DynamoDB store, the signing keys from Secrets Manager.
pub async fn auth(config: Config) -> Result<AuthState> {
    let aws = sdk(&config)?;
    auth_with(config, &aws).await
}

/// [`auth`] with an SDK configuration already loaded.
pub async fn auth_with(config: Config, aws: &SdkConfig) -> Result<AuthState> {
    let store = dynamo(&config, aws);
    let secrets = secrets_manager(aws);
    let keys = keys_and_warm_up(&config, &*secrets, &store).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tokens = access_tokens(&config, &keys, Some(secrets), clock.clone())?;
    AuthState::with_tokens(config, Arc::new(store), tokens, clock)
}

/// Webhook intake: sources from the Secrets Manager secret named by
/// `WARDEN_WEBHOOK_SECRETS_ARN`, the SQS queue at
/// `WARDEN_EVENTS_QUEUE_URL`, the DynamoDB store. Fails when either is
/// missing or a source is incomplete.
pub async fn webhooks(config: Config) -> Result<WebhookState> {
    let aws = sdk(&config)?;
    webhooks_with(config, &aws).await
}

/// [`webhooks`] with an SDK configuration already loaded.
pub async fn webhooks_with(config: Config, aws: &SdkConfig) -> Result<WebhookState> {
    let arn = config
        .webhook_secrets_arn
        .as_deref()
        .ok_or_else(|| Error::Config("WARDEN_WEBHOOK_SECRETS_ARN is not set".into()))?;
    let queue = sqs(
        aws,
        config.events_queue_url.as_ref(),
        "WARDEN_EVENTS_QUEUE_URL",
    )?;
    let store = dynamo(&config, aws);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Only the current version: each source lists every secret it
    // accepts (a rotation's old and new) in the one document.
    let (sources, ()) = tokio::join!(
        CachedSecret::load(
            secrets_manager(aws),
            arn,
            Versions::Current,
            config.secret_cache_ttl_secs,
            clock.clone(),
            |versions| match versions.first() {
                Some(current) => Sources::from_json(current.value.expose_secret()),
                None => Err(Error::Config("the webhook sources secret is empty".into())),
            },
        ),
        store.warm_up()
    );
    Ok(WebhookState::new(
        config,
        Arc::new(store),
        sources?,
        queue,
        clock,
    ))
}

/// Agent runs and proposals: the DynamoDB store, the signing keys and the
/// API-key pepper from Secrets Manager, the SQS jobs queue at
/// `WARDEN_JOBS_QUEUE_URL`. Fails when any is missing or insecure.
pub async fn agents(config: Config) -> Result<AgentState> {
    let aws = sdk(&config)?;
    let jobs = sqs(
        &aws,
        config.jobs_queue_url.as_ref(),
        "WARDEN_JOBS_QUEUE_URL",
    )?;
    let secrets = secrets_manager(&aws);
    let store = Arc::new(dynamo(&config, &aws));
    // Two secrets and the DynamoDB connection, side by side: the cold
    // start waits for one round trip, not three.
    let (keys, pepper) = tokio::try_join!(
        keys_and_warm_up(&config, &*secrets, &store),
        api_key_pepper(&config, Some(&*secrets))
    )?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tokens = access_tokens(&config, &keys, Some(secrets), clock.clone())?;
    Ok(AgentState::with_tokens(
        config,
        store.clone(),
        store,
        tokens,
        pepper,
        jobs,
        clock,
    ))
}

/// The job worker: the DynamoDB store, the SQS outbound queue at
/// `WARDEN_OUTBOUND_QUEUE_URL` and, for the scheduled sweep, the jobs queue
/// at `WARDEN_JOBS_QUEUE_URL`.
pub async fn worker(config: Config) -> Result<WorkerState> {
    let aws = sdk(&config)?;
    let outbound = sqs(
        &aws,
        config.outbound_queue_url.as_ref(),
        "WARDEN_OUTBOUND_QUEUE_URL",
    )?;
    let jobs = sqs(
        &aws,
        config.jobs_queue_url.as_ref(),
        "WARDEN_JOBS_QUEUE_URL",
    )?;
    let store = dynamo(&config, &aws);
    let mut state = WorkerState::new(config, Arc::new(store), outbound, Arc::new(SystemClock));
    state.jobs = Some(jobs);
    Ok(state)
}

/// The probe: the DynamoDB store, the resources to describe, the webhook
/// sources' summaries.
pub async fn health(config: Config) -> Result<HealthState> {
    let aws = sdk(&config)?;
    Ok(health_with(config, &aws).await)
}

/// [`health`] with an SDK configuration already loaded. Nothing here
/// refuses start-up: what is missing is what the report is for. The
/// webhook sources secret is read once (GetSecretValue): its sources'
/// names, schemes and secret counts are kept, the values dropped at once;
/// the report itself only describes secrets.
pub async fn health_with(config: Config, aws: &SdkConfig) -> HealthState {
    let webhooks = webhook_inventory(&config, aws).await;
    let store = dynamo(&config, aws);
    let inventory = Inventory::from_config(
        &config,
        Some(DynamoStore::table_targets(&config.table_prefix)),
        webhooks,
    );
    HealthState::new(
        config,
        inventory,
        Some(Arc::new(AwsDependencies::new(aws))),
        Arc::new(store),
        Arc::new(SystemClock),
    )
}

/// The webhook sources' summaries from the Secrets Manager secret named by
/// `WARDEN_WEBHOOK_SECRETS_ARN`; what went wrong, if it could not be read.
async fn webhook_inventory(config: &Config, aws: &SdkConfig) -> WebhookInventory {
    let Some(arn) = &config.webhook_secrets_arn else {
        return WebhookInventory {
            sources: Vec::new(),
            from_seed_file: false,
            problem: (config.env != Environment::Development)
                .then(|| "WARDEN_WEBHOOK_SECRETS_ARN is not set".to_owned()),
        };
    };
    match secrets_manager(aws).current(arn).await {
        Ok(text) => WebhookInventory::from_json(text.value.expose_secret()),
        Err(e) => {
            tracing::warn!(error = %e, "the webhook sources secret could not be read");
            WebhookInventory {
                sources: Vec::new(),
                from_seed_file: false,
                problem: Some(
                    "the webhook sources secret could not be read (the logs have the cause)".into(),
                ),
            }
        }
    }
}

/// The security health endpoints: [`health_with`], the signing keys from
/// Secrets Manager (fetched while the webhook sources are read) and the
/// denylist reads over DynamoDB.
pub async fn security_health(config: Config) -> Result<SecurityHealthState> {
    let aws = sdk(&config)?;
    let secrets = secrets_manager(&aws);
    let sessions = dynamo(&config, &aws);
    let (keys, health) = tokio::join!(
        keys_and_warm_up(&config, &*secrets, &sessions),
        health_with(config.clone(), &aws)
    );
    let keys = keys?;
    let tokens = access_tokens(&config, &keys, Some(secrets), health.clock.clone())?;
    Ok(SecurityHealthState::with_tokens(
        health,
        Arc::new(sessions),
        tokens,
        &keys,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        let (config, findings) = Config::load(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        });
        assert!(!findings.has_errors(), "{findings:?}");
        config.unwrap()
    }

    #[tokio::test]
    async fn outside_development_the_pepper_must_come_from_secrets_manager() {
        let staging = config(&[
            ("WARDEN_ENV", "staging"),
            ("WARDEN_JWT_SECRET_ARN", "arn:x"),
        ]);
        assert!(matches!(
            api_key_pepper(&staging, None).await,
            Err(Error::Config(_))
        ));
        // Development without one configured gets a pepper for the process.
        let dev = config(&[("WARDEN_ENV", "development")]);
        assert!(api_key_pepper(&dev, None).await.is_ok());
    }
}
