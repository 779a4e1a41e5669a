//! Webhook delivery records in DynamoDB: the WebhookDeliveries table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::item::{Item, get_opt_s, n, s};
use super::{DynamoStore, Expr, unavailable};
use crate::Result;
use crate::store::webhooks::{
    Claim, DeliveryStatus, DeliveryStore, STALE_CLAIM_SECS, WebhookWrite,
};

const PENDING: DeliveryStatus = DeliveryStatus::Pending;
const ENQUEUED: DeliveryStatus = DeliveryStatus::Enqueued;

impl DynamoStore {
    pub(super) fn webhook_items(&self, write: WebhookWrite) -> Result<TransactWriteItem> {
        match write {
            WebhookWrite::DeliveryEnqueued { delivery_key } => Expr::default()
                .name("#k", "delivery_key")
                .name("#st", "status")
                .value(":pending", s(PENDING.as_str()))
                .value(":enqueued", s(ENQUEUED.as_str()))
                .update(
                    &self.tables.webhook_deliveries,
                    Item::from([("delivery_key".into(), s(delivery_key))]),
                    "SET #st = :enqueued",
                    Some("attribute_exists(#k) AND #st = :pending"),
                ),
        }
    }
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(delivery_key = %delivery_key), err(level = "debug"))]
    async fn claim_delivery(&self, delivery_key: &str, now: i64, expires_at: i64) -> Result<Claim> {
        let out = self
            .client
            .put_item()
            .table_name(&self.tables.webhook_deliveries)
            .item("delivery_key", s(delivery_key))
            .item("status", s(PENDING.as_str()))
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
            .expression_attribute_values(":pending", s(PENDING.as_str()))
            .expression_attribute_values(":stale", n(now - STALE_CLAIM_SECS))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(_) => Ok(Claim::Claimed),
            Err(err) => {
                if let Some(PutItemError::ConditionalCheckFailedException(e)) =
                    err.as_service_error()
                {
                    let enqueued = e
                        .item()
                        .and_then(|item| get_opt_s(item, "status"))
                        .and_then(|status| DeliveryStatus::parse(&status))
                        == Some(ENQUEUED);
                    return Ok(if enqueued {
                        Claim::Delivered
                    } else {
                        Claim::InFlight
                    });
                }
                Err(unavailable("PutItem webhook delivery", err))
            }
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
            .expression_attribute_values(":pending", s(PENDING.as_str()))
            .expression_attribute_values(":claimed", n(claimed_at))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(unavailable("DeleteItem webhook delivery", err)),
            },
        }
    }
}
