//! `nexus_check`: per state, the sales shipped there and whether they, or a
//! physical presence, give nexus.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, Unexpected};
use serde::{Deserialize, Serialize};

use super::address::{self, Found, StateCode};
use super::thresholds::{self, Basis, Kind, Period, Threshold};
use super::{sales_too_large, unique_states};
use crate::fields::{self, Cents, Date, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// `nexus_check`: per state, the sales shipped there (sum and count) and
/// whether there is nexus: physical presence, or economic nexus under the
/// state-level rule in force on `period_end` (the action contract's
/// revision 2; README, "For tax users").
///
/// A sale's state is its structured `state` when its `country` is absent
/// or `US`; a sale whose `country` is another is foreign, counted in no
/// state and listed in `foreign`; otherwise its `ship_to` is read
/// ([`address::read`]), and a state found only as the text's last word is
/// also listed in `assumed_us` (when neither `country` nor the text says
/// US), since
/// `..., ON M5X 1A9, CA` read that way is Canada. A sale whose address
/// names no state is listed in `unparsed`. Lists of sale ids keep input
/// order.
///
/// `states` lists every state with sales or physical presence, by code,
/// each with the rule in force, over what the state measures (`period`)
/// and what it sums (`basis`). The five states without a state sales tax
/// have `no_state_sales_tax: true`, no threshold and nexus only by
/// presence; Alaska adds its local remote-seller code (ARSSTC), computed
/// from its sales. A state whose first rule took effect after
/// `period_end` has a `null` threshold and source, is not economic, and is
/// listed in `no_rule`. The sales given are summed as they are: choosing
/// the period and the basis is the caller's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NexusCheck {
    period_end: Date,
    physical_presence: Vec<StateCode>,
    sales: Vec<ShippedSale>,
}

/// A sale, shipped to a free-text address, a structured state and
/// country, or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShippedSale {
    id: Text,
    /// Blank is absent.
    #[serde(default, deserialize_with = "fields::optional_text")]
    ship_to: Option<Text>,
    /// Checked in [`NexusCheck::check`]: a state code unless `country` is
    /// another than `US`.
    #[serde(default, deserialize_with = "fields::optional_text")]
    state: Option<Text>,
    #[serde(default)]
    country: Option<Country>,
    amount_cents: Cents,
}

/// An ISO 3166-1 alpha-2 country code, upper case, one of
/// [`address::COUNTRIES`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Country(String);

impl Country {
    fn is_us(&self) -> bool {
        self.0 == "US"
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if address::COUNTRIES.binary_search(&s.as_str()).is_ok() {
            Ok(Country(s))
        } else {
            Err(de::Error::invalid_value(
                Unexpected::Str(&s),
                &"an assigned ISO 3166-1 alpha-2 country code, upper case, e.g. \"US\"",
            ))
        }
    }
}

/// Where a sale counts.
enum Place {
    /// In this state; `assumed` when only the text's last word said so.
    State { state: StateCode, assumed: bool },
    /// In another country.
    Foreign,
    /// Nowhere the rules can tell.
    Unparsed,
}

impl ShippedSale {
    /// The sale's state code, if its structured `state` counts (no
    /// `country`, or `US`) and is one of the 50 states and DC.
    fn structured_state(&self) -> Option<Result<StateCode, ()>> {
        if self.country.as_ref().is_some_and(|c| !c.is_us()) {
            return None;
        }
        let state = self.state.as_ref()?;
        Some(StateCode::from_code(state.as_str()).ok_or(()))
    }

    fn place(&self) -> Place {
        if self.country.as_ref().is_some_and(|c| !c.is_us()) {
            return Place::Foreign;
        }
        if let Some(Ok(state)) = self.structured_state() {
            return Place::State {
                state,
                assumed: false,
            };
        }
        match self
            .ship_to
            .as_ref()
            .and_then(|s| address::read(s.as_str()))
        {
            Some((state, found)) => Place::State {
                state,
                assumed: found == Found::LastWord { us_named: false } && self.country.is_none(),
            },
            None => Place::Unparsed,
        }
    }
}

