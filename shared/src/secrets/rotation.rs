//! Secret writes, for the operator's `warden` command: a new version of the
//! webhook sources document (`warden webhooks set-secret`).
//!
//! `PutSecretValue` without stages makes the new version `AWSCURRENT` and
//! moves the old current one to `AWSPREVIOUS`; the version that was
//! `AWSPREVIOUS` loses its stage. No Lambda links this module's writes:
//! only the CLI calls them.

use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use secrecy::{ExposeSecret as _, SecretString};

use crate::{Error, Result};

/// The stage of the version that signs.
pub const CURRENT: &str = "AWSCURRENT";
/// The stage of the version before it, which still verifies.
pub const PREVIOUS: &str = "AWSPREVIOUS";

/// One version of a secret, as ListSecretVersionIds describes it (never
/// its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// Secrets Manager's version id (a JWT key's `kid`).
    pub version_id: String,
    /// Its stages, e.g. `AWSCURRENT`.
    pub stages: Vec<String>,
    /// When the version was created (epoch seconds), when known.
    pub created_at: Option<i64>,
}

impl VersionInfo {
    /// Whether the version holds `stage`.
    pub fn has(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s == stage)
    }
}

/// The version holding `stage`, if any.
pub fn staged<'a>(versions: &'a [VersionInfo], stage: &str) -> Option<&'a VersionInfo> {
    versions.iter().find(|v| v.has(stage))
}

/// Writes and describes secrets in Secrets Manager.
#[derive(Debug, Clone)]
pub struct SecretWriter {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretWriter {
    /// Wraps an SDK client.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    /// The `AWSCURRENT` value of `secret_id` and its version id.
    pub async fn current(&self, secret_id: &str) -> Result<(String, SecretString)> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(CURRENT)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(GetSecretValueError::ResourceNotFoundException(_)) => {
                    Error::NotFound(format!("no secret {secret_id} (or no AWSCURRENT version)"))
                }
                _ => crate::aws::sdk_unavailable(&format!("GetSecretValue {secret_id}"), &e),
            })?;
        let value = out
            .secret_string()
            .ok_or_else(|| Error::Config(format!("secret {secret_id} has no string value")))?;
        Ok((
            out.version_id().unwrap_or_default().to_owned(),
            SecretString::from(value.to_owned()),
        ))
    }

    /// Puts `value` as a new version of `secret_id`: it becomes
    /// `AWSCURRENT`, the old current version `AWSPREVIOUS`. Returns the new
    /// version id.
    pub async fn put(&self, secret_id: &str, value: &SecretString) -> Result<String> {
        let out = self
            .client
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(value.expose_secret())
            .send()
            .await
            .map_err(|e| crate::aws::sdk_unavailable(&format!("PutSecretValue {secret_id}"), &e))?;
        out.version_id()
            .map(str::to_owned)
            .ok_or_else(|| Error::internal("PutSecretValue answered no version id"))
    }

    /// Every version of `secret_id` that holds a stage, with its creation
    /// date.
    pub async fn versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>> {
        let mut versions = Vec::new();
        let mut pages = self
            .client
            .list_secret_version_ids()
            .secret_id(secret_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                crate::aws::sdk_unavailable(&format!("ListSecretVersionIds {secret_id}"), &e)
            })?;
            for v in page.versions() {
                versions.push(VersionInfo {
                    version_id: v.version_id().unwrap_or_default().to_owned(),
                    stages: v.version_stages().to_vec(),
                    created_at: v.created_date().map(|d| d.secs()),
                });
            }
        }
        Ok(versions)
    }
}
