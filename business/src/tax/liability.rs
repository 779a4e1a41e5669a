//! `estimate_liability`: the tax due in each nexus state from the rates
//! given, rounded to the cent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::address::StateCode;
use super::{sales_too_large, unique_states};
use crate::exact::{Figure, Rational};
use crate::fields::{self, Cents, Fraction, Text};
use crate::{BusinessAction, Failure, InvalidInput, Problem};

/// `estimate_liability`: the sales tax due in each nexus state, from the
/// rates given.
///
/// Per nexus state (by code): `taxable_sales_cents` = the sum of its sales,
/// `tax_cents` = taxable × rate rounded half-even to the cent, once per
/// state (not per sale). A nexus state without a rate fails the job naming
/// it: never a default rate. Sales in states without nexus are not taxed:
/// listed per state (by code) in `not_taxed`, summed in `not_taxed_cents`.
/// A rate for a state without nexus is not used.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateLiability {
    nexus: Vec<StateCode>,
    rates: Vec<StateRate>,
    sales: Vec<StateSale>,
}

/// A state's sales tax rate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateRate {
    state: StateCode,
    rate: Fraction,
}

/// A sale, already attributed to a state.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateSale {
    id: Text,
    state: StateCode,
    amount_cents: Cents,
}

/// One nexus state of `estimate_liability`'s result.
#[derive(Debug, Serialize)]
struct StateTax {
    state: StateCode,
    taxable_sales_cents: i64,
    rate: Figure,
    tax_cents: i64,
}

/// The sales of a state without nexus.
#[derive(Debug, Serialize)]
struct Untaxed {
    state: StateCode,
    sales_cents: i64,
}

/// `estimate_liability`'s result.
#[derive(Debug, Serialize)]
struct Liability {
    states: Vec<StateTax>,
    total_tax_cents: i64,
    not_taxed: Vec<Untaxed>,
    not_taxed_cents: i64,
}

/// A figure that cannot pass the limit once `check` has passed, but did.
fn unreachable_limit(what: &str) -> Failure {
    Failure(format!(
        "{what} passes the limit of {} cents",
        fields::MAX_CENTS
    ))
}

impl BusinessAction for EstimateLiability {
    /// Refuses a nexus state or a rate's state listed twice, a repeated sale
    /// id, and sales past 10^15 cents in all.
    fn check(&self) -> Result<(), InvalidInput> {
        unique_states(&self.nexus, |i| format!("nexus[{i}]"))?;
        unique_states(self.rates.iter().map(|r| &r.state), |i| {
            format!("rates[{i}].state")
        })?;
        fields::unique_by(&self.sales, "sales", "id", |s| &s.id)?;
        // Bounding the total bounds every state's sum, and every tax: a
        // rate is at most 1, so a state's tax is at most its sales.
        fields::sum(self.sales.iter().map(|s| s.amount_cents.get()))
            .ok_or_else(|| sales_too_large("the sales"))?;
        Ok(())
    }

