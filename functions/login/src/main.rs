//! Lambda entry point: configuration and clients once per cold start, then
//! the handler for every request (`POST /auth/login`, `POST /auth/refresh`).

use lambda_http::{Error, run, service_fn};
use warden::wiring::{auth, cold_start};
use warden_login::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(auth).await?;
    run(service_fn(|req| handler(&state, req))).await
}
