//! Test support, compiled only with the `testing` feature: DynamoDB stores
//! on fresh tables in the emulator that `infra/test.sh` starts, ready
//! states, the API Gateway request every handler test sends, and
//! [`on_both_stores!`](crate::on_both_stores) to run one check on both
//! adapters. (Audit outages are injected by
//! [`MemoryStore::simulate_audit_outage`](crate::store::memory::MemoryStore::simulate_audit_outage)
//! on the memory store, and by deleting the audit table on DynamoDB.) It
//! also gives an endpoint that accepts connections and never answers.
//!
//! The set-ups tests share follow: queues, secrets and deleted tables in
//! the emulator; a call against a hung DynamoDB ([`on_a_hung_dynamodb`]);
//! [`Intercepted`], a store that passes every call through but for the
//! hooks a test sets; and the agent states, agents and workspaces the
//! agent tests start from ([`agent_state`], [`worker_state`],
//! [`new_agent`], [`add_workspace`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext as LambdaContext;
use lambda_http::{Body, Request, RequestExt, Response};
use secrecy::SecretString;

use crate::auth::api_keys::Pepper;
use crate::auth::jwt::AccessTokens;
use crate::auth::signing::LocalSigner;
use crate::aws::Guards;
use crate::clock::Clock;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::queue::MemoryQueue;
use crate::queue::Queue;
use crate::state::{AgentState, AuthState, WebhookState, WorkerState};
use crate::store::dynamo::{DynamoStore, tables};
use crate::store::{AuthStore, RegistryStore, WebhookStore, WorkerStore};
use crate::webhook::Sources;

/// The RSA private keys of the tests (PEM, PKCS#8; `shared/testdata/`):
/// the first signs test states' tokens, the others are "another key".
/// Never used outside tests.
pub const TEST_SIGNING_KEYS: [&str; 3] = [
    include_str!("../testdata/test-signing-key-1.pem"),
    include_str!("../testdata/test-signing-key-2.pem"),
    include_str!("../testdata/test-signing-key-3.pem"),
];

/// The file of [`TEST_SIGNING_KEYS`]`[0]`, for `WARDEN_SIGNING_KEY_FILE`
/// (the black-box tests' `warden serve`).
pub const TEST_SIGNING_KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/test-signing-key-1.pem"
);

/// The ARN-like name test states sign with ([`TEST_SIGNING_KEYS`]`[0]`).
pub const TEST_KEY_ARN: &str = "local:test-1";

/// A signer holding every test key, the first as [`TEST_KEY_ARN`], the
/// others as `local:test-2` and `local:test-3`.
pub fn test_signer() -> Arc<LocalSigner> {
    let mut signer = LocalSigner::new();
    for (i, pem) in TEST_SIGNING_KEYS.iter().enumerate() {
        signer
            .add_pem(&format!("local:test-{}", i + 1), pem)
            .unwrap_or_else(|e| panic!("test key {i}: {e}"));
    }
    Arc::new(signer)
}

/// The ARN-like name test states sign decision tokens with
/// ([`TEST_SIGNING_KEYS`]`[2]`: never the access-token key).
pub const TEST_DECISION_KEY_ARN: &str = "local:test-3";

/// The file of [`TEST_SIGNING_KEYS`]`[2]`, for `WARDEN_DECISION_KEY_FILE`
/// (the black-box tests' `warden serve`).
pub const TEST_DECISION_KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/test-signing-key-3.pem"
);

/// Decision tokens for `config`'s issuer, signed by [`TEST_DECISION_KEY_ARN`].
pub fn decisions_for(config: &Config) -> Arc<crate::agents::decision::DecisionTokens> {
    Arc::new(
        crate::agents::decision::DecisionTokens::local(
            test_signer(),
            TEST_DECISION_KEY_ARN,
            &config.issuer,
        )
        .unwrap_or_else(|e| panic!("test decision tokens: {e}")),
    )
}

/// Access tokens for `config`, signed for ever by [`TEST_KEY_ARN`]: every
/// test state built from the same configuration verifies the others'
/// tokens.
pub fn tokens_for(config: &Config) -> AccessTokens {
    AccessTokens::local(config, test_signer(), TEST_KEY_ARN)
        .unwrap_or_else(|e| panic!("test tokens: {e}"))
}

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

