//! Lambda entry point: the configuration once per cold start (an insecure
//! one fails the init, as in every function), then the handler for every
//! request. The console reads no table, secret or key: its role has no
//! permission beyond its logs.

use lambda_http::{Error, run, service_fn};
use warden::config::Config;
use warden_console::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    warden::logging::init_lambda();
    let config = Config::from_env()?;
    run(service_fn(|req| handler(&config, req))).await
}
