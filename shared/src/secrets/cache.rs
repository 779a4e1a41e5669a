//! Secrets that follow Secrets Manager in a warm function.
//!
//! A [`CachedSecret`] holds what a function built from a secret (the token
//! codec from the JWT key's versions, the webhook sources from their
//! document) and reads the secret again once it is older than the cache
//! TTL (`WARDEN_SECRET_CACHE_TTL_SECS`, default 5 minutes). So a key rotated
//! with `warden jwt-key rotate`, or a webhook secret set with
//! `warden webhooks set-secret`, reaches every warm function within one TTL,
//! without a redeploy.
//!
//! A caller that meets something only a newer secret could explain (a JWT
//! whose `kid` is unknown, a webhook signature that does not verify) may ask
//! for an early read with [`CachedSecret::reload_early`]. Early reads happen
//! at most once per TTL, so a flood of forged tokens costs at most one
//! Secrets Manager call per interval.
//!
//! A failed read keeps the value the function has (the secret it was
//! serving with is still the best it knows) and is retried after the next
//! TTL; the failure is logged, never the secret.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::{SecretVersion, SecretsPort};
use crate::Result;
use crate::clock::Clock;

/// Default for `WARDEN_SECRET_CACHE_TTL_SECS`: 5 minutes.
pub const DEFAULT_TTL_SECS: u64 = 300;

/// Which versions of a secret a value is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    /// `AWSCURRENT` only (the webhook sources, the API-key pepper).
    Current,
    /// `AWSCURRENT` and, when there is one, `AWSPREVIOUS` (the JWT key:
    /// tokens signed with the previous key still verify).
    CurrentAndPrevious,
}

/// One read of a cached value.
pub type ReadFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send>>;
/// What reads a cached value again.
pub type Read<T> = Box<dyn Fn() -> ReadFuture<T> + Send + Sync>;

/// Reads `secret_id`'s `versions` and builds a value of them.
fn reader<T: 'static>(
    secrets: Arc<dyn SecretsPort>,
    secret_id: &str,
    versions: Versions,
    build: impl Fn(Vec<SecretVersion>) -> Result<T> + Send + Sync + 'static,
) -> Read<T> {
    let build = Arc::new(build);
    let id = secret_id.to_owned();
    Box::new(move || {
        let (secrets, id, build) = (secrets.clone(), id.clone(), build.clone());
        Box::pin(async move {
            let read = match versions {
                Versions::Current => secrets.current(&id).await.map(|v| vec![v]),
                Versions::CurrentAndPrevious => secrets.current_and_previous(&id).await,
            };
            build(read?)
        })
    })
}

/// How a cached value is read again.
struct Reload<T> {
    read: Read<T>,
    secret_id: String,
    ttl_ms: i64,
    /// The least time between two early reads, ms.
    early_ms: i64,
    clock: Arc<dyn Clock>,
    /// When the last read started (scheduled or early), epoch ms.
    read_at: AtomicI64,
    /// When the last early read started, epoch ms.
    early_at: AtomicI64,
    /// One read at a time.
    reading: tokio::sync::Mutex<()>,
}

/// A value built from a secret, read again once it is older than the TTL.
pub struct CachedSecret<T> {
    value: RwLock<Arc<T>>,
    reload: Option<Reload<T>>,
}

