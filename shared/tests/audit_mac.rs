//! A store given the audit MAC key seals every audit event it writes,
//! whoever built the event, on both adapters (DynamoDB through the SDK
//! against the emulator; skipped without `WARDEN_TEST_AWS_ENDPOINT`, and
//! failing without it under `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use secrecy::SecretString;
use std::sync::Arc;
use warden::audit::mac::{MacCheck, MacKey};
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::store::memory::MemoryStore;

use warden::clock::ManualClock;
use warden::store::{AuditStore, Transactions, Write};

fn key() -> MacKey {
    MacKey::new(&SecretString::from(
        "audit-mac-test-key-0123456789abcdef0123456789".to_owned(),
    ))
    .unwrap()
}

/// The events' time.
const AT: i64 = 1_796_631_000_000;

/// A writer's clock standing at `at`.
fn clock(at: i64) -> Arc<ManualClock> {
    Arc::new(ManualClock::at_millis(at))
}

fn event(actor: &str) -> AuditEvent {
    AuditEvent::new(
        EventType::UserDisabled,
        Severity::Warning,
        Origin::Cli {
            operator: "local".into(),
        },
        AT,
        365,
    )
    .actor(actor)
    .detail("username", "erin")
}

/// Writes an unsealed event through `store`; what it reads back.
async fn written(store: &(impl AuditStore + Transactions), actor: &str) -> AuditEvent {
    store
        .transact(vec![Write::Audit(event(actor))])
        .await
        .unwrap();
    store.audit_by_actor(actor, 1).await.unwrap().remove(0)
}

#[tokio::test]
async fn the_memory_store_seals_what_it_writes_with_the_key_and_only_then() {
    let sealed = written(
        &MemoryStore::new()
            .with_audit_mac(key())
            .with_writer_clock(clock(AT)),
        "mac-memory",
    )
    .await;
    assert_eq!(key().check(&sealed), MacCheck::Valid);
    let plain = written(&MemoryStore::new(), "mac-memory-plain").await;
    assert_eq!(key().check(&plain), MacCheck::Missing);
}

#[tokio::test]
async fn the_dynamodb_store_seals_what_it_writes_with_the_key_and_only_then() {
    let Some((store, _)) = warden::testing::dynamo_store().await else {
        return;
    };
    let sealed = written(
        &store
            .clone()
            .with_audit_mac(key())
            .with_writer_clock(clock(AT)),
        "mac-dynamo",
    )
    .await;
    assert_eq!(key().check(&sealed), MacCheck::Valid);
    let plain = written(&store, "mac-dynamo-plain").await;
    assert_eq!(key().check(&plain), MacCheck::Missing);
}

/// A sealing store refuses an event stamped more than a minute from its
/// clock (60 s accepted, 60.001 s not, either way), and writes nothing.
#[tokio::test]
async fn a_sealing_store_refuses_an_event_more_than_a_minute_off_its_clock() {
    for off in [60_000, -60_000, 60_001, -60_001] {
        let store = MemoryStore::new()
            .with_audit_mac(key())
            .with_writer_clock(clock(AT - off));
        an_event_off_the_writers_clock_is_refused_once(&store, "clock-memory", off).await;
    }
    let Some((store, _)) = warden::testing::dynamo_store().await else {
        return;
    };
    for off in [60_000, -60_000, 60_001, -60_001] {
        let sealed = store
            .clone()
            .with_audit_mac(key())
            .with_writer_clock(clock(AT - off));
        an_event_off_the_writers_clock_is_refused_once(&sealed, "clock-dynamo", off).await;
    }
}

/// One write of an event stamped `off` ms from `store`'s clock: accepted
/// within a minute, refused (and nothing written) beyond.
async fn an_event_off_the_writers_clock_is_refused_once(
    store: &(impl AuditStore + Transactions),
    actor: &str,
    off: i64,
) {
    let actor = format!("{actor}{off}");
    let result = store.transact(vec![Write::Audit(event(&actor))]).await;
    let accepted = off.abs() <= 60_000;
    assert_eq!(result.is_ok(), accepted, "{off}: {result:?}");
    if !accepted {
        let err = result.unwrap_err().to_string();
        assert!(err.contains("from this writer's clock"), "{err}");
        assert!(store.audit_by_actor(&actor, 1).await.unwrap().is_empty());
    }
}
