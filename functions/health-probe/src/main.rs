//! Lambda entry point: configuration, clients and the webhook sources'
//! summaries once per cold start, then one probe run per scheduled event.

use lambda_runtime::{Error, run, service_fn};
use warden::wiring::{cold_start, health};
use warden_health_probe::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(health).await?;
    run(service_fn(|event| handler(&state, event))).await
}
