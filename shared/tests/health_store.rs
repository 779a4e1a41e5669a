//! The health samples port on both adapters: the embedded memory store and
//! DynamoDB through the real AWS SDK (against the emulator `infra/test.sh`
//! starts). Each check runs against both.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use warden::Error;
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::health::{Sample, Status};
use warden::store::health::{DAY_MS, SAMPLE_RETENTION_SECS, day_of};
use warden::store::{HealthStore, HealthWrite, Write};

const T0: i64 = 1_795_953_600_000; // 2026-11-29T12:00:00Z

fn sample(at_ms: i64, status: Status, failing: &[&str]) -> Sample {
    Sample {
        at_ms,
        status,
        failing: failing.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn write(sample: &Sample) -> Write {
    HealthWrite::Sample {
        sample: sample.clone(),
        expires_at: sample.at_ms / 1000 + SAMPLE_RETENTION_SECS,
    }
    .into()
}

fn event(at_ms: i64) -> AuditEvent {
    AuditEvent::new(
        EventType::HealthFailing,
        Severity::Critical,
        Origin::Schedule {
            rule: "tests".into(),
        },
        at_ms,
        30,
    )
    .actor("health-probe")
}

async fn samples_read_back_by_day_in_time_order(store: Arc<dyn HealthStore>) {
    let day = day_of(T0);
    assert_eq!(store.latest_sample(day).await.unwrap(), None);
    assert!(store.samples_on(day).await.unwrap().is_empty());
    let samples = [
        sample(
            T0 + 120_000,
            Status::Failing,
            &["queue:jobs", "table:users"],
        ),
        sample(T0, Status::Ok, &[]),
        sample(T0 + 60_000, Status::Degraded, &[]),
        sample(T0 + 180_250, Status::Ok, &[]),
        // The last millisecond of the day before, and the first of the next.
        sample(day * DAY_MS - 1, Status::Failing, &["webhooks"]),
        sample((day + 1) * DAY_MS, Status::Ok, &[]),
    ];
    for s in &samples {
        store.transact(vec![write(s)]).await.unwrap();
    }
    let on_day = store.samples_on(day).await.unwrap();
    let times: Vec<i64> = on_day.iter().map(|s| s.at_ms).collect();
    assert_eq!(times, vec![T0, T0 + 60_000, T0 + 120_000, T0 + 180_250]);
    assert_eq!(
        on_day[2], samples[0],
        "status and failing checks kept, in order"
    );
    assert_eq!(on_day[1].status, Status::Degraded);
    assert_eq!(
        store.samples_on(day - 1).await.unwrap(),
        vec![samples[4].clone()]
    );
    assert_eq!(
        store.samples_on(day + 1).await.unwrap(),
        vec![samples[5].clone()]
    );
    // The newest of the day; of the day before when the day has none.
    assert_eq!(
        store.latest_sample(day).await.unwrap(),
        Some(samples[3].clone())
    );
    assert_eq!(
        store.latest_sample(day + 2).await.unwrap(),
        Some(samples[5].clone())
    );
    assert_eq!(store.latest_sample(day + 3).await.unwrap(), None);
}

async fn a_sample_lands_with_its_audit_event_or_not_at_all(store: Arc<dyn HealthStore>) {
    let first = sample(T0, Status::Failing, &["webhooks"]);
    let audit = event(T0);
    store
        .transact(vec![write(&first), audit.clone().into()])
        .await
        .unwrap();
    // The same millisecond twice is refused.
    assert!(matches!(
        store.transact(vec![write(&first)]).await,
        Err(Error::ConditionFailed)
    ));
    // A new sample with an audit event that cannot be written (its id is
    // taken): neither lands.
    let second = sample(T0 + 60_000, Status::Ok, &[]);
    assert!(matches!(
        store.transact(vec![write(&second), audit.into()]).await,
        Err(Error::ConditionFailed)
    ));
    assert_eq!(store.samples_on(day_of(T0)).await.unwrap(), vec![first]);
}

warden::on_both_stores!(
    |store| store as Arc<dyn HealthStore>;
    samples_read_back_by_day_in_time_order,
    a_sample_lands_with_its_audit_event_or_not_at_all,
);
