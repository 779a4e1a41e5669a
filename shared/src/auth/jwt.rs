//! Access tokens: RS256 JWTs (RFC 9068 profile) signed by the key the key
//! set names, verified against the key set's published keys, as
//! `infra/openapi.yaml` and API.md "Access tokens" describe them.
//!
//! - The header is exactly `{"alg": "RS256", "typ": "at+jwt", "kid"}`;
//!   any other member (`jwk`, `jku`, `x5c`, `crit`, ...) or algorithm
//!   (`HS256` whatever its key, `none`) is refused: keys come only from
//!   Warden's key set.
//! - [`KeyRing`] is one copy of the key set with each live key's public
//!   half resolved (from KMS, once per ARN). [`AccessTokens`] keeps a copy
//!   at most [`KEY_SET_REREAD_SECS`] old and reads it again on an unknown
//!   `kid` at most once per [`UNKNOWN_KID_REREAD_SECS`]: a rotation needs
//!   no deploy and no restart, and forged `kid`s cannot make a function
//!   read the store more often.
//! - A token verified once is remembered ([`crate::auth::verified`]); a hit
//!   costs no signature check and counts only while its `kid` is live in
//!   the copy, so a retired key's tokens stop at the next re-read.
//! - Revocation is checked by [`crate::auth::bearer::Bearer::token`] on
//!   every request: a token is never accepted on its signature alone.
//!
//! Signing and verification are written out here over ring (which rustls
//! already links) rather than left to a JWT library: verification is on
//! every authenticated request, and its fast path (a cached token) must
//! decode nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::auth::signing::{
    KEY_SET_REREAD_SECS, KeySet, MAX_SIGNING_INPUT, RsaPublicKey, Signer, UNKNOWN_KID_REREAD_SECS,
};
use crate::auth::verified::VerifiedTokens;
use crate::clock::Clock;
use crate::domain::Role;
use crate::error::Refusal;
use crate::secrets::cache::CachedSecret;
use crate::{Error, Result};

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The only signature algorithm.
pub const ALGORITHM: &str = "RS256";

/// The `client_id` and `scope` of tokens from login and refresh.
pub const WARDEN_CLIENT: &str = "warden";

/// Clock leeway allowed on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 30;

/// The longest token read at all, in bytes.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Who acts for the subject of a delegated token (RFC 8693 `act`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `agent:<agent_id>`.
    pub sub: String,
    /// The API key the agent exchanged.
    pub key_id: String,
}

/// The claims of an access token. Every one but `act` is required: a
/// token missing any of them does not deserialise and is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer; must equal the configured issuer.
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// Audience; must equal the configured audience.
    pub aud: String,
    /// Expiry, epoch seconds.
    pub exp: i64,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Not before, epoch seconds.
    pub nbf: i64,
    /// Token id (ULID); the denylist key of this one token.
    pub jti: String,
    /// The client the token was issued to (RFC 9068): `warden` for login
    /// and refresh.
    pub client_id: String,
    /// Space-separated scopes: `warden` for login and refresh.
    pub scope: String,
    /// The user's roles.
    pub roles: Vec<Role>,
    /// The user's revocation generation when the token was issued.
    pub r#gen: u64,
    /// The login session the token belongs to.
    pub sid: String,
    /// The actor of a delegated token; absent on a person's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// A delegated token's subject token (its `jti`): revoking that token
    /// revokes this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_jti: Option<String>,
    /// A delegated token's agent's kill generation when it was issued: a
    /// disable or a demotion since refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_gen: Option<u64>,
}

impl AccessClaims {
    /// Whether the token was issued to an agent acting for its subject
    /// (RFC 8693, `act`).
    pub fn is_delegated(&self) -> bool {
        self.act.is_some()
    }

    /// Whether the token's `scope` holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// The header Warden signs, member for member.
#[derive(Serialize)]
struct SignedHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// A presented header: exactly these members, nothing else (a `jwk`,
/// `jku`, `x5u`, `x5c` or `crit` does not parse).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenHeader<'a> {
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    typ: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    kid: std::borrow::Cow<'a, str>,
}

/// One live key of a [`KeyRing`].
#[derive(Debug)]
struct RingKey {
    arn: String,
    kid: String,
    public: RsaPublicKey,
    /// The header this key signs, base64url: a token whose first segment is
    /// exactly this needs no header decoding.
    encoded_header: String,
}

