//! The health port: the probe's samples, kept 90 days, from which uptime is
//! computed.

use async_trait::async_trait;

use crate::health::Sample;
use crate::Result;

/// How long a sample is kept (the HealthSamples TTL), in seconds.
pub const SAMPLE_RETENTION_SECS: i64 = 90 * 24 * 3_600;

/// The partition every probe sample is stored under. One partition holds
/// 1,440 samples a day, a few KiB: far under a partition's limits.
pub const PROBE_PARTITION: &str = "probe";

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

/// The probe's samples.
#[async_trait]
pub trait HealthSampleStore: Send + Sync {
    /// Every sample taken at or after `since_ms` (epoch milliseconds),
    /// oldest first.
    async fn samples_since(&self, since_ms: i64) -> Result<Vec<Sample>>;

    /// The newest sample, if any: what a new one is compared with to tell a
    /// change of status.
    async fn latest_sample(&self) -> Result<Option<Sample>>;
}
