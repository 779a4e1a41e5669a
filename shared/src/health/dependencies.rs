//! The port the health checks describe AWS resources through; its adapter
//! over the AWS SDK is [`crate::aws::dependencies`]. Describing is all it
//! does: it never reads a secret's value, an item or a message.

use async_trait::async_trait;

use crate::Result;

/// A DynamoDB table as DescribeTable (and DescribeTimeToLive) see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// `TableStatus`: `ACTIVE`, `UPDATING`, `CREATING`, ...
    pub status: String,
    /// `TimeToLiveStatus` (`ENABLED`, `DISABLED`, ...) and its attribute,
    /// when asked for.
    pub ttl: Option<(String, Option<String>)>,
}

/// A queue's depth as GetQueueAttributes sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueInfo {
    /// `ApproximateNumberOfMessages`: waiting to be received.
    pub visible: u64,
    /// `ApproximateNumberOfMessagesNotVisible`: received, not yet deleted.
    pub in_flight: u64,
}

/// A secret as DescribeSecret sees it (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// `CreatedDate`, milliseconds since the epoch.
    pub created_ms: Option<i64>,
    /// `LastRotatedDate`, milliseconds since the epoch.
    pub last_rotated_ms: Option<i64>,
    /// `LastChangedDate`, milliseconds since the epoch.
    pub last_changed_ms: Option<i64>,
    /// `RotationEnabled`.
    pub rotation_enabled: bool,
    /// `DeletedDate` is set: the secret is scheduled for deletion.
    pub scheduled_for_deletion: bool,
}

/// Describes the resources a deployment depends on. `Ok(None)` means the
/// resource does not exist; `Err` that the answer could not be had.
#[async_trait]
pub trait Dependencies: Send + Sync {
    /// DescribeTable on `name`; with `ttl`, DescribeTimeToLive too (the two
    /// calls side by side).
    async fn table(&self, name: &str, ttl: bool) -> Result<Option<TableInfo>>;

    /// GetQueueAttributes on the queue at `url`.
    async fn queue(&self, url: &str) -> Result<Option<QueueInfo>>;

    /// DescribeSecret on `secret_id` (an ARN or a name).
    async fn secret(&self, secret_id: &str) -> Result<Option<SecretInfo>>;
}
