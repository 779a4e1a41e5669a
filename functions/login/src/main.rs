//! Lambda entry point: configuration and clients once per cold start, then
//! the handler for every request (login, refresh, discovery, introspection).

use lambda_http::{Error, run, service_fn};
use warden::wiring::{cold_start, login};
use warden_login::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(login).await?;
    run(service_fn(|req| handler(&state, req))).await
}
