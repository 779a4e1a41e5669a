//! Test support, compiled only with the `testing` feature: DynamoDB stores
//! on fresh tables in the emulator that `infra/test.sh` starts, ready
//! states, the API Gateway request every handler test sends, and
//! [`on_both_stores!`](crate::on_both_stores) to run one check on both
//! adapters. (Audit outages are injected by
//! [`MemoryStore::simulate_audit_outage`](crate::store::memory::MemoryStore::simulate_audit_outage)
//! on the memory store, and by deleting the audit table on DynamoDB.) It
//! also gives an endpoint that accepts connections and never answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext as LambdaContext;
use lambda_http::{Body, Request, RequestExt, Response};
use secrecy::SecretString;

use crate::auth::api_keys::Pepper;
use crate::aws::Guards;
use crate::clock::Clock;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::queue::MemoryQueue;
use crate::queue::Queue;
use crate::secrets::SecretVersion;
use crate::state::{AgentState, AuthState, WebhookState, WorkerState};
use crate::store::dynamo::{DynamoStore, tables};
use crate::store::{AuthStore, RegistryStore, WebhookStore, WorkerStore};
use crate::webhook::Sources;

/// The signing key of test states.
pub const TEST_JWT_KEY: &str = "test-signing-key-0123456789abcdef0123456789";

/// The emulator endpoint exported by `infra/test.sh`. `None` outside it,
/// unless `WARDEN_REQUIRE_AWS_TESTS=1`, which makes a missing endpoint a
/// failure instead of a skip.
pub fn aws_endpoint() -> Option<String> {
    let endpoint = std::env::var("WARDEN_TEST_AWS_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    if endpoint.is_none() && std::env::var("WARDEN_REQUIRE_AWS_TESTS").as_deref() == Ok("1") {
        panic!(
            "WARDEN_REQUIRE_AWS_TESTS=1 but WARDEN_TEST_AWS_ENDPOINT is not set; run ./infra/test.sh"
        );
    }
    if endpoint.is_none() {
        eprintln!("skipping: no DynamoDB emulator (run ./infra/test.sh)");
    }
    endpoint
}

/// Guards for the emulator: one Python process serving every test at once
/// answers far slower than DynamoDB does, and a test must not fail because
/// the machine is busy. The code under test is the same.
pub const EMULATOR_GUARDS: Guards = Guards {
    connect_timeout: Duration::from_secs(3),
    attempt_timeout: Duration::from_secs(20),
    operation_timeout: Duration::from_secs(28),
    max_attempts: 3,
};

/// Guards short enough that a test against a [`HangingEndpoint`] ends in
/// about a second.
pub const SHORT_GUARDS: Guards = Guards {
    connect_timeout: Duration::from_millis(200),
    attempt_timeout: Duration::from_millis(300),
    operation_timeout: Duration::from_millis(800),
    max_attempts: 2,
};

/// An SDK configuration for the emulator at `endpoint`, with the dummy
/// credentials `infra/test.sh` exports (or the same defaults).
pub async fn aws_config(endpoint: &str) -> crate::aws::SdkConfig {
    aws_config_with(endpoint, &EMULATOR_GUARDS).await
}

/// [`aws_config`] with the given guards: the production configuration
/// ([`crate::aws::builder`]) with a fixed region and dummy credentials.
pub async fn aws_config_with(endpoint: &str, guards: &Guards) -> crate::aws::SdkConfig {
    let credentials =
        aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "warden-tests");
    crate::aws::builder(guards, Some(endpoint))
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            credentials,
        ))
        .build()
}

/// A DynamoDB-backed state (the production [`AuthState::with_aws`]) at
/// `endpoint` with [`config`] and `guards`.
pub async fn aws_state(endpoint: &str, guards: Guards) -> AuthState {
    let mut config = config();
    config.aws = guards;
    let sdk = aws_config_with(endpoint, &config.aws).await;
    AuthState::with_aws(config, &sdk)
        .await
        .unwrap_or_else(|e| panic!("state at {endpoint}: {e}"))
}

