//! `detect_anomalies`: amounts far from their category's median by robust
//! z-score, and likely duplicate payments.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::de::{self, Deserializer, Unexpected};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{beyond_exact, folded};
use crate::exact::{Figure, Rational};
use crate::fields::{self, SignedCents, Text};
use crate::{BusinessAction, InvalidInput, Problem};

/// The robust z-score's constant: 0.6745 (the 0.75 quantile of the standard
/// normal), which scales the MAD to a standard deviation.
const Z_SCALE: (i128, i128) = (6745, 10_000);

/// The constant of the fallback where the MAD is 0: 1.253314 (√(π/2) to six
/// places, exactly this decimal), which scales the mean absolute deviation
/// to a standard deviation.
const MEAN_AD_SCALE: (i128, i128) = (1_253_314, 1_000_000);

/// The robust z-score an amount must pass, in absolute value, to be an
/// outlier: 3.5 (Iglewicz and Hoaglin).
const OUTLIER_Z: (i128, i128) = (35, 10);

/// Nanoseconds in an hour.
const NANOS_PER_HOUR: i128 = 3_600 * 1_000_000_000;

/// How far apart two payments may be to look like a duplicate: 24 hours,
/// inclusive.
const DUPLICATE_WINDOW_NANOS: i128 = 24 * NANOS_PER_HOUR;

/// `detect_anomalies`: amounts far from their category's median (robust
/// z-score, `|z| > 3.5`), and pairs of payments that look like duplicates.
///
/// Per category: median `m`, MAD = median of `|x − m|`, MeanAD = mean of
/// `|x − m|` (Σ|x − m| / n), and the modified z-score z = 0.6745 × (x − m) /
/// MAD; where the MAD is 0 (more than half the amounts equal the median), z
/// = (x − m) / (1.253314 × MeanAD) instead, with the same cut-off. All
/// exact (the median of an even count is the mean of the two middle
/// values; 1.253314 is an exact decimal). A category whose MAD and MeanAD
/// are both 0 (every amount equal) has no z-scores, hence no outliers:
/// never a division by zero.
///
/// The fallback's small-n limit: where the MAD is 0, `|x − m|` is at most
/// Σ|x − m| = n × MeanAD, so |z| ≤ n / 1.253314, and a category of 4 or
/// fewer amounts can never be flagged (three equal amounts and one far
/// away: z = 4 / 1.253314 = 3.19.. ≤ 3.5); from 5 amounts it can (four of
/// 4,999 cents and one of 499,900: z = 5 / 1.253314 = 3.9894..).
///
/// Likely duplicates are two transactions of equal amount and
/// counterparty (trimmed, case-insensitive) at most 24 hours apart and
/// next to each other in time among those of that amount and
/// counterparty. Unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectAnomalies {
    transactions: Vec<TimedTransaction>,
}

/// A transaction with a category, a counterparty and an instant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimedTransaction {
    id: Text,
    category: Text,
    counterparty: Text,
    amount_cents: SignedCents,
    at: Timestamp,
}

/// An instant, RFC 3339 with its offset (`2026-03-01T10:00:00+01:00`).
#[derive(Debug, Clone, Copy)]
struct Timestamp(OffsetDateTime);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // `time` takes any byte between date and time; RFC 3339 has `T`
        // (either case) and, by its section 5.6 note, a space.
        let separated = matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' '));
        match OffsetDateTime::parse(&s, &Rfc3339) {
            Ok(at) if separated => Ok(Timestamp(at)),
            _ => Err(de::Error::invalid_value(
                Unexpected::Str(&s),
                &"an RFC 3339 timestamp with an offset, e.g. 2026-03-01T10:00:00Z",
            )),
        }
    }
}

/// An amount far from its category's median.
#[derive(Debug, Serialize)]
struct Outlier<'a> {
    id: &'a Text,
    category: &'a Text,
    amount_cents: i64,
    z: Figure,
}

