//! The health probe's samples in memory.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::Result;
use crate::health::Sample;
use crate::store::health::{DAY_MS, HealthSampleStore, HealthWrite};

/// Samples by time (milliseconds), with their expiry.
#[derive(Debug, Default)]
pub(super) struct SampleTable {
    samples: BTreeMap<i64, (Sample, i64)>,
}

impl SampleTable {
    pub(super) fn item_ids(write: &HealthWrite) -> Vec<String> {
        match write {
            HealthWrite::Sample { sample, .. } => vec![format!("health/{}", sample.at_ms)],
        }
    }

    pub(super) fn check(&self, write: &HealthWrite) -> bool {
        match write {
            HealthWrite::Sample { sample, .. } => !self.samples.contains_key(&sample.at_ms),
        }
    }

    pub(super) fn apply(&mut self, write: HealthWrite) {
        match write {
            HealthWrite::Sample { sample, expires_at } => {
                self.samples.insert(sample.at_ms, (sample, expires_at));
            }
        }
    }
}

/// The times of UTC day `day`, milliseconds.
fn day_range(day: i64) -> std::ops::Range<i64> {
    day.saturating_mul(DAY_MS)..day.saturating_add(1).saturating_mul(DAY_MS)
}

// Expired samples are not filtered: they are 90 days old, and reads look
// back 31 days at most.
#[async_trait]
impl HealthSampleStore for MemoryStore {
    async fn samples_on(&self, day: i64) -> Result<Vec<Sample>> {
        Ok(self
            .lock()
            .health
            .samples
            .range(day_range(day))
            .map(|(_, (sample, _))| sample.clone())
            .collect())
    }

    async fn latest_sample(&self, day: i64) -> Result<Option<Sample>> {
        let tables = self.lock();
        let newest = |d: i64| {
            tables
                .health
                .samples
                .range(day_range(d))
                .next_back()
                .map(|(_, (sample, _))| sample.clone())
        };
        Ok(newest(day).or_else(|| newest(day.saturating_sub(1))))
    }
}
