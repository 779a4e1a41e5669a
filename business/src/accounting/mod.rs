//! The accounting agent's actions: customer records and the books.
//!
//! - [`ResolveEntities`] (`resolve_entities`, complexity 3): customer
//!   records deduplicated by normalised email into entities, with the merge
//!   plan that links every source record to its entity. The action changes
//!   nothing itself: the caller applies the plan.
//! - [`CategorizeTransactions`] (`categorize_transactions`, complexity 1):
//!   each transaction categorised by the first rule whose pattern its
//!   description contains (plain text, case-insensitive), with the count
//!   and signed total per category.
//! - [`DetectAnomalies`] (`detect_anomalies`, complexity 1): amounts far
//!   from their category's median by robust z-score, and likely duplicate
//!   payments (same amount and counterparty within 24 hours).
//! - [`Reconcile`] (`reconcile`, complexity 1): bank entries matched to
//!   ledger entries of equal amount at most 3 days apart, preferring an
//!   equal reference, and the totals and difference of both sides.
//! - [`DraftInvoice`] (`draft_invoice`, complexity 2): an invoice priced
//!   from deposits, the service catalogue, line metadata or a default
//!   price (never an invented one), with tax rounded half-even.
//!
//! Amounts in the books are signed cents (a refund, a payment out), each
//! within ±10^15; a total past that is refused at submission. Medians,
//! z-scores and tax are exact rationals, rounded once where the result
//! shows them.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::de::{self, Deserializer, Unexpected};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::exact::{Figure, Rational};
use crate::fields::{self, Cents, Currency, Date, Fraction, Quantity, SignedCents, Text};
use crate::{AgentType, BusinessAction, Complexity, Failure, InvalidInput, Outcome};

/// Mail providers that deliver `local+tag@domain` to `local@domain`.
pub const PLUS_TAG_PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "icloud.com",
    "me.com",
    "fastmail.com",
    "proton.me",
    "protonmail.com",
];

/// Normalises an email address so that addresses delivered to one mailbox
/// compare equal, or says why it is not an address.
///
/// Surrounding whitespace is trimmed and the whole address lower-cased; it
/// must then have exactly one `@`, a non-empty local part and a domain that
/// contains a `.`. For [`PLUS_TAG_PROVIDERS`] everything from the first `+`
/// of the local part is dropped; for `gmail.com` (and `googlemail.com`, the
/// same mailboxes, which becomes `gmail.com`) the local part's dots are
/// dropped too. A local part that this leaves empty is refused.
pub fn normalise_email(raw: &str) -> Result<String, String> {
    let address = raw.trim().to_lowercase();
    let Some((local, domain)) = address.split_once('@') else {
        return Err("an email address needs an '@'".to_owned());
    };
    if domain.contains('@') {
        return Err("an email address has exactly one '@'".to_owned());
    }
    if local.is_empty() {
        return Err("the part before the '@' is empty".to_owned());
    }
    if !domain.contains('.') {
        return Err(format!("the domain {domain:?} has no '.'"));
    }
    let local = if PLUS_TAG_PROVIDERS.contains(&domain) {
        local.split_once('+').map_or(local, |(before, _)| before)
    } else {
        local
    };
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com"),
        _ => (local.to_owned(), domain),
    };
    if local.is_empty() {
        return Err(format!(
            "the part before the '@' is empty once {domain}'s +tag and dots are dropped"
        ));
    }
    Ok(format!("{local}@{domain}"))
}

/// `resolve_entities`: customer records grouped by normalised email into
/// entities, and the merges that fold duplicates into one survivor.
///
/// Entities are ordered by their smallest record id (string order), the
/// records of an entity by id; an entity's id is its smallest record id.
/// Only entities of more than one record have a merge: the smallest id
/// survives, the others (ascending) merge into it.
pub struct ResolveEntities;

/// `resolve_entities`'s input.
#[derive(Debug, Deserialize)]
pub struct ResolveEntitiesInput {
    records: Vec<CustomerRecord>,
}

/// A customer record from some source system.
#[derive(Debug, Deserialize)]
struct CustomerRecord {
    id: Text,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    name: Option<String>,
    email: String,
}

/// A record as listed in its entity.
#[derive(Debug, Serialize)]
struct RecordRef<'a> {
    id: &'a Text,
    source: Option<&'a str>,
    name: Option<&'a str>,
}

/// One resolved entity.
#[derive(Debug, Serialize)]
struct Entity<'a> {
    entity_id: &'a Text,
    email: String,
    records: Vec<RecordRef<'a>>,
}

/// One merge of the plan.
#[derive(Debug, Serialize)]
struct Merge<'a> {
    survivor: &'a Text,
    merge: Vec<&'a Text>,
}

/// `resolve_entities`'s result.
#[derive(Debug, Serialize)]
struct Resolution<'a> {
    entities: Vec<Entity<'a>>,
    merges: Vec<Merge<'a>>,
    record_count: usize,
    entity_count: usize,
}

/// The resolution, or the first record whose email is not an address.
fn resolve(input: &ResolveEntitiesInput) -> Result<Resolution<'_>, InvalidInput> {
    let mut by_email: BTreeMap<String, Vec<&CustomerRecord>> = BTreeMap::new();
    for (i, record) in input.records.iter().enumerate() {
        let email = normalise_email(&record.email)
            .map_err(|reason| InvalidInput::new(format!("records[{i}].email"), reason))?;
        by_email.entry(email).or_default().push(record);
    }
    let mut entities: Vec<Entity<'_>> = Vec::with_capacity(by_email.len());
    for (email, mut records) in by_email {
        records.sort_by(|a, b| a.id.cmp(&b.id));
        let Some(first) = records.first() else {
            continue;
        };
        entities.push(Entity {
            entity_id: &first.id,
            email,
            records: records
                .iter()
                .map(|r| RecordRef {
                    id: &r.id,
                    source: r.source.as_deref(),
                    name: r.name.as_deref(),
                })
                .collect(),
        });
    }
    // Ids are unique, so no two entities share a smallest id.
    entities.sort_by(|a, b| a.entity_id.cmp(b.entity_id));
    let merges = entities
        .iter()
        .filter(|e| e.records.len() > 1)
        .map(|e| Merge {
            survivor: e.entity_id,
            merge: e.records.iter().skip(1).map(|r| r.id).collect(),
        })
        .collect();
    Ok(Resolution {
        record_count: input.records.len(),
        entity_count: entities.len(),
        entities,
        merges,
    })
}

impl BusinessAction for ResolveEntities {
    type Input = ResolveEntitiesInput;
    const AGENT: AgentType = AgentType::Accounting;
    const NAME: &'static str = "resolve_entities";
    const COMPLEXITY: Complexity = Complexity::ChangesRecords;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::non_empty(&input.records, "records", "record")?;
        fields::unique(
            input.records.iter().map(|r| r.id.as_str()),
            |i| format!("records[{i}].id"),
            "id",
        )?;
        resolve(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(resolve(&input).map_err(|e| Failure(e.to_string()))?)
    }
}

/// The limit error for a signed total that passes ±10^15 cents.
fn signed_total_too_large(path: &str, what: &str) -> InvalidInput {
    InvalidInput::new(
        path,
        format!("{what} passes the limit of ±{} cents", fields::MAX_CENTS),
    )
}

/// The error for an exact figure that left `i128` or `Decimal`: not
/// reachable for amounts within ±10^15 cents, refused rather than wrapped.
fn beyond_exact(path: &str) -> InvalidInput {
    InvalidInput::new(path, "a figure passes the range of exact arithmetic")
}

/// Text compared as a person would: surrounding whitespace dropped and
/// lower-cased (Unicode lower case, not full case folding).
fn folded(text: &str) -> String {
    text.trim().to_lowercase()
}

// ---------------------------------------------------------------------------
// categorize_transactions

/// `categorize_transactions`: each transaction gets the category of the
/// first rule (in rule order) whose pattern its description contains,
/// compared case-insensitively as plain text (never a regular expression:
/// `.` is a dot); the totals per category follow.
///
/// `rules` and `transactions` may be empty. A transaction no rule matches is
/// listed in `unmatched`; a category total past ±10^15 cents is refused at
/// submission, naming `transactions`.
pub struct CategorizeTransactions;

/// `categorize_transactions`'s input.
#[derive(Debug, Deserialize)]
pub struct CategorizeTransactionsInput {
    rules: Vec<CategoryRule>,
    transactions: Vec<BookTransaction>,
}

/// A rule: descriptions that contain `pattern` are `category`.
#[derive(Debug, Deserialize)]
struct CategoryRule {
    pattern: Text,
    category: Text,
}

/// A transaction to categorise.
#[derive(Debug, Deserialize)]
struct BookTransaction {
    id: Text,
    description: String,
    amount_cents: SignedCents,
    /// Checked to be a date, not used: categories do not depend on it.
    #[serde(default)]
    #[allow(dead_code)]
    date: Option<Date>,
}

/// A transaction a rule matched.
#[derive(Debug, Serialize)]
struct Categorized<'a> {
    id: &'a Text,
    category: &'a Text,
    rule: usize,
}

/// One category's count and signed total.
#[derive(Debug, Serialize)]
struct CategoryTotal<'a> {
    category: &'a Text,
    count: usize,
    amount_cents: i64,
}

/// `categorize_transactions`'s result.
#[derive(Debug, Serialize)]
struct Categorization<'a> {
    transactions: Vec<Categorized<'a>>,
    unmatched: Vec<&'a Text>,
    categories: Vec<CategoryTotal<'a>>,
}

/// The categorisation, or `transactions` when a category's total passes
/// the limit.
fn categorize(input: &CategorizeTransactionsInput) -> Result<Categorization<'_>, InvalidInput> {
    // Lower-cased once: a pattern is plain text, matched as a substring.
    let patterns: Vec<String> = input
        .rules
        .iter()
        .map(|r| r.pattern.as_str().to_lowercase())
        .collect();
    let mut transactions = Vec::new();
    let mut unmatched = Vec::new();
    let mut amounts: BTreeMap<&Text, Vec<i64>> = BTreeMap::new();
    for t in &input.transactions {
        let description = t.description.to_lowercase();
        let first = patterns
            .iter()
            .position(|p| description.contains(p.as_str()));
        match first.and_then(|i| input.rules.get(i).map(|r| (i, r))) {
            Some((rule, r)) => {
                transactions.push(Categorized {
                    id: &t.id,
                    category: &r.category,
                    rule,
                });
                amounts
                    .entry(&r.category)
                    .or_default()
                    .push(t.amount_cents.get());
            }
            None => unmatched.push(&t.id),
        }
    }
    // BTreeMap: categories by name, ascending (string order).
    let categories = amounts
        .into_iter()
        .map(|(category, amounts)| {
            let amount_cents = fields::signed_sum(amounts.iter().copied()).ok_or_else(|| {
                signed_total_too_large(
                    "transactions",
                    &format!("the total of category {:?}", category.as_str()),
                )
            })?;
            Ok(CategoryTotal {
                category,
                count: amounts.len(),
                amount_cents,
            })
        })
        .collect::<Result<Vec<_>, InvalidInput>>()?;
    Ok(Categorization {
        transactions,
        unmatched,
        categories,
    })
}

