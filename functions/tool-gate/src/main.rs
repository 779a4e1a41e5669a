//! Lambda entry point: configuration and clients once per cold start, then
//! the interceptor for every gateway request.

use lambda_runtime::{Error, run, service_fn};
use warden::wiring::{cold_start, tool_gate};
use warden_tool_gate::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(tool_gate).await?;
    run(service_fn(|event| handler(&state, event))).await
}
