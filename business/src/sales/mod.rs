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

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};

use crate::exact::Rational;
use crate::fields::{self, Cents, Count, Date, Fraction, Text};
use crate::{AgentType, BusinessAction, Complexity, Failure, InvalidInput, Outcome};

// ---------------------------------------------------------------------------
// score_leads

/// Points for a budget: the first tier whose minimum (in cents) the budget
/// reaches, 0 below the last.
pub const BUDGET_TIERS: [(i64, u64); 3] = [(10_000_000, 30), (1_000_000, 20), (100_000, 10)];

/// Points for a head count: the first tier whose minimum the count reaches,
/// 0 for no employee.
pub const EMPLOYEE_TIERS: [(u64, u64); 4] = [(1_000, 20), (100, 15), (10, 10), (1, 5)];

/// Points for a lead that is the decision maker.
pub const DECISION_MAKER_POINTS: u64 = 10;

/// The most points email opens, or site visits, can give: 1 per open (or
/// visit) up to this many.
pub const ENGAGEMENT_CAP: u64 = 10;

/// Points for a lead that asked for a demo.
pub const DEMO_POINTS: u64 = 20;

/// The points of the first tier whose minimum `value` reaches, else 0.
fn tier<T: PartialOrd + Copy>(value: T, tiers: &[(T, u64)]) -> u64 {
    tiers
        .iter()
        .find(|&&(min, _)| value >= min)
        .map_or(0, |&(_, points)| points)
}

/// `score_leads`: every lead scored 0 to 100 by the fixed weights of the
/// module's table, with the points of each signal, ordered by score
/// (highest first), then id.
///
/// `leads` may be empty (the result then lists none); ids are unique.
pub struct ScoreLeads;

/// `score_leads`'s input.
#[derive(Debug, Deserialize)]
pub struct ScoreLeadsInput {
    leads: Vec<Lead>,
}

/// A lead and what is known of it; an unknown signal is absent or `null`.
#[derive(Debug, Deserialize)]
struct Lead {
    id: Text,
    #[serde(default)]
    budget_cents: Option<Cents>,
    #[serde(default)]
    employees: Option<Count>,
    #[serde(default)]
    decision_maker: Option<bool>,
    #[serde(default)]
    email_opens: Option<Count>,
    #[serde(default)]
    site_visits: Option<Count>,
    #[serde(default)]
    demo_requested: Option<bool>,
}

/// The points each signal gave a lead.
#[derive(Debug, Serialize)]
struct Factors {
    budget: u64,
    employees: u64,
    decision_maker: u64,
    email_opens: u64,
    site_visits: u64,
    demo: u64,
}

impl Factors {
    fn of(lead: &Lead) -> Self {
        let flag = |set: Option<bool>, points: u64| if set == Some(true) { points } else { 0 };
        let capped = |n: Option<Count>| n.map_or(0, |n| n.get().min(ENGAGEMENT_CAP));
        Self {
            budget: lead
                .budget_cents
                .map_or(0, |b| tier(b.get(), &BUDGET_TIERS)),
            employees: lead.employees.map_or(0, |e| tier(e.get(), &EMPLOYEE_TIERS)),
            decision_maker: flag(lead.decision_maker, DECISION_MAKER_POINTS),
            email_opens: capped(lead.email_opens),
            site_visits: capped(lead.site_visits),
            demo: flag(lead.demo_requested, DEMO_POINTS),
        }
    }

    /// The score: at most 30 + 20 + 10 + 10 + 10 + 20 = 100.
    fn total(&self) -> u64 {
        self.budget
            + self.employees
            + self.decision_maker
            + self.email_opens
            + self.site_visits
            + self.demo
    }
}

/// One scored lead.
#[derive(Debug, Serialize)]
struct ScoredLead<'a> {
    id: &'a Text,
    score: u64,
    factors: Factors,
}

/// `score_leads`'s result.
#[derive(Debug, Serialize)]
struct Scores<'a> {
    leads: Vec<ScoredLead<'a>>,
}

