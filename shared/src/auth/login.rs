//! Login and refresh: the operations behind `POST /auth/login` and
//! `POST /auth/refresh`.
//!
//! Login costs argon2id plus three store round trips: the per-IP limit (one
//! conditional write), the user (one consistent read), and one transaction
//! that records the outcome together with its audit event.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::audit::{EventType, Severity};
use crate::auth::password::MAX_PASSWORD_BYTES;
use crate::auth::tokens::{hashes_equal, RefreshToken};
use crate::auth::Role;
use crate::http::RequestContext;
use crate::metrics::Metric;
use crate::ratelimit::{self, Decision};
use crate::state::AppState;
use crate::store::{RevocationKey, SessionRecord, UserRecord, Write};
use crate::{Error, Result};

/// Consecutive failures after which an account backs off.
pub const FREE_FAILURES: u32 = 5;
/// The longest account back-off, in seconds.
pub const MAX_BACKOFF_SECS: i64 = 900;
/// The longest username accepted.
pub const MAX_USERNAME_CHARS: usize = 128;
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

/// Normalises a username for lookup and storage: trimmed, lowercased.
pub fn normalize_username(raw: &str) -> Result<String> {
    let name = raw.trim().to_lowercase();
    if name.is_empty() || name.chars().count() > MAX_USERNAME_CHARS {
        return Err(Error::BadRequest(format!(
            "username must be 1 to {MAX_USERNAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::BadRequest(
            "username must not contain control characters".into(),
        ));
    }
    Ok(name)
}

/// Checks a password's length before any hashing.
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

/// Logs a user in: both rate limits, password verification (a dummy hash
/// for unknown users), then the session and its audit event in one
/// transaction. Wrong password, unknown and disabled user are the same
/// [`Error::Unauthorized`].
pub async fn login(
    state: &AppState,
    ctx: &RequestContext,
    request: LoginRequest,
) -> Result<TokenPair> {
    let username = normalize_username(&request.username)?;
    check_password_length(&request.password)?;
    let now_ms = state.clock.now_millis();
    let now = now_ms.div_euclid(1000);

    let ip_key = format!("login-ip#{}", ctx.ip);
    if let Decision::Limited { retry_after } = ratelimit::acquire(
        state.store.as_ref(),
        &ip_key,
        state.config.login_ip_limit,
        now_ms,
    )
    .await?
    {
        let event = state
            .audit(EventType::LoginRateLimited, Severity::Warning, ctx)
            .subject(&username)
            .detail("limit", "ip");
        state.store.transact(vec![Write::Audit(event)]).await?;
        crate::metrics::count(Metric::RateLimited);
        return Err(Error::RateLimited { retry_after });
    }

    let user = state.store.get_user(&username).await?;
    if let Some(wait) = user
        .as_ref()
        .and_then(|u| account_backoff(u.failed_logins, u.last_failed_at, now))
    {
        let event = state
            .audit(EventType::LoginRateLimited, Severity::Warning, ctx)
            .subject(&username)
            .detail("limit", "account");
        state.store.transact(vec![Write::Audit(event)]).await?;
        crate::metrics::count(Metric::RateLimited);
        return Err(Error::RateLimited { retry_after: wait });
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
        other => return refuse_login(state, ctx, &username, other.as_ref(), now).await,
    };

    let new_password_hash = if verification.needs_rehash {
        Some(state.passwords.hash(&request.password).await?)
    } else {
        None
    };
    let session_id = ulid::Ulid::new().to_string();
    let refresh = RefreshToken::generate(&user.user_id, &session_id);
    let (access_token, claims) = state.tokens.issue(
        &user.user_id,
        &user.roles,
        user.generation,
        &session_id,
        now,
    )?;
    let session = SessionRecord {
        user_id: user.user_id.clone(),
        session_id: session_id.clone(),
        refresh_hash: refresh.hash(),
        used_refresh_hashes: Vec::new(),
        current_jti: claims.jti.clone(),
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
        .audit(EventType::LoginSuccess, Severity::Info, ctx)
        .actor(&user.user_id)
        .detail("session_id", session_id.as_str())
        .detail("rehashed", rehashed);
    let writes = vec![
        Write::LoginSucceeded {
            username: username.clone(),
            expected_generation: user.generation,
            new_password_hash,
        },
        Write::PutSession(session),
        Write::Audit(event),
    ];
    match state.store.transact(writes).await {
        Ok(()) => {}
        // The user's generation moved (a revoke-all) or the user vanished
        // between the read and the write: the session would be born revoked.
        Err(Error::ConditionFailed) => return Err(Error::Unauthorized),
        Err(e) => return Err(e),
    }
    tracing::info!(user_id = %user.user_id, session_id = %session_id, rehashed, "login succeeded");
    crate::metrics::count(Metric::LoginSucceeded);
    Ok(pair(state, access_token, &refresh, session_id))
}

async fn refuse_login(
    state: &AppState,
    ctx: &RequestContext,
    username: &str,
    user: Option<&UserRecord>,
    now: i64,
) -> Result<TokenPair> {
    let reason = match user {
        None => "unknown_user",
        Some(u) if u.disabled => "disabled_user",
        Some(_) => "bad_password",
    };
    let mut event = state
        .audit(EventType::LoginFailed, Severity::Warning, ctx)
        .subject(username)
        .detail("reason", reason);
    let mut writes = Vec::new();
    if let Some(u) = user {
        event = event
            .actor(&u.user_id)
            .detail("consecutive_failures", u.failed_logins.saturating_add(1));
        writes.push(Write::LoginFailed {
            username: username.to_owned(),
            at: now,
        });
    }
    writes.push(Write::Audit(event));
    state.store.transact(writes).await?;
    tracing::info!(reason, "login refused");
    crate::metrics::count(Metric::LoginFailed);
    Err(Error::Unauthorized)
}

/// Exchanges a refresh token for a new pair in the same session. A token
/// that was already exchanged revokes the whole session and is audited as
/// `REFRESH_TOKEN_REUSED` (critical).
pub async fn refresh(
    state: &AppState,
    ctx: &RequestContext,
    request: RefreshRequest,
) -> Result<TokenPair> {
    let now = state.clock.now_secs();
    let Some(presented) = RefreshToken::parse(&request.refresh_token) else {
        return refuse_refresh(state, ctx, None, "malformed").await;
    };
    let (session, revocation) = state
        .store
        .session_with_revocation(&presented.user_id, &presented.session_id, now)
        .await?;
    let Some(session) = session else {
        return refuse_refresh(state, ctx, Some(&presented), "unknown_or_expired").await;
    };
    if revocation.session_revoked || session.generation < revocation.generation {
        return refuse_refresh(state, ctx, Some(&presented), "revoked").await;
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
        return refuse_refresh(state, ctx, Some(&presented), "unknown_token").await;
    }

    let next = RefreshToken::generate(&session.user_id, &session.session_id);
    let (access_token, claims) = state.tokens.issue(
        &session.user_id,
        &session.roles,
        session.generation,
        &session.session_id,
        now,
    )?;
    let mut used = session.used_refresh_hashes.clone();
    used.push(hash.clone());
    if used.len() > REMEMBERED_REFRESH_TOKENS {
        used.drain(..used.len() - REMEMBERED_REFRESH_TOKENS);
    }
    let event = state
        .audit(EventType::TokenRefreshed, Severity::Info, ctx)
        .actor(&session.user_id)
        .detail("session_id", session.session_id.as_str());
    let writes = vec![
        Write::RotateRefresh {
            user_id: session.user_id.clone(),
            session_id: session.session_id.clone(),
            expected_refresh_hash: hash,
            new_refresh_hash: next.hash(),
            used_refresh_hashes: used,
            new_jti: claims.jti,
            at: now,
            expires_at: now + state.config.refresh_ttl_secs,
        },
        Write::Audit(event),
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
                _ => refuse_refresh(state, ctx, Some(&presented), "revoked").await,
            }
        }
        Err(e) => Err(e),
    }
}

