//! The one error type of Warden and how it becomes an HTTP answer.
//!
//! Every failure a handler can meet is an [`Error`]; [`Error::status`] maps it
//! to a status code and [`crate::http::Responder::problem`] renders it as
//! `application/problem+json`. Server-side failures are answered opaquely:
//! their cause is logged, never sent.

use std::time::Duration;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cause of a server-side failure, kept whole so that the log shows
/// the full chain (see [`Error::chain`]); it never reaches a client.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in Warden.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: bad JSON, a missing field, a value out of range.
    #[error("{0}")]
    BadRequest(String),
    /// Bad credentials where no token is checked (a login's password, a
    /// refresh token, a webhook's signature). The detail is the same for
    /// every cause so that an attacker learns nothing from it.
    #[error("authentication failed")]
    Unauthorized,
    /// Missing or refused credentials on a protected route, answered with
    /// an RFC 6750 challenge (API.md "Errors on protected routes").
    #[error("{}", .0.reason.word())]
    TokenRefused(Challenge),
    /// Valid credentials without the role or scope a route needs: `403`
    /// with an `insufficient_scope` challenge naming `scope` (a role as
    /// `role:<name>`).
    #[error("{detail}")]
    InsufficientScope {
        /// The scope (or `role:<name>`) that would have been enough.
        scope: String,
        /// What the client is told.
        detail: String,
        /// The scheme the credentials came in.
        scheme: Scheme,
    },
    /// Credentials that cannot be read: two at once, or a malformed
    /// `Authorization` header. `400` with an `invalid_request` challenge.
    #[error("{0}")]
    InvalidRequest(String),
    /// Valid credentials without the right role or scope.
    #[error("{0}")]
    Forbidden(String),
    /// A governed tool call refused by a rule: `403` whose `reason` a
    /// program can act on (API.md "Governed tool calls": `workspace`,
    /// `agent_disabled`, `tool_not_allowed`, `maturity`,
    /// `approval_rejected`, `approval_used`).
    #[error("{detail}")]
    ToolCallRefused {
        /// The rule, as the problem's `reason` member.
        reason: &'static str,
        /// What the client is told.
        detail: String,
    },
    /// A tool call that would open a proposal while its agent already has
    /// the most pending ones in the workspace: `429` with `Retry-After` and
    /// `reason` `approvals_pending`.
    #[error("{detail}")]
    ApprovalsPending {
        /// When the oldest pending proposal runs out.
        retry_after: Duration,
        /// What the client is told.
        detail: String,
    },
    /// A token endpoint's refusal (RFC 6749 section 5.2, which RFC 8693
    /// section 2.2.2 uses): `400` answered as `application/json`
    /// `{"error", "error_description"}`, not as a problem.
    #[error("{error}: {description}")]
    OAuth {
        /// `invalid_request`, `invalid_scope`, `unsupported_grant_type` or
        /// `invalid_target`.
        error: &'static str,
        /// What the client is told.
        description: String,
    },
    /// The resource does not exist (or is not the caller's to see).
    #[error("{0}")]
    NotFound(String),
    /// The path exists but does not serve this method.
    #[error("this endpoint does not serve this method; allowed: {allow}")]
    MethodNotAllowed {
        /// The methods the path serves, for the `Allow` header.
        allow: String,
    },
    /// The body's content type is not one the endpoint reads.
    #[error("the request body must be {expected}")]
    UnsupportedMediaType {
        /// The content type the endpoint reads.
        expected: &'static str,
    },
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The body is over the endpoint's limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The endpoint's limit in bytes.
        limit: usize,
    },
    /// The request passed every check but what it would store does not fit
    /// an item (see [`crate::domain::agents::JobRecord::max_stored_bytes`]):
    /// refused before anything is written.
    #[error(
        "the job would be stored as up to {bytes} bytes (its input and room for its result), more than the {limit} a job may take: send a smaller input"
    )]
    TooLargeToStore {
        /// The most the item could take.
        bytes: usize,
        /// The item limit.
        limit: usize,
    },
    /// Too many requests; try again after the given wait.
    #[error("too many requests")]
    RateLimited {
        /// How long the caller must wait.
        retry_after: Duration,
    },
    /// A conditional write or transaction found the state other than
    /// expected. Domain code turns this into the right answer; reaching a
    /// client unhandled it is a `409`.
    #[error("condition failed")]
    ConditionFailed,
    /// A dependency (store, queue, secrets) failed or did not answer in
    /// time; nothing was done.
    #[error("service unavailable: {context}")]
    Unavailable {
        /// What was being done, e.g. `GetItem users`.
        context: String,
        /// The dependency's own error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// A write was sent but its answer did not come (a timeout, a dropped
    /// connection): it may or may not have been applied. Answered `503`;
    /// the detail says how to settle it.
    #[error("outcome unknown: {context}")]
    OutcomeUnknown {
        /// What was being done, e.g. `TransactWriteItems`.
        context: String,
        /// Whether the route takes an `Idempotency-Key` whose retry settles
        /// it (runs, tool calls); elsewhere reading the object does.
        retry_with_key: bool,
        /// The dependency's own error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// Every password-hashing slot stayed busy for the whole queue wait;
    /// nothing was done. Answered `503` with `Retry-After`.
    #[error("password hashing is saturated")]
    Saturated {
        /// How long the caller should wait before trying again.
        retry_after: Duration,
    },
    /// The configuration is invalid; the service must not start.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A bug or an unexpected state. Logged in full, answered opaquely.
    #[error("internal error: {context}")]
    Internal {
        /// What went wrong.
        context: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Cause>,
    },
}

/// An authentication scheme of API.md: `Authorization: Bearer` for people,
/// `X-API-Key` for services and agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// An access token.
    Bearer,
    /// An API key.
    ApiKey,
}

