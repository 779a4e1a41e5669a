//! The health checks' [`Dependencies`] port over the AWS SDK.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::health::dependencies::{Dependencies, QueueInfo, SecretInfo, TableInfo};
use crate::{Error, Result};

/// The [`Dependencies`] adapter over the AWS SDK: DescribeTable,
/// DescribeTimeToLive, GetQueueAttributes and DescribeSecret, nothing else.
/// Each call is bounded by the timeouts and retries of the [`SdkConfig`]
/// it is built from (see [`crate::aws::Guards`]).
///
/// [`SdkConfig`]: crate::aws::SdkConfig
#[derive(Debug, Clone)]
pub struct AwsDependencies {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    secrets: aws_sdk_secretsmanager::Client,
}

impl AwsDependencies {
    /// The three clients, from one SDK configuration.
    pub fn new(aws: &crate::aws::SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(aws),
            sqs: aws_sdk_sqs::Client::new(aws),
            secrets: aws_sdk_secretsmanager::Client::new(aws),
        }
    }
}

/// A describe call's answer: its output, `None` when the service said the
/// resource does not exist (`missing`), else `503` naming `what` (the SDK
/// error kept for the log).
fn described<T, E>(
    answer: std::result::Result<T, SdkError<E, HttpResponse>>,
    missing: impl Fn(&E) -> bool,
    what: impl FnOnce() -> String,
) -> Result<Option<T>>
where
    E: ProvideErrorMetadata,
{
    match answer {
        Ok(out) => Ok(Some(out)),
        Err(err) if err.as_service_error().is_some_and(missing) => Ok(None),
        Err(err) => Err(crate::aws::sdk_unavailable(&what(), &err)),
    }
}

/// The codes SQS answers a missing queue with: the query-compatible code
/// the SDK maps to `QueueDoesNotExist`, and the JSON protocol's own shape
/// name, which the SDK leaves unmodelled when no `x-amzn-query-error`
/// header carries the former.
const NO_SUCH_QUEUE: [&str; 2] = [
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
];

#[async_trait]
impl Dependencies for AwsDependencies {
    #[tracing::instrument(level = "debug", skip_all, fields(table = %name, ttl), err(level = "debug"))]
    async fn table(&self, name: &str, ttl: bool) -> Result<Option<TableInfo>> {
        let describe = self.dynamodb.describe_table().table_name(name).send();
        let (table, ttl) = if ttl {
            let describe_ttl = self
                .dynamodb
                .describe_time_to_live()
                .table_name(name)
                .send();
            let (table, ttl) = tokio::join!(describe, describe_ttl);
            (table, Some(ttl))
        } else {
            (describe.await, None)
        };

        let missing = |e: &DescribeTableError| e.is_resource_not_found_exception();
        let Some(table) = described(table, missing, || format!("DescribeTable {name}"))? else {
            return Ok(None);
        };
        let status = table
            .table()
            .and_then(|t| t.table_status())
            .ok_or_else(|| Error::unavailable(format!("DescribeTable {name}: no TableStatus")))?
            .as_str()
            .to_owned();

        let ttl = match ttl {
            None => None,
            Some(Ok(out)) => {
                let description = out.time_to_live_description();
                let ttl_status = description
                    .and_then(|d| d.time_to_live_status())
                    .ok_or_else(|| {
                        Error::unavailable(format!(
                            "DescribeTimeToLive {name}: no TimeToLiveStatus"
                        ))
                    })?;
                Some((
                    ttl_status.as_str().to_owned(),
                    description
                        .and_then(|d| d.attribute_name())
                        .map(str::to_owned),
                ))
            }
            // The table went away between the two answers: it is gone now.
            Some(Err(err))
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Some(Err(err)) => {
                return Err(crate::aws::sdk_unavailable(
                    &format!("DescribeTimeToLive {name}"),
                    &err,
                ));
            }
        };
        Ok(Some(TableInfo { status, ttl }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(queue = %url), err(level = "debug"))]
    async fn queue(&self, url: &str) -> Result<Option<QueueInfo>> {
        use aws_sdk_sqs::types::QueueAttributeName as A;

        let out = match self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_queue_does_not_exist()
                        || e.code().is_some_and(|c| NO_SUCH_QUEUE.contains(&c))
                }) =>
            {
                return Ok(None);
            }
            Err(err) => {
                return Err(crate::aws::sdk_unavailable(
                    &format!("GetQueueAttributes {url}"),
                    &err,
                ));
            }
        };
        let count = |attribute: A| -> Result<u64> {
            out.attributes()
                .and_then(|a| a.get(&attribute))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    Error::unavailable(format!(
                        "GetQueueAttributes {url}: {} missing or not a count",
                        attribute.as_str()
                    ))
                })
        };
        Ok(Some(QueueInfo {
            visible: count(A::ApproximateNumberOfMessages)?,
            in_flight: count(A::ApproximateNumberOfMessagesNotVisible)?,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(secret = %secret_id), err(level = "debug"))]
    async fn secret(&self, secret_id: &str) -> Result<Option<SecretInfo>> {
        let answer = self
            .secrets
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await;
        let missing = |e: &DescribeSecretError| e.is_resource_not_found_exception();
        let Some(out) = described(answer, missing, || format!("DescribeSecret {secret_id}"))?
        else {
            return Ok(None);
        };
        let millis = |field: &str, date: Option<&aws_sdk_secretsmanager::primitives::DateTime>| {
            date.map(|d| {
                d.to_millis().map_err(|e| {
                    Error::unavailable_from(format!("DescribeSecret {secret_id}: {field}"), e)
                })
            })
            .transpose()
        };
        Ok(Some(SecretInfo {
            created_ms: millis("CreatedDate", out.created_date())?,
            last_rotated_ms: millis("LastRotatedDate", out.last_rotated_date())?,
            last_changed_ms: millis("LastChangedDate", out.last_changed_date())?,
            rotation_enabled: out.rotation_enabled().unwrap_or(false),
            scheduled_for_deletion: out.deleted_date().is_some(),
        }))
    }
}
