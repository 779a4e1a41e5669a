//! `reorder_plan`: per sku, the reorder point, the economic order quantity
//! and whether to order now.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::exact::{self, Rational};
use crate::fields::{self, Cents, Count, NonNegative, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// Refuses a whole number above `max`, naming its field (`path` is
/// written only then: a plan checks four figures of each of thousands of
/// items).
fn at_most(value: u64, max: u64, path: impl FnOnce() -> String) -> Result<(), InvalidInput> {
    if value > max {
        Err(InvalidInput::new(
            path(),
            format!("{value} is past the limit of {max}"),
        ))
    } else {
        Ok(())
    }
}

/// `reorder_plan`: per sku, when to reorder and how much
/// (`ReorderPlanInput` and `ReorderPlanResult` in `infra/openapi.yaml`).
///
/// - reorder_point = ceil(daily_demand × lead_time_days) + safety_stock;
/// - eoq = ceil(sqrt(2 × daily_demand × 365 × order_cost / holding_cost)),
///   decided exactly in integers (the smallest whole `n` with `n²` at least
///   the exact quotient); 0 when demand or order cost is 0;
/// - inventory_position = on_hand + on_order − backorders (negative when
///   more is owed than is held and coming);
/// - order_now = daily_demand > 0 and inventory_position ≤ reorder_point
///   (stock already on order counts, and a sku nobody buys is never
///   ordered, even with backorders);
/// - order_quantity = max(eoq, reorder_point − inventory_position) when
///   order_now, else 0.
///
/// `on_hand`, `on_order`, `backorders` and `safety_stock` are at most
/// 10^15 (`on_order` and `backorders` absent or `null` are 0),
/// `lead_time_days` any whole number of days (a demand of at most 10^15 a
/// day times `u64::MAX` days stays far inside `i128`),
/// `holding_cost_cents_per_unit_year` from 1 to 10^15. A figure of the
/// result past 10^15 is refused at submission, naming the last operand
/// that took it past: `lead_time_days` (the demand over the lead time
/// alone passes the reorder point's limit), `safety_stock` (adding it
/// does), `order_cost_cents` (the eoq), `on_order` (the inventory
/// position), `backorders` (the order quantity: a shortfall past 10^15
/// needs backorders). `items` may be empty; unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReorderPlan {
    items: Vec<StockItem>,
}

/// A stocked sku: what is held, coming and owed, and what it costs to
/// order and to hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StockItem {
    sku: Text,
    on_hand: Count,
    /// Ordered and not yet received; absent or `null` is 0.
    #[serde(default)]
    on_order: Option<Count>,
    /// Owed to customers and not yet shipped; absent or `null` is 0.
    #[serde(default)]
    backorders: Option<Count>,
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
    inventory_position: i64,
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

impl StockItem {
    /// Units on order (0 when absent or `null`).
    fn on_order(&self) -> u64 {
        self.on_order.map_or(0, Count::get)
    }

    /// Units backordered (0 when absent or `null`).
    fn backorders(&self) -> u64 {
        self.backorders.map_or(0, Count::get)
    }
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

impl BusinessAction for ReorderPlan {
    /// Refuses a repeated sku, stock on hand, on order, backordered or
    /// safety stock past 10^15 and a holding cost below a cent.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.items, "items", "sku", |i| &i.sku)?;
        for (i, item) in self.items.iter().enumerate() {
            at_most(item.on_hand.get(), fields::MAX_QUANTITY, || {
                format!("items[{i}].on_hand")
            })?;
            at_most(item.on_order(), fields::MAX_QUANTITY, || {
                format!("items[{i}].on_order")
            })?;
            at_most(item.backorders(), fields::MAX_QUANTITY, || {
                format!("items[{i}].backorders")
            })?;
            at_most(item.safety_stock.get(), fields::MAX_QUANTITY, || {
                format!("items[{i}].safety_stock")
            })?;
            if item.holding_cost_cents_per_unit_year.get() < 1 {
                return Err(InvalidInput::new(
                    format!("items[{i}].holding_cost_cents_per_unit_year"),
                    "must be at least 1 cent",
                ));
            }
        }
        Ok(())
    }

