//! The keys access tokens are signed with: the key set item and its
//! schedule, RSA public keys as JWKs, and the port that signs.
//!
//! - [`KeySet`]: the one stored item (API.md "Access tokens", "The key
//!   set"): for each key its KMS ARN, `kid`, `publish_from`, `sign_from`,
//!   `sign_until`, `retire_at`. Which key signs, which verify and which
//!   are published are pure functions of the item and the time, so a
//!   rotation is data written once: nothing has to run at the switch.
//! - [`KeySet::rotated`] and [`KeySet::retired_now`]: the two operator
//!   changes (`warden signing-key rotate`, `retire KID --now`).
//! - [`RsaPublicKey`]: a public key as KMS hands it out (DER
//!   SubjectPublicKeyInfo), its RFC 7638 thumbprint (the `kid`), its JWK,
//!   and RS256 verification (ring).
//! - [`Signer`]: signs a JWS signing input with a key by ARN and gives a
//!   key's public half: AWS KMS outside development
//!   ([`crate::aws::kms::KmsSigner`]), [`LocalSigner`] (an RSA key in
//!   process memory) in development and tests.

use std::collections::HashMap;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{Error, Result};

/// The name of the access tokens' key set item.
pub const ACCESS_KEY_SET: &str = "access";

/// How old a copy of the key set a signer, a verifier or the key set
/// endpoint may use, in seconds.
pub const KEY_SET_REREAD_SECS: u64 = 60;

/// A token naming a `kid` the copy does not hold makes the copy be read
/// again, at most once per this many seconds (so forged `kid`s cannot make
/// a function read the store more often).
pub const UNKNOWN_KID_REREAD_SECS: u64 = 10;

/// How long API Gateway's JWT authorizer may keep a key set (2 hours).
pub const GATEWAY_KEY_CACHE_SECS: i64 = 2 * 3600;

/// A rotated-in key is published this long before it signs: API Gateway's
/// key cache, plus 5 minutes, plus one re-read interval of Warden's own
/// functions.
pub const PUBLISH_AHEAD_SECS: i64 = GATEWAY_KEY_CACHE_SECS + 5 * 60 + KEY_SET_REREAD_SECS as i64;

/// A key that stopped signing still verifies this long: the longest token
/// lifetime (15 minutes), the clock leeway (30 s) and one re-read interval.
pub const RETIRE_AFTER_SECS: i64 = 15 * 60 + 30 + KEY_SET_REREAD_SECS as i64;

/// The largest JWS signing input Warden signs: KMS signs a `RAW` message
/// of at most 4096 bytes.
pub const MAX_SIGNING_INPUT: usize = 4096;

/// One key of the key set, times in epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The KMS key ARN signers sign by (never an alias).
    pub arn: String,
    /// The key's RFC 7638 thumbprint; empty for the first key of a stack
    /// before any key set was written (computed from its public key).
    pub kid: String,
    /// From when verifiers accept it and the key set endpoint lists it.
    pub publish_from: i64,
    /// From when it signs.
    pub sign_from: i64,
    /// Until when it signs (exclusive); open when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_until: Option<i64>,
    /// From when it is refused everywhere; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<i64>,
}

impl KeyEntry {
    /// Whether the key is past its `retire_at` at `now`.
    pub fn retired(&self, now: i64) -> bool {
        self.retire_at.is_some_and(|at| at <= now)
    }

    /// Whether verifiers accept the key, and the key set lists it, at `now`.
    pub fn published(&self, now: i64) -> bool {
        self.publish_from <= now && !self.retired(now)
    }

    /// Whether the key signs at `now`.
    pub fn signs(&self, now: i64) -> bool {
        self.sign_from <= now
            && self.sign_until.is_none_or(|until| now < until)
            && !self.retired(now)
    }
}

/// The key set item: its keys and the version a change is conditioned on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    /// Every key not yet dropped, oldest first.
    pub keys: Vec<KeyEntry>,
    /// Raised by one with each write; `0` for a set never written.
    pub version: u64,
}

/// A key made for the key set: its ARN and thumbprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The KMS key ARN.
    pub arn: String,
    /// Its RFC 7638 thumbprint.
    pub kid: String,
}