/// Two transactions that look like one payment made twice.
#[derive(Debug, Serialize)]
struct Duplicate<'a> {
    ids: [&'a Text; 2],
    amount_cents: i64,
    counterparty: &'a str,
    hours_apart: Figure,
}

/// A category's robust centre and spreads.
#[derive(Debug, Serialize)]
struct CategoryStats<'a> {
    category: &'a Text,
    count: usize,
    median_cents: Figure,
    mad_cents: Figure,
    /// The mean absolute deviation around the median, always shown (what
    /// the z-scores use only where the MAD is 0), rounded half-even to the
    /// cent.
    mean_ad_cents: Figure,
}

/// `detect_anomalies`'s result.
#[derive(Debug, Serialize)]
struct Anomalies<'a> {
    outliers: Vec<Outlier<'a>>,
    duplicates: Vec<Duplicate<'a>>,
    categories: Vec<CategoryStats<'a>>,
}

/// The median of `sorted` (ascending): the middle value, or the exact mean
/// of the two middle values of an even count; `None` when it is empty.
fn median(sorted: &[Rational]) -> Option<Rational> {
    let n = sorted.len();
    let upper = *sorted.get(n / 2)?;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = *sorted.get(n / 2 - 1)?;
    lower.checked_add(upper)?.checked_div(Rational::integer(2))
}

/// `|r|`.
fn abs(r: Rational) -> Option<Rational> {
    if r.signum() == Ordering::Less {
        Rational::integer(0).checked_sub(r)
    } else {
        Some(r)
    }
}

/// An outlier with its exact `|z|`, to order by before it is rounded.
type Scored<'a> = (Rational, Outlier<'a>);

/// Every category's median, MAD and MeanAD (by category), and its
/// outliers.
fn robust_scores(
    transactions: &[TimedTransaction],
) -> Option<(Vec<CategoryStats<'_>>, Vec<Scored<'_>>)> {
    let mut by_category: BTreeMap<&Text, Vec<&TimedTransaction>> = BTreeMap::new();
    for t in transactions {
        by_category.entry(&t.category).or_default().push(t);
    }
    let mad_scale = Rational::new(Z_SCALE.0, Z_SCALE.1)?;
    let mean_ad_scale = Rational::new(MEAN_AD_SCALE.0, MEAN_AD_SCALE.1)?;
    let threshold = Rational::new(OUTLIER_Z.0, OUTLIER_Z.1)?;
    let mut stats = Vec::with_capacity(by_category.len());
    let mut outliers = Vec::new();
    for (category, members) in by_category {
        let amount = |t: &TimedTransaction| Rational::integer(i128::from(t.amount_cents.get()));
        let mut amounts: Vec<Rational> = members.iter().map(|t| amount(t)).collect();
        amounts.sort();
        let m = median(&amounts)?;
        let mut deviations = amounts
            .iter()
            .map(|x| abs(x.checked_sub(m)?))
            .collect::<Option<Vec<_>>>()?;
        deviations.sort();
        let mad = median(&deviations)?;
        let n = i128::try_from(deviations.len()).ok()?;
        let mean_ad = deviations
            .iter()
            .try_fold(Rational::integer(0), |sum, d| sum.checked_add(*d))?
            .checked_div(Rational::integer(n))?;
        // What z divides by: z = (x − m) / spread. MAD / 0.6745 (so z =
        // 0.6745 × (x − m) / MAD); where the MAD is 0 (more than half the
        // amounts equal the median), 1.253314 × MeanAD; where both are 0
        // (every amount equal), nothing: no outliers, never a division by
        // zero.
        let spread = if mad.signum() == Ordering::Greater {
            Some(mad.checked_div(mad_scale)?)
        } else if mean_ad.signum() == Ordering::Greater {
            Some(mean_ad_scale.checked_mul(mean_ad)?)
        } else {
            None
        };
        if let Some(spread) = spread {
            // |z| > 3.5 <=> |x − m| > 3.5 × spread, since spread > 0.
            let bar = threshold.checked_mul(spread)?;
            for t in members {
                let d = amount(t).checked_sub(m)?;
                if abs(d)? > bar {
                    let z = d.checked_div(spread)?;
                    outliers.push((
                        abs(z)?,
                        Outlier {
                            id: &t.id,
                            category,
                            amount_cents: t.amount_cents.get(),
                            z: Figure(z.round(4)?),
                        },
                    ));
                }
            }
        }
        stats.push(CategoryStats {
            category,
            count: amounts.len(),
            // Whole or half cents (the mean of two whole amounts), and the
            // MAD likewise: 2 places are exact.
            median_cents: Figure(m.round(2)?.normalize()),
            mad_cents: Figure(mad.round(2)?.normalize()),
            // Any fraction of a cent (a sum over the count): to the cent.
            mean_ad_cents: Figure(mean_ad.round(0)?),
        });
    }
    Some((stats, outliers))
}

