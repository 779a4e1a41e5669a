//! The logistics agent's actions: shipments and stock.
//!
//! - [`ShipmentStatus`] (`shipment_status`, complexity 1): the late
//!   shipments as of a date, and each carrier's on-time record.
//! - [`ReorderPlan`] (`reorder_plan`, complexity 2): per sku, the reorder
//!   point, the economic order quantity and whether to order now.
//!
//! Counts of stock and days are whole numbers; daily demand is an exact
//! decimal. Every figure a result holds is at most 10^15, refused at
//! submission otherwise; no computation uses binary floating point.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::exact::{self, Figure, Rational};
use crate::fields::{self, Cents, Count, Date, NonNegative, Text};
use crate::{AgentType, BusinessAction, Complexity, Failure, InvalidInput, Outcome};

/// Refuses a whole number above `max`, naming its field.
fn at_most(value: u64, max: u64, path: String) -> Result<(), InvalidInput> {
    if value > max {
        Err(InvalidInput::new(
            path,
            format!("{value} is past the limit of {max}"),
        ))
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// shipment_status

/// `shipment_status`: which shipments are late as of `as_of`, by how many
/// days, and each carrier's on-time record.
///
/// A shipment is late when it was delivered after its promised date, or is
/// not delivered and `as_of` is past the promised date; `days_late` is the
/// delivery date (or `as_of`) minus the promised date. A shipment delivered
/// on or before its promised date is on time; one not delivered and not yet
/// due is neither. `shipments` may be empty.
pub struct ShipmentStatus;

/// `shipment_status`'s input.
#[derive(Debug, Deserialize)]
pub struct ShipmentStatusInput {
    as_of: Date,
    shipments: Vec<Shipment>,
}

/// A shipment: its carrier, the date it was promised for and, once
/// delivered, the delivery date.
#[derive(Debug, Deserialize)]
struct Shipment {
    id: Text,
    carrier: Text,
    promised: Date,
    #[serde(default)]
    delivered: Option<Date>,
}

/// A late shipment in the result.
#[derive(Debug, Serialize)]
struct Late<'a> {
    id: &'a Text,
    carrier: &'a Text,
    days_late: i64,
    delivered: bool,
}

/// A carrier's record in the result.
#[derive(Debug, Serialize)]
struct CarrierRecord<'a> {
    carrier: &'a str,
    shipments: u64,
    delivered: u64,
    on_time: u64,
    late: u64,
    on_time_rate: Option<Figure>,
}

/// `shipment_status`'s result.
#[derive(Debug, Serialize)]
struct ShipmentReport<'a> {
    late: Vec<Late<'a>>,
    carriers: Vec<CarrierRecord<'a>>,
}

/// The counts of one carrier, before the rate.
#[derive(Debug, Default)]
struct CarrierCounts {
    shipments: u64,
    delivered: u64,
    on_time: u64,
    late: u64,
}