fn score(input: &ScoreLeadsInput) -> Scores<'_> {
    let mut leads: Vec<ScoredLead<'_>> = input
        .leads
        .iter()
        .map(|lead| {
            let factors = Factors::of(lead);
            ScoredLead {
                id: &lead.id,
                score: factors.total(),
                factors,
            }
        })
        .collect();
    // Ids are unique, so the order is total.
    leads.sort_by(|a, b| (Reverse(a.score), a.id).cmp(&(Reverse(b.score), b.id)));
    Scores { leads }
}

impl BusinessAction for ScoreLeads {
    type Input = ScoreLeadsInput;
    const AGENT: AgentType = AgentType::Sales;
    const NAME: &'static str = "score_leads";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique(
            input.leads.iter().map(|l| l.id.as_str()),
            |i| format!("leads[{i}].id"),
            "id",
        )
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(score(&input))
    }
}

// ---------------------------------------------------------------------------
// pipeline_health

/// How many days without activity an open deal may go before it is stalled,
/// when the input does not say.
pub const DEFAULT_STALLED_AFTER_DAYS: u64 = 14;

/// A deal's stage, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Not yet qualified.
    Lead,
    /// Qualified.
    Qualified,
    /// A proposal is out.
    Proposal,
    /// Terms are being negotiated.
    Negotiation,
    /// Closed, won.
    Won,
    /// Closed, lost.
    Lost,
}

impl Stage {
    /// Every stage, in the order the result lists them.
    pub const ALL: [Stage; 6] = [
        Stage::Lead,
        Stage::Qualified,
        Stage::Proposal,
        Stage::Negotiation,
        Stage::Won,
        Stage::Lost,
    ];

    /// Whether a deal at this stage is still open (neither won nor lost).
    pub fn is_open(self) -> bool {
        !matches!(self, Stage::Won | Stage::Lost)
    }

    /// The stage's name in input and result, e.g. `negotiation`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Lead => "lead",
            Stage::Qualified => "qualified",
            Stage::Proposal => "proposal",
            Stage::Negotiation => "negotiation",
            Stage::Won => "won",
            Stage::Lost => "lost",
        }
    }
}

/// `pipeline_health`: deals counted and summed per stage (all six, zeros
/// included), the open amount, the probability-weighted open amount, and
/// the open deals idle for more than `stalled_after_days`.
///
/// `deals` may be empty; deal ids are unique; no deal's `last_activity` is
/// after `as_of`.
pub struct PipelineHealth;

/// `pipeline_health`'s input.
#[derive(Debug, Deserialize)]
pub struct PipelineHealthInput {
    as_of: Date,
    #[serde(default)]
    stalled_after_days: Option<Count>,
    deals: Vec<Deal>,
}

/// A deal in the pipeline.
#[derive(Debug, Deserialize)]
struct Deal {
    id: Text,
    stage: Stage,
    amount_cents: Cents,
    probability: Fraction,
    last_activity: Date,
}

/// One stage's deals.
#[derive(Debug, Serialize)]
struct StageTotal {
    stage: Stage,
    count: usize,
    amount_cents: i64,
}

/// An open deal idle for too long.
#[derive(Debug, Serialize)]
struct StalledDeal<'a> {
    id: &'a Text,
    days_idle: i64,
}

/// `pipeline_health`'s result.
#[derive(Debug, Serialize)]
struct Health<'a> {
    stages: Vec<StageTotal>,
    open_amount_cents: i64,
    weighted_amount_cents: i64,
    stalled: Vec<StalledDeal<'a>>,
}