/// A DynamoDB-backed state at `endpoint` with [`config`] and `guards`,
/// its tokens signed by the test key.
pub async fn aws_state(endpoint: &str, guards: Guards) -> AuthState {
    let mut config = config();
    config.aws = guards;
    let sdk = aws_config_with(endpoint, &config.aws).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_prefix);
    let tokens = tokens_for(&config);
    AuthState::new(
        config,
        Arc::new(store),
        tokens,
        Arc::new(crate::clock::SystemClock),
    )
    .unwrap_or_else(|e| panic!("state at {endpoint}: {e}"))
}

/// A KMS signing key on the emulator at `endpoint`, made as `template.yaml`
/// makes the stack's: `RSA_2048`, `SIGN_VERIFY`, tagged `warden:signing`,
/// with a key policy (which moto stores but does not enforce). Its ARN.
pub async fn create_signing_key(endpoint: &str) -> String {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
    let kms = aws_sdk_kms::Client::new(&aws_config(endpoint).await);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Sign","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/login"},"Action":"kms:Sign","Resource":"*"}]}"#;
    let tag = Tag::builder()
        .tag_key("warden:signing")
        .tag_value("warden-tests")
        .build()
        .unwrap_or_else(|e| panic!("a tag: {e}"));
    let created = kms
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .policy(policy)
        .tags(tag)
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating a KMS key: {e:?}"));
    created
        .key_metadata
        .and_then(|m| m.arn)
        .unwrap_or_else(|| panic!("KMS CreateKey answered no ARN"))
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

/// A log written to memory, to read back what a format layer wrote
/// ([`capture_logs`]).
#[derive(Debug, Clone, Default)]
pub struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// Logs this thread's events, every level, as a Lambda function does
/// ([`crate::logging::lambda_layer`]: JSON lines when `json`, else text)
/// into the buffer returned, until the guard is dropped. A
/// `#[tokio::test]` runs on one thread, so it sees the whole test.
pub fn capture_logs(json: bool) -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    use tracing_subscriber::layer::SubscriberExt as _;
    let buffer = LogBuffer::default();
    let subscriber =
        tracing_subscriber::registry().with(crate::logging::lambda_layer(json, buffer.clone()));
    (buffer, tracing::subscriber::set_default(subscriber))
}

