//! The audit ledger's checkpoints: one item per minute, written once, by a
//! conditional put (no checkpoint for that minute yet), so duplicate or
//! concurrent checkpointer runs never fork the chain.

use async_trait::async_trait;

use crate::Result;

/// One minute's checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// The minute it covers, in minutes since the Unix epoch (the key).
    pub minute: i64,
    /// The signed note ([`crate::audit::checkpoint`] text and signature).
    pub note: String,
    /// The ids of the events it covers, in leaf order.
    pub leaves: Vec<String>,
    /// Those of them whose own minute was checkpointed before (late).
    pub late: Vec<String>,
    /// When the record may be deleted (epoch seconds): a week after the
    /// events it covers, so a checkpoint outlives its leaves.
    pub expires_at: i64,
}

/// The checkpoints, read and written by the checkpointer and read by
/// `warden audit verify|prove`.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// The newest checkpoint, if any.
    async fn latest_checkpoint(&self) -> Result<Option<CheckpointRecord>>;

    /// The checkpoints of minutes `from..=to`, oldest first (strongly
    /// consistent).
    async fn checkpoints(&self, from: i64, to: i64) -> Result<Vec<CheckpointRecord>>;

    /// Writes `record` if no checkpoint of its minute exists; one does:
    /// [`crate::Error::ConditionFailed`].
    async fn put_checkpoint(&self, record: CheckpointRecord) -> Result<()>;
}