    /// The tax of each nexus state, or the failure naming every nexus state
    /// without a rate.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut by_state: BTreeMap<StateCode, i64> = BTreeMap::new();
        for sale in &self.sales {
            let sum = by_state.entry(sale.state).or_insert(0);
            *sum = fields::sum([*sum, sale.amount_cents.get()])
                .ok_or_else(|| unreachable_limit("a state's sales"))?;
        }
        let rate_of =
            |state: StateCode| self.rates.iter().find(|r| r.state == state).map(|r| r.rate);
        let missing: Vec<String> = self
            .nexus
            .iter()
            .enumerate()
            .filter(|&(_, &state)| rate_of(state).is_none())
            .map(|(i, state)| format!("nexus[{i}] {:?}: no rate given", state.code()))
            .collect();
        Failure::unless_any(missing)?;
        let mut nexus = self.nexus.clone();
        nexus.sort();
        let mut states = Vec::with_capacity(nexus.len());
        for state in nexus {
            let rate = rate_of(state).ok_or_else(|| Failure(format!("{state}: no rate given")))?;
            let taxable = by_state.get(&state).copied().unwrap_or(0);
            // Exact: taxable × rate as a rational, rounded once.
            let tax_cents = Rational::integer(i128::from(taxable))
                .checked_mul(rate.rational())
                .and_then(Rational::round_cents)
                .ok_or_else(|| unreachable_limit("a state's tax"))?;
            states.push(StateTax {
                state,
                taxable_sales_cents: taxable,
                rate: Figure(rate.get()),
                tax_cents,
            });
        }
        let total_tax_cents = fields::sum(states.iter().map(|s| s.tax_cents))
            .ok_or_else(|| unreachable_limit("the total tax"))?;
        let not_taxed: Vec<Untaxed> = by_state
            .iter()
            .filter(|(state, _)| !self.nexus.contains(state))
            .map(|(&state, &sales_cents)| Untaxed { state, sales_cents })
            .collect();
        let not_taxed_cents = fields::sum(not_taxed.iter().map(|u| u.sales_cents))
            .ok_or_else(|| unreachable_limit("the sales not taxed"))?;
        Ok(Liability {
            states,
            total_tax_cents,
            not_taxed,
            not_taxed_cents,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::tax::test_support::*;

    #[test]
    fn estimate_liability_taxes_each_nexus_state_rounding_once_half_even() {
        let input = json!({
            "nexus": ["NY", "CA", "WA"],
            "rates": [
                {"state": "CA", "rate": 0.0725},
                {"state": "NY", "rate": 0.045},
                {"state": "WA", "rate": 0.065},
                // A rate for a state without nexus is not used.
                {"state": "OR", "rate": 0.5},
            ],
            "sales": [
                {"id": "s-1", "state": "CA", "amount_cents": 1000},
                {"id": "s-2", "state": "CA", "amount_cents": 2000},
                {"id": "s-3", "state": "NY", "amount_cents": 2500},
                {"id": "s-4", "state": "OR", "amount_cents": 5000},
                {"id": "s-5", "state": "TX", "amount_cents": 700},
            ],
        });
        // CA: 1000 + 2000 = 3000; 3000 × 0.0725 = 217.5 -> 218 (half to even: 8).
        //     Per sale it would be 72.5 -> 72 and 145: 217; the state is rounded once.
        // NY: 2500 × 0.045 = 112.5 -> 112 (half to even: 2).
        // WA: no sales: 0 × 0.065 = 0.
        // total = 218 + 112 + 0 = 330.
        // Not taxed: OR 5000, TX 700 (by code); 5000 + 700 = 5700.
        assert_eq!(
            result("estimate_liability", input),
            json!({
                "states": [
                    {"state": "CA", "taxable_sales_cents": 3000, "rate": 0.0725, "tax_cents": 218},
                    {"state": "NY", "taxable_sales_cents": 2500, "rate": 0.045, "tax_cents": 112},
                    {"state": "WA", "taxable_sales_cents": 0, "rate": 0.065, "tax_cents": 0},
                ],
                "total_tax_cents": 330,
                "not_taxed": [
                    {"state": "OR", "sales_cents": 5000},
                    {"state": "TX", "sales_cents": 700},
                ],
                "not_taxed_cents": 5700,
            })
        );
    }

    #[test]
    fn estimate_liability_with_rates_zero_and_one_and_no_nexus() {
        let input = json!({
            "nexus": ["FL", "DE"],
            "rates": [{"state": "FL", "rate": 1}, {"state": "DE", "rate": 0}],
            "sales": [{"id": "a", "state": "FL", "amount_cents": 999}, {"id": "b", "state": "DE", "amount_cents": 999}],
        });
        // DE: 999 × 0 = 0; FL: 999 × 1 = 999; total 999.
        assert_eq!(
            result("estimate_liability", input),
            json!({
                "states": [
                    {"state": "DE", "taxable_sales_cents": 999, "rate": 0.0, "tax_cents": 0},
                    {"state": "FL", "taxable_sales_cents": 999, "rate": 1.0, "tax_cents": 999},
                ],
                "total_tax_cents": 999,
                "not_taxed": [],
                "not_taxed_cents": 0,
            })
        );
        // No nexus: nothing taxed, every sale listed as not taxed.
        let none = json!({"nexus": [], "rates": [],
                          "sales": [{"id": "a", "state": "FL", "amount_cents": 10}]});
        assert_eq!(
            result("estimate_liability", none),
            json!({"states": [], "total_tax_cents": 0,
                   "not_taxed": [{"state": "FL", "sales_cents": 10}], "not_taxed_cents": 10})
        );
    }

    #[test]
    fn estimate_liability_fails_naming_a_nexus_state_without_a_rate() {
        let input = json!({
            "nexus": ["CA", "TX"],
            "rates": [{"state": "CA", "rate": 0.0725}],
            "sales": [],
        });
        assert_eq!(
            failure("estimate_liability", input),
            Failure("nexus[1] \"TX\": no rate given".to_owned())
        );
        // Every one is named, in input order.
        let two = json!({"nexus": ["WA", "CA", "NY"], "rates": [{"state": "CA", "rate": 0.05}], "sales": []});
        assert_eq!(
            failure("estimate_liability", two).0,
            "nexus[0] \"WA\": no rate given; nexus[2] \"NY\": no rate given"
        );
    }

    #[test]
    fn estimate_liability_names_the_field_of_input_that_does_not_parse() {
        let ok = json!({
            "nexus": ["CA"],
            "rates": [{"state": "CA", "rate": 0.0725}],
            "sales": [{"id": "s-1", "state": "CA", "amount_cents": 1}],
        });
        let with = |key: &str, value: Value| testing::with(&ok, key, value);
        let without = |key: &str| testing::without(&ok, key);
        let cases = [
            (without("nexus"), "input.nexus"),
            (without("rates"), "input.rates"),
            (without("sales"), "input.sales"),
            (with("nexus", json!(["CA", "CA"])), "input.nexus[1]"),
            (with("nexus", json!(["CA", "XX"])), "input.nexus[1]"),
            (with("nexus", json!(["ca"])), "input.nexus[0]"),
            (
                with(
                    "rates",
                    json!([{"state": "CA", "rate": 0.1}, {"state": "CA", "rate": 0.2}]),
                ),
                "input.rates[1].state",
            ),
            (
                with("rates", json!([{"state": "CA", "rate": 1.5}])),
                "input.rates[0].rate",
            ),
            (
                with("rates", json!([{"state": "CA", "rate": -0.1}])),
                "input.rates[0].rate",
            ),
            (
                with("rates", json!([{"state": "CA", "rate": "0.1"}])),
                "input.rates[0].rate",
            ),
            (
                with("rates", json!([{"state": "CA"}])),
                "input.rates[0].rate",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s-1", "state": "GU", "amount_cents": 1}]),
                ),
                "input.sales[0].state",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s-1", "state": "CA", "amount_cents": 1},
                                     {"id": "s-1", "state": "NY", "amount_cents": 1}]),
                ),
                "input.sales[1].id",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s-1", "state": "CA", "amount_cents": 0.5}]),
                ),
                "input.sales[0].amount_cents",
            ),
            (
                with("sales", json!([{"id": "s-1", "state": "CA"}])),
                "input.sales[0].amount_cents",
            ),
            (
                // 10^15 in CA plus 1 in NY: the total passes the limit.
                with(
                    "sales",
                    json!([{"id": "a", "state": "CA", "amount_cents": 1_000_000_000_000_000_u64},
                                     {"id": "b", "state": "NY", "amount_cents": 1}]),
                ),
                "input.sales",
            ),
        ];
        invalid_fields("estimate_liability", cases);
    }

    proptest! {
        #[test]
        fn estimate_liability_never_panics_and_rounds_each_state_once(
            sales in proptest::collection::vec(
                (prop::sample::select(vec!["CA", "NY", "TX", "OR"]), sale_amount()), 0..10),
            rates in proptest::collection::vec(0..=10_000_u32, 4),
            nexus in proptest::collection::btree_set(prop::sample::select(vec!["CA", "NY", "TX", "WA"]), 0..4),
        ) {
            let codes = ["CA", "NY", "TX", "WA"];
            // rate n / 10_000, exact as a JSON number (at most 5 significant digits).
            let rates_json: Vec<Value> = codes.iter().zip(&rates)
                .map(|(c, &n)| json!({"state": c, "rate": f64::from(n) / 10_000.0}))
                .collect();
            let sales_json: Vec<Value> = sales.iter().enumerate()
                .map(|(i, (s, cents))| json!({"id": format!("s-{i}"), "state": s, "amount_cents": cents}))
                .collect();
            let input = json!({"nexus": nexus, "rates": rates_json, "sales": sales_json});
            prop_assert!(testing::refuses_or_answers(AGENT, "estimate_liability", &input));
            if action("estimate_liability").validate(&input).is_ok() {
                let r = result("estimate_liability", input);
                let mut total = 0_i64;
                for row in r["states"].as_array().expect("states is a list") {
                    let code = row["state"].as_str().expect("a code");
                    let taxable: u128 = sales.iter().filter(|(s, _)| *s == code).map(|(_, c)| u128::from(*c)).sum();
                    prop_assert_eq!(u128::from(row["taxable_sales_cents"].as_u64().expect("cents")), taxable);
                    // Half-even, worked in integers: taxable × n / 10_000.
                    let n = u128::from(rates[codes.iter().position(|c| *c == code).expect("a code")]);
                    let (q, rem) = ((taxable * n) / 10_000, (taxable * n) % 10_000);
                    let expected = match (2 * rem).cmp(&10_000) {
                        std::cmp::Ordering::Less => q,
                        std::cmp::Ordering::Greater => q + 1,
                        std::cmp::Ordering::Equal => q + (q & 1),
                    };
                    prop_assert_eq!(u128::from(row["tax_cents"].as_u64().expect("cents")), expected);
                    total += row["tax_cents"].as_i64().expect("cents");
                }
                prop_assert_eq!(r["total_tax_cents"].as_i64(), Some(total));
                let taxed: u64 = r["states"].as_array().expect("a list").iter()
                    .map(|s| s["taxable_sales_cents"].as_u64().expect("cents")).sum();
                let all: u64 = sales.iter().map(|s| s.1).sum();
                prop_assert_eq!(taxed + r["not_taxed_cents"].as_u64().expect("cents"), all);
            }
        }
    }
}
