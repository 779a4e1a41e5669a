//! `categorize_transactions`: each transaction categorised by the first
//! rule whose pattern its description contains, and the totals per
//! category.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::signed_total_too_large;
use crate::fields::{self, Date, SignedCents, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// `categorize_transactions`: each transaction gets the category of the
/// first rule (in rule order) whose pattern its description contains,
/// compared case-insensitively as plain text (never a regular expression:
/// `.` is a dot); the totals per category follow.
///
/// `rules` and `transactions` may be empty. A transaction no rule matches is
/// listed in `unmatched`; a category total past ±10^15 cents is refused at
/// submission, naming `transactions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategorizeTransactions {
    rules: Vec<CategoryRule>,
    transactions: Vec<BookTransaction>,
}

/// A rule: descriptions that contain `pattern` are `category`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryRule {
    pattern: Text,
    category: Text,
}

/// A transaction to categorise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookTransaction {
    id: Text,
    description: Text,
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

impl BusinessAction for CategorizeTransactions {
    /// Refuses a repeated transaction id.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.transactions, "transactions", "id", |t| &t.id)
    }

    /// The categorisation; a category's total past ±10^15 cents is refused,
    /// naming `transactions`.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        // Lower-cased once: a pattern is plain text, matched as a substring.
        let patterns: Vec<String> = self
            .rules
            .iter()
            .map(|r| r.pattern.as_str().to_lowercase())
            .collect();
        let mut transactions = Vec::new();
        let mut unmatched = Vec::new();
        let mut amounts: BTreeMap<&Text, Vec<i64>> = BTreeMap::new();
        for t in &self.transactions {
            let description = t.description.as_str().to_lowercase();
            let first = patterns
                .iter()
                .position(|p| description.contains(p.as_str()));
            match first.and_then(|i| self.rules.get(i).map(|r| (i, r))) {
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
                let amount_cents =
                    fields::signed_sum(amounts.iter().copied()).ok_or_else(|| {
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
}

#[cfg(test)]
mod tests {
    use crate::accounting::test_support::*;

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
                {"id": "5", "description": "-", "amount_cents": 5},
            ],
        });
        // 1: no literal "a.c" -> unmatched. 2: "xa.cx" -> dotted. 3: "(*" -> odd.
        // 4: "café de flore" contains "café" (É lower-cased) -> food. 5: no pattern.
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
        let txs = |v: Value| with(&ok, "transactions", v);
        let cases = [
            (without(&ok, "rules"), "input.rules"),
            (without(&ok, "transactions"), "input.transactions"),
            (
                with(&ok, "rules", json!([{"pattern": "", "category": "c"}])),
                "input.rules[0].pattern",
            ),
            (
                with(&ok, "rules", json!([{"pattern": "p", "category": ""}])),
                "input.rules[0].category",
            ),
            (
                with(&ok, "rules", json!([{"pattern": "p"}])),
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
        invalid_fields("categorize_transactions", cases);
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

    proptest! {
        #[test]
        fn categorize_transactions_counts_add_up_to_the_matched(
            rules in proptest::collection::vec(
                (prop::sample::select(vec!["a", "B", "ab", ".", "é"]), prop::sample::select(vec!["x", "y", "z"])),
                0..4,
            ),
            txs in proptest::collection::vec(("[aAbB.é][aAbB.é ]{0,3}", signed_cents()), 0..12),
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
    }
}
