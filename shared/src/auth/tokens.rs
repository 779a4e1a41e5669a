//! Refresh tokens. (The bearer-token check every authenticated endpoint
//! uses is [`crate::auth::bearer`].)
//!
//! A refresh token is `<user id>.<session id>.<256 random bits>`, opaque to
//! clients. The ids let Warden find the session with one read; only the
//! token's SHA-256 is stored, compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A parsed refresh token.
pub struct RefreshToken {
    /// The owner.
    pub user_id: String,
    /// The session it belongs to.
    pub session_id: String,
    token: SecretString,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    /// A new random token for a session.
    pub fn generate(user_id: &str, session_id: &str) -> Self {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!("{user_id}.{session_id}.{}", URL_SAFE_NO_PAD.encode(secret));
        Self {
            user_id: user_id.to_owned(),
            session_id: session_id.to_owned(),
            token: SecretString::from(token),
        }
    }

    /// Parses a presented token; `None` when it cannot be one of ours.
    pub fn parse(token: &SecretString) -> Option<Self> {
        let value = token.expose_secret();
        if value.len() > 256 {
            return None;
        }
        let mut parts = value.split('.');
        let (user_id, session_id, secret) = (parts.next()?, parts.next()?, parts.next()?);
        let id_ok = |s: &str| {
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        let secret_ok = URL_SAFE_NO_PAD.decode(secret).is_ok_and(|b| b.len() == 32);
        (parts.next().is_none() && id_ok(user_id) && id_ok(session_id) && secret_ok).then(|| Self {
            user_id: user_id.to_owned(),
            session_id: session_id.to_owned(),
            token: token.clone(),
        })
    }

    /// The hex SHA-256 of the whole token: what the store keeps.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.token.expose_secret().as_bytes()))
    }

    /// The token itself, for the response body.
    pub fn expose(&self) -> &str {
        self.token.expose_secret()
    }
}

/// Compares two stored hashes in constant time.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_back_to_its_ids_and_hash() {
        let t = RefreshToken::generate("01USER", "01SESSION");
        let parsed = RefreshToken::parse(&SecretString::from(t.expose().to_owned())).unwrap();
        assert_eq!(
            (parsed.user_id.as_str(), parsed.session_id.as_str()),
            ("01USER", "01SESSION")
        );
        assert_eq!(parsed.hash(), t.hash());
        assert_eq!(t.hash().len(), 64);
        assert_ne!(
            RefreshToken::generate("01USER", "01SESSION").hash(),
            t.hash()
        );
    }

    #[test]
    fn malformed_refresh_tokens_do_not_parse() {
        let good_secret = URL_SAFE_NO_PAD.encode([7u8; 32]);
        for bad in [
            String::new(),
            "a.b".into(),
            format!("a.b.{good_secret}.d"),
            format!("a.b.{}", URL_SAFE_NO_PAD.encode([7u8; 16])),
            format!("a/x.b.{good_secret}"),
            format!(".b.{good_secret}"),
            "x".repeat(300),
        ] {
            assert!(
                RefreshToken::parse(&SecretString::from(bad.clone())).is_none(),
                "{bad}"
            );
        }
    }
}
