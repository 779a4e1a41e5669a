//! Lambda entry point: configuration, sources, the queue and the store once
//! per cold start, then the handler for every delivery. It never reads the
//! JWT key: intake needs none; a source without a secret, or no queue,
//! fails the init.

use lambda_http::{Error, run, service_fn};
use warden::wiring::{cold_start, webhooks};
use warden_webhook_receive::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(webhooks).await?;
    run(service_fn(|req| handler(&state, req))).await
}
