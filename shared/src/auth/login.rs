//! Login and refresh: the operations behind `POST /auth/login` and
//! `POST /auth/refresh`.
//!
//! Login costs argon2id plus three store round trips: the per-IP limit (one
//! conditional write), the user and the failure counter kept for unknown
//! usernames (one consistent batch read), and one transaction that records
//! the outcome together with its audit event.
//!
//! An unknown username backs off exactly like an account does (same
//! statuses, same `Retry-After` sequence): its failures are counted under
//! the name, for [`UNKNOWN_USER_MEMORY_SECS`] after the last one, without
//! creating a user. Otherwise the answers would tell which usernames exist.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::audit::Origin;
use crate::audit::{EventType, Severity, user_actor};
use crate::auth::password::MAX_PASSWORD_BYTES;
use crate::auth::password_policy;
use crate::auth::tokens::{RefreshToken, hashes_equal};
use crate::domain::{FailureCount, Role, SessionRecord, UserRecord, Username};
use crate::http::RequestContext;
use crate::metrics::Metric;
use crate::ratelimit::{self, Decision};
use crate::state::{Accounts, AuthState};
use crate::store::{AuthWrite, Write, keys};
use crate::{Error, Result};

/// Consecutive failures after which an account backs off.
pub const FREE_FAILURES: u32 = 5;
/// The longest account back-off, in seconds.
pub const MAX_BACKOFF_SECS: i64 = 900;
/// How long the failures of an unknown username are remembered after the
/// last one (30 days): far past the longest back-off, so the sequence an
/// attacker sees matches a real account's, while the counters of names
/// nobody tries any more are deleted by the table's TTL.
pub const UNKNOWN_USER_MEMORY_SECS: i64 = 30 * 86_400;
/// How many exchanged refresh tokens a session remembers for reuse detection.
const REMEMBERED_REFRESH_TOKENS: usize = 32;

/// The body of `POST /auth/login`.
#[derive(Deserialize)]
pub struct LoginRequest {
    /// Matched case-insensitively.
    pub username: String,
    /// Never logged.
    pub password: SecretString,
}

/// The body of `POST /auth/refresh`.
#[derive(Deserialize)]
pub struct RefreshRequest {
    /// The refresh token of the last pair.
    pub refresh_token: SecretString,
}

/// The answer to a login or refresh.
#[derive(Serialize)]
pub struct TokenPair {
    /// The access JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// The single-use refresh token.
    pub refresh_token: String,
    /// Refresh token lifetime in seconds.
    pub refresh_expires_in: i64,
    /// The login session.
    pub session_id: String,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("session_id", &self.session_id)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Checks the length of a password offered at login before any hashing:
/// a bound on the work a request can cause, not the password policy, which
/// applies only where a password is set ([`password_policy`]).
pub fn check_password_length(password: &SecretString) -> Result<()> {
    let len = password.expose_secret().len();
    if len == 0 || len > MAX_PASSWORD_BYTES {
        return Err(Error::BadRequest(format!(
            "password must be 1 to {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// How long an account with `failures` consecutive failures, the last at
/// `last_failed_at`, must wait at `now`; `None` when it may try.
pub fn account_backoff(failures: u32, last_failed_at: Option<i64>, now: i64) -> Option<Duration> {
    if failures < FREE_FAILURES {
        return None;
    }
    let exponent = failures - FREE_FAILURES;
    let wait = if exponent >= 10 {
        MAX_BACKOFF_SECS
    } else {
        (1_i64 << exponent).min(MAX_BACKOFF_SECS)
    };
    let until = last_failed_at? + wait;
    (until > now).then(|| Duration::from_secs(u64::try_from(until - now).unwrap_or(1)))
}

/// Why a login was refused; recorded in the audit event, never answered
/// (every refusal is the same `401`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// No account has this username.
    UnknownUser,
    /// The account is disabled.
    DisabledUser,
    /// The password does not match.
    BadPassword,
}

impl LoginRefusal {
    /// The reason as recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginRefusal::UnknownUser => "unknown_user",
            LoginRefusal::DisabledUser => "disabled_user",
            LoginRefusal::BadPassword => "bad_password",
        }
    }
}

/// Why a refresh was refused; recorded, never answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// Not of the refresh token's form.
    Malformed,
    /// No live session has this id.
    UnknownOrExpired,
    /// The session was revoked, or its user's generation rose.
    Revoked,
    /// The session lives, but this is not its current token.
    UnknownToken,
}

impl RefreshRefusal {
    /// The reason as recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshRefusal::Malformed => "malformed",
            RefreshRefusal::UnknownOrExpired => "unknown_or_expired",
            RefreshRefusal::Revoked => "revoked",
            RefreshRefusal::UnknownToken => "unknown_token",
        }
    }
}