impl KeySet {
    /// The key set of a stack no operator has changed yet: the stack's first
    /// key (`WARDEN_SIGNING_KEY_ARN`), published and signing since always.
    pub fn initial(arn: &str) -> Self {
        Self {
            keys: vec![KeyEntry {
                arn: arn.to_owned(),
                kid: String::new(),
                publish_from: 0,
                sign_from: 0,
                sign_until: None,
                retire_at: None,
            }],
            version: 0,
        }
    }

    /// The key that signs at `now`: the latest whose `[sign_from,
    /// sign_until)` holds `now`.
    pub fn signing(&self, now: i64) -> Option<&KeyEntry> {
        self.keys.iter().rev().find(|k| k.signs(now))
    }

    /// The key `kid` if verifiers accept it at `now`.
    pub fn verifying(&self, kid: &str, now: i64) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.kid == kid && k.published(now))
    }

    /// The keys the key set endpoint lists at `now`.
    pub fn published(&self, now: i64) -> impl Iterator<Item = &KeyEntry> {
        self.keys.iter().filter(move |k| k.published(now))
    }

    /// Whether a rotation may start at `now`: refused while one is pending
    /// (a key published but not signing yet). The CLI checks it before it
    /// makes a key, so a refused rotation makes nothing.
    pub fn check_rotation(&self, now: i64) -> Result<()> {
        match self
            .keys
            .iter()
            .find(|k| !k.retired(now) && k.sign_from > now)
        {
            Some(pending) => Err(Error::Conflict(format!(
                "a rotation is already under way: key {} signs from {}; rotate again after that",
                pending.kid,
                crate::clock::rfc3339(pending.sign_from)
            ))),
            None => Ok(()),
        }
    }

    /// `warden signing-key rotate` at `now`: appends `new`, published now
    /// and signing from `now +` [`PUBLISH_AHEAD_SECS`]; the key signing now
    /// signs until then and is retired [`RETIRE_AFTER_SECS`] later. Keys
    /// already retired are dropped. Refused while a rotation is pending (a
    /// key published but not signing yet), and when no key signs now.
    pub fn rotated(&self, new: NewKey, now: i64) -> Result<Self> {
        self.check_rotation(now)?;
        if self.keys.iter().any(|k| k.kid == new.kid) {
            return Err(Error::Conflict(format!(
                "key {} is already in the key set",
                new.kid
            )));
        }
        let switch = now + PUBLISH_AHEAD_SECS;
        let mut keys: Vec<KeyEntry> = self
            .keys
            .iter()
            .filter(|k| !k.retired(now))
            .cloned()
            .collect();
        let signing = keys
            .iter_mut()
            .rev()
            .find(|k| k.signs(now))
            .ok_or_else(|| {
                Error::Conflict(
                    "no key signs now: retire with --now appends a key that signs at once".into(),
                )
            })?;
        signing.sign_until = Some(switch);
        signing.retire_at = Some(switch + RETIRE_AFTER_SECS);
        keys.push(KeyEntry {
            arn: new.arn,
            kid: new.kid,
            publish_from: now,
            sign_from: switch,
            sign_until: None,
            retire_at: None,
        });
        Ok(Self {
            keys,
            version: self.version + 1,
        })
    }

    /// `warden signing-key retire KID --now` at `now`: the key is refused
    /// from `now` on. Retiring the key that signs (or would sign) appends
    /// `replacement`, published and signing at once (`None` there is
    /// refused: the caller makes the key first). Retiring a key still
    /// waiting to sign gives the key it would have replaced its open end
    /// back. Keys already retired are dropped.
    pub fn retired_now(&self, kid: &str, now: i64, replacement: Option<NewKey>) -> Result<Self> {
        let target = self
            .keys
            .iter()
            .find(|k| k.kid == kid && !k.retired(now))
            .ok_or_else(|| Error::NotFound(format!("no live key {kid} in the key set")))?
            .clone();
        let mut keys: Vec<KeyEntry> = self
            .keys
            .iter()
            .filter(|k| !k.retired(now) && k.kid != kid)
            .cloned()
            .collect();
        let was_signing = target.signs(now);
        if !was_signing && target.sign_from > now {
            // A pending key: the key it would have replaced keeps signing.
            for k in keys
                .iter_mut()
                .filter(|k| k.sign_until == Some(target.sign_from))
            {
                k.sign_until = None;
                k.retire_at = None;
            }
        }
        keys.push(KeyEntry {
            retire_at: Some(now),
            sign_until: Some(target.sign_until.map_or(now, |until| until.min(now))),
            ..target
        });
        if was_signing {
            let new = replacement.ok_or_else(|| {
                Error::BadRequest("retiring the signing key needs a replacement key".into())
            })?;
            // A rotation under way still switches when it said it would.
            let pending = keys
                .iter()
                .find(|k| k.sign_from > now && k.retire_at.is_none());
            let sign_until = pending.map(|k| k.sign_from);
            keys.push(KeyEntry {
                arn: new.arn,
                kid: new.kid,
                publish_from: now,
                sign_from: now,
                sign_until,
                retire_at: sign_until.map(|until| until + RETIRE_AFTER_SECS),
            });
        }
        Ok(Self {
            keys,
            version: self.version + 1,
        })
    }
}

