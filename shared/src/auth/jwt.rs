//! Access tokens: HS256 JWTs with `typ: at+jwt` and a `kid`, as
//! `infra/openapi.yaml` describes them.
//!
//! [`TokenCodec::verify`] checks the signature and every claim, with the
//! time checks done against Warden's [`Clock`](crate::clock::Clock), and
//! nothing else. Signing and verification are written out here over
//! `hmac`/`sha2` rather than left to a JWT library: verification is on
//! every authenticated request, and `jsonwebtoken` parsed the header and
//! the claims twice and built a new HMAC key per call, a quarter of
//! `GET /auth/sessions`' CPU in `warden serve`. A token verified once is
//! remembered ([`crate::auth::verified`]). Revocation is checked by
//! [`crate::auth::bearer::Bearer::token`] on every request, and a token is
//! never accepted on its signature alone.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::auth::verified::VerifiedTokens;
use crate::config::{Config, Findings, check_jwt_key};
use crate::domain::Role;
use crate::secrets::SecretVersion;
use crate::secrets::cache::CachedSecret;
use crate::{Error, Result};

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Why a well-formed access token header is refused when its `kid` is
/// none of the codec's keys' (a rotation not seen yet, or a forgery).
const UNKNOWN_KID: &str = "unknown kid";

/// Clock leeway allowed on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 30;

/// The claims of an access token. Every one is required: a token missing
/// any of them does not deserialise and is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer; must equal the configured issuer.
    pub iss: String,
    /// Audience; must equal the configured audience.
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// Expiry, epoch seconds.
    pub exp: i64,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Not before, epoch seconds.
    pub nbf: i64,
    /// Token id (ULID); the denylist key of this one token.
    pub jti: String,
    /// The user's roles.
    pub roles: Vec<Role>,
    /// The user's revocation generation when the token was issued.
    pub r#gen: u64,
    /// The login session the token belongs to.
    pub sid: String,
}

/// One signing key with its id.
struct Key {
    kid: String,
    /// The header this key signs, base64url-encoded: a token whose first
    /// segment is exactly this needs no header decoding.
    encoded_header: String,
    /// HMAC-SHA256 keyed once; each signature and verification clones it.
    mac: hmac::Hmac<sha2::Sha256>,
}

impl Key {
    fn new(kid: String, secret: &SecretString) -> Result<Self> {
        let bytes = secret.expose_secret().as_bytes();
        let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(bytes)
            .map_err(|_| Error::Config("the JWT signing key is unusable".into()))?;
        let header = SignedHeader {
            alg: "HS256",
            typ: ACCESS_TOKEN_TYPE,
            kid: &kid,
        };
        let header = serde_json::to_vec(&header)
            .map_err(|e| Error::internal(format!("encoding a token header: {e}")))?;
        Ok(Self {
            encoded_header: URL_SAFE_NO_PAD.encode(header),
            kid,
            mac,
        })
    }
}

/// The header Warden signs.
#[derive(Serialize)]
struct SignedHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// The header fields an access token is judged by; others are ignored.
#[derive(Deserialize)]
struct TokenHeader<'a> {
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    typ: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<std::borrow::Cow<'a, str>>,
}

/// Issues and verifies access tokens with one signing key and any number of
/// older keys that still verify.
pub struct TokenCodec {
    current: Key,
    previous: Vec<Key>,
    issuer: String,
    audience: String,
    ttl_secs: i64,
    /// Tokens this codec has verified (not their revocation).
    verified: VerifiedTokens,
}

