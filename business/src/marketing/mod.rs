//! The marketing agent's actions: what campaigns return and what customers
//! cost.
//!
//! - [`CampaignRoi`] (`campaign_roi`, complexity 1): each campaign's return
//!   on spend and cost per new customer, the same for all of them together,
//!   and the best and worst campaign by return.
//! - [`CacTrend`] (`cac_trend`, complexity 1): the cost of acquiring a
//!   customer month by month, and its least-squares trend.
//!
//! Ratios are exact until shown: a return on spend is shown rounded
//! half-even to 4 places, a cost per customer to the cent. A ratio whose
//! divisor is 0 (no spend, no new customer) is `null`, never a division by
//! zero; comparisons use the exact ratios, not the rounded ones.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::exact::{self, Figure, Rational};
use crate::fields::{self, Cents, Count, Month, Text};
use crate::{AgentType, BusinessAction, Complexity, Failure, InvalidInput, Outcome};

/// `(revenue − spend) / spend`, exactly; `None` when spend is 0.
fn roi(spend: i128, revenue: i128) -> Option<Rational> {
    Rational::new(revenue - spend, spend)
}

/// `spend / customers` in cents, rounded half-even to the cent; `None` when
/// there is no customer. `Err` only if the figure does not fit `i64`, which
/// a spend within 10^15 cents never does.
fn cac_cents(spend: i128, customers: i128, path: &str) -> Result<Option<i64>, InvalidInput> {
    match Rational::new(spend, customers) {
        None => Ok(None),
        Some(cac) => cac
            .round_cents()
            .map(Some)
            .ok_or_else(|| InvalidInput::new(path, "the cost per customer is out of range")),
    }
}

/// A return rounded half-even to 4 places, for the result. `Err` only if it
/// does not fit a decimal, which a return within 10^15 never does.
fn roi_figure(roi: Rational, path: &str) -> Result<Figure, InvalidInput> {
    roi.round(4)
        .map(Figure)
        .ok_or_else(|| InvalidInput::new(path, "the return on spend is out of range"))
}

// ---------------------------------------------------------------------------
// campaign_roi

/// `campaign_roi`: per campaign, roi = (revenue − spend) / spend (4 places)
/// and cac = spend / new customers (to the cent), in input order; `blended`
/// applies both to the totals; `best`/`worst` name the campaigns of highest
/// and lowest exact roi (ties by id ascending, for both).
///
/// `campaigns` may be empty; ids are unique; Σ spend and Σ revenue are at
/// most 10^15 cents.
pub struct CampaignRoi;

/// `campaign_roi`'s input.
#[derive(Debug, Deserialize)]
pub struct CampaignRoiInput {
    campaigns: Vec<Campaign>,
}

/// A campaign's spend and what it brought.
#[derive(Debug, Deserialize)]
struct Campaign {
    id: Text,
    spend_cents: Cents,
    revenue_cents: Cents,
    new_customers: Count,
}

/// One campaign's figures.
#[derive(Debug, Serialize)]
struct CampaignFigures<'a> {
    id: &'a Text,
    roi: Option<Figure>,
    cac_cents: Option<i64>,
}

/// The figures of all campaigns together.
#[derive(Debug, Serialize)]
struct Blended {
    roi: Option<Figure>,
    cac_cents: Option<i64>,
}

/// `campaign_roi`'s result.
#[derive(Debug, Serialize)]
struct RoiReport<'a> {
    campaigns: Vec<CampaignFigures<'a>>,
    blended: Blended,
    best: Option<&'a Text>,
    worst: Option<&'a Text>,
}

