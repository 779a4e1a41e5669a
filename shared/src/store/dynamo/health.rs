//! The health probe's samples in DynamoDB: the HealthSamples table, one
//! partition per UTC day (`check = "probe#2026-11-24"`, see
//! [`crate::store::keys::health_day`]), sorted by time. A day is at most
//! 1,440 items of about 100 bytes: one page of a Query.
//!
//! The sort key `at` is the sample's time as RFC 3339 with milliseconds
//! (fixed width, so text order is time order, and readable in the
//! console); `at_ms` keeps the number for reading back.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::{Item, get_list, get_n, get_s, list, n, s};
use super::{DynamoStore, Expr, unavailable};
use crate::Result;
use crate::health::{Sample, Status};
use crate::store::health::{HealthSampleStore, HealthWrite, day_of};
use crate::store::keys::health_day;

/// `at_ms` as the sort key: `2026-11-24T12:00:03.250Z`. Times outside
/// years 0 to 9999 (never a probe's) clamp to the ends of that range.
fn sort_key(at_ms: i64) -> String {
    const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    const MIN_MS: i64 = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
    crate::clock::rfc3339_millis(at_ms.clamp(MIN_MS, MAX_MS)).unwrap_or_default()
}

impl DynamoStore {
    pub(super) fn health_items(&self, write: HealthWrite) -> Result<TransactWriteItem> {
        match write {
            HealthWrite::Sample { sample, expires_at } => {
                let mut item = Item::from([
                    ("check".into(), s(health_day(day_of(sample.at_ms)))),
                    ("at".into(), s(sort_key(sample.at_ms))),
                    ("at_ms".into(), n(sample.at_ms)),
                    ("status".into(), s(sample.status.as_str())),
                    ("expires_at".into(), n(expires_at)),
                ]);
                if !sample.failing.is_empty() {
                    item.insert("failing".into(), list(sample.failing));
                }
                Expr::default().name("#at", "at").put(
                    &self.tables.health_samples,
                    item,
                    "attribute_not_exists(#at)",
                )
            }
        }
    }

    /// One page of day `day`'s partition, from `start` on.
    async fn sample_page(
        &self,
        day: i64,
        newest_first: bool,
        limit: Option<i32>,
        start: Option<Item>,
    ) -> Result<(Vec<Sample>, Option<Item>)> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.health_samples)
            .key_condition_expression("#c = :c")
            .expression_attribute_names("#c", "check")
            .expression_attribute_values(":c", s(health_day(day)))
            .scan_index_forward(!newest_first)
            .set_limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| unavailable("Query health samples", e))?;
        let samples = out
            .items()
            .iter()
            .map(sample_from)
            .collect::<Result<Vec<_>>>()?;
        Ok((samples, out.last_evaluated_key))
    }

    /// The newest sample of day `day`, if any.
    async fn newest_on(&self, day: i64) -> Result<Option<Sample>> {
        let (page, _) = self.sample_page(day, true, Some(1), None).await?;
        Ok(page.into_iter().next())
    }
}

#[async_trait]
impl HealthSampleStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(day), err(level = "debug"))]
    async fn samples_on(&self, day: i64) -> Result<Vec<Sample>> {
        let mut samples = Vec::new();
        let mut start = None;
        // One page in practice; more only if samples were written far more
        // often than once a minute.
        loop {
            let (page, next) = self.sample_page(day, false, None, start).await?;
            samples.extend(page);
            match next {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(samples),
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(day), err(level = "debug"))]
    async fn latest_sample(&self, day: i64) -> Result<Option<Sample>> {
        match self.newest_on(day).await? {
            Some(sample) => Ok(Some(sample)),
            None => self.newest_on(day.saturating_sub(1)).await,
        }
    }
}

/// A sample from its item.
fn sample_from(item: &Item) -> Result<Sample> {
    let corrupt = super::item::corrupt;
    Ok(Sample {
        at_ms: get_n(item, "at_ms")?,
        status: Status::parse(&get_s(item, "status")?).ok_or_else(|| corrupt("status"))?,
        failing: get_list(item, "failing")?,
    })
}

#[cfg(test)]
mod tests {
    use super::sort_key;
    use crate::store::health::day_of;
    use crate::store::keys::health_day;

    #[test]
    fn each_utc_day_has_its_partition() {
        assert_eq!(health_day(day_of(1_795_953_603_250)), "probe#2026-11-29");
        assert_eq!(health_day(day_of(1_795_996_799_999)), "probe#2026-11-29");
        assert_eq!(health_day(day_of(1_795_996_800_000)), "probe#2026-11-30");
        assert_eq!(health_day(day_of(-1)), "probe#1969-12-31");
    }

    #[test]
    fn sort_keys_are_fixed_width_rfc3339_in_time_order() {
        assert_eq!(sort_key(1_795_953_603_250), "2026-11-29T12:00:03.250Z");
        assert_eq!(sort_key(0), "1970-01-01T00:00:00.000Z");
        assert!(sort_key(59_999) < sort_key(60_000));
        assert_eq!(sort_key(i64::MIN), "0000-01-01T00:00:00.000Z");
        assert_eq!(sort_key(i64::MAX), "9999-12-31T23:59:59.999Z");
    }
}
