//! `growth_forecast`: the least-squares trend of monthly revenue, the
//! compound annual growth rate and a forecast along the trend.
//!
//! # The CAGR, a root
//!
//! `cagr` = (last / first)^(12 / span) − 1, where `span` is the number of
//! months from the first to the latest month. A root is not a quotient, so
//! it is never computed: its 4-place rounding is *decided*. With `g =
//! gcd(span, 12)`, `s = span / g`, `e = 12 / g` and `r = last / first`, the
//! growth factor `R = r^(e/s)` is above `1 + c` exactly when `r^e > (1 +
//! c)^s` (both sides positive, `x ↦ x^s` increasing). The rounded CAGR is
//! found by bisection over the midpoints `c = (k + ½) / 10^4` between
//! 4-place candidates (`k` from −10^4 to 10^19): it is the `k` whose two
//! midpoints bracket the CAGR, and on a midpoint exactly the even
//! neighbour (half-even). Each comparison is made on whole numbers,
//! `last^e × 20000^s` against `(20000 + 2k + 1)^s × first^e` (fractions
//! reduced first):
//!
//! - exactly, in `u128`, when both sides fit (e.g. every span of 12 months
//!   between revenues up to 10^15, and 24 months with moderate figures);
//! - otherwise in 28-significant-digit decimal arithmetic: a
//!   `rust_decimal` mantissa in [1, 10) with a separate power-of-ten
//!   exponent, so nothing overflows or underflows. Each product rounds the
//!   mantissa at its 27th or 28th decimal place (a relative error of at
//!   most about 1.5 × 10^-27), and a power by squaring multiplies that by
//!   at most about twice its exponent, so each side is within a relative
//!   10^-21 of its exact value for every span a `YYYY-MM` month allows (at
//!   most 119,999 months).
//!
//! **Limit:** when the two sides of a comparison made in decimals differ
//! by less than a relative 2 × 10^-21 (the growth factor within about 2 ×
//! 10^-21 / s of a midpoint `1 + x.xxxx5`), they may be ordered wrongly and
//! the CAGR rounded to its neighbour 0.0001 away; an exact tie decided in
//! decimals may miss half-even. Ties and near-ties of whole numbers small
//! enough for `u128` are always decided exactly.
//!
//! A CAGR past 10^15 (only possible over less than 12 months) is refused
//! at submission naming `months`, like any figure past the limit.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::signed_cents;
use crate::exact::{self, Figure};
use crate::fields::{self, Cents, Count, Month};
use crate::{BusinessAction, Failure, InvalidInput, Problem};

/// The longest forecast, in months (ten years).
pub const MAX_HORIZON_MONTHS: u64 = 120;

/// `growth_forecast`: the least-squares line of monthly revenue on the
/// month, its slope, the CAGR from the first to the latest month, and the
/// line extended `horizon_months` past the latest month.
///
/// Months are unique and at least two (fewer fails the job, naming
/// `months`). The slope is exact ([`exact::slope`]) and shown rounded to
/// the cent; each forecast month is the line's exact value rounded
/// half-even to the cent and never below 0 (a falling line stops at 0).
/// `cagr` is decided to 4 places as [`crate::planning::growth`] says, null when the
/// first or the latest revenue is 0. A forecast past 10^15 cents is
/// refused at submission, naming `horizon_months` (or `months` when even
/// the first forecast month passes); so is a forecast month past 9999-12
/// (`horizon_months`) and a CAGR past 10^15 (`months`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrowthForecast {
    months: Vec<MonthRevenue>,
    horizon_months: Count,
}

/// A month's revenue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthRevenue {
    month: Month,
    revenue_cents: Cents,
}

/// A forecast month.
#[derive(Debug, Serialize)]
struct Projected {
    month: Month,
    revenue_cents: i64,
}

/// `growth_forecast`'s result.
#[derive(Debug, Serialize)]
struct GrowthForecastResult {
    slope_cents_per_month: i64,
    cagr: Option<Figure>,
    forecast: Vec<Projected>,
}

/// The trend could not be worked out exactly (not expected for any input
/// the fields accept).
fn trend_too_large() -> Problem {
    Problem::Invalid(InvalidInput::new(
        "months",
        "the trend of these months does not fit exact arithmetic",
    ))
}

