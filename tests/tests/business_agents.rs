//! Black-box: the business agents over HTTP. One AUTONOMOUS agent of each
//! type, each with an API key from the seed file, runs actions through
//! `POST /agents/{id}/runs`; the in-process worker of the local API computes
//! them, and `GET /agents/runs/{job_id}` shows the result.
//!
//! One action of every agent type is checked against the exact result the
//! action contract gives for its example input; every action of the
//! catalogue runs to `SUCCESS` on an example input; a business rule that
//! fails ends the job `FAILED` naming the record; input that does not parse
//! is `400` naming the field.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use warden::agents::catalogue::catalogue;
use warden_cli::seed::Seed;
use warden_cli::serve::{build_states, local_config, LocalApi};

/// Each agent type, the id of its agent, and its key's id.
const AGENTS: [(&str, &str, &str); 7] = [
    ("accounting", "books", "01JAGENTKEY000000000000001"),
    ("sales", "pipeline", "01JAGENTKEY000000000000002"),
    ("marketing", "growth", "01JAGENTKEY000000000000003"),
    ("logistics", "warehouse", "01JAGENTKEY000000000000004"),
    ("tax", "nexus", "01JAGENTKEY000000000000005"),
    ("purchasing", "buyer", "01JAGENTKEY000000000000006"),
    ("planning", "runway", "01JAGENTKEY000000000000007"),
];

const SECRET: &str = "business-secret_0123456789-abcdefghijklmnopq";

fn key_of(agent_type: &str) -> String {
    let (_, _, key_id) = AGENTS
        .iter()
        .find(|(t, _, _)| *t == agent_type)
        .expect("an agent type");
    format!("wdn_{key_id}_{SECRET}")
}

fn agent_of(agent_type: &str) -> &'static str {
    AGENTS
        .iter()
        .find(|(t, _, _)| *t == agent_type)
        .map(|(_, id, _)| *id)
        .expect("an agent type")
}

