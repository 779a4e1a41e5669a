//! The probe's samples a report reads: the days of the 30-day window,
//! with the days that can no longer change cached in a warm function.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Sample;
use super::checks::{Boxed, join_all};
use super::uptime::{LONGEST_WINDOW_MS, SLOT_MS};
use crate::state::HealthState;
use crate::store::health::{DAY_MS, day_of};

/// A day of samples is cached once it ended this long ago: the probe
/// writes at once, so nothing lands in a day after that.
const SETTLED_MS: i64 = 10 * 60_000;

/// The days of samples a warm function has already read and that can no
/// longer change, so that a report reads only today's (and yesterday's,
/// just after midnight) rather than 31 days each time.
#[derive(Debug, Default)]
pub struct SampleCache(std::sync::Mutex<BTreeMap<i64, Arc<[Sample]>>>);

impl SampleCache {
    /// Forgets every cached day: the next report reads its whole window,
    /// as a cold start does.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Arc<[Sample]>>> {
        // A poisoned lock only means a report panicked while copying: the
        // map itself is whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The samples of every day the 30-day window touches: cached days as
/// they are, the others read side by side, each under the timeout. A day
/// that cannot be read in time is left out (its minutes are unknown).
pub(super) async fn window_samples(state: &HealthState, now_ms: i64) -> Vec<Sample> {
    let timeout = state.config.health_check_timeout;
    let first = day_of(now_ms.saturating_sub(LONGEST_WINDOW_MS + SLOT_MS));
    let last = day_of(now_ms);
    let cached: Vec<(i64, Arc<[Sample]>)> = {
        let mut cache = state.samples.lock();
        cache.retain(|day, _| *day >= first);
        cache.iter().map(|(d, s)| (*d, s.clone())).collect()
    };
    let reads: Vec<Boxed<'_, (i64, Option<Vec<Sample>>)>> = (first..=last)
        .filter(|day| !cached.iter().any(|(d, _)| d == day))
        .map(|day| -> Boxed<'_, _> {
            Box::pin(async move {
                let read = tokio::time::timeout(timeout, state.store.samples_on(day)).await;
                match read {
                    Ok(Ok(samples)) => (day, Some(samples)),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, day, "health report: samples unreadable");
                        (day, None)
                    }
                    Err(_) => {
                        tracing::warn!(day, "health report: samples not read in time");
                        (day, None)
                    }
                }
            })
        })
        .collect();
    let read = join_all(reads).await;
    let mut samples: Vec<Sample> = cached.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
    let mut cache = state.samples.lock();
    for (day, day_samples) in read {
        let Some(day_samples) = day_samples else {
            continue;
        };
        let settled = (day + 1).saturating_mul(DAY_MS).saturating_add(SETTLED_MS) <= now_ms;
        if settled {
            cache.insert(day, day_samples.clone().into());
        }
        samples.extend(day_samples);
    }
    samples
}
