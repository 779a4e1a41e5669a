//! The business actions, one module per agent type. Each action is a pure
//! function of its input (see [`super::catalogue::BusinessAction`]).
//!
//! - `compare_vendors`, `draft_purchase_order` and `submit_purchase_order`
//!   in [`purchasing`];
//! - `resolve_entities` in [`accounting`];
//! - `shipment_status` and `reorder_plan` in [`logistics`];
//! - `cash_runway`, `growth_forecast` and `hiring_plan` in [`planning`].
//!
//! [`fields`] holds the bounded field types (cents, quantities, non-empty
//! text, currency codes, exact fractions, dates, months) and the checks the
//! actions share; [`exact`] the exact arithmetic (rationals rounded
//! half-even, square roots, least squares) that replaces floating point.

pub mod accounting;
pub mod exact;
pub mod fields;
pub mod logistics;
pub mod planning;
pub mod purchasing;
#[cfg(test)]
pub(crate) mod testing;

use super::catalogue::Catalogue;

/// Every business action, in the order the catalogue lists them.
pub fn catalogue() -> Catalogue {
    Catalogue::empty()
        .with::<accounting::ResolveEntities>()
        .with::<purchasing::CompareVendors>()
        .with::<purchasing::DraftPurchaseOrder>()
        .with::<purchasing::SubmitPurchaseOrder>()
        .with::<logistics::ShipmentStatus>()
        .with::<logistics::ReorderPlan>()
        .with::<planning::CashRunway>()
        .with::<planning::GrowthForecast>()
        .with::<planning::HiringPlan>()
}
