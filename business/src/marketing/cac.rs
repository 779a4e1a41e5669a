//! `cac_trend`: the cost of acquiring a customer month by month, and its
//! least-squares trend.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::cac_cents;
use crate::exact;
use crate::fields::{self, Cents, Count, Month};
use crate::{BusinessAction, InvalidInput, Problem};

/// `cac_trend`: each month's cost per new customer (spend / new customers,
/// to the cent; `null` for a month without one), ascending by month, and
/// the least-squares slope of the shown costs against the month's number
/// (so a missing month counts as a gap), in cents per month rounded
/// half-even, with its direction from the exact slope's sign.
///
/// A month with spend and no new customer (`spend_cents > 0`,
/// `new_customers = 0`) has no cost to fit, so it is left out of the
/// trend: it is listed in `excluded_months` with its spend, ascending by
/// month, so that money spent for nothing is not silently dropped. A month
/// with neither spend nor customer is not (nothing was left out).
///
/// `months` may be empty; months are unique; unknown fields are refused.
/// With fewer than two months that have a cost, slope and direction are
/// `null`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacTrend {
    months: Vec<MonthSpend>,
}

/// A month's acquisition spend and new customers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthSpend {
    month: Month,
    spend_cents: Cents,
    new_customers: Count,
}

/// One month's cost per new customer.
#[derive(Debug, Serialize)]
struct MonthCac {
    month: Month,
    cac_cents: Option<i64>,
}

/// A month left out of the trend: spend and no new customer.
#[derive(Debug, Serialize)]
struct Excluded {
    month: Month,
    spend_cents: Cents,
}

/// Which way the cost per customer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Direction {
    Rising,
    Falling,
    Flat,
}

/// `cac_trend`'s result.
#[derive(Debug, Serialize)]
struct Trend {
    months: Vec<MonthCac>,
    slope_cents_per_month: Option<i64>,
    direction: Option<Direction>,
    excluded_months: Vec<Excluded>,
}

