//! Delegated agent tokens: `POST /auth/token`, RFC 8693 token exchange
//! (API.md "Delegated agent tokens").
//!
//! An agent acting for a person presents the person's access token (the
//! subject) and its own API key (the actor), and gets a short access token
//! whose `sub` is the person and whose `act` is the agent and its key: no
//! roles, scopes only narrowed (a person's `warden` may delegate
//! `tools:call`), never delegated again. It carries the subject's `sid`,
//! `gen` and `jti` (as `parent_jti`) and the agent's kill generation
//! (`agent_gen`), so that one read decides whether it still stands
//! ([`refusal`]): it dies with the person's token, session, revoke-all or
//! disable, with the key's revocation or expiry, and with the agent's kill
//! switch or demotion (re-enabling the agent revives nothing).
//!
//! Such a token is accepted only by the tool-call routes (the one bearer
//! check refuses it everywhere else, `403`), and never decides a proposal.

use serde::Serialize;

use crate::audit::{EventType, Origin, Severity};
use crate::auth::api_keys::{KeyCaller, KeyLimit, SCOPE_TOOLS_CALL, check_key};
use crate::auth::jwt::{AccessClaims, Actor, WARDEN_CLIENT};
use crate::domain::RevocationState;
use crate::domain::agents::{AgentId, AgentRecord, ApiKeyRecord};
use crate::error::Refusal;
use crate::state::AuthState;
use crate::store::{DelegationLookup, DelegationState, TokenLookup};
use crate::{Error, Result};

/// The path of the token endpoint.
pub const TOKEN_PATH: &str = "/auth/token";

/// The one grant type `POST /auth/token` takes.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The subject token's type, and the issued token's.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The actor token's type: an agent's API key.
pub const API_KEY_TOKEN_TYPE: &str = "urn:warden:params:oauth:token-type:api_key";

/// The longest a delegated token lives, in seconds (15 minutes).
pub const MAX_DELEGATED_TTL_SECS: i64 = 900;

/// The prefix of `act.sub` and of a delegated token's `client_id`.
const AGENT_PREFIX: &str = "agent:";

/// The agent a delegated token acts as: `act.sub` without `agent:`.
/// `None` for a person's own token; [`Error::TokenRefused`] when `act`
/// names no agent.
pub fn actor_agent(claims: &AccessClaims) -> Result<Option<AgentId>> {
    let Some(act) = &claims.act else {
        return Ok(None);
    };
    act.sub
        .strip_prefix(AGENT_PREFIX)
        .and_then(|id| AgentId::parse(id).ok())
        .map(Some)
        .ok_or_else(|| Error::token(Refusal::Invalid))
}

/// The read that decides whether the delegated token `claims` (acting as
/// `agent`) stands.
pub fn lookup<'a>(claims: &'a AccessClaims, agent: &'a AgentId) -> DelegationLookup<'a> {
    DelegationLookup {
        token: token_lookup(claims),
        key_id: claims.act.as_ref().map_or("", |a| a.key_id.as_str()),
        agent_id: agent,
    }
}

/// The denylist items of the token `claims`: its `jti`, its parent's, its
/// session and its user.
pub fn token_lookup(claims: &AccessClaims) -> TokenLookup<'_> {
    TokenLookup {
        jti: &claims.jti,
        parent_jti: claims.parent_jti.as_deref(),
        session_id: &claims.sid,
        user_id: &claims.sub,
    }
}

/// What one read said about a delegated token, borrowed from wherever it
/// was read ([`DelegationState`], or a tool call's context).
#[derive(Debug, Clone, Copy)]
pub struct StandingRead<'a> {
    /// The denylist state (the parent's `jti` counted as the token's).
    pub revocation: &'a RevocationState,
    /// The actor key, if it exists.
    pub key: Option<&'a ApiKeyRecord>,
    /// The agent, if it exists.
    pub agent: Option<&'a AgentRecord>,
}

impl<'a> From<&'a DelegationState> for StandingRead<'a> {
    fn from(state: &'a DelegationState) -> Self {
        Self {
            revocation: &state.revocation,
            key: state.key.as_ref(),
            agent: state.agent.as_ref(),
        }
    }
}

/// Whether the delegated token `claims` holds `scope` (`403`
/// `insufficient_scope` naming it otherwise).
pub fn require_scope(claims: &AccessClaims, scope: &str) -> Result<()> {
    if claims.has_scope(scope) {
        return Ok(());
    }
    Err(Error::InsufficientScope {
        scope: scope.to_owned(),
        detail: format!("this delegated token lacks the scope {scope}"),
        scheme: crate::error::Scheme::Bearer,
    })
}

