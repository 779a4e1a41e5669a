//! Per-function state, built once per cold start from shared pieces, so that
//! each function holds (and its binary links) only what it uses:
//!
//! - [`Accounts`]: users and their passwords (the CLI's user administration);
//! - [`AuthState`]: accounts plus the token codec (login, revoke, the
//!   authorizer);
//! - [`WebhookState`]: the delivery store, the sources and the events queue
//!   (webhook intake; it never reads the JWT key);
//! - [`Registry`]: agents, workspaces and API keys (the CLI's agent
//!   administration);
//! - [`AgentState`]: the registry plus the token codec, the API-key pepper,
//!   the jobs queue and the catalogue (agent runs and proposals);
//! - [`WorkerState`]: jobs, agents, the catalogue and the outbound queue
//!   (the job worker; no key of any kind);
//! - [`HealthState`]: what the health checks describe, the samples and the
//!   configuration's findings (the probe; no key of any kind);
//! - [`SecurityHealthState`]: the health state plus the bearer-token check
//!   (the security health endpoints, for admins).
//!
//! Every state carries the [`Config`] and the [`Clock`], and stamps audit
//! events with the configured retention.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use secrecy::SecretString;

use crate::agents::catalogue::{Catalogue, catalogue};
use crate::audit::{AuditEvent, EventType, Origin, Severity};
use crate::auth::api_keys::Pepper;
use crate::auth::jwt::{AccessTokens, TokenCodec};
use crate::auth::password::{HashingLimits, PasswordHasher};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Environment, Findings, Severity as FindingSeverity, check_jwt_key};
use crate::health::checks::{Inventory, SampleCache, WebhookInventory};
use crate::health::dependencies::{AwsDependencies, Dependencies};
use crate::queue::{Queue, SqsQueue};
use crate::secrets::cache::{CachedSecret, Versions};
use crate::secrets::{SecretVersion, SecretsManager, SecretsPort};
use crate::store::dynamo::DynamoStore;
use crate::store::{
    AuthStore, HealthStore, RegistryStore, SessionStore, WebhookStore, WorkerStore,
};
use crate::webhook::Sources;
use crate::{Error, Result};

/// A new audit event stamped with `clock`'s time and `config`'s retention.
fn audit_event(
    config: &Config,
    clock: &dyn Clock,
    event_type: EventType,
    severity: Severity,
    origin: impl Into<Origin>,
) -> AuditEvent {
    AuditEvent::new(
        event_type,
        severity,
        origin.into(),
        clock.now_millis(),
        config.audit_retention_days,
    )
}

