//! The marketing agent's actions: what campaigns return and what customers
//! cost.
//!
//! - [`CampaignRoi`] (`campaign_roi`, complexity 1): each campaign's return
//!   on spend and cost per new customer, the same for all of them together,
//!   and the best and worst campaign by return.
//! - [`CacTrend`] (`cac_trend`, complexity 1): the cost of acquiring a
//!   customer month by month, and its least-squares trend.
//!
//! Ratios are exact until shown: a return on spend is shown rounded
//! half-even to 4 places, a cost per customer to the cent. A ratio whose
//! divisor is 0 (no spend, no new customer) is `null`, never a division by
//! zero; comparisons use the exact ratios, not the rounded ones.

pub mod cac;
pub mod roi;

pub use cac::CacTrend;
pub use roi::CampaignRoi;

use crate::InvalidInput;
use crate::exact::Rational;

/// `spend / customers` in cents, rounded half-even to the cent; `None` when
/// there is no customer. `Err` only if the figure does not fit `i64`, which
/// a spend within 10^15 cents never does.
fn cac_cents(spend: i128, customers: i128, path: &str) -> Result<Option<i64>, InvalidInput> {
    match Rational::new(spend, customers) {
        None => Ok(None),
        Some(cac) => cac
            .round_cents()
            .map(Some)
            .ok_or_else(|| InvalidInput::new(path, "the cost per customer is out of range")),
    }
}

/// What the actions' tests share (each imports it whole): the agent type's
/// helpers.
#[cfg(test)]
mod test_support {
    crate::testing::agent_helpers!(Marketing);
}
