//! Lambda entry point: configuration, the store and the outbound queue once
//! per cold start, then the handler for every batch of job messages.

use lambda_runtime::{Error, run, service_fn};
use warden::config::Config;
use warden::state::WorkerState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    warden::logging::init_lambda();
    let state = WorkerState::from_aws(Config::from_env()?).await?;
    let state = &state;
    run(service_fn(move |event| {
        warden_agent_worker::handler(state, event)
    }))
    .await
}
