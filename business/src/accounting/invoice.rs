//! `draft_invoice`: an invoice priced from the input's own sources, never
//! an invented price, with tax rounded half-even.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::beyond_exact;
use crate::exact::Rational;
use crate::fields::{self, Cents, Currency, Fraction, Price, Pricing, Quantity, Text};
use crate::{BusinessAction, InvalidInput, Problem};

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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftInvoice {
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
#[serde(deny_unknown_fields)]
struct Customer {
    id: Text,
    /// Required and checked, not echoed: the result names the customer by id.
    #[allow(dead_code)]
    name: Text,
    /// Checked when given, not echoed.
    #[serde(default, deserialize_with = "fields::optional_text")]
    #[allow(dead_code)]
    email: Option<Text>,
}

/// A line to invoice.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvoiceLine {
    description: Text,
    quantity: Quantity,
    #[serde(default, deserialize_with = "fields::optional_text")]
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
    #[serde(flatten)]
    price: Price,
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

impl BusinessAction for DraftInvoice {
    /// Refuses an invoice without lines.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::non_empty(&self.lines, "lines", "line")
    }

    /// The invoice. A line's amount, the subtotal or the total past 10^15
    /// cents is refused; a line without a price fails the job (a business
    /// rule, not a check), naming every such line.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut lines = Vec::with_capacity(self.lines.len());
        let mut pricing = Pricing::default();
        for (i, line) in self.lines.iter().enumerate() {
            let price = invoice_price(line, self.services.as_ref(), self.default_price_cents);
            if let Some(price) = pricing.line(i, line.description.as_str(), line.quantity, price)? {
                lines.push(InvoicedLine {
                    description: &line.description,
                    quantity: line.quantity,
                    price,
                });
            }
        }
        let subtotal_cents = fields::sum(lines.iter().map(|l| l.price.amount_cents))
            .ok_or_else(|| fields::too_large("lines", "the invoice's subtotal"))?;
        let rate = self.tax_rate.map_or(Rational::integer(0), |r| r.rational());
        // subtotal ≤ 10^15 and rate ≤ 1: the product is far inside i128.
        let tax_cents = Rational::integer(i128::from(subtotal_cents))
            .checked_mul(rate)
            .and_then(Rational::round_cents)
            .ok_or_else(|| beyond_exact("tax_rate"))?;
        let total_cents = fields::sum([subtotal_cents, tax_cents])
            .ok_or_else(|| fields::too_large("lines", "the invoice's total with tax"))?;
        let invoice = Invoice {
            customer_id: &self.customer.id,
            currency: &self.currency,
            lines,
            subtotal_cents,
            tax_cents,
            total_cents,
        };
        Ok(pricing.all_priced(invoice)?)
    }
}

#[cfg(test)]
mod tests {
    use crate::accounting::test_support::*;

    #[test]
    fn draft_invoice_matches_the_contract_example() {
        gives_the_contract_example("draft_invoice");
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
    fn draft_invoice_reads_the_tax_rate_from_the_digits_the_client_wrote() {
        let text = |rate: &str| {
            format!(
                r#"{{"customer": {{"id": "c", "name": "n"}}, "currency": "USD",
                    "lines": [{{"description": "d", "quantity": 1, "deposit_cents": 1000}}],
                    "tax_rate": {rate}}}"#
            )
        };
        // The defect: 0.07250000000000000001 was read as the double 0.0725, and
        // 1000 x 0.0725 = 72.5 -> 72 (half to even), where the rate written gives
        // 72.50000000000000001 -> 73. 21 significant digits are now refused.
        assert_eq!(
            invalid_field_in_text("draft_invoice", &text("0.07250000000000000001")),
            "input.tax_rate"
        );
        // Zeros that end the fraction are not digits that count: 0.0725, so 72.
        let r = result_of_text("draft_invoice", &text("0.07250000000000000000"));
        assert_eq!(r["tax_cents"], 72);
        // An exponent is allowed: 7.25e-2 = 0.0725.
        let r = result_of_text("draft_invoice", &text("7.25e-2"));
        assert_eq!(r["tax_cents"], 72);
        // 15 significant digits are kept exactly: 1000 x 0.072500000000001 =
        // 72.500000000001 -> 73 (more than a half).
        let r = result_of_text("draft_invoice", &text("0.072500000000001"));
        assert_eq!(r["tax_cents"], 73);
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
        let lines = |l: Value| with(&ok, "lines", json!([line, l]));
        let cases = [
            (
                with(&ok, "customer", json!({"name": "n"})),
                "input.customer.id",
            ),
            (
                with(&ok, "customer", json!({"id": "c"})),
                "input.customer.name",
            ),
            (
                with(&ok, "customer", json!({"id": "c", "name": " "})),
                "input.customer.name",
            ),
            (with(&ok, "taxrate", json!(0.07)), "input.taxrate"),
            (with(&ok, "currency", json!("XTS")), "input.currency"),
            (with(&ok, "currency", json!("BGN")), "input.currency"),
            (without(&ok, "customer"), "input.customer"),
            (with(&ok, "currency", json!("usd")), "input.currency"),
            (with(&ok, "lines", json!([])), "input.lines"),
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
                with(&ok, "services", json!({"svc-a": 1.5})),
                "input.services.svc-a",
            ),
            (
                with(&ok, "default_price_cents", json!(-1)),
                "input.default_price_cents",
            ),
            (with(&ok, "tax_rate", json!(1.5)), "input.tax_rate"),
            (with(&ok, "tax_rate", json!("0.07")), "input.tax_rate"),
        ];
        invalid_fields("draft_invoice", cases);
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

    proptest! {
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