/// The pipeline's health, or the field that makes it impossible: a deal
/// active after `as_of`, or a total past the limit.
fn health(input: &PipelineHealthInput) -> Result<Health<'_>, InvalidInput> {
    let threshold = input
        .stalled_after_days
        .map_or(DEFAULT_STALLED_AFTER_DAYS, Count::get);
    let mut weighted_terms = Vec::new();
    let mut stalled = Vec::new();
    for (i, deal) in input.deals.iter().enumerate() {
        let days_idle = deal.last_activity.days_until(input.as_of);
        // A negative idle time would be activity in the future of the
        // report: the input contradicts itself, so it is refused.
        let Ok(idle) = u64::try_from(days_idle) else {
            return Err(InvalidInput::new(
                format!("deals[{i}].last_activity"),
                format!("{} is after as_of {}", deal.last_activity, input.as_of),
            ));
        };
        if !deal.stage.is_open() {
            continue;
        }
        // amount ≤ 10^15 and probability ≤ 1 with at most 15 significant
        // digits, so the product fits i128 and the term is ≤ the amount;
        // checked all the same.
        let term = Rational::integer(i128::from(deal.amount_cents.get()))
            .checked_mul(deal.probability.rational())
            .and_then(Rational::round_cents)
            .ok_or_else(|| {
                InvalidInput::new(
                    format!("deals[{i}].probability"),
                    "amount × probability is out of range",
                )
            })?;
        weighted_terms.push(term);
        // Stalled needs strictly more idle days than the threshold.
        if idle > threshold {
            stalled.push(StalledDeal {
                id: &deal.id,
                days_idle,
            });
        }
    }
    let stages = Stage::ALL
        .iter()
        .map(|&stage| {
            let deals = || input.deals.iter().filter(move |d| d.stage == stage);
            let amount_cents =
                fields::sum(deals().map(|d| d.amount_cents.get())).ok_or_else(|| {
                    fields::too_large("deals", &format!("the {} stage's amount", stage.name()))
                })?;
            Ok(StageTotal {
                stage,
                count: deals().count(),
                amount_cents,
            })
        })
        .collect::<Result<Vec<_>, InvalidInput>>()?;
    let open_amount_cents = fields::sum(
        stages
            .iter()
            .filter(|s| s.stage.is_open())
            .map(|s| s.amount_cents),
    )
    .ok_or_else(|| fields::too_large("deals", "the open amount"))?;
    let weighted_amount_cents = fields::sum(weighted_terms)
        .ok_or_else(|| fields::too_large("deals", "the weighted amount"))?;
    // Ids are unique, so the order is total.
    stalled.sort_by(|a, b| (Reverse(a.days_idle), a.id).cmp(&(Reverse(b.days_idle), b.id)));
    Ok(Health {
        stages,
        open_amount_cents,
        weighted_amount_cents,
        stalled,
    })
}

