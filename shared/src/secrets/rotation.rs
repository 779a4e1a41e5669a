//! Secret writes, for the operator's `warden` command: a new version of the
//! JWT signing key (`warden jwt-key rotate`) or of the webhook sources
//! document (`warden webhooks set-secret`), and the rule that keeps a JWT
//! key rotation from cutting off tokens that are still alive.
//!
//! `PutSecretValue` without stages makes the new version `AWSCURRENT` and
//! moves the old current one to `AWSPREVIOUS`; the version that was
//! `AWSPREVIOUS` loses its stage. The functions verify tokens with both
//! staged versions ([`super::SecretsPort::current_and_previous`]), so one
//! rotation logs nobody out, but a second one drops the first key. No Lambda
//! links this module's writes: only the CLI calls them.

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

/// How long after a JWT key version becomes `AWSCURRENT` tokens signed
/// with the key before it may still be alive, in seconds: a warm function
/// keeps signing with the key it cached for up to `secret_cache_ttl_secs`
/// after the rotation, and each token it signs lives `access_ttl_secs`
/// plus the verifier's leeway. (Refresh tokens are random values kept as
/// hashes and API keys are HMACs under the pepper: the JWT key signs
/// access tokens only.)
pub fn jwt_signing_window_secs(access_ttl_secs: i64, secret_cache_ttl_secs: u64) -> i64 {
    access_ttl_secs
        .saturating_add(crate::auth::jwt::LEEWAY_SECS)
        .saturating_add(i64::try_from(secret_cache_ttl_secs).unwrap_or(i64::MAX))
}

/// Why a JWT key rotation is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TooSoon {
    /// The current key became current `age_secs` ago; the previous key's
    /// tokens may live `window_secs` after that.
    Young {
        /// The current version's id.
        version_id: String,
        /// Its age.
        age_secs: i64,
        /// [`jwt_signing_window_secs`].
        window_secs: i64,
    },
    /// The current version's creation date is unknown, so its age is too.
    UnknownAge,
}

impl TooSoon {
    /// The refusal as an operator reads it.
    pub fn message(&self) -> String {
        match self {
            TooSoon::Young {
                version_id,
                age_secs,
                window_secs,
            } => format!(
                "the current JWT key ({version_id}) became current {age_secs} s ago; a second \
                 rotation now would drop the key before it (AWSPREVIOUS) while tokens it signed \
                 may still be alive (they may be signed up to the secret cache TTL after a \
                 rotation and live the access token lifetime: {window_secs} s in all). Wait \
                 {} s, or pass --force to cut those tokens off",
                window_secs - age_secs
            ),
            TooSoon::UnknownAge => "the current JWT key version has no creation date, so it \
                 cannot be told whether tokens signed with the key before it are still alive; \
                 pass --force to rotate anyway"
                .to_owned(),
        }
    }
}

/// Whether a JWT key rotation now would cut off live tokens. A rotation
/// drops the `AWSPREVIOUS` version; that is safe when there is none (the
/// first rotation), or when the current version became current at least
/// `window_secs` ago ([`jwt_signing_window_secs`]): by then every token
/// signed with the previous key has expired.
pub fn check_jwt_rotation(
    versions: &[VersionInfo],
    now_secs: i64,
    window_secs: i64,
) -> std::result::Result<(), TooSoon> {
    let Some(current) = staged(versions, CURRENT) else {
        // Nothing signs yet: the first version is being written.
        return Ok(());
    };
    let drops_a_key =
        staged(versions, PREVIOUS).is_some_and(|p| p.version_id != current.version_id);
    if !drops_a_key {
        return Ok(());
    }
    let Some(created_at) = current.created_at else {
        return Err(TooSoon::UnknownAge);
    };
    let age_secs = now_secs - created_at;
    if age_secs >= window_secs {
        Ok(())
    } else {
        Err(TooSoon::Young {
            version_id: current.version_id.clone(),
            age_secs,
            window_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str, stages: &[&str], created_at: Option<i64>) -> VersionInfo {
        VersionInfo {
            version_id: id.into(),
            stages: stages.iter().map(|s| (*s).to_owned()).collect(),
            created_at,
        }
    }

    #[test]
    fn the_window_is_the_cache_ttl_plus_a_token_lifetime_and_leeway() {
        assert_eq!(
            jwt_signing_window_secs(900, 300),
            900 + 300 + crate::auth::jwt::LEEWAY_SECS
        );
    }

    #[test]
    fn a_first_rotation_is_always_allowed() {
        let versions = [v("k1", &[CURRENT], Some(1000))];
        assert_eq!(check_jwt_rotation(&versions, 1001, 1230), Ok(()));
        assert_eq!(check_jwt_rotation(&[], 1001, 1230), Ok(()));
    }

    #[test]
    fn a_second_rotation_waits_until_the_previous_keys_tokens_expired() {
        let versions = [
            v("k2", &[CURRENT], Some(1000)),
            v("k1", &[PREVIOUS], Some(10)),
            v("k0", &[], Some(1)),
        ];
        let refused = check_jwt_rotation(&versions, 1000 + 1229, 1230).unwrap_err();
        assert_eq!(
            refused,
            TooSoon::Young {
                version_id: "k2".into(),
                age_secs: 1229,
                window_secs: 1230
            }
        );
        assert!(
            refused.message().contains("--force"),
            "{}",
            refused.message()
        );
        assert!(
            refused.message().contains("Wait 1 s"),
            "{}",
            refused.message()
        );
        assert_eq!(check_jwt_rotation(&versions, 1000 + 1230, 1230), Ok(()));
    }

    #[test]
    fn an_unknown_age_is_refused() {
        let versions = [v("k2", &[CURRENT], None), v("k1", &[PREVIOUS], Some(1))];
        assert_eq!(
            check_jwt_rotation(&versions, 5000, 1230),
            Err(TooSoon::UnknownAge)
        );
    }
}
