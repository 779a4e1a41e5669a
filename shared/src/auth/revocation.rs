//! Revocation that takes effect at once: one token, one session, or every
//! token of a user. Every rule that decides whether a token or a session
//! still stands lives here, and so does every operation that revokes.
//!
//! - One access token: a `jti#` denylist entry until the token's expiry.
//! - One session (or its refresh token): the ActiveTokens record goes and a
//!   `sid#` entry stops the session's access tokens until the newest of them
//!   expires ([`end_session`]).
//! - Every token of a user: the user's generation rises by one, on the user
//!   and on its `user#` record, in one conditional write. Tokens carry the
//!   generation they were issued under, so every older token fails its very
//!   next check, in every Lambda instance. A login racing with it either
//!   lands before (and its token is then below the new generation) or is
//!   cancelled by the generation condition and retried on the new one.
//!   A password change and disabling a user are generation rises too.
//! - A user whose `user#` record is gone: every token refused.
//!
//! [`RevocationState::refuses_token`] and [`RevocationState::refuses_session`]
//! are the two rules; the bearer check
//! ([`crate::auth::bearer::Bearer::token`]) and refresh apply them.

use serde::Serialize;

use crate::audit::{EventType, Origin, Severity, user_actor};
use crate::auth::jwt::{AccessClaims, LEEWAY_SECS};
use crate::auth::tokens::{RefreshToken, hashes_equal};
use crate::domain::{RevocationState, Role, SessionRecord, UserRecord, Username};
use crate::http::RequestContext;
use crate::state::{Accounts, AuthState};
use crate::store::{AccountChange, AuthWrite, RevocationKey, Write};
use crate::{Error, Result};

/// Sessions deleted per transaction after a generation rise (DynamoDB takes
/// up to 100 items per transaction; the rise and the audit take three).
const DELETES_PER_TRANSACTION: usize = 90;

/// Extra life given to a `sid#` entry beyond the newest access token it
/// must block, for clock skew between instances.
const SKEW_MARGIN_SECS: i64 = 60;

impl RevocationState {
    /// Whether an access token with this state, issued under `generation`,
    /// is refused: its `jti` or its session is denied, its user is gone, or
    /// the user's generation has risen past it.
    pub fn refuses_token(&self, generation: u64) -> bool {
        self.token_revoked
            || self.session_revoked
            || !self.user_exists
            || generation < self.generation
    }

    /// Whether `session` no longer stands: it is denied, its user is gone,
    /// or it was created under a generation that has since risen (a record
    /// left by a login that lost a race with revoke-all).
    pub fn refuses_session(&self, session: &SessionRecord) -> bool {
        self.session_revoked || !self.user_exists || session.generation < self.generation
    }
}

/// The writes that end one session: its record, and a `sid#` entry that
/// outlives every access token the session can have issued (at most one
/// lifetime from now, plus leeway and skew).
pub fn end_session(state: &AuthState, session: &SessionRecord, now: i64) -> [Write; 2] {
    [
        AuthWrite::DeleteSession {
            user_id: session.user_id.clone(),
            session_id: session.session_id.clone(),
        }
        .into(),
        AuthWrite::Deny {
            key: RevocationKey::Session(session.session_id.clone()),
            expires_at: now + state.tokens.ttl_secs() + LEEWAY_SECS + SKEW_MARGIN_SECS,
        }
        .into(),
    ]
}

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