impl std::fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCodec")
            .field("kid", &self.current.kid)
            .field(
                "previous_kids",
                &self.previous.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenCodec {
    /// The codec over `keys` for `config`'s issuer, audience and lifetime,
    /// each key checked first (length, known defaults): what every state
    /// that verifies access tokens builds.
    pub fn checked(config: &Config, keys: &[SecretVersion]) -> Result<Self> {
        Findings(
            keys.iter()
                .map(|k| check_jwt_key(&k.value, "the signing key set"))
                .collect(),
        )
        .into_result()?;
        Self::new(
            keys,
            &config.issuer,
            &config.audience,
            config.access_ttl_secs,
        )
    }

    /// A codec over secret versions: the current one signs, all verify.
    /// Fails when there is no current version.
    pub fn new(
        versions: &[SecretVersion],
        issuer: &str,
        audience: &str,
        ttl_secs: i64,
    ) -> Result<Self> {
        let current = versions
            .iter()
            .find(|v| v.current)
            .ok_or_else(|| Error::Config("no current JWT signing key".into()))?;
        let previous = versions
            .iter()
            .filter(|v| !v.current)
            .map(|v| Key::new(v.version_id.clone(), &v.value))
            .collect::<Result<_>>()?;
        Ok(Self {
            current: Key::new(current.version_id.clone(), &current.value)?,
            previous,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
            verified: VerifiedTokens::default(),
        })
    }

    /// The access token lifetime in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Signs an access token for `sub` in session `sid`, issued at `now`
    /// (epoch seconds). Returns the token and its claims.
    pub fn issue(
        &self,
        sub: &str,
        roles: &[Role],
        generation: u64,
        sid: &str,
        now: i64,
    ) -> Result<(String, AccessClaims)> {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: sub.to_owned(),
            exp: now + self.ttl_secs,
            iat: now,
            nbf: now,
            jti: ulid::Ulid::new().to_string(),
            roles: roles.to_vec(),
            r#gen: generation,
            sid: sid.to_owned(),
        };
        let claims_json = serde_json::to_vec(&claims)
            .map_err(|e| Error::internal(format!("signing a token: {e}")))?;
        let mut token = self.current.encoded_header.clone();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        let mut mac = self.current.mac.clone();
        mac.update(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
        Ok((token, claims))
    }

    /// Checks the signature, header and claims of `token` at `now` (epoch
    /// seconds). Every failure is the same [`Error::Unauthorized`]; the
    /// reason is logged at debug level only. A token this codec has
    /// verified before is found in its [`VerifiedTokens`] and only its time
    /// claims are checked again; the claims are shared, not copied.
    pub fn verify(&self, token: &str, now: i64) -> Result<Arc<AccessClaims>> {
        self.verify_inner(token, now).map_err(|reason| {
            tracing::debug!(reason, "access token refused");
            Error::Unauthorized
        })
    }

    fn verify_inner(
        &self,
        token: &str,
        now: i64,
    ) -> std::result::Result<Arc<AccessClaims>, &'static str> {
        if token.len() > 8 * 1024 {
            return Err("token too long");
        }
        // header.claims.signature, each base64url without padding.
        let (signing_input, signature) = token.rsplit_once('.').ok_or("malformed")?;
        if let Some(claims) = self.verified.get(signing_input, signature) {
            check_times(&claims, now)?;
            return Ok(claims);
        }
        let claims = self.check_signed(signing_input, signature)?;
        check_times(&claims, now)?;
        let claims = Arc::new(claims);
        self.verified
            .insert(signing_input, signature, Arc::clone(&claims));
        Ok(claims)
    }

    /// Everything about a token but the time: its header and key, its
    /// signature, its issuer and audience, and that its ids are present.
    fn check_signed(
        &self,
        signing_input: &str,
        signature: &str,
    ) -> std::result::Result<AccessClaims, &'static str> {
        let (header, claims) = signing_input.split_once('.').ok_or("malformed")?;
        let key = match self.keys().find(|k| k.encoded_header == header) {
            // The exact header a key of this codec signs: nothing to decode.
            Some(key) => key,
            None => self.key_for(header)?,
        };
        // The signature first (in constant time), then the claims: nothing
        // unsigned is parsed further than the header.
        // Decoded on the stack: an HS256 signature is 32 bytes (a longer
        // one does not fit and is refused), and claims are a few hundred.
        let mut signature_bytes = [0_u8; 32];
        let signature_len = URL_SAFE_NO_PAD
            .decode_slice(signature, &mut signature_bytes)
            .map_err(|_| "bad signature")?;
        let mut mac = key.mac.clone();
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&signature_bytes[..signature_len])
            .map_err(|_| "bad signature")?;
        let mut claims_bytes = [0_u8; 1024];
        let large_claims: Vec<u8>;
        let claims = match URL_SAFE_NO_PAD.decode_slice(claims, &mut claims_bytes) {
            Ok(len) => &claims_bytes[..len],
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                large_claims = URL_SAFE_NO_PAD
                    .decode(claims)
                    .map_err(|_| "malformed claims")?;
                &large_claims
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => return Err("malformed claims"),
        };
        // Every claim is a required field: a missing one does not parse.
        let claims: AccessClaims =
            serde_json::from_slice(claims).map_err(|_| "malformed claims")?;
        if claims.iss != self.issuer || claims.aud != self.audience {
            return Err("wrong issuer or audience");
        }
        if claims.jti.is_empty() || claims.sid.is_empty() || claims.sub.is_empty() {
            return Err("empty id claim");
        }
        Ok(claims)
    }

    /// The current key, then the previous ones.
    fn keys(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// The key an encoded header names, once the header is decoded and
    /// found to be an HS256 access token's.
    fn key_for(&self, header: &str) -> std::result::Result<&Key, &'static str> {
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| "malformed header")?;
        let header: TokenHeader<'_> =
            serde_json::from_slice(&header).map_err(|_| "malformed header")?;
        if header.alg != "HS256" {
            return Err("algorithm not allowed");
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err("not an access token");
        }
        let kid = header.kid.ok_or("no kid")?;
        self.keys().find(|k| k.kid == kid).ok_or(UNKNOWN_KID)
    }

    /// Whether `token` is a well-formed access token header naming a key
    /// this codec does not hold: a token signed after a rotation this
    /// codec has not seen yet, or a forgery.
    fn names_unknown_kid(&self, token: &str) -> bool {
        let header = token.split('.').next().unwrap_or_default();
        matches!(self.key_for(header), Err(UNKNOWN_KID))
    }
}

