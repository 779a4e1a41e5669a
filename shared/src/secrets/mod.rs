//! The secrets port: where signing keys and other secrets come from.
//!
//! Outside development every secret lives in Secrets Manager. It is read at
//! cold start and, for the JWT key and the webhook sources, again once per
//! cache TTL ([`cache`]). A secret's `AWSCURRENT` version signs; its
//! `AWSPREVIOUS` version still verifies, so a rotation never logs anybody out.

pub mod cache;
pub mod rotation;

use async_trait::async_trait;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use secrecy::SecretString;

use crate::{Error, Result};

/// One version of a secret.
#[derive(Debug, Clone)]
pub struct SecretVersion {
    /// Secrets Manager's version id; becomes the JWT `kid`.
    pub version_id: String,
    /// The secret value.
    pub value: SecretString,
    /// `true` for `AWSCURRENT`, `false` for `AWSPREVIOUS`.
    pub current: bool,
}

/// Reads secrets.
#[async_trait]
pub trait SecretsPort: Send + Sync {
    /// The current version of `secret_id` and, when there is one, the
    /// previous version. Fails when the secret or its current version is
    /// missing, or when either version cannot be read.
    async fn current_and_previous(&self, secret_id: &str) -> Result<Vec<SecretVersion>>;

    /// The current version of `secret_id`; fails when it is missing.
    async fn current(&self, secret_id: &str) -> Result<SecretVersion>;
}

/// The Secrets Manager adapter.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    /// Wraps an SDK client.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    /// The `AWSCURRENT` version of `secret_id`; an error when it is missing.
    pub async fn current(&self, secret_id: &str) -> Result<SecretVersion> {
        self.version(secret_id, "AWSCURRENT")
            .await?
            .ok_or_else(|| Error::Config(format!("secret {secret_id} has no AWSCURRENT version")))
    }

    async fn version(&self, secret_id: &str, stage: &str) -> Result<Option<SecretVersion>> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(stage)
            .send()
            .await;
        match out {
            Ok(out) => {
                let value = out.secret_string().ok_or_else(|| {
                    Error::Config(format!("secret {secret_id} ({stage}) has no string value"))
                })?;
                Ok(Some(SecretVersion {
                    version_id: out.version_id().unwrap_or(stage).to_owned(),
                    value: SecretString::from(value.to_owned()),
                    current: stage == "AWSCURRENT",
                }))
            }
            Err(err) => match err.as_service_error() {
                Some(GetSecretValueError::ResourceNotFoundException(_)) => Ok(None),
                _ => Err(crate::aws::sdk_unavailable(
                    &format!("GetSecretValue {secret_id} ({stage})"),
                    &err,
                )),
            },
        }
    }
}

#[async_trait]
impl SecretsPort for SecretsManager {
    async fn current(&self, secret_id: &str) -> Result<SecretVersion> {
        SecretsManager::current(self, secret_id).await
    }

    async fn current_and_previous(&self, secret_id: &str) -> Result<Vec<SecretVersion>> {
        let (current, previous) = tokio::join!(
            self.version(secret_id, "AWSCURRENT"),
            self.version(secret_id, "AWSPREVIOUS")
        );
        let current = current?.ok_or_else(|| {
            Error::Config(format!("secret {secret_id} has no AWSCURRENT version"))
        })?;
        let mut versions = vec![current];
        // A missing previous version is normal before the first rotation.
        // An unreadable one fails the whole read: a warm function that
        // reads its key set again keeps the set it has rather than drop the
        // key that still verifies tokens signed before the rotation.
        match previous? {
            Some(p) if p.version_id != versions[0].version_id => versions.push(p),
            _ => {}
        }
        Ok(versions)
    }
}
