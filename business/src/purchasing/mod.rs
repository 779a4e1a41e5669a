//! The purchasing agent's actions: vendors and purchase orders.
//!
//! - [`CompareVendors`] (`compare_vendors`, complexity 1): the cheapest
//!   eligible quote per needed sku against the current vendor's, and what
//!   switching would save.
//! - [`DraftPurchaseOrder`] (`draft_purchase_order`, complexity 2): a
//!   purchase order priced from its lines or from the vendor's quotes.
//! - [`SubmitPurchaseOrder`] (`submit_purchase_order`, complexity 4): a
//!   priced purchase order sent to the vendor through the outbound queue.
//!
//! A quote is *eligible* for a quantity of a sku when it is for that sku and
//! its `min_quantity` is at most the quantity. Money is whole cents; every
//! amount and total is at most 10^15 cents, refused at submission otherwise.

use serde::{Deserialize, Serialize};

use crate::fields::{self, Cents, Count, Currency, Quantity, Text};
use crate::{
    AgentType, BusinessAction, Complexity, Effect, Failure, InvalidInput, Outcome, to_value,
};

/// A vendor's price for a sku from a minimum quantity.
#[derive(Debug, Clone, Deserialize)]
pub struct Quote {
    vendor: Text,
    sku: Text,
    unit_price_cents: Cents,
    min_quantity: Count,
}

/// The lowest eligible quote for `quantity` of `sku`, from `vendor` only
/// when one is given; ties on price go to the vendor first in string order.
fn lowest<'a>(
    quotes: &'a [Quote],
    sku: &str,
    quantity: Quantity,
    vendor: Option<&str>,
) -> Option<&'a Quote> {
    quotes
        .iter()
        .filter(|q| q.sku.as_str() == sku && q.min_quantity.get() <= quantity.get())
        .filter(|q| vendor.is_none_or(|v| q.vendor.as_str() == v))
        .min_by(|a, b| {
            (a.unit_price_cents, a.vendor.as_str()).cmp(&(b.unit_price_cents, b.vendor.as_str()))
        })
}

/// The limit error for a line or need whose amount passes 10^15 cents.
fn amount_too_large(path: String, quantity: Quantity, unit_price: i64) -> InvalidInput {
    InvalidInput::new(
        path,
        format!(
            "quantity {} x {} cents passes the limit of {} cents",
            quantity.get(),
            unit_price,
            fields::MAX_CENTS
        ),
    )
}

// ---------------------------------------------------------------------------
// compare_vendors

/// `compare_vendors`: for each needed sku, the cheapest eligible quote, the
/// current vendor's cheapest eligible quote, and the saving of switching.
///
/// `needs` may be empty (the result then lists no sku and saves 0); `quotes`
/// may be empty (every best and current price is then `null`).
pub struct CompareVendors;

/// `compare_vendors`'s input.
#[derive(Debug, Deserialize)]
pub struct CompareVendorsInput {
    needs: Vec<Need>,
    quotes: Vec<Quote>,
}

