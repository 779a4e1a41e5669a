//! `compare_vendors`: the cheapest eligible quote per needed sku against
//! the current vendor's, and what switching would save.

use serde::{Deserialize, Serialize};

use super::{Quote, lowest};
use crate::fields::{self, Quantity, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// `compare_vendors`: for each needed sku, the cheapest eligible quote, the
/// current vendor's cheapest eligible quote, and the saving of switching.
///
/// `needs` may be empty (the result then lists no sku and saves 0); `quotes`
/// may be empty (every best and current price is then `null`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareVendors {
    needs: Vec<Need>,
    quotes: Vec<Quote>,
}

/// A sku needed in a quantity, maybe bought from a vendor today.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Need {
    sku: Text,
    quantity: Quantity,
    #[serde(default, deserialize_with = "fields::optional_text")]
    current_vendor: Option<Text>,
}

/// One row of `compare_vendors`'s result.
#[derive(Debug, Serialize)]
struct SkuComparison<'a> {
    sku: &'a Text,
    quantity: Quantity,
    best_vendor: Option<&'a Text>,
    best_unit_price_cents: Option<i64>,
    current_vendor: Option<&'a Text>,
    current_unit_price_cents: Option<i64>,
    saving_cents: Option<i64>,
}

/// `compare_vendors`'s result.
#[derive(Debug, Serialize)]
struct Comparison<'a> {
    skus: Vec<SkuComparison<'a>>,
    total_saving_cents: i64,
}

