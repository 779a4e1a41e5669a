//! Webhook intake: verify a provider's signature over the exact raw body,
//! refuse stale and replayed deliveries, and enqueue each delivery once.
//!
//! One module per scheme ([`slack`], [`github`], [`stripe`], [`standard`]),
//! each implementing [`Scheme`]. [`receive`] is the whole intake:
//!
//! 1. size, source, signature and timestamp checks, all before any write:
//!    a refused delivery leaves nothing but its audit record;
//! 2. a conditional claim of `<source>#<delivery id>` in WebhookDeliveries
//!    (7-day TTL): a delivery already enqueued is a duplicate;
//! 3. `SendMessage` to the events queue (FIFO, deduplicated by delivery);
//!    if it fails the claim is released, so the provider's retry is taken;
//! 4. the claim is marked enqueued together with its `WEBHOOK_ACCEPTED`
//!    audit event.
//!
//! [`rotation`] edits the sources document when an operator rotates a
//! source's secret (`warden webhooks set-secret`).

pub mod github;
pub mod rotation;
pub mod slack;
pub mod standard;
pub mod stripe;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::audit::{EventType, Severity};
use crate::http::RequestContext;
use crate::queue::OutgoingMessage;
use crate::state::WebhookState;
use crate::store::{Claim, WebhookWrite, keys};
use crate::{Error, Result};

/// The largest body accepted, in bytes (256 KiB, as `infra/openapi.yaml` says).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How far a signed timestamp may be from now, either way, in seconds.
pub const TOLERANCE_SECS: i64 = 300;
/// How long a delivery id is remembered, in seconds (7 days).
pub const DEDUPE_SECS: i64 = 7 * 86_400;
/// The longest delivery id accepted.
const MAX_DELIVERY_ID: usize = 200;

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

    fn into_error(self) -> Error {
        match self {
            Rejection::MissingDeliveryId => {
                Error::BadRequest("the delivery carries no usable id".into())
            }
            _ => Error::Unauthorized,
        }
    }
}

/// Why intake refused a delivery, as recorded in its `WEBHOOK_REJECTED`
/// audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The body is over [`MAX_BODY_BYTES`].
    TooLarge,
    /// Sent as neither JSON nor a form (see [`accepts_content_type`]).
    UnsupportedMediaType,
    /// No source of that name is configured.
    UnknownSource,
    /// The body is empty.
    EmptyBody,
    /// The signature check refused it.
    Signature(Rejection),
    /// The delivery id is too long or has control characters.
    BadDeliveryId,
    /// The delivery was enqueued before.
    Replay,
}

impl RejectReason {
    /// The reason as recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::TooLarge => "too_large",
            RejectReason::UnsupportedMediaType => "unsupported_media_type",
            RejectReason::UnknownSource => "unknown_source",
            RejectReason::EmptyBody => "empty_body",
            RejectReason::Signature(r) => r.as_str(),
            RejectReason::BadDeliveryId => "bad_delivery_id",
            RejectReason::Replay => "replay",
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

/// A signature scheme.
pub trait Scheme: Send + Sync {
    /// Checks `body` (the exact bytes received) against `headers` with any of
    /// `keys`, at `now` (epoch seconds).
    fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        keys: &[SigningKey],
        now: i64,
    ) -> Result<Verified, Rejection>;
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

/// A source as configured: the seed file's `webhook_sources` entries, or
/// the Secrets Manager secret's JSON array.
#[derive(Debug, Deserialize)]
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

/// The outcome of an accepted request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    /// `202`: verified, new, enqueued.
    Accepted {
        /// Always `accepted`.
        status: &'static str,
        /// The delivery id.
        delivery_id: String,
    },
    /// `200`: verified, but enqueued before; not enqueued again.
    Duplicate {
        /// Always `duplicate`.
        status: &'static str,
        /// The delivery id.
        delivery_id: String,
    },
    /// `200`: Slack's `url_verification`, answered with its challenge.
    Challenge {
        /// The challenge to echo.
        challenge: String,
    },
}

/// The message put on the events queue for each delivery.
#[derive(Debug, Serialize, Deserialize)]
pub struct EventMessage {
    /// The source name.
    pub source: String,
    /// The source's scheme.
    pub scheme: SchemeKind,
    /// The provider's delivery id.
    pub delivery_id: String,
    /// The event type.
    pub event_type: String,
    /// RFC 3339.
    pub received_at: String,
    /// The raw body: as is when it is UTF-8, else base64.
    pub payload: String,
    /// How `payload` holds the body.
    pub payload_encoding: PayloadEncoding,
}

/// How an [`EventMessage`] carries the raw body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadEncoding {
    /// The body was UTF-8 and is carried as is.
    Utf8,
    /// The body was not UTF-8 and is carried as standard base64.
    Base64,
}

