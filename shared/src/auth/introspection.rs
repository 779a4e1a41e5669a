//! `POST /auth/introspect` (RFC 7662): a resource server asks whether an
//! access token stands right now. The answer comes from exactly the check
//! every Warden route applies, with its one denylist read, so a revoked
//! token (revoke, revoke-all, a disabled user, a revoked session) is
//! `{"active": false}` at once, which no offline verifier can say.
//!
//! Callers: an `admin`'s access token, or an API key with scope
//! `tokens:introspect` (`warden apikeys create --service NAME --scope
//! tokens:introspect`). A delegated token is never a caller. An admin's
//! introspections spend their per-minute run limit; a key's are reads and
//! spend its read limit (a service key's: its own `rate_limit_per_hour`,
//! as `--rate-limit-per-hour` sized it).

use serde_json::{Value, json};

use crate::audit::Origin;
use crate::auth::api_keys::KeyLimit;
use crate::auth::bearer::Caller;
use crate::config::Rate;
use crate::domain::Role;
use crate::error::Scheme;
use crate::ratelimit::{self, Decision};
use crate::state::AuthState;
use crate::store::{RateLimitStore, keys};
use crate::{Error, Result};

/// The scope of an API key that may introspect.
pub const INTROSPECT_SCOPE: &str = "tokens:introspect";

/// Answers an introspection request whose form parameters are `form`
/// (`token` required, `token_type_hint` ignored), after authenticating the
/// caller from `headers`: a form that could not be read is answered only
/// once the caller is known.
pub async fn introspect(
    state: &AuthState,
    origin: &Origin,
    headers: &http::HeaderMap,
    form: Result<Vec<(String, String)>>,
) -> Result<Value> {
    let bearer = state.bearer_or_key();
    // An introspection is a read: a key spends its read limit.
    match bearer
        .caller(headers, origin, &[INTROSPECT_SCOPE], KeyLimit::Read)
        .await?
    {
        Caller::User { user_id, roles, .. } => {
            if !roles.contains(&Role::Admin) {
                return Err(Error::InsufficientScope {
                    scope: "role:admin".into(),
                    detail: "introspection is for admins and keys with tokens:introspect".into(),
                    scheme: Scheme::Bearer,
                });
            }
            spend_run_limit(state, &user_id).await?;
        }
        // The key check spent the key's read limit.
        Caller::Key(_) => {}
        // Never: this check takes no delegated token.
        Caller::Delegated(_) => return Err(crate::auth::bearer::delegated_refused()),
    }
    let form = form?;
    let token = form
        .iter()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::BadRequest("the form parameter token is required".into()))?;
    match bearer.live(token).await {
        Ok((claims, person)) => {
            let mut answer = json!({
                "active": true,
                "sub": claims.sub,
                "username": person.username,
                "client_id": claims.client_id,
                "scope": claims.scope,
                "aud": claims.aud,
                "iss": claims.iss,
                "exp": claims.exp,
                "iat": claims.iat,
                "nbf": claims.nbf,
                "jti": claims.jti,
                "token_type": "Bearer",
            });
            if let Some(act) = &claims.act {
                answer["act"] = json!(act);
            }
            Ok(answer)
        }
        // Anything refused, malformed included, is inactive and nothing more.
        Err(Error::TokenRefused(_)) => Ok(json!({ "active": false })),
        Err(e) => Err(e),
    }
}

/// An admin's introspection counts against their per-minute run limit
/// (`WARDEN_RUN_LIMIT_PER_MINUTE`): `429` with `Retry-After` past it.
async fn spend_run_limit(state: &AuthState, user_id: &str) -> Result<()> {
    let limit = Rate {
        limit: state.config.run_limit_per_minute,
        period_secs: 60,
    };
    let store: &dyn RateLimitStore = &*state.store;
    match ratelimit::acquire(
        store,
        &keys::user_runs(user_id),
        limit,
        state.clock.now_millis(),
    )
    .await?
    {
        Decision::Allowed => Ok(()),
        Decision::Limited { retry_after } => Err(Error::RateLimited { retry_after }),
    }
}
