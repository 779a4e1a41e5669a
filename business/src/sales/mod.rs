//! The sales agent's actions: leads and the pipeline.
//!
//! - [`ScoreLeads`] (`score_leads`, complexity 1): each lead scored 0 to
//!   100 by the fixed weights below, best first.
//! - [`PipelineHealth`] (`pipeline_health`, complexity 1): deals counted and
//!   summed per stage, the open and probability-weighted amounts, and the
//!   open deals idle for too long.
//!
//! A lead's score is the sum of the points of its signals; an absent (or
//! `null`) signal scores 0. The weights are fixed, so a score means the
//! same from one run to the next:
//!
//! | signal | points |
//! |---|---|
//! | `budget_cents` | ≥ 10,000,000: 30; ≥ 1,000,000: 20; ≥ 100,000: 10; else 0 |
//! | `employees` | ≥ 1,000: 20; ≥ 100: 15; ≥ 10: 10; ≥ 1: 5; else 0 |
//! | `decision_maker` | `true`: 10 |
//! | `email_opens` | 1 per open, at most 10 |
//! | `site_visits` | 1 per visit, at most 10 |
//! | `demo_requested` | `true`: 20 |
//!
//! The most a lead can score is 30 + 20 + 10 + 10 + 10 + 20 = 100.
//!
//! Money is whole cents; every total a result shows is at most 10^15 cents,
//! refused at submission otherwise. Probabilities are exact decimals: a
//! deal's weighted amount is rounded half-even to the cent, deal by deal.

pub mod leads;
pub mod pipeline;

pub use leads::{
    BUDGET_TIERS, DECISION_MAKER_POINTS, DEMO_POINTS, EMPLOYEE_TIERS, ENGAGEMENT_CAP, ScoreLeads,
};
pub use pipeline::{DEFAULT_STALLED_AFTER_DAYS, PipelineHealth, Stage};

/// What the actions' tests share (each imports it whole): the agent type's
/// helpers.
#[cfg(test)]
mod test_support {
    crate::testing::agent_helpers!(Sales);
}
