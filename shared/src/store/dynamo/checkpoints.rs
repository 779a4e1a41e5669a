//! The audit ledger's checkpoints in DynamoDB: the Checkpoints table, one
//! partition (`log = "audit"`: one item a minute is far below a
//! partition's limits), sorted by `entry`.
//!
//! A checkpoint is one note item and its leaves in pages, all written in
//! one transaction, each on condition that it does not exist yet:
//!
//! - `2026-12-07T09:12Z note`: the minute (number), the signed note, the
//!   number of pages;
//! - `2026-12-07T09:12Z leaves 0001`, …: up to [`PAGE_IDS`] event ids each,
//!   one per line, in leaf order, and those of them that are late.
//!
//! A page sorts before its note (`leaves` < `note`), and the note is the
//! minute's last entry, so the newest checkpoint is the partition's last
//! item, and a range of minutes is one consistent Query. Leaves are paged
//! because one item holds at most 400 KB: 10,000 ids are 270 KB. One
//! transaction holds at most 4 MB, so a minute holds at most
//! [`MAX_PAGES`] pages: 140,000 events.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::{Item, get_n, get_opt_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, Expr};
use crate::audit::checkpoint::minute_text;
use crate::store::{CheckpointRecord, CheckpointStore};
use crate::{Error, Result};

/// The partition of the audit log's checkpoints.
const LOG: &str = "audit";

/// The most event ids in one page.
pub const PAGE_IDS: usize = 10_000;

/// The most pages of one checkpoint (a transaction's 4 MB).
pub const MAX_PAGES: usize = 14;

/// The sort key of `minute`'s note.
fn note_entry(minute: i64) -> String {
    format!("{} note", minute_text(minute))
}

/// The sort key of `minute`'s page `page` (from 1).
fn page_entry(minute: i64, page: usize) -> String {
    format!("{} leaves {page:04}", minute_text(minute))
}

impl DynamoStore {
    /// The items of `record`: its pages, then its note.
    fn checkpoint_items(&self, record: CheckpointRecord) -> Result<Vec<TransactWriteItem>> {
        let pages: Vec<&[String]> = record.leaves.chunks(PAGE_IDS).collect();
        if pages.len() > MAX_PAGES {
            return Err(Error::internal(format!(
                "the checkpoint of {} has {} events, more than the {} one checkpoint holds",
                minute_text(record.minute),
                record.leaves.len(),
                PAGE_IDS * MAX_PAGES
            )));
        }
        let late: std::collections::HashSet<&str> =
            record.late.iter().map(String::as_str).collect();
        let table = &self.tables.checkpoints;
        let mut items = Vec::with_capacity(pages.len() + 1);
        for (i, ids) in pages.iter().enumerate() {
            let mut item = Item::from([
                ("log".into(), s(LOG)),
                ("entry".into(), s(page_entry(record.minute, i + 1))),
                ("ids".into(), s(ids.join("\n"))),
                ("expires_at".into(), n(record.expires_at)),
            ]);
            let late_here: Vec<&str> = ids
                .iter()
                .map(String::as_str)
                .filter(|id| late.contains(id))
                .collect();
            if !late_here.is_empty() {
                item.insert("late".into(), s(late_here.join("\n")));
            }
            items.push(Expr::default().name("#e", "entry").put(
                table,
                item,
                "attribute_not_exists(#e)",
            )?);
        }
        let note = Item::from([
            ("log".into(), s(LOG)),
            ("entry".into(), s(note_entry(record.minute))),
            ("minute".into(), n(record.minute)),
            ("note".into(), s(record.note)),
            ("pages".into(), n(pages.len())),
            ("expires_at".into(), n(record.expires_at)),
        ]);
        items.push(Expr::default().name("#e", "entry").put(
            table,
            note,
            "attribute_not_exists(#e)",
        )?);
        Ok(items)
    }

    /// Every entry from `from` to `to` (sort keys, inclusive), in order,
    /// strongly consistent; `newest_first` with `limit` reads the newest.
    async fn entries(
        &self,
        from: &str,
        to: &str,
        newest_first: bool,
        limit: Option<i32>,
    ) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.checkpoints)
                .key_condition_expression("#l = :l AND #e BETWEEN :from AND :to")
                .expression_attribute_names("#l", "log")
                .expression_attribute_names("#e", "entry")
                .expression_attribute_values(":l", s(LOG))
                .expression_attribute_values(":from", s(from))
                .expression_attribute_values(":to", s(to))
                .consistent_read(true)
                .scan_index_forward(!newest_first)
                .set_limit(limit)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| super::unavailable("Query checkpoints", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() && limit.is_none() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }
}

/// The checkpoints among `items` (pages, each minute's before its note).
fn records(items: Vec<Item>) -> Result<Vec<CheckpointRecord>> {
    let mut records = Vec::new();
    let mut leaves = Vec::new();
    let mut late = Vec::new();
    let mut pages = 0_usize;
    for item in items {
        match get_opt_s(&item, "ids") {
            Some(ids) => {
                pages += 1;
                leaves.extend(ids.split('\n').filter(|i| !i.is_empty()).map(str::to_owned));
                if let Some(l) = get_opt_s(&item, "late") {
                    late.extend(l.split('\n').map(str::to_owned));
                }
            }
            None => {
                let minute: i64 = get_n(&item, "minute")?;
                let expected: usize = get_n(&item, "pages")?;
                if expected != pages {
                    // A page deleted or added by hand: the leaves cannot be
                    // trusted, and verification must say so, not guess.
                    return Err(Error::internal(format!(
                        "the checkpoint of {} names {expected} pages of leaves and {pages} are stored",
                        minute_text(minute)
                    )));
                }
                records.push(CheckpointRecord {
                    minute,
                    note: get_s(&item, "note")?,
                    leaves: std::mem::take(&mut leaves),
                    late: std::mem::take(&mut late),
                    expires_at: get_opt_n(&item, "expires_at")?.unwrap_or(0),
                });
                pages = 0;
            }
        }
    }
    Ok(records)
}

#[async_trait]
impl CheckpointStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn latest_checkpoint(&self) -> Result<Option<CheckpointRecord>> {
        // The partition's last item is the newest minute's note.
        let newest = self.entries("0", "~", true, Some(1)).await?;
        let Some(note) = newest.first() else {
            return Ok(None);
        };
        let minute: i64 = get_n(note, "minute")?;
        Ok(self.checkpoints(minute, minute).await?.pop())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(from, to), err(level = "debug"))]
    async fn checkpoints(&self, from: i64, to: i64) -> Result<Vec<CheckpointRecord>> {
        if from > to {
            return Ok(Vec::new());
        }
        let items = self
            .entries(&minute_text(from), &note_entry(to), false, None)
            .await?;
        records(items)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(minute = record.minute), err(level = "debug"))]
    async fn put_checkpoint(&self, record: CheckpointRecord) -> Result<()> {
        let items = self.checkpoint_items(record)?;
        self.send_transaction(items).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_sort_before_their_note_and_minutes_in_order() {
        let m = 29_943_850; // 2026-12-07T08:10Z
        assert_eq!(note_entry(m), "2026-12-07T08:10Z note");
        assert_eq!(page_entry(m, 1), "2026-12-07T08:10Z leaves 0001");
        assert!(page_entry(m, 1) < page_entry(m, 14));
        assert!(page_entry(m, 14) < note_entry(m));
        assert!(note_entry(m) < page_entry(m + 1, 1));
        assert!(minute_text(m) < page_entry(m, 1));
    }
}
