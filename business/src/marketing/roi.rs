//! `campaign_roi`: each campaign's return on spend and cost per new
//! customer, the blend of all of them, and the best and worst campaign.

use serde::{Deserialize, Serialize};

use super::cac_cents;
use crate::exact::{Figure, Rational};
use crate::fields::{self, Cents, Count, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// `(revenue − spend) / spend`, exactly; `None` when spend is 0.
fn roi(spend: i128, revenue: i128) -> Option<Rational> {
    Rational::new(revenue - spend, spend)
}

/// A return rounded half-even to 4 places, for the result. `Err` only if it
/// does not fit a decimal, which a return within 10^15 never does.
fn roi_figure(roi: Rational, path: &str) -> Result<Figure, InvalidInput> {
    roi.round(4)
        .map(Figure)
        .ok_or_else(|| InvalidInput::new(path, "the return on spend is out of range"))
}

/// `campaign_roi`: per campaign, roi = (revenue − spend) / spend (4 places)
/// and cac = spend / new customers (to the cent), in input order; `blended`
/// applies both to the totals; `best`/`worst` name the campaigns of highest
/// and lowest exact roi (ties by id ascending, for both).
///
/// `campaigns` may be empty; ids are unique; Σ spend and Σ revenue are at
/// most 10^15 cents.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRoi {
    campaigns: Vec<Campaign>,
}

/// A campaign's spend and what it brought.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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

impl BusinessAction for CampaignRoi {
    /// Refuses a repeated campaign id.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.campaigns, "campaigns", "id", |c| &c.id)
    }

    /// The report; a total spend or revenue past 10^15 cents is refused.
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let mut campaigns = Vec::with_capacity(self.campaigns.len());
        let mut ranked: Vec<(Rational, &Text)> = Vec::new();
        let mut customers = 0_i128;
        for (i, c) in self.campaigns.iter().enumerate() {
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
            fields::sum(self.campaigns.iter().map(|c| cents(c).get()))
                .ok_or_else(|| fields::too_large("campaigns", &format!("the total {what}")))
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
}

#[cfg(test)]
mod tests {
    use crate::marketing::test_support::*;

    #[test]
    fn campaign_roi_gives_agents_md_example() {
        gives_the_contract_example("campaign_roi");
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
        let b = testing::with(&ok, "id", json!("b"));
        let with =
            |key: &str, value: Value| json!({"campaigns": [ok, testing::with(&b, key, value)]});
        let without = |key: &str| json!({"campaigns": [testing::without(&ok, key)]});
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
        invalid_fields("campaign_roi", cases);
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
    }
}
