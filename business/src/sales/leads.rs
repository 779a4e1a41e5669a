//! `score_leads`: each lead scored 0 to 100 by fixed weights, best first.

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};

use crate::fields::{self, Cents, Count, Text};
use crate::{BusinessAction, InvalidInput, Problem};

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
/// table in [`crate::sales`], with the points of each signal, ordered by
/// score (highest first), then id.
///
/// `leads` may be empty (the result then lists none); ids are unique.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreLeads {
    leads: Vec<Lead>,
}

/// A lead and what is known of it; an unknown signal is absent or `null`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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

impl BusinessAction for ScoreLeads {
    /// Refuses a repeated lead id.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.leads, "leads", "id", |l| &l.id)
    }

    /// Every lead's score, best first.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut leads: Vec<ScoredLead<'_>> = self
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
        Ok(Scores { leads })
    }
}

#[cfg(test)]
mod tests {
    use crate::sales::test_support::*;

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
        invalid_fields("score_leads", cases);
    }

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
    }
}
