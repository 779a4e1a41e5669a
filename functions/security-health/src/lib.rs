//! The `security-health` Lambda: `GET /health` (public liveness, nothing
//! checked) and the admin reports `GET /security/health`,
//! `/security/configuration`, `/security/secrets`, `/security/webhooks`
//! and `/security/health/uptime` (a window's chart), built by
//! [`warden::health::endpoints`]; and `GET /audit`, the audit log's query
//! ([`warden::audit::query`]), for the same admins.
//!
//! Every route but `/health` authenticates first: no or a bad bearer token
//! is `401`, a caller without the `admin` role `403`. `/security/health`
//! answers `503` (with the same report) when a required check fails.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt as _, Response};
use serde_json::{Value, json};
use warden::Error;
use warden::audit::query;
use warden::domain::Role;
use warden::health::Status;
use warden::health::endpoints::{
    configuration_report, health_report, secrets_report, uptime_report, webhooks_report,
};
use warden::health::uptime::Window;
use warden::http::{Route, path, query_params, resolve, respond};
use warden::state::SecurityHealthState;

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /health`: liveness, public.
    Liveness,
    /// `GET /security/health`.
    Health,
    /// `GET /security/configuration`.
    Configuration,
    /// `GET /security/secrets`.
    Secrets,
    /// `GET /security/webhooks`.
    Webhooks,
    /// `GET /security/health/uptime?window=W`.
    Uptime,
    /// `GET /audit?actor=&type=&since=&limit=&next=`.
    Audit,
}

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route<Endpoint>] = &[
    Route::to("GET", "/health", Endpoint::Liveness),
    Route::to("GET", "/security/health", Endpoint::Health),
    Route::to("GET", "/security/configuration", Endpoint::Configuration),
    Route::to("GET", "/security/secrets", Endpoint::Secrets),
    Route::to("GET", "/security/webhooks", Endpoint::Webhooks),
    Route::to("GET", "/security/health/uptime", Endpoint::Uptime),
    Route::to("GET", "/audit", Endpoint::Audit),
];

/// Answers one request; every outcome is a response.
pub async fn handler(
    state: &SecurityHealthState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(respond(&req, &state.config, async |_, respond| {
        match route(state, &req).await {
            Ok((status, body)) => respond.json(status, &body),
            Err(e) => respond.problem(&e),
        }
    })
    .await)
}

async fn route(state: &SecurityHealthState, req: &Request) -> Result<(StatusCode, Value), Error> {
    let (route, _) = resolve(ROUTES, req.method(), path(req))?;
    let report = match route.endpoint {
        // Liveness only: it reveals nothing and costs nothing.
        Endpoint::Liveness => return Ok((StatusCode::OK, json!({ "status": "ok" }))),
        Endpoint::Health => {
            admin(state, req).await?;
            let mut report = health_report(state).await;
            report.remaining_ms = remaining_ms(req);
            let status = if report.status == Status::Failing {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            return Ok((status, body(serde_json::to_value(report))?));
        }
        Endpoint::Configuration => {
            admin(state, req).await?;
            serde_json::to_value(configuration_report(state).await)
        }
        Endpoint::Secrets => {
            admin(state, req).await?;
            serde_json::to_value(secrets_report(state).await)
        }
        Endpoint::Webhooks => {
            admin(state, req).await?;
            serde_json::to_value(webhooks_report(state))
        }
        Endpoint::Uptime => {
            admin(state, req).await?;
            serde_json::to_value(uptime_report(state, window(req)?).await)
        }
        Endpoint::Audit => {
            admin(state, req).await?;
            let request = query::Request::from_params(&query_params(req))?;
            let now = state.clock.now_millis();
            serde_json::to_value(query::page(&*state.store, &request, now).await?)
        }
    };
    Ok((StatusCode::OK, body(report)?))
}

/// Every route but `/health` is for admins: no or a bad bearer token is
/// `401`, a caller without the `admin` role `403`.
async fn admin(state: &SecurityHealthState, req: &Request) -> Result<(), Error> {
    state
        .bearer()
        .user_with_role(
            req.headers(),
            &[Role::Admin],
            "the security reports are for admins only",
        )
        .await
        .map(drop)
}

/// The uptime chart's `window` (`24h` when absent; as on every listing, a
/// repeated parameter counts once, its first value); another is `400`
/// naming the ones there are.
fn window(req: &Request) -> Result<Window, Error> {
    let params = query_params(req);
    let Some((_, name)) = params.iter().find(|(k, _)| k == "window") else {
        return Ok(Window::Day);
    };
    Window::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Window::ALL.iter().map(|w| w.as_str()).collect();
        Error::BadRequest(format!("window must be one of {}", names.join(", ")))
    })
}

/// A report as JSON; a failure here is a bug, an opaque `500`.
fn body(value: Result<Value, serde_json::Error>) -> Result<Value, Error> {
    value.map_err(|e| Error::internal_from("serialising a health report", e))
}

/// The Lambda invocation's remaining time, milliseconds; `None` outside
/// Lambda (no invocation context, as under `warden serve`).
fn remaining_ms(req: &Request) -> Option<u64> {
    let deadline = req.lambda_context_ref()?.deadline;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis();
    Some(u64::try_from(u128::from(deadline).saturating_sub(now)).unwrap_or(u64::MAX))
}
