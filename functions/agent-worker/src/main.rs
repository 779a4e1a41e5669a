//! Lambda entry point: configuration, the store and the outbound queue once
//! per cold start, then the handler for every batch of job messages.

use lambda_runtime::{Error, run, service_fn};
use warden::wiring::{cold_start, worker};
use warden_agent_worker::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(worker).await?;
    run(service_fn(|event| handler(&state, event))).await
}
