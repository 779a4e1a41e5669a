//! The webhook port: the dedupe record of every accepted delivery.

use async_trait::async_trait;

use crate::Result;

/// How long a pending claim blocks others before it counts as abandoned
/// (far longer than a function's timeout).
pub const STALE_CLAIM_SECS: i64 = 60;

/// What claiming a webhook delivery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The delivery is new (or its earlier claim went stale): it is ours.
    Claimed,
    /// The delivery was enqueued before: a duplicate.
    Delivered,
    /// Another request holds a fresh claim and may still fail: try later.
    InFlight,
}

/// The state of a stored delivery record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Claimed by a request that has not enqueued it yet.
    Pending,
    /// On the events queue.
    Enqueued,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Enqueued => "ENQUEUED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PENDING" => Some(DeliveryStatus::Pending),
            "ENQUEUED" => Some(DeliveryStatus::Enqueued),
            _ => None,
        }
    }
}

/// A webhook state change, applied inside [`super::Transactions::transact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookWrite {
    /// Marks a claimed delivery as enqueued. Condition: it is claimed
    /// (pending).
    DeliveryEnqueued {
        /// See [`super::keys::delivery`].
        delivery_key: String,
    },
}

/// Webhook deliveries.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Claims `delivery_key` at `now` (epoch seconds) with a pending record
    /// that expires at `expires_at`. One conditional write.
    async fn claim_delivery(&self, delivery_key: &str, now: i64, expires_at: i64) -> Result<Claim>;

    /// Deletes our pending claim (made at `claimed_at`) so the provider's
    /// retry is accepted; an enqueued record or someone else's claim stays.
    async fn release_delivery(&self, delivery_key: &str, claimed_at: i64) -> Result<()>;
}