/// `POST /auth/revoke`: revokes one access or refresh token (RFC 7009). A
/// caller may revoke its own tokens, an admin anyone's. Returns how many
/// tokens were revoked: 0 when the token was unknown, already invalid or not
/// the caller's, and the answer does not tell which.
pub async fn revoke_token(
    state: &AuthState,
    ctx: &RequestContext,
    caller: &AccessClaims,
    token: &str,
) -> Result<u32> {
    let now = state.clock.now_secs();
    // A live access token passes exactly the check every endpoint applies
    // (a delegated token acting for the caller included: revoking it is
    // the person's to do); anything else may still be a refresh token (an
    // access token never parses as one).
    let access = match state.bearer().live(token).await {
        Ok((claims, _)) => Some(claims),
        Err(Error::TokenRefused(_) | Error::InsufficientScope { .. }) => None,
        Err(e) => return Err(e),
    };
    if let Some(claims) = access {
        if claims.sub != caller.sub && !is_admin(caller) {
            return Ok(0);
        }
        let event = state
            .auditor
            .event(EventType::TokenRevoked, Severity::Info, ctx)
            .actor(user_actor(&caller.sub))
            .subject(user_actor(&claims.sub))
            .detail("kind", "access")
            .detail("jti", claims.jti.as_str())
            .detail("session_id", claims.sid.as_str());
        let event = match &claims.act {
            Some(act) => event.detail("act", act.sub.as_str()),
            None => event,
        };
        let deny = AuthWrite::Deny {
            key: RevocationKey::Token(claims.jti.clone()),
            expires_at: claims.exp.saturating_add(LEEWAY_SECS),
        };
        state
            .store
            .transact(vec![deny.into(), event.into()])
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
    if revocation.refuses_session(&session)
        || !hashes_equal(&presented.hash(), &session.refresh_hash)
    {
        return Ok(0);
    }
    let event = state
        .auditor
        .event(EventType::TokenRevoked, Severity::Info, ctx)
        .actor(user_actor(&caller.sub))
        .subject(user_actor(&session.user_id))
        .detail("kind", "refresh")
        .detail("session_id", session.session_id.as_str());
    let mut writes = end_session(state, &session, now).to_vec();
    writes.push(event.into());
    state.store.transact(writes).await?;
    Ok(1)
}

/// A user's live sessions: unexpired, not revoked, and issued under
/// `generation`, the user's current one (sessions below it are records left
/// by a login that lost a race with a generation rise).
async fn live_sessions(
    accounts: &Accounts,
    user_id: &str,
    generation: u64,
    now: i64,
) -> Result<Vec<SessionRecord>> {
    let sessions = accounts.store.list_sessions(user_id, now).await?;
    let state = RevocationState {
        user_exists: true,
        generation,
        ..RevocationState::default()
    };
    Ok(sessions
        .into_iter()
        .filter(|s| !state.refuses_session(s))
        .collect())
}

/// `GET /auth/sessions`: the caller's live sessions, newest first.
pub async fn list_sessions(state: &AuthState, caller: &AccessClaims) -> Result<Vec<SessionView>> {
    let now = state.clock.now_secs();
    // The caller's token just passed the bearer check, so its `gen` is the
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
    state: &AuthState,
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
    if revocation.refuses_session(&session) {
        return Err(not_found());
    }
    let event = state
        .auditor
        .event(EventType::SessionRevoked, Severity::Info, ctx)
        .actor(user_actor(&caller.sub))
        .subject(user_actor(&caller.sub))
        .detail("session_id", session_id);
    let mut writes = end_session(state, &session, now).to_vec();
    writes.push(event.into());
    state.store.transact(writes).await
}

/// Whose tokens `POST /auth/revoke-all` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeAllTarget<'a> {
    /// The caller's own (`{}`).
    Own,
    /// The user with this id (`{"user_id"}`).
    UserId(&'a str),
    /// The user with this username (`{"username"}`), matched
    /// case-insensitively as at login.
    Username(&'a str),
}

/// `POST /auth/revoke-all`: raises the user's generation, so every token
/// issued before stops working at once, and removes the user's session
/// records. `target` is another user's id (admin only; anyone else gets
/// `403`); [`revoke_all_for`] also takes a username.
pub async fn revoke_all(
    state: &AuthState,
    ctx: &RequestContext,
    caller: &AccessClaims,
    target: Option<&str>,
    reason: Option<&str>,
) -> Result<RevokeAllOutcome> {
    let target = target.map_or(RevokeAllTarget::Own, RevokeAllTarget::UserId);
    revoke_all_for(state, ctx, caller, target, reason).await
}

/// [`revoke_all`] for `target`: the caller, or another user by id or by
/// username (role `admin`). A caller without it may name only themselves:
/// another user's id or username is `403`, and so is a username that names
/// nobody, so that the answer tells such a caller nothing about who
/// exists. For an admin an unknown user is `404`, by id or by username; a
/// username that cannot be one is `400`.
pub async fn revoke_all_for(
    state: &AuthState,
    ctx: &RequestContext,
    caller: &AccessClaims,
    target: RevokeAllTarget<'_>,
    reason: Option<&str>,
) -> Result<RevokeAllOutcome> {
    let forbidden = || Error::InsufficientScope {
        scope: "role:admin".into(),
        detail: "revoking another user's tokens needs the admin role".into(),
        scheme: crate::error::Scheme::Bearer,
    };
    let (user_id, username) = match target {
        RevokeAllTarget::Own => (caller.sub.clone(), None),
        RevokeAllTarget::UserId(t) if t != caller.sub && !is_admin(caller) => {
            return Err(forbidden());
        }
        RevokeAllTarget::UserId(t) => (t.to_owned(), None),
        RevokeAllTarget::Username(name) => {
            let username = Username::parse(name)?;
            match state.store.get_user(&username).await? {
                Some(user) if is_admin(caller) || user.user_id == caller.sub => {
                    (user.user_id, Some(user.username))
                }
                _ if !is_admin(caller) => return Err(forbidden()),
                _ => return Err(Error::NotFound("no such user".into())),
            }
        }
    };
    let mut details = vec![
        ("actor_user_id", caller.sub.clone()),
        ("target_user_id", user_id.clone()),
    ];
    if let Some(username) = username {
        details.push(("username", username.to_string()));
    }
    if let Some(r) = reason {
        details.push(("reason", r.chars().take(500).collect()));
    }
    let actor = user_actor(&caller.sub);
    let rise = GenerationRise {
        actor: &actor,
        origin: ctx.into(),
        change: AccountChange::None,
        event_type: EventType::AllTokensRevoked,
        details,
    };
    raise_generation(state, &user_id, rise).await
}

/// The user named `username`; none is `404`.
async fn existing_user(accounts: &Accounts, username: &Username) -> Result<UserRecord> {
    accounts
        .store
        .get_user(username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user {username}")))
}

/// Revoke-all asked for by an operator (`warden users revoke-all`): the
/// same generation rise as [`revoke_all`], for the user named `username`,
/// audited as `ALL_TOKENS_REVOKED` with `actor` and the reason.
pub async fn revoke_all_of(
    accounts: &Accounts,
    origin: Origin,
    actor: &str,
    username: &Username,
    reason: &str,
) -> Result<RevokeAllOutcome> {
    let user = existing_user(accounts, username).await?;
    let rise = GenerationRise {
        actor,
        origin,
        change: AccountChange::None,
        event_type: EventType::AllTokensRevoked,
        details: vec![
            ("target_user_id", user.user_id.clone()),
            ("username", username.to_string()),
            ("reason", reason.chars().take(500).collect()),
        ],
    };
    raise_generation(accounts, &user.user_id, rise).await
}

/// What [`set_roles`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolesOutcome {
    /// The roles were replaced and every token the user held was revoked.
    Changed {
        /// The roles before.
        from: Vec<Role>,
        /// The generation rise.
        revoked: RevokeAllOutcome,
    },
    /// The user already had exactly these roles: nothing was written.
    Unchanged,
}

/// Replaces a user's roles (`warden users roles`). Tokens carry the roles
/// they were issued with, so the change is a generation rise: every token
/// the user holds dies in the same write, and a removed role stops working
/// at once (the user logs in again to get the new roles). The same roles
/// in another order change nothing and revoke nothing.
pub async fn set_roles(
    accounts: &Accounts,
    origin: Origin,
    actor: &str,
    username: &Username,
    roles: &[Role],
) -> Result<RolesOutcome> {
    if roles.is_empty() {
        return Err(Error::BadRequest("a user needs at least one role".into()));
    }
    let mut roles = roles.to_vec();
    roles.sort_by_key(|r| r.as_str());
    roles.dedup();
    let user = existing_user(accounts, username).await?;
    let mut before = user.roles.clone();
    before.sort_by_key(|r| r.as_str());
    before.dedup();
    if before == roles {
        return Ok(RolesOutcome::Unchanged);
    }
    let names = |rs: &[Role]| rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
    let rise = GenerationRise {
        actor,
        origin,
        change: AccountChange::Roles(roles.clone()),
        event_type: EventType::UserRolesChanged,
        details: vec![
            ("target_user_id", user.user_id.clone()),
            ("username", username.to_string()),
            ("from", names(&before)),
            ("to", names(&roles)),
        ],
    };
    let revoked = raise_generation(accounts, &user.user_id, rise).await?;
    Ok(RolesOutcome::Changed {
        from: before,
        revoked,
    })
}

/// Changes a user's password and revokes every token they hold, in one
/// write: the password change and the generation rise land together. A
/// password that breaks the policy ([`crate::auth::password_policy`]) is
/// [`Error::BadRequest`], before the user is even read.
pub async fn set_password(
    accounts: &Accounts,
    origin: Origin,
    actor: &str,
    username: &Username,
    password: &secrecy::SecretString,
) -> Result<RevokeAllOutcome> {
    crate::auth::password_policy::check(password, accounts.config.password_min_length)?;
    let user = accounts
        .store
        .get_user(username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user {username}")))?;
    let hash = accounts.passwords.hash(password).await?;
    let rise = GenerationRise {
        actor,
        origin,
        change: AccountChange::Password(hash),
        event_type: EventType::PasswordChanged,
        details: vec![("target_user_id", user.user_id.clone())],
    };
    raise_generation(accounts, &user.user_id, rise).await
}

/// Disables a user: it can no longer log in, and every token it holds dies
/// in the same write (its generation rises).
pub async fn disable_user(
    accounts: &Accounts,
    origin: Origin,
    actor: &str,
    username: &Username,
) -> Result<RevokeAllOutcome> {
    let user = existing_user(accounts, username).await?;
    let rise = GenerationRise {
        actor,
        origin,
        change: AccountChange::Disable,
        event_type: EventType::UserDisabled,
        details: vec![("username", username.to_string())],
    };
    raise_generation(accounts, &user.user_id, rise).await
}

/// Enables a disabled user again. Its old tokens stay dead: it logs in anew.
pub async fn enable_user(
    accounts: &Accounts,
    origin: Origin,
    actor: &str,
    username: &Username,
) -> Result<()> {
    let user = existing_user(accounts, username).await?;
    let event = accounts
        .auditor
        .event(EventType::UserEnabled, Severity::Warning, origin)
        .actor(actor)
        .subject(user_actor(&user.user_id))
        .detail("username", username.as_str());
    let write = AuthWrite::EnableUser {
        username: username.clone(),
    };
    match accounts
        .store
        .transact(vec![write.into(), event.into()])
        .await
    {
        Err(Error::ConditionFailed) => Err(Error::NotFound(format!("no user {username}"))),
        other => other,
    }
}

/// One generation rise: who asks, from where, what else changes, and how
/// it is audited.
struct GenerationRise<'a> {
    actor: &'a str,
    origin: Origin,
    change: AccountChange,
    event_type: EventType,
    details: Vec<(&'static str, String)>,
}

async fn raise_generation(
    accounts: &Accounts,
    user_id: &str,
    rise: GenerationRise<'_>,
) -> Result<RevokeAllOutcome> {
    // A concurrent raise cancels ours; it is retried on the new generation.
    for _ in 0..5 {
        let now = accounts.clock.now_secs();
        let (username, generation) = accounts
            .store
            .user_generation(user_id)
            .await?
            .ok_or_else(|| Error::NotFound("no such user".into()))?;
        let sessions = live_sessions(accounts, user_id, generation, now).await?;
        let mut event = accounts
            .auditor
            .event(rise.event_type, Severity::Warning, rise.origin.clone())
            .actor(rise.actor)
            .subject(user_actor(user_id))
            .detail("revoked_count", sessions.len())
            .detail("generation", generation + 1);
        for (k, v) in &rise.details {
            event = event.detail(k, v.as_str());
        }
        let mut writes: Vec<Write> = vec![
            AuthWrite::RaiseGeneration {
                username: username.clone(),
                user_id: user_id.to_owned(),
                expected_generation: generation,
                change: rise.change.clone(),
            }
            .into(),
            event.into(),
        ];
        let delete = |s: &SessionRecord| -> Write {
            AuthWrite::DeleteSession {
                user_id: s.user_id.clone(),
                session_id: s.session_id.clone(),
            }
            .into()
        };
        let (first, rest) = sessions.split_at(sessions.len().min(DELETES_PER_TRANSACTION));
        writes.extend(first.iter().map(delete));
        match accounts.store.transact(writes).await {
            Ok(()) => {}
            Err(Error::ConditionFailed) => continue,
            Err(e) => return Err(e),
        }
        // The rise already killed every token; what is left is tidying the
        // records of a user with very many sessions.
        for chunk in rest.chunks(DELETES_PER_TRANSACTION) {
            if let Err(e) = accounts
                .store
                .transact(chunk.iter().map(delete).collect())
                .await
            {
                tracing::warn!(error = %e.chain(), "stale session records left after a generation rise");
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
