//! The economic nexus thresholds: data in the crate, one file
//! (`nexus_thresholds.json`), parsed once into typed rows.
//!
//! Each row is a state's rule from the date it took effect: a sales
//! threshold in cents, maybe a transactions threshold, how the two combine
//! ([`Rule`]), whether a figure must be more than or at least its threshold
//! ([`Comparison`]), and the source. [`Table::in_force`] picks the row in
//! force on a date: the latest that took effect on or before it.
//!
//! **Provenance.** The figures, rules and sources are AGENTS.md's table
//! ("tax / nexus_check"). The effective dates (CA 2019-04-01, NY 2018-06-21
//! and 2019-06-24, TX 2019-10-01, FL 2021-07-01, WA 2020-01-01, IL
//! 2018-10-01 and 2026-01-01, PA 2019-07-01, GA 2020-01-01), New York's
//! earlier row ($300,000 and more than 100 transactions until the
//! $500,000 figure of 2019-06-24) and the source of Illinois's 2018 row
//! (Public Act 100-0587; AGENTS.md cites only the 2026 one) are from
//! general knowledge, not fetched from the states: this was written
//! without network access. The file's `note` says the same, since JSON has
//! no comments.
//!
//! A malformed table is a bug: the tests parse and check it, and at run
//! time an action that needs it fails the job (never a panic, never a
//! guessed rule).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::address::StateCode;
use crate::Failure;
use crate::fields::{Cents, Date};

/// The table's text, compiled in.
const TABLE_JSON: &str = include_str!("nexus_thresholds.json");

/// How a row's figures combine into economic nexus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The sales alone decide.
    Sales,
    /// Both the sales and the transactions must pass their thresholds.
    SalesAndTransactions,
    /// Either the sales or the transactions passing suffices.
    SalesOrTransactions,
}

/// Whether a figure must be strictly above its threshold or may equal it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// Strictly above (`>`).
    MoreThan,
    /// Above or equal (`>=`).
    AtLeast,
}

impl Compare {
    /// Whether `value` passes `threshold` this way.
    pub fn passes(self, value: u64, threshold: u64) -> bool {
        match self {
            Compare::MoreThan => value > threshold,
            Compare::AtLeast => value >= threshold,
        }
    }
}

/// A comparison per figure, for a row whose two figures compare
/// differently (GA: sales more than, transactions at least).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerFigure {
    /// How the sales compare.
    pub sales: Compare,
    /// How the transactions compare.
    pub transactions: Compare,
}

/// How a row's figures compare: one way for both (a JSON string), or one
/// per figure (a JSON object `{"sales", "transactions"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Comparison {
    /// Both figures compare this way.
    Both(Compare),
    /// Each figure its own way.
    PerFigure(PerFigure),
}

impl Comparison {
    /// How the sales compare.
    pub fn sales(self) -> Compare {
        match self {
            Comparison::Both(c) => c,
            Comparison::PerFigure(p) => p.sales,
        }
    }

    /// How the transactions compare.
    pub fn transactions(self) -> Compare {
        match self {
            Comparison::Both(c) => c,
            Comparison::PerFigure(p) => p.transactions,
        }
    }
}

/// A threshold as a result shows it (AGENTS.md's `threshold` object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Threshold {
    /// The sales threshold, in cents.
    pub sales_cents: i64,
    /// The transactions threshold; `None` for a [`Rule::Sales`] row.
    pub transactions: Option<u64>,
    /// How the figures combine.
    pub rule: Rule,
    /// How they compare.
    pub comparison: Comparison,
}

/// One state's rule from the date it took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    state: StateCode,
    effective_from: Date,
    sales_cents: Cents,
    transactions: Option<u64>,
    rule: Rule,
    comparison: Comparison,
    source: String,
}

impl Row {
    /// The state the rule is for.
    pub fn state(&self) -> StateCode {
        self.state
    }

    /// The date the rule took effect.
    pub fn effective_from(&self) -> Date {
        self.effective_from
    }

    /// Where the rule comes from (agency, statute or regulation).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The threshold as a result shows it.
    pub fn threshold(&self) -> Threshold {
        Threshold {
            sales_cents: self.sales_cents.get(),
            transactions: self.transactions,
            rule: self.rule,
            comparison: self.comparison,
        }
    }