/// One copy of the key set, each live key's public half resolved.
#[derive(Debug)]
pub struct KeyRing {
    set: KeySet,
    keys: HashMap<String, RingKey>,
}

/// Public keys already fetched, by ARN: an ARN's key never changes, so a
/// re-read of the key set fetches only keys it has not seen.
pub type PublicKeys = Mutex<HashMap<String, RsaPublicKey>>;

impl KeyRing {
    /// Resolves `set` at `now`: each key not yet retired gets its public
    /// half (from `known`, else from `signer`, then remembered). See
    /// [`KeyRing::build`].
    pub async fn resolve(
        set: KeySet,
        signer: &dyn Signer,
        known: &PublicKeys,
        now: i64,
    ) -> Result<Self> {
        for entry in set.keys.iter().filter(|k| !k.retired(now)) {
            let missing = !known
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(&entry.arn);
            if missing {
                let public = signer.public_key(&entry.arn).await?;
                known
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(entry.arn.clone(), public);
            }
        }
        let known = known.lock().unwrap_or_else(PoisonError::into_inner);
        Self::build(set, &known, now)
    }

    /// The ring of `set` at `now` over public keys by ARN. A key whose
    /// recorded `kid` is not its public key's thumbprint is left out (and
    /// logged): the record is wrong and the key verifies nothing. The
    /// stack's first key, recorded before its `kid` was known, takes its
    /// thumbprint.
    pub fn build(mut set: KeySet, known: &HashMap<String, RsaPublicKey>, now: i64) -> Result<Self> {
        let mut keys = HashMap::new();
        for entry in set.keys.iter_mut().filter(|k| !k.retired(now)) {
            let Some(public) = known.get(&entry.arn) else {
                continue;
            };
            let kid = public.thumbprint();
            if entry.kid.is_empty() {
                entry.kid = kid.clone();
            } else if entry.kid != kid {
                tracing::error!(arn = %entry.arn, recorded = %entry.kid, actual = %kid,
                    "a key set entry's kid is not its key's thumbprint; it verifies nothing");
                continue;
            }
            let header = serde_json::to_vec(&SignedHeader {
                alg: ALGORITHM,
                typ: ACCESS_TOKEN_TYPE,
                kid: &kid,
            })
            .map_err(|e| Error::internal_from("encoding a token header", e))?;
            keys.insert(
                kid.clone(),
                RingKey {
                    arn: entry.arn.clone(),
                    kid,
                    public: public.clone(),
                    encoded_header: URL_SAFE_NO_PAD.encode(header),
                },
            );
        }
        Ok(Self { set, keys })
    }

    /// The key that signs at `now`.
    fn signing(&self, now: i64) -> Option<&RingKey> {
        self.keys.get(&self.set.signing(now)?.kid)
    }

    /// The key `kid` if it verifies at `now`.
    fn verifying(&self, kid: &str, now: i64) -> Option<&RingKey> {
        self.set.verifying(kid, now)?;
        self.keys.get(kid)
    }

    /// Whether the key set names `kid` at all (live or not).
    fn names(&self, kid: &str) -> bool {
        self.set.keys.iter().any(|k| k.kid == kid)
    }

    /// The keys the key set endpoint publishes at `now`, as JWKs.
    pub fn jwks(&self, now: i64) -> Vec<crate::auth::signing::Jwk> {
        self.set
            .published(now)
            .filter_map(|k| self.keys.get(&k.kid))
            .map(|k| k.public.jwk())
            .collect()
    }
}

/// Why a token failed before its revocation was read: a reason for the log,
/// and the word for the client.
#[derive(Debug)]
struct Refused {
    why: &'static str,
    refusal: Refusal,
}

fn invalid(why: &'static str) -> Refused {
    Refused {
        why,
        refusal: Refusal::Invalid,
    }
}

