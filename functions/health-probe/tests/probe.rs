//! The probe, called as a function on both stores: one sample per run, an
//! audit event on each change of status written with it, and nothing
//! stored when the audit event cannot be.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use warden::audit::EventType;
use warden::clock::ManualClock;
use warden::config::{Check, Finding, Severity};
use warden::health::Status;
use warden::health::inventory::{Inventory, WebhookInventory};
use warden::health::probe::PROBE_ACTOR;
use warden::state::HealthState;
use warden::store::health::day_of;
use warden::store::{AuditStore as _, HealthSampleStore as _, HealthStore};
use warden_health_probe::handler;

const NOW_MS: i64 = 1_795_953_601_000; // 2026-11-29T12:00:01Z

/// A development deployment on `store` (nothing to describe), whose
/// status the test sets through its findings and webhook sources.
fn state(store: Arc<dyn HealthStore>, clock: Arc<ManualClock>) -> HealthState {
    let config = warden::testing::config();
    let inventory = Inventory::from_config(&config, None, WebhookInventory::default());
    let mut state = HealthState::new(config, inventory, None, store, clock);
    state.findings = warden::config::Findings(vec![Finding::ok(Check::Cors, "fine".into())]);
    state
}

/// Sets the deployment to `status`: a warning for `degraded`, a webhook
/// source without a secret for `failing`.
fn set(state: &mut HealthState, status: Status) {
    state.findings.0 = vec![match status {
        Status::Degraded => Finding::new(
            Check::AccessTokenTtl,
            Severity::Warning,
            "long".into(),
            "shorten",
        ),
        _ => Finding::ok(Check::Cors, "fine".into()),
    }];
    state.inventory.webhooks.problem =
        (status == Status::Failing).then(|| "webhook source \"x\" has no secret".to_owned());
}

fn scheduled() -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(
        json!({
            "source": "aws.events",
            "detail-type": "Scheduled Event",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/test-health-probe"]
        }),
        Context::default(),
    )
}

async fn each_change_of_status_is_audited_with_its_sample(store: Arc<dyn HealthStore>) {
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let mut s = state(store.clone(), clock.clone());
    let mut expected_events = Vec::new();
    for (status, event) in [
        (Status::Ok, None),
        (Status::Failing, Some(EventType::HealthFailing)),
        (Status::Failing, None),
        (Status::Degraded, Some(EventType::HealthDegraded)),
        (Status::Ok, Some(EventType::HealthRecovered)),
        (Status::Ok, None),
    ] {
        set(&mut s, status);
        let answer = handler(&s, scheduled()).await.unwrap();
        assert_eq!(answer["status"], status.as_str());
        expected_events.extend(event);
        clock.advance_secs(60.0);
    }
    let samples = store.samples_on(day_of(NOW_MS)).await.unwrap();
    let statuses: Vec<Status> = samples.iter().map(|s| s.status).collect();
    use Status::{Degraded, Failing, Ok};
    assert_eq!(statuses, vec![Ok, Failing, Failing, Degraded, Ok, Ok]);
    assert_eq!(samples[1].failing, vec!["webhooks".to_owned()]);
    // Stamped with the start of its minute: 12:01:00.
    assert_eq!(samples[1].at_ms, NOW_MS - 1_000 + 60_000);
    let events = store.audit_by_actor(PROBE_ACTOR, 10).await.unwrap();
    let types: Vec<EventType> = events.iter().rev().map(|e| e.event_type).collect();
    assert_eq!(types, expected_events);
    let failing = events.last().unwrap();
    assert_eq!(
        failing.at_millis,
        NOW_MS + 60_000,
        "stamped with its sample"
    );
    assert_eq!(failing.details["previous"], "ok");
    assert_eq!(failing.details["failing"], json!(["webhooks"]));
    assert_eq!(
        failing.origin,
        warden::audit::Origin::Schedule {
            rule: "arn:aws:events:us-east-1:123456789012:rule/test-health-probe".into()
        }
    );
}

warden::on_both_stores!(
    |store| store as Arc<dyn HealthStore>;
    each_change_of_status_is_audited_with_its_sample,
);

#[tokio::test]
async fn a_second_delivery_of_a_scheduled_event_stores_nothing_more() {
    let store = Arc::new(warden::store::memory::MemoryStore::new());
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let mut s = state(store.clone(), clock.clone());
    set(&mut s, Status::Failing);
    let event = || {
        let mut e = scheduled();
        e.payload["time"] = json!("2026-11-29T12:00:00Z");
        e
    };
    let first = handler(&s, event()).await.unwrap();
    assert_eq!(first["recorded"], true);
    // Delivered again 40 s later (a retry): same minute, nothing written.
    clock.advance_secs(40.0);
    let again = handler(&s, event()).await.unwrap();
    assert_eq!(again["recorded"], false);
    assert_eq!(store.samples_on(day_of(NOW_MS)).await.unwrap().len(), 1);
    assert_eq!(
        store.audit_by_actor(PROBE_ACTOR, 10).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn memory_no_sample_is_stored_when_its_audit_event_cannot_be() {
    let store = Arc::new(warden::store::memory::MemoryStore::new());
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let mut s = state(store.clone(), clock.clone());
    handler(&s, scheduled()).await.unwrap();
    clock.advance_secs(60.0);
    store.simulate_audit_outage(true);
    set(&mut s, Status::Failing);
    assert!(handler(&s, scheduled()).await.is_err());
    assert_eq!(store.samples_on(day_of(NOW_MS)).await.unwrap().len(), 1);
    // Back up: the change is audited at the next run.
    store.simulate_audit_outage(false);
    clock.advance_secs(60.0);
    handler(&s, scheduled()).await.unwrap();
    let events = store.audit_by_actor(PROBE_ACTOR, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, EventType::HealthFailing);
}

#[tokio::test]
async fn dynamodb_no_sample_is_stored_when_its_audit_event_cannot_be() {
    let Some((store, prefix)) = warden::testing::dynamo_store().await else {
        return;
    };
    let client = store.client().clone();
    let store = Arc::new(store);
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let mut s = state(store.clone(), clock.clone());
    handler(&s, scheduled()).await.unwrap();
    clock.advance_secs(60.0);
    client
        .delete_table()
        .table_name(warden::store::dynamo::tables::AUDIT_LOG.name(&prefix))
        .send()
        .await
        .unwrap();
    set(&mut s, Status::Failing);
    assert!(handler(&s, scheduled()).await.is_err());
    assert_eq!(store.samples_on(day_of(NOW_MS)).await.unwrap().len(), 1);
}
