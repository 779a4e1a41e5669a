//! The `agent-worker` Lambda: consumes the jobs queue (and its dead-letter
//! queue) and answers with the messages to deliver again
//! (`ReportBatchItemFailures`), so one failed job does not redeliver its
//! whole batch.
//!
//! Each record is handed to [`warden::agents::worker::process`] with the
//! invocation's deadline; a record whose `eventSourceARN` is the
//! configured dead-letter queue (`WARDEN_JOBS_DLQ_ARN`) is a dead letter.
//!
//! The same function is invoked once a minute by an EventBridge schedule:
//! that event (no `Records`) runs the sweeper
//! ([`warden::agents::sweeper::sweep`]), which ends or re-queues the jobs
//! whose lease has passed. The worker owns the jobs' ends, and already
//! holds every grant the sweep needs but sending to the jobs queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use warden::agents::sweeper::sweep;
use warden::agents::worker::{Processed, Source, process};
use warden::state::WorkerState;

/// Answers either event this function receives: a batch of job messages
/// (`Records`), or the sweeper's schedule (anything else).
pub async fn entry(
    state: &WorkerState,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let LambdaEvent { payload, context } = event;
    if payload.get("Records").is_some() {
        let batch: SqsEvent = serde_json::from_value(payload)?;
        let response = handler(state, LambdaEvent::new(batch, context)).await?;
        return Ok(serde_json::to_value(response)?);
    }
    let jobs = state
        .jobs
        .as_deref()
        .ok_or("the sweep needs WARDEN_JOBS_QUEUE_URL")?;
    let swept = sweep(state, jobs).await.map_err(|e| e.chain())?;
    Ok(serde_json::json!({
        "interrupted": swept.interrupted,
        "requeued": swept.requeued,
        "abandoned": swept.abandoned,
        "failed": swept.failed,
    }))
}

/// Processes a batch; every record that failed is reported for redelivery.
#[tracing::instrument(skip_all, fields(request_id = %event.context.request_id))]
pub async fn handler(
    state: &WorkerState,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.unwrap_or_default();
        let source = match (&record.event_source_arn, &state.config.jobs_dlq_arn) {
            (Some(from), Some(dlq)) if from == dlq => Source::DeadLetter,
            _ => Source::Jobs,
        };
        let body = record.body.unwrap_or_default();
        match process(state, &id, &body, source, deadline_ms).await {
            Ok(processed) => {
                if !matches!(processed, Processed::Ran(_)) {
                    tracing::info!(message_id = %id, outcome = ?processed, "job message handled");
                }
            }
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e.chain(), "job message failed; SQS will deliver it again");
                response.add_failure(id);
            }
        }
    }
    Ok(response)
}
