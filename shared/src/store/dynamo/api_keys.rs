//! API keys in DynamoDB: the ApiKeys table, one item per key holding the
//! key's HMAC, the rate state of its two limits (`tat` for runs,
//! `read_tat` for reads) and its usage.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::item::{Item, get_list, get_n, get_opt_n, get_parsed, get_s, list, n, s};
use super::{DynamoStore, Expr, unavailable};
use crate::domain::agents::{ApiKeyRecord, KeyLimit, KeyOwner};
use crate::store::api_keys::{ApiKeyStore, ApiKeyWrite};
use crate::store::{TatOutcome, TatWrite};
use crate::{Error, Result};

fn key_key(key_id: &str) -> Item {
    Item::from([("key_id".to_owned(), s(key_id))])
}

impl DynamoStore {
    pub(super) fn api_key_items(&self, write: ApiKeyWrite) -> Result<TransactWriteItem> {
        match write {
            ApiKeyWrite::Create(k) => Expr::default().name("#k", "key_id").put(
                &self.tables.api_keys,
                api_key_item(&k),
                "attribute_not_exists(#k)",
            ),
            ApiKeyWrite::Revoke { key_id, at } => Expr::default()
                .name("#k", "key_id")
                .name("#rv", "revoked_at")
                .value(":at", n(at))
                .update(
                    &self.tables.api_keys,
                    key_key(&key_id),
                    "SET #rv = :at",
                    Some("attribute_exists(#k) AND attribute_not_exists(#rv)"),
                ),
        }
    }
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(key_id = %key_id), err(level = "debug"))]
    async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.api_keys)
            .set_key(Some(key_key(key_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem api keys", e))?;
        out.item.as_ref().map(api_key_from).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let mut keys = self
            .scan_all(&self.tables.api_keys, "Scan api keys")
            .await?
            .iter()
            .map(api_key_from)
            .collect::<Result<Vec<_>>>()?;
        keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        Ok(keys)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key_id = %key_id), err(level = "debug"))]
    async fn record_key_use(
        &self,
        key_id: &str,
        limit: KeyLimit,
        write: TatWrite,
        now: i64,
    ) -> Result<TatOutcome> {
        let TatWrite { condition, new_tat } = write;
        // The GCRA expressions name the state `#t`: one limit's attribute.
        let tat_attribute = tat_attribute(limit);
        let (tat_condition, bound) = super::ratelimit::tat_condition(condition);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.tables.api_keys)
            .set_key(Some(key_key(key_id)))
            .update_expression(format!(
                "SET {}, #lu = :now ADD #uc :one",
                write.update_expression()
            ))
            .condition_expression(format!(
                "attribute_exists(#k) AND attribute_not_exists(#rv) AND {tat_condition}"
            ))
            .expression_attribute_names("#k", "key_id")
            .expression_attribute_names("#rv", "revoked_at")
            .expression_attribute_names("#t", tat_attribute)
            .expression_attribute_names("#lu", "last_used_at")
            .expression_attribute_names("#uc", "usage_count")
            .expression_attribute_values(":t", n(new_tat))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":c", n(bound))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if matches!(condition, crate::store::TatCondition::Within(..)) {
            request = request
                .expression_attribute_values(":c2", n(super::ratelimit::within_bound(condition)));
        }
        let out = request.send().await;
        match out {
            Ok(_) => Ok(Ok(())),
            Err(err) => {
                // The old item tells a key that does not exist (none) or
                // is revoked from a rate condition that failed (its
                // current `tat`).
                if let Some(UpdateItemError::ConditionalCheckFailedException(e)) =
                    err.as_service_error()
                {
                    return match e.item() {
                        Some(item) if !item.contains_key("revoked_at") => {
                            Ok(Err(get_opt_n(item, tat_attribute)?))
                        }
                        _ => Err(Error::ConditionFailed),
                    };
                }
                Err(unavailable("UpdateItem api keys", err))
            }
        }
    }
}

/// The attribute holding the GCRA state of a key's `limit`.
fn tat_attribute(limit: KeyLimit) -> &'static str {
    match limit {
        KeyLimit::Run => "tat",
        KeyLimit::Read => "read_tat",
    }
}

/// The item of an API key.
fn api_key_item(k: &ApiKeyRecord) -> Item {
    let mut item = Item::from([
        ("key_id".into(), s(&k.key_id)),
        ("secret_hmac".into(), s(&k.secret_hmac)),
        ("owner".into(), s(k.owner.to_string())),
        ("scopes".into(), list(k.scopes.iter().cloned())),
        ("rate_limit_per_hour".into(), n(k.rate_limit_per_hour)),
        ("created_at".into(), n(k.created_at)),
        ("usage_count".into(), n(k.usage_count)),
    ]);
    if let Some(by) = &k.created_by {
        item.insert("created_by".into(), s(by));
    }
    let optional = [
        ("expires_at", k.expires_at),
        ("revoked_at", k.revoked_at),
        ("last_used_at", k.last_used_at),
        ("tat", k.tat),
        ("read_tat", k.read_tat),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            item.insert(name.into(), n(v));
        }
    }
    item
}

/// An API key from its item.
pub(super) fn api_key_from(item: &Item) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        key_id: get_s(item, "key_id")?,
        secret_hmac: get_s(item, "secret_hmac")?,
        owner: get_parsed(item, "owner", KeyOwner::parse)?,
        scopes: get_list(item, "scopes")?,
        expires_at: get_opt_n(item, "expires_at")?,
        rate_limit_per_hour: get_n(item, "rate_limit_per_hour")?,
        revoked_at: get_opt_n(item, "revoked_at")?,
        created_at: get_n(item, "created_at")?,
        created_by: super::item::get_opt_s(item, "created_by"),
        usage_count: get_n(item, "usage_count")?,
        last_used_at: get_opt_n(item, "last_used_at")?,
        tat: get_opt_n(item, "tat")?,
        read_tat: get_opt_n(item, "read_tat")?,
    })
}
