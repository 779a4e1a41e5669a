//! Revocation that takes effect at once: one token, one session, or every
//! token of a user.
//!
//! - One access token: a `jti#` denylist entry until the token's expiry.
//! - One session (or its refresh token): the ActiveTokens record goes and a
//!   `sid#` entry stops the session's access tokens until the newest of them
//!   expires.
//! - Every token of a user: the user's generation rises by one, on the user
//!   and on its `user#` record, in one conditional write. Tokens carry the
//!   generation they were issued under, so every older token fails its very
//!   next check, in every Lambda instance. A login or refresh racing with it
//!   either lands before (and its token is then below the new generation) or
//!   is cancelled by the generation condition.

use serde::Serialize;

use crate::audit::{EventType, Severity};
use crate::auth::jwt::{AccessClaims, LEEWAY_SECS};
use crate::auth::tokens::{hashes_equal, RefreshToken};
use crate::auth::Role;
use crate::http::RequestContext;
use crate::state::AppState;
use crate::store::{RevocationKey, SessionRecord, Write};
use crate::{Error, Result};

/// Sessions deleted per transaction after a generation rise (DynamoDB takes
/// up to 100 items per transaction; the rise and the audit take three).
const DELETES_PER_TRANSACTION: usize = 90;

/// One of the caller's sessions, as `GET /auth/sessions` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// The session id (`sid` of its tokens).
    pub session_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: the last login or refresh.
    pub last_used_at: String,
    /// RFC 3339: when the refresh token expires.
    pub expires_at: String,
    /// Client IP at login.
    pub ip: String,
    /// Client user agent at login.
    pub user_agent: String,
    /// Whether the calling token belongs to this session.
    pub current: bool,
}

/// The answer of revoke-all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RevokeAllOutcome {
    /// The number of the user's sessions that were live at that moment.
    pub revoked_count: usize,
    /// The user's new generation.
    pub generation: u64,
}

fn is_admin(caller: &AccessClaims) -> bool {
    caller.roles.contains(&Role::Admin)
}

/// How long a `sid#` entry must live: past the expiry of any access token
/// the session can have issued, which is at most one lifetime from now.
fn session_entry_expiry(state: &AppState, now: i64) -> i64 {
    now + state.tokens.ttl_secs() + LEEWAY_SECS
}

/// The writes that end one session: its record, and a `sid#` entry.
fn end_session(state: &AppState, session: &SessionRecord, now: i64) -> [Write; 2] {
    [
        Write::DeleteSession {
            user_id: session.user_id.clone(),
            session_id: session.session_id.clone(),
        },
        Write::Deny {
            key: RevocationKey::Session(session.session_id.clone()),
            expires_at: session_entry_expiry(state, now),
        },
    ]
}

/// `POST /auth/revoke`: revokes one access or refresh token (RFC 7009). A
/// caller may revoke its own tokens, an admin anyone's. Returns how many
/// tokens were revoked: 0 when the token was unknown, already invalid or not
/// the caller's, and the answer does not tell which.
pub async fn revoke_token(
    state: &AppState,
    ctx: &RequestContext,
    caller: &AccessClaims,
    token: &str,
) -> Result<u32> {
    let now = state.clock.now_secs();
    if let Ok(claims) = state.tokens.verify(token, now) {
        if claims.sub != caller.sub && !is_admin(caller) {
            return Ok(0);
        }
        let revocation = state
            .store
            .revocation_state(&claims.jti, &claims.sid, &claims.sub)
            .await?;
        if revocation.blocks(claims.r#gen) {
            return Ok(0);
        }
        let event = state
            .audit(EventType::TokenRevoked, Severity::Info, ctx)
            .actor(&caller.sub)
            .subject(&claims.sub)
            .detail("kind", "access")
            .detail("jti", claims.jti.as_str())
            .detail("session_id", claims.sid.as_str());
        let deny = Write::Deny {
            key: RevocationKey::Token(claims.jti.clone()),
            expires_at: claims.exp + LEEWAY_SECS,
        };
        state
            .store
            .transact(vec![deny, Write::Audit(event)])
            .await?;
        return Ok(1);
    }

    let Some(presented) = RefreshToken::parse(&secrecy::SecretString::from(token.to_owned()))
    else {
        return Ok(0);
    };
    if presented.user_id != caller.sub && !is_admin(caller) {
        return Ok(0);
    }
    let (session, revocation) = state
        .store
        .session_with_revocation(&presented.user_id, &presented.session_id, now)
        .await?;
    let Some(session) = session else {
        return Ok(0);
    };
    if revocation.session_revoked
        || session.generation < revocation.generation
        || !hashes_equal(&presented.hash(), &session.refresh_hash)
    {
        return Ok(0);
    }
    let event = state
        .audit(EventType::TokenRevoked, Severity::Info, ctx)
        .actor(&caller.sub)
        .subject(&session.user_id)
        .detail("kind", "refresh")
        .detail("session_id", session.session_id.as_str());
    let mut writes = end_session(state, &session, now).to_vec();
    writes.push(Write::Audit(event));
    state.store.transact(writes).await?;
    Ok(1)
}

