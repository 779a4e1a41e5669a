//! The DynamoDB adapter of every storage port, through the AWS SDK.
//!
//! Reads that decide security (users, sessions, the denylist) are strongly
//! consistent. [`Write`] lists become one `TransactWriteItems`; attribute
//! names in expressions always go through `#placeholders`, so DynamoDB's
//! long list of reserved words (`key` among them) never bites.

pub mod item;
pub mod tables;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use self::item::{
    audit_from, audit_item, get_n, get_s, n, s, session_from, session_item, user_from, user_item,
    Item,
};
use super::{
    generation_key, AuditStore, Claim, RateLimitStore, RevocationKey, RevocationState,
    SessionRecord, SessionStore, TatCondition, Transactions, UserRecord, UserStore, WebhookStore,
    Write, STALE_CLAIM_SECS,
};
use crate::audit::AuditEvent;
use crate::{Error, Result};

/// The table names under one prefix.
#[derive(Debug, Clone)]
struct TableNames {
    webhook_deliveries: String,
    users: String,
    active_tokens: String,
    revoked_tokens: String,
    audit_log: String,
    rate_limits: String,
}

/// The DynamoDB store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

fn unavailable(what: &str, err: impl std::error::Error) -> Error {
    Error::unavailable(format!("{what}: {}", DisplayErrorContext(err)))
}

fn build_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("building a DynamoDB request: {e}"))
}

/// One update, condition or put, with its `#name` and `:value` maps.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names.insert(placeholder.into(), attribute.into());
        self
    }

    fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.into(), value);
        self
    }

    fn update(
        self,
        table: &str,
        key: Item,
        update: &str,
        condition: &str,
    ) -> Result<TransactWriteItem> {
        let u = Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    fn put(self, table: &str, item: Item, condition: &str) -> Result<TransactWriteItem> {
        let p = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(p).build())
    }
}

impl DynamoStore {
    /// A store over the tables named `<prefix><table>`.
    pub fn new(client: Client, prefix: &str) -> Self {
        use tables::{
            ACTIVE_TOKENS, AUDIT_LOG, RATE_LIMITS, REVOKED_TOKENS, USERS, WEBHOOK_DELIVERIES,
        };
        Self {
            client,
            tables: TableNames {
                users: USERS.name(prefix),
                active_tokens: ACTIVE_TOKENS.name(prefix),
                revoked_tokens: REVOKED_TOKENS.name(prefix),
                audit_log: AUDIT_LOG.name(prefix),
                rate_limits: RATE_LIMITS.name(prefix),
                webhook_deliveries: WEBHOOK_DELIVERIES.name(prefix),
            },
        }
    }

