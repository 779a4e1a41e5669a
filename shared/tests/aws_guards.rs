//! Every AWS adapter against dependencies that are up but do not answer
//! (or answer without progress): each call ends in `Error::Unavailable`
//! within the guards, and BatchGetItem's own retry loop within one
//! operation timeout.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warden::Error;
use warden::aws::Guards;
use warden::config::Config;
use warden::queue::{OutgoingMessage, Queue, SqsQueue};
use warden::secrets::SecretsManager;
use warden::store::dynamo::DynamoStore;
use warden::store::{DeliveryStore, SessionStore, Transactions, UserStore};
use warden::testing::{self, HangingEndpoint, SHORT_GUARDS};

/// Far above the short guards' 800 ms, far below a hang.
const BOUND: Duration = Duration::from_secs(3);

/// Awaits `call`, failing the test past [`BOUND`]; its error and how long
/// it took.
async fn unavailable_within_bound<T: std::fmt::Debug>(
    what: &str,
    call: impl Future<Output = warden::Result<T>>,
) -> (String, Duration) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(BOUND, call)
        .await
        .unwrap_or_else(|_| panic!("{what} still unanswered after {BOUND:?}"));
    let elapsed = started.elapsed();
    match outcome {
        Err(e @ Error::Unavailable { .. }) => (e.chain(), elapsed),
        other => panic!("{what}: expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn every_dynamodb_call_fails_unavailable_when_dynamodb_hangs() {
    let endpoint = HangingEndpoint::start();
    let sdk = testing::aws_config_with(endpoint.url(), &SHORT_GUARDS).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "t-");

    let (cause, _) = unavailable_within_bound(
        "GetItem",
        store.get_user(&warden::domain::Username::parse("alice").unwrap()),
    )
    .await;
    assert!(cause.contains("GetItem"), "{cause}");
    unavailable_within_bound("BatchGetItem", store.revocation_state("j", "s", "u")).await;
    unavailable_within_bound("Query", store.list_sessions("u", 0)).await;
    unavailable_within_bound("PutItem", store.claim_delivery("k", 0, 60)).await;
    unavailable_within_bound("DeleteItem", store.release_delivery("k", 0)).await;
    // A write that was sent and never answered may have been applied: it
    // says so, within the same bound.
    let started = Instant::now();
    let written = tokio::time::timeout(BOUND, store.transact(Vec::new()))
        .await
        .expect("answered within the bound");
    assert!(started.elapsed() < BOUND);
    assert!(
        matches!(&written, Err(Error::OutcomeUnknown { context, .. }) if context.starts_with("TransactWriteItems")),
        "{written:?}"
    );
    assert_eq!(
        written.unwrap_err().public_detail(),
        "outcome unknown",
        "settled by reading the object where no Idempotency-Key applies"
    );
    assert!(endpoint.connections() > 0);
}

#[tokio::test]
async fn a_write_to_a_port_where_nothing_listens_changed_nothing() {
    // A socket bound and never listening: connections to its port are
    // refused, and no other test (a hanging endpoint binding port 0) can
    // be given the port while it is held.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    // One attempt: with two, the retry's jittered backoff (up to a second)
    // can outlast the 800 ms operation timeout, and the SDK then reports a
    // timeout, which Warden conservatively calls outcome unknown although
    // nothing was sent. That made this test fail at random (about one run
    // in five); what it pins is the refused connection's own answer.
    let guards = Guards {
        max_attempts: 1,
        ..SHORT_GUARDS
    };
    let sdk = testing::aws_config_with(&format!("http://127.0.0.1:{port}"), &guards).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "t-");
    let (cause, _) =
        unavailable_within_bound("TransactWriteItems", store.transact(Vec::new())).await;
    assert!(cause.contains("TransactWriteItems"), "{cause}");
    drop(reserved);
}

#[tokio::test]
async fn sending_to_a_hung_sqs_fails_unavailable() {
    let endpoint = HangingEndpoint::start();
    let sdk = testing::aws_config_with(endpoint.url(), &SHORT_GUARDS).await;
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        &format!("{}/000000000000/events.fifo", endpoint.url()),
    );
    let message = OutgoingMessage {
        body: "{}".into(),
        group_id: "g".into(),
        deduplication_id: "d".into(),
    };
    let (cause, _) = unavailable_within_bound("SendMessage", queue.send(&message)).await;
    assert!(cause.contains("SendMessage"), "{cause}");
}

#[tokio::test]
async fn a_hung_aws_fails_the_cold_start_instead_of_hanging_it() {
    let endpoint = HangingEndpoint::start();
    let sdk = testing::aws_config_with(endpoint.url(), &SHORT_GUARDS).await;
    let secrets = SecretsManager::new(aws_sdk_secretsmanager::Client::new(&sdk));
    unavailable_within_bound("GetSecretValue", secrets.current("arn:pepper")).await;
    // The cold start reads the key set (DynamoDB) and the keys (KMS).

    let (config, findings) = Config::load(|k| match k {
        "WARDEN_ENV" => Some("staging".into()),
        "WARDEN_ISSUER" => Some("https://auth.example.com".into()),
        "WARDEN_SIGNING_KEY_ARN" => Some("arn:aws:kms:us-east-1:1:key/k".into()),
        _ => None,
    });
    assert!(!findings.has_errors(), "{findings:?}");
    let mut config = config.unwrap();
    config.aws = SHORT_GUARDS;
    let started = Instant::now();
    let outcome = tokio::time::timeout(BOUND, warden::wiring::auth_with(config, &sdk))
        .await
        .unwrap_or_else(|_| panic!("the cold start still running after {BOUND:?}"));
    assert!(
        matches!(outcome, Err(Error::Unavailable { .. })),
        "{:?}",
        outcome.err()
    );
    assert!(started.elapsed() < BOUND);
}

/// A DynamoDB stand-in that answers every BatchGetItem after `delay` with
/// all of its keys unprocessed, as a throttled table does.
async fn always_unprocessed(delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request: headers, then Content-Length bytes of body.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let request: serde_json::Value =
                        serde_json::from_slice(&buf[head_end..head_end + length])
                            .unwrap_or_default();
                    buf.drain(..head_end + length);
                    tokio::time::sleep(delay).await;
                    let body = serde_json::json!({
                        "Responses": {},
                        "UnprocessedKeys": request["RequestItems"],
                    })
                    .to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn batch_get_retries_of_unprocessed_keys_stop_at_the_operation_timeout() {
    // Each round answers in 200 ms, well inside the attempt timeout; five
    // rounds and the sleeps between them would take 1.15 s, over the
    // 800 ms operation timeout that bounds the loop as a whole.
    let guards = Guards {
        attempt_timeout: Duration::from_millis(600),
        max_attempts: 1,
        ..SHORT_GUARDS
    };
    let url = always_unprocessed(Duration::from_millis(200)).await;
    let sdk = testing::aws_config_with(&url, &guards).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "t-");

    let (cause, elapsed) =
        unavailable_within_bound("BatchGetItem", store.revocation_state("j", "s", "u")).await;

    assert!(cause.contains("did not finish within 800 ms"), "{cause}");
    assert!(
        elapsed < guards.operation_timeout + Duration::from_millis(300),
        "{elapsed:?}"
    );
}
