//! Per-function state, built once per cold start from shared pieces, so that
//! each function holds (and its binary links) only what it uses:
//!
//! - [`Accounts`]: users and their passwords (the CLI's user administration);
//! - [`AuthState`]: accounts plus the token codec (login, revoke, the
//!   authorizer);
//! - [`WebhookState`]: the delivery store, the sources and the events queue
//!   (webhook intake; it never reads the JWT key).
//!
//! Every state carries the [`Config`] and the [`Clock`], and stamps audit
//! events with the configured retention.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::SecretString;

use crate::audit::{AuditEvent, EventType, Origin, Severity};
use crate::auth::jwt::TokenCodec;
use crate::auth::password::{HashingLimits, PasswordHasher};
use crate::clock::{Clock, SystemClock};
use crate::config::{check_jwt_key, Config, Environment, Findings, Severity as FindingSeverity};
use crate::queue::{Queue, SqsQueue};
use crate::secrets::{SecretVersion, SecretsManager, SecretsPort};
use crate::store::dynamo::DynamoStore;
use crate::store::{AuthStore, WebhookStore};
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
    pub tokens: TokenCodec,
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
        let findings = Findings(
            keys.iter()
                .map(|k| check_jwt_key(&k.value, "the signing key set"))
                .collect(),
        );
        findings.into_result()?;
        let tokens = TokenCodec::new(
            keys,
            &config.issuer,
            &config.audience,
            config.access_ttl_secs,
        )?;
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
        let aws = crate::aws::sdk_config(&config.aws, None).await;
        Self::with_aws(config, &aws).await
    }

    /// [`AuthState::from_aws`] with an SDK configuration already loaded.
    pub async fn with_aws(config: Config, aws: &aws_config::SdkConfig) -> Result<Self> {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_prefix);
        let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws));
        let keys = signing_keys(&config, Some(&secrets)).await?;
        Self::new(config, Arc::new(store), &keys, Arc::new(SystemClock))
    }
}

/// What webhook intake needs: the delivery store, the configured sources
/// and the events queue.
pub struct WebhookState {
    /// The validated configuration.
    pub config: Config,
    /// The webhook ports.
    pub store: Arc<dyn WebhookStore>,
    /// The configured sources.
    pub sources: Sources,
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
        let aws = crate::aws::sdk_config(&config.aws, None).await;
        Self::with_aws(config, &aws).await
    }

    /// [`WebhookState::from_aws`] with an SDK configuration already loaded.
    pub async fn with_aws(config: Config, aws: &aws_config::SdkConfig) -> Result<Self> {
        use secrecy::ExposeSecret as _;
        let arn = config
            .webhook_secrets_arn
            .as_deref()
            .ok_or_else(|| Error::Config("WARDEN_WEBHOOK_SECRETS_ARN is not set".into()))?;
        let queue_url = config
            .events_queue_url
            .clone()
            .ok_or_else(|| Error::Config("WARDEN_EVENTS_QUEUE_URL is not set".into()))?;
        let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws));
        // Only the current version: sources are not rotated by version.
        let text = secrets.current(arn).await?;
        let sources = Sources::from_json(text.value.expose_secret())?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_prefix);
        Ok(Self {
            config,
            store: Arc::new(store),
            sources,
            queue: Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(aws), &queue_url)),
            clock: Arc::new(SystemClock),
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
    match (config.env, &config.jwt_secret, &config.jwt_secret_arn) {
        (Environment::Development, Some(secret), _) => {
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
        // Development with WARDEN_JWT_SECRET took the arm above.
        (_, _, Some(arn)) => {
            let secrets = secrets.ok_or_else(|| {
                Error::Config("WARDEN_JWT_SECRET_ARN is set but no secrets client".into())
            })?;
            secrets.current_and_previous(arn).await
        }
        (Environment::Development, None, None) => {
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