/// The report, or a failure if a rate does not fit a decimal (it always
/// does: it is at most 1).
fn shipment_report(input: &ShipmentStatusInput) -> Result<ShipmentReport<'_>, Failure> {
    let mut late = Vec::new();
    let mut counts: BTreeMap<&str, CarrierCounts> = BTreeMap::new();
    for s in &input.shipments {
        let c = counts.entry(s.carrier.as_str()).or_default();
        c.shipments += 1;
        // Delivered: late by delivery − promised; not yet: late by as_of −
        // promised once the promise has passed.
        let end = s.delivered.unwrap_or(input.as_of);
        let days_late = s.promised.days_until(end);
        if s.delivered.is_some() {
            c.delivered += 1;
            if days_late <= 0 {
                c.on_time += 1;
            }
        }
        if days_late > 0 {
            c.late += 1;
            late.push(Late {
                id: &s.id,
                carrier: &s.carrier,
                days_late,
                delivered: s.delivered.is_some(),
            });
        }
    }
    late.sort_by(|a, b| b.days_late.cmp(&a.days_late).then_with(|| a.id.cmp(b.id)));
    let carriers = counts
        .into_iter()
        .map(|(carrier, c)| {
            let on_time_rate = match (i128::from(c.on_time), i128::from(c.delivered)) {
                (_, 0) => None,
                (on_time, delivered) => Some(rate(on_time, delivered)?),
            };
            Ok(CarrierRecord {
                carrier,
                shipments: c.shipments,
                delivered: c.delivered,
                on_time: c.on_time,
                late: c.late,
                on_time_rate,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok(ShipmentReport { late, carriers })
}

/// `part / whole` (`whole > 0`) to 4 places, half-even.
fn rate(part: i128, whole: i128) -> Result<Figure, Failure> {
    Rational::new(part, whole)
        .and_then(|r| r.round(4))
        .map(Figure)
        .ok_or_else(|| Failure(format!("the rate {part}/{whole} could not be rounded")))
}

impl BusinessAction for ShipmentStatus {
    type Input = ShipmentStatusInput;
    const AGENT: AgentType = AgentType::Logistics;
    const NAME: &'static str = "shipment_status";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique(
            input.shipments.iter().map(|s| s.id.as_str()),
            |i| format!("shipments[{i}].id"),
            "id",
        )?;
        for (i, s) in input.shipments.iter().enumerate() {
            if let Some(delivered) = s.delivered
                && delivered > input.as_of
            {
                return Err(InvalidInput::new(
                    format!("shipments[{i}].delivered"),
                    format!("{delivered} is after as_of {}", input.as_of),
                ));
            }
        }
        Ok(())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(shipment_report(&input)?)
    }
}

// ---------------------------------------------------------------------------
// reorder_plan

/// `reorder_plan`: per sku, when to reorder and how much (AGENTS.md
/// "logistics / reorder_plan").
///
/// - reorder_point = ceil(daily_demand × lead_time_days) + safety_stock;
/// - eoq = ceil(sqrt(2 × daily_demand × 365 × order_cost / holding_cost)),
///   decided exactly in integers (the smallest whole `n` with `n²` at least
///   the exact quotient); 0 when demand or order cost is 0;
/// - order_now = on_hand ≤ reorder_point;
/// - order_quantity = max(eoq, reorder_point − on_hand) when order_now,
///   else 0.
///
/// `on_hand` and `safety_stock` are at most 10^15, `lead_time_days` any
/// whole number of days (a demand of at most 10^15 a day times `u64::MAX`
/// days stays far inside `i128`), `holding_cost_cents_per_unit_year` from 1
/// to 10^15. A reorder point or eoq past 10^15 is refused at submission,
/// naming the last operand that took it past: `lead_time_days` (the
/// demand over the lead time alone passes), `safety_stock` (adding it
/// does), `order_cost_cents` (the eoq). `items` may be empty.
pub struct ReorderPlan;

/// `reorder_plan`'s input.
#[derive(Debug, Deserialize)]
pub struct ReorderPlanInput {
    items: Vec<StockItem>,
}

/// A stocked sku and what it costs to order and to hold.
#[derive(Debug, Deserialize)]
struct StockItem {
    sku: Text,
    on_hand: Count,
    daily_demand: NonNegative,
    lead_time_days: Count,
    safety_stock: Count,
    order_cost_cents: Cents,
    holding_cost_cents_per_unit_year: Cents,
}

/// One sku of the plan.
#[derive(Debug, Serialize)]
struct Reorder<'a> {
    sku: &'a Text,
    reorder_point: u64,
    eoq: u64,
    order_now: bool,
    order_quantity: u64,
}

/// `reorder_plan`'s result.
#[derive(Debug, Serialize)]
struct Plan<'a> {
    items: Vec<Reorder<'a>>,
}

/// A figure past the limit, named by the field that took it there.
fn past_limit(path: String, what: &str, value: impl std::fmt::Display) -> InvalidInput {
    InvalidInput::new(
        path,
        format!(
            "the {what} {value} passes the limit of {}",
            fields::MAX_QUANTITY
        ),
    )
}

/// `value` as a `u64` if it is at most 10^15.
fn within_limit(value: u128) -> Option<u64> {
    u64::try_from(value)
        .ok()
        .filter(|v| *v <= fields::MAX_QUANTITY)
}

/// The smallest whole `n` with `n² ≥ 2 × demand × 365 × order_cost /
/// holding_cost`, exactly.
fn eoq(demand: NonNegative, order_cost: i64, holding_cost: i64) -> Option<u128> {
    let demand = demand.rational();
    // demand = m / 10^s with m < 10^15 (15 significant digits) and the
    // order cost ≤ 10^15: 730 × m × cost < 7.3 × 10^32, inside i128.
    let num = demand
        .numerator()
        .checked_mul(730)?
        .checked_mul(i128::from(order_cost))?;
    if num <= 0 {
        return Some(0);
    }
    // 10^s × holding (s ≤ 28, holding ≤ 10^15) may pass i128; it is then
    // above the numerator, so 0 < value < 1 and the root's ceiling is 1.
    match demand.denominator().checked_mul(i128::from(holding_cost)) {
        Some(den) => exact::ceil_sqrt(Rational::new(num, den)?),
        None => Some(1),
    }
}

