//! The generic cell rate algorithm (GCRA) over [`RateLimitStore`].
//!
//! Per key the store keeps one number, the theoretical arrival time (TAT).
//! With `limit` requests per `period`, each request moves the TAT forward by
//! the emission interval `T = period / limit`, and a request is allowed while
//! the TAT is at most `period - T` ahead of now. That admits a burst of
//! `limit` and then one request per `T`, with no window edges to game.
//!
//! The common case costs one conditional write ("idle key: set TAT to
//! now + T"); a key in a burst costs a second, compare-and-set write.

use std::time::Duration;

use crate::Result;
use crate::config::Rate;
use crate::store::{RateLimitStore, TatCondition, TatWrite};

/// The limiter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allowed,
    /// Refused; the earliest a retry can succeed.
    Limited {
        /// How long to wait.
        retry_after: Duration,
    },
}

/// How often a compare-and-set lost to a concurrent request before the
/// limiter gives up and refuses (fail closed).
const MAX_ATTEMPTS: usize = 5;

/// A limit in GCRA terms: one request per `interval_ms`, with bursts of up
/// to `burst` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// The emission interval T, in milliseconds (at least 1).
    pub interval_ms: i64,
    /// Requests allowed back to back (at least 1).
    pub burst: i64,
}

impl Gcra {
    /// `per_hour` requests an hour with a burst of one minute's worth,
    /// `ceil(per_hour / 60)`: the limit of an API key (API.md).
    pub fn per_hour(per_hour: u32) -> Self {
        let per_hour = i64::from(per_hour.max(1));
        Self {
            interval_ms: (3_600_000 / per_hour).max(1),
            burst: (per_hour + 59) / 60,
        }
    }

    fn tolerance(self) -> i64 {
        (self.burst.max(1) - 1) * self.interval_ms
    }
}

impl From<Rate> for Gcra {
    /// `limit` per `period_secs`, the whole limit usable as one burst.
    fn from(rate: Rate) -> Self {
        let period = i64::from(rate.period_secs) * 1000;
        let limit = i64::from(rate.limit.max(1));
        Self {
            interval_ms: (period / limit).max(1),
            burst: limit,
        }
    }
}

/// Counts one request against `key` at `now_millis` under `limit`.
pub async fn acquire(
    store: &dyn RateLimitStore,
    key: &str,
    limit: impl Into<Gcra>,
    now_millis: i64,
) -> Result<Decision> {
    acquire_from(store, key, limit.into(), now_millis, None).await
}

