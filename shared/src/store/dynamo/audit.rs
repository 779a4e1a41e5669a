//! The audit log in DynamoDB: the AuditLog table, sharded by day, with an
//! index on the actor.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::{Item, get_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, Expr, tables, unavailable};
use crate::Result;
use crate::audit::{AuditEvent, EventType, Origin, Severity};
use crate::store::{AuditQuery, AuditStore, LedgerEvent, keys};

/// Partitions of the AuditLog read at once by one query: 16 is one day's
/// shards, and keeps a week's 128 queries from opening 128 connections.
const PARTITIONS_AT_ONCE: usize = 16;

/// The ULID bounds of a time window: the smallest id of its first
/// millisecond and the largest of its last, so that `event_id BETWEEN`
/// selects exactly the events whose `at_millis` is in it (an event's id is
/// a ULID of its `at_millis`).
fn id_bounds(since_millis: i64, until_millis: i64) -> (String, String) {
    let ms = |t: i64| u64::try_from(t).unwrap_or(0);
    (
        ulid::Ulid::from_parts(ms(since_millis), 0).to_string(),
        ulid::Ulid::from_parts(ms(until_millis), u128::MAX).to_string(),
    )
}

/// The ULID bounds of the events `query` can return, both inclusive: its
/// window's ([`id_bounds`]), the upper one narrowed to the id just below
/// `before` when given. `None` when no id lies between them (DynamoDB
/// refuses a `BETWEEN` whose bounds are the wrong way round).
fn query_bounds(query: &AuditQuery) -> Result<Option<(String, String)>> {
    let (from, mut to) = id_bounds(query.since_millis, query.until_millis);
    if let Some(before) = &query.before {
        let id = ulid::Ulid::from_string(before)
            .ok()
            .filter(|id| id.to_string() == *before)
            .ok_or_else(|| crate::Error::BadRequest("before is not an event id".into()))?;
        // Nothing sorts below the smallest id.
        let Some(below) = id.0.checked_sub(1) else {
            return Ok(None);
        };
        to = to.min(ulid::Ulid(below).to_string());
    }
    Ok((from <= to).then_some((from, to)))
}

/// The AuditLog partitions that can hold events of the window: every
/// shard of every UTC day from the first to the last.
fn buckets(since_millis: i64, until_millis: i64) -> Vec<String> {
    let day = |t: i64| t.div_euclid(86_400_000);
    (day(since_millis)..=day(until_millis))
        .flat_map(keys::audit_day_buckets)
        .collect()
}

impl DynamoStore {
    pub(super) fn audit_item(&self, event: &AuditEvent) -> Result<TransactWriteItem> {
        Expr::default().name("#e", "event_id").put(
            &self.tables.audit_log,
            audit_item(event)?,
            "attribute_not_exists(#e)",
        )
    }
}

