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
use tokio::net::TcpListener;
use warden::aws::Guards;
use warden::clock::SystemClock;
use warden::config::{Config, Environment};
use warden::http::{RequestContext, Responder};
use warden::queue::{MemoryQueue, Queue, SqsQueue};
use warden::secrets::SecretsManager;
use warden::state::{signing_keys, AppState};
use warden::store::dynamo::DynamoStore;
use warden::store::memory::MemoryStore;
use warden::store::SharedStore;
use warden::webhook::{Intake, SourceConfig, Sources};
use warden::Error;

/// The largest body `warden serve` reads; each endpoint has its own,
/// smaller limit (API Gateway's payload cap plays this role in AWS).
const MAX_LOCAL_BODY: usize = 1024 * 1024;

/// Which function serves a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `functions/login`.
    Login,
    /// `functions/revoke`.
    Revoke,
    /// `functions/webhook-receive`.
    WebhookReceive,
}

/// The function behind `path`, as `template.yaml` routes it.
pub fn route(path: &str) -> Option<Function> {
    match path {
        "/auth/login" | "/auth/refresh" => Some(Function::Login),
        "/auth/revoke" | "/auth/revoke-all" | "/auth/sessions" => Some(Function::Revoke),
        p if p.starts_with("/auth/sessions/") => Some(Function::Revoke),
        p if p.starts_with("/webhooks/") => Some(Function::WebhookReceive),
        _ => None,
    }
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

/// An AWS SDK configuration with the configured timeouts, pointed at
/// `endpoint` when given (a local emulator), else the default chain.
pub async fn aws_config(guards: &Guards, endpoint: Option<&str>) -> aws_config::SdkConfig {
    warden::aws::sdk_config(guards, endpoint).await
}

/// Builds the application state: the embedded store, or DynamoDB at
/// `dynamodb_endpoint`; signing keys as the configuration says.
pub async fn build_state(
    config: Config,
    dynamodb_endpoint: Option<&str>,
) -> Result<Arc<AppState>, Error> {
    let aws = if dynamodb_endpoint.is_some() || config.jwt_secret_arn.is_some() {
        Some(aws_config(&config.aws, dynamodb_endpoint).await)
    } else {
        None
    };
    let store: SharedStore = match (dynamodb_endpoint, &aws) {
        (Some(_), Some(aws)) => Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(aws),
            &config.table_prefix,
        )),
        _ => Arc::new(MemoryStore::new()),
    };
    let secrets = aws
        .as_ref()
        .map(|aws| SecretsManager::new(aws_sdk_secretsmanager::Client::new(aws)));
    let keys = signing_keys(&config, secrets.as_ref().map(|s| s as _)).await?;
    if config.env != Environment::Development {
        tracing::warn!("warden serve is running with WARDEN_ENV={:?}", config.env);
    }
    Ok(Arc::new(AppState::new(
        config,
        store,
        &keys,
        Arc::new(SystemClock),
    )?))
}

/// The webhook intake of `warden serve`: the seed file's sources, and the
/// SQS queue at `WARDEN_EVENTS_QUEUE_URL` when set (through the emulator
/// endpoint, if any), else an in-process queue.
pub async fn build_intake(
    config: &Config,
    sources: Vec<SourceConfig>,
    endpoint: Option<&str>,
) -> Result<Arc<Intake>, Error> {
    let sources = Sources::new(sources)?;
    let queue: Arc<dyn Queue> = match &config.events_queue_url {
        Some(url) => Arc::new(SqsQueue::new(
            aws_sdk_sqs::Client::new(&aws_config(&config.aws, endpoint).await),
            url,
        )),
        None => Arc::new(MemoryQueue::new()),
    };
    Ok(Arc::new(Intake { sources, queue }))
}

/// Serves `state` on `listener` until the task is dropped.
pub async fn run(listener: TcpListener, state: Arc<AppState>, intake: Arc<Intake>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let (state, intake) = (state.clone(), intake.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let (state, intake) = (state.clone(), intake.clone());
                async move { Ok::<_, Infallible>(dispatch(&state, &intake, peer, req).await) }
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
    /// The state its handlers share.
    pub state: Arc<AppState>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalApi {
    /// Starts serving `state` on `addr` (port 0 picks a free port).
    pub async fn start(addr: SocketAddr, state: Arc<AppState>) -> std::io::Result<Self> {
        let intake = Arc::new(Intake {
            sources: Sources::default(),
            queue: Arc::new(MemoryQueue::new()),
        });
        Self::start_with(addr, state, intake).await
    }

    /// Starts serving `state` and the webhook `intake` on `addr`.
    pub async fn start_with(
        addr: SocketAddr,
        state: Arc<AppState>,
        intake: Arc<Intake>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(run(listener, state.clone(), intake));
        Ok(Self { addr, state, task })
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

fn client_ip(state: &AppState, peer: SocketAddr, headers: &http::HeaderMap) -> IpAddr {
    if state.config.trust_forwarded_for {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|ip| ip.trim().parse().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    peer.ip()
}

async fn dispatch(
    state: &AppState,
    intake: &Intake,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(ulid::Ulid::new().to_string());
    context.http.source_ip = Some(client_ip(state, peer, &parts.headers).to_string());
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
            return to_hyper(Responder::new(&ctx, &state.config).problem(&err));
        }
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        Body::Binary(bytes.to_vec())
    };
    let req = lambda_http::Request::from_parts(parts, body)
        .with_request_context(LambdaContext::ApiGatewayV2(context));

    let path = req.uri().path().to_owned();
    if req.method() == http::Method::OPTIONS {
        let ctx = RequestContext::from_request(&req);
        return to_hyper(Responder::new(&ctx, &state.config).preflight());
    }
    let response = match route(&path) {
        Some(Function::Login) => warden_login::handler(state, req).await,
        Some(Function::Revoke) => warden_revoke::handler(state, req).await,
        Some(Function::WebhookReceive) => warden_webhook_receive::handler(state, intake, req).await,
        None => {
            let ctx = RequestContext::from_request(&req);
            Ok(Responder::new(&ctx, &state.config)
                .problem(&Error::NotFound("no such endpoint".into())))
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
