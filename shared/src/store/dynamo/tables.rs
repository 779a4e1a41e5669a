//! The DynamoDB tables: names, keys, indexes and TTL, defined once for the
//! adapter, for `warden tables create` and for the tests.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, SseSpecification, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use crate::{Error, Result};

/// The TTL attribute of every expiring table (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// The name of the AuditLog index by actor.
pub const AUDIT_ACTOR_INDEX: &str = "actor-index";

/// The name of the AgentJobs index by workspace (jobs newest first by id).
pub const JOBS_WORKSPACE_INDEX: &str = "workspace-index";

/// The name of the ToolCalls index by workspace (calls newest first by id).
pub const TOOL_CALLS_WORKSPACE_INDEX: &str = "workspace-index";

/// The name of the Proposals index by status (oldest first by id).
pub const PROPOSALS_STATUS_INDEX: &str = "status-index";

/// The name of the AgentJobs index the sweeper reads: the jobs that have
/// not ended (`PENDING` and `RUNNING` carry `sweep`; an ended job drops
/// it, so the index is sparse), by `lease_until`, soonest first.
pub const JOBS_LEASE_INDEX: &str = "lease-index";

/// The type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A string.
    S,
    /// A number.
    N,
}

/// A global secondary index (projecting every attribute).
#[derive(Debug, Clone, Copy)]
pub struct IndexDef {
    /// The index's name.
    pub name: &'static str,
    /// Partition key attribute (a string).
    pub hash_key: &'static str,
    /// Sort key attribute and its type.
    pub range_key: (&'static str, KeyKind),
}

/// One table's shape.
#[derive(Debug, Clone, Copy)]
pub struct TableDef {
    /// Appended to the prefix to make the table name.
    pub suffix: &'static str,
    /// Partition key attribute (a string).
    pub hash_key: &'static str,
    /// Sort key attribute (a string), if any.
    pub range_key: Option<&'static str>,
    /// Whether items expire through [`TTL_ATTRIBUTE`].
    pub ttl: bool,
    /// Its global secondary indexes.
    pub indexes: &'static [IndexDef],
}

/// Users, by lowercased username.
pub const USERS: TableDef = TableDef {
    suffix: "users",
    hash_key: "username",
    range_key: None,
    ttl: false,
    indexes: &[],
};
/// Live login sessions.
pub const ACTIVE_TOKENS: TableDef = TableDef {
    suffix: "active-tokens",
    hash_key: "user_id",
    range_key: Some("session_id"),
    ttl: true,
    indexes: &[],
};
/// The denylist and the users' generations.
pub const REVOKED_TOKENS: TableDef = TableDef {
    suffix: "revoked-tokens",
    hash_key: "key",
    range_key: None,
    ttl: true,
    indexes: &[],
};
/// Audit events, sharded by day.
pub const AUDIT_LOG: TableDef = TableDef {
    suffix: "audit-log",
    hash_key: "bucket",
    range_key: Some("event_id"),
    ttl: true,
    indexes: &[IndexDef {
        name: AUDIT_ACTOR_INDEX,
        hash_key: "actor",
        range_key: ("event_id", KeyKind::S),
    }],
};
/// GCRA state.
pub const RATE_LIMITS: TableDef = TableDef {
    suffix: "rate-limits",
    hash_key: "key",
    range_key: None,
    ttl: true,
    indexes: &[],
};

/// Webhook dedupe records, 7 days.
pub const WEBHOOK_DELIVERIES: TableDef = TableDef {
    suffix: "webhook-deliveries",
    hash_key: "delivery_key",
    range_key: None,
    ttl: true,
    indexes: &[],
};

/// Registered agents.
pub const AGENTS: TableDef = TableDef {
    suffix: "agents",
    hash_key: "agent_id",
    range_key: None,
    ttl: false,
    indexes: &[],
};

/// Workspaces.
pub const WORKSPACES: TableDef = TableDef {
    suffix: "workspaces",
    hash_key: "workspace_id",
    range_key: None,
    ttl: false,
    indexes: &[],
};

/// Jobs, and the idempotency records of run requests under `idem#` keys.
/// Only idempotency records carry `expires_at` (jobs are kept), and only
/// jobs carry `workspace_id`, so the index holds jobs alone.
pub const AGENT_JOBS: TableDef = TableDef {
    suffix: "agent-jobs",
    hash_key: "job_id",
    range_key: None,
    ttl: true,
    indexes: &[
        IndexDef {
            name: JOBS_WORKSPACE_INDEX,
            hash_key: "workspace_id",
            range_key: ("job_id", KeyKind::S),
        },
        IndexDef {
            name: JOBS_LEASE_INDEX,
            hash_key: "sweep",
            range_key: ("lease_until", KeyKind::N),
        },
    ],
};

/// Proposals waiting for (or after) a human decision.
pub const PROPOSALS: TableDef = TableDef {
    suffix: "proposals",
    hash_key: "proposal_id",
    range_key: None,
    ttl: false,
    indexes: &[IndexDef {
        name: PROPOSALS_STATUS_INDEX,
        hash_key: "status",
        range_key: ("proposal_id", KeyKind::S),
    }],
};

/// API keys (an HMAC of the secret), with each key's rate state and usage.
/// Their `expires_at` is the key's own expiry, checked on use: no TTL, so
/// an expired key stays listable.
pub const API_KEYS: TableDef = TableDef {
    suffix: "api-keys",
    hash_key: "key_id",
    range_key: None,
    ttl: false,
    indexes: &[],
};

/// Tool calls, and beside them, under prefixed keys, the items their
/// decisions are conditioned on: `exact#` (the proposal of one exact
/// call), `pending#` (an agent's pending proposals in a workspace) and
/// `idem#` (the idempotency records of tool calls, which alone carry
/// `expires_at`). Only calls carry `workspace_id`, so the index holds
/// calls alone.
pub const TOOL_CALLS: TableDef = TableDef {
    suffix: "tool-calls",
    hash_key: "call_id",
    range_key: None,
    ttl: true,
    indexes: &[IndexDef {
        name: TOOL_CALLS_WORKSPACE_INDEX,
        hash_key: "workspace_id",
        range_key: ("call_id", KeyKind::S),
    }],
};

/// The health probe's samples, 90 days.
pub const HEALTH_SAMPLES: TableDef = TableDef {
    suffix: "health-samples",
    hash_key: "check",
    range_key: Some("at"),
    ttl: true,
    indexes: &[],
};

/// The audit ledger's checkpoints and their leaves
/// ([`crate::store::CheckpointStore`]), kept a week longer than the events.
pub const CHECKPOINTS: TableDef = TableDef {
    suffix: "checkpoints",
    hash_key: "log",
    range_key: Some("entry"),
    ttl: true,
    indexes: &[],
};

/// Every table Warden uses.
pub const ALL: [TableDef; 14] = [
    USERS,
    ACTIVE_TOKENS,
    REVOKED_TOKENS,
    AUDIT_LOG,
    RATE_LIMITS,
    WEBHOOK_DELIVERIES,
    AGENTS,
    WORKSPACES,
    AGENT_JOBS,
    PROPOSALS,
    API_KEYS,
    TOOL_CALLS,
    HEALTH_SAMPLES,
    CHECKPOINTS,
];

impl TableDef {
    /// The table's name under `prefix`.
    pub fn name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.suffix)
    }
}

