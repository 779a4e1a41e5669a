//! API keys for services and agents: `wdn_<key id>_<secret>`.
//!
//! The key id is a ULID (never a `_`), so the secret is everything after the
//! second `_`: 256 random bits, base64url. The store keeps only an
//! HMAC-SHA256 of the secret under a pepper held in Secrets Manager, so a
//! copy of the table alone cannot check, let alone forge, a key.
//!
//! Checking a key ([`check_key`]) costs one read of its item, then one
//! conditional write that is both its rate limit (GCRA on the key's own
//! item) and its usage count and last use: counting usage adds no round
//! trip. A key has two limits, each its own GCRA state on the item: runs
//! and other writes spend its run limit (`rate_limit_per_hour`), reads
//! (polling a job or a tool call, listings, introspection) its read limit
//! ([`read_limit_per_hour`]); each route says which ([`KeyLimit`]).
//! Refusals are audited as `API_KEY_REJECTED` with the reason.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;

pub use super::pepper::Pepper;
use crate::audit::{EventType, Origin, Severity};
pub use crate::domain::agents::KeyLimit;
use crate::domain::agents::{ApiKeyRecord, KeyOwner};
use crate::error::{Challenge, Refusal, Scheme};
use crate::ratelimit::{Decision, Gcra, acquire_from};
use crate::state::Registry;
use crate::store::{ApiKeyStore, ApiKeyWrite, RateLimitStore, TatOutcome, TatWrite, Write};
use crate::{Error, Result};

/// Every key starts with this.
pub const KEY_PREFIX: &str = "wdn_";

/// The scope that lets a key run its agent and read its agent's jobs.
pub const SCOPE_AGENTS_RUN: &str = "agents:run";

/// The scope that lets a key read its agent's jobs, and run nothing.
pub const SCOPE_AGENTS_READ: &str = "agents:read";

/// The scope that lets a service's key introspect access tokens
/// (`POST /auth/introspect`); an agent's key never holds it.
pub const SCOPE_TOKENS_INTROSPECT: &str = crate::auth::introspection::INTROSPECT_SCOPE;

/// The scope that lets an agent's key ask for decisions on its agent's
/// tool calls and report their outcomes (API.md "Governed tool calls").
pub const SCOPE_TOOLS_CALL: &str = "tools:call";

/// The scopes a key may be given.
pub const KNOWN_SCOPES: &[&str] = &[
    SCOPE_AGENTS_RUN,
    SCOPE_AGENTS_READ,
    SCOPE_TOOLS_CALL,
    SCOPE_TOKENS_INTROSPECT,
];

/// Whether `owner` may hold `scope`: an agent's key runs and reads its
/// agent, a service's key introspects.
fn scope_fits(owner: &KeyOwner, scope: &str) -> bool {
    match owner {
        KeyOwner::Agent(_) => scope != SCOPE_TOKENS_INTROSPECT,
        KeyOwner::Service(_) => scope == SCOPE_TOKENS_INTROSPECT,
    }
}

/// The hourly limit of a key created without one.
pub const DEFAULT_RATE_LIMIT_PER_HOUR: u32 = 1000;

/// A key's read limit, an hour. An agent's key: the larger of its own
/// `rate_limit_per_hour` and `floor` (`WARDEN_API_KEY_READS_PER_HOUR`,
/// 3600 by default), so that a key allowed few runs can still poll them.
/// A service's key runs nothing (its introspections are all it does): its
/// own `rate_limit_per_hour`, as `--rate-limit-per-hour` sized it.
pub fn read_limit_per_hour(record: &ApiKeyRecord, floor: u32) -> u32 {
    match record.owner {
        KeyOwner::Agent(_) => record.rate_limit_per_hour.max(floor),
        KeyOwner::Service(_) => record.rate_limit_per_hour,
    }
}

/// The longest secret part accepted when parsing (ours are 43 characters).
const MAX_SECRET_CHARS: usize = 128;

/// A key split into its id and secret.
pub struct ParsedKey {
    /// The id part.
    pub key_id: String,
    /// The secret part.
    pub secret: SecretString,
}

