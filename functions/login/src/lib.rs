//! The `login` Lambda: `POST /auth/login` and `POST /auth/refresh`.
//!
//! The handler only parses and routes; the logic is
//! [`warden::auth::login`].

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use warden::auth::login::{self, LoginRequest, RefreshRequest};
use warden::http::{path, read_json, RequestContext, Responder, AUTH_BODY_LIMIT};
use warden::state::AppState;
use warden::Error;

/// Answers one request. Every outcome, errors included, is a response:
/// problem+json for failures, never a panic or an opaque Lambda error.
#[tracing::instrument(skip_all, fields(request_id))]
pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let ctx = RequestContext::from_request(&req);
    tracing::Span::current().record("request_id", ctx.request_id.as_str());
    let respond = Responder::new(&ctx, &state.config);
    let response = match (req.method(), path(&req).as_str()) {
        (&Method::POST, "/auth/login") => {
            let result = async {
                let body: LoginRequest = read_json(&req, AUTH_BODY_LIMIT)?;
                login::login(state, &ctx, body).await
            }
            .await;
            respond.result(StatusCode::OK, result)
        }
        (&Method::POST, "/auth/refresh") => {
            let result = async {
                let body: RefreshRequest = read_json(&req, AUTH_BODY_LIMIT)?;
                login::refresh(state, &ctx, body).await
            }
            .await;
            respond.result(StatusCode::OK, result)
        }
        (_, "/auth/login" | "/auth/refresh") => {
            respond.problem(&Error::NotFound("use POST for this endpoint".into()))
        }
        _ => respond.problem(&Error::NotFound("no such endpoint".into())),
    };
    Ok(response)
}