/// The sales per state, and the sales counted in none.
struct Tally<'a> {
    /// Per state (code order): sales in cents and transactions, with every
    /// state of physical presence present (maybe with none).
    states: BTreeMap<StateCode, (i64, u64)>,
    unparsed: Vec<&'a Text>,
    foreign: Vec<&'a Text>,
    assumed_us: Vec<&'a Text>,
}

/// The tally, or the field whose sum passes the limit.
fn tally(input: &NexusCheck) -> Result<Tally<'_>, InvalidInput> {
    let mut tally = Tally {
        states: BTreeMap::new(),
        unparsed: Vec::new(),
        foreign: Vec::new(),
        assumed_us: Vec::new(),
    };
    for sale in &input.sales {
        let state = match sale.place() {
            Place::Unparsed => {
                tally.unparsed.push(&sale.id);
                continue;
            }
            Place::Foreign => {
                tally.foreign.push(&sale.id);
                continue;
            }
            Place::State { state, assumed } => {
                if assumed {
                    tally.assumed_us.push(&sale.id);
                }
                state
            }
        };
        let (cents, count) = tally.states.entry(state).or_insert((0, 0));
        *cents = fields::sum([*cents, sale.amount_cents.get()])
            .ok_or_else(|| sales_too_large(format_args!("the sales shipped to {state}")))?;
        *count += 1;
    }
    for &state in &input.physical_presence {
        tally.states.entry(state).or_insert((0, 0));
    }
    Ok(tally)
}

/// Alaska's local remote-seller code, as a result shows it.
#[derive(Debug, Serialize)]
struct LocalRemoteSeller {
    rule: &'static str,
    threshold: Threshold,
    economic: bool,
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
    period: Option<Period>,
    basis: Option<Basis>,
    no_state_sales_tax: bool,
    /// Alaska's only: its ARSSTC rule in force (`null` before the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    local_remote_seller: Option<Option<LocalRemoteSeller>>,
}

/// `nexus_check`'s result.
#[derive(Debug, Serialize)]
struct NexusReport<'a> {
    period_end: Date,
    states: Vec<StateNexus>,
    unparsed: Vec<&'a Text>,
    no_rule: Vec<StateCode>,
    foreign: Vec<&'a Text>,
    assumed_us: Vec<&'a Text>,
}