/// Splits `wdn_<key id>_<secret>`; `None` when it is not of that shape.
pub fn parse_key(raw: &str) -> Option<ParsedKey> {
    let rest = raw.strip_prefix(KEY_PREFIX)?;
    let (key_id, secret) = rest.split_once('_')?;
    let id_ok = key_id.len() == 26 && key_id.bytes().all(|b| b.is_ascii_alphanumeric());
    let secret_ok = !secret.is_empty()
        && secret.len() <= MAX_SECRET_CHARS
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then(|| ParsedKey {
        key_id: key_id.to_owned(),
        secret: SecretString::from(secret.to_owned()),
    })
}

/// What a new key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// The agent it belongs to (the only one it may run), or the service.
    pub owner: KeyOwner,
    /// Its scopes, each one of [`KNOWN_SCOPES`].
    pub scopes: Vec<String>,
    /// When it stops working (epoch seconds).
    pub expires_at: Option<i64>,
    /// Requests an hour ([`DEFAULT_RATE_LIMIT_PER_HOUR`] when `None`).
    pub rate_limit_per_hour: Option<u32>,
    /// The user (by id) an agent's key is for: they cannot approve what
    /// the key asks for. Required by `warden apikeys create` for an
    /// agent's key.
    pub created_by: Option<String>,
}

/// A key just created: its record and the key itself, shown once.
pub struct NewKey {
    /// What the store keeps.
    pub record: ApiKeyRecord,
    /// The whole key, `wdn_<key id>_<secret>`.
    pub key: SecretString,
}

/// Creates a key for `spec.owner` (which must be registered), audited as
/// `API_KEY_CREATED` in the same write.
pub async fn create_key(
    registry: &Registry,
    pepper: &Pepper,
    origin: Origin,
    spec: KeySpec,
) -> Result<NewKey> {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let key_id = ulid::Ulid::new().to_string();
    let key = format!("{KEY_PREFIX}{key_id}_{}", URL_SAFE_NO_PAD.encode(secret));
    let key = SecretString::from(key);
    let record = store_key(registry, pepper, origin, &key, spec).await?;
    Ok(NewKey { record, key })
}

/// Stores a key given whole (the seed file of `warden serve`, development
/// only), audited like a created one.
pub async fn store_key(
    registry: &Registry,
    pepper: &Pepper,
    origin: Origin,
    key: &SecretString,
    spec: KeySpec,
) -> Result<ApiKeyRecord> {
    let parsed = parse_key(key.expose_secret()).ok_or_else(|| {
        Error::BadRequest(
            "an API key has the form wdn_<26-character key id>_<secret of base64url characters>"
                .into(),
        )
    })?;
    if spec.scopes.is_empty() {
        return Err(Error::BadRequest("a key needs at least one scope".into()));
    }
    if let Some(unknown) = spec
        .scopes
        .iter()
        .find(|s| !KNOWN_SCOPES.contains(&s.as_str()))
    {
        return Err(Error::BadRequest(format!(
            "unknown scope {unknown:?}; known: {}",
            KNOWN_SCOPES.join(", ")
        )));
    }
    if spec.rate_limit_per_hour == Some(0) {
        return Err(Error::BadRequest(
            "the rate limit must be at least 1 request an hour".into(),
        ));
    }
    if let Some(misfit) = spec.scopes.iter().find(|s| !scope_fits(&spec.owner, s)) {
        return Err(Error::BadRequest(match spec.owner {
            KeyOwner::Agent(_) => format!(
                "an agent's key cannot hold {misfit}: create a service key (--service NAME)"
            ),
            KeyOwner::Service(_) => format!(
                "a service's key runs no agent: it may hold {SCOPE_TOKENS_INTROSPECT} only, not {misfit}"
            ),
        }));
    }
    if let KeyOwner::Agent(agent) = &spec.owner
        && registry.store.get_agent(agent).await?.is_none()
    {
        return Err(Error::NotFound(format!(
            "no agent {agent}: register it first"
        )));
    }
    let now = registry.clock.now_secs();
    let record = ApiKeyRecord {
        key_id: parsed.key_id.clone(),
        secret_hmac: pepper.tag(parsed.secret.expose_secret()),
        owner: spec.owner.clone(),
        scopes: spec.scopes.clone(),
        expires_at: spec.expires_at,
        rate_limit_per_hour: spec
            .rate_limit_per_hour
            .unwrap_or(DEFAULT_RATE_LIMIT_PER_HOUR),
        revoked_at: None,
        created_at: now,
        created_by: spec.created_by.clone(),
        usage_count: 0,
        last_used_at: None,
        tat: None,
        read_tat: None,
    };
    let event = registry
        .auditor
        .event(EventType::ApiKeyCreated, Severity::Info, origin)
        .subject(format!("key:{}", record.key_id))
        .detail("owner", spec.owner.to_string())
        .detail("scopes", spec.scopes.clone())
        .detail("rate_limit_per_hour", record.rate_limit_per_hour);
    let event = match &record.created_by {
        Some(user_id) => event.detail("created_by", user_id.clone()),
        None => event,
    };
    let writes = vec![ApiKeyWrite::Create(record.clone()).into(), event.into()];
    match registry.store.transact(writes).await {
        Ok(()) => Ok(record),
        Err(Error::ConditionFailed) => Err(Error::Conflict(format!(
            "key {} already exists",
            record.key_id
        ))),
        Err(e) => Err(e),
    }
}