#[async_trait]
impl AuditStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(actor = %actor), err(level = "debug"))]
    async fn audit_by_actor(&self, actor: &str, limit: usize) -> Result<Vec<AuditEvent>> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.audit_log)
            .index_name(tables::AUDIT_ACTOR_INDEX)
            .key_condition_expression("#a = :a")
            .expression_attribute_names("#a", "actor")
            .expression_attribute_values(":a", s(actor))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| unavailable("Query audit log", e))?;
        out.items().iter().map(audit_from).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        if query.limit == 0 || query.since_millis > query.until_millis {
            return Ok(Vec::new());
        }
        let Some(bounds) = query_bounds(query)? else {
            return Ok(Vec::new());
        };
        let mut events = match &query.actor {
            Some(actor) => {
                self.audit_partition(query, &bounds, PartitionKey::Actor(actor.clone()))
                    .await?
            }
            None => {
                // Each day's shards, a bounded number at once; each gives its
                // newest matches, and the merge below keeps the newest overall.
                // A next page reads only the days up to its `before`: the
                // upper bound's time.
                let until = ulid::Ulid::from_string(&bounds.1)
                    .ok()
                    .and_then(|to| i64::try_from(to.timestamp_ms()).ok())
                    .map_or(query.until_millis, |to| to.min(query.until_millis));
                let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(PARTITIONS_AT_ONCE));
                let mut tasks = tokio::task::JoinSet::new();
                for bucket in buckets(query.since_millis, until) {
                    let (store, query, bounds, gate) =
                        (self.clone(), query.clone(), bounds.clone(), gate.clone());
                    tasks.spawn(async move {
                        let _permit = gate.acquire_owned().await;
                        store
                            .audit_partition(&query, &bounds, PartitionKey::Bucket(bucket))
                            .await
                    });
                }
                let mut all = Vec::new();
                while let Some(done) = tasks.join_next().await {
                    let found = done.map_err(|e| {
                        crate::Error::internal_from("an audit log query task failed", e)
                    })??;
                    all.extend(found);
                }
                all
            }
        };
        events.sort_by(|a, b| b.event_id.cmp(&a.event_id));
        events.truncate(query.limit);
        Ok(events)
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn ledger_events(
        &self,
        since_millis: i64,
        until_millis: i64,
    ) -> Result<Vec<LedgerEvent>> {
        if since_millis > until_millis {
            return Ok(Vec::new());
        }
        let (from, to) = id_bounds(since_millis, until_millis);
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(PARTITIONS_AT_ONCE));
        let mut tasks = tokio::task::JoinSet::new();
        for bucket in buckets(since_millis, until_millis) {
            let (store, from, to, gate) = (self.clone(), from.clone(), to.clone(), gate.clone());
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                store.ledger_partition(bucket, &from, &to).await
            });
        }
        let mut all = Vec::new();
        while let Some(done) = tasks.join_next().await {
            all.extend(
                done.map_err(|e| {
                    crate::Error::internal_from("an audit log query task failed", e)
                })??,
            );
        }
        all.sort_by(|a, b| a.event.event_id.cmp(&b.event.event_id));
        Ok(all)
    }
}

impl DynamoStore {
    /// Every event of one day's shard `bucket` whose id is within
    /// `from..=to`, oldest first, strongly consistent.
    async fn ledger_partition(
        &self,
        bucket: String,
        from: &str,
        to: &str,
    ) -> Result<Vec<LedgerEvent>> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.audit_log)
            .key_condition_expression("#p = :p AND #e BETWEEN :from AND :to")
            .expression_attribute_names("#p", "bucket")
            .expression_attribute_names("#e", "event_id")
            .expression_attribute_values(":p", s(&bucket))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut events = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("Query audit log", e))?;
            for item in page.items() {
                let event = audit_from(item)?;
                let misplaced_in = (event.bucket() != bucket).then(|| bucket.clone());
                events.push(LedgerEvent {
                    event,
                    misplaced_in,
                });
            }
        }
        Ok(events)
    }
}

/// One AuditLog partition: an actor in the actor index, or a day's shard.
enum PartitionKey {
    Actor(String),
    Bucket(String),
}

impl DynamoStore {
    /// The newest events of one partition that match `query` (at most
    /// `query.limit`), newest first, their ids within `bounds`
    /// ([`query_bounds`]). The type is a filter: DynamoDB applies it after
    /// reading a page, so pages are read until enough matched.
    async fn audit_partition(
        &self,
        query: &AuditQuery,
        (from, to): &(String, String),
        partition: PartitionKey,
    ) -> Result<Vec<AuditEvent>> {
        let mut request = self
            .client
            .query()
            .table_name(&self.tables.audit_log)
            .key_condition_expression("#p = :p AND #e BETWEEN :from AND :to")
            .expression_attribute_names("#e", "event_id")
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .scan_index_forward(false)
            .limit(i32::try_from(query.limit.min(1000)).unwrap_or(1000));
        request = match partition {
            PartitionKey::Actor(actor) => request
                .index_name(tables::AUDIT_ACTOR_INDEX)
                .expression_attribute_names("#p", "actor")
                .expression_attribute_values(":p", s(actor)),
            // The table itself can be read consistently (an index cannot):
            // an operator sees an event written a moment ago.
            PartitionKey::Bucket(bucket) => request
                .consistent_read(true)
                .expression_attribute_names("#p", "bucket")
                .expression_attribute_values(":p", s(bucket)),
        };
        if let Some(t) = query.event_type {
            request = request
                .filter_expression("#t = :t")
                .expression_attribute_names("#t", "event_type")
                .expression_attribute_values(":t", s(t.as_str()));
        }
        let mut events = Vec::new();
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("Query audit log", e))?;
            for item in page.items() {
                events.push(audit_from(item)?);
            }
            if events.len() >= query.limit {
                break;
            }
        }
        events.truncate(query.limit);
        Ok(events)
    }
}

