//! The Lambda cold starts: each function's state filled from AWS, once per
//! cold start, and the rules for where each secret comes from.
//!
//! This module sits above the use cases: it builds the SDK clients (with
//! the timeouts of [`crate::aws`]), the DynamoDB store, the SQS queues and
//! the Secrets Manager reads, and hands them to the plain structs of
//! [`crate::state`]. The use cases take those structs and never import
//! this module; outside [`crate::aws`] and the adapters it is the only
//! file that names the AWS SDK. A cold start fails (the function's init
//! errors, so it never serves) when anything is insecure or missing.
//!
//! Where keys and secrets come from:
//! - access tokens ([`access_tokens`]): signed in AWS KMS by the key the
//!   stored key set names (the stack's first key,
//!   `WARDEN_SIGNING_KEY_ARN`, until an operator rotates), a copy of the
//!   key set read again every minute and on an unknown `kid`; `warden
//!   serve` signs with a local RSA key instead;
//! - the issuer ([`read_issuer`]): `WARDEN_ISSUER`, else the SSM parameter
//!   the stack writes (`WARDEN_ISSUER_PARAMETER`), read once per cold start;
//! - the API-key pepper ([`api_key_pepper`]): Secrets Manager by ARN, read
//!   once; in development `WARDEN_API_KEY_PEPPER` or generated;
//! - the audit MAC key ([`audit_mac_key`]): Secrets Manager by ARN
//!   (`WARDEN_AUDIT_MAC_SECRET_ARN`), read once by every function that
//!   writes audit events; in development `WARDEN_AUDIT_MAC_KEY`;
//! - the checkpoint key ([`checkpointer`]): AWS KMS (`WARDEN_CHECKPOINT_KEY_ARN`),
//!   the checkpointer's alone;
//! - the webhook sources: Secrets Manager by ARN (`WARDEN_WEBHOOK_SECRETS_ARN`),
//!   read again every cache TTL and when a delivery does not verify; the
//!   health functions keep only their summaries ([`WebhookInventory`]).

use std::sync::Arc;

use secrecy::ExposeSecret as _;

use crate::agents::decision::DecisionTokens;
use crate::auth::jwt::{AccessTokens, KeySource};
use crate::auth::pepper::Pepper;
use crate::auth::signing::ACCESS_KEY_SET;
use crate::aws::SdkConfig;
use crate::aws::dependencies::AwsDependencies;
use crate::aws::kms::KmsSigner;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, DEVELOPMENT_ISSUER, Environment, check_issuer};
use crate::health::inventory::{Inventory, WebhookInventory};
use crate::queue::SqsQueue;
use crate::secrets::cache::{CachedSecret, Versions};
use crate::secrets::{SecretsManager, SecretsPort};
use crate::state::{
    AgentState, AuthState, HealthState, SecurityHealthState, WebhookState, WorkerState,
};
use crate::store::dynamo::DynamoStore;
use crate::webhook::sources::Sources;
use crate::{Error, Result};

/// A Lambda function's cold start: its log subscriber (Lambda's log format
/// and level controls), the configuration from the environment, then the
/// state `build` makes of it, e.g. `cold_start(wiring::agents)`. An
/// insecure or incomplete configuration fails the init: no serving.
pub async fn cold_start<S, F>(build: impl FnOnce(Config) -> F) -> Result<S>
where
    F: std::future::Future<Output = Result<S>>,
{
    crate::logging::init_lambda();
    let mut config = Config::from_env()?;
    if let Some(issuer) = read_issuer(&config).await? {
        config.issuer = issuer;
    }
    build(config).await
}

/// The issuer from the SSM parameter `WARDEN_ISSUER_PARAMETER` names, when
/// it is set and `WARDEN_ISSUER` is not (API.md "Issuer"): read once per
/// cold start, and the start fails when it cannot be read or is not an
/// origin. `None` when the configuration already holds the issuer.
pub async fn read_issuer(config: &Config) -> Result<Option<String>> {
    if issuer_parameter_to_read(config).is_none() {
        return Ok(None);
    }
    read_issuer_with(config, &sdk(config)?).await
}

