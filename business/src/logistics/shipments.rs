//! `shipment_status`: the late shipments as of a date, and each carrier's
//! on-time record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::exact::{Figure, Rational};
use crate::fields::{self, Date, Text};
use crate::{BusinessAction, Failure, InvalidInput, Problem};

/// `shipment_status`: which shipments are late as of `as_of`, by how many
/// days, and each carrier's on-time record.
///
/// A shipment is late when it was delivered after its promised date, or is
/// not delivered and `as_of` is past the promised date; `days_late` is the
/// delivery date (or `as_of`) minus the promised date. A shipment delivered
/// on or before its promised date is on time; one not delivered and not yet
/// due is neither. `shipments` may be empty; unknown fields are refused.
///
/// A carrier's `on_time_rate` = on_time / (delivered + overdue), where
/// overdue counts its shipments not delivered whose promised date is
/// before `as_of` (late without having arrived): a parcel that never
/// arrives counts against the carrier, not only one that arrives late.
/// `null` when that is 0 (nothing delivered, nothing overdue). The overdue
/// count is not a field of its own: it is `late` − (`delivered` −
/// `on_time`), the late shipments that have not arrived.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentStatus {
    as_of: Date,
    shipments: Vec<Shipment>,
}

/// A shipment: its carrier, the date it was promised for and, once
/// delivered, the delivery date.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Not delivered and past the promised date: in the rate's
    /// denominator, not in the result.
    overdue: u64,
}

