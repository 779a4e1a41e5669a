//! The business actions, one module per agent type. Each action is a pure
//! function of its input (see [`super::catalogue::BusinessAction`]).
//!
//! - `categorize_transactions`, `detect_anomalies`, `reconcile`,
//!   `draft_invoice` and `resolve_entities` in [`accounting`];
//! - `score_leads` and `pipeline_health` in [`sales`];
//! - `campaign_roi` and `cac_trend` in [`marketing`];
//! - `shipment_status` and `reorder_plan` in [`logistics`];
//! - `nexus_check` and `estimate_liability` in [`tax`];
//! - `compare_vendors`, `draft_purchase_order` and `submit_purchase_order`
//!   in [`purchasing`];
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
pub mod marketing;
pub mod planning;
pub mod purchasing;
pub mod sales;
pub mod tax;
#[cfg(test)]
pub(crate) mod testing;

use super::catalogue::Catalogue;

/// Every business action, in the order the catalogue lists them: by agent
/// type, then by complexity.
pub fn catalogue() -> Catalogue {
    Catalogue::empty()
        .with::<accounting::CategorizeTransactions>()
        .with::<accounting::DetectAnomalies>()
        .with::<accounting::Reconcile>()
        .with::<accounting::DraftInvoice>()
        .with::<accounting::ResolveEntities>()
        .with::<sales::ScoreLeads>()
        .with::<sales::PipelineHealth>()
        .with::<marketing::CampaignRoi>()
        .with::<marketing::CacTrend>()
        .with::<logistics::ShipmentStatus>()
        .with::<logistics::ReorderPlan>()
        .with::<tax::NexusCheck>()
        .with::<tax::EstimateLiability>()
        .with::<purchasing::CompareVendors>()
        .with::<purchasing::DraftPurchaseOrder>()
        .with::<purchasing::SubmitPurchaseOrder>()
        .with::<planning::CashRunway>()
        .with::<planning::GrowthForecast>()
        .with::<planning::HiringPlan>()
}