    /// The SDK client, for health checks and table administration.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn revoked_key(key: String) -> Item {
        Item::from([("key".to_owned(), s(key))])
    }

    fn session_key(user_id: &str, session_id: &str) -> Item {
        Item::from([
            ("user_id".to_owned(), s(user_id)),
            ("session_id".to_owned(), s(session_id)),
        ])
    }

    /// One consistent BatchGetItem over `(table, keys)` pairs, retrying
    /// unprocessed keys (throttling) a few times before giving up. The
    /// rounds together get the client's operation timeout, like one call:
    /// each round has it too, and the request's budget
    /// ([`crate::aws::CALLS_IN_SERIES`]) counts this as one call.
    async fn batch_get(
        &self,
        request: Vec<(&str, Vec<Item>)>,
    ) -> Result<HashMap<String, Vec<Item>>> {
        let mut pending: HashMap<String, KeysAndAttributes> = HashMap::new();
        for (table, keys) in request {
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(build_err)?;
            pending.insert(table.to_owned(), ka);
        }
        let rounds = async {
            let mut found: HashMap<String, Vec<Item>> = HashMap::new();
            for attempt in 0..5_u32 {
                let out = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchGetItem", e))?;
                for (table, items) in out.responses.unwrap_or_default() {
                    found.entry(table).or_default().extend(items);
                }
                match out.unprocessed_keys {
                    Some(rest) if !rest.is_empty() => {
                        pending = rest;
                        tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                    }
                    _ => return Ok(found),
                }
            }
            Err(Error::unavailable(
                "BatchGetItem left keys unprocessed after retries",
            ))
        };
        let budget = self
            .client
            .config()
            .timeout_config()
            .and_then(|t| t.operation_timeout())
            .unwrap_or(crate::aws::Guards::default().operation_timeout);
        tokio::time::timeout(budget, rounds)
            .await
            .unwrap_or_else(|_| {
                Err(Error::unavailable(format!(
                    "BatchGetItem did not finish within {} ms",
                    budget.as_millis()
                )))
            })
    }

    /// Reads the denylist entries `keys` and the user's generation, and the
    /// `extra` item, in one BatchGetItem. An entry counts while it exists:
    /// it is written to outlive the token it blocks, and if DynamoDB has not
    /// deleted it yet, that only errs on the safe side.
    async fn denylist(
        &self,
        keys: &[String],
        user_id: &str,
        extra: Option<(&str, Item)>,
    ) -> Result<(Vec<bool>, u64, Vec<Item>)> {
        let mut wanted: Vec<Item> = keys.iter().map(|k| Self::revoked_key(k.clone())).collect();
        wanted.push(Self::revoked_key(generation_key(user_id)));
        let mut request = vec![(self.tables.revoked_tokens.as_str(), wanted)];
        let extra_table = extra.as_ref().map(|(table, _)| *table);
        if let Some((table, key)) = extra {
            request.push((table, vec![key]));
        }
        let mut found = self.batch_get(request).await?;
        let revoked = found
            .remove(&self.tables.revoked_tokens)
            .unwrap_or_default();
        let mut live: HashMap<String, Item> = HashMap::new();
        for item in revoked {
            live.insert(get_s(&item, "key")?, item);
        }
        let denied = keys.iter().map(|k| live.contains_key(k)).collect();
        let generation = match live.get(&generation_key(user_id)) {
            Some(item) => item::get_opt_n(item, "generation")?.unwrap_or(0),
            None => 0,
        };
        let rest = extra_table
            .and_then(|t| found.remove(t))
            .unwrap_or_default();
        Ok((denied, generation, rest))
    }

    fn write_item(&self, write: Write) -> Result<Vec<TransactWriteItem>> {
        let t = &self.tables;
        let one = |x: Result<TransactWriteItem>| x.map(|i| vec![i]);
        match write {
            Write::CreateUser(u) => {
                let user = Expr::default().name("#u", "username").put(
                    &t.users,
                    user_item(&u),
                    "attribute_not_exists(#u)",
                )?;
                let mut gen_item = Self::revoked_key(generation_key(&u.user_id));
                gen_item.insert("generation".into(), n(u.generation));
                gen_item.insert("username".into(), s(&u.username));
                let generation = Expr::default().name("#k", "key").put(
                    &t.revoked_tokens,
                    gen_item,
                    "attribute_not_exists(#k)",
                )?;
                Ok(vec![user, generation])
            }
            Write::LoginSucceeded {
                username,
                expected_generation,
                new_password_hash,
            } => {
                let mut expr = Expr::default()
                    .name("#u", "username")
                    .name("#f", "failed_logins")
                    .name("#lf", "last_failed_at")
                    .name("#g", "generation")
                    .value(":zero", n(0))
                    .value(":g", n(expected_generation));
                let mut update = "SET #f = :zero".to_owned();
                if let Some(hash) = new_password_hash {
                    expr = expr.name("#h", "password_hash").value(":h", s(hash));
                    update.push_str(", #h = :h");
                }
                update.push_str(" REMOVE #lf");
                one(expr.update(
                    &t.users,
                    Item::from([("username".into(), s(username))]),
                    &update,
                    "attribute_exists(#u) AND (#g = :g OR (attribute_not_exists(#g) AND :g = :zero))",
                ))
            }
            Write::LoginFailed { username, at } => one(Expr::default()
                .name("#u", "username")
                .name("#f", "failed_logins")
                .name("#lf", "last_failed_at")
                .value(":zero", n(0))
                .value(":one", n(1))
                .value(":at", n(at))
                .update(
                    &t.users,
                    Item::from([("username".into(), s(username))]),
                    "SET #f = if_not_exists(#f, :zero) + :one, #lf = :at",
                    "attribute_exists(#u)",
                )),
            Write::RaiseGeneration {
                username,
                user_id,
                expected_generation,
                new_password_hash,
            } => {
                let next = expected_generation + 1;
                let mut expr = Expr::default()
                    .name("#u", "username")
                    .name("#g", "generation")
                    .value(":g", n(expected_generation))
                    .value(":next", n(next))
                    .value(":zero", n(0));
                let mut update = "SET #g = :next".to_owned();
                if let Some(hash) = new_password_hash {
                    expr = expr
                        .name("#h", "password_hash")
                        .name("#f", "failed_logins")
                        .name("#lf", "last_failed_at")
                        .value(":h", s(hash));
                    update.push_str(", #h = :h, #f = :zero REMOVE #lf");
                }
                let user = expr.update(
                    &t.users,
                    Item::from([("username".into(), s(username))]),
                    &update,
                    "attribute_exists(#u) AND (#g = :g OR (attribute_not_exists(#g) AND :g = :zero))",
                )?;
                let record = Expr::default()
                    .name("#k", "key")
                    .name("#g", "generation")
                    .value(":g", n(expected_generation))
                    .value(":next", n(next))
                    .update(
                        &t.revoked_tokens,
                        Self::revoked_key(generation_key(&user_id)),
                        "SET #g = :next",
                        "attribute_exists(#k) AND #g = :g",
                    )?;
                Ok(vec![user, record])
            }
            Write::PutSession(session) => one(Expr::default().name("#s", "session_id").put(
                &t.active_tokens,
                session_item(&session),
                "attribute_not_exists(#s)",
            )),
            Write::RotateRefresh {
                user_id,
                session_id,
                expected_refresh_hash,
                new_refresh_hash,
                used_refresh_hashes,
                new_jti,
                at,
                expires_at,
            } => one(Expr::default()
                .name("#rh", "refresh_hash")
                .name("#used", "used_refresh_hashes")
                .name("#jti", "current_jti")
                .name("#lu", "last_used_at")
                .name("#exp", "expires_at")
                .value(":expected", s(expected_refresh_hash))
                .value(":new", s(new_refresh_hash))
                .value(":used", item::list(used_refresh_hashes))
                .value(":jti", s(new_jti))
                .value(":at", n(at))
                .value(":exp", n(expires_at))
                .update(
                    &t.active_tokens,
                    Self::session_key(&user_id, &session_id),
                    "SET #rh = :new, #used = :used, #jti = :jti, #lu = :at, #exp = :exp",
                    "#rh = :expected AND #exp > :at",
                )),
            Write::DeleteSession {
                user_id,
                session_id,
            } => {
                let d = Delete::builder()
                    .table_name(&t.active_tokens)
                    .set_key(Some(Self::session_key(&user_id, &session_id)))
                    .build()
                    .map_err(build_err)?;
                Ok(vec![TransactWriteItem::builder().delete(d).build()])
            }
            Write::Deny { key, expires_at } => {
                let mut entry = Self::revoked_key(key.storage_key());
                entry.insert("expires_at".into(), n(expires_at));
                let p = Put::builder()
                    .table_name(&t.revoked_tokens)
                    .set_item(Some(entry))
                    .build()
                    .map_err(build_err)?;
                Ok(vec![TransactWriteItem::builder().put(p).build()])
            }
            Write::DeliveryEnqueued { delivery_key } => one(Expr::default()
                .name("#k", "delivery_key")
                .name("#st", "status")
                .value(":pending", s(DELIVERY_PENDING))
                .value(":enqueued", s(DELIVERY_ENQUEUED))
                .update(
                    &t.webhook_deliveries,
                    Item::from([("delivery_key".into(), s(delivery_key))]),
                    "SET #st = :enqueued",
                    "attribute_exists(#k) AND #st = :pending",
                )),
            Write::Audit(event) => one(Expr::default().name("#e", "event_id").put(
                &t.audit_log,
                audit_item(&event),
                "attribute_not_exists(#e)",
            )),
        }
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn get_user(&self, username: &str) -> Result<Option<UserRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("username", s(username))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem users", e))?;
        out.item.as_ref().map(user_from).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id), err(level = "debug"))]
    async fn user_generation(&self, user_id: &str) -> Result<Option<(String, u64)>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.revoked_tokens)
            .key("key", s(generation_key(user_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem generation", e))?;
        match out.item {
            Some(item) => Ok(Some((
                get_s(&item, "username")?,
                get_n(&item, "generation")?,
            ))),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id, session_id = %session_id), err(level = "debug"))]
    async fn session_with_revocation(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> Result<(Option<SessionRecord>, RevocationState)> {
        let keys = [RevocationKey::Session(session_id.to_owned()).storage_key()];
        let extra = (
            self.tables.active_tokens.as_str(),
            Self::session_key(user_id, session_id),
        );
        let (denied, generation, sessions) = self.denylist(&keys, user_id, Some(extra)).await?;
        let session = match sessions.first() {
            Some(item) => Some(session_from(item)?).filter(|s| s.expires_at > now),
            None => None,
        };
        Ok((
            session,
            RevocationState {
                token_revoked: false,
                session_revoked: denied[0],
                generation,
            },
        ))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id), err(level = "debug"))]
    async fn list_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>> {
        let mut sessions = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.active_tokens)
            .key_condition_expression("#u = :u")
            .expression_attribute_names("#u", "user_id")
            .expression_attribute_values(":u", s(user_id))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("Query active tokens", e))?;
            for item in page.items() {
                let session = session_from(item)?;
                if session.expires_at > now {
                    sessions.push(session);
                }
            }
        }
        Ok(sessions)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %session_id, user_id = %user_id), err(level = "debug"))]
    async fn revocation_state(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> Result<RevocationState> {
        let keys = [
            RevocationKey::Token(jti.to_owned()).storage_key(),
            RevocationKey::Session(session_id.to_owned()).storage_key(),
        ];
        let (denied, generation, _) = self.denylist(&keys, user_id, None).await?;
        Ok(RevocationState {
            token_revoked: denied[0],
            session_revoked: denied[1],
            generation,
        })
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

#[async_trait]
impl RateLimitStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_tat(
        &self,
        key: &str,
        condition: TatCondition,
        new_tat: i64,
        expires_at: i64,
    ) -> Result<std::result::Result<(), Option<i64>>> {
        let (condition_expression, bound) = match condition {
            TatCondition::AbsentOrAtMost(t) => ("attribute_not_exists(#t) OR #t <= :c", t),
            TatCondition::Equals(t) => ("#t = :c", t),
        };
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.rate_limits)
            .key("key", s(key))
            .update_expression("SET #t = :t, #exp = :exp")
            .condition_expression(condition_expression)
            .expression_attribute_names("#t", "tat")
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_values(":t", n(new_tat))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":c", n(bound))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(e) => {
                    let current = match e.item() {
                        Some(item) => Some(get_n(item, "tat")?),
                        None => None,
                    };
                    Ok(Err(current))
                }
                other => Err(unavailable("UpdateItem rate limits", other)),
            },
        }
    }
}

