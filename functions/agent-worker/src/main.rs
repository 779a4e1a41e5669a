//! Lambda entry point: configuration, the store and the queues once per
//! cold start, then every batch of job messages and every scheduled sweep.

use lambda_runtime::{Error, run, service_fn};
use warden::wiring::{cold_start, worker};
use warden_agent_worker::entry;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(worker).await?;
    run(service_fn(|event| entry(&state, event))).await
}
