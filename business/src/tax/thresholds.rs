//! The sales tax economic nexus table: data in the crate, one file
//! (`nexus_thresholds.json`), parsed once into typed rows.
//!
//! Every state and DC has rows. A row is a state's rule from the date it
//! took effect ([`Kind::SalesTax`]): a sales threshold in cents, maybe a
//! transactions threshold, how the two combine ([`Rule`]), whether a figure
//! must be more than or at least its threshold ([`Comparison`]), over what
//! the state measures ([`Period`]) and what it sums ([`Basis`]). The five
//! states without a state sales tax (AK, DE, MT, NH, OR) have one
//! [`Kind::NoSalesTax`] row and no figures; Alaska's local remote-seller
//! code (ARSSTC, which its member localities apply) has its own
//! [`Kind::LocalRemoteSeller`] rows, counted apart from the state-level
//! ones. [`Table::in_force`] picks the state-level row in force on a date:
//! the latest that took effect on or before it.
//!
//! **Provenance.** Each row names its `source` (the statute or the
//! state's publication), the `url` it was read at, `verified_on` (when it
//! was checked against that page) and, when the row rests on a tax firm's
//! or vendor's summary rather than the state's own text, that summary in
//! `secondary`; its `note` says what the row rests on and any nuance. The
//! file's `note` says how the table was sourced and which rules it leaves
//! out on purpose, since JSON has no comments.
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

/// What a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A state-level economic nexus rule.
    SalesTax,
    /// The state has no state sales tax: no figures.
    NoSalesTax,
    /// Alaska's local remote-seller code (ARSSTC), applied by its member
    /// localities; counted apart from the state-level rows.
    LocalRemoteSeller,
}

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

/// Over what a state measures the sales and transactions it compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The previous or the current calendar year.
    CalendarPreviousOrCurrent,
    /// The preceding 12 months, rolling.
    #[serde(rename = "previous_12_months")]
    Previous12Months,
    /// The four preceding quarters (12 months ending with the last
    /// completed quarter).
    #[serde(rename = "previous_4_quarters")]
    Previous4Quarters,
    /// New York's four preceding sales tax quarters (March to May, ...).
    #[serde(rename = "ny_previous_4_sales_quarters")]
    NyPrevious4SalesQuarters,
    /// The previous calendar year only.
    PreviousCalendarYear,
}

/// Which sales a state sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesBasis {
    /// Every sale into the state, taxable and exempt.
    Gross,
    /// Retail sales (sales for resale excluded).
    Retail,
    /// Taxable sales only.
    Taxable,
}

/// Whether a seller's sales made through a marketplace facilitator count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Marketplace {
    /// They count toward the seller's threshold.
    Included,
    /// They do not.
    Excluded,
}

/// What a state sums, as a result shows it: `{"sales", "marketplace"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Basis {
    /// Which sales.
    pub sales: SalesBasis,
    /// Whether marketplace sales count.
    pub marketplace: Marketplace,
}

/// A threshold as a result shows it (`NexusThreshold` in
/// `infra/openapi.yaml`).
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

/// One row: a state's rule from the date it took effect, or that it has
/// no state sales tax, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    state: StateCode,
    kind: Kind,
    effective_from: Date,
    sales_cents: Option<Cents>,
    transactions: Option<u64>,
    rule: Option<Rule>,
    comparison: Option<Comparison>,
    period: Option<Period>,
    basis: Option<Basis>,
    source: String,
    url: String,
    verified_on: Option<Date>,
    secondary: Option<String>,
    note: String,
}

impl Row {
    /// The state the row is for.
    pub fn state(&self) -> StateCode {
        self.state
    }

    /// What the row is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The date the rule took effect.
    pub fn effective_from(&self) -> Date {
        self.effective_from
    }

    /// Where the rule comes from (agency, statute or regulation).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// When the row was checked against its `url`, if it was.
    pub fn verified_on(&self) -> Option<Date> {
        self.verified_on
    }

