//! `pipeline_health`: deals counted and summed per stage, the open and
//! weighted amounts, and the stalled deals.

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};

use crate::exact::Rational;
use crate::fields::{self, Cents, Count, Date, Fraction, Text};
use crate::{BusinessAction, InvalidInput, Problem};

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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineHealth {
    as_of: Date,
    #[serde(default)]
    stalled_after_days: Option<Count>,
    deals: Vec<Deal>,
}

/// A deal in the pipeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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

impl BusinessAction for PipelineHealth {
    /// Refuses a repeated deal id.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.deals, "deals", "id", |d| &d.id)
    }

    /// The pipeline's health; a deal active after `as_of` and a stage's,
    /// the open or the weighted amount past 10^15 cents are refused.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let threshold = self
            .stalled_after_days
            .map_or(DEFAULT_STALLED_AFTER_DAYS, Count::get);
        let mut weighted_terms = Vec::new();
        let mut stalled = Vec::new();
        for (i, deal) in self.deals.iter().enumerate() {
            let days_idle = deal.last_activity.days_until(self.as_of);
            // A negative idle time would be activity in the future of the
            // report: the input contradicts itself, so it is refused.
            let Ok(idle) = u64::try_from(days_idle) else {
                return Err(InvalidInput::new(
                    format!("deals[{i}].last_activity"),
                    format!("{} is after as_of {}", deal.last_activity, self.as_of),
                )
                .into());
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
                let deals = || self.deals.iter().filter(move |d| d.stage == stage);
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
}

#[cfg(test)]
mod tests {
    use crate::sales::test_support::*;

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
        let won = json!({"id": "ok", "stage": "won", "amount_cents": 1, "probability": 1,
                         "last_activity": "2026-03-01"});
        let with = |key: &str, value: Value| json!({"as_of": "2026-03-31", "deals": [won, testing::with(&deal, key, value)]});
        let without =
            |key: &str| json!({"as_of": "2026-03-31", "deals": [testing::without(&deal, key)]});
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
        invalid_fields("pipeline_health", cases);
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
