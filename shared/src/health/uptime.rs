//! Uptime: pure arithmetic over the probe's samples (no store, no clock).
//!
//! The probe runs once a minute, so each window is a run of one-minute
//! slots: the `N` whole minutes before the current one (`N` = 1,440 for
//! 24 hours, 10,080 for 7 days, 43,200 for 30 days). A slot's status is the
//! worst of the samples taken in it; a slot with none is unknown. Up is
//! `ok` or `degraded`, down is `failing`, and each percentage is over all
//! `N` slots, rounded down to 3 decimals (so 100 means every slot was up,
//! and a single unknown slot in 30 days still shows).
//!
//! An incident is a run of failing samples: it starts at the first failing
//! sample after a sample that was not failing (or the first sample read),
//! and ends at the first sample after it that is not failing. Missing
//! samples neither start nor end one: nobody knows what happened then. An
//! incident with no sample after it that is not failing is still open
//! (`end: null`). Its `checks` are every check that failed during it.

use serde::Serialize;

use super::Sample;

/// How often the probe runs, and so the width of one slot.
pub const SLOT_MS: i64 = 60_000;

/// The longest window: the samples to read for a report.
pub const LONGEST_WINDOW_MS: i64 = 30 * 24 * 3_600_000;

/// The uptime part of `/security/health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    /// Percentage of the last 24 hours' slots that were up.
    pub pct_24h: f64,
    /// The same over 7 days.
    pub pct_7d: f64,
    /// The same over 30 days.
    pub pct_30d: f64,
    /// Percentage of the last 24 hours' slots without a sample.
    pub unknown_pct_24h: f64,
    /// The same over 7 days.
    pub unknown_pct_7d: f64,
    /// The same over 30 days.
    pub unknown_pct_30d: f64,
    /// The newest incident within the last 30 days, if any.
    pub last_incident: Option<Incident>,
}

/// A run of failing samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// The first failing sample's time, RFC 3339.
    pub start: String,
    /// The time of the first sample after it that was not failing; `None`
    /// while the incident is open.
    pub end: Option<String>,
    /// Every check that failed during the incident, sorted, once each.
    pub checks: Vec<String>,
}

/// Uptime at `now_ms` from `samples` (any order; those outside the
/// 30-day window are ignored).
pub fn uptime(samples: &[Sample], now_ms: i64) -> Uptime {
    let _ = (samples, now_ms);
    unimplemented!("being written")
}
