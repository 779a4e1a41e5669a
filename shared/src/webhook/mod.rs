//! Webhook intake: verify a provider's signature over the exact raw body,
//! refuse stale and replayed deliveries, and enqueue each delivery once.
//!
//! One module per scheme ([`slack`], [`github`], [`stripe`], [`standard`]),
//! each implementing [`Scheme`]. [`receive`] is the whole intake:
//!
//! 1. size, source, signature and timestamp checks, all before any write:
//!    a refused delivery leaves nothing but its audit record;
//! 2. a conditional claim of `<source>#<delivery id>` in WebhookDeliveries
//!    (7-day TTL): a delivery already enqueued is a duplicate, answered
//!    `200` and audited `WEBHOOK_DUPLICATE` (not a rejection: it is how a
//!    provider retries);
//! 3. `SendMessage` to the events queue (FIFO, deduplicated by delivery);
//!    if it fails the claim is released, so the provider's retry is taken;
//! 4. the claim is marked enqueued together with its `WEBHOOK_ACCEPTED`
//!    audit event.
//!
//! [`rotation`] edits the sources document when an operator rotates a
//! source's secret (`warden webhooks set-secret`).

pub mod github;
pub mod rotation;
pub mod scheme;
pub mod slack;
pub mod sources;
pub mod standard;
pub mod stripe;

pub use scheme::{Delivery, Rejection, Scheme, SchemeKind, SigningKey, TOLERANCE_SECS, Verified};
pub use sources::{Source, SourceConfig, Sources};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{EventType, Severity};
use crate::http::RequestContext;
use crate::queue::OutgoingMessage;
use crate::state::WebhookState;
use crate::store::{Claim, WebhookWrite, keys};
use crate::{Error, Result};

/// The largest body accepted, in bytes (256 KiB, as `infra/openapi.yaml` says).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How long a delivery id is remembered, in seconds (7 days).
pub const DEDUPE_SECS: i64 = 7 * 86_400;
/// The longest delivery id accepted.
const MAX_DELIVERY_ID: usize = 200;

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
        }
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
    let reject = |reason: RejectReason| {
        let event = state
            .auditor
            .event(EventType::WebhookRejected, Severity::Warning, ctx)
            .actor(format!("webhook:{source_name}"))
            .detail("source", source_name)
            .detail("reason", reason.as_str());
        crate::metrics::count(crate::metrics::Metric::WebhookRejected);
        async move { state.store.transact(vec![event.into()]).await }
    };

    if body.len() > MAX_BODY_BYTES {
        reject(RejectReason::TooLarge).await?;
        return Err(Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if !accepts_content_type(headers) {
        reject(RejectReason::UnsupportedMediaType).await?;
        return Err(Error::UnsupportedMediaType {
            expected: "application/json",
        });
    }
    let now = state.clock.now_secs();
    let check = |sources: &Sources| {
        sources.get(source_name).map(|source| {
            let verified = source.verify(headers, body, now);
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
        reject(RejectReason::UnknownSource).await?;
        return Err(Error::NotFound("no such webhook source".into()));
    };
    if body.is_empty() {
        reject(RejectReason::EmptyBody).await?;
        return Err(Error::BadRequest("the request body is empty".into()));
    }
    let verified = match checked {
        Ok(v) => v,
        Err(rejection) => {
            reject(RejectReason::Signature(rejection)).await?;
            return Err(rejection.into_error());
        }
    };
    if verified.delivery_id.len() > MAX_DELIVERY_ID
        || verified.delivery_id.chars().any(char::is_control)
    {
        reject(RejectReason::BadDeliveryId).await?;
        return Err(Error::BadRequest(
            "the delivery id is too long or malformed".into(),
        ));
    }
    if let Some(challenge) = verified.challenge {
        let event = state
            .auditor
            .event(EventType::WebhookAccepted, Severity::Info, ctx)
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
            // Verified, and enqueued before: a provider's retry (or a
            // verbatim replay within the signature's tolerance, which no
            // check tells apart from one). Nothing is enqueued, so it is
            // not counted with the rejections an alarm watches.
            let event = state
                .auditor
                .event(EventType::WebhookDuplicate, Severity::Info, ctx)
                .actor(format!("webhook:{source_name}"))
                .detail("source", source_name)
                .detail("delivery_id", verified.delivery_id.as_str())
                .detail("event_type", verified.event_type.as_str());
            state.store.transact(vec![event.into()]).await?;
            crate::metrics::count(crate::metrics::Metric::WebhookDuplicate);
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
        .auditor
        .event(EventType::WebhookAccepted, Severity::Info, ctx)
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
