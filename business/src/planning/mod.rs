//! The planning agent's actions: runway, forecasts, hiring.
//!
//! - [`CashRunway`] (`cash_runway`, complexity 1): the average net burn of
//!   the latest three months, the months of cash it leaves and the date it
//!   runs out.
//! - [`GrowthForecast`] (`growth_forecast`, complexity 1): the
//!   least-squares trend of monthly revenue, the compound annual growth
//!   rate and a forecast along the trend.
//! - [`HiringPlan`] (`hiring_plan`, complexity 2): which hires, in priority
//!   order, the runway can carry while staying at or above a target.
//!
//! Money is whole cents; the burn, the runway and the trend are exact
//! rationals ([`Rational`]) rounded half-even only where shown: money to
//! the cent, months and rates to 4 places. The compound annual growth
//! rate, a root, is decided rather than computed ([`growth`] says how).

pub mod growth;
pub mod hiring;
pub mod runway;

pub use growth::{GrowthForecast, MAX_HORIZON_MONTHS};
pub use hiring::HiringPlan;
pub use runway::CashRunway;

use std::cmp::Ordering;

use serde::Deserialize;

use crate::Failure;
use crate::exact::{Figure, Rational};
use crate::fields::{self, Cents, Month};

/// A month's revenue and expenses.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthFigures {
    month: Month,
    revenue_cents: Cents,
    expenses_cents: Cents,
}

/// How many of the latest months the burn averages.
pub const BURN_MONTHS: usize = 3;

/// The average net burn (expenses − revenue) of the latest
/// [`BURN_MONTHS`] months by `month` (fewer if fewer are given), exact.
/// No month fails the job: there is nothing to average.
fn average_net_burn(months: &[MonthFigures]) -> Result<Rational, Failure> {
    let mut latest: Vec<&MonthFigures> = months.iter().collect();
    latest.sort_by_key(|m| std::cmp::Reverse(m.month));
    latest.truncate(BURN_MONTHS);
    if latest.is_empty() {
        return Err(Failure("months: no month to average".to_owned()));
    }
    // Each net is within ±10^15, so three of them sum far inside i128.
    let total: i128 = latest
        .iter()
        .map(|m| i128::from(m.expenses_cents.get()) - i128::from(m.revenue_cents.get()))
        .sum();
    let count = i128::try_from(latest.len()).unwrap_or(1);
    Rational::new(total, count).ok_or_else(|| Failure("months: no month to average".to_owned()))
}

/// The months `cash` lasts at a net burn of `burn` a month, exact: `None`
/// when the burn is not positive (the company is profitable: no end), 0
/// when there is no cash.
fn runway(cash: i64, burn: Rational) -> Result<Option<Rational>, Failure> {
    if burn.signum() != Ordering::Greater {
        return Ok(None);
    }
    if cash <= 0 {
        return Ok(Some(Rational::integer(0)));
    }
    // cash ≤ 10^15 over a burn whose terms are a few times 10^15: fits.
    Rational::integer(i128::from(cash))
        .checked_div(burn)
        .map(Some)
        .ok_or_else(|| Failure(format!("the runway of {cash} cents could not be computed")))
}

/// A figure rounded to 4 places, half-even.
fn four_places(value: Rational, what: &str) -> Result<Figure, Failure> {
    value
        .round(4)
        .map(Figure)
        .ok_or_else(|| Failure(format!("the {what} could not be rounded")))
}

/// A cent amount rounded half-even, if it is within ±10^15.
fn signed_cents(value: Rational) -> Option<i64> {
    value
        .round_cents()
        .filter(|c| c.unsigned_abs() <= fields::MAX_CENTS.unsigned_abs())
}

/// What the actions' tests share (each imports it whole): the agent type's
/// helpers, and months to try.
#[cfg(test)]
mod test_support {
    crate::testing::agent_helpers!(Planning);

    /// A month whose net burn is `expenses − revenue`.
    pub fn month(month: &str, revenue: i64, expenses: i64) -> Value {
        json!({"month": month, "revenue_cents": revenue, "expenses_cents": expenses})
    }

    pub fn months_strategy() -> impl Strategy<Value = Vec<(i64, i64, i64)>> {
        // (month offset, revenue, expenses), amounts up to 10^15.
        proptest::collection::vec((0..240_i64, 0..=MAX_CENTS, 0..=MAX_CENTS), 0..6)
    }

    pub fn months_json(months: &[(i64, i64, i64)]) -> Vec<Value> {
        months
            .iter()
            .map(|&(m, r, e)| {
                let label = format!("{:04}-{:02}", 2000 + m / 12, m % 12 + 1);
                month(&label, r, e)
            })
            .collect()
    }
}
