//! The `webhook-receive` Lambda: `POST /webhooks/{source}`.
//!
//! The body is taken as the exact bytes API Gateway delivered (lambda_http
//! has already undone `isBase64Encoded`), and handed with the headers to
//! [`warden::webhook::receive`].

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use warden::http::{path, RequestContext, Responder};
use warden::state::AppState;
use warden::webhook::{self, Intake, Outcome};
use warden::Error;

/// Answers one delivery; every outcome is a response.
#[tracing::instrument(skip_all, fields(request_id))]
pub async fn handler(
    state: &AppState,
    intake: &Intake,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let ctx = RequestContext::from_request(&req);
    tracing::Span::current().record("request_id", ctx.request_id.as_str());
    let respond = Responder::new(&ctx, &state.config);
    let path = path(&req);
    let source = path
        .strip_prefix("/webhooks/")
        .filter(|s| !s.is_empty() && !s.contains('/'));
    let response = match (req.method(), source) {
        (&Method::POST, Some(source)) => {
            let body: &[u8] = req.body().as_ref();
            match webhook::receive(state, intake, &ctx, source, req.headers(), body).await {
                Ok(outcome @ Outcome::Accepted { .. }) => {
                    respond.json(StatusCode::ACCEPTED, &outcome)
                }
                Ok(outcome) => respond.json(StatusCode::OK, &outcome),
                Err(e) => respond.problem(&e),
            }
        }
        _ => respond.problem(&Error::NotFound("no such endpoint".into())),
    };
    Ok(response)
}
