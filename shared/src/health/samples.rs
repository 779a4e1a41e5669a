//! The cache of the probe's samples a warm function has read: the days of
//! the 30-day window that can no longer change. The read itself is
//! [`super::endpoints`]'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Sample;

/// A day of samples is cached once it ended this long ago: the probe
/// writes at once, so nothing lands in a day after that.
pub(super) const SETTLED_MS: i64 = 10 * 60_000;

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

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Arc<[Sample]>>> {
        // A poisoned lock only means a report panicked while copying: the
        // map itself is whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