/// The report, or the field whose total passes the limit.
fn roi_report(input: &CampaignRoiInput) -> Result<RoiReport<'_>, InvalidInput> {
    let mut campaigns = Vec::with_capacity(input.campaigns.len());
    let mut ranked: Vec<(Rational, &Text)> = Vec::new();
    let mut customers = 0_i128;
    for (i, c) in input.campaigns.iter().enumerate() {
        let path = format!("campaigns[{i}]");
        let spend = i128::from(c.spend_cents.get());
        let count = i128::from(c.new_customers.get());
        let exact_roi = roi(spend, i128::from(c.revenue_cents.get()));
        if let Some(r) = exact_roi {
            ranked.push((r, &c.id));
        }
        campaigns.push(CampaignFigures {
            id: &c.id,
            roi: exact_roi.map(|r| roi_figure(r, &path)).transpose()?,
            cac_cents: cac_cents(spend, count, &path)?,
        });
        // A count is at most 2^64 − 1, so this passes i128 only after 2^63
        // campaigns; checked all the same.
        customers = customers.checked_add(count).ok_or_else(|| {
            InvalidInput::new("campaigns", "the total of new customers is out of range")
        })?;
    }
    let total = |what: &str, cents: fn(&Campaign) -> Cents| {
        fields::sum(input.campaigns.iter().map(|c| cents(c).get())).ok_or_else(|| {
            InvalidInput::new(
                "campaigns",
                format!(
                    "the total {what} passes the limit of {} cents",
                    fields::MAX_CENTS
                ),
            )
        })
    };
    let spend = i128::from(total("spend", |c| c.spend_cents)?);
    let revenue = i128::from(total("revenue", |c| c.revenue_cents)?);
    let blended = Blended {
        roi: roi(spend, revenue)
            .map(|r| roi_figure(r, "campaigns"))
            .transpose()?,
        cac_cents: cac_cents(spend, customers, "campaigns")?,
    };
    // Highest exact roi, a tie to the smaller id; lowest likewise. Ids are
    // unique, so each order is total.
    let best = ranked
        .iter()
        .min_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)))
        .map(|&(_, id)| id);
    let worst = ranked
        .iter()
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|&(_, id)| id);
    Ok(RoiReport {
        campaigns,
        blended,
        best,
        worst,
    })
}

impl BusinessAction for CampaignRoi {
    type Input = CampaignRoiInput;
    const AGENT: AgentType = AgentType::Marketing;
    const NAME: &'static str = "campaign_roi";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique(
            input.campaigns.iter().map(|c| c.id.as_str()),
            |i| format!("campaigns[{i}].id"),
            "id",
        )?;
        roi_report(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(roi_report(&input).map_err(|e| Failure(e.to_string()))?)
    }
}

// ---------------------------------------------------------------------------
// cac_trend

/// `cac_trend`: each month's cost per new customer (spend / new customers,
/// to the cent; `null` for a month without one), ascending by month, and
/// the least-squares slope of the shown costs against the month's number
/// (so a missing month counts as a gap), in cents per month rounded
/// half-even, with its direction from the exact slope's sign.
///
/// `months` may be empty; months are unique. With fewer than two months
/// that have a cost, slope and direction are `null`.
pub struct CacTrend;

/// `cac_trend`'s input.
#[derive(Debug, Deserialize)]
pub struct CacTrendInput {
    months: Vec<MonthSpend>,
}

/// A month's acquisition spend and new customers.
#[derive(Debug, Deserialize)]
struct MonthSpend {
    month: Month,
    spend_cents: Cents,
    new_customers: Count,
}

/// One month's cost per new customer.
#[derive(Debug, Serialize)]
struct MonthCac {
    month: Month,
    cac_cents: Option<i64>,
}

/// Which way the cost per customer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Direction {
    Rising,
    Falling,
    Flat,
}

/// `cac_trend`'s result.
#[derive(Debug, Serialize)]
struct Trend {
    months: Vec<MonthCac>,
    slope_cents_per_month: Option<i64>,
    direction: Option<Direction>,
}

