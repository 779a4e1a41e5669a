//! What every signature scheme shares: the [`Scheme`] trait, the scheme
//! names ([`SchemeKind`]), keys, what a verified delivery says, why one is
//! refused, and the header, timestamp and MAC helpers the schemes use.
//! The sources ([`super::sources`]) and the intake ([`super::receive`])
//! build on it; it imports neither.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use super::{github, slack, standard, stripe};
use crate::Error;

/// How far a signed timestamp may be from now, either way, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 key, ready to use; its bytes are never shown.
#[derive(Clone)]
pub struct SigningKey(HmacSha256);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// A key over `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        // HMAC takes keys of any length; this cannot fail.
        Self(
            HmacSha256::new_from_slice(bytes)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length")),
        )
    }

    /// The MAC of the concatenated `parts`.
    pub fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Whether `expected` is the MAC of `parts`, compared in constant time.
    pub fn verify(&self, parts: &[&[u8]], expected: &[u8]) -> bool {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.verify_slice(expected).is_ok()
    }
}

/// Why a scheme refused a delivery's signature. Only the reason's name is
/// ever recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A required header is missing.
    MissingSignature,
    /// A header is present but not of the scheme's form.
    MalformedSignature,
    /// No signature matches any configured secret.
    BadSignature,
    /// The signed timestamp is more than five minutes off.
    Stale,
    /// The delivery carries no usable id.
    MissingDeliveryId,
}

impl Rejection {
    /// The reason as recorded in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::MissingSignature => "missing_signature",
            Rejection::MalformedSignature => "malformed_signature",
            Rejection::BadSignature => "bad_signature",
            Rejection::Stale => "stale",
            Rejection::MissingDeliveryId => "missing_delivery_id",
        }
    }

    pub(crate) fn into_error(self) -> Error {
        match self {
            Rejection::MissingDeliveryId => {
                Error::BadRequest("the delivery carries no usable id".into())
            }
            _ => Error::Unauthorized,
        }
    }
}

/// What a verified delivery says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The provider's id of this delivery; retries repeat it.
    pub delivery_id: String,
    /// The event type, when the provider names one.
    pub event_type: String,
    /// Slack's `url_verification` challenge, to be echoed back.
    pub challenge: Option<String>,
}

/// One delivery to check: what was received, the keys to check it with
/// and when.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The request's headers.
    pub headers: &'a http::HeaderMap,
    /// The exact bytes received.
    pub body: &'a [u8],
    /// The source's keys; any may match (rotation).
    pub keys: &'a [SigningKey],
    /// Now, epoch seconds.
    pub now: i64,
}

impl Delivery<'_> {
    /// The header `name` as text; a missing one (or one that is not
    /// visible ASCII) is [`Rejection::MissingSignature`].
    pub fn header(&self, name: &str) -> Result<&str, Rejection> {
        header(self.headers, name).ok_or(Rejection::MissingSignature)
    }
}

/// A signature scheme.
pub trait Scheme: Send + Sync {
    /// Checks the delivery's signature with any of its keys.
    fn check(&self, delivery: &Delivery<'_>) -> Result<Verified, Rejection>;

    /// [`Scheme::check`] of `body` (the exact bytes received) with `headers`
    /// and any of `keys`, at `now` (epoch seconds).
    fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        keys: &[SigningKey],
        now: i64,
    ) -> Result<Verified, Rejection> {
        self.check(&Delivery {
            headers,
            body,
            keys,
            now,
        })
    }
}

/// The schemes Warden knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemeKind {
    /// `X-Slack-Signature: v0=<hex>` over `v0:{timestamp}:{body}`.
    Slack,
    /// `X-Hub-Signature-256: sha256=<hex>` over the body.
    Github,
    /// `Stripe-Signature: t=..,v1=..` over `{t}.{body}`.
    Stripe,
    /// Standard Webhooks: `webhook-signature: v1,<base64>` over `{id}.{timestamp}.{body}`.
    Standard,
}

impl SchemeKind {
    /// The scheme's verifier.
    pub fn scheme(self) -> &'static dyn Scheme {
        match self {
            SchemeKind::Slack => &slack::Slack,
            SchemeKind::Github => &github::GitHub,
            SchemeKind::Stripe => &stripe::Stripe,
            SchemeKind::Standard => &standard::Standard,
        }
    }

    /// The scheme's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemeKind::Slack => "slack",
            SchemeKind::Github => "github",
            SchemeKind::Stripe => "stripe",
            SchemeKind::Standard => "standard",
        }
    }
}

/// Checks the timestamp, then whether any of `signatures` is the MAC of
/// `prefix` + `body` under any of `keys`, in constant time: the tail shared
/// by the schemes that sign a timestamp and may carry several signatures.
/// `signatures` holds only the usable entries (the schemes skip the rest):
/// none is a malformed header, none matching a bad signature.
pub(crate) fn verify_any(
    signatures: &[Vec<u8>],
    keys: &[SigningKey],
    timestamp: &str,
    prefix: &str,
    body: &[u8],
    now: i64,
) -> Result<(), Rejection> {
    if signatures.is_empty() {
        return Err(Rejection::MalformedSignature);
    }
    check_timestamp(timestamp, now)?;
    // One MAC per key, compared with every signature: the body (up to
    // 256 KiB) is hashed once per key, however many signatures the header
    // lists.
    let valid = keys.iter().any(|k| {
        let mac = k.sign(&[prefix.as_bytes(), body]);
        signatures
            .iter()
            .any(|sig| bool::from(mac[..].ct_eq(sig.as_slice())))
    });
    if valid {
        Ok(())
    } else {
        Err(Rejection::BadSignature)
    }
}

/// A header's value as text; `None` when absent or not visible ASCII.
pub(crate) fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Parses a Unix timestamp header and checks the tolerance window.
pub(crate) fn check_timestamp(value: &str, now: i64) -> Result<i64, Rejection> {
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::MalformedSignature);
    }
    let ts: i64 = value.parse().map_err(|_| Rejection::MalformedSignature)?;
    if (now - ts).abs() > TOLERANCE_SECS {
        return Err(Rejection::Stale);
    }
    Ok(ts)
}

/// Decodes lowercase or uppercase hex of exactly 32 bytes.
pub(crate) fn hex32(value: &str) -> Option<Vec<u8>> {
    (value.len() == 64)
        .then(|| hex::decode(value).ok())
        .flatten()
}

/// A JSON body's top-level string field, if the body is a JSON object.
pub(crate) fn json_field(body: &[u8], field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get(field)?.as_str().map(str::to_owned)
}