/// The time claims of a signed token against `now` (epoch seconds), with
/// [`LEEWAY_SECS`] either way. Checked on every verification, cached or not.
fn check_times(claims: &AccessClaims, now: i64) -> std::result::Result<(), &'static str> {
    // Saturating: a signed but absurd `exp` must not overflow.
    if claims.exp.saturating_add(LEEWAY_SECS) <= now {
        return Err("expired");
    }
    if claims.nbf.saturating_sub(LEEWAY_SECS) > now {
        return Err("not yet valid");
    }
    if claims.iat.saturating_sub(LEEWAY_SECS) > now {
        return Err("issued in the future");
    }
    Ok(())
}

/// A function's access tokens: a [`TokenCodec`] over the JWT key's
/// versions as Secrets Manager had them at most one cache TTL ago (see
/// [`crate::secrets::cache`]), so a rotated key signs new tokens, and
/// verifies, in every warm function without a redeploy.
#[derive(Debug)]
pub struct AccessTokens {
    keys: CachedSecret<TokenCodec>,
    ttl_secs: i64,
}

impl AccessTokens {
    /// Access tokens over `keys`.
    pub fn new(keys: CachedSecret<TokenCodec>) -> Self {
        let ttl_secs = keys.current().ttl_secs();
        Self { keys, ttl_secs }
    }

    /// Access tokens over a key set that never changes (development, tests).
    pub fn fixed(codec: TokenCodec) -> Self {
        Self::new(CachedSecret::fixed(codec))
    }

    /// The access token lifetime in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// [`TokenCodec::issue`] with the current key.
    pub async fn issue(
        &self,
        sub: &str,
        roles: &[Role],
        generation: u64,
        sid: &str,
        now: i64,
    ) -> Result<(String, AccessClaims)> {
        self.keys
            .get()
            .await
            .issue(sub, roles, generation, sid, now)
    }

