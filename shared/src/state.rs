//! [`AppState`]: what every handler needs, built once per cold start.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::SecretString;

use crate::audit::{AuditEvent, EventType, Severity};
use crate::auth::jwt::TokenCodec;
use crate::auth::password::{HashingLimits, PasswordHasher};
use crate::clock::{Clock, SystemClock};
use crate::config::{check_jwt_key, Config, Environment, Findings, Severity as FindingSeverity};
use crate::http::RequestContext;
use crate::secrets::{SecretVersion, SecretsManager, SecretsPort};
use crate::store::dynamo::DynamoStore;
use crate::store::SharedStore;
use crate::{Error, Result};

/// Everything a handler needs; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// Every storage port.
    pub store: SharedStore,
    /// Issues and verifies access tokens.
    pub tokens: TokenCodec,
    /// Hashes and verifies passwords.
    pub passwords: PasswordHasher,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    /// Assembles a state from its parts, checking each signing key.
    pub fn new(
        config: Config,
        store: SharedStore,
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
            tokens,
            passwords,
            clock,
        })
    }

    /// The Lambda cold start: AWS clients from the default configuration,
    /// the DynamoDB store, the signing keys from Secrets Manager. Fails,
    /// and the function never serves, when anything is insecure or missing.
    pub async fn from_aws(config: Config) -> Result<Self> {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::with_aws(config, &aws).await
    }

    /// [`AppState::from_aws`] with an SDK configuration already loaded.
    pub async fn with_aws(config: Config, aws: &aws_config::SdkConfig) -> Result<Self> {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_prefix);
        let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws));
        let keys = signing_keys(&config, Some(&secrets)).await?;
        Self::new(config, Arc::new(store), &keys, Arc::new(SystemClock))
    }

    /// A new audit event for this request, with the configured retention.
    pub fn audit(
        &self,
        event_type: EventType,
        severity: Severity,
        ctx: &RequestContext,
    ) -> AuditEvent {
        AuditEvent::new(
            event_type,
            severity,
            ctx,
            self.clock.now_millis(),
            self.config.audit_retention_days,
        )
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
