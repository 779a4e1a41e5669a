//! `cash_runway`: the average net burn of the latest months, the months of
//! cash it leaves and the date it runs out.

use serde::{Deserialize, Serialize};

use super::{MonthFigures, average_net_burn, four_places, runway, signed_cents};
use crate::exact::{Figure, Rational};
use crate::fields::{self, Date, SignedCents};
use crate::{BusinessAction, Failure, InvalidInput, Problem};

/// Days per month for the zero-cash date: 365.25 / 12 = 30.4375 = 487/16.
const DAYS_PER_MONTH: (i128, i128) = (487, 16);

/// More days than the calendar holds (10,000 years): a zero-cash date
/// further out is past 9999-12-31 whatever `as_of` is.
const MAX_CALENDAR_DAYS: i128 = 3_652_500;

/// `cash_runway`: how long the cash lasts at the recent net burn
/// (`CashRunwayInput` and `CashRunwayResult` in `infra/openapi.yaml`).
///
/// The burn averages the three latest months by `month` (fewer if fewer
/// are given; none fails the job, `months: no month to average`); net burn
/// = expenses − revenue; the average is kept exact and shown rounded to the
/// cent. An average ≤ 0 is `profitable`, with `runway_months` and
/// `zero_cash_date` null. Otherwise the runway is cash / average (0 when
/// cash ≤ 0), shown to 4 places, and the zero-cash date is `as_of` plus
/// floor(runway × 30.4375) days from the exact runway; a date past
/// 9999-12-31 (the calendar's end) is null.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CashRunway {
    cash_cents: SignedCents,
    as_of: Date,
    months: Vec<MonthFigures>,
}

/// `cash_runway`'s result.
#[derive(Debug, Serialize)]
struct CashRunwayResult {
    avg_net_burn_cents: i64,
    runway_months: Option<Figure>,
    zero_cash_date: Option<Date>,
    profitable: bool,
}

/// `as_of` plus floor(`runway` × 30.4375) days, or `None` past the
/// calendar.
fn zero_cash_date(as_of: Date, runway: Rational) -> Result<Option<Date>, Failure> {
    let (num, den) = DAYS_PER_MONTH;
    let days = runway
        .checked_mul(Rational::integer(num))
        .and_then(|r| r.checked_div(Rational::integer(den)))
        .ok_or_else(|| Failure("the zero-cash date could not be computed".to_owned()))?
        .floor();
    if days > MAX_CALENDAR_DAYS {
        return Ok(None);
    }
    // 0 ≤ days ≤ MAX_CALENDAR_DAYS: an i64, and no overflow in `time`.
    Ok(i64::try_from(days).ok().and_then(|d| as_of.plus_days(d)))
}