/// Every likely duplicate pair, by ids: each payment with the one just
/// before it (by instant, then id) of the same amount and counterparty, when
/// that one is at most 24 hours earlier. Pairing neighbours only keeps the
/// list linear in the input: a burst of n equal payments is n − 1 pairs, not
/// n(n − 1)/2 (which for a full request body would not fit a job's result).
fn duplicates(transactions: &[TimedTransaction]) -> Option<Vec<Duplicate<'_>>> {
    let mut by_payment: BTreeMap<(i64, String), Vec<&TimedTransaction>> = BTreeMap::new();
    for t in transactions {
        by_payment
            .entry((t.amount_cents.get(), folded(t.counterparty.as_str())))
            .or_default()
            .push(t);
    }
    let mut pairs = Vec::new();
    for mut group in by_payment.into_values() {
        group.sort_by(|a, b| (a.at.0, &a.id).cmp(&(b.at.0, &b.id)));
        for neighbours in group.windows(2) {
            let [earlier, later] = neighbours else {
                continue;
            };
            let nanos = (later.at.0 - earlier.at.0).whole_nanoseconds();
            if nanos > DUPLICATE_WINDOW_NANOS {
                continue;
            }
            let (first, second) = if earlier.id <= later.id {
                (earlier, later)
            } else {
                (later, earlier)
            };
            pairs.push(Duplicate {
                ids: [&first.id, &second.id],
                amount_cents: first.amount_cents.get(),
                counterparty: first.counterparty.as_str(),
                hours_apart: Figure(Rational::new(nanos, NANOS_PER_HOUR)?.round(4)?),
            });
        }
    }
    pairs.sort_by(|a, b| a.ids.cmp(&b.ids));
    Some(pairs)
}

impl BusinessAction for DetectAnomalies {
    /// Refuses a repeated transaction id and a blank counterparty.
    fn check(&self) -> Result<(), InvalidInput> {
        fields::unique_by(&self.transactions, "transactions", "id", |t| &t.id)?;
        // A blank counterparty is no counterparty: two of them would look
        // like the same payee.
        if let Some(i) = self
            .transactions
            .iter()
            .position(|t| t.counterparty.as_str().trim().is_empty())
        {
            return Err(InvalidInput::new(
                format!("transactions[{i}].counterparty"),
                "must not be blank",
            ));
        }
        Ok(())
    }

