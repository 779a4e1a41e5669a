//! `reconcile`: bank entries matched to ledger entries, and what is left
//! on each side.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{folded, signed_total_too_large};
use crate::fields::{self, Date, SignedCents, Text};
use crate::{BusinessAction, InvalidInput, Problem};

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
#[derive(Debug, Deserialize)]
pub struct Reconcile {
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

impl BusinessAction for Reconcile {
    /// Refuses an id repeated on one side.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.bank, "bank", "id", |e| &e.id)?;
        fields::unique_by(&self.ledger, "ledger", "id", |e| &e.id)
    }

    /// The reconciliation; a side's total past ±10^15 cents is refused,
    /// naming the side.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let total = |entries: &[BookEntry], side: &str| {
            fields::signed_sum(entries.iter().map(|e| e.amount_cents.get()))
                .ok_or_else(|| signed_total_too_large(side, &format!("the {side}'s total")))
        };
        let bank_total_cents = total(&self.bank, "bank")?;
        let ledger_total_cents = total(&self.ledger, "ledger")?;

        // Ledger entries by amount, each list in (date, id) order.
        let ledger_order = by_date_then_id(&self.ledger);
        let mut by_amount: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for &i in &ledger_order {
            if let Some(e) = self.ledger.get(i) {
                by_amount.entry(e.amount_cents.get()).or_default().push(i);
            }
        }
        let mut used = vec![false; self.ledger.len()];
        let mut matched = Vec::new();
        let mut unmatched_bank = Vec::new();
        for b in by_date_then_id(&self.bank)
            .into_iter()
            .filter_map(|i| self.bank.get(i))
        {
            let reference = b.reference_key();
            let best = by_amount
                .get(&b.amount_cents.get())
                .into_iter()
                .flatten()
                .filter(|&&i| !used.get(i).copied().unwrap_or(true))
                .filter_map(|&i| {
                    let l = self.ledger.get(i)?;
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
            .filter_map(|i| self.ledger.get(i).map(|e| &e.id))
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
}

#[cfg(test)]
mod tests {
    use crate::accounting::test_support::*;

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
        invalid_fields("reconcile", cases);
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

    proptest! {
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
    }
}