/// Why the delegated token `claims` no longer stands at `now`, given what
/// one read said (`state`), or `None` when it does: its own or its
/// parent's `jti`, its session, its user (gone, disabled, revoke-all), its
/// actor key (gone, revoked, expired, not this agent's, without
/// `tools:call`), its agent (gone, disabled, its kill generation moved).
/// Every one is `revoked` to the client.
pub fn refusal(claims: &AccessClaims, state: StandingRead<'_>, now: i64) -> Option<&'static str> {
    let (Some(act), Some(agent_gen)) = (&claims.act, claims.agent_gen) else {
        return Some("not a delegated token");
    };
    if state.revocation.refuses_token(claims.r#gen) {
        return Some("token, parent token, session or user revoked");
    }
    let key_stands = state.key.is_some_and(|key| {
        key.revoked_at.is_none()
            && key.expires_at.is_none_or(|at| at > now)
            && key.owner.agent().map(|a| format!("{AGENT_PREFIX}{a}")) == Some(act.sub.clone())
            && key.scopes.iter().any(|s| s == SCOPE_TOOLS_CALL)
    });
    if !key_stands {
        return Some("actor key revoked or expired");
    }
    let agent_stands = state
        .agent
        .is_some_and(|agent| agent.enabled && agent.kill_generation == agent_gen);
    if !agent_stands {
        return Some("agent disabled or its kill generation moved");
    }
    None
}

/// The answer to a successful exchange (RFC 8693 section 2.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The delegated access token.
    pub access_token: String,
    /// Always [`ACCESS_TOKEN_TYPE`].
    pub issued_token_type: &'static str,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Its scopes, space-separated.
    pub scope: String,
}

/// An `invalid_request` refusal saying `description`.
fn invalid_request(description: impl Into<String>) -> Error {
    Error::OAuth {
        error: "invalid_request",
        description: description.into(),
    }
}

/// One form parameter, `None` when absent or empty.
fn param<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A required parameter that must be `expected` when `expected` is given.
fn required<'f>(
    form: &'f [(String, String)],
    name: &str,
    expected: Option<&str>,
) -> Result<&'f str> {
    let value = param(form, name).ok_or_else(|| invalid_request(format!("{name} is required")))?;
    match expected {
        Some(expected) if value != expected => {
            Err(invalid_request(format!("{name} must be {expected}")))
        }
        _ => Ok(value),
    }
}