fn build_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("building a table definition: {e}"))
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_err)
}

fn attr_def(name: &str, kind: KeyKind) -> Result<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(match kind {
            KeyKind::S => ScalarAttributeType::S,
            KeyKind::N => ScalarAttributeType::N,
        })
        .build()
        .map_err(build_err)
}

/// What [`create_all`] did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// The table's name.
    pub name: String,
    /// Whether this run created it (else it existed).
    pub created: bool,
    /// The indexes this run added to a table that existed without them.
    pub indexes_created: Vec<&'static str>,
    /// Whether this run turned TTL on (a new table's included).
    pub ttl_enabled: bool,
}

impl TableReport {
    /// Whether the run changed the table at all.
    pub fn changed(&self) -> bool {
        self.created || !self.indexes_created.is_empty() || self.ttl_enabled
    }
}

/// How [`create_all`] waits for a table (and each of its indexes) to be
/// `ACTIVE`: DynamoDB refuses `UpdateTimeToLive` and `UpdateTable` on a
/// table that is `CREATING` or `UPDATING`, and builds one new index of a
/// table at a time.
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    /// Between two `DescribeTable`s.
    pub interval: std::time::Duration,
    /// The longest wait for one table; past it the run fails, and running
    /// it again picks up where it stopped.
    pub max: std::time::Duration,
}

