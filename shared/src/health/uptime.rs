//! Uptime: pure arithmetic over the probe's samples (no store, no clock).
//!
//! The probe runs once a minute, so each window is a run of one-minute
//! slots: the `N` whole minutes before the current one (`N` = 1,440 for
//! 24 hours, 10,080 for 7 days, 43,200 for 30 days). A slot's status is the
//! worst of the samples taken in it; a slot with none is unknown. Up is
//! `ok` or `degraded`, down is `failing`, and each percentage is over all
//! `N` slots, rounded down to 3 decimals (so 100 means every slot was up,
//! and a single unknown slot in 30 days still shows).
//!
//! A chart ([`chart`], `GET /security/health/uptime`) cuts one window into
//! equal buckets of those slots (24 of an hour, 28 of 6 hours, 30 of a
//! day), the last ending where the current slot starts, each with its own
//! percentages, rounded down the same way.
//!
//! An incident is a run of failing samples: it starts at the first failing
//! sample after a sample that was not failing (or the first sample read),
//! and ends at the first sample after it that is not failing. Missing
//! samples neither start nor end one: nobody knows what happened then. An
//! incident with no sample after it that is not failing is still open
//! (`end: null`). Its `checks` are every check that failed during it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Sample, Status};
use crate::clock::rfc3339;

/// How often the probe runs, and so the width of one slot.
pub const SLOT_MS: i64 = 60_000;

/// The longest window: the samples to read for a report.
pub const LONGEST_WINDOW_MS: i64 = 30 * 24 * 3_600_000;

/// The uptime part of `/security/health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    /// Percentage of the last 24 hours' slots that were up.
    pub pct_24h: f64,
    /// The same over 7 days.
    pub pct_7d: f64,
    /// The same over 30 days.
    pub pct_30d: f64,
    /// Percentage of the last 24 hours' slots without a sample.
    pub unknown_pct_24h: f64,
    /// The same over 7 days.
    pub unknown_pct_7d: f64,
    /// The same over 30 days.
    pub unknown_pct_30d: f64,
    /// The newest incident within the last 30 days, if any.
    pub last_incident: Option<Incident>,
}

/// A run of failing samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// The first failing sample's time, RFC 3339.
    pub start: String,
    /// The time of the first sample after it that was not failing; `None`
    /// while the incident is open.
    pub end: Option<String>,
    /// Every check that failed during the incident, sorted, once each.
    pub checks: Vec<String>,
}

/// Uptime at `now_ms` from `samples` (any order; those outside the
/// 30-day window are ignored).
///
/// The current slot is `now_ms / SLOT_MS` (rounded towards minus
/// infinity), and a window of `N` slots is the `N` slots before it: a
/// sample in the current minute, or later, counts for nothing yet, nor for
/// incidents. Samples read in time order (input order among equal times).
/// Never panics, whatever the times.
pub fn uptime(samples: &[Sample], now_ms: i64) -> Uptime {
    let current = slot(now_ms);
    let oldest = current.saturating_sub(i64::from(SLOTS_30D));
    let mut read: Vec<&Sample> = samples
        .iter()
        .filter(|s| (oldest..current).contains(&slot(s.at_ms)))
        .collect();
    // Stable: samples at the same millisecond keep their input order.
    read.sort_by_key(|s| s.at_ms);

    let slots = worst_by_slot(read.iter().copied());
    let (pct_24h, unknown_pct_24h) = percentages(&slots, current, SLOTS_24H);
    let (pct_7d, unknown_pct_7d) = percentages(&slots, current, SLOTS_7D);
    let (pct_30d, unknown_pct_30d) = percentages(&slots, current, SLOTS_30D);

    Uptime {
        pct_24h,
        pct_7d,
        pct_30d,
        unknown_pct_24h,
        unknown_pct_7d,
        unknown_pct_30d,
        last_incident: last_incident(&read),
    }
}

/// Each slot's status: the worst of `samples` taken in it.
fn worst_by_slot<'a>(samples: impl Iterator<Item = &'a Sample>) -> BTreeMap<i64, Status> {
    let mut slots: BTreeMap<i64, Status> = BTreeMap::new();
    for s in samples {
        let worst = slots.entry(slot(s.at_ms)).or_insert(s.status);
        *worst = (*worst).max(s.status);
    }
    slots
}