/// Issues and verifies access tokens over a copy of the key set.
pub struct AccessTokens {
    ring: CachedSecret<KeyRing>,
    signer: Arc<dyn Signer>,
    issuer: String,
    audience: String,
    ttl_secs: i64,
    /// Tokens already verified (not their revocation).
    verified: VerifiedTokens,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// Where a function's copy of the key set comes from.
pub enum KeySource {
    /// A key set that never changes (development, tests): resolved once.
    Fixed(KeySet),
    /// The stored item, read with `read` (`None`: never written, so
    /// [`KeySet::initial`] of `first_key_arn`).
    Stored {
        /// Reads the item, consistently.
        read: Arc<dyn Fn() -> crate::store::KeySetRead + Send + Sync>,
        /// The stack's first key.
        first_key_arn: String,
    },
}

impl AccessTokens {
    /// Access tokens for `config`'s issuer, audience and lifetime, signed by
    /// `signer` with the key `source` names at each moment, times from
    /// `clock`. Reads the key set once now (so a function that cannot
    /// reach its keys does not start).
    pub async fn load(
        config: &crate::config::Config,
        signer: Arc<dyn Signer>,
        source: KeySource,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let known: Arc<PublicKeys> = Arc::default();
        let ring = match source {
            KeySource::Fixed(set) => CachedSecret::fixed(
                KeyRing::resolve(set, &*signer, &known, clock.now_secs()).await?,
            ),
            KeySource::Stored {
                read,
                first_key_arn,
            } => {
                let (signer, clock_for_read) = (signer.clone(), clock.clone());
                let read_ring = move || {
                    let (read, signer, known, clock, first) = (
                        read.clone(),
                        signer.clone(),
                        known.clone(),
                        clock_for_read.clone(),
                        first_key_arn.clone(),
                    );
                    Box::pin(async move {
                        let set = read().await?.unwrap_or_else(|| KeySet::initial(&first));
                        KeyRing::resolve(set, &*signer, &known, clock.now_secs()).await
                    }) as crate::secrets::cache::ReadFuture<KeyRing>
                };
                CachedSecret::reading(
                    Box::new(read_ring),
                    "the access key set",
                    KEY_SET_REREAD_SECS,
                    UNKNOWN_KID_REREAD_SECS,
                    clock,
                )
                .await?
            }
        };
        Ok(Self {
            ring,
            signer,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl_secs: config.access_ttl_secs,
            verified: VerifiedTokens::default(),
        })
    }

    /// Access tokens signed by `signer`'s key `arn` for ever: development's
    /// (`warden serve`) and the tests'. The key set never changes.
    pub fn local(
        config: &crate::config::Config,
        signer: Arc<crate::auth::signing::LocalSigner>,
        arn: &str,
    ) -> Result<Self> {
        let known = HashMap::from([(arn.to_owned(), signer.public_key_of(arn)?)]);
        let ring = KeyRing::build(KeySet::initial(arn), &known, 0)?;
        Ok(Self {
            ring: CachedSecret::fixed(ring),
            signer,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl_secs: config.access_ttl_secs,
            verified: VerifiedTokens::default(),
        })
    }

    /// The access token lifetime in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// The issuer every token names.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience every token names.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The current copy of the key set (at most one re-read interval old).
    pub async fn key_ring(&self) -> Arc<KeyRing> {
        self.ring.get().await
    }

    /// Signs a login or refresh token for `sub` in session `sid`, issued at
    /// `now` (epoch seconds): `client_id` and `scope` `warden`. Returns the
    /// token and its claims.
    pub async fn issue(
        &self,
        sub: &str,
        roles: &[Role],
        generation: u64,
        sid: &str,
        now: i64,
    ) -> Result<(String, AccessClaims)> {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: sub.to_owned(),
            aud: self.audience.clone(),
            exp: now + self.ttl_secs,
            iat: now,
            nbf: now,
            jti: ulid::Ulid::new().to_string(),
            client_id: WARDEN_CLIENT.into(),
            scope: WARDEN_CLIENT.into(),
            roles: roles.to_vec(),
            r#gen: generation,
            sid: sid.to_owned(),
            act: None,
            parent_jti: None,
            agent_gen: None,
        };
        let token = self.sign(&claims, now).await?;
        Ok((token, claims))
    }

