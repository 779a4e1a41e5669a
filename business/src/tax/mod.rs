//! The tax agent's actions: sales tax nexus and liability, US states.
//!
//! - [`NexusCheck`] (`nexus_check`, complexity 1): per state, the sales
//!   shipped there and whether they, or a physical presence, give nexus
//!   under the economic nexus rule in force on `period_end` (README, "For
//!   tax users").
//! - [`EstimateLiability`] (`estimate_liability`, complexity 1): the tax due
//!   in each nexus state from the rates given, rounded to the cent.
//!
//! States are the 50 states and DC by postal code ([`address::StateCode`]);
//! a sale's state is its structured `state`, or its free-text address read
//! by the contract's rules only ([`address::read`]), and is otherwise
//! unparsed, never guessed. The rules are data, one file ([`thresholds`]):
//! every state and DC, each row with its source, the page it was read at
//! and the date it was checked: see that module's doc.

pub mod address;
pub mod liability;
pub mod nexus;
pub mod thresholds;

pub use liability::EstimateLiability;
pub use nexus::NexusCheck;

use self::address::StateCode;
use crate::InvalidInput;
use crate::fields;

/// The limit error for a sum of sales that passes 10^15 cents.
fn sales_too_large(what: impl std::fmt::Display) -> InvalidInput {
    InvalidInput::new(
        "sales",
        format!("{what} pass the limit of {} cents", fields::MAX_CENTS),
    )
}

/// Refuses a state code that repeats, naming its second occurrence.
fn unique_states<'a>(
    states: impl IntoIterator<Item = &'a StateCode>,
    path: impl Fn(usize) -> String,
) -> Result<(), InvalidInput> {
    fields::unique(states.into_iter().map(|s| s.code()), path, "state")
}

/// What the actions' tests share (each imports it whole): the agent type's
/// helpers, and amounts to try.
#[cfg(test)]
mod test_support {
    crate::testing::agent_helpers!(Tax);

    pub fn sale_amount() -> impl Strategy<Value = u64> {
        prop_oneof![0..=1_000_u64, 0..=1_000_000_000_000_000_u64]
    }
}
