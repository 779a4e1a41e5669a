//! The operator's commands against the emulator: `users list|roles|revoke-all`,
//! `audit query`, `webhooks set-secret`, `signing-key`, and the audit
//! event (with the operator's identity) of every command that changes state.
//! Each test skips without `WARDEN_TEST_AWS_ENDPOINT` (and fails without it
//! under `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{Killed, block, fails, first_word_after, ok, run, serve_on_dynamodb, words};
use serde_json::Value;
use warden::audit::{AuditEvent, EventType, Origin, Severity};
use warden::store::Transactions as _;
use warden::store::Write as StoreWrite;
use warden::store::dynamo::DynamoStore;
use warden::webhook::{Rejection, SigningKey, Sources};

const PEPPER: &str = "operator-test-api-key-pepper-0123456789abcdef";

/// A `warden` command on the tables under `prefix`, in development, with
/// nothing of the caller's environment that would change its behaviour.
fn warden(prefix: &str) -> Command {
    let mut cmd = common::warden();
    cmd.env("WARDEN_TABLE_PREFIX", prefix)
        .env("WARDEN_API_KEY_PEPPER", PEPPER);
    cmd
}

/// `cmd args --endpoint <endpoint>`, successful; its standard output.
fn ok_at(prefix: &str, endpoint: &str, args: &[&str], stdin: &str) -> String {
    let mut cmd = warden(prefix);
    cmd.args(args).args(["--endpoint", endpoint]);
    ok(run(cmd, stdin), &args.join(" "))
}

/// `cmd args --endpoint <endpoint>`, failing; its standard error.
fn fails_at(prefix: &str, endpoint: &str, args: &[&str], stdin: &str) -> String {
    let mut cmd = warden(prefix);
    cmd.args(args).args(["--endpoint", endpoint]);
    fails(run(cmd, stdin), &args.join(" "))
}

/// The events `audit query --json` prints for `args`.
fn audit_json(prefix: &str, endpoint: &str, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "query", "--json"];
    all.extend_from_slice(args);
    ok_at(prefix, endpoint, &all, "")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The first of `events` of type `event_type`.
fn first_of<'a>(events: &'a [Value], event_type: &str) -> &'a Value {
    events
        .iter()
        .find(|ev| ev["event_type"] == event_type)
        .unwrap_or_else(|| panic!("no {event_type} in {events:?}"))
}

fn types(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect()
}

/// `warden serve` on the tables; its URL.
fn serve(prefix: &str, endpoint: &str) -> (Killed, String) {
    let (server, _, url) = serve_on_dynamodb(warden(prefix), endpoint);
    (server, url)
}

