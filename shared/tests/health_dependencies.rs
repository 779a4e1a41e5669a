//! The health checks' `Dependencies` adapter through the real SDK: against
//! the emulator, what it reports of tables (with and without TTL), queue
//! depths and secrets, and `None` for each kind of missing resource;
//! against an endpoint that never answers, `Unavailable` within the guards.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use warden::Error;
use warden::aws::Guards;
use warden::aws::dependencies::AwsDependencies;
use warden::health::dependencies::{Dependencies, QueueInfo, TableInfo};
use warden::store::dynamo::tables::TTL_ATTRIBUTE;
use warden::testing::{self, HangingEndpoint};

/// The adapter and the SDK configuration it was built from, at the
/// emulator; `None` (a skip) when there is none.
async fn emulator() -> Option<(AwsDependencies, warden::aws::SdkConfig, String)> {
    let endpoint = testing::aws_endpoint()?;
    let sdk = testing::aws_config(&endpoint).await;
    Some((AwsDependencies::new(&sdk), sdk, endpoint))
}

/// Creates a table keyed on `id`, with TTL on [`TTL_ATTRIBUTE`] when `ttl`.
async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, ttl: bool) {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    if ttl {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

fn now_ms() -> i64 {
    use warden::clock::Clock as _;
    warden::clock::SystemClock.now_millis()
}

#[tokio::test]
async fn a_table_is_described_with_its_ttl_when_asked() {
    let Some((deps, sdk, _)) = emulator().await else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let prefix = testing::unique_prefix();
    let (expiring, plain) = (format!("{prefix}expiring"), format!("{prefix}plain"));
    create_table(&client, &expiring, true).await;
    create_table(&client, &plain, false).await;

    assert_eq!(
        deps.table(&expiring, true).await.unwrap(),
        Some(TableInfo {
            status: "ACTIVE".into(),
            ttl: Some(("ENABLED".into(), Some(TTL_ATTRIBUTE.into()))),
        })
    );
    assert_eq!(
        deps.table(&expiring, false).await.unwrap(),
        Some(TableInfo {
            status: "ACTIVE".into(),
            ttl: None,
        })
    );
    // DynamoDB answers DISABLED, with no attribute, for a table whose TTL
    // was never turned on.
    assert_eq!(
        deps.table(&plain, true).await.unwrap(),
        Some(TableInfo {
            status: "ACTIVE".into(),
            ttl: Some(("DISABLED".into(), None)),
        })
    );
}

#[tokio::test]
async fn a_missing_table_is_none_with_or_without_ttl() {
    let Some((deps, _, _)) = emulator().await else {
        return;
    };
    let name = format!("{}missing", testing::unique_prefix());
    assert_eq!(deps.table(&name, false).await.unwrap(), None);
    assert_eq!(deps.table(&name, true).await.unwrap(), None);
}

#[tokio::test]
async fn a_queue_reports_waiting_and_in_flight_messages() {
    let Some((deps, sdk, _)) = emulator().await else {
        return;
    };
    let client = aws_sdk_sqs::Client::new(&sdk);
    let url = testing::create_queue(
        &client,
        &format!("warden-health-{}", ulid::Ulid::new()),
        &[],
    )
    .await;
    assert_eq!(
        deps.queue(&url).await.unwrap(),
        Some(QueueInfo {
            visible: 0,
            in_flight: 0
        })
    );

    for i in 0..3 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("message {i}"))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        deps.queue(&url).await.unwrap(),
        Some(QueueInfo {
            visible: 3,
            in_flight: 0
        })
    );

    // Received and not deleted: in flight until its visibility timeout.
    let received = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .visibility_timeout(300)
        .send()
        .await
        .unwrap();
    assert_eq!(received.messages().len(), 1);
    assert_eq!(
        deps.queue(&url).await.unwrap(),
        Some(QueueInfo {
            visible: 2,
            in_flight: 1
        })
    );
}

#[tokio::test]
async fn a_missing_queue_is_none() {
    let Some((deps, _, endpoint)) = emulator().await else {
        return;
    };
    let url = format!(
        "{}/123456789012/warden-missing-{}",
        endpoint.trim_end_matches('/'),
        ulid::Ulid::new()
    );
    assert_eq!(deps.queue(&url).await.unwrap(), None);
}

