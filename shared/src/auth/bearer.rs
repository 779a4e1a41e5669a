//! The one bearer check: where every function turns a request's
//! credentials into an authenticated [`Caller`].
//!
//! A person presents `Authorization: Bearer <access token>`: the signature
//! and claims are verified (possibly from the codec's cache of verified
//! tokens), then one consistent read of the denylist (the token's `jti`,
//! its session, its user's generation) decides whether it still stands;
//! that read is never cached. A service or agent presents `X-API-Key`
//! where a function accepts keys (agent runs): the key is checked under
//! the pepper, for one of the route's scopes and within the hourly limit
//! the route spends (its run or its read limit), each refusal audited
//! ([`crate::auth::api_keys::check_key`]). Roles are
//! checked here too ([`Bearer::user_with_role`]), so that no function
//! re-implements any part of it.
//!
//! An agent acting for a person presents a delegated token (RFC 8693, one
//! with `act`, [`crate::auth::delegation`]): [`Bearer::live`] reads its
//! parent's `jti`, its actor key and its agent in the same one read; only
//! [`Bearer::caller_or_delegated`] (the tool-call routes) takes it, and
//! every check of a person refuses it `403` before any read.
//!
//! The states that authenticate lend their parts to a [`Bearer`]
//! (`state.bearer()`, defined here so that the states import nothing of
//! the check); it borrows, so building one costs nothing.

use std::sync::Arc;

use crate::audit::Origin;
use crate::auth::api_keys::{KeyCaller, KeyLimit, check_key};
use crate::auth::delegation;
use crate::auth::jwt::{AccessClaims, AccessTokens};
use crate::auth::pepper::Pepper;
use crate::clock::Clock;
use crate::domain::agents::{AgentId, WorkspaceId};
use crate::domain::{RevocationState, Role};
use crate::error::{Challenge, Refusal, Scheme};
use crate::state::{AgentState, AuthState, Registry, SecurityHealthState};
use crate::store::SessionStore;
use crate::{Error, Result};

/// The header an API key travels in.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A person, by bearer token.
    User {
        /// The user id (`sub`).
        user_id: String,
        /// The token's roles.
        roles: Vec<Role>,
        /// The workspaces the user is a member of, read with the
        /// revocation state (so a change counts from the next request).
        workspaces: Vec<WorkspaceId>,
    },
    /// A service or agent, by API key.
    Key(KeyCaller),
    /// An agent acting for a person, by a delegated token (RFC 8693):
    /// taken only where [`Bearer::caller_or_delegated`] is used (the
    /// tool-call routes).
    Delegated(DelegatedCaller),
}

/// An agent acting for a person: a delegated token that stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedCaller {
    /// The person (`sub`).
    pub user_id: String,
    /// The agent (`act.sub`).
    pub agent_id: AgentId,
    /// The key the agent exchanged (`act.key_id`).
    pub key_id: String,
    /// The workspaces the person is a member of (an admin's role does not
    /// pass into a delegated token).
    pub workspaces: Vec<WorkspaceId>,
}

impl Caller {
    /// The caller as recorded on jobs and in idempotency keys:
    /// `user:<id>` or `key:<id>`.
    pub fn id(&self) -> String {
        match self {
            Caller::User { user_id, .. } => format!("user:{user_id}"),
            Caller::Key(k) => format!("key:{}", k.key_id),
            Caller::Delegated(d) => format!("user:{}", d.user_id),
        }
    }

    /// Whether the caller may see `workspace` at all: an `admin` every
    /// one, another person the workspaces they are a member of. A key is
    /// held to its agent's workspaces where it is used, not here. Anything
    /// else is answered like a workspace that does not exist (`404`).
    pub fn sees_workspace(&self, workspace: &WorkspaceId) -> bool {
        match self {
            Caller::User {
                roles, workspaces, ..
            } => roles.contains(&Role::Admin) || workspaces.contains(workspace),
            Caller::Delegated(d) => d.workspaces.contains(workspace),
            Caller::Key(_) => true,
        }
    }

    /// Whether the caller is a person holding one of `roles`.
    pub fn has_role(&self, roles: &[Role]) -> bool {
        matches!(self, Caller::User { roles: held, .. } if held.iter().any(|r| roles.contains(r)))
    }
}

/// Extracts the token of an `Authorization: Bearer <token>` header: `None`
/// without the header, [`Error::InvalidRequest`] when it is there but is
/// not a bearer token (another scheme, no token, not text).
pub fn bearer_token(headers: &http::HeaderMap) -> Result<Option<&str>> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed =
        || Error::InvalidRequest("the Authorization header must be `Bearer <access token>`".into());
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(malformed());
    }
    Ok(Some(token))
}

/// The API-key half of the check: the registry the keys live in (and
/// whose auditor records refusals) and the pepper they are checked under.
#[derive(Clone, Copy)]
struct ApiKeys<'a> {
    registry: &'a Registry,
    pepper: &'a Pepper,
}