/// The key id in `input`: a key id (26 letters and digits), or a whole key
/// `wdn_<key id>_<secret>` pasted where its id was asked for, whose id is
/// taken and whose secret is dropped. Anything else is refused without
/// being quoted: it may be a secret.
pub fn key_id_in(input: &str) -> Result<String> {
    let input = input.trim();
    let candidate = match input.strip_prefix(KEY_PREFIX) {
        Some(rest) => rest.split('_').next().unwrap_or_default(),
        None => input,
    };
    if candidate.len() == 26 && candidate.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(candidate.to_owned())
    } else {
        Err(Error::BadRequest(
            "that is neither a key id (26 letters and digits) nor a key wdn_<key id>_<secret>; \
             it is not repeated here, as it may be a secret"
                .into(),
        ))
    }
}

/// Revokes a key at once, audited as `API_KEY_REVOKED` in the same write.
/// `key_id` is a key id, or a whole key whose id is used ([`key_id_in`]);
/// no error quotes more than the id. An unknown key is `404`; one already
/// revoked `409`.
pub async fn revoke_key(registry: &Registry, origin: Origin, key_id: &str) -> Result<()> {
    let key_id = &key_id_in(key_id)?;
    let now = registry.clock.now_secs();
    let event = registry
        .auditor
        .event(EventType::ApiKeyRevoked, Severity::Info, origin)
        .subject(format!("key:{key_id}"));
    let writes = vec![
        ApiKeyWrite::Revoke {
            key_id: key_id.to_owned(),
            at: now,
        }
        .into(),
        event.into(),
    ];
    match registry.store.transact(writes).await {
        Ok(()) => Ok(()),
        Err(Error::ConditionFailed) => match registry.store.get_api_key(key_id).await? {
            Some(_) => Err(Error::Conflict(format!("key {key_id} is already revoked"))),
            None => Err(Error::NotFound(format!("no key {key_id}"))),
        },
        Err(e) => Err(e),
    }
}

/// Who an accepted key speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCaller {
    /// The key's id.
    pub key_id: String,
    /// The agent it belongs to, or the service.
    pub owner: KeyOwner,
    /// What it may do.
    pub scopes: Vec<String>,
}

/// Why a key was refused; the audit event's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Not of the `wdn_<id>_<secret>` shape.
    Malformed,
    /// No key with that id.
    Unknown,
    /// The secret does not match.
    WrongSecret,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
    /// Lacks the scope the endpoint needs.
    Scope,
    /// Over its hourly limit (the run or the read limit).
    RateLimited,
    /// Asked to run an agent other than its owner.
    OtherAgent,
}

impl KeyRefusal {
    /// The reason as audited.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRefusal::Malformed => "malformed",
            KeyRefusal::Unknown => "unknown",
            KeyRefusal::WrongSecret => "wrong_secret",
            KeyRefusal::Revoked => "revoked",
            KeyRefusal::Expired => "expired",
            KeyRefusal::Scope => "scope",
            KeyRefusal::RateLimited => "rate_limited",
            KeyRefusal::OtherAgent => "other_agent",
        }
    }
}

/// Records a refusal as `API_KEY_REJECTED` and returns the error to answer.
/// When the audit record cannot be written the answer is `503`: nothing
/// about the key is decided without its record.
pub async fn refuse_key(
    registry: &Registry,
    origin: &Origin,
    key_id: Option<&str>,
    refusal: KeyRefusal,
    error: Error,
) -> Error {
    let mut event = registry
        .auditor
        .event(EventType::ApiKeyRejected, Severity::Warning, origin.clone())
        .detail("reason", refusal.as_str());
    if let Some(id) = key_id {
        event = event.actor(format!("key:{id}"));
    }
    match registry.store.transact(vec![Write::Audit(event)]).await {
        Ok(()) => error,
        Err(e) => e,
    }
}