    /// The plan; a reorder point or an economic order quantity past 10^15
    /// is refused, naming the operand that took it there.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut items = Vec::with_capacity(self.items.len());
        for (i, item) in self.items.iter().enumerate() {
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
            // Each operand is at most 10^15 (checked): the position is within
            // [−10^15, 2 × 10^15] and the shortfall within [0, 2 × 10^15].
            let position = i128::from(item.on_hand.get()) + i128::from(item.on_order())
                - i128::from(item.backorders());
            let inventory_position = i64::try_from(position)
                .ok()
                .filter(|p| p.unsigned_abs() <= fields::MAX_QUANTITY)
                .ok_or_else(|| {
                    past_limit(
                        field("on_order"),
                        "inventory position",
                        format!(
                            "{} + {} - {}",
                            item.on_hand.get(),
                            item.on_order(),
                            item.backorders()
                        ),
                    )
                })?;
            let demand = item.daily_demand.rational().signum() == Ordering::Greater;
            let order_now = demand && position <= i128::from(reorder_point);
            // order_now: position ≤ reorder_point, so the shortfall is ≥ 0.
            let order_quantity = if order_now {
                let shortfall = (i128::from(reorder_point) - position).unsigned_abs();
                within_limit(u128::from(eoq).max(shortfall)).ok_or_else(|| {
                    past_limit(
                        field("backorders"),
                        "order quantity",
                        format!("{reorder_point} - ({inventory_position})"),
                    )
                })?
            } else {
                0
            };
            items.push(Reorder {
                sku: &item.sku,
                inventory_position,
                reorder_point,
                eoq,
                order_now,
                order_quantity,
            });
        }
        Ok(Plan { items })
    }
}

#[cfg(test)]
mod tests {
    use crate::exact::Rational;
    use crate::logistics::test_support::*;

    fn item(sku: &str, on_hand: u64) -> Value {
        json!({"sku": sku, "on_hand": on_hand, "daily_demand": 1.5, "lead_time_days": 10,
               "safety_stock": 5, "order_cost_cents": 5000,
               "holding_cost_cents_per_unit_year": 25})
    }

    /// `reorder_plan`'s result for these items.
    fn plan(items: &[Value]) -> Value {
        result("reorder_plan", json!({"items": items}))
    }

    #[test]
    fn reorder_plan_computes_the_reorder_point_and_the_eoq_exactly() {
        // reorder point = ceil(1.5 × 10) + 5 = ceil(15) + 5 = 20.
        // eoq = ceil(sqrt(2 × 1.5 × 365 × 5000 / 25)) = ceil(sqrt(219_000)):
        //   467² = 218_089 < 219_000 ≤ 468² = 219_024, so 468.
        // on_hand 20 == reorder point: order now, max(468, 20 − 20) = 468.
        // on_hand 21 > 20: no order, 0.
        // on_hand 0: order now, max(468, 20 − 0) = 468.
        // Nothing on order or backordered: the position is on_hand.
        assert_eq!(
            plan(&[item("A", 20), item("B", 21), item("C", 0)]),
            json!({"items": [
                {"sku": "A", "inventory_position": 20, "reorder_point": 20, "eoq": 468,
                 "order_now": true, "order_quantity": 468},
                {"sku": "B", "inventory_position": 21, "reorder_point": 20, "eoq": 468,
                 "order_now": false, "order_quantity": 0},
                {"sku": "C", "inventory_position": 0, "reorder_point": 20, "eoq": 468,
                 "order_now": true, "order_quantity": 468},
            ]})
        );
    }

