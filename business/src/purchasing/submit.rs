//! `submit_purchase_order`: a priced purchase order, sent to the vendor
//! through the outbound queue.

use serde::{Deserialize, Serialize};

use crate::fields::{self, Cents, Currency, Quantity, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// The longest purchase order number accepted, in characters.
pub const MAX_PO_NUMBER_CHARS: usize = 64;

/// `submit_purchase_order`: a fully priced purchase order, published to the
/// outbound queue for the vendor integration. Its one effect is
/// [`Effect::PublishOutbound`](crate::Effect::PublishOutbound) of exactly
/// the job's result.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitPurchaseOrder {
    po_number: Text,
    vendor: Text,
    currency: Currency,
    lines: Vec<SubmitLine>,
}

/// A priced line to submit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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

impl BusinessAction for SubmitPurchaseOrder {
    /// The order goes to the vendor integration.
    const PUBLISHED: bool = true;

    /// Refuses a purchase order number outside 1 to [`MAX_PO_NUMBER_CHARS`]
    /// characters, an order without lines and a sku on two lines.
    fn check(&self) -> Result<(), InvalidInput> {
        let chars = self.po_number.as_str().chars().count();
        if chars == 0 || chars > MAX_PO_NUMBER_CHARS {
            return Err(InvalidInput::new(
                "po_number",
                format!("must be 1 to {MAX_PO_NUMBER_CHARS} characters, not {chars}"),
            ));
        }
        fields::non_empty(&self.lines, "lines", "line")?;
        fields::unique_by(&self.lines, "lines", "sku", |l| &l.sku)
    }

    /// The submitted order; a line's amount or the total past 10^15 cents
    /// is refused.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let lines = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let price = line.unit_price_cents.get();
                let amount_cents =
                    fields::line_amount(format!("lines[{i}].quantity"), line.quantity, price)?;
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
            po_number: self.po_number.as_str(),
            vendor: &self.vendor,
            currency: &self.currency,
            lines,
            total_cents,
            status: "SUBMITTED",
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::Effect;
    use crate::purchasing::test_support::*;

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
        // A field the action does not define is refused (it was ignored).
        assert_eq!(
            invalid_field("submit_purchase_order", with(&input, "note", json!("x"))),
            "input.note"
        );
        let out = outcome("submit_purchase_order", input);
        assert_eq!(out.result, expected);
        assert_eq!(out.effects, vec![Effect::PublishOutbound(expected)]);
    }

    #[test]
    fn submit_purchase_order_names_the_field_of_input_that_does_not_parse() {
        let line = json!({"sku": "A", "quantity": 1, "unit_price_cents": 1});
        let ok = json!({"po_number": "PO-1", "vendor": "v", "currency": "USD", "lines": [line]});
        let with = |key: &str, value: Value| testing::with(&ok, key, value);
        let without = |key: &str| testing::without(&ok, key);
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
        invalid_fields("submit_purchase_order", cases);
        // 64 characters, multi-byte ones included, are accepted.
        let long = with("po_number", json!("é".repeat(64)));
        assert_eq!(
            outcome("submit_purchase_order", long).result["po_number"],
            "é".repeat(64)
        );
    }
}