/// An RSA public key: modulus and exponent, big-endian, no leading zeros.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.bits())
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

/// One key of the key set endpoint's answer (RFC 7517).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    /// Always `RSA`.
    pub kty: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: &'static str,
    /// Always `RS256`.
    pub alg: &'static str,
    /// The key's thumbprint.
    pub kid: String,
    /// The modulus, base64url.
    pub n: String,
    /// The exponent, base64url.
    pub e: String,
}

impl RsaPublicKey {
    /// A key from its modulus and exponent (big-endian). Refused below
    /// 2048 bits, as RS256 verification (ring) refuses them.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let strip = |b: &[u8]| b[b.iter().take_while(|&&x| x == 0).count()..].to_vec();
        let key = Self {
            n: strip(n),
            e: strip(e),
        };
        if key.bits() < 2048 || key.e.is_empty() || key.e.len() > 8 {
            return Err(Error::Config(format!(
                "an RSA signing key must have at least 2048 bits (this one has {})",
                key.bits()
            )));
        }
        Ok(key)
    }

    /// A key from DER SubjectPublicKeyInfo (what KMS `GetPublicKey`
    /// returns) holding an `rsaEncryption` key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let bad = || Error::Config("the public key is not an RSA SubjectPublicKeyInfo".into());
        let mut spki = Der::new(der).sequence().ok_or_else(bad)?;
        let mut algorithm = spki.sequence().ok_or_else(bad)?;
        // 1.2.840.113549.1.1.1, rsaEncryption.
        const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
        if algorithm.element(0x06).ok_or_else(bad)? != RSA_ENCRYPTION {
            return Err(bad());
        }
        let bits = spki.element(0x03).ok_or_else(bad)?;
        // A BIT STRING's first byte counts its unused bits: none here.
        let (0, key) = bits.split_first().ok_or_else(bad)? else {
            return Err(bad());
        };
        let mut key = Der::new(key).sequence().ok_or_else(bad)?;
        let n = key.element(0x02).ok_or_else(bad)?;
        let e = key.element(0x02).ok_or_else(bad)?;
        Self::from_components(n, e)
    }

    /// The modulus length in bits.
    pub fn bits(&self) -> usize {
        self.n.first().map_or(0, |top| {
            (self.n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
        })
    }

    /// The RFC 7638 thumbprint: SHA-256 of the canonical JWK
    /// (`{"e","kty","n"}` in that order, no whitespace), base64url.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(&self.e),
            URL_SAFE_NO_PAD.encode(&self.n)
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The key as a JWK with its thumbprint as `kid`.
    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "RSA",
            use_: "sig",
            alg: "RS256",
            kid: self.thumbprint(),
            n: URL_SAFE_NO_PAD.encode(&self.n),
            e: URL_SAFE_NO_PAD.encode(&self.e),
        }
    }

    /// Whether `signature` is this key's RSASSA-PKCS1-v1_5 SHA-256
    /// signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        ring::signature::RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            message,
            signature,
        )
        .is_ok()
    }
}

/// A minimal reader of DER's definite-length TLVs: what a
/// SubjectPublicKeyInfo needs, nothing more.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    /// The next element's contents if its tag is `tag`.
    fn element(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&found, rest) = self.0.split_first()?;
        if found != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (len_bytes, after) = rest.split_at(count);
            rest = after;
            len_bytes
                .iter()
                .fold(0, |acc, &b| (acc << 8) | usize::from(b))
        };
        if rest.len() < len {
            return None;
        }
        let (contents, after) = rest.split_at(len);
        self.0 = after;
        Some(contents)
    }

    /// The next element, a SEQUENCE, to read inside.
    fn sequence(&mut self) -> Option<Der<'a>> {
        self.element(0x30).map(Der)
    }
}