/// A window of `GET /security/health/uptime`, cut into buckets for a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Window {
    /// The last 24 hours: 24 buckets of an hour.
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days: 28 buckets of 6 hours.
    #[serde(rename = "7d")]
    Week,
    /// The last 30 days: 30 buckets of a day.
    #[serde(rename = "30d")]
    Month,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 3] = [Window::Day, Window::Week, Window::Month];

    /// Its name in a request and an answer: `24h`, `7d` or `30d`.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
            Window::Month => "30d",
        }
    }

    /// The window named `name` (exactly as [`Window::as_str`] writes it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == name)
    }

    /// How many buckets, and how many slots each: together the window's
    /// slots, the same as the report's percentages count.
    const fn buckets(self) -> (u32, u32) {
        match self {
            Window::Day => (24, 60),
            Window::Week => (28, 6 * 60),
            Window::Month => (30, 24 * 60),
        }
    }

    /// The window's length in milliseconds.
    pub fn millis(self) -> i64 {
        let (n, width) = self.buckets();
        i64::from(n * width) * SLOT_MS
    }
}

/// One bucket of an uptime chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// When its first slot starts, RFC 3339.
    pub start: String,
    /// Percentage of its slots that were up, rounded down to 3 decimals.
    pub up_pct: f64,
    /// Percentage of its slots without a sample, rounded down likewise.
    pub unknown_pct: f64,
}

/// `GET /security/health/uptime`: a window's buckets, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UptimeChart {
    /// Which window.
    pub window: Window,
    /// Its buckets, oldest first; the last ends where the current slot
    /// starts.
    pub buckets: Vec<Bucket>,
}

/// The buckets of `window` at `now_ms` from `samples` (any order; those
/// outside the window are ignored), with [`uptime`]'s slots: the window
/// is the slots before the current one, cut into equal buckets, the last
/// ending where the current slot starts; each bucket's percentages are
/// over its own slots, rounded down as the report's are. Never panics,
/// whatever the times.
pub fn chart(samples: &[Sample], now_ms: i64, window: Window) -> UptimeChart {
    let (n, width) = window.buckets();
    let current = slot(now_ms);
    let oldest = current.saturating_sub(i64::from(n * width));
    let slots = worst_by_slot(
        samples
            .iter()
            .filter(|s| (oldest..current).contains(&slot(s.at_ms))),
    );
    let buckets = (1..=n)
        .map(|i| {
            // Bucket i (1 the oldest) ends `n - i` buckets before the
            // current slot.
            let end = current.saturating_sub(i64::from((n - i) * width));
            let start = end.saturating_sub(i64::from(width));
            let (up_pct, unknown_pct) = percentages(&slots, end, width);
            Bucket {
                start: rfc3339(start.saturating_mul(SLOT_MS / 1000)),
                up_pct,
                unknown_pct,
            }
        })
        .collect();
    UptimeChart { window, buckets }
}

/// Slots in 24 hours.
const SLOTS_24H: u32 = 24 * 60;

/// Slots in 7 days.
const SLOTS_7D: u32 = 7 * 24 * 60;

/// Slots in 30 days: the longest window.
const SLOTS_30D: u32 = 30 * 24 * 60;

// The longest window is the samples read for a report: exactly 30 days.
const _: () = assert!(SLOTS_30D as i64 * SLOT_MS == LONGEST_WINDOW_MS);

// A chart's buckets cover exactly its window's slots, as the report counts
// them.
const _: () = {
    let (day, week, month) = (
        Window::Day.buckets(),
        Window::Week.buckets(),
        Window::Month.buckets(),
    );
    assert!(day.0 * day.1 == SLOTS_24H);
    assert!(week.0 * week.1 == SLOTS_7D);
    assert!(month.0 * month.1 == SLOTS_30D);
};

/// The slot `at_ms` falls in (times before the epoch included).
fn slot(at_ms: i64) -> i64 {
    at_ms.div_euclid(SLOT_MS)
}

/// The up and unknown percentages of the `n` slots before `current`.
fn percentages(slots: &BTreeMap<i64, Status>, current: i64, n: u32) -> (f64, f64) {
    let from = current.saturating_sub(i64::from(n));
    let (mut up, mut known) = (0_u32, 0_u32);
    for status in slots.range(from..current).map(|(_, status)| *status) {
        known = known.saturating_add(1);
        if status != Status::Failing {
            up = up.saturating_add(1);
        }
    }
    (share(up, n), share(n.saturating_sub(known), n))
}

