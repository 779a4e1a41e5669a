//! The worker behind the real SQS API (the emulator of `infra/test.sh`):
//! runs are queued by the run use case through [`SqsQueue`], received with
//! ReceiveMessage as the Lambda event source mapping would, and handed to
//! the Lambda handler as SQS events. A message received twice runs once; a
//! message the queue's redrive policy moved to the dead-letter queue ends
//! its job `FAILED`. Skipped without the emulator (a failure with
//! `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use lambda_runtime::{Context, LambdaEvent};
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::agents::registry::{NewAgent, add_workspace, register_agent};
use warden::agents::run::{Accepted, Caller, RunRequest, submit};
use warden::audit::Origin;
use warden::auth::api_keys::Pepper;
use warden::clock::{Clock, ManualClock};
use warden::domain::Role;
use warden::domain::agents::{AgentId, AgentType, JobStatus, Maturity, WorkspaceId};
use warden::queue::{OutgoingMessage, Queue, SqsQueue};
use warden::state::{AgentState, WorkerState};
use warden::store::AgentStore;
use warden::testing::{self, TEST_PEPPER};

/// An outbound queue that keeps every message it is sent, duplicates
/// included.
#[derive(Default)]
struct Outbound(Mutex<Vec<OutgoingMessage>>);

#[async_trait]
impl Queue for Outbound {
    async fn send(&self, message: &OutgoingMessage) -> warden::Result<()> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

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
    let dlq_url = client
        .create_queue()
        .queue_name(format!("jobs-dlq-{name}"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let dlq_arn = arn_of(&client, &dlq_url).await;
    let redrive =
        json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES.to_string()});
    let jobs_url = client
        .create_queue()
        .queue_name(format!("jobs-{name}"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
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

/// The Lambda event of `messages`, as received from the queue `arn`.
fn event(messages: &[&Message], arn: &str) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id().map(str::to_owned);
            record.receipt_handle = m.receipt_handle().map(str::to_owned);
            record.body = m.body().map(str::to_owned);
            record.event_source_arn = Some(arn.to_owned());
            record.event_source = Some("aws:sqs".into());
            record.aws_region = Some("us-east-1".into());
            record
        })
        .collect();
    event
}

/// An invocation context with `left_ms` until its deadline.
fn context(clock: &dyn Clock, left_ms: i64) -> Context {
    let mut context = Context::default();
    context.request_id = ulid::Ulid::new().to_string();
    context.deadline = u64::try_from(clock.now_millis() + left_ms).unwrap();
    context
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

async fn run(agents: &AgentState, action: &str, input: Value) -> Accepted {
    let body = json!({"workspace_id": "acme", "action": action, "input": input});
    submit(
        agents,
        Origin::Cli {
            operator: "test".into(),
        },
        &Caller::User {
            user_id: "alice".into(),
            roles: vec![Role::User],
        },
        "buyer",
        RunRequest {
            workspace_id: "acme".into(),
            action: action.into(),
            input,
        },
        &body,
        None,
    )
    .await
    .unwrap()
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
    let keys = warden::testing::test_keys();
    let pepper = Pepper::new(&SecretString::from(TEST_PEPPER)).unwrap();
    let agents = AgentState::new(
        testing::config(),
        store.clone(),
        store.clone(),
        &keys,
        pepper,
        Arc::new(SqsQueue::new(q.client.clone(), &q.jobs_url)),
        clock.clone(),
    )
    .unwrap();
    let outbound = Arc::new(Outbound::default());
    let mut config = testing::config();
    config.jobs_dlq_arn = Some(q.dlq_arn.clone());
    let worker = WorkerState::new(config, store.clone(), outbound.clone(), clock.clone());
    let cli = || Origin::Cli {
        operator: "test".into(),
    };
    add_workspace(&agents, cli(), WorkspaceId::parse("acme").unwrap(), "Acme")
        .await
        .unwrap();
    register_agent(
        &agents,
        cli(),
        NewAgent {
            agent_id: AgentId::parse("buyer").unwrap(),
            agent_type: AgentType::Purchasing,
            maturity: Maturity::Autonomous,
            workspaces: vec![WorkspaceId::parse("acme").unwrap()],
            enabled: true,
        },
    )
    .await
    .unwrap();

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
    let response = warden_agent_worker::handler(
        &worker,
        LambdaEvent::new(event(&[&first[0]], &q.jobs_arn), context(&*clock, 30_000)),
    )
    .await
    .unwrap();
    assert!(failed_ids(&response).is_empty(), "{response:?}");

    let second = receive(&q.client, &q.jobs_url).await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(
        second[0].message_id(),
        first[0].message_id(),
        "the same message"
    );
    let response = warden_agent_worker::handler(
        &worker,
        LambdaEvent::new(event(&[&second[0]], &q.jobs_arn), context(&*clock, 30_000)),
    )
    .await
    .unwrap();
    assert!(failed_ids(&response).is_empty(), "{response:?}");

    let published = outbound.0.lock().unwrap().clone();
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
        let response = warden_agent_worker::handler(
            &worker,
            LambdaEvent::new(event(&[&received[0]], &q.jobs_arn), context(&*clock, 1_000)),
        )
        .await
        .unwrap();
        assert_eq!(failed_ids(&response), vec![id]);
    }
    let job = store.get_job(&doomed.job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Pending);
    assert!(receive(&q.client, &q.jobs_url).await.is_empty());
    let dead = receive(&q.client, &q.dlq_url).await;
    assert_eq!(dead.len(), 1, "the redrive policy moved it: {dead:?}");
    assert_eq!(job_id_of(&dead[0]), doomed.job_id);
    let response = warden_agent_worker::handler(
        &worker,
        LambdaEvent::new(event(&[&dead[0]], &q.dlq_arn), context(&*clock, 30_000)),
    )
    .await
    .unwrap();
    assert!(failed_ids(&response).is_empty(), "{response:?}");
    let job = store.get_job(&doomed.job_id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.error.as_deref().unwrap().starts_with("dead-lettered"),
        "{:?}",
        job.error
    );
    assert_eq!(job.result, None);
    assert_eq!(
        outbound.0.lock().unwrap().len(),
        1,
        "nothing more published"
    );
}