/// The bearer check over one state's parts: the token codec, the denylist
/// reads, the clock and, where keys are accepted, the API keys.
#[derive(Clone, Copy)]
pub struct Bearer<'a> {
    tokens: &'a AccessTokens,
    sessions: &'a dyn SessionStore,
    clock: &'a dyn Clock,
    keys: Option<ApiKeys<'a>>,
}

impl std::fmt::Debug for Bearer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bearer")
            .field("api_keys", &self.keys.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> Bearer<'a> {
    /// A check of people's access tokens only.
    pub fn new(
        tokens: &'a AccessTokens,
        sessions: &'a dyn SessionStore,
        clock: &'a dyn Clock,
    ) -> Self {
        Self {
            tokens,
            sessions,
            clock,
            keys: None,
        }
    }

    /// The same check, also taking API keys from `registry`, checked under
    /// `pepper`.
    pub fn with_api_keys(self, registry: &'a Registry, pepper: &'a Pepper) -> Self {
        Self {
            keys: Some(ApiKeys { registry, pepper }),
            ..self
        }
    }

    /// The whole check of one person's access token: signature and claims,
    /// then one consistent read of the denylist for the token's `jti`, its
    /// session and its user's `user#` record, judged by
    /// [`crate::domain::RevocationState::refuses_token`]. A refused token
    /// is [`Error::TokenRefused`] (`expired`, `revoked` or `invalid`); a
    /// delegated token (one with `act`) is `403` `insufficient_scope`.
    pub async fn token(&self, token: &str) -> Result<Arc<AccessClaims>> {
        self.person(token).await.map(|(claims, _)| claims)
    }

    /// Whether `token` stands, delegated or not: signature and claims, then
    /// the one read that decides (what introspection and the authorizer
    /// answer about any token). A delegated token's read also holds its
    /// parent's `jti`, its actor key and its agent
    /// ([`delegation::refusal`]).
    pub async fn live(&self, token: &str) -> Result<(Arc<AccessClaims>, RevocationState)> {
        let claims = self.tokens.verify(token, self.clock.now_secs()).await?;
        let revocation = match delegation::actor_agent(&claims)? {
            None => self.standing(&claims).await?,
            Some(agent) => {
                let state = self
                    .sessions
                    .delegation_state(delegation::lookup(&claims, &agent))
                    .await?;
                if let Some(why) =
                    delegation::refusal(&claims, (&state).into(), self.clock.now_secs())
                {
                    tracing::debug!(jti = %claims.jti, why, "delegated token refused");
                    return Err(Error::token(Refusal::Revoked));
                }
                state.revocation
            }
        };
        Ok((claims, revocation))
    }

    /// The denylist read of a person's own token, judged.
    async fn standing(&self, claims: &AccessClaims) -> Result<RevocationState> {
        let revocation = self
            .sessions
            .revocation_state(&claims.jti, &claims.sid, &claims.sub)
            .await?;
        if revocation.refuses_token(claims.r#gen) {
            tracing::debug!(jti = %claims.jti, "revoked access token refused");
            return Err(Error::token(Refusal::Revoked));
        }
        Ok(revocation)
    }

    /// [`Bearer::token`], with what the same read said of the user: their
    /// username and workspaces. A delegated token is refused before any
    /// read: no route that takes a person takes an agent acting for one.
    pub async fn person(&self, token: &str) -> Result<(Arc<AccessClaims>, RevocationState)> {
        let claims = self.tokens.verify(token, self.clock.now_secs()).await?;
        if claims.is_delegated() {
            return Err(delegated_refused());
        }
        let revocation = self.standing(&claims).await?;
        Ok((claims, revocation))
    }

    /// A person, by the request's `Authorization: Bearer` token; a missing
    /// header is `401` with a bare challenge.
    pub async fn user(&self, headers: &http::HeaderMap) -> Result<Arc<AccessClaims>> {
        let token = bearer_token(headers)?.ok_or(Error::token(Refusal::Missing))?;
        self.token(token).await
    }

    /// [`Bearer::user`] holding one of `roles`; anyone else is `403` saying
    /// `refusal`, its challenge naming the roles (`role:<name>`).
    pub async fn user_with_role(
        &self,
        headers: &http::HeaderMap,
        roles: &[Role],
        refusal: &str,
    ) -> Result<Arc<AccessClaims>> {
        let claims = self.user(headers).await?;
        if !claims.roles.iter().any(|r| roles.contains(r)) {
            return Err(Error::InsufficientScope {
                scope: roles
                    .iter()
                    .map(|r| format!("role:{}", r.as_str()))
                    .collect::<Vec<_>>()
                    .join(" "),
                detail: refusal.to_owned(),
                scheme: Scheme::Bearer,
            });
        }
        Ok(claims)
    }

    /// A person by bearer token or, where this check takes keys, a service
    /// or agent by `X-API-Key` with one of `scopes`, the request spending
    /// the key's `limit` (the route's: a run or a read). Neither is `401`,
    /// both at once `400` (which one should count?). Key refusals are
    /// audited as asked for by `origin`.
    pub async fn caller(
        &self,
        headers: &http::HeaderMap,
        origin: &Origin,
        scopes: &[&str],
        limit: KeyLimit,
    ) -> Result<Caller> {
        let key = headers.get(API_KEY_HEADER);
        if key.is_some() && headers.contains_key(http::header::AUTHORIZATION) {
            return Err(Error::InvalidRequest(
                "send either Authorization or X-API-Key, not both".into(),
            ));
        }
        // A refusal on a route that takes keys challenges for both schemes.
        let either = |e: Error| {
            if self.keys.is_some() {
                e.on_either_scheme()
            } else {
                e
            }
        };
        if let Some(token) = bearer_token(headers)? {
            let (claims, person) = self.person(token).await.map_err(either)?;
            // The claims are shared with the codec's cache of verified tokens.
            return Ok(Caller::User {
                user_id: claims.sub.clone(),
                roles: claims.roles.clone(),
                workspaces: person.workspaces,
            });
        }
        let (Some(key), Some(keys)) = (key, self.keys) else {
            return Err(either(Error::token(Refusal::Missing)));
        };
        let key = key
            .to_str()
            .map_err(|_| either(Error::TokenRefused(Challenge::api_key(Refusal::Invalid))))?;
        let caller = check_key(
            keys.registry,
            keys.pepper,
            origin,
            key.trim(),
            scopes,
            limit,
        )
        .await
        .map_err(either)?;
        Ok(Caller::Key(caller))
    }

    /// [`Bearer::caller`], also taking a delegated token that holds
    /// `delegated_scope` (the tool-call routes): it is checked whole
    /// ([`Bearer::live`]) and answers [`Caller::Delegated`].
    pub async fn caller_or_delegated(
        &self,
        headers: &http::HeaderMap,
        origin: &Origin,
        scopes: &[&str],
        delegated_scope: &str,
        limit: KeyLimit,
    ) -> Result<Caller> {
        let token = match bearer_token(headers) {
            Ok(Some(token)) if !headers.contains_key(API_KEY_HEADER) => token,
            _ => return self.caller(headers, origin, scopes, limit).await,
        };
        let claims = self.tokens.verify(token, self.clock.now_secs()).await;
        match claims {
            Ok(claims) if claims.is_delegated() => {
                // These routes take keys too: a refusal challenges both.
                let (claims, revocation) = self.live(token).await.map_err(|e| {
                    if self.keys.is_some() {
                        e.on_either_scheme()
                    } else {
                        e
                    }
                })?;
                delegated_caller(&claims, revocation, delegated_scope)
            }
            _ => self.caller(headers, origin, scopes, limit).await,
        }
    }
}

