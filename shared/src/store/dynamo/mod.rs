//! The DynamoDB adapter of every storage port, through the AWS SDK.
//!
//! One module per domain (`auth`, `webhooks`, `agents`, `api_keys`,
//! `tools`, `health`, `audit`, `ratelimit`)
//! implements its port and turns its writes into transaction items; this
//! module holds what they share: the table names, expression building,
//! the consistent batch read, and [`Transactions::transact`], which sends
//! the writes of every domain as one `TransactWriteItems`.
//!
//! Reads that decide security (users, sessions, the denylist) are strongly
//! consistent. Attribute names in expressions always go through
//! `#placeholders`, so DynamoDB's long list of reserved words (`key` among
//! them) never bites.

mod agents;
mod api_keys;
mod audit;
mod auth;
mod checkpoints;
mod health;
pub mod item;
mod ratelimit;
pub mod tables;
mod tools;
mod webhooks;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem, Update,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use self::item::Item;
use super::{Transactions, Write};
use crate::{Error, Result};

/// The table names under one prefix.
#[derive(Debug, Clone)]
struct TableNames {
    users: String,
    active_tokens: String,
    revoked_tokens: String,
    audit_log: String,
    rate_limits: String,
    webhook_deliveries: String,
    agents: String,
    workspaces: String,
    agent_jobs: String,
    proposals: String,
    api_keys: String,
    tool_calls: String,
    health_samples: String,
    checkpoints: String,
}

/// The DynamoDB store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
    /// Seals every audit event written, when set.
    audit_mac: Option<crate::audit::mac::MacKey>,
    /// The clock a sealing store bounds events' times by (the system's
    /// when `None`).
    writer_clock: Option<std::sync::Arc<dyn crate::clock::Clock>>,
}

/// A failed SDK call: the store is unavailable. The SDK's error is reduced
/// to its operation and code ([`crate::aws::sdk_failure`]): its own text
/// can hold the request, items and their hashes included. A missing table
/// says how to create it.
fn unavailable<E: ProvideErrorMetadata>(what: &str, err: SdkError<E, HttpResponse>) -> Error {
    let mut text = crate::aws::sdk_failure(what, &err);
    if err.code() == Some("ResourceNotFoundException") {
        text.push_str(
            " (a table is missing: `warden tables create` creates them under WARDEN_TABLE_PREFIX)",
        );
    }
    Error::unavailable(text)
}

/// Why a write's outcome is unknown, when it is: the request may have
/// reached DynamoDB but no answer came back (a timeout, a connection lost
/// or an answer that could not be read). A refusal DynamoDB answered, or a
/// request that was never sent, changed nothing.
fn outcome_unknown<E, R>(err: &SdkError<E, R>) -> Option<&'static str> {
    match err {
        SdkError::TimeoutError(_) => Some("timed out"),
        SdkError::ResponseError(_) => Some("the answer could not be read"),
        SdkError::DispatchFailure(d) if d.is_timeout() => Some("timed out"),
        SdkError::DispatchFailure(d) if d.is_io() => {
            // A connection never made sent nothing.
            let never_connected = d
                .as_connector_error()
                .and_then(|c| crate::aws::find::<std::io::Error>(c))
                .is_some_and(|io| {
                    matches!(
                        io.kind(),
                        std::io::ErrorKind::ConnectionRefused
                            | std::io::ErrorKind::AddrNotAvailable
                            | std::io::ErrorKind::NetworkUnreachable
                            | std::io::ErrorKind::HostUnreachable
                    )
                });
            (!never_connected).then_some("connection lost")
        }
        _ => None,
    }
}

fn build_err(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::internal_from("building a DynamoDB request", e)
}

