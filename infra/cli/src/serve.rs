//! `warden serve`: the whole API on one local listener.
//!
//! Each request is turned into the same `lambda_http::Request` that API
//! Gateway would deliver (with an HTTP API request context carrying the
//! client IP and a request id), handed to the function's own handler, and
//! its response sent back. The handlers cannot tell the difference.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext as LambdaContext;
use lambda_http::{Body, RequestExt};
use rand::RngCore as _;
use secrecy::SecretString;
use tokio::net::TcpListener;
use warden::Error;
use warden::agents::decision::DecisionTokens;
use warden::agents::sweeper::{SWEEP_INTERVAL, sweep};
use warden::agents::worker::drain_local;
use warden::auth::jwt::AccessTokens;
use warden::auth::pepper::Pepper;
use warden::auth::signing::LocalSigner;
use warden::aws::Guards;
use warden::aws::dependencies::AwsDependencies;
use warden::clock::SystemClock;
use warden::config::{Config, Environment};
use warden::health::inventory::{Inventory, WebhookInventory};
use warden::health::probe::{minute_of, probe};
use warden::http::{RequestContext, Responder, Route};
use warden::queue::{ChannelQueue, MemoryQueue, Queue, SqsQueue};
use warden::secrets::SecretsManager;
use warden::secrets::cache::CachedSecret;
use warden::state::{
    AgentState, ApiKeys, AuthState, HealthState, Registry, SecurityHealthState, WebhookState,
    WorkerState,
};
use warden::store::dynamo::DynamoStore;
use warden::store::memory::MemoryStore;
use warden::store::{AuthStore, HealthStore, RegistryStore, WebhookStore, WorkerStore};
use warden::webhook::{SourceConfig, Sources};
use warden::wiring::api_key_pepper;

/// The largest body `warden serve` reads; each endpoint has its own,
/// smaller limit (API Gateway's payload cap plays this role in AWS).
const MAX_LOCAL_BODY: usize = 1024 * 1024;

/// Which function serves a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `functions/login`.
    Login,
    /// `functions/revoke`.
    Revoke,
    /// `functions/webhook-receive`.
    WebhookReceive,
    /// `functions/agent-run`.
    AgentRun,
    /// `functions/security-health`.
    SecurityHealth,
    /// `functions/console`.
    Console,
}

impl Function {
    /// Every HTTP function, with its binary's name in `template.yaml`.
    pub const ALL: [(Function, &'static str); 6] = [
        (Function::Login, "login"),
        (Function::Revoke, "revoke"),
        (Function::WebhookReceive, "webhook-receive"),
        (Function::AgentRun, "agent-run"),
        (Function::SecurityHealth, "security-health"),
        (Function::Console, "console"),
    ];

    /// The function crate's route table.
    fn table(self) -> &'static dyn RouteTable {
        match self {
            Function::Login => &warden_login::ROUTES,
            Function::Revoke => &warden_revoke::ROUTES,
            Function::WebhookReceive => &warden_webhook_receive::ROUTES,
            Function::AgentRun => &warden_agent_run::ROUTES,
            Function::SecurityHealth => &warden_security_health::ROUTES,
            Function::Console => &warden_console::ROUTES,
        }
    }

    /// The method and path of each route the function's crate exports.
    pub fn routes(self) -> Vec<(&'static str, &'static str)> {
        self.table().methods_and_paths()
    }
}

/// A function's route table, whatever its endpoint type: what `warden
/// serve` needs of it to dispatch a request and to list its routes.
trait RouteTable: Sync {
    /// Whether a route serves `path` (with any method).
    fn serves(&self, path: &str) -> bool;
    /// Each route's method and path template.
    fn methods_and_paths(&self) -> Vec<(&'static str, &'static str)>;
}

impl<E: Sync> RouteTable for &[Route<E>] {
    fn serves(&self, path: &str) -> bool {
        self.iter().any(|r| r.matches(path))
    }

    fn methods_and_paths(&self) -> Vec<(&'static str, &'static str)> {
        self.iter().map(|r| (r.method, r.path)).collect()
    }
}

/// The function that serves `path` (with any method: the function itself
/// answers `405` for a method it does not serve), as `template.yaml` routes it.
pub fn route(path: &str) -> Option<Function> {
    Function::ALL
        .iter()
        .map(|(f, _)| *f)
        .find(|f| f.table().serves(path))
}