/// Logs in; the access token.
fn login(url: &str, username: &str, password: &str) -> String {
    block(async {
        let r = reqwest::Client::new()
            .post(format!("{url}/auth/login"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    })
}

/// GETs `path` with the bearer token; the status.
fn get(url: &str, path: &str, token: &str) -> u16 {
    block(async {
        reqwest::Client::new()
            .get(format!("{url}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

async fn secrets_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&warden::testing::aws_config(endpoint).await)
}

/// Creates a secret holding `value`; its ARN.
fn create_secret(endpoint: &str, value: &str) -> String {
    block(async {
        let name = format!("warden-test/{}", ulid::Ulid::new());
        warden::testing::create_secret(&secrets_client(endpoint).await, &name, value).await
    })
}

/// The value of the secret's `stage` version, and its version id.
fn secret_at(endpoint: &str, arn: &str, stage: &str) -> Option<(String, String)> {
    block(async {
        let out = secrets_client(endpoint)
            .await
            .get_secret_value()
            .secret_id(arn)
            .version_stage(stage)
            .send()
            .await
            .ok()?;
        Some((
            out.version_id().unwrap().to_owned(),
            out.secret_string().unwrap().to_owned(),
        ))
    })
}

#[test]
fn user_roles_and_revoke_all_take_effect_at_once_and_are_audited() {
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    let (p, e) = (prefix.as_str(), endpoint.as_str());
    ok_at(p, e, &["tables", "create"], "");
    ok_at(
        p,
        e,
        &["users", "add", "dave", "--role", "admin", "--role", "user"],
        "dave's password\n",
    );
    ok_at(p, e, &["users", "add", "erin"], "erin's password\n");
    let (_server, url) = serve(p, e);

    // An admin token: the admin-only configuration report answers it.
    let admin_token = login(&url, "dave", "dave's password");
    assert_eq!(get(&url, "/security/configuration", &admin_token), 200);

    // The admin role removed: the token that carries it dies at once.
    let out = ok_at(p, e, &["users", "roles", "Dave", "--role", "user"], "");
    assert!(
        out.contains("from admin,user to user") && out.contains("generation 1"),
        "{out}"
    );
    assert_eq!(get(&url, "/security/configuration", &admin_token), 401);
    assert_eq!(get(&url, "/auth/sessions", &admin_token), 401);
    // A new login carries the new roles only.
    let user_token = login(&url, "dave", "dave's password");
    assert_eq!(get(&url, "/auth/sessions", &user_token), 200);
    assert_eq!(get(&url, "/security/configuration", &user_token), 403);
    // The same roles again change nothing, and revoke nothing.
    let out = ok_at(p, e, &["users", "roles", "dave", "--role", "user"], "");
    assert!(out.contains("nothing changed"), "{out}");
    assert_eq!(get(&url, "/auth/sessions", &user_token), 200);
    let err = fails_at(p, e, &["users", "roles", "ghost", "--role", "user"], "");
    assert!(err.contains("no user ghost"), "{err}");
    let err = fails_at(p, e, &["users", "roles", "dave", "--role", "wizard"], "");
    assert!(err.contains("wizard") && err.contains("approver"), "{err}");
    let err = fails_at(p, e, &["users", "roles", "dave"], "");
    assert!(err.contains("--role"), "{err}");

    // Revoke-all: every token of the user dies at once; others' live.
    let erin_token = login(&url, "erin", "erin's password");
    let out = ok_at(
        p,
        e,
        &["users", "revoke-all", "dave", "--reason", "laptop stolen"],
        "",
    );
    assert!(out.contains("generation 2"), "{out}");
    assert_eq!(get(&url, "/auth/sessions", &user_token), 401);
    assert_eq!(get(&url, "/auth/sessions", &erin_token), 200);
    let err = fails_at(p, e, &["users", "revoke-all", "dave"], "");
    assert!(err.contains("--reason"), "{err}");

    // Listed with roles and state, never a hash (`admin` is the user
    // `warden serve` creates on tables without one).
    ok_at(p, e, &["users", "disable", "erin"], "");
    let list = ok_at(p, e, &["users", "list"], "");
    let lines: Vec<Vec<&str>> = list
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["USER_ID", "USERNAME", "ROLES", "STATE", "CREATED_AT"],
        "{list}"
    );
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| l[1..4].to_vec()).collect();
    assert_eq!(
        rows,
        vec![
            vec!["admin", "admin", "enabled"],
            vec!["dave", "user", "enabled"],
            vec!["erin", "user", "disabled"]
        ],
        "{list}"
    );
    assert!(!list.contains("argon2"), "{list}");
    // As JSON: one object a line, the user id included (the id the audit
    // names them by).
    let users = common::json_lines(&ok_at(p, e, &["users", "list", "--output", "json"], ""));
    assert_eq!(users.len(), 3, "{users:?}");
    assert_eq!(users[2]["username"], "erin");
    assert_eq!(users[2]["disabled"], true);
    assert_eq!(users[2]["roles"], serde_json::json!(["user"]));
    assert_eq!(users[2]["user_id"].as_str().unwrap().len(), 26, "{users:?}");
    assert!(users[2].get("password_hash").is_none());

    // Each change is audited, the operator (`local` at an emulator) as actor.
    let events = audit_json(p, e, &["--actor", "local"]);
    for t in [
        "USER_CREATED",
        "USER_ROLES_CHANGED",
        "ALL_TOKENS_REVOKED",
        "USER_DISABLED",
    ] {
        assert!(types(&events).contains(t), "{t}: {events:?}");
    }
    assert_eq!(
        events.len(),
        6,
        "three users created (admin by serve), three changes: {events:?}"
    );
    for ev in &events {
        assert_eq!(ev["actor"], "local");
        assert_eq!(ev["origin"]["kind"], "cli");
        assert_eq!(ev["origin"]["operator"], "local");
    }
    let roles = first_of(&events, "USER_ROLES_CHANGED");
    assert_eq!(roles["details"]["from"], "admin,user");
    assert_eq!(roles["details"]["to"], "user");
    let revoked = first_of(&events, "ALL_TOKENS_REVOKED");
    assert_eq!(revoked["details"]["reason"], "laptop stolen");
    assert_eq!(revoked["details"]["username"], "dave");
}

/// An audit event at `ago_secs` before now.
fn event_at(ago_secs: i64, t: EventType, actor: &str) -> AuditEvent {
    let now = warden::clock::Clock::now_millis(&warden::clock::SystemClock);
    AuditEvent::new(
        t,
        Severity::Warning,
        Origin::Http {
            ip: "203.0.113.7".into(),
            user_agent: "tests".into(),
            request_id: format!("req-{ago_secs}"),
        },
        now - ago_secs * 1000,
        30,
    )
    .actor(actor)
    .detail("ago", ago_secs)
}

#[test]
fn audit_query_reads_the_window_newest_first_with_filters() {
    let Some((endpoint, prefix)) = block(warden::testing::emulator_tables()) else {
        return;
    };
    let (p, e) = (prefix.as_str(), endpoint.as_str());
    let store = block(async {
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&warden::testing::aws_config(e).await),
            p,
        )
    });
    let written = [
        event_at(60, EventType::LoginFailed, "user:u-1"),
        event_at(20 * 60, EventType::LoginSuccess, "u-2"),
        event_at(2 * 3600, EventType::LoginFailed, "u-2"),
        event_at(30 * 3600, EventType::LoginFailed, "user:u-1"),
        event_at(3 * 86_400, EventType::TokenRevoked, "user:u-1"),
        event_at(9 * 86_400, EventType::LoginFailed, "user:u-1"),
    ];
    block(async {
        for ev in &written {
            store
                .transact(vec![StoreWrite::Audit(ev.clone())])
                .await
                .unwrap();
        }
    });
    let agos = |events: &[Value]| -> Vec<i64> {
        events
            .iter()
            .map(|ev| ev["details"]["ago"].as_i64().unwrap())
            .collect()
    };
    // Default: the last 24 hours, newest first.
    assert_eq!(agos(&audit_json(p, e, &[])), [60, 1200, 7200]);
    assert_eq!(agos(&audit_json(p, e, &["--since", "30m"])), [60, 1200]);
    assert_eq!(
        agos(&audit_json(p, e, &["--since", "7d"])),
        [60, 1200, 7200, 108_000, 259_200]
    );
    assert_eq!(
        agos(&audit_json(
            p,
            e,
            &["--since", "7d", "--type", "login_failed"]
        )),
        [60, 7200, 108_000]
    );
    // Through the actor index, with the window and the type.
    assert_eq!(
        agos(&audit_json(
            p,
            e,
            &["--actor", "user:u-1", "--since", "10d"]
        )),
        [60, 108_000, 259_200, 777_600]
    );
    assert_eq!(
        agos(&audit_json(
            p,
            e,
            &[
                "--actor",
                "user:u-1",
                "--since",
                "2d",
                "--type",
                "LOGIN_FAILED"
            ]
        )),
        [60, 108_000]
    );
    assert_eq!(
        agos(&audit_json(p, e, &["--since", "7d", "--limit", "2"])),
        [60, 1200]
    );
    // The JSON line is the stored record, with its time as RFC 3339.
    let first = &audit_json(p, e, &["--since", "5m"])[0];
    assert_eq!(first["event_type"], "LOGIN_FAILED");
    assert_eq!(first["severity"], "WARNING");
    assert_eq!(first["actor"], "user:u-1");
    assert_eq!(first["event_id"], written[0].event_id.as_str());
    assert!(first["at"].as_str().unwrap().ends_with('Z'), "{first}");

    // The table: time, type, severity, actor, subject, origin, details.
    let text = ok_at(p, e, &["audit", "query", "--since", "5m"], "");
    assert!(text.starts_with("TIME "), "{text}");
    let line = text.lines().nth(1).unwrap();
    for part in [
        "LOGIN_FAILED",
        "WARNING",
        " user:u-1 ",
        "request_id=req-60",
        "ip=203.0.113.7",
        r#"{"ago":60}"#,
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert_eq!(text.lines().count(), 2, "{text}");
    // --output json is --json.
    assert_eq!(
        ok_at(
            p,
            e,
            &["audit", "query", "--since", "5m", "--output", "json"],
            ""
        ),
        ok_at(p, e, &["audit", "query", "--since", "5m", "--json"], "")
    );

    // Unknown types and bad windows are clear errors.
    let err = fails_at(p, e, &["audit", "query", "--type", "LOGIN_MAYBE"], "");
    assert!(
        err.contains("LOGIN_MAYBE")
            && err.contains("LOGIN_SUCCESS")
            && err.contains("JWT_KEY_ROTATED"),
        "{err}"
    );
    for bad in ["5x", "0m", "h", "3 d", "400d", "1.5h", "5ø", "é", ""] {
        let err = fails_at(p, e, &["audit", "query", "--since", bad], "");
        assert!(err.contains("30m, 24h or 7d"), "{bad}: {err}");
    }
    let err = fails_at(p, e, &["audit", "query", "--since", "60d"], "");
    assert!(err.contains("--actor"), "{err}");
    assert!(ok_at(p, e, &["audit", "query", "--help"], "").contains("--output json"));
}

/// A GitHub delivery of `body` signed with `secret`.
fn github_delivery(secret: &str, body: &[u8]) -> http::HeaderMap {
    let mac = SigningKey::new(secret.as_bytes()).sign(&[body]);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-hub-signature-256",
        format!("sha256={hex}").parse().unwrap(),
    );
    headers.insert("x-github-delivery", "d-1".parse().unwrap());
    headers.insert("x-github-event", "push".parse().unwrap());
    headers
}

/// Whether the `gh` source of the sources document verifies a delivery
/// signed with `secret`, as webhook-receive does.
fn verifies(document: &str, secret: &str) -> bool {
    let sources = Sources::from_json(document).unwrap();
    let body = br#"{"ref": "main"}"#;
    match sources
        .get("gh")
        .unwrap()
        .verify(&github_delivery(secret, body), body, 0)
    {
        Ok(_) => true,
        Err(Rejection::BadSignature) => false,
        Err(other) => panic!("{other:?}"),
    }
}

fn gh_secrets(document: &str) -> Vec<String> {
    let v: Vec<Value> = serde_json::from_str(document).unwrap();
    let gh = v.iter().find(|s| s["name"] == "gh").unwrap();
    gh["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn webhooks_set_secret_keeps_exactly_the_new_and_the_previous_secret() {
    let Some((endpoint, prefix)) = block(warden::testing::emulator_tables()) else {
        return;
    };
    let (p, e) = (prefix.as_str(), endpoint.as_str());
    let arn = create_secret(
        e,
        r#"[{"name": "gh", "scheme": "github", "secrets": ["first-secret", "older-secret"]},
            {"name": "std", "scheme": "standard", "secrets": ["whsec_c2VjcmV0LW9uZQ=="]}]"#,
    );
    let set_secret = |args: &[&str], stdin: &str| {
        let mut cmd = warden(p);
        cmd.args(["webhooks", "set-secret"])
            .args(args)
            .args(["--endpoint", e])
            .env("WARDEN_WEBHOOK_SECRETS_ARN", &arn);
        run(cmd, stdin)
    };
    let out = ok(set_secret(&["gh"], "second-secret\n"), "set-secret gh");
    assert!(out.contains("1 older secret(s) dropped"), "{out}");
    let (v2, doc) = secret_at(e, &arn, "AWSCURRENT").unwrap();
    assert_eq!(gh_secrets(&doc), ["second-secret", "first-secret"]);
    assert!(verifies(&doc, "second-secret") && verifies(&doc, "first-secret"));
    assert!(!verifies(&doc, "older-secret"), "rotated out");

    ok(set_secret(&["gh"], "third-secret\n"), "set-secret gh again");
    let (v3, doc) = secret_at(e, &arn, "AWSCURRENT").unwrap();
    assert_eq!(gh_secrets(&doc), ["third-secret", "second-secret"]);
    assert!(verifies(&doc, "third-secret") && verifies(&doc, "second-secret"));
    assert!(!verifies(&doc, "first-secret"), "rotated out");
    // Each write is a new version, the one before it AWSPREVIOUS.
    assert_eq!(secret_at(e, &arn, "AWSPREVIOUS").unwrap().0, v2);
    // The other source is untouched.
    let std_doc: Vec<Value> = serde_json::from_str(&doc).unwrap();
    assert_eq!(std_doc[1]["secrets"][0], "whsec_c2VjcmV0LW9uZQ==");

    // Refusals write nothing.
    let err = fails(set_secret(&["nope"], "x\n"), "unknown source");
    assert!(err.contains("gh, std") && err.contains("--scheme"), "{err}");
    let err = fails(set_secret(&["std"], "not-whsec\n"), "a bad standard secret");
    assert!(err.contains("whsec_"), "{err}");
    let err = fails(set_secret(&["gh"], "third-secret\n"), "the current secret");
    assert!(err.contains("already the current secret"), "{err}");
    let err = fails(
        set_secret(&["gh", "--scheme", "stripe"], "x\n"),
        "a scheme change",
    );
    assert!(err.contains("github"), "{err}");
    assert_eq!(secret_at(e, &arn, "AWSCURRENT").unwrap().0, v3);
    // Without the variable: it names it.
    let mut cmd = warden(p);
    cmd.args(["webhooks", "set-secret", "gh", "--endpoint", e]);
    let err = fails(run(cmd, "x\n"), "no ARN");
    assert!(err.contains("WARDEN_WEBHOOK_SECRETS_ARN"), "{err}");

    // A new source only with an explicit scheme.
    ok(
        set_secret(&["pay", "--scheme", "stripe"], "whsec_pay\n"),
        "a new source",
    );
    let (_, doc) = secret_at(e, &arn, "AWSCURRENT").unwrap();
    let sources = Sources::from_json(&doc).unwrap();
    assert_eq!(sources.get("pay").unwrap().secret_count(), 1);

    // Audited after each write, never with a secret.
    let events = audit_json(p, e, &["--type", "WEBHOOK_SECRET_ROTATED"]);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0]["details"]["source"], "pay");
    assert_eq!(events[0]["details"]["created"], true);
    assert_eq!(events[1]["details"]["version_id"], v3.as_str());
    assert_eq!(events[1]["details"]["previous_version_id"], v2.as_str());
    for ev in &events {
        assert_eq!(ev["actor"], "local");
        let text = ev.to_string();
        assert!(
            !text.contains("-secret") && !text.contains("whsec_"),
            "{text}"
        );
    }
}