    /// [`TokenCodec::verify`]. A token naming a key this function has not
    /// seen makes it read the key set again first, at most once per cache
    /// TTL (so forged `kid`s cannot make it call Secrets Manager more
    /// often), and is verified against what it read.
    pub async fn verify(&self, token: &str, now: i64) -> Result<Arc<AccessClaims>> {
        let codec = self.keys.get().await;
        match codec.verify(token, now) {
            Err(Error::Unauthorized)
                if codec.names_unknown_kid(token) && self.keys.reload_early().await =>
            {
                self.keys.current().verify(token, now)
            }
            outcome => outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const KEY: &str = "0123456789abcdef0123456789abcdef-test-key";
    const NOW: i64 = 1_800_000_000;

    fn version(id: &str, key: &str, current: bool) -> SecretVersion {
        SecretVersion {
            version_id: id.into(),
            value: SecretString::from(key.to_owned()),
            current,
        }
    }

    fn codec() -> TokenCodec {
        TokenCodec::new(&[version("v1", KEY, true)], "warden", "warden-api", 900).unwrap()
    }

    fn valid_claims() -> Value {
        json!({
            "iss": "warden", "aud": "warden-api", "sub": "user-1", "exp": NOW + 900,
            "iat": NOW, "nbf": NOW, "jti": "01JTI", "roles": ["user"], "gen": 0, "sid": "01SID"
        })
    }

    fn sign(header: Value, claims: &Value, key: &str) -> String {
        use hmac::{Hmac, Mac};
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{h}.{c}").as_bytes());
        format!(
            "{h}.{c}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// Whether valid claims signed under `header` with `key` are refused.
    fn refused(header: Value, key: &str) -> bool {
        codec()
            .verify(&sign(header, &valid_claims(), key), NOW)
            .is_err()
    }

    /// Whether `claims`, well signed, are refused.
    fn refused_claims(claims: &Value) -> bool {
        codec()
            .verify(&sign(good_header(), claims, KEY), NOW)
            .is_err()
    }

    /// The decoded header of `token`.
    fn header(token: &str) -> Value {
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice(&header).unwrap()
    }

    fn good_header() -> Value {
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "v1"})
    }

    #[test]
    fn claims_larger_than_the_stack_buffer_verify_and_a_longer_signature_is_refused() {
        let codec = codec();
        let mut claims = valid_claims();
        // 3 KB of claims: decoded on the heap, not in the 1 KB stack buffer.
        claims["sub"] = json!("u".repeat(3_000));
        let token = sign(good_header(), &claims, KEY);
        assert!(token.len() < 8 * 1024);
        let verified = codec.verify(&token, NOW).unwrap();
        assert_eq!(verified.sub.len(), 3_000);

        // The right 32 bytes followed by more: not an HS256 signature.
        let token = sign(good_header(), &valid_claims(), KEY);
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let mut long = URL_SAFE_NO_PAD.decode(signature).unwrap();
        long.extend_from_slice(&[0; 8]);
        let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(long));
        assert!(codec.verify(&token, NOW).is_ok());
        assert!(codec.verify(&forged, NOW).is_err());
    }

    #[test]
    fn an_issued_token_verifies_with_every_claim() {
        let codec = codec();
        let (token, claims) = codec
            .issue("user-1", &[Role::Admin], 3, "sid-1", NOW)
            .unwrap();
        let verified = codec.verify(&token, NOW + 10).unwrap();
        assert_eq!(*verified, claims);
        assert_eq!(
            (verified.exp, verified.r#gen, verified.sid.as_str()),
            (NOW + 900, 3, "sid-1")
        );
        assert_eq!(
            header(&token),
            json!({"alg": "HS256", "typ": "at+jwt", "kid": "v1"})
        );
    }

    #[test]
    fn a_token_signed_by_another_implementation_verifies() {
        // Signed by Python's hmac and base64 modules, with its own member
        // order: Warden reads standard HS256, not only its own output.
        const PYTHON: &str = "eyJ0eXAiOiJhdCtqd3QiLCJraWQiOiJ2MSIsImFsZyI6IkhTMjU2In0.\
            eyJzdWIiOiJ1c2VyLTEiLCJpc3MiOiJ3YXJkZW4iLCJhdWQiOiJ3YXJkZW4tYXBpIiwiZXhwIjoxODAwMDAw\
            OTAwLCJpYXQiOjE4MDAwMDAwMDAsIm5iZiI6MTgwMDAwMDAwMCwianRpIjoiMDFKVEkiLCJyb2xlcyI6WyJ1c2\
            VyIl0sImdlbiI6MCwic2lkIjoiMDFTSUQifQ.St-KWsWHydROl3feDGkyCfeLEJUeJu_umnM1wKmMp8Q";
        let claims = codec().verify(PYTHON, NOW).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.jti.as_str()),
            ("user-1", "01JTI")
        );
        let wrong_key = TokenCodec::new(
            &[version("v1", "another key", true)],
            "warden",
            "warden-api",
            900,
        )
        .unwrap();
        assert!(wrong_key.verify(PYTHON, NOW).is_err());
    }

    #[test]
    fn an_issued_token_is_signed_over_its_first_two_segments_with_the_current_key() {
        use hmac::{Hmac, Mac};
        let (token, _) = codec().issue("u", &[], 0, "s", NOW).unwrap();
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(signing_input.as_bytes());
        assert_eq!(
            signature,
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        let claims = URL_SAFE_NO_PAD
            .decode(signing_input.split_once('.').unwrap().1)
            .unwrap();
        let claims: Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["sub"], "u");
    }

