//! Conversions between domain records and DynamoDB items. Items are
//! converted only here, and a malformed item is an error, never a panic.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::audit::{AuditEvent, EventType, Severity};
use crate::auth::Role;
use crate::store::{SessionRecord, UserRecord};
use crate::{Error, Result};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A list of strings, order kept (string sets cannot be empty or ordered).
pub fn list<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> AttributeValue {
    AttributeValue::L(
        values
            .into_iter()
            .map(|v| AttributeValue::S(v.into()))
            .collect(),
    )
}

fn corrupt(name: &str) -> Error {
    Error::internal(format!(
        "stored item has a missing or malformed attribute {name:?}"
    ))
}

/// A required string attribute.
pub fn get_s(item: &Item, name: &str) -> Result<String> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| corrupt(name))
}

/// An optional string attribute.
pub fn get_opt_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// A required number attribute.
pub fn get_n<T: FromStr>(item: &Item, name: &str) -> Result<T> {
    get_opt_n(item, name)?.ok_or_else(|| corrupt(name))
}

/// An optional number attribute; present but malformed is an error.
pub fn get_opt_n<T: FromStr>(item: &Item, name: &str) -> Result<Option<T>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(v) => v
            .as_n()
            .ok()
            .and_then(|n| n.parse().ok())
            .map(Some)
            .ok_or_else(|| corrupt(name)),
    }
}

/// A list of strings (missing means empty).
pub fn get_list(item: &Item, name: &str) -> Result<Vec<String>> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| corrupt(name)))
            .collect(),
        Some(_) => Err(corrupt(name)),
    }
}

fn roles_attr(roles: &[Role]) -> AttributeValue {
    list(roles.iter().map(|r| r.as_str()))
}

fn get_roles(item: &Item) -> Result<Vec<Role>> {
    get_list(item, "roles")?
        .iter()
        .map(|r| Role::parse(r).map_err(|_| corrupt("roles")))
        .collect()
}

/// The item of a user.
pub fn user_item(u: &UserRecord) -> Item {
    let mut item = Item::from([
        ("username".into(), s(&u.username)),
        ("user_id".into(), s(&u.user_id)),
        ("password_hash".into(), s(&u.password_hash)),
        ("roles".into(), roles_attr(&u.roles)),
        ("disabled".into(), AttributeValue::Bool(u.disabled)),
        ("failed_logins".into(), n(u.failed_logins)),
        ("generation".into(), n(u.generation)),
        ("created_at".into(), n(u.created_at)),
    ]);
    if let Some(at) = u.last_failed_at {
        item.insert("last_failed_at".into(), n(at));
    }
    item
}

/// A user from its item.
pub fn user_from(item: &Item) -> Result<UserRecord> {
    Ok(UserRecord {
        username: get_s(item, "username")?,
        user_id: get_s(item, "user_id")?,
        password_hash: get_s(item, "password_hash")?,
        roles: get_roles(item)?,
        disabled: item
            .get("disabled")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        failed_logins: get_opt_n(item, "failed_logins")?.unwrap_or(0),
        last_failed_at: get_opt_n(item, "last_failed_at")?,
        generation: get_opt_n(item, "generation")?.unwrap_or(0),
        created_at: get_opt_n(item, "created_at")?.unwrap_or(0),
    })
}

/// The item of a session.
pub fn session_item(x: &SessionRecord) -> Item {
    Item::from([
        ("user_id".into(), s(&x.user_id)),
        ("session_id".into(), s(&x.session_id)),
        ("refresh_hash".into(), s(&x.refresh_hash)),
        (
            "used_refresh_hashes".into(),
            list(x.used_refresh_hashes.iter().cloned()),
        ),
        ("current_jti".into(), s(&x.current_jti)),
        ("generation".into(), n(x.generation)),
        ("roles".into(), roles_attr(&x.roles)),
        ("ip".into(), s(&x.ip)),
        ("user_agent".into(), s(&x.user_agent)),
        ("created_at".into(), n(x.created_at)),
        ("last_used_at".into(), n(x.last_used_at)),
        ("expires_at".into(), n(x.expires_at)),
    ])
}

/// A session from its item.
pub fn session_from(item: &Item) -> Result<SessionRecord> {
    Ok(SessionRecord {
        user_id: get_s(item, "user_id")?,
        session_id: get_s(item, "session_id")?,
        refresh_hash: get_s(item, "refresh_hash")?,
        used_refresh_hashes: get_list(item, "used_refresh_hashes")?,
        current_jti: get_s(item, "current_jti")?,
        generation: get_n(item, "generation")?,
        roles: get_roles(item)?,
        ip: get_opt_s(item, "ip").unwrap_or_default(),
        user_agent: get_opt_s(item, "user_agent").unwrap_or_default(),
        created_at: get_n(item, "created_at")?,
        last_used_at: get_n(item, "last_used_at")?,
        expires_at: get_n(item, "expires_at")?,
    })
}

/// The item of an audit event.
pub fn audit_item(e: &AuditEvent) -> Item {
    let mut item = Item::from([
        ("bucket".into(), s(e.bucket())),
        ("event_id".into(), s(&e.event_id)),
        ("at_millis".into(), n(e.at_millis)),
        ("event_type".into(), s(e.event_type.as_str())),
        ("severity".into(), s(e.severity.as_str())),
        ("actor".into(), s(&e.actor)),
        ("ip".into(), s(&e.ip)),
        ("user_agent".into(), s(&e.user_agent)),
        ("request_id".into(), s(&e.request_id)),
        (
            "details".into(),
            s(serde_json::Value::Object(e.details.clone()).to_string()),
        ),
        ("expires_at".into(), n(e.expires_at)),
    ]);
    if let Some(subject) = &e.subject {
        item.insert("subject".into(), s(subject));
    }
    item
}

/// An audit event from its item.
pub fn audit_from(item: &Item) -> Result<AuditEvent> {
    let details = match serde_json::from_str(&get_s(item, "details")?) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => return Err(corrupt("details")),
    };
    Ok(AuditEvent {
        event_id: get_s(item, "event_id")?,
        at_millis: get_n(item, "at_millis")?,
        event_type: EventType::parse(&get_s(item, "event_type")?)
            .ok_or_else(|| corrupt("event_type"))?,
        severity: Severity::parse(&get_s(item, "severity")?).ok_or_else(|| corrupt("severity"))?,
        actor: get_s(item, "actor")?,
        subject: get_opt_s(item, "subject"),
        ip: get_opt_s(item, "ip").unwrap_or_default(),
        user_agent: get_opt_s(item, "user_agent").unwrap_or_default(),
        request_id: get_opt_s(item, "request_id").unwrap_or_default(),
        details,
        expires_at: get_n(item, "expires_at")?,
    })
}
