//! The tax agent's actions: sales tax nexus and liability, US states.
//!
//! - [`NexusCheck`] (`nexus_check`, complexity 1): per state, the sales
//!   shipped there and whether they, or a physical presence, give nexus
//!   under the economic nexus rule in force on `period_end` (AGENTS.md,
//!   "tax / nexus_check").
//! - [`EstimateLiability`] (`estimate_liability`, complexity 1): the tax due
//!   in each nexus state from the rates given, rounded to the cent.
//!
//! States are the 50 states and DC by postal code ([`address::StateCode`]);
//! a free-text address is read by the contract's rules only
//! ([`address::state_of`]) and is otherwise unparsed, never guessed. The
//! thresholds are data, one file ([`thresholds`]), whose effective dates
//! are from general knowledge, not fetched: see that module's doc.

pub mod address;
pub mod thresholds;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use self::address::StateCode;
use self::thresholds::Threshold;
use crate::exact::{Figure, Rational};
use crate::fields::{self, Cents, Date, Fraction, Text};
use crate::{AgentType, BusinessAction, Complexity, Failure, InvalidInput, Outcome};

/// The limit error for a sum of sales that passes 10^15 cents.
fn sales_too_large(what: impl std::fmt::Display) -> InvalidInput {
    InvalidInput::new(
        "sales",
        format!("{what} pass the limit of {} cents", fields::MAX_CENTS),
    )
}

/// Refuses a state code that repeats, naming its second occurrence.
fn unique_states<'a>(
    states: impl IntoIterator<Item = &'a StateCode>,
    path: impl Fn(usize) -> String,
) -> Result<(), InvalidInput> {
    fields::unique(states.into_iter().map(|s| s.code()), path, "state")
}

// ---------------------------------------------------------------------------
// nexus_check

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
pub struct NexusCheck;

/// `nexus_check`'s input.
#[derive(Debug, Deserialize)]
pub struct NexusCheckInput {
    period_end: Date,
    physical_presence: Vec<StateCode>,
    sales: Vec<ShippedSale>,
}

/// A sale shipped to a free-text address.
#[derive(Debug, Deserialize)]
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
fn tally(input: &NexusCheckInput) -> Result<Tally<'_>, InvalidInput> {
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
    type Input = NexusCheckInput;
    const AGENT: AgentType = AgentType::Tax;
    const NAME: &'static str = "nexus_check";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique(
            input.sales.iter().map(|s| s.id.as_str()),
            |i| format!("sales[{i}].id"),
            "id",
        )?;
        // A state listed twice is more likely a mistake than a meaning.
        unique_states(&input.physical_presence, |i| {
            format!("physical_presence[{i}]")
        })?;
        tally(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        let table = thresholds::table()?;
        let tally = tally(&input).map_err(|e| Failure(e.to_string()))?;
        let mut states = Vec::with_capacity(tally.states.len());
        let mut no_rule = Vec::new();
        for (&state, &(sales_cents, transactions)) in &tally.states {
            let physical = input.physical_presence.contains(&state);
            let rule = table.in_force(state, input.period_end);
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
        Outcome::result(NexusReport {
            period_end: input.period_end,
            states,
            unparsed: tally.unparsed,
            no_rule,
        })
    }
}

// ---------------------------------------------------------------------------
// estimate_liability

/// `estimate_liability`: the sales tax due in each nexus state, from the
/// rates given.
///
/// Per nexus state (by code): `taxable_sales_cents` = the sum of its sales,
/// `tax_cents` = taxable × rate rounded half-even to the cent, once per
/// state (not per sale). A nexus state without a rate fails the job naming
/// it: never a default rate. Sales in states without nexus are not taxed:
/// listed per state (by code) in `not_taxed`, summed in `not_taxed_cents`.
/// A rate for a state without nexus is not used.
pub struct EstimateLiability;

/// `estimate_liability`'s input.
#[derive(Debug, Deserialize)]
pub struct EstimateLiabilityInput {
    nexus: Vec<StateCode>,
    rates: Vec<StateRate>,
    sales: Vec<StateSale>,
}

/// A state's sales tax rate.
#[derive(Debug, Deserialize)]
struct StateRate {
    state: StateCode,
    rate: Fraction,
}

/// A sale, already attributed to a state.
#[derive(Debug, Deserialize)]
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
    type Input = EstimateLiabilityInput;
    const AGENT: AgentType = AgentType::Tax;
    const NAME: &'static str = "estimate_liability";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        unique_states(&input.nexus, |i| format!("nexus[{i}]"))?;
        unique_states(input.rates.iter().map(|r| &r.state), |i| {
            format!("rates[{i}].state")
        })?;
        fields::unique(
            input.sales.iter().map(|s| s.id.as_str()),
            |i| format!("sales[{i}].id"),
            "id",
        )?;
        // Bounding the total bounds every state's sum, and every tax: a
        // rate is at most 1, so a state's tax is at most its sales.
        fields::sum(input.sales.iter().map(|s| s.amount_cents.get()))
            .ok_or_else(|| sales_too_large("the sales"))?;
        Ok(())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        let mut by_state: BTreeMap<StateCode, i64> = BTreeMap::new();
        for sale in &input.sales {
            let sum = by_state.entry(sale.state).or_insert(0);
            *sum = fields::sum([*sum, sale.amount_cents.get()])
                .ok_or_else(|| unreachable_limit("a state's sales"))?;
        }
        let rate_of = |state: StateCode| {
            input
                .rates
                .iter()
                .find(|r| r.state == state)
                .map(|r| r.rate)
        };
        let missing: Vec<String> = input
            .nexus
            .iter()
            .enumerate()
            .filter(|&(_, &state)| rate_of(state).is_none())
            .map(|(i, state)| format!("nexus[{i}] {:?}: no rate given", state.code()))
            .collect();
        if !missing.is_empty() {
            return Err(Failure(missing.join("; ")));
        }
        let mut nexus = input.nexus.clone();
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
            .filter(|(state, _)| !input.nexus.contains(state))
            .map(|(&state, &sales_cents)| Untaxed { state, sales_cents })
            .collect();
        let not_taxed_cents = fields::sum(not_taxed.iter().map(|u| u.sales_cents))
            .ok_or_else(|| unreachable_limit("the sales not taxed"))?;
        Outcome::result(Liability {
            states,
            total_tax_cents,
            not_taxed,
            not_taxed_cents,
        })
    }
}

#[cfg(test)]
mod tests;
