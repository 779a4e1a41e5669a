//! The queue port: where verified webhook deliveries, agent jobs and the
//! external effects of actions go.
//!
//! - [`SqsQueue`]: Amazon SQS through the SDK. The events queue is FIFO, and
//!   each message carries a deduplication id derived from the delivery, so
//!   even a send repeated after a partial failure is delivered once.
//! - [`MemoryQueue`]: in process, keeping what was sent, for `warden serve`
//!   and tests.
//! - [`ChannelQueue`]: in process with a consumer: `warden serve`'s jobs
//!   queue, drained by the in-process worker.
//! - [`NoQueue`]: for a function that never sends (the tool gate): every
//!   send is refused, so a path that would send fails loudly.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::{Error, Result};

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The message body (JSON).
    pub body: String,
    /// Messages of one group are delivered in order (FIFO queues).
    pub group_id: String,
    /// Messages with the same id within five minutes are delivered once
    /// (FIFO queues); at most 128 characters.
    pub deduplication_id: String,
}

/// Sends messages to a queue.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends one message; an error means it was not accepted.
    async fn send(&self, message: &OutgoingMessage) -> Result<()>;
}

/// The SQS adapter.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    fifo: bool,
}

impl SqsQueue {
    /// A queue at `queue_url`; FIFO when the URL ends in `.fifo`.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: &str) -> Self {
        Self {
            client,
            queue_url: queue_url.to_owned(),
            fifo: queue_url.ends_with(".fifo"),
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, message: &OutgoingMessage) -> Result<()> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(&message.body);
        if self.fifo {
            request = request
                .message_group_id(&message.group_id)
                .message_deduplication_id(&message.deduplication_id);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| crate::aws::sdk_unavailable("SendMessage", &e))
    }
}

/// The queue of a function that never sends: the tool gate decides tool
/// calls and queues no job (it holds no `sqs:SendMessage`). A send is an
/// internal error naming the function, never a message silently dropped.
#[derive(Debug, Clone, Copy)]
pub struct NoQueue {
    /// The function, for the error.
    pub function: &'static str,
}

#[async_trait]
impl Queue for NoQueue {
    async fn send(&self, _message: &OutgoingMessage) -> Result<()> {
        Err(Error::internal(format!(
            "{} sends no message: a path that queues reached it",
            self.function
        )))
    }
}

/// An in-process queue that keeps what was sent, deduplicating like a FIFO
/// queue. `warden serve` uses it; tests read it back.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    sent: Mutex<Sent>,
}

#[derive(Debug, Default)]
struct Sent {
    messages: Vec<OutgoingMessage>,
    deduplication_ids: HashSet<String>,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far, oldest first.
    pub fn messages(&self) -> Vec<OutgoingMessage> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .messages
            .clone()
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, message: &OutgoingMessage) -> Result<()> {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if sent
            .deduplication_ids
            .insert(message.deduplication_id.clone())
        {
            sent.messages.push(message.clone());
        }
        Ok(())
    }
}

/// An in-process queue with a consumer: what `warden serve` runs agent jobs
/// on. Each message sent comes out of the receiver returned by
/// [`ChannelQueue::new`], where the in-process worker drains it
/// ([`crate::agents::worker::drain_local`]).
#[derive(Debug, Clone)]
pub struct ChannelQueue {
    sender: tokio::sync::mpsc::UnboundedSender<OutgoingMessage>,
}

impl ChannelQueue {
    /// A queue and the receiving end its consumer reads.
    pub fn new() -> (Self, tokio::sync::mpsc::UnboundedReceiver<OutgoingMessage>) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        (Self { sender }, receiver)
    }
}

#[async_trait]
impl Queue for ChannelQueue {
    async fn send(&self, message: &OutgoingMessage) -> Result<()> {
        self.sender
            .send(message.clone())
            .map_err(|_| Error::unavailable("the in-process queue's consumer has stopped"))
    }
}