/// Logs a user in: both rate limits, password verification (a dummy hash
/// for unknown users), then the session and its audit event in one
/// transaction. Wrong password, unknown and disabled user are the same
/// [`Error::Unauthorized`], and back off the same way.
pub async fn login(
    state: &AuthState,
    ctx: &RequestContext,
    request: LoginRequest,
) -> Result<TokenPair> {
    let username = Username::parse(&request.username)?;
    check_password_length(&request.password)?;
    let now_ms = state.clock.now_millis();
    let now = now_ms.div_euclid(1000);

    if let Decision::Limited { retry_after } = ratelimit::acquire(
        state.store.as_ref(),
        &keys::login_ip(&ctx.ip),
        state.config.login_ip_limit,
        now_ms,
    )
    .await?
    {
        return refuse_rate_limited(state, ctx, &username, "ip", retry_after).await;
    }

    let (user, unknown_failures) = state.store.user_for_login(&username, now).await?;
    let failures = match &user {
        Some(u) => FailureCount {
            failures: u.failed_logins,
            last_failed_at: u.last_failed_at,
        },
        None => unknown_failures,
    };
    if let Some(wait) = account_backoff(failures.failures, failures.last_failed_at, now) {
        return refuse_rate_limited(state, ctx, &username, "account", wait).await;
    }

    let verification = state
        .passwords
        .verify(
            &request.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await?;
    let user = match user {
        Some(u) if verification.valid && !u.disabled => u,
        Some(u) => return refuse_login(state, ctx, &username, Some(&u), failures, now).await,
        None => return refuse_login(state, ctx, &username, None, failures, now).await,
    };

    let new_password_hash = if verification.needs_rehash {
        Some(state.passwords.hash(&request.password).await?)
    } else {
        None
    };
    match start_session(state, ctx, &user, new_password_hash.clone(), now).await {
        Err(Error::ConditionFailed) => {}
        other => return other,
    }
    // The user changed between the read and the write. A revoke-all raced
    // with this login: it killed the tokens issued before it, not this
    // login, so try once more on the new generation. A password change or
    // a disable races the same way; then the password we verified, or the
    // account, no longer stands.
    let current = state.store.get_user(&username).await?;
    match current {
        Some(u) if u.password_hash == user.password_hash && !u.disabled => {
            match start_session(state, ctx, &u, new_password_hash, now).await {
                Err(Error::ConditionFailed) => Err(Error::Unauthorized),
                other => other,
            }
        }
        _ => Err(Error::Unauthorized),
    }
}

/// Creates the session of a verified login, with its audit event, in one
/// transaction conditioned on the user's generation being the one read.
async fn start_session(
    state: &AuthState,
    ctx: &RequestContext,
    user: &UserRecord,
    new_password_hash: Option<String>,
    now: i64,
) -> Result<TokenPair> {
    let session_id = ulid::Ulid::new().to_string();
    let refresh = RefreshToken::generate(&user.user_id, &session_id);
    let (access_token, _) = state
        .tokens
        .issue(
            &user.user_id,
            &user.roles,
            user.generation,
            &session_id,
            now,
        )
        .await?;
    let session = SessionRecord {
        user_id: user.user_id.clone(),
        session_id: session_id.clone(),
        refresh_hash: refresh.hash(),
        used_refresh_hashes: Vec::new(),
        generation: user.generation,
        roles: user.roles.clone(),
        ip: ctx.ip.clone(),
        user_agent: ctx.user_agent.clone(),
        created_at: now,
        last_used_at: now,
        expires_at: now + state.config.refresh_ttl_secs,
    };
    let rehashed = new_password_hash.is_some();
    let event = state
        .auditor
        .event(EventType::LoginSuccess, Severity::Info, ctx)
        .actor(user_actor(&user.user_id))
        .detail("session_id", session_id.as_str())
        .detail("rehashed", rehashed);
    let writes: Vec<Write> = vec![
        AuthWrite::LoginSucceeded {
            username: user.username.clone(),
            expected_generation: user.generation,
            new_password_hash,
        }
        .into(),
        AuthWrite::PutSession(session).into(),
        event.into(),
    ];
    state.store.transact(writes).await?;
    tracing::info!(user_id = %user.user_id, session_id = %session_id, rehashed, "login succeeded");
    crate::metrics::count(Metric::LoginSucceeded);
    Ok(pair(state, access_token, &refresh, session_id))
}

async fn refuse_rate_limited(
    state: &AuthState,
    ctx: &RequestContext,
    username: &Username,
    limit: &'static str,
    retry_after: Duration,
) -> Result<TokenPair> {
    let event = state
        .auditor
        .event(EventType::LoginRateLimited, Severity::Warning, ctx)
        .subject(username.as_str())
        .detail("limit", limit);
    state.store.transact(vec![event.into()]).await?;
    crate::metrics::count(Metric::RateLimited);
    Err(Error::RateLimited { retry_after })
}

async fn refuse_login(
    state: &AuthState,
    ctx: &RequestContext,
    username: &Username,
    user: Option<&UserRecord>,
    failures: FailureCount,
    now: i64,
) -> Result<TokenPair> {
    let reason = match user {
        None => LoginRefusal::UnknownUser,
        Some(u) if u.disabled => LoginRefusal::DisabledUser,
        Some(_) => LoginRefusal::BadPassword,
    };
    let mut event = state
        .auditor
        .event(EventType::LoginFailed, Severity::Warning, ctx)
        .subject(username.as_str())
        .detail("reason", reason.as_str())
        .detail("consecutive_failures", failures.failures.saturating_add(1));
    let failed: Write = match user {
        Some(u) => {
            event = event.actor(user_actor(&u.user_id));
            AuthWrite::LoginFailed {
                username: username.clone(),
                at: now,
            }
            .into()
        }
        None => AuthWrite::UnknownLoginFailed {
            username: username.clone(),
            at: now,
            expires_at: now + UNKNOWN_USER_MEMORY_SECS,
            first: failures.failures == 0,
        }
        .into(),
    };
    state.store.transact(vec![failed, event.into()]).await?;
    tracing::info!(reason = reason.as_str(), "login refused");
    crate::metrics::count(Metric::LoginFailed);
    Err(Error::Unauthorized)
}

/// Exchanges a refresh token for a new pair in the same session. A token
/// that was already exchanged revokes the whole session and is audited as
/// `REFRESH_TOKEN_REUSED` (critical).
pub async fn refresh(
    state: &AuthState,
    ctx: &RequestContext,
    request: RefreshRequest,
) -> Result<TokenPair> {
    let now = state.clock.now_secs();
    let Some(presented) = RefreshToken::parse(&request.refresh_token) else {
        return refuse_refresh(state, ctx, None, RefreshRefusal::Malformed).await;
    };
    let (session, revocation) = state
        .store
        .session_with_revocation(&presented.user_id, &presented.session_id, now)
        .await?;
    let Some(session) = session else {
        return refuse_refresh(
            state,
            ctx,
            Some(&presented),
            RefreshRefusal::UnknownOrExpired,
        )
        .await;
    };
    if revocation.refuses_session(&session) {
        return refuse_refresh(state, ctx, Some(&presented), RefreshRefusal::Revoked).await;
    }

    let hash = presented.hash();
    if !hashes_equal(&hash, &session.refresh_hash) {
        if session
            .used_refresh_hashes
            .iter()
            .any(|h| hashes_equal(h, &hash))
        {
            return revoke_reused_session(state, ctx, &session).await;
        }
        return refuse_refresh(state, ctx, Some(&presented), RefreshRefusal::UnknownToken).await;
    }

    let next = RefreshToken::generate(&session.user_id, &session.session_id);
    let (access_token, _) = state
        .tokens
        .issue(
            &session.user_id,
            &session.roles,
            session.generation,
            &session.session_id,
            now,
        )
        .await?;
    let mut used = session.used_refresh_hashes.clone();
    used.push(hash.clone());
    if used.len() > REMEMBERED_REFRESH_TOKENS {
        used.drain(..used.len() - REMEMBERED_REFRESH_TOKENS);
    }
    let event = state
        .auditor
        .event(EventType::TokenRefreshed, Severity::Info, ctx)
        .actor(user_actor(&session.user_id))
        .detail("session_id", session.session_id.as_str());
    let writes: Vec<Write> = vec![
        AuthWrite::RotateRefresh {
            user_id: session.user_id.clone(),
            session_id: session.session_id.clone(),
            expected_refresh_hash: hash,
            new_refresh_hash: next.hash(),
            used_refresh_hashes: used,
            at: now,
            expires_at: now + state.config.refresh_ttl_secs,
        }
        .into(),
        event.into(),
    ];
    match state.store.transact(writes).await {
        Ok(()) => Ok(pair(state, access_token, &next, session.session_id)),
        // The session changed under us. If it is gone (revoked, or revoke-all
        // ran), the token is simply dead; if another request exchanged the
        // same token first, that is reuse.
        Err(Error::ConditionFailed) => {
            let (current, _) = state
                .store
                .session_with_revocation(&session.user_id, &session.session_id, now)
                .await?;
            match current {
                Some(current) if !hashes_equal(&current.refresh_hash, &session.refresh_hash) => {
                    revoke_reused_session(state, ctx, &current).await
                }
                _ => refuse_refresh(state, ctx, Some(&presented), RefreshRefusal::Revoked).await,
            }
        }
        Err(e) => Err(e),
    }
}

async fn refuse_refresh(
    state: &AuthState,
    ctx: &RequestContext,
    presented: Option<&RefreshToken>,
    reason: RefreshRefusal,
) -> Result<TokenPair> {
    let mut event = state
        .auditor
        .event(EventType::RefreshFailed, Severity::Warning, ctx)
        .detail("reason", reason.as_str());
    if let Some(p) = presented {
        event = event
            .subject(user_actor(&p.user_id))
            .detail("session_id", p.session_id.as_str());
    }
    state.store.transact(vec![event.into()]).await?;
    Err(Error::Unauthorized)
}

/// Kills a session whose refresh token was presented twice: its record
/// goes, and a `sid#` denylist entry stops its access tokens at once.
async fn revoke_reused_session(
    state: &AuthState,
    ctx: &RequestContext,
    session: &SessionRecord,
) -> Result<TokenPair> {
    let now = state.clock.now_secs();
    let event = state
        .auditor
        .event(EventType::RefreshTokenReused, Severity::Critical, ctx)
        .actor(user_actor(&session.user_id))
        .detail("session_id", session.session_id.as_str())
        .detail("action", "session_revoked");
    let mut writes = crate::auth::revocation::end_session(state, session, now).to_vec();
    writes.push(event.into());
    state.store.transact(writes).await?;
    tracing::warn!(user_id = %session.user_id, session_id = %session.session_id, "refresh token reused; session revoked");
    crate::metrics::count(Metric::RefreshTokenReused);
    Err(Error::Unauthorized)
}

fn pair(
    state: &AuthState,
    access_token: String,
    refresh: &RefreshToken,
    session_id: String,
) -> TokenPair {
    TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs(),
        refresh_token: refresh.expose().to_owned(),
        refresh_expires_in: state.config.refresh_ttl_secs,
        session_id,
    }
}

