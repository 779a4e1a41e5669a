//! The [`Signer`] over AWS KMS: access tokens are signed by an asymmetric
//! KMS key (`RSA_2048`, `SIGN_VERIFY`), so the private key never exists in
//! a function's memory, a log or Secrets Manager.
//!
//! `Sign` is called with `MessageType=RAW` and `RSASSA_PKCS1_V1_5_SHA_256`:
//! KMS hashes the JWS signing input itself (at most 4096 bytes, checked
//! here first). `GetPublicKey` gives the DER SubjectPublicKeyInfo that
//! verifiers check signatures with and the key set endpoint publishes; an
//! ARN's public key never changes, so callers keep it.
//!
//! Every SDK failure is reduced to its operation and code
//! ([`crate::aws::sdk_failure`]): a KMS error text can name the key, never
//! the message, but nothing of it reaches a client. A throttled or failed
//! `Sign` is [`Error::Saturated`] (`503` with `Retry-After`): nothing was
//! issued, and trying again shortly is the remedy.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};

use crate::auth::signing::{MAX_SIGNING_INPUT, RsaPublicKey, Signer};
use crate::aws::sdk_failure;
use crate::{Error, Result};

/// How long a client is asked to wait after KMS refused or failed a `Sign`.
const SIGN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Signs with, and reads the public half of, KMS keys by ARN.
#[derive(Debug, Clone)]
pub struct KmsSigner {
    client: aws_sdk_kms::Client,
}

impl KmsSigner {
    /// A signer over `client`.
    pub fn new(client: aws_sdk_kms::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Signer for KmsSigner {
    async fn sign(&self, arn: &str, message: &[u8]) -> Result<Vec<u8>> {
        if message.len() > MAX_SIGNING_INPUT {
            return Err(Error::internal(format!(
                "a JWS signing input of {} bytes is over KMS's {MAX_SIGNING_INPUT}",
                message.len()
            )));
        }
        let output = self
            .client
            .sign()
            .key_id(arn)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::RsassaPkcs1V15Sha256)
            .send()
            .await
            .map_err(|e| {
                tracing::error!(error = %sdk_failure("KMS Sign", &e), "signing a token failed");
                Error::Saturated {
                    retry_after: SIGN_RETRY_AFTER,
                }
            })?;
        output
            .signature
            .map(Blob::into_inner)
            .ok_or_else(|| Error::internal("KMS Sign answered without a signature"))
    }

    async fn public_key(&self, arn: &str) -> Result<RsaPublicKey> {
        let output = self
            .client
            .get_public_key()
            .key_id(arn)
            .send()
            .await
            .map_err(|e| crate::aws::sdk_unavailable("KMS GetPublicKey", &e))?;
        let der = output
            .public_key
            .ok_or_else(|| Error::internal("KMS GetPublicKey answered without a key"))?;
        RsaPublicKey::from_spki_der(der.as_ref())
    }
}