async fn refuse_refresh(
    state: &AppState,
    ctx: &RequestContext,
    presented: Option<&RefreshToken>,
    reason: &'static str,
) -> Result<TokenPair> {
    let mut event = state
        .audit(EventType::RefreshFailed, Severity::Warning, ctx)
        .detail("reason", reason);
    if let Some(p) = presented {
        event = event
            .subject(&p.user_id)
            .detail("session_id", p.session_id.as_str());
    }
    state.store.transact(vec![Write::Audit(event)]).await?;
    Err(Error::Unauthorized)
}

/// Kills a session whose refresh token was presented twice: its record
/// goes, and a `sid#` denylist entry stops its access tokens at once.
async fn revoke_reused_session(
    state: &AppState,
    ctx: &RequestContext,
    session: &SessionRecord,
) -> Result<TokenPair> {
    let now = state.clock.now_secs();
    let event = state
        .audit(EventType::RefreshTokenReused, Severity::Critical, ctx)
        .actor(&session.user_id)
        .detail("session_id", session.session_id.as_str())
        .detail("action", "session_revoked");
    let writes = vec![
        Write::DeleteSession {
            user_id: session.user_id.clone(),
            session_id: session.session_id.clone(),
        },
        Write::Deny {
            key: RevocationKey::Session(session.session_id.clone()),
            // Outlives every access token of the session, whatever its age.
            expires_at: now + state.tokens.ttl_secs() + crate::auth::jwt::LEEWAY_SECS + 60,
        },
        Write::Audit(event),
    ];
    state.store.transact(writes).await?;
    tracing::warn!(user_id = %session.user_id, session_id = %session.session_id, "refresh token reused; session revoked");
    crate::metrics::count(Metric::RefreshTokenReused);
    Err(Error::Unauthorized)
}

fn pair(
    state: &AppState,
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
/// `USER_CREATED`. Fails with [`Error::Conflict`] when the name is taken.
pub async fn create_user(
    state: &AppState,
    ctx: &RequestContext,
    username: &str,
    password: &SecretString,
    roles: &[Role],
) -> Result<UserRecord> {
    let username = normalize_username(username)?;
    check_password_length(password)?;
    let now = state.clock.now_secs();
    let user = UserRecord {
        username: username.clone(),
        user_id: ulid::Ulid::new().to_string(),
        password_hash: state.passwords.hash(password).await?,
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
    let event = state
        .audit(EventType::UserCreated, Severity::Info, ctx)
        .subject(&user.user_id)
        .detail("username", username.as_str())
        .detail(
            "roles",
            user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        );
    match state
        .store
        .transact(vec![Write::CreateUser(user.clone()), Write::Audit(event)])
        .await
    {
        Err(Error::ConditionFailed) => {
            Err(Error::Conflict(format!("user {username:?} already exists")))
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

    #[test]
    fn usernames_are_trimmed_lowercased_and_bounded() {
        assert_eq!(normalize_username("  Alice ").unwrap(), "alice");
        assert!(normalize_username("").is_err());
        assert!(normalize_username(&"a".repeat(129)).is_err());
        assert!(normalize_username("a\u{0}b").is_err());
    }
}
