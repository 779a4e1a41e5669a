//! Lambda entry point: configuration, clients, the signing keys and the
//! webhook sources' summaries once per cold start, then the handler for
//! every request.

use lambda_http::{Error, run, service_fn};
use warden::wiring::{cold_start, security_health};
use warden_security_health::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let state = cold_start(security_health).await?;
    run(service_fn(|req| handler(&state, req))).await
}
