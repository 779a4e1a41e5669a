//! The API keys port: keys as stored (an HMAC of the secret, never the key),
//! with each key's rate state and usage on the key's own item.

use async_trait::async_trait;

use super::{TatOutcome, TatWrite};
use crate::Result;
use crate::domain::agents::{ApiKeyRecord, KeyLimit};

/// An API key state change, applied inside [`super::Transactions::transact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyWrite {
    /// Stores a new key. Condition: its id is new.
    Create(ApiKeyRecord),
    /// Revokes a key at `at` (epoch seconds). Condition: it exists and is
    /// not revoked yet.
    Revoke {
        /// The key.
        key_id: String,
        /// Epoch seconds.
        at: i64,
    },
}

/// API keys.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// One key (consistent): the one read that checking a key costs.
    async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>>;

    /// Every key, by id.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>>;

    /// Counts one use of an existing key at `now` (epoch seconds) against
    /// its `limit`: sets that limit's GCRA theoretical arrival time (ms;
    /// `tat` for runs, `read_tat` for reads) to `new_tat` if `condition`
    /// holds on it, and in the same write adds one to the key's usage and
    /// sets its last use; the other limit's state is left as it is. On a
    /// failed condition nothing changes and that limit's current value is
    /// returned (`None` when it has no rate state yet). A key that does not
    /// exist or is revoked is [`crate::Error::ConditionFailed`], so that a
    /// revocation landing after the key was read still refuses.
    async fn record_key_use(
        &self,
        key_id: &str,
        limit: KeyLimit,
        write: TatWrite,
        now: i64,
    ) -> Result<TatOutcome>;
}