    #[test]
    fn reorder_plan_counts_stock_on_order_and_backorders_in_the_position() {
        // item(): reorder point 20, eoq 468 (as above).
        let stock = |sku: &str, on_hand: u64, on_order: Value, backorders: Value| {
            let mut v = item(sku, on_hand);
            v["on_order"] = on_order;
            v["backorders"] = backorders;
            v
        };
        // T: 10 + 500 in transit − 0 = 510 > 20: no order (on hand alone, 10 ≤ 20,
        //    would order 468 more while 500 are on their way).
        // P: 10 + 5 − 0 = 15 ≤ 20: order max(468, 20 − 15) = 468.
        // E: 10 + 15 − 5 = 20 = 20: order max(468, 20 − 20) = 468.
        // N: on_order and backorders null: 21 + 0 − 0 = 21 > 20: no order.
        // B: 25 + 0 − 30 = −5 ≤ 20: order max(468, 20 − (−5)) = max(468, 25) = 468.
        assert_eq!(
            plan(&[
                stock("T", 10, json!(500), json!(0)),
                stock("P", 10, json!(5), json!(null)),
                stock("E", 10, json!(15), json!(5)),
                stock("N", 21, json!(null), json!(null)),
                stock("B", 25, json!(0), json!(30)),
            ]),
            json!({"items": [
                {"sku": "T", "inventory_position": 510, "reorder_point": 20, "eoq": 468,
                 "order_now": false, "order_quantity": 0},
                {"sku": "P", "inventory_position": 15, "reorder_point": 20, "eoq": 468,
                 "order_now": true, "order_quantity": 468},
                {"sku": "E", "inventory_position": 20, "reorder_point": 20, "eoq": 468,
                 "order_now": true, "order_quantity": 468},
                {"sku": "N", "inventory_position": 21, "reorder_point": 20, "eoq": 468,
                 "order_now": false, "order_quantity": 0},
                {"sku": "B", "inventory_position": -5, "reorder_point": 20, "eoq": 468,
                 "order_now": true, "order_quantity": 468},
            ]})
        );
        // A shortfall above the eoq: reorder point ceil(100 × 30) + 0 = 3000, eoq 1 (see
        // below); position 200 + 300 − 1000 = −500; order max(1, 3000 − (−500)) = 3500.
        let owed = json!({"sku": "A", "on_hand": 200, "on_order": 300, "backorders": 1000,
            "daily_demand": 100, "lead_time_days": 30, "safety_stock": 0,
            "order_cost_cents": 1, "holding_cost_cents_per_unit_year": 1_000_000});
        assert_eq!(
            plan(&[owed]),
            json!({"items": [{"sku": "A", "inventory_position": -500, "reorder_point": 3000,
                              "eoq": 1, "order_now": true, "order_quantity": 3500}]})
        );
    }

    #[test]
    fn reorder_plan_orders_the_shortfall_when_it_is_above_the_eoq() {
        // reorder point = ceil(100 × 30) + 0 = 3000.
        // eoq = ceil(sqrt(2 × 100 × 365 × 1 / 1_000_000)) = ceil(sqrt(0.073)) = 1.
        // on_hand 0: max(1, 3000 − 0) = 3000.
        let short = json!({"sku": "A", "on_hand": 0, "daily_demand": 100, "lead_time_days": 30,
            "safety_stock": 0, "order_cost_cents": 1, "holding_cost_cents_per_unit_year": 1_000_000});
        assert_eq!(
            plan(&[short]),
            json!({"items": [{"sku": "A", "inventory_position": 0, "reorder_point": 3000, "eoq": 1,
                              "order_now": true, "order_quantity": 3000}]})
        );
    }

    #[test]
    fn reorder_plan_demand_is_exact_decimal_not_floating_point() {
        // 0.1 × 30 = 3 exactly (3.0000000000000004 in binary floating
        // point, whose ceiling would be 4): reorder point = 3 + 2 = 5.
        // eoq = ceil(sqrt(2 × 0.1 × 365 × 100 / 73)) = ceil(sqrt(100)) = 10
        // (a whole root is not rounded up).
        let tenth = json!({"sku": "A", "on_hand": 6, "daily_demand": number("0.1"),
            "lead_time_days": 30, "safety_stock": 2, "order_cost_cents": 100,
            "holding_cost_cents_per_unit_year": 73});
        assert_eq!(
            plan(&[tenth]),
            json!({"items": [{"sku": "A", "inventory_position": 6, "reorder_point": 5, "eoq": 10,
                              "order_now": false, "order_quantity": 0}]})
        );
    }

    #[test]
    fn reorder_plan_never_orders_without_demand_and_without_order_cost_has_eoq_zero() {
        // demand 0: reorder point = 0 + 3 = 3; eoq 0; position 3 ≤ 3, but nobody buys
        // it: no order (the old rule, on_hand ≤ reorder point, said order now, 0 units).
        // C: demand 0 and 7 backordered: position 0 + 0 − 7 = −7 ≤ 3: still no order.
        // order cost 0: eoq 0; reorder point = ceil(2 × 5) + 0 = 10; position 4
        // -> max(0, 10 − 4) = 6.
        let no_demand = json!({"sku": "A", "on_hand": 3, "daily_demand": 0, "lead_time_days": 5,
             "safety_stock": 3, "order_cost_cents": 900, "holding_cost_cents_per_unit_year": 1});
        let no_order_cost = json!({"sku": "B", "on_hand": 4, "daily_demand": 2,
            "lead_time_days": 5, "safety_stock": 0, "order_cost_cents": 0,
            "holding_cost_cents_per_unit_year": 1});
        let owed_no_demand = json!({"sku": "C", "on_hand": 0, "backorders": 7,
            "daily_demand": 0, "lead_time_days": 5, "safety_stock": 3,
            "order_cost_cents": 900, "holding_cost_cents_per_unit_year": 1});
        assert_eq!(
            plan(&[no_demand, no_order_cost, owed_no_demand]),
            json!({"items": [
                {"sku": "A", "inventory_position": 3, "reorder_point": 3, "eoq": 0,
                 "order_now": false, "order_quantity": 0},
                {"sku": "B", "inventory_position": 4, "reorder_point": 10, "eoq": 0,
                 "order_now": true, "order_quantity": 6},
                {"sku": "C", "inventory_position": -7, "reorder_point": 3, "eoq": 0,
                 "order_now": false, "order_quantity": 0},
            ]})
        );
        assert_eq!(plan(&[]), json!({"items": []}));
    }

