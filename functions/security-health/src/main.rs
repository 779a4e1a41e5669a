//! Lambda entry point: configuration, clients, the signing keys and the
//! webhook sources' summaries once per cold start, then the handler for
//! every request.

use lambda_http::{Error, run, service_fn};
use warden::config::Config;
use warden::state::SecurityHealthState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    warden::logging::init_lambda();
    let state = SecurityHealthState::from_aws(Config::from_env()?).await?;
    let state = &state;
    run(service_fn(move |req| {
        warden_security_health::handler(state, req)
    }))
    .await
}