/// One update, condition or put, with its `#name` and `:value` maps.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names.insert(placeholder.into(), attribute.into());
        self
    }

    fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.into(), value);
        self
    }

    fn update(
        self,
        table: &str,
        key: Item,
        update: &str,
        condition: Option<&str>,
    ) -> Result<TransactWriteItem> {
        let u = Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    fn condition_check(self, table: &str, key: Item, condition: &str) -> Result<TransactWriteItem> {
        let c = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().condition_check(c).build())
    }

    fn put(self, table: &str, item: Item, condition: &str) -> Result<TransactWriteItem> {
        let p = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(p).build())
    }

    /// A delete under `condition`.
    fn delete(self, table: &str, key: Item, condition: &str) -> Result<TransactWriteItem> {
        let d = Delete::builder()
            .table_name(table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values((!self.values.is_empty()).then_some(self.values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().delete(d).build())
    }
}

/// An unconditional put: what replaces an item whatever it held.
fn put_always(table: &str, item: Item) -> Result<TransactWriteItem> {
    let p = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(p).build())
}

impl DynamoStore {
    /// Every table of the store under `prefix`, for the health checks.
    pub fn table_targets(prefix: &str) -> Vec<crate::store::TableTarget> {
        tables::ALL
            .iter()
            .map(|def| crate::store::TableTarget {
                suffix: def.suffix,
                name: def.name(prefix),
                ttl_attribute: def.ttl.then_some(tables::TTL_ATTRIBUTE),
            })
            .collect()
    }
}

impl DynamoStore {
    /// A store over the tables named `<prefix><table>`.
    pub fn new(client: Client, prefix: &str) -> Self {
        use tables::{
            ACTIVE_TOKENS, AGENT_JOBS, AGENTS, API_KEYS, AUDIT_LOG, CHECKPOINTS, HEALTH_SAMPLES,
            PROPOSALS, RATE_LIMITS, REVOKED_TOKENS, TOOL_CALLS, USERS, WEBHOOK_DELIVERIES,
            WORKSPACES,
        };
        Self {
            client,
            tables: TableNames {
                users: USERS.name(prefix),
                active_tokens: ACTIVE_TOKENS.name(prefix),
                revoked_tokens: REVOKED_TOKENS.name(prefix),
                audit_log: AUDIT_LOG.name(prefix),
                rate_limits: RATE_LIMITS.name(prefix),
                webhook_deliveries: WEBHOOK_DELIVERIES.name(prefix),
                agents: AGENTS.name(prefix),
                workspaces: WORKSPACES.name(prefix),
                agent_jobs: AGENT_JOBS.name(prefix),
                proposals: PROPOSALS.name(prefix),
                api_keys: API_KEYS.name(prefix),
                tool_calls: TOOL_CALLS.name(prefix),
                health_samples: HEALTH_SAMPLES.name(prefix),
                checkpoints: CHECKPOINTS.name(prefix),
            },
            audit_mac: None,
            writer_clock: None,
        }
    }

    /// This store, sealing every audit event it writes with `key`
    /// ([`crate::audit::mac`]).
    pub fn with_audit_mac(mut self, key: crate::audit::mac::MacKey) -> Self {
        self.audit_mac = Some(key);
        self
    }

    /// This store, bounding the times of the events it seals by `clock`
    /// instead of the system's (the CLI's: the AWS clock; tests: a
    /// manual one).
    pub fn with_writer_clock(mut self, clock: std::sync::Arc<dyn crate::clock::Clock>) -> Self {
        self.writer_clock = Some(clock);
        self
    }