    #[test]
    fn reorder_plan_handles_a_tiny_demand_and_the_largest_figures() {
        // demand 10^-27: 2 × 10^-27 × 365 × 1 / 10^15 is far below 1 (its
        // denominator 10^27 × 10^15 passes i128), so eoq = 1;
        // reorder point = ceil(10^-27 × 3650) + 0 = 1.
        let tiny = json!({"sku": "A", "on_hand": 1, "daily_demand": number("1e-27"),
            "lead_time_days": 3650, "safety_stock": 0, "order_cost_cents": 1,
            "holding_cost_cents_per_unit_year": 1_000_000_000_000_000_u64});
        assert_eq!(
            plan(&[tiny]),
            json!({"items": [{"sku": "A", "inventory_position": 1, "reorder_point": 1, "eoq": 1,
                              "order_now": true, "order_quantity": 1}]})
        );
        // ceil(999,999,999,999,999 × 1) + 1 = 10^15: exactly the limit (a
        // demand has at most 15 significant digits). eoq = ceil(sqrt(2 ×
        // 999,999,999,999,999 × 365 × 1 / 10^15)) = ceil(sqrt(729.99..)) = 28
        // (27² = 729).
        let largest = json!({"sku": "A", "on_hand": 1_000_000_000_000_000_u64,
            "daily_demand": 999_999_999_999_999_u64, "lead_time_days": 1,
            "safety_stock": 1, "order_cost_cents": 1,
            "holding_cost_cents_per_unit_year": 1_000_000_000_000_000_u64});
        assert_eq!(
            plan(&[largest]),
            json!({"items": [{"sku": "A", "inventory_position": 1_000_000_000_000_000_u64,
                              "reorder_point": 1_000_000_000_000_000_u64, "eoq": 28,
                              "order_now": true, "order_quantity": 28}]})
        );
    }

    #[test]
    fn reorder_plan_refuses_a_figure_past_ten_to_the_fifteen_naming_the_field() {
        let base = json!({"sku": "A", "on_hand": 0, "daily_demand": 1, "lead_time_days": 1,
            "safety_stock": 0, "order_cost_cents": 1, "holding_cost_cents_per_unit_year": 1});
        let with = |key: &str, value: Value| json!({"items": [testing::with(&base, key, value)]});
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
        // position = 10^15 + 1 + 0 = 10^15 + 1 (10^15 on hand and on order alike is fine alone).
        let mut position = base.clone();
        position["on_hand"] = json!(1_000_000_000_000_000_u64);
        position["on_order"] = json!(1);
        assert_eq!(
            invalid_field("reorder_plan", json!({"items": [position]})),
            "input.items[0].on_order"
        );
        // reorder point = ceil(1 × 1) + (10^15 − 1) = 10^15; position 0 + 0 − 1 = −1;
        // order max(1, 10^15 − (−1)) = 10^15 + 1.
        let mut owed = base.clone();
        owed["safety_stock"] = json!(999_999_999_999_999_u64);
        owed["backorders"] = json!(1);
        assert_eq!(
            invalid_field("reorder_plan", json!({"items": [owed.clone()]})),
            "input.items[0].backorders"
        );
        // With nothing backordered: max(1, 10^15 − 0) = 10^15, the limit itself.
        owed["backorders"] = json!(0);
        assert_eq!(
            result("reorder_plan", json!({"items": [owed]}))["items"][0]["order_quantity"],
            json!(1_000_000_000_000_000_u64)
        );
    }

