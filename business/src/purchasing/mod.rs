//! The purchasing agent's actions: vendors and purchase orders.
//!
//! - [`CompareVendors`] (`compare_vendors`, complexity 1): the cheapest
//!   eligible quote per needed sku against the current vendor's, and what
//!   switching would save.
//! - [`DraftPurchaseOrder`] (`draft_purchase_order`, complexity 2): a
//!   purchase order priced from its lines or from the vendor's quotes.
//! - [`SubmitPurchaseOrder`] (`submit_purchase_order`, complexity 4): a
//!   priced purchase order sent to the vendor through the outbound queue.
//!
//! A quote is *eligible* for a quantity of a sku when it is for that sku and
//! its `min_quantity` is at most the quantity. Money is whole cents; every
//! amount and total is at most 10^15 cents, refused at submission otherwise.

pub mod compare;
pub mod draft;
pub mod submit;

pub use compare::CompareVendors;
pub use draft::DraftPurchaseOrder;
pub use submit::{MAX_PO_NUMBER_CHARS, SubmitPurchaseOrder};

use serde::Deserialize;

use crate::fields::{Cents, Count, Quantity, Text};

/// A vendor's price for a sku from a minimum quantity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quote {
    vendor: Text,
    sku: Text,
    unit_price_cents: Cents,
    min_quantity: Count,
}

/// The lowest eligible quote for `quantity` of `sku`, from `vendor` only
/// when one is given; ties on price go to the vendor first in string order.
fn lowest<'a>(
    quotes: &'a [Quote],
    sku: &str,
    quantity: Quantity,
    vendor: Option<&str>,
) -> Option<&'a Quote> {
    quotes
        .iter()
        .filter(|q| q.sku.as_str() == sku && q.min_quantity.get() <= quantity.get())
        .filter(|q| vendor.is_none_or(|v| q.vendor.as_str() == v))
        .min_by(|a, b| {
            (a.unit_price_cents, a.vendor.as_str()).cmp(&(b.unit_price_cents, b.vendor.as_str()))
        })
}

/// What the actions' tests share (each imports it whole): the agent type's
/// helpers, and quotes.
#[cfg(test)]
mod test_support {
    crate::testing::agent_helpers!(Purchasing);

    /// A quote of `vendor` for `sku`: `unit_price_cents` from `min_quantity`.
    pub fn quote(vendor: &str, sku: &str, unit_price_cents: u64, min_quantity: u64) -> Value {
        json!({"vendor": vendor, "sku": sku, "unit_price_cents": unit_price_cents,
               "min_quantity": min_quantity})
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;

    proptest! {
        #[test]
        fn every_purchasing_action_refuses_or_answers_but_never_panics(
            input in proptest::arbitrary::any::<(i64, Option<u64>, bool)>().prop_map(|(q, p, dup)| {
                let mut lines = vec![json!({"sku": "A", "quantity": q, "unit_price_cents": p})];
                if dup {
                    lines.push(json!({"sku": "B", "quantity": q, "unit_price_cents": p}));
                }
                json!({"po_number": "PO-1", "vendor": "v", "currency": "USD", "lines": lines,
                       "needs": [{"sku": "A", "quantity": q, "current_vendor": "v"}],
                       "quotes": [{"vendor": "v", "sku": "A", "unit_price_cents": p, "min_quantity": 0},
                                  {"vendor": "w", "sku": "A", "unit_price_cents": 0, "min_quantity": 0}]})
            }),
        ) {
            for name in ["compare_vendors", "draft_purchase_order", "submit_purchase_order"] {
                prop_assert!(testing::refuses_or_answers(AGENT, name, &input));
            }
        }
    }
}
