//! The `webhook-receive` Lambda: `POST /webhooks/{source}`.
//!
//! The body is taken as the exact bytes API Gateway delivered (lambda_http
//! has already undone `isBase64Encoded`), and handed with the headers to
//! [`warden::webhook::receive`].

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use warden::http::{RequestContext, Responder, Route, path, resolve};
use warden::state::WebhookState;
use warden::webhook::{self, Outcome};

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route] = &[Route::new("POST", "/webhooks/{source}")];

/// Answers one delivery; every outcome is a response.
#[tracing::instrument(skip_all, fields(request_id))]
pub async fn handler(
    state: &WebhookState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let ctx = RequestContext::from_request(&req);
    tracing::Span::current().record("request_id", ctx.request_id.as_str());
    let respond = Responder::new(&ctx, &state.config);
    let path = path(&req);
    let source = match resolve(ROUTES, req.method(), path) {
        Ok((_, params)) => params[0],
        Err(e) => return Ok(respond.problem(&e)),
    };
    let body: &[u8] = req.body().as_ref();
    let response = match webhook::receive(state, &ctx, source, req.headers(), body).await {
        Ok(outcome @ Outcome::Accepted { .. }) => respond.json(StatusCode::ACCEPTED, &outcome),
        Ok(outcome) => respond.json(StatusCode::OK, &outcome),
        Err(e) => respond.problem(&e),
    };
    Ok(response)
}
