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
use serde_json::{Value, json};
use warden::agents::catalogue::catalogue;
use warden_cli::seed::Seed;
use warden_cli::serve::LocalApi;

mod common;

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
    app_on(None).await
}

/// The local API seeded with the seven agents and their keys: on DynamoDB
/// tables when `dynamodb` names them (`endpoint`, `prefix`), on the
/// embedded store otherwise.
async fn app_on(dynamodb: Option<&(String, String)>) -> LocalApi {
    let env = [
        ("WARDEN_ENV", "development"),
        (
            "WARDEN_SIGNING_KEY_FILE",
            warden::testing::TEST_SIGNING_KEY_FILE,
        ),
    ];
    let states = common::states(&env, Vec::new(), dynamodb).await;
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
    seed.apply(&states).await.unwrap();
    common::start(states).await
}

/// Submits `action` with `input` as the agent of `agent_type`: the status
/// and body of the answer.
async fn submit(
    api: &LocalApi,
    agent_type: &str,
    action: &str,
    input: Value,
) -> (StatusCode, Value) {
    submit_text(api, agent_type, action, &input.to_string()).await
}

/// Submits `action` with `input` given as JSON text, sent byte for byte
/// (a number keeps the digits written): the status and body of the answer.
async fn submit_text(
    api: &LocalApi,
    agent_type: &str,
    action: &str,
    input: &str,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/agents/{}/runs",
            api.url(),
            agent_of(agent_type)
        ))
        .header("x-api-key", key_of(agent_type))
        // Actions of complexity 3 and 4 need one; every run here has one.
        .header("idempotency-key", ulid::Ulid::new().to_string())
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"workspace_id": "acme", "action": "{action}", "input": {input}}}"#
        ))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// The `detail` of a `400` answer to `action` with `input`.
async fn refused(api: &LocalApi, agent_type: &str, action: &str, input: Value) -> String {
    let (status, body) = submit(api, agent_type, action, input).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{action}: {body}");
    body["detail"].as_str().unwrap().to_owned()
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

/// The action contract's worked examples, the ones the actions' unit tests
/// hold them to (`business/src/contract_examples.json`): agent type,
/// action, input and result.
fn contract_examples() -> Vec<(String, String, Value, Value)> {
    let all: Value =
        serde_json::from_str(include_str!("../../business/src/contract_examples.json")).unwrap();
    all["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap().to_owned();
            let (input, result) = (e["input"].clone(), e["result"].clone());
            (text("agent_type"), text("action"), input, result)
        })
        .collect()
}