/// Reads the configuration for local serving: like a Lambda's, except that
/// an unset `WARDEN_ENV` means development.
pub fn local_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let (config, findings) = Config::load(|k| match (k, lookup(k)) {
        ("WARDEN_ENV", None) => Some("development".into()),
        (_, v) => v,
    });
    findings.into_result()?;
    config.ok_or_else(|| Error::Config("configuration could not be read".into()))
}

/// An AWS SDK configuration for an operator: aws-config's default chain
/// (environment, profiles, web identity, IMDS) for credentials and region,
/// on the functions' HTTPS client and the configured timeouts, pointed at
/// `endpoint` when given (a local emulator).
pub async fn aws_config(guards: &Guards, endpoint: Option<&str>) -> warden::aws::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(warden::aws::https_client())
        .timeout_config(guards.timeout_config())
        .retry_config(guards.retry_config());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Both adapters, as one object that can serve as every state's store
/// (each state takes it as its own port, by trait upcasting).
trait Store: AuthStore + WebhookStore + RegistryStore + WorkerStore + HealthStore {}

impl<T: AuthStore + WebhookStore + RegistryStore + WorkerStore + HealthStore> Store for T {}

/// Every state of `warden serve`, over one store.
#[derive(Debug, Clone)]
pub struct States {
    /// Login, revocation.
    pub auth: Arc<AuthState>,
    /// Webhook intake.
    pub webhooks: Arc<WebhookState>,
    /// Agent runs and proposals.
    pub agents: Arc<AgentState>,
    /// The job worker (in process, unless jobs go to SQS).
    pub worker: Arc<WorkerState>,
    /// The security health reports (and the probe, run on a timer).
    pub health: Arc<SecurityHealthState>,
    /// What the in-process worker published to the outbound queue, when
    /// `WARDEN_OUTBOUND_QUEUE_URL` is unset.
    pub outbound: Arc<MemoryQueue>,
    /// The audit ledger's checkpointer (run on a timer,
    /// [`crate::ledger::start_checkpointer`]).
    pub checkpointer: Arc<warden::audit::checkpointer::Checkpointer>,
}

/// The name development's signing key goes by in the key set.
pub const LOCAL_KEY_ARN: &str = "local:warden-serve";

/// Development's signer: the RSA key in `WARDEN_SIGNING_KEY_FILE` (PEM), or
/// a 2048-bit key generated for this process (every access token dies with
/// it; refresh tokens on `--dynamodb-endpoint` outlive it). Outside
/// development there is no local key: the configuration refuses the file.
pub fn local_signer(config: &Config) -> Result<Arc<LocalSigner>, Error> {
    let pem = match &config.signing_key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "WARDEN_SIGNING_KEY_FILE {path} cannot be read: {e}"
            ))
        })?,
        None => generate_key_pem()?,
    };
    let decision_pem = match &config.decision_key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "WARDEN_DECISION_KEY_FILE {path} cannot be read: {e}"
            ))
        })?,
        None => generate_key_pem()?,
    };
    let mut signer = LocalSigner::new();
    signer.add_pem(LOCAL_KEY_ARN, &pem)?;
    signer.add_pem(LOCAL_DECISION_KEY_ARN, &decision_pem)?;
    Ok(Arc::new(signer))
}

/// The name development's decision key goes by: a second key (from
/// `WARDEN_DECISION_KEY_FILE`, or generated per start), never the
/// access-token key.
pub const LOCAL_DECISION_KEY_ARN: &str = "local:warden-decision";

/// A new 2048-bit RSA private key, PKCS#8 PEM.
fn generate_key_pem() -> Result<String, Error> {
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| Error::internal(format!("generating an RSA key: {e}")))?;
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| Error::internal(format!("encoding an RSA key: {e}")))?;
    Ok(pem.to_string())
}

