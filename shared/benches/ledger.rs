//! The audit ledger's costs, measured (a script, not criterion: each case
//! is one long operation):
//!
//! - the checkpointer's run over one minute of 10,000 audit events: its
//!   time, the DynamoDB requests it sent, and the bytes it read and wrote;
//!   on the embedded store and, when `WARDEN_TEST_AWS_ENDPOINT` names the
//!   emulator, on DynamoDB (moto);
//! - `verify` over a day: 1,440 checkpoints of 10 events each (14,400
//!   events), on both stores.
//!
//! Signing is local (P-256 in process); KMS's Sign is one call a minute.
//!
//! On DynamoDB the events are sealed here and bulk-loaded
//! ([`warden::store::dynamo::DynamoStore::load_audit_events`]): the
//! emulator copies a whole table for each transaction, so ten thousand
//! transactional writes would take most of an hour; what is measured is
//! the checkpointer and `verify`, which only read them.
//!
//! `cargo bench -p warden --bench ledger`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use secrecy::SecretString;
use warden::audit::checkpointer::Checkpointer;
use warden::audit::copies::MemoryCopies;
use warden::audit::mac::MacKey;
use warden::audit::note::{LocalNoteSigner, NoteSigner as _};
use warden::audit::verify::{self, Settings, Sources};
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::clock::ManualClock;
use warden::store::{AuditStore, CheckpointStore, Transactions, Write};

/// 2026-12-07T08:00:00Z: a minute's start.
const T0: i64 = 1_796_630_400_000;
const MINUTE: i64 = 60_000;
const GRACE_MS: i64 = 63_000;
const ORIGIN: &str = "bench.example/audit";

trait LedgerStore: AuditStore + CheckpointStore + Transactions {}
impl<T: AuditStore + CheckpointStore + Transactions> LedgerStore for T {}

fn mac() -> MacKey {
    MacKey::new(&SecretString::from(
        "ledger-bench-mac-key-0123456789abcdef0123456789".to_owned(),
    ))
    .unwrap()
}

/// A typical decision's event: an agent run request.
fn event(at_millis: i64, i: usize) -> AuditEvent {
    AuditEvent::new(
        EventType::AgentRunRequested,
        Severity::Info,
        Origin::Http {
            request_id: format!("req-{i:08}"),
            ip: "203.0.113.7".into(),
            user_agent: "bench/1.0".into(),
        },
        at_millis,
        365,
    )
    .actor(format!("user:01KBENCHUSER{:014}", i % 50))
    .subject("agent:buyer")
    .detail("job_id", format!("01KBENCHJOB{i:015}"))
    .detail("action", "compare_vendors")
    .detail("workspace_id", "acme")
    .detail("complexity", 1)
    .detail("maturity", "AUTONOMOUS")
    .detail("table_version", "maturity-complexity/1")
    .detail("rule", "runs")
}

/// How the events are written: through the store's transactions (100 at a
/// time), or sealed here and bulk-loaded (DynamoDB on the emulator, which
/// copies a whole table for each transaction).
enum Loader<'a> {
    Transactions(&'a dyn LedgerStore, &'a ManualClock),
    Bulk(&'a warden::store::dynamo::DynamoStore),
}

/// Writes `per_minute` events into each of `minutes` minutes from `start`.
async fn fill(loader: &Loader<'_>, start: i64, minutes: i64, per_minute: usize) {
    let mut n = 0;
    let mut events = Vec::new();
    for m in 0..minutes {
        let base = start + m * MINUTE;
        for i in 0..per_minute {
            n += 1;
            let mut e = event(base + (i as i64 * 59_000) / per_minute as i64, n);
            if let Loader::Bulk(_) = loader {
                mac().seal(&mut e).unwrap();
            }
            events.push(e);
        }
    }
    match loader {
        Loader::Transactions(store, clock) => {
            // Each transaction within one minute, the clock at its start:
            // every event is within a minute of the writer's clock.
            for chunk in events
                .chunk_by(|a, b| a.at_millis / MINUTE == b.at_millis / MINUTE)
                .flat_map(|m| m.chunks(100))
            {
                clock.set_millis(chunk[0].at_millis);
                let writes = chunk.iter().cloned().map(Write::Audit).collect();
                store.transact(writes).await.unwrap();
            }
        }
        Loader::Bulk(store) => store.load_audit_events(&events).await.unwrap(),
    }
}