impl Scheme {
    /// The scheme's name in `WWW-Authenticate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::ApiKey => "ApiKey",
        }
    }
}

/// Why credentials were refused, as RFC 6750's `error_description` (and
/// the problem's `detail`) says it. `Expired` and `Revoked` are told only
/// once the signature verified; everything else is `Invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials at all: a challenge without an error.
    Missing,
    /// Past its `exp` (a client refreshes).
    Expired,
    /// The token, its session or its user revoked, or the key revoked (a
    /// client logs in again).
    Revoked,
    /// Anything else: forged, malformed, unknown, wrong audience.
    Invalid,
}

impl Refusal {
    /// The word a client reads.
    pub fn word(self) -> &'static str {
        match self {
            Refusal::Missing => "missing credentials",
            Refusal::Expired => "expired",
            Refusal::Revoked => "revoked",
            Refusal::Invalid => "invalid",
        }
    }
}

/// A `401` on a protected route: which credentials were refused and why,
/// and whether the route takes the other scheme too (then both challenges
/// are sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme refused (for [`Refusal::Missing`], the route's first).
    pub scheme: Scheme,
    /// Why.
    pub reason: Refusal,
    /// Whether the route also takes the other scheme.
    pub either: bool,
}

impl Challenge {
    /// A refused access token on a route that takes only tokens.
    pub fn bearer(reason: Refusal) -> Self {
        Self {
            scheme: Scheme::Bearer,
            reason,
            either: false,
        }
    }

    /// A refused API key.
    pub fn api_key(reason: Refusal) -> Self {
        Self {
            scheme: Scheme::ApiKey,
            reason,
            either: false,
        }
    }

    /// The same refusal on a route that takes either scheme.
    pub fn on_either(self) -> Self {
        Self {
            either: true,
            ..self
        }
    }

    /// The `WWW-Authenticate` value, `resource_metadata` pointing at
    /// `metadata_url` (RFC 9728).
    pub fn header(&self, metadata_url: &str) -> String {
        let challenge = |scheme: Scheme, reason: Refusal| {
            let mut value = format!(r#"{} resource_metadata="{metadata_url}""#, scheme.as_str());
            if reason != Refusal::Missing {
                value.push_str(&format!(
                    r#", error="invalid_token", error_description="{}""#,
                    reason.word()
                ));
            }
            value
        };
        let mut value = challenge(self.scheme, self.reason);
        if self.either {
            let other = match self.scheme {
                Scheme::Bearer => Scheme::ApiKey,
                Scheme::ApiKey => Scheme::Bearer,
            };
            value.push_str(", ");
            value.push_str(&challenge(other, Refusal::Missing));
        }
        value
    }
}

impl Error {
    /// A refused access token on a route that takes only tokens.
    pub fn token(reason: Refusal) -> Self {
        Error::TokenRefused(Challenge::bearer(reason))
    }