impl BusinessAction for CategorizeTransactions {
    type Input = CategorizeTransactionsInput;
    const AGENT: AgentType = AgentType::Accounting;
    const NAME: &'static str = "categorize_transactions";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique(
            input.transactions.iter().map(|t| t.id.as_str()),
            |i| format!("transactions[{i}].id"),
            "id",
        )?;
        categorize(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(categorize(&input).map_err(|e| Failure(e.to_string()))?)
    }
}

// ---------------------------------------------------------------------------
// detect_anomalies

/// The robust z-score's constant: 0.6745 (the 0.75 quantile of the standard
/// normal), which scales the MAD to a standard deviation.
const Z_SCALE: (i128, i128) = (6745, 10_000);

/// The robust z-score an amount must pass, in absolute value, to be an
/// outlier: 3.5 (Iglewicz and Hoaglin).
const OUTLIER_Z: (i128, i128) = (35, 10);

/// Nanoseconds in an hour.
const NANOS_PER_HOUR: i128 = 3_600 * 1_000_000_000;

/// How far apart two payments may be to look like a duplicate: 24 hours,
/// inclusive.
const DUPLICATE_WINDOW_NANOS: i128 = 24 * NANOS_PER_HOUR;

/// `detect_anomalies`: amounts far from their category's median (robust
/// z-score, `|z| > 3.5`), and pairs of payments that look like duplicates.
///
/// Per category: median `m`, MAD = median of `|x − m|`, z = 0.6745 × (x −
/// m) / MAD, all exact (the median of an even count is the mean of the two
/// middle values). A category whose MAD is 0 has no z-scores, hence no
/// outliers: never a division by zero. Likely duplicates are two
/// transactions of equal amount and counterparty (trimmed,
/// case-insensitive) at most 24 hours apart and next to each other in time
/// among those of that amount and counterparty.
pub struct DetectAnomalies;

/// `detect_anomalies`'s input.
#[derive(Debug, Deserialize)]
pub struct DetectAnomaliesInput {
    transactions: Vec<TimedTransaction>,
}

/// A transaction with a category, a counterparty and an instant.
#[derive(Debug, Deserialize)]
struct TimedTransaction {
    id: Text,
    category: Text,
    counterparty: Text,
    amount_cents: SignedCents,
    at: Timestamp,
}

/// An instant, RFC 3339 with its offset (`2026-03-01T10:00:00+01:00`).
#[derive(Debug, Clone, Copy)]
struct Timestamp(OffsetDateTime);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // `time` takes any byte between date and time; RFC 3339 has `T`
        // (either case) and, by its section 5.6 note, a space.
        let separated = matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' '));
        match OffsetDateTime::parse(&s, &Rfc3339) {
            Ok(at) if separated => Ok(Timestamp(at)),
            _ => Err(de::Error::invalid_value(
                Unexpected::Str(&s),
                &"an RFC 3339 timestamp with an offset, e.g. 2026-03-01T10:00:00Z",
            )),
        }
    }
}

/// An amount far from its category's median.
#[derive(Debug, Serialize)]
struct Outlier<'a> {
    id: &'a Text,
    category: &'a Text,
    amount_cents: i64,
    z: Figure,
}

/// Two transactions that look like one payment made twice.
#[derive(Debug, Serialize)]
struct Duplicate<'a> {
    ids: [&'a Text; 2],
    amount_cents: i64,
    counterparty: &'a str,
    hours_apart: Figure,
}

/// A category's robust centre and spread.
#[derive(Debug, Serialize)]
struct CategoryStats<'a> {
    category: &'a Text,
    count: usize,
    median_cents: Figure,
    mad_cents: Figure,
}

/// `detect_anomalies`'s result.
#[derive(Debug, Serialize)]
struct Anomalies<'a> {
    outliers: Vec<Outlier<'a>>,
    duplicates: Vec<Duplicate<'a>>,
    categories: Vec<CategoryStats<'a>>,
}

/// The median of `sorted` (ascending): the middle value, or the exact mean
/// of the two middle values of an even count; `None` when it is empty.
fn median(sorted: &[Rational]) -> Option<Rational> {
    let n = sorted.len();
    let upper = *sorted.get(n / 2)?;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = *sorted.get(n / 2 - 1)?;
    lower.checked_add(upper)?.checked_div(Rational::integer(2))
}

/// `|r|`.
fn abs(r: Rational) -> Option<Rational> {
    if r.signum() == Ordering::Less {
        Rational::integer(0).checked_sub(r)
    } else {
        Some(r)
    }
}

/// An outlier with its exact `|z|`, to order by before it is rounded.
type Scored<'a> = (Rational, Outlier<'a>);

/// Every category's median and MAD (by category), and its outliers.
fn robust_scores(
    transactions: &[TimedTransaction],
) -> Option<(Vec<CategoryStats<'_>>, Vec<Scored<'_>>)> {
    let mut by_category: BTreeMap<&Text, Vec<&TimedTransaction>> = BTreeMap::new();
    for t in transactions {
        by_category.entry(&t.category).or_default().push(t);
    }
    let scale = Rational::new(Z_SCALE.0, Z_SCALE.1)?;
    let threshold = Rational::new(OUTLIER_Z.0, OUTLIER_Z.1)?;
    let mut stats = Vec::with_capacity(by_category.len());
    let mut outliers = Vec::new();
    for (category, members) in by_category {
        let amount = |t: &TimedTransaction| Rational::integer(i128::from(t.amount_cents.get()));
        let mut amounts: Vec<Rational> = members.iter().map(|t| amount(t)).collect();
        amounts.sort();
        let m = median(&amounts)?;
        let mut deviations = amounts
            .iter()
            .map(|x| abs(x.checked_sub(m)?))
            .collect::<Option<Vec<_>>>()?;
        deviations.sort();
        let mad = median(&deviations)?;
        // MAD 0 (more than half the amounts equal the median): z would
        // divide by zero, so the category has no outliers at all.
        if mad.signum() == Ordering::Greater {
            // |z| > 3.5 <=> 0.6745·|x − m| > 3.5·MAD, since MAD > 0.
            let bar = threshold.checked_mul(mad)?;
            for t in members {
                let d = amount(t).checked_sub(m)?;
                if scale.checked_mul(abs(d)?)? > bar {
                    let z = scale.checked_mul(d)?.checked_div(mad)?;
                    outliers.push((
                        abs(z)?,
                        Outlier {
                            id: &t.id,
                            category,
                            amount_cents: t.amount_cents.get(),
                            z: Figure(z.round(4)?),
                        },
                    ));
                }
            }
        }
        stats.push(CategoryStats {
            category,
            count: amounts.len(),
            // Whole or half cents (the mean of two whole amounts), and the
            // MAD likewise: 2 places are exact.
            median_cents: Figure(m.round(2)?.normalize()),
            mad_cents: Figure(mad.round(2)?.normalize()),
        });
    }
    Some((stats, outliers))
}

/// Every likely duplicate pair, by ids: each payment with the one just
/// before it (by instant, then id) of the same amount and counterparty, when
/// that one is at most 24 hours earlier. Pairing neighbours only keeps the
/// list linear in the input: a burst of n equal payments is n − 1 pairs, not
/// n(n − 1)/2 (which for a full request body would not fit a job's result).
fn duplicates(transactions: &[TimedTransaction]) -> Option<Vec<Duplicate<'_>>> {
    let mut by_payment: BTreeMap<(i64, String), Vec<&TimedTransaction>> = BTreeMap::new();
    for t in transactions {
        by_payment
            .entry((t.amount_cents.get(), folded(t.counterparty.as_str())))
            .or_default()
            .push(t);
    }
    let mut pairs = Vec::new();
    for mut group in by_payment.into_values() {
        group.sort_by(|a, b| (a.at.0, &a.id).cmp(&(b.at.0, &b.id)));
        for neighbours in group.windows(2) {
            let [earlier, later] = neighbours else {
                continue;
            };
            let nanos = (later.at.0 - earlier.at.0).whole_nanoseconds();
            if nanos > DUPLICATE_WINDOW_NANOS {
                continue;
            }
            let (first, second) = if earlier.id <= later.id {
                (earlier, later)
            } else {
                (later, earlier)
            };
            pairs.push(Duplicate {
                ids: [&first.id, &second.id],
                amount_cents: first.amount_cents.get(),
                counterparty: first.counterparty.as_str(),
                hours_apart: Figure(Rational::new(nanos, NANOS_PER_HOUR)?.round(4)?),
            });
        }
    }
    pairs.sort_by(|a, b| a.ids.cmp(&b.ids));
    Some(pairs)
}

/// The anomalies, or `transactions` if a figure left exact arithmetic
/// (unreachable for amounts within ±10^15 cents).
fn detect(input: &DetectAnomaliesInput) -> Result<Anomalies<'_>, InvalidInput> {
    let (categories, mut scored) =
        robust_scores(&input.transactions).ok_or_else(|| beyond_exact("transactions"))?;
    // By |z| descending, compared exactly (not as rounded), then by id.
    scored.sort_by(|(za, a), (zb, b)| zb.cmp(za).then_with(|| a.id.cmp(b.id)));
    let duplicates = duplicates(&input.transactions).ok_or_else(|| beyond_exact("transactions"))?;
    Ok(Anomalies {
        outliers: scored.into_iter().map(|(_, o)| o).collect(),
        duplicates,
        categories,
    })
}

impl BusinessAction for DetectAnomalies {
    type Input = DetectAnomaliesInput;
    const AGENT: AgentType = AgentType::Accounting;
    const NAME: &'static str = "detect_anomalies";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique(
            input.transactions.iter().map(|t| t.id.as_str()),
            |i| format!("transactions[{i}].id"),
            "id",
        )?;
        // A blank counterparty is no counterparty: two of them would look
        // like the same payee.
        if let Some(i) = input
            .transactions
            .iter()
            .position(|t| t.counterparty.as_str().trim().is_empty())
        {
            return Err(InvalidInput::new(
                format!("transactions[{i}].counterparty"),
                "must not be blank",
            ));
        }
        detect(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(detect(&input).map_err(|e| Failure(e.to_string()))?)
    }
}

// ---------------------------------------------------------------------------
// reconcile

/// How many days apart a bank entry and a ledger entry may be dated to
/// match, inclusive.
const MATCH_WINDOW_DAYS: i64 = 3;

/// `reconcile`: bank entries matched one-to-one with ledger entries of the
/// same amount dated at most 3 days apart, and what is left on each side.
///
/// Bank entries are taken in (date, id) order, each greedily: among the
/// unused ledger entries that qualify, one with the same reference
/// (trimmed, case-insensitive, both present and not blank) first, then the
/// fewest days apart, then the smallest ledger id. Either side may be
/// empty; a side's total past ±10^15 cents is refused at submission.
pub struct Reconcile;

/// `reconcile`'s input.
#[derive(Debug, Deserialize)]
pub struct ReconcileInput {
    bank: Vec<BookEntry>,
    ledger: Vec<BookEntry>,
}

