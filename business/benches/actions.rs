//! The CPU cost of the business actions on inputs near the largest a run
//! request carries (256 KiB): what submission (`validate`: parse, check
//! and compute, refusing invalid input) and the worker (`run`: the same,
//! computed once, keeping the result) spend per job. Budget: a job's
//! action well inside the worker's 60 s timeout, and submission within
//! the run handler's request budget (tens of ms).
//!
//! Each input is measured as the JSON text Warden hands the action.
//!
//! `cargo bench -p warden-business --bench actions`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use warden_business::{BusinessAction, accounting, logistics, marketing, planning, sales, tax};

/// Measures `validate` and `run` of `A`, the action `name`, on `input`.
fn measure<A: BusinessAction>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, input: &Value) {
    let text = input.to_string();
    let bytes = text.len();
    assert!(bytes <= 256 * 1024, "{name}: {bytes} bytes");
    A::validate(&text).unwrap();
    A::run(&text).unwrap();
    group.bench_function(format!("{name} validate ({} KiB)", bytes / 1024), |b| {
        b.iter(|| A::validate(black_box(&text)).unwrap());
    });
    group.bench_function(format!("{name} run ({} KiB)", bytes / 1024), |b| {
        b.iter(|| A::run(black_box(&text)).unwrap());
    });
}