/// The parameter to read the issuer from: `WARDEN_ISSUER_PARAMETER`, unless
/// `WARDEN_ISSUER` already set the issuer.
fn issuer_parameter_to_read(config: &Config) -> Option<&str> {
    config
        .issuer_parameter
        .as_deref()
        .filter(|_| config.issuer == DEVELOPMENT_ISSUER)
}

/// [`read_issuer`] over an SDK configuration already loaded (the operator
/// CLI's `config check`).
pub async fn read_issuer_with(config: &Config, aws: &SdkConfig) -> Result<Option<String>> {
    let Some(name) = issuer_parameter_to_read(config) else {
        return Ok(None);
    };
    let issuer = crate::aws::ssm::get_parameter(aws, name)
        .await?
        .trim()
        .trim_end_matches('/')
        .to_owned();
    check_issuer(&issuer, config.env)
        .map_err(|problem| Error::Config(format!("the issuer in {name} ({issuer}): {problem}")))?;
    Ok(Some(issuer))
}

/// The SDK configuration of a Lambda function: region and credentials from
/// the environment Lambda sets, the configured timeouts and retries.
fn sdk(config: &Config) -> Result<SdkConfig> {
    crate::aws::sdk_config(&config.aws, None)
}

/// The DynamoDB store over `aws`, with the configured table prefix.
fn dynamo(config: &Config, aws: &SdkConfig) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), &config.table_prefix)
}

/// The audit MAC key ([`audit_mac_key`]) through `aws`'s Secrets Manager:
/// each function that writes audit events reads it once, beside its other
/// cold-start reads, and seals its store with it ([`sealed`]).
async fn read_audit_mac(
    config: &Config,
    aws: &SdkConfig,
) -> Result<Option<crate::audit::mac::MacKey>> {
    audit_mac_key(config, Some(&*secrets_manager(aws))).await
}

/// `store`, sealing each audit event it writes with `mac`, when there is
/// one.
fn sealed(store: DynamoStore, mac: Option<crate::audit::mac::MacKey>) -> DynamoStore {
    match mac {
        Some(key) => store.with_audit_mac(key),
        None => store,
    }
}

/// The audit MAC key ([`crate::audit::mac`]): the Secrets Manager secret
/// `WARDEN_AUDIT_MAC_SECRET_ARN` names (its current version, read once per
/// cold start), or in development `WARDEN_AUDIT_MAC_KEY`; `None` when
/// neither is set (events are then written without a MAC, and a verifier
/// holding the key names them). A key that cannot be read, or is shorter
/// than 32 bytes, refuses the start.
pub async fn audit_mac_key(
    config: &Config,
    secrets: Option<&dyn SecretsPort>,
) -> Result<Option<crate::audit::mac::MacKey>> {
    use crate::audit::mac::MacKey;
    match (
        config.env,
        &config.audit_mac_key,
        &config.audit_mac_secret_arn,
    ) {
        (Environment::Development, Some(key), _) => MacKey::new(key).map(Some),
        (_, _, Some(arn)) => {
            let secrets = secrets.ok_or_else(|| {
                Error::Config("WARDEN_AUDIT_MAC_SECRET_ARN is set but no secrets client".into())
            })?;
            MacKey::new(&secrets.current(arn).await?.value).map(Some)
        }
        _ => Ok(None),
    }
}

/// An S3 client over `aws`. Path-style addressing when an endpoint is
/// set (an emulator serves no bucket subdomains).
#[cfg(feature = "s3")]
pub fn s3_client(aws: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(aws)
        .force_path_style(aws.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The Secrets Manager reads over `aws`.
fn secrets_manager(aws: &SdkConfig) -> Arc<dyn SecretsPort> {
    Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
        aws,
    )))
}

/// The SQS queue at `url`, which `variable` must have set.
fn sqs(aws: &SdkConfig, url: Option<&String>, variable: &str) -> Result<Arc<SqsQueue>> {
    let url = url.ok_or_else(|| Error::Config(format!("{variable} is not set")))?;
    Ok(Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(aws), url)))
}