/// [`acquire`] when the key's theoretical arrival time was just read with
/// something else (`known`): a key in a burst then costs one write instead
/// of two.
pub async fn acquire_from(
    store: &dyn RateLimitStore,
    key: &str,
    limit: Gcra,
    now_millis: i64,
    mut known: Option<i64>,
) -> Result<Decision> {
    let interval = limit.interval_ms.max(1);
    let tolerance = limit.tolerance();
    let expires = |tat: i64| tat.div_euclid(1000) + 2;

    for _ in 0..MAX_ATTEMPTS {
        let outcome = match known {
            None => {
                let new_tat = now_millis + interval;
                let condition = TatCondition::AbsentOrAtMost(now_millis);
                let write = TatWrite { condition, new_tat };
                store.update_tat(key, write, expires(new_tat)).await?
            }
            Some(tat) if tat <= now_millis => {
                known = None;
                continue;
            }
            Some(tat) => {
                if tat - now_millis > tolerance {
                    let wait = u64::try_from(tat - tolerance - now_millis).unwrap_or(0);
                    return Ok(Decision::Limited {
                        retry_after: Duration::from_millis(wait),
                    });
                }
                // Busy and within the allowance: add one interval,
                // conditioned on the allowance still holding, so that
                // concurrent requests of one key all land instead of
                // racing a compare-and-set (which one wins per round).
                let write = TatWrite {
                    condition: TatCondition::Within(now_millis, now_millis + tolerance),
                    new_tat: interval,
                };
                store
                    .update_tat(key, write, expires(now_millis + tolerance + interval))
                    .await?
            }
        };
        match outcome {
            Ok(()) => return Ok(Decision::Allowed),
            Err(current) => known = current,
        }
    }
    tracing::warn!(key, "rate limiter lost every compare-and-set; refusing");
    Ok(Decision::Limited {
        retry_after: Duration::from_millis(u64::try_from(interval).unwrap_or(1000)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    const FIVE_PER_MINUTE: Rate = Rate {
        limit: 5,
        period_secs: 60,
    };

    #[tokio::test]
    async fn a_burst_of_the_limit_passes_and_the_next_request_waits_one_interval() {
        let store = MemoryStore::new();
        let t0 = 1_000_000;
        for i in 0..5 {
            assert_eq!(
                acquire(&store, "k", FIVE_PER_MINUTE, t0 + i).await.unwrap(),
                Decision::Allowed,
                "request {i}"
            );
        }
        let Decision::Limited { retry_after } =
            acquire(&store, "k", FIVE_PER_MINUTE, t0 + 5).await.unwrap()
        else {
            panic!("the sixth request must be limited");
        };
        assert!(
            retry_after > Duration::from_secs(11) && retry_after <= Duration::from_secs(12),
            "{retry_after:?}"
        );
        // One interval later exactly one more request fits.
        assert_eq!(
            acquire(&store, "k", FIVE_PER_MINUTE, t0 + 12_000)
                .await
                .unwrap(),
            Decision::Allowed
        );
        assert!(matches!(
            acquire(&store, "k", FIVE_PER_MINUTE, t0 + 12_001)
                .await
                .unwrap(),
            Decision::Limited { .. }
        ));
        // A full period later the whole burst is back.
        for i in 0..5 {
            assert_eq!(
                acquire(&store, "k", FIVE_PER_MINUTE, t0 + 80_000 + i)
                    .await
                    .unwrap(),
                Decision::Allowed
            );
        }
    }

    #[tokio::test]
    async fn an_hourly_limit_bursts_one_minutes_worth_then_one_per_interval() {
        // 120 an hour: one per 30 s, a burst of ceil(120 / 60) = 2.
        let limit = Gcra::per_hour(120);
        assert_eq!(
            limit,
            Gcra {
                interval_ms: 30_000,
                burst: 2
            }
        );
        let store = MemoryStore::new();
        let t0 = 5_000_000;
        assert_eq!(
            acquire(&store, "k", limit, t0).await.unwrap(),
            Decision::Allowed
        );
        assert_eq!(
            acquire(&store, "k", limit, t0).await.unwrap(),
            Decision::Allowed
        );
        let Decision::Limited { retry_after } = acquire(&store, "k", limit, t0).await.unwrap()
        else {
            panic!("the third request in a row must be limited");
        };
        assert_eq!(retry_after, Duration::from_secs(30));
        assert_eq!(
            acquire(&store, "k", limit, t0 + 30_000).await.unwrap(),
            Decision::Allowed
        );
        // 1 an hour still allows one request (burst ceil(1/60) = 1).
        assert_eq!(
            Gcra::per_hour(1),
            Gcra {
                interval_ms: 3_600_000,
                burst: 1
            }
        );
    }

    #[tokio::test]
    async fn keys_are_limited_independently() {
        let store = MemoryStore::new();
        for _ in 0..5 {
            acquire(&store, "a", FIVE_PER_MINUTE, 0).await.unwrap();
        }
        assert!(matches!(
            acquire(&store, "a", FIVE_PER_MINUTE, 0).await.unwrap(),
            Decision::Limited { .. }
        ));
        assert_eq!(
            acquire(&store, "b", FIVE_PER_MINUTE, 0).await.unwrap(),
            Decision::Allowed
        );
    }

    #[tokio::test]
    async fn concurrent_requests_never_exceed_the_burst() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    acquire(store.as_ref(), "k", FIVE_PER_MINUTE, 5_000)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut allowed = 0;
        for t in tasks {
            if t.await.unwrap() == Decision::Allowed {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 5);
    }
}
