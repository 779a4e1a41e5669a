//! The one error type of Warden and how it becomes an HTTP answer.
//!
//! Every failure a handler can meet is an [`Error`]; [`Error::status`] maps it
//! to a status code and [`crate::http::problem`] renders it as
//! `application/problem+json`. Server-side failures are answered opaquely:
//! their cause is logged, never sent.

use std::time::Duration;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Warden.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed: bad JSON, a missing field, a value out of range.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or bad credentials. The detail is the same for every cause so
    /// that an attacker learns nothing from it.
    #[error("authentication failed")]
    Unauthorized,
    /// Valid credentials without the right role or scope.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist (or is not the caller's to see).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The body is over the endpoint's limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The endpoint's limit in bytes.
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
    /// A dependency (store, queue, secrets) failed; nothing was done.
    #[error("service unavailable: {0}")]
    Unavailable(String),
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
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The HTTP status code this error is answered with.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Error::BadRequest(_) => S::BAD_REQUEST,
            Error::Unauthorized => S::UNAUTHORIZED,
            Error::Forbidden(_) => S::FORBIDDEN,
            Error::NotFound(_) => S::NOT_FOUND,
            Error::Conflict(_) | Error::ConditionFailed => S::CONFLICT,
            Error::PayloadTooLarge { .. } => S::PAYLOAD_TOO_LARGE,
            Error::RateLimited { .. } => S::TOO_MANY_REQUESTS,
            Error::Unavailable(_) | Error::Saturated { .. } => S::SERVICE_UNAVAILABLE,
            Error::Config(_) | Error::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `detail` sent to the client: the message for client errors, a
    /// fixed sentence for server errors so no internal text ever leaks.
    pub fn public_detail(&self) -> String {
        match self {
            Error::Unavailable(_) => {
                "the service is temporarily unavailable; nothing was changed, try again".into()
            }
            Error::Saturated { .. } => {
                "the service is busy; nothing was changed, try again after Retry-After seconds"
                    .into()
            }
            Error::Config(_) | Error::Internal(_) => "an internal error occurred".into(),
            other => other.to_string(),
        }
    }

    /// Shorthand for an [`Error::Unavailable`] from any displayable cause.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        Error::Unavailable(cause.to_string())
    }

    /// Shorthand for an [`Error::Internal`] from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Error::Internal(cause.to_string())
    }
}
