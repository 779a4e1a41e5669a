//! Typed configuration, read once per cold start, and the start-up
//! validation that keeps an insecure deployment from ever serving.
//!
//! Every variable is read through one lookup function so that tests can
//! pass a map instead of mutating the process environment.

use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

use crate::auth::password_policy;
use crate::guards::{API_GATEWAY_TIMEOUT, Guards, LAMBDA_TIMEOUT};

/// OWASP's floor for argon2id: 19 MiB of memory, 2 passes, 1 lane.
pub const ARGON2_FLOOR: Argon2Params = Argon2Params {
    m_cost_kib: 19_456,
    t_cost: 2,
    p_cost: 1,
};

/// Where the deployment runs; decides which shortcuts are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Live traffic: every secret from Secrets Manager, strict CORS.
    Production,
    /// Like production, with warnings where production has errors.
    Staging,
    /// A laptop: secrets may come from the environment or be generated.
    Development,
}

impl Environment {
    /// The name, as `WARDEN_ENV` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::Development => "development",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "production" | "prod" => Some(Self::Production),
            "staging" => Some(Self::Staging),
            "development" | "dev" => Some(Self::Development),
            _ => None,
        }
    }
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism.
    pub p_cost: u32,
}

/// A rate: at most `limit` requests per `period_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rate {
    /// Requests allowed in one period.
    pub limit: u32,
    /// The period in seconds.
    pub period_secs: u32,
}

impl Rate {
    /// Parses `"5/60"`: five requests per sixty seconds.
    pub fn parse(s: &str) -> Option<Self> {
        let (limit, period) = s.trim().split_once('/')?;
        let rate = Rate {
            limit: limit.trim().parse().ok()?,
            period_secs: period.trim().parse().ok()?,
        };
        (rate.limit > 0 && rate.period_secs > 0).then_some(rate)
    }
}

/// How serious a configuration finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The check passed.
    Ok,
    /// Worth fixing; start-up goes on.
    Warning,
    /// Start-up is refused.
    Error,
}

/// The configuration checks, each named once: the CLI, the health report
/// and the tests match on these, never on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// `WARDEN_ENV` is readable.
    Environment,
    /// A numeric variable is readable and in range.
    Number,
    /// `WARDEN_LOGIN_IP_LIMIT` is readable.
    LoginIpLimit,
    /// CORS origins are safe for the environment.
    Cors,
    /// argon2 parameters meet OWASP's floor.
    Argon2,
    /// The token issuer is an origin, from where the environment requires.
    Issuer,
    /// The signing key comes from where the environment requires.
    SigningKey,
    /// The AWS SDK timeouts and retries fit the request budget.
    AwsTimeouts,
    /// The API-key pepper comes from where the environment requires and is
    /// long enough.
    ApiKeyPepper,
    /// argon2 parameters meet the operator's target (a warning).
    Argon2Target,
    /// Access tokens live at most an hour (a warning).
    AccessTokenTtl,
    /// Refresh tokens live at most 90 days (a warning).
    RefreshTokenTtl,
    /// The health checks' timeout lets the report answer within the
    /// function's timeout.
    HealthTimeout,
    /// Every secret was rotated in the last 90 days (a warning; from
    /// DescribeSecret, so only the health report and `warden health` have it).
    SecretRotation,
    /// Every person without role `admin` is a member of some workspace
    /// (`warden config check` with the tables reachable).
    Memberships,
}

impl Check {
    /// The check's name, as printed and reported.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Environment => "environment",
            Check::Number => "number",
            Check::LoginIpLimit => "login_ip_limit",
            Check::Cors => "cors",
            Check::Argon2 => "argon2",
            Check::Issuer => "issuer",
            Check::SigningKey => "signing_key",
            Check::AwsTimeouts => "aws_timeouts",
            Check::ApiKeyPepper => "api_key_pepper",
            Check::Argon2Target => "argon2_target",
            Check::AccessTokenTtl => "access_token_ttl",
            Check::RefreshTokenTtl => "refresh_token_ttl",
            Check::HealthTimeout => "health_timeout",
            Check::SecretRotation => "secret_rotation",
            Check::Memberships => "memberships",
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One result of the configuration validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which check this is.
    pub check: Check,
    /// Whether it passed, warns or refuses start-up.
    pub severity: Severity,
    /// What was found, naming the variable.
    pub message: String,
    /// What to do about it.
    pub remediation: String,
}

impl Finding {
    /// A finding of `check` at `severity`.
    pub fn new(check: Check, severity: Severity, message: String, remediation: &str) -> Self {
        Self {
            check,
            severity,
            message,
            remediation: remediation.to_owned(),
        }
    }

    /// A passing finding of `check`.
    pub fn ok(check: Check, message: String) -> Self {
        Self::new(check, Severity::Ok, message, "none needed")
    }
}

/// The findings of a validation run, all of them, passing ones included.
#[derive(Debug, Clone, Default)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    /// Whether any finding refuses start-up.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|f| f.severity == Severity::Error)
    }

    /// The refusing findings as one message, each naming its problem.
    pub fn error_summary(&self) -> String {
        self.0
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{}: {}", f.check, f.message))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Turns the findings into an error when any refuses start-up.
    pub fn into_result(self) -> crate::Result<Self> {
        if self.has_errors() {
            Err(crate::Error::Config(self.error_summary()))
        } else {
            Ok(self)
        }
    }
}

/// The shortest API-key pepper accepted, in bytes.
pub const MIN_PEPPER_BYTES: usize = 32;

/// Access tokens living longer than this draw a warning: a stolen one is
/// useful for that long, revocation aside.
pub const MAX_ADVISED_ACCESS_TTL_SECS: i64 = 3_600;

/// Refresh tokens living longer than this draw a warning.
pub const MAX_ADVISED_REFRESH_TTL_SECS: i64 = 90 * 24 * 3_600;

/// Each health check's default timeout, milliseconds.
pub const DEFAULT_HEALTH_CHECK_TIMEOUT_MS: u64 = 2_000;

/// The dead-letter queues' URLs, for the health report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterQueues {
    /// Of the events queue.
    pub events: Option<String>,
    /// Of the jobs queue.
    pub jobs: Option<String>,
    /// Of the outbound queue.
    pub outbound: Option<String>,
}