async fn checkpoint_a_busy_minute(
    name: &str,
    store: Arc<dyn LedgerStore>,
    loader: &Loader<'_>,
    log: Option<&warden::testing::CallLog>,
) {
    let (signer, _) = LocalNoteSigner::generate(ORIGIN).unwrap();
    let checkpointer = Checkpointer::new(
        store.clone(),
        store.clone(),
        Arc::new(signer),
        ORIGIN,
        GRACE_MS,
    )
    .with_copies(Arc::new(MemoryCopies::new()));
    // The chain starts before the minute.
    checkpointer.run(T0 + GRACE_MS).await.unwrap();
    let started = Instant::now();
    fill(loader, T0 + MINUTE, 1, 10_000).await;
    let filled = started.elapsed();
    if let Some(log) = log {
        log.take();
    }
    let started = Instant::now();
    let written = checkpointer.run(T0 + 2 * MINUTE + GRACE_MS).await.unwrap();
    let took = started.elapsed();
    // The minute before (empty) and the busy one.
    assert_eq!(written.len(), 2);
    let busy = written.iter().find(|c| !c.leaves.is_empty()).unwrap();
    assert_eq!(busy.leaves.len(), 10_000);
    let requests = log.map(|l| {
        let calls = l.take();
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for c in calls {
            *counts.entry(c).or_default() += 1;
        }
        format!(" requests {counts:?}")
    });
    let bytes: usize = busy.leaves.iter().map(|l| l.len() + 1).sum::<usize>() + busy.note.len();
    println!(
        "{name}: checkpoints of an empty minute and a minute of 10,000 events: {:.0} ms (writing them took {:.1} s); checkpoint item and pages {} KB{}",
        took.as_secs_f64() * 1000.0,
        filled.as_secs_f64(),
        bytes / 1024,
        requests.unwrap_or_default()
    );
}

async fn verify_a_day(name: &str, store: Arc<dyn LedgerStore>, loader: &Loader<'_>) {
    let (signer, _) = LocalNoteSigner::generate(ORIGIN).unwrap();
    let key = signer.key().clone();
    let copies = Arc::new(MemoryCopies::new());
    let checkpointer = Checkpointer::new(
        store.clone(),
        store.clone(),
        Arc::new(signer),
        ORIGIN,
        GRACE_MS,
    )
    .with_copies(copies.clone());
    let day_start = T0 + 86_400_000;
    checkpointer.run(day_start + GRACE_MS).await.unwrap();
    fill(loader, day_start + MINUTE, 1_440, 10).await;
    let end = day_start + 1_441 * MINUTE;
    let mut now = day_start + GRACE_MS;
    while now < end + GRACE_MS {
        now += 120 * MINUTE;
        checkpointer.run(now.min(end + GRACE_MS)).await.unwrap();
    }
    let now = end + GRACE_MS;
    let mac = mac();
    let started = Instant::now();
    let report = verify::verify(
        Sources {
            audit: store.as_ref(),
            checkpoints: store.as_ref(),
            copies: Some(copies.as_ref()),
        },
        Settings {
            key: &key,
            mac: Some(&mac),
            grace_ms: GRACE_MS,
            retention_days: 365,
        },
        (day_start, end),
        now,
        &mut |_| {},
    )
    .await
    .unwrap();
    let took = started.elapsed();
    assert_eq!(report.failure, None, "{report:?}");
    println!(
        "{name}: verify a day ({} checkpoints, {} events, every MAC): {:.2} s",
        report.checkpoints,
        report.events,
        took.as_secs_f64()
    );
}

/// The CPU of sealing one decision's event: its canonical form (JCS) and
/// the HMAC over it.
fn seal_one() {
    let key = mac();
    let e = event(T0, 7);
    let n = 20_000;
    let started = Instant::now();
    for _ in 0..n {
        std::hint::black_box(warden::audit::ledger::canonical(std::hint::black_box(&e)).unwrap());
    }
    let canonical = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let started = Instant::now();
    for _ in 0..n {
        let mut sealed = e.clone();
        key.seal(std::hint::black_box(&mut sealed)).unwrap();
        std::hint::black_box(sealed);
    }
    let seal = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "one event ({} bytes canonical): canonical form {canonical:.1} µs, seal (clone, canonical form, HMAC-SHA256) {seal:.1} µs",
        warden::audit::ledger::canonical(&e).unwrap().len()
    );
}

fn main() {
    seal_one();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let clock = Arc::new(ManualClock::at_millis(T0));
        let memory = || {
            Arc::new(
                warden::store::memory::MemoryStore::new()
                    .with_audit_mac(mac())
                    .with_writer_clock(clock.clone()),
            ) as Arc<dyn LedgerStore>
        };
        let store = memory();
        let loader = Loader::Transactions(store.as_ref(), &clock);
        checkpoint_a_busy_minute("embedded store", store.clone(), &loader, None).await;
        let store = memory();
        let loader = Loader::Transactions(store.as_ref(), &clock);
        verify_a_day("embedded store", store.clone(), &loader).await;
        if let Some((store, _, log)) = warden::testing::dynamo_store_with_log().await {
            let loader = Loader::Bulk(&store);
            let shared: Arc<dyn LedgerStore> = Arc::new(store.clone());
            checkpoint_a_busy_minute("DynamoDB (moto)", shared, &loader, Some(&log)).await;
            // Tables of its own: the day's chain starts at the day.
            let (store, _) = warden::testing::dynamo_store().await.unwrap();
            let loader = Loader::Bulk(&store);
            let shared: Arc<dyn LedgerStore> = Arc::new(store.clone());
            verify_a_day("DynamoDB (moto)", shared, &loader).await;
        } else {
            println!("DynamoDB: skipped (set WARDEN_TEST_AWS_ENDPOINT to the emulator)");
        }
    });
}
