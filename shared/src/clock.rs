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

    /// Sets the clock to `millis` since the epoch.
    pub fn set_millis(&self, millis: i64) {
        self.0.store(millis, Ordering::SeqCst);
    }
}

/// The system clock corrected by a fixed offset: the operator's CLI takes
/// its time from AWS (the `Date` header of its first answer), so that the
/// events it writes are stamped with the service's time, not a laptop's.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset_millis: i64,
}

impl OffsetClock {
    /// The system clock plus `offset_millis`.
    pub fn new(offset_millis: i64) -> Self {
        Self { offset_millis }
    }

    /// The offset that makes this machine's clock read `service_millis`
    /// now (the time a service's answer stated).
    pub fn towards(service_millis: i64) -> Self {
        Self::new(service_millis - SystemClock.now_millis())
    }
}

impl Clock for OffsetClock {
    fn now_millis(&self) -> i64 {
        SystemClock.now_millis().saturating_add(self.offset_millis)
    }
}

/// An HTTP `Date` header (RFC 9110 IMF-fixdate, `Mon, 07 Dec 2026
/// 09:31:42 GMT`) in milliseconds since the epoch.
pub fn http_date_millis(text: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(text.trim(), &format).ok()?;
    Some(at.assume_utc().unix_timestamp().saturating_mul(1000))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_date_reads_as_the_second_it_names() {
        // 2026-12-07T09:31:42Z.
        assert_eq!(
            http_date_millis("Mon, 07 Dec 2026 09:31:42 GMT"),
            Some(1_796_635_902_000)
        );
        assert_eq!(http_date_millis("Mon, 07 Dec 2026 09:31:42"), None);
        assert_eq!(http_date_millis("2026-12-07T09:31:42Z"), None);
    }

    #[test]
    fn an_offset_clock_reads_the_service_time() {
        let ahead = OffsetClock::towards(SystemClock.now_millis() + 90_000);
        let diff = ahead.now_millis() - SystemClock.now_millis();
        assert!((89_000..=91_000).contains(&diff), "{diff}");
    }
}