/// A user's live sessions: unexpired, not revoked, and issued under
/// `generation`, the user's current one (sessions below it are records left
/// by a login that lost a race with a generation rise).
async fn live_sessions(
    state: &AppState,
    user_id: &str,
    generation: u64,
    now: i64,
) -> Result<Vec<SessionRecord>> {
    let sessions = state.store.list_sessions(user_id, now).await?;
    Ok(sessions
        .into_iter()
        .filter(|s| s.generation >= generation)
        .collect())
}

/// `GET /auth/sessions`: the caller's live sessions, newest first.
pub async fn list_sessions(state: &AppState, caller: &AccessClaims) -> Result<Vec<SessionView>> {
    let now = state.clock.now_secs();
    // The caller's token just passed `authenticate`, so its `gen` is the
    // user's current generation: no second read of it is needed.
    let mut sessions = live_sessions(state, &caller.sub, caller.r#gen, now).await?;
    sessions.sort_by(|a, b| b.session_id.cmp(&a.session_id));
    Ok(sessions
        .into_iter()
        .map(|s| SessionView {
            current: s.session_id == caller.sid,
            session_id: s.session_id,
            created_at: crate::clock::rfc3339(s.created_at),
            last_used_at: crate::clock::rfc3339(s.last_used_at),
            expires_at: crate::clock::rfc3339(s.expires_at),
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect())
}

/// `DELETE /auth/sessions/{sid}`: revokes one of the caller's sessions.
/// Another user's session, or an unknown one, is [`Error::NotFound`] and
/// nothing changes.
pub async fn revoke_session(
    state: &AppState,
    ctx: &RequestContext,
    caller: &AccessClaims,
    session_id: &str,
) -> Result<()> {
    let now = state.clock.now_secs();
    let not_found = || Error::NotFound("no such session".into());
    // Keyed by the caller's own id: someone else's session is not even read.
    let (session, revocation) = state
        .store
        .session_with_revocation(&caller.sub, session_id, now)
        .await?;
    let session = session.ok_or_else(not_found)?;
    if revocation.session_revoked || session.generation < revocation.generation {
        return Err(not_found());
    }
    let event = state
        .audit(EventType::SessionRevoked, Severity::Info, ctx)
        .actor(&caller.sub)
        .subject(&caller.sub)
        .detail("session_id", session_id);
    let mut writes = end_session(state, &session, now).to_vec();
    writes.push(Write::Audit(event));
    state.store.transact(writes).await
}

/// `POST /auth/revoke-all`: raises the user's generation, so every token
/// issued before stops working at once, and removes the user's session
/// records. `target` is another user's id (admin only; anyone else gets
/// [`Error::Forbidden`]).
pub async fn revoke_all(
    state: &AppState,
    ctx: &RequestContext,
    caller: &AccessClaims,
    target: Option<&str>,
    reason: Option<&str>,
) -> Result<RevokeAllOutcome> {
    let user_id = match target {
        Some(t) if t != caller.sub && !is_admin(caller) => {
            return Err(Error::Forbidden(
                "revoking another user's tokens needs the admin role".into(),
            ))
        }
        Some(t) => t,
        None => caller.sub.as_str(),
    };
    let mut extra = vec![
        ("actor_user_id", caller.sub.clone()),
        ("target_user_id", user_id.to_owned()),
    ];
    if let Some(r) = reason {
        extra.push(("reason", r.chars().take(500).collect()));
    }
    raise_generation(
        state,
        ctx,
        &caller.sub,
        user_id,
        None,
        EventType::AllTokensRevoked,
        extra,
    )
    .await
}

/// Changes a user's password and revokes every token they hold, in one
/// write: the password change and the generation rise land together.
pub async fn set_password(
    state: &AppState,
    ctx: &RequestContext,
    actor: &str,
    username: &str,
    password: &secrecy::SecretString,
) -> Result<RevokeAllOutcome> {
    let username = crate::auth::login::normalize_username(username)?;
    crate::auth::login::check_password_length(password)?;
    let user = state
        .store
        .get_user(&username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user {username:?}")))?;
    let hash = state.passwords.hash(password).await?;
    raise_generation(
        state,
        ctx,
        actor,
        &user.user_id,
        Some(hash),
        EventType::PasswordChanged,
        vec![("target_user_id", user.user_id.clone())],
    )
    .await
}

async fn raise_generation(
    state: &AppState,
    ctx: &RequestContext,
    actor: &str,
    user_id: &str,
    new_password_hash: Option<String>,
    event_type: EventType,
    details: Vec<(&'static str, String)>,
) -> Result<RevokeAllOutcome> {
    // A concurrent raise cancels ours; it is retried on the new generation.
    for _ in 0..5 {
        let now = state.clock.now_secs();
        let (username, generation) = state
            .store
            .user_generation(user_id)
            .await?
            .ok_or_else(|| Error::NotFound("no such user".into()))?;
        let sessions = live_sessions(state, user_id, generation, now).await?;
        let mut event = state
            .audit(event_type, Severity::Warning, ctx)
            .actor(actor)
            .subject(user_id)
            .detail("revoked_count", sessions.len())
            .detail("generation", generation + 1);
        for (k, v) in &details {
            event = event.detail(k, v.as_str());
        }
        let mut writes = vec![
            Write::RaiseGeneration {
                username: username.clone(),
                user_id: user_id.to_owned(),
                expected_generation: generation,
                new_password_hash: new_password_hash.clone(),
            },
            Write::Audit(event),
        ];
        let (first, rest) = sessions.split_at(sessions.len().min(DELETES_PER_TRANSACTION));
        writes.extend(first.iter().map(|s| Write::DeleteSession {
            user_id: s.user_id.clone(),
            session_id: s.session_id.clone(),
        }));
        match state.store.transact(writes).await {
            Ok(()) => {}
            Err(Error::ConditionFailed) => continue,
            Err(e) => return Err(e),
        }
        // The rise already killed every token; what is left is tidying the
        // records of a user with very many sessions.
        for chunk in rest.chunks(DELETES_PER_TRANSACTION) {
            let deletes = chunk
                .iter()
                .map(|s| Write::DeleteSession {
                    user_id: s.user_id.clone(),
                    session_id: s.session_id.clone(),
                })
                .collect();
            if let Err(e) = state.store.transact(deletes).await {
                tracing::warn!(error = %e, "stale session records left after a generation rise");
            }
        }
        tracing::info!(
            user_id,
            generation = generation + 1,
            revoked = sessions.len(),
            "generation raised"
        );
        return Ok(RevokeAllOutcome {
            revoked_count: sessions.len(),
            generation: generation + 1,
        });
    }
    Err(Error::unavailable(
        "the user's generation kept changing; try again",
    ))
}
