//! `hiring_plan`: which hires, in priority order, the runway can carry
//! while staying at or above a target.

use serde::{Deserialize, Serialize};

use super::{MonthFigures, average_net_burn, four_places, runway, signed_cents};
use crate::exact::{Figure, Rational};
use crate::fields::{self, Cents, Date, NonNegative, SignedCents, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// `hiring_plan`: which hires, in the given priority order, the runway can
/// carry while it stays at or above `target_runway_months`.
///
/// The burn is `cash_runway`'s (the latest three months; none fails the
/// job). Hires are walked in order: a hire is made when the runway with it
/// (the burn plus its monthly cost and those of every hire made so far)
/// is at least the target, compared exactly; a burn ≤ 0 is an unbounded
/// runway and always qualifies, and no cash (≤ 0) is a runway of 0. The
/// first hire that would break the target, and every hire after it, is
/// deferred: a lower priority never jumps a higher one. The hires' monthly
/// costs total at most 10^15 cents, and the net burn after the hires is
/// within ±10^15, refused at submission (naming `hires`) otherwise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HiringPlan {
    cash_cents: SignedCents,
    /// When given, no month may be after it (the burn is the past's).
    #[serde(default)]
    as_of: Option<Date>,
    months: Vec<MonthFigures>,
    target_runway_months: NonNegative,
    hires: Vec<Hire>,
}

/// A hire to consider and what it costs a month.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hire {
    id: Text,
    monthly_cost_cents: Cents,
}

/// `hiring_plan`'s result.
#[derive(Debug, Serialize)]
struct HiringPlanResult<'a> {
    hires: Vec<&'a Text>,
    deferred: Vec<&'a Text>,
    monthly_net_burn_cents: i64,
    runway_months: Option<Figure>,
}

