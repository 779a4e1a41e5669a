//! The `revoke` Lambda: `POST /auth/revoke`, `POST /auth/revoke-all`,
//! `GET /auth/sessions`, `DELETE /auth/sessions/{sid}` and `GET /me`.
//!
//! Every route authenticates the caller first (a missing or bad token is
//! `401` whatever the body), then hands over to
//! [`warden::auth::revocation`].

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use warden::Error;
use warden::auth::bearer::bearer_token;
use warden::auth::revocation;
use warden::error::Refusal;
use warden::http::{
    AUTH_BODY_LIMIT, RequestContext, Route, non_null, path, read_json, resolve, respond,
};
use warden::state::AuthState;

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /auth/revoke`.
    Revoke,
    /// `POST /auth/revoke-all`.
    RevokeAll,
    /// `GET /auth/sessions`.
    Sessions,
    /// `DELETE /auth/sessions/{sid}`.
    DeleteSession,
    /// `GET /me`.
    Me,
}

/// The routes this function serves, as `template.yaml` wires them.
pub const ROUTES: &[Route<Endpoint>] = &[
    Route::to("POST", "/auth/revoke", Endpoint::Revoke),
    Route::to("POST", "/auth/revoke-all", Endpoint::RevokeAll),
    Route::to("GET", "/auth/sessions", Endpoint::Sessions),
    Route::to("DELETE", "/auth/sessions/{sid}", Endpoint::DeleteSession),
    Route::to("GET", "/me", Endpoint::Me),
];

/// The body of `POST /auth/revoke`.
#[derive(Deserialize)]
struct RevokeRequest {
    /// An access or refresh token.
    token: String,
}

/// The body of `POST /auth/revoke-all`; `{}` means the caller's own tokens,
/// `{"user_id"}` or `{"username"}` (exactly one) another user's.
#[derive(Deserialize, Default)]
struct RevokeAllRequest {
    /// Another user's id (admin only). `null` is refused: it must not
    /// quietly mean "myself".
    #[serde(default, deserialize_with = "non_null")]
    user_id: Option<String>,
    /// Another user's username (admin only), as `warden users revoke-all`
    /// takes it. `null` is refused, as for `user_id`.
    #[serde(default, deserialize_with = "non_null")]
    username: Option<String>,
    /// Why, for the audit log.
    #[serde(default, deserialize_with = "non_null")]
    reason: Option<String>,
}

impl RevokeAllRequest {
    /// Whose tokens: neither `user_id` nor `username` is the caller's own
    /// (then a `reason` is refused: it says the caller meant someone
    /// else), both at once are refused.
    fn target(&self) -> Result<revocation::RevokeAllTarget<'_>, Error> {
        use revocation::RevokeAllTarget as Target;
        match (&self.user_id, &self.username) {
            (Some(_), Some(_)) => Err(Error::BadRequest(
                "give user_id or username, not both".into(),
            )),
            (Some(id), None) => Ok(Target::UserId(id)),
            (None, Some(name)) => Ok(Target::Username(name)),
            (None, None) if self.reason.is_some() => Err(Error::BadRequest(
                "a reason goes with user_id or username; send {} to revoke your own tokens".into(),
            )),
            (None, None) => Ok(Target::Own),
        }
    }
}

/// Answers one request; every outcome is a response.
pub async fn handler(
    state: &AuthState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(respond(&req, &state.config, async |ctx, respond| {
        match route(state, ctx, &req).await {
            Ok(Some(Answer::Json(body))) => respond.json(StatusCode::OK, &body),
            Ok(Some(Answer::Sessions(sessions))) => {
                respond.json(StatusCode::OK, &SessionsBody::new(&sessions))
            }
            Ok(None) => respond.no_content(),
            Err(e) => respond.problem(&e),
        }
    })
    .await)
}

/// A route's `200` body.
enum Answer {
    /// Any JSON value.
    Json(serde_json::Value),
    /// `GET /auth/sessions`, serialised straight from the views.
    Sessions(Vec<revocation::SessionView>),
}

/// The body of `GET /auth/sessions`, byte for byte what
/// `json!({ "sessions": sessions })` writes (a JSON value's keys are
/// sorted), without building the value first.
#[derive(Serialize)]
struct SessionsBody<'a> {
    sessions: Vec<SessionJson<'a>>,
}

/// One session, its keys in sorted order.
#[derive(Serialize)]
struct SessionJson<'a> {
    created_at: &'a str,
    current: bool,
    expires_at: &'a str,
    ip: &'a str,
    last_used_at: &'a str,
    session_id: &'a str,
    user_agent: &'a str,
}

impl<'a> SessionsBody<'a> {
    fn new(sessions: &'a [revocation::SessionView]) -> Self {
        Self {
            sessions: sessions
                .iter()
                .map(|s| SessionJson {
                    created_at: &s.created_at,
                    current: s.current,
                    expires_at: &s.expires_at,
                    ip: &s.ip,
                    last_used_at: &s.last_used_at,
                    session_id: &s.session_id,
                    user_agent: &s.user_agent,
                })
                .collect(),
        }
    }
}

/// `Ok(None)` is `204 No Content`.
async fn route(
    state: &AuthState,
    ctx: &RequestContext,
    req: &Request,
) -> Result<Option<Answer>, Error> {
    let (route, params) = resolve(ROUTES, req.method(), path(req))?;
    if route.endpoint == Endpoint::Me {
        // Who the bearer check says the caller is: the same one read.
        let token = bearer_token(req.headers())?.ok_or(Error::token(Refusal::Missing))?;
        let (claims, person) = state.bearer().person(token).await?;
        return Ok(Some(Answer::Json(json!({
            "user_id": claims.sub,
            "username": person.username,
            "roles": claims.roles,
            "workspaces": person.workspaces,
        }))));
    }
    let caller = state.bearer().user(req.headers()).await?;
    match route.endpoint {
        Endpoint::Me => Err(Error::internal("GET /me is answered above")),
        Endpoint::Revoke => {
            let body: RevokeRequest = read_json(req, AUTH_BODY_LIMIT)?;
            let revoked = revocation::revoke_token(state, ctx, &caller, &body.token).await?;
            Ok(Some(Answer::Json(json!({ "revoked": revoked }))))
        }
        Endpoint::RevokeAll => {
            let body: RevokeAllRequest = if req.body().iter().all(u8::is_ascii_whitespace) {
                RevokeAllRequest::default()
            } else {
                read_json(req, AUTH_BODY_LIMIT)?
            };
            let outcome = revocation::revoke_all_for(
                state,
                ctx,
                &caller,
                body.target()?,
                body.reason.as_deref(),
            )
            .await?;
            Ok(Some(Answer::Json(json!(outcome))))
        }
        Endpoint::Sessions => {
            let sessions = revocation::list_sessions(state, &caller).await?;
            Ok(Some(Answer::Sessions(sessions)))
        }
        Endpoint::DeleteSession => {
            revocation::revoke_session(state, ctx, &caller, params.get("sid")?).await?;
            Ok(None)
        }
    }
}