/// The token codec over `keys`, each checked first (length, known
/// defaults): what every state that verifies access tokens builds.
fn token_codec(config: &Config, keys: &[SecretVersion]) -> Result<TokenCodec> {
    Findings(
        keys.iter()
            .map(|k| check_jwt_key(&k.value, "the signing key set"))
            .collect(),
    )
    .into_result()?;
    TokenCodec::new(
        keys,
        &config.issuer,
        &config.audience,
        config.access_ttl_secs,
    )
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
    let codec = token_codec(config, keys)?;
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
        move |keys| token_codec(&rebuild, &keys),
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

/// Users and passwords: what creating a user, changing a password or
/// disabling an account needs. No signing key.
#[derive(Debug)]
pub struct Accounts {
    /// The validated configuration.
    pub config: Config,
    /// The auth ports.
    pub store: Arc<dyn AuthStore>,
    /// Hashes and verifies passwords.
    pub passwords: PasswordHasher,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl Accounts {
    /// Assembles the accounts state.
    pub fn new(config: Config, store: Arc<dyn AuthStore>, clock: Arc<dyn Clock>) -> Result<Self> {
        let passwords = PasswordHasher::with_limits(
            config.argon2,
            HashingLimits {
                concurrency: config.password_concurrency,
                queue_timeout: Duration::from_millis(config.password_queue_timeout_ms),
            },
        )?;
        Ok(Self {
            config,
            store,
            passwords,
            clock,
        })
    }

    /// A new audit event asked for by `origin`, with the configured retention.
    pub fn audit(
        &self,
        event_type: EventType,
        severity: Severity,
        origin: impl Into<Origin>,
    ) -> AuditEvent {
        audit_event(&self.config, &*self.clock, event_type, severity, origin)
    }
}

/// What login, revocation and the authorizer need: [`Accounts`] and the
/// token codec.
///
/// It dereferences to its [`Accounts`], so that `state.store` and
/// `state.config` read the same in every auth operation, and the account
/// operations (which need no signing key) take either.
#[derive(Debug)]
pub struct AuthState {
    /// Users, passwords, configuration, clock.
    pub accounts: Accounts,
    /// Issues and verifies access tokens.
    pub tokens: AccessTokens,
}

impl std::ops::Deref for AuthState {
    type Target = Accounts;

    fn deref(&self) -> &Accounts {
        &self.accounts
    }
}

impl AuthState {
    /// Assembles a state from its parts, checking each signing key.
    pub fn new(
        config: Config,
        store: Arc<dyn AuthStore>,
        keys: &[SecretVersion],
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let tokens = AccessTokens::fixed(token_codec(&config, keys)?);
        Ok(Self {
            accounts: Accounts::new(config, store, clock)?,
            tokens,
        })
    }

    /// The Lambda cold start: AWS clients from the default configuration
    /// with the configured timeouts ([`crate::aws`]), the DynamoDB store, the
    /// signing keys from Secrets Manager. Fails, and the function never
    /// serves, when anything is insecure or missing.
    pub async fn from_aws(config: Config) -> Result<Self> {
        let aws = crate::aws::sdk_config(&config.aws, None)?;
        Self::with_aws(config, &aws).await
    }

    /// [`AuthState::from_aws`] with an SDK configuration already loaded.
    pub async fn with_aws(config: Config, aws: &crate::aws::SdkConfig) -> Result<Self> {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_prefix);
        let secrets: Arc<dyn SecretsPort> = Arc::new(SecretsManager::new(
            aws_sdk_secretsmanager::Client::new(aws),
        ));
        let keys = keys_and_warm_up(&config, &*secrets, &store).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let tokens = access_tokens(&config, &keys, Some(secrets), clock.clone())?;
        Ok(Self {
            accounts: Accounts::new(config, Arc::new(store), clock)?,
            tokens,
        })
    }
}

/// What webhook intake needs: the delivery store, the configured sources
/// and the events queue.
pub struct WebhookState {
    /// The validated configuration.
    pub config: Config,
    /// The webhook ports.
    pub store: Arc<dyn WebhookStore>,
    /// The configured sources; from Secrets Manager, read again every cache
    /// TTL and when a delivery does not verify.
    pub sources: CachedSecret<Sources>,
    /// The events queue.
    pub queue: Arc<dyn Queue>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WebhookState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookState")
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl WebhookState {
    /// A new audit event asked for by `origin`, with the configured retention.
    pub fn audit(
        &self,
        event_type: EventType,
        severity: Severity,
        origin: impl Into<Origin>,
    ) -> AuditEvent {
        audit_event(&self.config, &*self.clock, event_type, severity, origin)
    }

    /// The Lambda cold start: AWS clients with the configured timeouts
    /// ([`crate::aws`]), sources from the Secrets Manager secret named by
    /// `WARDEN_WEBHOOK_SECRETS_ARN`, the SQS queue at
    /// `WARDEN_EVENTS_QUEUE_URL`, the DynamoDB store. Fails (the function
    /// never serves) when either is missing or a source is incomplete.
    pub async fn from_aws(config: Config) -> Result<Self> {
        let aws = crate::aws::sdk_config(&config.aws, None)?;
        Self::with_aws(config, &aws).await
    }

    /// [`WebhookState::from_aws`] with an SDK configuration already loaded.
    pub async fn with_aws(config: Config, aws: &crate::aws::SdkConfig) -> Result<Self> {
        use secrecy::ExposeSecret as _;
        let arn = config
            .webhook_secrets_arn
            .as_deref()
            .ok_or_else(|| Error::Config("WARDEN_WEBHOOK_SECRETS_ARN is not set".into()))?;
        let queue_url = config
            .events_queue_url
            .clone()
            .ok_or_else(|| Error::Config("WARDEN_EVENTS_QUEUE_URL is not set".into()))?;
        let secrets = Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
            aws,
        )));
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_prefix);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // Only the current version: each source lists every secret it
        // accepts (a rotation's old and new) in the one document.
        let (sources, ()) = tokio::join!(
            CachedSecret::load(
                secrets,
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
        Ok(Self {
            config,
            store: Arc::new(store),
            sources: sources?,
            queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(aws), &queue_url)),
            clock,
        })
    }
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

