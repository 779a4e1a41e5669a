//! What the worker's test binaries share: a run to work on, an outbound
//! queue that keeps what it is sent, the SQS events and invocation contexts
//! Lambda hands the handler, and the batch failures it answers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use lambda_runtime::Context;
use serde_json::{Value, json};
use warden::agents::run::{Accepted, Caller, RunRequest, submit};
use warden::audit::Origin;
use warden::clock::Clock;
use warden::domain::Role;
use warden::queue::{OutgoingMessage, Queue};
use warden::state::AgentState;
use warden::{Error, Result};

/// An outbound queue that keeps every message it accepted, duplicates
/// included (it does not deduplicate like a FIFO queue would), and refuses
/// everything while `refuse` is set.
#[derive(Default)]
pub struct Outbound {
    accepted: Mutex<Vec<OutgoingMessage>>,
    /// Set, every send fails as an unavailable queue.
    pub refuse: AtomicBool,
}

impl Outbound {
    /// Every message accepted so far, in order.
    pub fn accepted(&self) -> Vec<OutgoingMessage> {
        self.accepted.lock().unwrap().clone()
    }
}

#[async_trait]
impl Queue for Outbound {
    async fn send(&self, message: &OutgoingMessage) -> Result<()> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(Error::unavailable("the outbound queue refuses (test)"));
        }
        self.accepted.lock().unwrap().push(message.clone());
        Ok(())
    }
}

/// One record of an SQS event: message `id` with `body`, from the queue
/// `arn`.
pub fn sqs_record(id: &str, body: &str, arn: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(id.to_owned());
    record.body = Some(body.to_owned());
    record.event_source_arn = Some(arn.to_owned());
    record.event_source = Some("aws:sqs".into());
    record
}

/// An invocation context with `left_ms` until its deadline on `clock`.
pub fn context(clock: &dyn Clock, left_ms: i64) -> Context {
    let mut context = Context::default();
    context.request_id = ulid::Ulid::new().to_string();
    context.deadline = u64::try_from(clock.now_millis() + left_ms).unwrap();
    context
}

/// The message ids a batch response asks SQS to deliver again.
pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// The workspace every run here is asked for.
pub const WORKSPACE: &str = "acme";

/// Alice (a user) asks, from the CLI, for `agent` to run `action` on
/// `input` in [`WORKSPACE`]: what the run use case answered.
pub async fn submit_as_alice(
    agents: &AgentState,
    agent: &str,
    action: &str,
    input: Value,
) -> Accepted {
    let body = json!({"workspace_id": WORKSPACE, "action": action, "input": input});
    let alice = Caller::User {
        user_id: "alice".into(),
        roles: vec![Role::User],
        workspaces: vec![warden::domain::agents::WorkspaceId::parse(WORKSPACE).unwrap()],
    };
    let request = RunRequest {
        workspace_id: WORKSPACE.into(),
        action: action.into(),
        input: input.to_string(),
    };
    let cli = Origin::Cli {
        operator: "test".into(),
    };
    // Every run carries a key: one of complexity 3 or 4 needs it.
    let key = ulid::Ulid::new().to_string();
    submit(agents, cli, &alice, agent, request, &body, Some(&key))
        .await
        .unwrap()
}
