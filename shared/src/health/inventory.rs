//! What the deployment is made of, as the health checks see it: the
//! store's tables, the queues, the secrets and where each comes from, and
//! the webhook sources' summaries (never their secrets).

use super::report::SourceSummary;
use crate::config::{Config, DeadLetterQueues, Environment};
use crate::store::TableTarget;
use crate::webhook::scheme::SchemeKind;
use crate::webhook::sources::{SourceConfig, Sources};

/// The webhook sources as configured: summaries only (the secrets are
/// counted and dropped), and what is wrong with them, if anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookInventory {
    /// Each source, by name.
    pub sources: Vec<SourceSummary>,
    /// Why the configuration would refuse start-up, naming no secret.
    pub problem: Option<String>,
    /// Whether the sources came from `warden serve`'s seed file.
    pub from_seed_file: bool,
}

impl WebhookInventory {
    /// From the seed file's sources, which already passed validation
    /// (`warden serve`).
    pub fn from_sources(sources: &Sources) -> Self {
        let sources: Vec<SourceSummary> = sources
            .all()
            .into_iter()
            .map(|s| summary(&s.name, s.scheme, s.secret_count()))
            .collect();
        Self {
            from_seed_file: !sources.is_empty(),
            sources,
            problem: None,
        }
    }

    /// From the webhook secret's JSON text: each source's name, scheme and
    /// number of secrets, and the validation's verdict. Parse errors are
    /// described by position only, since the text is secret.
    pub fn from_json(text: &str) -> Self {
        let configs: Vec<SourceConfig> = match serde_json::from_str(text) {
            Ok(configs) => configs,
            Err(e) => {
                return Self {
                    sources: Vec::new(),
                    from_seed_file: false,
                    problem: Some(format!(
                        "the webhook sources secret is not a JSON array of {{name, scheme, secrets}} (line {}, column {})",
                        e.line(),
                        e.column()
                    )),
                };
            }
        };
        let mut sources: Vec<SourceSummary> = configs
            .iter()
            .map(|c| summary(c.name.trim(), c.scheme, c.secrets.len()))
            .collect();
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        // Validation's messages name sources, never secret values.
        let problem = Sources::new(configs).err().map(|e| e.to_string());
        Self {
            sources,
            problem,
            from_seed_file: false,
        }
    }
}

fn summary(name: &str, scheme: SchemeKind, secrets: usize) -> SourceSummary {
    SourceSummary {
        name: name.to_owned(),
        scheme: scheme.as_str(),
        secrets,
        enforced: true,
    }
}

/// Where one secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Secrets Manager, by ARN: described with DescribeSecret.
    SecretsManager(String),
    /// Development: from an environment variable.
    Local(&'static str),
    /// Development: from `warden serve`'s seed file.
    SeedFile,
    /// Development: generated for this process.
    Generated,
    /// Nowhere: outside development, a failure.
    NotConfigured,
}

impl SecretSource {
    pub(super) fn label(&self) -> &'static str {
        match self {
            SecretSource::SecretsManager(_) => "secrets_manager",
            SecretSource::Local(_) => "environment",
            SecretSource::SeedFile => "seed_file",
            SecretSource::Generated => "generated",
            SecretSource::NotConfigured => "not_configured",
        }
    }
}

/// A queue and its dead-letter queue, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTarget {
    /// `events`, `jobs` or `outbound`.
    pub name: &'static str,
    /// Its URL; `None` in process (`warden serve`) or not configured.
    pub url: Option<String>,
    /// Its dead-letter queue's URL.
    pub dlq_url: Option<String>,
}

/// What the deployment is made of, as the checks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The store's tables (from its adapter, see
    /// [`crate::store::dynamo::DynamoStore::table_targets`]); `None` on the
    /// embedded store, which has none to describe.
    pub tables: Option<Vec<TableTarget>>,
    /// The three queues.
    pub queues: Vec<QueueTarget>,
    /// The three secrets, by name.
    pub secrets: Vec<(&'static str, SecretSource)>,
    /// The webhook sources.
    pub webhooks: WebhookInventory,
}

impl Inventory {
    /// The inventory `config` describes: the store's `tables` (`None` on
    /// the embedded store), the queues and secrets it names, and
    /// `webhooks`.
    pub fn from_config(
        config: &Config,
        tables: Option<Vec<TableTarget>>,
        webhooks: WebhookInventory,
    ) -> Self {
        let dev = config.env == Environment::Development;
        let local_or_missing = |local: Option<SecretSource>| match (local, dev) {
            (Some(source), true) => source,
            (None, true) => SecretSource::Generated,
            (_, false) => SecretSource::NotConfigured,
        };
        let arn_or = |arn: &Option<String>, local| {
            arn.clone()
                .map_or_else(|| local_or_missing(local), SecretSource::SecretsManager)
        };
        let DeadLetterQueues {
            events,
            jobs,
            outbound,
        } = config.dlq_urls.clone();
        Self {
            tables,
            queues: vec![
                QueueTarget {
                    name: "events",
                    url: config.events_queue_url.clone(),
                    dlq_url: events,
                },
                QueueTarget {
                    name: "jobs",
                    url: config.jobs_queue_url.clone(),
                    dlq_url: jobs,
                },
                QueueTarget {
                    name: "outbound",
                    url: config.outbound_queue_url.clone(),
                    dlq_url: outbound,
                },
            ],
            secrets: vec![
                (
                    "api_key_pepper",
                    arn_or(
                        &config.api_key_pepper_arn,
                        config
                            .api_key_pepper
                            .as_ref()
                            .map(|_| SecretSource::Local("WARDEN_API_KEY_PEPPER")),
                    ),
                ),
                (
                    "webhook_sources",
                    match (&config.webhook_secrets_arn, webhooks.from_seed_file, dev) {
                        (Some(arn), _, _) => SecretSource::SecretsManager(arn.clone()),
                        (None, true, true) => SecretSource::SeedFile,
                        (None, _, _) => SecretSource::NotConfigured,
                    },
                ),
            ],
            webhooks,
        }
    }
}
