//! The `warden` binary itself: its commands, exit codes and output.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Killed, block, fails, first_word_after, ok, run, serve, serve_on_dynamodb, warden, words,
};

#[test]
fn config_check_names_every_problem_and_fails_when_start_up_would_be_refused() {
    let out = warden()
        .args(["config", "check"])
        .env("WARDEN_ENV", "development")
        .env("WARDEN_ISSUER", "https://auth.example.com/path")
        .env("WARDEN_ARGON2_M_COST", "1024")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("no path"), "{stdout}");
    assert!(stdout.contains("WARDEN_ARGON2_M_COST=1024"), "{stdout}");

    let out = warden()
        .args(["config", "check"])
        .env("WARDEN_ENV", "production")
        .env("ALLOWED_ORIGINS", "*")
        .env("WARDEN_SIGNING_KEY_FILE", "/tmp/key.pem")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    for named in [
        "ALLOWED_ORIGINS",
        "WARDEN_ISSUER_PARAMETER",
        "WARDEN_SIGNING_KEY_FILE",
    ] {
        assert!(stdout.contains(named), "{named}: {stdout}");
    }

    let out = warden()
        .args(["config", "check"])
        .env("WARDEN_ENV", "development")
        .env(
            "WARDEN_SIGNING_KEY_FILE",
            warden::testing::TEST_SIGNING_KEY_FILE,
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn serve_refuses_an_unreadable_or_unusable_signing_key_file() {
    let dir = std::env::temp_dir().join(format!("warden-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_a_key = dir.join("not-a-key.pem");
    std::fs::write(
        &not_a_key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for (file, says) in [
        ("/nonexistent/key.pem", "cannot be read"),
        (not_a_key.to_str().unwrap(), "not a usable RSA key"),
    ] {
        let out = warden()
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("WARDEN_SIGNING_KEY_FILE", file)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{file}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Starts `warden serve` with `args` on a free port: the server, the lines
/// it printed up to "listening on", and its URL.
fn serve_with(args: &[&str]) -> (Killed, Vec<String>, String) {
    let mut cmd = warden();
    cmd.args(["serve", "--addr", "127.0.0.1:0"]).args(args);
    serve(cmd)
}

/// POSTs `body` to `url` with `headers`; the status.
fn post_status(url: &str, headers: &[(&str, &str)], body: serde_json::Value) -> u16 {
    block(async {
        let mut request = reqwest::Client::new().post(url).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap().status().as_u16()
    })
}

fn login(url: &str, username: &str, password: &str) -> u16 {
    let body = serde_json::json!({"username": username, "password": password});
    post_status(&format!("{url}/auth/login"), &[], body)
}

#[test]
fn serve_without_a_seed_creates_admin_with_a_password_printed_once() {
    let (_child, lines, url) = serve_with(&[]);
    let password = lines
        .iter()
        .find_map(|l| first_word_after(l, "created user admin with password "))
        .unwrap_or_else(|| panic!("no admin password in {lines:?}"));
    assert_eq!(login(&url, "admin", password), 200);
    assert_eq!(login(&url, "admin", "not it"), 401);
}

#[test]
fn serve_loads_users_from_a_seed_file() {
    let dir = std::env::temp_dir().join(format!("warden-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        r#"{"users": [{"username": "Carol", "password": "carol's password", "roles": ["approver"]}],
            "webhook_sources": []}"#,
    )
    .unwrap();
    let (_child, lines, url) = serve_with(&["--seed", seed.to_str().unwrap()]);
    assert!(
        lines.iter().any(|l| l.starts_with("seeded user carol")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("carol's password")));
    assert_eq!(login(&url, "carol", "carol's password"), 200);

    // A seed that must stop start-up: what `warden serve` says.
    let refused = |what: &str, contents: &str| {
        std::fs::write(&seed, contents).unwrap();
        let out = warden()
            .args(["serve", "--seed", seed.to_str().unwrap()])
            .output()
            .unwrap();
        fails(out, what)
    };
    let err = refused(
        "a webhook source without a secret",
        r#"{"users": [], "webhook_sources": [{"name": "gh", "scheme": "github", "secrets": []}]}"#,
    );
    assert!(err.contains("no secret"), "{err}");
    let err = refused(
        "an unknown role",
        r#"{"users": [{"username": "x", "password": "y", "roles": ["root"]}]}"#,
    );
    assert!(err.contains("unknown role"), "{err}");
}

#[test]
fn tables_create_and_users_add_work_against_dynamodb() {
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    let out = warden()
        .args(["tables", "create", "--endpoint", &endpoint])
        .env("WARDEN_TABLE_PREFIX", &prefix)
        .output()
        .unwrap();
    let stdout = ok(out, "tables create");
    let created = stdout
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|w| w.trim_end_matches(';') == "created")
        })
        .count();
    assert_eq!(
        created,
        warden::store::dynamo::tables::ALL.len(),
        "{stdout}"
    );
    assert!(stdout.starts_with("TABLE "), "a header: {stdout}");

    let mut add = warden();
    add.args([
        "users",
        "add",
        "Dave",
        "--role",
        "admin",
        "--endpoint",
        &endpoint,
    ])
    .env("WARDEN_TABLE_PREFIX", &prefix);
    let out = run(add, "dave's password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user dave"));

    // The API on those tables logs Dave in with that password.
    let mut on_tables = warden();
    on_tables.env("WARDEN_TABLE_PREFIX", &prefix);
    let (_server, _, url) = serve_on_dynamodb(on_tables, &endpoint);
    assert_eq!(login(&url, "dave", "dave's password"), 200);

    let mut set_password = warden();
    set_password
        .args(["users", "set-password", "dave", "--endpoint", &endpoint])
        .env("WARDEN_TABLE_PREFIX", &prefix);
    let out = run(set_password, "dave's new password\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("generation 1"), "{stdout}");
    assert_eq!(login(&url, "dave", "dave's password"), 401);
    assert_eq!(login(&url, "dave", "dave's new password"), 200);

    // Disabled: no login; enabled again: logins work.
    let users = |command: &str, name: &str| {
        warden()
            .args(["users", command, name, "--endpoint", &endpoint])
            .env("WARDEN_TABLE_PREFIX", &prefix)
            .output()
            .unwrap()
    };
    let out = users("disable", "Dave");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("user dave disabled") && stdout.contains("generation 2"),
        "{stdout}"
    );
    assert_eq!(login(&url, "dave", "dave's new password"), 401);
    let out = users("enable", "dave");
    assert!(out.status.success());
    assert_eq!(login(&url, "dave", "dave's new password"), 200);
    let out = users("disable", "nobody");
    assert!(!out.status.success(), "an unknown user is an error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user nobody"));
}

/// The pepper the agents test gives both the `warden` commands and the
/// API it serves.
const TEST_PEPPER: &str = "cli-test-api-key-pepper-0123456789abcdef";

/// POSTs a run of `books` in `acme` with `key`; the status.
fn run_with_key(url: &str, key: &str) -> u16 {
    let body = serde_json::json!({
        "workspace_id": "acme",
        "action": "resolve_entities",
        "input": {"records": [{"id": "r1", "email": "ann@example.com"}]}
    });
    post_status(
        &format!("{url}/agents/books/runs"),
        // Complexity 3: the run carries an Idempotency-Key.
        &[("x-api-key", key), ("idempotency-key", "cli-run-1")],
        body,
    )
}

#[test]
fn workspaces_agents_and_api_keys_are_administered_against_dynamodb() {
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    // Every command on these tables, in development, with the pepper.
    let cmd = |args: &[&str]| {
        let mut cmd = warden();
        cmd.args(args)
            .args(["--endpoint", &endpoint])
            .env("WARDEN_TABLE_PREFIX", &prefix)
            .env("WARDEN_ENV", "development")
            .env("WARDEN_API_KEY_PEPPER", TEST_PEPPER)
            .env_remove("WARDEN_API_KEY_PEPPER_ARN");
        cmd
    };
    let ok = |args: &[&str]| ok(cmd(args).output().unwrap(), &format!("{args:?}"));
    let fails = |args: &[&str]| fails(cmd(args).output().unwrap(), &format!("{args:?}"));
    ok(&["tables", "create"]);

    let out = ok(&["workspaces", "add", "acme", "--name", "Acme Ltd"]);
    assert!(out.contains("added workspace acme (Acme Ltd)"), "{out}");
    let out = ok(&words(
        "agents register books --type accounting --maturity supervised --workspace acme",
    ));
    assert!(
        out.contains("registered agent books (accounting, SUPERVISED, workspaces: acme)"),
        "{out}"
    );
    // An unknown type or maturity names the valid values.
    let register = |agent_type: &str, maturity: &str| {
        let line = format!(
            "agents register other --type {agent_type} --maturity {maturity} --workspace acme"
        );
        fails(&words(&line))
    };
    let err = register("robotics", "SUPERVISED");
    assert!(
        err.contains("robotics") && err.contains("accounting") && err.contains("planning"),
        "{err}"
    );
    let err = register("accounting", "GENIUS");
    assert!(
        err.contains("GENIUS") && err.contains("STUDENT") && err.contains("AUTONOMOUS"),
        "{err}"
    );
    let err = fails(&words(
        "agents register other --type sales --maturity INTERN --workspace nowhere",
    ));
    assert!(err.contains("nowhere"), "{err}");

    let list = ok(&["agents", "list"]);
    assert_eq!(
        list.lines().count(),
        2,
        "a header and one agent (the refused ones are not there): {list}"
    );
    let header: Vec<&str> = list.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["AGENT_ID", "TYPE", "MATURITY", "STATE", "WORKSPACES"]
    );
    let line = list.lines().nth(1).unwrap();
    for word in ["books", "accounting", "SUPERVISED", "enabled", "acme"] {
        assert!(line.split_whitespace().any(|w| w == word), "{word}: {line}");
    }
    let agents = |args: &[&str]| common::json_lines(&ok(args));
    let listed = agents(&["agents", "list", "--output", "json"]);
    assert_eq!(
        listed,
        [
            serde_json::json!({"agent_id": "books", "agent_type": "accounting",
            "maturity": "SUPERVISED", "enabled": true, "workspaces": ["acme"]})
        ]
    );
    let out = ok(&["agents", "set-maturity", "books", "intern"]);
    assert!(out.contains("agent books is now INTERN"), "{out}");
    assert_eq!(
        agents(&["agents", "list", "--output", "json"])[0]["maturity"],
        "INTERN"
    );
    ok(&["agents", "set-maturity", "books", "SUPERVISED"]);
    let out = ok(&["agents", "disable", "books"]);
    assert!(out.contains("agent books disabled"), "{out}");
    assert_eq!(
        agents(&["agents", "list", "--output", "json"])[0]["enabled"],
        false
    );
    ok(&["agents", "enable", "books"]);
    assert_eq!(
        agents(&["agents", "list", "--output", "json"])[0]["enabled"],
        true
    );
    let err = fails(&["agents", "disable", "ghost"]);
    assert!(err.contains("no agent ghost"), "{err}");

    // An agent's key names the person it is for, who must exist.
    let err = fails(&words("apikeys create --owner books --scope agents:run"));
    assert!(err.contains("--for"), "{err}");
    let err = fails(&words(
        "apikeys create --owner books --scope agents:run --for nobody",
    ));
    assert!(err.contains("no user nobody"), "{err}");
    common::ok(
        common::run(
            cmd(&words("users add ann --role user")),
            "ann's password 2026\n",
        ),
        "users add",
    );
    // A key, printed once after the line that names its id.
    let out = ok(&words(
        "apikeys create --owner books --scope agents:run --for ann",
    ));
    let mut lines = out.lines();
    let key_id = lines
        .next()
        .and_then(|l| first_word_after(l, "created API key "))
        .unwrap_or_else(|| panic!("no key id in {out}"));
    let key = lines.next().unwrap().trim().to_owned();
    let secret = key
        .strip_prefix(&format!("wdn_{key_id}_"))
        .unwrap_or_else(|| panic!("{key} is not wdn_{key_id}_<secret>"))
        .to_owned();
    assert!(secret.len() >= 43, "{secret}");

    // No pepper configured outside development: refused, saying what to
    // set (in development an endpoint has a pepper of its own: see
    // stack.rs).
    let out = cmd(&words(
        "apikeys create --owner books --scope agents:run --for ann",
    ))
    .env_remove("WARDEN_API_KEY_PEPPER")
    .env("WARDEN_ENV", "production")
    .env("WARDEN_ISSUER", "https://auth.example.com")
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARDEN_API_KEY_PEPPER_ARN") && err.contains("--stack"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("wdn_"));
    let err = fails(&words(
        "apikeys create --owner ghost --scope agents:run --for ann",
    ));
    assert!(err.contains("ghost"), "{err}");

    // The API on these tables, with the same pepper, takes the key.
    let mut on_tables = warden();
    on_tables
        .env("WARDEN_TABLE_PREFIX", &prefix)
        .env("WARDEN_API_KEY_PEPPER", TEST_PEPPER);
    let (_server, _, url) = serve_on_dynamodb(on_tables, &endpoint);
    assert_eq!(run_with_key(&url, &key), 202);

    // Listed with its use, never with its secret.
    let list = ok(&["apikeys", "list"]);
    assert!(
        list.contains(key_id) && list.contains("no expiry"),
        "{list}"
    );
    assert!(!list.contains(&secret), "the secret is listed: {list}");
    let keys = common::json_lines(&ok(&["apikeys", "list", "--output", "json"]));
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["key_id"], key_id);
    assert_eq!(keys[0]["owner"], "books");
    assert_eq!(keys[0]["usage_count"], 1);
    assert_eq!(keys[0]["expires_at"], serde_json::Value::Null);
    assert!(keys[0]["created_by"].is_string(), "{keys:?}");

    let out = ok(&["apikeys", "revoke", key_id]);
    assert!(out.contains(&format!("API key {key_id} revoked")), "{out}");
    assert_eq!(run_with_key(&url, &key), 401);
    let err = fails(&["apikeys", "revoke", key_id]);
    assert!(err.contains("already revoked"), "{err}");
    let unknown = "01J00000000000000000000000";
    let err = fails(&["apikeys", "revoke", unknown]);
    assert!(err.contains(&format!("no key {unknown}")), "{err}");
    let list = ok(&["apikeys", "list"]);
    assert!(list.contains("revoked"), "{list}");
    assert!(!list.contains(&secret), "{list}");
    let keys = common::json_lines(&ok(&["apikeys", "list", "--output", "json"]));
    assert!(keys[0]["revoked_at"].is_string(), "{keys:?}");
}
