//! Lambda entry point: configuration, clients and the webhook sources'
//! summaries once per cold start, then one probe run per scheduled event.

use lambda_runtime::{Error, run, service_fn};
use warden::config::Config;
use warden::state::HealthState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    warden::logging::init_lambda();
    let state = HealthState::from_aws(Config::from_env()?).await?;
    let state = &state;
    run(service_fn(move |event| {
        warden_health_probe::handler(state, event)
    }))
    .await
}
