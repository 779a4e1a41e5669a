//! The audit port, for reading back: events are written only inside a
//! transaction, as [`super::Write::Audit`], together with what they record.

use async_trait::async_trait;

use crate::Result;
use crate::audit::{AuditEvent, EventType};

/// What `warden audit query` and `GET /audit` ask of the audit log
/// ([`crate::audit::query`]): the events of a time window, newest first,
/// optionally of one actor and one type, and only those before an event
/// already shown (the next page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this actor's events (read through the actor index).
    pub actor: Option<String>,
    /// Only events of this type.
    pub event_type: Option<EventType>,
    /// The window's start, inclusive (milliseconds since the epoch).
    pub since_millis: i64,
    /// The window's end, inclusive: usually now. It bounds the day buckets
    /// read when no actor is given.
    pub until_millis: i64,
    /// At most this many events (the newest).
    pub limit: usize,
    /// Only events whose id sorts before this event id (a ULID; exclusive):
    /// the page after the one that ended with it.
    pub before: Option<String>,
}

/// An audit event as the ledger reads it: with the partition it was found
/// in, when that is not the one its id and time place it in
/// ([`AuditEvent::bucket`]): an item written there by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEvent {
    /// The event.
    pub event: AuditEvent,
    /// The partition it is stored in, if not its own.
    pub misplaced_in: Option<String>,
}

/// The audit log, read side.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The newest events whose actor is `actor`, newest first.
    async fn audit_by_actor(&self, actor: &str, limit: usize) -> Result<Vec<AuditEvent>>;

    /// The newest events that match `query` (at most `query.limit`), newest
    /// first (by event id: a ULID, so by time), those from `query.before`
    /// on left out. With an actor it reads the actor index; without, every
    /// day bucket's shards in the window.
    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;

    /// Every event whose id's time is in the window (inclusive), oldest
    /// first, strongly consistent: every shard of every UTC day the window
    /// touches. What the ledger's checkpointer and `warden audit verify`
    /// read.
    async fn ledger_events(&self, since_millis: i64, until_millis: i64)
    -> Result<Vec<LedgerEvent>>;
}