impl BusinessAction for GrowthForecast {
    /// Refuses a month given twice and a horizon outside 1 to
    /// [`MAX_HORIZON_MONTHS`].
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_months(self.months.iter().map(|m| m.month))?;
        let horizon = self.horizon_months.get();
        if !(1..=MAX_HORIZON_MONTHS).contains(&horizon) {
            return Err(InvalidInput::new(
                "horizon_months",
                format!("must be 1 to {MAX_HORIZON_MONTHS}, not {horizon}"),
            ));
        }
        Ok(())
    }

    /// The trend, the CAGR and the forecast. A forecast past 10^15 cents
    /// or 9999-12 and a CAGR past 10^15 are refused; fewer than two months
    /// fail the job.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut months: Vec<&MonthRevenue> = self.months.iter().collect();
        months.sort_by_key(|m| m.month);
        let (Some(first), Some(latest)) = (months.first(), months.last()) else {
            return Err(Problem::Fails(Failure(
                "months: at least two months are needed for a trend, none given".to_owned(),
            )));
        };
        if months.len() < 2 {
            return Err(Problem::Fails(Failure(
                "months: at least two months are needed for a trend, one given".to_owned(),
            )));
        }
        let origin = latest.month.index();
        let points: Vec<(i128, i128)> = months
            .iter()
            .map(|m| {
                (
                    i128::from(m.month.index() - origin),
                    i128::from(m.revenue_cents.get()),
                )
            })
            .collect();
        let slope = exact::slope(&points).ok_or_else(trend_too_large)?;
        // A least-squares slope is a weighted average of the pairwise slopes,
        // each at most 10^15 cents a month: it always fits.
        let slope_cents_per_month = signed_cents(slope).ok_or_else(trend_too_large)?;
        // With offsets from the latest month (|x| < 120,000), revenues ≤ 10^15
        // and at most 120,000 points, every sum stays below about 10^36.
        let line = exact::least_squares(&points).ok_or_else(trend_too_large)?;

        let mut forecast = Vec::new();
        for k in 1..=self.horizon_months.get() {
            let ahead = i64::try_from(k).map_err(|_| trend_too_large())?;
            let month = latest.month.plus(ahead).ok_or_else(|| {
                Problem::Invalid(InvalidInput::new(
                    "horizon_months",
                    format!(
                        "the forecast would run past 9999-12 ({} + {k} months)",
                        latest.month
                    ),
                ))
            })?;
            let value = line.at(i128::from(ahead)).ok_or_else(trend_too_large)?;
            // Revenue is never negative: a falling line stops at 0.
            let revenue_cents = value
                .round_cents()
                .map(|c| c.max(0))
                .and_then(|c| fields::bounded(i128::from(c)))
                .ok_or_else(|| {
                    let field = if k == 1 { "months" } else { "horizon_months" };
                    Problem::Invalid(fields::too_large(
                        field,
                        &format!("the forecast for {month}"),
                    ))
                })?;
            forecast.push(Projected {
                month,
                revenue_cents,
            });
        }

        let span = latest.month.index() - first.month.index();
        let cagr = cagr(
            first.revenue_cents.get().unsigned_abs(),
            latest.revenue_cents.get().unsigned_abs(),
            span.unsigned_abs(),
        )
        .map_err(Problem::Invalid)?
        .map(Figure);
        Ok(GrowthForecastResult {
            slope_cents_per_month,
            cagr,
            forecast,
        })
    }
}

// -- the CAGR ---------------------------------------------------------------

/// The largest CAGR stated (10^15, like every other figure).
const MAX_CAGR: u128 = 1_000_000_000_000_000;

/// 4-place steps: a CAGR of `k / 10^4`.
const STEPS: i128 = 10_000;

/// `(a, b)` divided by their greatest common divisor.
fn reduced(a: u128, b: u128) -> (u128, u128) {
    match exact::gcd(a, b) {
        0 | 1 => (a, b),
        g => (a / g, b / g),
    }
}

/// A positive number as a 28-significant-digit decimal mantissa in
/// [1, 10) and a power of ten: products never overflow or underflow, and
/// each rounds the mantissa at its 28th decimal place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Scientific {
    // Field order is the comparison order: the exponent first, then the
    // mantissa (both normalised, so this orders the values).
    exponent: i64,
    mantissa: Decimal,
}

impl Scientific {
    const ONE: Scientific = Scientific {
        exponent: 0,
        mantissa: Decimal::ONE,
    };