/// `count` of `n` as a percentage rounded down to 3 decimals: in integers
/// first (so 1,439 of 1,440 is 99.930, never 99.931 nor 100), then divided,
/// which gives exactly the `f64` nearest `k / 1000`.
fn share(count: u32, n: u32) -> f64 {
    let thousandths = u64::from(count.min(n)) * 100_000 / u64::from(n.max(1));
    // At most 100,000, so exact in a u32 and an f64.
    f64::from(u32::try_from(thousandths).unwrap_or(100_000)) / 1000.0
}

/// An incident as read: its first failing sample's time, the time of the
/// sample that ended it, and its failing checks.
struct Run<'a> {
    start_ms: i64,
    end_ms: Option<i64>,
    checks: BTreeSet<&'a str>,
}

/// The newest incident among `read` (in time order): the open one if
/// there is one, else the last to end, which is also the last to start.
fn last_incident(read: &[&Sample]) -> Option<Incident> {
    let mut open: Option<Run<'_>> = None;
    let mut last: Option<Run<'_>> = None;
    for s in read {
        if s.status == Status::Failing {
            let run = open.get_or_insert_with(|| Run {
                start_ms: s.at_ms,
                end_ms: None,
                checks: BTreeSet::new(),
            });
            run.checks.extend(s.failing.iter().map(String::as_str));
        } else if let Some(mut run) = open.take() {
            run.end_ms = Some(s.at_ms);
            last = Some(run);
        }
    }
    open.or(last).map(|run| Incident {
        start: time(run.start_ms),
        end: run.end_ms.map(time),
        checks: run.checks.into_iter().map(str::to_owned).collect(),
    })
}