    #[test]
    fn the_hand_signed_reference_token_verifies() {
        // Guards the tests below: they fail for the one thing they change.
        let token = sign(good_header(), &valid_claims(), KEY);
        assert!(codec().verify(&token, NOW).is_ok());
    }

    #[test]
    fn alg_none_is_refused() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"v1"}"#);
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&valid_claims()).unwrap());
        assert!(codec().verify(&format!("{h}.{c}."), NOW).is_err());
    }

    #[test]
    fn another_algorithm_is_refused() {
        assert!(refused(
            json!({"alg": "HS512", "typ": "at+jwt", "kid": "v1"}),
            KEY
        ));
    }

    #[test]
    fn a_wrong_key_is_refused() {
        assert!(refused(
            good_header(),
            "another-key-another-key-another-key"
        ));
    }

    #[test]
    fn a_wrong_type_or_unknown_kid_is_refused() {
        assert!(refused(
            json!({"alg": "HS256", "typ": "JWT", "kid": "v1"}),
            KEY
        ));
        assert!(refused(
            json!({"alg": "HS256", "typ": "at+jwt", "kid": "v9"}),
            KEY
        ));
    }

    #[test]
    fn wrong_issuer_or_audience_is_refused() {
        for (claim, value) in [("iss", "someone-else"), ("aud", "another-api")] {
            let mut claims = valid_claims();
            claims[claim] = json!(value);
            assert!(refused_claims(&claims), "{claim}");
        }
    }

    #[test]
    fn every_missing_claim_is_refused() {
        for claim in [
            "iss", "aud", "sub", "exp", "iat", "nbf", "jti", "roles", "gen", "sid",
        ] {
            let mut claims = valid_claims();
            claims.as_object_mut().unwrap().remove(claim);
            assert!(refused_claims(&claims), "{claim}");
        }
    }

    #[test]
    fn expiry_and_not_before_allow_thirty_seconds_of_leeway_and_no_more() {
        let token = sign(good_header(), &valid_claims(), KEY);
        let codec = codec();
        assert!(codec.verify(&token, NOW + 900 + 29).is_ok());
        assert!(
            codec.verify(&token, NOW + 900 + 30).is_err(),
            "expired beyond the leeway"
        );
        assert!(codec.verify(&token, NOW - 30).is_ok());
        assert!(codec.verify(&token, NOW - 31).is_err(), "nbf in the future");
    }

    #[test]
    fn a_verified_token_comes_from_the_cache_and_nothing_else_does() {
        let codec = codec();
        let token = sign(good_header(), &valid_claims(), KEY);
        let first = codec.verify(&token, NOW).unwrap();
        let again = codec.verify(&token, NOW + 60).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "the second check is a hit");
        // The cached token's signature over other claims, and the cached
        // claims under another signature: both miss and are refused.
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let (header, _) = signing_input.split_once('.').unwrap();
        let mut admin = valid_claims();
        admin["roles"] = json!(["admin"]);
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&admin).unwrap());
        assert!(
            codec
                .verify(&format!("{header}.{claims}.{signature}"), NOW)
                .is_err()
        );
        let mut forged = signature.to_owned();
        forged.replace_range(30.., "AAAAAAAAAAAAA");
        assert!(
            codec
                .verify(&format!("{signing_input}.{forged}"), NOW)
                .is_err()
        );
        // A hit is still judged by the clock, on every time claim.
        assert!(codec.verify(&token, NOW + 900 + 30).is_err(), "expired");
        assert!(codec.verify(&token, NOW - 31).is_err(), "not yet valid");
        let mut early = valid_claims();
        early["nbf"] = json!(NOW - 3600);
        let early = sign(good_header(), &early, KEY);
        assert!(codec.verify(&early, NOW + 60).is_ok());
        assert!(
            codec.verify(&early, NOW - 31).is_err(),
            "issued in the future"
        );
        // Another codec (a reloaded key set) has its own, empty cache.
        let other =
            TokenCodec::new(&[version("v1", KEY_2, true)], "warden", "warden-api", 900).unwrap();
        assert!(other.verify(&token, NOW).is_err());
    }

    #[test]
    fn a_token_refused_for_its_time_is_not_cached() {
        let codec = codec();
        let token = sign(good_header(), &valid_claims(), KEY);
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        assert!(codec.verify(&token, NOW - 31).is_err(), "not yet valid");
        assert!(codec.verified.get(signing_input, signature).is_none());
        let claims = codec.verify(&token, NOW).unwrap();
        let cached = codec.verified.get(signing_input, signature).unwrap();
        assert!(Arc::ptr_eq(&claims, &cached));
    }

    #[test]
    fn the_previous_key_still_verifies_but_never_signs() {
        let old =
            TokenCodec::new(&[version("v1", KEY, true)], "warden", "warden-api", 900).unwrap();
        let (old_token, _) = old.issue("u", &[Role::User], 0, "s", NOW).unwrap();
        let rotated = TokenCodec::new(
            &[
                version("v2", "a-brand-new-key-a-brand-new-key-0123", true),
                version("v1", KEY, false),
            ],
            "warden",
            "warden-api",
            900,
        )
        .unwrap();
        assert!(rotated.verify(&old_token, NOW).is_ok());
        let (new_token, _) = rotated.issue("u", &[Role::User], 0, "s", NOW).unwrap();
        assert_eq!(header(&new_token)["kid"], "v2");
        assert!(old.verify(&new_token, NOW).is_err());
    }

    #[test]
    fn extra_segments_padding_an_array_audience_or_duplicate_claims_are_refused() {
        let codec = codec();
        let good = sign(good_header(), &valid_claims(), KEY);
        assert!(codec.verify(&good, NOW).is_ok());
        for bad in [
            format!("{good}.x"),
            format!("x.{good}"),
            format!("{good}="),
            good.replacen('.', "..", 1),
        ] {
            assert!(codec.verify(&bad, NOW).is_err(), "{bad}");
        }
        let mut array_aud = valid_claims();
        array_aud["aud"] = json!(["warden-api"]);
        assert!(
            codec
                .verify(&sign(good_header(), &array_aud, KEY), NOW)
                .is_err()
        );
        // A signed body with a claim given twice does not parse.
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good_header()).unwrap());
        let text = valid_claims()
            .to_string()
            .replacen('{', r#"{"sub":"admin","#, 1);
        let c = URL_SAFE_NO_PAD.encode(text.as_bytes());
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(format!("{h}.{c}").as_bytes());
        let twice = format!(
            "{h}.{c}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        );
        assert!(codec.verify(&twice, NOW).is_err());
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let codec = codec();
        for token in ["", ".", "..", "a.b.c", "ey.ey.ey", &"x".repeat(10_000)] {
            assert!(codec.verify(token, NOW).is_err());
        }
    }

    /// A JWT secret whose versions the test sets, counting reads.
    #[derive(Default)]
    struct RotatingSecret {
        versions: std::sync::Mutex<Vec<SecretVersion>>,
        reads: std::sync::atomic::AtomicUsize,
    }

    impl RotatingSecret {
        fn rotate_to(&self, id: &str, key: &str) {
            let mut versions = self.versions.lock().unwrap();
            versions.retain(|v| v.current);
            for v in versions.iter_mut() {
                v.current = false;
            }
            versions.insert(0, version(id, key, true));
        }
        fn reads(&self) -> usize {
            self.reads.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[async_trait::async_trait]
    impl crate::secrets::SecretsPort for RotatingSecret {
        async fn current_and_previous(&self, _: &str) -> Result<Vec<SecretVersion>> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.versions.lock().unwrap().clone())
        }
        async fn current(&self, id: &str) -> Result<SecretVersion> {
            let versions = self.current_and_previous(id).await?;
            Ok(versions.into_iter().next().unwrap())
        }
    }

    const KEY_2: &str = "fedcba9876543210fedcba9876543210-new-key";

    /// Access tokens over `secret`, read again every 300 s of `clock`.
    /// A warm function whose key set was first read at version `v1`
    /// (`KEY`), with the secret and the clock to move it on.
    async fn warm_at_v1() -> (
        std::sync::Arc<RotatingSecret>,
        std::sync::Arc<crate::clock::ManualClock>,
        AccessTokens,
    ) {
        let secret = std::sync::Arc::new(RotatingSecret::default());
        secret.rotate_to("v1", KEY);
        let clock = std::sync::Arc::new(crate::clock::ManualClock::at_millis(0));
        let warm = warm_function(&secret, &clock).await;
        (secret, clock, warm)
    }

    async fn warm_function(
        secret: &std::sync::Arc<RotatingSecret>,
        clock: &std::sync::Arc<crate::clock::ManualClock>,
    ) -> AccessTokens {
        let keys = CachedSecret::load(
            secret.clone(),
            "arn:jwt",
            crate::secrets::cache::Versions::CurrentAndPrevious,
            300,
            clock.clone(),
            |versions| TokenCodec::new(&versions, "warden", "warden-api", 900),
        )
        .await
        .unwrap();
        AccessTokens::new(keys)
    }

    fn kid(token: &str) -> String {
        header(token)["kid"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_warm_function_verifies_a_token_signed_with_a_key_rotated_after_it_started() {
        let (secret, clock, warm) = warm_at_v1().await;
        let (old_token, _) = warm.issue("u", &[Role::User], 0, "s", NOW).await.unwrap();

        secret.rotate_to("v2", KEY_2);
        // Another function, started after the rotation, signs with v2.
        let cold = warm_function(&secret, &clock).await;
        let (new_token, _) = cold.issue("u", &[Role::User], 0, "s", NOW).await.unwrap();
        assert_eq!(kid(&new_token), "v2");

        assert!(
            warm.verify(&new_token, NOW).await.is_ok(),
            "unknown kid: read again"
        );
        assert!(
            warm.verify(&old_token, NOW).await.is_ok(),
            "the previous key verifies"
        );
        let (next, _) = warm.issue("u", &[Role::User], 0, "s", NOW).await.unwrap();
        assert_eq!(kid(&next), "v2", "and it now signs with the new key");
    }

    #[tokio::test]
    async fn a_warm_function_signs_with_a_rotated_key_within_one_cache_ttl() {
        let (secret, clock, warm) = warm_at_v1().await;
        secret.rotate_to("v2", KEY_2);

        clock.advance_millis(299_000);
        let (token, _) = warm.issue("u", &[Role::User], 0, "s", NOW).await.unwrap();
        assert_eq!(kid(&token), "v1", "within the TTL");
        clock.advance_millis(1_000);
        let (token, _) = warm.issue("u", &[Role::User], 0, "s", NOW).await.unwrap();
        assert_eq!(kid(&token), "v2", "one TTL after the last read");
    }

    #[tokio::test]
    async fn forged_kids_cost_at_most_one_secret_read_per_ttl_and_are_refused() {
        let (secret, clock, warm) = warm_at_v1().await;
        assert_eq!(secret.reads(), 1);

        for i in 0..50 {
            let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": format!("forged-{i}")});
            let forged = sign(
                header,
                &valid_claims(),
                "an attacker's key, long enough to pass",
            );
            assert!(matches!(
                warm.verify(&forged, NOW).await,
                Err(Error::Unauthorized)
            ));
        }
        assert_eq!(secret.reads(), 2, "one early read for fifty forged kids");

        // Garbage and known kids with a bad signature never read at all.
        clock.advance_millis(300_000);
        let _ = warm.issue("u", &[Role::User], 0, "s", NOW).await.unwrap();
        let reads = secret.reads();
        let bad_signature = sign(
            good_header(),
            &valid_claims(),
            "not the key at all, but long",
        );
        for token in ["", "a.b.c", bad_signature.as_str()] {
            assert!(warm.verify(token, NOW).await.is_err());
        }
        assert_eq!(secret.reads(), reads);
    }

    #[tokio::test]
    async fn a_key_rotated_out_stops_verifying_in_a_warm_function_within_one_ttl() {
        let (secret, clock, warm) = warm_at_v1().await;
        let (v1_token, _) = warm.issue("u", &[Role::User], 0, "s", NOW).await.unwrap();

        secret.rotate_to("v2", KEY_2);
        secret.rotate_to("v3", "a third key, 0123456789abcdef0123456789");
        assert!(
            warm.verify(&v1_token, NOW).await.is_ok(),
            "within the TTL the instance has not read the rotation yet"
        );
        clock.advance_millis(300_000);
        assert!(
            matches!(warm.verify(&v1_token, NOW).await, Err(Error::Unauthorized)),
            "one TTL later v1 is neither current nor previous"
        );
    }
}
