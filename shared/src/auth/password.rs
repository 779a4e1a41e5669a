//! Password hashing: argon2id PHC strings, computed on a blocking thread.
//!
//! Unknown users are "verified" against a dummy hash so that a wrong
//! username costs the same time as a wrong password. Hashes made with weaker
//! parameters than configured, and legacy bcrypt hashes (`$2a$`, `$2b$`,
//! `$2y$`), are accepted and reported as needing a re-hash.
//!
//! Each argon2 computation needs `m_cost` KiB of memory. Only a fixed
//! number run at once (a semaphore); the rest wait a bounded time and then
//! fail with [`Error::Saturated`]. Each running computation borrows its
//! memory from a pool, so the memory is allocated once per slot and reused:
//! allocating and freeing 19 MiB per login from many threads made glibc's
//! per-thread arenas keep every freed buffer, and the process grew by the
//! size of every burst.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use crate::config::Argon2Params;
use crate::{Error, Result};

/// The longest password accepted, in bytes. Longer input is refused before
/// any hashing so that it cannot be used to burn CPU.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Salt length of new hashes, in bytes (argon2's recommendation).
const SALT_BYTES: usize = 16;

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matched the stored hash.
    pub valid: bool,
    /// The stored hash should be replaced by a fresh argon2id hash with the
    /// configured parameters (legacy bcrypt, or weaker parameters).
    pub needs_rehash: bool,
}

/// How many hashes may run at once and how long the others wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    /// Hashes computed at the same time; at least 1.
    pub concurrency: usize,
    /// How long a hash waits for a free slot before [`Error::Saturated`].
    pub queue_timeout: Duration,
}

impl Default for HashingLimits {
    /// One slot per core, two seconds of waiting.
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            queue_timeout: Duration::from_millis(2000),
        }
    }
}

