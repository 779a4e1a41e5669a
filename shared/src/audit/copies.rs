//! The write-once copies of the checkpoints: each checkpoint's hash
//! ([`crate::audit::checkpoint::note_hash`]) kept where the audit log's and
//! the Checkpoints table's writers cannot change or delete it, so that
//! truncating the table (the newest checkpoints and their events together)
//! is detected.
//!
//! Deployed, that is an S3 bucket with Object Lock in compliance mode
//! ([`S3Copies`], with the `s3` feature): one object per checkpoint, named
//! `checkpoints/<minute>/<hash in hex>`, which nobody (the account root
//! included) can delete or overwrite before its retention ends. `warden
//! serve` stands in with an append-only file in its data directory
//! ([`FileCopies`]).
//!
//! The checkpointer writes a copy after its checkpoint is stored, and at
//! the start of each run copies the newest checkpoint again (a copy is
//! idempotent), so a copy lost to a failure between the two writes is
//! repaired by the next run. Verification therefore accepts the newest
//! checkpoint without a copy, and no other.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::audit::checkpoint::{minute_from_text, minute_text};
use crate::audit::merkle::Hash;
use crate::{Error, Result};

/// Where the checkpoints' hashes are written once.
#[async_trait]
pub trait CheckpointCopies: Send + Sync {
    /// Records that the checkpoint of `minute` hashes to `hash`; recording
    /// the same pair again changes nothing.
    async fn record(&self, minute: i64, hash: &Hash) -> Result<()>;

    /// The hashes recorded for the minutes `from..=to`, by minute (a
    /// minute may have more than one only if its checkpoint was replaced).
    async fn recorded(&self, from: i64, to: i64) -> Result<BTreeMap<i64, Vec<Hash>>>;
}

/// Adds `(minute, hash)` to `map` once.
fn insert(map: &mut BTreeMap<i64, Vec<Hash>>, minute: i64, hash: Hash) {
    let hashes = map.entry(minute).or_default();
    if !hashes.contains(&hash) {
        hashes.push(hash);
    }
}

/// In memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryCopies(Mutex<BTreeMap<i64, Vec<Hash>>>);

impl MemoryCopies {
    /// No copies yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Vec<Hash>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl CheckpointCopies for MemoryCopies {
    async fn record(&self, minute: i64, hash: &Hash) -> Result<()> {
        insert(&mut self.lock(), minute, *hash);
        Ok(())
    }

    async fn recorded(&self, from: i64, to: i64) -> Result<BTreeMap<i64, Vec<Hash>>> {
        if from > to {
            return Ok(BTreeMap::new());
        }
        Ok(self
            .lock()
            .range(from..=to)
            .map(|(m, h)| (*m, h.clone()))
            .collect())
    }
}

/// An append-only file of lines `<minute> <hash in hex>`: `warden serve`'s
/// stand-in for the Object Lock bucket (`checkpoints.log` in its data
/// directory). It is opened for appending only; nothing in Warden rewrites
/// it.
#[derive(Debug)]
pub struct FileCopies {
    path: PathBuf,
    /// Serialises appends within the process.
    append: Mutex<()>,
}

impl FileCopies {
    /// The copies in the file at `path` (created on the first record).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            append: Mutex::new(()),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

#[async_trait]
impl CheckpointCopies for FileCopies {
    async fn record(&self, minute: i64, hash: &Hash) -> Result<()> {
        let line = format!("{} {}\n", minute_text(minute), hex::encode(hash));
        let _one = self
            .append
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| file_error(&self.path, "opening", e))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| file_error(&self.path, "appending to", e))
    }

    async fn recorded(&self, from: i64, to: i64) -> Result<BTreeMap<i64, Vec<Hash>>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(file_error(&self.path, "reading", e)),
        };
        let mut map = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let parsed = line.split_once(' ').and_then(|(minute, hash)| {
                let minute = minute_from_text(minute)?;
                let hash: Hash = hex::decode(hash).ok()?.try_into().ok()?;
                Some((minute, hash))
            });
            let Some((minute, hash)) = parsed else {
                return Err(Error::internal(format!(
                    "{} line {}: not `<minute> <hash>`: the file was changed",
                    self.path.display(),
                    n + 1
                )));
            };
            if (from..=to).contains(&minute) {
                insert(&mut map, minute, hash);
            }
        }
        Ok(map)
    }
}