    /// The anomalies, or `transactions` if a figure left exact arithmetic
    /// (unreachable for amounts within ±10^15 cents).
    fn compute(&self) -> Result<impl Serialize, Problem> {
        let (categories, mut scored) =
            robust_scores(&self.transactions).ok_or_else(|| beyond_exact("transactions"))?;
        // By |z| descending, compared exactly (not as rounded), then by id.
        scored.sort_by(|(za, a), (zb, b)| zb.cmp(za).then_with(|| a.id.cmp(b.id)));
        let duplicates =
            duplicates(&self.transactions).ok_or_else(|| beyond_exact("transactions"))?;
        Ok(Anomalies {
            outliers: scored.into_iter().map(|(_, o)| o).collect(),
            duplicates,
            categories,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::accounting::test_support::*;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    /// A transaction for `detect_anomalies`, at `at`.
    fn tx(id: &str, category: &str, counterparty: &str, amount: i64, at: &str) -> Value {
        json!({"id": id, "category": category, "counterparty": counterparty,
               "amount_cents": amount, "at": at})
    }

    /// `detect_anomalies`'s input: payments of 1 cent to `p` in `category`,
    /// one per (id, instant).
    fn payments(category: &str, at: &[(&str, &str)]) -> Value {
        let transactions: Vec<Value> = at
            .iter()
            .map(|&(id, at)| tx(id, category, "p", 1, at))
            .collect();
        json!({"transactions": transactions})
    }

    #[test]
    fn detect_anomalies_scores_a_hand_worked_category() {
        // Different counterparties and days apart: no duplicates here.
        let amounts = [
            ("o-1", 100),
            ("o-2", 102),
            ("o-3", 98),
            ("o-4", 101),
            ("o-5", 99),
            ("o-6", 1000),
        ];
        let transactions: Vec<Value> = amounts
            .iter()
            .enumerate()
            .map(|(i, (id, a))| {
                tx(
                    id,
                    "office",
                    &format!("shop {i}"),
                    *a,
                    &format!("2026-03-0{}T12:00:00Z", i + 1),
                )
            })
            .collect();
        // sorted: 98, 99, 100, 101, 102, 1000 -> median m = (100 + 101) / 2 = 100.5.
        // |x - m|: 0.5, 1.5, 2.5, 0.5, 1.5, 899.5 -> sorted 0.5, 0.5, 1.5, 1.5, 2.5, 899.5
        //   -> MAD = (1.5 + 1.5) / 2 = 1.5.
        // z(1000) = 0.6745 x 899.5 / 1.5 = 606.71275 / 1.5 = 404.475166.. -> 404.4752 > 3.5.
        // z(98) = 0.6745 x -2.5 / 1.5 = -1.1241..; |z| of the others is smaller still.
        // MeanAD (shown, not used: the MAD is not 0) = (0.5 + 0.5 + 1.5 + 1.5 + 2.5 + 899.5) / 6
        //   = 906 / 6 = 151.
        assert_eq!(
            result("detect_anomalies", json!({"transactions": transactions})),
            json!({
                "outliers": [{"id": "o-6", "category": "office", "amount_cents": 1000, "z": 404.4752}],
                "duplicates": [],
                "categories": [{"category": "office", "count": 6, "median_cents": 100.5,
                                "mad_cents": 1.5, "mean_ad_cents": 151.0}],
            })
        );
    }

    #[test]
    fn detect_anomalies_cuts_at_three_and_a_half_and_orders_outliers_by_size_then_id() {
        let t = |id: &str, category: &str, amount: i64, day: u32| {
            tx(
                id,
                category,
                id,
                amount,
                &format!("2026-01-{day:02}T00:00:00Z"),
            )
        };
        let input = json!({"transactions": [
            // fuel: 5000, 5000, 5000, 9000: m = (5000 + 5000) / 2 = 5000; |x - m| = 0, 0, 0, 4000
            // -> MAD = (0 + 0) / 2 = 0, so MeanAD = 4000 / 4 = 1000:
            // z(9000) = 4000 / (1.253314 x 1000) = 3.1915.. <= 3.5: not an outlier (three equal
            // amounts and one more can never be: z = 4 / 1.253314 whatever the fourth is).
            t("f-1", "fuel", 5000, 1), t("f-2", "fuel", 5000, 2), t("f-3", "fuel", 5000, 3), t("f-4", "fuel", 9000, 4),
            // rent: one amount: m = 500000, MAD = 0, MeanAD = 0: no z-scores.
            t("r-1", "rent", 500_000, 5),
            // swing: -1000, -1, 0, 0, 0, 1, 1000: m = 0; |x - m| sorted 0, 0, 0, 1, 1, 1000, 1000
            // -> MAD = 1. z(+-1000) = +-0.6745 x 1000 / 1 = +-674.5: equal |z|, so by id (o-a
            // before o-b). z(+-1) = +-0.6745: no. MeanAD = 2002 / 7 = 286.
            t("o-b", "swing", -1000, 6), t("s-1", "swing", -1, 7), t("s-2", "swing", 0, 8),
            t("s-3", "swing", 0, 9), t("s-4", "swing", 0, 10), t("s-5", "swing", 1, 11),
            t("o-a", "swing", 1000, 12),
            // edge: -1349, 0, 0, 1349, 7000: m = 0; |x - m| sorted 0, 0, 1349, 1349, 7000 -> MAD = 1349.
            // z(7000) = 0.6745 x 7000 / 1349 = 4721.5 / 1349 = 3.5 exactly: not above 3.5.
            // MeanAD = (1349 + 1349 + 7000) / 5 = 9698 / 5 = 1939.6 -> 1940.
            t("e-1", "edge", -1349, 13), t("e-2", "edge", 0, 14), t("e-3", "edge", 0, 15),
            t("e-4", "edge", 1349, 16), t("e-5", "edge", 7000, 17),
            // edge2: the same with 7001: z = 0.6745 x 7001 / 1349 = 4722.1745 / 1349
            // = 3.50050..: an outlier, -> 3.5005. MeanAD = 9699 / 5 = 1939.8 -> 1940.
            t("g-1", "edge2", -1349, 18), t("g-2", "edge2", 0, 19), t("g-3", "edge2", 0, 20),
            t("g-4", "edge2", 1349, 21), t("g-5", "edge2", 7001, 22),
        ]});
        assert_eq!(
            result("detect_anomalies", input),
            json!({
                "outliers": [
                    {"id": "o-a", "category": "swing", "amount_cents": 1000, "z": 674.5},
                    {"id": "o-b", "category": "swing", "amount_cents": -1000, "z": -674.5},
                    {"id": "g-5", "category": "edge2", "amount_cents": 7001, "z": 3.5005},
                ],
                "duplicates": [],
                "categories": [
                    {"category": "edge", "count": 5, "median_cents": 0.0, "mad_cents": 1349.0,
                     "mean_ad_cents": 1940.0},
                    {"category": "edge2", "count": 5, "median_cents": 0.0, "mad_cents": 1349.0,
                     "mean_ad_cents": 1940.0},
                    {"category": "fuel", "count": 4, "median_cents": 5000.0, "mad_cents": 0.0,
                     "mean_ad_cents": 1000.0},
                    {"category": "rent", "count": 1, "median_cents": 500_000.0, "mad_cents": 0.0,
                     "mean_ad_cents": 0.0},
                    {"category": "swing", "count": 7, "median_cents": 0.0, "mad_cents": 1.0,
                     "mean_ad_cents": 286.0},
                ],
            })
        );
    }

    #[test]
    fn detect_anomalies_falls_back_to_the_mean_absolute_deviation_where_the_mad_is_zero() {
        let t = |id: &str, category: &str, amount: i64, day: u32| {
            tx(
                id,
                category,
                id,
                amount,
                &format!("2026-02-{day:02}T00:00:00Z"),
            )
        };
        let input = json!({"transactions": [
            // card: 4999 x 4 and 499,900: m = 4999; |x - m| = 0, 0, 0, 0, 494,901 -> MAD = 0.
            //   MeanAD = 494,901 / 5 = 98,980.2 -> shown 98,980;
            //   z(499,900) = 494,901 / (1.253314 x 98,980.2) = 494,901 / 124,053.2703828
            //   = 5 / 1.253314 = 3.98942.. > 3.5: an outlier, -> 3.9894. z(4999) = 0.
            t("c-1", "card", 4999, 1), t("c-2", "card", 4999, 2), t("c-3", "card", 4999, 3),
            t("c-4", "card", 4999, 4), t("c-5", "card", 499_900, 5),
            // tie: -613,401, 0, 0, 0, 4,386,599: m = 0, MAD = 0; MeanAD = 5,000,000 / 5
            //   = 1,000,000; 1.253314 x 1,000,000 = 1,253,314;
            //   z(4,386,599) = 4,386,599 / 1,253,314 = 3.5 exactly: not above 3.5;
            //   z(-613,401) = -0.4894..
            t("t-1", "tie", -613_401, 6), t("t-2", "tie", 0, 7), t("t-3", "tie", 0, 8),
            t("t-4", "tie", 0, 9), t("t-5", "tie", 4_386_599, 10),
            // over: the same with 4,386,600: MeanAD = 5,000,001 / 5 = 1,000,000.2 -> 1,000,000;
            //   z = 4,386,600 / (1.253314 x 1,000,000.2) = 4,386,600 / 1,253,314.2506628
            //   = 3.5000000978..: above 3.5, compared exactly, though shown as 3.5000.
            t("v-1", "over", -613_401, 11), t("v-2", "over", 0, 12), t("v-3", "over", 0, 13),
            t("v-4", "over", 0, 14), t("v-5", "over", 4_386_600, 15),
            // low: 5 x 100 and -900: m = 100, MAD = 0; MeanAD = 1000 / 6 = 166.66.. -> 167;
            //   z(-900) = -1000 / (1.253314 x 1000 / 6) = -6 / 1.253314 = -4.78729.. -> -4.7873.
            t("l-1", "low", 100, 16), t("l-2", "low", 100, 17), t("l-3", "low", 100, 18),
            t("l-4", "low", 100, 19), t("l-5", "low", 100, 20), t("l-6", "low", -900, 21),
            // flat: 7 x 3: MAD = 0 and MeanAD = 0: no z-scores.
            t("e-1", "flat", 7, 22), t("e-2", "flat", 7, 23), t("e-3", "flat", 7, 24),
            // pair: 0 and 5: m = 2.5; |x - m| = 2.5, 2.5 -> MAD = 2.5 (not 0: the MAD's z);
            //   MeanAD = 5 / 2 = 2.5 -> 2 (half-even).
            t("p-1", "pair", 0, 25), t("p-2", "pair", 5, 26),
        ]});
        // By |z|: 4.7873.. (l-6), 3.9894.. (c-5), 3.50000009.. (v-5).
        assert_eq!(
            result("detect_anomalies", input),
            json!({
                "outliers": [
                    {"id": "l-6", "category": "low", "amount_cents": -900, "z": -4.7873},
                    {"id": "c-5", "category": "card", "amount_cents": 499_900, "z": 3.9894},
                    {"id": "v-5", "category": "over", "amount_cents": 4_386_600, "z": 3.5},
                ],
                "duplicates": [],
                "categories": [
                    {"category": "card", "count": 5, "median_cents": 4999.0, "mad_cents": 0.0,
                     "mean_ad_cents": 98_980.0},
                    {"category": "flat", "count": 3, "median_cents": 7.0, "mad_cents": 0.0,
                     "mean_ad_cents": 0.0},
                    {"category": "low", "count": 6, "median_cents": 100.0, "mad_cents": 0.0,
                     "mean_ad_cents": 167.0},
                    {"category": "over", "count": 5, "median_cents": 0.0, "mad_cents": 0.0,
                     "mean_ad_cents": 1_000_000.0},
                    {"category": "pair", "count": 2, "median_cents": 2.5, "mad_cents": 2.5,
                     "mean_ad_cents": 2.0},
                    {"category": "tie", "count": 5, "median_cents": 0.0, "mad_cents": 0.0,
                     "mean_ad_cents": 1_000_000.0},
                ],
            })
        );
    }

    #[test]
    fn detect_anomalies_finds_same_amount_same_counterparty_within_a_day() {
        let input = json!({"transactions": [
            tx("d-2", "ops", "ACME Corp ", -5000, "2026-03-01T10:00:00Z"),
            // 09:30+01:00 is 08:30Z on the 2nd: 22.5 h after d-2.
            tx("d-1", "ops", "acme corp", -5000, "2026-03-02T09:30:00+01:00"),
            // 25.5 h after d-1, 48 h after d-2: neither.
            tx("d-3", "ops", "Acme Corp", -5000, "2026-03-03T10:00:00Z"),
            // Exactly 24 h after d-3: a pair (the window is inclusive).
            tx("d-4", "ops", "  acme CORP", -5000, "2026-03-04T10:00:00Z"),
            // Same instant as d-4 but another amount: no pair.
            tx("d-5", "ops", "acme corp", -5001, "2026-03-04T10:00:00Z"),
            // Another payee with d-4's amount and instant: no pair.
            tx("d-6", "ops", "acme corp ltd", -5000, "2026-03-04T10:00:00Z"),
            // 1200.5 s apart: 1200.5 / 3600 = 0.333472.. h -> 0.3335.
            tx("z-2", "ops", "Zed", 700, "2026-03-05T00:20:00.5Z"),
            tx("z-1", "ops", "zed", 700, "2026-03-05T00:00:00Z"),
        ]});
        // Pairs by ids; the counterparty as the smaller id wrote it.
        assert_eq!(
            result("detect_anomalies", input)["duplicates"],
            json!([
                {"ids": ["d-1", "d-2"], "amount_cents": -5000, "counterparty": "acme corp", "hours_apart": 22.5},
                {"ids": ["d-3", "d-4"], "amount_cents": -5000, "counterparty": "Acme Corp", "hours_apart": 24.0},
                {"ids": ["z-1", "z-2"], "amount_cents": 700, "counterparty": "zed", "hours_apart": 0.3335},
            ])
        );
    }

    #[test]
    fn detect_anomalies_pairs_each_payment_of_a_burst_with_the_one_before_it() {
        // Three at 00:00, 01:00, 02:00: a-b and b-c are neighbours within
        // 24 h; a-c is not listed (c repeats b, its neighbour), so n equal
        // payments give n - 1 pairs.
        let input = payments(
            "x",
            &[
                ("c", "2026-01-01T02:00:00Z"),
                ("a", "2026-01-01T00:00:00Z"),
                ("b", "2026-01-01T01:00:00Z"),
            ],
        );
        let r = result("detect_anomalies", input);
        let ids: Vec<Value> = r["duplicates"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|d| d["ids"].clone())
            .collect();
        assert_eq!(ids, vec![json!(["a", "b"]), json!(["b", "c"])]);
        // b-c: 1 h.
        assert_eq!(r["duplicates"][1]["hours_apart"], json!(1.0));
    }

    #[test]
    fn detect_anomalies_of_nothing_is_empty() {
        assert_eq!(
            result("detect_anomalies", json!({"transactions": []})),
            json!({"outliers": [], "duplicates": [], "categories": []})
        );
    }

    #[test]
    fn detect_anomalies_reads_rfc_3339_with_t_or_a_space_and_any_offset() {
        // The same instant four ways: 10:00Z = 11:00+01:00 = 05:00-05:00; 0 h apart.
        let input = payments(
            "c",
            &[
                ("a", "2026-03-01T10:00:00Z"),
                ("b", "2026-03-01 11:00:00+01:00"),
                ("c", "2026-03-01t05:00:00.000-05:00"),
                ("d", "2026-03-01T10:00:00z"),
            ],
        );
        let r = result("detect_anomalies", input);
        let pairs = r["duplicates"].as_array().expect("a list");
        // 4 transactions at one instant: 3 neighbouring pairs, each 0 hours apart.
        assert_eq!(pairs.len(), 3);
        assert!(pairs.iter().all(|p| p["hours_apart"] == json!(0.0)));
        // The calendar's ends, offsets pushing them past it, and a leap second: refused
        // or answered, never a panic in the subtraction.
        for (a, b) in [
            ("0000-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"),
            ("0000-01-01T00:00:00Z", "0000-01-01T23:59:59.999999999Z"),
            ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"),
        ] {
            let input = payments("c", &[("a", a), ("b", b)]);
            assert!(testing::refuses_or_answers(
                AGENT,
                "detect_anomalies",
                &input
            ));
        }
    }

    #[test]
    fn detect_anomalies_names_the_field_of_input_that_does_not_parse() {
        let ok = tx("a", "c", "p", 1, "2026-03-01T10:00:00Z");
        let input = |t: Value| json!({"transactions": [ok, t]});
        let b = tx("b", "c", "p", 1, "2026-03-01T10:00:00Z");
        let b_with = |key: &str, value: Value| input(with(&b, key, value));
        invalid_fields("detect_anomalies", [(json!({}), "input.transactions")]);
        // Not an RFC 3339 instant with an offset, or none at all.
        let at = [
            json!("2026-03-01x10:00:00Z"),
            json!("2026-03-01"),
            json!("2026-03-01T10:00:00+24:00"),
            json!("2026-03-01T10:00:00"),
            json!("2026-02-30T10:00:00Z"),
            json!("yesterday"),
            json!(5),
        ];
        let mut cases: Vec<(Value, &str)> = at
            .into_iter()
            .map(|at| (b_with("at", at), "input.transactions[1].at"))
            .collect();
        cases.push((input(without(&b, "at")), "input.transactions[1].at"));
        cases.extend([
            (input(ok.clone()), "input.transactions[1].id"),
            (
                b_with("category", json!("")),
                "input.transactions[1].category",
            ),
            (
                b_with("counterparty", json!("")),
                "input.transactions[1].counterparty",
            ),
            (
                b_with("counterparty", json!(" \t")),
                "input.transactions[1].counterparty",
            ),
            (
                b_with("amount_cents", json!(2.5)),
                "input.transactions[1].amount_cents",
            ),
            // Unknown fields are refused, named (never silently ignored).
            (
                json!({"transactions": [], "threshold": 3}),
                "input.threshold",
            ),
            (b_with("memo", json!("x")), "input.transactions[1].memo"),
        ]);
        invalid_fields("detect_anomalies", cases);
    }

    proptest! {
        #[test]
        fn detect_anomalies_never_panics_and_counts_every_transaction(
            txs in proptest::collection::vec(
                (0..3_usize, 0..3_usize, signed_cents(), 0..200_000_i64),
                0..14,
            ),
        ) {
            let input = json!({"transactions": txs.iter().enumerate().map(|(i, &(c, p, a, s))| {
                let at = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(s);
                let at = at.format(&Rfc3339).expect("formats");
                tx(&format!("t{i:02}"), &format!("c{c}"), &format!("P{p} "), a, &at)
            }).collect::<Vec<_>>()});
            let r = result("detect_anomalies", input);
            let categories = r["categories"].as_array().expect("a list");
            let counted: u64 = categories.iter()
                .map(|c| c["count"].as_u64().expect("a count")).sum();
            prop_assert_eq!(counted, txs.len() as u64);
            for c in categories {
                prop_assert!(c["mean_ad_cents"].as_f64().expect("a number") >= 0.0);
            }
            for o in r["outliers"].as_array().expect("a list") {
                prop_assert!(o["z"].as_f64().expect("a number").abs() >= 3.5);
            }
            let duplicates = r["duplicates"].as_array().expect("a list");
            // Neighbours only: fewer pairs than transactions, never quadratic.
            prop_assert!(duplicates.len() < txs.len().max(1));
            for d in duplicates {
                prop_assert!(d["ids"][0].as_str() < d["ids"][1].as_str());
                prop_assert!(d["hours_apart"].as_f64().expect("a number") <= 24.0);
            }
        }
    }
}
