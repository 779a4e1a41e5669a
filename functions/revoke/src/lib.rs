//! The `revoke` Lambda: `POST /auth/revoke`, `POST /auth/revoke-all`,
//! `GET /auth/sessions` and `DELETE /auth/sessions/{sid}`.
//!
//! Every route authenticates the caller first (a missing or bad token is
//! `401` whatever the body), then hands over to
//! [`warden::auth::revocation`].

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use warden::auth::revocation;
use warden::auth::tokens::authenticate_request;
use warden::http::{path, read_json, RequestContext, Responder, AUTH_BODY_LIMIT};
use warden::state::AppState;
use warden::Error;

/// The body of `POST /auth/revoke`.
#[derive(Deserialize)]
struct RevokeRequest {
    /// An access or refresh token.
    token: String,
}

/// The body of `POST /auth/revoke-all`; `{}` means the caller's own tokens.
#[derive(Deserialize, Default)]
struct RevokeAllRequest {
    /// Another user's id (admin only).
    user_id: Option<String>,
    /// Why, for the audit log.
    reason: Option<String>,
}

/// Answers one request; every outcome is a response.
#[tracing::instrument(skip_all, fields(request_id))]
pub async fn handler(state: &AppState, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let ctx = RequestContext::from_request(&req);
    tracing::Span::current().record("request_id", ctx.request_id.as_str());
    let respond = Responder::new(&ctx, &state.config);
    let path = path(&req);
    let response = match route(state, &ctx, &req, &path).await {
        Ok(Some(body)) => respond.json(StatusCode::OK, &body),
        Ok(None) => respond.no_content(),
        Err(e) => respond.problem(&e),
    };
    Ok(response)
}

/// `Ok(None)` is `204 No Content`.
async fn route(
    state: &AppState,
    ctx: &RequestContext,
    req: &Request,
    path: &str,
) -> Result<Option<serde_json::Value>, Error> {
    let session_id = path.strip_prefix("/auth/sessions/");
    let known = matches!(path, "/auth/revoke" | "/auth/revoke-all" | "/auth/sessions")
        || session_id.is_some();
    if !known {
        return Err(Error::NotFound("no such endpoint".into()));
    }
    let caller = authenticate_request(state, req.headers()).await?;
    match (req.method(), path, session_id) {
        (&Method::POST, "/auth/revoke", _) => {
            let body: RevokeRequest = read_json(req, AUTH_BODY_LIMIT)?;
            let revoked = revocation::revoke_token(state, ctx, &caller, &body.token).await?;
            Ok(Some(json!({ "revoked": revoked })))
        }
        (&Method::POST, "/auth/revoke-all", _) => {
            let body: RevokeAllRequest = if req.body().iter().all(u8::is_ascii_whitespace) {
                RevokeAllRequest::default()
            } else {
                read_json(req, AUTH_BODY_LIMIT)?
            };
            let outcome = revocation::revoke_all(
                state,
                ctx,
                &caller,
                body.user_id.as_deref(),
                body.reason.as_deref(),
            )
            .await?;
            Ok(Some(
                serde_json::to_value(outcome).map_err(Error::internal)?,
            ))
        }
        (&Method::GET, "/auth/sessions", _) => {
            let sessions = revocation::list_sessions(state, &caller).await?;
            Ok(Some(json!({ "sessions": sessions })))
        }
        (&Method::DELETE, _, Some(sid)) if !sid.is_empty() && !sid.contains('/') => {
            revocation::revoke_session(state, ctx, &caller, sid).await?;
            Ok(None)
        }
        _ => Err(Error::NotFound("no such endpoint or method".into())),
    }
}