/// An entry of a bank statement or of the ledger.
#[derive(Debug, Deserialize)]
struct BookEntry {
    id: Text,
    date: Date,
    amount_cents: SignedCents,
    #[serde(default)]
    reference: Option<String>,
}

impl BookEntry {
    /// The reference to compare, if there is one that is not blank.
    fn reference_key(&self) -> Option<String> {
        self.reference
            .as_deref()
            .map(folded)
            .filter(|r| !r.is_empty())
    }
}

/// A bank entry matched to a ledger entry.
#[derive(Debug, Serialize)]
struct Match<'a> {
    bank_id: &'a Text,
    ledger_id: &'a Text,
    amount_cents: i64,
    days_apart: i64,
    by_reference: bool,
}

/// `reconcile`'s result.
#[derive(Debug, Serialize)]
struct Reconciliation<'a> {
    matched: Vec<Match<'a>>,
    unmatched_bank: Vec<&'a Text>,
    unmatched_ledger: Vec<&'a Text>,
    bank_total_cents: i64,
    ledger_total_cents: i64,
    net_difference_cents: i64,
}

/// `entries`' indices in (date, id) order.
fn by_date_then_id(entries: &[BookEntry]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries.get(i).map(|e| (e.date, &e.id)));
    order
}

/// The reconciliation, or the side whose total passes the limit.
fn reconcile(input: &ReconcileInput) -> Result<Reconciliation<'_>, InvalidInput> {
    let total = |entries: &[BookEntry], side: &str| {
        fields::signed_sum(entries.iter().map(|e| e.amount_cents.get()))
            .ok_or_else(|| signed_total_too_large(side, &format!("the {side}'s total")))
    };
    let bank_total_cents = total(&input.bank, "bank")?;
    let ledger_total_cents = total(&input.ledger, "ledger")?;

    // Ledger entries by amount, each list in (date, id) order.
    let ledger_order = by_date_then_id(&input.ledger);
    let mut by_amount: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for &i in &ledger_order {
        if let Some(e) = input.ledger.get(i) {
            by_amount.entry(e.amount_cents.get()).or_default().push(i);
        }
    }
    let mut used = vec![false; input.ledger.len()];
    let mut matched = Vec::new();
    let mut unmatched_bank = Vec::new();
    for b in by_date_then_id(&input.bank)
        .into_iter()
        .filter_map(|i| input.bank.get(i))
    {
        let reference = b.reference_key();
        let best = by_amount
            .get(&b.amount_cents.get())
            .into_iter()
            .flatten()
            .filter(|&&i| !used.get(i).copied().unwrap_or(true))
            .filter_map(|&i| {
                let l = input.ledger.get(i)?;
                let days = b.date.days_until(l.date).abs();
                let by_reference = reference.is_some() && reference == l.reference_key();
                (days <= MATCH_WINDOW_DAYS).then_some((i, l, days, by_reference))
            })
            .min_by(|(_, la, da, ra), (_, lb, db, rb)| {
                // true sorts after false: a reference match comes first.
                (!ra, da, &la.id).cmp(&(!rb, db, &lb.id))
            });
        match best {
            Some((i, l, days_apart, by_reference)) => {
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
                matched.push(Match {
                    bank_id: &b.id,
                    ledger_id: &l.id,
                    amount_cents: b.amount_cents.get(),
                    days_apart,
                    by_reference,
                });
            }
            None => unmatched_bank.push(&b.id),
        }
    }
    let unmatched_ledger = ledger_order
        .into_iter()
        .filter(|&i| !used.get(i).copied().unwrap_or(false))
        .filter_map(|i| input.ledger.get(i).map(|e| &e.id))
        .collect();
    Ok(Reconciliation {
        matched,
        unmatched_bank,
        unmatched_ledger,
        bank_total_cents,
        ledger_total_cents,
        // Both within ±10^15, so the difference is within ±2·10^15: an i64.
        net_difference_cents: bank_total_cents - ledger_total_cents,
    })
}

impl BusinessAction for Reconcile {
    type Input = ReconcileInput;
    const AGENT: AgentType = AgentType::Accounting;
    const NAME: &'static str = "reconcile";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        for (side, entries) in [("bank", &input.bank), ("ledger", &input.ledger)] {
            fields::unique(
                entries.iter().map(|e| e.id.as_str()),
                |i| format!("{side}[{i}].id"),
                "id",
            )?;
        }
        reconcile(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(reconcile(&input).map_err(|e| Failure(e.to_string()))?)
    }
}

// ---------------------------------------------------------------------------
// draft_invoice

/// `draft_invoice`: an invoice whose every line is priced from the first
/// source that has a price, in the seeds' order: the line's
/// `deposit_cents`, the `services` entry for its `service_id` (an id the
/// catalogue lacks falls through), its `metadata.price_cents`, the input's
/// `default_price_cents`. 0 is a price. A line with none fails the job,
/// naming the line: a price is never invented.
///
/// `tax_cents` = subtotal × `tax_rate` (default 0) rounded half-even to
/// the cent. A line's amount, the subtotal or the total past 10^15 cents is
/// refused at submission.
pub struct DraftInvoice;

/// `draft_invoice`'s input.
#[derive(Debug, Deserialize)]
pub struct DraftInvoiceInput {
    customer: Customer,
    currency: Currency,
    lines: Vec<InvoiceLine>,
    #[serde(default)]
    services: Option<BTreeMap<String, Cents>>,
    #[serde(default)]
    default_price_cents: Option<Cents>,
    #[serde(default)]
    tax_rate: Option<Fraction>,
}

/// The customer invoiced.
#[derive(Debug, Deserialize)]
struct Customer {
    id: Text,
    /// Required and checked, not echoed: the result names the customer by id.
    #[allow(dead_code)]
    name: Text,
    /// Checked when given, not echoed.
    #[serde(default)]
    #[allow(dead_code)]
    email: Option<Text>,
}

/// A line to invoice.
#[derive(Debug, Deserialize)]
struct InvoiceLine {
    description: Text,
    quantity: Quantity,
    #[serde(default)]
    service_id: Option<Text>,
    #[serde(default)]
    deposit_cents: Option<Cents>,
    #[serde(default)]
    metadata: Option<LineMetadata>,
}

/// A line's metadata: any object; only `price_cents` is read.
#[derive(Debug, Deserialize)]
struct LineMetadata {
    #[serde(default)]
    price_cents: Option<Cents>,
}

/// One priced line of the invoice.
#[derive(Debug, Serialize)]
struct InvoicedLine<'a> {
    description: &'a Text,
    quantity: Quantity,
    unit_price_cents: i64,
    price_source: &'static str,
    amount_cents: i64,
}

/// `draft_invoice`'s result.
#[derive(Debug, Serialize)]
struct Invoice<'a> {
    customer_id: &'a Text,
    currency: &'a Currency,
    lines: Vec<InvoicedLine<'a>>,
    subtotal_cents: i64,
    tax_cents: i64,
    total_cents: i64,
}

/// The line's unit price and where it came from, if any source has one.
fn invoice_price(
    line: &InvoiceLine,
    services: Option<&BTreeMap<String, Cents>>,
    default: Option<Cents>,
) -> Option<(i64, &'static str)> {
    let service = || {
        let id = line.service_id.as_ref()?;
        services?.get(id.as_str())
    };
    line.deposit_cents
        .map(|p| (p, "deposit"))
        .or_else(|| service().map(|p| (*p, "service")))
        .or_else(|| {
            line.metadata
                .as_ref()
                .and_then(|m| m.price_cents)
                .map(|p| (p, "metadata"))
        })
        .or_else(|| default.map(|p| (p, "default")))
        .map(|(p, source)| (p.get(), source))
}

/// The invoice over the lines that have a price, and a message for each line
/// without one; or the field whose amount, subtotal or total passes the
/// limit.
fn invoice(input: &DraftInvoiceInput) -> Result<(Invoice<'_>, Vec<String>), InvalidInput> {
    let mut lines = Vec::with_capacity(input.lines.len());
    let mut unpriced = Vec::new();
    for (i, line) in input.lines.iter().enumerate() {
        let Some((unit_price_cents, price_source)) =
            invoice_price(line, input.services.as_ref(), input.default_price_cents)
        else {
            unpriced.push(format!(
                "lines[{i}] {:?}: no price from any source",
                line.description.as_str()
            ));
            continue;
        };
        let amount_cents =
            fields::amount(unit_price_cents, line.quantity.get()).ok_or_else(|| {
                InvalidInput::new(
                    format!("lines[{i}].quantity"),
                    format!(
                        "quantity {} x {} cents passes the limit of {} cents",
                        line.quantity.get(),
                        unit_price_cents,
                        fields::MAX_CENTS
                    ),
                )
            })?;
        lines.push(InvoicedLine {
            description: &line.description,
            quantity: line.quantity,
            unit_price_cents,
            price_source,
            amount_cents,
        });
    }
    let limit = |what: &str| {
        InvalidInput::new(
            "lines",
            format!("{what} passes the limit of {} cents", fields::MAX_CENTS),
        )
    };
    let subtotal_cents = fields::sum(lines.iter().map(|l| l.amount_cents))
        .ok_or_else(|| limit("the invoice's subtotal"))?;
    let rate = input
        .tax_rate
        .map_or(Rational::integer(0), |r| r.rational());
    // subtotal ≤ 10^15 and rate ≤ 1: the product is far inside i128.
    let tax_cents = Rational::integer(i128::from(subtotal_cents))
        .checked_mul(rate)
        .and_then(Rational::round_cents)
        .ok_or_else(|| beyond_exact("tax_rate"))?;
    let total_cents = fields::sum([subtotal_cents, tax_cents])
        .ok_or_else(|| limit("the invoice's total with tax"))?;
    let invoice = Invoice {
        customer_id: &input.customer.id,
        currency: &input.currency,
        lines,
        subtotal_cents,
        tax_cents,
        total_cents,
    };
    Ok((invoice, unpriced))
}

