//! The security-health handler's admin queries (API.md "Admin
//! endpoints"), called as a function, on the memory store and on DynamoDB
//! (moto): `GET /audit` pages through the audit log newest first, with no
//! duplicate and no gap, filtered by type, actor and window, every bad
//! parameter a `400` problem; `GET /security/health/uptime` answers each
//! window's buckets from the probe's samples; both are for admins only.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::{Value, json};
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::auth::login::{self, LoginRequest, create_user};
use warden::clock::ManualClock;
use warden::domain::{Role, Username};
use warden::health::inventory::{Inventory, WebhookInventory};
use warden::health::{Sample, Status};
use warden::http::RequestContext;
use warden::state::{AuthState, HealthState, SecurityHealthState};
use warden::store::{AuthStore, HealthStore, HealthWrite, Write};
use warden::testing::{self, api_request, json_body};
use warden_security_health::handler;

/// 2026-11-29T12:00:00Z: the start of a minute, so the current slot starts
/// now and `k` minutes ago is slot `k` before it.
const NOW_MS: i64 = 1_795_953_600_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// What both adapters are.
trait Stores: AuthStore + HealthStore + 'static {}

impl<S: AuthStore + HealthStore + 'static> Stores for S {}

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

struct Harness {
    state: SecurityHealthState,
    /// Logins, over the same store and clock.
    auth: AuthState,
    store: Arc<dyn Stores>,
    clock: Arc<ManualClock>,
    /// An admin's access token.
    root: String,
    /// A user's (role `user`).
    ann: String,
}

async fn harness<S: Stores>(store: Arc<S>) -> Harness {
    let clock = Arc::new(ManualClock::at_millis(NOW_MS));
    let config = testing::config();
    let auth = testing::state(store.clone(), clock.clone());
    let mut tokens = Vec::new();
    for (name, role) in [("root", Role::Admin), ("ann", Role::User)] {
        let username = Username::parse(name).unwrap();
        let password = SecretString::from(format!("{name} password"));
        let cli = Origin::Cli {
            operator: "tests".into(),
        };
        create_user(&auth, cli, &username, &password, &[role])
            .await
            .unwrap();
        tokens.push(sign_in(&auth, name).await);
    }
    let inventory = Inventory::from_config(&config, None, WebhookInventory::from_json("[]"));
    let health = HealthState::new(
        config.clone(),
        inventory,
        None,
        store.clone(),
        clock.clone(),
    );
    let state = SecurityHealthState::new(health, store.clone(), testing::tokens_for(&config));
    let ann = tokens.pop().unwrap();
    let root = tokens.pop().unwrap();
    Harness {
        state,
        auth,
        store,
        clock,
        root,
        ann,
    }
}

async fn sign_in(auth: &AuthState, name: &str) -> String {
    let ctx = RequestContext::for_tests(&format!("10.3.0.{}", name.len()));
    let request = LoginRequest {
        username: name.into(),
        password: SecretString::from(format!("{name} password")),
    };
    login::login(auth, &ctx, request)
        .await
        .unwrap()
        .access_token
}

impl Harness {
    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        let response = handler(
            &self.state,
            api_request("GET", path, &headers, "", "203.0.113.7"),
        )
        .await
        .unwrap();
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: json_body(&response),
        }
    }

    async fn admin(&self, path: &str) -> Reply {
        self.get(path, Some(&self.root)).await
    }

    /// Writes an event of `event_type` by `actor`, `ago_ms` before now.
    async fn event(&self, event_type: EventType, actor: &str, ago_ms: i64) -> AuditEvent {
        let e = AuditEvent::new(
            event_type,
            Severity::Warning,
            RequestContext::for_tests("203.0.113.9").origin(),
            NOW_MS - ago_ms,
            30,
        )
        .actor(actor);
        self.store
            .transact(vec![Write::Audit(e.clone())])
            .await
            .unwrap();
        e
    }

    /// Stores one probe sample `k` minutes before now (15 s into that
    /// minute).
    async fn sample(&self, k: i64, status: Status) {
        let sample = Sample {
            at_ms: NOW_MS - k * MINUTE_MS + 15_000,
            status,
            failing: if status == Status::Failing {
                vec!["table:users".into()]
            } else {
                Vec::new()
            },
        };
        let write = HealthWrite::Sample {
            sample,
            expires_at: NOW_MS / 1000 + 86_400 * 90,
        };
        self.store.transact(vec![write.into()]).await.unwrap();
    }
}

