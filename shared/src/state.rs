//! Per-function state: plain structs of ports and components, so that each
//! function holds (and its binary links) only what it uses:
//!
//! - [`Accounts`]: users and their passwords (the CLI's user administration);
//! - [`AuthState`]: accounts plus the access tokens (login, revoke, the
//!   authorizer);
//! - [`WebhookState`]: the delivery store, the sources and the events queue
//!   (webhook intake; it never reads the JWT key);
//! - [`Registry`]: agents, workspaces and API keys (the CLI's agent
//!   administration);
//! - [`AgentState`]: the registry plus the access tokens, the API-key pepper,
//!   the jobs queue and the catalogue (agent runs and proposals);
//! - [`WorkerState`]: jobs, agents, the catalogue and the outbound queue
//!   (the job worker; no key of any kind);
//! - [`HealthState`]: what the health checks describe, the samples and the
//!   configuration's findings (the probe; no key of any kind);
//! - [`SecurityHealthState`]: the health state plus the bearer-token check
//!   (the security health endpoints, for admins).
//!
//! Every state carries the [`Config`], the [`Clock`] and an [`Auditor`]
//! built from them. Nothing here is async or names the AWS SDK: the Lambda
//! cold starts that fill these structs from AWS are [`crate::wiring`]'s,
//! and the states that authenticate lend their parts to the one bearer
//! check ([`crate::auth::bearer`], which defines their `bearer()`).

use std::sync::Arc;
use std::time::Duration;

use crate::Result;
use crate::agents::catalogue::{Catalogue, catalogue};
use crate::agents::decision::DecisionTokens;
use crate::audit::Auditor;
use crate::auth::jwt::AccessTokens;
use crate::auth::password::{HashingLimits, PasswordHasher};
use crate::auth::pepper::Pepper;
use crate::clock::Clock;
use crate::config::{Config, Findings};
use crate::health::dependencies::Dependencies;
use crate::health::inventory::Inventory;
use crate::health::samples::SampleCache;
use crate::queue::Queue;
use crate::secrets::cache::CachedSecret;
use crate::store::{
    AuthStore, HealthStore, RegistryStore, SessionStore, WebhookStore, WorkerStore,
};
use crate::webhook::sources::Sources;

