//! Lambda entry point: configuration, the signing keys, the API-key pepper,
//! the store and the jobs queue once per cold start (no pepper, no key, or
//! no queue fails the init), then the handler for every request.

use lambda_http::{Error, run, service_fn};
use warden::wiring::{agents, cold_start};
use warden_agent_run::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(agents).await?;
    run(service_fn(|req| handler(&state, req))).await
}