impl BusinessAction for ShipmentStatus {
    /// Refuses a repeated shipment id and a delivery after `as_of` (one that
    /// has not happened yet).
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.shipments, "shipments", "id", |s| &s.id)?;
        for (i, s) in self.shipments.iter().enumerate() {
            if let Some(delivered) = s.delivered
                && delivered > self.as_of
            {
                return Err(InvalidInput::new(
                    format!("shipments[{i}].delivered"),
                    format!("{delivered} is after as_of {}", self.as_of),
                ));
            }
        }
        Ok(())
    }

    /// The report, or a failure if a rate does not fit a decimal (it always
    /// does: it is at most 1).
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut late = Vec::new();
        let mut counts: BTreeMap<&str, CarrierCounts> = BTreeMap::new();
        for s in &self.shipments {
            let c = counts.entry(s.carrier.as_str()).or_default();
            c.shipments += 1;
            // Delivered: late by delivery − promised; not yet: late by as_of −
            // promised once the promise has passed.
            let end = s.delivered.unwrap_or(self.as_of);
            let days_late = s.promised.days_until(end);
            if s.delivered.is_some() {
                c.delivered += 1;
                if days_late <= 0 {
                    c.on_time += 1;
                }
            } else if days_late > 0 {
                c.overdue += 1;
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
                // Every shipment is counted once, so the sum fits.
                let due = i128::from(c.delivered) + i128::from(c.overdue);
                let on_time_rate = match due {
                    0 => None,
                    due => Some(rate(i128::from(c.on_time), due)?),
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
}

/// `part / whole` (`whole > 0`) to 4 places, half-even.
fn rate(part: i128, whole: i128) -> Result<Figure, Failure> {
    Rational::new(part, whole)
        .and_then(|r| r.round(4))
        .map(Figure)
        .ok_or_else(|| Failure(format!("the rate {part}/{whole} could not be rounded")))
}

#[cfg(test)]
mod tests {
    use crate::logistics::test_support::*;

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
        // dhl: 3 shipments, 1 delivered (s-5, on time), late 1 (s-3, overdue: not
        //      delivered, promised 03-21 < as_of 03-31); s-4 not yet due counts nowhere;
        //      rate 1 / (1 delivered + 1 overdue) = 0.5.
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
                     "on_time_rate": 0.5},
                    {"carrier": "fedex", "shipments": 1, "delivered": 1, "on_time": 0, "late": 1,
                     "on_time_rate": 0.0},
                    {"carrier": "ups", "shipments": 2, "delivered": 2, "on_time": 1, "late": 1,
                     "on_time_rate": 0.5},
                ],
            })
        );
    }

    #[test]
    fn shipment_status_counts_an_overdue_shipment_against_the_on_time_rate() {
        // acme: one delivered on time (promised 03-10, delivered 03-09) and five not
        // delivered, promised 03-01 to 03-05, all before as_of 03-31: overdue by 30 to 26
        // days. on_time 1, delivered 1, overdue 5: rate 1 / (1 + 5) = 0.16666.. -> 0.1667
        // (not 1 / 1 = 1.0, as if the five lost parcels did not count).
        let mut shipments = vec![
            json!({"id": "a-0", "carrier": "acme", "promised": "2026-03-10", "delivered": "2026-03-09"}),
        ];
        shipments.extend((1..=5).map(|d| {
            json!({"id": format!("a-{d}"), "carrier": "acme", "promised": format!("2026-03-0{d}")})
        }));
        // zip: two overdue, nothing delivered: rate 0 / (0 + 2) = 0 (not null).
        shipments.extend([
            json!({"id": "z-1", "carrier": "zip", "promised": "2026-03-30"}),
            json!({"id": "z-2", "carrier": "zip", "promised": "2026-03-30", "delivered": null}),
        ]);
        let r = result(
            "shipment_status",
            json!({"as_of": "2026-03-31", "shipments": shipments}),
        );
        assert_eq!(
            r["carriers"],
            json!([
                {"carrier": "acme", "shipments": 6, "delivered": 1, "on_time": 1, "late": 5,
                 "on_time_rate": 0.1667},
                {"carrier": "zip", "shipments": 2, "delivered": 0, "on_time": 0, "late": 2,
                 "on_time_rate": 0.0},
            ])
        );
        // Late by as_of − promised: a-1 30 days, .., a-5 26; z-1 and z-2 1 day.
        let days: Vec<Value> = r["late"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|l| json!([l["id"], l["days_late"]]))
            .collect();
        assert_eq!(
            days,
            [
                ("a-1", 30),
                ("a-2", 29),
                ("a-3", 28),
                ("a-4", 27),
                ("a-5", 26),
                ("z-1", 1),
                ("z-2", 1)
            ]
            .map(|(id, d)| json!([id, d]))
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
        // Promised 04-01, as_of 03-31: not late; nothing delivered, nothing overdue:
        // 0 / (0 + 0) -> rate null.
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
        // Due on as_of itself: as_of − promised = 0 days, not late yet, not overdue:
        // the rate is still null.
        let due_today = json!({"as_of": "2026-03-31", "shipments": [
            {"id": "s-1", "carrier": "ups", "promised": "2026-03-31"},
        ]});
        let r = result("shipment_status", due_today);
        assert_eq!(r["late"], json!([]));
        assert_eq!(r["carriers"][0]["on_time_rate"], json!(null));
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
            // Unknown fields are refused, named: a misspelt delivered is not "not delivered".
            (
                json!({"as_of": "2026-03-31", "shipments": [ok, {"id": "s-2", "carrier": "c", "promised": "2026-03-10", "delivered_on": "2026-03-11"}]}),
                "input.shipments[1].delivered_on",
            ),
            (
                json!({"as_of": "2026-03-31", "shipments": [], "carrier": "ups"}),
                "input.carrier",
            ),
        ];
        invalid_fields("shipment_status", cases);
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
                // Late and not delivered: the overdue, in the rate's denominator.
                let overdue = n("late") - (n("delivered") - n("on_time"));
                let due = n("delivered") + overdue;
                prop_assert_eq!(c["on_time_rate"].is_null(), due == 0);
                if let Some(rate) = c["on_time_rate"].as_f64() {
                    // Within half a unit of the 4th place of on_time / due.
                    let exact = n("on_time") as f64 / due as f64;
                    prop_assert!((rate - exact).abs() <= 0.00005 + 1e-12, "{} vs {}", rate, exact);
                }
            }
            prop_assert_eq!(total, shipments.len() as u64);
            prop_assert_eq!(late_total, late.len() as u64);
        }
    }
}