/// A TCP endpoint on 127.0.0.1 that accepts every connection, keeps it
/// open and never answers: a dependency that is up but hung. Stops (and
/// closes its connections) when dropped.
#[derive(Debug)]
pub struct HangingEndpoint {
    url: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl HangingEndpoint {
    /// Binds a free port and starts accepting on a thread of its own, so it
    /// answers (by not answering) whatever runtime the test uses.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("binding the hanging endpoint: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("hanging endpoint: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("hanging endpoint: {e}"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            // Held, never read or written: the peer waits for an answer.
            let mut open = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        open.push(stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url: format!("http://{addr}"),
            accepted,
            stop,
        }
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many connections it has accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for HangingEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A table prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("t{}-", ulid::Ulid::new().to_string().to_lowercase())
}

/// Every table created under a fresh prefix in the emulator: its endpoint
/// and the prefix, for a local API or CLI run on DynamoDB; `None` when
/// there is no emulator (see [`aws_endpoint`]).
pub async fn emulator_tables() -> Option<(String, String)> {
    let endpoint = aws_endpoint()?;
    let prefix = unique_prefix();
    let aws = aws_config(&endpoint).await;
    if let Err(e) = tables::create_all(&aws_sdk_dynamodb::Client::new(&aws), &prefix).await {
        panic!("creating test tables at {endpoint}: {e}");
    }
    Some((endpoint, prefix))
}

/// A DynamoDB store on freshly created tables in the emulator, with its
/// table prefix; `None` when there is no emulator (see [`aws_endpoint`]).
pub async fn dynamo_store() -> Option<(DynamoStore, String)> {
    dynamo_store_with_log()
        .await
        .map(|(store, prefix, _)| (store, prefix))
}

/// Like [`dynamo_store`], with a log of every DynamoDB request the store
/// sends (retries included): the round trips an operation costs.
pub async fn dynamo_store_with_log() -> Option<(DynamoStore, String, CallLog)> {
    let endpoint = aws_endpoint()?;
    let log = CallLog::default();
    let sdk = aws_config(&endpoint).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(log.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let prefix = unique_prefix();
    if let Err(e) = tables::create_all(&client, &prefix).await {
        panic!("creating test tables at {endpoint}: {e}");
    }
    log.take();
    Some((DynamoStore::new(client, &prefix), prefix, log))
}

/// Records the operation of every DynamoDB request sent (`GetItem`,
/// `BatchGetItem`, ...).
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<std::sync::Mutex<Vec<String>>>);

impl CallLog {
    /// The operations recorded since the last call, in order.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl aws_sdk_dynamodb::config::Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(target);
        Ok(())
    }
}

/// The signing key set of test states: [`TEST_JWT_KEY`], current.
pub fn test_keys() -> [SecretVersion; 1] {
    [SecretVersion {
        version_id: "test".into(),
        value: SecretString::from(TEST_JWT_KEY),
        current: true,
    }]
}

/// A development configuration with the floor argon2 parameters.
pub fn config() -> Config {
    let (config, findings) = Config::load(|k| match k {
        "WARDEN_ENV" => Some("development".into()),
        "WARDEN_JWT_SECRET" => Some(TEST_JWT_KEY.into()),
        _ => None,
    });
    assert!(!findings.has_errors(), "{findings:?}");
    config.unwrap_or_else(|| panic!("test configuration did not load"))
}

/// An auth state over `store` with [`config`] and `clock`.
pub fn state(store: Arc<dyn AuthStore>, clock: Arc<dyn Clock>) -> AuthState {
    state_with(config(), store, clock)
}

/// An auth state over `store` with the given configuration and clock.
pub fn state_with(config: Config, store: Arc<dyn AuthStore>, clock: Arc<dyn Clock>) -> AuthState {
    let keys = test_keys();
    AuthState::new(config, store, &keys, clock).unwrap_or_else(|e| panic!("test state: {e}"))
}