/// The key set as stored, read back through the store.
fn stored_key_set(endpoint: &str, prefix: &str) -> warden::auth::signing::KeySet {
    use warden::store::SessionStore as _;
    block(async {
        let aws = warden::testing::aws_config(endpoint).await;
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), prefix)
            .key_set(warden::auth::signing::ACCESS_KEY_SET)
            .await
            .unwrap()
            .unwrap()
    })
}

#[test]
fn signing_key_rotate_schedules_a_copy_of_the_signing_key_and_retire_now_replaces_it_audited() {
    use warden::auth::signing::{PUBLISH_AHEAD_SECS, RETIRE_AFTER_SECS};
    use warden::clock::Clock as _;
    let Some((endpoint, prefix)) = block(warden::testing::emulator_tables()) else {
        return;
    };
    let (p, e) = (prefix.as_str(), endpoint.as_str());
    let first = block(warden::testing::create_signing_key(e));
    let signing_key = |args: &[&str]| {
        let mut cmd = warden(p);
        cmd.arg("signing-key")
            .args(args)
            .args(["--endpoint", e])
            .env("WARDEN_SIGNING_KEY_ARN", &first);
        run(cmd, "")
    };
    // Before any change: the stack's first key alone, signing.
    let listed = ok(signing_key(&["list"]), "list");
    let first_line: Vec<String> = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert!(
        first_line[1] == "signing" && first_line.last() == Some(&first),
        "{listed}"
    );
    let first_kid = first_line[0].clone();
    let as_json = common::json_lines(&ok(signing_key(&["list", "--output", "json"]), "list"));
    assert_eq!(as_json[0]["kid"], first_kid.as_str());
    assert_eq!(as_json[0]["state"], "signing");
    assert_eq!(as_json[0]["arn"], first.as_str());
    assert_eq!(first_kid.len(), 43, "an RFC 7638 thumbprint: {first_kid}");

    let before = warden::clock::SystemClock.now_secs();
    let out = ok(signing_key(&["rotate"]), "rotate");
    let set = stored_key_set(e, p);
    assert_eq!(set.version, 1);
    let (old, new) = (&set.keys[0], &set.keys[1]);
    assert_eq!(
        (old.kid.as_str(), old.arn.as_str()),
        (first_kid.as_str(), first.as_str())
    );
    assert!(out.contains(&new.kid) && out.contains(&new.arn), "{out}");
    // The schedule: published now, signing after the gateway's cache.
    assert!((before..before + 30).contains(&new.publish_from), "{new:?}");
    assert_eq!(new.sign_from - new.publish_from, PUBLISH_AHEAD_SECS);
    assert_eq!(old.sign_until, Some(new.sign_from));
    assert_eq!(old.retire_at, Some(new.sign_from + RETIRE_AFTER_SECS));
    // The new key is an RSA_2048 signing key with the first key's policy and tag.
    block(async {
        let kms = aws_sdk_kms::Client::new(&warden::testing::aws_config(e).await);
        let meta = kms.describe_key().key_id(&new.arn).send().await.unwrap();
        let meta = meta.key_metadata.unwrap();
        assert_eq!(meta.key_spec.unwrap().as_str(), "RSA_2048");
        assert_eq!(meta.key_usage.unwrap().as_str(), "SIGN_VERIFY");
        let policy = |arn: String| {
            let kms = kms.clone();
            async move {
                kms.get_key_policy()
                    .key_id(arn)
                    .policy_name("default")
                    .send()
                    .await
                    .unwrap()
                    .policy
                    .unwrap()
            }
        };
        assert_eq!(policy(new.arn.clone()).await, policy(first.clone()).await);
        let tags = kms
            .list_resource_tags()
            .key_id(&new.arn)
            .send()
            .await
            .unwrap();
        assert!(
            tags.tags()
                .iter()
                .any(|t| t.tag_key == "warden:signing" && t.tag_value == "warden-tests"),
            "{tags:?}"
        );
    });
    // A second rotation while the first is under way: refused, nothing made.
    let err = fails(signing_key(&["rotate"]), "second rotation");
    assert!(err.contains("already under way"), "{err}");
    assert_eq!(stored_key_set(e, p).version, 1);

    // Retire the signing key now: refused at once, a replacement signs now.
    let out = ok(signing_key(&["retire", &first_kid, "--now"]), "retire");
    let set = stored_key_set(e, p);
    let now = warden::clock::SystemClock.now_secs();
    assert!(set.verifying(&first_kid, now).is_none());
    let replacement = set.signing(now).unwrap();
    assert!(![first_kid.as_str(), new.kid.as_str()].contains(&replacement.kid.as_str()));
    assert!(
        out.contains(&replacement.kid) && out.contains("2 hours"),
        "{out}"
    );
    // The scheduled key still takes over when it said it would.
    assert_eq!(set.signing(new.sign_from).unwrap().kid, new.kid);
    // --now is required; an unknown kid is an error naming it.
    assert!(!signing_key(&["retire", &new.kid]).status.success());
    let err = fails(
        signing_key(&["retire", "no-such-kid", "--now"]),
        "unknown kid",
    );
    assert!(err.contains("no-such-kid"), "{err}");

    let rotated = audit_json(p, e, &["--type", "SIGNING_KEY_ROTATED"]);
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert_eq!(rotated[0]["details"]["kid"], new.kid.as_str());
    assert_eq!(rotated[0]["details"]["previous_kid"], first_kid.as_str());
    let retired = audit_json(p, e, &["--type", "SIGNING_KEY_RETIRED"]);
    assert_eq!(retired.len(), 1, "{retired:?}");
    assert_eq!(retired[0]["severity"], "CRITICAL");
    assert_eq!(
        retired[0]["details"]["replacement_kid"],
        replacement.kid.as_str()
    );
    for ev in rotated.iter().chain(&retired) {
        assert_eq!(ev["actor"], "local");
    }
    // Without a key set or the first key's ARN, the command says what to set.
    let fresh = block(warden::testing::emulator_tables()).unwrap().1;
    let mut cmd = warden(&fresh);
    cmd.args(["signing-key", "rotate", "--endpoint", e]);
    let err = fails(run(cmd, ""), "no key");
    assert!(err.contains("WARDEN_SIGNING_KEY_ARN"), "{err}");
}

