//! Lambda entry point: configuration, clients, sources and the queue once
//! per cold start, then the handler for every delivery.

use lambda_http::{run, service_fn, Error};
use warden::config::Config;
use warden::state::AppState;
use warden::webhook::Intake;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = warden::aws::sdk_config(&config.aws, None).await;
    // A source without a secret, or no queue, fails the init: no serving.
    let intake = Intake::from_aws(&config, &aws).await?;
    let state = AppState::with_aws(config, &aws).await?;
    let (state, intake) = (&state, &intake);
    run(service_fn(move |req| {
        warden_webhook_receive::handler(state, intake, req)
    }))
    .await
}
