//! The accounting agent's actions: customer records and the books.
//!
//! - [`ResolveEntities`] (`resolve_entities`, complexity 3): customer
//!   records deduplicated by normalised email into entities, with the merge
//!   plan that links every source record to its entity. The action changes
//!   nothing itself: the caller applies the plan.
//! - [`CategorizeTransactions`] (`categorize_transactions`, complexity 1):
//!   each transaction categorised by the first rule whose pattern its
//!   description contains (plain text, case-insensitive), with the count
//!   and signed total per category.
//! - [`DetectAnomalies`] (`detect_anomalies`, complexity 1): amounts far
//!   from their category's median by robust z-score (the mean absolute
//!   deviation when the MAD is 0), and likely duplicate
//!   payments (same amount and counterparty within 24 hours).
//! - [`Reconcile`] (`reconcile`, complexity 1): the most bank entries
//!   matched to ledger entries of equal amount at most 3 days apart (then
//!   more equal references, fewer days apart, the smallest pairs by id),
//!   and the totals and difference of both sides.
//! - [`DraftInvoice`] (`draft_invoice`, complexity 2): an invoice priced
//!   from deposits, the service catalogue, line metadata or a default
//!   price (never an invented one), with tax rounded half-even.
//!
//! Amounts in the books are signed cents (a refund, a payment out), each
//! within ±10^15; a total past that is refused at submission. Medians,
//! z-scores and tax are exact rationals, rounded once where the result
//! shows them.

pub mod anomalies;
pub mod categorize;
pub mod entities;
pub mod invoice;
pub mod reconcile;

pub use anomalies::DetectAnomalies;
pub use categorize::CategorizeTransactions;
pub use entities::{PLUS_TAG_PROVIDERS, ResolveEntities, normalise_email};
pub use invoice::DraftInvoice;
pub use reconcile::Reconcile;

use crate::InvalidInput;
use crate::fields;

/// The limit error for a signed total that passes ±10^15 cents.
fn signed_total_too_large(path: &str, what: &str) -> InvalidInput {
    InvalidInput::new(
        path,
        format!("{what} passes the limit of ±{} cents", fields::MAX_CENTS),
    )
}

/// The error for an exact figure that left `i128` or `Decimal`: not
/// reachable for amounts within ±10^15 cents, refused rather than wrapped.
fn beyond_exact(path: &str) -> InvalidInput {
    InvalidInput::new(path, "a figure passes the range of exact arithmetic")
}

/// Text compared as a person would: surrounding whitespace dropped and
/// lower-cased (Unicode lower case, not full case folding).
fn folded(text: &str) -> String {
    text.trim().to_lowercase()
}

/// What the actions' tests share (each imports it whole): the agent type's
/// helpers, and amounts to try.
#[cfg(test)]
mod test_support {
    crate::testing::agent_helpers!(Accounting);

    /// Cents in ±10^15: mostly small (so amounts coincide), sometimes huge.
    pub fn signed_cents() -> impl Strategy<Value = i64> {
        prop_oneof![
            3 => -5_i64..5,
            1 => -1_000_000_000_000_000_i64..=1_000_000_000_000_000,
        ]
    }
}