impl BusinessAction for CashRunway {
    /// Refuses a month given twice, and a month after `as_of` (the burn
    /// is the past's: a month not yet begun is a forecast).
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_months(self.months.iter().map(|m| m.month))?;
        fields::months_not_after(self.months.iter().map(|m| m.month), self.as_of)
    }

    /// The burn, the runway and the zero-cash date; no month to average
    /// fails the job.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let burn = average_net_burn(&self.months)?;
        let avg_net_burn_cents = signed_cents(burn)
            .ok_or_else(|| Failure("the average net burn could not be rounded".to_owned()))?;
        let Some(runway) = runway(self.cash_cents.get(), burn)? else {
            return Ok(CashRunwayResult {
                avg_net_burn_cents,
                runway_months: None,
                zero_cash_date: None,
                profitable: true,
            });
        };
        Ok(CashRunwayResult {
            avg_net_burn_cents,
            runway_months: Some(four_places(runway, "runway")?),
            zero_cash_date: zero_cash_date(self.as_of, runway)?,
            profitable: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::planning::test_support::*;

    /// `cash_runway`'s input: `cash` on `as_of`, and these months (month,
    /// revenue, expenses).
    fn input(cash: i64, as_of: &str, months: &[(&str, i64, i64)]) -> Value {
        let months: Vec<Value> = months.iter().map(|&(m, r, e)| month(m, r, e)).collect();
        json!({"cash_cents": cash, "as_of": as_of, "months": months})
    }

    /// `cash_runway`'s result for [`input`]'s input.
    fn runway(cash: i64, as_of: &str, months: &[(&str, i64, i64)]) -> Value {
        result("cash_runway", input(cash, as_of, months))
    }

    #[test]
    fn cash_runway_gives_agents_md_example() {
        gives_the_contract_example("cash_runway");
    }

    #[test]
    fn cash_runway_averages_the_three_latest_months_exactly() {
        // Given out of order; 2025-11 is the fourth latest and left out.
        // Burns: 2026-01: 100, 2025-12: 100, 2026-02: 101 -> 301 / 3 = 100.333..
        // -> shown as 100 cents.
        // runway = 1000 / (301/3) = 3000/301 = 9.96677.. -> 9.9668;
        // days = floor(3000/301 × 487/16) = floor(1,461,000 / 4,816)
        //      = floor(303.36..) = 303; 2026-02-28 + 303 days = 2026-12-28.
        let months = [
            ("2026-01", 0, 100),
            ("2025-11", 0, 1_000_000),
            ("2026-02", 50, 151),
            ("2025-12", 900, 1000),
        ];
        assert_eq!(
            runway(1000, "2026-02-28", &months),
            json!({"avg_net_burn_cents": 100, "runway_months": 9.9668,
                   "zero_cash_date": "2026-12-28", "profitable": false})
        );
        // Two months: burns 1 and 2 -> 1.5 -> half-even 2 cents; runway
        // = 3 / 1.5 = 2 -> 2.0; days = floor(2 × 30.4375) = 60.
        assert_eq!(
            runway(3, "2026-02-01", &[("2026-01", 0, 1), ("2026-02", 0, 2)]),
            json!({"avg_net_burn_cents": 2, "runway_months": 2.0,
                   "zero_cash_date": "2026-04-02", "profitable": false})
        );
    }

    #[test]
    fn cash_runway_is_profitable_when_the_burn_is_not_positive() {
        // Burns −500 and −100: average −300 ≤ 0 -> profitable, no runway.
        assert_eq!(
            runway(
                5000,
                "2026-03-31",
                &[("2026-02", 1000, 500), ("2026-03", 600, 500)]
            ),
            json!({"avg_net_burn_cents": -300, "runway_months": null,
                   "zero_cash_date": null, "profitable": true})
        );
        // A burn of exactly 0 is profitable too (nothing runs out).
        let zero = runway(-5000, "2026-03-31", &[("2026-03", 500, 500)]);
        assert_eq!(zero["profitable"], true);
    }

    #[test]
    fn cash_runway_without_cash_has_run_out_on_as_of() {
        // Negative cash, burn 100: runway 0, days floor(0 × 30.4375) = 0.
        assert_eq!(
            runway(-1, "2026-03-31", &[("2026-03", 0, 100)]),
            json!({"avg_net_burn_cents": 100, "runway_months": 0.0,
                   "zero_cash_date": "2026-03-31", "profitable": false})
        );
    }

    #[test]
    fn cash_runway_gives_no_date_past_the_calendar() {
        // runway 1: 9999-12-01 + floor(30.4375) = 30 days = 9999-12-31, the
        // last day there is.
        let last = runway(100, "9999-12-01", &[("2026-03", 0, 100)]);
        assert_eq!(last["zero_cash_date"], "9999-12-31");
        // runway 2: 60 days, past 9999-12-31: null.
        let past = runway(200, "9999-12-01", &[("2026-03", 0, 100)]);
        assert_eq!(past["zero_cash_date"], Value::Null);
        // 10^15 cents at 1 cent a month: 10^15 months, billions of years.
        let r = runway(1_000_000_000_000_000, "2026-01-01", &[("2025-12", 0, 1)]);
        assert_eq!(r["zero_cash_date"], Value::Null);
        assert_eq!(r["runway_months"], json!(1e15));
    }

    #[test]
    fn cash_runway_fails_with_no_month_to_average() {
        assert_eq!(
            failure("cash_runway", input(100, "2026-03-31", &[])),
            Failure("months: no month to average".to_owned())
        );
    }

    #[test]
    fn cash_runway_names_the_field_of_input_that_does_not_parse() {
        let none = input(1, "2026-03-31", &[]);
        let with = |key: &str, value: Value| testing::with(&none, key, value);
        let cases = [
            (without(&none, "cash_cents"), "input.cash_cents"),
            (with("cash_cents", json!("100")), "input.cash_cents"),
            (with("cash_cents", json!(1.5)), "input.cash_cents"),
            (
                with("cash_cents", json!(-1_000_000_000_000_001_i64)),
                "input.cash_cents",
            ),
            (with("as_of", json!("31/03/2026")), "input.as_of"),
            (without(&none, "months"), "input.months"),
            (
                input(1, "2026-03-31", &[("2026-01", 0, 1), ("2026-01", 5, 5)]),
                "input.months[1].month",
            ),
            (
                input(1, "2026-03-31", &[("2026-01", 0, 1), ("2026-13", 5, 5)]),
                "input.months[1].month",
            ),
            (
                input(1, "2026-03-31", &[("2026-02", -5, 5)]),
                "input.months[0].revenue_cents",
            ),
            (
                with("months", json!([{"month": "2026-02", "revenue_cents": 5}])),
                "input.months[0].expenses_cents",
            ),
            // A month after as_of (its first day, 2026-04-01, is after
            // 2026-03-31) is a forecast, not a burn: refused.
            (
                input(1, "2026-03-31", &[("2026-03", 0, 1), ("2026-04", 0, 1)]),
                "input.months[1].month",
            ),
            (
                input(1, "2026-03-31", &[("2027-01", 0, 1)]),
                "input.months[0].month",
            ),
        ];
        invalid_fields("cash_runway", cases);
        // The month holding as_of is allowed, even on its first day:
        // 2026-04 begins 2026-04-01, not after it. Burn 1; cash 1: runway 1.
        let r = runway(1, "2026-04-01", &[("2026-04", 0, 1)]);
        assert_eq!(r["runway_months"], 1.0);
    }

    proptest! {
        #[test]
        fn cash_runway_never_overflows_and_the_runway_is_not_negative(
            cash in -MAX_CENTS..=MAX_CENTS,
            months in months_strategy(),
        ) {
            let input = json!({"cash_cents": cash, "as_of": "2026-01-31",
                               "months": months_json(&months)});
            prop_assert!(testing::refuses_or_answers(AGENT, "cash_runway", &input));
            if let Ok(out) = action("cash_runway").run(&input) {
                let r = out.result;
                let profitable = r["profitable"].as_bool().expect("a bool");
                prop_assert_eq!(profitable, r["avg_net_burn_cents"].as_i64().expect("cents") <= 0
                    || r["runway_months"].is_null());
                if !profitable {
                    prop_assert!(r["runway_months"].as_f64().expect("a runway") >= 0.0);
                }
            }
        }
    }
}
