//! The worker behind the real SQS API (the emulator of `infra/test.sh`):
//! runs are queued by the run use case through [`SqsQueue`], received with
//! ReceiveMessage as the Lambda event source mapping would, and handed to
//! the Lambda handler as SQS events. A message received twice runs once; a
//! message the queue's redrive policy moved to the dead-letter queue ends
//! its job `FAILED`. Skipped without the emulator (a failure with
//! `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use common::{Outbound, context, failed_ids, sqs_record, submit_as_alice};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use warden::agents::registry::register_agent;
use warden::agents::run::Accepted;
use warden::audit::Origin;
use warden::clock::ManualClock;
use warden::domain::agents::{AgentType, JobStatus, Maturity};
use warden::queue::SqsQueue;
use warden::state::{AgentState, WorkerState};
use warden::store::AgentStore;
use warden::testing;

struct Queues {
    client: aws_sdk_sqs::Client,
    jobs_url: String,
    jobs_arn: String,
    dlq_url: String,
    dlq_arn: String,
}

/// Receives before the jobs queue moves a message to its dead-letter queue.
const MAX_RECEIVES: i32 = 2;

async fn arn_of(client: &aws_sdk_sqs::Client, url: &str) -> String {
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .expect("a queue ARN")
}

/// A jobs queue and its dead-letter queue, with a redrive policy after
/// [`MAX_RECEIVES`] receives.
async fn queues(client: aws_sdk_sqs::Client) -> Queues {
    let name = ulid::Ulid::new().to_string().to_lowercase();
    let dlq_url = testing::create_queue(&client, &format!("jobs-dlq-{name}"), &[]).await;
    let dlq_arn = arn_of(&client, &dlq_url).await;
    let redrive =
        json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES.to_string()})
            .to_string();
    let redrive = [(QueueAttributeName::RedrivePolicy, redrive.as_str())];
    let jobs_url = testing::create_queue(&client, &format!("jobs-{name}"), &redrive).await;
    let jobs_arn = arn_of(&client, &jobs_url).await;
    Queues {
        client,
        jobs_url,
        jobs_arn,
        dlq_url,
        dlq_arn,
    }
}

/// Every message visible on `url` now, received with a visibility timeout
/// of 0 so each can be received again at once.
async fn receive(client: &aws_sdk_sqs::Client, url: &str) -> Vec<Message> {
    client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap()
        .messages()
        .to_vec()
}

fn job_id_of(m: &Message) -> String {
    let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
    body["job_id"].as_str().unwrap().to_owned()
}

/// The Lambda event of `message`, as received from the queue `arn`.
fn event(message: &Message, arn: &str) -> SqsEvent {
    let mut record = sqs_record(message.message_id().unwrap(), message.body().unwrap(), arn);
    record.receipt_handle = message.receipt_handle().map(str::to_owned);
    record.aws_region = Some("us-east-1".into());
    let mut event = SqsEvent::default();
    event.records = vec![record];
    event
}

async fn run(agents: &AgentState, action: &str, input: Value) -> Accepted {
    submit_as_alice(agents, "buyer", action, input).await
}

/// Hands `message`, received from the queue `arn`, to the handler as a
/// one-record event with `left_ms` left: the message ids it asks SQS to
/// deliver again.
async fn invoke(worker: &WorkerState, message: &Message, arn: &str, left_ms: i64) -> Vec<String> {
    let event = LambdaEvent::new(event(message, arn), context(&*worker.clock, left_ms));
    let response = warden_agent_worker::handler(worker, event).await.unwrap();
    failed_ids(&response)
}