/// A function's access tokens: signed in KMS (`aws`) by the key the key
/// set item names, the copy read from `store` now (with the DynamoDB
/// connection opened meanwhile, [`DynamoStore::warm_up`]) and again every
/// minute. Fails without `WARDEN_SIGNING_KEY_ARN`, or when the keys cannot
/// be read: a function that cannot check tokens does not start.
pub async fn access_tokens(
    config: &Config,
    aws: &SdkConfig,
    store: Arc<DynamoStore>,
    clock: Arc<dyn Clock>,
) -> Result<AccessTokens> {
    let first_key_arn = config.signing_key_arn.clone().ok_or_else(|| {
        Error::Config("WARDEN_SIGNING_KEY_ARN is not set (the stack's first signing key)".into())
    })?;
    let reader = store.clone();
    let read = Arc::new(move || {
        let store = reader.clone();
        Box::pin(async move {
            use crate::store::SessionStore as _;
            store.key_set(ACCESS_KEY_SET).await
        }) as crate::store::KeySetRead
    });
    let signer = Arc::new(KmsSigner::new(aws_sdk_kms::Client::new(aws)));
    let (tokens, ()) = tokio::join!(
        AccessTokens::load(
            config,
            signer,
            KeySource::Stored {
                read,
                first_key_arn
            },
            clock
        ),
        store.warm_up()
    );
    tokens
}

/// The API-key pepper: from Secrets Manager by ARN, or in development from
/// `WARDEN_API_KEY_PEPPER`, or, in development with neither, a random one
/// for this process only.
pub async fn api_key_pepper(config: &Config, secrets: Option<&dyn SecretsPort>) -> Result<Pepper> {
    match (
        config.env,
        &config.api_key_pepper,
        &config.api_key_pepper_arn,
    ) {
        (Environment::Development, Some(pepper), _) => Pepper::new(pepper),
        (_, _, Some(arn)) => {
            let secrets = secrets.ok_or_else(|| {
                Error::Config("WARDEN_API_KEY_PEPPER_ARN is set but no secrets client".into())
            })?;
            // Only the current version, read once per cold start: a pepper
            // is not rotated (every stored key would stop matching).
            Pepper::new(&secrets.current(arn).await?.value)
        }
        (Environment::Development, None, None) => Ok(Pepper::generate()),
        _ => Err(Error::Config(
            "outside development the API-key pepper must come from WARDEN_API_KEY_PEPPER_ARN"
                .into(),
        )),
    }
}

/// Revoke and the authorizer: AWS clients from the default configuration
/// with the configured timeouts ([`crate::aws`]), the DynamoDB store, the
/// access tokens over the stored key set.
pub async fn auth(config: Config) -> Result<AuthState> {
    let aws = sdk(&config)?;
    auth_with(config, &aws).await
}

/// [`auth`] with an SDK configuration already loaded.
pub async fn auth_with(config: Config, aws: &SdkConfig) -> Result<AuthState> {
    Ok(auth_and_store(config, aws).await?.0)
}

/// [`auth_with`], and its sealing store (login's registry shares it). The
/// key set's reads go through the store before it is sealed: they write
/// nothing.
async fn auth_and_store(config: Config, aws: &SdkConfig) -> Result<(AuthState, DynamoStore)> {
    let store = dynamo(&config, aws);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (mac, tokens) = tokio::try_join!(
        read_audit_mac(&config, aws),
        access_tokens(&config, aws, Arc::new(store.clone()), clock.clone())
    )?;
    let store = sealed(store, mac);
    let state = AuthState::new(config, Arc::new(store.clone()), tokens, clock)?;
    Ok((state, store))
}

