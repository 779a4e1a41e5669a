//! Access tokens [`AccessTokens`](super::jwt::AccessTokens) has already
//! verified, so a client that sends the same token on every call (an agent
//! holds one for its whole 15-minute life) pays for the base64, the RSA
//! signature check and the JSON of its claims once. Envoy's JWT filter caches verified
//! tokens the same way.
//!
//! What a hit skips, and what it does not:
//! - A hit needs the presented token to be byte for byte one that passed
//!   the full check under the function's key set, issuer and audience, and
//!   it counts only while the key it verified under (its `kid`, kept with
//!   it) is live in the current copy of the key set: a retired key's
//!   tokens stop at the next re-read.
//! - The time claims (`exp`, `nbf`, `iat`) are checked again on every hit,
//!   so a cached token expires on time.
//! - Revocation is not here: [`crate::auth::bearer::Bearer::token`] asks
//!   the store on every request, cached or not, so a revoked token is
//!   refused at once.
//!
//! The cache is direct-mapped: a token's slot comes from its signature,
//! and a new token replaces whatever held its slot, so it holds up to
//! [`SLOTS`] tokens, with no eviction bookkeeping. Memory is bounded by
//! [`SLOTS`] entries of a token (at most 8 KB) and its decoded claims.
//! Only verified tokens are stored, and their signatures are RSA signatures
//! of distinct inputs:
//! the only way to aim at a slot is to hold many valid tokens (one in
//! [`SLOTS`] lands in a given one), and evicting an entry costs its owner
//! nothing but one full verification.
//!
//! The signature is compared in constant time, before anything else: the
//! slot is picked from the presented signature, and a timing difference
//! must not tell a caller how much of a cached (other user's) token it has
//! guessed.

use std::sync::{Arc, Mutex, PoisonError};

use subtle::ConstantTimeEq as _;

use super::jwt::AccessClaims;

/// How many tokens one codec remembers (a power of two).
pub const SLOTS: usize = 256;

/// A bounded cache of verified access tokens; see the module docs.
pub struct VerifiedTokens {
    slots: Box<[Mutex<Option<Verified>>]>,
}

/// One verified token, split where its signature starts.
struct Verified {
    signing_input: Box<str>,
    signature: Box<str>,
    claims: Arc<AccessClaims>,
    /// The key it verified under: a hit counts only while that key is live.
    kid: Arc<str>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
        }
    }
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl VerifiedTokens {
    /// The claims of the token `signing_input.signature`, and the `kid` it
    /// verified under, if this cache holds it. The caller still checks the
    /// time claims and that the key is live.
    pub fn get(
        &self,
        signing_input: &str,
        signature: &str,
    ) -> Option<(Arc<AccessClaims>, Arc<str>)> {
        let slot = self.slots[slot_of(signature)?]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let cached = slot.as_ref()?;
        // Lengths are not secret; the signature's bytes are compared in
        // constant time, and the rest only once the signature matched.
        let same = cached.signature.len() == signature.len()
            && bool::from(cached.signature.as_bytes().ct_eq(signature.as_bytes()))
            && *cached.signing_input == *signing_input;
        same.then(|| (cached.claims.clone(), cached.kid.clone()))
    }

    /// Remembers that `signing_input.signature` verified to `claims` under
    /// key `kid`.
    pub fn insert(
        &self,
        signing_input: &str,
        signature: &str,
        claims: Arc<AccessClaims>,
        kid: &str,
    ) {
        let Some(index) = slot_of(signature) else {
            return;
        };
        let verified = Verified {
            signing_input: signing_input.into(),
            signature: signature.into(),
            claims,
            kid: kid.into(),
        };
        // The old entry is dropped after the lock is released.
        let _replaced = self.slots[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(verified);
    }
}

/// The slot of a token with this (base64url) signature: its first eight
/// characters, mixed. `None` for a signature too short to be HS256's.
fn slot_of(signature: &str) -> Option<usize> {
    let head: [u8; 8] = signature.as_bytes().get(..8)?.try_into().ok()?;
    let mixed = u64::from_le_bytes(head).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // The top bits of a multiplicative hash are the well-mixed ones.
    Some((mixed >> (64 - SLOTS.trailing_zeros())) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str) -> Arc<AccessClaims> {
        Arc::new(AccessClaims {
            iss: "warden".into(),
            aud: "warden-api".into(),
            sub: sub.into(),
            exp: 2,
            iat: 1,
            nbf: 1,
            jti: "01JTI".into(),
            client_id: "warden".into(),
            scope: "warden".into(),
            roles: vec![],
            r#gen: 0,
            sid: "01SID".into(),
            act: None,
            parent_jti: None,
            agent_gen: None,
        })
    }

    const SIG: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn a_token_is_found_only_byte_for_byte() {
        let cache = VerifiedTokens::default();
        let stored = claims("user-1");
        cache.insert("h.c", SIG, stored.clone(), "k1");
        let (found, kid) = cache.get("h.c", SIG).unwrap();
        assert!(Arc::ptr_eq(&found, &stored));
        assert_eq!(&*kid, "k1");
        // Same slot (same first eight characters), another signature.
        let other_sig = format!("{}B", &SIG[..SIG.len() - 1]);
        assert_eq!(slot_of(&other_sig), slot_of(SIG));
        assert!(cache.get("h.c", &other_sig).is_none());
        // The right signature over other claims.
        assert!(cache.get("h.d", SIG).is_none());
        assert!(cache.get("h.c", &SIG[..SIG.len() - 1]).is_none());
        assert!(cache.get("h.c", &format!("{SIG}A")).is_none());
    }

    #[test]
    fn a_new_token_replaces_the_one_in_its_slot() {
        let cache = VerifiedTokens::default();
        cache.insert("h.c", SIG, claims("user-1"), "k1");
        let second = format!("{}B", &SIG[..SIG.len() - 1]);
        cache.insert("h.c", &second, claims("user-2"), "k1");
        assert!(cache.get("h.c", SIG).is_none());
        assert_eq!(cache.get("h.c", &second).unwrap().0.sub, "user-2");
    }

    #[test]
    fn signatures_spread_over_the_slots_and_short_ones_are_not_cached() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use sha2::Digest as _;
        let used: std::collections::HashSet<usize> = (0..1000_u32)
            .map(|i| {
                let mac = sha2::Sha256::digest(i.to_le_bytes());
                slot_of(&URL_SAFE_NO_PAD.encode(mac)).unwrap()
            })
            .collect();
        // 1000 uniform draws over 256 slots leave about 5 empty.
        assert!(used.len() > 240, "{} slots used", used.len());
        assert!(used.iter().all(|&s| s < SLOTS));
        let cache = VerifiedTokens::default();
        cache.insert("h.c", "short", claims("user-1"), "k1");
        assert!(cache.get("h.c", "short").is_none());
    }
}
