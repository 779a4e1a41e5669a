//! Lambda entry point: configuration and clients once per cold start, then
//! the handler for every request.

use lambda_http::{Error, run, service_fn};
use warden::config::Config;
use warden::state::AuthState;

#[tokio::main]
async fn main() -> Result<(), Error> {
    warden::logging::init_lambda();
    let state = AuthState::from_aws(Config::from_env()?).await?;
    let state = &state;
    run(service_fn(move |req| warden_revoke::handler(state, req))).await
}