/// A development configuration with the floor argon2 parameters.
pub fn config() -> Config {
    let (config, findings) = Config::load(|k| match k {
        "WARDEN_ENV" => Some("development".into()),
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
    let tokens = tokens_for(&config);
    AuthState::new(config, store, tokens, clock).unwrap_or_else(|e| panic!("test state: {e}"))
}

/// The token endpoint's state over `store` (the login function's): an
/// auth state that also takes API keys (the registry over the same store,
/// [`TEST_PEPPER`]), as `POST /auth/token` and introspection by key need.
pub fn token_endpoint_state<S>(store: Arc<S>, clock: Arc<dyn Clock>) -> AuthState
where
    S: AuthStore + RegistryStore + 'static,
{
    let registry = crate::state::Registry::new(config(), store.clone(), clock.clone());
    state(store, clock).with_api_keys(crate::state::ApiKeys {
        registry,
        pepper: test_pepper(),
    })
}

/// An agent acting for a person: registers agent `agent_id` (enabled,
/// `AUTONOMOUS`, allowed in `workspaces`, which must exist) through
/// `keys`' registry, creates its key with scope `tools:call` for user
/// `for_user` (an id), and exchanges `subject` (the person's access token)
/// for a delegated token. Returns the token and the key (as sent).
pub async fn delegate(
    keys: &AuthState,
    agent_id: &str,
    workspaces: &[&str],
    for_user: &str,
    subject: &str,
) -> (String, String) {
    use crate::domain::agents::{AgentId, AgentType, KeyOwner, Maturity, WorkspaceId};
    let api_keys = keys
        .api_keys
        .as_ref()
        .unwrap_or_else(|| panic!("delegate needs token_endpoint_state"));
    let origin = crate::audit::Origin::Cli {
        operator: "test".into(),
    };
    let agent = AgentId::parse(agent_id).unwrap_or_else(|e| panic!("agent {agent_id}: {e}"));
    crate::agents::registry::register_agent(
        &api_keys.registry,
        origin.clone(),
        crate::agents::registry::NewAgent {
            agent_id: agent.clone(),
            agent_type: AgentType::Accounting,
            maturity: Maturity::Autonomous,
            workspaces: workspaces
                .iter()
                .map(|w| WorkspaceId::parse(w).unwrap_or_else(|e| panic!("{w}: {e}")))
                .collect(),
            enabled: true,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("registering agent {agent_id}: {e}"));
    let key = crate::auth::api_keys::create_key(
        &api_keys.registry,
        &api_keys.pepper,
        origin.clone(),
        crate::auth::api_keys::KeySpec {
            owner: KeyOwner::Agent(agent),
            scopes: vec![crate::auth::api_keys::SCOPE_TOOLS_CALL.into()],
            expires_at: None,
            // High enough for benchmarks' loops of exchanges.
            rate_limit_per_hour: Some(100_000_000),
            created_by: Some(for_user.to_owned()),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("creating a key for {agent_id}: {e}"));
    let key = secrecy::ExposeSecret::expose_secret(&key.key).to_owned();
    let token = exchange(keys, subject, &key)
        .await
        .unwrap_or_else(|e| panic!("exchanging a token for {agent_id}: {e}"));
    (token, key)
}

/// `POST /auth/token` with `subject` and the actor key `key`, default
/// scope: the delegated access token.
pub async fn exchange(keys: &AuthState, subject: &str, key: &str) -> crate::Result<String> {
    use crate::auth::delegation::{
        ACCESS_TOKEN_TYPE, API_KEY_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, exchange,
    };
    let form: Vec<(String, String)> = [
        ("grant_type", TOKEN_EXCHANGE_GRANT),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
        ("actor_token", key),
        ("actor_token_type", API_KEY_TOKEN_TYPE),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let origin = crate::http::RequestContext::for_tests("127.0.0.1").origin();
    exchange(keys, &origin, &form).await.map(|r| r.access_token)
}

/// A webhook state over `store` with [`config`], the given sources and
/// queue, and `clock`.
pub fn webhook_state(
    store: Arc<dyn WebhookStore>,
    sources: Sources,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> WebhookState {
    WebhookState::new(
        config(),
        store,
        crate::secrets::cache::CachedSecret::fixed(sources),
        queue,
        clock,
    )
}

/// The API-key pepper of test states.
pub const TEST_PEPPER: &str = "test-api-key-pepper-0123456789abcdef0123";

/// [`TEST_PEPPER`], ready.
pub fn test_pepper() -> Pepper {
    Pepper::new(&SecretString::from(TEST_PEPPER)).unwrap_or_else(|e| panic!("test pepper: {e}"))
}

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
        let agents = agent_state(store.clone(), store.clone(), jobs.clone(), clock.clone());
        let worker = worker_state(store.clone(), outbound.clone(), clock.clone());
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
/// the top of the test file. `async $make` awaits the maker
/// (`on_both_stores!(async harness; ...)`).
#[macro_export]
macro_rules! on_both_stores {
    // A maker that is async (`harness(store).await`).
    (async $make:expr; $($check:ident),* $(,)?) => {
        mod memory {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let store = std::sync::Arc::new($crate::store::memory::MemoryStore::new());
                    super::$check($make(store).await).await;
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
                        super::$check($make(std::sync::Arc::new(store)).await).await;
                    }
                }
            )*
        }
    };
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

/// Creates the emulator queue `name` with `attributes` (a FIFO flag, a
/// redrive policy) and returns its URL.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(aws_sdk_sqs::types::QueueAttributeName, &str)],
) -> String {
    let mut request = client.create_queue().queue_name(name);
    for (attribute, value) in attributes {
        request = request.attributes(attribute.clone(), *value);
    }
    let created = request.send().await;
    let created = created.unwrap_or_else(|e| panic!("creating queue {name}: {e}"));
    created
        .queue_url
        .unwrap_or_else(|| panic!("queue {name} has no URL"))
}

/// Creates the emulator secret `name` holding `value` and returns its ARN.
pub async fn create_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &str,
) -> String {
    let request = client.create_secret().name(name).secret_string(value);
    let created = request.send().await;
    let created = created.unwrap_or_else(|e| panic!("creating secret {name}: {e}"));
    created
        .arn
        .unwrap_or_else(|| panic!("secret {name} has no ARN"))
}

/// How long a call against a hung dependency may take with the default
/// guards: their worst case for a request, and a second.
pub fn default_guards_bound() -> Duration {
    Guards::default().request_worst_case() + Duration::from_secs(1)
}

/// Calls a handler with `call` on an auth state whose DynamoDB (guarded by
/// `guards`) accepts connections and never answers: the timed reply (the
/// test fails, instead of hanging, when `what` is unanswered after
/// `bound`) and the endpoint, to count the connections it took.
pub async fn on_a_hung_dynamodb<E: std::fmt::Debug>(
    what: &str,
    guards: Guards,
    bound: Duration,
    call: impl AsyncFnOnce(&AuthState) -> std::result::Result<Response<Body>, E>,
) -> (TimedReply, HangingEndpoint) {
    let endpoint = HangingEndpoint::start();
    let state = aws_state(endpoint.url(), guards).await;
    let reply = answer_within(what, bound, call(&state)).await;
    (reply, endpoint)
}

/// Prints what `what` against a hung `endpoint` took (for the measurements
/// run with `--ignored --nocapture`), after asserting it was a `503`.
pub fn report_measurement(what: &str, reply: &TimedReply, endpoint: &HangingEndpoint) {
    assert_eq!(reply.status, http::StatusCode::SERVICE_UNAVAILABLE);
    println!(
        "{what}, default guards {}: {} after {:?} ({} connections)",
        serde_json::to_string(&Guards::default()).unwrap_or_default(),
        reply.status,
        reply.elapsed,
        endpoint.connections()
    );
}

/// What an [`Intercepted`] store does around some of the calls it passes
/// through. Every method does nothing by default: a test writes only the
/// one it needs (a race made deterministic, a read that fails, a count of
/// reads).
#[async_trait::async_trait]
pub trait Interceptor: Send + Sync {
    /// Before a transaction is passed on; an error refuses it, unapplied.
    async fn before_transact(&self, _writes: &[crate::store::Write]) -> crate::Result<()> {
        Ok(())
    }

    /// After a transaction of `writes` was passed on, `applied` being what
    /// the store answered. What this returns is the caller's answer: a
    /// test turns a committed write into an `outcome unknown`, as a lost
    /// answer would.
    async fn after_transact(
        &self,
        _writes: &[crate::store::Write],
        applied: crate::Result<()>,
    ) -> crate::Result<()> {
        applied
    }

    /// After a read of API key `key_id` found `read`; an error is the
    /// read's answer instead.
    async fn after_get_api_key(
        &self,
        _key_id: &str,
        _read: Option<&crate::domain::agents::ApiKeyRecord>,
    ) -> crate::Result<()> {
        Ok(())
    }

    /// Before the worker's read of job `job_id` and its agent; an error is
    /// the read's answer instead.
    async fn before_job_and_agent(&self, _job_id: &str) -> crate::Result<()> {
        Ok(())
    }

    /// After that read, before its answer is returned.
    async fn after_job_and_agent(&self, _job_id: &str) {}

    /// Before a read of the health samples of `day`.
    async fn before_samples_on(&self, _day: i64) {}
}

/// A store in front of `inner` that passes every call through to it, with
/// `hooks` acting around some of them (see [`Interceptor`]). It has the
/// ports of agents, API keys, health samples, audit and transactions, so
/// it is the `RegistryStore`, `WorkerStore` or `HealthStore` its `inner`
/// is.
pub struct Intercepted<S: ?Sized, H> {
    /// Where every call goes.
    pub inner: Arc<S>,
    /// What happens around the calls.
    pub hooks: H,
}

impl<S: ?Sized, H> Intercepted<S, H> {
    /// `inner` behind `hooks`.
    pub fn new(inner: Arc<S>, hooks: H) -> Self {
        Self { inner, hooks }
    }
}

mod intercepted {
    //! [`Intercepted`]'s pass-through, one port at a time.

    use async_trait::async_trait;

    use super::{Intercepted, Interceptor};
    use crate::Result;
    use crate::audit::AuditEvent;
    use crate::domain::agents::{
        AgentId, AgentRecord, ApiKeyRecord, IdempotencyRecord, JobRecord, JobStatus,
        ProposalRecord, ProposalStatus, WorkspaceId, WorkspaceRecord,
    };
    use crate::health::Sample;
    use crate::store::{
        AgentStore, ApiKeyStore, AuditQuery, AuditStore, HealthSampleStore, Page, RateLimitStore,
        RunContext, RunLookup, TatOutcome, TatWrite, Transactions, Write,
    };

    #[async_trait]
    impl<S: Transactions + ?Sized, H: Interceptor> Transactions for Intercepted<S, H> {
        async fn transact(&self, writes: Vec<Write>) -> Result<()> {
            self.hooks.before_transact(&writes).await?;
            let sent = writes.clone();
            let applied = self.inner.transact(writes).await;
            self.hooks.after_transact(&sent, applied).await
        }
    }

    #[async_trait]
    impl<S: RateLimitStore + ?Sized, H: Interceptor> RateLimitStore for Intercepted<S, H> {
        async fn update_tat(
            &self,
            key: &str,
            write: TatWrite,
            expires_at: i64,
        ) -> Result<TatOutcome> {
            self.inner.update_tat(key, write, expires_at).await
        }
    }

    #[async_trait]
    impl<S: AuditStore + ?Sized, H: Interceptor> AuditStore for Intercepted<S, H> {
        async fn audit_by_actor(&self, actor: &str, limit: usize) -> Result<Vec<AuditEvent>> {
            self.inner.audit_by_actor(actor, limit).await
        }
        async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
            self.inner.query_audit(query).await
        }
        async fn ledger_events(
            &self,
            since_millis: i64,
            until_millis: i64,
        ) -> Result<Vec<crate::store::LedgerEvent>> {
            self.inner.ledger_events(since_millis, until_millis).await
        }
    }

    #[async_trait]
    impl<S: AgentStore + ?Sized, H: Interceptor> AgentStore for Intercepted<S, H> {
        async fn get_agent(&self, agent_id: &AgentId) -> Result<Option<AgentRecord>> {
            self.inner.get_agent(agent_id).await
        }
        async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
            self.inner.list_agents().await
        }
        async fn get_workspace(&self, id: &WorkspaceId) -> Result<Option<WorkspaceRecord>> {
            self.inner.get_workspace(id).await
        }
        async fn run_context(&self, lookup: RunLookup<'_>) -> Result<RunContext> {
            self.inner.run_context(lookup).await
        }
        async fn get_idempotency(&self, key: &str, now: i64) -> Result<Option<IdempotencyRecord>> {
            self.inner.get_idempotency(key, now).await
        }
        async fn get_job(&self, job_id: &str) -> Result<Option<JobRecord>> {
            self.inner.get_job(job_id).await
        }
        async fn due_jobs(&self, now_ms: i64, limit: usize) -> Result<Vec<JobRecord>> {
            self.inner.due_jobs(now_ms, limit).await
        }
        async fn job_and_agent(
            &self,
            job_id: &str,
            agent_id: &AgentId,
        ) -> Result<(Option<JobRecord>, Option<AgentRecord>)> {
            self.hooks.before_job_and_agent(job_id).await?;
            let read = self.inner.job_and_agent(job_id, agent_id).await;
            self.hooks.after_job_and_agent(job_id).await;
            read
        }
        async fn list_jobs(
            &self,
            workspace_id: &WorkspaceId,
            status: Option<JobStatus>,
            limit: usize,
            after: Option<&str>,
        ) -> Result<Page<JobRecord>> {
            self.inner
                .list_jobs(workspace_id, status, limit, after)
                .await
        }
        async fn get_proposal(&self, proposal_id: &str) -> Result<Option<ProposalRecord>> {
            self.inner.get_proposal(proposal_id).await
        }
        async fn list_proposals(
            &self,
            status: ProposalStatus,
            limit: usize,
            after: Option<&str>,
        ) -> Result<Page<ProposalRecord>> {
            self.inner.list_proposals(status, limit, after).await
        }
    }

    #[async_trait]
    impl<S: crate::store::ToolStore + ?Sized, H: Interceptor> crate::store::ToolStore
        for Intercepted<S, H>
    {
        async fn tool_call_context(
            &self,
            lookup: crate::store::ToolCallLookup<'_>,
        ) -> Result<crate::store::ToolCallContext> {
            self.inner.tool_call_context(lookup).await
        }
        async fn get_tool(
            &self,
            name: &crate::domain::tools::ToolName,
        ) -> Result<Option<crate::domain::tools::ToolRecord>> {
            self.inner.get_tool(name).await
        }
        async fn list_tools(&self) -> Result<Vec<crate::domain::tools::ToolRecord>> {
            self.inner.list_tools().await
        }
        async fn get_tool_call(
            &self,
            call_id: &str,
        ) -> Result<Option<crate::domain::tools::ToolCallRecord>> {
            self.inner.get_tool_call(call_id).await
        }
        async fn get_exact_call(
            &self,
            key: &str,
        ) -> Result<Option<crate::domain::tools::ExactCallRecord>> {
            self.inner.get_exact_call(key).await
        }
        async fn get_tool_idempotency(
            &self,
            key: &str,
            now: i64,
        ) -> Result<Option<crate::domain::tools::ToolIdempotencyRecord>> {
            self.inner.get_tool_idempotency(key, now).await
        }
        async fn list_tool_calls(
            &self,
            workspace_id: &WorkspaceId,
            status: Option<crate::domain::tools::ToolCallStatus>,
            limit: usize,
            after: Option<&str>,
        ) -> Result<Page<crate::domain::tools::ToolCallRecord>> {
            self.inner
                .list_tool_calls(workspace_id, status, limit, after)
                .await
        }
    }

    #[async_trait]
    impl<S: ApiKeyStore + ?Sized, H: Interceptor> ApiKeyStore for Intercepted<S, H> {
        async fn get_api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>> {
            let read = self.inner.get_api_key(key_id).await?;
            self.hooks.after_get_api_key(key_id, read.as_ref()).await?;
            Ok(read)
        }
        async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
            self.inner.list_api_keys().await
        }
        async fn record_key_use(
            &self,
            id: &str,
            limit: crate::domain::agents::KeyLimit,
            write: TatWrite,
            now: i64,
        ) -> Result<TatOutcome> {
            self.inner.record_key_use(id, limit, write, now).await
        }
    }

    #[async_trait]
    impl<S: HealthSampleStore + ?Sized, H: Interceptor> HealthSampleStore for Intercepted<S, H> {
        async fn samples_on(&self, day: i64) -> Result<Vec<Sample>> {
            self.hooks.before_samples_on(day).await;
            self.inner.samples_on(day).await
        }
        async fn latest_sample(&self, day: i64) -> Result<Option<Sample>> {
            self.inner.latest_sample(day).await
        }
    }
}