/// A sample's time as RFC 3339, to the second.
fn time(at_ms: i64) -> String {
    rfc3339(at_ms.div_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-24T12:00:30Z (1,795,521,630 s): half a minute into the
    /// current slot.
    const NOW: i64 = 1_795_521_630_000;
    /// 2026-11-24T12:00:00Z: the start of the current slot, 29,925,360.
    const MINUTE: i64 = 1_795_521_600_000;

    /// `sec` seconds into the `k`th slot before the current one (slot
    /// `29,925,360 - k`); `k` = 1 is 11:59, the newest slot counted.
    fn at(k: i64, sec: i64) -> i64 {
        MINUTE - k * SLOT_MS + sec * 1000
    }

    fn sample(at_ms: i64, status: Status, failing: &[&str]) -> Sample {
        Sample {
            at_ms,
            status,
            failing: failing.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn ok(k: i64) -> Sample {
        sample(at(k, 15), Status::Ok, &[])
    }

    fn degraded(k: i64) -> Sample {
        sample(at(k, 15), Status::Degraded, &[])
    }

    fn failing(k: i64, checks: &[&str]) -> Sample {
        sample(at(k, 15), Status::Failing, checks)
    }

    fn incident(start: &str, end: Option<&str>, checks: &[&str]) -> Option<Incident> {
        Some(Incident {
            start: start.to_owned(),
            end: end.map(str::to_owned),
            checks: checks.iter().map(|c| (*c).to_owned()).collect(),
        })
    }

    /// What no samples at all give.
    fn nothing_known() -> Uptime {
        Uptime {
            pct_24h: 0.0,
            pct_7d: 0.0,
            pct_30d: 0.0,
            unknown_pct_24h: 100.0,
            unknown_pct_7d: 100.0,
            unknown_pct_30d: 100.0,
            last_incident: None,
        }
    }

    /// The fixture, slot by slot (`k` slots before the current one; each
    /// sample 15 s into its slot unless said):
    ///
    /// - current slot: ok at 12:00:05 (ignored: would end the open incident)
    /// - later: ok at 13:00:30 (ignored, likewise)
    /// - k 1..=15: failing `queues`; k 16..=30: failing `tables`
    ///   (one open incident since k 30, 11:30:15)
    /// - k 31..=499: ok
    /// - k 500: failing `queues` at :10, ok at :40 (the slot is down; an
    ///   incident of 30 s)
    /// - k 501..=600: ok
    /// - k 601..=690: no samples (a 90-minute gap)
    /// - k 691..=770: ok
    /// - k 771..=800: degraded (up)
    /// - k 801..=890: ok
    /// - k 891..=900: failing `webhooks` (10 minutes; ended by k 890)
    /// - k 901..=1440: ok
    /// - k 1441: ok (24 h and one slot ago: in 7 days, not in 24 hours)
    /// - k 10081: failing `secrets` (in 30 days, not in 7; ended by k 1441)
    /// - k 43200: ok (the oldest slot counted)
    /// - k 43201: failing `tables` (older than 30 days: ignored)
    ///
    /// Returned newest first, so unsorted.
    fn fixture() -> Vec<Sample> {
        let mut samples = vec![
            sample(at(43_201, 15), Status::Failing, &["tables"]),
            ok(43_200),
            failing(10_081, &["secrets"]),
            ok(1441),
        ];
        for k in (1..=1440).rev() {
            match k {
                601..=690 => {}
                891..=900 => samples.push(failing(k, &["webhooks"])),
                771..=800 => samples.push(degraded(k)),
                500 => {
                    samples.push(sample(at(500, 10), Status::Failing, &["queues"]));
                    samples.push(sample(at(500, 40), Status::Ok, &[]));
                }
                16..=30 => samples.push(failing(k, &["tables"])),
                1..=15 => samples.push(failing(k, &["queues"])),
                _ => samples.push(ok(k)),
            }
        }
        samples.push(sample(NOW - 25_000, Status::Ok, &[]));
        samples.push(sample(NOW + 3_600_000, Status::Ok, &[]));
        samples.reverse();
        samples
    }

    #[test]
    fn a_month_with_a_gap_closed_incidents_and_an_open_one() {
        // 24 h, k 1..=1440: 90 unknown (k 601..=690), so 1,350 known; down
        // are k 1..=30, k 500 and k 891..=900, 41 slots; up 1,350 - 41 = 1,309.
        //   pct:     1,309 * 100,000 / 1,440 = 90,902.7 -> 90.902
        //   unknown:    90 * 100,000 / 1,440 =  6,250   ->  6.250
        // 7 d, k 1..=10,080: also k 1441 (ok): known 1,351, up 1,310.
        //   pct:     1,310 * 100,000 / 10,080 = 12,996.0 -> 12.996
        //   unknown: 8,729 * 100,000 / 10,080 = 86,597.2 -> 86.597
        // 30 d, k 1..=43,200: also k 10,081 (down) and k 43,200 (up):
        // known 1,353, up 1,311.
        //   pct:      1,311 * 100,000 / 43,200 =  3,034.7 ->  3.034
        //   unknown: 41,847 * 100,000 / 43,200 = 96,868.0 -> 96.868
        // The newest incident is the open one from k 30 (11:30:15); its
        // checks are `tables` then `queues`, sorted.
        assert_eq!(
            uptime(&fixture(), NOW),
            Uptime {
                pct_24h: 90.902,
                pct_7d: 12.996,
                pct_30d: 3.034,
                unknown_pct_24h: 6.25,
                unknown_pct_7d: 86.597,
                unknown_pct_30d: 96.868,
                last_incident: incident("2026-11-24T11:30:15Z", None, &["queues", "tables"]),
            }
        );
    }

    #[test]
    fn the_fixtures_earlier_incidents_ended_at_the_next_sample_not_failing() {
        // Without the open incident (k 1..=30 all ok instead), the newest is
        // the one in slot k 500: 500 minutes before 12:00 is 03:40.
        let mut samples: Vec<Sample> = fixture()
            .into_iter()
            .map(|s| {
                if s.status == Status::Failing && (at(30, 0)..MINUTE).contains(&s.at_ms) {
                    sample(s.at_ms, Status::Ok, &[])
                } else {
                    s
                }
            })
            .collect();
        assert_eq!(
            uptime(&samples, NOW).last_incident,
            incident(
                "2026-11-24T03:40:10Z",
                Some("2026-11-24T03:40:40Z"),
                &["queues"]
            )
        );
        // Without that one either: the 10 failing minutes k 900..=891,
        // 15 hours before 12:00 is 21:00 the day before; ended by k 890.
        samples.retain(|s| s.at_ms != at(500, 10));
        assert_eq!(
            uptime(&samples, NOW).last_incident,
            incident(
                "2026-11-23T21:00:15Z",
                Some("2026-11-23T21:10:15Z"),
                &["webhooks"]
            )
        );
        // And without it: the one at k 10,081, ended by k 1441 (24 h and a
        // minute before 12:00 is 11:59 the day before).
        samples.retain(|s| !(at(900, 0)..at(890, 0)).contains(&s.at_ms));
        assert_eq!(
            uptime(&samples, NOW).last_incident,
            incident(
                "2026-11-17T11:59:15Z",
                Some("2026-11-23T11:59:15Z"),
                &["secrets"]
            )
        );
    }

    #[test]
    fn no_samples_is_all_unknown() {
        assert_eq!(uptime(&[], NOW), nothing_known());
    }

    #[test]
    fn a_gap_inside_an_incident_does_not_end_it() {
        // Failing at k 10, nothing k 9..=6, failing at k 5, ok at k 3.
        let samples = [failing(10, &["tables"]), failing(5, &["queues"]), ok(3)];
        assert_eq!(
            uptime(&samples, NOW).last_incident,
            incident(
                "2026-11-24T11:50:15Z",
                Some("2026-11-24T11:57:15Z"),
                &["queues", "tables"]
            )
        );
        // Nor does a gap at the end: still open.
        assert_eq!(
            uptime(&samples[..2], NOW).last_incident,
            incident("2026-11-24T11:50:15Z", None, &["queues", "tables"])
        );
    }

    #[test]
    fn a_degraded_sample_ends_an_incident() {
        let samples = [ok(6), failing(5, &["tables"]), degraded(4), failing(2, &[])];
        // Two incidents: k 5 ended by k 4, and k 2 still open (no checks
        // named); the newest is the open one.
        assert_eq!(
            uptime(&samples, NOW).last_incident,
            incident("2026-11-24T11:58:15Z", None, &[])
        );
        assert_eq!(
            uptime(&samples[..3], NOW).last_incident,
            incident(
                "2026-11-24T11:55:15Z",
                Some("2026-11-24T11:56:15Z"),
                &["tables"]
            )
        );
        // Degraded slots are up: k 6, k 4 up, k 5 and k 2 down.
        // 2 * 100,000 / 1,440 = 138.8 -> 0.138; unknown 1,436 -> 99.722.
        let report = uptime(&samples, NOW);
        assert_eq!(report.pct_24h, 0.138);
        assert_eq!(report.unknown_pct_24h, 99.722);
    }

    #[test]
    fn the_first_sample_failing_starts_an_incident() {
        let samples = [failing(3, &["secrets"]), failing(2, &["secrets"]), ok(1)];
        assert_eq!(
            uptime(&samples, NOW).last_incident,
            incident(
                "2026-11-24T11:57:15Z",
                Some("2026-11-24T11:59:15Z"),
                &["secrets"]
            )
        );
    }

    #[test]
    fn an_incident_begun_before_the_window_starts_at_its_first_sample_read() {
        // k 43,201 is not read, so k 43,200 (30 days before 12:00) is the
        // first sample, and failing.
        let samples = [
            sample(at(43_201, 15), Status::Failing, &["tables"]),
            failing(43_200, &["queues"]),
            ok(43_199),
        ];
        assert_eq!(
            uptime(&samples, NOW).last_incident,
            incident(
                "2026-10-25T12:00:15Z",
                Some("2026-10-25T12:01:15Z"),
                &["queues"]
            )
        );
    }

    #[test]
    fn one_unknown_slot_in_a_day_rounds_down() {
        // k 1..=1440 except k 700: 1,439 up.
        let samples: Vec<Sample> = (1..=1440).filter(|k| *k != 700).map(ok).collect();
        assert_eq!(
            uptime(&samples, NOW),
            Uptime {
                // 1,439 * 100,000 / 1,440 = 99,930.5 -> 99.930, not 99.931
                pct_24h: 99.93,
                // 1,439 * 100,000 / 10,080 = 14,275.7 -> 14.275
                pct_7d: 14.275,
                // 1,439 * 100,000 / 43,200 = 3,331.0 -> 3.331
                pct_30d: 3.331,
                // 100,000 / 1,440 = 69.4 -> 0.069
                unknown_pct_24h: 0.069,
                // 8,641 * 100,000 / 10,080 = 85,724.2 -> 85.724
                unknown_pct_7d: 85.724,
                // 41,761 * 100,000 / 43,200 = 96,668.9 -> 96.668
                unknown_pct_30d: 96.668,
                last_incident: None,
            }
        );
    }

    #[test]
    fn one_down_slot_in_30_days_rounds_down_and_every_slot_up_is_100() {
        // Every slot sampled; only the oldest, k 43,200, down.
        let mut samples: Vec<Sample> = (1..43_200).map(degraded).collect();
        samples.push(failing(43_200, &["tables"]));
        let report = uptime(&samples, NOW);
        assert_eq!(
            report,
            Uptime {
                pct_24h: 100.0,
                pct_7d: 100.0,
                // 43,199 * 100,000 / 43,200 = 99,997.6 -> 99.997, never 100
                pct_30d: 99.997,
                unknown_pct_24h: 0.0,
                unknown_pct_7d: 0.0,
                unknown_pct_30d: 0.0,
                last_incident: incident(
                    "2026-10-25T12:00:15Z",
                    Some("2026-10-25T12:01:15Z"),
                    &["tables"]
                ),
            }
        );
    }

    #[test]
    fn the_worst_sample_in_a_slot_decides_it() {
        // k 1: ok then failing; k 2: degraded then ok (up).
        let samples = [
            sample(at(1, 0), Status::Ok, &[]),
            sample(at(1, 59), Status::Failing, &["queues"]),
            sample(at(2, 0), Status::Degraded, &[]),
            sample(at(2, 30), Status::Ok, &[]),
        ];
        let report = uptime(&samples, NOW);
        // 1 * 100,000 / 1,440 = 69.4 -> 0.069; unknown 1,438 -> 99,861.1.
        assert_eq!(report.pct_24h, 0.069);
        assert_eq!(report.unknown_pct_24h, 99.861);
        assert_eq!(
            report.last_incident,
            incident("2026-11-24T11:59:59Z", None, &["queues"])
        );
    }

    #[test]
    fn samples_at_the_same_time_keep_their_order() {
        let t = at(1, 20);
        let ended = [
            sample(t, Status::Failing, &["tables"]),
            sample(t, Status::Ok, &[]),
        ];
        assert_eq!(
            uptime(&ended, NOW).last_incident,
            incident(
                "2026-11-24T11:59:20Z",
                Some("2026-11-24T11:59:20Z"),
                &["tables"]
            )
        );
        let open = [
            sample(t, Status::Ok, &[]),
            sample(t, Status::Failing, &["tables"]),
        ];
        assert_eq!(
            uptime(&open, NOW).last_incident,
            incident("2026-11-24T11:59:20Z", None, &["tables"])
        );
    }

    #[test]
    fn samples_in_the_current_minute_or_later_are_ignored() {
        let later = [
            sample(MINUTE, Status::Failing, &["tables"]),
            sample(NOW, Status::Failing, &["tables"]),
            sample(NOW + 1, Status::Failing, &["tables"]),
            sample(NOW + 86_400_000, Status::Ok, &[]),
            sample(i64::MAX, Status::Failing, &["tables"]),
        ];
        assert_eq!(uptime(&later, NOW), nothing_known());
        // The last millisecond of the slot before is counted.
        let mut samples = later.to_vec();
        samples.push(sample(MINUTE - 1, Status::Failing, &["queues"]));
        let report = uptime(&samples, NOW);
        assert_eq!(report.pct_24h, 0.0);
        assert_eq!(report.unknown_pct_24h, 99.93);
        assert_eq!(
            report.last_incident,
            incident("2026-11-24T11:59:59Z", None, &["queues"])
        );
    }

    #[test]
    fn samples_older_than_30_days_are_ignored() {
        let older = [
            sample(at(43_200, 0) - 1, Status::Failing, &["tables"]),
            sample(i64::MIN, Status::Failing, &["tables"]),
        ];
        assert_eq!(uptime(&older, NOW), nothing_known());
        // The first millisecond of the oldest slot is counted:
        // 1 * 100,000 / 43,200 = 2.3 -> 0.002; unknown 43,199 -> 99.997.
        let report = uptime(&[ok(43_200)], NOW);
        assert_eq!(report.pct_30d, 0.002);
        assert_eq!(report.unknown_pct_30d, 99.997);
        assert_eq!(report.pct_7d, 0.0);
        assert_eq!(report.unknown_pct_7d, 100.0);
    }

    #[test]
    fn times_before_the_epoch_use_the_slot_they_fall_in() {
        // Now 1969-12-31T23:59:30Z is slot -1; -60,001 ms is slot -2, the
        // newest counted, and second -61 (div_euclid, not truncation).
        let samples = [sample(-60_001, Status::Failing, &["tables"])];
        let report = uptime(&samples, -30_000);
        assert_eq!(report.pct_24h, 0.0);
        assert_eq!(report.unknown_pct_24h, 99.93);
        assert_eq!(
            report.last_incident,
            incident("1969-12-31T23:58:59Z", None, &["tables"])
        );
        // -60,000 ms is slot -1: the current one, ignored.
        let current = [sample(-60_000, Status::Failing, &["tables"])];
        assert_eq!(uptime(&current, -30_000), nothing_known());
    }

    #[test]
    fn extreme_times_never_panic() {
        let extremes = [
            i64::MIN,
            i64::MIN + 1,
            i64::MIN + SLOT_MS * 43_200,
            -1,
            0,
            1,
            NOW,
            i64::MAX - SLOT_MS * 43_200,
            i64::MAX - 1,
            i64::MAX,
        ];
        let samples: Vec<Sample> = extremes
            .iter()
            .flat_map(|t| {
                [
                    sample(*t, Status::Failing, &["tables"]),
                    sample(t.saturating_sub(SLOT_MS), Status::Ok, &[]),
                    sample(t.saturating_sub(1), Status::Failing, &["queues"]),
                ]
            })
            .collect();
        for now in extremes {
            let report = uptime(&samples, now);
            for pct in [report.pct_24h, report.pct_7d, report.pct_30d] {
                assert!((0.0..=100.0).contains(&pct));
            }
        }
    }

    fn bucket(start: &str, up_pct: f64, unknown_pct: f64) -> Bucket {
        Bucket {
            start: start.to_owned(),
            up_pct,
            unknown_pct,
        }
    }

    #[test]
    fn a_days_chart_is_24_hours_each_with_its_own_shares() {
        let mut samples: Vec<Sample> = (1..=60)
            .map(|k| match k {
                10 => degraded(k),
                30 => failing(k, &["tables"]),
                _ => ok(k),
            })
            .collect();
        // k 45: ok, then failing: the slot is down.
        samples.push(sample(at(45, 50), Status::Failing, &["queues"]));
        // k 61..=90 sampled, k 91..=120 not.
        samples.extend((61..=90).map(ok));
        // The window's first slot, at its first millisecond.
        samples.push(sample(at(1440, 0), Status::Ok, &[]));
        // Outside: the slot before the window, the current one, later.
        samples.push(failing(1441, &["tables"]));
        samples.push(sample(MINUTE, Status::Failing, &["tables"]));
        samples.push(sample(NOW + 3_600_000, Status::Failing, &["tables"]));
        let chart = chart(&samples, NOW, Window::Day);
        assert_eq!(chart.window, Window::Day);
        assert_eq!(chart.buckets.len(), 24);
        // The oldest bucket, k 1381..=1440 (from 12:00 the day before):
        // 1 of 60 up, 1 * 100,000 / 60 = 1,666.6 -> 1.666; 59 unknown,
        // 98,333.3 -> 98.333.
        assert_eq!(
            chart.buckets[0],
            bucket("2026-11-23T12:00:00Z", 1.666, 98.333)
        );
        // k 1321..=1380 to k 121..=180: nothing known.
        for (i, b) in chart.buckets.iter().enumerate().take(22).skip(1) {
            assert_eq!((b.up_pct, b.unknown_pct), (0.0, 100.0), "{i}");
        }
        assert_eq!(chart.buckets[1].start, "2026-11-23T13:00:00Z");
        // k 61..=120 (10:00 to 10:59): 30 up, 30 unknown.
        assert_eq!(
            chart.buckets[22],
            bucket("2026-11-24T10:00:00Z", 50.0, 50.0)
        );
        // k 1..=60 (11:00 to 11:59): every slot known, k 30 and k 45 down
        // (k 10 degraded is up): 58 * 100,000 / 60 = 96,666.6 -> 96.666.
        assert_eq!(
            chart.buckets[23],
            bucket("2026-11-24T11:00:00Z", 96.666, 0.0)
        );
    }

    #[test]
    fn a_weeks_chart_is_28_buckets_of_6_hours() {
        // k 1..=360 (06:00 to 11:59) degraded but k 100..=135 (36 slots)
        // missing: 324 up, 90 %; 36 unknown, 10 %.
        let mut samples: Vec<Sample> = (1..=360)
            .filter(|k| !(100..=135).contains(k))
            .map(degraded)
            .collect();
        // k 361..=720: one down slot, the rest unknown.
        samples.push(failing(500, &["queues"]));
        // The oldest slot of the week.
        samples.push(ok(10_080));
        let chart = chart(&samples, NOW, Window::Week);
        assert_eq!(chart.buckets.len(), 28);
        // 1 of 360: 277.7 -> 0.277; 359 unknown: 99,722.2 -> 99.722.
        assert_eq!(
            chart.buckets[0],
            bucket("2026-11-17T12:00:00Z", 0.277, 99.722)
        );
        assert_eq!(chart.buckets[1].start, "2026-11-17T18:00:00Z");
        assert_eq!(
            chart.buckets[26],
            bucket("2026-11-24T00:00:00Z", 0.0, 99.722)
        );
        assert_eq!(
            chart.buckets[27],
            bucket("2026-11-24T06:00:00Z", 90.0, 10.0)
        );
    }

    #[test]
    fn a_months_chart_is_30_days() {
        // The last day all up but k 700; the oldest slot down; one older
        // than the window ignored.
        let mut samples: Vec<Sample> = (1..=1440).filter(|k| *k != 700).map(ok).collect();
        samples.push(failing(43_200, &["tables"]));
        samples.push(failing(43_201, &["tables"]));
        let chart = chart(&samples, NOW, Window::Month);
        assert_eq!(chart.buckets.len(), 30);
        // 1,439 unknown of 1,440: 99,930.5 -> 99.930.
        assert_eq!(chart.buckets[0], bucket("2026-10-25T12:00:00Z", 0.0, 99.93));
        assert_eq!(
            chart.buckets[28],
            bucket("2026-11-22T12:00:00Z", 0.0, 100.0)
        );
        // 1,439 up: 99.930; 1 unknown: 69.4 -> 0.069.
        assert_eq!(
            chart.buckets[29],
            bucket("2026-11-23T12:00:00Z", 99.93, 0.069)
        );
    }

    #[test]
    fn a_chart_with_no_samples_is_all_unknown_and_windows_are_named() {
        for window in Window::ALL {
            let chart = chart(&[], NOW, window);
            assert!(
                chart
                    .buckets
                    .iter()
                    .all(|b| (b.up_pct, b.unknown_pct) == (0.0, 100.0))
            );
            assert_eq!(Window::parse(window.as_str()), Some(window));
            assert_eq!(
                serde_json::to_value(window).unwrap(),
                serde_json::json!(window.as_str())
            );
        }
        assert_eq!(Window::Week.millis(), 7 * 86_400_000);
        for other in ["", "24H", "1d", "30d ", "90d"] {
            assert_eq!(Window::parse(other), None, "{other}");
        }
    }

    fn any_status() -> impl Strategy<Value = Status> {
        prop_oneof![
            Just(Status::Ok),
            Just(Status::Degraded),
            Just(Status::Failing)
        ]
    }

    /// A time anywhere, or near `now` (within 31 days either side).
    fn any_time(now: i64) -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            (-31 * 86_400_000_i64..31 * 86_400_000).prop_map(move |d| now.saturating_add(d)),
        ]
    }

    fn any_case() -> impl Strategy<Value = (i64, Vec<Sample>)> {
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(NOW)].prop_flat_map(|now| {
            let sample = (
                any_time(now),
                any_status(),
                prop::collection::vec(prop_oneof![Just("tables"), Just("queues")], 0..3),
            )
                .prop_map(|(at_ms, status, failing)| sample(at_ms, status, &failing));
            (Just(now), prop::collection::vec(sample, 0..40))
        })
    }

    proptest! {
        #[test]
        fn never_panics_and_the_shares_add_up((now, samples) in any_case()) {
            let report = uptime(&samples, now);
            for (pct, unknown) in [
                (report.pct_24h, report.unknown_pct_24h),
                (report.pct_7d, report.unknown_pct_7d),
                (report.pct_30d, report.unknown_pct_30d),
            ] {
                prop_assert!((0.0..=100.0).contains(&pct));
                prop_assert!((0.0..=100.0).contains(&unknown));
                // Each rounded down: together at most 100,000 thousandths.
                prop_assert!((pct * 1000.0).round() + (unknown * 1000.0).round() <= 100_000.0);
            }
            // A longer window knows at least the slots a shorter one does.
            prop_assert!(report.unknown_pct_24h == 100.0 || report.unknown_pct_30d < 100.0);
            // An incident exactly when a sample read was failing.
            let current = now.div_euclid(SLOT_MS);
            let read_failing = samples.iter().any(|s| {
                let slot = s.at_ms.div_euclid(SLOT_MS);
                s.status == Status::Failing && slot < current && slot >= current - 43_200
            });
            prop_assert_eq!(report.last_incident.is_some(), read_failing);
            // A chart never panics either, and has its buckets whatever
            // the times.
            for (window, n) in [(Window::Day, 24), (Window::Week, 28), (Window::Month, 30)] {
                let chart = chart(&samples, now, window);
                prop_assert_eq!(chart.buckets.len(), n);
                for b in &chart.buckets {
                    prop_assert!((0.0..=100.0).contains(&b.up_pct));
                    prop_assert!((b.up_pct * 1000.0).round() + (b.unknown_pct * 1000.0).round() <= 100_000.0);
                }
            }
        }
    }
}