impl BusinessAction for NexusCheck {
    /// Refuses a repeated sale id, a state of physical presence listed
    /// twice, a structured `state` that is none of the 50 states and DC
    /// (unless the sale's `country` is another than US), and a sale with
    /// neither `ship_to`, `state` nor `country`.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.sales, "sales", "id", |s| &s.id)?;
        // A state listed twice is more likely a mistake than a meaning.
        unique_states(&self.physical_presence, |i| {
            format!("physical_presence[{i}]")
        })?;
        for (i, sale) in self.sales.iter().enumerate() {
            if let Some(Err(())) = sale.structured_state() {
                return Err(InvalidInput::new(
                    format!("sales[{i}].state"),
                    "not the upper-case postal code of one of the 50 states or DC, \
                     e.g. \"CA\" (a sale outside the US names its country)",
                ));
            }
            if sale.ship_to.is_none() && sale.state.is_none() && sale.country.is_none() {
                return Err(InvalidInput::new(
                    format!("sales[{i}].ship_to"),
                    "missing field `ship_to`: a sale needs ship_to, state or country",
                ));
            }
        }
        Ok(())
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
            let row = table.in_force(state, self.period_end);
            if row.is_none() {
                no_rule.push(state);
            }
            let economic = row.is_some_and(|r| r.holds(sales_cents, transactions));
            let local = table.local_in_force(state, self.period_end);
            let local_remote_seller = (state.code() == "AK").then(|| {
                local.and_then(|r| {
                    Some(LocalRemoteSeller {
                        rule: "ARSSTC",
                        threshold: r.threshold()?,
                        economic: r.holds(sales_cents, transactions),
                    })
                })
            });
            states.push(StateNexus {
                state,
                sales_cents,
                transactions,
                physical,
                economic,
                nexus: physical || economic,
                threshold: row.and_then(thresholds::Row::threshold),
                source: row.map(thresholds::Row::source),
                period: row.and_then(thresholds::Row::period),
                basis: row.and_then(thresholds::Row::basis),
                no_state_sales_tax: row.is_some_and(|r| r.kind() == Kind::NoSalesTax),
                local_remote_seller,
            });
        }
        Ok(NexusReport {
            period_end: self.period_end,
            states,
            unparsed: tally.unparsed,
            no_rule,
            foreign: tally.foreign,
            assumed_us: tally.assumed_us,
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

    /// The state-level row of `code` in force on `date`, from the table.
    fn source_of(code: &str, date: &str) -> Value {
        let table = crate::tax::thresholds::table().expect("the table");
        let state = crate::tax::address::StateCode::from_code(code).expect("a state");
        let date = serde_json::from_value(json!(date)).expect("a date");
        json!(table.in_force(state, date).map(|r| r.source()))
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
                {"id": "x-2", "ship_to": "Nowhere", "amount_cents": 5},
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
                    "source": "CDTFA, R&TC 6203",
                    "period": "calendar_previous_or_current",
                    "basis": {"sales": "gross", "marketplace": "included"},
                    "no_state_sales_tax": false})
        );
        // GA: 10_000_000 + 0 = 10_000_000, not more than 10_000_000; 2 transactions,
        // not at least 200: no nexus. The comparison is per figure; from
        // 2020-04-01 Georgia sums retail sales without marketplace sales.
        assert_eq!(
            state_row(&r, "GA"),
            &json!({"state": "GA", "sales_cents": 10_000_000, "transactions": 2,
                    "physical": false, "economic": false, "nexus": false,
                    "threshold": {"sales_cents": 10_000_000, "transactions": 200,
                                  "rule": "sales_or_transactions",
                                  "comparison": {"sales": "more_than", "transactions": "at_least"}},
                    "source": source_of("GA", "2026-06-30"),
                    "period": "calendar_previous_or_current",
                    "basis": {"sales": "retail", "marketplace": "excluded"},
                    "no_state_sales_tax": false})
        );
        // IL from 2026-01-01: sales at least 10_000_000; 9_999_999 is not.
        assert_eq!(state_row(&r, "IL")["economic"], false);
        assert_eq!(
            state_row(&r, "IL")["threshold"],
            json!({"sales_cents": 10_000_000, "transactions": null, "rule": "sales", "comparison": "at_least"})
        );
        assert_eq!(state_row(&r, "IL")["period"], "previous_4_quarters");
        // NY: 30_000_000 + 20_000_001 = 50_000_001 > 50_000_000, but 2 transactions
        // are not more than 100: the "and" rule does not hold.
        let ny = state_row(&r, "NY");
        assert_eq!(
            (&ny["sales_cents"], &ny["transactions"], &ny["economic"]),
            (&json!(50_000_001), &json!(2), &json!(false))
        );
        assert_eq!(ny["threshold"]["rule"], "sales_and_transactions");
        assert_eq!(ny["period"], "ny_previous_4_sales_quarters");
        // OR has no state sales tax: never economic, never in no_rule; physical
        // presence gives nexus all the same.
        assert_eq!(
            state_row(&r, "OR"),
            &json!({"state": "OR", "sales_cents": 50, "transactions": 1,
                    "physical": true, "economic": false, "nexus": true,
                    "threshold": null, "source": source_of("OR", "2026-06-30"),
                    "period": null, "basis": null, "no_state_sales_tax": true})
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
        // WV by its full name: $100,000 or 200 (at least); 1 cent is neither.
        assert_eq!(
            state_row(&r, "WV")["threshold"]["rule"],
            "sales_or_transactions"
        );
        assert_eq!(state_row(&r, "WV")["economic"], false);
        // States by code; unparsed in input order; every state has a rule.
        let codes: Vec<Value> = r["states"]
            .as_array()
            .map(|s| s.iter().map(|row| row["state"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            Value::Array(codes),
            json!(["CA", "GA", "IL", "NY", "OR", "WA", "WV"])
        );
        assert_eq!(r["unparsed"], json!(["x-1", "x-2"]));
        assert_eq!(r["no_rule"], json!([]));
        assert_eq!(r["foreign"], json!([]));
        // "Savannah, GA" has no ZIP: its state is the last word, assumed US.
        assert_eq!(r["assumed_us"], json!(["ga-2"]));
    }

    #[test]
    fn nexus_check_counts_a_foreign_sale_in_no_state() {
        // The defect: "Toronto, ON M5X 1A9, CA" counted as California and
        // "10117 Berlin, DE" as Delaware. With their country given they are
        // foreign; without, they are still read by the last-word rule, and
        // listed as assumed US so the caller sees the guess.
        let sale = |id: &str, extra: Value| {
            let mut s = json!({"id": id, "amount_cents": 60_000_000});
            for (k, v) in extra.as_object().into_iter().flatten() {
                s[k] = v.clone();
            }
            s
        };
        let r = result(
            "nexus_check",
            json!({"period_end": "2026-06-30", "physical_presence": [], "sales": [
                sale("toronto", json!({"ship_to": "Toronto, ON M5X 1A9, CA", "country": "CA"})),
                sale("berlin", json!({"ship_to": "10117 Berlin, DE", "country": "DE"})),
                sale("guess", json!({"ship_to": "Toronto, ON M5X 1A9, CA"})),
                // A structured state wins over the text; country US is no guess.
                sale("sf", json!({"ship_to": "Somewhere, TX", "state": "CA", "country": "US"})),
                // With another country, `state` is not checked (Ontario).
                sale("ontario", json!({"state": "ON", "country": "CA"})),
                // Country US, text by the last word: the state, not assumed.
                sale("austin", json!({"ship_to": "Austin, TX", "country": "US"})),
                // A blank state is no state: the text decides.
                sale("blank", json!({"ship_to": "Dallas, TX 75201", "state": " "})),
                // The last word, but the text names the US: no assumption.
                sale("reno", json!({"ship_to": "Reno, NV, USA"})),
            ]}),
        );
        assert_eq!(r["foreign"], json!(["toronto", "berlin", "ontario"]));
        assert_eq!(r["assumed_us"], json!(["guess"]));
        // CA: "guess" and "sf", 2 x 60_000_000 = 120_000_000 > 50_000_000.
        assert_eq!(
            (
                &state_row(&r, "CA")["transactions"],
                &state_row(&r, "CA")["economic"]
            ),
            (&json!(2), &json!(true))
        );
        // TX: "austin" and "blank", 120_000_000 >= 50_000_000.
        assert_eq!(state_row(&r, "TX")["transactions"], 2);
        // Nothing in Delaware.
        let codes: Vec<&str> = r["states"]
            .as_array()
            .map(|s| s.iter().filter_map(|row| row["state"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(codes, ["CA", "NV", "TX"]);
    }

    #[test]
    fn nexus_check_reports_alaska_and_the_states_without_sales_tax() {
        // AK: no state sales tax, but ARSSTC from 2025-01-01 is $100,000 or more
        // (at least) of sales: 10_000_000 is exactly it.
        let r = result(
            "nexus_check",
            json!({"period_end": "2026-06-30", "physical_presence": ["DE"], "sales": [
                {"id": "ak", "ship_to": "Juneau, AK 99801", "amount_cents": 10_000_000},
                {"id": "mt", "state": "MT", "amount_cents": 900_000_000},
                {"id": "nh", "ship_to": "Concord, New Hampshire, USA", "amount_cents": 1},
            ]}),
        );
        let ak = state_row(&r, "AK");
        assert_eq!(
            (
                &ak["no_state_sales_tax"],
                &ak["threshold"],
                &ak["economic"],
                &ak["nexus"]
            ),
            (&json!(true), &Value::Null, &json!(false), &json!(false))
        );
        assert_eq!(
            ak["local_remote_seller"],
            json!({"rule": "ARSSTC",
                   "threshold": {"sales_cents": 10_000_000, "transactions": null,
                                 "rule": "sales", "comparison": "at_least"},
                   "economic": true})
        );
        // MT: $9,000,000 of sales and no nexus: no sales tax to collect.
        let mt = state_row(&r, "MT");
        assert_eq!(
            (&mt["no_state_sales_tax"], &mt["economic"], &mt["nexus"]),
            (&json!(true), &json!(false), &json!(false))
        );
        assert!(
            mt.get("local_remote_seller").is_none(),
            "Alaska's only: {mt}"
        );
        // DE: presence alone; NH by its name once "USA" is dropped.
        assert_eq!(state_row(&r, "DE")["nexus"], true);
        assert_eq!(state_row(&r, "NH")["no_state_sales_tax"], true);
        assert_eq!(r["no_rule"], json!([]));
        // In 2024 ARSSTC also counted 200 transactions (at least), and before
        // 2020-04-01 there was no code: null.
        let at = |day: &str| {
            result(
                "nexus_check",
                json!({"period_end": day, "physical_presence": [], "sales": [
                    {"id": "ak", "state": "AK", "amount_cents": 1}]}),
            )
        };
        assert_eq!(
            state_row(&at("2024-12-31"), "AK")["local_remote_seller"]["threshold"]["transactions"],
            200
        );
        assert_eq!(
            state_row(&at("2020-03-31"), "AK")["local_remote_seller"],
            Value::Null
        );
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
        // 2025-12-31: sales or at least 200 transactions: 200 >= 200.
        let before = at("2025-12-31");
        let il = state_row(&before, "IL");
        assert_eq!(
            (&il["economic"], &il["nexus"]),
            (&json!(true), &json!(true))
        );
        assert_eq!(
            il["threshold"],
            json!({"sales_cents": 10_000_000, "transactions": 200,
                   "rule": "sales_or_transactions", "comparison": "at_least"})
        );
        assert_eq!(il["source"], source_of("IL", "2025-12-31"));
        // 2026-01-01: sales only (Public Act 104-0006); 200 cents is not at
        // least 10_000_000.
        let after = at("2026-01-01");
        assert_eq!(state_row(&after, "IL")["economic"], false);
        assert!(
            state_row(&after, "IL")["source"]
                .as_str()
                .is_some_and(|s| s.contains("104-0006"))
        );
        // 2018-09-30: no Illinois rule yet: threshold null, named in no_rule.
        let earlier = at("2018-09-30");
        let il = state_row(&earlier, "IL");
        assert_eq!(
            (
                &il["threshold"],
                &il["source"],
                &il["period"],
                &il["economic"]
            ),
            (&Value::Null, &Value::Null, &Value::Null, &json!(false))
        );
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
            json!({"period_end": "2026-06-30", "states": [], "unparsed": [], "no_rule": [],
                   "foreign": [], "assumed_us": []})
        );
        // Only unparsed sales: no state at all.
        let r = result(
            "nexus_check",
            json!({"period_end": "2026-06-30", "physical_presence": [],
                   "sales": [{"id": "b", "ship_to": "Austin, Texas, US", "amount_cents": 1},
                             {"id": "a", "ship_to": "London, UK", "amount_cents": 1}]}),
        );
        assert_eq!(state_row(&r, "TX")["transactions"], 1);
        assert_eq!(r["unparsed"], json!(["a"]));
        // "Austin, Texas, US" names its country: no assumption.
        assert_eq!(r["assumed_us"], json!([]));
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
                    json!([{"id": " ", "ship_to": "x", "amount_cents": 1}]),
                ),
                "input.sales[0].id",
            ),
            (
                // Blank text is no address, and the sale has no other.
                with(
                    "sales",
                    json!([{"id": "s", "ship_to": "  ", "amount_cents": 1}]),
                ),
                "input.sales[0].ship_to",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s", "ship_to": "Austin, TX", "country": "ZZ", "amount_cents": 1}]),
                ),
                "input.sales[0].country",
            ),
            (
                // A structured state must be a state unless the country is another.
                with(
                    "sales",
                    json!([{"id": "s", "state": "ON", "amount_cents": 1}]),
                ),
                "input.sales[0].state",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s", "state": "PR", "country": "US", "amount_cents": 1}]),
                ),
                "input.sales[0].state",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s", "state": "CA", "country": "usa", "amount_cents": 1}]),
                ),
                "input.sales[0].country",
            ),
            (
                with(
                    "sales",
                    json!([{"id": "s", "ship_to": "x", "shipto": "y", "amount_cents": 1}]),
                ),
                "input.sales[0].shipto",
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
                    let no_tax = s["no_state_sales_tax"] == true;
                    prop_assert!(s["threshold"].is_null() == (s["source"].is_null() || no_tax));
                    prop_assert!(!no_tax || s["economic"] == false);
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