/// The requested scopes (`tools:call` when omitted), each once, in order.
fn requested_scopes(form: &[(String, String)]) -> Result<Vec<String>> {
    let Some(raw) = form.iter().find(|(k, _)| k == "scope").map(|(_, v)| v) else {
        return Ok(vec![SCOPE_TOOLS_CALL.to_owned()]);
    };
    // RFC 6749 section 3.3: scope-tokens of %x21 / %x23-5B / %x5D-7E,
    // separated by one space.
    let well_formed = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
    };
    let mut scopes: Vec<String> = Vec::new();
    for token in raw.split(' ') {
        if !well_formed(token) {
            return Err(invalid_request(
                "scope must be scope tokens separated by single spaces",
            ));
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    Ok(scopes)
}

/// What the subject token `subject` may delegate: a
/// person's own token (`warden`) `tools:call`; any other, its own scopes.
fn delegable(subject: &AccessClaims) -> Vec<&str> {
    if subject.has_scope(WARDEN_CLIENT) {
        vec![SCOPE_TOOLS_CALL]
    } else {
        subject.scope.split(' ').collect()
    }
}

/// `POST /auth/token`: exchanges a person's access token (the subject) and
/// an agent's API key with `tools:call` (the actor) for a delegated token,
/// after checking, in this order: the grant type
/// (`unsupported_grant_type`), the parameters, the subject token (live,
/// not delegated), the actor key (known, its secret, not revoked or
/// expired, `tools:call`, within its hourly limit: its refusals are
/// audited like any key's), the key's agent (enabled), each an
/// `invalid_request`; then the scope (`invalid_scope`). The token is signed
/// before the exchange is audited (`TOKEN_EXCHANGED`), so a failed
/// signature leaves nothing behind.
pub async fn exchange(
    state: &AuthState,
    origin: &Origin,
    form: &[(String, String)],
) -> Result<TokenResponse> {
    match param(form, "grant_type") {
        None => return Err(invalid_request("grant_type is required")),
        Some(TOKEN_EXCHANGE_GRANT) => {}
        Some(_) => {
            return Err(Error::OAuth {
                error: "unsupported_grant_type",
                description: format!("the only grant type is {TOKEN_EXCHANGE_GRANT}"),
            });
        }
    }
    let subject_token = required(form, "subject_token", None)?;
    required(form, "subject_token_type", Some(ACCESS_TOKEN_TYPE))?;
    let actor_token = required(form, "actor_token", None)?;
    required(form, "actor_token_type", Some(API_KEY_TOKEN_TYPE))?;
    if let Some(requested) = param(form, "requested_token_type")
        && requested != ACCESS_TOKEN_TYPE
    {
        return Err(invalid_request(format!(
            "requested_token_type must be {ACCESS_TOKEN_TYPE}"
        )));
    }
    // The token is for this service and no other.
    let audience = state.tokens.audience();
    let issuer = state.tokens.issuer();
    for (name, allowed) in [("audience", audience), ("resource", issuer)] {
        if param(form, name).is_some_and(|v| v != allowed) {
            return Err(Error::OAuth {
                error: "invalid_target",
                description: format!("{name} must be {allowed} or omitted"),
            });
        }
    }
    let requested = requested_scopes(form)?;

    // The subject: a person's own live token.
    let subject = match state.bearer().live(subject_token).await {
        Ok((claims, _)) => claims,
        Err(Error::TokenRefused(c)) => {
            return Err(invalid_request(format!(
                "the subject_token is {}",
                c.reason.word()
            )));
        }
        Err(e) => return Err(e),
    };
    if subject.is_delegated() {
        return Err(invalid_request(
            "the subject_token is itself delegated: a delegated token is never exchanged again",
        ));
    }
    let refuse = async |reason: &str, error: Error| -> Error {
        let event = state
            .auditor
            .event(
                EventType::TokenExchangeRefused,
                Severity::Warning,
                origin.clone(),
            )
            .actor(format!("user:{}", subject.sub))
            .detail("reason", reason.to_owned());
        match state.store.transact(vec![event.into()]).await {
            Ok(()) => error,
            Err(e) => e,
        }
    };

    // The actor: an agent's key with tools:call.
    let keys = state.api_keys.as_ref().ok_or_else(|| {
        tracing::error!("the token endpoint needs the API keys (registry and pepper)");
        Error::unavailable("no API keys here")
    })?;
    let key: KeyCaller = match check_key(
        &keys.registry,
        &keys.pepper,
        origin,
        actor_token,
        &[SCOPE_TOOLS_CALL],
        // An exchange issues a token: the key's run limit.
        KeyLimit::Run,
    )
    .await
    {
        Ok(key) => key,
        // Refused keys are audited by the check (API_KEY_REJECTED).
        Err(Error::TokenRefused(c)) => {
            return Err(invalid_request(format!(
                "the actor_token is {}",
                c.reason.word()
            )));
        }
        Err(Error::InsufficientScope { .. }) => {
            return Err(invalid_request(
                "the actor_token lacks the scope tools:call",
            ));
        }
        Err(e) => return Err(e),
    };
    let Some(agent_id) = key.owner.agent() else {
        return Err(refuse(
            "service_key",
            invalid_request("the actor_token is a service's key: only an agent acts for a person"),
        )
        .await);
    };
    let agent = keys.registry.store.get_agent(agent_id).await?;
    let Some(agent) = agent.filter(|a| a.enabled) else {
        return Err(refuse(
            "agent_disabled",
            invalid_request(format!("agent {agent_id} is disabled")),
        )
        .await);
    };

    // Scopes only narrow: within what the subject may delegate and what
    // the key holds.
    let allowed = delegable(&subject);
    if let Some(wider) = requested
        .iter()
        .find(|s| !allowed.contains(&s.as_str()) || !key.scopes.contains(s))
    {
        return Err(refuse(
            "invalid_scope",
            Error::OAuth {
                error: "invalid_scope",
                description: format!(
                    "{wider} cannot be delegated here: a person's token delegates {}, within the key's scopes",
                    allowed.join(" ")
                ),
            },
        )
        .await);
    }

    let now = state.clock.now_secs();
    let exp = subject.exp.min(now + MAX_DELEGATED_TTL_SECS);
    if exp <= now {
        return Err(invalid_request("the subject_token is expired"));
    }
    let scope = requested.join(" ");
    let claims = AccessClaims {
        iss: issuer.to_owned(),
        sub: subject.sub.clone(),
        aud: audience.to_owned(),
        exp,
        iat: now,
        nbf: now,
        jti: ulid::Ulid::new().to_string(),
        client_id: format!("{AGENT_PREFIX}{agent_id}"),
        scope: scope.clone(),
        roles: Vec::new(),
        r#gen: subject.r#gen,
        sid: subject.sid.clone(),
        act: Some(Actor {
            sub: format!("{AGENT_PREFIX}{agent_id}"),
            key_id: key.key_id.clone(),
        }),
        parent_jti: Some(subject.jti.clone()),
        agent_gen: Some(agent.kill_generation),
    };
    // Signed before anything is written.
    let token = state.tokens.sign(&claims, now).await?;
    let event = state
        .auditor
        .event(EventType::TokenExchanged, Severity::Info, origin.clone())
        .actor(format!("user:{}", subject.sub))
        .subject(format!("{AGENT_PREFIX}{agent_id}"))
        .detail("key_id", key.key_id)
        .detail("scope", scope.clone())
        .detail("jti", claims.jti.clone())
        .detail("parent_jti", subject.jti.clone())
        .detail("session_id", subject.sid.clone())
        .detail("expires_at", exp);
    state.store.transact(vec![event.into()]).await?;
    Ok(TokenResponse {
        access_token: token,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: "Bearer",
        expires_in: exp - now,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn scopes_default_to_tools_call_and_must_be_well_formed() {
        assert_eq!(requested_scopes(&form(&[])).unwrap(), ["tools:call"]);
        assert_eq!(
            requested_scopes(&form(&[("scope", "tools:call tools:call agents:run")])).unwrap(),
            ["tools:call", "agents:run"]
        );
        for bad in ["", " tools:call", "tools:call  x", "a\"b", "a\\b"] {
            assert!(
                matches!(
                    requested_scopes(&form(&[("scope", bad)])),
                    Err(Error::OAuth {
                        error: "invalid_request",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
