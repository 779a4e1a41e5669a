//! `tables::create_all` (`warden tables create`) against the emulator: it
//! waits for a table to be `ACTIVE` before changing it, and a second run
//! completes tables that exist (a missing index, TTL off).
//!
//! The emulator's tables are `ACTIVE` at once, and it lets TTL and indexes
//! change on a table at any time; DynamoDB does neither. [`Lifecycle`], a
//! fault hook on the SDK client, plays DynamoDB's part: a table is
//! `CREATING` (or `UPDATING`) for a few `DescribeTable`s after a
//! `CreateTable` (an `UpdateTable`), and `UpdateTimeToLive` or
//! `UpdateTable` meanwhile is refused as DynamoDB refuses it.
//!
//! Each test skips without `WARDEN_TEST_AWS_ENDPOINT` (and fails without it
//! under `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate,
    KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use warden::store::dynamo::tables::{self, TableDef, TableReport, Waits};

/// Polls fast: the hook's tables are busy for a few polls, not seconds.
const FAST: Waits = Waits {
    interval: Duration::from_millis(10),
    max: Duration::from_secs(60),
};

/// How many `DescribeTable`s a table stays busy after it is created or
/// updated.
const BUSY_POLLS: u32 = 2;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// DynamoDB's table life cycle, over the emulator's tables.
#[derive(Debug, Clone, Default)]
struct Lifecycle(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    /// Tables still busy: their status, and the `DescribeTable`s left
    /// before they are `ACTIVE`.
    busy: HashMap<String, (&'static str, u32)>,
    /// Every call, as `Operation table`, with `REFUSED` after the refused
    /// ones and the status answered after a faked `DescribeTable`.
    calls: Vec<String>,
}

/// What the hook does to one call's answer.
#[derive(Debug, Clone)]
enum Fake {
    /// Answer `DescribeTable` with this status.
    Status(String, &'static str),
    /// Refuse the change: the table is busy.
    Refuse(String, &'static str),
    /// The table is busy in this status if the call succeeds.
    BusyIfAccepted(String, &'static str),
}

impl Storable for Fake {
    type Storer = StoreReplace<Self>;
}

impl Lifecycle {
    fn calls(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .calls
            .clone()
    }
}

impl Intercept for Lifecycle {
    fn name(&self) -> &'static str {
        "Lifecycle"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let body: serde_json::Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let table = body["TableName"].as_str().unwrap_or_default().to_owned();
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let busy = state.busy.get(&table).copied();
        let mut call = format!("{operation} {table}");
        match (operation.as_str(), busy) {
            ("DescribeTable", Some((status, left))) => {
                if left <= 1 {
                    state.busy.remove(&table);
                } else {
                    state.busy.insert(table.clone(), (status, left - 1));
                }
                call.push_str(&format!(" {status}"));
                cfg.interceptor_state()
                    .store_put(Fake::Status(table.clone(), status));
            }
            ("UpdateTimeToLive" | "UpdateTable", Some((status, _))) => {
                // Refused, so the emulator must not apply it: send it a
                // harmless read instead, and answer the refusal.
                request
                    .headers_mut()
                    .insert("x-amz-target", "DynamoDB_20120810.DescribeLimits");
                request.headers_mut().insert("content-length", "2");
                *request.body_mut() = SdkBody::from("{}");
                call.push_str(" REFUSED");
                cfg.interceptor_state()
                    .store_put(Fake::Refuse(table.clone(), status));
            }
            // Busy once the emulator has accepted it (a CreateTable of a
            // table that exists changes nothing).
            ("CreateTable", _) => {
                cfg.interceptor_state()
                    .store_put(Fake::BusyIfAccepted(table.clone(), "CREATING"));
            }
            ("UpdateTable", None) => {
                cfg.interceptor_state()
                    .store_put(Fake::BusyIfAccepted(table.clone(), "UPDATING"));
            }
            _ => {}
        }
        state.calls.push(call);
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (status, body) = match cfg.load::<Fake>() {
            None => return Ok(()),
            Some(Fake::BusyIfAccepted(table, status)) => {
                if context.response().status().is_success() {
                    self.0
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .busy
                        .insert(table.clone(), (status, BUSY_POLLS));
                }
                return Ok(());
            }
            Some(Fake::Status(table, status)) => (
                200,
                serde_json::json!({"Table": {"TableName": table, "TableStatus": status}}),
            ),
            // What DynamoDB answers a change of a table being created or
            // updated.
            Some(Fake::Refuse(table, status)) => (
                400,
                serde_json::json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
                    "message": format!("Attempt to change a resource which is still in use: Table is {status}: {table}"),
                }),
            ),
        };
        let mut response = HttpResponse::new(
            StatusCode::try_from(status)?,
            SdkBody::from(body.to_string()),
        );
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        *context.response_mut() = response;
        Ok(())
    }
}

/// A client on the emulator, with `hook` on every call when given.
async fn client(endpoint: &str, hook: Option<Lifecycle>) -> Client {
    let sdk = warden::testing::aws_config(endpoint).await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Some(hook) = hook {
        config = config.interceptor(hook);
    }
    Client::from_conf(config.build())
}

/// Creates `def` under `prefix` by hand: its keys only, no index, no TTL
/// (as an older `tables create` left it, or a run that stopped).
async fn bare_table(client: &Client, def: &TableDef, prefix: &str) {
    let mut request = client
        .create_table()
        .table_name(def.name(prefix))
        .billing_mode(BillingMode::PayPerRequest);
    let mut keys = vec![(def.hash_key, KeyType::Hash)];
    keys.extend(def.range_key.map(|r| (r, KeyType::Range)));
    for (name, kind) in keys {
        request = request
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            );
    }
    request.send().await.unwrap();
}