    /// Signs `claims` with the key that signs at `now`. No key signing
    /// (a retired key's replacement not seen yet) is `503`, as is a
    /// throttled or failed KMS call: nothing is issued.
    pub async fn sign(&self, claims: &AccessClaims, now: i64) -> Result<String> {
        let ring = self.ring.get().await;
        let key = ring.signing(now).ok_or_else(|| {
            tracing::error!("no key of the key set signs now");
            Error::Saturated {
                retry_after: std::time::Duration::from_secs(UNKNOWN_KID_REREAD_SECS),
            }
        })?;
        let claims_json =
            serde_json::to_vec(claims).map_err(|e| Error::internal_from("signing a token", e))?;
        let mut token = key.encoded_header.clone();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        if token.len() > MAX_SIGNING_INPUT {
            return Err(Error::internal(format!(
                "a token's signing input of {} bytes is over {MAX_SIGNING_INPUT}",
                token.len()
            )));
        }
        let signature = self.signer.sign(&key.arn, token.as_bytes()).await?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// Checks the signature, header and claims of `token` at `now` (epoch
    /// seconds), and nothing else. A refusal is
    /// [`Error::TokenRefused`]: `expired` only once the signature verified,
    /// `invalid` for everything else; the reason is logged at debug level.
    /// A token naming a `kid` the copy does not know makes it read the key
    /// set again first (at most once per [`UNKNOWN_KID_REREAD_SECS`]).
    pub async fn verify(&self, token: &str, now: i64) -> Result<Arc<AccessClaims>> {
        let ring = self.ring.get().await;
        let outcome = match self.verify_with(&ring, token, now) {
            Err(Refused {
                why: UNKNOWN_KID, ..
            }) if self.ring.reload_early().await => {
                self.verify_with(&self.ring.current(), token, now)
            }
            outcome => outcome,
        };
        outcome.map_err(|refused| {
            tracing::debug!(reason = refused.why, "access token refused");
            Error::token(refused.refusal)
        })
    }

    fn verify_with(
        &self,
        ring: &KeyRing,
        token: &str,
        now: i64,
    ) -> std::result::Result<Arc<AccessClaims>, Refused> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("token too long"));
        }
        // header.claims.signature, each base64url without padding.
        let (signing_input, signature) = token.rsplit_once('.').ok_or(invalid("malformed"))?;
        if let Some((claims, kid)) = self.verified.get(signing_input, signature) {
            // A hit counts only while its key does.
            if ring.verifying(&kid, now).is_none() {
                return Err(invalid("key retired"));
            }
            check_times(&claims, now)?;
            return Ok(claims);
        }
        let (header, claims) = signing_input.split_once('.').ok_or(invalid("malformed"))?;
        let key = match ring.keys.values().find(|k| k.encoded_header == header) {
            // The exact header a live key signs: nothing to decode.
            Some(key) => ring
                .verifying(&key.kid, now)
                .ok_or(invalid("key not live"))?,
            None => key_for(ring, header, now)?,
        };
        // The signature first, then the claims: nothing unsigned is parsed
        // further than the header.
        let mut signature_bytes = [0_u8; 512];
        let signature_len = URL_SAFE_NO_PAD
            .decode_slice(signature, &mut signature_bytes)
            .map_err(|_| invalid("bad signature"))?;
        if !key
            .public
            .verifies(signing_input.as_bytes(), &signature_bytes[..signature_len])
        {
            return Err(invalid("bad signature"));
        }
        let claims = URL_SAFE_NO_PAD
            .decode(claims)
            .map_err(|_| invalid("malformed claims"))?;
        // Every claim is a required field: a missing one does not parse.
        let claims: AccessClaims =
            serde_json::from_slice(&claims).map_err(|_| invalid("malformed claims"))?;
        if claims.iss != self.issuer || claims.aud != self.audience {
            return Err(invalid("wrong issuer or audience"));
        }
        if claims.jti.is_empty() || claims.sid.is_empty() || claims.sub.is_empty() {
            return Err(invalid("empty id claim"));
        }
        // A delegated token carries all of its delegation, and no role.
        let delegation_whole = match &claims.act {
            None => claims.parent_jti.is_none() && claims.agent_gen.is_none(),
            Some(act) => {
                act.sub.starts_with("agent:")
                    && !act.key_id.is_empty()
                    && claims.parent_jti.as_deref().is_some_and(|p| !p.is_empty())
                    && claims.agent_gen.is_some()
                    && claims.roles.is_empty()
            }
        };
        if !delegation_whole {
            return Err(invalid("partial delegation claims"));
        }
        check_times(&claims, now)?;
        let claims = Arc::new(claims);
        self.verified
            .insert(signing_input, signature, Arc::clone(&claims), &key.kid);
        Ok(claims)
    }
}

/// Why a well-formed header is refused when its `kid` is not in the copy
/// (a rotation not seen yet, or a forgery): the one refusal that makes the
/// copy be read again.
const UNKNOWN_KID: &str = "unknown kid";

