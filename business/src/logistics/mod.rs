//! The logistics agent's actions: shipments and stock.
//!
//! - [`ShipmentStatus`] (`shipment_status`, complexity 1): the late
//!   shipments as of a date, and each carrier's on-time record.
//! - [`ReorderPlan`] (`reorder_plan`, complexity 2): per sku, the reorder
//!   point, the economic order quantity, the inventory position (on hand
//!   plus on order minus backorders) and whether to order now.
//!
//! Counts of stock and days are whole numbers; daily demand is an exact
//! decimal. Every figure a result holds is at most 10^15, refused at
//! submission otherwise; no computation uses binary floating point.

pub mod reorder;
pub mod shipments;

pub use reorder::ReorderPlan;
pub use shipments::ShipmentStatus;

/// What the actions' tests share (each imports it whole): the agent type's
/// helpers.
#[cfg(test)]
mod test_support {
    crate::testing::agent_helpers!(Logistics);
}
