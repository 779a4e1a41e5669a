//! The `webhook-receive` Lambda: `POST /webhooks/{source}`.
//!
//! The body is taken as the exact bytes API Gateway delivered (lambda_http
//! has already undone `isBase64Encoded`), and handed with the headers to
//! [`warden::webhook::receive`].

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use warden::Error;
use warden::http::{RequestContext, Route, path, resolve, respond};
use warden::state::WebhookState;
use warden::webhook::{self, Outcome};

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route] = &[Route::new("POST", "/webhooks/{source}")];

/// Answers one delivery; every outcome is a response.
pub async fn handler(
    state: &WebhookState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(respond(&req, &state.config, async |ctx, respond| {
        match receive(state, ctx, &req).await {
            Ok(outcome @ Outcome::Accepted { .. }) => respond.json(StatusCode::ACCEPTED, &outcome),
            Ok(outcome) => respond.json(StatusCode::OK, &outcome),
            Err(e) => respond.problem(&e),
        }
    })
    .await)
}

async fn receive(
    state: &WebhookState,
    ctx: &RequestContext,
    req: &Request,
) -> Result<Outcome, Error> {
    let (_, params) = resolve(ROUTES, req.method(), path(req))?;
    let body: &[u8] = req.body().as_ref();
    webhook::receive(state, ctx, params.get("source")?, req.headers(), body).await
}