/// The plan, or the field whose figure passes the limit.
fn reorder_plan(input: &ReorderPlanInput) -> Result<Plan<'_>, InvalidInput> {
    let mut items = Vec::with_capacity(input.items.len());
    for (i, item) in input.items.iter().enumerate() {
        let field = |name: &str| format!("items[{i}].{name}");
        // The demand over the lead time, rounded up to whole units.
        let lead_demand = item
            .daily_demand
            .rational()
            .checked_mul(Rational::integer(i128::from(item.lead_time_days.get())))
            .map(|r| r.ceil().unsigned_abs())
            .and_then(within_limit)
            .ok_or_else(|| {
                past_limit(
                    field("lead_time_days"),
                    "demand over the lead time",
                    format!(
                        "{} x {}",
                        item.daily_demand.get(),
                        item.lead_time_days.get()
                    ),
                )
            })?;
        let reorder_point = lead_demand
            .checked_add(item.safety_stock.get())
            .filter(|v| *v <= fields::MAX_QUANTITY)
            .ok_or_else(|| {
                past_limit(
                    field("safety_stock"),
                    "reorder point",
                    format!("{lead_demand} + {}", item.safety_stock.get()),
                )
            })?;
        let eoq = eoq(
            item.daily_demand,
            item.order_cost_cents.get(),
            item.holding_cost_cents_per_unit_year.get(),
        )
        .and_then(within_limit)
        .ok_or_else(|| {
            past_limit(
                field("order_cost_cents"),
                "economic order quantity",
                "for these costs",
            )
        })?;
        let on_hand = item.on_hand.get();
        let order_now = on_hand <= reorder_point;
        // order_now: on_hand ≤ reorder_point, so the shortfall is ≥ 0 and
        // the quantity at most max(eoq, reorder_point) ≤ 10^15.
        let order_quantity = if order_now {
            eoq.max(reorder_point - on_hand)
        } else {
            0
        };
        items.push(Reorder {
            sku: &item.sku,
            reorder_point,
            eoq,
            order_now,
            order_quantity,
        });
    }
    Ok(Plan { items })
}