    #[test]
    fn reorder_plan_names_the_field_of_input_that_does_not_parse() {
        let ok = item("A", 1);
        let with = |key: &str, value: Value| json!({"items": [ok, testing::with(&item("B", 1), key, value)]});
        let without = |key: &str| json!({"items": [ok, testing::without(&item("B", 1), key)]});
        let cases = [
            (json!({}), "input.items"),
            (
                json!({"items": [ok.clone(), item("A", 2)]}),
                "input.items[1].sku",
            ),
            (without("daily_demand"), "input.items[1].daily_demand"),
            (
                without("holding_cost_cents_per_unit_year"),
                "input.items[1].holding_cost_cents_per_unit_year",
            ),
            (
                with("daily_demand", json!("1.5")),
                "input.items[1].daily_demand",
            ),
            (
                with("daily_demand", json!(-0.5)),
                "input.items[1].daily_demand",
            ),
            (with("on_hand", json!(-1)), "input.items[1].on_hand"),
            (with("on_hand", json!(1.5)), "input.items[1].on_hand"),
            (
                with("on_hand", json!(1_000_000_000_000_001_u64)),
                "input.items[1].on_hand",
            ),
            (
                with("safety_stock", json!(1_000_000_000_000_001_u64)),
                "input.items[1].safety_stock",
            ),
            (
                with("lead_time_days", json!(-1)),
                "input.items[1].lead_time_days",
            ),
            (
                with("holding_cost_cents_per_unit_year", json!(0)),
                "input.items[1].holding_cost_cents_per_unit_year",
            ),
            (
                with("order_cost_cents", json!(1_000_000_000_000_001_u64)),
                "input.items[1].order_cost_cents",
            ),
            (with("sku", json!("")), "input.items[1].sku"),
            (with("on_order", json!(-1)), "input.items[1].on_order"),
            (with("on_order", json!(2.5)), "input.items[1].on_order"),
            (
                with("on_order", json!(1_000_000_000_000_001_u64)),
                "input.items[1].on_order",
            ),
            (with("backorders", json!(-1)), "input.items[1].backorders"),
            (with("backorders", json!("3")), "input.items[1].backorders"),
            (
                with("backorders", json!(1_000_000_000_000_001_u64)),
                "input.items[1].backorders",
            ),
            // Unknown fields are refused, named: a misspelt on_order is not 0.
            (with("in_transit", json!(500)), "input.items[1].in_transit"),
            (json!({"items": [], "as_of": "2026-03-31"}), "input.as_of"),
        ];
        invalid_fields("reorder_plan", cases);
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

    /// A decimal `mantissa × 10^-scale` as a JSON number.
    fn decimal(mantissa: u64, scale: u32) -> Value {
        number(
            &rust_decimal::Decimal::new(i64::try_from(mantissa).expect("small"), scale).to_string(),
        )
    }

    proptest! {
        #[test]
        fn reorder_plan_refuses_or_answers_and_the_eoq_is_the_ceiling_of_the_root(
            on_hand in 0..=1_000_000_000_000_000_u64,
            on_order in prop_oneof![Just(0_u64), 0..=1_000_000_000_000_000_u64],
            backorders in prop_oneof![Just(0_u64), 0..=1_000_000_000_000_000_u64],
            mantissa in 0..1_000_000_000_000_000_u64,
            scale in 0..=28_u32,
            lead in prop_oneof![0..=3650_u64, any::<u64>()],
            safety in 0..=1_000_000_000_000_000_u64,
            order_cost in 0..=1_000_000_000_000_000_u64,
            holding in 1..=1_000_000_000_000_000_u64,
        ) {
            let input = json!({"items": [{"sku": "A", "on_hand": on_hand,
                "on_order": on_order, "backorders": backorders,
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
                let rp = i128::from(row["reorder_point"].as_u64().expect("a reorder point"));
                let quantity = i128::from(row["order_quantity"].as_u64().expect("a quantity"));
                let position =
                    i128::from(on_hand) + i128::from(on_order) - i128::from(backorders);
                prop_assert_eq!(row["inventory_position"].as_i64().map(i128::from), Some(position));
                let order_now = mantissa > 0 && position <= rp;
                prop_assert_eq!(row["order_now"].as_bool(), Some(order_now));
                if order_now {
                    prop_assert_eq!(quantity, eoq.max(rp - position));
                } else {
                    prop_assert_eq!(quantity, 0);
                }
            }
        }
    }
}
