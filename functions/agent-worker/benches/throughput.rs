//! Worker throughput: executed `compare_vendors` jobs (20 needs, 60 quotes)
//! per second through [`warden::agents::worker::process`], one message at a
//! time as one Lambda invocation handles its batch: the job-and-agent read,
//! the run-time governance check, `PENDING -> RUNNING`, the action on the
//! blocking pool, the final move. On the memory store, and on DynamoDB
//! (the emulator) when `WARDEN_TEST_AWS_ENDPOINT` is set.
//!
//! Each sample's jobs are created (untimed) before the sample is timed, so
//! only the worker is measured. Criterion's "thrpt" is jobs per second.
//!
//! `taskset -c 0 cargo bench -p warden-agent-worker --bench throughput`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use warden::agents::registry::register_agent;
use warden::agents::run::JobMessage;
use warden::agents::worker::{Processed, Source, process};
use warden::audit::Origin;
use warden::clock::Clock;
use warden::domain::agents::{AgentId, AgentType, JobRecord, JobStatus, Maturity, WorkspaceId};
use warden::store::{AgentWrite, AuthStore, RegistryStore, WorkerStore};
use warden::testing::{self, AgentWorld};

const NEEDS: usize = 20;
const QUOTES_PER_NEED: usize = 3;

/// 20 needs, each quoted by 3 vendors: 60 quotes.
fn comparison() -> Value {
    let needs: Vec<Value> = (0..NEEDS)
        .map(|i| json!({"sku": format!("SKU-{i:02}"), "quantity": 10 + i, "current_vendor": "vendor-0"}))
        .collect();
    let quotes: Vec<Value> = (0..NEEDS)
        .flat_map(|i| {
            (0..QUOTES_PER_NEED).map(move |v| {
                json!({
                    "vendor": format!("vendor-{v}"),
                    "sku": format!("SKU-{i:02}"),
                    "unit_price_cents": 1_000 + 37 * i + 100 * (QUOTES_PER_NEED - v),
                    "min_quantity": 1,
                })
            })
        })
        .collect();
    json!({"needs": needs, "quotes": quotes})
}

/// The world with a SUPERVISED purchasing agent in workspace `acme`.
async fn world<S: AuthStore + RegistryStore + WorkerStore + 'static>(store: Arc<S>) -> AgentWorld {
    let world = AgentWorld::over(store);
    let cli = || Origin::Cli {
        operator: "bench".into(),
    };
    testing::add_workspace(&world.agents, cli(), "acme", "Acme").await;
    let buyer = testing::new_agent("buyer", AgentType::Purchasing, Maturity::Supervised, "acme");
    register_agent(&world.agents, cli(), buyer).await.unwrap();
    world
}

/// `n` PENDING jobs as the run use case stores them, and their messages.
async fn pending_jobs(world: &AgentWorld, input: &Value, n: u64) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..n {
        let now = world.clock.now_millis();
        let job_id = ulid::Ulid::new().to_string();
        let job = JobRecord {
            job_id: job_id.clone(),
            agent_id: AgentId::parse("buyer").unwrap(),
            workspace_id: WorkspaceId::parse("acme").unwrap(),
            action: "compare_vendors".into(),
            input: input.to_string(),
            status: JobStatus::Pending,
            requested_by: "user:bench".into(),
            proposal_id: None,
            decision_event_id: None,
            decide_by: None,
            lease_until: None,
            requeues: 0,
            result: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        world
            .worker
            .store
            .transact(vec![AgentWrite::CreateJob(job).into()])
            .await
            .unwrap();
        bodies.push(
            serde_json::to_string(&JobMessage {
                job_id,
                agent_id: AgentId::parse("buyer").unwrap(),
            })
            .unwrap(),
        );
    }
    bodies
}

/// Times `iters` executed jobs, one after another.
async fn run_jobs(world: &AgentWorld, input: &Value, iters: u64) -> Duration {
    let bodies = pending_jobs(world, input, iters).await;
    let started = Instant::now();
    for (i, body) in bodies.iter().enumerate() {
        let deadline = world.clock.now_millis() + 30_000;
        let processed = process(
            &world.worker,
            &format!("m-{i}"),
            body,
            Source::Jobs,
            deadline,
        )
        .await
        .unwrap();
        assert_eq!(processed, Processed::Ran(JobStatus::Success));
    }
    started.elapsed()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let input = comparison();
    assert_eq!(
        input["quotes"].as_array().unwrap().len(),
        NEEDS * QUOTES_PER_NEED
    );

    let mut group = c.benchmark_group("worker");
    group.throughput(Throughput::Elements(1));

    // What the action itself costs, without the worker around it.
    let action = warden::agents::catalogue::catalogue()
        .find(AgentType::Purchasing, "compare_vendors")
        .unwrap();
    group.bench_function("compare_vendors 20x60, the action alone", |b| {
        b.iter(|| action.run(&input.to_string()).unwrap());
    });

    let memory = rt.block_on(world(Arc::new(warden::store::memory::MemoryStore::new())));
    group.bench_function("compare_vendors 20x60, memory store", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| run_jobs(&memory, &input, iters));
    });

    if std::env::var("WARDEN_TEST_AWS_ENDPOINT").is_ok_and(|e| !e.is_empty()) {
        let (store, _) = rt
            .block_on(warden::testing::dynamo_store())
            .expect("the emulator runs");
        let dynamo = rt.block_on(world(Arc::new(store)));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(15));
        group.bench_function("compare_vendors 20x60, DynamoDB (emulator)", |b| {
            b.to_async(&rt)
                .iter_custom(|iters| run_jobs(&dynamo, &input, iters));
        });
    } else {
        eprintln!("skipping the DynamoDB benchmark: WARDEN_TEST_AWS_ENDPOINT is not set");
    }
    group.finish();
}

criterion_group!(throughput, benches);
criterion_main!(throughput);