#[tokio::test]
async fn one_action_of_every_agent_type_gives_the_contracts_result_over_http() {
    let api = app().await;
    // accounting / draft_invoice, marketing / campaign_roi, tax / nexus_check
    // and planning / cash_runway: the contract's examples.
    let mut cases = contract_examples();
    let months: Vec<Value> = ["2026-01", "2026-02", "2026-03"]
        .iter()
        .map(|m| json!({"month": m, "revenue_cents": 5000000, "expenses_cents": 15000000}))
        .collect();
    let more = [
        // sales / pipeline_health: d-1 is an open lead idle 20 days (11 Mar
        // to 31 Mar) > 14; d-2 is won. open = 100000; weighted = 100000 x
        // 0.1 = 10000.
        (
            "sales",
            "pipeline_health",
            json!({"as_of": "2026-03-31",
                   "deals": [
                       {"id": "d-1", "stage": "lead", "amount_cents": 100000, "probability": 0.1,
                        "last_activity": "2026-03-11"},
                       {"id": "d-2", "stage": "won", "amount_cents": 50000, "probability": 1,
                        "last_activity": "2026-03-30"}]}),
            json!({"stages": [
                       {"stage": "lead", "count": 1, "amount_cents": 100000},
                       {"stage": "qualified", "count": 0, "amount_cents": 0},
                       {"stage": "proposal", "count": 0, "amount_cents": 0},
                       {"stage": "negotiation", "count": 0, "amount_cents": 0},
                       {"stage": "won", "count": 1, "amount_cents": 50000},
                       {"stage": "lost", "count": 0, "amount_cents": 0}],
                   "open_amount_cents": 100000, "weighted_amount_cents": 10000,
                   "stalled": [{"id": "d-1", "days_idle": 20}]}),
        ),
        // logistics / reorder_plan: A: reorder point ceil(1.5 x 10) + 5 =
        // 20; eoq ceil(sqrt(2 x 1.5 x 365 x 5000 / 25)) = ceil(sqrt(219000))
        // = 468 (467² = 218089 < 219000 <= 468² = 219024); 10 <= 20, so
        // order max(468, 20 - 10) = 468. B: no demand: point 0, eoq 0, 100 >
        // 0.
        (
            "logistics",
            "reorder_plan",
            json!({"items": [
                {"sku": "A", "on_hand": 10, "daily_demand": 1.5, "lead_time_days": 10,
                 "safety_stock": 5, "order_cost_cents": 5000, "holding_cost_cents_per_unit_year": 25},
                {"sku": "B", "on_hand": 100, "daily_demand": 0, "lead_time_days": 7,
                 "safety_stock": 0, "order_cost_cents": 5000, "holding_cost_cents_per_unit_year": 25}]}),
            json!({"items": [
                {"sku": "A", "reorder_point": 20, "eoq": 468, "inventory_position": 10,
                 "order_now": true, "order_quantity": 468},
                {"sku": "B", "reorder_point": 0, "eoq": 0, "inventory_position": 100,
                 "order_now": false, "order_quantity": 0}]}),
        ),
        // purchasing / compare_vendors: vendor-b's 900 applies from 50 <=
        // 100; saving (1000 - 900) x 100 = 10000.
        (
            "purchasing",
            "compare_vendors",
            json!({"needs": [{"sku": "SKU-1", "quantity": 100, "current_vendor": "vendor-a"}],
                   "quotes": [
                       {"vendor": "vendor-a", "sku": "SKU-1", "unit_price_cents": 1000, "min_quantity": 1},
                       {"vendor": "vendor-b", "sku": "SKU-1", "unit_price_cents": 900, "min_quantity": 50}]}),
            json!({"skus": [{"sku": "SKU-1", "quantity": 100, "best_vendor": "vendor-b",
                             "best_unit_price_cents": 900, "current_vendor": "vendor-a",
                             "current_unit_price_cents": 1000, "saving_cents": 10000}],
                   "total_saving_cents": 10000}),
        ),
        // planning / cash_runway over three months: each burns 15000000 -
        // 5000000 = 10000000; 120000000 / 10000000 = 12 months; floor(12 x
        // 30.4375) = 365 days after 2026-03-31 is 2027-03-31.
        (
            "planning",
            "cash_runway",
            json!({"cash_cents": 120000000, "as_of": "2026-03-31", "months": months}),
            json!({"avg_net_burn_cents": 10000000, "runway_months": 12.0,
                   "zero_cash_date": "2027-03-31", "profitable": false}),
        ),
    ];
    cases.extend(
        more.into_iter()
            .map(|(t, a, input, result)| (t.to_owned(), a.to_owned(), input, result)),
    );
    for (agent_type, action, input, expected) in cases {
        assert_eq!(
            result(&api, &agent_type, &action, input).await,
            expected,
            "{agent_type} {action}"
        );
    }
}

#[tokio::test]
async fn a_failed_rule_names_the_record_and_bad_input_names_the_field_over_http() {
    let api = app().await;

    // The second line has no deposit, no service, no metadata price and no
    // default: never a guessed $100.
    let invoice = |gadgets: u64| {
        json!({"customer": {"id": "c-1", "name": "Acme"}, "currency": "USD",
               "lines": [{"description": "Setup", "quantity": 1, "deposit_cents": 0},
                         {"description": "Mystery gadget", "quantity": gadgets}]})
    };
    let job = run(&api, "accounting", "draft_invoice", invoice(2)).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(
        job["error"], "lines[1] \"Mystery gadget\": no price from any source",
        "{job}"
    );
    assert!(job.get("result").is_none_or(Value::is_null), "{job}");

    // A quantity of 0 is refused at submission, naming the field.
    let (status, body) = submit(&api, "accounting", "draft_invoice", invoice(0)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("input.lines[1].quantity"), "{detail}");
}

#[tokio::test]
async fn on_the_embedded_store_what_practitioners_found_wrong_is_fixed_over_http() {
    what_practitioners_found_wrong_is_fixed_over_http(app().await).await;
}

/// The worker reads each run's input as stored: on DynamoDB too, the
/// digits the client wrote.
#[tokio::test]
async fn on_dynamodb_what_practitioners_found_wrong_is_fixed_over_http() {
    let Some(tables) = warden::testing::emulator_tables().await else {
        return;
    };
    what_practitioners_found_wrong_is_fixed_over_http(app_on(Some(&tables)).await).await;
}