    /// The problem's `reason` member, for the refusals a program acts on.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Error::ToolCallRefused { reason, .. } => Some(reason),
            Error::ApprovalsPending { .. } => Some("approvals_pending"),
            _ => None,
        }
    }

    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Error::BadRequest(_) => S::BAD_REQUEST,
            Error::Unauthorized | Error::TokenRefused(_) => S::UNAUTHORIZED,
            Error::Forbidden(_)
            | Error::InsufficientScope { .. }
            | Error::ToolCallRefused { .. } => S::FORBIDDEN,
            Error::InvalidRequest(_) | Error::OAuth { .. } => S::BAD_REQUEST,
            Error::NotFound(_) => S::NOT_FOUND,
            Error::MethodNotAllowed { .. } => S::METHOD_NOT_ALLOWED,
            Error::UnsupportedMediaType { .. } => S::UNSUPPORTED_MEDIA_TYPE,
            Error::Conflict(_) | Error::ConditionFailed => S::CONFLICT,
            Error::PayloadTooLarge { .. } | Error::TooLargeToStore { .. } => S::PAYLOAD_TOO_LARGE,
            Error::RateLimited { .. } | Error::ApprovalsPending { .. } => S::TOO_MANY_REQUESTS,
            Error::Unavailable { .. } | Error::Saturated { .. } | Error::OutcomeUnknown { .. } => {
                S::SERVICE_UNAVAILABLE
            }
            Error::Config(_) | Error::Internal { .. } => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `detail` sent to the client: the message for client errors, a
    /// fixed sentence for server errors so no internal text ever leaks.
    pub fn public_detail(&self) -> String {
        match self {
            Error::Unavailable { .. } => {
                "the service is temporarily unavailable; nothing was changed, try again".into()
            }
            Error::OutcomeUnknown { retry_with_key, .. } => if *retry_with_key {
                "outcome unknown: retry with the same Idempotency-Key"
            } else {
                "outcome unknown"
            }
            .into(),
            Error::Saturated { .. } => {
                "the service is busy; nothing was changed, try again after Retry-After seconds"
                    .into()
            }
            Error::Config(_) | Error::Internal { .. } => "an internal error occurred".into(),
            Error::OAuth { description, .. } => description.clone(),
            other => other.to_string(),
        }
    }

    /// This error on a route that takes either scheme (a bearer token or an
    /// API key): a refused credential challenges both; anything else as
    /// it is.
    pub fn on_either_scheme(self) -> Self {
        match self {
            Error::TokenRefused(c) => Error::TokenRefused(c.on_either()),
            other => other,
        }
    }

    /// An [`Error::Unavailable`] with no underlying error.
    pub fn unavailable(context: impl Into<String>) -> Self {
        Error::Unavailable {
            context: context.into(),
            source: None,
        }
    }

    /// An [`Error::Unavailable`] caused by `source` while doing `context`.
    /// Never an AWS SDK error: its text can hold the request (items,
    /// hashes, secrets); use [`crate::aws::sdk_unavailable`].
    pub fn unavailable_from(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Unavailable {
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// An [`Error::Internal`] with no underlying error.
    pub fn internal(context: impl Into<String>) -> Self {
        Error::Internal {
            context: context.into(),
            source: None,
        }
    }

    /// An [`Error::Internal`] caused by `source` while doing `context`.
    /// Never an AWS SDK error (see [`Error::unavailable_from`]).
    pub fn internal_from(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Internal {
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// This error, when it says a write's outcome is unknown, marked as
    /// settled by a retry with the same `Idempotency-Key`; any other error
    /// as it is.
    pub fn settled_by_idempotent_retry(self) -> Self {
        match self {
            Error::OutcomeUnknown {
                context, source, ..
            } => Error::OutcomeUnknown {
                context,
                retry_with_key: true,
                source,
            },
            other => other,
        }
    }

    /// The error and every cause below it, joined by `: `, for the log.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_kept_for_the_log_and_never_shown_to_the_client() {
        let io = std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "dynamodb.local:8000 timed out",
        );
        let err = Error::unavailable_from("GetItem users", io);
        assert_eq!(
            err.chain(),
            "service unavailable: GetItem users: dynamodb.local:8000 timed out"
        );
        assert!(!err.public_detail().contains("dynamodb"));
        assert_eq!(err.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    }
}