impl BusinessAction for PipelineHealth {
    type Input = PipelineHealthInput;
    const AGENT: AgentType = AgentType::Sales;
    const NAME: &'static str = "pipeline_health";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique(
            input.deals.iter().map(|d| d.id.as_str()),
            |i| format!("deals[{i}].id"),
            "id",
        )?;
        health(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(health(&input).map_err(|e| Failure(e.to_string()))?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::fields::MAX_CENTS;
    use crate::{AgentType, Complexity, testing};

    testing::agent_helpers!(AgentType::Sales);

    #[test]
    fn the_two_actions_are_registered_as_analysis() {
        assert_eq!(action("score_leads").complexity(), Complexity::Analysis);
        assert_eq!(action("pipeline_health").complexity(), Complexity::Analysis);
    }

    // -- score_leads --------------------------------------------------------

    #[test]
    fn score_leads_adds_the_fixed_weights_and_orders_best_first() {
        let input = json!({"leads": [
            {"id": "l-cold"},
            {"id": "l-hot", "budget_cents": 25_000_000, "employees": 1_500,
             "decision_maker": true, "email_opens": 14, "site_visits": 10,
             "demo_requested": true},
            {"id": "l-warm", "budget_cents": 1_000_000, "employees": 99,
             "decision_maker": false, "email_opens": 3, "site_visits": null,
             "demo_requested": true},
            {"id": "l-mid", "budget_cents": 99_999, "employees": 1,
             "decision_maker": true, "email_opens": 0, "site_visits": 7},
        ]});
        // l-hot: budget 25,000,000 ≥ 10,000,000 -> 30; employees 1,500 ≥ 1,000 -> 20;
        //   decision maker 10; opens min(14, 10) = 10; visits min(10, 10) = 10; demo 20;
        //   score = 30 + 20 + 10 + 10 + 10 + 20 = 100.
        // l-warm: budget 1,000,000 ≥ 1,000,000 -> 20; employees 99 ≥ 10 -> 10;
        //   not decision maker 0; opens 3; visits null -> 0; demo 20;
        //   score = 20 + 10 + 0 + 3 + 0 + 20 = 53.
        // l-mid: budget 99,999 < 100,000 -> 0; employees 1 -> 5; decision maker 10;
        //   opens 0; visits 7; no demo field -> 0; score = 0 + 5 + 10 + 0 + 7 + 0 = 22.
        // l-cold: every signal absent -> 0.
        assert_eq!(
            result("score_leads", input),
            json!({"leads": [
                {"id": "l-hot", "score": 100, "factors": {"budget": 30, "employees": 20,
                 "decision_maker": 10, "email_opens": 10, "site_visits": 10, "demo": 20}},
                {"id": "l-warm", "score": 53, "factors": {"budget": 20, "employees": 10,
                 "decision_maker": 0, "email_opens": 3, "site_visits": 0, "demo": 20}},
                {"id": "l-mid", "score": 22, "factors": {"budget": 0, "employees": 5,
                 "decision_maker": 10, "email_opens": 0, "site_visits": 7, "demo": 0}},
                {"id": "l-cold", "score": 0, "factors": {"budget": 0, "employees": 0,
                 "decision_maker": 0, "email_opens": 0, "site_visits": 0, "demo": 0}},
            ]})
        );
    }

    #[test]
    fn score_leads_tiers_start_at_their_minimum() {
        let tiers = [
            // (budget_cents, employees) -> (budget points, employee points)
            (10_000_000, 1_000, 30, 20),
            (9_999_999, 999, 20, 15),
            (1_000_000, 100, 20, 15),
            (999_999, 99, 10, 10),
            (100_000, 10, 10, 10),
            (99_999, 9, 0, 5),
            (0, 0, 0, 0),
        ];
        for (budget, employees, budget_points, employee_points) in tiers {
            let r = result(
                "score_leads",
                json!({"leads": [{"id": "x", "budget_cents": budget, "employees": employees}]}),
            );
            let lead = &r["leads"][0];
            assert_eq!(lead["factors"]["budget"], budget_points, "{budget}");
            assert_eq!(lead["factors"]["employees"], employee_points, "{employees}");
            assert_eq!(lead["score"], budget_points + employee_points);
        }
    }

    #[test]
    fn score_leads_breaks_a_score_tie_by_id_and_takes_no_leads() {
        // b and a both score 20 (a demo); c scores 10 (a decision maker).
        // 20 = 20: "a" < "b"; then c.
        let input = json!({"leads": [
            {"id": "c", "decision_maker": true},
            {"id": "b", "demo_requested": true},
            {"id": "a", "demo_requested": true, "decision_maker": false},
        ]});
        let r = result("score_leads", input);
        let ids: Vec<&str> = r["leads"]
            .as_array()
            .expect("leads is a list")
            .iter()
            .map(|l| l["id"].as_str().expect("an id"))
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(
            result("score_leads", json!({"leads": []})),
            json!({"leads": []})
        );
    }

    #[test]
    fn score_leads_names_the_field_of_input_that_does_not_parse() {
        let cases = [
            (json!({}), "input.leads"),
            (json!({"leads": [{"budget_cents": 1}]}), "input.leads[0].id"),
            (json!({"leads": [{"id": ""}]}), "input.leads[0].id"),
            (
                json!({"leads": [{"id": "a"}, {"id": "b"}, {"id": "a"}]}),
                "input.leads[2].id",
            ),
            (
                json!({"leads": [{"id": "a", "budget_cents": -1}]}),
                "input.leads[0].budget_cents",
            ),
            (
                json!({"leads": [{"id": "a", "budget_cents": 1_000_000_000_000_001_u64}]}),
                "input.leads[0].budget_cents",
            ),
            (
                json!({"leads": [{"id": "a", "employees": "many"}]}),
                "input.leads[0].employees",
            ),
            (
                json!({"leads": [{"id": "a", "email_opens": 2.5}]}),
                "input.leads[0].email_opens",
            ),
            (
                json!({"leads": [{"id": "a", "site_visits": -3}]}),
                "input.leads[0].site_visits",
            ),
            (
                json!({"leads": [{"id": "a", "decision_maker": "yes"}]}),
                "input.leads[0].decision_maker",
            ),
            (
                json!({"leads": [{"id": "a", "demo_requested": 1}]}),
                "input.leads[0].demo_requested",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("score_leads", input.clone()),
                field,
                "{input}"
            );
        }
    }

    // -- pipeline_health ----------------------------------------------------

    fn stages(rows: [(u64, i64); 6]) -> Value {
        let names = [
            "lead",
            "qualified",
            "proposal",
            "negotiation",
            "won",
            "lost",
        ];
        Value::Array(
            names
                .iter()
                .zip(rows)
                .map(|(stage, (count, amount))| {
                    json!({"stage": stage, "count": count, "amount_cents": amount})
                })
                .collect(),
        )
    }

    #[test]
    fn pipeline_health_gives_agents_md_example() {
        let input = json!({"as_of": "2026-03-31", "stalled_after_days": 14, "deals": [
            {"id": "d-1", "stage": "lead", "amount_cents": 100000, "probability": 0.1,
             "last_activity": "2026-03-11"},
        ]});
        // weighted = 100000 × 0.1 = 10000; idle 2026-03-11 -> 2026-03-31 = 20 > 14.
        assert_eq!(
            result("pipeline_health", input),
            json!({"stages": stages([(1, 100_000), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0)]),
                   "open_amount_cents": 100000, "weighted_amount_cents": 10000,
                   "stalled": [{"id": "d-1", "days_idle": 20}]})
        );
    }

    #[test]
    fn pipeline_health_sums_every_stage_weights_open_deals_and_lists_the_stalled() {
        let input = json!({"as_of": "2026-03-31", "deals": [
            {"id": "d-1", "stage": "lead", "amount_cents": 100_000, "probability": 0.1,
             "last_activity": "2026-03-11"},
            {"id": "d-2", "stage": "qualified", "amount_cents": 250_000, "probability": 0.25,
             "last_activity": "2026-03-17"},
            {"id": "d-3", "stage": "proposal", "amount_cents": 333_333, "probability": 0.5,
             "last_activity": "2026-03-01"},
            {"id": "d-4", "stage": "negotiation", "amount_cents": 80_001, "probability": 0.75,
             "last_activity": "2026-03-16"},
            {"id": "d-5", "stage": "won", "amount_cents": 500_000, "probability": 1,
             "last_activity": "2026-01-01"},
            {"id": "d-6", "stage": "lost", "amount_cents": 70_000, "probability": 0,
             "last_activity": "2026-02-01"},
            {"id": "d-0", "stage": "proposal", "amount_cents": 1, "probability": 0.5,
             "last_activity": "2026-03-01"},
        ]});
        // stalled_after_days absent -> 14.
        // Idle days to 2026-03-31: d-1 from 03-11 = 20; d-2 from 03-17 = 14 (not > 14,
        //   so not stalled); d-3 and d-0 from 03-01 = 30; d-4 from 03-16 = 15.
        //   d-5 (won, 89 days) and d-6 (lost) are closed: never stalled.
        // Stages: lead 1 / 100,000; qualified 1 / 250,000;
        //   proposal 2 / 333,333 + 1 = 333,334; negotiation 1 / 80,001;
        //   won 1 / 500,000; lost 1 / 70,000.
        // Open = 100,000 + 250,000 + 333,334 + 80,001 = 763,335.
        // Weighted, each term rounded half-even:
        //   d-1 100,000 × 0.1 = 10,000; d-2 250,000 × 0.25 = 62,500;
        //   d-3 333,333 × 0.5 = 166,666.5 -> 166,666 (6 is even);
        //   d-0 1 × 0.5 = 0.5 -> 0; d-4 80,001 × 0.75 = 60,000.75 -> 60,001;
        //   total = 10,000 + 62,500 + 166,666 + 0 + 60,001 = 299,167.
        // Stalled by days desc then id: d-0 (30), d-3 (30), d-1 (20), d-4 (15).
        assert_eq!(
            result("pipeline_health", input),
            json!({
                "stages": stages([(1, 100_000), (1, 250_000), (2, 333_334), (1, 80_001),
                                  (1, 500_000), (1, 70_000)]),
                "open_amount_cents": 763_335,
                "weighted_amount_cents": 299_167,
                "stalled": [
                    {"id": "d-0", "days_idle": 30},
                    {"id": "d-3", "days_idle": 30},
                    {"id": "d-1", "days_idle": 20},
                    {"id": "d-4", "days_idle": 15},
                ],
            })
        );
    }

    #[test]
    fn pipeline_health_rounds_each_weighted_term_half_even() {
        let deal = |id: &str, amount: u64| {
            json!({"id": id, "stage": "lead", "amount_cents": amount, "probability": 0.5,
                   "last_activity": "2026-03-31"})
        };
        // 1 × 0.5 = 0.5 -> 0 (0 is even); 3 × 0.5 = 1.5 -> 2; 5 × 0.5 = 2.5 -> 2.
        for (amount, weighted) in [(1, 0), (3, 2), (5, 2)] {
            let r = result(
                "pipeline_health",
                json!({"as_of": "2026-03-31", "deals": [deal("d", amount)]}),
            );
            assert_eq!(r["weighted_amount_cents"], weighted, "{amount}");
        }
        // Rounded term by term: 0.5 -> 0 twice gives 0, where rounding the
        // sum 0.5 + 0.5 = 1 would give 1.
        let r = result(
            "pipeline_health",
            json!({"as_of": "2026-03-31", "deals": [deal("a", 1), deal("b", 1)]}),
        );
        assert_eq!(r["weighted_amount_cents"], 0);
        assert_eq!(r["open_amount_cents"], 2);
    }

    #[test]
    fn pipeline_health_stalls_only_past_the_threshold_it_is_given() {
        let input = |after: Value| {
            json!({"as_of": "2026-03-31", "stalled_after_days": after, "deals": [
                {"id": "a", "stage": "qualified", "amount_cents": 1, "probability": 0,
                 "last_activity": "2026-03-26"},
                {"id": "b", "stage": "negotiation", "amount_cents": 1, "probability": 1,
                 "last_activity": "2026-03-31"},
            ]})
        };
        // a idles 26 -> 31 = 5 days, b 0 days.
        // Threshold 4: 5 > 4, a stalled; 0 > 4 no.
        assert_eq!(
            result("pipeline_health", input(json!(4)))["stalled"],
            json!([{"id": "a", "days_idle": 5}])
        );
        // Threshold 5: 5 > 5 is false, nothing stalled.
        assert_eq!(
            result("pipeline_health", input(json!(5)))["stalled"],
            json!([])
        );
        // Threshold 0: 5 > 0, a stalled; 0 > 0 no (active today).
        assert_eq!(
            result("pipeline_health", input(json!(0)))["stalled"],
            json!([{"id": "a", "days_idle": 5}])
        );
        // null means the default 14: 5 > 14 is false.
        assert_eq!(
            result("pipeline_health", input(Value::Null))["stalled"],
            json!([])
        );
    }

    #[test]
    fn pipeline_health_with_no_deals_lists_six_empty_stages() {
        assert_eq!(
            result(
                "pipeline_health",
                json!({"as_of": "2026-03-31", "deals": []})
            ),
            json!({"stages": stages([(0, 0); 6]), "open_amount_cents": 0,
                   "weighted_amount_cents": 0, "stalled": []})
        );
    }

    #[test]
    fn pipeline_health_names_the_field_of_input_that_does_not_parse() {
        let deal = json!({"id": "d", "stage": "lead", "amount_cents": 1, "probability": 0.5,
                          "last_activity": "2026-03-01"});
        let with = |key: &str, value: Value| {
            let mut d = deal.clone();
            d[key] = value;
            json!({"as_of": "2026-03-31", "deals": [{"id": "ok", "stage": "won", "amount_cents": 1,
                   "probability": 1, "last_activity": "2026-03-01"}, d]})
        };
        let without = |key: &str| {
            let mut d = deal.clone();
            d.as_object_mut().map(|o| o.remove(key));
            json!({"as_of": "2026-03-31", "deals": [d]})
        };
        let cases = [
            (json!({"deals": []}), "input.as_of"),
            (json!({"as_of": "2026-03-31"}), "input.deals"),
            (json!({"as_of": "2026-02-30", "deals": []}), "input.as_of"),
            (
                json!({"as_of": "2026-03-31", "stalled_after_days": -1, "deals": []}),
                "input.stalled_after_days",
            ),
            (
                json!({"as_of": "2026-03-31", "stalled_after_days": "14", "deals": []}),
                "input.stalled_after_days",
            ),
            (without("id"), "input.deals[0].id"),
            (without("stage"), "input.deals[0].stage"),
            (without("amount_cents"), "input.deals[0].amount_cents"),
            (without("probability"), "input.deals[0].probability"),
            (without("last_activity"), "input.deals[0].last_activity"),
            (with("stage", json!("closed")), "input.deals[1].stage"),
            (with("stage", json!("Lead")), "input.deals[1].stage"),
            (
                with("amount_cents", json!(-5)),
                "input.deals[1].amount_cents",
            ),
            (
                with("amount_cents", json!(10.5)),
                "input.deals[1].amount_cents",
            ),
            (
                with("probability", json!(1.01)),
                "input.deals[1].probability",
            ),
            (
                with("probability", json!(-0.1)),
                "input.deals[1].probability",
            ),
            (
                with("probability", json!("0.5")),
                "input.deals[1].probability",
            ),
            (
                with("last_activity", json!("2026-04-01")),
                "input.deals[1].last_activity",
            ),
            (
                with("last_activity", json!("31/03/2026")),
                "input.deals[1].last_activity",
            ),
            (with("id", json!("ok")), "input.deals[1].id"),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("pipeline_health", input.clone()),
                field,
                "{input}"
            );
        }
        // A deal active on as_of itself is fine (0 days idle).
        let today = json!({"as_of": "2026-03-31", "deals": [
            {"id": "d", "stage": "lead", "amount_cents": 1, "probability": 1,
             "last_activity": "2026-03-31"}]});
        assert_eq!(result("pipeline_health", today)["weighted_amount_cents"], 1);
    }

    #[test]
    fn pipeline_health_refuses_a_total_past_ten_to_the_fifteen() {
        let deal = |id: &str, stage: &str, amount: i64| {
            json!({"id": id, "stage": stage, "amount_cents": amount, "probability": 1,
                   "last_activity": "2026-03-01"})
        };
        let half = MAX_CENTS / 2;
        // Two leads of 10^15 / 2: the lead stage and the open amount are 10^15, the
        // weighted 10^15 × 1 twice = 10^15: exactly the limit, accepted.
        let at_limit = json!({"as_of": "2026-03-31", "deals": [
            deal("a", "lead", half), deal("b", "lead", half)]});
        let r = result("pipeline_health", at_limit);
        assert_eq!(r["open_amount_cents"], MAX_CENTS);
        assert_eq!(r["weighted_amount_cents"], MAX_CENTS);
        // One stage past it: 10^15 + 1 in lead.
        let stage = json!({"as_of": "2026-03-31", "deals": [
            deal("a", "lead", MAX_CENTS), deal("b", "lead", 1)]});
        assert_eq!(invalid_field("pipeline_health", stage), "input.deals");
        // Each stage within it, the open amount 10^15 + 1 past it.
        let open = json!({"as_of": "2026-03-31", "deals": [
            deal("a", "lead", MAX_CENTS), deal("b", "proposal", 1)]});
        assert_eq!(invalid_field("pipeline_health", open), "input.deals");
        // Won and lost are not open: 10^15 each is fine, as no shown total passes.
        let closed = json!({"as_of": "2026-03-31", "deals": [
            deal("a", "won", MAX_CENTS), deal("b", "lost", MAX_CENTS)]});
        assert_eq!(result("pipeline_health", closed)["open_amount_cents"], 0);
    }

    // -- invariants ---------------------------------------------------------

    fn lead_strategy() -> impl Strategy<Value = Value> {
        (
            proptest::option::of(0..=MAX_CENTS),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(0..30_u64),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(|(budget, employees, dm, opens, visits, demo)| {
                json!({"budget_cents": budget, "employees": employees, "decision_maker": dm,
                       "email_opens": opens, "site_visits": visits, "demo_requested": demo})
            })
    }

    fn deal_strategy() -> impl Strategy<Value = (usize, i64, u32, i64)> {
        // (stage index, amount, probability in ten-thousandths, days before as_of)
        // Amounts up to 10^15, or small ones so that totals often stay
        // within the limit and the invariants are checked, not just refused.
        (
            0..6_usize,
            prop_oneof![0..=MAX_CENTS, 0..1_000_000_i64],
            0..=10_000_u32,
            0..60_i64,
        )
    }

    proptest! {
        #[test]
        fn score_leads_scores_within_0_to_100_sorted_and_summing_the_factors(
            leads in proptest::collection::vec(lead_strategy(), 0..12),
        ) {
            let input: Vec<Value> = leads.into_iter().enumerate().map(|(i, mut l)| {
                l["id"] = json!(format!("lead-{i}"));
                l
            }).collect();
            let n = input.len();
            let r = result("score_leads", json!({"leads": input}));
            let rows = r["leads"].as_array().expect("leads is a list");
            prop_assert_eq!(rows.len(), n);
            let mut previous: Option<(u64, String)> = None;
            for row in rows {
                let score = row["score"].as_u64().expect("a score");
                prop_assert!(score <= 100);
                let factors = row["factors"].as_object().expect("factors");
                let sum: u64 = factors.values().map(|v| v.as_u64().expect("points")).sum();
                prop_assert_eq!(sum, score);
                let id = row["id"].as_str().expect("an id").to_owned();
                if let Some((s, p)) = &previous {
                    prop_assert!(*s > score || (*s == score && *p < id), "sorted");
                }
                previous = Some((score, id));
            }
        }

        #[test]
        fn pipeline_health_counts_every_deal_and_sums_the_open_ones(
            deals in proptest::collection::vec(deal_strategy(), 0..8),
            after in proptest::option::of(0..40_u64),
        ) {
            let names = ["lead", "qualified", "proposal", "negotiation", "won", "lost"];
            let as_of = time::macros::date!(2026 - 03 - 31);
            let deal_json: Vec<Value> = deals.iter().enumerate().map(|(i, &(s, a, p, d))| {
                let last = as_of - time::Duration::days(d);
                json!({"id": format!("d-{i}"), "stage": names[s], "amount_cents": a,
                       "probability": f64::from(p) / 10_000.0, "last_activity": last.to_string()})
            }).collect();
            let input = json!({"as_of": "2026-03-31", "stalled_after_days": after,
                               "deals": deal_json});
            prop_assert!(testing::refuses_or_answers(AGENT, "pipeline_health", &input));
            if action("pipeline_health").validate(&input).is_ok() {
                let r = result("pipeline_health", input);
                let stages = r["stages"].as_array().expect("stages");
                prop_assert_eq!(stages.len(), 6);
                let counted: u64 = stages.iter().map(|s| s["count"].as_u64().expect("a count")).sum();
                prop_assert_eq!(counted, deals.len() as u64);
                let open: i64 = deals.iter().filter(|d| d.0 < 4).map(|d| d.1).sum();
                prop_assert_eq!(r["open_amount_cents"].as_i64(), Some(open));
                let weighted = r["weighted_amount_cents"].as_i64().expect("weighted");
                prop_assert!((0..=open).contains(&weighted));
                let threshold = i64::try_from(after.unwrap_or(14)).expect("small");
                let stalled = r["stalled"].as_array().expect("stalled");
                let expected = deals.iter().filter(|d| d.0 < 4 && d.3 > threshold).count();
                prop_assert_eq!(stalled.len(), expected);
                for w in stalled.windows(2) {
                    let key = |v: &Value| (-v["days_idle"].as_i64().expect("days"),
                                           v["id"].as_str().expect("id").to_owned());
                    prop_assert!(key(&w[0]) < key(&w[1]), "stalled ordered");
                }
            }
        }
    }
}