/// Login, refresh, discovery and introspection: [`auth`] plus the API keys
/// of introspection's service callers (the pepper from Secrets Manager,
/// read while the key set is).
pub async fn login(config: Config) -> Result<AuthState> {
    let aws = sdk(&config)?;
    let secrets = secrets_manager(&aws);
    let ((state, store), pepper) = tokio::try_join!(
        auth_and_store(config.clone(), &aws),
        api_key_pepper(&config, Some(&*secrets))
    )?;
    let registry = crate::state::Registry::new(config, Arc::new(store), state.clock.clone());
    Ok(state.with_api_keys(crate::state::ApiKeys { registry, pepper }))
}

/// Webhook intake: sources from the Secrets Manager secret named by
/// `WARDEN_WEBHOOK_SECRETS_ARN`, the SQS queue at
/// `WARDEN_EVENTS_QUEUE_URL`, the DynamoDB store. Fails when either is
/// missing or a source is incomplete.
pub async fn webhooks(config: Config) -> Result<WebhookState> {
    let aws = sdk(&config)?;
    webhooks_with(config, &aws).await
}

/// [`webhooks`] with an SDK configuration already loaded.
pub async fn webhooks_with(config: Config, aws: &SdkConfig) -> Result<WebhookState> {
    let arn = config
        .webhook_secrets_arn
        .as_deref()
        .ok_or_else(|| Error::Config("WARDEN_WEBHOOK_SECRETS_ARN is not set".into()))?;
    let queue = sqs(
        aws,
        config.events_queue_url.as_ref(),
        "WARDEN_EVENTS_QUEUE_URL",
    )?;
    let store = dynamo(&config, aws);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Only the current version: each source lists every secret it
    // accepts (a rotation's old and new) in the one document.
    let (sources, (), mac) = tokio::join!(
        CachedSecret::load(
            secrets_manager(aws),
            arn,
            Versions::Current,
            config.secret_cache_ttl_secs,
            clock.clone(),
            |versions| match versions.first() {
                Some(current) => Sources::from_json(current.value.expose_secret()),
                None => Err(Error::Config("the webhook sources secret is empty".into())),
            },
        ),
        store.warm_up(),
        read_audit_mac(&config, aws)
    );
    Ok(WebhookState::new(
        config,
        Arc::new(sealed(store, mac?)),
        sources?,
        queue,
        clock,
    ))
}

/// Agent runs, proposals and tool calls: the DynamoDB store, the access
/// tokens, the API-key pepper from Secrets Manager, the SQS jobs queue at
/// `WARDEN_JOBS_QUEUE_URL`, the decision key at `WARDEN_DECISION_KEY_ARN`
/// (its public half read once). Fails when any is missing or insecure.
pub async fn agents(config: Config) -> Result<AgentState> {
    let aws = sdk(&config)?;
    let jobs = sqs(
        &aws,
        config.jobs_queue_url.as_ref(),
        "WARDEN_JOBS_QUEUE_URL",
    )?;
    let secrets = secrets_manager(&aws);
    let store = dynamo(&config, &aws);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The key set (with the DynamoDB connection), the pepper and the audit
    // MAC key, side by side: the cold start waits for the slowest, not for
    // all.
    let decision_arn = config.decision_key_arn.clone().ok_or_else(|| {
        Error::Config("WARDEN_DECISION_KEY_ARN is not set (tool calls' decision key)".into())
    })?;
    let signer: Arc<dyn crate::auth::signing::Signer> =
        Arc::new(KmsSigner::new(aws_sdk_kms::Client::new(&aws)));
    let (tokens, pepper, decisions, mac) = tokio::try_join!(
        access_tokens(&config, &aws, Arc::new(store.clone()), clock.clone()),
        api_key_pepper(&config, Some(&*secrets)),
        DecisionTokens::load(signer, &decision_arn, &config.issuer),
        read_audit_mac(&config, &aws)
    )?;
    let store = Arc::new(sealed(store, mac));
    Ok(
        AgentState::new(config, store.clone(), store, tokens, pepper, jobs, clock)
            .with_decisions(Arc::new(decisions)),
    )
}

