//! Lambda entry point: configuration and clients once per cold start, then
//! the authorizer for every request.

use lambda_runtime::{Error, run, service_fn};
use warden::wiring::{auth, cold_start};
use warden_authorizer::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(auth).await?;
    run(service_fn(|event| handler(&state, event))).await
}