/// Agents, workspaces and API keys: what registering an agent, flipping its
/// kill switch or creating a key needs.
#[derive(Debug)]
pub struct Registry {
    /// The validated configuration.
    pub config: Config,
    /// The registry ports.
    pub store: Arc<dyn RegistryStore>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl Registry {
    /// A new audit event asked for by `origin`, with the configured retention.
    pub fn audit(
        &self,
        event_type: EventType,
        severity: Severity,
        origin: impl Into<Origin>,
    ) -> AuditEvent {
        audit_event(&self.config, &*self.clock, event_type, severity, origin)
    }
}

/// What agent runs and proposals need: the [`Registry`], the bearer-token
/// check (codec and denylist reads), the API-key pepper, the jobs queue and
/// the action catalogue. It dereferences to its [`Registry`].
pub struct AgentState {
    /// Agents, workspaces, keys, jobs; configuration and clock.
    pub registry: Registry,
    /// The denylist reads of the bearer-token check (the same tables).
    pub sessions: Arc<dyn SessionStore>,
    /// Verifies access tokens.
    pub tokens: AccessTokens,
    /// API-key secrets are checked under it.
    pub pepper: Pepper,
    /// Where accepted runs go.
    pub jobs: Arc<dyn Queue>,
    /// The business actions.
    pub catalogue: &'static Catalogue,
}

impl std::fmt::Debug for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentState")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for AgentState {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        &self.registry
    }
}

impl AgentState {
    /// The Lambda cold start: AWS clients with the configured timeouts, the
    /// DynamoDB store, the signing keys and the API-key pepper from Secrets
    /// Manager, the SQS jobs queue at `WARDEN_JOBS_QUEUE_URL`. Fails (the
    /// function never serves) when any is missing or insecure.
    pub async fn from_aws(config: Config) -> Result<Self> {
        let aws = crate::aws::sdk_config(&config.aws, None)?;
        let queue_url = config
            .jobs_queue_url
            .clone()
            .ok_or_else(|| Error::Config("WARDEN_JOBS_QUEUE_URL is not set".into()))?;
        let secrets: Arc<dyn SecretsPort> = Arc::new(SecretsManager::new(
            aws_sdk_secretsmanager::Client::new(&aws),
        ));
        let store = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            &config.table_prefix,
        ));
        // Two secrets and the DynamoDB connection, side by side: the cold
        // start waits for one round trip, not three.
        let (keys, pepper) = tokio::try_join!(
            keys_and_warm_up(&config, &*secrets, &store),
            api_key_pepper(&config, Some(&*secrets))
        )?;
        let jobs = Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&aws), &queue_url));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let tokens = access_tokens(&config, &keys, Some(secrets), clock.clone())?;
        Ok(Self::with_tokens(
            config,
            store.clone(),
            store,
            tokens,
            pepper,
            jobs,
            clock,
        ))
    }

    /// Assembles a state from its parts, checking each signing key.
    pub fn new(
        config: Config,
        store: Arc<dyn RegistryStore>,
        sessions: Arc<dyn SessionStore>,
        keys: &[SecretVersion],
        pepper: Pepper,
        jobs: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let tokens = AccessTokens::fixed(token_codec(&config, keys)?);
        Ok(Self::with_tokens(
            config, store, sessions, tokens, pepper, jobs, clock,
        ))
    }

    fn with_tokens(
        config: Config,
        store: Arc<dyn RegistryStore>,
        sessions: Arc<dyn SessionStore>,
        tokens: AccessTokens,
        pepper: Pepper,
        jobs: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            registry: Registry {
                config,
                store,
                clock,
            },
            sessions,
            tokens,
            pepper,
            jobs,
            catalogue: catalogue(),
        }
    }
}

