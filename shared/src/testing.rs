//! Test support, compiled only with the `testing` feature: DynamoDB stores
//! on fresh tables in the emulator that `infra/test.sh` starts, a ready
//! [`AppState`], and a store wrapper that injects faults.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::config::Config;
use crate::secrets::SecretVersion;
use crate::state::AppState;
use crate::store::dynamo::{tables, DynamoStore};
use crate::store::{
    AuditStore, RateLimitStore, RevocationState, SessionRecord, SessionStore, SharedStore,
    TatCondition, Transactions, UserRecord, UserStore, Write,
};
use crate::{Error, Result};

/// The signing key of test states.
pub const TEST_JWT_KEY: &str = "test-signing-key-0123456789abcdef0123456789";

/// The emulator endpoint exported by `infra/test.sh`. `None` outside it,
/// unless `WARDEN_REQUIRE_AWS_TESTS=1`, which makes a missing endpoint a
/// failure instead of a skip.
pub fn aws_endpoint() -> Option<String> {
    let endpoint = std::env::var("WARDEN_TEST_AWS_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    if endpoint.is_none() && std::env::var("WARDEN_REQUIRE_AWS_TESTS").as_deref() == Ok("1") {
        panic!("WARDEN_REQUIRE_AWS_TESTS=1 but WARDEN_TEST_AWS_ENDPOINT is not set; run ./infra/test.sh");
    }
    if endpoint.is_none() {
        eprintln!("skipping: no DynamoDB emulator (run ./infra/test.sh)");
    }
    endpoint
}

/// An SDK configuration for the emulator at `endpoint`, with the dummy
/// credentials `infra/test.sh` exports (or the same defaults).
pub async fn aws_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials =
        aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "warden-tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await
}

/// A table prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("t{}-", ulid::Ulid::new().to_string().to_lowercase())
}

/// A DynamoDB store on freshly created tables in the emulator, with its
/// table prefix; `None` when there is no emulator (see [`aws_endpoint`]).
pub async fn dynamo_store() -> Option<(DynamoStore, String)> {
    dynamo_store_with_log()
        .await
        .map(|(store, prefix, _)| (store, prefix))
}

/// Like [`dynamo_store`], with a log of every DynamoDB request the store
/// sends (retries included): the round trips an operation costs.
pub async fn dynamo_store_with_log() -> Option<(DynamoStore, String, CallLog)> {
    let endpoint = aws_endpoint()?;
    let log = CallLog::default();
    let sdk = aws_config(&endpoint).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(log.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let prefix = unique_prefix();
    if let Err(e) = tables::create_all(&client, &prefix).await {
        panic!("creating test tables at {endpoint}: {e}");
    }
    log.take();
    Some((DynamoStore::new(client, &prefix), prefix, log))
}

/// Records the operation of every DynamoDB request sent (`GetItem`,
/// `BatchGetItem`, ...).
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<std::sync::Mutex<Vec<String>>>);

impl CallLog {
    /// The operations recorded since the last call, in order.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl aws_sdk_dynamodb::config::Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(target);
        Ok(())
    }
}

/// A development configuration with the floor argon2 parameters.
pub fn config() -> Config {
    let (config, findings) = Config::load(|k| match k {
        "WARDEN_ENV" => Some("development".into()),
        "WARDEN_JWT_SECRET" => Some(TEST_JWT_KEY.into()),
        _ => None,
    });
    assert!(!findings.has_errors(), "{findings:?}");
    config.unwrap_or_else(|| panic!("test configuration did not load"))
}

/// A state over `store` with [`config`] and `clock`.
pub fn state(store: SharedStore, clock: Arc<dyn Clock>) -> AppState {
    state_with(config(), store, clock)
}

/// A state over `store` with the given configuration and clock.
pub fn state_with(config: Config, store: SharedStore, clock: Arc<dyn Clock>) -> AppState {
    let keys = [SecretVersion {
        version_id: "test".into(),
        value: SecretString::from(TEST_JWT_KEY),
        current: true,
    }];
    AppState::new(config, store, &keys, clock).unwrap_or_else(|e| panic!("test state: {e}"))
}

/// Wraps a store and, while armed, fails every transaction that carries an
/// audit event, as a DynamoDB outage of the audit table would.
pub struct FailingAudit {
    inner: SharedStore,
    armed: AtomicBool,
}

impl FailingAudit {
    /// Wraps `inner`, disarmed.
    pub fn new(inner: SharedStore) -> Arc<Self> {
        Arc::new(Self {
            inner,
            armed: AtomicBool::new(false),
        })
    }

    /// Starts or stops failing audit writes.
    pub fn arm(&self, on: bool) {
        self.armed.store(on, Ordering::SeqCst);
    }
}

#[async_trait]
impl UserStore for FailingAudit {
    async fn get_user(&self, username: &str) -> Result<Option<UserRecord>> {
        self.inner.get_user(username).await
    }

    async fn user_generation(&self, user_id: &str) -> Result<Option<(String, u64)>> {
        self.inner.user_generation(user_id).await
    }
}

#[async_trait]
impl SessionStore for FailingAudit {
    async fn session_with_revocation(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> Result<(Option<SessionRecord>, RevocationState)> {
        self.inner
            .session_with_revocation(user_id, session_id, now)
            .await
    }

    async fn list_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>> {
        self.inner.list_sessions(user_id, now).await
    }

    async fn revocation_state(
        &self,
        jti: &str,
        session_id: &str,
        user_id: &str,
    ) -> Result<RevocationState> {
        self.inner.revocation_state(jti, session_id, user_id).await
    }
}

#[async_trait]
impl AuditStore for FailingAudit {
    async fn audit_by_actor(&self, actor: &str, limit: usize) -> Result<Vec<AuditEvent>> {
        self.inner.audit_by_actor(actor, limit).await
    }
}

#[async_trait]
impl RateLimitStore for FailingAudit {
    async fn update_tat(
        &self,
        key: &str,
        condition: TatCondition,
        new_tat: i64,
        expires_at: i64,
    ) -> Result<std::result::Result<(), Option<i64>>> {
        self.inner
            .update_tat(key, condition, new_tat, expires_at)
            .await
    }
}

#[async_trait]
impl crate::store::WebhookStore for FailingAudit {
    async fn claim_delivery(
        &self,
        delivery_key: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<crate::store::Claim> {
        self.inner
            .claim_delivery(delivery_key, now, expires_at)
            .await
    }

    async fn release_delivery(&self, delivery_key: &str, claimed_at: i64) -> Result<()> {
        self.inner.release_delivery(delivery_key, claimed_at).await
    }
}

#[async_trait]
impl Transactions for FailingAudit {
    async fn transact(&self, writes: Vec<Write>) -> Result<()> {
        if self.armed.load(Ordering::SeqCst) && writes.iter().any(|w| matches!(w, Write::Audit(_)))
        {
            return Err(Error::unavailable(
                "injected fault: audit table unavailable",
            ));
        }
        self.inner.transact(writes).await
    }
}
