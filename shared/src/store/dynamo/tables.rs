//! The DynamoDB tables: names, keys, indexes and TTL, defined once for the
//! adapter, for `warden tables create` and for the tests.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, SseSpecification, TimeToLiveSpecification,
};

use crate::{Error, Result};

/// The TTL attribute of every expiring table (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// The name of the AuditLog index by actor.
pub const AUDIT_ACTOR_INDEX: &str = "actor-index";

/// The name of the AgentJobs index by workspace (jobs newest first by id).
pub const JOBS_WORKSPACE_INDEX: &str = "workspace-index";

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

/// The health probe's samples, 90 days.
pub const HEALTH_SAMPLES: TableDef = TableDef {
    suffix: "health-samples",
    hash_key: "check",
    range_key: Some("at"),
    ttl: true,
    indexes: &[],
};

/// Every table Warden uses.
pub const ALL: [TableDef; 12] = [
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
    HEALTH_SAMPLES,
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

/// Creates every table under `prefix` (pay per request, encrypted) and
/// turns on TTL where items expire. Tables that already exist are left as
/// they are. Returns the names of the tables created.
pub async fn create_all(client: &Client, prefix: &str) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for def in ALL {
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
            let (range, kind) = index.range_key;
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .key_schema(key(index.hash_key, KeyType::Hash)?)
                    .key_schema(key(range, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build_err)?,
            );
            attrs.extend([(index.hash_key, KeyKind::S), (range, kind)]);
        }
        attrs.sort_unstable_by_key(|(name, _)| *name);
        attrs.dedup_by_key(|(name, _)| *name);
        for (attr, kind) in attrs {
            request = request.attribute_definitions(attr_def(attr, kind)?);
        }
        match request.send().await {
            Ok(_) => created.push(name.clone()),
            Err(err) => {
                let service = err.into_service_error();
                if !service.is_resource_in_use_exception() {
                    return Err(Error::unavailable(format!(
                        "creating table {name}: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(&service)
                    )));
                }
                continue;
            }
        }
        if def.ttl {
            client
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(TTL_ATTRIBUTE)
                        .enabled(true)
                        .build()
                        .map_err(build_err)?,
                )
                .send()
                .await
                .map_err(|e| {
                    Error::unavailable(format!(
                        "enabling TTL on {name}: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                    ))
                })?;
        }
    }
    Ok(created)
}