#[tokio::test]
async fn a_secret_is_described_without_its_value_and_until_deleted() {
    let Some((deps, sdk, _)) = emulator().await else {
        return;
    };
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!("warden-health-{}", ulid::Ulid::new());
    let arn = testing::create_secret(&client, &name, "not-read-by-the-health-checks").await;

    for id in [&arn, &name] {
        let info = deps.secret(id).await.unwrap().unwrap();
        let created = info.created_ms.expect("a created date");
        assert!((now_ms() - created).abs() < 60_000, "created at {created}");
        assert!(!info.rotation_enabled);
        assert!(!info.scheduled_for_deletion);
    }

    client
        .delete_secret()
        .secret_id(&arn)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let info = deps.secret(&arn).await.unwrap().unwrap();
    assert!(info.scheduled_for_deletion, "{info:?}");

    let missing = format!("warden-health-missing-{}", ulid::Ulid::new());
    assert_eq!(deps.secret(&missing).await.unwrap(), None);
}

/// Guards that give up on a hung endpoint in about 300 ms, in one attempt:
/// each SDK call is then one connection to it.
const HUNG_GUARDS: Guards = Guards {
    connect_timeout: Duration::from_millis(100),
    attempt_timeout: Duration::from_millis(200),
    operation_timeout: Duration::from_millis(300),
    max_attempts: 1,
};

/// Far above the guards, far below a hang.
const BOUND: Duration = Duration::from_millis(1500);

/// Awaits `call`; asserts it failed `Unavailable` within [`BOUND`] after
/// `calls` new connections to `endpoint` (one per SDK call), and returns
/// the error chain.
async fn unavailable<T: std::fmt::Debug>(
    endpoint: &HangingEndpoint,
    calls: usize,
    call: impl std::future::Future<Output = warden::Result<T>>,
) -> String {
    let before = endpoint.connections();
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("still unanswered after 5 s");
    let elapsed = started.elapsed();
    let chain = match outcome {
        Err(e @ Error::Unavailable { .. }) => e.chain(),
        other => panic!("expected Unavailable, got {other:?}"),
    };
    assert!(elapsed < BOUND, "{chain}: took {elapsed:?}");
    assert_eq!(endpoint.connections() - before, calls, "{chain}");
    chain
}

#[tokio::test]
async fn every_description_fails_unavailable_when_aws_never_answers() {
    let endpoint = HangingEndpoint::start();
    let sdk = testing::aws_config_with(endpoint.url(), &HUNG_GUARDS).await;
    let deps = AwsDependencies::new(&sdk);

    let chain = unavailable(&endpoint, 1, deps.table("t-users", false)).await;
    assert!(chain.contains("DescribeTable t-users"), "{chain}");
    // DescribeTable and DescribeTimeToLive side by side: two connections,
    // and still one timeout's worth of waiting.
    // One after the other they could not end before twice the longest a
    // call can take (2 x 200 ms: one attempt, cut by its timeout).
    let started = Instant::now();
    let chain = unavailable(&endpoint, 2, deps.table("t-users", true)).await;
    assert!(chain.contains("t-users"), "{chain}");
    assert!(
        started.elapsed() < 2 * HUNG_GUARDS.call_worst_case(),
        "DescribeTable and DescribeTimeToLive ran in series: {:?}",
        started.elapsed()
    );
    let url = format!("{}/123456789012/jobs", endpoint.url());
    let chain = unavailable(&endpoint, 1, deps.queue(&url)).await;
    assert!(chain.contains("GetQueueAttributes"), "{chain}");
    let chain = unavailable(&endpoint, 1, deps.secret("warden/jwt")).await;
    assert!(chain.contains("DescribeSecret warden/jwt"), "{chain}");
}

/// Answers every request on a local port with SQS's JSON-protocol
/// `QueueDoesNotExist` error, without the `x-amzn-query-error` header that
/// would let the SDK map it to its modelled error; returns the URL.
async fn sqs_without_query_errors() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Read the head, then the body it announces.
                let mut request = Vec::new();
                let mut buf = [0_u8; 4096];
                let head_end = loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..head_end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap_or(0));
                while request.len() < head_end + length {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let body = r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#;
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_missing_queue_is_none_without_the_query_compatible_code_too() {
    let url = sqs_without_query_errors().await;
    let sdk = testing::aws_config_with(&url, &HUNG_GUARDS).await;
    let deps = AwsDependencies::new(&sdk);
    let queue = format!("{url}/123456789012/gone");
    assert_eq!(deps.queue(&queue).await.unwrap(), None);
}
