//! The health probe's samples in memory.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::health::Sample;
use crate::store::health::{HealthSampleStore, HealthWrite};
use crate::Result;

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

// Expired samples are not filtered: they are 90 days old, and reads look
// back 30 days at most; the newest sample is the newest, expired or not.
#[async_trait]
impl HealthSampleStore for MemoryStore {
    async fn samples_since(&self, since_ms: i64) -> Result<Vec<Sample>> {
        Ok(self
            .lock()
            .health
            .samples
            .range(since_ms..)
            .map(|(_, (sample, _))| sample.clone())
            .collect())
    }

    async fn latest_sample(&self) -> Result<Option<Sample>> {
        Ok(self
            .lock()
            .health
            .samples
            .values()
            .next_back()
            .map(|(sample, _)| sample.clone()))
    }
}
