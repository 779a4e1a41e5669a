//! The rate-limit port: GCRA state per limited key.

use async_trait::async_trait;

use crate::Result;

/// The condition of a rate-limit state update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TatCondition {
    /// The key has no state, or its theoretical arrival time is at most this.
    AbsentOrAtMost(i64),
    /// The key's theoretical arrival time is exactly this.
    Equals(i64),
}

/// GCRA state per limited key.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Sets the key's theoretical arrival time (ms) to `new_tat` if
    /// `condition` holds. On a failed condition, returns the current value
    /// (`None` when the key has no live state).
    async fn update_tat(
        &self,
        key: &str,
        condition: TatCondition,
        new_tat: i64,
        expires_at: i64,
    ) -> Result<std::result::Result<(), Option<i64>>>;
}