const DELIVERY_PENDING: &str = "PENDING";
const DELIVERY_ENQUEUED: &str = "ENQUEUED";

#[async_trait]
impl WebhookStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(delivery_key = %delivery_key), err(level = "debug"))]
    async fn claim_delivery(&self, delivery_key: &str, now: i64, expires_at: i64) -> Result<Claim> {
        let out = self
            .client
            .put_item()
            .table_name(&self.tables.webhook_deliveries)
            .item("delivery_key", s(delivery_key))
            .item("status", s(DELIVERY_PENDING))
            .item("claimed_at", n(now))
            .item("expires_at", n(expires_at))
            .condition_expression(
                "attribute_not_exists(#k) OR #exp <= :now OR (#st = :pending AND #c <= :stale)",
            )
            .expression_attribute_names("#k", "delivery_key")
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#c", "claimed_at")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":pending", s(DELIVERY_PENDING))
            .expression_attribute_values(":stale", n(now - STALE_CLAIM_SECS))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(_) => Ok(Claim::Claimed),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(e) => {
                    let enqueued = e
                        .item()
                        .and_then(|item| item::get_opt_s(item, "status"))
                        .is_some_and(|status| status == DELIVERY_ENQUEUED);
                    Ok(if enqueued {
                        Claim::Delivered
                    } else {
                        Claim::InFlight
                    })
                }
                other => Err(unavailable("PutItem webhook delivery", other)),
            },
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(delivery_key = %delivery_key), err(level = "debug"))]
    async fn release_delivery(&self, delivery_key: &str, claimed_at: i64) -> Result<()> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.webhook_deliveries)
            .key("delivery_key", s(delivery_key))
            .condition_expression("#st = :pending AND #c = :claimed")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#c", "claimed_at")
            .expression_attribute_values(":pending", s(DELIVERY_PENDING))
            .expression_attribute_values(":claimed", n(claimed_at))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(err) => match err.into_service_error() {
                DeleteItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(unavailable("DeleteItem webhook delivery", other)),
            },
        }
    }
}

#[async_trait]
impl Transactions for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(writes = writes.len()), err(level = "debug"))]
    async fn transact(&self, writes: Vec<Write>) -> Result<()> {
        let mut items = Vec::with_capacity(writes.len() + 1);
        for write in writes {
            items.extend(self.write_item(write)?);
        }
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(err) => {
                let service = err.into_service_error();
                if let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                    cancelled,
                ) = &service
                {
                    let condition_failed = cancelled
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed"));
                    if condition_failed {
                        return Err(Error::ConditionFailed);
                    }
                }
                if service.meta().code() == Some("ValidationException") {
                    // A malformed transaction is a bug, not an outage.
                    return Err(Error::internal(format!(
                        "TransactWriteItems refused: {}",
                        DisplayErrorContext(&service)
                    )));
                }
                Err(unavailable("TransactWriteItems", service))
            }
        }
    }
}