/// Builds the states: the embedded store, or DynamoDB at
/// `dynamodb_endpoint`; a local signing key ([`local_signer`]) and the
/// API-key pepper as the configuration says; the seed file's webhook sources, and the SQS queue
/// at `WARDEN_EVENTS_QUEUE_URL` when set (through the emulator endpoint, if
/// any), else an in-process queue. Jobs go to SQS at
/// `WARDEN_JOBS_QUEUE_URL` when set; otherwise to an in-process queue that
/// a worker task drains, so a run reaches `SUCCESS` locally. A webhook
/// source without a secret refuses start-up.
pub async fn build_states(
    config: Config,
    sources: Vec<SourceConfig>,
    dynamodb_endpoint: Option<&str>,
    data_dir: Option<&std::path::Path>,
) -> Result<States, Error> {
    let sources = Sources::new(sources)?;
    let webhook_inventory = WebhookInventory::from_sources(&sources);
    let needs_aws = dynamodb_endpoint.is_some()
        || config.api_key_pepper_arn.is_some()
        || config.events_queue_url.is_some()
        || config.jobs_queue_url.is_some()
        || config.outbound_queue_url.is_some();
    let aws = if needs_aws {
        Some(aws_config(&config.aws, dynamodb_endpoint).await)
    } else {
        None
    };
    let sqs = |url: &Option<String>| -> Option<SqsQueue> {
        match (url, &aws) {
            (Some(url), Some(aws)) => Some(SqsQueue::new(aws_sdk_sqs::Client::new(aws), url)),
            _ => None,
        }
    };
    let queue: Arc<dyn Queue> = match sqs(&config.events_queue_url) {
        Some(q) => Arc::new(q),
        None => Arc::new(MemoryQueue::new()),
    };
    let secrets = aws
        .as_ref()
        .map(|aws| SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws)));
    let signer = local_signer(&config)?;
    let tokens = || AccessTokens::local(&config, signer.clone(), LOCAL_KEY_ARN);
    let pepper = match (dynamodb_endpoint, &aws) {
        // Keys in tables that outlive this process need a pepper that does
        // too, the one `warden apikeys create --endpoint` uses.
        (Some(endpoint), Some(aws)) if !pepper_configured(&config) => {
            let name = endpoint_pepper_name(&config.table_prefix);
            tracing::info!(
                "API-key pepper: secret {name} at {endpoint} (`warden apikeys create --endpoint {endpoint}` uses it too)"
            );
            Pepper::new(&endpoint_pepper(aws, &config.table_prefix).await?)?
        }
        _ => api_key_pepper(&config, secrets.as_ref().map(|s| s as _)).await?,
    };
    if config.env != Environment::Development {
        tracing::warn!("warden serve is running with WARDEN_ENV={:?}", config.env);
    }
    // One store behind every state, as one set of tables serves every
    // function in AWS.
    // Every audit event is sealed with the MAC key, as the functions seal
    // theirs; and the checkpointer runs in process, as its schedule runs it.
    let endpoint_aws = dynamodb_endpoint.and(aws.as_ref());
    let mac = crate::ledger::mac_key(&config, endpoint_aws, aws.as_ref(), true)
        .await?
        .ok_or_else(|| Error::internal("no audit MAC key"))?;
    let (store, checkpointer): (Arc<dyn Store>, _) = match (dynamodb_endpoint, &aws) {
        (Some(_), Some(aws)) => {
            let store = Arc::new(
                DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_prefix)
                    .with_audit_mac(mac),
            );
            let checkpointer = crate::ledger::local_checkpointer(&config, store.clone(), data_dir)?;
            (store, checkpointer)
        }
        _ => {
            let store = Arc::new(MemoryStore::new().with_audit_mac(mac));
            let checkpointer = crate::ledger::local_checkpointer(&config, store.clone(), data_dir)?;
            (store, checkpointer)
        }
    };
    let clock = Arc::new(SystemClock);
    let outbound = Arc::new(MemoryQueue::new());
    let worker = Arc::new(WorkerState::new(
        config.clone(),
        store.clone(),
        match sqs(&config.outbound_queue_url) {
            Some(q) => Arc::new(q),
            None => outbound.clone(),
        },
        clock.clone(),
    ));
    let jobs: Arc<dyn Queue> = match sqs(&config.jobs_queue_url) {
        Some(q) => Arc::new(q),
        None => {
            let (queue, messages) = ChannelQueue::new();
            tokio::spawn(drain_local(worker.clone(), messages));
            Arc::new(queue)
        }
    };
    // The sweeper, in process once a minute as the schedule runs it in
    // AWS: every job ends, whatever message was lost.
    tokio::spawn(sweep_every_minute(worker.clone(), jobs.clone()));
    let decisions = Arc::new(DecisionTokens::local(
        signer.clone(),
        LOCAL_DECISION_KEY_ARN,
        &config.issuer,
    )?);
    let agents = AgentState::new(
        config.clone(),
        store.clone(),
        store.clone(),
        tokens()?,
        pepper.clone(),
        jobs,
        clock.clone(),
    )
    .with_decisions(decisions);
    let webhooks = WebhookState::new(
        config.clone(),
        store.clone(),
        CachedSecret::fixed(sources),
        queue,
        clock.clone(),
    );
    let tables = dynamodb_endpoint.map(|_| DynamoStore::table_targets(&config.table_prefix));
    let health = HealthState::new(
        config.clone(),
        Inventory::from_config(&config, tables, webhook_inventory),
        aws.as_ref()
            .map(|aws| Arc::new(AwsDependencies::new(aws)) as _),
        store.clone(),
        clock.clone(),
    );
    let health = SecurityHealthState::new(health, store.clone(), tokens()?);
    let registry = Registry::new(config.clone(), store.clone(), clock.clone());
    let auth = AuthState::new(config.clone(), store, tokens()?, clock)?
        .with_api_keys(ApiKeys { registry, pepper });
    Ok(States {
        auth: Arc::new(auth),
        webhooks: Arc::new(webhooks),
        agents: Arc::new(agents),
        worker,
        health: Arc::new(health),
        outbound,
        checkpointer: Arc::new(checkpointer),
    })
}

