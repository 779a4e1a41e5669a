//! `nexus_check`: per state, the sales shipped there and whether they, or a
//! physical presence, give nexus.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::address::{self, StateCode};
use super::thresholds::{self, Threshold};
use super::{sales_too_large, unique_states};
use crate::fields::{self, Cents, Date, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// `nexus_check`: per state, the sales shipped there (sum and count) and
/// whether there is nexus: physical presence, or economic nexus under the
/// rule in force on `period_end`.
///
/// `states` lists every state with sales or physical presence, by code; a
/// sale whose `ship_to` names no state is listed in `unparsed` (ids, input
/// order) and counts nowhere; a state with no rule in force on
/// `period_end` (none in the table, or only later ones) has a `null`
/// threshold and source, is not economic, and is listed in `no_rule`. The
/// sales given are summed as they are: choosing the period is the caller's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NexusCheck {
    period_end: Date,
    physical_presence: Vec<StateCode>,
    sales: Vec<ShippedSale>,
}

/// A sale shipped to a free-text address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShippedSale {
    id: Text,
    ship_to: String,
    amount_cents: Cents,
}

/// The sales per state, and the sales whose address names no state.
struct Tally<'a> {
    /// Per state (code order): sales in cents and transactions, with every
    /// state of physical presence present (maybe with none).
    states: BTreeMap<StateCode, (i64, u64)>,
    unparsed: Vec<&'a Text>,
}

/// The tally, or the field whose sum passes the limit.
fn tally(input: &NexusCheck) -> Result<Tally<'_>, InvalidInput> {
    let mut states: BTreeMap<StateCode, (i64, u64)> = BTreeMap::new();
    let mut unparsed = Vec::new();
    for sale in &input.sales {
        let Some(state) = address::state_of(&sale.ship_to) else {
            unparsed.push(&sale.id);
            continue;
        };
        let (cents, count) = states.entry(state).or_insert((0, 0));
        *cents = fields::sum([*cents, sale.amount_cents.get()])
            .ok_or_else(|| sales_too_large(format_args!("the sales shipped to {state}")))?;
        *count += 1;
    }
    for &state in &input.physical_presence {
        states.entry(state).or_insert((0, 0));
    }
    Ok(Tally { states, unparsed })
}

/// One state of `nexus_check`'s result.
#[derive(Debug, Serialize)]
struct StateNexus {
    state: StateCode,
    sales_cents: i64,
    transactions: u64,
    physical: bool,
    economic: bool,
    nexus: bool,
    threshold: Option<Threshold>,
    source: Option<&'static str>,
}

/// `nexus_check`'s result.
#[derive(Debug, Serialize)]
struct NexusReport<'a> {
    period_end: Date,
    states: Vec<StateNexus>,
    unparsed: Vec<&'a Text>,
    no_rule: Vec<StateCode>,
}