impl BusinessAction for HiringPlan {
    /// Refuses a month given twice, a month after `as_of` when it is
    /// given, a repeated hire id and hires whose monthly costs total past
    /// 10^15 cents.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_months(self.months.iter().map(|m| m.month))?;
        if let Some(as_of) = self.as_of {
            fields::months_not_after(self.months.iter().map(|m| m.month), as_of)?;
        }
        fields::unique_by(&self.hires, "hires", "id", |h| &h.id)?;
        fields::sum(self.hires.iter().map(|h| h.monthly_cost_cents.get())).ok_or_else(|| {
            InvalidInput::new(
                "hires",
                format!(
                    "the hires' monthly costs total past the limit of {} cents",
                    fields::MAX_CENTS
                ),
            )
        })?;
        Ok(())
    }

    /// The hires the runway carries, in priority order. A net burn after
    /// the hires past ±10^15 cents is refused; no month to average fails
    /// the job.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let too_large =
            || Problem::Invalid(fields::too_large("hires", "the net burn after these hires"));
        let cash = self.cash_cents.get();
        let target = self.target_runway_months.rational();
        let mut burn = average_net_burn(&self.months)?;
        let mut hires = Vec::new();
        let mut deferred = Vec::new();
        for hire in &self.hires {
            if !deferred.is_empty() {
                deferred.push(&hire.id);
                continue;
            }
            let with = burn
                .checked_add(Rational::integer(i128::from(hire.monthly_cost_cents.get())))
                .ok_or_else(too_large)?;
            let qualifies = match runway(cash, with)? {
                None => true,
                Some(months) => months >= target,
            };
            if qualifies {
                burn = with;
                hires.push(&hire.id);
            } else {
                deferred.push(&hire.id);
            }
        }
        let monthly_net_burn_cents = signed_cents(burn).ok_or_else(too_large)?;
        let runway_months = match runway(cash, burn)? {
            Some(months) => Some(four_places(months, "runway")?),
            None => None,
        };
        Ok(HiringPlanResult {
            hires,
            deferred,
            monthly_net_burn_cents,
            runway_months,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::planning::test_support::*;

    /// Three months of net burn 100,000 a month.
    fn burning() -> Value {
        json!([
            month("2026-01", 0, 100_000),
            month("2026-02", 0, 100_000),
            month("2026-03", 0, 100_000)
        ])
    }

    fn hire(id: &str, cost: i64) -> Value {
        json!({"id": id, "monthly_cost_cents": cost})
    }

    /// `hiring_plan`'s input: `cash` over [`burning`]'s months, a target
    /// runway of `target` months, and these hires (id, monthly cost) in
    /// priority order.
    fn input(cash: i64, target: impl Into<Value>, hires: &[(&str, i64)]) -> Value {
        let hires: Vec<Value> = hires.iter().map(|&(id, cost)| hire(id, cost)).collect();
        json!({"cash_cents": cash, "months": burning(), "target_runway_months": target.into(),
               "hires": hires})
    }

    /// `hiring_plan`'s result for [`input`]'s input.
    fn plan(cash: i64, target: impl Into<Value>, hires: &[(&str, i64)]) -> Value {
        result("hiring_plan", input(cash, target, hires))
    }

    #[test]
    fn hiring_plan_makes_every_hire_that_fits() {
        // a: burn 100,000 + 200,000 = 300,000 -> runway 12,000,000 / 300,000 = 40 ≥ 12.
        // b: 300,000 + 300,000 = 600,000 -> 20 ≥ 12.
        assert_eq!(
            plan(12_000_000, 12, &[("a", 200_000), ("b", 300_000)]),
            json!({"hires": ["a", "b"], "deferred": [], "monthly_net_burn_cents": 600_000,
                   "runway_months": 20.0})
        );
    }

    #[test]
    fn hiring_plan_makes_none_when_the_first_breaks_the_target() {
        // a: 300,000 -> 40 < 100: stop; b deferred behind it.
        // Runway as it is: 12,000,000 / 100,000 = 120.
        assert_eq!(
            plan(12_000_000, 100, &[("a", 200_000), ("b", 1)]),
            json!({"hires": [], "deferred": ["a", "b"], "monthly_net_burn_cents": 100_000,
                   "runway_months": 120.0})
        );
    }

    #[test]
    fn hiring_plan_stops_at_the_first_hire_that_breaks_the_target() {
        // a: 300,000 -> 40 ≥ 12, hired.
        // b: 300,000 + 2,000,000 = 2,300,000 -> 5.2174 < 12: stop.
        // c would fit (310,000 -> 38.7) but never jumps b: deferred.
        assert_eq!(
            plan(
                12_000_000,
                12,
                &[("a", 200_000), ("b", 2_000_000), ("c", 10_000)]
            ),
            json!({"hires": ["a"], "deferred": ["b", "c"], "monthly_net_burn_cents": 300_000,
                   "runway_months": 40.0})
        );
    }

    #[test]
    fn hiring_plan_compares_the_runway_to_the_target_exactly() {
        // a: 100,000 + 50,000 = 150,000 -> 1,800,000 / 150,000 = 12 exactly,
        // ≥ 12: hired. b: 150,001 -> 11.99992.. < 12: deferred.
        let r = plan(1_800_000, 12, &[("a", 50_000), ("b", 1)]);
        assert_eq!(r["hires"], json!(["a"]));
        assert_eq!(r["deferred"], json!(["b"]));
        // A fractional target: 11.99992 ≤ 11.9999.. no: 1,800,000 / 150,001
        // = 11.99992000.. ≥ 11.9999: b is hired; runway shown 11.9999.
        assert_eq!(
            plan(1_800_000, number("11.9999"), &[("a", 50_000), ("b", 1)]),
            json!({"hires": ["a", "b"], "deferred": [], "monthly_net_burn_cents": 150_001,
                   "runway_months": 11.9999})
        );
    }

    #[test]
    fn hiring_plan_for_a_profitable_company() {
        // Burn: revenue beats expenses by 50,000 a month -> −50,000.
        // a: −50,000 + 30,000 = −20,000 ≤ 0: unbounded, hired.
        // b: −20,000 + 40,000 = 20,000 -> 100,000 / 20,000 = 5 < 6: deferred.
        // After: −20,000, profitable: runway null.
        let profitable = |hires: &[(&str, i64)]| {
            let months = json!([month("2026-03", 150_000, 100_000)]);
            result(
                "hiring_plan",
                with(&input(100_000, 6, hires), "months", months),
            )
        };
        assert_eq!(
            profitable(&[("a", 30_000), ("b", 40_000)]),
            json!({"hires": ["a"], "deferred": ["b"], "monthly_net_burn_cents": -20_000,
                   "runway_months": null})
        );
        // No hires at all: nothing made, nothing deferred.
        assert_eq!(
            profitable(&[]),
            json!({"hires": [], "deferred": [], "monthly_net_burn_cents": -50_000,
                   "runway_months": null})
        );
    }

    #[test]
    fn hiring_plan_without_cash_hires_only_for_a_target_of_zero() {
        // Cash −1: every runway is 0. Target 0: 0 ≥ 0, all hired.
        assert_eq!(
            plan(-1, 0, &[("a", 1), ("b", 2)]),
            json!({"hires": ["a", "b"], "deferred": [], "monthly_net_burn_cents": 100_003,
                   "runway_months": 0.0})
        );
        // Target 0.5: 0 < 0.5, none.
        assert_eq!(plan(0, 0.5, &[("a", 1)])["deferred"], json!(["a"]));
    }

    #[test]
    fn hiring_plan_fails_with_no_month_to_average() {
        let no_months = with(&input(1, 1, &[("a", 1)]), "months", json!([]));
        assert_eq!(
            failure("hiring_plan", no_months),
            Failure("months: no month to average".to_owned())
        );
    }

    #[test]
    fn hiring_plan_names_the_field_of_input_that_does_not_parse() {
        let ok = input(1, 1, &[("a", 1)]);
        let with = |key: &str, value: Value| testing::with(&ok, key, value);
        let without = |key: &str| testing::without(&ok, key);
        let cases = [
            (without("cash_cents"), "input.cash_cents"),
            (
                without("target_runway_months"),
                "input.target_runway_months",
            ),
            (without("hires"), "input.hires"),
            (
                with("target_runway_months", json!(-1)),
                "input.target_runway_months",
            ),
            (
                with("target_runway_months", json!("12")),
                "input.target_runway_months",
            ),
            (
                with("hires", json!([hire("a", 1), hire("a", 2)])),
                "input.hires[1].id",
            ),
            (
                with("hires", json!([hire("a", 1), {"id": "b"}])),
                "input.hires[1].monthly_cost_cents",
            ),
            (
                with("hires", json!([hire("a", -1)])),
                "input.hires[0].monthly_cost_cents",
            ),
            (
                with("hires", json!([{"id": "", "monthly_cost_cents": 1}])),
                "input.hires[0].id",
            ),
            (
                with(
                    "months",
                    json!([month("2026-01", 0, 1), month("2026-01", 0, 2)]),
                ),
                "input.months[1].month",
            ),
            // With as_of given, a month after it is refused; as_of is a date.
            (with("as_of", json!("2026-02-28")), "input.months[2].month"),
            (with("as_of", json!("2026-03")), "input.as_of"),
            (with("asof", json!("2026-03-31")), "input.asof"),
            // 10^15 + 1 in monthly costs between them.
            (
                with(
                    "hires",
                    json!([hire("a", 1_000_000_000_000_000), hire("b", 1)]),
                ),
                "input.hires",
            ),
        ];
        invalid_fields("hiring_plan", cases);
        // as_of on the last month's last day, or absent: the same plan.
        assert_eq!(
            result("hiring_plan", with("as_of", json!("2026-03-31"))),
            result("hiring_plan", ok.clone())
        );
        // Burn 100,000 + a hire of 10^15 with target 0 (always made): a net
        // burn of 10^15 + 100,000 passes the limit.
        let big = input(1, 0, &[("a", 1_000_000_000_000_000)]);
        assert_eq!(invalid_field("hiring_plan", big), "input.hires");
    }

    proptest! {
        #[test]
        fn hiring_plan_keeps_the_priority_order_and_never_overflows(
            cash in -MAX_CENTS..=MAX_CENTS,
            months in months_strategy(),
            target in 0..1000_u64,
            costs in proptest::collection::vec(0..=MAX_CENTS / 4, 0..8),
        ) {
            let hires: Vec<Value> = costs.iter().enumerate()
                .map(|(i, &c)| hire(&format!("h-{i}"), c)).collect();
            let input = json!({"cash_cents": cash, "months": months_json(&months),
                               "target_runway_months": target, "hires": hires});
            prop_assert!(testing::refuses_or_answers(AGENT, "hiring_plan", &input));
            if let Ok(out) = action("hiring_plan").run(&input) {
                let ids = |k: &str| -> Vec<String> {
                    out.result[k].as_array().expect("a list").iter()
                        .map(|v| v.as_str().expect("an id").to_owned()).collect()
                };
                let mut all = ids("hires");
                all.extend(ids("deferred"));
                let expected: Vec<String> = (0..costs.len()).map(|i| format!("h-{i}")).collect();
                prop_assert_eq!(all, expected);
                if let Some(r) = out.result["runway_months"].as_f64() {
                    prop_assert!(r >= 0.0);
                }
            }
        }
    }
}