/// The trend, or the field whose figures are out of range.
fn trend(input: &CacTrendInput) -> Result<Trend, InvalidInput> {
    let mut sorted: Vec<(usize, &MonthSpend)> = input.months.iter().enumerate().collect();
    sorted.sort_by_key(|(_, m)| m.month);
    let mut months = Vec::with_capacity(sorted.len());
    let mut points = Vec::new();
    for (i, m) in sorted {
        let cac = cac_cents(
            i128::from(m.spend_cents.get()),
            i128::from(m.new_customers.get()),
            &format!("months[{i}]"),
        )?;
        if let Some(cac) = cac {
            points.push((i128::from(m.month.index()), i128::from(cac)));
        }
        months.push(MonthCac {
            month: m.month,
            cac_cents: cac,
        });
    }
    let (slope_cents_per_month, direction) = if points.len() < 2 {
        (None, None)
    } else {
        // Unique months have distinct numbers (at most 120,000 of them, for
        // four-digit years) and costs are at most 10^15, so the sums stay
        // far inside i128; checked all the same.
        let out_of_range = || InvalidInput::new("months", "the trend is out of range");
        let slope = exact::slope(&points).ok_or_else(out_of_range)?;
        let direction = match slope.signum() {
            Ordering::Greater => Direction::Rising,
            Ordering::Less => Direction::Falling,
            Ordering::Equal => Direction::Flat,
        };
        (
            Some(slope.round_cents().ok_or_else(out_of_range)?),
            Some(direction),
        )
    };
    Ok(Trend {
        months,
        slope_cents_per_month,
        direction,
    })
}

impl BusinessAction for CacTrend {
    type Input = CacTrendInput;
    const AGENT: AgentType = AgentType::Marketing;
    const NAME: &'static str = "cac_trend";
    const COMPLEXITY: Complexity = Complexity::Analysis;

    fn check(input: &Self::Input) -> Result<(), InvalidInput> {
        fields::unique_months(input.months.iter().map(|m| m.month))?;
        trend(input).map(|_| ())
    }