    /// The summary the row rests on, when it is not the state's own text.
    pub fn secondary(&self) -> Option<&str> {
        self.secondary.as_deref()
    }

    /// Over what the state measures; `None` for a state without sales tax.
    pub fn period(&self) -> Option<Period> {
        self.period
    }

    /// What the state sums; `None` for a state without sales tax.
    pub fn basis(&self) -> Option<Basis> {
        self.basis
    }

    /// The threshold as a result shows it; `None` for a state without
    /// sales tax.
    pub fn threshold(&self) -> Option<Threshold> {
        Some(Threshold {
            sales_cents: self.sales_cents?.get(),
            transactions: self.transactions,
            rule: self.rule?,
            comparison: self.comparison?,
        })
    }

    /// Whether the rule holds for `sales_cents` of sales in `transactions`
    /// transactions: economic nexus. Never for a state without sales tax.
    pub fn holds(&self, sales_cents: i64, transactions: u64) -> bool {
        let Some(threshold) = self.threshold() else {
            return false;
        };
        // Sales are sums of amounts ≥ 0; a negative one cannot pass.
        let sales_pass = u64::try_from(sales_cents).is_ok_and(|s| {
            threshold
                .comparison
                .sales()
                .passes(s, threshold.sales_cents.unsigned_abs())
        });
        let transactions_pass = threshold
            .transactions
            .is_some_and(|t| threshold.comparison.transactions().passes(transactions, t));
        match threshold.rule {
            Rule::Sales => sales_pass,
            Rule::SalesAndTransactions => sales_pass && transactions_pass,
            Rule::SalesOrTransactions => sales_pass || transactions_pass,
        }
    }

    /// Whether the row is a state-level one (not Alaska's local code).
    fn state_level(&self) -> bool {
        self.kind != Kind::LocalRemoteSeller
    }

