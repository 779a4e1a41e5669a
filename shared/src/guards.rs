//! The guards every AWS call runs under: the SDK's timeouts and retries
//! ([`Guards`], from the configuration), the Lambda and API Gateway
//! timeouts they must fit in, and the arithmetic of each path's worst case.
//! Pure data: [`crate::aws`] turns it into the SDK's configuration.

use std::time::Duration;

use serde::Serialize;

/// API Gateway's integration timeout: no operation timeout may reach it.
pub const API_GATEWAY_TIMEOUT: Duration = Duration::from_secs(29);

/// The functions' Lambda timeout (`Timeout` in `template.yaml`).
pub const LAMBDA_TIMEOUT: Duration = Duration::from_secs(10);

/// The agent worker's Lambda timeout (its own `Timeout` in `template.yaml`).
pub const WORKER_LAMBDA_TIMEOUT: Duration = Duration::from_secs(60);

/// The most SDK calls that can time out one after the other within one
/// request: webhook-receive's `SendMessage` and then the release of its
/// delivery claim. Every other path stops at the first failed call.
pub const CALLS_IN_SERIES: u32 = 2;

/// The standard retry strategy's backoff base: retry `n` (from 1) waits up
/// to `2^(n-1)` times this, never more than [`RETRY_MAX_BACKOFF`].
pub(crate) const RETRY_INITIAL_BACKOFF: Duration = Duration::from_secs(1);

/// The standard retry strategy's longest single backoff.
pub(crate) const RETRY_MAX_BACKOFF: Duration = Duration::from_secs(20);

/// Timeouts and retries for every AWS SDK client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "GuardsView")]
pub struct Guards {
    /// `WARDEN_AWS_CONNECT_TIMEOUT_MS`: establishing a connection.
    pub connect_timeout: Duration,
    /// `WARDEN_AWS_ATTEMPT_TIMEOUT_MS`: one attempt, from sending the
    /// request to the end of the response, connecting included.
    pub attempt_timeout: Duration,
    /// `WARDEN_AWS_OPERATION_TIMEOUT_MS`: one call, every attempt and the
    /// backoff between them included.
    pub operation_timeout: Duration,
    /// `WARDEN_AWS_MAX_ATTEMPTS`: attempts per call, the first included.
    pub max_attempts: u32,
}

impl Guards {
    /// Default connect timeout, milliseconds.
    pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1_000;
    /// Default attempt timeout, milliseconds.
    pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 2_000;
    /// Default operation timeout, milliseconds.
    pub const DEFAULT_OPERATION_TIMEOUT_MS: u64 = 4_000;
    /// Default attempts per call.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

    /// The longest one SDK call can take before it fails: the operation
    /// timeout, or less when every attempt and the longest backoff between
    /// them end sooner.
    pub fn call_worst_case(&self) -> Duration {
        let attempts = self.max_attempts.max(1);
        let backoff: Duration = (1..attempts)
            .map(|retry| {
                RETRY_INITIAL_BACKOFF
                    .saturating_mul(1_u32 << (retry - 1).min(16))
                    .min(RETRY_MAX_BACKOFF)
            })
            .sum();
        self.attempt_timeout
            .saturating_mul(attempts)
            .saturating_add(backoff)
            .min(self.operation_timeout)
    }

    /// The longest a request can wait on AWS before it is answered `503`:
    /// [`CALLS_IN_SERIES`] calls at their worst.
    pub fn request_worst_case(&self) -> Duration {
        self.call_worst_case().saturating_mul(CALLS_IN_SERIES)
    }
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(Self::DEFAULT_CONNECT_TIMEOUT_MS),
            attempt_timeout: Duration::from_millis(Self::DEFAULT_ATTEMPT_TIMEOUT_MS),
            operation_timeout: Duration::from_millis(Self::DEFAULT_OPERATION_TIMEOUT_MS),
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// [`Guards`] as reported (health, `config check`): whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GuardsView {
    /// See [`Guards::connect_timeout`].
    pub connect_timeout_ms: u64,
    /// See [`Guards::attempt_timeout`].
    pub attempt_timeout_ms: u64,
    /// See [`Guards::operation_timeout`].
    pub operation_timeout_ms: u64,
    /// See [`Guards::max_attempts`].
    pub max_attempts: u32,
}

impl From<Guards> for GuardsView {
    fn from(g: Guards) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            connect_timeout_ms: ms(g.connect_timeout),
            attempt_timeout_ms: ms(g.attempt_timeout),
            operation_timeout_ms: ms(g.operation_timeout),
            max_attempts: g.max_attempts,
        }
    }
}
