//! GCRA state in DynamoDB: the RateLimits table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::item::{get_n, n, s};
use super::{DynamoStore, unavailable};
use crate::Result;
use crate::store::{RateLimitStore, TatCondition, TatOutcome, TatWrite};

/// The condition expression of a GCRA update over the attribute `#t`
/// (`tat`), and the value of its `:c` placeholder (a
/// [`TatCondition::Within`] also has `:c2`, [`within_bound`]). API keys keep their
/// rate state the same way, on the key's own item.
pub(super) fn tat_condition(condition: TatCondition) -> (&'static str, i64) {
    match condition {
        TatCondition::AbsentOrAtMost(t) => ("(attribute_not_exists(#t) OR #t <= :c)", t),
        TatCondition::Equals(t) => ("#t = :c", t),
        TatCondition::Within(after, _) => ("(#t > :c AND #t <= :c2)", after),
    }
}

/// The upper bound (`:c2`) of a [`TatCondition::Within`]; any other
/// condition has none, and its value is unused.
pub(super) fn within_bound(condition: TatCondition) -> i64 {
    match condition {
        TatCondition::Within(_, at_most) => at_most,
        _ => 0,
    }
}

#[async_trait]
impl RateLimitStore for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    async fn update_tat(&self, key: &str, write: TatWrite, expires_at: i64) -> Result<TatOutcome> {
        let TatWrite { condition, new_tat } = write;
        let (condition_expression, bound) = tat_condition(condition);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.tables.rate_limits)
            .key("key", s(key))
            .update_expression(format!("SET {}, #exp = :exp", write.update_expression()))
            .condition_expression(condition_expression)
            .expression_attribute_names("#t", "tat")
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_values(":t", n(new_tat))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":c", n(bound))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if matches!(condition, TatCondition::Within(..)) {
            request = request.expression_attribute_values(":c2", n(within_bound(condition)));
        }
        let out = request.send().await;
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