    /// Checks one row: figures exactly when it has a rule, a transactions
    /// threshold exactly when the rule uses one, a comparison per figure
    /// only when two figures compare differently, a source, an address
    /// and a note.
    fn check(&self) -> Result<(), String> {
        let at = format!("row {} {}", self.state, self.effective_from);
        let figures = [
            self.sales_cents.is_some(),
            self.rule.is_some(),
            self.comparison.is_some(),
            self.period.is_some(),
            self.basis.is_some(),
        ];
        match self.kind {
            Kind::NoSalesTax if figures.iter().any(|f| *f) || self.transactions.is_some() => {
                return Err(format!("{at}: a state without sales tax has no figures"));
            }
            Kind::SalesTax | Kind::LocalRemoteSeller if !figures.iter().all(|f| *f) => {
                return Err(format!(
                    "{at}: a rule needs sales_cents, rule, comparison, period and basis"
                ));
            }
            Kind::LocalRemoteSeller if self.state.code() != "AK" => {
                return Err(format!("{at}: only Alaska has a local remote-seller code"));
            }
            _ => {}
        }
        match (self.rule, self.transactions) {
            (Some(Rule::Sales), Some(_)) => {
                return Err(format!("{at}: a sales rule has no transactions threshold"));
            }
            (Some(Rule::SalesAndTransactions | Rule::SalesOrTransactions), None) => {
                return Err(format!("{at}: the rule needs a transactions threshold"));
            }
            (_, Some(0)) => return Err(format!("{at}: a transactions threshold of 0")),
            _ => {}
        }
        if let Some(Comparison::PerFigure(p)) = self.comparison {
            if self.rule == Some(Rule::Sales) {
                return Err(format!("{at}: one figure, so one comparison"));
            }
            if p.sales == p.transactions {
                return Err(format!(
                    "{at}: both figures compare the same way, so one comparison"
                ));
            }
        }
        if self.source.trim().is_empty() {
            return Err(format!("{at}: no source"));
        }
        if !self.url.starts_with("https://") && !self.url.starts_with("http://") {
            return Err(format!("{at}: the url is no web address"));
        }
        if self.note.trim().is_empty() {
            return Err(format!("{at}: no note"));
        }
        match (&self.secondary, self.verified_on) {
            (Some(s), _) if s.trim().is_empty() => {
                return Err(format!("{at}: a blank secondary source"));
            }
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{at}: a row resting on a secondary source was not verified \
                     against the state's text"
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

/// The whole table: a provenance note and the rows, sorted by state, then
/// state-level rows before local ones, then date.
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

    /// Every row, in the table's order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// `state`'s state-level row in force on `date`: the one that took
    /// effect latest on or before it. `None` when the state's first rule
    /// took effect later.
    pub fn in_force(&self, state: StateCode, date: Date) -> Option<&Row> {
        self.latest(state, date, true)
    }

    /// `state`'s local remote-seller row (Alaska's ARSSTC) in force on
    /// `date`, if it has one.
    pub fn local_in_force(&self, state: StateCode, date: Date) -> Option<&Row> {
        self.latest(state, date, false)
    }

    fn latest(&self, state: StateCode, date: Date, state_level: bool) -> Option<&Row> {
        // Rows are sorted by date within a state and level, so the last one
        // that has taken effect is the latest.
        self.rows.iter().rev().find(|r| {
            r.state == state && r.state_level() == state_level && r.effective_from <= date
        })
    }

    /// Checks what parsing cannot: a note, rows in order with one row per
    /// state, level and date (so no state ever has two state-level rows in
    /// force on one date), and each row ([`Row::check`]).
    fn check(&self) -> Result<(), String> {
        if self.note.trim().is_empty() {
            return Err("the note is empty".to_owned());
        }
        let key = |r: &Row| (r.state, !r.state_level(), r.effective_from);
        for pair in self.rows.windows(2) {
            if let [a, b] = pair
                && key(a) >= key(b)
            {
                return Err(format!(
                    "rows {} {} and {} {} are not in order (state, level, then date) or repeat",
                    a.state, a.effective_from, b.state, b.effective_from
                ));
            }
        }
        self.rows.iter().try_for_each(Row::check)
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
    use crate::tax::address::STATES;

    fn date(s: &str) -> Date {
        serde_json::from_value(json!(s)).expect("a date")
    }

    fn state(code: &str) -> StateCode {
        StateCode::from_code(code).expect("a state")
    }

    fn loaded() -> &'static Table {
        table().expect("the table is well formed")
    }

    /// A row in one line: state, date, and what it says.
    fn pinned(row: &Row) -> String {
        let base = format!("{} {}", row.state, row.effective_from);
        let Some(t) = row.threshold() else {
            return format!("{base} no state sales tax");
        };
        let sign = |c: Compare| match c {
            Compare::MoreThan => ">",
            Compare::AtLeast => ">=",
        };
        let mut says = format!("sales {} {}", sign(t.comparison.sales()), t.sales_cents);
        if let Some(transactions) = t.transactions {
            let joined = match t.rule {
                Rule::SalesAndTransactions => "and",
                _ => "or",
            };
            says.push_str(&format!(
                " {joined} transactions {} {transactions}",
                sign(t.comparison.transactions())
            ));
        }
        let local = if row.kind == Kind::LocalRemoteSeller {
            "ARSSTC "
        } else {
            ""
        };
        let basis = row.basis.expect("a rule has a basis");
        format!(
            "{base} {local}{says}, {}, {} with marketplace {}",
            name(&row.period.expect("a rule has a period")),
            name(&basis.sales),
            name(&basis.marketplace)
        )
    }

    /// The serialised name of an enum value, for [`pinned`].
    fn name(value: &impl Serialize) -> String {
        serde_json::to_value(value)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    #[test]
    fn every_row_is_pinned() {
        // In cents: $500,000 = 50000000, $250,000 = 25000000, $100,000 = 10000000.
        // Each row's source, url and note are in the file; these are its figures.
        let rows: Vec<String> = loaded().rows().iter().map(pinned).collect();
        let expected = [
            "AK 1900-01-01 no state sales tax",
            "AK 2020-04-01 ARSSTC sales >= 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "AK 2025-01-01 ARSSTC sales >= 10000000, calendar_previous_or_current, gross with marketplace included",
            "AL 2018-10-01 sales > 25000000, previous_calendar_year, retail with marketplace excluded",
            "AR 2019-07-01 sales > 10000000 or transactions > 200, calendar_previous_or_current, taxable with marketplace excluded",
            "AZ 2019-10-01 sales > 20000000, calendar_previous_or_current, gross with marketplace excluded",
            "AZ 2020-01-01 sales > 15000000, calendar_previous_or_current, gross with marketplace excluded",
            "AZ 2021-01-01 sales > 10000000, calendar_previous_or_current, gross with marketplace excluded",
            "CA 2019-04-01 sales > 50000000, calendar_previous_or_current, gross with marketplace included",
            "CO 2018-12-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "CO 2019-04-14 sales > 10000000, calendar_previous_or_current, gross with marketplace included",
            "CO 2019-06-01 sales > 10000000, calendar_previous_or_current, retail with marketplace excluded",
            "CT 2018-12-01 sales >= 25000000 and transactions >= 200, previous_4_quarters, retail with marketplace included",
            "CT 2019-07-01 sales >= 10000000 and transactions >= 200, previous_4_quarters, retail with marketplace included",
            "DC 2019-01-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, retail with marketplace included",
            "DE 1900-01-01 no state sales tax",
            "FL 2021-07-01 sales > 10000000, previous_calendar_year, taxable with marketplace excluded",
            "GA 2019-01-01 sales > 25000000 or transactions >= 200, calendar_previous_or_current, retail with marketplace included",
            "GA 2020-01-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, retail with marketplace included",
            "GA 2020-04-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, retail with marketplace excluded",
            "HI 2018-07-01 sales >= 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "IA 2019-01-01 sales >= 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "IA 2019-07-01 sales >= 10000000, calendar_previous_or_current, gross with marketplace included",
            "ID 2019-06-01 sales > 10000000, calendar_previous_or_current, gross with marketplace included",
            "IL 2018-10-01 sales >= 10000000 or transactions >= 200, previous_4_quarters, retail with marketplace included",
            "IL 2020-01-01 sales >= 10000000 or transactions >= 200, previous_4_quarters, retail with marketplace excluded",
            "IL 2026-01-01 sales >= 10000000, previous_4_quarters, retail with marketplace excluded",
            "IN 2018-10-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "IN 2019-07-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace excluded",
            "IN 2024-01-01 sales > 10000000, calendar_previous_or_current, gross with marketplace excluded",
            "KS 2021-07-01 sales > 10000000, calendar_previous_or_current, gross with marketplace included",
            "KY 2018-10-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "LA 2020-07-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace excluded",
            "LA 2023-08-01 sales > 10000000, calendar_previous_or_current, gross with marketplace excluded",
            "MA 2019-10-01 sales > 10000000, calendar_previous_or_current, gross with marketplace excluded",
            "MD 2018-10-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "ME 2018-07-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "ME 2019-10-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace excluded",
            "ME 2022-01-01 sales > 10000000, calendar_previous_or_current, gross with marketplace excluded",
            "MI 2018-10-01 sales > 10000000 or transactions >= 200, previous_calendar_year, gross with marketplace included",
            "MN 2019-10-01 sales > 10000000 or transactions >= 200, previous_4_quarters, retail with marketplace included",
            "MO 2023-01-01 sales > 10000000, previous_4_quarters, taxable with marketplace included",
            "MS 2018-09-01 sales > 25000000, previous_12_months, gross with marketplace included",
            "MS 2020-07-01 sales > 25000000, previous_12_months, gross with marketplace excluded",
            "MT 1900-01-01 no state sales tax",
            "NC 2018-11-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "NC 2024-07-01 sales > 10000000, calendar_previous_or_current, gross with marketplace included",
            "ND 2018-10-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, taxable with marketplace included",
            "ND 2019-07-01 sales > 10000000, calendar_previous_or_current, taxable with marketplace included",
            "ND 2019-10-01 sales > 10000000, calendar_previous_or_current, taxable with marketplace excluded",
            "NE 2019-01-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, retail with marketplace included",
            "NH 1900-01-01 no state sales tax",
            "NJ 2018-11-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "NM 2019-07-01 sales >= 10000000, previous_calendar_year, taxable with marketplace excluded",
            "NV 2018-10-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, retail with marketplace included",
            "NY 2018-06-21 sales > 50000000 and transactions > 100, ny_previous_4_sales_quarters, gross with marketplace included",
            "OH 2019-08-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, retail with marketplace included",
            "OK 2019-11-01 sales >= 10000000, calendar_previous_or_current, taxable with marketplace excluded",
            "OR 1900-01-01 no state sales tax",
            "PA 2019-07-01 sales > 10000000, previous_calendar_year, gross with marketplace included",
            "RI 2019-07-01 sales >= 10000000 or transactions >= 200, previous_calendar_year, gross with marketplace included",
            "SC 2018-11-01 sales > 10000000, calendar_previous_or_current, gross with marketplace excluded",
            "SD 2018-11-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "SD 2023-07-01 sales > 10000000, calendar_previous_or_current, gross with marketplace included",
            "TN 2019-10-01 sales > 50000000, previous_12_months, retail with marketplace included",
            "TN 2020-10-01 sales > 10000000, previous_12_months, retail with marketplace excluded",
            "TX 2019-10-01 sales >= 50000000, previous_12_months, gross with marketplace included",
            "UT 2019-01-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "UT 2019-10-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace excluded",
            "UT 2025-07-01 sales > 10000000, calendar_previous_or_current, gross with marketplace excluded",
            "VA 2019-07-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, retail with marketplace excluded",
            "VT 2018-07-01 sales >= 10000000 or transactions >= 200, previous_12_months, gross with marketplace included",
            "WA 2018-10-01 sales >= 10000000 or transactions >= 200, calendar_previous_or_current, retail with marketplace included",
            "WA 2019-03-14 sales > 10000000, calendar_previous_or_current, retail with marketplace included",
            "WA 2020-01-01 sales > 10000000, calendar_previous_or_current, gross with marketplace included",
            "WI 2018-10-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "WI 2021-02-20 sales > 10000000, calendar_previous_or_current, gross with marketplace included",
            "WV 2019-01-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "WV 2019-07-01 sales >= 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "WY 2019-02-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace included",
            "WY 2020-07-01 sales > 10000000 or transactions >= 200, calendar_previous_or_current, gross with marketplace excluded",
            "WY 2024-07-01 sales > 10000000, calendar_previous_or_current, gross with marketplace excluded",
        ];
        assert_eq!(rows, expected);
    }

    #[test]
    fn every_state_and_dc_has_one_state_level_rule_on_any_date_from_2023() {
        let t = loaded();
        // No two state-level rows of a state take effect on one date (the
        // order check refuses a repeat), so on any date at most one is in
        // force; from 2023-01-01 every state and DC has one, AK's ARSSTC
        // rows counted apart.
        for (code, _) in STATES {
            let s = state(code);
            let dates: Vec<Date> = t
                .rows()
                .iter()
                .filter(|r| r.state() == s && r.kind() != Kind::LocalRemoteSeller)
                .map(Row::effective_from)
                .collect();
            assert!(dates.windows(2).all(|w| w[0] < w[1]), "{code}: {dates:?}");
            assert!(
                dates.first().is_some_and(|d| *d <= date("2023-01-01")),
                "{code} has a state-level row in force from 2023-01-01"
            );
            for day in ["2023-01-01", "2024-06-30", "2026-01-01", "2026-12-31"] {
                assert!(t.in_force(s, date(day)).is_some(), "{code} {day}");
            }
        }
        // The five without a state sales tax, and only they.
        let without: Vec<&str> = t
            .rows()
            .iter()
            .filter(|r| r.kind() == Kind::NoSalesTax)
            .map(|r| r.state().code())
            .collect();
        assert_eq!(without, ["AK", "DE", "MT", "NH", "OR"]);
        // Alaska's local code is its own rows.
        let ak = state("AK");
        assert_eq!(
            t.in_force(ak, date("2026-06-30")).map(Row::kind),
            Some(Kind::NoSalesTax)
        );
        assert_eq!(
            t.local_in_force(ak, date("2026-06-30")).map(Row::kind),
            Some(Kind::LocalRemoteSeller)
        );
        assert!(t.local_in_force(ak, date("2020-03-31")).is_none());
        assert!(t.local_in_force(state("TX"), date("2026-06-30")).is_none());
    }

    #[test]
    fn every_row_says_where_it_comes_from_and_when_it_was_checked() {
        let t = loaded();
        for row in t.rows() {
            let at = format!("{} {}", row.state(), row.effective_from());
            // Checked against the state's own text on the one day the table
            // was sourced; a row resting on a summary was not.
            let verified = row.secondary().is_none().then(|| date("2026-12-07"));
            assert_eq!(row.verified_on(), verified, "{at}");
            assert!(!row.source().trim().is_empty(), "{at}");
        }
        let verified = t
            .rows()
            .iter()
            .filter(|r| r.verified_on().is_some())
            .count();
        assert_eq!((verified, t.rows().len()), (47, 82));
        assert!(t.note().contains("secondary"), "{}", t.note());
        // The action contract's corrections (revision 2) hold.
        let source = |code: &str, day: &str| {
            t.in_force(state(code), date(day))
                .map(Row::source)
                .unwrap_or_default()
        };
        assert!(source("IL", "2026-06-30").contains("104-0006"));
        assert!(source("PA", "2026-06-30").contains("Act 13 of 2019"));
        assert!(source("WA", "2026-06-30").contains("82.08.052"));
        assert!(source("NY", "2026-06-30").contains("TSB-M-19(4)S"));
        assert_eq!(source("CA", "2026-06-30"), "CDTFA, R&TC 6203");
        assert_eq!(
            source("TX", "2026-06-30"),
            "Texas Comptroller, 34 TAC 3.286"
        );
    }

    #[test]
    fn the_rule_in_force_is_the_latest_that_took_effect_by_the_date() {
        let t = loaded();
        let il = |d: &str| {
            t.in_force(state("IL"), date(d))
                .and_then(|r| r.threshold())
                .map(|t| t.rule)
        };
        assert_eq!(il("2018-09-30"), None);
        assert_eq!(il("2018-10-01"), Some(Rule::SalesOrTransactions));
        assert_eq!(il("2025-12-31"), Some(Rule::SalesOrTransactions));
        assert_eq!(il("2026-01-01"), Some(Rule::Sales));
        assert_eq!(il("2030-06-30"), Some(Rule::Sales));
        // NY: one row, $500,000 from 2018-06-21 (retroactive): no $300,000 row.
        let ny = |d: &str| {
            t.in_force(state("NY"), date(d))
                .and_then(|r| r.threshold())
                .map(|t| t.sales_cents)
        };
        assert_eq!(ny("2018-06-20"), None);
        assert_eq!(ny("2018-06-21"), Some(50_000_000));
        assert_eq!(ny("2019-06-23"), Some(50_000_000));
        // WA: $100,000 or 200 transactions (at least) from 2018-10-01, sales
        // only (more than) from 2019-03-14.
        let wa = |d: &str| t.in_force(state("WA"), date(d)).and_then(|r| r.threshold());
        let wa_2018 = wa("2019-03-13").expect("a rule");
        assert_eq!(
            (wa_2018.rule, wa_2018.transactions, wa_2018.comparison),
            (
                Rule::SalesOrTransactions,
                Some(200),
                Comparison::Both(Compare::AtLeast)
            )
        );
        assert_eq!(wa("2019-03-14").map(|t| t.rule), Some(Rule::Sales));
        // GA: $250,000 or 200 in 2019 (more than / at least), $100,000 from 2020.
        let ga = |d: &str| t.in_force(state("GA"), date(d)).and_then(|r| r.threshold());
        let ga_2019 = ga("2019-06-30").expect("a rule");
        assert_eq!(ga_2019.sales_cents, 25_000_000);
        assert_eq!(
            ga_2019.comparison,
            Comparison::PerFigure(PerFigure {
                sales: Compare::MoreThan,
                transactions: Compare::AtLeast
            })
        );
        assert_eq!(ga("2020-01-01").map(|t| t.sales_cents), Some(10_000_000));
        // The states that dropped their transaction tests, each on its date.
        for (code, last_with, first_without) in [
            ("SD", "2023-06-30", "2023-07-01"),
            ("LA", "2023-07-31", "2023-08-01"),
            ("IN", "2023-12-31", "2024-01-01"),
            ("WY", "2024-06-30", "2024-07-01"),
            ("NC", "2024-06-30", "2024-07-01"),
            ("UT", "2025-06-30", "2025-07-01"),
            ("IL", "2025-12-31", "2026-01-01"),
        ] {
            let rule = |d: &str| {
                t.in_force(state(code), date(d))
                    .and_then(|r| r.threshold())
                    .map(|t| t.rule)
            };
            assert_eq!(
                rule(last_with),
                Some(Rule::SalesOrTransactions),
                "{code} {last_with}"
            );
            assert_eq!(
                rule(first_without),
                Some(Rule::Sales),
                "{code} {first_without}"
            );
        }
        // Before CA's rule took effect there is none in force.
        assert!(t.in_force(state("CA"), date("2019-03-31")).is_none());
        assert!(t.in_force(state("CA"), date("2019-04-01")).is_some());
        // A state without sales tax: a row, no threshold, never economic.
        let or = t.in_force(state("OR"), date("2026-06-30")).expect("a row");
        assert_eq!((or.kind(), or.threshold()), (Kind::NoSalesTax, None));
        assert!(!or.holds(i64::MAX, u64::MAX));
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
            json!({"state": state, "kind": "sales_tax", "effective_from": from,
                   "sales_cents": 100, "transactions": null, "rule": "sales",
                   "comparison": "more_than", "period": "previous_12_months",
                   "basis": {"sales": "gross", "marketplace": "included"},
                   "source": "s", "url": "https://example.test/", "verified_on": null,
                   "secondary": null, "note": "n"})
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
        // Figures inconsistent with the rule, the comparison or the kind.
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
        let mut no_period = row("CA", "2020-01-01");
        no_period["period"] = Value::Null;
        assert!(malformed(json!([no_period])).contains("needs sales_cents"));
        let mut no_tax_with_figures = row("OR", "1900-01-01");
        no_tax_with_figures["kind"] = json!("no_sales_tax");
        assert!(malformed(json!([no_tax_with_figures])).contains("no figures"));
        let mut local = row("CA", "2020-01-01");
        local["kind"] = json!("local_remote_seller");
        assert!(malformed(json!([local])).contains("only Alaska"));
        let mut no_source = row("CA", "2020-01-01");
        no_source["source"] = json!(" ");
        assert!(malformed(json!([no_source])).contains("no source"));
        let mut summary_verified = row("CA", "2020-01-01");
        summary_verified["secondary"] = json!("a firm's summary");
        summary_verified["verified_on"] = json!("2026-12-07");
        assert!(malformed(json!([summary_verified])).contains("not verified"));
        let mut no_url = row("CA", "2020-01-01");
        no_url["url"] = json!("cdtfa.ca.gov");
        assert!(malformed(json!([no_url])).contains("no web address"));
        assert!(parse(&json!({"note": "", "rows": []}).to_string()).is_err());
    }
}