    fn compute(input: Self::Input) -> Result<Outcome, Failure> {
        Outcome::result(trend(&input).map_err(|e| Failure(e.to_string()))?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::fields::MAX_CENTS;
    use crate::{AgentType, Complexity, testing};

    testing::agent_helpers!(AgentType::Marketing);

    #[test]
    fn the_two_actions_are_registered_as_analysis() {
        assert_eq!(action("campaign_roi").complexity(), Complexity::Analysis);
        assert_eq!(action("cac_trend").complexity(), Complexity::Analysis);
    }

    // -- campaign_roi -------------------------------------------------------

    #[test]
    fn campaign_roi_gives_agents_md_example() {
        let input = json!({"campaigns": [
            {"id": "c-1", "spend_cents": 10000, "revenue_cents": 25000, "new_customers": 5},
            {"id": "c-2", "spend_cents": 20000, "revenue_cents": 30000, "new_customers": 10},
        ]});
        // c-1: roi (25000 − 10000) / 10000 = 1.5; cac 10000 / 5 = 2000.
        // c-2: roi (30000 − 20000) / 20000 = 0.5; cac 20000 / 10 = 2000.
        // blended: revenue 55000, spend 30000, customers 15;
        //   roi 25000 / 30000 = 0.83333.. -> 0.8333; cac 30000 / 15 = 2000.
        assert_eq!(
            result("campaign_roi", input),
            json!({"campaigns": [{"id": "c-1", "roi": 1.5, "cac_cents": 2000},
                                 {"id": "c-2", "roi": 0.5, "cac_cents": 2000}],
                   "blended": {"roi": 0.8333, "cac_cents": 2000},
                   "best": "c-1", "worst": "c-2"})
        );
    }

    #[test]
    fn campaign_roi_gives_null_for_a_zero_divisor_and_rounds_half_even() {
        let input = json!({"campaigns": [
            {"id": "organic", "spend_cents": 0, "revenue_cents": 9000, "new_customers": 3},
            {"id": "dud", "spend_cents": 8000, "revenue_cents": 2000, "new_customers": 0},
            {"id": "odd", "spend_cents": 5, "revenue_cents": 0, "new_customers": 2},
        ]});
        // organic: spend 0 -> roi null; cac 0 / 3 = 0.
        // dud: roi (2000 − 8000) / 8000 = −0.75; no customer -> cac null.
        // odd: roi (0 − 5) / 5 = −1; cac 5 / 2 = 2.5 -> 2 (2 is even).
        // blended: revenue 11000, spend 8005, customers 5;
        //   roi 2995 / 8005 = 0.374140.. -> 0.3741; cac 8005 / 5 = 1601.
        // Non-null rois: dud −0.75, odd −1: best dud, worst odd.
        assert_eq!(
            result("campaign_roi", input),
            json!({"campaigns": [{"id": "organic", "roi": null, "cac_cents": 0},
                                 {"id": "dud", "roi": -0.75, "cac_cents": null},
                                 {"id": "odd", "roi": -1.0, "cac_cents": 2}],
                   "blended": {"roi": 0.3741, "cac_cents": 1601},
                   "best": "dud", "worst": "odd"})
        );
    }

    #[test]
    fn campaign_roi_compares_exact_rois_and_breaks_ties_by_id() {
        // x-1: (39999 − 30000) / 30000 = 0.3333 exactly; x-2: (4 − 3) / 3 = 0.33333..
        // Both show 0.3333, but exactly x-2 > x-1: best x-2, worst x-1.
        let close = json!({"campaigns": [
            {"id": "x-1", "spend_cents": 30000, "revenue_cents": 39999, "new_customers": 1},
            {"id": "x-2", "spend_cents": 3, "revenue_cents": 4, "new_customers": 1},
        ]});
        let r = result("campaign_roi", close);
        assert_eq!(r["campaigns"][0]["roi"], 0.3333);
        assert_eq!(r["campaigns"][1]["roi"], 0.3333);
        assert_eq!((&r["best"], &r["worst"]), (&json!("x-2"), &json!("x-1")));
        // b: (200 − 100) / 100 = 1; a: (20 − 10) / 10 = 1; c: (0 − 1) / 1 = −1.
        // Best is a tie of 1 between a and b: a (smaller id). Worst c.
        let tie = json!({"campaigns": [
            {"id": "b", "spend_cents": 100, "revenue_cents": 200, "new_customers": 1},
            {"id": "a", "spend_cents": 10, "revenue_cents": 20, "new_customers": 1},
            {"id": "c", "spend_cents": 1, "revenue_cents": 0, "new_customers": 1},
        ]});
        let r = result("campaign_roi", tie);
        assert_eq!((&r["best"], &r["worst"]), (&json!("a"), &json!("c")));
        // All equal: both best and worst go to the smallest id.
        let all = json!({"campaigns": [
            {"id": "b", "spend_cents": 100, "revenue_cents": 200, "new_customers": 1},
            {"id": "a", "spend_cents": 10, "revenue_cents": 20, "new_customers": 1},
        ]});
        let r = result("campaign_roi", all);
        assert_eq!((&r["best"], &r["worst"]), (&json!("a"), &json!("a")));
    }

    #[test]
    fn campaign_roi_with_one_none_or_no_rankable_campaign() {
        // One campaign: roi (150 − 100) / 100 = 0.5; it is both best and worst.
        let one = json!({"campaigns": [
            {"id": "only", "spend_cents": 100, "revenue_cents": 150, "new_customers": 0}]});
        assert_eq!(
            result("campaign_roi", one),
            json!({"campaigns": [{"id": "only", "roi": 0.5, "cac_cents": null}],
                   "blended": {"roi": 0.5, "cac_cents": null},
                   "best": "only", "worst": "only"})
        );
        // No spend anywhere: every roi null, so best and worst null.
        let free = json!({"campaigns": [
            {"id": "a", "spend_cents": 0, "revenue_cents": 150, "new_customers": 0}]});
        assert_eq!(
            result("campaign_roi", free),
            json!({"campaigns": [{"id": "a", "roi": null, "cac_cents": null}],
                   "blended": {"roi": null, "cac_cents": null},
                   "best": null, "worst": null})
        );
        assert_eq!(
            result("campaign_roi", json!({"campaigns": []})),
            json!({"campaigns": [], "blended": {"roi": null, "cac_cents": null},
                   "best": null, "worst": null})
        );
    }

    #[test]
    fn campaign_roi_names_the_field_of_input_that_does_not_parse() {
        let ok = json!({"id": "a", "spend_cents": 1, "revenue_cents": 1, "new_customers": 1});
        let with = |key: &str, value: Value| {
            let mut c = ok.clone();
            c["id"] = json!("b");
            c[key] = value;
            json!({"campaigns": [ok, c]})
        };
        let without = |key: &str| {
            let mut c = ok.clone();
            c.as_object_mut().map(|o| o.remove(key));
            json!({"campaigns": [c]})
        };
        let cases = [
            (json!({}), "input.campaigns"),
            (json!({"campaigns": {}}), "input.campaigns"),
            (without("id"), "input.campaigns[0].id"),
            (without("spend_cents"), "input.campaigns[0].spend_cents"),
            (without("revenue_cents"), "input.campaigns[0].revenue_cents"),
            (without("new_customers"), "input.campaigns[0].new_customers"),
            (
                with("spend_cents", json!(-1)),
                "input.campaigns[1].spend_cents",
            ),
            (
                with("spend_cents", json!(null)),
                "input.campaigns[1].spend_cents",
            ),
            (
                with("revenue_cents", json!(1_000_000_000_000_001_u64)),
                "input.campaigns[1].revenue_cents",
            ),
            (
                with("revenue_cents", json!("1")),
                "input.campaigns[1].revenue_cents",
            ),
            (
                with("new_customers", json!(1.5)),
                "input.campaigns[1].new_customers",
            ),
            (with("id", json!("")), "input.campaigns[1].id"),
            (with("id", json!("a")), "input.campaigns[1].id"),
        ];
        for (input, field) in cases {
            assert_eq!(
                invalid_field("campaign_roi", input.clone()),
                field,
                "{input}"
            );
        }
    }

    #[test]
    fn campaign_roi_refuses_a_total_spend_or_revenue_past_ten_to_the_fifteen() {
        let campaign = |id: &str, spend: i64, revenue: i64| json!({"id": id, "spend_cents": spend, "revenue_cents": revenue, "new_customers": 1});
        // Spend 10^15 − 1 + 1 = 10^15, revenue 0: at the limit, accepted;
        // blended roi (0 − 10^15) / 10^15 = −1, cac 10^15 / 2 = 5 × 10^14.
        let at_limit = json!({"campaigns": [campaign("a", MAX_CENTS - 1, 0), campaign("b", 1, 0)]});
        assert_eq!(
            result("campaign_roi", at_limit)["blended"],
            json!({"roi": -1.0, "cac_cents": MAX_CENTS / 2})
        );
        let spend = json!({"campaigns": [campaign("a", MAX_CENTS, 0), campaign("b", 1, 0)]});
        assert_eq!(invalid_field("campaign_roi", spend), "input.campaigns");
        let revenue = json!({"campaigns": [campaign("a", 0, MAX_CENTS), campaign("b", 0, 1)]});
        assert_eq!(invalid_field("campaign_roi", revenue), "input.campaigns");
    }

    // -- cac_trend ----------------------------------------------------------

    #[test]
    fn cac_trend_fits_the_shown_costs_against_the_month_number_gaps_included() {
        let input = json!({"months": [
            {"month": "2026-05", "spend_cents": 130_000, "new_customers": 10},
            {"month": "2026-01", "spend_cents": 100_000, "new_customers": 10},
            {"month": "2026-02", "spend_cents": 50_000, "new_customers": 0},
            {"month": "2026-04", "spend_cents": 120_005, "new_customers": 10},
        ]});
        // cac: 2026-01 100,000 / 10 = 10,000; 2026-02 no customer -> null;
        //   (2026-03 missing: a gap); 2026-04 120,005 / 10 = 12,000.5 -> 12,000 (even);
        //   2026-05 130,000 / 10 = 13,000.
        // Points (month number, shown cac); the slope does not change when every
        //   x shifts, so with 2026-01 as 0: (0, 10000), (3, 12000), (4, 13000).
        //   n = 3, Σx = 7, Σy = 35,000, Σxy = 0 + 36,000 + 52,000 = 88,000, Σx² = 25.
        //   slope = (3 × 88,000 − 7 × 35,000) / (3 × 25 − 7²) = 19,000 / 26
        //         = 730.769.. -> 731, rising.
        assert_eq!(
            result("cac_trend", input),
            json!({"months": [
                {"month": "2026-01", "cac_cents": 10_000},
                {"month": "2026-02", "cac_cents": null},
                {"month": "2026-04", "cac_cents": 12_000},
                {"month": "2026-05", "cac_cents": 13_000},
            ], "slope_cents_per_month": 731, "direction": "rising"})
        );
    }

    #[test]
    fn cac_trend_direction_is_the_exact_slopes_sign() {
        let month = |m: &str, spend: u64, customers: u64| json!({"month": m, "spend_cents": spend, "new_customers": customers});
        // Falling across a year end: (2025-12, 500), (2026-01, 300): slope −200.
        let falling = json!({"months": [month("2026-01", 300, 1), month("2025-12", 500, 1)]});
        let r = result("cac_trend", falling);
        assert_eq!(r["slope_cents_per_month"], -200);
        assert_eq!(r["direction"], "falling");
        // Flat: 400 / 2 = 200 and 600 / 3 = 200: slope 0.
        let flat = json!({"months": [month("2026-01", 400, 2), month("2026-03", 600, 3)]});
        let r = result("cac_trend", flat);
        assert_eq!(r["slope_cents_per_month"], 0);
        assert_eq!(r["direction"], "flat");
        // (0, 100), (1, 100), (1000 months later, 101): the exact slope is a tiny
        // positive number that rounds to 0 cents, but the costs do rise.
        //   n = 3, Σx = 1001, Σy = 301, Σxy = 100 + 101,000 = 101,100, Σx² = 1,000,001;
        //   (3 × 101,100 − 1001 × 301) / (3 × 1,000,001 − 1001²)
        //   = (303,300 − 301,301) / (3,000,003 − 1,002,001) = 1,999 / 1,998,002 ≈ 0.001.
        let tiny = json!({"months": [month("2026-01", 100, 1), month("2026-02", 100, 1),
                                     month("2109-05", 101, 1)]});
        let r = result("cac_trend", tiny);
        assert_eq!(r["slope_cents_per_month"], 0);
        assert_eq!(r["direction"], "rising");
    }

    #[test]
    fn cac_trend_needs_two_months_with_a_cost_for_a_slope() {
        let months = json!({"months": [
            {"month": "2026-01", "spend_cents": 100, "new_customers": 4},
            {"month": "2026-02", "spend_cents": 100, "new_customers": 0},
        ]});
        // 100 / 4 = 25; then no customer: one point only.
        assert_eq!(
            result("cac_trend", months),
            json!({"months": [{"month": "2026-01", "cac_cents": 25},
                              {"month": "2026-02", "cac_cents": null}],
                   "slope_cents_per_month": null, "direction": null})
        );
        assert_eq!(
            result("cac_trend", json!({"months": []})),
            json!({"months": [], "slope_cents_per_month": null, "direction": null})
        );
    }

    #[test]
    fn cac_trend_names_the_field_of_input_that_does_not_parse() {
        let ok = json!({"month": "2026-01", "spend_cents": 1, "new_customers": 1});
        let with = |key: &str, value: Value| {
            let mut m = ok.clone();
            m["month"] = json!("2026-02");
            m[key] = value;
            json!({"months": [ok, m]})
        };
        let cases = [
            (json!({}), "input.months"),
            (
                json!({"months": [{"spend_cents": 1, "new_customers": 1}]}),
                "input.months[0].month",
            ),
            (
                json!({"months": [{"month": "2026-01", "new_customers": 1}]}),
                "input.months[0].spend_cents",
            ),
            (
                json!({"months": [{"month": "2026-01", "spend_cents": 1}]}),
                "input.months[0].new_customers",
            ),
            (with("month", json!("2026-13")), "input.months[1].month"),
            (with("month", json!("2026-02-01")), "input.months[1].month"),
            (with("month", json!("2026-01")), "input.months[1].month"),
            (
                with("spend_cents", json!(-1)),
                "input.months[1].spend_cents",
            ),
            (
                with("spend_cents", json!("5")),
                "input.months[1].spend_cents",
            ),
            (
                with("new_customers", json!(-2)),
                "input.months[1].new_customers",
            ),
        ];
        for (input, field) in cases {
            assert_eq!(invalid_field("cac_trend", input.clone()), field, "{input}");
        }
    }

    // -- invariants ---------------------------------------------------------

    /// Amounts up to 10^15, or small ones so that totals often stay within
    /// the limit and the invariants are checked, not just refused.
    fn amount() -> impl Strategy<Value = i64> {
        prop_oneof![0..=MAX_CENTS, 0..1_000_000_i64]
    }

    proptest! {
        #[test]
        fn campaign_roi_is_null_iff_no_spend_and_best_is_at_least_worst(
            campaigns in proptest::collection::vec(
                (amount(), amount(), any::<u64>(), any::<bool>()), 0..6),
        ) {
            // Half the campaigns spend nothing (when the flag says so), to reach the nulls.
            let rows: Vec<(i64, i64, u64)> = campaigns.iter()
                .map(|&(s, r, n, free)| (if free { 0 } else { s }, r, n)).collect();
            let input = json!({"campaigns": rows.iter().enumerate().map(|(i, &(s, r, n))| json!({
                "id": format!("c-{i}"), "spend_cents": s, "revenue_cents": r, "new_customers": n,
            })).collect::<Vec<_>>()});
            prop_assert!(testing::refuses_or_answers(AGENT, "campaign_roi", &input));
            if action("campaign_roi").validate(&input).is_ok() {
                let r = result("campaign_roi", input);
                let out = r["campaigns"].as_array().expect("campaigns");
                prop_assert_eq!(out.len(), rows.len());
                for (row, &(s, _, n)) in out.iter().zip(&rows) {
                    prop_assert_eq!(row["roi"].is_null(), s == 0);
                    prop_assert_eq!(row["cac_cents"].is_null(), n == 0);
                }
                let index = |v: &Value| v.as_str()
                    .and_then(|id| id.strip_prefix("c-"))
                    .and_then(|i| i.parse::<usize>().ok());
                match (index(&r["best"]), index(&r["worst"])) {
                    (Some(b), Some(w)) => {
                        // Exactly: (rb − sb) / sb ≥ (rw − sw) / sw  ⇔  rb·sw ≥ rw·sb (s > 0).
                        let (sb, rb, _) = rows[b];
                        let (sw, rw, _) = rows[w];
                        prop_assert!(i128::from(rb) * i128::from(sw) >= i128::from(rw) * i128::from(sb));
                    }
                    (None, None) => prop_assert!(rows.iter().all(|&(s, _, _)| s == 0)),
                    _ => prop_assert!(false, "best and worst are both null or both set"),
                }
            }
        }

        #[test]
        fn cac_trend_orders_months_and_its_direction_agrees_with_the_slope(
            months in proptest::collection::btree_map(
                0..240_i64, (0..=MAX_CENTS, 0..5_u64), 0..8),
        ) {
            let input = json!({"months": months.iter().rev().map(|(&m, &(s, n))| json!({
                "month": format!("{:04}-{:02}", 2000 + m / 12, m % 12 + 1),
                "spend_cents": s, "new_customers": n,
            })).collect::<Vec<_>>()});
            prop_assert!(testing::refuses_or_answers(AGENT, "cac_trend", &input));
            let r = result("cac_trend", input);
            let out = r["months"].as_array().expect("months");
            prop_assert_eq!(out.len(), months.len());
            for (row, (&m, &(_, n))) in out.iter().zip(&months) {
                let expected = format!("{:04}-{:02}", 2000 + m / 12, m % 12 + 1);
                prop_assert_eq!(row["month"].as_str(), Some(expected.as_str()));
                prop_assert_eq!(row["cac_cents"].is_null(), n == 0);
            }
            let with_cost = months.values().filter(|&&(_, n)| n > 0).count();
            match r["slope_cents_per_month"].as_i64() {
                None => {
                    prop_assert!(with_cost < 2);
                    prop_assert!(r["direction"].is_null());
                }
                Some(slope) => {
                    prop_assert!(with_cost >= 2);
                    let direction = r["direction"].as_str().expect("a direction");
                    prop_assert!(match direction {
                        "rising" => slope >= 0,
                        "falling" => slope <= 0,
                        "flat" => slope == 0,
                        _ => false,
                    }, "{} against {}", direction, slope);
                }
            }
        }
    }
}
