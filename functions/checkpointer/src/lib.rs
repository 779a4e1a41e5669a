//! The `checkpointer` Lambda: invoked by an EventBridge schedule every
//! minute, it runs [`Checkpointer::run`]: every minute closed since the
//! newest checkpoint gets its signed checkpoint, chained, written once and
//! copied to the Object Lock bucket.
//!
//! The schedule's time is not used: each run checkpoints what is closed at
//! the function's clock, so missed runs are caught up by the next one, and
//! a duplicate run finds the minutes written and chains on from them. A
//! run that cannot finish fails, so Lambda reports an error (and the
//! function's alarm fires); what it wrote stands.

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use warden::audit::checkpoint::minute_text;
use warden::audit::checkpointer::Checkpointer;
use warden::clock::Clock;

/// Handles one scheduled event: `{"written": N, "newest": "<minute>"}`,
/// `newest` being the last minute this run checkpointed (absent if none).
pub async fn handler(
    checkpointer: &Checkpointer,
    clock: &dyn Clock,
    _event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let written = checkpointer.run(clock.now_millis()).await?;
    let newest = written.last().map(|c| minute_text(c.minute));
    tracing::info!(written = written.len(), newest = ?newest, "checkpoints written");
    Ok(json!({ "written": written.len(), "newest": newest }))
}