#[tokio::test]
async fn through_sqs_a_message_received_twice_runs_once_and_a_dead_letter_fails_its_job() {
    let Some(endpoint) = testing::aws_endpoint() else {
        return;
    };
    let sdk = testing::aws_config(&endpoint).await;
    let q = queues(aws_sdk_sqs::Client::new(&sdk)).await;
    let (store, _) = testing::dynamo_store().await.expect("the emulator runs");
    let store = Arc::new(store);
    let clock = Arc::new(ManualClock::starting_now());
    let jobs = Arc::new(SqsQueue::new(q.client.clone(), &q.jobs_url));
    let agents = testing::agent_state(store.clone(), store.clone(), jobs, clock.clone());
    let outbound = Arc::new(Outbound::default());
    let mut worker = testing::worker_state(store.clone(), outbound.clone(), clock.clone());
    worker.config.jobs_dlq_arn = Some(q.dlq_arn.clone());
    let cli = || Origin::Cli {
        operator: "test".into(),
    };
    testing::add_workspace(&agents, cli(), "acme", "Acme").await;
    let buyer = testing::new_agent("buyer", AgentType::Purchasing, Maturity::Autonomous, "acme");
    register_agent(&agents, cli(), buyer).await.unwrap();

    // 1. A purchase order, delivered twice: its delete was lost, say.
    // 10 x 1200 = 12_000 cents.
    let order = run(
        &agents,
        "submit_purchase_order",
        json!({"po_number": "PO-7", "vendor": "vendor-a", "currency": "USD",
               "lines": [{"sku": "SKU-1", "quantity": 10, "unit_price_cents": 1200}]}),
    )
    .await;
    assert_eq!(order.status, JobStatus::Pending);
    let first = receive(&q.client, &q.jobs_url).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(job_id_of(&first[0]), order.job_id);
    let failed = invoke(&worker, &first[0], &q.jobs_arn, 30_000).await;
    assert!(failed.is_empty(), "{failed:?}");

    let second = receive(&q.client, &q.jobs_url).await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(
        second[0].message_id(),
        first[0].message_id(),
        "the same message"
    );
    let failed = invoke(&worker, &second[0], &q.jobs_arn, 30_000).await;
    assert!(failed.is_empty(), "{failed:?}");

    let published = outbound.accepted();
    assert_eq!(published.len(), 1, "the action ran once: {published:?}");
    let job = store.get_job(&order.job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Success);
    assert_eq!(job.result.unwrap()["total_cents"], 12_000);
    // What the event source mapping does with a batch that did not fail.
    q.client
        .delete_message()
        .queue_url(&q.jobs_url)
        .receipt_handle(second[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();

    // 2. A comparison whose every invocation fails: each had too little
    // time left (the worker answers a batch item failure and leaves the job
    // PENDING), so after MAX_RECEIVES receives SQS moves it to the
    // dead-letter queue.
    let doomed = run(
        &agents,
        "compare_vendors",
        json!({"needs": [{"sku": "A", "quantity": 1}], "quotes": []}),
    )
    .await;
    for _ in 0..MAX_RECEIVES {
        let received = receive(&q.client, &q.jobs_url).await;
        assert_eq!(received.len(), 1, "{received:?}");
        assert_eq!(job_id_of(&received[0]), doomed.job_id);
        let id = received[0].message_id().unwrap().to_owned();
        let failed = invoke(&worker, &received[0], &q.jobs_arn, 1_000).await;
        assert_eq!(failed, vec![id]);
    }
    let job = store.get_job(&doomed.job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Pending);
    assert!(receive(&q.client, &q.jobs_url).await.is_empty());
    let dead = receive(&q.client, &q.dlq_url).await;
    assert_eq!(dead.len(), 1, "the redrive policy moved it: {dead:?}");
    assert_eq!(job_id_of(&dead[0]), doomed.job_id);
    let failed = invoke(&worker, &dead[0], &q.dlq_arn, 30_000).await;
    assert!(failed.is_empty(), "{failed:?}");
    let job = store.get_job(&doomed.job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.error.as_deref().unwrap().starts_with("dead-lettered"),
        "{:?}",
        job.error
    );
    assert_eq!(job.result, None);
    assert_eq!(outbound.accepted().len(), 1, "nothing more published");
}