/// Signs JWS signing inputs with a key named by ARN, and gives a key's
/// public half. Implementations: [`crate::aws::kms::KmsSigner`] (AWS KMS,
/// `RSASSA_PKCS1_V1_5_SHA_256` over a `RAW` message) and [`LocalSigner`].
#[async_trait]
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// The RSASSA-PKCS1-v1_5 SHA-256 signature of `message` by key `arn`.
    /// A throttled or failed call is [`Error::Unavailable`].
    async fn sign(&self, arn: &str, message: &[u8]) -> Result<Vec<u8>>;

    /// The public half of key `arn`.
    async fn public_key(&self, arn: &str) -> Result<RsaPublicKey>;
}

/// RSA keys held in process memory, by ARN-like name: development's signer
/// (a key generated per start, or read from `WARDEN_SIGNING_KEY_FILE`) and
/// the tests'. Never used outside development.
pub struct LocalSigner {
    keys: HashMap<String, ring::rsa::KeyPair>,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSigner")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl LocalSigner {
    /// A signer with no key.
    pub fn new() -> Self {
        Self {
            keys: HashMap::new(),
        }
    }

    /// Adds a key from a PEM private key (PKCS#8 `PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`), under `arn`; returns its public half.
    pub fn add_pem(&mut self, arn: &str, pem: &str) -> Result<RsaPublicKey> {
        let bad = |why: &str| Error::Config(format!("the signing key PEM: {why}"));
        let (label, der) = pem_block(pem).ok_or_else(|| bad("no PEM block"))?;
        let pair = match label.as_str() {
            "PRIVATE KEY" => ring::rsa::KeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => ring::rsa::KeyPair::from_der(&der),
            _ => return Err(bad("not an RSA private key")),
        }
        .map_err(|e| bad(&format!("not a usable RSA key ({e})")))?;
        let public = public_of(&pair)?;
        self.keys.insert(arn.to_owned(), pair);
        Ok(public)
    }
}

impl LocalSigner {
    /// The public half of key `arn`, at once.
    pub fn public_key_of(&self, arn: &str) -> Result<RsaPublicKey> {
        let pair = self
            .keys
            .get(arn)
            .ok_or_else(|| Error::unavailable(format!("no local signing key {arn}")))?;
        public_of(pair)
    }
}

impl Default for LocalSigner {
    fn default() -> Self {
        Self::new()
    }
}

/// The public half of a local key pair.
fn public_of(pair: &ring::rsa::KeyPair) -> Result<RsaPublicKey> {
    let components: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
    RsaPublicKey::from_components(&components.n, &components.e)
}

/// The label and bytes of the first PEM block of `pem`.
fn pem_block(pem: &str) -> Option<(String, Vec<u8>)> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----")?;
    let end = rest.find(&format!("-----END {label}-----"))?;
    let body: String = rest[..end].split_whitespace().collect();
    Some((label.to_owned(), STANDARD.decode(body).ok()?))
}