/// A sku needed in a quantity, maybe bought from a vendor today.
#[derive(Debug, Deserialize)]
struct Need {
    sku: Text,
    quantity: Quantity,
    #[serde(default)]
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

/// The comparison, or the field whose saving passes the limit.
fn compare(input: &CompareVendorsInput) -> Result<Comparison<'_>, InvalidInput> {
    let mut skus = Vec::with_capacity(input.needs.len());
    for (i, need) in input.needs.iter().enumerate() {
        let best = lowest(&input.quotes, need.sku.as_str(), need.quantity, None);
        let current = need.current_vendor.as_ref().and_then(|v| {
            lowest(
                &input.quotes,
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
                Some(
                    fields::amount(per_unit, need.quantity.get()).ok_or_else(|| {
                        amount_too_large(format!("needs[{i}].quantity"), need.quantity, per_unit)
                    })?,
                )
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

impl BusinessAction for CompareVendors {
    type Input = CompareVendorsInput;
    const AGENT: AgentType = AgentType::Purchasing;
    const NAME: &'static str = "compare_vendors";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique(
            input.needs.iter().map(|n| n.sku.as_str()),
            |i| format!("needs[{i}].sku"),
            "sku",
        )?;
        compare(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(compare(&input).map_err(|e| Failure(e.to_string()))?)
    }
}

// ---------------------------------------------------------------------------
// draft_purchase_order

/// `draft_purchase_order`: a purchase order for one vendor, each line priced
/// from its own `unit_price_cents` or else from the vendor's lowest eligible
/// quote; a line with neither fails the job, naming the line.
pub struct DraftPurchaseOrder;

/// `draft_purchase_order`'s input.
#[derive(Debug, Deserialize)]
pub struct DraftPurchaseOrderInput {
    vendor: Text,
    currency: Currency,
    lines: Vec<DraftLine>,
    #[serde(default)]
    quotes: Option<Vec<Quote>>,
}

/// A line to draft: a sku, a quantity, maybe a price.
#[derive(Debug, Deserialize)]
struct DraftLine {
    sku: Text,
    quantity: Quantity,
    #[serde(default)]
    unit_price_cents: Option<Cents>,
}

/// One priced line of the draft.
#[derive(Debug, Serialize)]
struct DraftedLine<'a> {
    sku: &'a Text,
    quantity: Quantity,
    unit_price_cents: i64,
    price_source: &'static str,
    amount_cents: i64,
}

/// `draft_purchase_order`'s result.
#[derive(Debug, Serialize)]
struct Draft<'a> {
    vendor: &'a Text,
    currency: &'a Currency,
    lines: Vec<DraftedLine<'a>>,
    total_cents: i64,
    status: &'static str,
}

/// The lines that have a price, their total, and a message for each line
/// without one; or the field whose amount or total passes the limit.
fn draft(input: &DraftPurchaseOrderInput) -> Result<(Draft<'_>, Vec<String>), InvalidInput> {
    let quotes = input.quotes.as_deref().unwrap_or_default();
    let mut lines = Vec::with_capacity(input.lines.len());
    let mut unpriced = Vec::new();
    for (i, line) in input.lines.iter().enumerate() {
        let price = match line.unit_price_cents {
            Some(p) => Some((p.get(), "line")),
            None => lowest(
                quotes,
                line.sku.as_str(),
                line.quantity,
                Some(input.vendor.as_str()),
            )
            .map(|q| (q.unit_price_cents.get(), "quote")),
        };
        let Some((unit_price_cents, price_source)) = price else {
            unpriced.push(format!(
                "lines[{i}] {:?}: no price from any source",
                line.sku.as_str()
            ));
            continue;
        };
        let amount_cents =
            fields::amount(unit_price_cents, line.quantity.get()).ok_or_else(|| {
                amount_too_large(
                    format!("lines[{i}].quantity"),
                    line.quantity,
                    unit_price_cents,
                )
            })?;
        lines.push(DraftedLine {
            sku: &line.sku,
            quantity: line.quantity,
            unit_price_cents,
            price_source,
            amount_cents,
        });
    }
    let total_cents = fields::sum(lines.iter().map(|l| l.amount_cents))
        .ok_or_else(|| fields::too_large("lines", "the order's total"))?;
    let draft = Draft {
        vendor: &input.vendor,
        currency: &input.currency,
        lines,
        total_cents,
        status: "DRAFT",
    };
    Ok((draft, unpriced))
}

impl BusinessAction for DraftPurchaseOrder {
    type Input = DraftPurchaseOrderInput;
    const AGENT: AgentType = AgentType::Purchasing;
    const NAME: &'static str = "draft_purchase_order";
    const COMPLEXITY: Complexity = Complexity::Draft;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::non_empty(&input.lines, "lines", "line")?;
        fields::unique(
            input.lines.iter().map(|l| l.sku.as_str()),
            |i| format!("lines[{i}].sku"),
            "sku",
        )?;
        // Whether every line has a price is a business rule the job fails
        // on; the amounts of the lines that have one are bounded here.
        draft(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        let (draft, unpriced) = draft(&input).map_err(|e| Failure(e.to_string()))?;
        if !unpriced.is_empty() {
            return Err(Failure(unpriced.join("; ")));
        }
        Outcome::result(draft)
    }
}

// ---------------------------------------------------------------------------
// submit_purchase_order

/// The longest purchase order number accepted, in characters.
pub const MAX_PO_NUMBER_CHARS: usize = 64;

/// `submit_purchase_order`: a fully priced purchase order, published to the
/// outbound queue for the vendor integration. Its one effect is
/// [`Effect::PublishOutbound`] of exactly the job's result.
pub struct SubmitPurchaseOrder;

/// `submit_purchase_order`'s input; every field is required.
#[derive(Debug, Deserialize)]
pub struct SubmitPurchaseOrderInput {
    po_number: String,
    vendor: Text,
    currency: Currency,
    lines: Vec<SubmitLine>,
}

/// A priced line to submit.
#[derive(Debug, Deserialize)]
struct SubmitLine {
    sku: Text,
    quantity: Quantity,
    unit_price_cents: Cents,
}

/// One line of the submitted order.
#[derive(Debug, Serialize)]
struct SubmittedLine<'a> {
    sku: &'a Text,
    quantity: Quantity,
    unit_price_cents: Cents,
    amount_cents: i64,
}

/// `submit_purchase_order`'s result, and the outbound message.
#[derive(Debug, Serialize)]
struct Submitted<'a> {
    po_number: &'a str,
    vendor: &'a Text,
    currency: &'a Currency,
    lines: Vec<SubmittedLine<'a>>,
    total_cents: i64,
    status: &'static str,
}

