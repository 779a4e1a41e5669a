//! The audit port, for reading back: events are written only inside a
//! transaction, as [`super::Write::Audit`], together with what they record.

use async_trait::async_trait;

use crate::Result;
use crate::audit::AuditEvent;

/// The audit log, read side.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The newest events whose actor is `actor`, newest first.
    async fn audit_by_actor(&self, actor: &str, limit: usize) -> Result<Vec<AuditEvent>>;
}