/// A webhook state over `store` with [`config`], the given sources and
/// queue, and `clock`.
pub fn webhook_state(
    store: Arc<dyn WebhookStore>,
    sources: Sources,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> WebhookState {
    WebhookState {
        config: config(),
        store,
        sources: crate::secrets::cache::CachedSecret::fixed(sources),
        queue,
        clock,
    }
}

/// The API-key pepper of test states.
pub const TEST_PEPPER: &str = "test-api-key-pepper-0123456789abcdef0123";

/// Every state of the agent half over one store, with in-memory queues and
/// a manual clock: what agent-run and agent-worker tests drive. The jobs
/// queue keeps what was sent; [`AgentWorld::work`] hands each new message
/// to the worker, as SQS would.
pub struct AgentWorld {
    /// Logins (to get bearer tokens), users.
    pub auth: AuthState,
    /// Agent runs, proposals, the registry.
    pub agents: AgentState,
    /// The job worker.
    pub worker: WorkerState,
    /// The jobs queue.
    pub jobs: Arc<MemoryQueue>,
    /// The outbound queue.
    pub outbound: Arc<MemoryQueue>,
    /// The clock every state reads.
    pub clock: Arc<ManualClock>,
    worked: AtomicUsize,
}

impl AgentWorld {
    /// The states over `store`.
    pub fn over<S>(store: Arc<S>) -> Self
    where
        S: AuthStore + RegistryStore + WorkerStore + 'static,
    {
        let clock = Arc::new(ManualClock::starting_now());
        let jobs = Arc::new(MemoryQueue::new());
        let outbound = Arc::new(MemoryQueue::new());
        let keys = test_keys();
        let pepper = Pepper::new(&SecretString::from(TEST_PEPPER))
            .unwrap_or_else(|e| panic!("test pepper: {e}"));
        let agents = AgentState::new(
            config(),
            store.clone(),
            store.clone(),
            &keys,
            pepper,
            jobs.clone(),
            clock.clone(),
        )
        .unwrap_or_else(|e| panic!("test agent state: {e}"));
        let worker = WorkerState {
            config: config(),
            store: store.clone(),
            outbound: outbound.clone(),
            catalogue: crate::agents::catalogue::catalogue(),
            clock: clock.clone(),
        };
        Self {
            auth: state(store, clock.clone()),
            agents,
            worker,
            jobs,
            outbound,
            clock,
            worked: AtomicUsize::new(0),
        }
    }

    /// Hands every job message not yet worked on to the worker, once each,
    /// and returns what it did.
    pub async fn work(&self) -> Vec<crate::agents::worker::Processed> {
        let messages = self.jobs.messages();
        let start = self.worked.swap(messages.len(), Ordering::SeqCst);
        let mut out = Vec::new();
        for (i, m) in messages.iter().enumerate().skip(start) {
            let deadline = self.clock.now_millis() + 30_000;
            let processed = crate::agents::worker::process(
                &self.worker,
                &format!("message-{i}"),
                &m.body,
                crate::agents::worker::Source::Jobs,
                deadline,
            )
            .await
            .unwrap_or_else(|e| panic!("the worker failed on message {i}: {e}"));
            out.push(processed);
        }
        out
    }
}

/// The request API Gateway (HTTP API, payload 2.0) would deliver: `method`
/// and `path`, the `headers`, the `body`, and a request context carrying
/// the client IP `ip` and a fresh request id.
pub fn api_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
    ip: &str,
) -> Request {
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(ulid::Ulid::new().to_string());
    context.http.source_ip = Some(ip.to_owned());
    context.http.method = method.parse().unwrap_or(http::Method::GET);
    context.http.path = Some(path.to_owned());
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(body.into())
        .unwrap_or_else(|e| panic!("building a test request: {e}"))
        .with_request_context(LambdaContext::ApiGatewayV2(context))
}

/// A response's body as JSON (`Null` when empty).
pub fn json_body(response: &Response<Body>) -> serde_json::Value {
    let bytes: &[u8] = response.body().as_ref();
    if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {bytes:?}"))
    }
}

/// Runs each named check on the memory store and, when the emulator runs,
/// on DynamoDB. `$make` turns an `Arc` of the store into what the checks
/// take (a test harness); the checks are `async fn check(h: Harness)` at
/// the top of the test file.
#[macro_export]
macro_rules! on_both_stores {
    ($make:expr; $($check:ident),* $(,)?) => {
        mod memory {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let store = std::sync::Arc::new($crate::store::memory::MemoryStore::new());
                    super::$check($make(store)).await;
                }
            )*
        }
        mod dynamodb {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some((store, _)) = $crate::testing::dynamo_store().await {
                        super::$check($make(std::sync::Arc::new(store))).await;
                    }
                }
            )*
        }
    };
}

/// A handler's answer, timed: what the slow-dependency tests check.
#[derive(Debug)]
pub struct TimedReply {
    /// The status.
    pub status: http::StatusCode,
    /// The `content-type` header (empty when absent).
    pub content_type: String,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: serde_json::Value,
    /// How long the handler took.
    pub elapsed: std::time::Duration,
}

/// Runs a handler call, failing the test (instead of hanging it) when
/// `what` is still unanswered after `bound`.
pub async fn answer_within<E: std::fmt::Debug>(
    what: &str,
    bound: std::time::Duration,
    call: impl std::future::Future<Output = std::result::Result<Response<Body>, E>>,
) -> TimedReply {
    let started = std::time::Instant::now();
    let response = tokio::time::timeout(bound, call)
        .await
        .unwrap_or_else(|_| panic!("{what} still unanswered after {bound:?}"))
        .unwrap_or_else(|e| panic!("{what}: the handler failed: {e:?}"));
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    TimedReply {
        status: response.status(),
        content_type,
        body,
        elapsed: started.elapsed(),
    }
}

/// Asserts that `reply` is a `503` problem document that came within
/// `bound`, after reaching `endpoint`.
pub fn assert_unavailable_within(
    reply: &TimedReply,
    bound: std::time::Duration,
    endpoint: &HangingEndpoint,
) {
    assert_eq!(
        reply.status,
        http::StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(reply.body["status"], 503, "{}", reply.body);
    assert!(
        endpoint.connections() > 0,
        "the request never reached the endpoint"
    );
    assert!(reply.elapsed < bound, "{:?}", reply.elapsed);
}

/// Deletes the emulator table `name` (e.g.
/// `tables::AUDIT_LOG.name(&prefix)`): a store one of whose tables is gone,
/// as in an outage or a broken deployment.
pub async fn delete_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    client
        .delete_table()
        .table_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("deleting table {name}: {e}"));
}
