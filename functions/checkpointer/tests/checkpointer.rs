//! The checkpointer function as deployed, through the real AWS SDK against
//! the emulator: its cold start (`wiring::checkpointer_with`) over a KMS
//! `ECC_NIST_P256` key, an S3 bucket with Object Lock in compliance mode
//! and the DynamoDB tables; each scheduled run writes the closed minutes'
//! checkpoints, copies each hash to the bucket, and the ledger verifies
//! against the key pinned out of band. Skips without
//! `WARDEN_TEST_AWS_ENDPOINT` (fails without it under
//! `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
    ObjectLockRule,
};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use warden::audit::copies::{CheckpointCopies, S3Copies};
use warden::audit::note::NoteKey;
use warden::audit::verify::{Settings, Sources};
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::clock::ManualClock;
use warden::store::{CheckpointStore as _, Transactions as _, Write};

const MINUTE: i64 = 60_000;

async fn locked_bucket(s3: &aws_sdk_s3::Client) -> String {
    let bucket = format!(
        "warden-checkpoints-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    s3.create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    s3.put_object_lock_configuration()
        .bucket(&bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Compliance)
                                .days(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    bucket
}

#[tokio::test]
async fn each_run_checkpoints_the_closed_minutes_signed_in_kms_and_copied_to_the_locked_bucket() {
    let Some(endpoint) = warden::testing::aws_endpoint() else {
        return;
    };
    let aws = warden::testing::aws_config(&endpoint).await;
    let kms = aws_sdk_kms::Client::new(&aws);
    let key_arn = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .and_then(|m| m.arn)
        .unwrap();
    let s3 = warden::wiring::s3_client(&aws);
    let bucket = locked_bucket(&s3).await;
    let (store, prefix) = warden::testing::dynamo_store().await.unwrap();

    let (config, findings) = warden::config::Config::load(|k| match k {
        "WARDEN_ENV" => Some("production".into()),
        "WARDEN_ISSUER" => Some("https://auth.example.com".into()),
        "WARDEN_TABLE_PREFIX" => Some(prefix.clone()),
        "WARDEN_CHECKPOINT_KEY_ARN" => Some(key_arn.clone()),
        "WARDEN_CHECKPOINT_BUCKET" => Some(bucket.clone()),
        _ => None,
    });
    let config = config.unwrap();
    assert!(!findings.has_errors(), "{findings:?}");
    assert_eq!(config.ledger_origin(), "auth.example.com/audit");
    let grace = config.ledger_grace_ms();
    let checkpointer = warden::wiring::checkpointer_with(config, &aws)
        .await
        .unwrap();

    // 2026-12-07T08:10:00Z; the first run starts the chain at the newest
    // closed minute.
    let t0 = 1_796_631_000_000;
    let run = |at: i64| {
        let checkpointer = &checkpointer;
        async move {
            let event = LambdaEvent::new(json!({"source": "aws.events"}), Context::default());
            warden_checkpointer::handler(checkpointer, &ManualClock::at_millis(at), event)
                .await
                .unwrap()
        }
    };
    let first = run(t0).await;
    assert_eq!(first["written"], 1);
    for i in 0..4 {
        let event = AuditEvent::new(
            EventType::LoginSuccess,
            Severity::Info,
            Origin::Cli {
                operator: "checkpointer-test".into(),
            },
            t0 + i * 20_000,
            365,
        )
        .actor(format!("user:{i}"));
        store.transact(vec![Write::Audit(event)]).await.unwrap();
    }
    let now = t0 + 3 * MINUTE + grace;
    let second = run(now).await;
    let closed = checkpointer.last_closed_minute(now) - checkpointer.last_closed_minute(t0);
    assert_eq!(closed, 5, "three minutes and the grace later");
    assert_eq!(second["written"], closed, "{second}");
    // A duplicate delivery of the same schedule writes nothing.
    assert_eq!(run(now).await["written"], 0);

    let records = store
        .checkpoints(t0 / MINUTE - 5, t0 / MINUTE + 10)
        .await
        .unwrap();
    assert_eq!(records.len(), 6);
    assert_eq!(
        records.iter().map(|c| c.leaves.len()).sum::<usize>(),
        4,
        "every event in one checkpoint"
    );

    // Each checkpoint's hash is in the bucket, locked in compliance mode.
    let copies = S3Copies::new(s3.clone(), &bucket);
    let copied = copies
        .recorded(t0 / MINUTE - 5, t0 / MINUTE + 10)
        .await
        .unwrap();
    assert_eq!(
        copied.keys().copied().collect::<Vec<_>>(),
        records.iter().map(|c| c.minute).collect::<Vec<_>>()
    );
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let object = listed.contents()[0].key().unwrap().to_owned();
    // (HeadObject: moto answers GetObjectRetention with the object.)
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(&object)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.object_lock_mode,
        Some(aws_sdk_s3::types::ObjectLockMode::Compliance)
    );
    assert!(head.object_lock_retain_until_date.is_some());

    // The ledger verifies against the key pinned out of band (its public
    // half from KMS, as `warden audit public-key` prints it).
    let der = kms
        .get_public_key()
        .key_id(&key_arn)
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap()
        .into_inner();
    let pinned = NoteKey::new("auth.example.com/audit", der).unwrap();
    let report = warden::audit::verify::verify(
        Sources {
            audit: &store,
            checkpoints: &store,
            copies: Some(&copies),
        },
        Settings {
            key: &pinned,
            mac: None,
            grace_ms: grace,
            retention_days: 365,
        },
        (t0 - 10 * MINUTE, now),
        now,
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.failure, None, "{report:?}");
    assert_eq!(report.events, 4);
}