/// Hashes and verifies passwords with the configured argon2id parameters.
#[derive(Debug)]
pub struct PasswordHasher {
    params: Params,
    dummy_hash: OnceCell<String>,
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
    /// Argon2 memory of the configured size, at most one per slot: a
    /// buffer is taken while its computation holds a slot's permit.
    pool: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl PasswordHasher {
    /// A hasher for `params` with the default [`HashingLimits`]; fails if
    /// argon2 rejects the parameters.
    pub fn new(params: Argon2Params) -> Result<Self> {
        Self::with_limits(params, HashingLimits::default())
    }

    /// A hasher for `params` that runs at most `limits.concurrency` hashes
    /// at once; fails if argon2 rejects the parameters.
    pub fn with_limits(params: Argon2Params, limits: HashingLimits) -> Result<Self> {
        let params = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, None)
            .map_err(|e| Error::Config(format!("argon2 parameters: {e}")))?;
        // A semaphore refuses more than MAX_PERMITS; nobody means that many.
        let concurrency = limits.concurrency.clamp(1, Semaphore::MAX_PERMITS);
        Ok(Self {
            params,
            dummy_hash: OnceCell::new(),
            slots: Arc::new(Semaphore::new(concurrency)),
            queue_timeout: limits.queue_timeout,
            pool: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// Hashes `password` into an argon2id PHC string, on a blocking thread.
    pub async fn hash(&self, password: &SecretString) -> Result<String> {
        let params = self.params.clone();
        let password = password.clone();
        let mut salt = [0u8; SALT_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        self.run(params.block_count(), move |memory| {
            hash_blocking(&params, &password, &salt, memory)
        })
        .await?
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
        // A bcrypt or unparseable hash needs no argon2 memory; an argon2
        // hash needs as many blocks as its own parameters say.
        let blocks = PasswordHash::new(&phc)
            .ok()
            .and_then(|h| Params::try_from(&h).ok())
            .map_or(0, |p| p.block_count());
        let wanted = self.params.clone();
        let password = password.clone();
        let verification = self
            .run(blocks, move |memory| {
                verify_blocking(&wanted, &password, &phc, memory)
            })
            .await?;
        Ok(Verification {
            valid: verification.valid && real,
            needs_rehash: verification.needs_rehash && real,
        })
    }

    /// Runs `job` on a blocking thread once a slot is free, with at least
    /// `blocks` argon2 blocks of memory; [`Error::Saturated`] when no slot
    /// frees up within the queue timeout.
    async fn run<T: Send + 'static>(
        &self,
        blocks: usize,
        job: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T> {
        let permit = self.acquire().await?;
        // Hashes stronger than configured (the parameters were lowered
        // since) get memory of their own, freed afterwards, so that one
        // such hash does not grow every pooled buffer for good.
        let pooled = blocks <= self.params.block_count();
        let mut memory = if pooled {
            self.pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let pool = self.pool.clone();
        let pool_blocks = self.params.block_count();
        tokio::task::spawn_blocking(move || {
            // The permit lives as long as the computation, not the request:
            // a client that disconnects drops the request's future, but the
            // hash runs on and still counts against the bound.
            let _permit: OwnedSemaphorePermit = permit;
            let wanted = if pooled { pool_blocks } else { blocks };
            if memory.len() < wanted {
                memory.resize(wanted, Block::default());
            }
            let out = job(&mut memory);
            if pooled {
                pool.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(memory);
            }
            out
        })
        .await
        .map_err(|e| Error::internal_from("the password hashing task", e))
    }

    async fn acquire(&self) -> Result<OwnedSemaphorePermit> {
        match tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(Error::internal_from("the hashing slots", closed)),
            Err(_elapsed) => {
                // The wait just spent is the best estimate of when a slot
                // frees up; whole seconds, as Retry-After wants.
                Err(Error::Saturated {
                    retry_after: self.queue_timeout.max(Duration::from_secs(1)),
                })
            }
        }
    }

    /// Takes every free hashing slot until the returned permits are
    /// dropped, as a burst of logins would: test support.
    #[cfg(feature = "testing")]
    pub fn occupy_every_slot(&self) -> Vec<OwnedSemaphorePermit> {
        std::iter::from_fn(|| self.slots.clone().try_acquire_owned().ok()).collect()
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

fn hash_blocking(
    params: &Params,
    password: &SecretString,
    salt: &[u8],
    memory: &mut [Block],
) -> Result<String> {
    let failed = |e: &dyn std::fmt::Display| Error::internal(format!("hashing a password: {e}"));
    let algorithm = Algorithm::Argon2id;
    let argon2 = Argon2::new(algorithm, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(password.expose_secret().as_bytes(), salt, &mut out, memory)
        .map_err(|e| failed(&e))?;
    let salt = SaltString::encode_b64(salt).map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

fn verify_blocking(
    wanted: &Params,
    password: &SecretString,
    phc: &str,
    memory: &mut [Block],
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
    let params = Params::try_from(&parsed);
    let valid = params
        .as_ref()
        .is_ok_and(|p| argon2_matches(&parsed, p, password, memory));
    let needs_rehash = parsed.algorithm.as_str() != "argon2id"
        || params.map_or(true, |p| {
            p.m_cost() < wanted.m_cost()
                || p.t_cost() < wanted.t_cost()
                || p.p_cost() < wanted.p_cost()
        });
    Verification {
        valid,
        needs_rehash,
    }
}

/// Recomputes `parsed` (any argon2 variant and version, its own parameters
/// and salt) for `password` in `memory` and compares in constant time: what
/// `argon2`'s `verify_password` does, without allocating the memory.
fn argon2_matches(
    parsed: &PasswordHash<'_>,
    params: &Params,
    password: &[u8],
    memory: &mut [Block],
) -> bool {
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password, salt, out, memory)
        .is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ARGON2_FLOOR;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    /// What `hasher` says of `password` against the stored `hash`.
    async fn check(hasher: &PasswordHasher, password: &str, hash: &str) -> Verification {
        hasher.verify(&secret(password), Some(hash)).await.unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hasher = PasswordHasher::new(ARGON2_FLOOR).unwrap();
        let hash = hasher.hash(&secret("correct horse")).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let ok = check(&hasher, "correct horse", &hash).await;
        assert_eq!(
            ok,
            Verification {
                valid: true,
                needs_rehash: false
            }
        );
        let bad = check(&hasher, "correct horsE", &hash).await;
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
        let v = check(&hasher, "legacy pw", &hash).await;
        assert_eq!(
            v,
            Verification {
                valid: true,
                needs_rehash: true
            }
        );
        let v = check(&hasher, "legacy pX", &hash).await;
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

    fn limited(concurrency: usize, queue_timeout_ms: u64) -> PasswordHasher {
        PasswordHasher::with_limits(
            ARGON2_FLOOR,
            HashingLimits {
                concurrency,
                queue_timeout: Duration::from_millis(queue_timeout_ms),
            },
        )
        .unwrap()
    }

    #[tokio::test]
    async fn with_every_slot_busy_a_hash_waits_its_timeout_then_is_saturated() {
        let hasher = limited(1, 50);
        let held = hasher.occupy_every_slot();
        assert_eq!(held.len(), 1);
        let start = std::time::Instant::now();
        let err = hasher.hash(&secret("pw")).await.unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(50), "it waited");
        assert!(
            matches!(err, Error::Saturated { retry_after } if retry_after >= Duration::from_secs(1)),
            "{err:?}"
        );
        assert_eq!(err.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        let err = hasher.verify(&secret("pw"), None).await.unwrap_err();
        assert!(matches!(err, Error::Saturated { .. }), "{err:?}");
        drop(held);
        let hash = hasher.hash(&secret("pw")).await.unwrap();
        assert!(check(&hasher, "pw", &hash).await.valid);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_two_concurrent_hashes_with_one_slot_the_second_is_saturated() {
        // A 19 MiB argon2id hash takes tens of milliseconds; the second
        // waits 1 ms for the one slot.
        let hasher = limited(1, 1);
        let (a, b) = (secret("a"), secret("b"));
        let (a, b) = tokio::join!(hasher.hash(&a), hasher.hash(&b));
        let saturated = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(Error::Saturated { .. })))
            .count();
        assert_eq!(saturated, 1, "{a:?} {b:?}");
        assert!(a.is_ok() || b.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_is_pooled_one_buffer_per_slot() {
        let hasher = Arc::new(limited(2, 60_000));
        let hash = hasher.hash(&secret("pw")).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (hasher, hash) = (hasher.clone(), hash.clone());
                tokio::spawn(async move {
                    let pw = if i % 2 == 0 { "pw" } else { "other" };
                    hasher.verify(&secret(pw), Some(&hash)).await.unwrap().valid
                })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), i % 2 == 0);
        }
        let pool = hasher.pool.lock().unwrap();
        assert!(
            !pool.is_empty() && pool.len() <= 2,
            "{} buffers",
            pool.len()
        );
        let blocks = hasher.params.block_count();
        assert!(pool.iter().all(|b| b.len() == blocks));
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_plain_argon2_api() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = limited(1, 60_000);
        // Dirty the pooled buffer first: reused memory must not change results.
        hasher.hash(&secret("warm-up")).await.unwrap();

        let ours = hasher.hash(&secret("correct horse")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"correct horsE", &parsed)
                .is_err()
        );

        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let plain = |algorithm, version, m, out: Option<usize>| {
            let params = Params::new(m, 2, 1, out).unwrap();
            Argon2::new(algorithm, version, params)
                .hash_password(b"correct horse", &salt)
                .unwrap()
                .to_string()
        };
        for (stored, needs_rehash) in [
            (
                plain(Algorithm::Argon2id, Version::V0x13, 19_456, None),
                false,
            ),
            (
                plain(Algorithm::Argon2id, Version::V0x13, 19_456, Some(48)),
                false,
            ),
            // Stronger than configured: memory of its own, not the pool's.
            (
                plain(Algorithm::Argon2id, Version::V0x13, 32_768, None),
                false,
            ),
            (
                plain(Algorithm::Argon2i, Version::V0x13, 19_456, None),
                true,
            ),
            (
                plain(Algorithm::Argon2d, Version::V0x10, 19_456, None),
                true,
            ),
            (
                plain(Algorithm::Argon2id, Version::V0x13, 8_192, None),
                true,
            ),
        ] {
            let ok = hasher
                .verify(&secret("correct horse"), Some(&stored))
                .await
                .unwrap();
            assert_eq!(
                ok,
                Verification {
                    valid: true,
                    needs_rehash
                },
                "{stored}"
            );
            let bad = hasher
                .verify(&secret("correct horsE"), Some(&stored))
                .await
                .unwrap();
            assert!(!bad.valid, "{stored}");
        }
        let pool = hasher.pool.lock().unwrap();
        assert_eq!(pool.len(), 1);
        assert_eq!(pool[0].len(), hasher.params.block_count());
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
