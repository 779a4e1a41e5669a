//! The health probe's samples in DynamoDB: the HealthSamples table, one
//! partition (`check = "probe"`) sorted by time.
//!
//! The sort key `at` is the sample's time as RFC 3339 with milliseconds
//! (fixed width, so text order is time order, and readable in the
//! console); `at_ms` keeps the number for reading back.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::{get_list, get_n, get_s, list, n, s, Item};
use super::{unavailable, DynamoStore, Expr};
use crate::health::{Sample, Status};
use crate::store::health::{HealthSampleStore, HealthWrite, PROBE_PARTITION};
use crate::Result;

/// `at_ms` as the sort key: `2026-11-24T12:00:03.250Z`. Times outside
/// years 0 to 9999 (never a probe's) clamp to the ends of that range.
fn sort_key(at_ms: i64) -> String {
    const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    const MIN_MS: i64 = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
    let at_ms = at_ms.clamp(MIN_MS, MAX_MS);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

impl DynamoStore {
    pub(super) fn health_items(&self, write: HealthWrite) -> Result<TransactWriteItem> {
        match write {
            HealthWrite::Sample { sample, expires_at } => {
                let mut item = Item::from([
                    ("check".into(), s(PROBE_PARTITION)),
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

    /// One page of the probe partition, from `start` on.
    async fn sample_page(
        &self,
        since_ms: i64,
        newest_first: bool,
        limit: Option<i32>,
        start: Option<Item>,
    ) -> Result<(Vec<Sample>, Option<Item>)> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.health_samples)
            .key_condition_expression("#c = :c AND #at >= :since")
            .expression_attribute_names("#c", "check")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":c", s(PROBE_PARTITION))
            .expression_attribute_values(":since", s(sort_key(since_ms)))
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
}

#[async_trait]
impl HealthSampleStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(since_ms), err(level = "debug"))]
    async fn samples_since(&self, since_ms: i64) -> Result<Vec<Sample>> {
        let mut samples = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self.sample_page(since_ms, false, None, start).await?;
            samples.extend(page);
            match next {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(samples),
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn latest_sample(&self) -> Result<Option<Sample>> {
        let (page, _) = self.sample_page(i64::MIN, true, Some(1), None).await?;
        Ok(page.into_iter().next())
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

    #[test]
    fn sort_keys_are_fixed_width_rfc3339_in_time_order() {
        assert_eq!(sort_key(1_795_953_603_250), "2026-11-29T12:00:03.250Z");
        assert_eq!(sort_key(0), "1970-01-01T00:00:00.000Z");
        assert!(sort_key(59_999) < sort_key(60_000));
        assert_eq!(sort_key(i64::MIN), "0000-01-01T00:00:00.000Z");
        assert_eq!(sort_key(i64::MAX), "9999-12-31T23:59:59.999Z");
    }
}