/// Takes one delivery to `POST /webhooks/{source}`.
pub async fn receive(
    state: &WebhookState,
    ctx: &RequestContext,
    source_name: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Outcome> {
    let reject = |reason: RejectReason, delivery_id: Option<&str>| {
        let mut event = state
            .audit(EventType::WebhookRejected, Severity::Warning, ctx)
            .actor(format!("webhook:{source_name}"))
            .detail("source", source_name)
            .detail("reason", reason.as_str());
        if let Some(id) = delivery_id {
            event = event.detail("delivery_id", id);
        }
        crate::metrics::count(crate::metrics::Metric::WebhookRejected);
        async move { state.store.transact(vec![event.into()]).await }
    };

    if body.len() > MAX_BODY_BYTES {
        reject(RejectReason::TooLarge, None).await?;
        return Err(Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if !accepts_content_type(headers) {
        reject(RejectReason::UnsupportedMediaType, None).await?;
        return Err(Error::UnsupportedMediaType);
    }
    let now = state.clock.now_secs();
    let check = |sources: &Sources| {
        sources.get(source_name).map(|source| {
            let verified = source
                .scheme
                .scheme()
                .verify(headers, body, &source.keys, now);
            (source.scheme, verified)
        })
    };
    let mut checked = check(&*state.sources.get().await);
    // An unknown source, or a signature no secret verifies, may be news of
    // a secret set since the sources were read: read them once more (at
    // most once per cache TTL, whatever the senders do) before refusing.
    if !body.is_empty()
        && !matches!(checked, Some((_, Ok(_))))
        && state.sources.reload_early().await
    {
        checked = check(&state.sources.current());
    }
    let Some((scheme, checked)) = checked else {
        reject(RejectReason::UnknownSource, None).await?;
        return Err(Error::NotFound("no such webhook source".into()));
    };
    if body.is_empty() {
        reject(RejectReason::EmptyBody, None).await?;
        return Err(Error::BadRequest("the request body is empty".into()));
    }
    let verified = match checked {
        Ok(v) => v,
        Err(rejection) => {
            reject(RejectReason::Signature(rejection), None).await?;
            return Err(rejection.into_error());
        }
    };
    if verified.delivery_id.len() > MAX_DELIVERY_ID
        || verified.delivery_id.chars().any(char::is_control)
    {
        reject(RejectReason::BadDeliveryId, None).await?;
        return Err(Error::BadRequest(
            "the delivery id is too long or malformed".into(),
        ));
    }
    if let Some(challenge) = verified.challenge {
        let event = state
            .audit(EventType::WebhookAccepted, Severity::Info, ctx)
            .actor(format!("webhook:{source_name}"))
            .detail("source", source_name)
            .detail("kind", "url_verification");
        state.store.transact(vec![event.into()]).await?;
        return Ok(Outcome::Challenge { challenge });
    }

    let delivery_key = keys::delivery(source_name, &verified.delivery_id);
    match state
        .store
        .claim_delivery(&delivery_key, now, now + DEDUPE_SECS)
        .await?
    {
        Claim::Claimed => {}
        Claim::Delivered => {
            reject(RejectReason::Replay, Some(&verified.delivery_id)).await?;
            return Ok(Outcome::Duplicate {
                status: "duplicate",
                delivery_id: verified.delivery_id,
            });
        }
        Claim::InFlight => {
            return Err(Error::Conflict(
                "this delivery is being processed; retry shortly".into(),
            ));
        }
    }

    let (payload, payload_encoding) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), PayloadEncoding::Utf8),
        Err(_) => (BASE64.encode(body), PayloadEncoding::Base64),
    };
    let message = EventMessage {
        source: source_name.to_owned(),
        scheme,
        delivery_id: verified.delivery_id.clone(),
        event_type: verified.event_type.clone(),
        received_at: crate::clock::rfc3339(now),
        payload,
        payload_encoding,
    };
    let outgoing = OutgoingMessage {
        body: serde_json::to_string(&message)
            .map_err(|e| Error::internal_from("serialising an event message", e))?,
        group_id: source_name.to_owned(),
        deduplication_id: hex::encode(Sha256::digest(delivery_key.as_bytes())),
    };
    if let Err(e) = state.queue.send(&outgoing).await {
        // Give the delivery back so the provider's retry is accepted.
        if let Err(release) = state.store.release_delivery(&delivery_key, now).await {
            tracing::error!(error = %release.chain(), "could not release a webhook claim; the retry waits for it to go stale");
        }
        tracing::warn!(source = source_name, "enqueue failed; delivery released");
        return Err(e);
    }
    let event = state
        .audit(EventType::WebhookAccepted, Severity::Info, ctx)
        .actor(format!("webhook:{source_name}"))
        .detail("source", source_name)
        .detail("delivery_id", verified.delivery_id.as_str())
        .detail("event_type", verified.event_type.as_str());
    state
        .store
        .transact(vec![
            WebhookWrite::DeliveryEnqueued { delivery_key }.into(),
            event.into(),
        ])
        .await?;
    crate::metrics::count(crate::metrics::Metric::WebhookAccepted);
    Ok(Outcome::Accepted {
        status: "accepted",
        delivery_id: verified.delivery_id,
    })
}

/// Whether a delivery's `Content-Type` is one the providers send: JSON (or
/// none, read as JSON, as on every endpoint) or a form
/// (`application/x-www-form-urlencoded`: Slack's slash commands and
/// interactivity, GitHub's form content type). Anything else is `415`, as
/// for every other body of the API.
pub fn accepts_content_type(headers: &http::HeaderMap) -> bool {
    let form = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    form || crate::http::is_json_content_type(headers)
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
