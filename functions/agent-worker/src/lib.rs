//! The `agent-worker` Lambda: consumes the jobs queue (and its dead-letter
//! queue) and answers with the messages to deliver again
//! (`ReportBatchItemFailures`), so one failed job does not redeliver its
//! whole batch.
//!
//! Each record is handed to [`warden::agents::worker::process`] with the
//! invocation's deadline; a record whose `eventSourceARN` is the
//! configured dead-letter queue (`WARDEN_JOBS_DLQ_ARN`) is a dead letter.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use warden::agents::worker::{Processed, Source, process};
use warden::state::WorkerState;

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