/// Creates a user with an argon2id hash of `password`; audited as
/// `USER_CREATED`. Fails with [`Error::BadRequest`] when the password
/// breaks the policy ([`crate::auth::password_policy`], minimum length from
/// the configuration), with [`Error::Conflict`] when the name is taken.
pub async fn create_user(
    accounts: &Accounts,
    origin: Origin,
    username: &Username,
    password: &SecretString,
    roles: &[Role],
) -> Result<UserRecord> {
    password_policy::check(password, accounts.config.password_min_length)?;
    let now = accounts.clock.now_secs();
    let user = UserRecord {
        username: username.clone(),
        user_id: ulid::Ulid::new().to_string(),
        password_hash: accounts.passwords.hash(password).await?,
        roles: if roles.is_empty() {
            vec![Role::User]
        } else {
            roles.to_vec()
        },
        disabled: false,
        failed_logins: 0,
        last_failed_at: None,
        generation: 0,
        created_at: now,
    };
    let event = accounts
        .auditor
        .event(EventType::UserCreated, Severity::Info, origin)
        .subject(user_actor(&user.user_id))
        .detail("username", username.as_str())
        .detail(
            "roles",
            user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        );
    match accounts
        .store
        .transact(vec![
            AuthWrite::CreateUser(user.clone()).into(),
            event.into(),
        ])
        .await
    {
        Err(Error::ConditionFailed) => {
            Err(Error::Conflict(format!("user {username} already exists")))
        }
        other => other.map(|()| user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_backoff_starts_after_five_failures_and_doubles_to_a_cap() {
        let t = 1_000;
        assert_eq!(account_backoff(4, Some(t), t), None);
        assert_eq!(account_backoff(5, Some(t), t), Some(Duration::from_secs(1)));
        assert_eq!(account_backoff(6, Some(t), t), Some(Duration::from_secs(2)));
        assert_eq!(
            account_backoff(9, Some(t), t),
            Some(Duration::from_secs(16))
        );
        assert_eq!(
            account_backoff(15, Some(t), t),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            account_backoff(u32::MAX, Some(t), t),
            Some(Duration::from_secs(900))
        );
        assert_eq!(account_backoff(6, Some(t), t + 2), None, "the wait is over");
        assert_eq!(
            account_backoff(6, Some(t), t + 1),
            Some(Duration::from_secs(1))
        );
    }
}