fn benches(c: &mut Criterion) {
    let states = ["CA", "NY", "TX", "GA", "WA", "OR"];
    let sales: Vec<Value> = (0..2_000)
        .map(|i| {
            json!({"id": format!("s-{i}"),
                   "ship_to": format!("{i} Main St, Springfield, {} {:05}", states[i % 6], 10_000 + i),
                   "amount_cents": 10_000 + i})
        })
        .collect();
    let transactions: Vec<Value> = (0..2_000)
        .map(|i| {
            json!({"id": format!("t-{i}"), "category": format!("c{}", i % 10),
                   "counterparty": format!("vendor {}", i % 50), "amount_cents": 1_000 + (i % 97),
                   "at": format!("2026-03-{:02}T{:02}:00:00Z", 1 + i % 28, i % 24)})
        })
        .collect();
    let entries = |side: &str| -> Vec<Value> {
        (0..1_000)
            .map(|i| {
                json!({"id": format!("{side}-{i}"), "date": format!("2026-03-{:02}", 1 + i % 28),
                       "amount_cents": 100 + i % 300, "reference": format!("INV-{}", i % 400)})
            })
            .collect()
    };
    // One amount, no references, 7 days: every bank entry a candidate for
    // most ledger entries (the hard case of the maximum matching). Bank
    // entries spread evenly over the week, ledger entries unevenly (days
    // 1-4 twice as often as 5-7), so the best matching needs days apart.
    let one_amount = |side: &str, day: fn(usize) -> usize| -> Vec<Value> {
        (0..1_000)
            .map(|i| {
                json!({"id": format!("{side}-{i}"), "date": format!("2026-03-{:02}", 1 + day(i)),
                       "amount_cents": 100})
            })
            .collect()
    };
    let lines: Vec<Value> = (0..2_000)
        .map(|i| {
            json!({"description": format!("line {i}"), "quantity": 1 + i % 5,
                        "service_id": format!("svc-{}", i % 20)})
        })
        .collect();
    let services: serde_json::Map<String, Value> = (0..20)
        .map(|i| (format!("svc-{i}"), json!(1_000 + i)))
        .collect();
    let months: Vec<Value> = (0..120)
        .map(|i| {
            json!({"month": format!("{:04}-{:02}", 2016 + i / 12, 1 + i % 12),
                        "revenue_cents": 1_000_000 + 12_345 * i})
        })
        .collect();
    // Inputs of the actions revision 2 changed, valid before and after it
    // (no field it added), so the two can be compared.
    let items: Vec<Value> = (0..1_600)
        .map(|i| {
            json!({"sku": format!("sku-{i}"), "on_hand": i % 500, "daily_demand": 1.25 + (i % 40) as f64,
                   "lead_time_days": 1 + i % 30, "safety_stock": i % 50,
                   "order_cost_cents": 5_000 + i, "holding_cost_cents_per_unit_year": 25 + i % 10})
        })
        .collect();
    let shipments: Vec<Value> = (0..2_000)
        .map(|i| {
            let mut s = json!({"id": format!("s-{i}"), "carrier": format!("carrier-{}", i % 20),
                               "promised": format!("2026-03-{:02}", 1 + i % 28)});
            if i % 3 != 0 {
                s["delivered"] = json!(format!("2026-03-{:02}", 1 + (i + i % 5) % 28));
            }
            s
        })
        .collect();
    let deals: Vec<Value> = (0..1_600)
        .map(|i| {
            let stages = [
                "lead",
                "qualified",
                "proposal",
                "negotiation",
                "won",
                "lost",
            ];
            json!({"id": format!("d-{i}"), "stage": stages[i % 6], "amount_cents": 10_000 + i,
                   "probability": (i % 100) as f64 / 100.0,
                   "last_activity": format!("2026-03-{:02}", 1 + i % 28)})
        })
        .collect();
    let spend: Vec<Value> = (0..120)
        .map(|i| {
            json!({"month": format!("{:04}-{:02}", 2016 + i / 12, 1 + i % 12),
                   "spend_cents": 100_000 + 1_000 * i, "new_customers": i % 7})
        })
        .collect();
    let burn: Vec<Value> = (0..120)
        .map(|i| {
            json!({"month": format!("{:04}-{:02}", 2016 + i / 12, 1 + i % 12),
                   "revenue_cents": 1_000_000 + 1_000 * i, "expenses_cents": 1_500_000})
        })
        .collect();
    let mut group = c.benchmark_group("actions");
    group.sample_size(20);
    measure::<tax::NexusCheck>(
        &mut group,
        "nexus_check",
        &json!({"period_end": "2026-06-30", "physical_presence": ["TX"], "sales": sales}),
    );
    measure::<accounting::DetectAnomalies>(
        &mut group,
        "detect_anomalies",
        &json!({"transactions": transactions}),
    );
    measure::<accounting::Reconcile>(
        &mut group,
        "reconcile",
        &json!({"bank": entries("b"), "ledger": entries("l")}),
    );
    measure::<accounting::Reconcile>(
        &mut group,
        "reconcile_one_amount",
        &json!({"bank": one_amount("b", |i| i % 7), "ledger": one_amount("l", |i| i % 11 % 7)}),
    );
    measure::<accounting::DraftInvoice>(
        &mut group,
        "draft_invoice",
        &json!({"customer": {"id": "c-1", "name": "Acme"}, "currency": "USD", "lines": lines,
                "services": services, "tax_rate": 0.0725}),
    );
    measure::<planning::GrowthForecast>(
        &mut group,
        "growth_forecast",
        &json!({"months": months, "horizon_months": 120}),
    );
    measure::<logistics::ReorderPlan>(&mut group, "reorder_plan", &json!({"items": items}));
    measure::<logistics::ShipmentStatus>(
        &mut group,
        "shipment_status",
        &json!({"as_of": "2026-03-31", "shipments": shipments}),
    );
    measure::<sales::PipelineHealth>(
        &mut group,
        "pipeline_health",
        &json!({"as_of": "2026-03-31", "deals": deals}),
    );
    measure::<marketing::CacTrend>(&mut group, "cac_trend", &json!({"months": spend}));
    measure::<planning::CashRunway>(
        &mut group,
        "cash_runway",
        &json!({"cash_cents": 100_000_000, "as_of": "2026-03-31", "months": burn}),
    );
    group.finish();
}

criterion_group!(actions, benches);
criterion_main!(actions);