impl BusinessAction for DraftInvoice {
    type Input = DraftInvoiceInput;
    const AGENT: AgentType = AgentType::Accounting;
    const NAME: &'static str = "draft_invoice";
    const COMPLEXITY: Complexity = Complexity::Draft;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::non_empty(&input.lines, "lines", "line")?;
        // Whether every line has a price is a business rule the job fails
        // on; the amounts of the lines that have one are bounded here.
        invoice(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        let (invoice, unpriced) = invoice(&input).map_err(|e| Failure(e.to_string()))?;
        if !unpriced.is_empty() {
            return Err(Failure(unpriced.join("; ")));
        }
        Outcome::result(invoice)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    use super::normalise_email;
    use crate::{AgentType, Complexity, Failure, testing};

    testing::agent_helpers!(AgentType::Accounting);

    fn resolve(input: Value) -> Value {
        result("resolve_entities", input)
    }

    #[test]
    fn resolve_entities_is_registered_as_changing_records() {
        assert_eq!(
            action("resolve_entities").complexity(),
            Complexity::ChangesRecords
        );
    }

    #[test]
    fn resolve_entities_groups_records_by_normalised_email_into_a_merge_plan() {
        let input = json!({"records": [
            {"id": "r-3", "source": "crm", "name": "Ann", "email": " Ann+news@Gmail.com "},
            {"id": "r-1", "source": "shop", "name": "Ann L.", "email": "a.n.n@googlemail.com"},
            {"id": "r-2", "source": "crm", "name": "Bob", "email": "bob@example.org"},
            {"id": "r-0", "email": "ANN@gmail.com", "source": null},
            {"id": "r-4", "source": "billing", "email": "Bob@Example.org"},
        ]});
        // ann: " Ann+news@Gmail.com " -> trim, lower -> "ann+news@gmail.com" -> drop +news -> "ann@gmail.com";
        //      "a.n.n@googlemail.com" -> drop dots, googlemail -> gmail -> "ann@gmail.com";
        //      "ANN@gmail.com" -> "ann@gmail.com". Records r-0, r-1, r-3; smallest r-0.
        // bob: "bob@example.org" twice. Records r-2, r-4; smallest r-2.
        // Entities by smallest id: r-0 < r-2. 5 records, 2 entities.
        assert_eq!(
            resolve(input),
            json!({
                "entities": [
                    {"entity_id": "r-0", "email": "ann@gmail.com", "records": [
                        {"id": "r-0", "source": null, "name": null},
                        {"id": "r-1", "source": "shop", "name": "Ann L."},
                        {"id": "r-3", "source": "crm", "name": "Ann"},
                    ]},
                    {"entity_id": "r-2", "email": "bob@example.org", "records": [
                        {"id": "r-2", "source": "crm", "name": "Bob"},
                        {"id": "r-4", "source": "billing", "name": null},
                    ]},
                ],
                "merges": [
                    {"survivor": "r-0", "merge": ["r-1", "r-3"]},
                    {"survivor": "r-2", "merge": ["r-4"]},
                ],
                "record_count": 5,
                "entity_count": 2,
            })
        );
    }

    #[test]
    fn resolve_entities_with_one_record_has_one_entity_and_no_merge() {
        let input = json!({"records": [{"id": "only", "email": "x@y.z", "unknown": 1}]});
        assert_eq!(
            resolve(input),
            json!({
                "entities": [{"entity_id": "only", "email": "x@y.z",
                              "records": [{"id": "only", "source": null, "name": null}]}],
                "merges": [],
                "record_count": 1,
                "entity_count": 1,
            })
        );
    }

    #[test]
    fn resolve_entities_orders_entities_and_ids_in_string_order() {
        // String order, not numeric: "r-10" < "r-2" < "r-9".
        let input = json!({"records": [
            {"id": "r-9", "email": "a@x.com"},
            {"id": "r-2", "email": "b@x.com"},
            {"id": "r-10", "email": "a@x.com"},
        ]});
        let r = resolve(input);
        assert_eq!(r["entities"][0]["entity_id"], "r-10");
        assert_eq!(r["entities"][1]["entity_id"], "r-2");
        assert_eq!(r["merges"], json!([{"survivor": "r-10", "merge": ["r-9"]}]));
    }

    #[test]
    fn gmail_folds_dots_and_tags_other_providers_fold_only_tags_and_unknown_ones_neither() {
        let cases = [
            // gmail: +tag and dots dropped.
            ("J.Doe+Shop.Tag@GMAIL.com", "jdoe@gmail.com"),
            // googlemail is gmail.
            ("j.doe@googlemail.com", "jdoe@gmail.com"),
            // Only from the first '+'.
            ("a+b+c@gmail.com", "a@gmail.com"),
            // outlook drops the +tag but keeps dots.
            ("j.doe+x@outlook.com", "j.doe@outlook.com"),
            ("j.doe+x@proton.me", "j.doe@proton.me"),
            ("j.doe+x@icloud.com", "j.doe@icloud.com"),
            // An unknown provider keeps both.
            ("j.doe+x@example.com", "j.doe+x@example.com"),
            // A subdomain of gmail.com is another domain.
            ("j.doe+x@mail.gmail.com", "j.doe+x@mail.gmail.com"),
            // Whitespace around is trimmed (tabs and newlines too).
            ("\t a@b.co \n", "a@b.co"),
        ];
        for (raw, normal) in cases {
            assert_eq!(normalise_email(raw).as_deref(), Ok(normal), "{raw}");
        }
    }

    #[test]
    fn resolve_entities_names_the_field_of_input_that_does_not_parse() {
        let ok = json!({"id": "r-1", "email": "a@b.co"});
        let cases = [
            (json!({"records": []}), "input.records"),
            (json!({}), "input.records"),
            (
                json!({"records": [ok, {"id": "r-1", "email": "c@d.co"}]}),
                "input.records[1].id",
            ),
            (
                json!({"records": [ok, {"email": "c@d.co"}]}),
                "input.records[1].id",
            ),
            (
                json!({"records": [ok, {"id": "r-2"}]}),
                "input.records[1].email",
            ),
            (
                json!({"records": [ok, {"id": "r-2", "email": null}]}),
                "input.records[1].email",
            ),
            (
                json!({"records": [ok, {"id": 2, "email": "c@d.co"}]}),
                "input.records[1].id",
            ),
            (
                json!({"records": [{"id": "", "email": "c@d.co"}]}),
                "input.records[0].id",
            ),
            (
                json!({"records": [{"id": "r", "email": "c@d.co", "name": 3}]}),
                "input.records[0].name",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("resolve_entities", input.clone()),
                field,
                "{input}"
            );
        }
        for bad in [
            "no-at-sign.com",
            "two@@signs.com",
            "a@b@c.com",
            "@example.com",
            "   @example.com",
            "a@localhost",
            "a@",
            "",
            // Nothing left of the local part once gmail's +tag and dots go.
            "+tag@gmail.com",
            "...@gmail.com",
        ] {
            let input = json!({"records": [ok, {"id": "r-2", "email": bad}]});
            assert_eq!(
                invalid_field("resolve_entities", input),
                "input.records[1].email",
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn every_record_is_in_exactly_one_entity_and_merges_cover_the_duplicates(
            records in proptest::collection::btree_map(
                "[a-z0-9-]{1,6}",
                (prop::sample::select(vec!["ann", "a.nn", "ann+x", "bob", "Bob", "b.ob+y"]),
                 prop::sample::select(vec!["gmail.com", "googlemail.com", "outlook.com", "example.com"])),
                1..20,
            ),
        ) {
            let input: Vec<Value> = records.iter()
                .map(|(id, (local, domain))| json!({"id": id, "email": format!("{local}@{domain}")}))
                .collect();
            let r = resolve(json!({"records": input}));
            let entities = r["entities"].as_array().expect("entities is a list");

            let mut seen = BTreeSet::new();
            let mut previous: Option<String> = None;
            for e in entities {
                let ids: Vec<String> = e["records"].as_array().expect("records is a list").iter()
                    .map(|rec| rec["id"].as_str().expect("an id").to_owned()).collect();
                prop_assert!(!ids.is_empty());
                prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
                prop_assert_eq!(e["entity_id"].as_str(), Some(ids[0].as_str()));
                if let Some(p) = &previous {
                    prop_assert!(p < &ids[0], "entities ascend by smallest id");
                }
                previous = Some(ids[0].clone());
                for id in ids {
                    prop_assert!(seen.insert(id), "a record is in one entity only");
                }
            }
            let all: BTreeSet<String> = records.keys().cloned().collect();
            prop_assert_eq!(&seen, &all);
            prop_assert!(entities.len() <= records.len());
            prop_assert_eq!(r["entity_count"].as_u64(), Some(entities.len() as u64));
            prop_assert_eq!(r["record_count"].as_u64(), Some(records.len() as u64));

            // Merges fold away exactly the records beyond one per entity.
            let merged: usize = r["merges"].as_array().expect("merges is a list").iter()
                .map(|m| m["merge"].as_array().map_or(0, Vec::len)).sum();
            prop_assert_eq!(merged + entities.len(), records.len());
        }

        #[test]
        fn normalising_twice_changes_nothing(local in "[a-zA-Z0-9.+]{1,12}", domain in prop::sample::select(vec![
            "gmail.com", "googlemail.com", "outlook.com", "example.com", "Fastmail.com",
        ])) {
            if let Ok(once) = normalise_email(&format!("{local}@{domain}")) {
                prop_assert_eq!(normalise_email(&once), Ok(once.clone()));
            }
        }
    }

    // -- shared helpers for the actions below --------------------------------

    /// `base` with `key` set to `value` (or removed, for `None`).
    fn with(base: &Value, key: &str, value: Option<Value>) -> Value {
        let mut v = base.clone();
        match value {
            Some(value) => v[key] = value,
            None => {
                v.as_object_mut().map(|o| o.remove(key));
            }
        }
        v
    }

    #[test]
    fn the_new_actions_have_their_complexities() {
        for (name, complexity) in [
            ("categorize_transactions", Complexity::Analysis),
            ("detect_anomalies", Complexity::Analysis),
            ("reconcile", Complexity::Analysis),
            ("draft_invoice", Complexity::Draft),
        ] {
            assert_eq!(action(name).complexity(), complexity, "{name}");
        }
    }

    // -- categorize_transactions ----------------------------------------------

    #[test]
    fn categorize_transactions_takes_the_first_matching_rule_and_totals_per_category() {
        let input = json!({
            "rules": [
                {"pattern": "AMZN", "category": "supplies"},
                {"pattern": "uber", "category": "travel"},
                // Also matches t-1, but rule 0 comes first.
                {"pattern": "amzn mktp", "category": "books"},
            ],
            "transactions": [
                {"id": "t-1", "description": "Amzn Mktp US*123", "amount_cents": -1999, "date": "2026-03-01"},
                {"id": "t-2", "description": "UBER *TRIP", "amount_cents": -2350},
                {"id": "t-3", "description": "Refund amzn", "amount_cents": 500, "date": null},
                {"id": "t-4", "description": "Coffee", "amount_cents": -450},
                {"id": "t-5", "description": "uber eats", "amount_cents": -1200},
            ],
        });
        // t-1: "amzn mktp us*123" contains "amzn" -> rule 0, supplies.
        // t-2: "uber *trip" contains "uber" -> rule 1, travel.
        // t-3: "refund amzn" -> rule 0, supplies. t-4: no rule. t-5: rule 1, travel.
        // supplies: 2, -1999 + 500 = -1499; travel: 2, -2350 + -1200 = -3550.
        // "books" matched nothing, so it is not listed.
        assert_eq!(
            result("categorize_transactions", input),
            json!({
                "transactions": [
                    {"id": "t-1", "category": "supplies", "rule": 0},
                    {"id": "t-2", "category": "travel", "rule": 1},
                    {"id": "t-3", "category": "supplies", "rule": 0},
                    {"id": "t-5", "category": "travel", "rule": 1},
                ],
                "unmatched": ["t-4"],
                "categories": [
                    {"category": "supplies", "count": 2, "amount_cents": -1499},
                    {"category": "travel", "count": 2, "amount_cents": -3550},
                ],
            })
        );
    }

    #[test]
    fn categorize_transactions_patterns_are_plain_text_not_regular_expressions() {
        let input = json!({
            "rules": [
                // As a regex "a.c" would match "abc"; as text only "a.c".
                {"pattern": "a.c", "category": "dotted"},
                // Invalid as a regex: must neither fail nor match everything.
                {"pattern": "(*", "category": "odd"},
                {"pattern": "CAFÉ", "category": "food"},
            ],
            "transactions": [
                {"id": "1", "description": "xabcx", "amount_cents": 1},
                {"id": "2", "description": "xA.Cx", "amount_cents": 2},
                {"id": "3", "description": "paid (*) here", "amount_cents": 3},
                {"id": "4", "description": "Café de Flore", "amount_cents": 4},
                {"id": "5", "description": "", "amount_cents": 5},
            ],
        });
        // 1: no literal "a.c" -> unmatched. 2: "xa.cx" -> dotted. 3: "(*" -> odd.
        // 4: "café de flore" contains "café" (É lower-cased) -> food. 5: empty.
        // Categories by name: dotted (2), food (4), odd (3).
        assert_eq!(
            result("categorize_transactions", input),
            json!({
                "transactions": [
                    {"id": "2", "category": "dotted", "rule": 0},
                    {"id": "3", "category": "odd", "rule": 1},
                    {"id": "4", "category": "food", "rule": 2},
                ],
                "unmatched": ["1", "5"],
                "categories": [
                    {"category": "dotted", "count": 1, "amount_cents": 2},
                    {"category": "food", "count": 1, "amount_cents": 4},
                    {"category": "odd", "count": 1, "amount_cents": 3},
                ],
            })
        );
    }

    #[test]
    fn categorize_transactions_with_no_rules_or_no_transactions_is_empty() {
        let empty = json!({"transactions": [], "unmatched": [], "categories": []});
        assert_eq!(
            result(
                "categorize_transactions",
                json!({"rules": [], "transactions": []})
            ),
            empty
        );
        assert_eq!(
            result(
                "categorize_transactions",
                json!({"rules": [{"pattern": "x", "category": "y"}], "transactions": []})
            ),
            empty
        );
        // No rules: the one transaction is unmatched.
        assert_eq!(
            result(
                "categorize_transactions",
                json!({"rules": [], "transactions": [{"id": "a", "description": "x", "amount_cents": 0}]})
            ),
            json!({"transactions": [], "unmatched": ["a"], "categories": []})
        );
    }

    #[test]
    fn categorize_transactions_two_rules_of_one_category_add_up_and_categories_sort_by_name() {
        let input = json!({
            "rules": [
                {"pattern": "rent", "category": "Premises"},
                {"pattern": "power", "category": "Premises"},
                {"pattern": "tea", "category": "Kitchen"},
            ],
            "transactions": [
                {"id": "b", "description": "power bill", "amount_cents": -7000},
                {"id": "a", "description": "March rent", "amount_cents": -100000},
                {"id": "c", "description": "tea", "amount_cents": -300},
            ],
        });
        // Premises: -7000 + -100000 = -107000 (2); Kitchen: -300 (1).
        // "Kitchen" < "Premises". Matched transactions stay in input order.
        let r = result("categorize_transactions", input);
        assert_eq!(
            r["transactions"],
            json!([
                {"id": "b", "category": "Premises", "rule": 1},
                {"id": "a", "category": "Premises", "rule": 0},
                {"id": "c", "category": "Kitchen", "rule": 2},
            ])
        );
        assert_eq!(
            r["categories"],
            json!([
                {"category": "Kitchen", "count": 1, "amount_cents": -300},
                {"category": "Premises", "count": 2, "amount_cents": -107000},
            ])
        );
    }

    #[test]
    fn categorize_transactions_names_the_field_of_input_that_does_not_parse() {
        let t = json!({"id": "t", "description": "d", "amount_cents": 1});
        let ok = json!({"rules": [{"pattern": "d", "category": "c"}], "transactions": [t]});
        let txs = |v: Value| with(&ok, "transactions", Some(v));
        let cases = [
            (with(&ok, "rules", None), "input.rules"),
            (with(&ok, "transactions", None), "input.transactions"),
            (
                with(
                    &ok,
                    "rules",
                    Some(json!([{"pattern": "", "category": "c"}])),
                ),
                "input.rules[0].pattern",
            ),
            (
                with(
                    &ok,
                    "rules",
                    Some(json!([{"pattern": "p", "category": ""}])),
                ),
                "input.rules[0].category",
            ),
            (
                with(&ok, "rules", Some(json!([{"pattern": "p"}]))),
                "input.rules[0].category",
            ),
            (txs(json!([t, t])), "input.transactions[1].id"),
            (
                txs(json!([t, {"id": "u", "amount_cents": 1}])),
                "input.transactions[1].description",
            ),
            (
                txs(json!([{"id": "u", "description": "d", "amount_cents": "1"}])),
                "input.transactions[0].amount_cents",
            ),
            (
                txs(json!([{"id": "u", "description": "d", "amount_cents": 1.5}])),
                "input.transactions[0].amount_cents",
            ),
            (
                // One cent past -10^15.
                txs(
                    json!([{"id": "u", "description": "d", "amount_cents": -1_000_000_000_000_001_i64}]),
                ),
                "input.transactions[0].amount_cents",
            ),
            (
                txs(
                    json!([{"id": "u", "description": "d", "amount_cents": 1, "date": "2026-02-30"}]),
                ),
                "input.transactions[0].date",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("categorize_transactions", input.clone()),
                field,
                "{input}"
            );
        }
    }

    #[test]
    fn categorize_transactions_refuses_a_category_total_past_ten_to_the_fifteen() {
        let rules = json!([{"pattern": "x", "category": "c"}]);
        // -600_000_000_000_000 x 2 = -1.2 x 10^15: past the limit.
        let input = json!({"rules": rules, "transactions": [
            {"id": "a", "description": "x", "amount_cents": -600_000_000_000_000_i64},
            {"id": "b", "description": "x", "amount_cents": -600_000_000_000_000_i64},
        ]});
        assert_eq!(
            invalid_field("categorize_transactions", input),
            "input.transactions"
        );
        // Unmatched amounts are not totalled: the same two, unmatched, are fine;
        // and +10^15 - 1 + 1 = 10^15 is exactly the limit.
        let fine = json!({"rules": rules, "transactions": [
            {"id": "a", "description": "y", "amount_cents": -600_000_000_000_000_i64},
            {"id": "b", "description": "y", "amount_cents": -600_000_000_000_000_i64},
            {"id": "c", "description": "x", "amount_cents": 999_999_999_999_999_i64},
            {"id": "d", "description": "x", "amount_cents": 1},
        ]});
        let r = result("categorize_transactions", fine);
        assert_eq!(r["unmatched"], json!(["a", "b"]));
        assert_eq!(
            r["categories"][0]["amount_cents"],
            1_000_000_000_000_000_i64
        );
    }

    // -- detect_anomalies -----------------------------------------------------

    /// A transaction for `detect_anomalies`, at `at`.
    fn tx(id: &str, category: &str, counterparty: &str, amount: i64, at: &str) -> Value {
        json!({"id": id, "category": category, "counterparty": counterparty,
               "amount_cents": amount, "at": at})
    }

    #[test]
    fn detect_anomalies_scores_a_hand_worked_category() {
        // Different counterparties and days apart: no duplicates here.
        let amounts = [
            ("o-1", 100),
            ("o-2", 102),
            ("o-3", 98),
            ("o-4", 101),
            ("o-5", 99),
            ("o-6", 1000),
        ];
        let transactions: Vec<Value> = amounts
            .iter()
            .enumerate()
            .map(|(i, (id, a))| {
                tx(
                    id,
                    "office",
                    &format!("shop {i}"),
                    *a,
                    &format!("2026-03-0{}T12:00:00Z", i + 1),
                )
            })
            .collect();
        // sorted: 98, 99, 100, 101, 102, 1000 -> median m = (100 + 101) / 2 = 100.5.
        // |x - m|: 0.5, 1.5, 2.5, 0.5, 1.5, 899.5 -> sorted 0.5, 0.5, 1.5, 1.5, 2.5, 899.5
        //   -> MAD = (1.5 + 1.5) / 2 = 1.5.
        // z(1000) = 0.6745 x 899.5 / 1.5 = 606.71275 / 1.5 = 404.475166.. -> 404.4752 > 3.5.
        // z(98) = 0.6745 x -2.5 / 1.5 = -1.1241..; |z| of the others is smaller still.
        assert_eq!(
            result("detect_anomalies", json!({"transactions": transactions})),
            json!({
                "outliers": [{"id": "o-6", "category": "office", "amount_cents": 1000, "z": 404.4752}],
                "duplicates": [],
                "categories": [{"category": "office", "count": 6, "median_cents": 100.5, "mad_cents": 1.5}],
            })
        );
    }

    #[test]
    fn detect_anomalies_has_no_z_scores_where_the_mad_is_zero_and_orders_outliers_by_size_then_id()
    {
        let t = |id: &str, category: &str, amount: i64, day: u32| {
            tx(
                id,
                category,
                id,
                amount,
                &format!("2026-01-{day:02}T00:00:00Z"),
            )
        };
        let input = json!({"transactions": [
            // fuel: 5000, 5000, 5000, 9000: m = (5000 + 5000) / 2 = 5000; |x - m| = 0, 0, 0, 4000
            // -> MAD = (0 + 0) / 2 = 0: no z-scores, so 9000 is not an outlier.
            t("f-1", "fuel", 5000, 1), t("f-2", "fuel", 5000, 2), t("f-3", "fuel", 5000, 3), t("f-4", "fuel", 9000, 4),
            // rent: one amount: m = 500000, MAD = 0.
            t("r-1", "rent", 500_000, 5),
            // swing: -1000, -1, 0, 0, 0, 1, 1000: m = 0; |x - m| sorted 0, 0, 0, 1, 1, 1000, 1000
            // -> MAD = 1. z(+-1000) = +-0.6745 x 1000 / 1 = +-674.5: equal |z|, so by id (o-a
            // before o-b). z(+-1) = +-0.6745: no.
            t("o-b", "swing", -1000, 6), t("s-1", "swing", -1, 7), t("s-2", "swing", 0, 8),
            t("s-3", "swing", 0, 9), t("s-4", "swing", 0, 10), t("s-5", "swing", 1, 11),
            t("o-a", "swing", 1000, 12),
            // edge: -1349, 0, 0, 1349, 7000: m = 0; |x - m| sorted 0, 0, 1349, 1349, 7000 -> MAD = 1349.
            // z(7000) = 0.6745 x 7000 / 1349 = 4721.5 / 1349 = 3.5 exactly: not above 3.5.
            t("e-1", "edge", -1349, 13), t("e-2", "edge", 0, 14), t("e-3", "edge", 0, 15),
            t("e-4", "edge", 1349, 16), t("e-5", "edge", 7000, 17),
            // edge2: the same with 7001: z = 0.6745 x 7001 / 1349 = 4722.1745 / 1349
            // = 3.50050..: an outlier, -> 3.5005.
            t("g-1", "edge2", -1349, 18), t("g-2", "edge2", 0, 19), t("g-3", "edge2", 0, 20),
            t("g-4", "edge2", 1349, 21), t("g-5", "edge2", 7001, 22),
        ]});
        assert_eq!(
            result("detect_anomalies", input),
            json!({
                "outliers": [
                    {"id": "o-a", "category": "swing", "amount_cents": 1000, "z": 674.5},
                    {"id": "o-b", "category": "swing", "amount_cents": -1000, "z": -674.5},
                    {"id": "g-5", "category": "edge2", "amount_cents": 7001, "z": 3.5005},
                ],
                "duplicates": [],
                "categories": [
                    {"category": "edge", "count": 5, "median_cents": 0.0, "mad_cents": 1349.0},
                    {"category": "edge2", "count": 5, "median_cents": 0.0, "mad_cents": 1349.0},
                    {"category": "fuel", "count": 4, "median_cents": 5000.0, "mad_cents": 0.0},
                    {"category": "rent", "count": 1, "median_cents": 500_000.0, "mad_cents": 0.0},
                    {"category": "swing", "count": 7, "median_cents": 0.0, "mad_cents": 1.0},
                ],
            })
        );
    }

    #[test]
    fn detect_anomalies_finds_same_amount_same_counterparty_within_a_day() {
        let input = json!({"transactions": [
            tx("d-2", "ops", "ACME Corp ", -5000, "2026-03-01T10:00:00Z"),
            // 09:30+01:00 is 08:30Z on the 2nd: 22.5 h after d-2.
            tx("d-1", "ops", "acme corp", -5000, "2026-03-02T09:30:00+01:00"),
            // 25.5 h after d-1, 48 h after d-2: neither.
            tx("d-3", "ops", "Acme Corp", -5000, "2026-03-03T10:00:00Z"),
            // Exactly 24 h after d-3: a pair (the window is inclusive).
            tx("d-4", "ops", "  acme CORP", -5000, "2026-03-04T10:00:00Z"),
            // Same instant as d-4 but another amount: no pair.
            tx("d-5", "ops", "acme corp", -5001, "2026-03-04T10:00:00Z"),
            // Another payee with d-4's amount and instant: no pair.
            tx("d-6", "ops", "acme corp ltd", -5000, "2026-03-04T10:00:00Z"),
            // 1200.5 s apart: 1200.5 / 3600 = 0.333472.. h -> 0.3335.
            tx("z-2", "ops", "Zed", 700, "2026-03-05T00:20:00.5Z"),
            tx("z-1", "ops", "zed", 700, "2026-03-05T00:00:00Z"),
        ]});
        // Pairs by ids; the counterparty as the smaller id wrote it.
        assert_eq!(
            result("detect_anomalies", input)["duplicates"],
            json!([
                {"ids": ["d-1", "d-2"], "amount_cents": -5000, "counterparty": "acme corp", "hours_apart": 22.5},
                {"ids": ["d-3", "d-4"], "amount_cents": -5000, "counterparty": "Acme Corp", "hours_apart": 24.0},
                {"ids": ["z-1", "z-2"], "amount_cents": 700, "counterparty": "zed", "hours_apart": 0.3335},
            ])
        );
    }

    #[test]
    fn detect_anomalies_pairs_each_payment_of_a_burst_with_the_one_before_it() {
        // Three at 00:00, 01:00, 02:00: a-b and b-c are neighbours within
        // 24 h; a-c is not listed (c repeats b, its neighbour), so n equal
        // payments give n - 1 pairs.
        let input = json!({"transactions": [
            tx("c", "x", "p", 1, "2026-01-01T02:00:00Z"),
            tx("a", "x", "p", 1, "2026-01-01T00:00:00Z"),
            tx("b", "x", "p", 1, "2026-01-01T01:00:00Z"),
        ]});
        let r = result("detect_anomalies", input);
        let ids: Vec<Value> = r["duplicates"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|d| d["ids"].clone())
            .collect();
        assert_eq!(ids, vec![json!(["a", "b"]), json!(["b", "c"])]);
        // b-c: 1 h.
        assert_eq!(r["duplicates"][1]["hours_apart"], json!(1.0));
    }

    #[test]
    fn detect_anomalies_of_nothing_is_empty() {
        assert_eq!(
            result("detect_anomalies", json!({"transactions": []})),
            json!({"outliers": [], "duplicates": [], "categories": []})
        );
    }

    #[test]
    fn detect_anomalies_reads_rfc_3339_with_t_or_a_space_and_any_offset() {
        // The same instant four ways: 10:00Z = 11:00+01:00 = 05:00-05:00; 0 h apart.
        let input = json!({"transactions": [
            tx("a", "c", "p", 1, "2026-03-01T10:00:00Z"),
            tx("b", "c", "p", 1, "2026-03-01 11:00:00+01:00"),
            tx("c", "c", "p", 1, "2026-03-01t05:00:00.000-05:00"),
            tx("d", "c", "p", 1, "2026-03-01T10:00:00z"),
        ]});
        let r = result("detect_anomalies", input);
        let pairs = r["duplicates"].as_array().expect("a list");
        // 4 transactions at one instant: 3 neighbouring pairs, each 0 hours apart.
        assert_eq!(pairs.len(), 3);
        assert!(pairs.iter().all(|p| p["hours_apart"] == json!(0.0)));
        // The calendar's ends, offsets pushing them past it, and a leap second: refused
        // or answered, never a panic in the subtraction.
        for (a, b) in [
            ("0000-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"),
            ("0000-01-01T00:00:00Z", "0000-01-01T23:59:59.999999999Z"),
            ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"),
        ] {
            let input = json!({"transactions": [tx("a", "c", "p", 1, a), tx("b", "c", "p", 1, b)]});
            assert!(testing::refuses_or_answers(
                AGENT,
                "detect_anomalies",
                &input
            ));
        }
    }

    #[test]
    fn detect_anomalies_names_the_field_of_input_that_does_not_parse() {
        let ok = tx("a", "c", "p", 1, "2026-03-01T10:00:00Z");
        let input = |t: Value| json!({"transactions": [ok, t]});
        let cases = [
            (json!({}), "input.transactions"),
            (
                input(tx("b", "c", "p", 1, "2026-03-01x10:00:00Z")),
                "input.transactions[1].at",
            ),
            (
                input(tx("b", "c", "p", 1, "2026-03-01")),
                "input.transactions[1].at",
            ),
            (
                input(tx("b", "c", "p", 1, "2026-03-01T10:00:00+24:00")),
                "input.transactions[1].at",
            ),
            (
                input(tx("b", "c", "p", 1, "2026-03-01T10:00:00")),
                "input.transactions[1].at",
            ),
            (
                input(tx("b", "c", "p", 1, "2026-02-30T10:00:00Z")),
                "input.transactions[1].at",
            ),
            (
                input(tx("b", "c", "p", 1, "yesterday")),
                "input.transactions[1].at",
            ),
            (
                input(json!({"id": "b", "category": "c", "counterparty": "p", "amount_cents": 1})),
                "input.transactions[1].at",
            ),
            (
                input(
                    json!({"id": "b", "category": "c", "counterparty": "p", "amount_cents": 1, "at": 5}),
                ),
                "input.transactions[1].at",
            ),
            (
                input(tx("a", "c", "p", 1, "2026-03-01T10:00:00Z")),
                "input.transactions[1].id",
            ),
            (
                input(tx("b", "", "p", 1, "2026-03-01T10:00:00Z")),
                "input.transactions[1].category",
            ),
            (
                input(tx("b", "c", "", 1, "2026-03-01T10:00:00Z")),
                "input.transactions[1].counterparty",
            ),
            (
                input(tx("b", "c", " \t", 1, "2026-03-01T10:00:00Z")),
                "input.transactions[1].counterparty",
            ),
            (
                input(
                    json!({"id": "b", "category": "c", "counterparty": "p", "amount_cents": 2.5, "at": "2026-03-01T10:00:00Z"}),
                ),
                "input.transactions[1].amount_cents",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("detect_anomalies", input.clone()),
                field,
                "{input}"
            );
        }
    }

    // -- reconcile ------------------------------------------------------------

    fn entry(id: &str, date: &str, amount: i64, reference: Option<&str>) -> Value {
        json!({"id": id, "date": date, "amount_cents": amount, "reference": reference})
    }

    #[test]
    fn reconcile_matches_greedily_preferring_a_reference_then_the_nearest_date_then_the_ledger_id()
    {
        let input = json!({
            "bank": [
                entry("b-1", "2026-03-01", -5000, Some("INV-7")),
                entry("b-2", "2026-03-02", -5000, None),
                entry("b-3", "2026-03-05", 12000, None),
                entry("b-4", "2026-03-10", -999, Some("  ")),
                entry("b-0", "2026-03-02", 300, None),
            ],
            "ledger": [
                entry("l-1", "2026-03-01", -5000, None),
                entry("l-2", "2026-03-03", -5000, Some(" inv-7 ")),
                entry("l-3", "2026-03-09", 12000, None),
                entry("l-4", "2026-03-08", 12000, None),
                entry("l-5", "2026-03-11", -999, Some("")),
                entry("l-6", "2026-03-11", -999, None),
                entry("l-7", "2026-02-01", 777, None),
            ],
        });
        // Bank order by (date, id): b-1 (03-01), b-0 (03-02), b-2 (03-02), b-3, b-4.
        // b-1 -5000 "INV-7": l-1 (0 days, no ref), l-2 (2 days, " inv-7 " = "INV-7")
        //   -> the reference wins: l-2, 2 days, by reference.
        // b-0 300: no ledger entry of 300 -> unmatched.
        // b-2 -5000: l-1 only (l-2 is used), 1 day.
        // b-3 12000: l-3 is 4 days away (too far), l-4 3 days -> l-4.
        // b-4 -999: blank references compare as none; l-5 and l-6 both 1 day -> l-5 by id.
        // Unmatched ledger by (date, id): l-7 (02-01), l-3 (03-09), l-6 (03-11).
        // bank total: -5000 - 5000 + 12000 - 999 + 300 = 1301.
        // ledger total: -5000 - 5000 + 12000 + 12000 - 999 - 999 + 777 = 12779.
        // net: 1301 - 12779 = -11478 = unmatched bank 300 - unmatched ledger (777 + 12000 - 999 = 11778).
        assert_eq!(
            result("reconcile", input),
            json!({
                "matched": [
                    {"bank_id": "b-1", "ledger_id": "l-2", "amount_cents": -5000, "days_apart": 2, "by_reference": true},
                    {"bank_id": "b-2", "ledger_id": "l-1", "amount_cents": -5000, "days_apart": 1, "by_reference": false},
                    {"bank_id": "b-3", "ledger_id": "l-4", "amount_cents": 12000, "days_apart": 3, "by_reference": false},
                    {"bank_id": "b-4", "ledger_id": "l-5", "amount_cents": -999, "days_apart": 1, "by_reference": false},
                ],
                "unmatched_bank": ["b-0"],
                "unmatched_ledger": ["l-7", "l-3", "l-6"],
                "bank_total_cents": 1301,
                "ledger_total_cents": 12779,
                "net_difference_cents": -11478,
            })
        );
    }

    #[test]
    fn reconcile_is_greedy_in_bank_order_not_a_best_assignment() {
        // b-1 (03-01) comes first and takes its nearest, l-a (03-02, 1 day; l-b on 02-27 is
        // 2 days). b-2 (03-04) is then left with l-b, 5 days away: unmatched. A best
        // assignment would pair b-1/l-b and b-2/l-a (2 days each); the contract is greedy.
        let input = json!({
            "bank": [entry("b-2", "2026-03-04", 10, None), entry("b-1", "2026-03-01", 10, None)],
            "ledger": [entry("l-b", "2026-02-27", 10, None), entry("l-a", "2026-03-02", 10, None)],
        });
        let r = result("reconcile", input);
        assert_eq!(
            r["matched"],
            json!([{"bank_id": "b-1", "ledger_id": "l-a", "amount_cents": 10, "days_apart": 1, "by_reference": false}])
        );
        assert_eq!(r["unmatched_bank"], json!(["b-2"]));
        assert_eq!(r["unmatched_ledger"], json!(["l-b"]));
        // 10 + 10 - (10 + 10) = 0.
        assert_eq!(r["net_difference_cents"], 0);
    }

    #[test]
    fn reconcile_of_empty_sides_is_zero() {
        assert_eq!(
            result("reconcile", json!({"bank": [], "ledger": []})),
            json!({"matched": [], "unmatched_bank": [], "unmatched_ledger": [],
                   "bank_total_cents": 0, "ledger_total_cents": 0, "net_difference_cents": 0})
        );
        // One side only: 250 - 0 = 250. An id may be on both sides; here only one.
        let r = result(
            "reconcile",
            json!({"bank": [entry("x", "2026-01-01", 250, None)], "ledger": []}),
        );
        assert_eq!(r["unmatched_bank"], json!(["x"]));
        assert_eq!(r["net_difference_cents"], 250);
    }

    #[test]
    fn reconcile_allows_one_id_on_both_sides() {
        let input = json!({
            "bank": [entry("same", "2026-01-01", 5, None)],
            "ledger": [entry("same", "2026-01-04", 5, None)],
        });
        // 3 days apart: within the window.
        assert_eq!(result("reconcile", input)["matched"][0]["days_apart"], 3);
    }

    #[test]
    fn reconcile_names_the_field_of_input_that_does_not_parse() {
        let e = entry("a", "2026-01-01", 1, None);
        let cases = [
            (json!({"bank": []}), "input.ledger"),
            (json!({"ledger": []}), "input.bank"),
            (json!({"bank": [e, e], "ledger": []}), "input.bank[1].id"),
            (json!({"bank": [], "ledger": [e, e]}), "input.ledger[1].id"),
            (
                json!({"bank": [], "ledger": [entry("a", "2026-1-01", 1, None)]}),
                "input.ledger[0].date",
            ),
            (
                json!({"bank": [{"id": "a", "date": "2026-01-01"}], "ledger": []}),
                "input.bank[0].amount_cents",
            ),
            (
                json!({"bank": [{"id": "a", "date": "2026-01-01", "amount_cents": "5"}], "ledger": []}),
                "input.bank[0].amount_cents",
            ),
            (
                json!({"bank": [{"id": "a", "date": "2026-01-01", "amount_cents": 5, "reference": 7}], "ledger": []}),
                "input.bank[0].reference",
            ),
            (
                json!({"bank": [{"id": "", "date": "2026-01-01", "amount_cents": 5}], "ledger": []}),
                "input.bank[0].id",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(invalid_field("reconcile", input.clone()), field, "{input}");
        }
    }

    #[test]
    fn reconcile_refuses_a_side_whose_total_passes_ten_to_the_fifteen() {
        let big = 600_000_000_000_000_i64;
        // 6 x 10^14 x 2 = 1.2 x 10^15 on the bank side.
        let bank = json!({"bank": [entry("a", "2026-01-01", big, None), entry("b", "2026-01-01", big, None)],
                          "ledger": []});
        assert_eq!(invalid_field("reconcile", bank), "input.bank");
        let ledger = json!({"bank": [],
                            "ledger": [entry("a", "2026-01-01", -big, None), entry("b", "2026-01-01", -big, None)]});
        assert_eq!(invalid_field("reconcile", ledger), "input.ledger");
        // At the limits on both sides: 10^15 - (-10^15) = 2 x 10^15, shown as is.
        let max = 1_000_000_000_000_000_i64;
        let r = result(
            "reconcile",
            json!({"bank": [entry("a", "2026-01-01", max, None)],
                                        "ledger": [entry("b", "2026-01-01", -max, None)]}),
        );
        assert_eq!(r["net_difference_cents"], 2 * max);
    }

    // -- draft_invoice --------------------------------------------------------

    #[test]
    fn draft_invoice_matches_the_contract_example() {
        // AGENTS.md "accounting / draft_invoice", verbatim.
        let input = json!(
            {"customer": {"id": "c-1", "name": "Acme", "email": "ap@acme.test"},
             "currency": "USD",
             "lines": [{"description": "Setup", "quantity": 1, "service_id": "svc-setup"}],
             "services": {"svc-setup": 50000},
             "default_price_cents": null,
             "tax_rate": 0.0725}
        );
        // 50000 x 1 = 50000; tax = 50000 x 0.0725 = 3625 exactly; total 53625.
        assert_eq!(
            result("draft_invoice", input),
            json!(
                {"customer_id": "c-1", "currency": "USD",
                 "lines": [{"description": "Setup", "quantity": 1, "unit_price_cents": 50000,
                            "price_source": "service", "amount_cents": 50000}],
                 "subtotal_cents": 50000, "tax_cents": 3625, "total_cents": 53625}
            )
        );
    }

    #[test]
    fn draft_invoice_takes_each_price_from_the_first_source_that_has_one() {
        let input = json!({
            "customer": {"id": "c-2", "name": "Bee"},
            "currency": "EUR",
            "lines": [
                // deposit first, though the service and metadata have prices too.
                {"description": "Deposit work", "quantity": 2, "deposit_cents": 1500,
                 "service_id": "svc-a", "metadata": {"price_cents": 1}},
                {"description": "Setup", "quantity": 1, "service_id": "svc-a", "metadata": {"price_cents": 1}},
                // svc-missing is not in the catalogue: falls through to metadata, 0 is a price.
                {"description": "Freebie", "quantity": 3, "service_id": "svc-missing",
                 "metadata": {"price_cents": 0, "colour": "red"}},
                // metadata without a price (and a null deposit): the default.
                {"description": "Widget", "quantity": 4, "deposit_cents": null, "metadata": {"note": "x"}},
            ],
            "services": {"svc-a": 9999},
            "default_price_cents": 250,
            "tax_rate": 0.0725,
        });
        // amounts: 1500 x 2 = 3000; 9999 x 1 = 9999; 0 x 3 = 0; 250 x 4 = 1000.
        // subtotal = 3000 + 9999 + 0 + 1000 = 13999.
        // tax = 13999 x 0.0725 = 1014.9275 -> 1015; total = 13999 + 1015 = 15014.
        assert_eq!(
            result("draft_invoice", input),
            json!({
                "customer_id": "c-2", "currency": "EUR",
                "lines": [
                    {"description": "Deposit work", "quantity": 2, "unit_price_cents": 1500,
                     "price_source": "deposit", "amount_cents": 3000},
                    {"description": "Setup", "quantity": 1, "unit_price_cents": 9999,
                     "price_source": "service", "amount_cents": 9999},
                    {"description": "Freebie", "quantity": 3, "unit_price_cents": 0,
                     "price_source": "metadata", "amount_cents": 0},
                    {"description": "Widget", "quantity": 4, "unit_price_cents": 250,
                     "price_source": "default", "amount_cents": 1000},
                ],
                "subtotal_cents": 13999, "tax_cents": 1015, "total_cents": 15014,
            })
        );
    }

    fn one_line_invoice(price: i64, tax_rate: Option<Value>) -> Value {
        let mut input = json!({
            "customer": {"id": "c", "name": "n"}, "currency": "USD",
            "lines": [{"description": "d", "quantity": 1, "deposit_cents": price}],
        });
        if let Some(rate) = tax_rate {
            input["tax_rate"] = rate;
        }
        input
    }

    #[test]
    fn draft_invoice_rounds_tax_half_to_even() {
        // 3000 x 0.0725 = 217.5 exactly -> 218 (217 is odd, so up); not 217.49999.. as a double.
        let r = result("draft_invoice", one_line_invoice(3000, Some(json!(0.0725))));
        assert_eq!(
            (r["tax_cents"].clone(), r["total_cents"].clone()),
            (json!(218), json!(3218))
        );
        // 1000 x 0.0725 = 72.5 exactly -> 72 (72 is even, so down); total 1072.
        let r = result("draft_invoice", one_line_invoice(1000, Some(json!(0.0725))));
        assert_eq!(
            (r["tax_cents"].clone(), r["total_cents"].clone()),
            (json!(72), json!(1072))
        );
        // 1001 x 0.0725 = 72.5725 -> 73 (not a half: nearest).
        let r = result("draft_invoice", one_line_invoice(1001, Some(json!(0.0725))));
        assert_eq!(r["tax_cents"], 73);
        // No tax rate, or null, is 0 tax; a rate of 1 doubles the total: 1000 + 1000.
        for rate in [None, Some(Value::Null), Some(json!(0))] {
            let r = result("draft_invoice", one_line_invoice(1000, rate));
            assert_eq!(
                (r["tax_cents"].clone(), r["total_cents"].clone()),
                (json!(0), json!(1000))
            );
        }
        assert_eq!(
            result("draft_invoice", one_line_invoice(1000, Some(json!(1))))["total_cents"],
            2000
        );
    }

    #[test]
    fn draft_invoice_fails_naming_every_line_with_no_price() {
        let input = json!({
            "customer": {"id": "c", "name": "n"}, "currency": "USD",
            "lines": [
                {"description": "Setup", "quantity": 1, "service_id": "svc-setup"},
                // Its service is not in the catalogue and nothing else prices it.
                {"description": "Mystery gadget", "quantity": 1, "service_id": "svc-nope", "metadata": {}},
            ],
            "services": {"svc-setup": 50000},
        });
        assert_eq!(
            failure("draft_invoice", input),
            Failure("lines[1] \"Mystery gadget\": no price from any source".to_owned())
        );
        let two = json!({
            "customer": {"id": "c", "name": "n"}, "currency": "USD",
            "lines": [{"description": "A \"quoted\"", "quantity": 1}, {"description": "B", "quantity": 2}],
        });
        assert_eq!(
            failure("draft_invoice", two).0,
            "lines[0] \"A \\\"quoted\\\"\": no price from any source; lines[1] \"B\": no price from any source"
        );
    }

    #[test]
    fn draft_invoice_names_the_field_of_input_that_does_not_parse() {
        let line = json!({"description": "d", "quantity": 1, "deposit_cents": 5});
        let ok = json!({"customer": {"id": "c", "name": "n"}, "currency": "USD", "lines": [line]});
        let lines = |l: Value| with(&ok, "lines", Some(json!([line, l])));
        let cases = [
            (
                with(&ok, "customer", Some(json!({"name": "n"}))),
                "input.customer.id",
            ),
            (
                with(&ok, "customer", Some(json!({"id": "c"}))),
                "input.customer.name",
            ),
            (
                with(
                    &ok,
                    "customer",
                    Some(json!({"id": "c", "name": "n", "email": ""})),
                ),
                "input.customer.email",
            ),
            (with(&ok, "customer", None), "input.customer"),
            (with(&ok, "currency", Some(json!("usd"))), "input.currency"),
            (with(&ok, "lines", Some(json!([]))), "input.lines"),
            (lines(json!({"quantity": 1})), "input.lines[1].description"),
            (
                lines(json!({"description": "d", "quantity": 0})),
                "input.lines[1].quantity",
            ),
            (
                lines(json!({"description": "d", "quantity": 1.5})),
                "input.lines[1].quantity",
            ),
            (
                lines(json!({"description": "d", "quantity": 1, "deposit_cents": -1})),
                "input.lines[1].deposit_cents",
            ),
            (
                lines(json!({"description": "d", "quantity": 1, "metadata": "cheap"})),
                "input.lines[1].metadata",
            ),
            (
                lines(json!({"description": "d", "quantity": 1, "metadata": {"price_cents": -5}})),
                "input.lines[1].metadata.price_cents",
            ),
            (
                lines(
                    json!({"description": "d", "quantity": 1, "metadata": {"price_cents": "12"}}),
                ),
                "input.lines[1].metadata.price_cents",
            ),
            (
                with(&ok, "services", Some(json!({"svc-a": 1.5}))),
                "input.services.svc-a",
            ),
            (
                with(&ok, "default_price_cents", Some(json!(-1))),
                "input.default_price_cents",
            ),
            (with(&ok, "tax_rate", Some(json!(1.5))), "input.tax_rate"),
            (with(&ok, "tax_rate", Some(json!("0.07"))), "input.tax_rate"),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("draft_invoice", input.clone()),
                field,
                "{input}"
            );
        }
    }

    #[test]
    fn draft_invoice_refuses_an_amount_subtotal_or_total_past_ten_to_the_fifteen() {
        let invoice = |lines: Value, rate: f64| json!({"customer": {"id": "c", "name": "n"}, "currency": "USD", "lines": lines, "tax_rate": rate});
        // 500_000_000_000_000 x 3 = 1.5 x 10^15.
        let amount = invoice(
            json!([{"description": "a", "quantity": 3, "deposit_cents": 500_000_000_000_000_i64}]),
            0.0,
        );
        assert_eq!(
            invalid_field("draft_invoice", amount),
            "input.lines[0].quantity"
        );
        // 6 x 10^14 + 6 x 10^14 = 1.2 x 10^15.
        let subtotal = invoice(
            json!([{"description": "a", "quantity": 1, "deposit_cents": 600_000_000_000_000_i64},
                   {"description": "b", "quantity": 1, "deposit_cents": 600_000_000_000_000_i64}]),
            0.0,
        );
        assert_eq!(invalid_field("draft_invoice", subtotal), "input.lines");
        // 9 x 10^14 + 9 x 10^14 x 0.2 = 1.08 x 10^15 with tax.
        let total = invoice(
            json!([{"description": "a", "quantity": 1, "deposit_cents": 900_000_000_000_000_i64}]),
            0.2,
        );
        assert_eq!(invalid_field("draft_invoice", total), "input.lines");
    }

    // -- invariants -----------------------------------------------------------

    /// Cents in ±10^15: mostly small (so amounts coincide), sometimes huge.
    fn signed_cents() -> impl Strategy<Value = i64> {
        prop_oneof![
            3 => -5_i64..5,
            1 => -1_000_000_000_000_000_i64..=1_000_000_000_000_000,
        ]
    }

    proptest! {
        #[test]
        fn categorize_transactions_counts_add_up_to_the_matched(
            rules in proptest::collection::vec(
                (prop::sample::select(vec!["a", "B", "ab", ".", "é"]), prop::sample::select(vec!["x", "y", "z"])),
                0..4,
            ),
            txs in proptest::collection::vec(("[aAbB.é ]{0,4}", signed_cents()), 0..12),
        ) {
            let input = json!({
                "rules": rules.iter().map(|(p, c)| json!({"pattern": p, "category": c})).collect::<Vec<_>>(),
                "transactions": txs.iter().enumerate()
                    .map(|(i, (d, a))| json!({"id": format!("t{i}"), "description": d, "amount_cents": a}))
                    .collect::<Vec<_>>(),
            });
            prop_assert!(testing::refuses_or_answers(AGENT, "categorize_transactions", &input));
            let a = action("categorize_transactions");
            match a.validate(&input) {
                Err(e) => prop_assert_eq!(e.field(), "input.transactions"),
                Ok(()) => {
                    let r = a.run(&input).expect("a valid input is answered").result;
                    let matched = r["transactions"].as_array().expect("a list");
                    let unmatched = r["unmatched"].as_array().expect("a list");
                    prop_assert_eq!(matched.len() + unmatched.len(), txs.len());
                    let categories = r["categories"].as_array().expect("a list");
                    let counted: u64 = categories.iter().map(|c| c["count"].as_u64().expect("a count")).sum();
                    prop_assert_eq!(counted, matched.len() as u64);
                    // Each category's amount is the sum of its matched transactions'.
                    for c in categories {
                        let sum: i64 = matched.iter()
                            .filter(|m| m["category"] == c["category"])
                            .map(|m| {
                                let i: usize = m["id"].as_str().expect("an id")[1..].parse().expect("t<i>");
                                txs[i].1
                            })
                            .sum();
                        prop_assert_eq!(c["amount_cents"].as_i64(), Some(sum));
                    }
                }
            }
        }

        #[test]
        fn detect_anomalies_never_panics_and_counts_every_transaction(
            txs in proptest::collection::vec(
                (0..3_usize, 0..3_usize, signed_cents(), 0..200_000_i64),
                0..14,
            ),
        ) {
            let input = json!({"transactions": txs.iter().enumerate().map(|(i, &(c, p, a, s))| {
                let at = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(s);
                let at = at.format(&Rfc3339).expect("formats");
                tx(&format!("t{i:02}"), &format!("c{c}"), &format!("P{p} "), a, &at)
            }).collect::<Vec<_>>()});
            let r = result("detect_anomalies", input);
            let counted: u64 = r["categories"].as_array().expect("a list").iter()
                .map(|c| c["count"].as_u64().expect("a count")).sum();
            prop_assert_eq!(counted, txs.len() as u64);
            for o in r["outliers"].as_array().expect("a list") {
                prop_assert!(o["z"].as_f64().expect("a number").abs() >= 3.5);
            }
            let duplicates = r["duplicates"].as_array().expect("a list");
            // Neighbours only: fewer pairs than transactions, never quadratic.
            prop_assert!(duplicates.len() < txs.len().max(1));
            for d in duplicates {
                prop_assert!(d["ids"][0].as_str() < d["ids"][1].as_str());
                prop_assert!(d["hours_apart"].as_f64().expect("a number") <= 24.0);
            }
        }

        #[test]
        fn reconcile_totals_and_net_difference_agree_with_what_is_left(
            bank in proptest::collection::vec((0..10_i64, signed_cents()), 0..10),
            ledger in proptest::collection::vec((0..10_i64, signed_cents()), 0..10),
        ) {
            let side = |entries: &[(i64, i64)], prefix: &str| -> Vec<Value> {
                entries.iter().enumerate().map(|(i, &(day, a))| {
                    entry(&format!("{prefix}{i}"), &format!("2026-01-{:02}", day + 1), a, None)
                }).collect()
            };
            let input = json!({"bank": side(&bank, "b"), "ledger": side(&ledger, "l")});
            prop_assert!(testing::refuses_or_answers(AGENT, "reconcile", &input));
            let a = action("reconcile");
            if a.validate(&input).is_err() {
                return Ok(());
            }
            let r = a.run(&input).expect("a valid input is answered").result;
            let amount = |entries: &[(i64, i64)], id: &Value| {
                let i: usize = id.as_str().expect("an id")[1..].parse().expect("<side><i>");
                entries[i].1
            };
            let bank_total: i64 = bank.iter().map(|e| e.1).sum();
            let ledger_total: i64 = ledger.iter().map(|e| e.1).sum();
            prop_assert_eq!(r["bank_total_cents"].as_i64(), Some(bank_total));
            prop_assert_eq!(r["ledger_total_cents"].as_i64(), Some(ledger_total));
            prop_assert_eq!(r["net_difference_cents"].as_i64(), Some(bank_total - ledger_total));
            let left_bank: i64 = r["unmatched_bank"].as_array().expect("a list").iter().map(|id| amount(&bank, id)).sum();
            let left_ledger: i64 = r["unmatched_ledger"].as_array().expect("a list").iter().map(|id| amount(&ledger, id)).sum();
            prop_assert_eq!(left_bank - left_ledger, bank_total - ledger_total);
            let matched = r["matched"].as_array().expect("a list");
            prop_assert_eq!(matched.len() + r["unmatched_bank"].as_array().map_or(0, Vec::len), bank.len());
            prop_assert_eq!(matched.len() + r["unmatched_ledger"].as_array().map_or(0, Vec::len), ledger.len());
            for m in matched {
                prop_assert_eq!(amount(&bank, &m["bank_id"]), amount(&ledger, &m["ledger_id"]));
                prop_assert!(m["days_apart"].as_i64().expect("days") <= 3);
            }
        }

        #[test]
        fn draft_invoice_total_is_subtotal_plus_tax_and_subtotal_the_sum_of_amounts(
            lines in proptest::collection::vec(
                (1..1000_u64, proptest::option::of(0..=1_000_000_000_000_000_i64), proptest::option::of(0..3_usize)),
                1..6,
            ),
            rate in 0..=10_000_u32,
            default in proptest::option::of(0..100_000_i64),
        ) {
            let input = json!({
                "customer": {"id": "c", "name": "n"}, "currency": "USD",
                "lines": lines.iter().enumerate().map(|(i, (q, deposit, svc))| json!({
                    "description": format!("line {i}"), "quantity": q, "deposit_cents": deposit,
                    "service_id": svc.map(|s| format!("svc-{s}")),
                })).collect::<Vec<_>>(),
                "services": {"svc-0": 0, "svc-1": 123_456},
                "default_price_cents": default,
                // 4 places, in [0, 1].
                "tax_rate": f64::from(rate) / 10_000.0,
            });
            prop_assert!(testing::refuses_or_answers(AGENT, "draft_invoice", &input));
            let a = action("draft_invoice");
            if a.validate(&input).is_err() {
                return Ok(());
            }
            if let Ok(out) = a.run(&input) {
                let r = out.result;
                let amounts: i64 = r["lines"].as_array().expect("a list").iter()
                    .map(|l| l["amount_cents"].as_i64().expect("cents")).sum();
                let subtotal = r["subtotal_cents"].as_i64().expect("cents");
                let tax = r["tax_cents"].as_i64().expect("cents");
                prop_assert_eq!(subtotal, amounts);
                prop_assert_eq!(r["total_cents"].as_i64(), Some(subtotal + tax));
                prop_assert!((0..=subtotal).contains(&tax));
            }
        }
    }
}