#[test]
fn every_changing_command_names_the_aws_caller_identity_without_an_endpoint() {
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    let p = prefix.as_str();
    // No --endpoint: every client goes where the AWS configuration says
    // (here AWS_ENDPOINT_URL, the emulator), and the operator is the
    // caller identity STS reports.
    let signing_arn = block(warden::testing::create_signing_key(&endpoint));
    let hooks_arn = create_secret(
        &endpoint,
        r#"[{"name": "gh", "scheme": "github", "secrets": ["s1"]}]"#,
    );
    let cmd = |args: &[&str], stdin: &str| {
        let mut cmd = warden(p);
        cmd.args(args)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("WARDEN_SIGNING_KEY_ARN", &signing_arn)
            .env("WARDEN_WEBHOOK_SECRETS_ARN", &hooks_arn);
        ok(run(cmd, stdin), &args.join(" "))
    };
    cmd(&["tables", "create"], "");
    cmd(&["workspaces", "add", "acme", "--name", "Acme"], "");
    cmd(
        &words("agents register books --type accounting --maturity INTERN --workspace acme"),
        "",
    );
    cmd(&["agents", "set-maturity", "books", "SUPERVISED"], "");
    cmd(&["agents", "disable", "books"], "");
    cmd(&["agents", "enable", "books"], "");
    cmd(
        &words("tools register lookup --complexity 1 --workspace acme"),
        "",
    );
    cmd(&["tools", "remove", "lookup"], "");
    cmd(
        &["users", "add", "fay", "--role", "user"],
        "fay's password\n",
    );
    let out = cmd(
        &words("apikeys create --owner books --scope agents:run --for fay"),
        "",
    );
    let key_id = out
        .lines()
        .next()
        .and_then(|l| first_word_after(l, "created API key "))
        .unwrap();
    cmd(&["apikeys", "revoke", key_id], "");
    cmd(&["users", "set-password", "fay"], "fay's new password\n");
    cmd(&["users", "disable", "fay"], "");
    cmd(&["users", "enable", "fay"], "");
    cmd(&["users", "roles", "fay", "--role", "approver"], "");
    cmd(
        &["users", "revoke-all", "fay", "--reason", "audit test"],
        "",
    );
    cmd(&["webhooks", "set-secret", "gh"], "s2\n");
    cmd(&["signing-key", "rotate"], "");

    let arn = block(async {
        let sts = aws_sdk_sts::Client::new(&warden::testing::aws_config(&endpoint).await);
        sts.get_caller_identity()
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned()
    });
    assert!(arn.starts_with("arn:aws"), "{arn}");
    let listed = cmd(&["audit", "query", "--json", "--actor", &arn], "");
    let events: Vec<Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want: BTreeSet<String> = [
        EventType::WorkspaceCreated,
        EventType::AgentRegistered,
        EventType::AgentMaturityChanged,
        EventType::AgentDisabled,
        EventType::AgentEnabled,
        EventType::ToolRegistered,
        EventType::ToolRemoved,
        EventType::ApiKeyCreated,
        EventType::ApiKeyRevoked,
        EventType::UserCreated,
        EventType::PasswordChanged,
        EventType::UserDisabled,
        EventType::UserEnabled,
        EventType::UserRolesChanged,
        EventType::AllTokensRevoked,
        EventType::WebhookSecretRotated,
        EventType::SigningKeyRotated,
    ]
    .iter()
    .map(|t| t.as_str().to_owned())
    .collect();
    assert_eq!(types(&events), want, "{listed}");
    assert_eq!(events.len(), want.len(), "one event per command: {listed}");
    for ev in &events {
        assert_eq!(ev["origin"]["operator"], arn.as_str(), "{ev}");
    }
    // Nothing was attributed to `local`.
    assert!(cmd(&["audit", "query", "--json", "--actor", "local"], "").is_empty());

    // No identity, no change: with STS unreachable (DynamoDB still there)
    // the command fails before it writes anything.
    let mut no_sts = warden(p);
    no_sts
        .args(["users", "disable", "fay"])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1");
    let err = fails(run(no_sts, ""), "a change without an identity");
    assert!(err.contains("GetCallerIdentity"), "{err}");
    let list = cmd(&["users", "list", "--output", "json"], "");
    assert!(
        common::json_lines(&list)
            .iter()
            .any(|u| u["username"] == "fay" && u["disabled"] == false),
        "{list}"
    );
    let after = cmd(&["audit", "query", "--json", "--actor", &arn], "");
    assert_eq!(after.lines().count(), want.len(), "{after}");
}