/// The `event_id`s of a page's events.
fn ids(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {page}"))
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect()
}

warden::on_both_stores!(async harness;
    the_audit_log_and_uptime_are_for_admins_only,
    the_audit_log_pages_newest_first_with_no_duplicate_and_no_gap,
    the_audit_log_is_filtered_by_type_actor_and_window,
    every_bad_audit_parameter_is_a_400_problem,
    each_uptime_window_has_its_buckets_from_the_samples,
);

const ADMIN_PATHS: [&str; 4] = [
    "/audit",
    "/audit?type=login_failed&since=7d",
    "/security/health/uptime",
    "/security/health/uptime?window=30d",
];

async fn the_audit_log_and_uptime_are_for_admins_only(h: Harness) {
    for path in ADMIN_PATHS {
        let anonymous = h.get(path, None).await;
        assert_eq!(anonymous.status, 401, "{path}");
        assert!(
            anonymous.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer resource_metadata="),
            "{path}"
        );
        assert_eq!(h.get(path, Some("forged")).await.status, 401, "{path}");
        let user = h.get(path, Some(&h.ann)).await;
        assert_eq!(user.status, 403, "{path}: {}", user.body);
        assert_eq!(
            user.headers["www-authenticate"],
            r#"Bearer error="insufficient_scope", scope="role:admin""#
        );
        let admin = h.admin(path).await;
        assert_eq!(admin.status, 200, "{path}: {}", admin.body);
        assert_eq!(admin.headers["cache-control"], "no-store");
    }
    // Another method is 405 naming GET.
    let response = handler(
        &h.state,
        api_request("POST", "/audit", &[], "", "203.0.113.7"),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, OPTIONS");
}

async fn the_audit_log_pages_newest_first_with_no_duplicate_and_no_gap(h: Harness) {
    // 12 refused logins over the last 11 hours, written out of order, two
    // of them in the same millisecond.
    let mut written = Vec::new();
    for i in [3, 0, 7, 11, 1, 5, 9, 2, 10, 4, 6, 8] {
        written.push(h.event(EventType::LoginFailed, "u-1", i * HOUR_MS).await);
    }
    written.push(h.event(EventType::LoginFailed, "u-2", 0).await);
    written.sort_by(|a, b| b.event_id.cmp(&a.event_id));
    let want: Vec<String> = written.iter().map(|e| e.event_id.clone()).collect();

    let first = h.admin("/audit?type=LOGIN_FAILED&limit=7").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(ids(&first.body), want[..7]);
    assert_eq!(first.body["next"], want[6].as_str());
    let next = first.body["next"].as_str().unwrap();
    let second = h
        .admin(&format!("/audit?type=LOGIN_FAILED&limit=7&next={next}"))
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(ids(&second.body), want[7..]);
    // Not a full page: the last one.
    assert_eq!(second.body["next"], Value::Null);

    // A full last page says `next`; the page after it is empty.
    let all = h.admin("/audit?type=login_failed&limit=13").await;
    assert_eq!(ids(&all.body), want);
    let next = all.body["next"].as_str().unwrap();
    let after = h
        .admin(&format!("/audit?type=login_failed&limit=13&next={next}"))
        .await;
    assert_eq!(after.body, json!({"events": [], "next": null}));

    // Each event is the stored record with its time as RFC 3339, as
    // `warden audit query --json` prints it.
    let newest = &first.body["events"][0];
    let record = written.iter().find(|e| e.event_id == want[0]).unwrap();
    let mut expected = serde_json::to_value(record).unwrap();
    expected["at"] = json!(warden::audit::query::rfc3339_millis(record.at_millis));
    assert_eq!(newest, &expected);
    assert_eq!(newest["at"], "2026-11-29T12:00:00.000Z");
}

async fn the_audit_log_is_filtered_by_type_actor_and_window(h: Harness) {
    h.event(EventType::LoginFailed, "u-1", MINUTE_MS).await;
    h.event(EventType::TokenRevoked, "u-1", 20 * MINUTE_MS)
        .await;
    h.event(EventType::LoginFailed, "u-2", 2 * HOUR_MS).await;
    h.event(EventType::LoginFailed, "u-1", 30 * HOUR_MS).await;
    h.event(EventType::TokenRevoked, "u-2", 3 * 24 * HOUR_MS)
        .await;
    h.event(EventType::LoginFailed, "u-1", 40 * 24 * HOUR_MS)
        .await;
    let agos = |page: &Value| -> Vec<(String, String)> {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["event_type"].as_str().unwrap().to_owned(),
                    e["actor"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(t, a)| ((*t).to_owned(), (*a).to_owned()))
            .collect()
    };
    // The setup's USER_CREATED events are the CLI operator's, and at now:
    // every check below names a type or an actor.
    let failed = h.admin("/audit?type=login_failed").await;
    assert_eq!(
        agos(&failed.body),
        pairs(&[("LOGIN_FAILED", "u-1"), ("LOGIN_FAILED", "u-2")])
    );
    let week = h.admin("/audit?type=Login_Failed&since=7d").await;
    assert_eq!(agos(&week.body).len(), 3);
    let half_hour = h.admin("/audit?actor=u-1&since=30m").await;
    assert_eq!(
        agos(&half_hour.body),
        pairs(&[("LOGIN_FAILED", "u-1"), ("TOKEN_REVOKED", "u-1")])
    );
    // With an actor the window may reach past 31 days.
    let u1 = h.admin("/audit?actor=u-1&since=60d").await;
    assert_eq!(u1.status, 200, "{}", u1.body);
    assert_eq!(agos(&u1.body).len(), 4);
    let u2_revoked = h
        .admin("/audit?actor=u-2&type=token_revoked&since=7d")
        .await;
    assert_eq!(agos(&u2_revoked.body), pairs(&[("TOKEN_REVOKED", "u-2")]));
    assert_eq!(
        h.admin("/audit?actor=nobody").await.body,
        json!({"events": [], "next": null})
    );
    // The first of a repeated parameter counts, as on every listing.
    let repeated = h.admin("/audit?actor=u-2&actor=u-1&since=7d").await;
    assert!(
        agos(&repeated.body).iter().all(|(_, a)| a == "u-2"),
        "{}",
        repeated.body
    );
    // Without a type or an actor, the setup's events are there too: two
    // users created, two logins.
    let everything = h.admin("/audit?since=7d&limit=200").await;
    let types: Vec<String> = agos(&everything.body).into_iter().map(|(t, _)| t).collect();
    for setup in ["USER_CREATED", "LOGIN_SUCCESS"] {
        let n = types.iter().filter(|t| *t == setup).count();
        assert_eq!(n, 2, "{setup}: {types:?}");
    }
    assert_eq!(types.len(), 9, "{types:?}");
}

async fn every_bad_audit_parameter_is_a_400_problem(h: Harness) {
    let types_listed =
        |detail: &str| detail.contains("LOGIN_FAILED") && detail.contains("AGENT_DISABLED");
    for (query, says) in [
        (
            "since=5x",
            "since \"5x\" is not a duration like 30m, 24h or 7d",
        ),
        ("since=0m", "since \"0m\" is not a duration"),
        ("since=366d&actor=u-1", "since \"366d\" is not a duration"),
        ("since=", "since \"\" is not a duration"),
        ("since=32d", "without actor, since is at most 31d"),
        ("type=LOGIN_MAYBE", "unknown event type \"LOGIN_MAYBE\""),
        ("type=", "unknown event type \"\""),
        ("limit=0", "limit must be a number from 1 to 200"),
        ("limit=201", "limit must be a number from 1 to 200"),
        ("limit=ten", "limit must be a number from 1 to 200"),
        (
            "next=bm90LWFuLWlk",
            "next must be the event id a previous page gave",
        ),
        (
            "next=01j9z7q4m3x8k2v6n5t1r0w9yc",
            "next must be the event id",
        ),
        ("next=", "next must be the event id"),
        ("actor=", "actor must be 1 to 2048 bytes"),
    ] {
        let reply = h.admin(&format!("/audit?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.starts_with(says), "{query}: {detail}");
        if query.starts_with("type=") {
            assert!(types_listed(detail), "{detail}");
        }
    }
    let long_actor = "x".repeat(2049);
    let reply = h.admin(&format!("/audit?actor={long_actor}")).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    // At the limit, it is only looked up.
    let reply = h.admin(&format!("/audit?actor={}", "x".repeat(2048))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

async fn each_uptime_window_has_its_buckets_from_the_samples(h: Harness) {
    // The last hour: every minute sampled, minute 30 failing and minute 10
    // degraded (up): 59 of 60 up, 98,333.3 -> 98.333.
    for k in 1..=60 {
        let status = match k {
            10 => Status::Degraded,
            30 => Status::Failing,
            _ => Status::Ok,
        };
        h.sample(k, status).await;
    }
    // Yesterday's first minute of the 24 hours, and one before them.
    h.sample(1440, Status::Ok).await;
    h.sample(1441, Status::Failing).await;
    // The oldest minute of 30 days.
    h.sample(43_200, Status::Failing).await;
    // And one in the current minute: it counts for nothing yet.
    h.sample(0, Status::Failing).await;
    let bucket = |start: &str, up: f64, unknown: f64| json!({"start": start, "up_pct": up, "unknown_pct": unknown});

    let day = h.admin("/security/health/uptime?window=24h").await;
    assert_eq!(day.status, 200, "{}", day.body);
    assert_eq!(day.body["window"], "24h");
    let buckets = day.body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24);
    // The oldest hour: 1 of 60 up (1.666), 59 unknown (98.333).
    assert_eq!(buckets[0], bucket("2026-11-28T12:00:00Z", 1.666, 98.333));
    assert_eq!(buckets[1], bucket("2026-11-28T13:00:00Z", 0.0, 100.0));
    assert_eq!(buckets[23], bucket("2026-11-29T11:00:00Z", 98.333, 0.0));
    // The default window is 24 hours.
    assert_eq!(h.admin("/security/health/uptime").await.body, day.body);

    let week = h.admin("/security/health/uptime?window=7d").await;
    assert_eq!(week.body["window"], "7d");
    let buckets = week.body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 28);
    assert_eq!(buckets[0], bucket("2026-11-22T12:00:00Z", 0.0, 100.0));
    // 06:00 to 11:59: 59 of 360 up (16.388), 300 unknown (83.333).
    assert_eq!(buckets[27], bucket("2026-11-29T06:00:00Z", 16.388, 83.333));
    // Minute 1440 (up) opens the bucket from 12:00 the day before, minute
    // 1441 (down) closes the one before it: 1 of 360 up (0.277), 359
    // unknown (99.722).
    assert_eq!(buckets[24], bucket("2026-11-28T12:00:00Z", 0.277, 99.722));
    assert_eq!(buckets[23], bucket("2026-11-28T06:00:00Z", 0.0, 99.722));

    let month = h.admin("/security/health/uptime?window=30d").await;
    assert_eq!(month.body["window"], "30d");
    let buckets = month.body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 30);
    // The oldest day's first minute was down: 0 up, 1,439 of 1,440
    // unknown (99.930).
    assert_eq!(buckets[0], bucket("2026-10-30T12:00:00Z", 0.0, 99.93));
    // The last day: 61 of 1,440 known, 59 + 1 up (4.166), 1,379 unknown
    // (95.763).
    assert_eq!(buckets[29], bucket("2026-11-28T12:00:00Z", 4.166, 95.763));
    // The day before it holds minute 1441 (down): 0 up, 99.930 unknown.
    assert_eq!(buckets[28], bucket("2026-11-27T12:00:00Z", 0.0, 99.93));

    // Any other window is 400 naming the three.
    for bad in ["1d", "24H", "", "90d"] {
        let reply = h
            .admin(&format!("/security/health/uptime?window={bad}"))
            .await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert_eq!(reply.body["detail"], "window must be one of 24h, 7d, 30d");
    }
    // An hour later the buckets have moved on by one (the admin signs in
    // again: access tokens last 15 minutes), and the sample of 12:00 counts.
    h.clock.advance_secs(3_600.0);
    let root = sign_in(&h.auth, "root").await;
    let later = h.get("/security/health/uptime", Some(&root)).await;
    assert_eq!(later.status, 200, "{}", later.body);
    let buckets = later.body["buckets"].as_array().unwrap();
    assert_eq!(buckets[22], bucket("2026-11-29T11:00:00Z", 98.333, 0.0));
    assert_eq!(buckets[23], bucket("2026-11-29T12:00:00Z", 0.0, 98.333));
}
