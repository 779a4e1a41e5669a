//! The `login` Lambda, Warden's token service: `POST /auth/login`, `POST
//! /auth/refresh`, the well-known documents token verifiers read
//! (discovery, the key set, the protected resource), `POST
//! /auth/introspect` and `POST /auth/token` (RFC 8693 token exchange:
//! delegated agent tokens).
//!
//! The handler only parses and routes; the logic is
//! [`warden::auth::login`], [`warden::auth::discovery`],
//! [`warden::auth::introspection`] and [`warden::auth::delegation`].

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use warden::Error;
use warden::auth::delegation::{self, TOKEN_PATH};
use warden::auth::discovery::{
    AUTHORIZATION_SERVER_PATH, JWKS_PATH, OPENID_CONFIGURATION_PATH, PROTECTED_RESOURCE_PATH,
    key_set, resource_metadata, server_metadata,
};
use warden::auth::{introspection, login};
use warden::http::{
    AUTH_BODY_LIMIT, RequestContext, Responder, Route, path, read_form, read_json, resolve, respond,
};
use warden::state::AuthState;

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /auth/login`.
    Login,
    /// `POST /auth/refresh`.
    Refresh,
    /// `POST /auth/introspect`.
    Introspect,
    /// `POST /auth/token`.
    Token,
    /// `GET /.well-known/openid-configuration` and
    /// `GET /.well-known/oauth-authorization-server`.
    ServerMetadata,
    /// `GET /.well-known/jwks.json`.
    KeySet,
    /// `GET /.well-known/oauth-protected-resource`.
    ResourceMetadata,
}

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route<Endpoint>] = &[
    Route::to("POST", "/auth/login", Endpoint::Login),
    Route::to("POST", "/auth/refresh", Endpoint::Refresh),
    Route::to("POST", "/auth/introspect", Endpoint::Introspect),
    Route::to("POST", TOKEN_PATH, Endpoint::Token),
    Route::to("GET", OPENID_CONFIGURATION_PATH, Endpoint::ServerMetadata),
    Route::to("GET", AUTHORIZATION_SERVER_PATH, Endpoint::ServerMetadata),
    Route::to("GET", JWKS_PATH, Endpoint::KeySet),
    Route::to("GET", PROTECTED_RESOURCE_PATH, Endpoint::ResourceMetadata),
];

/// Answers one request. Every outcome, errors included, is a response:
/// problem+json for failures, never a panic or an opaque Lambda error.
pub async fn handler(
    state: &AuthState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(respond(&req, &state.config, async |ctx, respond| {
        match route(state, ctx, &req, &respond).await {
            Ok(response) => response,
            Err(e) => respond.problem(&e),
        }
    })
    .await)
}

async fn route(
    state: &AuthState,
    ctx: &RequestContext,
    req: &Request,
    respond: &Responder<'_>,
) -> Result<Response<Body>, Error> {
    let (route, _) = resolve(ROUTES, req.method(), path(req))?;
    let issuer = state.tokens.issuer();
    Ok(match route.endpoint {
        Endpoint::Login => {
            let pair = login::login(state, ctx, read_json(req, AUTH_BODY_LIMIT)?).await?;
            respond.json(StatusCode::OK, &pair)
        }
        Endpoint::Refresh => {
            let pair = login::refresh(state, ctx, read_json(req, AUTH_BODY_LIMIT)?).await?;
            respond.json(StatusCode::OK, &pair)
        }
        Endpoint::Introspect => {
            // The caller is checked first: an unauthenticated request is
            // 401 whatever its body.
            let form = read_form(req, AUTH_BODY_LIMIT);
            let answer =
                introspection::introspect(state, &ctx.origin(), req.headers(), form).await?;
            respond.json(StatusCode::OK, &answer)
        }
        Endpoint::Token => {
            let form = read_form(req, AUTH_BODY_LIMIT)?;
            let answer = delegation::exchange(state, &ctx.origin(), &form).await?;
            respond.json(StatusCode::OK, &answer)
        }
        Endpoint::ServerMetadata => respond.public_json(&server_metadata(issuer)),
        Endpoint::ResourceMetadata => respond.public_json(&resource_metadata(issuer)),
        Endpoint::KeySet => {
            let ring = state.tokens.key_ring().await;
            respond.public_json(&key_set(&ring, state.clock.now_secs()))
        }
    })
}