/// The item of an audit event. The origin is kept as JSON, and its request
/// id also on its own, so that a log line and its audit record can be
/// matched with one filter.
fn audit_item(e: &AuditEvent) -> Result<Item> {
    let origin = serde_json::to_string(&e.origin)
        .map_err(|err| crate::Error::internal_from("serialising an audit origin", err))?;
    let mut item = Item::from([
        ("bucket".into(), s(e.bucket())),
        ("event_id".into(), s(&e.event_id)),
        ("at_millis".into(), n(e.at_millis)),
        ("event_type".into(), s(e.event_type.as_str())),
        ("severity".into(), s(e.severity.as_str())),
        ("actor".into(), s(&e.actor)),
        ("origin".into(), s(origin)),
        (
            "details".into(),
            s(serde_json::Value::Object(e.details.clone()).to_string()),
        ),
        ("expires_at".into(), n(e.expires_at)),
    ]);
    if let Some(trace) = e.origin.trace_id() {
        item.insert("request_id".into(), s(trace));
    }
    if let Some(subject) = &e.subject {
        item.insert("subject".into(), s(subject));
    }
    if let Some(mac) = &e.mac {
        item.insert("mac".into(), s(mac));
    }
    Ok(item)
}

/// An audit event from its item.
fn audit_from(item: &Item) -> Result<AuditEvent> {
    let corrupt = super::item::corrupt;
    let details = match serde_json::from_str(&get_s(item, "details")?) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => return Err(corrupt("details")),
    };
    let origin: Origin =
        serde_json::from_str(&get_s(item, "origin")?).map_err(|_| corrupt("origin"))?;
    Ok(AuditEvent {
        event_id: get_s(item, "event_id")?,
        at_millis: get_n(item, "at_millis")?,
        event_type: EventType::parse(&get_s(item, "event_type")?)
            .ok_or_else(|| corrupt("event_type"))?,
        severity: Severity::parse(&get_s(item, "severity")?).ok_or_else(|| corrupt("severity"))?,
        actor: get_s(item, "actor")?,
        subject: get_opt_s(item, "subject"),
        origin,
        details,
        expires_at: get_n(item, "expires_at")?,
        mac: get_opt_s(item, "mac"),
    })
}

#[cfg(feature = "testing")]
impl DynamoStore {
    /// Writes `events` as they are (sealed, or not, by the caller), 25 to a
    /// `BatchWriteItem`, without conditions: a benchmark's bulk load. The
    /// emulator copies a whole table for every transaction, so loading
    /// thousands of events through [`crate::store::Transactions::transact`]
    /// slows to seconds a write. Test support only: no function writes the
    /// audit log outside a transaction.
    pub async fn load_audit_events(&self, events: &[AuditEvent]) -> Result<()> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in events.chunks(25) {
            let mut requests = Vec::with_capacity(chunk.len());
            for event in chunk {
                let put = PutRequest::builder()
                    .set_item(Some(audit_item(event)?))
                    .build()
                    .map_err(|e| crate::Error::internal_from("building a PutRequest", e))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            let mut pending =
                std::collections::HashMap::from([(self.tables.audit_log.clone(), requests)]);
            while !pending.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchWriteItem audit log", e))?;
                pending = out.unprocessed_items.unwrap_or_default();
                pending.retain(|_, v| !v.is_empty());
            }
        }
        Ok(())
    }
}