    /// `n ≥ 1` exactly, if it has at most 28 digits.
    fn of(n: u128) -> Option<Scientific> {
        let digits = n.checked_ilog10()?;
        let mantissa = Decimal::try_from_i128_with_scale(i128::try_from(n).ok()?, digits).ok()?;
        Some(Scientific {
            exponent: i64::from(digits),
            mantissa,
        })
    }

    fn times(self, other: Scientific) -> Option<Scientific> {
        let mut mantissa = self.mantissa.checked_mul(other.mantissa)?;
        let mut exponent = self.exponent.checked_add(other.exponent)?;
        while mantissa >= Decimal::TEN {
            mantissa = mantissa.checked_div(Decimal::TEN)?;
            exponent = exponent.checked_add(1)?;
        }
        Some(Scientific { exponent, mantissa })
    }

    /// `self^n`, by squaring.
    fn pow(self, mut n: u32) -> Option<Scientific> {
        let (mut base, mut acc) = (self, Scientific::ONE);
        while n > 0 {
            if n & 1 == 1 {
                acc = acc.times(base)?;
            }
            n >>= 1;
            if n > 0 {
                base = base.times(base)?;
            }
        }
        Some(acc)
    }
}

/// `a^i × b^j` exactly, if it fits `u128`.
fn exact_product(a: u128, i: u32, b: u128, j: u32) -> Option<u128> {
    a.checked_pow(i)?.checked_mul(b.checked_pow(j)?)
}

/// `a^i × b^j` in 28-digit decimals.
fn decimal_product(a: u128, i: u32, b: u128, j: u32) -> Option<Scientific> {
    Scientific::of(a)?.pow(i)?.times(Scientific::of(b)?.pow(j)?)
}

/// The growth factor `(last/first)^(e/s)` against `p/q`, as
/// `last^e × q^s` against `p^s × first^e`: exactly when both fit `u128`,
/// else in 28-digit decimals (see the module doc). All four are ≥ 1.
fn growth_versus(last: u128, first: u128, e: u32, p: u128, q: u128, s: u32) -> Option<Ordering> {
    let (p, q) = reduced(p, q);
    if let (Some(left), Some(right)) = (exact_product(last, e, q, s), exact_product(p, s, first, e))
    {
        return Some(left.cmp(&right));
    }
    Some(decimal_product(last, e, q, s)?.cmp(&decimal_product(p, s, first, e)?))
}