/// The submitted order, or the field whose amount or total passes the limit.
fn submitted(input: &SubmitPurchaseOrderInput) -> Result<Submitted<'_>, InvalidInput> {
    let lines = input
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let price = line.unit_price_cents.get();
            let amount_cents = fields::amount(price, line.quantity.get()).ok_or_else(|| {
                amount_too_large(format!("lines[{i}].quantity"), line.quantity, price)
            })?;
            Ok(SubmittedLine {
                sku: &line.sku,
                quantity: line.quantity,
                unit_price_cents: line.unit_price_cents,
                amount_cents,
            })
        })
        .collect::<Result<Vec<_>, InvalidInput>>()?;
    let total_cents = fields::sum(lines.iter().map(|l| l.amount_cents))
        .ok_or_else(|| fields::too_large("lines", "the order's total"))?;
    Ok(Submitted {
        po_number: &input.po_number,
        vendor: &input.vendor,
        currency: &input.currency,
        lines,
        total_cents,
        status: "SUBMITTED",
    })
}

impl BusinessAction for SubmitPurchaseOrder {
    type Input = SubmitPurchaseOrderInput;
    const AGENT: AgentType = AgentType::Purchasing;
    const NAME: &'static str = "submit_purchase_order";
    const COMPLEXITY: Complexity = Complexity::ExternalEffect;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        let chars = input.po_number.chars().count();
        if chars == 0 || chars > MAX_PO_NUMBER_CHARS {
            return Err(InvalidInput::new(
                "po_number",
                format!("must be 1 to {MAX_PO_NUMBER_CHARS} characters, not {chars}"),
            ));
        }
        fields::non_empty(&input.lines, "lines", "line")?;
        fields::unique(
            input.lines.iter().map(|l| l.sku.as_str()),
            |i| format!("lines[{i}].sku"),
            "sku",
        )?;
        submitted(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        let result = to_value(submitted(&input).map_err(|e| Failure(e.to_string()))?)?;
        Ok(Outcome {
            effects: vec![Effect::PublishOutbound(result.clone())],
            result,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::{AgentType, Complexity, Effect, Failure, testing};

    testing::agent_helpers!(AgentType::Purchasing);

    #[test]
    fn the_three_actions_are_registered_with_their_complexity() {
        assert_eq!(action("compare_vendors").complexity(), Complexity::Analysis);
        assert_eq!(
            action("draft_purchase_order").complexity(),
            Complexity::Draft
        );
        assert_eq!(
            action("submit_purchase_order").complexity(),
            Complexity::ExternalEffect
        );
    }

    // -- compare_vendors ----------------------------------------------------

    #[test]
    fn compare_vendors_finds_the_cheapest_eligible_quote_and_the_saving() {
        let input = json!({
            "needs": [
                {"sku": "SKU-1", "quantity": 100, "current_vendor": "vendor-a"},
                {"sku": "SKU-2", "quantity": 5, "current_vendor": "vendor-b"},
            ],
            "quotes": [
                {"vendor": "vendor-a", "sku": "SKU-1", "unit_price_cents": 1000, "min_quantity": 1},
                {"vendor": "vendor-b", "sku": "SKU-1", "unit_price_cents": 900, "min_quantity": 50},
                // Cheaper, but needs 500: not eligible for 100.
                {"vendor": "vendor-c", "sku": "SKU-1", "unit_price_cents": 500, "min_quantity": 500},
                // vendor-a's bulk price applies from 100: eligible, and vendor-a's lowest.
                {"vendor": "vendor-a", "sku": "SKU-1", "unit_price_cents": 950, "min_quantity": 100},
                {"vendor": "vendor-b", "sku": "SKU-2", "unit_price_cents": 250, "min_quantity": 0},
                {"vendor": "vendor-c", "sku": "SKU-2", "unit_price_cents": 200, "min_quantity": 5},
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
                {"vendor": "vendor-z", "sku": "SKU-1", "unit_price_cents": 700, "min_quantity": 1},
                {"vendor": "vendor-m", "sku": "SKU-1", "unit_price_cents": 700, "min_quantity": 1},
                {"vendor": "vendor-b", "sku": "SKU-1", "unit_price_cents": 700, "min_quantity": 1},
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
                {"vendor": "vendor-a", "sku": "SKU-1", "unit_price_cents": 100, "min_quantity": 1_000},
                {"vendor": "vendor-a", "sku": "SKU-2", "unit_price_cents": 300, "min_quantity": 1},
                {"vendor": "vendor-a", "sku": "SKU-3", "unit_price_cents": 40, "min_quantity": 1},
                {"vendor": "vendor-a", "sku": "SKU-4", "unit_price_cents": 40, "min_quantity": 1},
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
        let input = json!({"needs": [], "quotes": [], "ignored": "unknown fields are ignored"});
        assert_eq!(
            result("compare_vendors", input),
            json!({"skus": [], "total_saving_cents": 0})
        );
    }

    #[test]
    fn compare_vendors_names_the_field_of_input_that_does_not_parse() {
        let quote = json!({"vendor": "v", "sku": "S", "unit_price_cents": 1, "min_quantity": 0});
        let cases = [
            // The second need repeats the first's sku.
            (
                json!({"needs": [{"sku": "S", "quantity": 1}, {"sku": "S", "quantity": 2}], "quotes": []}),
                "input.needs[1].sku",
            ),
            (
                json!({"needs": [{"sku": "S", "quantity": -1}], "quotes": []}),
                "input.needs[0].quantity",
            ),
            (
                json!({"needs": [{"sku": "S", "quantity": 1.5}], "quotes": []}),
                "input.needs[0].quantity",
            ),
            (
                json!({"needs": [{"sku": "S", "quantity": 0}], "quotes": []}),
                "input.needs[0].quantity",
            ),
            (
                json!({"needs": [{"sku": "S", "quantity": "3"}], "quotes": []}),
                "input.needs[0].quantity",
            ),
            (
                json!({"needs": [{"sku": "A", "quantity": 1}, {"quantity": 1}], "quotes": []}),
                "input.needs[1].sku",
            ),
            (
                json!({"needs": [{"sku": "", "quantity": 1}], "quotes": []}),
                "input.needs[0].sku",
            ),
            (json!({"needs": []}), "input.quotes"),
            (
                json!({"needs": [], "quotes": [quote, {"vendor": "v", "sku": "S", "unit_price_cents": 1, "min_quantity": -3}]}),
                "input.quotes[1].min_quantity",
            ),
            (
                json!({"needs": [], "quotes": [{"vendor": "v", "sku": "S", "unit_price_cents": -1, "min_quantity": 0}]}),
                "input.quotes[0].unit_price_cents",
            ),
            (
                // 10^15 + 1 cents is past the limit of any amount.
                json!({"needs": [], "quotes": [{"vendor": "v", "sku": "S", "unit_price_cents": 1_000_000_000_000_001_u64, "min_quantity": 0}]}),
                "input.quotes[0].unit_price_cents",
            ),
            (
                json!({"needs": [], "quotes": [{"vendor": "v", "sku": "S", "unit_price_cents": 1}]}),
                "input.quotes[0].min_quantity",
            ),
            (json!([]), "input"),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("compare_vendors", input.clone()),
                field,
                "{input}"
            );
        }
    }

    #[test]
    fn compare_vendors_refuses_a_saving_or_a_total_past_ten_to_the_fifteen() {
        let quotes = json!([
            {"vendor": "cheap", "sku": "A", "unit_price_cents": 0, "min_quantity": 0},
            {"vendor": "dear", "sku": "A", "unit_price_cents": 1_000_000_000_000_000_u64, "min_quantity": 0},
            {"vendor": "cheap", "sku": "B", "unit_price_cents": 0, "min_quantity": 0},
            {"vendor": "dear", "sku": "B", "unit_price_cents": 1_000_000_000_000_000_u64, "min_quantity": 0},
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

    // -- draft_purchase_order -----------------------------------------------

    #[test]
    fn draft_purchase_order_prices_lines_from_the_line_then_the_vendors_quotes() {
        let input = json!({
            "vendor": "vendor-a",
            "currency": "USD",
            "lines": [
                {"sku": "SKU-1", "quantity": 10, "unit_price_cents": 1200},
                {"sku": "SKU-2", "quantity": 20},
                {"sku": "SKU-3", "quantity": 3, "unit_price_cents": null},
            ],
            "quotes": [
                // The line's own price wins over a quote.
                {"vendor": "vendor-a", "sku": "SKU-1", "unit_price_cents": 1, "min_quantity": 0},
                {"vendor": "vendor-a", "sku": "SKU-2", "unit_price_cents": 450, "min_quantity": 1},
                {"vendor": "vendor-a", "sku": "SKU-2", "unit_price_cents": 400, "min_quantity": 20},
                // Another vendor's lower price is not this vendor's.
                {"vendor": "vendor-b", "sku": "SKU-2", "unit_price_cents": 100, "min_quantity": 0},
                // Needs 50, the line wants 20: not eligible.
                {"vendor": "vendor-a", "sku": "SKU-2", "unit_price_cents": 350, "min_quantity": 50},
                {"vendor": "vendor-a", "sku": "SKU-3", "unit_price_cents": 999, "min_quantity": 0},
            ],
        });
        // SKU-1: line price 1200; amount = 1200 x 10 = 12_000.
        // SKU-2: vendor-a's eligible quotes 450, 400 -> 400; amount = 400 x 20 = 8_000.
        // SKU-3: null line price = absent -> quote 999; amount = 999 x 3 = 2_997.
        // total = 12_000 + 8_000 + 2_997 = 22_997.
        assert_eq!(
            result("draft_purchase_order", input),
            json!({
                "vendor": "vendor-a",
                "currency": "USD",
                "lines": [
                    {"sku": "SKU-1", "quantity": 10, "unit_price_cents": 1200,
                     "price_source": "line", "amount_cents": 12_000},
                    {"sku": "SKU-2", "quantity": 20, "unit_price_cents": 400,
                     "price_source": "quote", "amount_cents": 8_000},
                    {"sku": "SKU-3", "quantity": 3, "unit_price_cents": 999,
                     "price_source": "quote", "amount_cents": 2_997},
                ],
                "total_cents": 22_997,
                "status": "DRAFT",
            })
        );
    }

    #[test]
    fn draft_purchase_order_without_quotes_uses_the_line_prices() {
        // quotes absent and quotes null mean the same.
        for quotes in [None, Some(Value::Null)] {
            let mut input = json!({
                "vendor": "v", "currency": "EUR",
                "lines": [{"sku": "A", "quantity": 1, "unit_price_cents": 0}],
            });
            if let Some(q) = quotes {
                input["quotes"] = q;
            }
            // amount = 0 x 1 = 0; total = 0.
            let r = result("draft_purchase_order", input);
            assert_eq!(r["lines"][0]["amount_cents"], 0);
            assert_eq!(r["total_cents"], 0);
        }
    }

    #[test]
    fn draft_purchase_order_fails_naming_a_line_with_no_price_from_any_source() {
        let input = json!({
            "vendor": "vendor-a",
            "currency": "USD",
            "lines": [
                {"sku": "SKU-1", "quantity": 10, "unit_price_cents": 1200},
                {"sku": "SKU-9", "quantity": 1},
            ],
            // Only another vendor quotes SKU-9: no price is ever guessed from it.
            "quotes": [{"vendor": "vendor-b", "sku": "SKU-9", "unit_price_cents": 5, "min_quantity": 0}],
        });
        assert_eq!(
            failure("draft_purchase_order", input),
            Failure("lines[1] \"SKU-9\": no price from any source".to_owned())
        );
        // Every unpriced line is named, in order.
        let two = json!({
            "vendor": "v", "currency": "USD",
            "lines": [{"sku": "X", "quantity": 1}, {"sku": "Y", "quantity": 1}],
        });
        assert_eq!(
            failure("draft_purchase_order", two).0,
            "lines[0] \"X\": no price from any source; lines[1] \"Y\": no price from any source"
        );
    }

    #[test]
    fn draft_purchase_order_names_the_field_of_input_that_does_not_parse() {
        let line = json!({"sku": "A", "quantity": 1, "unit_price_cents": 1});
        let cases = [
            (
                json!({"vendor": "v", "currency": "usd", "lines": [line]}),
                "input.currency",
            ),
            (
                json!({"vendor": "v", "currency": "US", "lines": [line]}),
                "input.currency",
            ),
            (
                json!({"vendor": "v", "currency": "USDX", "lines": [line]}),
                "input.currency",
            ),
            (
                json!({"vendor": "v", "currency": "ÜSD", "lines": [line]}),
                "input.currency",
            ),
            (json!({"vendor": "v", "lines": [line]}), "input.currency"),
            (
                json!({"vendor": "v", "currency": "USD", "lines": []}),
                "input.lines",
            ),
            (
                json!({"vendor": "v", "currency": "USD", "lines": [line, {"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 2}]}),
                "input.lines[2].sku",
            ),
            (
                json!({"vendor": "v", "currency": "USD", "lines": [line, {"sku": "B", "quantity": -2}]}),
                "input.lines[1].quantity",
            ),
            (
                json!({"vendor": "v", "currency": "USD", "lines": [{"sku": "B", "quantity": 2.5}]}),
                "input.lines[0].quantity",
            ),
            (
                json!({"vendor": "v", "currency": "USD", "lines": [line], "quotes": [{"vendor": "v", "sku": "A", "unit_price_cents": 1.25, "min_quantity": 0}]}),
                "input.quotes[0].unit_price_cents",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("draft_purchase_order", input.clone()),
                field,
                "{input}"
            );
        }
    }

    #[test]
    fn draft_purchase_order_refuses_an_amount_or_total_past_ten_to_the_fifteen() {
        // 500_000_000_000_000 x 3 = 1.5 x 10^15: past the limit.
        let line = json!({"vendor": "v", "currency": "USD", "lines": [
            {"sku": "A", "quantity": 3, "unit_price_cents": 500_000_000_000_000_u64},
        ]});
        assert_eq!(
            invalid_field("draft_purchase_order", line),
            "input.lines[0].quantity"
        );
        // The same through a quote: 500_000_000_000_000 x 3 again.
        let quoted = json!({"vendor": "v", "currency": "USD",
            "lines": [{"sku": "A", "quantity": 3}],
            "quotes": [{"vendor": "v", "sku": "A", "unit_price_cents": 500_000_000_000_000_u64, "min_quantity": 0}],
        });
        assert_eq!(
            invalid_field("draft_purchase_order", quoted),
            "input.lines[0].quantity"
        );
        // 600_000_000_000_000 x 1 + 600_000_000_000_000 x 1 = 1.2 x 10^15.
        let total = json!({"vendor": "v", "currency": "USD", "lines": [
            {"sku": "A", "quantity": 1, "unit_price_cents": 600_000_000_000_000_u64},
            {"sku": "B", "quantity": 1, "unit_price_cents": 600_000_000_000_000_u64},
        ]});
        assert_eq!(invalid_field("draft_purchase_order", total), "input.lines");
    }

    // -- submit_purchase_order ----------------------------------------------

    #[test]
    fn submit_purchase_order_returns_the_order_and_publishes_exactly_it() {
        let input = json!({
            "po_number": "PO-1001",
            "vendor": "vendor-a",
            "currency": "USD",
            "lines": [
                {"sku": "SKU-1", "quantity": 10, "unit_price_cents": 1200},
                {"sku": "SKU-2", "quantity": 3, "unit_price_cents": 333},
            ],
            "note": "ignored",
        });
        // SKU-1: 1200 x 10 = 12_000; SKU-2: 333 x 3 = 999; total = 12_999.
        let expected = json!({
            "po_number": "PO-1001",
            "vendor": "vendor-a",
            "currency": "USD",
            "lines": [
                {"sku": "SKU-1", "quantity": 10, "unit_price_cents": 1200, "amount_cents": 12_000},
                {"sku": "SKU-2", "quantity": 3, "unit_price_cents": 333, "amount_cents": 999},
            ],
            "total_cents": 12_999,
            "status": "SUBMITTED",
        });
        let out = outcome("submit_purchase_order", input);
        assert_eq!(out.result, expected);
        assert_eq!(out.effects, vec![Effect::PublishOutbound(expected)]);
    }

    #[test]
    fn submit_purchase_order_names_the_field_of_input_that_does_not_parse() {
        let line = json!({"sku": "A", "quantity": 1, "unit_price_cents": 1});
        let ok = json!({"po_number": "PO-1", "vendor": "v", "currency": "USD", "lines": [line]});
        let with = |key: &str, value: Value| {
            let mut input = ok.clone();
            input[key] = value;
            input
        };
        let without = |key: &str| {
            let mut input = ok.clone();
            input.as_object_mut().map(|o| o.remove(key));
            input
        };
        let cases = [
            (with("po_number", json!("")), "input.po_number"),
            // 65 characters: one past the 64 allowed.
            (with("po_number", json!("P".repeat(65))), "input.po_number"),
            (without("po_number"), "input.po_number"),
            (without("vendor"), "input.vendor"),
            (without("lines"), "input.lines"),
            (with("currency", json!("usd")), "input.currency"),
            (with("lines", json!([])), "input.lines"),
            (with("lines", json!([line, line])), "input.lines[1].sku"),
            (
                with("lines", json!([{"sku": "A", "quantity": 1}])),
                "input.lines[0].unit_price_cents",
            ),
            (
                with(
                    "lines",
                    json!([{"sku": "A", "quantity": 1, "unit_price_cents": null}]),
                ),
                "input.lines[0].unit_price_cents",
            ),
            (
                with(
                    "lines",
                    json!([{"sku": "A", "quantity": 0, "unit_price_cents": 1}]),
                ),
                "input.lines[0].quantity",
            ),
            (
                // 10^15 x 2 = 2 x 10^15: past the limit.
                with(
                    "lines",
                    json!([{"sku": "A", "quantity": 2, "unit_price_cents": 1_000_000_000_000_000_u64}]),
                ),
                "input.lines[0].quantity",
            ),
            (
                // 10^15 x 1 + 1 x 1 = 10^15 + 1: the total passes the limit.
                with(
                    "lines",
                    json!([
                        {"sku": "A", "quantity": 1, "unit_price_cents": 1_000_000_000_000_000_u64},
                        {"sku": "B", "quantity": 1, "unit_price_cents": 1},
                    ]),
                ),
                "input.lines",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("submit_purchase_order", input.clone()),
                field,
                "{input}"
            );
        }
        // 64 characters, multi-byte ones included, are accepted.
        let long = with("po_number", json!("é".repeat(64)));
        assert_eq!(
            outcome("submit_purchase_order", long).result["po_number"],
            "é".repeat(64)
        );
    }

    // -- invariants ---------------------------------------------------------

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

        #[test]
        fn every_purchasing_action_refuses_or_answers_but_never_panics(
            input in proptest::arbitrary::any::<(i64, Option<u64>, bool)>().prop_map(|(q, p, dup)| {
                let mut lines = vec![json!({"sku": "A", "quantity": q, "unit_price_cents": p})];
                if dup {
                    lines.push(json!({"sku": "B", "quantity": q, "unit_price_cents": p}));
                }
                json!({"po_number": "PO-1", "vendor": "v", "currency": "USD", "lines": lines,
                       "needs": [{"sku": "A", "quantity": q, "current_vendor": "v"}],
                       "quotes": [{"vendor": "v", "sku": "A", "unit_price_cents": p, "min_quantity": 0},
                                  {"vendor": "w", "sku": "A", "unit_price_cents": 0, "min_quantity": 0}]})
            }),
        ) {
            for name in ["compare_vendors", "draft_purchase_order", "submit_purchase_order"] {
                prop_assert!(testing::refuses_or_answers(AGENT, name, &input));
            }
        }
    }
}
