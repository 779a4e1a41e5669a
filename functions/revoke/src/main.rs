//! Lambda entry point: configuration and clients once per cold start, then the handler for
//! every request.

use lambda_http::{Error, run, service_fn};
use warden::wiring::{auth, cold_start};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(auth).await?;
    run(service_fn(|req| warden_revoke::handler(&state, req))).await
}
