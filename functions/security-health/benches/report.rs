//! The latency of `/security/health`'s report with every check against the
//! emulator through the real SDK: 13 tables (DescribeTable, and
//! DescribeTimeToLive for the 7 with a TTL), 3 queues and their 3
//! dead-letter queues (GetQueueAttributes), 3 secrets (DescribeSecret), and
//! a day of probe samples (a Query per day of the window: 31 on a cold
//! start, today's alone when warm), all at once, each under the check
//! timeout. Needs `WARDEN_TEST_AWS_ENDPOINT` (as `infra/test.sh` sets it);
//! without it there is nothing real to measure and the bench says so.
//!
//! `WARDEN_TEST_AWS_ENDPOINT=http://127.0.0.1:5999 taskset -c 0 cargo bench -p warden-security-health --bench report`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use warden::aws::dependencies::AwsDependencies;
use warden::clock::{Clock as _, SystemClock};
use warden::config::Config;
use warden::health::endpoints::health_report;
use warden::health::inventory::{Inventory, WebhookInventory};
use warden::health::{Sample, Status};
use warden::state::HealthState;
use warden::store::dynamo::{DynamoStore, tables};
use warden::store::health::SAMPLE_RETENTION_SECS;
use warden::store::{HealthWrite, Transactions as _};

/// Every resource of a deployment on the emulator, and the state that
/// checks them.
async fn deployment(endpoint: &str) -> HealthState {
    let aws = warden::testing::aws_config(endpoint).await;
    let prefix = warden::testing::unique_prefix();
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    tables::create_all(&dynamodb, &prefix).await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let mut vars = vec![
        ("WARDEN_ENV".to_owned(), "production".to_owned()),
        ("WARDEN_TABLE_PREFIX".to_owned(), prefix.clone()),
        (
            "WARDEN_ISSUER".to_owned(),
            "https://auth.example.com".to_owned(),
        ),
        (
            "ALLOWED_ORIGINS".to_owned(),
            "https://app.example.com".to_owned(),
        ),
    ];
    for queue in ["events", "jobs", "outbound"] {
        for (suffix, var) in [("", "QUEUE"), ("-dlq", "DLQ")] {
            let url = sqs
                .create_queue()
                .queue_name(format!("{prefix}{queue}{suffix}"))
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap();
            vars.push((
                format!("WARDEN_{}_{var}_URL", queue.to_ascii_uppercase()),
                url,
            ));
        }
    }
    for (name, var) in [
        ("pepper", "WARDEN_API_KEY_PEPPER_ARN"),
        ("webhooks", "WARDEN_WEBHOOK_SECRETS_ARN"),
    ] {
        let arn = secrets
            .create_secret()
            .name(format!("{prefix}{name}"))
            .secret_string("[]")
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
        vars.push((var.to_owned(), arn));
    }
    let (config, findings) = Config::load(|k| {
        vars.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    });
    assert!(!findings.has_errors(), "{findings:?}");
    let config = config.unwrap();
    let store = Arc::new(DynamoStore::new(dynamodb, &prefix));
    // A day of samples, one a minute.
    let now = SystemClock.now_millis();
    for minute in 1..=1_440_i64 {
        let at_ms = now - minute * 60_000;
        store
            .transact(vec![
                HealthWrite::Sample {
                    sample: Sample {
                        at_ms,
                        status: Status::Ok,
                        failing: Vec::new(),
                    },
                    expires_at: at_ms / 1000 + SAMPLE_RETENTION_SECS,
                }
                .into(),
            ])
            .await
            .unwrap();
    }
    let tables = DynamoStore::table_targets(&config.table_prefix);
    let inventory =
        Inventory::from_config(&config, Some(tables), WebhookInventory::from_json("[]"));
    let deps = Arc::new(AwsDependencies::new(&aws));
    HealthState::new(config, inventory, Some(deps), store, Arc::new(SystemClock))
}

fn report(c: &mut Criterion) {
    let Some(endpoint) = warden::testing::aws_endpoint() else {
        eprintln!("WARDEN_TEST_AWS_ENDPOINT is not set: nothing real to measure");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let state = runtime.block_on(deployment(&endpoint));
    let first = runtime.block_on(health_report(&state));
    assert_eq!(first.status, Status::Ok, "{first:?}");
    assert_eq!(first.uptime.unknown_pct_24h, 0.0, "{:?}", first.uptime);
    let mut group = c.benchmark_group("security_health");
    group.sample_size(20);
    // A warm function: the days that can no longer change are cached, so
    // it reads today's samples (and yesterday's just after midnight).
    group.bench_function("warm: 25 checks and today's samples", |b| {
        b.to_async(&runtime).iter(|| health_report(&state));
    });
    // A cold start: every day of the 30-day window is read.
    group.bench_function("cold: 25 checks and 31 days of samples", |b| {
        b.to_async(&runtime).iter(|| {
            state.samples.clear();
            health_report(&state)
        });
    });
    group.finish();
}

criterion_group!(benches, report);
criterion_main!(benches);
