//! The security health report: what is checked, how each check is bounded
//! in time, how the checks add up to one status, and uptime.
//!
//! - [`inventory`]: what the deployment is made of, as the checks see it
//!   (the store's tables as its adapter lists them, the queues, the
//!   secrets and where each comes from, the webhook sources' summaries).
//! - [`checks`]: every check (configuration, tables, queues, secrets,
//!   webhook sources), each run concurrently under its own timeout.
//! - [`samples`]: the cache of the settled days of samples a report read.
//! - [`report`]: the reports' shapes, as the endpoints answer them.
//! - [`endpoints`]: the reports of `/security/health`,
//!   `/security/configuration`, `/security/secrets` and
//!   `/security/webhooks`, assembled (reading the probe's samples), and
//!   the uptime chart of `/security/health/uptime`.
//! - [`dependencies`]: the port the checks describe AWS resources through
//!   (DescribeTable, DescribeTimeToLive, GetQueueAttributes,
//!   DescribeSecret; never a secret's value); its SDK adapter is
//!   [`crate::aws::dependencies`].
//! - [`probe`]: the scheduled probe: one sample per run, and an audit
//!   event on each change of status.
//! - [`uptime`]: pure arithmetic over the stored samples (the report's
//!   percentages and incident, a window's chart).

pub mod checks;
pub mod dependencies;
pub mod endpoints;
pub mod inventory;
pub mod probe;
pub mod report;
pub mod samples;
pub mod uptime;

use serde::Serialize;

/// How a check, a sample or a whole report stands. Ordered from best to
/// worst, so the worst of several is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Passed, in less than half its timeout.
    Ok,
    /// A warning, or slower than half its timeout: still serving.
    Degraded,
    /// A required check failed or timed out: the report answers `503`.
    Failing,
}

impl Status {
    /// The name stored and shown: `ok`, `degraded` or `failing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Failing => "failing",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(Status::Ok),
            "degraded" => Some(Status::Degraded),
            "failing" => Some(Status::Failing),
            _ => None,
        }
    }

    /// The worst of `statuses`; `ok` when there are none.
    pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
        statuses.into_iter().max().unwrap_or(Status::Ok)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored probe result: what uptime is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// When the probe ran, milliseconds since the epoch.
    pub at_ms: i64,
    /// The report's overall status.
    pub status: Status,
    /// The names of the checks that were failing, sorted.
    pub failing: Vec<String>,
}
