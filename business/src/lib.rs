//! Warden's business actions: nineteen pure, synchronous functions of their
//! JSON input, in exact arithmetic. No store, no clock, no network, and
//! nothing of Warden's: Warden's catalogue registers them ([`register_all`])
//! and governs who may run them; this crate only computes.
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
//! # Layout
//!
//! - [`action`]: the [`BusinessAction`] trait (an action is its input: it
//!   is read from JSON text, checks itself and computes), [`InvalidInput`],
//!   [`Failure`] and [`Problem`], [`Outcome`] and [`Effect`], and
//!   [`Register`], what a catalogue implements to hold them.
//! - [`agent`]: the [`AgentType`]s and an action's [`Complexity`].
//! - [`fields`]: the bounded field types (cents, quantities, non-blank
//!   text, currency codes, exact fractions, dates, months) and the checks
//!   the actions share; [`exact`]: the exact arithmetic (rationals rounded
//!   half-even, square roots, least squares) that replaces floating point.
//! - One folder per agent type, the same for each: `mod.rs` says what the
//!   agent's actions are and holds what they share (its `test_support`,
//!   what their tests share); one file per action holds, in this order,
//!   the action (its input), its result, its `impl BusinessAction` (what
//!   the input must satisfy, and the computation) with the helpers it
//!   calls, and its tests.
//! - `testing` (tests only): an action run as submission and the worker
//!   run it, what a client would see, and the contract's worked examples
//!   (`contract_examples.json`, which the black-box tests use too).
//!
//! # The catalogue is a table
//!
//! Who has an action, its name in `POST /agents/{id}/runs` and its
//! complexity are said once, in [`register_all`]: one line an action, in
//! catalogue order, so the whole catalogue reads at a glance and an action
//! file holds only what the action reads, checks and computes. They are
//! plain arguments of [`Register::with`], not constants of each action
//! (the same block of four in nineteen files) nor a macro's output (one
//! more thing to read): only the catalogue needs them, and a line of data
//! is what a reader and a reviewer look for. The action's type is its
//! input ([`BusinessAction`]), so a line names the type serde reads the
//! run's `input` into.

pub mod action;
pub mod agent;
pub mod exact;
pub mod fields;

pub mod accounting;
pub mod logistics;
pub mod marketing;
pub mod planning;
pub mod purchasing;
pub mod sales;
pub mod tax;

#[cfg(test)]
pub(crate) mod testing;

pub use action::{
    BusinessAction, Effect, Failure, InvalidInput, Outcome, Problem, Register, parse_json, to_value,
};
pub use agent::{AgentType, Complexity, UnknownAgentType};

/// Registers every business action into `catalogue`, in the order the
/// catalogue lists them (by agent type, then by complexity): its type, the
/// agent type that has it, its name and its complexity.
pub fn register_all<R: Register>(catalogue: R) -> R {
    use AgentType::*;
    use Complexity::*;
    use accounting::{CategorizeTransactions, DetectAnomalies, DraftInvoice};
    use accounting::{Reconcile, ResolveEntities};
    use logistics::{ReorderPlan, ShipmentStatus};
    use marketing::{CacTrend, CampaignRoi};
    use planning::{CashRunway, GrowthForecast, HiringPlan};
    use purchasing::{CompareVendors, DraftPurchaseOrder, SubmitPurchaseOrder};
    use sales::{PipelineHealth, ScoreLeads};
    use tax::{EstimateLiability, NexusCheck};
    catalogue
        .with::<CategorizeTransactions>(Accounting, "categorize_transactions", Analysis)
        .with::<DetectAnomalies>(Accounting, "detect_anomalies", Analysis)
        .with::<Reconcile>(Accounting, "reconcile", Analysis)
        .with::<DraftInvoice>(Accounting, "draft_invoice", Draft)
        .with::<ResolveEntities>(Accounting, "resolve_entities", ChangesRecords)
        .with::<ScoreLeads>(Sales, "score_leads", Analysis)
        .with::<PipelineHealth>(Sales, "pipeline_health", Analysis)
        .with::<CampaignRoi>(Marketing, "campaign_roi", Analysis)
        .with::<CacTrend>(Marketing, "cac_trend", Analysis)
        .with::<ShipmentStatus>(Logistics, "shipment_status", Analysis)
        .with::<ReorderPlan>(Logistics, "reorder_plan", Draft)
        .with::<NexusCheck>(Tax, "nexus_check", Analysis)
        .with::<EstimateLiability>(Tax, "estimate_liability", Analysis)
        .with::<CompareVendors>(Purchasing, "compare_vendors", Analysis)
        .with::<DraftPurchaseOrder>(Purchasing, "draft_purchase_order", Draft)
        .with::<SubmitPurchaseOrder>(Purchasing, "submit_purchase_order", ExternalEffect)
        .with::<CashRunway>(Planning, "cash_runway", Analysis)
        .with::<GrowthForecast>(Planning, "growth_forecast", Analysis)
        .with::<HiringPlan>(Planning, "hiring_plan", Draft)
}

#[cfg(test)]
mod tests {
    use super::{AgentType, BusinessAction, Complexity, Register, register_all};

    /// What [`register_all`] registers: agent type, name, complexity.
    struct Listed(Vec<(AgentType, &'static str, Complexity)>);

    impl Register for Listed {
        fn with<A: BusinessAction>(
            mut self,
            agent: AgentType,
            name: &'static str,
            complexity: Complexity,
        ) -> Self {
            self.0.push((agent, name, complexity));
            self
        }
    }

    #[test]
    fn every_action_is_registered_once_with_its_agent_type_and_complexity() {
        use AgentType::*;
        use Complexity::*;
        let expected = vec![
            (Accounting, "categorize_transactions", Analysis),
            (Accounting, "detect_anomalies", Analysis),
            (Accounting, "reconcile", Analysis),
            (Accounting, "draft_invoice", Draft),
            (Accounting, "resolve_entities", ChangesRecords),
            (Sales, "score_leads", Analysis),
            (Sales, "pipeline_health", Analysis),
            (Marketing, "campaign_roi", Analysis),
            (Marketing, "cac_trend", Analysis),
            (Logistics, "shipment_status", Analysis),
            (Logistics, "reorder_plan", Draft),
            (Tax, "nexus_check", Analysis),
            (Tax, "estimate_liability", Analysis),
            (Purchasing, "compare_vendors", Analysis),
            (Purchasing, "draft_purchase_order", Draft),
            (Purchasing, "submit_purchase_order", ExternalEffect),
            (Planning, "cash_runway", Analysis),
            (Planning, "growth_forecast", Analysis),
            (Planning, "hiring_plan", Draft),
        ];
        assert_eq!(register_all(Listed(Vec::new())).0, expected);
    }
}