#[async_trait]
impl Signer for LocalSigner {
    async fn sign(&self, arn: &str, message: &[u8]) -> Result<Vec<u8>> {
        let pair = self
            .keys
            .get(arn)
            .ok_or_else(|| Error::unavailable(format!("no local signing key {arn}")))?;
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            message,
            &mut signature,
        )
        .map_err(|_| Error::internal("signing with a local RSA key failed"))?;
        Ok(signature)
    }

    async fn public_key(&self, arn: &str) -> Result<RsaPublicKey> {
        self.public_key_of(arn)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn key(kid: &str) -> NewKey {
        NewKey {
            arn: format!("arn:aws:kms:eu-west-1:1:key/{kid}"),
            kid: kid.into(),
        }
    }

    fn first() -> KeySet {
        let mut set = KeySet::initial("arn:aws:kms:eu-west-1:1:key/k1");
        set.keys[0].kid = "k1".into();
        set
    }

    fn kids(keys: impl Iterator<Item = impl std::ops::Deref<Target = KeyEntry>>) -> Vec<String> {
        keys.map(|k| k.kid.clone()).collect()
    }

    #[test]
    fn a_rotation_publishes_at_once_switches_after_the_gateway_cache_and_retires_the_old_key_after_the_last_token()
     {
        let set = first().rotated(key("k2"), NOW).unwrap();
        assert_eq!(set.version, 1);
        let switch = NOW + 2 * 3600 + 5 * 60 + 60;
        let retire = switch + 15 * 60 + 30 + 60;
        assert_eq!(
            (set.keys[0].sign_until, set.keys[0].retire_at),
            (Some(switch), Some(retire))
        );
        assert_eq!(
            (set.keys[1].publish_from, set.keys[1].sign_from),
            (NOW, switch)
        );

        // Published at once, both verify; the old key signs until the switch.
        assert_eq!(kids(set.published(NOW)), ["k1", "k2"]);
        assert_eq!(set.signing(NOW).unwrap().kid, "k1");
        assert_eq!(set.signing(switch - 1).unwrap().kid, "k1");
        assert!(set.verifying("k2", NOW).is_some());
        // At the switch the new key signs; the old one still verifies
        // until its last token has expired.
        assert_eq!(set.signing(switch).unwrap().kid, "k2");
        assert!(set.verifying("k1", retire - 1).is_some());
        assert!(set.verifying("k1", retire).is_none());
        assert_eq!(kids(set.published(retire)), ["k2"]);
        // Before it was published a key verifies nothing.
        assert!(set.verifying("k2", NOW - 1).is_none());
    }

    #[test]
    fn a_second_rotation_waits_for_the_first_and_drops_retired_keys() {
        let set = first().rotated(key("k2"), NOW).unwrap();
        assert!(matches!(
            set.rotated(key("k3"), NOW + 60),
            Err(Error::Conflict(_))
        ));
        let later = NOW + PUBLISH_AHEAD_SECS + RETIRE_AFTER_SECS;
        let set = set.rotated(key("k3"), later).unwrap();
        assert_eq!(kids(set.keys.iter()), ["k2", "k3"]);
        assert!(matches!(
            set.rotated(key("k2"), later + PUBLISH_AHEAD_SECS),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn retiring_the_signing_key_now_refuses_it_at_once_and_signs_with_its_replacement() {
        let set = first().retired_now("k1", NOW, Some(key("k2"))).unwrap();
        assert!(set.verifying("k1", NOW).is_none());
        assert_eq!(set.signing(NOW).unwrap().kid, "k2");
        assert_eq!(kids(set.published(NOW)), ["k2"]);
        // Without a replacement it is refused: nothing would sign.
        assert!(first().retired_now("k1", NOW, None).is_err());
        // An unknown or retired key is 404.
        assert!(matches!(
            set.retired_now("k1", NOW + 1, None),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn retiring_a_pending_key_gives_the_signing_key_its_open_end_back() {
        let set = first().rotated(key("k2"), NOW).unwrap();
        let set = set.retired_now("k2", NOW + 10, None).unwrap();
        assert_eq!(
            set.signing(NOW + PUBLISH_AHEAD_SECS + 10).unwrap().kid,
            "k1"
        );
        assert!(set.verifying("k1", NOW + 10 * PUBLISH_AHEAD_SECS).is_some());
        assert!(set.verifying("k2", NOW + 10).is_none());
        // And a new rotation may start.
        assert!(set.rotated(key("k3"), NOW + 20).is_ok());
    }

    #[test]
    fn retiring_the_old_key_during_a_rotation_keeps_the_scheduled_switch() {
        let set = first().rotated(key("k2"), NOW).unwrap();
        let switch = set.keys[1].sign_from;
        let set = set.retired_now("k1", NOW + 10, Some(key("k3"))).unwrap();
        assert_eq!(set.signing(NOW + 10).unwrap().kid, "k3");
        assert_eq!(set.signing(switch).unwrap().kid, "k2");
        assert!(set.verifying("k1", NOW + 10).is_none());
    }

    #[test]
    fn the_thumbprint_is_rfc_7638s_example() {
        // RFC 7638 section 3.1.
        let n = URL_SAFE_NO_PAD.decode("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw").unwrap();
        let key = RsaPublicKey::from_components(&n, &[1, 0, 1]).unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(key.bits(), 2048);
        let jwk = serde_json::to_value(key.jwk()).unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kid"], "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn short_or_malformed_public_keys_are_refused() {
        assert!(RsaPublicKey::from_components(&[0xff; 128], &[1, 0, 1]).is_err());
        assert!(RsaPublicKey::from_spki_der(b"not der").is_err());
        assert!(RsaPublicKey::from_spki_der(&[0x30, 0x82, 0xff]).is_err());
    }
}
