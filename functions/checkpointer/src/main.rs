//! Lambda entry point: the checkpointer (its key's public half, its
//! clients) once per cold start, then one run per scheduled event.

use lambda_runtime::{Error, run, service_fn};
use warden::wiring::{checkpointer, cold_start};
use warden_checkpointer::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let checkpointer = cold_start(checkpointer).await?;
    run(service_fn(|event| {
        handler(&checkpointer, &warden::clock::SystemClock, event)
    }))
    .await
}