/// What the job worker needs: jobs and agents, the catalogue, the outbound
/// queue for external effects. It holds no signing key and no pepper.
pub struct WorkerState {
    /// The validated configuration.
    pub config: Config,
    /// The worker's ports.
    pub store: Arc<dyn WorkerStore>,
    /// Where the external effects of actions are published.
    pub outbound: Arc<dyn Queue>,
    /// The business actions.
    pub catalogue: &'static Catalogue,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WorkerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerState").finish_non_exhaustive()
    }
}

impl WorkerState {
    /// A new audit event asked for by `origin`, with the configured retention.
    pub fn audit(
        &self,
        event_type: EventType,
        severity: Severity,
        origin: impl Into<Origin>,
    ) -> AuditEvent {
        audit_event(&self.config, &*self.clock, event_type, severity, origin)
    }

    /// The Lambda cold start: the DynamoDB store and the SQS outbound queue
    /// at `WARDEN_OUTBOUND_QUEUE_URL`, with the configured timeouts.
    pub async fn from_aws(config: Config) -> Result<Self> {
        let aws = crate::aws::sdk_config(&config.aws, None)?;
        let outbound_url = config
            .outbound_queue_url
            .clone()
            .ok_or_else(|| Error::Config("WARDEN_OUTBOUND_QUEUE_URL is not set".into()))?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_prefix);
        Ok(Self {
            config,
            store: Arc::new(store),
            outbound: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&aws), &outbound_url)),
            catalogue: catalogue(),
            clock: Arc::new(SystemClock),
        })
    }
}

/// What the health checks and the probe need: the configuration and its
/// findings, what to describe and the client to describe it with, the
/// samples. No key of any kind.
pub struct HealthState {
    /// The validated configuration.
    pub config: Config,
    /// The configuration's findings at start-up, warnings included (and
    /// the signing keys' checks, where the keys are held).
    pub findings: Findings,
    /// The tables, queues, secrets and webhook sources to check.
    pub inventory: Inventory,
    /// Describes AWS resources; `None` on the embedded store without AWS.
    pub dependencies: Option<Arc<dyn Dependencies>>,
    /// The samples and the audit log.
    pub store: Arc<dyn HealthStore>,
    /// The days of samples already read, for the next report.
    pub samples: SampleCache,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthState")
            .field("inventory", &self.inventory)
            .finish_non_exhaustive()
    }
}

impl HealthState {
    /// A new audit event asked for by `origin`, with the configured retention.
    pub fn audit(
        &self,
        event_type: EventType,
        severity: Severity,
        origin: impl Into<Origin>,
    ) -> AuditEvent {
        audit_event(&self.config, &*self.clock, event_type, severity, origin)
    }

    /// The Lambda cold start of the probe: AWS clients with the configured
    /// timeouts, the DynamoDB store, the webhook sources' summaries.
    pub async fn from_aws(config: Config) -> Result<Self> {
        let aws = crate::aws::sdk_config(&config.aws, None)?;
        Ok(Self::with_aws(config, &aws).await)
    }