fn file_error(path: &std::path::Path, doing: &str, e: std::io::Error) -> Error {
    Error::unavailable(format!("{doing} {}: {e}", path.display()))
}

/// The Object Lock bucket.
#[cfg(feature = "s3")]
#[derive(Debug, Clone)]
pub struct S3Copies {
    client: aws_sdk_s3::Client,
    bucket: String,
}

/// The prefix of every copy's key.
#[cfg(feature = "s3")]
const PREFIX: &str = "checkpoints/";

#[cfg(feature = "s3")]
impl S3Copies {
    /// The copies in `bucket` (its default retention, compliance mode, is
    /// set on the bucket: `template.yaml`'s CheckpointCopiesBucket).
    pub fn new(client: aws_sdk_s3::Client, bucket: &str) -> Self {
        Self {
            client,
            bucket: bucket.to_owned(),
        }
    }

    /// The key of one copy.
    fn key(minute: i64, hash: &Hash) -> String {
        format!("{PREFIX}{}/{}", minute_text(minute), hex::encode(hash))
    }
}

#[cfg(feature = "s3")]
#[async_trait]
impl CheckpointCopies for S3Copies {
    async fn record(&self, minute: i64, hash: &Hash) -> Result<()> {
        // Object Lock asks each PutObject for an integrity checksum.
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::key(minute, hash))
            .body(aws_sdk_s3::primitives::ByteStream::from(
                hex::encode(hash).into_bytes(),
            ))
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .content_type("text/plain")
            .send()
            .await
            .map_err(|e| {
                Error::unavailable(crate::aws::sdk_failure(
                    "S3 PutObject (checkpoint copy)",
                    &e,
                ))
            })?;
        Ok(())
    }

    async fn recorded(&self, from: i64, to: i64) -> Result<BTreeMap<i64, Vec<Hash>>> {
        let mut map = BTreeMap::new();
        if from > to {
            return Ok(map);
        }
        // Keys sort by minute: start just before `from`'s and stop after
        // `to`'s.
        let last = format!("{PREFIX}{}/~", minute_text(to));
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(PREFIX)
            .start_after(format!("{PREFIX}{}", minute_text(from)))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                Error::unavailable(crate::aws::sdk_failure(
                    "S3 ListObjectsV2 (checkpoint copies)",
                    &e,
                ))
            })?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if key > last.as_str() {
                    return Ok(map);
                }
                let parsed = key
                    .strip_prefix(PREFIX)
                    .and_then(|rest| rest.split_once('/'))
                    .and_then(|(minute, hash)| {
                        let hash: Hash = hex::decode(hash).ok()?.try_into().ok()?;
                        Some((minute_from_text(minute)?, hash))
                    });
                match parsed {
                    Some((minute, hash)) if (from..=to).contains(&minute) => {
                        insert(&mut map, minute, hash);
                    }
                    Some(_) => {}
                    None => {
                        return Err(Error::internal(format!(
                            "the checkpoint copies hold an object {key:?} Warden did not write"
                        )));
                    }
                }
            }
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_appends_each_record_and_reads_a_range_back() {
        let dir = std::env::temp_dir().join(format!("warden-copies-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let copies = FileCopies::new(dir.join("checkpoints.log"));
        assert!(copies.recorded(0, i64::MAX).await.unwrap().is_empty());
        let m = 29_943_850;
        copies.record(m, &[1; 32]).await.unwrap();
        copies.record(m, &[1; 32]).await.unwrap();
        copies.record(m + 1, &[2; 32]).await.unwrap();
        copies.record(m + 2, &[3; 32]).await.unwrap();
        let got = copies.recorded(m + 1, m + 2).await.unwrap();
        assert_eq!(
            got,
            BTreeMap::from([(m + 1, vec![[2; 32]]), (m + 2, vec![[3; 32]])])
        );
        assert_eq!(copies.recorded(m, m).await.unwrap()[&m], vec![[1; 32]]);
        let text = std::fs::read_to_string(copies.path()).unwrap();
        assert_eq!(text.lines().count(), 4, "appended, never rewritten");
        assert!(text.starts_with("2026-12-07T08:10Z 0101"));

        // A line changed by hand is an error, not skipped.
        std::fs::write(copies.path(), "2026-12-07T08:10Z zz\n").unwrap();
        assert!(copies.recorded(0, i64::MAX).await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
