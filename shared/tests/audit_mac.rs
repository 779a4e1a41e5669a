//! A store given the audit MAC key seals every audit event it writes,
//! whoever built the event, on both adapters (DynamoDB through the SDK
//! against the emulator; skipped without `WARDEN_TEST_AWS_ENDPOINT`, and
//! failing without it under `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use secrecy::SecretString;
use warden::audit::mac::{MacCheck, MacKey};
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::store::memory::MemoryStore;
use warden::store::{AuditStore, Transactions, Write};

fn key() -> MacKey {
    MacKey::new(&SecretString::from(
        "audit-mac-test-key-0123456789abcdef0123456789".to_owned(),
    ))
    .unwrap()
}

fn event(actor: &str) -> AuditEvent {
    AuditEvent::new(
        EventType::UserDisabled,
        Severity::Warning,
        Origin::Cli {
            operator: "local".into(),
        },
        1_796_631_000_000,
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
    let sealed = written(&MemoryStore::new().with_audit_mac(key()), "mac-memory").await;
    assert_eq!(key().check(&sealed), MacCheck::Valid);
    let plain = written(&MemoryStore::new(), "mac-memory-plain").await;
    assert_eq!(key().check(&plain), MacCheck::Missing);
}

#[tokio::test]
async fn the_dynamodb_store_seals_what_it_writes_with_the_key_and_only_then() {
    let Some((store, _)) = warden::testing::dynamo_store().await else {
        return;
    };
    let sealed = written(&store.clone().with_audit_mac(key()), "mac-dynamo").await;
    assert_eq!(key().check(&sealed), MacCheck::Valid);
    let plain = written(&store, "mac-dynamo-plain").await;
    assert_eq!(key().check(&plain), MacCheck::Missing);
}
