//! Lambda entry point: configuration, sources, the queue and the store once
//! per cold start, then the handler for every delivery. It never reads the
//! JWT key: intake needs none.

use lambda_http::{Error, run, service_fn};
use warden::config::Config;
use warden::state::WebhookState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    warden::logging::init_lambda();
    // A source without a secret, or no queue, fails the init: no serving.
    let state = WebhookState::from_aws(Config::from_env()?).await?;
    let state = &state;
    run(service_fn(move |req| {
        warden_webhook_receive::handler(state, req)
    }))
    .await
}
