//! The pepper API-key secrets are HMACed under: loaded once per cold start
//! (the wiring decides where from), held by the state of the functions
//! that check keys, and never shown.

use hmac::{Hmac, Mac};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

use crate::config::MIN_PEPPER_BYTES;
use crate::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// The pepper key secrets are HMACed under. Its bytes are never shown.
#[derive(Clone)]
pub struct Pepper(HmacSha256);

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper([redacted])")
    }
}

impl Pepper {
    /// A pepper from its secret text; at least 32 bytes.
    pub fn new(secret: &SecretString) -> Result<Self> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < MIN_PEPPER_BYTES {
            return Err(Error::Config(format!(
                "the API-key pepper is shorter than {MIN_PEPPER_BYTES} bytes"
            )));
        }
        HmacSha256::new_from_slice(bytes)
            .map(Self)
            .map_err(|e| Error::Config(format!("the API-key pepper is unusable: {e}")))
    }

    /// A random pepper for this process only (development without one
    /// configured): keys made under it die with the process.
    pub fn generate() -> Self {
        // One block (64 bytes) of key: the HMAC key size that needs no
        // hashing or padding, so building it cannot fail.
        let mut bytes = [0u8; 64];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(<HmacSha256 as hmac::digest::KeyInit>::new(&bytes.into()))
    }

    /// HMAC-SHA256 of `secret`, hex.
    pub(crate) fn tag(&self, secret: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(secret.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}
