//! The time source. Production reads the system clock; tests move a manual
//! clock forward to cross rate-limit windows and token lifetimes instantly.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time, in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;

    /// Whole seconds since the Unix epoch.
    fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `millis` since the epoch.
    pub fn at_millis(millis: i64) -> Self {
        Self(AtomicI64::new(millis))
    }

    /// A clock standing at the system's current time.
    pub fn starting_now() -> Self {
        Self(AtomicI64::new(SystemClock.now_millis()))
    }

    /// Moves the clock forward by `secs` seconds (fractions allowed).
    pub fn advance_secs(&self, secs: f64) {
        #[allow(clippy::cast_possible_truncation)]
        self.0.fetch_add((secs * 1000.0) as i64, Ordering::SeqCst);
    }

    /// Moves the clock forward by `millis` milliseconds.
    pub fn advance_millis(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Formats epoch seconds as RFC 3339 UTC, the form every body uses.
pub fn rfc3339(epoch_secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch_secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Formats epoch milliseconds as RFC 3339 UTC with exactly three decimals
/// (`2026-11-24T12:00:03.250Z`): a fixed width, so that the text sorts as
/// the time does. `None` outside what RFC 3339 can write (years 0 to 9999).
pub fn rfc3339_millis(at_millis: i64) -> Option<String> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
}

/// A new ULID stamped with `at_millis`: ids that sort by creation time
/// (audit events, jobs, proposals).
pub fn ulid_at(at_millis: i64) -> String {
    ulid::Ulid::from_parts(u64::try_from(at_millis).unwrap_or(0), rand::random()).to_string()
}