#[test]
fn memberships_are_added_and_removed_and_config_check_names_who_has_none() {
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    let (p, e) = (prefix.as_str(), endpoint.as_str());
    ok_at(p, e, &["tables", "create"], "");
    ok_at(
        p,
        e,
        &["users", "add", "gus", "--role", "user"],
        "gus's password\n",
    );
    ok_at(
        p,
        e,
        &["users", "add", "hal", "--role", "admin"],
        "hal's password\n",
    );
    ok_at(p, e, &["workspaces", "add", "acme", "--name", "Acme"], "");
    let check = || {
        let mut cmd = warden(p);
        cmd.args(["config", "check", "--endpoint", e])
            .env("WARDEN_ENV", "development")
            .env(
                "WARDEN_SIGNING_KEY_FILE",
                warden::testing::TEST_SIGNING_KEY_FILE,
            );
        let out = run(cmd, "");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // gus sees no workspace yet; hal, an admin, sees them all.
    let before = check();
    let line = before
        .lines()
        .find(|l| l.contains("memberships"))
        .unwrap_or_else(|| panic!("no membership finding: {before}"));
    assert!(
        line.starts_with("WARNING") && line.contains("gus"),
        "{line}"
    );
    assert!(!line.contains("hal"), "{line}");

    let out = ok_at(p, e, &["workspaces", "add-member", "acme", "Gus"], "");
    assert!(
        out.contains("gus") && out.contains("is a member of workspace acme"),
        "{out}"
    );
    let after = check();
    let line = after.lines().find(|l| l.contains("memberships")).unwrap();
    assert!(line.starts_with("ok"), "{line}");

    // Unknown workspace or user: refused, naming it.
    let err = fails_at(p, e, &["workspaces", "add-member", "nowhere", "gus"], "");
    assert!(err.contains("nowhere"), "{err}");
    let err = fails_at(p, e, &["workspaces", "add-member", "acme", "nobody"], "");
    assert!(err.contains("nobody"), "{err}");

    let out = ok_at(p, e, &["workspaces", "remove-member", "acme", "gus"], "");
    assert!(
        out.contains("no longer a member of workspace acme"),
        "{out}"
    );
    assert!(
        check()
            .lines()
            .any(|l| l.contains("memberships") && l.contains("gus"))
    );
    // Each change is audited.
    let events = audit_json(p, e, &["--type", "WORKSPACE_MEMBER_ADDED"]);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["username"], "gus");
    let events = audit_json(p, e, &["--type", "WORKSPACE_MEMBER_REMOVED"]);
    assert_eq!(events.len(), 1, "{events:?}");
}
