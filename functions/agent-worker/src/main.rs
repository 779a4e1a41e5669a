//! Lambda entry point: configuration, the store and the outbound queue once
//! per cold start, then the handler for every batch of job messages.

use lambda_runtime::{Error, run, service_fn};
use warden::wiring::{cold_start, worker};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(worker).await?;
    run(service_fn(|event| {
        warden_agent_worker::handler(&state, event)
    }))
    .await
}