    /// [`HealthState::from_aws`] with an SDK configuration already loaded.
    /// Nothing here refuses start-up: what is missing is what the report
    /// is for. The webhook sources secret is read once (GetSecretValue):
    /// its sources' names, schemes and secret counts are kept, the values
    /// dropped at once; the report itself only describes secrets.
    pub async fn with_aws(config: Config, aws: &crate::aws::SdkConfig) -> Self {
        let webhooks = webhook_inventory(&config, aws).await;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_prefix);
        Self {
            findings: config.findings(),
            inventory: Inventory::from_config(&config, false, webhooks),
            config,
            dependencies: Some(Arc::new(AwsDependencies::new(aws))),
            store: Arc::new(store),
            samples: SampleCache::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The webhook sources' summaries from the Secrets Manager secret named by
/// `WARDEN_WEBHOOK_SECRETS_ARN`; what went wrong, if it could not be read.
async fn webhook_inventory(config: &Config, aws: &crate::aws::SdkConfig) -> WebhookInventory {
    use secrecy::ExposeSecret as _;
    let Some(arn) = &config.webhook_secrets_arn else {
        return WebhookInventory {
            sources: Vec::new(),
            from_seed_file: false,
            problem: (config.env != Environment::Development)
                .then(|| "WARDEN_WEBHOOK_SECRETS_ARN is not set".to_owned()),
        };
    };
    let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws));
    match secrets.current(arn).await {
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

/// What the security health endpoints need: the [`HealthState`] and the
/// bearer-token check (codec and denylist reads), since all but
/// `GET /health` are for admins. It dereferences to its [`HealthState`].
pub struct SecurityHealthState {
    /// Checks, samples, configuration.
    pub health: HealthState,
    /// The denylist reads of the bearer-token check.
    pub sessions: Arc<dyn SessionStore>,
    /// Verifies access tokens.
    pub tokens: AccessTokens,
}

impl std::fmt::Debug for SecurityHealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityHealthState")
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for SecurityHealthState {
    type Target = HealthState;

    fn deref(&self) -> &HealthState {
        &self.health
    }
}

impl SecurityHealthState {
    /// Adds the bearer-token check to `health`, checking each signing key
    /// (whose findings join the report's).
    pub fn new(
        health: HealthState,
        sessions: Arc<dyn SessionStore>,
        keys: &[SecretVersion],
    ) -> Result<Self> {
        Self::with_secrets(health, sessions, keys, None)
    }

    /// [`SecurityHealthState::new`], reading `keys` again from `secrets`
    /// every cache TTL when they came from there.
    fn with_secrets(
        mut health: HealthState,
        sessions: Arc<dyn SessionStore>,
        keys: &[SecretVersion],
        secrets: Option<Arc<dyn SecretsPort>>,
    ) -> Result<Self> {
        let tokens = access_tokens(&health.config, keys, secrets, health.clock.clone())?;
        health.findings.0.extend(
            keys.iter()
                .map(|k| check_jwt_key(&k.value, &format!("key version {}", k.version_id))),
        );
        Ok(Self {
            health,
            sessions,
            tokens,
        })
    }

    /// The Lambda cold start: [`HealthState::with_aws`], the signing keys
    /// from Secrets Manager (fetched while the webhook sources are read)
    /// and the denylist reads over DynamoDB.
    pub async fn from_aws(config: Config) -> Result<Self> {
        let aws = crate::aws::sdk_config(&config.aws, None)?;
        let secrets: Arc<dyn SecretsPort> = Arc::new(SecretsManager::new(
            aws_sdk_secretsmanager::Client::new(&aws),
        ));
        let sessions = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &config.table_prefix);
        let (keys, health) = tokio::join!(
            keys_and_warm_up(&config, &*secrets, &sessions),
            HealthState::with_aws(config.clone(), &aws)
        );
        Self::with_secrets(health, Arc::new(sessions), &keys?, Some(secrets))
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
