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
    /// The key's theoretical arrival time is later than the first value
    /// and at most the second: a request within the allowance while the
    /// key is busy. A write under this condition ADDS its `new_tat` (the
    /// emission interval) to the stored time instead of setting it, so
    /// concurrent requests of one key do not conflict: each increment
    /// lands, as long as the allowance holds.
    Within(i64, i64),
}

impl TatCondition {
    /// Whether the condition holds for the key's `current` theoretical
    /// arrival time (`None` when it has no live state).
    pub fn holds(self, current: Option<i64>) -> bool {
        match self {
            TatCondition::AbsentOrAtMost(limit) => current.is_none_or(|tat| tat <= limit),
            TatCondition::Equals(expected) => current == Some(expected),
            TatCondition::Within(after, at_most) => {
                current.is_some_and(|tat| tat > after && tat <= at_most)
            }
        }
    }
}

/// A conditional write of one key's theoretical arrival time (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TatWrite {
    /// When the write applies.
    pub condition: TatCondition,
    /// The new theoretical arrival time, milliseconds; under
    /// [`TatCondition::Within`], the amount added to the stored one.
    pub new_tat: i64,
}

impl TatWrite {
    /// The theoretical arrival time after this write, given the `current`
    /// one the condition held for.
    pub fn applied_to(&self, current: Option<i64>) -> i64 {
        match (self.condition, current) {
            (TatCondition::Within(..), Some(tat)) => tat + self.new_tat,
            _ => self.new_tat,
        }
    }

    /// DynamoDB's update of the attribute `#t` with the value `:t`: an
    /// increment under [`TatCondition::Within`], else a set.
    pub fn update_expression(&self) -> &'static str {
        match self.condition {
            TatCondition::Within(..) => "#t = #t + :t",
            _ => "#t = :t",
        }
    }
}

/// What a [`TatWrite`] did: `Ok(())` written, or, on a failed condition,
/// the current theoretical arrival time (`None` when the key has no live
/// state).
pub type TatOutcome = std::result::Result<(), Option<i64>>;

/// GCRA state per limited key.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Applies `write` to the key's state, which then expires at
    /// `expires_at` (epoch seconds).
    async fn update_tat(&self, key: &str, write: TatWrite, expires_at: i64) -> Result<TatOutcome>;
}