impl<T> std::fmt::Debug for CachedSecret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("CachedSecret");
        if let Some(r) = &self.reload {
            d.field("secret_id", &r.secret_id)
                .field("ttl_ms", &r.ttl_ms);
        }
        d.finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> CachedSecret<T> {
    /// A value that never changes: a development key, a test's sources.
    pub fn fixed(value: T) -> Self {
        Self {
            value: RwLock::new(Arc::new(value)),
            reload: None,
        }
    }

    /// Reads `secret_id` now (a failure is the caller's: a function does not
    /// start without its secrets) and keeps `build`'s value of it, read
    /// again every `ttl_secs`.
    pub async fn load(
        secrets: Arc<dyn SecretsPort>,
        secret_id: &str,
        versions: Versions,
        ttl_secs: u64,
        clock: Arc<dyn Clock>,
        build: impl Fn(Vec<SecretVersion>) -> Result<T> + Send + Sync + 'static,
    ) -> Result<Self> {
        let read = reader(secrets, secret_id, versions, build);
        let read_at = clock.now_millis();
        let value = read().await?;
        Ok(Self::with_reader(
            value, read, secret_id, ttl_secs, clock, read_at,
        ))
    }

    /// [`CachedSecret::load`] for a value the caller built from a read it
    /// just made: the next read is one TTL from now.
    pub fn seeded(
        value: T,
        secrets: Arc<dyn SecretsPort>,
        secret_id: &str,
        versions: Versions,
        ttl_secs: u64,
        clock: Arc<dyn Clock>,
        build: impl Fn(Vec<SecretVersion>) -> Result<T> + Send + Sync + 'static,
    ) -> Self {
        let read = reader(secrets, secret_id, versions, build);
        let read_at = clock.now_millis();
        Self::with_reader(value, read, secret_id, ttl_secs, clock, read_at)
    }

    fn with_reader(
        value: T,
        read: Read<T>,
        secret_id: &str,
        ttl_secs: u64,
        clock: Arc<dyn Clock>,
        read_at: i64,
    ) -> Self {
        Self::with_intervals(value, read, secret_id, ttl_secs, ttl_secs, clock, read_at)
    }

    /// A value read now with `read`, read again every `ttl_secs` and, when
    /// asked ([`CachedSecret::reload_early`]), at most once per
    /// `early_secs`: what the key set copy of [`crate::auth::jwt`] is.
    /// `name` names it in logs.
    pub async fn reading(
        read: Read<T>,
        name: &str,
        ttl_secs: u64,
        early_secs: u64,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let read_at = clock.now_millis();
        let value = read().await?;
        Ok(Self::with_intervals(
            value, read, name, ttl_secs, early_secs, clock, read_at,
        ))
    }

    fn with_intervals(
        value: T,
        read: Read<T>,
        secret_id: &str,
        ttl_secs: u64,
        early_secs: u64,
        clock: Arc<dyn Clock>,
        read_at: i64,
    ) -> Self {
        Self {
            value: RwLock::new(Arc::new(value)),
            reload: Some(Reload {
                read,
                secret_id: secret_id.to_owned(),
                ttl_ms: i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
                early_ms: i64::try_from(early_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
                clock,
                read_at: AtomicI64::new(read_at),
                early_at: AtomicI64::new(i64::MIN),
                reading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The value, read again first when it is older than the TTL. While
    /// another request reads it, this one goes on with the value it has.
    pub async fn get(&self) -> Arc<T> {
        if let Some(r) = &self.reload {
            let now = r.clock.now_millis();
            if now.saturating_sub(r.read_at.load(Ordering::Acquire)) >= r.ttl_ms
                && let Ok(_reading) = r.reading.try_lock()
                // Another request may have read it while this one checked.
                && now.saturating_sub(r.read_at.load(Ordering::Acquire)) >= r.ttl_ms
            {
                self.read(r, now).await;
            }
        }
        self.current()
    }

    /// The value as it is, without reading.
    pub fn current(&self) -> Arc<T> {
        self.value
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the secret before its TTL is up, unless an early read already
    /// happened within the TTL. Returns whether a new value was read (so
    /// the caller's check is worth repeating).
    pub async fn reload_early(&self) -> bool {
        let Some(r) = &self.reload else {
            return false;
        };
        let asked_at = r.read_at.load(Ordering::Acquire);
        let _reading = r.reading.lock().await;
        if r.read_at.load(Ordering::Acquire) != asked_at {
            // A read finished while this caller waited: it has the news.
            return true;
        }
        let now = r.clock.now_millis();
        if now.saturating_sub(r.early_at.load(Ordering::Acquire)) < r.early_ms {
            return false;
        }
        r.early_at.store(now, Ordering::Release);
        self.read(r, now).await
    }

    async fn read(&self, r: &Reload<T>, now: i64) -> bool {
        r.read_at.store(now, Ordering::Release);
        match (r.read)().await {
            Ok(value) => {
                *self.value.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(value);
                tracing::debug!(secret_id = %r.secret_id, "secret read again");
                true
            }
            Err(error) => {
                // An error, not a warning: until a read succeeds, a key or
                // webhook secret removed from Secrets Manager still works
                // in this instance.
                tracing::error!(
                    secret_id = %r.secret_id,
                    %error,
                    "reading a secret again failed; keeping the value in use"
                );
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;
    use secrecy::{ExposeSecret as _, SecretString};

    use super::*;
    use crate::Error;
    use crate::clock::ManualClock;

    /// A secret whose value the test sets, counting reads.
    #[derive(Default)]
    struct Scripted {
        value: Mutex<Option<String>>,
        reads: AtomicUsize,
    }

    impl Scripted {
        fn set(&self, value: Option<&str>) {
            *self.value.lock().unwrap() = value.map(str::to_owned);
        }
        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl SecretsPort for Scripted {
        async fn current_and_previous(&self, id: &str) -> Result<Vec<SecretVersion>> {
            self.current(id).await.map(|v| vec![v])
        }
        async fn current(&self, _: &str) -> Result<SecretVersion> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let value = self.value.lock().unwrap().clone();
            let value = value.ok_or_else(|| Error::unavailable("secrets manager down"))?;
            Ok(SecretVersion {
                version_id: value.clone(),
                value: SecretString::from(value),
                current: true,
            })
        }
    }

    /// A cache that read the value `one` at `millis`, with its secret and
    /// clock.
    async fn read_once_at(millis: i64) -> (Arc<Scripted>, Arc<ManualClock>, CachedSecret<String>) {
        let secret = Arc::new(Scripted::default());
        secret.set(Some("one"));
        let clock = Arc::new(ManualClock::at_millis(millis));
        let cache = cached(&secret, &clock).await;
        (secret, clock, cache)
    }

    async fn cached(secret: &Arc<Scripted>, clock: &Arc<ManualClock>) -> CachedSecret<String> {
        CachedSecret::load(
            secret.clone(),
            "arn:test",
            Versions::Current,
            300,
            clock.clone(),
            |v| Ok(v[0].value.expose_secret().to_owned()),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_value_is_read_again_once_it_is_older_than_the_ttl() {
        let (secret, clock, cache) = read_once_at(1_000_000).await;
        secret.set(Some("two"));

        clock.advance_millis(299_999);
        assert_eq!(*cache.get().await, "one", "within the TTL: no read");
        assert_eq!(secret.reads(), 1);

        clock.advance_millis(1);
        assert_eq!(*cache.get().await, "two", "at the TTL: read again");
        assert_eq!(*cache.get().await, "two");
        assert_eq!(secret.reads(), 2, "one read per TTL");
    }

    #[tokio::test]
    async fn a_failed_read_keeps_the_value_and_is_retried_after_the_next_ttl() {
        let (secret, clock, cache) = read_once_at(0).await;

        secret.set(None);
        clock.advance_millis(300_000);
        assert_eq!(*cache.get().await, "one");
        assert_eq!(*cache.get().await, "one");
        assert_eq!(secret.reads(), 2, "not retried on every request");

        secret.set(Some("two"));
        clock.advance_millis(300_000);
        assert_eq!(*cache.get().await, "two");
    }

    #[tokio::test]
    async fn early_reads_happen_at_most_once_per_ttl() {
        let (secret, clock, cache) = read_once_at(0).await;

        secret.set(Some("two"));
        assert!(cache.reload_early().await, "the first early read happens");
        assert_eq!(*cache.current(), "two");
        for _ in 0..100 {
            assert!(!cache.reload_early().await);
        }
        assert_eq!(secret.reads(), 2, "a flood of early reads costs one");

        clock.advance_millis(300_000);
        secret.set(Some("three"));
        assert!(cache.reload_early().await, "one more per TTL");
        assert_eq!(*cache.current(), "three");
    }

    #[tokio::test]
    async fn a_fixed_value_is_never_read() {
        let cache = CachedSecret::fixed(7);
        assert_eq!(*cache.get().await, 7);
        assert!(!cache.reload_early().await);
    }

    #[tokio::test]
    async fn the_first_read_must_succeed() {
        let secret = Arc::new(Scripted::default());
        let clock = Arc::new(ManualClock::at_millis(0));
        let loaded = CachedSecret::load(secret, "arn:test", Versions::Current, 300, clock, |v| {
            Ok(v.len())
        })
        .await;
        assert!(matches!(loaded, Err(Error::Unavailable { .. })));
    }
}