/// The caller a standing delegated token speaks for, if it holds `scope`.
fn delegated_caller(
    claims: &AccessClaims,
    revocation: RevocationState,
    scope: &str,
) -> Result<Caller> {
    delegation::require_scope(claims, scope)?;
    let (Some(act), Some(agent_id)) = (&claims.act, delegation::actor_agent(claims)?) else {
        return Err(delegated_refused());
    };
    Ok(Caller::Delegated(DelegatedCaller {
        user_id: claims.sub.clone(),
        agent_id,
        key_id: act.key_id.clone(),
        workspaces: revocation.workspaces,
    }))
}

/// The refusal of a delegated token on a route that does not take one.
pub fn delegated_refused() -> Error {
    Error::InsufficientScope {
        scope: crate::auth::jwt::WARDEN_CLIENT.into(),
        detail: "a delegated token is not accepted here".into(),
        scheme: Scheme::Bearer,
    }
}

impl AuthState {
    /// The bearer check over this state's access tokens and denylist:
    /// people only.
    pub fn bearer(&self) -> Bearer<'_> {
        Bearer::new(&self.tokens, &*self.store, &*self.clock)
    }

    /// The bearer check that also takes this state's API keys, when it has
    /// them (introspection's callers).
    pub fn bearer_or_key(&self) -> Bearer<'_> {
        match &self.api_keys {
            Some(keys) => self.bearer().with_api_keys(&keys.registry, &keys.pepper),
            None => self.bearer(),
        }
    }
}

impl AgentState {
    /// The bearer check over this state's access tokens and denylist, which also
    /// takes API keys (checked under the pepper, audited in the registry).
    pub fn bearer(&self) -> Bearer<'_> {
        Bearer::new(&self.tokens, &*self.sessions, &*self.registry.clock)
            .with_api_keys(&self.registry, &self.pepper)
    }
}

impl SecurityHealthState {
    /// The bearer check over this state's access tokens and denylist: people only.
    pub fn bearer(&self) -> Bearer<'_> {
        Bearer::new(&self.tokens, &*self.sessions, &*self.health.clock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_anything_else_is_invalid_request() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(bearer_token(&headers).unwrap(), None);
        headers.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&headers).unwrap(), Some("abc"));
        for malformed in ["Basic abc", "Bearer ", "Bearer", "Bearer a b", "abc"] {
            headers.insert("authorization", malformed.parse().unwrap());
            assert!(
                matches!(bearer_token(&headers), Err(Error::InvalidRequest(_))),
                "{malformed}"
            );
        }
    }
}