/// A `Debug` for a state that shows only the named fields: the rest holds
/// keys, clients or caches.
macro_rules! debug_shows {
    ($state:ident $(, $field:ident)*) => {
        impl std::fmt::Debug for $state {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($state))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}

/// A state that extends a base state with the bearer check: it
/// dereferences to the base (so `state.config` and `state.store` read the
/// same in every use case, and operations of the base take either), and
/// its `Debug` shows only the base.
macro_rules! extends {
    ($state:ident, $field:ident: $base:ty) => {
        impl std::ops::Deref for $state {
            type Target = $base;

            fn deref(&self) -> &$base {
                &self.$field
            }
        }

        debug_shows!($state, $field);
    };
}

debug_shows!(WebhookState, sources);
debug_shows!(WorkerState);
debug_shows!(HealthState, inventory);
extends!(AuthState, accounts: Accounts);
extends!(AgentState, registry: Registry);
extends!(SecurityHealthState, health: HealthState);

/// The auditor of a state: `clock`'s time, `config`'s retention.
fn auditor(config: &Config, clock: &Arc<dyn Clock>) -> Auditor {
    Auditor::new(clock.clone(), config.audit_retention_days)
}

/// Users and passwords: what creating a user, changing a password or
/// disabling an account needs. No signing key.
#[derive(Debug)]
pub struct Accounts {
    /// The validated configuration.
    pub config: Config,
    /// The auth ports.
    pub store: Arc<dyn AuthStore>,
    /// Hashes and verifies passwords.
    pub passwords: PasswordHasher,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Builds the audit events of account operations.
    pub auditor: Auditor,
}

impl Accounts {
    /// Assembles the accounts state.
    pub fn new(config: Config, store: Arc<dyn AuthStore>, clock: Arc<dyn Clock>) -> Result<Self> {
        let passwords = PasswordHasher::with_limits(
            config.argon2,
            HashingLimits {
                concurrency: config.password_concurrency,
                queue_timeout: Duration::from_millis(config.password_queue_timeout_ms),
            },
        )?;
        Ok(Self {
            auditor: auditor(&config, &clock),
            config,
            store,
            passwords,
            clock,
        })
    }
}

/// What login, revocation and the authorizer need: [`Accounts`] and the
/// access tokens.
///
/// It dereferences to its [`Accounts`], so that `state.store` and
/// `state.config` read the same in every auth operation, and the account
/// operations (which need no signing key) take either.
pub struct AuthState {
    /// Users, passwords, configuration, clock.
    pub accounts: Accounts,
    /// Issues and verifies access tokens.
    pub tokens: AccessTokens,
    /// The API keys introspection callers (service keys) present: the
    /// login function's; `None` elsewhere (then only admin tokens may
    /// introspect).
    pub api_keys: Option<ApiKeys>,
}

/// API keys as a route that takes them checks them: the registry they live
/// in (whose auditor records refusals) and the pepper.
#[derive(Debug)]
pub struct ApiKeys {
    /// Where the keys are, and their refusals audited.
    pub registry: Registry,
    /// The keys' secrets are checked under it.
    pub pepper: Pepper,
}

impl AuthState {
    /// Assembles a state around its access tokens (fixed, or following the
    /// stored key set).
    pub fn new(
        config: Config,
        store: Arc<dyn AuthStore>,
        tokens: AccessTokens,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        Ok(Self {
            accounts: Accounts::new(config, store, clock)?,
            tokens,
            api_keys: None,
        })
    }

    /// The same state, taking API keys on the routes that do
    /// (introspection).
    pub fn with_api_keys(self, api_keys: ApiKeys) -> Self {
        Self {
            api_keys: Some(api_keys),
            ..self
        }
    }
}

/// What webhook intake needs: the delivery store, the configured sources
/// and the events queue.
pub struct WebhookState {
    /// The validated configuration.
    pub config: Config,
    /// The webhook ports.
    pub store: Arc<dyn WebhookStore>,
    /// The configured sources; from Secrets Manager, read again every cache
    /// TTL and when a delivery does not verify.
    pub sources: CachedSecret<Sources>,
    /// The events queue.
    pub queue: Arc<dyn Queue>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Builds the audit events of intake.
    pub auditor: Auditor,
}

impl WebhookState {
    /// Assembles the intake's state.
    pub fn new(
        config: Config,
        store: Arc<dyn WebhookStore>,
        sources: CachedSecret<Sources>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            auditor: auditor(&config, &clock),
            config,
            store,
            sources,
            queue,
            clock,
        }
    }
}

/// Agents, workspaces and API keys: what registering an agent, flipping its
/// kill switch or creating a key needs.
#[derive(Debug)]
pub struct Registry {
    /// The validated configuration.
    pub config: Config,
    /// The registry ports.
    pub store: Arc<dyn RegistryStore>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Builds the audit events of registry operations.
    pub auditor: Auditor,
}

impl Registry {
    /// Assembles the registry state.
    pub fn new(config: Config, store: Arc<dyn RegistryStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            auditor: auditor(&config, &clock),
            config,
            store,
            clock,
        }
    }
}

/// What agent runs and proposals need: the [`Registry`], the bearer-token
/// check (access tokens and denylist reads), the API-key pepper, the jobs queue and
/// the action catalogue. It dereferences to its [`Registry`].
pub struct AgentState {
    /// Agents, workspaces, keys, jobs; configuration and clock.
    pub registry: Registry,
    /// The denylist reads of the bearer-token check (the same tables).
    pub sessions: Arc<dyn SessionStore>,
    /// Verifies access tokens.
    pub tokens: AccessTokens,
    /// API-key secrets are checked under it.
    pub pepper: Pepper,
    /// Where accepted runs go.
    pub jobs: Arc<dyn Queue>,
    /// The business actions.
    pub catalogue: &'static Catalogue,
    /// Signs tool calls' decision tokens (its own KMS key); without it a
    /// tool call is `503`.
    pub decisions: Option<Arc<DecisionTokens>>,
}

