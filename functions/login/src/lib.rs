//! The `login` Lambda: `POST /auth/login` and `POST /auth/refresh`.
//!
//! The handler only parses and routes; the logic is
//! [`warden::auth::login`].

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use warden::auth::login::{self, LoginRequest, RefreshRequest};
use warden::http::{AUTH_BODY_LIMIT, RequestContext, Responder, Route, path, read_json, resolve};
use warden::state::AuthState;

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route] = &[
    Route::new("POST", "/auth/login"),
    Route::new("POST", "/auth/refresh"),
];

/// Answers one request. Every outcome, errors included, is a response:
/// problem+json for failures, never a panic or an opaque Lambda error.
#[tracing::instrument(skip_all, fields(request_id))]
pub async fn handler(
    state: &AuthState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let ctx = RequestContext::from_request(&req);
    tracing::Span::current().record("request_id", ctx.request_id.as_str());
    let respond = Responder::new(&ctx, &state.config);
    let path = path(&req);
    let result = match resolve(ROUTES, req.method(), path) {
        Ok((route, _)) if route.path == "/auth/login" => {
            match read_json::<LoginRequest>(&req, AUTH_BODY_LIMIT) {
                Ok(body) => login::login(state, &ctx, body).await,
                Err(e) => Err(e),
            }
        }
        Ok(_) => match read_json::<RefreshRequest>(&req, AUTH_BODY_LIMIT) {
            Ok(body) => login::refresh(state, &ctx, body).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    Ok(respond.result(StatusCode::OK, result))
}
