//! The reports' shapes, as the security health endpoints answer them
//! (`infra/openapi.yaml`): every field a client reads, never a secret.

use serde::Serialize;

use super::Status;
use super::uptime::Uptime;
use crate::config::Check;

/// One check's result, as `/security/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// `configuration`, `table:<suffix>`, `queue:<name>`, `secret:<name>`,
    /// `webhooks`, or `store` on the embedded store.
    pub name: String,
    /// How it stands.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How long it took, milliseconds (the timeout when it hit it).
    pub latency_ms: u64,
}

/// `GET /security/health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// The worst check's status.
    pub status: Status,
    /// Every check, in a fixed order.
    pub checks: Vec<CheckResult>,
    /// Uptime from the probe's samples.
    pub uptime: Uptime,
    /// Each check's timeout, milliseconds.
    pub check_timeout_ms: u64,
    /// The Lambda invocation's remaining time when the report was done,
    /// milliseconds; `None` outside Lambda. (Set by the handler.)
    pub remaining_ms: Option<u64>,
}

/// One configuration finding as `/security/configuration` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigCheck {
    /// The check's name (see [`Check`]).
    pub name: Check,
    /// `failing` refuses start-up, `degraded` is a warning.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it.
    pub remediation: String,
}

/// One function's time budget under the AWS guards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionBudget {
    /// The function, as `template.yaml` names its binary.
    pub name: &'static str,
    /// Its Lambda timeout, milliseconds.
    pub timeout_ms: u64,
    /// The longest it can wait on AWS in one invocation, milliseconds.
    pub worst_case_ms: u64,
    /// `timeout_ms - worst_case_ms` (negative: the timeout can cut it off).
    pub margin_ms: i64,
}

/// The resource guards in force: the AWS SDK's timeouts and retries, and
/// what they mean for each function's budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardsReport {
    /// `WARDEN_AWS_CONNECT_TIMEOUT_MS`.
    pub connect_timeout_ms: u64,
    /// `WARDEN_AWS_ATTEMPT_TIMEOUT_MS`.
    pub attempt_timeout_ms: u64,
    /// `WARDEN_AWS_OPERATION_TIMEOUT_MS`.
    pub operation_timeout_ms: u64,
    /// `WARDEN_AWS_MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// The SDK's retry strategy: exponential backoff with jitter.
    pub retry_mode: &'static str,
    /// The longest one SDK call can take, retries included.
    pub call_worst_case_ms: u64,
    /// The longest a request can wait on AWS before it is answered `503`.
    pub request_worst_case_ms: u64,
    /// `WARDEN_HEALTH_CHECK_TIMEOUT_MS`.
    pub check_timeout_ms: u64,
    /// Each function's timeout against its worst case.
    pub functions: Vec<FunctionBudget>,
}

/// `GET /security/configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigurationReport {
    /// The worst finding's status.
    pub status: Status,
    /// Every finding, passing ones included.
    pub checks: Vec<ConfigCheck>,
    /// The resource guards in force.
    pub guards: GuardsReport,
}

/// One secret as `/security/secrets` shows it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretView {
    /// `api_key_pepper` or `webhook_sources`.
    pub name: &'static str,
    /// Whether it exists (and is not scheduled for deletion).
    pub present: bool,
    /// Where it comes from.
    pub source: &'static str,
    /// When it was created.
    pub created_at: Option<String>,
    /// When it was last rotated.
    pub last_rotated_at: Option<String>,
    /// Whole days since the last rotation, or since creation if never.
    pub age_days: Option<i64>,
    /// Whether Secrets Manager rotates it on a schedule.
    pub rotation_enabled: bool,
}

/// `GET /security/secrets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretsReport {
    /// Every secret the deployment uses.
    pub secrets: Vec<SecretView>,
}

/// One webhook source, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSummary {
    /// The `{source}` of `POST /webhooks/{source}`.
    pub name: String,
    /// The signature scheme.
    pub scheme: &'static str,
    /// How many secrets it has (more than one during a rotation).
    pub secrets: usize,
    /// Always true: verification has no switch.
    pub enforced: bool,
}

/// `GET /security/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhooksReport {
    /// Every configured source, by name.
    pub sources: Vec<SourceSummary>,
}
