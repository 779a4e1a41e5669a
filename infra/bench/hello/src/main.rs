//! A hello-world `lambda_runtime` function: answers every event (an API
//! Gateway HTTP API request included) with a fixed `200` JSON response.
//! The baseline `infra/coldstart.py` and `infra/bench/sizes.sh` compare
//! Warden's functions with.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

async fn hello(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({
        "statusCode": 200,
        "headers": { "content-type": "application/json" },
        "body": "{\"hello\":\"world\"}"
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