/// The names of the indexes of `name`.
async fn indexes(client: &Client, name: &str) -> Vec<String> {
    let out = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = out
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Whether TTL is on for `name`, on `expires_at`.
async fn ttl_on(client: &Client, name: &str) -> bool {
    let out = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .unwrap();
    let d = out.time_to_live_description().unwrap();
    matches!(
        d.time_to_live_status(),
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) && d.attribute_name() == Some(tables::TTL_ATTRIBUTE)
}

fn report<'a>(reports: &'a [TableReport], def: &TableDef, prefix: &str) -> &'a TableReport {
    let name = def.name(prefix);
    reports
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no report of {name}: {reports:?}"))
}

/// The calls of `log` on table `name`, in order.
fn calls_on(log: &[String], name: &str) -> Vec<String> {
    log.iter()
        .filter(|c| c.split(' ').nth(1) == Some(name))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_new_table_is_changed_only_once_it_is_active() {
    let Some(endpoint) = warden::testing::aws_endpoint() else {
        return;
    };
    let hook = Lifecycle::default();
    let client = client(&endpoint, Some(hook.clone())).await;
    let prefix = warden::testing::unique_prefix();
    let reports = tables::create_all_with(&client, &prefix, FAST)
        .await
        .unwrap_or_else(|e| panic!("{e} after {:?}", hook.calls()));
    let log = hook.calls();
    assert!(!log.iter().any(|c| c.ends_with("REFUSED")), "{log:?}");
    assert_eq!(reports.len(), tables::ALL.len());
    for def in tables::ALL {
        let r = report(&reports, &def, &prefix);
        assert!(r.created && r.indexes_created.is_empty(), "{r:?}");
        assert_eq!(r.ttl_enabled, def.ttl, "{r:?}");
    }
    // The table was described CREATING until it was ACTIVE, and only then
    // was its TTL turned on.
    let name = tables::ACTIVE_TOKENS.name(&prefix);
    assert_eq!(
        calls_on(&log, &name),
        [
            format!("CreateTable {name}"),
            format!("DescribeTable {name} CREATING"),
            format!("DescribeTable {name} CREATING"),
            format!("DescribeTable {name}"),
            format!("DescribeTimeToLive {name}"),
            format!("UpdateTimeToLive {name}"),
        ]
    );
    let client = self::client(&endpoint, None).await;
    assert!(ttl_on(&client, &name).await);
}

#[tokio::test]
async fn indexes_are_added_one_at_a_time_each_once_the_table_is_active_again() {
    let Some(endpoint) = warden::testing::aws_endpoint() else {
        return;
    };
    let prefix = warden::testing::unique_prefix();
    let plain = client(&endpoint, None).await;
    // AgentJobs has two indexes: both missing, and TTL off.
    bare_table(&plain, &tables::AGENT_JOBS, &prefix).await;
    let hook = Lifecycle::default();
    let client = client(&endpoint, Some(hook.clone())).await;
    let reports = tables::create_all_with(&client, &prefix, FAST)
        .await
        .unwrap_or_else(|e| panic!("{e} after {:?}", hook.calls()));
    let log = hook.calls();
    assert!(!log.iter().any(|c| c.ends_with("REFUSED")), "{log:?}");
    let jobs = report(&reports, &tables::AGENT_JOBS, &prefix);
    assert!(!jobs.created && jobs.ttl_enabled, "{jobs:?}");
    assert_eq!(
        jobs.indexes_created,
        [tables::JOBS_WORKSPACE_INDEX, tables::JOBS_LEASE_INDEX]
    );
    let name = jobs.name.clone();
    let updates: Vec<usize> = calls_on(&log, &name)
        .iter()
        .enumerate()
        .filter(|(_, c)| c.starts_with("UpdateTable"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(updates.len(), 2, "{log:?}");
    let between = &calls_on(&log, &name)[updates[0] + 1..updates[1]];
    assert_eq!(
        between,
        [
            format!("DescribeTable {name} UPDATING"),
            format!("DescribeTable {name} UPDATING"),
            format!("DescribeTable {name}"),
        ]
    );
    let mut expected = vec![
        tables::JOBS_LEASE_INDEX.to_owned(),
        tables::JOBS_WORKSPACE_INDEX.to_owned(),
    ];
    expected.sort();
    assert_eq!(indexes(&plain, &name).await, expected);
    assert!(ttl_on(&plain, &name).await);
}

#[tokio::test]
async fn a_second_run_adds_a_missing_index_and_turns_ttl_on_again() {
    let Some(endpoint) = warden::testing::aws_endpoint() else {
        return;
    };
    let client = client(&endpoint, None).await;
    let prefix = warden::testing::unique_prefix();
    // The audit log made by hand without its index and TTL; the rest by a
    // first run.
    bare_table(&client, &tables::AUDIT_LOG, &prefix).await;
    let first = tables::create_all_with(&client, &prefix, FAST)
        .await
        .unwrap();
    let audit = report(&first, &tables::AUDIT_LOG, &prefix);
    assert!(!audit.created, "{audit:?}");
    assert_eq!(audit.indexes_created, [tables::AUDIT_ACTOR_INDEX]);
    assert!(audit.ttl_enabled);
    assert_eq!(
        indexes(&client, &audit.name).await,
        [tables::AUDIT_ACTOR_INDEX]
    );
    assert!(ttl_on(&client, &audit.name).await);

    // An index dropped and TTL turned off since: both come back.
    let jobs = tables::AGENT_JOBS.name(&prefix);
    client
        .update_table()
        .table_name(&jobs)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name(tables::JOBS_LEASE_INDEX)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sessions = tables::ACTIVE_TOKENS.name(&prefix);
    client
        .update_time_to_live()
        .table_name(&sessions)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(tables::TTL_ATTRIBUTE)
                .enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(!ttl_on(&client, &sessions).await);
    assert_eq!(
        indexes(&client, &jobs).await,
        [tables::JOBS_WORKSPACE_INDEX]
    );

    let second = tables::create_all_with(&client, &prefix, FAST)
        .await
        .unwrap();
    let changed: Vec<&TableReport> = second.iter().filter(|r| r.changed()).collect();
    assert_eq!(changed.len(), 2, "{second:?}");
    let r = report(&second, &tables::AGENT_JOBS, &prefix);
    assert_eq!(r.indexes_created, [tables::JOBS_LEASE_INDEX]);
    assert!(!r.created && !r.ttl_enabled, "{r:?}");
    let r = report(&second, &tables::ACTIVE_TOKENS, &prefix);
    assert!(r.ttl_enabled && !r.created && r.indexes_created.is_empty());
    assert!(ttl_on(&client, &sessions).await);
    let mut expected = vec![
        tables::JOBS_LEASE_INDEX.to_owned(),
        tables::JOBS_WORKSPACE_INDEX.to_owned(),
    ];
    expected.sort();
    assert_eq!(indexes(&client, &jobs).await, expected);

    // Complete: a third run changes nothing.
    let third = tables::create_all_with(&client, &prefix, FAST)
        .await
        .unwrap();
    assert!(!third.iter().any(TableReport::changed), "{third:?}");
}