/// The live key an encoded header names, once the header is decoded and
/// found to be exactly an RS256 access token's.
fn key_for<'r>(
    ring: &'r KeyRing,
    header: &str,
    now: i64,
) -> std::result::Result<&'r RingKey, Refused> {
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| invalid("malformed header"))?;
    let header: TokenHeader<'_> =
        serde_json::from_slice(&header).map_err(|_| invalid("header not exactly alg, typ, kid"))?;
    if header.alg != ALGORITHM {
        return Err(invalid("algorithm not allowed"));
    }
    if header.typ != ACCESS_TOKEN_TYPE {
        return Err(invalid("not an access token"));
    }
    match ring.verifying(&header.kid, now) {
        Some(key) => Ok(key),
        None if ring.names(&header.kid) => Err(invalid("key retired or not yet published")),
        None => Err(invalid(UNKNOWN_KID)),
    }
}

/// The time claims of a signed token against `now` (epoch seconds), with
/// [`LEEWAY_SECS`] either way. Checked on every verification, cached or not.
fn check_times(claims: &AccessClaims, now: i64) -> std::result::Result<(), Refused> {
    // Saturating: a signed but absurd `exp` must not overflow.
    if claims.exp.saturating_add(LEEWAY_SECS) <= now {
        return Err(Refused {
            why: "expired",
            refusal: Refusal::Expired,
        });
    }
    if claims.nbf.saturating_sub(LEEWAY_SECS) > now {
        return Err(invalid("not yet valid"));
    }
    if claims.iat.saturating_sub(LEEWAY_SECS) > now {
        return Err(invalid("issued in the future"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::auth::signing::{KeyEntry, LocalSigner, NewKey};
    use crate::clock::ManualClock;
    use crate::testing::{TEST_SIGNING_KEYS, config as test_config};
    use serde_json::{Value, json};

    const NOW: i64 = 1_800_000_000;

    fn signer() -> Arc<LocalSigner> {
        let mut signer = LocalSigner::new();
        for (i, pem) in TEST_SIGNING_KEYS.iter().enumerate() {
            signer.add_pem(&format!("local:{i}"), pem).unwrap();
        }
        Arc::new(signer)
    }

    async fn kid_of(signer: &LocalSigner, arn: &str) -> String {
        signer.public_key(arn).await.unwrap().thumbprint()
    }

    async fn tokens() -> (AccessTokens, Arc<LocalSigner>) {
        let signer = signer();
        let clock = Arc::new(ManualClock::at_millis(NOW * 1000));
        let tokens = AccessTokens::load(
            &test_config(),
            signer.clone(),
            KeySource::Fixed(KeySet::initial("local:0")),
            clock,
        )
        .await
        .unwrap();
        (tokens, signer)
    }

    fn valid_claims() -> Value {
        let config = test_config();
        json!({
            "iss": config.issuer, "aud": "warden-api", "sub": "user-1", "exp": NOW + 900,
            "iat": NOW, "nbf": NOW, "jti": "01JTI", "client_id": "warden", "scope": "warden",
            "roles": ["user"], "gen": 0, "sid": "01SID"
        })
    }

    async fn sign(signer: &LocalSigner, arn: &str, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
        );
        let signature = signer.sign(arn, input.as_bytes()).await.unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    async fn header(signer: &LocalSigner) -> Value {
        json!({"alg": "RS256", "typ": "at+jwt", "kid": kid_of(signer, "local:0").await})
    }

    fn refusal(result: Result<Arc<AccessClaims>>) -> Refusal {
        match result {
            Err(Error::TokenRefused(c)) => c.reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_issued_token_is_rs256_under_the_signing_keys_thumbprint_with_rfc_9068_claims() {
        let (tokens, signer) = tokens().await;
        let (token, claims) = tokens
            .issue("user-1", &[Role::Admin], 3, "sid-1", NOW)
            .await
            .unwrap();
        let verified = tokens.verify(&token, NOW + 10).await.unwrap();
        assert_eq!(*verified, claims);
        assert_eq!(
            (verified.client_id.as_str(), verified.scope.as_str()),
            ("warden", "warden")
        );
        let head: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(head, header(&signer).await);
        // The signature is the key's over the first two segments, checked
        // here with the public key alone.
        let (input, signature) = token.rsplit_once('.').unwrap();
        let public = signer.public_key("local:0").await.unwrap();
        assert!(public.verifies(
            input.as_bytes(),
            &URL_SAFE_NO_PAD.decode(signature).unwrap()
        ));
    }

    #[tokio::test]
    async fn forgeries_are_refused_as_invalid() {
        use hmac::{Hmac, Mac};
        let (tokens, signer) = tokens().await;
        let good = sign(&signer, "local:0", &header(&signer).await, &valid_claims()).await;
        assert!(tokens.verify(&good, NOW).await.is_ok());
        let kid = kid_of(&signer, "local:0").await;
        let public = signer.public_key("local:0").await.unwrap();
        let hs256 = |secret: &[u8], head: Value| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&head).unwrap()),
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&valid_claims()).unwrap())
            );
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
            mac.update(input.as_bytes());
            format!(
                "{input}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        };
        let jwk = serde_json::to_vec(&public.jwk()).unwrap();
        let mut forged = vec![
            // HS256 with the public key (as its JWK and as its modulus) as secret.
            hs256(&jwk, json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})),
            hs256(
                public.jwk().n.as_bytes(),
                json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
            ),
        ];
        // alg none, with and without a signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&valid_claims()).unwrap())
        );
        forged.push(none);
        // Signed by a key the key set does not hold.
        forged.push(
            sign(
                &signer,
                "local:1",
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": kid_of(&signer, "local:1").await}),
                &valid_claims(),
            )
            .await,
        );
        // Another key's signature under our kid.
        forged.push(sign(&signer, "local:1", &header(&signer).await, &valid_claims()).await);
        // A header member beyond alg, typ, kid (an embedded key, a critical
        // extension), or without typ.
        for extra in [
            json!({"alg": "RS256", "typ": "at+jwt", "kid": kid, "jwk": public.jwk()}),
            json!({"alg": "RS256", "typ": "at+jwt", "kid": kid, "crit": ["exp"]}),
            json!({"alg": "RS256", "typ": "at+jwt", "kid": kid, "jku": "https://evil"}),
            json!({"alg": "RS256", "kid": kid}),
            json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
        ] {
            forged.push(sign(&signer, "local:0", &extra, &valid_claims()).await);
        }
        // A claim changed after signing.
        let (head, rest) = good.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let mut admin = valid_claims();
        admin["roles"] = json!(["admin"]);
        forged.push(format!(
            "{head}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&admin).unwrap())
        ));
        for token in forged {
            assert_eq!(
                refusal(tokens.verify(&token, NOW).await),
                Refusal::Invalid,
                "{token}"
            );
        }
    }

    #[tokio::test]
    async fn wrong_claims_are_invalid_and_only_a_signed_token_past_exp_is_expired() {
        let (tokens, signer) = tokens().await;
        let head = header(&signer).await;
        for (claim, value) in [
            ("iss", json!("https://other.example.com")),
            ("aud", json!("other-api")),
            ("aud", json!(["warden-api"])),
            ("jti", json!("")),
        ] {
            let mut claims = valid_claims();
            claims[claim] = value;
            let token = sign(&signer, "local:0", &head, &claims).await;
            assert_eq!(
                refusal(tokens.verify(&token, NOW).await),
                Refusal::Invalid,
                "{claim}"
            );
        }
        for missing in ["client_id", "scope", "sid", "gen", "exp", "roles"] {
            let mut claims = valid_claims();
            claims.as_object_mut().unwrap().remove(missing);
            let token = sign(&signer, "local:0", &head, &claims).await;
            assert_eq!(
                refusal(tokens.verify(&token, NOW).await),
                Refusal::Invalid,
                "{missing}"
            );
        }
        let good = sign(&signer, "local:0", &head, &valid_claims()).await;
        assert!(tokens.verify(&good, NOW + 900 + 29).await.is_ok(), "leeway");
        assert_eq!(
            refusal(tokens.verify(&good, NOW + 900 + 30).await),
            Refusal::Expired
        );
        assert_eq!(
            refusal(tokens.verify(&good, NOW - 31).await),
            Refusal::Invalid
        );
        // A forged token past its exp is invalid, not expired.
        let forged = sign(&signer, "local:1", &head, &valid_claims()).await;
        assert_eq!(
            refusal(tokens.verify(&forged, NOW + 3600).await),
            Refusal::Invalid
        );
        for garbage in ["", ".", "..", "a.b.c", "a.b.c.d", &"x".repeat(9000)] {
            assert_eq!(refusal(tokens.verify(garbage, NOW).await), Refusal::Invalid);
        }
    }

    #[tokio::test]
    async fn a_verified_token_is_a_cache_hit_judged_again_by_the_clock() {
        let (tokens, signer) = tokens().await;
        let token = sign(&signer, "local:0", &header(&signer).await, &valid_claims()).await;
        let first = tokens.verify(&token, NOW).await.unwrap();
        let again = tokens.verify(&token, NOW + 60).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "the second check is a hit");
        assert_eq!(
            refusal(tokens.verify(&token, NOW + 900 + 30).await),
            Refusal::Expired
        );
    }

    /// A key set in a store, and the tokens of a function that read it.
    struct Stored {
        set: Arc<Mutex<Option<KeySet>>>,
        reads: Arc<std::sync::atomic::AtomicUsize>,
        clock: Arc<ManualClock>,
        signer: Arc<LocalSigner>,
    }

    impl Stored {
        async fn new() -> Self {
            Self {
                set: Arc::default(),
                reads: Arc::default(),
                clock: Arc::new(ManualClock::at_millis(NOW * 1000)),
                signer: signer(),
            }
        }

        async fn function(&self) -> AccessTokens {
            let (set, reads) = (self.set.clone(), self.reads.clone());
            let read = Arc::new(move || {
                let (set, reads) = (set.clone(), reads.clone());
                Box::pin(async move {
                    reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(set.lock().unwrap().clone())
                }) as crate::store::KeySetRead
            });
            AccessTokens::load(
                &test_config(),
                self.signer.clone(),
                KeySource::Stored {
                    read,
                    first_key_arn: "local:0".into(),
                },
                self.clock.clone(),
            )
            .await
            .unwrap()
        }

        fn now(&self) -> i64 {
            self.clock.now_secs()
        }

        async fn new_key(&self, i: usize) -> NewKey {
            NewKey {
                arn: format!("local:{i}"),
                kid: kid_of(&self.signer, &format!("local:{i}")).await,
            }
        }

        /// The stored set (the first key's implicit set until written).
        async fn current(&self) -> KeySet {
            let stored = self.set.lock().unwrap().clone();
            match stored {
                Some(set) => set,
                None => {
                    let mut set = KeySet::initial("local:0");
                    set.keys[0].kid = kid_of(&self.signer, "local:0").await;
                    set
                }
            }
        }

        fn store(&self, set: KeySet) {
            *self.set.lock().unwrap() = Some(set);
        }

        fn advance(&self, secs: i64) {
            self.clock.advance_millis(secs * 1000);
        }
    }

    async fn kid_of_token(token: &str) -> String {
        let head: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        head["kid"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_rotation_follows_the_schedule_in_a_warm_signer_and_a_warm_verifier_that_started_before_it()
     {
        let keys = Stored::new().await;
        let signer_fn = keys.function().await;
        let verifier = keys.function().await;
        let (old, _) = signer_fn.issue("u", &[], 0, "s", keys.now()).await.unwrap();
        let k0 = kid_of(&keys.signer, "local:0").await;
        let k1 = kid_of(&keys.signer, "local:1").await;
        assert_eq!(kid_of_token(&old).await, k0);
        assert!(verifier.verify(&old, keys.now()).await.is_ok());

        // rotate: k1 published now, signing after the gateway's cache.
        let rotated = keys
            .current()
            .await
            .rotated(keys.new_key(1).await, keys.now())
            .unwrap();
        let switch = rotated.keys[1].sign_from;
        let retire = rotated.keys[0].retire_at.unwrap();
        keys.store(rotated);

        // Within the re-read interval, and up to the switch, k0 signs.
        keys.advance(KEY_SET_REREAD_SECS as i64);
        let (token, _) = signer_fn.issue("u", &[], 0, "s", keys.now()).await.unwrap();
        assert_eq!(
            kid_of_token(&token).await,
            k0,
            "k1 is published, not signing"
        );
        keys.advance(switch - 1 - keys.now());
        let (last_k0, _) = signer_fn.issue("u", &[], 0, "s", keys.now()).await.unwrap();
        assert_eq!(kid_of_token(&last_k0).await, k0);
        // At the switch the warm signer signs with k1 (no re-read needed:
        // the times are in its copy) and the warm verifier accepts it.
        keys.advance(1);
        let (new, _) = signer_fn.issue("u", &[], 0, "s", keys.now()).await.unwrap();
        assert_eq!(kid_of_token(&new).await, k1);
        assert!(verifier.verify(&new, keys.now()).await.is_ok());
        // k0's last token verifies for its whole life (and leeway), which
        // ends before k0 retires.
        keys.advance(900 + LEEWAY_SECS - 2);
        assert!(verifier.verify(&last_k0, keys.now()).await.is_ok());
        assert!(keys.now() < retire);
        // From retire_at only k1 is published.
        keys.advance(retire - keys.now());
        let jwks: Vec<String> = verifier
            .key_ring()
            .await
            .jwks(keys.now())
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(jwks, [k1]);
    }

    #[tokio::test]
    async fn an_unknown_kid_reads_the_key_set_again_at_most_once_per_ten_seconds() {
        let keys = Stored::new().await;
        let verifier = keys.function().await;
        let reads = || keys.reads.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(reads(), 1, "read once at start");
        // Retire k0 now: k2 replaces it at once, signed by another function.
        let retired = keys
            .current()
            .await
            .retired_now(
                &kid_of(&keys.signer, "local:0").await,
                keys.now(),
                Some(keys.new_key(2).await),
            )
            .unwrap();
        keys.store(retired);
        let other = keys.function().await;
        let (token, _) = other.issue("u", &[], 0, "s", keys.now()).await.unwrap();
        // The warm verifier has never seen k2: it reads again and accepts.
        assert!(verifier.verify(&token, keys.now()).await.is_ok());
        let after = reads();
        // Forged kids: refused, with one re-read per ten seconds at most
        // (the last early read was just now, for k2: wait for the next).
        keys.advance(UNKNOWN_KID_REREAD_SECS as i64);
        for i in 0..20 {
            let forged = sign(
                &keys.signer,
                "local:1",
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("forged-{i}")}),
                &valid_claims(),
            )
            .await;
            assert!(verifier.verify(&forged, keys.now()).await.is_err());
        }
        assert_eq!(reads(), after + 1, "one re-read for the first forged kid");
        keys.advance(UNKNOWN_KID_REREAD_SECS as i64);
        let forged = sign(
            &keys.signer,
            "local:1",
            &json!({"alg": "RS256", "typ": "at+jwt", "kid": "forged-again"}),
            &valid_claims(),
        )
        .await;
        assert!(verifier.verify(&forged, keys.now()).await.is_err());
        assert_eq!(reads(), after + 2);
    }

    #[tokio::test]
    async fn retiring_a_key_now_stops_its_cached_tokens_within_one_re_read() {
        let keys = Stored::new().await;
        let function = keys.function().await;
        let (token, _) = function.issue("u", &[], 0, "s", keys.now()).await.unwrap();
        assert!(
            function.verify(&token, keys.now()).await.is_ok(),
            "now cached"
        );
        let k0 = kid_of(&keys.signer, "local:0").await;
        let retired = keys
            .current()
            .await
            .retired_now(&k0, keys.now(), Some(keys.new_key(1).await))
            .unwrap();
        keys.store(retired);
        keys.advance(KEY_SET_REREAD_SECS as i64);
        assert_eq!(
            refusal(function.verify(&token, keys.now()).await),
            Refusal::Invalid
        );
        // The replacement signs at once.
        let (new, _) = function.issue("u", &[], 0, "s", keys.now()).await.unwrap();
        assert_eq!(
            kid_of_token(&new).await,
            kid_of(&keys.signer, "local:1").await
        );
    }

    #[tokio::test]
    async fn a_key_set_entry_whose_kid_is_not_its_keys_thumbprint_verifies_nothing() {
        let keys = Stored::new().await;
        keys.store(KeySet {
            keys: vec![KeyEntry {
                arn: "local:0".into(),
                kid: kid_of(&keys.signer, "local:1").await,
                publish_from: 0,
                sign_from: 0,
                sign_until: None,
                retire_at: None,
            }],
            version: 1,
        });
        let function = keys.function().await;
        assert!(function.key_ring().await.jwks(keys.now()).is_empty());
        assert!(function.issue("u", &[], 0, "s", keys.now()).await.is_err());
    }
}
