//! Lambda entry point: configuration, the signing keys, the API-key pepper,
//! the store and the jobs queue once per cold start, then the handler for
//! every request.

use lambda_http::{Error, run, service_fn};
use warden::config::Config;
use warden::state::AgentState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    warden::logging::init_lambda();
    // No pepper, no key, or no queue fails the init: no serving.
    let state = AgentState::from_aws(Config::from_env()?).await?;
    let state = &state;
    run(service_fn(move |req| warden_agent_run::handler(state, req))).await
}