    /// The SDK client, for health checks and table administration.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens the connection to DynamoDB during a cold start, with one cheap
    /// call (DescribeLimits: account limits, no table, no item), so that
    /// the function's first request finds it open instead of paying for
    /// DNS, TCP and TLS before its first read. Its answer does not matter;
    /// a failure is logged at debug level and the first request connects
    /// as it would have.
    ///
    /// DescribeLimits is throttled per account (AWS asks for at most one a
    /// minute), and many functions may start at once: a throttled answer
    /// opens the connection just as well, so the call is made once, without
    /// retries, and never holds up the cold start beyond its one attempt.
    pub async fn warm_up(&self) {
        let once = aws_sdk_dynamodb::config::Builder::default()
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled());
        let call = self
            .client
            .describe_limits()
            .customize()
            .config_override(once);
        if let Err(error) = call.send().await {
            let error = crate::aws::sdk_failure("DescribeLimits", &error);
            tracing::debug!(%error, "DynamoDB warm-up call failed");
        }
    }

    /// One consistent BatchGetItem over `(table, keys)` pairs, retrying
    /// unprocessed keys (throttling) a few times before giving up. The
    /// rounds together get the client's operation timeout, like one call:
    /// each round has it too, and the request's budget
    /// ([`crate::aws::CALLS_IN_SERIES`]) counts this as one call.
    async fn batch_get(
        &self,
        request: Vec<(&str, Vec<Item>)>,
    ) -> Result<HashMap<String, Vec<Item>>> {
        let mut pending: HashMap<String, KeysAndAttributes> = HashMap::new();
        for (table, keys) in request {
            let ka = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(build_err)?;
            pending.insert(table.to_owned(), ka);
        }
        let rounds = async {
            let mut found: HashMap<String, Vec<Item>> = HashMap::new();
            for attempt in 0..5_u32 {
                let out = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchGetItem", e))?;
                for (table, items) in out.responses.unwrap_or_default() {
                    found.entry(table).or_default().extend(items);
                }
                match out.unprocessed_keys {
                    Some(rest) if !rest.is_empty() => {
                        pending = rest;
                        tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                    }
                    _ => return Ok(found),
                }
            }
            Err(Error::unavailable(
                "BatchGetItem left keys unprocessed after retries",
            ))
        };
        let budget = self
            .client
            .config()
            .timeout_config()
            .and_then(|t| t.operation_timeout())
            .unwrap_or(crate::aws::Guards::default().operation_timeout);
        tokio::time::timeout(budget, rounds)
            .await
            .unwrap_or_else(|_| {
                Err(Error::unavailable(format!(
                    "BatchGetItem did not finish within {} ms",
                    budget.as_millis()
                )))
            })
    }

    fn write_items(&self, write: Write) -> Result<Vec<TransactWriteItem>> {
        match write {
            Write::Auth(w) => self.auth_items(w),
            Write::Webhook(w) => self.webhook_items(w).map(|i| vec![i]),
            Write::Audit(e) => self.audit_item(&e).map(|i| vec![i]),
            Write::Agent(w) => self.agent_items(w).map(|i| vec![i]),
            Write::ApiKey(w) => self.api_key_items(w).map(|i| vec![i]),
            Write::Tool(w) => self.tool_items(w).map(|i| vec![i]),
            Write::Health(w) => self.health_items(w).map(|i| vec![i]),
        }
    }
}

#[async_trait]
impl Transactions for DynamoStore {
    #[tracing::instrument(level = "debug", skip_all, fields(writes = writes.len()), err(level = "debug"))]
    async fn transact(&self, mut writes: Vec<Write>) -> Result<()> {
        crate::store::seal_audit(
            &mut writes,
            self.audit_mac.as_ref(),
            self.writer_clock.as_deref(),
        )?;
        let mut items = Vec::with_capacity(writes.len() + 1);
        for write in writes {
            items.extend(self.write_items(write)?);
        }
        self.send_transaction(items).await
    }
}

impl DynamoStore {
    /// Sends `items` as one `TransactWriteItems`, its failure read as
    /// [`transact_error`] says.
    async fn send_transaction(&self, items: Vec<TransactWriteItem>) -> Result<()> {
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        out.map(|_| ()).map_err(transact_error)
    }
}

/// What a failed `TransactWriteItems` means to the caller: a failed
/// condition, an outcome unknown, a bug, or an outage.
fn transact_error(err: SdkError<TransactWriteItemsError, HttpResponse>) -> Error {
    if let Some(how) = outcome_unknown(&err) {
        // Sent, but no answer: it may have committed. The SDK's retries
        // carry the same ClientRequestToken, so they never applied it
        // twice; what the caller does next settles it.
        return Error::OutcomeUnknown {
            context: format!("TransactWriteItems: {how}"),
            retry_with_key: false,
            source: None,
        };
    }
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    {
        let condition_failed = cancelled
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed"));
        if condition_failed {
            return Error::ConditionFailed;
        }
    }
    if err.code() == Some("ValidationException") {
        // A malformed transaction is a bug, not an outage. Its message
        // is not kept: DynamoDB's validation messages quote values.
        return Error::internal(crate::aws::sdk_failure("TransactWriteItems refused", &err));
    }
    unavailable("TransactWriteItems", err)
}
