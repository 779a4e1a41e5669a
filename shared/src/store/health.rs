//! The health port: the probe's samples, kept 90 days, from which uptime is
//! computed.

use async_trait::async_trait;

use crate::Result;
use crate::health::Sample;

/// How long a sample is kept (the HealthSamples TTL), in seconds.
pub const SAMPLE_RETENTION_SECS: i64 = 90 * 24 * 3_600;

/// One day, in milliseconds: samples are kept by UTC day
/// ([`super::keys::health_day`]).
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day (days since the epoch) of a time in milliseconds.
pub fn day_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

/// A health state change, applied inside [`super::Transactions::transact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthWrite {
    /// Stores one probe result, expiring at `expires_at` (epoch seconds).
    /// Condition: no sample was stored at the same millisecond.
    Sample {
        /// The result.
        sample: Sample,
        /// When the store may drop it.
        expires_at: i64,
    },
}

/// The probe's samples, kept by UTC day: a day holds at most a few
/// thousand small items (one page of a Query), and a 30-day window is 31
/// such reads side by side rather than one long paginated one.
#[async_trait]
pub trait HealthSampleStore: Send + Sync {
    /// Every sample of UTC day `day` (days since the epoch), oldest first.
    async fn samples_on(&self, day: i64) -> Result<Vec<Sample>>;

    /// The newest sample of `day` or, when it has none, of the day
    /// before: what a new sample taken on `day` is compared with to tell a
    /// change of status. (The probe runs every minute, so an older one
    /// would say nothing about the state just before.)
    async fn latest_sample(&self, day: i64) -> Result<Option<Sample>>;
}