/// The rate state of one of a key's limits, through the key's own item:
/// every counted request also counts as usage.
struct KeyUse<'a> {
    store: &'a dyn ApiKeyStore,
    limit: KeyLimit,
    now: i64,
}

#[async_trait::async_trait]
impl RateLimitStore for KeyUse<'_> {
    async fn update_tat(&self, key: &str, write: TatWrite, _expires_at: i64) -> Result<TatOutcome> {
        self.store
            .record_key_use(key, self.limit, write, self.now)
            .await
    }
}

/// The `401`s of a refused key (RFC 6750's words, under `ApiKey`).
fn invalid() -> Error {
    Error::TokenRefused(Challenge::api_key(Refusal::Invalid))
}

fn revoked() -> Error {
    Error::TokenRefused(Challenge::api_key(Refusal::Revoked))
}

fn expired() -> Error {
    Error::TokenRefused(Challenge::api_key(Refusal::Expired))
}

/// Checks `raw` (the `X-API-Key` header) for one of `scopes`, in API.md's order:
/// an unknown, revoked or expired key `401`; a key without the scope `403`;
/// a key over its hourly `limit` (the route's: a run or a read) `429`.
/// Each refusal is audited. The owner check (a key runs only its own
/// agent) is the caller's, with [`KeyRefusal::OtherAgent`].
pub async fn check_key(
    registry: &Registry,
    pepper: &Pepper,
    origin: &Origin,
    raw: &str,
    scopes: &[&str],
    limit: KeyLimit,
) -> Result<KeyCaller> {
    let Some(parsed) = parse_key(raw) else {
        return Err(refuse_malformed(registry, origin).await);
    };
    let record = registry.store.get_api_key(&parsed.key_id).await?;
    judge_key(registry, pepper, origin, &parsed, record, scopes, limit).await
}

/// The refusal of a key that is not of the `wdn_<id>_<secret>` shape, audited.
pub async fn refuse_malformed(registry: &Registry, origin: &Origin) -> Error {
    refuse_key(
        registry,
        origin,
        None,
        KeyRefusal::Malformed,
        Error::TokenRefused(Challenge::api_key(Refusal::Invalid)),
    )
    .await
}

