//! The audit log in DynamoDB: the AuditLog table, sharded by day, with an
//! index on the actor.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::{Item, get_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, Expr, tables, unavailable};
use crate::Result;
use crate::audit::{AuditEvent, EventType, Origin, Severity};
use crate::store::AuditStore;

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
    })
}