    /// Whether the rule holds for `sales_cents` of sales in `transactions`
    /// transactions: economic nexus.
    pub fn holds(&self, sales_cents: i64, transactions: u64) -> bool {
        // Sales are sums of amounts ≥ 0; a negative one cannot pass.
        let sales_pass = u64::try_from(sales_cents).is_ok_and(|s| {
            self.comparison
                .sales()
                .passes(s, self.sales_cents.get().unsigned_abs())
        });
        let transactions_pass = self
            .transactions
            .is_some_and(|t| self.comparison.transactions().passes(transactions, t));
        match self.rule {
            Rule::Sales => sales_pass,
            Rule::SalesAndTransactions => sales_pass && transactions_pass,
            Rule::SalesOrTransactions => sales_pass || transactions_pass,
        }
    }
}

/// The whole table: a provenance note and the rows, sorted by state then
/// date.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    note: String,
    rows: Vec<Row>,
}

impl Table {
    /// The provenance note.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// Every row, sorted by state then the date it took effect.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// `state`'s rule in force on `date`: the row that took effect latest
    /// on or before it. `None` when the table has no row for the state, or
    /// only rows that took effect later.
    pub fn in_force(&self, state: StateCode, date: Date) -> Option<&Row> {
        // Rows are sorted by date within a state, so the last one that has
        // taken effect is the latest.
        self.rows
            .iter()
            .rev()
            .find(|r| r.state == state && r.effective_from <= date)
    }

    /// Checks what parsing cannot: rows sorted by state then date with one
    /// row per state and date, a transactions threshold exactly when the
    /// rule uses one, a comparison per figure only when there are two
    /// figures that compare differently, a non-empty source and note.
    fn check(&self) -> Result<(), String> {
        if self.note.trim().is_empty() {
            return Err("the note is empty".to_owned());
        }
        for pair in self.rows.windows(2) {
            if let [a, b] = pair
                && (a.state, a.effective_from) >= (b.state, b.effective_from)
            {
                return Err(format!(
                    "rows {} {} and {} {} are not in order (state, then date) or repeat",
                    a.state, a.effective_from, b.state, b.effective_from
                ));
            }
        }
        for row in &self.rows {
            let at = format!("row {} {}", row.state, row.effective_from);
            match (row.rule, row.transactions) {
                (Rule::Sales, Some(_)) => {
                    return Err(format!("{at}: a sales rule has no transactions threshold"));
                }
                (Rule::SalesAndTransactions | Rule::SalesOrTransactions, None) => {
                    return Err(format!("{at}: the rule needs a transactions threshold"));
                }
                (_, Some(0)) => return Err(format!("{at}: a transactions threshold of 0")),
                _ => {}
            }
            if let Comparison::PerFigure(p) = row.comparison {
                if row.rule == Rule::Sales {
                    return Err(format!("{at}: one figure, so one comparison"));
                }
                if p.sales == p.transactions {
                    return Err(format!(
                        "{at}: both figures compare the same way, so one comparison"
                    ));
                }
            }
            if row.source.trim().is_empty() {
                return Err(format!("{at}: no source"));
            }
        }
        Ok(())
    }
}

/// Parses and checks the table's text.
fn parse(text: &str) -> Result<Table, String> {
    let table: Table = serde_json::from_str(text).map_err(|e| e.to_string())?;
    table.check()?;
    Ok(table)
}