/// [`check_key`] after the read: `record` is what the store holds under
/// `parsed`'s id, read by the caller (a tool call reads it in the same
/// round trip as everything else it decides on). Then the one conditional
/// write that counts the use against the key's `limit`: its run limit
/// (`rate_limit_per_hour`) or its read limit ([`read_limit_per_hour`]).
pub async fn judge_key(
    registry: &Registry,
    pepper: &Pepper,
    origin: &Origin,
    parsed: &ParsedKey,
    record: Option<ApiKeyRecord>,
    scopes: &[&str],
    limit: KeyLimit,
) -> Result<KeyCaller> {
    let id = parsed.key_id.as_str();
    let refuse = |refusal, error| refuse_key(registry, origin, Some(id), refusal, error);
    let Some(record) = record else {
        return Err(refuse(KeyRefusal::Unknown, invalid()).await);
    };
    let tag = pepper.tag(parsed.secret.expose_secret());
    if !bool::from(tag.as_bytes().ct_eq(record.secret_hmac.as_bytes())) {
        // The one refusal an operator can cause: a key made under another
        // pepper than this deployment's (`warden apikeys create` pointed
        // elsewhere). Said in the log with the key id, never the secret;
        // the client's 401 says no more than for any invalid key.
        tracing::warn!(
            key_id = id,
            "API key {id} exists but its secret does not verify: a mistyped key, or one made under another pepper (WARDEN_API_KEY_PEPPER_ARN, WARDEN_API_KEY_PEPPER, or an endpoint's pepper secret)"
        );
        return Err(refuse(KeyRefusal::WrongSecret, invalid()).await);
    }
    let now_ms = registry.clock.now_millis();
    let now = now_ms.div_euclid(1000);
    if record.revoked_at.is_some() {
        return Err(refuse(KeyRefusal::Revoked, revoked()).await);
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Err(refuse(KeyRefusal::Expired, expired()).await);
    }
    if !record.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
        let error = Error::InsufficientScope {
            scope: scopes.join(" "),
            detail: format!("this key lacks the scope {}", scopes.join(" or ")),
            scheme: Scheme::ApiKey,
        };
        return Err(refuse(KeyRefusal::Scope, error).await);
    }
    let usage = KeyUse {
        store: &*registry.store,
        limit,
        now,
    };
    let per_hour = match limit {
        KeyLimit::Run => record.rate_limit_per_hour,
        KeyLimit::Read => read_limit_per_hour(&record, registry.config.api_key_reads_per_hour),
    };
    let known = limit.tat_of(&record);
    match acquire_from(&usage, id, Gcra::per_hour(per_hour), now_ms, known).await {
        Ok(Decision::Allowed) => Ok(KeyCaller {
            key_id: record.key_id,
            owner: record.owner,
            scopes: record.scopes,
        }),
        Ok(Decision::Limited { retry_after }) => {
            Err(refuse(KeyRefusal::RateLimited, Error::RateLimited { retry_after }).await)
        }
        // Revoked between the read and the write: refuse, audited.
        Err(Error::ConditionFailed) => Err(refuse(KeyRefusal::Revoked, revoked()).await),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_at_the_second_underscore_and_refuse_other_shapes() {
        let id = ulid::Ulid::new().to_string();
        let parsed = parse_key(&format!("wdn_{id}_ab_c-d")).unwrap();
        assert_eq!(parsed.key_id, id);
        assert_eq!(parsed.secret.expose_secret(), "ab_c-d");
        for bad in [
            String::new(),
            format!("wdx_{id}_abc"),
            format!("wdn_{id}"),
            format!("wdn_{id}_"),
            "wdn_short_abc".to_owned(),
            format!("wdn_{id}_a b"),
            format!("wdn_{id}_{}", "a".repeat(129)),
        ] {
            assert!(parse_key(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_whole_key_given_for_its_id_yields_the_id_and_nothing_is_quoted() {
        let id = ulid::Ulid::new().to_string();
        let secret = "Zm9vYmFyc2VjcmV0X3Zh-bHVlX3RoYXRfaXNfbG9uZw";
        assert_eq!(key_id_in(&id).unwrap(), id);
        assert_eq!(key_id_in(&format!(" wdn_{id}_{secret}\n")).unwrap(), id);
        assert_eq!(key_id_in(&format!("wdn_{id}")).unwrap(), id);
        for bad in [
            secret.to_owned(),
            format!("wdn_{secret}"),
            format!("wdn_x{id}_{secret}"),
            format!("{id}_{secret}"),
            String::new(),
        ] {
            let err = key_id_in(&bad).unwrap_err().to_string();
            assert!(
                !err.contains(secret) && !err.contains(&bad) || bad.is_empty(),
                "{err}"
            );
        }
    }

    #[test]
    fn an_agents_key_reads_at_least_the_floor_and_a_service_key_at_its_own_limit() {
        let record = |owner: &str, per_hour| ApiKeyRecord {
            key_id: ulid::Ulid::new().to_string(),
            secret_hmac: String::new(),
            owner: KeyOwner::parse(owner).unwrap(),
            scopes: vec![],
            expires_at: None,
            rate_limit_per_hour: per_hour,
            revoked_at: None,
            created_at: 0,
            created_by: None,
            usage_count: 0,
            last_used_at: None,
            tat: None,
            read_tat: None,
        };
        assert_eq!(read_limit_per_hour(&record("books", 5), 3600), 3600);
        assert_eq!(read_limit_per_hour(&record("books", 7200), 3600), 7200);
        assert_eq!(read_limit_per_hour(&record("service:billing", 5), 3600), 5);
        assert_eq!(
            read_limit_per_hour(&record("service:billing", 36_000), 3600),
            36_000
        );
    }

    #[test]
    fn the_tag_depends_on_the_pepper_and_the_pepper_is_never_shown() {
        let a = Pepper::new(&SecretString::from("a".repeat(32))).unwrap();
        let b = Pepper::new(&SecretString::from("b".repeat(32))).unwrap();
        assert_ne!(a.tag("secret"), b.tag("secret"));
        assert_eq!(a.tag("secret"), a.tag("secret"));
        assert_eq!(format!("{a:?}"), "Pepper([redacted])");
        assert!(Pepper::new(&SecretString::from("short")).is_err());
    }
}