impl BusinessAction for CompareVendors {
    /// Refuses a sku needed twice.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.needs, "needs", "sku", |n| &n.sku)
    }

    /// The comparison; a saving or the total saving past 10^15 cents is
    /// refused, naming its field.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut skus = Vec::with_capacity(self.needs.len());
        for (i, need) in self.needs.iter().enumerate() {
            let best = lowest(&self.quotes, need.sku.as_str(), need.quantity, None);
            let current = need.current_vendor.as_ref().and_then(|v| {
                lowest(
                    &self.quotes,
                    need.sku.as_str(),
                    need.quantity,
                    Some(v.as_str()),
                )
            });
            let saving_cents = match (best, current) {
                (Some(best), Some(current)) => {
                    // The best is the lowest of all eligible quotes, the current
                    // vendor's among them, so the difference is never negative.
                    let per_unit = current.unit_price_cents.get() - best.unit_price_cents.get();
                    Some(fields::line_amount(
                        format!("needs[{i}].quantity"),
                        need.quantity,
                        per_unit,
                    )?)
                }
                _ => None,
            };
            skus.push(SkuComparison {
                sku: &need.sku,
                quantity: need.quantity,
                best_vendor: best.map(|q| &q.vendor),
                best_unit_price_cents: best.map(|q| q.unit_price_cents.get()),
                current_vendor: need.current_vendor.as_ref(),
                current_unit_price_cents: current.map(|q| q.unit_price_cents.get()),
                saving_cents,
            });
        }
        let total_saving_cents = fields::sum(skus.iter().filter_map(|s| s.saving_cents))
            .ok_or_else(|| fields::too_large("needs", "the total saving"))?;
        Ok(Comparison {
            skus,
            total_saving_cents,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::purchasing::test_support::*;

    #[test]
    fn compare_vendors_finds_the_cheapest_eligible_quote_and_the_saving() {
        let input = json!({
            "needs": [
                {"sku": "SKU-1", "quantity": 100, "current_vendor": "vendor-a"},
                {"sku": "SKU-2", "quantity": 5, "current_vendor": "vendor-b"},
            ],
            "quotes": [
                quote("vendor-a", "SKU-1", 1000, 1),
                quote("vendor-b", "SKU-1", 900, 50),
                // Cheaper, but needs 500: not eligible for 100.
                quote("vendor-c", "SKU-1", 500, 500),
                // vendor-a's bulk price applies from 100: eligible, and vendor-a's lowest.
                quote("vendor-a", "SKU-1", 950, 100),
                quote("vendor-b", "SKU-2", 250, 0),
                quote("vendor-c", "SKU-2", 200, 5),
            ],
        });
        // SKU-1: eligible 1000 (a), 900 (b), 950 (a); best 900 (b);
        //   current vendor-a's lowest eligible = min(1000, 950) = 950;
        //   saving = (950 - 900) x 100 = 5_000.
        // SKU-2: eligible 250 (b), 200 (c, min 5 <= 5); best 200 (c);
        //   current = 250; saving = (250 - 200) x 5 = 250.
        // total = 5_000 + 250 = 5_250.
        assert_eq!(
            result("compare_vendors", input),
            json!({
                "skus": [
                    {"sku": "SKU-1", "quantity": 100, "best_vendor": "vendor-b",
                     "best_unit_price_cents": 900, "current_vendor": "vendor-a",
                     "current_unit_price_cents": 950, "saving_cents": 5_000},
                    {"sku": "SKU-2", "quantity": 5, "best_vendor": "vendor-c",
                     "best_unit_price_cents": 200, "current_vendor": "vendor-b",
                     "current_unit_price_cents": 250, "saving_cents": 250},
                ],
                "total_saving_cents": 5_250,
            })
        );
    }

    #[test]
    fn compare_vendors_breaks_a_price_tie_by_vendor_name() {
        let input = json!({
            "needs": [{"sku": "SKU-1", "quantity": 10, "current_vendor": "vendor-z"}],
            "quotes": [
                quote("vendor-z", "SKU-1", 700, 1),
                quote("vendor-m", "SKU-1", 700, 1),
                quote("vendor-b", "SKU-1", 700, 1),
            ],
        });
        // All three at 700: "vendor-b" < "vendor-m" < "vendor-z", so vendor-b.
        // saving = (700 - 700) x 10 = 0; total = 0.
        let r = result("compare_vendors", input);
        assert_eq!(r["skus"][0]["best_vendor"], "vendor-b");
        assert_eq!(r["skus"][0]["best_unit_price_cents"], 700);
        assert_eq!(r["skus"][0]["saving_cents"], 0);
        assert_eq!(r["total_saving_cents"], 0);
    }

    #[test]
    fn compare_vendors_gives_nulls_when_no_quote_is_eligible_or_the_current_vendor_has_none() {
        let input = json!({
            "needs": [
                // The only quote needs 1_000: nothing eligible for 10.
                {"sku": "SKU-1", "quantity": 10, "current_vendor": "vendor-a"},
                // vendor-x has no quote for SKU-2.
                {"sku": "SKU-2", "quantity": 3, "current_vendor": "vendor-x"},
                // No current vendor.
                {"sku": "SKU-3", "quantity": 4},
                // null current vendor means the same as absent.
                {"sku": "SKU-4", "quantity": 4, "current_vendor": null},
            ],
            "quotes": [
                quote("vendor-a", "SKU-1", 100, 1_000),
                quote("vendor-a", "SKU-2", 300, 1),
                quote("vendor-a", "SKU-3", 40, 1),
                quote("vendor-a", "SKU-4", 40, 1),
            ],
        });
        // No saving has both prices, so total = 0 (sum of no savings).
        assert_eq!(
            result("compare_vendors", input),
            json!({
                "skus": [
                    {"sku": "SKU-1", "quantity": 10, "best_vendor": null,
                     "best_unit_price_cents": null, "current_vendor": "vendor-a",
                     "current_unit_price_cents": null, "saving_cents": null},
                    {"sku": "SKU-2", "quantity": 3, "best_vendor": "vendor-a",
                     "best_unit_price_cents": 300, "current_vendor": "vendor-x",
                     "current_unit_price_cents": null, "saving_cents": null},
                    {"sku": "SKU-3", "quantity": 4, "best_vendor": "vendor-a",
                     "best_unit_price_cents": 40, "current_vendor": null,
                     "current_unit_price_cents": null, "saving_cents": null},
                    {"sku": "SKU-4", "quantity": 4, "best_vendor": "vendor-a",
                     "best_unit_price_cents": 40, "current_vendor": null,
                     "current_unit_price_cents": null, "saving_cents": null},
                ],
                "total_saving_cents": 0,
            })
        );
    }

    #[test]
    fn compare_vendors_with_no_needs_lists_nothing_and_saves_nothing() {
        let input = json!({"needs": [], "quotes": []});
        assert_eq!(
            result("compare_vendors", input.clone()),
            json!({"skus": [], "total_saving_cents": 0})
        );
        // An unknown field is refused, never ignored.
        assert_eq!(
            invalid_field("compare_vendors", with(&input, "ignored", json!(1))),
            "input.ignored"
        );
    }

    #[test]
    fn compare_vendors_names_the_field_of_input_that_does_not_parse() {
        let needs = |needs: Value| json!({"needs": needs, "quotes": []});
        let need = |quantity: Value| needs(json!([{"sku": "S", "quantity": quantity}]));
        let quotes = |quotes: Value| json!({"needs": [], "quotes": quotes});
        let cases = [
            // The second need repeats the first's sku.
            (
                needs(json!([{"sku": "S", "quantity": 1}, {"sku": "S", "quantity": 2}])),
                "input.needs[1].sku",
            ),
            (need(json!(-1)), "input.needs[0].quantity"),
            (need(json!(1.5)), "input.needs[0].quantity"),
            (need(json!(0)), "input.needs[0].quantity"),
            (need(json!("3")), "input.needs[0].quantity"),
            (
                needs(json!([{"sku": "A", "quantity": 1}, {"quantity": 1}])),
                "input.needs[1].sku",
            ),
            (
                needs(json!([{"sku": "", "quantity": 1}])),
                "input.needs[0].sku",
            ),
            (json!({"needs": []}), "input.quotes"),
            (
                quotes(json!([
                    quote("v", "S", 1, 0),
                    with(&quote("v", "S", 1, 0), "min_quantity", json!(-3))
                ])),
                "input.quotes[1].min_quantity",
            ),
            (
                quotes(json!([with(
                    &quote("v", "S", 0, 0),
                    "unit_price_cents",
                    json!(-1)
                )])),
                "input.quotes[0].unit_price_cents",
            ),
            // 10^15 + 1 cents is past the limit of any amount.
            (
                quotes(json!([quote("v", "S", 1_000_000_000_000_001, 0)])),
                "input.quotes[0].unit_price_cents",
            ),
            (
                quotes(json!([without(&quote("v", "S", 1, 0), "min_quantity")])),
                "input.quotes[0].min_quantity",
            ),
            (json!([]), "input"),
        ];
        invalid_fields("compare_vendors", cases);
    }

    #[test]
    fn compare_vendors_refuses_a_saving_or_a_total_past_ten_to_the_fifteen() {
        let quotes = json!([
            quote("cheap", "A", 0, 0),
            quote("dear", "A", 1_000_000_000_000_000, 0),
            quote("cheap", "B", 0, 0),
            quote("dear", "B", 1_000_000_000_000_000, 0),
        ]);
        // saving A = (10^15 - 0) x 1 = 10^15: exactly the limit, accepted.
        let at_limit = json!({"needs": [{"sku": "A", "quantity": 1, "current_vendor": "dear"}], "quotes": quotes});
        assert_eq!(
            result("compare_vendors", at_limit)["total_saving_cents"],
            1_000_000_000_000_000_i64
        );
        // saving A = (10^15 - 0) x 2 = 2 x 10^15: past it.
        let saving = json!({"needs": [{"sku": "A", "quantity": 2, "current_vendor": "dear"}], "quotes": quotes});
        assert_eq!(
            invalid_field("compare_vendors", saving),
            "input.needs[0].quantity"
        );
        // Each saving is 10^15 x 1, but the total 10^15 + 10^15 is past it.
        let total = json!({"needs": [
            {"sku": "A", "quantity": 1, "current_vendor": "dear"},
            {"sku": "B", "quantity": 1, "current_vendor": "dear"},
        ], "quotes": quotes});
        assert_eq!(invalid_field("compare_vendors", total), "input.needs");
    }

    fn quotes_strategy() -> impl Strategy<Value = Vec<(usize, usize, u64, u64)>> {
        // (vendor index, sku index, unit price, min quantity)
        proptest::collection::vec((0..4_usize, 0..5_usize, 0..10_000_u64, 0..60_u64), 0..25)
    }

    fn needs_strategy() -> impl Strategy<Value = Vec<(u64, Option<usize>)>> {
        // One entry per sku index (so skus are unique): quantity, current vendor.
        proptest::collection::vec((1..50_u64, proptest::option::of(0..5_usize)), 0..5)
    }

    proptest! {
        #[test]
        fn compare_vendors_best_is_never_above_an_eligible_quote_and_the_total_is_the_sum(
            quotes in quotes_strategy(),
            needs in needs_strategy(),
        ) {
            let vendor = |i: usize| format!("vendor-{i}");
            let sku = |i: usize| format!("SKU-{i}");
            let quote_json: Vec<Value> = quotes.iter().map(|&(v, s, p, m)| json!({
                "vendor": vendor(v), "sku": sku(s), "unit_price_cents": p, "min_quantity": m,
            })).collect();
            let need_json: Vec<Value> = needs.iter().enumerate().map(|(s, &(q, cur))| json!({
                "sku": sku(s), "quantity": q, "current_vendor": cur.map(vendor),
            })).collect();
            let r = result("compare_vendors", json!({"needs": need_json, "quotes": quote_json}));

            let rows = r["skus"].as_array().expect("skus is a list");
            prop_assert_eq!(rows.len(), needs.len());
            let mut total = 0_i64;
            for (s, (row, &(q, cur))) in rows.iter().zip(&needs).enumerate() {
                prop_assert_eq!(&row["sku"], &json!(sku(s)));
                let eligible: Vec<&(usize, usize, u64, u64)> = quotes.iter()
                    .filter(|&&(_, qs, _, m)| qs == s && m <= q).collect();
                match row["best_unit_price_cents"].as_u64() {
                    Some(best) => {
                        for &&(_, _, p, _) in &eligible {
                            prop_assert!(best <= p);
                        }
                        prop_assert!(eligible.iter().any(|e| e.2 == best
                            && json!(vendor(e.0)) == row["best_vendor"]));
                    }
                    None => prop_assert!(eligible.is_empty()),
                }
                if let Some(saving) = row["saving_cents"].as_i64() {
                    prop_assert!(saving >= 0);
                    let current = row["current_unit_price_cents"].as_i64().expect("a current price");
                    let best = row["best_unit_price_cents"].as_i64().expect("a best price");
                    prop_assert_eq!(saving, (current - best) * i64::try_from(q).expect("small"));
                    total += saving;
                } else {
                    prop_assert!(cur.is_none()
                        || row["current_unit_price_cents"].is_null()
                        || row["best_unit_price_cents"].is_null());
                }
            }
            prop_assert_eq!(r["total_saving_cents"].as_i64(), Some(total));
        }
    }
}
