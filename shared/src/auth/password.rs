//! Password hashing: argon2id PHC strings, verified on a blocking thread.
//!
//! Unknown users are "verified" against a dummy hash so that a wrong
//! username costs the same time as a wrong password. Hashes made with weaker
//! parameters than configured, and legacy bcrypt hashes (`$2a$`, `$2b$`,
//! `$2y$`), are accepted and reported as needing a re-hash.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;

use crate::config::Argon2Params;
use crate::{Error, Result};

/// The longest password accepted, in bytes. Longer input is refused before
/// any hashing so that it cannot be used to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matched the stored hash.
    pub valid: bool,
    /// The stored hash should be replaced by a fresh argon2id hash with the
    /// configured parameters (legacy bcrypt, or weaker parameters).
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords with the configured argon2id parameters.
#[derive(Debug)]
pub struct PasswordHasher {
    params: Params,
    dummy_hash: OnceCell<String>,
}

impl PasswordHasher {
    /// A hasher for `params`; fails if argon2 rejects them.
    pub fn new(params: Argon2Params) -> Result<Self> {
        let params = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, None)
            .map_err(|e| Error::Config(format!("argon2 parameters: {e}")))?;
        Ok(Self {
            params,
            dummy_hash: OnceCell::new(),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes `password` into an argon2id PHC string, on a blocking thread.
    pub async fn hash(&self, password: &SecretString) -> Result<String> {
        let argon2 = self.argon2();
        let password = password.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::internal(format!("hashing a password: {e}")))
        })
        .await
        .map_err(|e| Error::internal_from("the password hashing task", e))?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when
    /// there is no stored hash (unknown user), so both take the same time.
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<Verification> {
        let (phc, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash().await?.to_owned(), false),
        };
        let argon2 = self.argon2();
        let wanted = self.params.clone();
        let password = password.clone();
        let verification =
            tokio::task::spawn_blocking(move || verify_blocking(&argon2, &wanted, &password, &phc))
                .await
                .map_err(|e| Error::internal_from("the password hashing task", e))?;
        Ok(Verification {
            valid: verification.valid && real,
            needs_rehash: verification.needs_rehash && real,
        })
    }

    async fn dummy_hash(&self) -> Result<&str> {
        self.dummy_hash
            .get_or_try_init(|| async {
                self.hash(&SecretString::from(
                    "warden-dummy-password-for-unknown-users",
                ))
                .await
            })
            .await
            .map(String::as_str)
    }
}

fn verify_blocking(
    argon2: &Argon2<'_>,
    wanted: &Params,
    password: &SecretString,
    phc: &str,
) -> Verification {
    let password = password.expose_secret().as_bytes();
    if phc.starts_with("$2a$") || phc.starts_with("$2b$") || phc.starts_with("$2y$") {
        // bcrypt looks at the first 72 bytes only; a longer password would
        // match by its prefix, so it is refused outright.
        let valid = password.len() <= 72 && bcrypt::verify(password, phc).unwrap_or(false);
        return Verification {
            valid,
            needs_rehash: true,
        };
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return Verification {
            valid: false,
            needs_rehash: false,
        };
    };
    let valid = argon2.verify_password(password, &parsed).is_ok();
    let needs_rehash = parsed.algorithm.as_str() != "argon2id"
        || Params::try_from(&parsed).map_or(true, |p| {
            p.m_cost() < wanted.m_cost()
                || p.t_cost() < wanted.t_cost()
                || p.p_cost() < wanted.p_cost()
        });
    Verification {
        valid,
        needs_rehash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ARGON2_FLOOR;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hasher = PasswordHasher::new(ARGON2_FLOOR).unwrap();
        let hash = hasher.hash(&secret("correct horse")).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let ok = hasher
            .verify(&secret("correct horse"), Some(&hash))
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification {
                valid: true,
                needs_rehash: false
            }
        );
        let bad = hasher
            .verify(&secret("correct horsE"), Some(&hash))
            .await
            .unwrap();
        assert!(!bad.valid);
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = PasswordHasher::new(ARGON2_FLOOR).unwrap();
        let v = hasher
            .verify(&secret("warden-dummy-password-for-unknown-users"), None)
            .await
            .unwrap();
        assert!(!v.valid);
    }

    #[tokio::test]
    async fn weaker_argon2_hashes_verify_and_ask_for_a_rehash() {
        let weak = PasswordHasher::new(Argon2Params {
            m_cost_kib: 8192,
            t_cost: 1,
            p_cost: 1,
        })
        .unwrap();
        let hash = weak.hash(&secret("pw")).await.unwrap();
        let strong = PasswordHasher::new(ARGON2_FLOOR).unwrap();
        let v = strong.verify(&secret("pw"), Some(&hash)).await.unwrap();
        assert_eq!(
            v,
            Verification {
                valid: true,
                needs_rehash: true
            }
        );
    }

    #[tokio::test]
    async fn legacy_bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let hasher = PasswordHasher::new(ARGON2_FLOOR).unwrap();
        let hash = bcrypt::hash("legacy pw", 4).unwrap();
        assert!(hash.starts_with("$2b$"));
        let v = hasher
            .verify(&secret("legacy pw"), Some(&hash))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verification {
                valid: true,
                needs_rehash: true
            }
        );
        let v = hasher
            .verify(&secret("legacy pX"), Some(&hash))
            .await
            .unwrap();
        assert!(!v.valid);
        let long = format!("legacy pw{}", "x".repeat(80));
        let long_hash = bcrypt::hash(&long[..72], 4).unwrap();
        assert!(
            !hasher
                .verify(&secret(&long), Some(&long_hash))
                .await
                .unwrap()
                .valid
        );
    }

    #[tokio::test]
    async fn a_garbage_stored_hash_is_a_failed_verification_not_an_error() {
        let hasher = PasswordHasher::new(ARGON2_FLOOR).unwrap();
        let v = hasher
            .verify(&secret("pw"), Some("not a hash"))
            .await
            .unwrap();
        assert!(!v.valid);
    }
}