/// The local API on the embedded store, seeded with the seven agents and
/// their keys.
async fn app() -> LocalApi {
    let env = [
        ("WARDEN_ENV", "development".to_owned()),
        (
            "WARDEN_JWT_SECRET",
            warden::testing::TEST_JWT_KEY.to_owned(),
        ),
    ];
    let config = local_config(|k| {
        env.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let agents: Vec<Value> = AGENTS
        .iter()
        .map(|(agent_type, id, _)| {
            json!({"agent_id": id, "agent_type": agent_type, "maturity": "AUTONOMOUS",
                   "workspaces": ["acme"]})
        })
        .collect();
    let keys: Vec<Value> = AGENTS
        .iter()
        .map(|(agent_type, id, _)| {
            json!({"key": key_of(agent_type), "owner": id, "scopes": ["agents:run"],
                   "rate_limit_per_hour": 10_000})
        })
        .collect();
    let seed: Seed = serde_json::from_value(json!({
        "users": [],
        "workspaces": [{"workspace_id": "acme", "name": "Acme Ltd"}],
        "agents": agents,
        "api_keys": keys,
    }))
    .unwrap();
    let states = build_states(config, Vec::new(), None).await.unwrap();
    seed.apply(&states).await.unwrap();
    LocalApi::start_with("127.0.0.1:0".parse().unwrap(), states)
        .await
        .unwrap()
}

/// Submits `action` with `input` as the agent of `agent_type`: the status
/// and body of the answer.
async fn submit(
    api: &LocalApi,
    agent_type: &str,
    action: &str,
    input: Value,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/agents/{}/runs",
            api.url(),
            agent_of(agent_type)
        ))
        .header("x-api-key", key_of(agent_type))
        .json(&json!({"workspace_id": "acme", "action": action, "input": input}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Runs `action` and waits for its job to end: the job as
/// `GET /agents/runs/{job_id}` shows it.
async fn run(api: &LocalApi, agent_type: &str, action: &str, input: Value) -> Value {
    let (status, body) = submit(api, agent_type, action, input).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{action}: {body}");
    let job_id = body["job_id"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let response = client
            .get(format!("{}/agents/runs/{job_id}", api.url()))
            .header("x-api-key", key_of(agent_type))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let job: Value = response.json().await.unwrap();
        if job["status"] == "SUCCESS" || job["status"] == "FAILED" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{action}: job {job_id} did not end");
}

/// The result of a job that must succeed.
async fn result(api: &LocalApi, agent_type: &str, action: &str, input: Value) -> Value {
    let job = run(api, agent_type, action, input).await;
    assert_eq!(job["status"], "SUCCESS", "{action}: {job}");
    job["result"].clone()
}

#[tokio::test]
async fn one_action_of_every_agent_type_gives_the_contracts_result_over_http() {
    let api = app().await;

    // accounting / draft_invoice: the contract's example. 50000 x 0.0725 =
    // 3625 tax; 50000 + 3625 = 53625.
    let invoice = result(
        &api,
        "accounting",
        "draft_invoice",
        json!({"customer": {"id": "c-1", "name": "Acme", "email": "ap@acme.test"},
               "currency": "USD",
               "lines": [{"description": "Setup", "quantity": 1, "service_id": "svc-setup"}],
               "services": {"svc-setup": 50000},
               "default_price_cents": null,
               "tax_rate": 0.0725}),
    )
    .await;
    assert_eq!(
        invoice,
        json!({"customer_id": "c-1", "currency": "USD",
               "lines": [{"description": "Setup", "quantity": 1, "unit_price_cents": 50000,
                          "price_source": "service", "amount_cents": 50000}],
               "subtotal_cents": 50000, "tax_cents": 3625, "total_cents": 53625})
    );

    // sales / pipeline_health: d-1 is an open lead idle 20 days (11 Mar to
    // 31 Mar) > 14; d-2 is won. open = 100000; weighted = 100000 x 0.1 =
    // 10000.
    let pipeline = result(
        &api,
        "sales",
        "pipeline_health",
        json!({"as_of": "2026-03-31",
               "deals": [
                   {"id": "d-1", "stage": "lead", "amount_cents": 100000, "probability": 0.1,
                    "last_activity": "2026-03-11"},
                   {"id": "d-2", "stage": "won", "amount_cents": 50000, "probability": 1,
                    "last_activity": "2026-03-30"}]}),
    )
    .await;
    assert_eq!(
        pipeline,
        json!({"stages": [
                   {"stage": "lead", "count": 1, "amount_cents": 100000},
                   {"stage": "qualified", "count": 0, "amount_cents": 0},
                   {"stage": "proposal", "count": 0, "amount_cents": 0},
                   {"stage": "negotiation", "count": 0, "amount_cents": 0},
                   {"stage": "won", "count": 1, "amount_cents": 50000},
                   {"stage": "lost", "count": 0, "amount_cents": 0}],
               "open_amount_cents": 100000, "weighted_amount_cents": 10000,
               "stalled": [{"id": "d-1", "days_idle": 20}]})
    );

    // marketing / campaign_roi: the contract's example. c-1: (25000 -
    // 10000) / 10000 = 1.5, 10000 / 5 = 2000; c-2: 10000 / 20000 = 0.5,
    // 20000 / 10 = 2000; blended: (55000 - 30000) / 30000 = 0.8333..,
    // 30000 / 15 = 2000.
    let roi = result(
        &api,
        "marketing",
        "campaign_roi",
        json!({"campaigns": [
            {"id": "c-1", "spend_cents": 10000, "revenue_cents": 25000, "new_customers": 5},
            {"id": "c-2", "spend_cents": 20000, "revenue_cents": 30000, "new_customers": 10}]}),
    )
    .await;
    assert_eq!(
        roi,
        json!({"campaigns": [{"id": "c-1", "roi": 1.5, "cac_cents": 2000},
                             {"id": "c-2", "roi": 0.5, "cac_cents": 2000}],
               "blended": {"roi": 0.8333, "cac_cents": 2000},
               "best": "c-1", "worst": "c-2"})
    );

    // logistics / reorder_plan: A: reorder point ceil(1.5 x 10) + 5 = 20;
    // eoq ceil(sqrt(2 x 1.5 x 365 x 5000 / 25)) = ceil(sqrt(219000)) = 468
    // (467² = 218089 < 219000 <= 468² = 219024); 10 <= 20, so order
    // max(468, 20 - 10) = 468. B: no demand: point 0, eoq 0, 100 > 0.
    let reorder = result(
        &api,
        "logistics",
        "reorder_plan",
        json!({"items": [
            {"sku": "A", "on_hand": 10, "daily_demand": 1.5, "lead_time_days": 10,
             "safety_stock": 5, "order_cost_cents": 5000, "holding_cost_cents_per_unit_year": 25},
            {"sku": "B", "on_hand": 100, "daily_demand": 0, "lead_time_days": 7,
             "safety_stock": 0, "order_cost_cents": 5000, "holding_cost_cents_per_unit_year": 25}]}),
    )
    .await;
    assert_eq!(
        reorder,
        json!({"items": [
            {"sku": "A", "reorder_point": 20, "eoq": 468, "order_now": true, "order_quantity": 468},
            {"sku": "B", "reorder_point": 0, "eoq": 0, "order_now": false, "order_quantity": 0}]})
    );

    // tax / nexus_check: the contract's example.
    let nexus = result(
        &api,
        "tax",
        "nexus_check",
        json!({"period_end": "2026-06-30", "physical_presence": ["TX"],
               "sales": [
                   {"id": "s-1", "ship_to": "1 Market St, San Francisco, CA 94105",
                    "amount_cents": 30000000},
                   {"id": "s-2", "ship_to": "Somewhere", "amount_cents": 100}]}),
    )
    .await;
    assert_eq!(
        nexus,
        json!({"period_end": "2026-06-30",
               "states": [{"state": "CA", "sales_cents": 30000000, "transactions": 1,
                           "physical": false, "economic": false, "nexus": false,
                           "threshold": {"sales_cents": 50000000, "transactions": null,
                                         "rule": "sales", "comparison": "more_than"},
                           "source": "CDTFA, R&TC 6203"},
                          {"state": "TX", "sales_cents": 0, "transactions": 0,
                           "physical": true, "economic": false, "nexus": true,
                           "threshold": {"sales_cents": 50000000, "transactions": null,
                                         "rule": "sales", "comparison": "at_least"},
                           "source": "Texas Comptroller, 34 TAC 3.286"}],
               "unparsed": ["s-2"], "no_rule": []})
    );

    // purchasing / compare_vendors: vendor-b's 900 applies from 50 <= 100;
    // saving (1000 - 900) x 100 = 10000.
    let vendors = result(
        &api,
        "purchasing",
        "compare_vendors",
        json!({"needs": [{"sku": "SKU-1", "quantity": 100, "current_vendor": "vendor-a"}],
               "quotes": [
                   {"vendor": "vendor-a", "sku": "SKU-1", "unit_price_cents": 1000, "min_quantity": 1},
                   {"vendor": "vendor-b", "sku": "SKU-1", "unit_price_cents": 900, "min_quantity": 50}]}),
    )
    .await;
    assert_eq!(
        vendors,
        json!({"skus": [{"sku": "SKU-1", "quantity": 100, "best_vendor": "vendor-b",
                         "best_unit_price_cents": 900, "current_vendor": "vendor-a",
                         "current_unit_price_cents": 1000, "saving_cents": 10000}],
               "total_saving_cents": 10000})
    );

    // planning / cash_runway: the contract's example. Each month burns
    // 15000000 - 5000000 = 10000000; 120000000 / 10000000 = 12 months;
    // floor(12 x 30.4375) = 365 days after 2026-03-31 is 2027-03-31.
    let months: Vec<Value> = ["2026-01", "2026-02", "2026-03"]
        .iter()
        .map(|m| json!({"month": m, "revenue_cents": 5000000, "expenses_cents": 15000000}))
        .collect();
    let runway = result(
        &api,
        "planning",
        "cash_runway",
        json!({"cash_cents": 120000000, "as_of": "2026-03-31", "months": months}),
    )
    .await;
    assert_eq!(
        runway,
        json!({"avg_net_burn_cents": 10000000, "runway_months": 12.0,
               "zero_cash_date": "2027-03-31", "profitable": false})
    );
}

#[tokio::test]
async fn a_failed_rule_names_the_record_and_bad_input_names_the_field_over_http() {
    let api = app().await;

    // No deposit, no service, no metadata price, no default: never a
    // guessed $100.
    let job = run(
        &api,
        "accounting",
        "draft_invoice",
        json!({"customer": {"id": "c-1", "name": "Acme"}, "currency": "USD",
               "lines": [{"description": "Setup", "quantity": 1, "deposit_cents": 0},
                         {"description": "Mystery gadget", "quantity": 2}]}),
    )
    .await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(
        job["error"], "lines[1] \"Mystery gadget\": no price from any source",
        "{job}"
    );
    assert!(job.get("result").is_none_or(Value::is_null), "{job}");

    // A quantity of 0 is refused at submission, naming the field.
    let (status, body) = submit(
        &api,
        "accounting",
        "draft_invoice",
        json!({"customer": {"id": "c-1", "name": "Acme"}, "currency": "USD",
               "lines": [{"description": "Setup", "quantity": 1, "deposit_cents": 0},
                         {"description": "Mystery gadget", "quantity": 0}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("input.lines[1].quantity"), "{detail}");
}

/// An example input for every action of the catalogue, by agent type and
/// action name.
fn examples() -> Vec<(&'static str, &'static str, Value)> {
    vec![]
}

#[tokio::test]
async fn every_action_of_the_catalogue_runs_to_success_over_http() {
    let examples = examples();
    let covered: BTreeSet<(String, String)> = examples
        .iter()
        .map(|(t, a, _)| ((*t).to_owned(), (*a).to_owned()))
        .collect();
    let all: BTreeSet<(String, String)> = catalogue()
        .actions()
        .map(|a| (a.agent_type().to_string(), a.name().to_owned()))
        .collect();
    assert_eq!(covered, all, "every action has an example here");

    let api = app().await;
    for (agent_type, action, input) in examples {
        let job = run(&api, agent_type, action, input).await;
        assert_eq!(job["status"], "SUCCESS", "{agent_type} {action}: {job}");
        assert!(job["result"].is_object(), "{agent_type} {action}: {job}");
    }
}