/// The AgentCore Gateway interceptor (`tool-gate`): what a tool call's
/// decision needs and nothing else. The DynamoDB store, the access tokens
/// (delegated tokens are its only credential), the decision key at
/// `WARDEN_DECISION_KEY_ARN`. No jobs queue ([`crate::queue::NoQueue`])
/// and no API-key pepper: it checks no key's secret (a pepper of random
/// bytes, so no key could pass), which keeps the pepper out of its role:
/// the one secret it reads is the audit MAC key.
pub async fn tool_gate(config: Config) -> Result<AgentState> {
    let aws = sdk(&config)?;
    let store = dynamo(&config, &aws);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let decision_arn = config.decision_key_arn.clone().ok_or_else(|| {
        Error::Config("WARDEN_DECISION_KEY_ARN is not set (tool calls' decision key)".into())
    })?;
    let signer: Arc<dyn crate::auth::signing::Signer> =
        Arc::new(KmsSigner::new(aws_sdk_kms::Client::new(&aws)));
    let (tokens, decisions, mac) = tokio::try_join!(
        access_tokens(&config, &aws, Arc::new(store.clone()), clock.clone()),
        DecisionTokens::load(signer, &decision_arn, &config.issuer),
        read_audit_mac(&config, &aws)
    )?;
    let store = Arc::new(sealed(store, mac));
    let jobs = Arc::new(crate::queue::NoQueue {
        function: "tool-gate",
    });
    Ok(AgentState::new(
        config,
        store.clone(),
        store,
        tokens,
        crate::auth::pepper::Pepper::generate(),
        jobs,
        clock,
    )
    .with_decisions(Arc::new(decisions)))
}

/// The job worker: the DynamoDB store, the SQS outbound queue at
/// `WARDEN_OUTBOUND_QUEUE_URL` and, for the scheduled sweep, the jobs queue
/// at `WARDEN_JOBS_QUEUE_URL`.
pub async fn worker(config: Config) -> Result<WorkerState> {
    let aws = sdk(&config)?;
    let outbound = sqs(
        &aws,
        config.outbound_queue_url.as_ref(),
        "WARDEN_OUTBOUND_QUEUE_URL",
    )?;
    let jobs = sqs(
        &aws,
        config.jobs_queue_url.as_ref(),
        "WARDEN_JOBS_QUEUE_URL",
    )?;
    let store = sealed(dynamo(&config, &aws), read_audit_mac(&config, &aws).await?);
    let mut state = WorkerState::new(config, Arc::new(store), outbound, Arc::new(SystemClock));
    state.jobs = Some(jobs);
    Ok(state)
}

/// The probe: the DynamoDB store, the resources to describe, the webhook
/// sources' summaries.
pub async fn health(config: Config) -> Result<HealthState> {
    let aws = sdk(&config)?;
    Ok(health_with(config, &aws).await)
}

/// [`health`] with an SDK configuration already loaded. Nothing here
/// refuses start-up: what is missing is what the report is for. The
/// webhook sources secret is read once (GetSecretValue): its sources'
/// names, schemes and secret counts are kept, the values dropped at once;
/// the report itself only describes secrets.
pub async fn health_with(config: Config, aws: &SdkConfig) -> HealthState {
    let (webhooks, mac) = tokio::join!(
        webhook_inventory(&config, aws),
        read_audit_mac(&config, aws)
    );
    let mac = mac.unwrap_or_else(|error| {
        // The report and the probe still run: their events go unsealed,
        // and `warden audit verify` names them.
        tracing::error!(%error, "the audit MAC key could not be read; audit events go unsealed");
        None
    });
    let store = sealed(dynamo(&config, aws), mac);
    let inventory = Inventory::from_config(
        &config,
        Some(DynamoStore::table_targets(&config.table_prefix)),
        webhooks,
    );
    HealthState::new(
        config,
        inventory,
        Some(Arc::new(AwsDependencies::new(aws))),
        Arc::new(store),
        Arc::new(SystemClock),
    )
}

