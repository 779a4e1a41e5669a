//! The `security-health` Lambda: `GET /health` (public liveness, nothing
//! checked) and the admin reports `GET /security/health`,
//! `/security/configuration`, `/security/secrets` and `/security/webhooks`,
//! built by [`warden::health::checks`].
//!
//! Every `/security/*` route authenticates first: no or a bad bearer token
//! is `401`, a caller without the `admin` role `403`. `/security/health`
//! answers `503` (with the same report) when a required check fails.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt as _, Response};
use serde_json::{Value, json};
use warden::Error;
use warden::auth::tokens::{bearer_token, verify_bearer};
use warden::domain::Role;
use warden::health::Status;
use warden::health::checks::{
    configuration_report, health_report, secrets_report, webhooks_report,
};
use warden::http::{RequestContext, Responder, Route, path, resolve};
use warden::state::SecurityHealthState;

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route] = &[
    Route::new("GET", "/health"),
    Route::new("GET", "/security/health"),
    Route::new("GET", "/security/configuration"),
    Route::new("GET", "/security/secrets"),
    Route::new("GET", "/security/webhooks"),
];

/// Answers one request; every outcome is a response.
#[tracing::instrument(skip_all, fields(request_id))]
pub async fn handler(
    state: &SecurityHealthState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let ctx = RequestContext::from_request(&req);
    tracing::Span::current().record("request_id", ctx.request_id.as_str());
    let respond = Responder::new(&ctx, &state.config);
    Ok(match route(state, &req).await {
        Ok((status, body)) => respond.json(status, &body),
        Err(e) => respond.problem(&e),
    })
}

async fn route(state: &SecurityHealthState, req: &Request) -> Result<(StatusCode, Value), Error> {
    let path = path(req);
    let (route, _) = resolve(ROUTES, req.method(), path)?;
    if route.path == "/health" {
        // Liveness only: it reveals nothing and costs nothing.
        return Ok((StatusCode::OK, json!({ "status": "ok" })));
    }
    let token = bearer_token(req.headers()).ok_or(Error::Unauthorized)?;
    let now = state.clock.now_secs();
    let caller = verify_bearer(&state.tokens, &*state.sessions, now, token).await?;
    if !caller.roles.contains(&Role::Admin) {
        return Err(Error::Forbidden(
            "the security reports are for admins only".into(),
        ));
    }
    let body = |value: Result<Value, serde_json::Error>| {
        value.map_err(|e| Error::internal_from("serialising a health report", e))
    };
    match route.path {
        "/security/health" => {
            let mut report = health_report(state).await;
            report.remaining_ms = remaining_ms(req);
            let status = if report.status == Status::Failing {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            Ok((status, body(serde_json::to_value(report))?))
        }
        "/security/configuration" => Ok((
            StatusCode::OK,
            body(serde_json::to_value(configuration_report(state).await))?,
        )),
        "/security/secrets" => Ok((
            StatusCode::OK,
            body(serde_json::to_value(secrets_report(state).await))?,
        )),
        "/security/webhooks" => Ok((
            StatusCode::OK,
            body(serde_json::to_value(webhooks_report(state)))?,
        )),
        other => Err(Error::internal(format!("route {other} has no handler"))),
    }
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