/// An agent-run state over `registry` and `sessions` with [`config`], the
/// test signing keys and [`TEST_PEPPER`], queueing jobs on `jobs`.
pub fn agent_state(
    registry: Arc<dyn RegistryStore>,
    sessions: Arc<dyn crate::store::SessionStore>,
    jobs: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> AgentState {
    let config = config();
    let tokens = tokens_for(&config);
    let decisions = decisions_for(&config);
    AgentState::new(
        config,
        registry,
        sessions,
        tokens,
        test_pepper(),
        jobs,
        clock,
    )
    .with_decisions(decisions)
}

/// A worker state over `store` with [`config`] and the real catalogue,
/// publishing external effects to `outbound`.
pub fn worker_state(
    store: Arc<dyn WorkerStore>,
    outbound: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> WorkerState {
    WorkerState::new(config(), store, outbound, clock)
}

/// An enabled agent `agent_id` of `agent_type` at `maturity`, allowed in
/// `workspace` (both ids must parse), for
/// [`register_agent`](crate::agents::registry::register_agent).
pub fn new_agent(
    agent_id: &str,
    agent_type: crate::domain::agents::AgentType,
    maturity: crate::domain::agents::Maturity,
    workspace: &str,
) -> crate::agents::registry::NewAgent {
    use crate::domain::agents::{AgentId, WorkspaceId};
    crate::agents::registry::NewAgent {
        agent_id: AgentId::parse(agent_id).unwrap_or_else(|e| panic!("agent {agent_id}: {e}")),
        agent_type,
        maturity,
        workspaces: vec![
            WorkspaceId::parse(workspace).unwrap_or_else(|e| panic!("workspace {workspace}: {e}")),
        ],
        enabled: true,
    }
}

/// Adds workspace `id` named `name` through the registry, as `origin`.
pub async fn add_workspace(
    agents: &AgentState,
    origin: crate::audit::Origin,
    id: &str,
    name: &str,
) {
    let workspace_id = crate::domain::agents::WorkspaceId::parse(id)
        .unwrap_or_else(|e| panic!("workspace {id}: {e}"));
    crate::agents::registry::add_workspace(agents, origin, workspace_id, name)
        .await
        .unwrap_or_else(|e| panic!("adding workspace {id}: {e}"));
}

/// [`dynamo_store`], shared, with a client of its own for reaching past
/// the store (reading raw items, deleting a table), and the tables'
/// prefix; `None` when there is no emulator.
pub async fn dynamo_store_and_client()
-> Option<(Arc<DynamoStore>, aws_sdk_dynamodb::Client, String)> {
    let (store, prefix) = dynamo_store().await?;
    let client = store.client().clone();
    Some((Arc::new(store), client, prefix))
}

/// The names of a health report's checks, in the report's order (the
/// report must have checks, each with a name).
pub fn check_names(report: &serde_json::Value) -> Vec<&str> {
    let checks = report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in {report}"));
    checks
        .iter()
        .map(|c| {
            c["name"]
                .as_str()
                .unwrap_or_else(|| panic!("a check without a name: {c}"))
        })
        .collect()
}