/// The action contract's revision 2: each defect practitioners found in
/// the first contract, over HTTP (each also has a test on the action
/// itself).
async fn what_practitioners_found_wrong_is_fixed_over_http(api: LocalApi) {
    let invoice = |rate: &str| {
        format!(
            r#"{{"customer": {{"id": "c-1", "name": "Acme"}}, "currency": "USD",
                "lines": [{{"description": "Setup", "quantity": 1, "deposit_cents": 1000}}],
                "tax_rate": {rate}}}"#
        )
    };
    // A rate written with 21 significant digits was read as the double 0.0725
    // (tax 72 where the rate written gives 72.50..01 -> 73): now refused.
    let (status, body) = submit_text(
        &api,
        "accounting",
        "draft_invoice",
        &invoice("0.07250000000000000001"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("input.tax_rate"), "{detail}");
    assert!(detail.contains("15 significant digits"), "{detail}");
    // Zeros ending the fraction do not count: 0.0725, so 1000 x 0.0725 = 72.5 -> 72.
    let (status, body) = submit_text(
        &api,
        "accounting",
        "draft_invoice",
        &invoice("0.0725000000000000000000"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    // A typo in a field name succeeded with tax 0: now 400 naming it.
    let typo = json!({"customer": {"id": "c-1", "name": "Acme"}, "currency": "USD",
                      "lines": [{"description": "Setup", "quantity": 1, "deposit_cents": 1000}],
                      "taxrate": 0.0725});
    let detail = refused(&api, "accounting", "draft_invoice", typo).await;
    assert!(
        detail.starts_with("input.taxrate: unknown field"),
        "{detail}"
    );
    // Blank required text, and a currency ISO 4217 does not list.
    let blank = json!({"customer": {"id": " ", "name": "Acme"}, "currency": "USD",
                       "lines": [{"description": "Setup", "quantity": 1, "deposit_cents": 1}]});
    let detail = refused(&api, "accounting", "draft_invoice", blank).await;
    assert!(detail.starts_with("input.customer.id"), "{detail}");
    let test_code = json!({"customer": {"id": "c", "name": "Acme"}, "currency": "XTS",
                           "lines": [{"description": "Setup", "quantity": 1, "deposit_cents": 1}]});
    let detail = refused(&api, "accounting", "draft_invoice", test_code).await;
    assert!(detail.starts_with("input.currency"), "{detail}");

    // Toronto counted as California, Berlin as Delaware: with their country
    // they are foreign; without, a last-word reading is flagged as assumed US.
    let r = result(
        &api,
        "tax",
        "nexus_check",
        json!({"period_end": "2026-06-30", "physical_presence": [], "sales": [
            {"id": "toronto", "ship_to": "Toronto, ON M5X 1A9, CA", "country": "CA",
             "amount_cents": 60000000},
            {"id": "berlin", "ship_to": "10117 Berlin, DE", "amount_cents": 100},
            {"id": "sd", "ship_to": "Sioux Falls, SD 57104", "amount_cents": 100}]}),
    )
    .await;
    assert_eq!(r["foreign"], json!(["toronto"]), "{r}");
    assert_eq!(r["assumed_us"], json!(["berlin"]), "{r}");
    // Every state has a rule now: SD (no_rule before), DE without sales tax.
    assert_eq!(r["no_rule"], json!([]), "{r}");
    let states = r["states"].as_array().unwrap();
    let de = states.iter().find(|s| s["state"] == "DE").unwrap();
    assert_eq!(de["no_state_sales_tax"], true, "{de}");
    let sd = states.iter().find(|s| s["state"] == "SD").unwrap();
    // SD from 2023-07-01: more than $100,000 of sales, no transaction test.
    assert_eq!(
        sd["threshold"],
        json!({"sales_cents": 10000000, "transactions": null, "rule": "sales",
               "comparison": "more_than"}),
        "{sd}"
    );
    assert_eq!(sd["period"], "calendar_previous_or_current", "{sd}");

    // A $4,999 charge among $49.99 ones was not flagged (MAD 0). Median
    // 4999, MeanAD = 494901 / 5 = 98980.2, z = 494901 / (1.253314 x
    // 98980.2) = 3.9894 > 3.5.
    let charge = |id: &str, cents: i64, minute: u32| {
        json!({"id": id, "category": "saas", "counterparty": "vendor",
               "amount_cents": cents, "at": format!("2026-03-01T00:{minute:02}:00Z")})
    };
    let r = result(
        &api,
        "accounting",
        "detect_anomalies",
        json!({"transactions": [charge("a", 4999, 1), charge("b", 4999, 2),
                                charge("c", 4999, 3), charge("d", 4999, 4),
                                charge("e", 499900, 5)]}),
    )
    .await;
    let outliers = r["outliers"].as_array().unwrap();
    assert_eq!(outliers.len(), 1, "{r}");
    assert_eq!(outliers[0]["id"], "e", "{r}");
    assert_eq!(outliers[0]["z"], 3.9894, "{r}");

    // Greedy matching left bank 01-07 and ledger 01-02 as false exceptions;
    // the maximum matching pairs both (01-04 with 01-02, 01-07 with 01-05).
    let entry = |id: &str, date: &str| json!({"id": id, "date": date, "amount_cents": 100});
    let r = result(
        &api,
        "accounting",
        "reconcile",
        json!({"bank": [entry("b1", "2026-01-04"), entry("b2", "2026-01-07")],
               "ledger": [entry("l1", "2026-01-02"), entry("l2", "2026-01-05")]}),
    )
    .await;
    let pairs: Vec<(&str, &str)> = r["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["bank_id"].as_str().unwrap(),
                m["ledger_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(pairs, [("b1", "l1"), ("b2", "l2")], "{r}");

    // Reorder triggered on on-hand stock while an order was in transit:
    // position 10 + 500 - 0 = 510 > reorder point 20, so no order.
    let r = result(
        &api,
        "logistics",
        "reorder_plan",
        json!({"items": [{"sku": "A", "on_hand": 10, "on_order": 500, "daily_demand": 1.5,
                          "lead_time_days": 10, "safety_stock": 5, "order_cost_cents": 5000,
                          "holding_cost_cents_per_unit_year": 25}]}),
    )
    .await;
    assert_eq!(
        (
            &r["items"][0]["inventory_position"],
            &r["items"][0]["order_now"]
        ),
        (&json!(510), &json!(false)),
        "{r}"
    );

    // A carrier with five overdue parcels showed a 100% on-time rate: one
    // on time of 1 delivered + 5 overdue = 1/6 = 0.1667.
    let mut shipments = vec![
        json!({"id": "s-0", "carrier": "slow", "promised": "2026-03-10",
                                    "delivered": "2026-03-09"}),
    ];
    shipments.extend(
        (1..=5)
            .map(|i| json!({"id": format!("s-{i}"), "carrier": "slow", "promised": "2026-03-20"})),
    );
    let r = result(
        &api,
        "logistics",
        "shipment_status",
        json!({"as_of": "2026-03-31", "shipments": shipments}),
    )
    .await;
    assert_eq!(r["carriers"][0]["on_time_rate"], 0.1667, "{r}");

    // CAC trend hid a month with spend and no customer: now listed.
    let r = result(
        &api,
        "marketing",
        "cac_trend",
        json!({"months": [
            {"month": "2026-01", "spend_cents": 10000, "new_customers": 10},
            {"month": "2026-02", "spend_cents": 7000, "new_customers": 0},
            {"month": "2026-03", "spend_cents": 20000, "new_customers": 10}]}),
    )
    .await;
    assert_eq!(
        r["excluded_months"],
        json!([{"month": "2026-02", "spend_cents": 7000}]),
        "{r}"
    );

    // A month after as_of describes the future, not the burn.
    let months = json!([
        {"month": "2026-03", "revenue_cents": 0, "expenses_cents": 100},
        {"month": "2026-04", "revenue_cents": 0, "expenses_cents": 100}]);
    let detail = refused(
        &api,
        "planning",
        "cash_runway",
        json!({"cash_cents": 1000, "as_of": "2026-03-31", "months": months}),
    )
    .await;
    assert!(detail.starts_with("input.months[1].month"), "{detail}");
}

/// An example for every action of the catalogue: agent type, action,
/// input, and one figure of its result (a JSON pointer and its value,
/// worked out by hand in the comment).
fn examples() -> Vec<(&'static str, &'static str, Value, &'static str, Value)> {
    let months = json!([
        {"month": "2026-01", "revenue_cents": 100000, "expenses_cents": 400000},
        {"month": "2026-02", "revenue_cents": 110000, "expenses_cents": 410000},
        {"month": "2026-03", "revenue_cents": 121000, "expenses_cents": 421000},
    ]);
    vec![
        // "Coffee at Blue Bottle" contains "coffee" (case ignored): meals.
        (
            "accounting",
            "categorize_transactions",
            json!({"rules": [{"pattern": "coffee", "category": "meals"}],
                "transactions": [
                    {"id": "t-1", "description": "Coffee at Blue Bottle", "amount_cents": -450},
                    {"id": "t-2", "description": "AWS invoice", "amount_cents": -12000}]}),
            "/unmatched",
            json!(["t-2"]),
        ),
        // Two payments of 5000 to Acme 2 hours apart.
        (
            "accounting",
            "detect_anomalies",
            json!({"transactions": [
             {"id": "a", "category": "rent", "counterparty": "Acme", "amount_cents": 5000,
              "at": "2026-03-01T10:00:00Z"},
             {"id": "b", "category": "rent", "counterparty": "acme ", "amount_cents": 5000,
              "at": "2026-03-01T12:00:00Z"}]}),
            "/duplicates/0/hours_apart",
            json!(2.0),
        ),
        // b-1 and l-1: equal amounts 2 days apart; b-2 is left: 700 - 0.
        (
            "accounting",
            "reconcile",
            json!({"bank": [{"id": "b-1", "date": "2026-03-02", "amount_cents": 1500},
                         {"id": "b-2", "date": "2026-03-05", "amount_cents": 700}],
                "ledger": [{"id": "l-1", "date": "2026-03-04", "amount_cents": 1500}]}),
            "/net_difference_cents",
            json!(700),
        ),
        // 2 x 1500 (metadata) = 3000; tax 3000 x 0.0725 = 217.5 -> 218
        // (half-even); total 3218.
        (
            "accounting",
            "draft_invoice",
            json!({"customer": {"id": "c-1", "name": "Acme"}, "currency": "EUR",
                "lines": [{"description": "Seat", "quantity": 2, "metadata": {"price_cents": 1500}}],
                "tax_rate": 0.0725}),
            "/total_cents",
            json!(3218),
        ),
        // Ann@Example.com and ann@example.com are one entity.
        (
            "accounting",
            "resolve_entities",
            json!({"records": [{"id": "r1", "email": "Ann@Example.com"},
                            {"id": "r2", "email": "ann@example.com"}]}),
            "/entity_count",
            json!(1),
        ),
        // Only a demo: 20 points.
        (
            "sales",
            "score_leads",
            json!({"leads": [{"id": "l-1", "demo_requested": true}]}),
            "/leads/0/score",
            json!(20),
        ),
        // 10000 x 0.25 = 2500.
        (
            "sales",
            "pipeline_health",
            json!({"as_of": "2026-03-31", "deals": [
             {"id": "d-1", "stage": "proposal", "amount_cents": 10000, "probability": 0.25,
              "last_activity": "2026-03-30"}]}),
            "/weighted_amount_cents",
            json!(2500),
        ),
        // (3000 - 1000) / 1000 = 2.
        (
            "marketing",
            "campaign_roi",
            json!({"campaigns": [{"id": "c-1", "spend_cents": 1000, "revenue_cents": 3000,
                               "new_customers": 4}]}),
            "/campaigns/0/roi",
            json!(2.0),
        ),
        // CAC 1000 then 1200: slope 200 per month.
        (
            "marketing",
            "cac_trend",
            json!({"months": [{"month": "2026-01", "spend_cents": 10000, "new_customers": 10},
                           {"month": "2026-02", "spend_cents": 12000, "new_customers": 10}]}),
            "/slope_cents_per_month",
            json!(200),
        ),
        // Promised 1 Mar, delivered 4 Mar: 3 days late.
        (
            "logistics",
            "shipment_status",
            json!({"as_of": "2026-03-31", "shipments": [
             {"id": "s-1", "carrier": "ups", "promised": "2026-03-01", "delivered": "2026-03-04"}]}),
            "/late/0/days_late",
            json!(3),
        ),
        // ceil(2 x 10) + 5 = 25.
        (
            "logistics",
            "reorder_plan",
            json!({"items": [{"sku": "A", "on_hand": 100, "daily_demand": 2, "lead_time_days": 10,
                           "safety_stock": 5, "order_cost_cents": 0,
                           "holding_cost_cents_per_unit_year": 1}]}),
            "/items/0/reorder_point",
            json!(25),
        ),
        // "Austin, TX 78701" is TX.
        (
            "tax",
            "nexus_check",
            json!({"period_end": "2026-06-30", "physical_presence": [],
                "sales": [{"id": "s-1", "ship_to": "Austin, TX 78701", "amount_cents": 100}]}),
            "/states/0/state",
            json!("TX"),
        ),
        // 3000 x 0.0725 = 217.5 -> 218.
        (
            "tax",
            "estimate_liability",
            json!({"nexus": ["CA"], "rates": [{"state": "CA", "rate": 0.0725}],
                "sales": [{"id": "s-1", "state": "CA", "amount_cents": 3000}]}),
            "/total_tax_cents",
            json!(218),
        ),
        // (500 - 300) x 10 = 2000.
        (
            "purchasing",
            "compare_vendors",
            json!({"needs": [{"sku": "A", "quantity": 10, "current_vendor": "dear"}],
                "quotes": [
                    {"vendor": "dear", "sku": "A", "unit_price_cents": 500, "min_quantity": 1},
                    {"vendor": "cheap", "sku": "A", "unit_price_cents": 300, "min_quantity": 1}]}),
            "/total_saving_cents",
            json!(2000),
        ),
        // 3 x 250 = 750.
        (
            "purchasing",
            "draft_purchase_order",
            json!({"vendor": "v", "currency": "USD",
                "lines": [{"sku": "A", "quantity": 3, "unit_price_cents": 250}]}),
            "/total_cents",
            json!(750),
        ),
        // 2 x 1200 + 1 x 450 = 2850.
        (
            "purchasing",
            "submit_purchase_order",
            json!({"po_number": "PO-1", "vendor": "v", "currency": "USD",
                "lines": [{"sku": "A", "quantity": 2, "unit_price_cents": 1200},
                          {"sku": "B", "quantity": 1, "unit_price_cents": 450}]}),
            "/total_cents",
            json!(2850),
        ),
        // Burns 300000 each month: 900000 / 300000 = 3 months.
        (
            "planning",
            "cash_runway",
            json!({"cash_cents": 900000, "as_of": "2026-03-31", "months": months}),
            "/runway_months",
            json!(3.0),
        ),
        // 100000, 110000, 121000: the least-squares slope is
        // (121000 - 100000) / 2 = 10500 a month.
        (
            "planning",
            "growth_forecast",
            json!({"months": [{"month": "2026-01", "revenue_cents": 100000},
                           {"month": "2026-02", "revenue_cents": 110000},
                           {"month": "2026-03", "revenue_cents": 121000}],
                "horizon_months": 1}),
            "/slope_cents_per_month",
            json!(10500),
        ),
        // Burn 300000 with 3000000 cash: 10 months. A 200000 hire makes it
        // 3000000 / 500000 = 6 >= 6; the next (any cost) breaks it.
        (
            "planning",
            "hiring_plan",
            json!({"cash_cents": 3000000, "months": months, "target_runway_months": 6,
                "hires": [{"id": "h-1", "monthly_cost_cents": 200000},
                          {"id": "h-2", "monthly_cost_cents": 1}]}),
            "/hires",
            json!(["h-1"]),
        ),
    ]
}

#[tokio::test]
async fn every_action_of_the_catalogue_runs_to_success_over_http() {
    let examples = examples();
    let covered: BTreeSet<(String, String)> = examples
        .iter()
        .map(|(t, a, ..)| ((*t).to_owned(), (*a).to_owned()))
        .collect();
    let all: BTreeSet<(String, String)> = catalogue()
        .actions()
        .map(|a| (a.agent_type().to_string(), a.name().to_owned()))
        .collect();
    assert_eq!(covered, all, "every action has an example here");

    let api = app().await;
    let mut ran = Vec::new();
    for (agent_type, action, input, pointer, expected) in examples {
        let request = json!({"workspace_id": "acme", "action": action, "input": input});
        let job = run(&api, agent_type, action, input).await;
        assert_eq!(job["status"], "SUCCESS", "{agent_type} {action}: {job}");
        assert_eq!(
            job["result"].pointer(pointer),
            Some(&expected),
            "{agent_type} {action} {pointer}: {job}"
        );
        ran.push(json!({"request": request, "job": job}));
    }
    // `infra/test.sh` holds `infra/openapi.yaml` to these requests and jobs
    // (`infra/check_action_examples.py`).
    if let Ok(path) = std::env::var("WARDEN_ACTION_EXAMPLES") {
        std::fs::write(path, serde_json::to_vec_pretty(&ran).unwrap()).unwrap();
    }
}