/// Warden's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `WARDEN_ENV`; a missing value means production, the safe choice.
    pub env: Environment,
    /// The `iss` of every token and the origin every discovery URL is
    /// built from (API.md "Issuer"): `WARDEN_ISSUER`, else the SSM
    /// parameter named by `WARDEN_ISSUER_PARAMETER` (read at cold start,
    /// [`crate::wiring`]), else in development `http://127.0.0.1:3000`
    /// (`warden serve` puts its listen address there).
    pub issuer: String,
    /// `WARDEN_ISSUER_PARAMETER`: the SSM parameter holding the issuer,
    /// which the stack writes (so no function references the API).
    pub issuer_parameter: Option<String>,
    /// `WARDEN_AUDIENCE`: the `aud` of every token.
    pub audience: String,
    /// `WARDEN_ACCESS_TOKEN_TTL`: access token lifetime in seconds (900).
    pub access_ttl_secs: i64,
    /// `WARDEN_REFRESH_TOKEN_TTL`: refresh token lifetime in seconds (30 days).
    pub refresh_ttl_secs: i64,
    /// `ALLOWED_ORIGINS`: comma-separated origins echoed in CORS answers.
    pub allowed_origins: Vec<String>,
    /// `WARDEN_ARGON2_M_COST`, `WARDEN_ARGON2_T_COST`, `WARDEN_ARGON2_P_COST`.
    pub argon2: Argon2Params,
    /// `WARDEN_ARGON2_TARGET_M_COST`, `WARDEN_ARGON2_TARGET_T_COST`,
    /// `WARDEN_ARGON2_TARGET_P_COST`: the parameters the operator aims for;
    /// below them is a warning (default: OWASP's floor).
    pub argon2_target: Argon2Params,
    /// `WARDEN_PASSWORD_CONCURRENCY`: password hashes that run at once
    /// (default: the number of cores).
    pub password_concurrency: usize,
    /// `WARDEN_PASSWORD_QUEUE_TIMEOUT_MS`: how long a hash waits for a slot
    /// before the request is answered `503` (2000).
    pub password_queue_timeout_ms: u64,
    /// `WARDEN_PASSWORD_MIN_LENGTH`: the fewest characters (Unicode scalar
    /// values) a new password may have (12); 8 to 128, else start-up is
    /// refused. See [`crate::auth::password_policy`].
    pub password_min_length: usize,
    /// `WARDEN_LOGIN_IP_LIMIT`: login requests per client IP (`5/60`).
    pub login_ip_limit: Rate,
    /// `WARDEN_RUN_LIMIT_PER_MINUTE`: run requests per person a minute
    /// (60), the whole minute usable as one burst; every `POST …/runs`
    /// counts, refused ones too.
    pub run_limit_per_minute: u32,
    /// `WARDEN_API_KEY_READS_PER_HOUR`: the floor of an agent's API key's
    /// read limit (3600: one a second, bursts of 60). Its reads (polling a
    /// job or a tool call, listings) spend a limit of the larger of this
    /// and the key's own `rate_limit_per_hour`, apart from its run limit;
    /// a service key's introspections its own `rate_limit_per_hour`.
    pub api_key_reads_per_hour: u32,
    /// `WARDEN_TABLE_PREFIX`: prepended to every DynamoDB table name.
    pub table_prefix: String,
    /// `WARDEN_TRUST_FORWARDED_FOR`: take the client IP from
    /// `X-Forwarded-For` in `warden serve` (behind a trusted local proxy).
    pub trust_forwarded_for: bool,
    /// `WARDEN_AUDIT_RETENTION_DAYS`: how long audit events are kept (365).
    pub audit_retention_days: i64,
    /// `WARDEN_DELEGATED_ROUTES`: the route keys (`POST /orders`, API
    /// Gateway's `routeKey`) on which the Lambda authorizer accepts a
    /// delegated token (one with `act`); empty refuses every one.
    pub delegated_routes: Vec<String>,
    /// `WARDEN_SIGNING_KEY_ARN`: the stack's first KMS signing key, which
    /// signs while no key set item has been written
    /// ([`crate::auth::signing::KeySet::initial`]).
    pub signing_key_arn: Option<String>,
    /// `WARDEN_SIGNING_KEY_FILE`: a PEM RSA private key that signs in
    /// development (else one is generated per start); refused elsewhere.
    pub signing_key_file: Option<String>,
    /// `WARDEN_DECISION_KEY_ARN`: the KMS key (tag `warden:decision`) that
    /// signs tool calls' decision tokens, never the access-token key; in
    /// development without it, `warden serve` generates one per start.
    pub decision_key_arn: Option<String>,
    /// `WARDEN_DECISION_KEY_FILE`: a PEM RSA private key that signs
    /// decision tokens in development (else one is generated per start);
    /// refused elsewhere.
    pub decision_key_file: Option<String>,
    /// `WARDEN_TOOL_APPROVAL_TTL_SECS`: how long a tool-call proposal may
    /// wait for a decision, an approval for its use, and a rejection
    /// answers identical calls (900).
    pub tool_approval_ttl_secs: i64,
    /// `WARDEN_TOOL_PENDING_MAX`: the most pending tool-call proposals one
    /// agent may have in one workspace (20).
    pub tool_pending_max: u32,
    /// `WARDEN_DEFAULT_WORKSPACE`: the workspace the AgentCore Gateway
    /// interceptor (`tool-gate`) decides in when a call carries no
    /// `X-Warden-Workspace` header (the stack's `DefaultWorkspace`); none:
    /// such a call is denied.
    pub default_workspace: Option<String>,
    /// `WARDEN_WEBHOOK_SECRETS_ARN`: the Secrets Manager secret holding the
    /// webhook sources, a JSON array `[{"name", "scheme", "secrets"}]`.
    pub webhook_secrets_arn: Option<String>,
    /// `WARDEN_EVENTS_QUEUE_URL`: the SQS queue verified deliveries go to.
    pub events_queue_url: Option<String>,
    /// `WARDEN_JOBS_QUEUE_URL`: the SQS queue agent jobs go to (locally, an
    /// in-process queue when unset).
    pub jobs_queue_url: Option<String>,
    /// `WARDEN_JOBS_DLQ_ARN`: the jobs dead-letter queue; the worker marks
    /// the job of every record from it `FAILED`.
    pub jobs_dlq_arn: Option<String>,
    /// `WARDEN_OUTBOUND_QUEUE_URL`: the SQS FIFO queue the external effects
    /// of business actions are published to.
    pub outbound_queue_url: Option<String>,
    /// `WARDEN_EVENTS_DLQ_URL`, `WARDEN_JOBS_DLQ_URL`,
    /// `WARDEN_OUTBOUND_DLQ_URL`: the dead-letter queues, whose depth the
    /// health report shows.
    pub dlq_urls: DeadLetterQueues,
    /// `WARDEN_HEALTH_CHECK_TIMEOUT_MS`: each health check's timeout (2000).
    pub health_check_timeout: Duration,
    /// `WARDEN_SECRET_CACHE_TTL_SECS`: how long a warm function serves with
    /// the webhook sources it read before reading them again
    /// (300; see [`crate::secrets::cache`]).
    pub secret_cache_ttl_secs: u64,
    /// `WARDEN_API_KEY_PEPPER`: the API-key pepper itself; development only.
    pub api_key_pepper: Option<SecretString>,
    /// `WARDEN_API_KEY_PEPPER_ARN`: the Secrets Manager secret holding it.
    pub api_key_pepper_arn: Option<String>,
    /// `WARDEN_AUDIT_MAC_SECRET_ARN`: the Secrets Manager secret holding the
    /// audit MAC key ([`crate::audit::mac`]), read once per cold start by
    /// every function that writes audit events; each event it writes is
    /// sealed with it.
    pub audit_mac_secret_arn: Option<String>,
    /// `WARDEN_AUDIT_MAC_KEY`: the audit MAC key itself; development only.
    pub audit_mac_key: Option<SecretString>,
    /// `WARDEN_CHECKPOINT_KEY_ARN`: the KMS key (`ECC_NIST_P256`) that
    /// signs the audit ledger's checkpoints; the checkpointer alone may
    /// sign with it.
    pub checkpoint_key_arn: Option<String>,
    /// `WARDEN_CHECKPOINT_KEY_FILE`: a PEM (PKCS#8) P-256 private key that
    /// signs checkpoints in development (else `warden serve` generates one
    /// per start); refused elsewhere.
    pub checkpoint_key_file: Option<String>,
    /// `WARDEN_CHECKPOINT_BUCKET`: the S3 bucket with Object Lock that
    /// keeps each checkpoint's hash, written once.
    pub checkpoint_bucket: Option<String>,
    /// `WARDEN_AWS_CONNECT_TIMEOUT_MS`, `WARDEN_AWS_ATTEMPT_TIMEOUT_MS`,
    /// `WARDEN_AWS_OPERATION_TIMEOUT_MS`, `WARDEN_AWS_MAX_ATTEMPTS`: the
    /// timeouts and retries of every AWS SDK client.
    pub aws: Guards,
}

