//! The `login` Lambda: `POST /auth/login` and `POST /auth/refresh`.
//!
//! The handler only parses and routes; the logic is
//! [`warden::auth::login`].

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use warden::Error;
use warden::auth::login;
use warden::http::{AUTH_BODY_LIMIT, RequestContext, Route, path, read_json, resolve, respond};
use warden::state::AuthState;

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /auth/login`.
    Login,
    /// `POST /auth/refresh`.
    Refresh,
}

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route<Endpoint>] = &[
    Route::to("POST", "/auth/login", Endpoint::Login),
    Route::to("POST", "/auth/refresh", Endpoint::Refresh),
];

/// Answers one request. Every outcome, errors included, is a response:
/// problem+json for failures, never a panic or an opaque Lambda error.
pub async fn handler(
    state: &AuthState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(respond(&req, &state.config, async |ctx, respond| {
        respond.result(StatusCode::OK, route(state, ctx, &req).await)
    })
    .await)
}

async fn route(
    state: &AuthState,
    ctx: &RequestContext,
    req: &Request,
) -> Result<login::TokenPair, Error> {
    let (route, _) = resolve(ROUTES, req.method(), path(req))?;
    match route.endpoint {
        Endpoint::Login => login::login(state, ctx, read_json(req, AUTH_BODY_LIMIT)?).await,
        Endpoint::Refresh => login::refresh(state, ctx, read_json(req, AUTH_BODY_LIMIT)?).await,
    }
}