/// The CAGR `(last/first)^(12/span) − 1` rounded half-even to 4 places, as
/// the module doc says; `None` when either revenue is 0; refused past
/// [`MAX_CAGR`].
fn cagr(first: u64, last: u64, span: u64) -> Result<Option<Decimal>, InvalidInput> {
    if first == 0 || last == 0 {
        return Ok(None);
    }
    let undecided = || InvalidInput::new("months", "the CAGR of these months could not be decided");
    let g = exact::gcd(u128::from(span), 12);
    let s = u32::try_from(u128::from(span) / g.max(1)).map_err(|_| undecided())?;
    let e = u32::try_from(12 / g.max(1)).map_err(|_| undecided())?;
    let (last, first) = reduced(u128::from(last), u128::from(first));
    let versus = |p: u128, q: u128| growth_versus(last, first, e, p, q, s).ok_or_else(undecided);

    if versus(MAX_CAGR + 1, 1)? == Ordering::Greater {
        return Err(InvalidInput::new(
            "months",
            format!("the CAGR over {span} months passes the limit of {MAX_CAGR}"),
        ));
    }
    // The midpoint above candidate k: 1 + (k + ½)/10^4 = (20000 + 2k + 1) / 20000,
    // positive for every k ≥ −10^4.
    let midpoint = |k: i128| -> Result<u128, InvalidInput> {
        u128::try_from(2 * STEPS + 2 * k + 1).map_err(|_| undecided())
    };
    let q = u128::try_from(2 * STEPS).map_err(|_| undecided())?;
    // Smallest k with growth ≤ the midpoint above k. The CAGR is above −1,
    // the midpoint below k = −10^4, so k ≥ −10^4; and at most 10^15, below
    // the midpoint above k = 10^19.
    let (mut lo, mut hi) = (
        -STEPS,
        i128::try_from(MAX_CAGR).map_err(|_| undecided())? * STEPS,
    );
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if versus(midpoint(mid)?, q)? == Ordering::Greater {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    // On the midpoint itself, half-even: the even one of k and k + 1.
    let k = if lo % 2 != 0 && versus(midpoint(lo)?, q)? == Ordering::Equal {
        lo + 1
    } else {
        lo
    };
    Decimal::try_from_i128_with_scale(k, 4)
        .map(Some)
        .map_err(|_| undecided())
}

#[cfg(test)]
mod tests {
    use super::cagr;
    use crate::planning::test_support::*;

    fn revenue(month: &str, cents: i64) -> Value {
        json!({"month": month, "revenue_cents": cents})
    }

    /// `growth_forecast`'s input: a revenue a month, forecast
    /// `horizon_months` ahead.
    fn input(revenues: &[(&str, i64)], horizon_months: u64) -> Value {
        let months: Vec<Value> = revenues
            .iter()
            .map(|&(m, cents)| revenue(m, cents))
            .collect();
        json!({"months": months, "horizon_months": horizon_months})
    }

    /// `growth_forecast`'s result for [`input`]'s input.
    fn forecast(revenues: &[(&str, i64)], horizon_months: u64) -> Value {
        result("growth_forecast", input(revenues, horizon_months))
    }

    #[test]
    fn growth_forecast_extends_the_least_squares_line() {
        // 100, 200, 300: the line y = 100 per month; forecast 400, 500.
        // CAGR: (300/100)^(12/2) − 1 = 3^6 − 1 = 728.
        assert_eq!(
            forecast(&[("2026-03", 300), ("2026-01", 100), ("2026-02", 200)], 2),
            json!({"slope_cents_per_month": 100, "cagr": 728.0, "forecast": [
                {"month": "2026-04", "revenue_cents": 400},
                {"month": "2026-05", "revenue_cents": 500},
            ]})
        );
    }

    #[test]
    fn growth_forecast_cagr_of_ten_percent_over_two_years_is_exact() {
        // (121,000 / 100,000)^(12/24) − 1 = sqrt(1.21) − 1 = 1.1 − 1 = 0.1,
        // decided exactly: 1.21 against 1.10005² and 1.09995².
        // Two points: the line goes through both; slope = 21,000 / 24 = 875;
        // 2026-02 = 121,000 + 875 = 121,875.
        assert_eq!(
            forecast(&[("2024-01", 100_000), ("2026-01", 121_000)], 1),
            json!({"slope_cents_per_month": 875, "cagr": 0.1, "forecast": [
                {"month": "2026-02", "revenue_cents": 121_875},
            ]})
        );
    }

    #[test]
    fn growth_forecast_rounds_half_even_and_never_forecasts_below_zero() {
        // 0 in 2026-01, 5 in 2026-03: slope 5/2 = 2.5 -> 2 (half-even);
        // 2026-04 = 5 + 2.5 = 7.5 -> 8; 2026-05 = 10; 2026-06 = 12.5 -> 12.
        // The first revenue is 0: no CAGR.
        assert_eq!(
            forecast(&[("2026-01", 0), ("2026-03", 5)], 3),
            json!({"slope_cents_per_month": 2, "cagr": null, "forecast": [
                {"month": "2026-04", "revenue_cents": 8},
                {"month": "2026-05", "revenue_cents": 10},
                {"month": "2026-06", "revenue_cents": 12},
            ]})
        );
        // 1000, 500: slope −500; 2026-03 = 0, 2026-04 = −500 -> 0.
        // CAGR: (500/1000)^12 − 1 = 1/4096 − 1 = −0.999755859375 -> −0.9998.
        assert_eq!(
            forecast(&[("2026-01", 1000), ("2026-02", 500)], 2),
            json!({"slope_cents_per_month": -500, "cagr": -0.9998, "forecast": [
                {"month": "2026-03", "revenue_cents": 0},
                {"month": "2026-04", "revenue_cents": 0},
            ]})
        );
    }

    #[test]
    fn growth_forecast_line_is_exact_for_a_repeating_fraction() {
        // 0, 1, 1 at x = −2, −1, 0 (offsets from the latest month):
        // n = 3, Σx = −3, Σy = 2, Σxy = −1, Σx² = 5; D = 3·5 − 9 = 6;
        // slope = (3·(−1) − (−3)·2) / 6 = 3/6 = 0.5 -> 0 (half-even);
        // intercept = (2·5 − (−3)·(−1)) / 6 = 7/6.
        // x=1: 10/6 = 1.67 -> 2; x=2: 13/6 = 2.17 -> 2; x=3: 16/6 = 2.67 -> 3.
        assert_eq!(
            forecast(&[("2026-01", 0), ("2026-02", 1), ("2026-03", 1)], 3),
            json!({"slope_cents_per_month": 0, "cagr": null, "forecast": [
                {"month": "2026-04", "revenue_cents": 2},
                {"month": "2026-05", "revenue_cents": 2},
                {"month": "2026-06", "revenue_cents": 3},
            ]})
        );
    }

    fn decided(first: u64, last: u64, span: u64) -> Option<String> {
        cagr(first, last, span)
            .expect("within the limit")
            .map(|d| d.to_string())
    }

    /// Asserts, for each `(first, last, span, cagr)`, that the CAGR from
    /// `first` to `last` over `span` months is decided as `cagr`.
    fn decides(cases: &[(u64, u64, u64, Option<&str>)]) {
        for &(first, last, span, cagr) in cases {
            assert_eq!(
                decided(first, last, span).as_deref(),
                cagr,
                "{first} to {last} over {span}"
            );
        }
    }

    #[test]
    fn cagr_is_decided_to_four_places_half_even() {
        decides(&[
            // (200/100)^(12/12) − 1 = 1.
            (100, 200, 12, Some("1.0000")),
            // 2^(1/2) − 1 = 0.41421356.. -> 0.4142.
            (100, 200, 24, Some("0.4142")),
            // 2^(1/3) − 1 = 0.25992104.. -> 0.2599.
            (100, 200, 36, Some("0.2599")),
            // 2^(12/6) − 1 = 3; 2^12 − 1 = 4095.
            (100, 200, 6, Some("3.0000")),
            (100, 200, 1, Some("4095.0000")),
            // (7/3)^(12/5) − 1 = 6.64089593.. -> 6.6409; (3/7)^(12/7) − 1 =
            // −0.76601788.. -> −0.7660.
            (3, 7, 5, Some("6.6409")),
            (7, 3, 7, Some("-0.7660")),
            // Unchanged: 0.
            (5, 5, 7, Some("0.0000")),
            // Exact midpoints: 100,005/100,000 − 1 = 0.00005 -> 0.0000 (even);
            // 0.00015 -> 0.0002 (even); −0.00005 -> 0.0000; −0.00015 -> −0.0002.
            (100_000, 100_005, 12, Some("0.0000")),
            (100_000, 100_015, 12, Some("0.0002")),
            (100_000, 99_995, 12, Some("0.0000")),
            (100_000, 99_985, 12, Some("-0.0002")),
            // A zero at either end: no CAGR.
            (0, 5, 12, None),
            (5, 0, 12, None),
        ]);
    }

    #[test]
    fn cagr_beyond_u128_is_decided_in_decimals() {
        decides(&[
            // (10^15)^(12/120) − 1 = 10^1.5 − 1 = 30.62277660.. -> 30.6228
            // (10^15 × 20000^10 passes u128).
            (1, 1_000_000_000_000_000, 120, Some("30.6228")),
            // (987654321/123456789)^(12/30) − 1 = 1.29739671.. -> 1.2974.
            (123_456_789, 987_654_321, 30, Some("1.2974")),
            // (999,999,999/999,999,998)^12 − 1 = 1.2000000090.. × 10^-8 -> 0.
            (999_999_998_000_000, 999_999_999_000_000, 1, Some("0.0000")),
            // The longest span a YYYY-MM allows: 0000-01 to 9999-12.
            // (10^15)^(12/119,999) − 1 = 10^(180/119,999) − 1 = 0.003459.. -> 0.0035.
            (1, 1_000_000_000_000_000, 119_999, Some("0.0035")),
            // And down: (1/10^15)^(12/119,999) − 1 = −0.003447.. -> −0.0034.
            (1_000_000_000_000_000, 1, 119_999, Some("-0.0034")),
        ]);
    }

    #[test]
    fn growth_forecast_fails_with_fewer_than_two_months() {
        for months in [&[][..], &[("2026-01", 5)]] {
            assert!(
                failure("growth_forecast", input(months, 3))
                    .0
                    .starts_with("months: "),
                "{months:?}"
            );
        }
    }

    #[test]
    fn growth_forecast_refuses_figures_past_the_limit() {
        // 999,999,998,000,000 then 999,999,999,000,000: slope 10^6; the
        // first forecast is exactly 10^15, the second 10^15 + 10^6.
        let months = [
            ("2026-01", 999_999_998_000_000),
            ("2026-02", 999_999_999_000_000),
        ];
        let r = forecast(&months, 1);
        assert_eq!(r["forecast"][0]["revenue_cents"], 1_000_000_000_000_000_i64);
        invalid_fields(
            "growth_forecast",
            [
                (input(&months, 2), "input.horizon_months"),
                // 0 then 10^15: the very first forecast is 2 × 10^15.
                (
                    input(&[("2026-01", 0), ("2026-02", 1_000_000_000_000_000)], 1),
                    "input.months",
                ),
                // 1 cent then 1000 cents a month later: CAGR 1000^12 − 1 = 10^36 − 1.
                (
                    input(&[("2026-01", 1), ("2026-02", 1000)], 1),
                    "input.months",
                ),
                // Past 9999-12.
                (
                    input(&[("9999-10", 1), ("9999-11", 1)], 2),
                    "input.horizon_months",
                ),
            ],
        );
    }

    #[test]
    fn growth_forecast_names_the_field_of_input_that_does_not_parse() {
        let two = json!([revenue("2026-01", 1), revenue("2026-02", 2)]);
        let cases = [
            (json!({"months": two}), "input.horizon_months"),
            (json!({"horizon_months": 1}), "input.months"),
            (
                json!({"months": two, "horizon_months": 0}),
                "input.horizon_months",
            ),
            (
                json!({"months": two, "horizon_months": 121}),
                "input.horizon_months",
            ),
            (
                json!({"months": two, "horizon_months": 1.5}),
                "input.horizon_months",
            ),
            (
                json!({"months": two, "horizon_months": "3"}),
                "input.horizon_months",
            ),
            (
                json!({"months": [revenue("2026-01", 1), revenue("2026-01", 2)], "horizon_months": 1}),
                "input.months[1].month",
            ),
            (
                json!({"months": [revenue("2026-01", 1), {"month": "2026-02"}], "horizon_months": 1}),
                "input.months[1].revenue_cents",
            ),
            (
                json!({"months": [revenue("2026-01", 1), revenue("2026-02", -2)], "horizon_months": 1}),
                "input.months[1].revenue_cents",
            ),
        ];
        invalid_fields("growth_forecast", cases);
        assert_eq!(
            result(
                "growth_forecast",
                json!({"months": two, "horizon_months": 120})
            )["forecast"]
                .as_array()
                .map(Vec::len),
            Some(120)
        );
    }

    proptest! {
        #[test]
        fn growth_forecast_never_overflows_and_forecasts_the_horizon(
            months in proptest::collection::vec((0..1200_i64, 0..=MAX_CENTS), 0..8),
            horizon in 1..=120_u64,
        ) {
            let list: Vec<Value> = months.iter().map(|&(m, r)| {
                revenue(&format!("{:04}-{:02}", 1990 + m / 12, m % 12 + 1), r)
            }).collect();
            let input = json!({"months": list, "horizon_months": horizon});
            prop_assert!(testing::refuses_or_answers(AGENT, "growth_forecast", &input));
            if let Ok(out) = action("growth_forecast").run(&input) {
                let forecast = out.result["forecast"].as_array().expect("a list").clone();
                prop_assert_eq!(forecast.len() as u64, horizon);
                for f in &forecast {
                    let cents = f["revenue_cents"].as_i64().expect("cents");
                    prop_assert!((0..=MAX_CENTS).contains(&cents));
                }
            }
        }

        #[test]
        fn cagr_has_the_sign_of_the_change(
            first in 1..=1_000_000_000_000_000_u64,
            last in 1..=1_000_000_000_000_000_u64,
            span in 12..=600_u64,
        ) {
            // Over a year or more the CAGR is at most last/first − 1 < 10^15.
            let c = cagr(first, last, span).expect("within the limit").expect("a CAGR");
            match last.cmp(&first) {
                std::cmp::Ordering::Greater => prop_assert!(c >= rust_decimal::Decimal::ZERO),
                std::cmp::Ordering::Less => prop_assert!(c <= rust_decimal::Decimal::ZERO),
                std::cmp::Ordering::Equal => prop_assert!(c.is_zero()),
            }
            prop_assert!(c >= rust_decimal::Decimal::NEGATIVE_ONE);
        }
    }
}