impl Default for Waits {
    /// Every 2 s, at most 10 minutes: a new table is `ACTIVE` within
    /// seconds, a new index on a table with items takes its backfill.
    fn default() -> Self {
        Self {
            interval: std::time::Duration::from_secs(2),
            max: std::time::Duration::from_secs(600),
        }
    }
}

/// Creates every table under `prefix` (pay per request, encrypted) with its
/// indexes and TTL, and brings a table that exists to the same shape:
/// [`create_all_with`] with the default [`Waits`].
pub async fn create_all(client: &Client, prefix: &str) -> Result<Vec<TableReport>> {
    create_all_with(client, prefix, Waits::default()).await
}

/// [`create_all`], waiting as `waits` says. Each table is created (or
/// found), then waited for until it is `ACTIVE`; then TTL is turned on
/// when it is off, and each missing index is created, one at a time,
/// waiting after each. A run that stopped half way (a table `CREATING`,
/// TTL never turned on) is finished by the next. Returns what was done to
/// each table, in [`ALL`]'s order.
pub async fn create_all_with(
    client: &Client,
    prefix: &str,
    waits: Waits,
) -> Result<Vec<TableReport>> {
    let mut reports = Vec::with_capacity(ALL.len());
    for def in ALL {
        reports.push(converge(client, &def, prefix, waits).await?);
    }
    Ok(reports)
}

/// One index's definition, for CreateTable and UpdateTable.
fn index_def(index: &IndexDef) -> Result<GlobalSecondaryIndex> {
    GlobalSecondaryIndex::builder()
        .index_name(index.name)
        .key_schema(key(index.hash_key, KeyType::Hash)?)
        .key_schema(key(index.range_key.0, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(build_err)
}

/// The attribute definitions of `attrs`, each once.
fn attr_defs(mut attrs: Vec<(&str, KeyKind)>) -> Result<Vec<AttributeDefinition>> {
    attrs.sort_unstable_by_key(|(name, _)| *name);
    attrs.dedup_by_key(|(name, _)| *name);
    attrs
        .into_iter()
        .map(|(name, kind)| attr_def(name, kind))
        .collect()
}

async fn converge(
    client: &Client,
    def: &TableDef,
    prefix: &str,
    waits: Waits,
) -> Result<TableReport> {
    let name = def.name(prefix);
    let mut attrs = vec![(def.hash_key, KeyKind::S)];
    let mut request = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .key_schema(key(def.hash_key, KeyType::Hash)?);
    if let Some(range) = def.range_key {
        request = request.key_schema(key(range, KeyType::Range)?);
        attrs.push((range, KeyKind::S));
    }
    for index in def.indexes {
        request = request.global_secondary_indexes(index_def(index)?);
        attrs.extend([(index.hash_key, KeyKind::S), index.range_key]);
    }
    request = request.set_attribute_definitions(Some(attr_defs(attrs)?));
    let created = match request.send().await {
        Ok(_) => true,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            false
        }
        Err(err) => {
            return Err(crate::aws::sdk_unavailable(
                &format!("CreateTable {name}"),
                &err,
            ));
        }
    };
    let mut report = TableReport {
        name,
        created,
        indexes_created: Vec::new(),
        ttl_enabled: false,
    };
    let mut existing = wait_active(client, &report.name, waits).await?;

    if def.ttl {
        report.ttl_enabled = enable_ttl(client, &report.name).await?;
    }
    for index in def.indexes {
        if existing.iter().any(|n| n == index.name) {
            continue;
        }
        // One index per UpdateTable, with the attributes it keys on;
        // DynamoDB builds one new index of a table at a time, so the next
        // waits until this one is ACTIVE.
        let (range, kind) = index.range_key;
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.name)
            .key_schema(key(index.hash_key, KeyType::Hash)?)
            .key_schema(key(range, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_err)?;
        client
            .update_table()
            .table_name(&report.name)
            .set_attribute_definitions(Some(attr_defs(vec![
                (index.hash_key, KeyKind::S),
                (range, kind),
            ])?))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| {
                crate::aws::sdk_unavailable(
                    &format!(
                        "UpdateTable {} (creating index {})",
                        report.name, index.name
                    ),
                    &e,
                )
            })?;
        report.indexes_created.push(index.name);
        existing = wait_active(client, &report.name, waits).await?;
    }
    Ok(report)
}