impl AgentState {
    /// Assembles a state around its access tokens (fixed, or following the
    /// stored key set).
    pub fn new(
        config: Config,
        store: Arc<dyn RegistryStore>,
        sessions: Arc<dyn SessionStore>,
        tokens: AccessTokens,
        pepper: Pepper,
        jobs: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            registry: Registry::new(config, store, clock),
            sessions,
            tokens,
            pepper,
            jobs,
            catalogue: catalogue(),
            decisions: None,
        }
    }

    /// The same state, signing tool calls' decision tokens with `decisions`.
    pub fn with_decisions(self, decisions: Arc<DecisionTokens>) -> Self {
        Self {
            decisions: Some(decisions),
            ..self
        }
    }
}

/// What the job worker needs: jobs and agents, the catalogue, the outbound
/// queue for external effects. It holds no signing key and no pepper.
pub struct WorkerState {
    /// The validated configuration.
    pub config: Config,
    /// The worker's ports.
    pub store: Arc<dyn WorkerStore>,
    /// Where the external effects of actions are published.
    pub outbound: Arc<dyn Queue>,
    /// The business actions.
    pub catalogue: &'static Catalogue,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Builds the audit events of job outcomes.
    pub auditor: Auditor,
    /// The jobs queue, where the sweeper sends a lost job again (the
    /// scheduled sweep of the worker function; `warden serve` hands its
    /// own queue to the sweep).
    pub jobs: Option<Arc<dyn Queue>>,
}

impl WorkerState {
    /// Assembles the worker's state over the whole catalogue.
    pub fn new(
        config: Config,
        store: Arc<dyn WorkerStore>,
        outbound: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            auditor: auditor(&config, &clock),
            config,
            store,
            outbound,
            catalogue: catalogue(),
            clock,
            jobs: None,
        }
    }
}

/// What the health checks and the probe need: the configuration and its
/// findings, what to describe and the client to describe it with, the
/// samples. No key of any kind.
pub struct HealthState {
    /// The validated configuration.
    pub config: Config,
    /// The configuration's findings at start-up, warnings included.
    pub findings: Findings,
    /// The tables, queues, secrets and webhook sources to check.
    pub inventory: Inventory,
    /// Describes AWS resources; `None` on the embedded store without AWS.
    pub dependencies: Option<Arc<dyn Dependencies>>,
    /// The samples and the audit log.
    pub store: Arc<dyn HealthStore>,
    /// The days of samples already read, for the next report.
    pub samples: SampleCache,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Builds the audit events of status changes.
    pub auditor: Auditor,
}

impl HealthState {
    /// Assembles the health state with the configuration's own findings
    /// and an empty sample cache.
    pub fn new(
        config: Config,
        inventory: Inventory,
        dependencies: Option<Arc<dyn Dependencies>>,
        store: Arc<dyn HealthStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            findings: config.findings(),
            auditor: auditor(&config, &clock),
            config,
            inventory,
            dependencies,
            store,
            samples: SampleCache::default(),
            clock,
        }
    }
}

/// What the security health endpoints need: the [`HealthState`] and the
/// bearer-token check (access tokens and denylist reads), since all but
/// `GET /health` are for admins. It dereferences to its [`HealthState`].
pub struct SecurityHealthState {
    /// Checks, samples, configuration.
    pub health: HealthState,
    /// The denylist reads of the bearer-token check.
    pub sessions: Arc<dyn SessionStore>,
    /// Verifies access tokens.
    pub tokens: AccessTokens,
}

impl SecurityHealthState {
    /// Adds the bearer-token check over `tokens` to `health`.
    pub fn new(health: HealthState, sessions: Arc<dyn SessionStore>, tokens: AccessTokens) -> Self {
        Self {
            health,
            sessions,
            tokens,
        }
    }
}