/// Whether the configuration names the API-key pepper
/// (`WARDEN_API_KEY_PEPPER` or `WARDEN_API_KEY_PEPPER_ARN`).
pub fn pepper_configured(config: &Config) -> bool {
    config.api_key_pepper.is_some() || config.api_key_pepper_arn.is_some()
}

/// The Secrets Manager secret holding the API-key pepper of the tables
/// under `prefix` at a development endpoint: `<prefix>api-key-pepper`.
pub fn endpoint_pepper_name(prefix: &str) -> String {
    format!("{prefix}api-key-pepper")
}

/// The API-key pepper of the tables under `prefix` at an endpoint (an
/// emulator, in development), when no pepper is configured: the secret
/// [`endpoint_pepper_name`] in Secrets Manager at the same endpoint,
/// created with 64 random bytes the first time. `warden serve
/// --dynamodb-endpoint` and `warden apikeys create --endpoint` both read
/// it, so a key one makes the other accepts, across restarts.
pub async fn endpoint_pepper(
    aws: &warden::aws::SdkConfig,
    prefix: &str,
) -> Result<SecretString, Error> {
    endpoint_secret(
        aws,
        &endpoint_pepper_name(prefix),
        "Warden development API-key pepper (warden serve --dynamodb-endpoint)",
    )
    .await
}

/// The secret `name` in Secrets Manager at a development endpoint, created
/// with 64 random bytes (hex) the first time: what outlives one process
/// as the tables there do (the API-key pepper, the audit MAC key).
pub async fn endpoint_secret(
    aws: &warden::aws::SdkConfig,
    name: &str,
    description: &str,
) -> Result<SecretString, Error> {
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
    let client = aws_sdk_secretsmanager::Client::new(aws);
    let read = || async {
        client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map(|out| {
                out.secret_string()
                    .map(|v| SecretString::from(v.to_owned()))
            })
    };
    match read().await {
        Ok(Some(value)) => return Ok(value),
        Ok(None) => {
            return Err(Error::Config(format!(
                "secret {name} holds no text; delete it and start again"
            )));
        }
        Err(e) if e.code() == Some("ResourceNotFoundException") => {}
        Err(e) => {
            return Err(warden::aws::sdk_unavailable(
                &format!("GetSecretValue {name}"),
                &e,
            ));
        }
    }
    let mut bytes = [0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let created = client
        .create_secret()
        .name(name)
        .description(description)
        .secret_string(hex::encode(bytes))
        .send()
        .await;
    match created {
        Ok(_) => {}
        // Created by another process since the read: use that one.
        Err(e) if e.code() == Some("ResourceExistsException") => {}
        Err(e) => {
            return Err(warden::aws::sdk_unavailable(
                &format!("CreateSecret {name}"),
                &e,
            ));
        }
    }
    match read().await {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(Error::Config(format!("secret {name} holds no text"))),
        Err(e) => Err(warden::aws::sdk_unavailable(
            &format!("GetSecretValue {name}"),
            &e,
        )),
    }
}

/// Runs the health probe now and then at the start of every minute (one
/// second in, as the schedule does in AWS), so the local report has
/// uptime data. Stops when the task is dropped.
pub fn start_probe(health: Arc<SecurityHealthState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let origin = warden::audit::Origin::Schedule {
                rule: "warden serve".into(),
            };
            let at_ms = minute_of(health.clock.now_millis());
            if let Err(e) = probe(&health, origin, at_ms).await {
                tracing::warn!(error = %e, "health probe: the sample was not stored");
            }
            let now = health.clock.now_millis();
            let next = (now.div_euclid(60_000) + 1) * 60_000 + 1_000;
            let wait = u64::try_from(next - now).unwrap_or(60_000);
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
    })
}

