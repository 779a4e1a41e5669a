//! `draft_purchase_order`: a purchase order priced from its lines or from
//! the vendor's quotes.

use serde::{Deserialize, Serialize};

use super::{Quote, lowest};
use crate::fields::{self, Cents, Currency, Price, Pricing, Quantity, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// `draft_purchase_order`: a purchase order for one vendor, each line priced
/// from its own `unit_price_cents` or else from the vendor's lowest eligible
/// quote; a line with neither fails the job, naming the line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftPurchaseOrder {
    vendor: Text,
    currency: Currency,
    lines: Vec<DraftLine>,
    #[serde(default)]
    quotes: Option<Vec<Quote>>,
}

/// A line to draft: a sku, a quantity, maybe a price.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(flatten)]
    price: Price,
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

impl BusinessAction for DraftPurchaseOrder {
    /// Refuses an order without lines and a sku on two lines.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::non_empty(&self.lines, "lines", "line")?;
        fields::unique_by(&self.lines, "lines", "sku", |l| &l.sku)
    }

    /// The draft. A line's amount or the total past 10^15 cents is refused;
    /// a line without a price fails the job (a business rule, not a check),
    /// naming every such line.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let quotes = self.quotes.as_deref().unwrap_or_default();
        let mut lines = Vec::with_capacity(self.lines.len());
        let mut pricing = Pricing::default();
        for (i, line) in self.lines.iter().enumerate() {
            let price = match line.unit_price_cents {
                Some(p) => Some((p.get(), "line")),
                None => lowest(
                    quotes,
                    line.sku.as_str(),
                    line.quantity,
                    Some(self.vendor.as_str()),
                )
                .map(|q| (q.unit_price_cents.get(), "quote")),
            };
            if let Some(price) = pricing.line(i, line.sku.as_str(), line.quantity, price)? {
                lines.push(DraftedLine {
                    sku: &line.sku,
                    quantity: line.quantity,
                    price,
                });
            }
        }
        let total_cents = fields::sum(lines.iter().map(|l| l.price.amount_cents))
            .ok_or_else(|| fields::too_large("lines", "the order's total"))?;
        let draft = Draft {
            vendor: &self.vendor,
            currency: &self.currency,
            lines,
            total_cents,
            status: "DRAFT",
        };
        Ok(pricing.all_priced(draft)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::purchasing::test_support::*;

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
                quote("vendor-a", "SKU-1", 1, 0),
                quote("vendor-a", "SKU-2", 450, 1),
                quote("vendor-a", "SKU-2", 400, 20),
                // Another vendor's lower price is not this vendor's.
                quote("vendor-b", "SKU-2", 100, 0),
                // Needs 50, the line wants 20: not eligible.
                quote("vendor-a", "SKU-2", 350, 50),
                quote("vendor-a", "SKU-3", 999, 0),
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
            "quotes": [quote("vendor-b", "SKU-9", 5, 0)],
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
        invalid_fields("draft_purchase_order", cases);
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
            "quotes": [quote("v", "A", 500_000_000_000_000, 0)],
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
}