impl Config {
    /// Reads and validates the process environment. Fails, naming every
    /// problem, when start-up must be refused.
    pub fn from_env() -> crate::Result<Self> {
        let (config, findings) = Self::load(|k| std::env::var(k).ok());
        findings.into_result()?;
        config.ok_or_else(|| crate::Error::Config("configuration could not be read".into()))
    }

    /// Reads the configuration through `lookup` and validates everything
    /// that can be checked without fetching secrets. The config is `None`
    /// when a value could not be parsed at all.
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> (Option<Self>, Findings) {
        let mut findings = Vec::new();
        let var = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let mut unreadable = false;

        let env = match var("WARDEN_ENV") {
            None => Environment::Production,
            Some(v) => match Environment::parse(&v) {
                Some(e) => e,
                None => {
                    unreadable = true;
                    findings.push(Finding::new(
                        Check::Environment,
                        Severity::Error,
                        format!("WARDEN_ENV is {v:?}; expected production, staging or development"),
                        "set WARDEN_ENV to production, staging or development",
                    ));
                    Environment::Production
                }
            },
        };

        let mut number = |name: &'static str, default: i64, min: i64| -> i64 {
            match var(name) {
                None => default,
                Some(v) => match v.trim().parse::<i64>() {
                    Ok(n) if n >= min => n,
                    _ => {
                        unreadable = true;
                        findings.push(Finding::new(
                            Check::Number,
                            Severity::Error,
                            format!("{name} is {v:?}; expected a whole number of at least {min}"),
                            "fix or unset the variable",
                        ));
                        default
                    }
                },
            }
        };
        let access_ttl_secs = number("WARDEN_ACCESS_TOKEN_TTL", 900, 1);
        let refresh_ttl_secs = number("WARDEN_REFRESH_TOKEN_TTL", 30 * 24 * 3600, 1);
        let audit_retention_days = number("WARDEN_AUDIT_RETENTION_DAYS", 365, 1);
        let run_limit_per_minute =
            u32::try_from(number("WARDEN_RUN_LIMIT_PER_MINUTE", 60, 1)).unwrap_or(u32::MAX);
        let api_key_reads_per_hour =
            u32::try_from(number("WARDEN_API_KEY_READS_PER_HOUR", 3600, 1)).unwrap_or(u32::MAX);
        let tool_approval_ttl_secs = number("WARDEN_TOOL_APPROVAL_TTL_SECS", 900, 1);
        let tool_pending_max =
            u32::try_from(number("WARDEN_TOOL_PENDING_MAX", 20, 1)).unwrap_or(u32::MAX);
        let secret_cache_ttl_secs = number(
            "WARDEN_SECRET_CACHE_TTL_SECS",
            crate::secrets::cache::DEFAULT_TTL_SECS.cast_signed(),
            1,
        )
        .cast_unsigned();
        let to_u32 = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        // The parameters in force and the operator's target, each variable
        // defaulting to OWASP's floor.
        let mut argon2_from = |[m, t, p]: [&'static str; 3]| Argon2Params {
            m_cost_kib: to_u32(number(m, ARGON2_FLOOR.m_cost_kib.into(), 0)),
            t_cost: to_u32(number(t, ARGON2_FLOOR.t_cost.into(), 0)),
            p_cost: to_u32(number(p, ARGON2_FLOOR.p_cost.into(), 0)),
        };
        let argon2 = argon2_from([
            "WARDEN_ARGON2_M_COST",
            "WARDEN_ARGON2_T_COST",
            "WARDEN_ARGON2_P_COST",
        ]);
        let argon2_target = argon2_from([
            "WARDEN_ARGON2_TARGET_M_COST",
            "WARDEN_ARGON2_TARGET_T_COST",
            "WARDEN_ARGON2_TARGET_P_COST",
        ]);
        let mut millis = |name: &'static str, default: u64| {
            let n = number(name, i64::try_from(default).unwrap_or(i64::MAX), 1);
            Duration::from_millis(u64::try_from(n).unwrap_or(default))
        };
        let health_check_timeout = millis(
            "WARDEN_HEALTH_CHECK_TIMEOUT_MS",
            DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
        );
        let aws = Guards {
            connect_timeout: millis(
                "WARDEN_AWS_CONNECT_TIMEOUT_MS",
                Guards::DEFAULT_CONNECT_TIMEOUT_MS,
            ),
            attempt_timeout: millis(
                "WARDEN_AWS_ATTEMPT_TIMEOUT_MS",
                Guards::DEFAULT_ATTEMPT_TIMEOUT_MS,
            ),
            operation_timeout: millis(
                "WARDEN_AWS_OPERATION_TIMEOUT_MS",
                Guards::DEFAULT_OPERATION_TIMEOUT_MS,
            ),
            // Zero parses, so that the validation names the allowed range.
            max_attempts: to_u32(number(
                "WARDEN_AWS_MAX_ATTEMPTS",
                Guards::DEFAULT_MAX_ATTEMPTS.into(),
                0,
            )),
        };
        // Each hash holds m_cost KiB; more at once than cores only queues
        // CPU and adds memory, so the default is the number of cores.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let password_concurrency = usize::try_from(number(
            "WARDEN_PASSWORD_CONCURRENCY",
            i64::try_from(cores).unwrap_or(1),
            1,
        ))
        .unwrap_or(1);
        let password_queue_timeout_ms =
            u64::try_from(number("WARDEN_PASSWORD_QUEUE_TIMEOUT_MS", 2000, 0)).unwrap_or(0);
        // Zero parses, so that the validation names the allowed range.
        let password_min_length = usize::try_from(number(
            "WARDEN_PASSWORD_MIN_LENGTH",
            i64::try_from(password_policy::DEFAULT_MIN_LENGTH).unwrap_or(12),
            0,
        ))
        .unwrap_or(0);

        let login_ip_limit = match var("WARDEN_LOGIN_IP_LIMIT") {
            None => Rate {
                limit: 5,
                period_secs: 60,
            },
            Some(v) => Rate::parse(&v).unwrap_or_else(|| {
                unreadable = true;
                findings.push(Finding::new(
                    Check::LoginIpLimit,
                    Severity::Error,
                    format!(
                        "WARDEN_LOGIN_IP_LIMIT is {v:?}; expected requests/seconds such as 5/60"
                    ),
                    "set WARDEN_LOGIN_IP_LIMIT like 5/60",
                ));
                Rate {
                    limit: 5,
                    period_secs: 60,
                }
            }),
        };

        let allowed_origins: Vec<String> = var("ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();

        let config = Config {
            env,
            issuer: var("WARDEN_ISSUER")
                .map(|i| i.trim().trim_end_matches('/').to_owned())
                .unwrap_or_else(|| DEVELOPMENT_ISSUER.into()),
            issuer_parameter: var("WARDEN_ISSUER_PARAMETER"),
            audience: var("WARDEN_AUDIENCE").unwrap_or_else(|| "warden-api".into()),
            access_ttl_secs,
            refresh_ttl_secs,
            allowed_origins,
            argon2,
            argon2_target,
            password_concurrency,
            password_queue_timeout_ms,
            password_min_length,
            login_ip_limit,
            run_limit_per_minute,
            api_key_reads_per_hour,
            table_prefix: var("WARDEN_TABLE_PREFIX").unwrap_or_else(|| "warden-".into()),
            trust_forwarded_for: var("WARDEN_TRUST_FORWARDED_FOR")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            audit_retention_days,
            delegated_routes: var("WARDEN_DELEGATED_ROUTES")
                .map(|v| {
                    v.split(',')
                        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
                        .filter(|r| !r.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            signing_key_arn: var("WARDEN_SIGNING_KEY_ARN"),
            signing_key_file: var("WARDEN_SIGNING_KEY_FILE"),
            decision_key_arn: var("WARDEN_DECISION_KEY_ARN"),
            decision_key_file: var("WARDEN_DECISION_KEY_FILE"),
            tool_approval_ttl_secs,
            tool_pending_max,
            default_workspace: var("WARDEN_DEFAULT_WORKSPACE").filter(|w| !w.trim().is_empty()),
            webhook_secrets_arn: var("WARDEN_WEBHOOK_SECRETS_ARN"),
            events_queue_url: var("WARDEN_EVENTS_QUEUE_URL"),
            jobs_queue_url: var("WARDEN_JOBS_QUEUE_URL"),
            jobs_dlq_arn: var("WARDEN_JOBS_DLQ_ARN"),
            outbound_queue_url: var("WARDEN_OUTBOUND_QUEUE_URL"),
            dlq_urls: DeadLetterQueues {
                events: var("WARDEN_EVENTS_DLQ_URL"),
                jobs: var("WARDEN_JOBS_DLQ_URL"),
                outbound: var("WARDEN_OUTBOUND_DLQ_URL"),
            },
            health_check_timeout,
            secret_cache_ttl_secs,
            api_key_pepper: var("WARDEN_API_KEY_PEPPER").map(SecretString::from),
            api_key_pepper_arn: var("WARDEN_API_KEY_PEPPER_ARN"),
            audit_mac_secret_arn: var("WARDEN_AUDIT_MAC_SECRET_ARN"),
            audit_mac_key: var("WARDEN_AUDIT_MAC_KEY").map(SecretString::from),
            checkpoint_key_arn: var("WARDEN_CHECKPOINT_KEY_ARN"),
            checkpoint_key_file: var("WARDEN_CHECKPOINT_KEY_FILE"),
            checkpoint_bucket: var("WARDEN_CHECKPOINT_BUCKET"),
            aws,
        };
        findings.extend(config.validate());
        ((!unreadable).then_some(config), Findings(findings))
    }

    /// Whether the issuer is an origin (`https://host[:port]`, no path; in
    /// development `http://` too) and comes from where the environment
    /// requires: outside development `WARDEN_ISSUER` or the stack's SSM
    /// parameter (`WARDEN_ISSUER_PARAMETER`).
    fn issuer_finding(&self) -> Finding {
        let unset = self.issuer == DEVELOPMENT_ISSUER;
        if self.env != Environment::Development && unset {
            return match &self.issuer_parameter {
                Some(name) => Finding::ok(
                    Check::Issuer,
                    format!("issuer from the SSM parameter {name}, read at start-up"),
                ),
                None => Finding::new(
                    Check::Issuer,
                    Severity::Error,
                    "neither WARDEN_ISSUER nor WARDEN_ISSUER_PARAMETER is set".into(),
                    "deploy with template.yaml (it sets WARDEN_ISSUER_PARAMETER) or set WARDEN_ISSUER to the API's https:// origin",
                ),
            };
        }
        match check_issuer(&self.issuer, self.env) {
            Ok(()) => Finding::ok(Check::Issuer, format!("issuer {}", self.issuer)),
            Err(problem) => Finding::new(
                Check::Issuer,
                Severity::Error,
                format!("WARDEN_ISSUER {:?}: {problem}", self.issuer),
                "set WARDEN_ISSUER to an origin such as https://auth.example.com (no path)",
            ),
        }
    }

    /// A minimum password length outside 8 to 128 refuses start-up: below
    /// 8 is below ASVS's floor, above 128 no password could be set.
    fn password_min_length_finding(&self) -> Option<Finding> {
        let (floor, max) = (
            password_policy::MIN_LENGTH_FLOOR,
            password_policy::MAX_LENGTH,
        );
        let n = self.password_min_length;
        (n < floor || n > max).then(|| {
            Finding::new(
                Check::Number,
                Severity::Error,
                format!("WARDEN_PASSWORD_MIN_LENGTH is {n}; expected {floor} to {max} characters"),
                "set WARDEN_PASSWORD_MIN_LENGTH between 8 and 128, or unset it (12)",
            )
        })
    }

    /// Where access tokens are signed: in development a local RSA key
    /// (from `WARDEN_SIGNING_KEY_FILE`, or generated per start); elsewhere
    /// only KMS, the PEM file refused.
    fn signing_key_finding(&self) -> Finding {
        match (self.env, &self.signing_key_file, &self.signing_key_arn) {
            (Environment::Development, Some(file), _) => Finding::ok(
                Check::SigningKey,
                format!("development: access tokens signed with the RSA key in {file}"),
            ),
            (Environment::Development, None, Some(arn)) => Finding::ok(
                Check::SigningKey,
                format!("access tokens signed in KMS; the first key is {arn}"),
            ),
            (Environment::Development, None, None) => Finding::new(
                Check::SigningKey,
                Severity::Warning,
                "development: an RSA signing key is generated per start, so a restart invalidates every access token (refresh tokens survive)".into(),
                "set WARDEN_SIGNING_KEY_FILE to a PEM RSA private key to keep tokens valid across restarts",
            ),
            (_, Some(_), _) => Finding::new(
                Check::SigningKey,
                Severity::Error,
                "WARDEN_SIGNING_KEY_FILE is set outside development; access tokens are signed only in KMS".into(),
                "unset WARDEN_SIGNING_KEY_FILE; the stack's KMS key (WARDEN_SIGNING_KEY_ARN) signs",
            ),
            (_, None, Some(arn)) => Finding::ok(
                Check::SigningKey,
                format!("access tokens signed in KMS; the first key is {arn}, the key set item names the rest"),
            ),
            (_, None, None) => Finding::ok(
                Check::SigningKey,
                "no signing key here (WARDEN_SIGNING_KEY_ARN unset): only the functions that issue or verify tokens need one".into(),
            ),
        }
    }

    /// The audit ledger's local stand-ins outside development are refused:
    /// there the MAC key comes from Secrets Manager and checkpoints are
    /// signed only in KMS.
    fn ledger_findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.env == Environment::Development {
            return out;
        }
        if self.checkpoint_key_file.is_some() {
            out.push(Finding::new(
                Check::SigningKey,
                Severity::Error,
                "WARDEN_CHECKPOINT_KEY_FILE is set outside development; checkpoints are signed only in KMS".into(),
                "unset WARDEN_CHECKPOINT_KEY_FILE; the stack's checkpoint key (WARDEN_CHECKPOINT_KEY_ARN) signs",
            ));
        }
        if self.audit_mac_key.is_some() {
            out.push(Finding::new(
                Check::SigningKey,
                Severity::Error,
                "WARDEN_AUDIT_MAC_KEY is set outside development; the audit MAC key is read from Secrets Manager".into(),
                "unset WARDEN_AUDIT_MAC_KEY and set WARDEN_AUDIT_MAC_SECRET_ARN",
            ));
        }
        out
    }

    /// The audit ledger's grace G in milliseconds: the longest a writer's
    /// transaction can take (`WARDEN_AWS_OPERATION_TIMEOUT_MS`) plus the
    /// largest writer clock error accepted
    /// ([`crate::audit::MAX_CLOCK_ERROR_MS`]). A minute is checkpointed once
    /// its end is G old.
    pub fn ledger_grace_ms(&self) -> i64 {
        i64::try_from(self.aws.operation_timeout.as_millis()).unwrap_or(i64::MAX / 4)
            + crate::audit::MAX_CLOCK_ERROR_MS
    }

    /// The audit ledger's name, every checkpoint's first line and the
    /// checkpoint key's name: the issuer without its scheme, then `/audit`
    /// (`auth.example.com/audit`), as C2SP's signed notes name logs.
    pub fn ledger_origin(&self) -> String {
        let host = self
            .issuer
            .split_once("://")
            .map_or(self.issuer.as_str(), |(_, rest)| rest);
        format!("{}/audit", host.trim_end_matches('/'))
    }

    /// A local decision key outside development is refused: decision
    /// tokens are signed only in KMS there.
    fn decision_key_finding(&self) -> Option<Finding> {
        (self.env != Environment::Development && self.decision_key_file.is_some()).then(|| {
            Finding::new(
                Check::SigningKey,
                Severity::Error,
                "WARDEN_DECISION_KEY_FILE is set outside development; decision tokens are signed only in KMS".into(),
                "unset WARDEN_DECISION_KEY_FILE; the stack's decision key (WARDEN_DECISION_KEY_ARN) signs",
            )
        })
    }

    /// Where the API-key pepper comes from, when one is configured: the
    /// value itself only in development, and never shorter than 32 bytes.
    /// (A function that needs a pepper and has none refuses to start when
    /// it builds its state.)
    fn pepper_finding(&self) -> Option<Finding> {
        use secrecy::ExposeSecret as _;
        match (&self.api_key_pepper, self.env) {
            (Some(_), env) if env != Environment::Development => Some(Finding::new(
                Check::ApiKeyPepper,
                Severity::Error,
                "WARDEN_API_KEY_PEPPER holds the pepper itself outside development".into(),
                "store the pepper in Secrets Manager and set WARDEN_API_KEY_PEPPER_ARN",
            )),
            (Some(p), _) if p.expose_secret().len() < MIN_PEPPER_BYTES => Some(Finding::new(
                Check::ApiKeyPepper,
                Severity::Error,
                format!("WARDEN_API_KEY_PEPPER is shorter than {MIN_PEPPER_BYTES} bytes"),
                "use at least 32 random bytes, e.g. `openssl rand -base64 48`",
            )),
            (Some(_), _) => Some(Finding::ok(
                Check::ApiKeyPepper,
                "development: API-key pepper from WARDEN_API_KEY_PEPPER".into(),
            )),
            (None, _) => self.api_key_pepper_arn.as_ref().map(|_| {
                Finding::ok(
                    Check::ApiKeyPepper,
                    "API-key pepper from Secrets Manager (WARDEN_API_KEY_PEPPER_ARN)".into(),
                )
            }),
        }
    }

    /// Every finding of the loaded configuration, as start-up judged it
    /// (warnings and passing checks included): what the health report
    /// shows.
    pub fn findings(&self) -> Findings {
        Findings(self.validate())
    }

    /// The checks that need no secret value: CORS, argon2, the issuer, where the signing key
    /// comes from, the AWS timeouts.
    fn validate(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        out.extend(self.pepper_finding());
        let wildcard = self.allowed_origins.iter().any(|o| o.contains('*'));
        let http_origins: Vec<&str> = self
            .allowed_origins
            .iter()
            .filter(|o| o.to_ascii_lowercase().starts_with("http://"))
            .map(String::as_str)
            .collect();
        out.push(match (wildcard, self.env) {
            (true, Environment::Production) => Finding::new(
                Check::Cors,
                Severity::Error,
                "ALLOWED_ORIGINS holds the wildcard `*` in production".into(),
                "list the exact origins of your front ends in ALLOWED_ORIGINS",
            ),
            (true, _) => Finding::new(
                Check::Cors,
                Severity::Warning,
                "ALLOWED_ORIGINS holds the wildcard `*`; production would refuse to start".into(),
                "list exact origins in ALLOWED_ORIGINS",
            ),
            (false, Environment::Production) if !http_origins.is_empty() => Finding::new(
                Check::Cors,
                Severity::Warning,
                format!(
                    "ALLOWED_ORIGINS allows plain-http origins in production: {}",
                    http_origins.join(", ")
                ),
                "serve the front ends over https and list their https:// origins",
            ),
            (false, _) => Finding::ok(
                Check::Cors,
                format!(
                    "{} allowed origin(s), no wildcard",
                    self.allowed_origins.len()
                ),
            ),
        });

        let a = self.argon2;
        let mut weak = Vec::new();
        if a.m_cost_kib < ARGON2_FLOOR.m_cost_kib {
            weak.push(format!(
                "WARDEN_ARGON2_M_COST={} < {}",
                a.m_cost_kib, ARGON2_FLOOR.m_cost_kib
            ));
        }
        if a.t_cost < ARGON2_FLOOR.t_cost {
            weak.push(format!(
                "WARDEN_ARGON2_T_COST={} < {}",
                a.t_cost, ARGON2_FLOOR.t_cost
            ));
        }
        if a.p_cost < ARGON2_FLOOR.p_cost {
            weak.push(format!(
                "WARDEN_ARGON2_P_COST={} < {}",
                a.p_cost, ARGON2_FLOOR.p_cost
            ));
        }
        if argon2::Params::new(a.m_cost_kib, a.t_cost, a.p_cost, None).is_err() {
            weak.push("the parameters are not valid for argon2".into());
        }
        out.push(if weak.is_empty() {
            Finding::ok(
                Check::Argon2,
                format!(
                    "argon2id m={} KiB, t={}, p={}",
                    a.m_cost_kib, a.t_cost, a.p_cost
                ),
            )
        } else {
            Finding::new(
                Check::Argon2,
                Severity::Error,
                format!(
                    "argon2 parameters below OWASP's floor (m=19456 KiB, t=2, p=1): {}",
                    weak.join(", ")
                ),
                "raise the argon2 parameters to at least m=19456, t=2, p=1",
            )
        });

        out.extend(self.password_min_length_finding());
        out.push(self.issuer_finding());
        out.push(self.signing_key_finding());
        out.extend(self.decision_key_finding());
        out.extend(self.ledger_findings());
        out.push(check_aws_guards(&self.aws));
        out.extend(self.advisories());
        out
    }

    /// The warnings that do not stop start-up (the health report shows
    /// them): development mode, long token lifetimes, `http://` origins in
    /// production, argon2 below the target; and the health checks' timeout,
    /// which must fit the function's.
    fn advisories(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        out.push(match self.env {
            Environment::Development => Finding::new(
                Check::Environment,
                Severity::Warning,
                "WARDEN_ENV=development: secrets may come from the environment or be generated"
                    .into(),
                "set WARDEN_ENV=production for a deployment that serves users",
            ),
            env => Finding::ok(Check::Environment, format!("WARDEN_ENV={}", env.as_str())),
        });
        out.push(lifetime_finding(
            Check::AccessTokenTtl,
            "WARDEN_ACCESS_TOKEN_TTL",
            self.access_ttl_secs,
            MAX_ADVISED_ACCESS_TTL_SECS,
            "keep access tokens short (900 s by default); refresh tokens cover long sessions",
        ));
        out.push(lifetime_finding(
            Check::RefreshTokenTtl,
            "WARDEN_REFRESH_TOKEN_TTL",
            self.refresh_ttl_secs,
            MAX_ADVISED_REFRESH_TTL_SECS,
            "keep refresh tokens at 90 days or less (30 by default)",
        ));
        let (a, t) = (self.argon2, self.argon2_target);
        let below: Vec<String> = [
            ("M", a.m_cost_kib, t.m_cost_kib),
            ("T", a.t_cost, t.t_cost),
            ("P", a.p_cost, t.p_cost),
        ]
        .into_iter()
        .filter(|(_, actual, target)| actual < target)
        .map(|(n, actual, target)| {
            format!("WARDEN_ARGON2_{n}_COST={actual} < WARDEN_ARGON2_TARGET_{n}_COST={target}")
        })
        .collect();
        out.push(if below.is_empty() {
            Finding::ok(
                Check::Argon2Target,
                format!(
                    "argon2id meets the target m={} KiB, t={}, p={}",
                    t.m_cost_kib, t.t_cost, t.p_cost
                ),
            )
        } else {
            Finding::new(
                Check::Argon2Target,
                Severity::Warning,
                format!("argon2 parameters below the configured target: {}", below.join(", ")),
                "raise WARDEN_ARGON2_*_COST to the target (new hashes use them; old ones are upgraded at login)",
            )
        });
        let timeout = self.health_check_timeout;
        let worst = health_worst_case(timeout, &self.aws);
        out.push(if worst >= LAMBDA_TIMEOUT {
            Finding::new(
                Check::HealthTimeout,
                Severity::Error,
                format!(
                    "WARDEN_HEALTH_CHECK_TIMEOUT_MS={} with AWS calls of up to {} ms: a health report or probe run may take {} ms, not below the {} ms Lambda timeout",
                    timeout.as_millis(),
                    self.aws.call_worst_case().as_millis(),
                    worst.as_millis(),
                    LAMBDA_TIMEOUT.as_millis()
                ),
                "lower WARDEN_HEALTH_CHECK_TIMEOUT_MS (2000 by default) or the AWS timeouts",
            )
        } else {
            Finding::ok(
                Check::HealthTimeout,
                format!(
                    "each health check times out after {} ms; a report or probe run takes at most {} ms",
                    timeout.as_millis(),
                    worst.as_millis()
                ),
            )
        });
        out
    }
}

/// The longest a health report or a probe run can take with checks that
/// time out after `check_timeout`: the bearer-token read (one AWS call),
/// then the checks, for a report; the checks and the previous sample's
/// read side by side (both under the check timeout), then the sample's
/// write (one AWS call), for the probe. Both come to the same.
pub fn health_worst_case(check_timeout: Duration, guards: &Guards) -> Duration {
    check_timeout.saturating_add(guards.call_worst_case())
}

/// A token lifetime against its advised maximum: a warning above it.
fn lifetime_finding(check: Check, var: &str, secs: i64, max: i64, fix: &str) -> Finding {
    if secs > max {
        Finding::new(
            check,
            Severity::Warning,
            format!("{var}={secs} s is longer than the advised {max} s"),
            fix,
        )
    } else {
        Finding::ok(check, format!("{var}={secs} s"))
    }
}

/// Checks the AWS timeouts: each must be able to fire, and a request that
/// meets a hung dependency must still be answered before API Gateway gives
/// up (an error) and before the Lambda timeout (a warning: it can be
/// raised in `template.yaml`).
fn check_aws_guards(g: &Guards) -> Finding {
    let ms = |d: Duration| d.as_millis();
    let mut errors = Vec::new();
    if g.attempt_timeout > g.operation_timeout {
        errors.push(format!(
            "WARDEN_AWS_ATTEMPT_TIMEOUT_MS={} > WARDEN_AWS_OPERATION_TIMEOUT_MS={}",
            ms(g.attempt_timeout),
            ms(g.operation_timeout)
        ));
    }
    if g.operation_timeout >= API_GATEWAY_TIMEOUT {
        errors.push(format!(
            "WARDEN_AWS_OPERATION_TIMEOUT_MS={} is not below API Gateway's {} ms",
            ms(g.operation_timeout),
            ms(API_GATEWAY_TIMEOUT)
        ));
    }
    if !(1..=10).contains(&g.max_attempts) {
        errors.push(format!(
            "WARDEN_AWS_MAX_ATTEMPTS={} is outside 1 to 10",
            g.max_attempts
        ));
    }
    if !errors.is_empty() {
        return Finding::new(
            Check::AwsTimeouts,
            Severity::Error,
            errors.join(", "),
            "keep connect <= attempt <= operation timeout < 29000 ms and 1 to 10 attempts",
        );
    }
    let mut warnings = Vec::new();
    if g.connect_timeout > g.attempt_timeout {
        warnings.push(format!(
            "WARDEN_AWS_CONNECT_TIMEOUT_MS={} > WARDEN_AWS_ATTEMPT_TIMEOUT_MS={}: the attempt timeout fires first",
            ms(g.connect_timeout),
            ms(g.attempt_timeout)
        ));
    }
    if g.request_worst_case() >= LAMBDA_TIMEOUT {
        warnings.push(format!(
            "a request may wait {} ms on AWS, not below the {} ms Lambda timeout of template.yaml",
            ms(g.request_worst_case()),
            ms(LAMBDA_TIMEOUT)
        ));
    }
    if !warnings.is_empty() {
        return Finding::new(
            Check::AwsTimeouts,
            Severity::Warning,
            warnings.join("; "),
            "lower the AWS timeouts, or raise the Lambda timeout with them",
        );
    }
    Finding::ok(
        Check::AwsTimeouts,
        format!(
            "AWS connect {} ms, attempt {} ms, operation {} ms, {} attempts; a request waits at most {} ms",
            ms(g.connect_timeout),
            ms(g.attempt_timeout),
            ms(g.operation_timeout),
            g.max_attempts,
            ms(g.request_worst_case())
        ),
    )
}

/// The issuer of development when `WARDEN_ISSUER` is unset: `warden
/// serve`'s default listen address.
pub const DEVELOPMENT_ISSUER: &str = "http://127.0.0.1:3000";

/// Whether `issuer` is an origin with no path: `https://host[:port]`, or in
/// development `http://` too. Its discovery URLs are built by appending
/// paths, so a path or a trailing slash would break them.
pub fn check_issuer(issuer: &str, env: Environment) -> Result<(), &'static str> {
    let rest = match issuer.split_once("://") {
        Some(("https", rest)) => rest,
        Some(("http", rest)) if env == Environment::Development => rest,
        Some(("http", _)) => return Err("must be https:// outside development"),
        _ => return Err("must start with https://"),
    };
    let valid = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if valid {
        Ok(())
    } else {
        Err("must be an origin: a host and an optional port, no path")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> (Option<Config>, Findings) {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load(|k| map.get(k).cloned())
    }

    fn error_checks(f: &Findings) -> Vec<&'static str> {
        f.0.iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.check.as_str())
            .collect()
    }

    #[test]
    fn a_production_config_with_an_arn_and_exact_origins_passes() {
        let (config, findings) = load(&[
            ("WARDEN_ENV", "production"),
            ("WARDEN_ISSUER_PARAMETER", "/warden/stack/issuer"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
        ]);
        assert!(!findings.has_errors(), "{findings:?}");
        let config = config.unwrap();
        assert_eq!(config.env, Environment::Production);
        assert_eq!(
            config.login_ip_limit,
            Rate {
                limit: 5,
                period_secs: 60
            }
        );
        assert_eq!(config.argon2, ARGON2_FLOOR);
    }

    /// The ledger's development stand-ins refuse start-up anywhere else: a
    /// local checkpoint key (checkpoints are signed only in KMS there) and
    /// the MAC key's value in a variable (it comes from Secrets Manager).
    #[test]
    fn the_ledgers_local_keys_are_refused_outside_development() {
        let base = [
            ("WARDEN_ISSUER_PARAMETER", "/warden/stack/issuer"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
        ];
        for (variable, value) in [
            ("WARDEN_CHECKPOINT_KEY_FILE", "/tmp/key.pem"),
            (
                "WARDEN_AUDIT_MAC_KEY",
                "0123456789abcdef0123456789abcdef-mac",
            ),
        ] {
            for env in ["production", "staging"] {
                let mut vars = base.to_vec();
                vars.extend([("WARDEN_ENV", env), (variable, value)]);
                let (_, findings) = load(&vars);
                assert!(findings.has_errors(), "{variable} in {env}: {findings:?}");
                let text = format!("{findings:?}");
                assert!(text.contains(variable), "{text}");
            }
            let (_, findings) = load(&[("WARDEN_ENV", "development"), (variable, value)]);
            assert!(
                !findings.has_errors(),
                "{variable} in development: {findings:?}"
            );
        }
        // The ledger's name: the issuer without its scheme.
        let (config, _) = load(&[("WARDEN_ISSUER", "https://auth.example.com")]);
        assert_eq!(config.unwrap().ledger_origin(), "auth.example.com/audit");
    }

    /// The worst severity of `check`'s findings.
    fn severity_of(findings: &Findings, check: Check) -> Severity {
        let rank = |s: Severity| match s {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        };
        findings
            .0
            .iter()
            .filter(|f| f.check == check)
            .map(|f| f.severity)
            .max_by_key(|s| rank(*s))
            .unwrap_or_else(|| panic!("no {check} finding in {findings:?}"))
    }

    /// Each advisory rule, one setting at a time: the secure production
    /// baseline has none of them, and making the one setting insecure
    /// flips exactly its check, to a warning (start-up goes on) or, for
    /// the health timeout, an error (start-up is refused).
    #[test]
    fn each_advisory_rule_flips_its_check_when_its_setting_is_made_insecure() {
        let baseline = [
            ("WARDEN_ENV", "production"),
            ("WARDEN_ISSUER_PARAMETER", "/warden/stack/issuer"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
            ("WARDEN_SIGNING_KEY_ARN", "arn:aws:kms:eu-west-1:1:key/k"),
        ];
        let (_, secure) = load(&baseline);
        assert!(
            secure.0.iter().all(|f| f.severity == Severity::Ok),
            "{secure:?}"
        );
        let cases: [(&str, &str, Check, Severity); 10] = [
            (
                "WARDEN_ENV",
                "development",
                Check::Environment,
                Severity::Warning,
            ),
            (
                "ALLOWED_ORIGINS",
                "https://a.example, http://b.example",
                Check::Cors,
                Severity::Warning,
            ),
            (
                "WARDEN_ACCESS_TOKEN_TTL",
                "3601",
                Check::AccessTokenTtl,
                Severity::Warning,
            ),
            (
                "WARDEN_REFRESH_TOKEN_TTL",
                "7776001",
                Check::RefreshTokenTtl,
                Severity::Warning,
            ),
            (
                "WARDEN_ARGON2_TARGET_M_COST",
                "65536",
                Check::Argon2Target,
                Severity::Warning,
            ),
            (
                "WARDEN_ARGON2_TARGET_T_COST",
                "3",
                Check::Argon2Target,
                Severity::Warning,
            ),
            (
                "WARDEN_ARGON2_TARGET_P_COST",
                "2",
                Check::Argon2Target,
                Severity::Warning,
            ),
            (
                "WARDEN_HEALTH_CHECK_TIMEOUT_MS",
                "10000",
                Check::HealthTimeout,
                Severity::Error,
            ),
            (
                "WARDEN_HEALTH_CHECK_TIMEOUT_MS",
                "6000",
                Check::HealthTimeout,
                Severity::Error,
            ),
            (
                "WARDEN_AWS_MAX_ATTEMPTS",
                "0",
                Check::AwsTimeouts,
                Severity::Error,
            ),
        ];
        for (var, value, check, severity) in cases {
            let mut vars: Vec<(&str, &str)> = baseline
                .iter()
                .copied()
                .filter(|(k, _)| *k != var)
                .collect();
            vars.push((var, value));
            let (_, findings) = load(&vars);
            assert_eq!(severity_of(&findings, check), severity, "{var}={value}");
            let flipped: Vec<Check> = findings
                .0
                .iter()
                .filter(|f| f.severity != Severity::Ok)
                .map(|f| f.check)
                .collect();
            assert_eq!(flipped, vec![check], "{var}={value} flips only {check}");
            assert_eq!(
                findings.has_errors(),
                severity == Severity::Error,
                "{var}={value}"
            );
        }
        // The limits themselves are allowed, and http:// only warns in production.
        let (_, at_limits) = load(&[
            baseline[0],
            baseline[1],
            ("ALLOWED_ORIGINS", "https://app.example.com"),
            ("WARDEN_ACCESS_TOKEN_TTL", "3600"),
            ("WARDEN_REFRESH_TOKEN_TTL", "7776000"),
            // 5999 ms of checks and a 4000 ms AWS call stay under 10 s.
            ("WARDEN_HEALTH_CHECK_TIMEOUT_MS", "5999"),
        ]);
        assert!(
            at_limits.0.iter().all(|f| f.severity == Severity::Ok),
            "{at_limits:?}"
        );
        let (_, staging) = load(&[
            ("WARDEN_ENV", "staging"),
            baseline[1],
            ("ALLOWED_ORIGINS", "http://localhost:5173"),
        ]);
        assert_eq!(severity_of(&staging, Check::Cors), Severity::Ok);
    }

    #[test]
    fn a_missing_environment_means_production() {
        let (_, findings) = load(&[]);
        assert_eq!(error_checks(&findings), vec!["issuer"]);
    }

    #[test]
    fn a_cors_wildcard_is_refused_in_production_only() {
        let arn = ("WARDEN_ISSUER_PARAMETER", "/warden/stack/issuer");
        let (_, prod) = load(&[("WARDEN_ENV", "production"), arn, ("ALLOWED_ORIGINS", "*")]);
        assert_eq!(error_checks(&prod), vec!["cors"]);
        assert!(prod.error_summary().contains("ALLOWED_ORIGINS"));
        let (_, dev) = load(&[("WARDEN_ENV", "development"), ("ALLOWED_ORIGINS", "*")]);
        assert!(!dev.has_errors());
    }

    #[test]
    fn argon2_parameters_below_the_owasp_floor_are_refused() {
        for (var, value) in [
            ("WARDEN_ARGON2_M_COST", "19455"),
            ("WARDEN_ARGON2_T_COST", "1"),
            ("WARDEN_ARGON2_P_COST", "0"),
        ] {
            let (_, f) = load(&[("WARDEN_ENV", "development"), (var, value)]);
            assert_eq!(error_checks(&f), vec!["argon2"], "{var}");
            assert!(f.error_summary().contains(var), "{}", f.error_summary());
        }
    }

    #[test]
    fn a_signing_key_file_is_refused_outside_development() {
        let file = ("WARDEN_SIGNING_KEY_FILE", "/tmp/key.pem");
        let (_, f) = load(&[
            ("WARDEN_ENV", "staging"),
            ("WARDEN_ISSUER_PARAMETER", "/warden/s/issuer"),
            file,
        ]);
        assert_eq!(error_checks(&f), vec!["signing_key"]);
        let (_, dev) = load(&[("WARDEN_ENV", "development"), file]);
        assert!(!dev.has_errors(), "{dev:?}");
    }

    #[test]
    fn the_issuer_is_an_origin_with_no_path_and_https_outside_development() {
        let staging = ("WARDEN_ENV", "staging");
        for bad in [
            "http://auth.example.com",
            "https://auth.example.com/path",
            "auth.example.com",
            "https://",
            "https://a.example.com?x=1",
        ] {
            let (_, f) = load(&[staging, ("WARDEN_ISSUER", bad)]);
            assert_eq!(error_checks(&f), vec!["issuer"], "{bad}");
        }
        // A trailing slash is dropped: every URL is built by appending.
        let (config, f) = load(&[staging, ("WARDEN_ISSUER", "https://auth.example.com:8443/")]);
        assert!(!f.has_errors(), "{f:?}");
        assert_eq!(config.unwrap().issuer, "https://auth.example.com:8443");
        let (config, f) = load(&[("WARDEN_ENV", "development")]);
        assert!(!f.has_errors(), "{f:?}");
        assert_eq!(config.unwrap().issuer, "http://127.0.0.1:3000");
    }

    #[test]
    fn a_plain_or_short_api_key_pepper_is_refused() {
        let arn = ("WARDEN_ISSUER_PARAMETER", "/warden/stack/issuer");
        let long = "p".repeat(MIN_PEPPER_BYTES);
        let (_, staging) = load(&[
            ("WARDEN_ENV", "staging"),
            arn,
            ("WARDEN_API_KEY_PEPPER", &long),
        ]);
        assert_eq!(error_checks(&staging), vec!["api_key_pepper"]);
        let short = "p".repeat(MIN_PEPPER_BYTES - 1);
        let (_, dev) = load(&[
            ("WARDEN_ENV", "development"),
            ("WARDEN_API_KEY_PEPPER", &short),
        ]);
        assert_eq!(error_checks(&dev), vec!["api_key_pepper"]);
        let (_, dev) = load(&[
            ("WARDEN_ENV", "development"),
            ("WARDEN_API_KEY_PEPPER", &long),
        ]);
        assert!(!dev.has_errors(), "{dev:?}");
        let (_, prod) = load(&[
            ("WARDEN_ENV", "production"),
            arn,
            ("WARDEN_API_KEY_PEPPER_ARN", "arn:pepper"),
        ]);
        assert!(!prod.has_errors(), "{prod:?}");
    }

    #[test]
    fn the_password_minimum_is_12_by_default_and_8_to_128() {
        let dev = ("WARDEN_ENV", "development");
        let (config, f) = load(&[dev]);
        assert!(!f.has_errors(), "{f:?}");
        assert_eq!(config.unwrap().password_min_length, 12);
        for accepted in ["8", "12", "64", "128"] {
            let (config, f) = load(&[dev, ("WARDEN_PASSWORD_MIN_LENGTH", accepted)]);
            assert!(!f.has_errors(), "{accepted}: {f:?}");
            assert_eq!(
                config.unwrap().password_min_length.to_string(),
                accepted.to_owned()
            );
        }
        for refused in ["7", "0", "129", "-1", "twelve"] {
            let (_, f) = load(&[dev, ("WARDEN_PASSWORD_MIN_LENGTH", refused)]);
            assert_eq!(error_checks(&f), ["number"], "{refused}: {f:?}");
            let summary = f.error_summary();
            assert!(
                summary.contains("WARDEN_PASSWORD_MIN_LENGTH"),
                "{refused}: {summary}"
            );
        }
        let (_, f) = load(&[dev, ("WARDEN_PASSWORD_MIN_LENGTH", "7")]);
        assert!(f.error_summary().contains("expected 8 to 128"), "{f:?}");
    }

    #[test]
    fn unparseable_values_are_refused_with_their_names() {
        let (config, f) = load(&[
            ("WARDEN_ENV", "prod-ish"),
            ("WARDEN_LOGIN_IP_LIMIT", "five"),
        ]);
        assert!(config.is_none());
        let summary = f.error_summary();
        assert!(summary.contains("WARDEN_ENV") && summary.contains("WARDEN_LOGIN_IP_LIMIT"));
    }

    #[test]
    fn the_aws_guards_default_and_come_from_the_environment() {
        let dev = ("WARDEN_ENV", "development");
        let (config, f) = load(&[dev]);
        assert!(!f.has_errors(), "{f:?}");
        assert_eq!(config.unwrap().aws, Guards::default());

        let (config, f) = load(&[
            dev,
            ("WARDEN_AWS_CONNECT_TIMEOUT_MS", "250"),
            ("WARDEN_AWS_ATTEMPT_TIMEOUT_MS", " 900 "),
            ("WARDEN_AWS_OPERATION_TIMEOUT_MS", "2500"),
            ("WARDEN_AWS_MAX_ATTEMPTS", "5"),
        ]);
        assert!(!f.has_errors(), "{f:?}");
        assert_eq!(
            config.unwrap().aws,
            Guards {
                connect_timeout: Duration::from_millis(250),
                attempt_timeout: Duration::from_millis(900),
                operation_timeout: Duration::from_millis(2500),
                max_attempts: 5,
            }
        );
    }

    #[test]
    fn unparseable_aws_guards_are_refused_with_their_names() {
        for (var, value) in [
            ("WARDEN_AWS_CONNECT_TIMEOUT_MS", "1s"),
            ("WARDEN_AWS_ATTEMPT_TIMEOUT_MS", "0"),
            ("WARDEN_AWS_OPERATION_TIMEOUT_MS", "-5"),
            ("WARDEN_AWS_MAX_ATTEMPTS", "three"),
        ] {
            let (config, f) = load(&[("WARDEN_ENV", "development"), (var, value)]);
            assert!(config.is_none(), "{var}");
            assert_eq!(error_checks(&f), vec!["number"], "{var}");
            assert!(f.error_summary().contains(var), "{}", f.error_summary());
        }
    }

    #[test]
    fn aws_guards_that_cannot_bound_a_request_are_refused() {
        let dev = ("WARDEN_ENV", "development");
        for (vars, named) in [
            (
                vec![
                    ("WARDEN_AWS_ATTEMPT_TIMEOUT_MS", "3000"),
                    ("WARDEN_AWS_OPERATION_TIMEOUT_MS", "2000"),
                ],
                "WARDEN_AWS_ATTEMPT_TIMEOUT_MS=3000",
            ),
            (
                vec![("WARDEN_AWS_OPERATION_TIMEOUT_MS", "29000")],
                "WARDEN_AWS_OPERATION_TIMEOUT_MS=29000",
            ),
            (
                vec![("WARDEN_AWS_MAX_ATTEMPTS", "0")],
                "WARDEN_AWS_MAX_ATTEMPTS=0",
            ),
            (
                vec![("WARDEN_AWS_MAX_ATTEMPTS", "11")],
                "WARDEN_AWS_MAX_ATTEMPTS=11",
            ),
        ] {
            let mut all = vec![dev];
            all.extend(vars);
            let (config, f) = load(&all);
            assert!(config.is_some(), "{named}");
            // Guards that let one call run that long also leave a health
            // report no time: the health timeout is refused with them.
            let errors = error_checks(&f);
            assert_eq!(errors[0], "aws_timeouts", "{named}");
            assert!(
                errors[1..].iter().all(|c| *c == "health_timeout"),
                "{named}: {errors:?}"
            );
            assert!(f.error_summary().contains(named), "{}", f.error_summary());
        }
        let (_, f) = load(&[dev, ("WARDEN_AWS_MAX_ATTEMPTS", "10")]);
        assert!(!f.has_errors(), "{f:?}");
    }

    #[test]
    fn aws_guards_over_the_lambda_timeout_or_a_connect_timeout_that_cannot_fire_warn() {
        let dev = ("WARDEN_ENV", "development");
        let severity = |f: &Findings| {
            f.0.iter()
                .find(|f| f.check == Check::AwsTimeouts)
                .map(|f| f.severity)
        };
        let (_, f) = load(&[dev]);
        assert_eq!(severity(&f), Some(Severity::Ok));
        let (_, f) = load(&[dev, ("WARDEN_AWS_OPERATION_TIMEOUT_MS", "6000")]);
        assert_eq!(severity(&f), Some(Severity::Warning));
        assert!(!f.has_errors());
        let (_, f) = load(&[dev, ("WARDEN_AWS_CONNECT_TIMEOUT_MS", "3000")]);
        assert_eq!(severity(&f), Some(Severity::Warning));
    }

    #[test]
    fn rates_parse_as_requests_per_seconds() {
        assert_eq!(
            Rate::parse("5/60"),
            Some(Rate {
                limit: 5,
                period_secs: 60
            })
        );
        assert_eq!(
            Rate::parse(" 10 / 1 "),
            Some(Rate {
                limit: 10,
                period_secs: 1
            })
        );
        for bad in ["0/60", "5/0", "5", "a/b", ""] {
            assert_eq!(Rate::parse(bad), None, "{bad}");
        }
    }
}