/// Serves `states` on `listener` until the task is dropped.
pub async fn run(listener: TcpListener, states: States) {
    // One reference count per request, not one per state.
    let states = Arc::new(states);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let states = states.clone();
        // Formatted once per connection, not per request.
        let peer_ip: Arc<str> = peer.ip().to_string().into();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let (states, peer_ip) = (states.clone(), peer_ip.clone());
                async move { Ok::<_, Infallible>(dispatch(&states, &peer_ip, req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// A running local API, for tests and embedding.
#[derive(Debug)]
pub struct LocalApi {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The states its handlers share.
    pub states: States,
    task: tokio::task::JoinHandle<()>,
}

impl LocalApi {
    /// Starts serving `states` on `addr`.
    pub async fn start_with(addr: SocketAddr, states: States) -> std::io::Result<Self> {
        Self::start_on(TcpListener::bind(addr).await?, states)
    }

    /// Starts serving `states` on a listener already bound (`warden serve`
    /// binds first, so that the issuer names the port it got).
    pub fn start_on(listener: TcpListener, states: States) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let task = tokio::spawn(run(listener, states.clone()));
        Ok(Self { addr, states, task })
    }

    /// The base URL, e.g. `http://127.0.0.1:3000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LocalApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The client IP as API Gateway's `sourceIp` would give it: the first
/// `X-Forwarded-For` address when the configuration trusts that header and
/// it holds one, else the peer's (`peer_ip`, already formatted).
fn client_ip(config: &Config, peer_ip: &str, headers: &http::HeaderMap) -> String {
    if config.trust_forwarded_for {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    peer_ip.to_owned()
}

async fn dispatch(
    states: &States,
    peer_ip: &str,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let config = &states.auth.config;
    let (parts, body) = req.into_parts();
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(ulid::Ulid::new().to_string());
    context.http.source_ip = Some(client_ip(config, peer_ip, &parts.headers));
    context.http.method = parts.method.clone();
    context.http.path = Some(parts.uri.path().to_owned());

    let bytes = match Limited::new(body, MAX_LOCAL_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let req = lambda_http::Request::from_parts(parts, Body::Empty)
                .with_request_context(LambdaContext::ApiGatewayV2(context));
            let ctx = RequestContext::from_request(&req);
            let err = Error::PayloadTooLarge {
                limit: MAX_LOCAL_BODY,
            };
            return to_hyper(Responder::new(&ctx, config).problem(&err));
        }
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        Body::Binary(bytes.to_vec())
    };
    let req = lambda_http::Request::from_parts(parts, body)
        .with_request_context(LambdaContext::ApiGatewayV2(context));

    if req.method() == http::Method::OPTIONS {
        let ctx = RequestContext::from_request(&req);
        return to_hyper(Responder::new(&ctx, config).preflight());
    }
    let function = route(req.uri().path());
    let response = match function {
        Some(Function::Login) => warden_login::handler(&states.auth, req).await,
        Some(Function::Revoke) => warden_revoke::handler(&states.auth, req).await,
        Some(Function::WebhookReceive) => {
            warden_webhook_receive::handler(&states.webhooks, req).await
        }
        Some(Function::AgentRun) => warden_agent_run::handler(&states.agents, req).await,
        Some(Function::SecurityHealth) => {
            warden_security_health::handler(&states.health, req).await
        }
        Some(Function::Console) => warden_console::handler(config, req).await,
        None => {
            let ctx = RequestContext::from_request(&req);
            Ok(Responder::new(&ctx, config).problem(&Error::NotFound("no such endpoint".into())))
        }
    };
    match response {
        Ok(r) => to_hyper(r),
        Err(e) => {
            // Handlers answer every failure themselves; this is a bug.
            tracing::error!(error = %e, "handler returned an error");
            let mut r = hyper::Response::new(Full::new(Bytes::new()));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

fn to_hyper(response: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Runs [`sweep`] every [`SWEEP_INTERVAL`] for the life of the server.
async fn sweep_every_minute(worker: Arc<WorkerState>, jobs: Arc<dyn Queue>) {
    let mut every = tokio::time::interval(SWEEP_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = sweep(&worker, &*jobs).await {
            tracing::warn!(error = %e.chain(), "the sweep failed; the next one tries again");
        }
    }
}