impl BusinessAction for CacTrend {
    /// Refuses a month given twice.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_months(self.months.iter().map(|m| m.month))
    }

    /// The trend; figures out of range are refused, naming their field.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut sorted: Vec<(usize, &MonthSpend)> = self.months.iter().enumerate().collect();
        sorted.sort_by_key(|(_, m)| m.month);
        let mut months = Vec::with_capacity(sorted.len());
        let mut points = Vec::new();
        let mut excluded_months = Vec::new();
        for (i, m) in sorted {
            let cac = cac_cents(
                i128::from(m.spend_cents.get()),
                i128::from(m.new_customers.get()),
                &format!("months[{i}]"),
            )?;
            match cac {
                Some(cac) => points.push((i128::from(m.month.index()), i128::from(cac))),
                None if m.spend_cents.get() > 0 => excluded_months.push(Excluded {
                    month: m.month,
                    spend_cents: m.spend_cents,
                }),
                None => {}
            }
            months.push(MonthCac {
                month: m.month,
                cac_cents: cac,
            });
        }
        let (slope_cents_per_month, direction) = if points.len() < 2 {
            (None, None)
        } else {
            // Unique months have distinct numbers (at most 120,000 of them, for
            // four-digit years) and costs are at most 10^15, so the sums stay
            // far inside i128; checked all the same.
            let out_of_range = || InvalidInput::new("months", "the trend is out of range");
            let slope = exact::slope(&points).ok_or_else(out_of_range)?;
            let direction = match slope.signum() {
                Ordering::Greater => Direction::Rising,
                Ordering::Less => Direction::Falling,
                Ordering::Equal => Direction::Flat,
            };
            (
                Some(slope.round_cents().ok_or_else(out_of_range)?),
                Some(direction),
            )
        };
        Ok(Trend {
            months,
            slope_cents_per_month,
            direction,
            excluded_months,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::marketing::test_support::*;

    #[test]
    fn cac_trend_fits_the_shown_costs_against_the_month_number_gaps_included() {
        let input = json!({"months": [
            {"month": "2026-05", "spend_cents": 130_000, "new_customers": 10},
            {"month": "2026-01", "spend_cents": 100_000, "new_customers": 10},
            {"month": "2026-02", "spend_cents": 50_000, "new_customers": 0},
            {"month": "2026-04", "spend_cents": 120_005, "new_customers": 10},
        ]});
        // cac: 2026-01 100,000 / 10 = 10,000; 2026-02 no customer -> null;
        //   (2026-03 missing: a gap); 2026-04 120,005 / 10 = 12,000.5 -> 12,000 (even);
        //   2026-05 130,000 / 10 = 13,000.
        // Points (month number, shown cac); the slope does not change when every
        //   x shifts, so with 2026-01 as 0: (0, 10000), (3, 12000), (4, 13000).
        //   n = 3, Σx = 7, Σy = 35,000, Σxy = 0 + 36,000 + 52,000 = 88,000, Σx² = 25.
        //   slope = (3 × 88,000 − 7 × 35,000) / (3 × 25 − 7²) = 19,000 / 26
        //         = 730.769.. -> 731, rising.
        // 2026-02 spent 50,000 for no customer: excluded, and listed as such.
        assert_eq!(
            result("cac_trend", input),
            json!({"months": [
                {"month": "2026-01", "cac_cents": 10_000},
                {"month": "2026-02", "cac_cents": null},
                {"month": "2026-04", "cac_cents": 12_000},
                {"month": "2026-05", "cac_cents": 13_000},
            ], "slope_cents_per_month": 731, "direction": "rising",
               "excluded_months": [{"month": "2026-02", "spend_cents": 50_000}]})
        );
    }

    #[test]
    fn cac_trend_lists_the_months_with_spend_and_no_customer_it_leaves_out() {
        let month = |m: &str, spend: u64, customers: u64| json!({"month": m, "spend_cents": spend, "new_customers": customers});
        let input = json!({"months": [
            month("2026-04", 9_000, 0),
            month("2026-01", 1_000, 2),
            month("2025-11", 7_000, 0),
            month("2026-02", 0, 0),
            month("2026-03", 3_000, 2),
        ]});
        // cac: 2026-01 1,000 / 2 = 500; 2026-03 3,000 / 2 = 1,500; the others have no
        //   customer -> null.
        // Points (with 2026-01 as 0): (0, 500), (2, 1500): slope (1500 − 500) / 2 = 500, rising.
        // Left out with spend: 2025-11 (7,000) and 2026-04 (9,000), ascending by month;
        //   2026-02 spent nothing, so nothing was left out: not listed.
        assert_eq!(
            result("cac_trend", input),
            json!({"months": [
                {"month": "2025-11", "cac_cents": null},
                {"month": "2026-01", "cac_cents": 500},
                {"month": "2026-02", "cac_cents": null},
                {"month": "2026-03", "cac_cents": 1_500},
                {"month": "2026-04", "cac_cents": null},
            ], "slope_cents_per_month": 500, "direction": "rising",
               "excluded_months": [
                {"month": "2025-11", "spend_cents": 7_000},
                {"month": "2026-04", "spend_cents": 9_000},
            ]})
        );
    }

    #[test]
    fn cac_trend_direction_is_the_exact_slopes_sign() {
        let month = |m: &str, spend: u64, customers: u64| json!({"month": m, "spend_cents": spend, "new_customers": customers});
        // Falling across a year end: (2025-12, 500), (2026-01, 300): slope −200.
        let falling = json!({"months": [month("2026-01", 300, 1), month("2025-12", 500, 1)]});
        let r = result("cac_trend", falling);
        assert_eq!(r["slope_cents_per_month"], -200);
        assert_eq!(r["direction"], "falling");
        // Flat: 400 / 2 = 200 and 600 / 3 = 200: slope 0.
        let flat = json!({"months": [month("2026-01", 400, 2), month("2026-03", 600, 3)]});
        let r = result("cac_trend", flat);
        assert_eq!(r["slope_cents_per_month"], 0);
        assert_eq!(r["direction"], "flat");
        // (0, 100), (1, 100), (1000 months later, 101): the exact slope is a tiny
        // positive number that rounds to 0 cents, but the costs do rise.
        //   n = 3, Σx = 1001, Σy = 301, Σxy = 100 + 101,000 = 101,100, Σx² = 1,000,001;
        //   (3 × 101,100 − 1001 × 301) / (3 × 1,000,001 − 1001²)
        //   = (303,300 − 301,301) / (3,000,003 − 1,002,001) = 1,999 / 1,998,002 ≈ 0.001.
        let tiny = json!({"months": [month("2026-01", 100, 1), month("2026-02", 100, 1),
                                     month("2109-05", 101, 1)]});
        let r = result("cac_trend", tiny);
        assert_eq!(r["slope_cents_per_month"], 0);
        assert_eq!(r["direction"], "rising");
    }

    #[test]
    fn cac_trend_needs_two_months_with_a_cost_for_a_slope() {
        let months = json!({"months": [
            {"month": "2026-01", "spend_cents": 100, "new_customers": 4},
            {"month": "2026-02", "spend_cents": 100, "new_customers": 0},
        ]});
        // 100 / 4 = 25; then no customer (100 spent, excluded): one point only.
        assert_eq!(
            result("cac_trend", months),
            json!({"months": [{"month": "2026-01", "cac_cents": 25},
                              {"month": "2026-02", "cac_cents": null}],
                   "slope_cents_per_month": null, "direction": null,
                   "excluded_months": [{"month": "2026-02", "spend_cents": 100}]})
        );
        assert_eq!(
            result("cac_trend", json!({"months": []})),
            json!({"months": [], "slope_cents_per_month": null, "direction": null,
                   "excluded_months": []})
        );
    }

    #[test]
    fn cac_trend_names_the_field_of_input_that_does_not_parse() {
        let ok = json!({"month": "2026-01", "spend_cents": 1, "new_customers": 1});
        let february = testing::with(&ok, "month", json!("2026-02"));
        let with =
            |key: &str, value: Value| json!({"months": [ok, testing::with(&february, key, value)]});
        let cases = [
            (json!({}), "input.months"),
            (
                json!({"months": [{"spend_cents": 1, "new_customers": 1}]}),
                "input.months[0].month",
            ),
            (
                json!({"months": [{"month": "2026-01", "new_customers": 1}]}),
                "input.months[0].spend_cents",
            ),
            (
                json!({"months": [{"month": "2026-01", "spend_cents": 1}]}),
                "input.months[0].new_customers",
            ),
            (with("month", json!("2026-13")), "input.months[1].month"),
            (with("month", json!("2026-02-01")), "input.months[1].month"),
            (with("month", json!("2026-01")), "input.months[1].month"),
            (
                with("spend_cents", json!(-1)),
                "input.months[1].spend_cents",
            ),
            (
                with("spend_cents", json!("5")),
                "input.months[1].spend_cents",
            ),
            (
                with("new_customers", json!(-2)),
                "input.months[1].new_customers",
            ),
            // Unknown fields are refused, named: a misspelt new_customers is not 0.
            (with("customers", json!(3)), "input.months[1].customers"),
            (json!({"months": [], "currency": "USD"}), "input.currency"),
        ];
        invalid_fields("cac_trend", cases);
    }

    proptest! {
        #[test]
        fn cac_trend_orders_months_and_its_direction_agrees_with_the_slope(
            months in proptest::collection::btree_map(
                0..240_i64, (0..=MAX_CENTS, 0..5_u64), 0..8),
        ) {
            let input = json!({"months": months.iter().rev().map(|(&m, &(s, n))| json!({
                "month": format!("{:04}-{:02}", 2000 + m / 12, m % 12 + 1),
                "spend_cents": s, "new_customers": n,
            })).collect::<Vec<_>>()});
            prop_assert!(testing::refuses_or_answers(AGENT, "cac_trend", &input));
            let r = result("cac_trend", input);
            let out = r["months"].as_array().expect("months");
            prop_assert_eq!(out.len(), months.len());
            for (row, (&m, &(_, n))) in out.iter().zip(&months) {
                let expected = format!("{:04}-{:02}", 2000 + m / 12, m % 12 + 1);
                prop_assert_eq!(row["month"].as_str(), Some(expected.as_str()));
                prop_assert_eq!(row["cac_cents"].is_null(), n == 0);
            }
            let excluded: Vec<Value> = months.iter()
                .filter(|&(_, &(s, n))| s > 0 && n == 0)
                .map(|(&m, &(s, _))| json!({
                    "month": format!("{:04}-{:02}", 2000 + m / 12, m % 12 + 1),
                    "spend_cents": s,
                }))
                .collect();
            prop_assert_eq!(&r["excluded_months"], &json!(excluded));
            let with_cost = months.values().filter(|&&(_, n)| n > 0).count();
            match r["slope_cents_per_month"].as_i64() {
                None => {
                    prop_assert!(with_cost < 2);
                    prop_assert!(r["direction"].is_null());
                }
                Some(slope) => {
                    prop_assert!(with_cost >= 2);
                    let direction = r["direction"].as_str().expect("a direction");
                    prop_assert!(match direction {
                        "rising" => slope >= 0,
                        "falling" => slope <= 0,
                        "flat" => slope == 0,
                        _ => false,
                    }, "{} against {}", direction, slope);
                }
            }
        }
    }
}