impl BusinessAction for ReorderPlan {
    type Input = ReorderPlanInput;
    const AGENT: AgentType = AgentType::Logistics;
    const NAME: &'static str = "reorder_plan";
    const COMPLEXITY: Complexity = Complexity::Draft;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique(
            input.items.iter().map(|i| i.sku.as_str()),
            |i| format!("items[{i}].sku"),
            "sku",
        )?;
        for (i, item) in input.items.iter().enumerate() {
            at_most(
                item.on_hand.get(),
                fields::MAX_QUANTITY,
                format!("items[{i}].on_hand"),
            )?;
            at_most(
                item.safety_stock.get(),
                fields::MAX_QUANTITY,
                format!("items[{i}].safety_stock"),
            )?;
            if item.holding_cost_cents_per_unit_year.get() < 1 {
                return Err(InvalidInput::new(
                    format!("items[{i}].holding_cost_cents_per_unit_year"),
                    "must be at least 1 cent",
                ));
            }
        }
        reorder_plan(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(reorder_plan(&input).map_err(|e| Failure(e.to_string()))?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::exact::Rational;
    use crate::{AgentType, Complexity, testing};

    testing::agent_helpers!(AgentType::Logistics);

    /// A JSON number read from its decimal text, as a client would send it.
    fn number(text: &str) -> Value {
        serde_json::from_str(text).expect("a JSON number")
    }

    #[test]
    fn the_two_actions_are_registered_with_their_complexity() {
        assert_eq!(action("shipment_status").complexity(), Complexity::Analysis);
        assert_eq!(action("reorder_plan").complexity(), Complexity::Draft);
    }

    // -- shipment_status ----------------------------------------------------

    #[test]
    fn shipment_status_lists_late_shipments_and_each_carriers_record() {
        let input = json!({
            "as_of": "2026-03-31",
            "shipments": [
                // Delivered 2026-03-12, promised 03-10: 2 days late.
                {"id": "s-1", "carrier": "ups", "promised": "2026-03-10", "delivered": "2026-03-12"},
                // Delivered exactly on the promised date: on time.
                {"id": "s-2", "carrier": "ups", "promised": "2026-03-15", "delivered": "2026-03-15"},
                // Not delivered, promised 03-21: as_of − promised = 10 days late.
                {"id": "s-3", "carrier": "dhl", "promised": "2026-03-21"},
                // Not delivered, not yet due: neither late nor on time.
                {"id": "s-4", "carrier": "dhl", "promised": "2026-04-02", "delivered": null},
                // Delivered a day early: on time.
                {"id": "s-5", "carrier": "dhl", "promised": "2026-03-05", "delivered": "2026-03-04"},
                // Delivered 03-31, promised 03-29: 2 days late, ties s-1 -> by id.
                {"id": "s-0", "carrier": "fedex", "promised": "2026-03-29", "delivered": "2026-03-31"},
            ],
        });
        // late: s-3 (10), then s-0 and s-1 (2 each, by id).
        // dhl: 3 shipments, 1 delivered (s-5, on time), late 1 (s-3);
        //      rate 1/1 = 1.0.
        // fedex: 1 shipment, 1 delivered, 0 on time, 1 late; rate 0/1 = 0.
        // ups: 2 shipments, 2 delivered, 1 on time (s-2), 1 late (s-1);
        //      rate 1/2 = 0.5.
        assert_eq!(
            result("shipment_status", input),
            json!({
                "late": [
                    {"id": "s-3", "carrier": "dhl", "days_late": 10, "delivered": false},
                    {"id": "s-0", "carrier": "fedex", "days_late": 2, "delivered": true},
                    {"id": "s-1", "carrier": "ups", "days_late": 2, "delivered": true},
                ],
                "carriers": [
                    {"carrier": "dhl", "shipments": 3, "delivered": 1, "on_time": 1, "late": 1,
                     "on_time_rate": 1.0},
                    {"carrier": "fedex", "shipments": 1, "delivered": 1, "on_time": 0, "late": 1,
                     "on_time_rate": 0.0},
                    {"carrier": "ups", "shipments": 2, "delivered": 2, "on_time": 1, "late": 1,
                     "on_time_rate": 0.5},
                ],
            })
        );
    }

    #[test]
    fn shipment_status_with_no_shipments_is_empty() {
        assert_eq!(
            result(
                "shipment_status",
                json!({"as_of": "2026-03-31", "shipments": []})
            ),
            json!({"late": [], "carriers": []})
        );
    }

    #[test]
    fn shipment_status_with_one_undelivered_shipment_not_yet_due_has_no_rate() {
        // Promised 04-01, as_of 03-31: not late; nothing delivered -> rate null.
        let input = json!({"as_of": "2026-03-31", "shipments": [
            {"id": "s-1", "carrier": "ups", "promised": "2026-04-01"},
        ]});
        assert_eq!(
            result("shipment_status", input),
            json!({
                "late": [],
                "carriers": [{"carrier": "ups", "shipments": 1, "delivered": 0, "on_time": 0,
                              "late": 0, "on_time_rate": null}],
            })
        );
        // Due on as_of itself: as_of − promised = 0 days, not late yet.
        let due_today = json!({"as_of": "2026-03-31", "shipments": [
            {"id": "s-1", "carrier": "ups", "promised": "2026-03-31"},
        ]});
        assert_eq!(result("shipment_status", due_today)["late"], json!([]));
    }

    #[test]
    fn shipment_status_rates_round_half_even_to_four_places() {
        // 2 on time of 3 delivered: 0.66666.. -> 0.6667.
        let mut shipments = vec![
            json!({"id": "a", "carrier": "c", "promised": "2026-01-10", "delivered": "2026-01-10"}),
            json!({"id": "b", "carrier": "c", "promised": "2026-01-10", "delivered": "2026-01-09"}),
            json!({"id": "c", "carrier": "c", "promised": "2026-01-10", "delivered": "2026-01-11"}),
        ];
        let r = result(
            "shipment_status",
            json!({"as_of": "2026-02-01", "shipments": shipments}),
        );
        assert_eq!(r["carriers"][0]["on_time_rate"], json!(0.6667));
        // 1 on time of 32 delivered: 1/32 = 0.03125, exactly half-way;
        // half-even keeps the even 0.0312 (not 0.0313).
        shipments = (0..32)
            .map(|i| {
                let delivered = if i == 0 { "2026-01-10" } else { "2026-01-20" };
                json!({"id": format!("s-{i:02}"), "carrier": "c", "promised": "2026-01-10",
                       "delivered": delivered})
            })
            .collect();
        let r = result(
            "shipment_status",
            json!({"as_of": "2026-02-01", "shipments": shipments}),
        );
        assert_eq!(r["carriers"][0]["on_time_rate"], json!(0.0312));
        assert_eq!(r["carriers"][0]["late"], 31);
    }

    #[test]
    fn shipment_status_names_the_field_of_input_that_does_not_parse() {
        let ok = json!({"id": "s-1", "carrier": "ups", "promised": "2026-03-10"});
        let cases = [
            (json!({"shipments": []}), "input.as_of"),
            (json!({"as_of": "2026-03-31"}), "input.shipments"),
            (
                json!({"as_of": "2026-3-31", "shipments": []}),
                "input.as_of",
            ),
            (
                json!({"as_of": "2026-03-31", "shipments": [ok, {"id": "s-1", "carrier": "dhl", "promised": "2026-03-10"}]}),
                "input.shipments[1].id",
            ),
            (
                json!({"as_of": "2026-03-31", "shipments": [ok, {"id": "s-2", "promised": "2026-03-10"}]}),
                "input.shipments[1].carrier",
            ),
            (
                json!({"as_of": "2026-03-31", "shipments": [{"id": "s-2", "carrier": "c", "promised": 20260310}]}),
                "input.shipments[0].promised",
            ),
            (
                json!({"as_of": "2026-03-31", "shipments": [{"id": "s-2", "carrier": "c", "promised": "2026-02-30"}]}),
                "input.shipments[0].promised",
            ),
            (
                // Delivered after as_of: a delivery that has not happened yet.
                json!({"as_of": "2026-03-31", "shipments": [ok, {"id": "s-2", "carrier": "c", "promised": "2026-03-10", "delivered": "2026-04-01"}]}),
                "input.shipments[1].delivered",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("shipment_status", input.clone()),
                field,
                "{input}"
            );
        }
    }

    // -- reorder_plan -------------------------------------------------------

    fn item(sku: &str, on_hand: u64) -> Value {
        json!({"sku": sku, "on_hand": on_hand, "daily_demand": 1.5, "lead_time_days": 10,
               "safety_stock": 5, "order_cost_cents": 5000,
               "holding_cost_cents_per_unit_year": 25})
    }

    #[test]
    fn reorder_plan_computes_the_reorder_point_and_the_eoq_exactly() {
        // reorder point = ceil(1.5 × 10) + 5 = ceil(15) + 5 = 20.
        // eoq = ceil(sqrt(2 × 1.5 × 365 × 5000 / 25)) = ceil(sqrt(219_000)):
        //   467² = 218_089 < 219_000 ≤ 468² = 219_024, so 468.
        // on_hand 20 == reorder point: order now, max(468, 20 − 20) = 468.
        // on_hand 21 > 20: no order, 0.
        // on_hand 0: order now, max(468, 20 − 0) = 468.
        let input = json!({"items": [item("A", 20), item("B", 21), item("C", 0)]});
        assert_eq!(
            result("reorder_plan", input),
            json!({"items": [
                {"sku": "A", "reorder_point": 20, "eoq": 468, "order_now": true, "order_quantity": 468},
                {"sku": "B", "reorder_point": 20, "eoq": 468, "order_now": false, "order_quantity": 0},
                {"sku": "C", "reorder_point": 20, "eoq": 468, "order_now": true, "order_quantity": 468},
            ]})
        );
    }

    #[test]
    fn reorder_plan_orders_the_shortfall_when_it_is_above_the_eoq() {
        // reorder point = ceil(100 × 30) + 0 = 3000.
        // eoq = ceil(sqrt(2 × 100 × 365 × 1 / 1_000_000)) = ceil(sqrt(0.073)) = 1.
        // on_hand 0: max(1, 3000 − 0) = 3000.
        let input = json!({"items": [{"sku": "A", "on_hand": 0, "daily_demand": 100,
            "lead_time_days": 30, "safety_stock": 0, "order_cost_cents": 1,
            "holding_cost_cents_per_unit_year": 1_000_000}]});
        assert_eq!(
            result("reorder_plan", input),
            json!({"items": [{"sku": "A", "reorder_point": 3000, "eoq": 1,
                              "order_now": true, "order_quantity": 3000}]})
        );
    }

    #[test]
    fn reorder_plan_demand_is_exact_decimal_not_floating_point() {
        // 0.1 × 30 = 3 exactly (3.0000000000000004 in binary floating
        // point, whose ceiling would be 4): reorder point = 3 + 2 = 5.
        // eoq = ceil(sqrt(2 × 0.1 × 365 × 100 / 73)) = ceil(sqrt(100)) = 10
        // (a whole root is not rounded up).
        let input = json!({"items": [{"sku": "A", "on_hand": 6, "daily_demand": number("0.1"),
            "lead_time_days": 30, "safety_stock": 2, "order_cost_cents": 100,
            "holding_cost_cents_per_unit_year": 73}]});
        assert_eq!(
            result("reorder_plan", input),
            json!({"items": [{"sku": "A", "reorder_point": 5, "eoq": 10,
                              "order_now": false, "order_quantity": 0}]})
        );
    }

    #[test]
    fn reorder_plan_with_no_demand_or_no_order_cost_has_eoq_zero() {
        // demand 0: reorder point = 0 + 3 = 3; eoq 0; on_hand 3 ≤ 3 -> order
        // max(0, 3 − 3) = 0.
        // order cost 0: eoq 0; reorder point = ceil(2 × 5) + 0 = 10; on_hand 4
        // -> max(0, 10 − 4) = 6.
        let input = json!({"items": [
            {"sku": "A", "on_hand": 3, "daily_demand": 0, "lead_time_days": 5,
             "safety_stock": 3, "order_cost_cents": 900, "holding_cost_cents_per_unit_year": 1},
            {"sku": "B", "on_hand": 4, "daily_demand": 2, "lead_time_days": 5,
             "safety_stock": 0, "order_cost_cents": 0, "holding_cost_cents_per_unit_year": 1},
        ]});
        assert_eq!(
            result("reorder_plan", input),
            json!({"items": [
                {"sku": "A", "reorder_point": 3, "eoq": 0, "order_now": true, "order_quantity": 0},
                {"sku": "B", "reorder_point": 10, "eoq": 0, "order_now": true, "order_quantity": 6},
            ]})
        );
        assert_eq!(
            result("reorder_plan", json!({"items": []})),
            json!({"items": []})
        );
    }

    #[test]
    fn reorder_plan_handles_a_tiny_demand_and_the_largest_figures() {
        // demand 10^-27: 2 × 10^-27 × 365 × 1 / 10^15 is far below 1 (its
        // denominator 10^27 × 10^15 passes i128), so eoq = 1;
        // reorder point = ceil(10^-27 × 3650) + 0 = 1.
        let tiny = json!({"items": [{"sku": "A", "on_hand": 1, "daily_demand": number("1e-27"),
            "lead_time_days": 3650, "safety_stock": 0, "order_cost_cents": 1,
            "holding_cost_cents_per_unit_year": 1_000_000_000_000_000_u64}]});
        assert_eq!(
            result("reorder_plan", tiny),
            json!({"items": [{"sku": "A", "reorder_point": 1, "eoq": 1,
                              "order_now": true, "order_quantity": 1}]})
        );
        // ceil(999,999,999,999,999 × 1) + 1 = 10^15: exactly the limit (a
        // demand has at most 15 significant digits). eoq = ceil(sqrt(2 ×
        // 999,999,999,999,999 × 365 × 1 / 10^15)) = ceil(sqrt(729.99..)) = 28
        // (27² = 729).
        let largest = json!({"items": [{"sku": "A", "on_hand": 1_000_000_000_000_000_u64,
            "daily_demand": 999_999_999_999_999_u64, "lead_time_days": 1,
            "safety_stock": 1, "order_cost_cents": 1,
            "holding_cost_cents_per_unit_year": 1_000_000_000_000_000_u64}]});
        assert_eq!(
            result("reorder_plan", largest),
            json!({"items": [{"sku": "A", "reorder_point": 1_000_000_000_000_000_u64, "eoq": 28,
                              "order_now": true, "order_quantity": 28}]})
        );
    }

    #[test]
    fn reorder_plan_refuses_a_figure_past_ten_to_the_fifteen_naming_the_field() {
        let base = json!({"sku": "A", "on_hand": 0, "daily_demand": 1, "lead_time_days": 1,
            "safety_stock": 0, "order_cost_cents": 1, "holding_cost_cents_per_unit_year": 1});
        let with = |key: &str, value: Value| {
            let mut item = base.clone();
            item[key] = value;
            json!({"items": [item]})
        };
        let mut both = base.clone();
        both["daily_demand"] = json!(999_999_999_999_999_u64);
        both["lead_time_days"] = json!(2);
        // (10^15 − 1) × 2 ≈ 2 × 10^15.
        assert_eq!(
            invalid_field("reorder_plan", json!({"items": [both.clone()]})),
            "input.items[0].lead_time_days"
        );
        // ceil(1 × 1) + 10^15 = 10^15 + 1.
        assert_eq!(
            invalid_field(
                "reorder_plan",
                with("safety_stock", json!(1_000_000_000_000_000_u64))
            ),
            "input.items[0].safety_stock"
        );
        // eoq = ceil(sqrt(2 × (10^15 − 1) × 365 × 10^15 / 1))
        //     ≈ ceil(sqrt(7.3 × 10^32)) ≈ 2.7 × 10^16 > 10^15.
        let mut eoq = base.clone();
        eoq["daily_demand"] = json!(999_999_999_999_999_u64);
        eoq["order_cost_cents"] = json!(1_000_000_000_000_000_u64);
        assert_eq!(
            invalid_field("reorder_plan", json!({"items": [eoq]})),
            "input.items[0].order_cost_cents"
        );
    }

    #[test]
    fn reorder_plan_names_the_field_of_input_that_does_not_parse() {
        let ok = item("A", 1);
        let with = |key: &str, value: Value| {
            let mut bad = item("B", 1);
            bad[key] = value;
            json!({"items": [ok.clone(), bad]})
        };
        let without = |key: &str| {
            let mut bad = item("B", 1);
            bad.as_object_mut().map(|o| o.remove(key));
            json!({"items": [ok.clone(), bad]})
        };
        let cases = [
            (json!({}), "input.items".to_owned()),
            (
                json!({"items": [ok.clone(), item("A", 2)]}),
                "input.items[1].sku".to_owned(),
            ),
            (
                without("daily_demand"),
                "input.items[1].daily_demand".to_owned(),
            ),
            (
                without("holding_cost_cents_per_unit_year"),
                "input.items[1].holding_cost_cents_per_unit_year".to_owned(),
            ),
            (
                with("daily_demand", json!("1.5")),
                "input.items[1].daily_demand".to_owned(),
            ),
            (
                with("daily_demand", json!(-0.5)),
                "input.items[1].daily_demand".to_owned(),
            ),
            (
                with("on_hand", json!(-1)),
                "input.items[1].on_hand".to_owned(),
            ),
            (
                with("on_hand", json!(1.5)),
                "input.items[1].on_hand".to_owned(),
            ),
            (
                with("on_hand", json!(1_000_000_000_000_001_u64)),
                "input.items[1].on_hand".to_owned(),
            ),
            (
                with("safety_stock", json!(1_000_000_000_000_001_u64)),
                "input.items[1].safety_stock".to_owned(),
            ),
            (
                with("lead_time_days", json!(-1)),
                "input.items[1].lead_time_days".to_owned(),
            ),
            (
                with("holding_cost_cents_per_unit_year", json!(0)),
                "input.items[1].holding_cost_cents_per_unit_year".to_owned(),
            ),
            (
                with("order_cost_cents", json!(1_000_000_000_000_001_u64)),
                "input.items[1].order_cost_cents".to_owned(),
            ),
            (with("sku", json!("")), "input.items[1].sku".to_owned()),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("reorder_plan", input.clone()),
                field,
                "{input}"
            );
        }
        // Any lead time is accepted: ceil(1.5 × 3651) + 5 = 5476.5 -> 5477 + 5 = 5482.
        assert_eq!(
            result("reorder_plan", with("lead_time_days", json!(3651)))["items"][1]["reorder_point"],
            5482
        );
        // With no demand even the longest lead time needs nothing: 0 + 5.
        let mut idle = with("lead_time_days", json!(u64::MAX));
        idle["items"][1]["daily_demand"] = json!(0);
        assert_eq!(result("reorder_plan", idle)["items"][1]["reorder_point"], 5);
    }

    // -- invariants ---------------------------------------------------------

    /// A decimal `mantissa × 10^-scale` as a JSON number.
    fn decimal(mantissa: u64, scale: u32) -> Value {
        number(
            &rust_decimal::Decimal::new(i64::try_from(mantissa).expect("small"), scale).to_string(),
        )
    }

    proptest! {
        #[test]
        fn shipment_status_counts_add_up_and_late_is_ordered(
            shipments in proptest::collection::vec(
                (0..3_usize, 0..60_i64, proptest::option::of(0..60_i64)),
                0..30,
            ),
        ) {
            let day = |d: i64| {
                let base = time::macros::date!(2026 - 01 - 01);
                (base + time::Duration::days(d)).to_string()
            };
            let input: Vec<Value> = shipments.iter().enumerate().map(|(i, &(c, p, d))| json!({
                "id": format!("s-{i}"), "carrier": format!("c-{c}"), "promised": day(p),
                "delivered": d.map(day),
            })).collect();
            let r = result("shipment_status", json!({"as_of": day(60), "shipments": input}));
            let late = r["late"].as_array().expect("a list");
            for w in late.windows(2) {
                let (a, b) = (w[0]["days_late"].as_i64(), w[1]["days_late"].as_i64());
                prop_assert!(a > b || (a == b && w[0]["id"].as_str() < w[1]["id"].as_str()));
            }
            let mut total = 0;
            let mut late_total = 0;
            for c in r["carriers"].as_array().expect("a list") {
                let n = |k: &str| c[k].as_u64().expect("a count");
                total += n("shipments");
                late_total += n("late");
                prop_assert!(n("on_time") <= n("delivered"));
                prop_assert!(n("delivered") <= n("shipments"));
                prop_assert_eq!(c["on_time_rate"].is_null(), n("delivered") == 0);
            }
            prop_assert_eq!(total, shipments.len() as u64);
            prop_assert_eq!(late_total, late.len() as u64);
        }

        #[test]
        fn reorder_plan_refuses_or_answers_and_the_eoq_is_the_ceiling_of_the_root(
            on_hand in 0..=1_000_000_000_000_000_u64,
            mantissa in 0..1_000_000_000_000_000_u64,
            scale in 0..=28_u32,
            lead in prop_oneof![0..=3650_u64, any::<u64>()],
            safety in 0..=1_000_000_000_000_000_u64,
            order_cost in 0..=1_000_000_000_000_000_u64,
            holding in 1..=1_000_000_000_000_000_u64,
        ) {
            let input = json!({"items": [{"sku": "A", "on_hand": on_hand,
                "daily_demand": decimal(mantissa, scale), "lead_time_days": lead,
                "safety_stock": safety, "order_cost_cents": order_cost,
                "holding_cost_cents_per_unit_year": holding}]});
            prop_assert!(testing::refuses_or_answers(AGENT, "reorder_plan", &input));
            if action("reorder_plan").validate(&input).is_ok() {
                let r = result("reorder_plan", input);
                let row = &r["items"][0];
                let eoq = i128::from(row["eoq"].as_u64().expect("eoq"));
                // eoq is the smallest whole n with n² ≥ 730 × m × S / (10^s × H).
                let d = rust_decimal::Decimal::new(i64::try_from(mantissa).expect("small"), scale)
                    .normalize();
                let num = d.mantissa() * 730 * i128::from(order_cost);
                match 10_i128.pow(d.scale()).checked_mul(i128::from(holding)) {
                    Some(den) => {
                        let value = Rational::new(num, den).expect("a rational");
                        prop_assert!(Rational::integer(eoq * eoq) >= value);
                        if eoq >= 1 {
                            prop_assert!(Rational::integer((eoq - 1) * (eoq - 1)) < value);
                        }
                    }
                    // The denominator passes i128, the numerator does not:
                    // the value is below 1.
                    None => prop_assert_eq!(eoq, i128::from(num > 0)),
                }
                let rp = row["reorder_point"].as_u64().expect("a reorder point");
                let quantity = row["order_quantity"].as_u64().expect("a quantity");
                prop_assert_eq!(row["order_now"].as_bool(), Some(on_hand <= rp));
                if on_hand <= rp {
                    prop_assert_eq!(u128::from(quantity), eoq.unsigned_abs().max(u128::from(rp - on_hand)));
                } else {
                    prop_assert_eq!(quantity, 0);
                }
            }
        }
    }
}