impl BusinessAction for NexusCheck {
    /// Refuses a repeated sale id and a state of physical presence listed
    /// twice.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.sales, "sales", "id", |s| &s.id)?;
        // A state listed twice is more likely a mistake than a meaning.
        unique_states(&self.physical_presence, |i| {
            format!("physical_presence[{i}]")
        })
    }

    /// The report: each state with its sales, the rule in force on
    /// `period_end` and whether there is nexus. A state's sales past 10^15
    /// cents are refused.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let tally = tally(self)?;
        let table = thresholds::table()?;
        let mut states = Vec::with_capacity(tally.states.len());
        let mut no_rule = Vec::new();
        for (&state, &(sales_cents, transactions)) in &tally.states {
            let physical = self.physical_presence.contains(&state);
            let rule = table.in_force(state, self.period_end);
            if rule.is_none() {
                no_rule.push(state);
            }
            let economic = rule.is_some_and(|r| r.holds(sales_cents, transactions));
            states.push(StateNexus {
                state,
                sales_cents,
                transactions,
                physical,
                economic,
                nexus: physical || economic,
                threshold: rule.map(thresholds::Row::threshold),
                source: rule.map(thresholds::Row::source),
            });
        }
        Ok(NexusReport {
            period_end: self.period_end,
            states,
            unparsed: tally.unparsed,
            no_rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::tax::test_support::*;

    #[test]
    fn nexus_check_gives_agents_md_example_verbatim() {
        gives_the_contract_example("nexus_check");
    }

    /// A state's row of a `nexus_check` result, by code.
    fn state_row<'a>(r: &'a Value, code: &str) -> &'a Value {
        r["states"]
            .as_array()
            .and_then(|s| s.iter().find(|row| row["state"] == code))
            .unwrap_or_else(|| panic!("{code} is listed in {r}"))
    }

    #[test]
    fn nexus_check_sums_per_state_and_applies_each_rule_in_force() {
        let input = json!({
            "period_end": "2026-06-30",
            "physical_presence": ["OR", "WA"],
            "sales": [
                {"id": "ny-1", "ship_to": "350 5th Ave, New York, NY 10118", "amount_cents": 30_000_000},
                {"id": "ca-1", "ship_to": "1 Market St, San Francisco, ca 94105-1234", "amount_cents": 25_000_000},
                {"id": "x-1", "ship_to": "Paris, FR", "amount_cents": 7},
                {"id": "ny-2", "ship_to": "Buffalo, new york", "amount_cents": 20_000_001},
                {"id": "ca-2", "ship_to": "Los Angeles, California", "amount_cents": 25_000_001},
                {"id": "ga-1", "ship_to": "Atlanta, Georgia", "amount_cents": 10_000_000},
                {"id": "ga-2", "ship_to": "Savannah, GA", "amount_cents": 0},
                {"id": "x-2", "ship_to": "", "amount_cents": 5},
                {"id": "il-1", "ship_to": "Chicago, IL 60601", "amount_cents": 9_999_999},
                {"id": "or-1", "ship_to": "Portland, OR 97201", "amount_cents": 50},
                {"id": "wv-1", "ship_to": "Charleston, West Virginia", "amount_cents": 1},
            ],
        });
        let r = result("nexus_check", input);
        // CA: 25_000_000 + 25_000_001 = 50_000_001 > 50_000_000 (more than): economic.
        assert_eq!(
            state_row(&r, "CA"),
            &json!({"state": "CA", "sales_cents": 50_000_001, "transactions": 2,
                    "physical": false, "economic": true, "nexus": true,
                    "threshold": {"sales_cents": 50_000_000, "transactions": null,
                                  "rule": "sales", "comparison": "more_than"},
                    "source": "CDTFA, R&TC 6203"})
        );
        // GA: 10_000_000 + 0 = 10_000_000, not more than 10_000_000; 2 transactions,
        // not at least 200: no nexus. The comparison is per figure.
        assert_eq!(
            state_row(&r, "GA"),
            &json!({"state": "GA", "sales_cents": 10_000_000, "transactions": 2,
                    "physical": false, "economic": false, "nexus": false,
                    "threshold": {"sales_cents": 10_000_000, "transactions": 200,
                                  "rule": "sales_or_transactions",
                                  "comparison": {"sales": "more_than", "transactions": "at_least"}},
                    "source": "GA DOR, O.C.G.A. 48-8-2"})
        );
        // IL from 2026-01-01: sales at least 10_000_000; 9_999_999 is not.
        assert_eq!(state_row(&r, "IL")["economic"], false);
        assert_eq!(
            state_row(&r, "IL")["threshold"],
            json!({"sales_cents": 10_000_000, "transactions": null, "rule": "sales", "comparison": "at_least"})
        );
        // NY: 30_000_000 + 20_000_001 = 50_000_001 > 50_000_000, but 2 transactions
        // are not more than 100: the "and" rule does not hold.
        let ny = state_row(&r, "NY");
        assert_eq!(
            (&ny["sales_cents"], &ny["transactions"], &ny["economic"]),
            (&json!(50_000_001), &json!(2), &json!(false))
        );
        assert_eq!(ny["threshold"]["rule"], "sales_and_transactions");
        // OR: no rule in the table; physical presence gives nexus all the same.
        assert_eq!(
            state_row(&r, "OR"),
            &json!({"state": "OR", "sales_cents": 50, "transactions": 1,
                    "physical": true, "economic": false, "nexus": true,
                    "threshold": null, "source": null})
        );
        // WA: physical, no sales.
        let wa = state_row(&r, "WA");
        assert_eq!(
            (
                &wa["sales_cents"],
                &wa["physical"],
                &wa["economic"],
                &wa["nexus"]
            ),
            (&json!(0), &json!(true), &json!(false), &json!(true))
        );
        // WV by its full name; no rule.
        assert_eq!(state_row(&r, "WV")["threshold"], Value::Null);
        // States by code; unparsed in input order; no_rule by code.
        let codes: Vec<Value> = r["states"]
            .as_array()
            .map(|s| s.iter().map(|row| row["state"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            Value::Array(codes),
            json!(["CA", "GA", "IL", "NY", "OR", "WA", "WV"])
        );
        assert_eq!(r["unparsed"], json!(["x-1", "x-2"]));
        assert_eq!(r["no_rule"], json!(["OR", "WV"]));
    }

    #[test]
    fn nexus_check_picks_the_rule_in_force_on_period_end() {
        // 200 sales of 1 cent to Illinois: at least 200 transactions.
        let sales: Vec<Value> = (0..200)
            .map(
                |i| json!({"id": format!("s-{i:03}"), "ship_to": "Springfield, IL", "amount_cents": 1}),
            )
            .collect();
        let at = |period_end: &str| {
            result(
                "nexus_check",
                json!({"period_end": period_end, "physical_presence": [], "sales": sales}),
            )
        };
        // 2025-12-31: the 2018 rule, sales or at least 200 transactions: 200 ≥ 200.
        let before = at("2025-12-31");
        assert_eq!(
            state_row(&before, "IL"),
            &json!({"state": "IL", "sales_cents": 200, "transactions": 200,
                    "physical": false, "economic": true, "nexus": true,
                    "threshold": {"sales_cents": 10_000_000, "transactions": 200,
                                  "rule": "sales_or_transactions", "comparison": "at_least"},
                    "source": "IL DOR, Public Act 100-0587"})
        );
        // 2026-01-01: sales only; 200 cents is not at least 10_000_000.
        let after = at("2026-01-01");
        assert_eq!(state_row(&after, "IL")["economic"], false);
        assert_eq!(
            state_row(&after, "IL")["source"],
            "IL DOR, Public Act 103-0592"
        );
        // 2018-09-30: no Illinois rule yet: threshold null, named in no_rule.
        let earlier = at("2018-09-30");
        assert_eq!(state_row(&earlier, "IL")["threshold"], Value::Null);
        assert_eq!(state_row(&earlier, "IL")["source"], Value::Null);
        assert_eq!(state_row(&earlier, "IL")["economic"], false);
        assert_eq!(earlier["no_rule"], json!(["IL"]));
    }

    #[test]
    fn nexus_check_with_no_sales_and_no_presence_lists_nothing() {
        let r = result(
            "nexus_check",
            json!({"period_end": "2026-06-30", "physical_presence": [], "sales": []}),
        );
        assert_eq!(
            r,
            json!({"period_end": "2026-06-30", "states": [], "unparsed": [], "no_rule": []})
        );
        // Only unparsed sales: no state at all.
        let r = result(
            "nexus_check",
            json!({"period_end": "2026-06-30", "physical_presence": [],
                   "sales": [{"id": "b", "ship_to": "Austin, TX, USA", "amount_cents": 1},
                             {"id": "a", "ship_to": "London, UK", "amount_cents": 1}]}),
        );
        assert_eq!(r["states"], json!([]));
        assert_eq!(r["unparsed"], json!(["b", "a"]));
    }

    #[test]
    fn nexus_check_at_the_threshold_more_than_and_at_least_differ() {
        // CA (more than) and TX (at least), each with exactly 50_000_000.
        let r = result(
            "nexus_check",
            json!({"period_end": "2026-06-30", "physical_presence": [],
                   "sales": [{"id": "a", "ship_to": "San Jose, CA 95113", "amount_cents": 50_000_000},
                             {"id": "b", "ship_to": "Austin, TX 78701", "amount_cents": 50_000_000}]}),
        );
        assert_eq!(state_row(&r, "CA")["economic"], false);
        assert_eq!(state_row(&r, "TX")["economic"], true);
        assert_eq!(state_row(&r, "TX")["nexus"], true);
    }

    #[test]
    fn nexus_check_names_the_field_of_input_that_does_not_parse() {
        let sale = json!({"id": "s-1", "ship_to": "Austin, TX", "amount_cents": 1});
        let ok = json!({"period_end": "2026-06-30", "physical_presence": ["TX"], "sales": [sale]});
        let with = |key: &str, value: Value| testing::with(&ok, key, value);
        let without = |key: &str| testing::without(&ok, key);
        let cases = [
            (without("period_end"), "input.period_end"),
            (with("period_end", json!("2026-02-30")), "input.period_end"),
            (without("physical_presence"), "input.physical_presence"),
            (without("sales"), "input.sales"),
            (
                with("physical_presence", json!(["TX", "PR"])),
                "input.physical_presence[1]",
            ),
            (
                with("physical_presence", json!(["tx"])),
                "input.physical_presence[0]",
            ),
            (
                with("physical_presence", json!(["Texas"])),
                "input.physical_presence[0]",
            ),
            (
                with("physical_presence", json!(["TX", "CA", "TX"])),
                "input.physical_presence[2]",
            ),
            (
                with(
                    "sales",
                    json!([sale, {"id": "s-1", "ship_to": "x", "amount_cents": 1}]),
                ),
                "input.sales[1].id",
            ),
            (
                with("sales", json!([sale, {"id": "s-2", "amount_cents": 1}])),
                "input.sales[1].ship_to",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s-2", "ship_to": null, "amount_cents": 1}]),
                ),
                "input.sales[0].ship_to",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "", "ship_to": "x", "amount_cents": 1}]),
                ),
                "input.sales[0].id",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s", "ship_to": "x", "amount_cents": "1"}]),
                ),
                "input.sales[0].amount_cents",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s", "ship_to": "x", "amount_cents": -1}]),
                ),
                "input.sales[0].amount_cents",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s", "ship_to": "x", "amount_cents": 1_000_000_000_000_001_u64}]),
                ),
                "input.sales[0].amount_cents",
            ),
            (
                // 10^15 + 1 shipped to Texas: the state's sum passes the limit.
                with(
                    "sales",
                    json!([{"id": "a", "ship_to": "Austin, TX", "amount_cents": 1_000_000_000_000_000_u64},
                           {"id": "b", "ship_to": "Dallas, TX 75201", "amount_cents": 1}]),
                ),
                "input.sales",
            ),
        ];
        invalid_fields("nexus_check", cases);
        // 10^15 to Texas and 10^15 unparsed: each sum is within the limit.
        let r = result(
            "nexus_check",
            with(
                "sales",
                json!([{"id": "a", "ship_to": "Austin, TX", "amount_cents": 1_000_000_000_000_000_u64},
                       {"id": "b", "ship_to": "Nowhere", "amount_cents": 1_000_000_000_000_000_u64}]),
            ),
        );
        assert_eq!(
            state_row(&r, "TX")["sales_cents"],
            1_000_000_000_000_000_u64
        );
    }

    /// Addresses that parse by each rule, addresses that do not, and arbitrary
    /// text (any Unicode).
    fn ship_to() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "\\PC{0,40}",
            (
                prop::sample::select(vec!["CA", "ny", "Tx", "GA", "IL", "WA", "PR", "ZZ", "or"]),
                "[0-9]{5}(-[0-9]{4})?",
            )
                .prop_map(|(code, zip)| format!("1 Main St, Town, {code} {zip}")),
            prop::sample::select(vec![
                "Atlanta, Georgia",
                "Buffalo, new york",
                "Charleston, West Virginia",
                "Washington, DC 20001",
                "Austin, TX, USA",
                "Somewhere",
                "",
                "Paris, FR",
            ])
            .prop_map(str::to_owned),
        ]
    }

    proptest! {
        #[test]
        fn nexus_check_never_panics_and_counts_every_sale_once(
            sales in proptest::collection::vec((ship_to(), sale_amount()), 0..12),
            physical in proptest::collection::btree_set(
                prop::sample::select(vec!["CA", "TX", "OR", "NY", "DC"]), 0..3),
            period_end in prop::sample::select(vec!["2018-01-01", "2025-12-31", "2026-06-30"]),
        ) {
            let sales_json: Vec<Value> = sales.iter().enumerate()
                .map(|(i, (to, cents))| json!({"id": format!("s-{i}"), "ship_to": to, "amount_cents": cents}))
                .collect();
            let input = json!({"period_end": period_end, "physical_presence": physical, "sales": sales_json});
            prop_assert!(testing::refuses_or_answers(AGENT, "nexus_check", &input));
            if action("nexus_check").validate(&input).is_ok() {
                let r = result("nexus_check", input);
                let states = r["states"].as_array().expect("states is a list");
                let unparsed = r["unparsed"].as_array().expect("unparsed is a list");
                let counted: u64 = states.iter().map(|s| s["transactions"].as_u64().expect("a count")).sum();
                prop_assert_eq!(counted + unparsed.len() as u64, sales.len() as u64);
                // The cents add up too: states' sums plus the unparsed sales' amounts.
                let in_states: u128 = states.iter().map(|s| u128::from(s["sales_cents"].as_u64().expect("cents"))).sum();
                let in_unparsed: u128 = unparsed.iter()
                    .map(|id| {
                        let i: usize = id.as_str().and_then(|s| s.strip_prefix("s-")).and_then(|s| s.parse().ok()).expect("an id");
                        u128::from(sales[i].1)
                    })
                    .sum();
                prop_assert_eq!(in_states + in_unparsed, sales.iter().map(|s| u128::from(s.1)).sum::<u128>());
                for s in states {
                    prop_assert_eq!(&s["nexus"], &json!(s["physical"] == true || s["economic"] == true));
                    prop_assert!(s["threshold"].is_null() == s["source"].is_null());
                    prop_assert!(!s["threshold"].is_null() || s["economic"] == false);
                }
                let codes: Vec<&str> = states.iter().map(|s| s["state"].as_str().expect("a code")).collect();
                prop_assert!(codes.windows(2).all(|w| w[0] < w[1]), "states by code");
                for p in &physical {
                    prop_assert!(codes.contains(p));
                }
            }
        }
    }
}
