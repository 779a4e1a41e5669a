//! GCRA state in DynamoDB: the RateLimits table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::item::{get_n, n, s};
use super::{DynamoStore, unavailable};
use crate::Result;
use crate::store::{RateLimitStore, TatCondition, TatOutcome, TatWrite};

/// The condition expression of a GCRA update over the attribute `#t`
/// (`tat`), and the value of its `:c` placeholder. API keys keep their
/// rate state the same way, on the key's own item.
pub(super) fn tat_condition(condition: TatCondition) -> (&'static str, i64) {
    match condition {
        TatCondition::AbsentOrAtMost(t) => ("(attribute_not_exists(#t) OR #t <= :c)", t),
        TatCondition::Equals(t) => ("#t = :c", t),
    }
}

#[async_trait]
impl RateLimitStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_tat(&self, key: &str, write: TatWrite, expires_at: i64) -> Result<TatOutcome> {
        let TatWrite { condition, new_tat } = write;
        let (condition_expression, bound) = tat_condition(condition);
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
            Err(err) => {
                if let Some(UpdateItemError::ConditionalCheckFailedException(e)) =
                    err.as_service_error()
                {
                    let current = match e.item() {
                        Some(item) => Some(get_n(item, "tat")?),
                        None => None,
                    };
                    return Ok(Err(current));
                }
                Err(unavailable("UpdateItem rate limits", err))
            }
        }
    }
}