/// The webhook sources' summaries from the Secrets Manager secret named by
/// `WARDEN_WEBHOOK_SECRETS_ARN`; what went wrong, if it could not be read.
async fn webhook_inventory(config: &Config, aws: &SdkConfig) -> WebhookInventory {
    let Some(arn) = &config.webhook_secrets_arn else {
        return WebhookInventory {
            sources: Vec::new(),
            from_seed_file: false,
            problem: (config.env != Environment::Development)
                .then(|| "WARDEN_WEBHOOK_SECRETS_ARN is not set".to_owned()),
        };
    };
    match secrets_manager(aws).current(arn).await {
        Ok(text) => WebhookInventory::from_json(text.value.expose_secret()),
        Err(e) => {
            tracing::warn!(error = %e, "the webhook sources secret could not be read");
            WebhookInventory {
                sources: Vec::new(),
                from_seed_file: false,
                problem: Some(
                    "the webhook sources secret could not be read (the logs have the cause)".into(),
                ),
            }
        }
    }
}

/// The security health endpoints: [`health_with`], the access tokens
/// (their key set read while the webhook sources are) and the denylist
/// reads over DynamoDB.
pub async fn security_health(config: Config) -> Result<SecurityHealthState> {
    let aws = sdk(&config)?;
    // The bearer check's denylist reads write nothing: the health state's
    // store is the one that seals.
    let sessions = Arc::new(dynamo(&config, &aws));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (tokens, health) = tokio::join!(
        access_tokens(&config, &aws, sessions.clone(), clock),
        health_with(config.clone(), &aws)
    );
    Ok(SecurityHealthState::new(health, sessions, tokens?))
}

/// The audit ledger's checkpointer (its own function): the audit log and
/// the Checkpoints table in DynamoDB (read, and written once a minute), the
/// checkpoint key in KMS (`WARDEN_CHECKPOINT_KEY_ARN`, its public half read
/// once), the write-once copies in S3 (`WARDEN_CHECKPOINT_BUCKET`). Both
/// are required.
#[cfg(feature = "s3")]
pub async fn checkpointer(config: Config) -> Result<crate::audit::checkpointer::Checkpointer> {
    let aws = sdk(&config)?;
    checkpointer_with(config, &aws).await
}

/// [`checkpointer`] with an SDK configuration already loaded.
#[cfg(feature = "s3")]
pub async fn checkpointer_with(
    config: Config,
    aws: &SdkConfig,
) -> Result<crate::audit::checkpointer::Checkpointer> {
    use crate::audit::checkpointer::Checkpointer;
    use crate::audit::copies::S3Copies;
    use crate::audit::note::KmsNoteSigner;
    let arn = config.checkpoint_key_arn.as_deref().ok_or_else(|| {
        Error::Config("WARDEN_CHECKPOINT_KEY_ARN is not set (the checkpoint key)".into())
    })?;
    let bucket = config.checkpoint_bucket.as_deref().ok_or_else(|| {
        Error::Config("WARDEN_CHECKPOINT_BUCKET is not set (the write-once copies)".into())
    })?;
    let signer =
        KmsNoteSigner::new(aws_sdk_kms::Client::new(aws), arn, &config.ledger_origin()).await?;
    let copies = S3Copies::new(s3_client(aws), bucket);
    Ok(Checkpointer::for_deployment(
        &config,
        Arc::new(dynamo(&config, aws)),
        Arc::new(signer),
        Arc::new(copies),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        let (config, findings) = Config::load(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        });
        assert!(!findings.has_errors(), "{findings:?}");
        config.unwrap()
    }

    #[tokio::test]
    async fn outside_development_the_pepper_must_come_from_secrets_manager() {
        let staging = config(&[
            ("WARDEN_ENV", "staging"),
            ("WARDEN_ISSUER", "https://auth.example.com"),
        ]);
        assert!(matches!(
            api_key_pepper(&staging, None).await,
            Err(Error::Config(_))
        ));
        // Development without one configured gets a pepper for the process.
        let dev = config(&[("WARDEN_ENV", "development")]);
        assert!(api_key_pepper(&dev, None).await.is_ok());
    }
}