/// Waits until the table `name` and each of its indexes are `ACTIVE`;
/// returns its indexes' names.
///
/// Not the SDK's `table_exists` waiter: it looks at the table's status
/// only, while a new index is built (`CREATING`) on an `ACTIVE` table, and
/// a second index cannot be created until the first is done.
async fn wait_active(client: &Client, name: &str, waits: Waits) -> Result<Vec<String>> {
    let started = std::time::Instant::now();
    loop {
        let out = match client.describe_table().table_name(name).send().await {
            Ok(out) => Some(out),
            // A table just created may not be visible for a moment.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(err) => {
                return Err(crate::aws::sdk_unavailable(
                    &format!("DescribeTable {name}"),
                    &err,
                ));
            }
        };
        let table = out.as_ref().and_then(|o| o.table());
        let status = table.and_then(|t| t.table_status());
        let indexes = table
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default();
        let busy_index = indexes
            .iter()
            .find(|i| i.index_status() != Some(&IndexStatus::Active));
        let waiting_for = match (status, busy_index) {
            (Some(TableStatus::Active), None) => {
                return Ok(indexes
                    .iter()
                    .filter_map(|i| i.index_name().map(str::to_owned))
                    .collect());
            }
            (Some(TableStatus::Active), Some(index)) => format!(
                "index {} is {}",
                index.index_name().unwrap_or("?"),
                index.index_status().map_or("of no status", |s| s.as_str())
            ),
            (Some(status), _) => format!("it is {}", status.as_str()),
            (None, _) => "it is not visible yet".to_owned(),
        };
        if matches!(status, Some(TableStatus::Deleting)) {
            return Err(Error::Conflict(format!(
                "table {name} is being deleted; run again once it is gone"
            )));
        }
        if started.elapsed() >= waits.max {
            return Err(Error::unavailable(format!(
                "table {name} is not ACTIVE after {} s ({waiting_for}); run `warden tables create` again to finish",
                waits.max.as_secs()
            )));
        }
        tracing::info!(table = %name, "waiting: {waiting_for}");
        tokio::time::sleep(waits.interval).await;
    }
}

/// Turns TTL on [`TTL_ATTRIBUTE`] on, unless it is on (or turning on)
/// already; whether it did.
async fn enable_ttl(client: &Client, name: &str) -> Result<bool> {
    let described = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| crate::aws::sdk_unavailable(&format!("DescribeTimeToLive {name}"), &e))?;
    let description = described.time_to_live_description();
    let attribute = description.and_then(|d| d.attribute_name());
    match description.and_then(|d| d.time_to_live_status()) {
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling) => {
            return if attribute.is_none_or(|a| a == TTL_ATTRIBUTE) {
                Ok(false)
            } else {
                Err(Error::Conflict(format!(
                    "table {name} expires items on {}, not {TTL_ATTRIBUTE}; turn its TTL off and run again",
                    attribute.unwrap_or_default()
                )))
            };
        }
        Some(TimeToLiveStatus::Disabling) => {
            return Err(Error::Conflict(format!(
                "TTL of table {name} is being turned off (DynamoDB takes up to an hour); run again once it is off"
            )));
        }
        _ => {}
    }
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(build_err)?,
        )
        .send()
        .await
        .map_err(|e| crate::aws::sdk_unavailable(&format!("UpdateTimeToLive {name}"), &e))?;
    Ok(true)
}