/// The table, parsed once; a malformed table fails the job that needs it.
pub fn table() -> Result<&'static Table, Failure> {
    static TABLE: OnceLock<Result<Table, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| parse(TABLE_JSON))
        .as_ref()
        .map_err(|e| Failure(format!("the nexus thresholds table is malformed: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn date(s: &str) -> Date {
        serde_json::from_value(json!(s)).expect("a date")
    }

    fn state(code: &str) -> StateCode {
        StateCode::from_code(code).expect("a state")
    }

    fn loaded() -> &'static Table {
        table().expect("the table is well formed")
    }

    #[test]
    fn the_table_is_well_formed() {
        // Parsing refuses an unknown state code, a bad date, a negative or
        // fractional figure, an unknown rule or comparison, an unknown field;
        // `check` the rest (order, one row per state and date, figures
        // consistent with the rule).
        let t = loaded();
        assert!(t.note().contains("NOT fetched"), "{}", t.note());
        assert!(!t.rows().is_empty());
        assert!(
            t.rows()
                .windows(2)
                .all(|w| (w[0].state(), w[0].effective_from())
                    < (w[1].state(), w[1].effective_from()))
        );
    }

    #[test]
    fn every_row_is_pinned() {
        // AGENTS.md's table, in cents ($500,000 = 50_000_000; $100,000 = 10_000_000),
        // with the dates each rule took effect.
        let rows = serde_json::to_value(loaded().rows()).expect("serialises");
        assert_eq!(
            rows,
            json!([
                {"state": "CA", "effective_from": "2019-04-01", "sales_cents": 50_000_000,
                 "transactions": null, "rule": "sales", "comparison": "more_than",
                 "source": "CDTFA, R&TC 6203"},
                {"state": "FL", "effective_from": "2021-07-01", "sales_cents": 10_000_000,
                 "transactions": null, "rule": "sales", "comparison": "more_than",
                 "source": "FL DOR, F.S. 212.0596"},
                {"state": "GA", "effective_from": "2020-01-01", "sales_cents": 10_000_000,
                 "transactions": 200, "rule": "sales_or_transactions",
                 "comparison": {"sales": "more_than", "transactions": "at_least"},
                 "source": "GA DOR, O.C.G.A. 48-8-2"},
                {"state": "IL", "effective_from": "2018-10-01", "sales_cents": 10_000_000,
                 "transactions": 200, "rule": "sales_or_transactions", "comparison": "at_least",
                 "source": "IL DOR, Public Act 100-0587"},
                {"state": "IL", "effective_from": "2026-01-01", "sales_cents": 10_000_000,
                 "transactions": null, "rule": "sales", "comparison": "at_least",
                 "source": "IL DOR, Public Act 103-0592"},
                {"state": "NY", "effective_from": "2018-06-21", "sales_cents": 30_000_000,
                 "transactions": 100, "rule": "sales_and_transactions", "comparison": "more_than",
                 "source": "NY DTF, TB-ST-155"},
                {"state": "NY", "effective_from": "2019-06-24", "sales_cents": 50_000_000,
                 "transactions": 100, "rule": "sales_and_transactions", "comparison": "more_than",
                 "source": "NY DTF, TB-ST-155"},
                {"state": "PA", "effective_from": "2019-07-01", "sales_cents": 10_000_000,
                 "transactions": null, "rule": "sales", "comparison": "more_than",
                 "source": "PA DOR, 72 P.S. 7213.2"},
                {"state": "TX", "effective_from": "2019-10-01", "sales_cents": 50_000_000,
                 "transactions": null, "rule": "sales", "comparison": "at_least",
                 "source": "Texas Comptroller, 34 TAC 3.286"},
                {"state": "WA", "effective_from": "2020-01-01", "sales_cents": 10_000_000,
                 "transactions": null, "rule": "sales", "comparison": "more_than",
                 "source": "WA DOR, RCW 82.08.0531"},
            ])
        );
    }

    #[test]
    fn the_rule_in_force_is_the_latest_that_took_effect_by_the_date() {
        let t = loaded();
        let il = |d: &str| t.in_force(state("IL"), date(d)).map(|r| r.rule);
        assert_eq!(il("2018-09-30"), None);
        assert_eq!(il("2018-10-01"), Some(Rule::SalesOrTransactions));
        assert_eq!(il("2025-12-31"), Some(Rule::SalesOrTransactions));
        assert_eq!(il("2026-01-01"), Some(Rule::Sales));
        assert_eq!(il("2030-06-30"), Some(Rule::Sales));
        // NY: $300,000 from 2018-06-21, $500,000 from 2019-06-24.
        let ny = |d: &str| t.in_force(state("NY"), date(d)).map(|r| r.sales_cents);
        assert_eq!(ny("2018-06-20"), None);
        assert_eq!(ny("2019-06-23").map(|c| c.get()), Some(30_000_000));
        assert_eq!(ny("2019-06-24").map(|c| c.get()), Some(50_000_000));
        // Before CA's rule took effect there is none in force.
        assert!(t.in_force(state("CA"), date("2019-03-31")).is_none());
        assert!(t.in_force(state("CA"), date("2019-04-01")).is_some());
        // A state the table does not hold.
        assert!(t.in_force(state("OR"), date("2026-06-30")).is_none());
    }

    #[test]
    fn more_than_and_at_least_differ_exactly_at_the_threshold() {
        let t = loaded();
        let row = |code: &str| t.in_force(state(code), date("2026-06-30")).expect("a rule");
        // CA: more than 50_000_000.
        assert!(!row("CA").holds(50_000_000, 1));
        assert!(row("CA").holds(50_000_001, 1));
        // TX: at least 50_000_000.
        assert!(!row("TX").holds(49_999_999, 1_000));
        assert!(row("TX").holds(50_000_000, 0));
        // NY: more than 50_000_000 and more than 100 transactions.
        assert!(!row("NY").holds(50_000_001, 100));
        assert!(!row("NY").holds(50_000_000, 101));
        assert!(row("NY").holds(50_000_001, 101));
        // GA: more than 10_000_000 or at least 200 transactions.
        assert!(!row("GA").holds(10_000_000, 199));
        assert!(row("GA").holds(10_000_000, 200));
        assert!(row("GA").holds(10_000_001, 0));
        // IL from 2026: at least 10_000_000, transactions do not count.
        assert!(row("IL").holds(10_000_000, 0));
        assert!(!row("IL").holds(9_999_999, 10_000));
        // IL before 2026: or at least 200 transactions.
        let old = t.in_force(state("IL"), date("2025-12-31")).expect("a rule");
        assert!(old.holds(0, 200));
        assert!(!old.holds(9_999_999, 199));
    }

    fn malformed(rows: Value) -> String {
        parse(&json!({"note": "n", "rows": rows}).to_string()).expect_err("malformed")
    }

    #[test]
    fn a_malformed_table_is_refused_saying_why() {
        let row = |state: &str, from: &str| {
            json!({"state": state, "effective_from": from, "sales_cents": 100,
                   "transactions": null, "rule": "sales", "comparison": "more_than",
                   "source": "s"})
        };
        assert!(
            parse(&json!({"note": "n", "rows": [row("CA", "2020-01-01")]}).to_string()).is_ok()
        );
        // Out of order, and a repeated state and date.
        assert!(
            malformed(json!([row("TX", "2020-01-01"), row("CA", "2020-01-01")]))
                .contains("not in order")
        );
        assert!(
            malformed(json!([row("CA", "2021-01-01"), row("CA", "2020-01-01")]))
                .contains("not in order")
        );
        assert!(
            malformed(json!([row("CA", "2020-01-01"), row("CA", "2020-01-01")]))
                .contains("not in order")
        );
        // Unknown or lower-case state codes, bad dates, unknown fields.
        for bad in [
            row("PR", "2020-01-01"),
            row("ca", "2020-01-01"),
            row("CA", "2020-1-1"),
        ] {
            malformed(json!([bad]));
        }
        let mut extra = row("CA", "2020-01-01");
        extra["threshold"] = json!(1);
        malformed(json!([extra]));
        // Figures inconsistent with the rule or the comparison.
        let mut with_transactions = row("CA", "2020-01-01");
        with_transactions["transactions"] = json!(200);
        assert!(malformed(json!([with_transactions])).contains("no transactions threshold"));
        let mut or_without = row("CA", "2020-01-01");
        or_without["rule"] = json!("sales_or_transactions");
        assert!(malformed(json!([or_without])).contains("needs a transactions threshold"));
        let mut same = row("CA", "2020-01-01");
        same["rule"] = json!("sales_or_transactions");
        same["transactions"] = json!(200);
        same["comparison"] = json!({"sales": "at_least", "transactions": "at_least"});
        assert!(malformed(json!([same])).contains("one comparison"));
        let mut unknown = row("CA", "2020-01-01");
        unknown["comparison"] = json!("exceeds");
        malformed(json!([unknown]));
        let mut no_source = row("CA", "2020-01-01");
        no_source["source"] = json!(" ");
        assert!(malformed(json!([no_source])).contains("no source"));
        assert!(parse(&json!({"note": "", "rows": []}).to_string()).is_err());
    }
}
