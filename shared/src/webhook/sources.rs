//! The configured webhook sources: each source's name, scheme and keys,
//! validated once (start-up, or a re-read of the sources secret).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::scheme::{Rejection, SchemeKind, SigningKey, Verified};
use crate::{Error, Result};

/// A source as configured: the seed file's `webhook_sources` entries, or
/// the Secrets Manager secret's JSON array. A field other than these three
/// is refused (a misspelt `secret` would otherwise go unnoticed), naming
/// the field, never a value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The `{source}` of `POST /webhooks/{source}`.
    pub name: String,
    /// The signature scheme.
    pub scheme: SchemeKind,
    /// One or more secrets; any may match (rotation).
    #[serde(default)]
    pub secrets: Vec<SecretString>,
}

/// A configured source, its keys ready.
#[derive(Debug)]
pub struct Source {
    /// The source name.
    pub name: String,
    /// The signature scheme.
    pub scheme: SchemeKind,
    keys: Vec<SigningKey>,
}

impl Source {
    /// The number of secrets configured.
    pub fn secret_count(&self) -> usize {
        self.keys.len()
    }

    /// Checks a delivery's signature with this source's scheme and any of
    /// its secrets, as intake does.
    pub fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, Rejection> {
        self.scheme.scheme().verify(headers, body, &self.keys, now)
    }
}

/// Every configured source, by name.
#[derive(Debug, Default)]
pub struct Sources(HashMap<String, Source>);

impl Sources {
    /// Validates and prepares sources. A source without a secret, a
    /// Standard Webhooks secret not of the form `whsec_<base64>`, an empty
    /// or duplicate name refuse start-up.
    pub fn new(configs: Vec<SourceConfig>) -> Result<Self> {
        let mut sources = HashMap::new();
        for config in configs {
            let name = config.name.trim().to_owned();
            if name.is_empty()
                || name.len() > 64
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(Error::Config(format!(
                    "webhook source name {name:?} must be 1 to 64 letters, digits, '-' or '_'"
                )));
            }
            if config.secrets.is_empty() {
                return Err(Error::Config(format!(
                    "webhook source {name:?} has no secret"
                )));
            }
            let keys = config
                .secrets
                .iter()
                .map(|secret| key_for(config.scheme, secret, &name))
                .collect::<Result<Vec<_>>>()?;
            let source = Source {
                name: name.clone(),
                scheme: config.scheme,
                keys,
            };
            if sources.insert(name.clone(), source).is_some() {
                return Err(Error::Config(format!(
                    "webhook source {name:?} is configured twice"
                )));
            }
        }
        Ok(Self(sources))
    }

    /// Parses the JSON array `[{"name", "scheme", "secrets": [...]}]`.
    /// A document that does not parse is described without the value serde
    /// stumbled on (`invalid type: string "s3cr3t", expected a sequence`):
    /// it may be a secret, and the error reaches the logs.
    pub fn from_json(text: &str) -> Result<Self> {
        let configs: Vec<SourceConfig> = serde_json::from_str(text).map_err(|e| {
            Error::Config(format!(
                "webhook sources: {}",
                crate::http::without_values(&e.to_string())
            ))
        })?;
        Self::new(configs)
    }

    /// The source named `name`.
    pub fn get(&self, name: &str) -> Option<&Source> {
        self.0.get(name)
    }

    /// Every source, in name order.
    pub fn all(&self) -> Vec<&Source> {
        let mut all: Vec<&Source> = self.0.values().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }
}

fn key_for(scheme: SchemeKind, secret: &SecretString, source: &str) -> Result<SigningKey> {
    let value = secret.expose_secret();
    if value.trim().is_empty() {
        return Err(Error::Config(format!(
            "webhook source {source:?} has an empty secret"
        )));
    }
    match scheme {
        SchemeKind::Standard => {
            let encoded = value.strip_prefix("whsec_").ok_or_else(|| {
                Error::Config(format!(
                    "webhook source {source:?}: Standard Webhooks secrets look like whsec_<base64>"
                ))
            })?;
            let bytes = BASE64.decode(encoded).map_err(|_| {
                Error::Config(format!(
                    "webhook source {source:?}: the whsec_ secret is not valid base64"
                ))
            })?;
            Ok(SigningKey::new(&bytes))
        }
        _ => Ok(SigningKey::new(value.as_bytes())),
    }
}
