//! No error of the `warden` command shows a secret it was given: a
//! password, its argon2id hash, an API key or its secret, a webhook
//! secret, the pepper. Each command that takes one is run on its error
//! paths (an endpoint without a scheme, an endpoint where nothing listens,
//! tables that do not exist, bad input) and everything it printed is
//! searched for the secret. The paths that need the emulator skip without
//! `WARDEN_TEST_AWS_ENDPOINT` (and fail without it under
//! `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{run, warden};

const PASSWORD: &str = "Pa55word-that-must-never-be-printed";
const PEPPER: &str = "pepper-that-must-never-be-printed-0123456789";
const KEY_SECRET: &str = "c2VjcmV0LXBhcnQtb2YtdGhlLWtleS1uZXZlci1zaG93bg";
const KEY_ID: &str = "01J00000000000000000000000";
const WEBHOOK_SECRET: &str = "webhook-secret-that-must-never-be-printed";
const OLD_WEBHOOK_SECRET: &str = "the-current-webhook-secret-never-printed";

/// Where a command may be pointed, failing, each with a label.
fn bad_endpoints() -> Vec<(&'static str, String)> {
    // A port with nothing behind it: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    vec![
        ("an endpoint without a scheme", format!("127.0.0.1:{port}")),
        (
            "an endpoint where nothing listens",
            format!("http://127.0.0.1:{port}"),
        ),
    ]
}

/// Runs `args` (plus `--endpoint`), with `stdin`, in development under a
/// prefix with no tables; asserts it failed and printed none of `secrets`
/// (nor any argon2 hash). Its standard error.
fn fails_quietly(
    env: &[(&str, &str)],
    args: &[&str],
    endpoint: &str,
    stdin: &str,
    secrets: &[&str],
) -> String {
    let mut cmd: Command = warden();
    cmd.args(args)
        .args(["--endpoint", endpoint])
        .env("WARDEN_ENV", "development")
        .env("WARDEN_TABLE_PREFIX", warden::testing::unique_prefix());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(cmd, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = format!("{} at {endpoint}", args.join(" "));
    assert!(!out.status.success(), "{what} succeeded: {stdout}");
    for printed in [&stdout, &stderr] {
        for secret in secrets.iter().chain(&["$argon2id$", "argon2id"]) {
            assert!(
                !printed.contains(secret),
                "{what} printed {secret}: {printed}"
            );
        }
    }
    stderr.into_owned()
}

fn whole_key() -> String {
    format!("wdn_{KEY_ID}_{KEY_SECRET}")
}

/// Every endpoint a command is tried on: the broken ones, and the emulator
/// with no tables (and no secrets) under the prefix, when there is one.
fn endpoints() -> Vec<(&'static str, String)> {
    let mut all = bad_endpoints();
    if let Some(endpoint) = warden::testing::aws_endpoint() {
        all.push(("the emulator, without tables", endpoint));
    }
    all
}

#[test]
fn users_add_and_set_password_never_print_the_password_or_its_hash() {
    let stdin = format!("{PASSWORD}\n");
    for (label, endpoint) in endpoints() {
        let err = fails_quietly(
            &[],
            &["users", "add", "alice", "--role", "admin"],
            &endpoint,
            &stdin,
            &[PASSWORD],
        );
        if label.contains("without a scheme") {
            assert!(err.contains("is the endpoint a URL"), "{label}: {err}");
        }
        if label.contains("emulator") {
            // The missing tables named, with the command that makes them.
            assert!(
                err.contains("tables are missing") && err.contains("tables create"),
                "{err}"
            );
        } else {
            // The first call that fails: the audit MAC key's read (at a
            // loopback endpoint, its secret there), before any write.
            assert!(
                err.contains("GetSecretValue") || err.contains("TransactWriteItems"),
                "{label}: {err}"
            );
        }
        let err = fails_quietly(
            &[],
            &["users", "set-password", "alice"],
            &endpoint,
            &stdin,
            &[PASSWORD],
        );
        assert!(
            err.contains("unavailable")
                || err.contains("no user")
                || err.contains("tables are missing"),
            "{label}: {err}"
        );
    }
    // A password too long is refused without being repeated.
    let long = format!("{}\n", PASSWORD.repeat(40));
    let (_, endpoint) = &bad_endpoints()[1];
    fails_quietly(&[], &["users", "add", "bob"], endpoint, &long, &[PASSWORD]);
}

#[test]
fn apikeys_revoke_given_the_whole_key_never_prints_its_secret() {
    let key = whole_key();
    for (label, endpoint) in endpoints() {
        let err = fails_quietly(
            &[],
            &["apikeys", "revoke", &key],
            &endpoint,
            "",
            &[KEY_SECRET],
        );
        assert!(!err.contains(&key), "{label}: {err}");
        // The secret alone, or a key mangled: refused, not repeated.
        for bad in [
            KEY_SECRET.to_owned(),
            format!("wdn_{KEY_SECRET}"),
            format!("{KEY_ID}{KEY_SECRET}"),
        ] {
            let err = fails_quietly(
                &[],
                &["apikeys", "revoke", &bad],
                &endpoint,
                "",
                &[KEY_SECRET],
            );
            assert!(err.contains("neither a key id"), "{label}: {err}");
        }
    }
    // With tables: an unknown key is named by its id alone.
    let Some((endpoint, prefix)) = common::block(warden::testing::emulator_tables()) else {
        return;
    };
    let mut cmd = warden();
    cmd.args(["apikeys", "revoke", &key, "--endpoint", &endpoint])
        .env("WARDEN_TABLE_PREFIX", &prefix);
    let out = run(cmd, "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("no key {KEY_ID}")), "{err}");
    assert!(!err.contains(KEY_SECRET), "{err}");
}

#[test]
fn apikeys_create_never_prints_the_pepper() {
    let env = [("WARDEN_API_KEY_PEPPER", PEPPER)];
    for (_, endpoint) in endpoints() {
        fails_quietly(
            &env,
            &[
                "apikeys",
                "create",
                "--owner",
                "books",
                "--for",
                "ann",
                "--scope",
                "agents:run",
            ],
            &endpoint,
            "",
            &[PEPPER],
        );
    }
}

#[test]
fn webhooks_set_secret_never_prints_the_new_or_the_current_secret() {
    let stdin = format!("{WEBHOOK_SECRET}\n");
    let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:warden-test-missing";
    let env = [("WARDEN_WEBHOOK_SECRETS_ARN", arn)];
    let args = ["webhooks", "set-secret", "gh", "--scheme", "github"];
    for (label, endpoint) in endpoints() {
        let err = fails_quietly(&env, &args, &endpoint, &stdin, &[WEBHOOK_SECRET]);
        assert!(
            err.contains("GetSecretValue") || err.contains("no secret"),
            "{label}: {err}"
        );
    }
    let Some(endpoint) = warden::testing::aws_endpoint() else {
        return;
    };
    // Documents the command refuses, each holding the current secret.
    for document in [
        format!(r#"[{{"name": "gh", "scheme": "github", "secrets": "{OLD_WEBHOOK_SECRET}"}}]"#),
        format!(r#"{{"gh": "{OLD_WEBHOOK_SECRET}"}}"#),
        format!(
            r#"[{{"name": "gh", "scheme": "github", "secrets": ["{WEBHOOK_SECRET}", "{OLD_WEBHOOK_SECRET}"]}}]"#
        ),
        format!(r#"[{{"name": "gh", "scheme": "standard", "secrets": ["{OLD_WEBHOOK_SECRET}"]}}]"#),
    ] {
        let arn = common::block(async {
            let client =
                aws_sdk_secretsmanager::Client::new(&warden::testing::aws_config(&endpoint).await);
            let name = format!("warden-test/{}", ulid::Ulid::new());
            warden::testing::create_secret(&client, &name, &document).await
        });
        let env = [("WARDEN_WEBHOOK_SECRETS_ARN", arn.as_str())];
        fails_quietly(
            &env,
            &["webhooks", "set-secret", "gh"],
            &endpoint,
            &stdin,
            &[WEBHOOK_SECRET, OLD_WEBHOOK_SECRET],
        );
    }
}

#[test]
fn a_seed_file_that_does_not_parse_never_prints_its_secrets() {
    let dir = std::env::temp_dir().join(format!("warden-seed-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("seed.json");
    for contents in [
        format!(
            r#"{{"users": [], "webhook_sources": [{{"name": "gh", "scheme": "github", "secrets": "{WEBHOOK_SECRET}"}}]}}"#
        ),
        format!(
            r#"{{"users": [{{"username": "x", "password": "{PASSWORD}", "roles": "{PASSWORD}"}}]}}"#
        ),
        format!(
            r#"{{"api_keys": [{{"key": "{}", "owner": "b", "scopes": "{KEY_SECRET}"}}]}}"#,
            whole_key()
        ),
    ] {
        std::fs::write(&seed, contents).unwrap();
        let out = warden()
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--seed",
                seed.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("seed file"), "{err}");
        for secret in [WEBHOOK_SECRET, PASSWORD, KEY_SECRET] {
            assert!(!err.contains(secret), "{err}");
        }
    }
}

/// A `warden` command run at a terminal: `script` (util-linux) gives it a
/// pseudo-terminal as standard input, output and error, and copies what
/// the terminal shows (the prompts, and any echo of what is typed) to its
/// own standard output.
struct AtTerminal {
    child: common::Killed,
    stdin: std::process::ChildStdin,
    shown: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl AtTerminal {
    /// `args` at a terminal; `None` (the test skips) without `script`.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Option<Self> {
        use std::io::Read as _;
        use std::process::Stdio;

        if Command::new("script").arg("--version").output().is_err() {
            eprintln!("skipping: no script(1) (util-linux) to give the command a terminal");
            return None;
        }
        let template = warden();
        let mut line = vec![env!("CARGO_BIN_EXE_warden").to_owned()];
        line.extend(args.iter().map(|a| (*a).to_owned()));
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", &line.join(" "), "/dev/null"]);
        for (k, v) in template.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd
            .env("WARDEN_ENV", "development")
            .env("WARDEN_TABLE_PREFIX", warden::testing::unique_prefix())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = shown.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Some(Self {
            child: common::Killed(child),
            stdin,
            shown,
        })
    }

    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.shown.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal shows `text` `times` times.
    fn wait_for(&self, text: &str, times: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.shown().matches(text).count() < times {
            assert!(
                std::time::Instant::now() < deadline,
                "no {text:?} on the terminal: {:?}",
                self.shown()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Types `line` and Enter, once the prompt is shown `times` times. The
    /// pause lets the command turn echo off, which it does right after it
    /// prints the prompt (a person types slower than that).
    fn type_after(&mut self, prompt: &str, times: usize, line: &str) {
        use std::io::Write as _;
        self.wait_for(prompt, times);
        std::thread::sleep(std::time::Duration::from_millis(300));
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for the command to end: whether it succeeded, and everything
    /// the terminal showed.
    fn finish(mut self) -> (bool, String) {
        let status = self.child.0.wait().unwrap();
        // The reader thread copies the last bytes after the exit.
        std::thread::sleep(std::time::Duration::from_millis(200));
        (status.success(), self.shown())
    }
}

#[test]
fn a_password_typed_at_a_terminal_is_asked_twice_and_never_echoed() {
    let (_, endpoint) = &bad_endpoints()[1];
    let args = [
        "users",
        "add",
        "alice",
        "--role",
        "admin",
        "--endpoint",
        endpoint,
    ];
    let Some(mut terminal) = AtTerminal::start(&args, &[]) else {
        return;
    };
    terminal.type_after("Password for alice: ", 1, PASSWORD);
    terminal.type_after("Again, to confirm: ", 1, PASSWORD);
    let (ok, shown) = terminal.finish();
    // Nothing listens there: the command got as far as DynamoDB, with the
    // password read.
    assert!(!ok, "{shown}");
    assert!(shown.contains("connection refused"), "{shown}");
    assert!(
        !shown.contains(PASSWORD),
        "the password was echoed: {shown}"
    );

    // Two different entries: refused, and neither is shown.
    let Some(mut terminal) = AtTerminal::start(
        &["users", "set-password", "alice", "--endpoint", endpoint],
        &[],
    ) else {
        return;
    };
    terminal.type_after("Password for alice: ", 1, PASSWORD);
    terminal.type_after("Again, to confirm: ", 1, WEBHOOK_SECRET);
    let (ok, shown) = terminal.finish();
    assert!(!ok, "{shown}");
    assert!(shown.contains("differ"), "{shown}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains(WEBHOOK_SECRET),
        "{shown}"
    );
}

#[test]
fn a_webhook_secret_typed_at_a_terminal_is_prompted_for_and_never_echoed() {
    let (_, endpoint) = &bad_endpoints()[1];
    let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:warden-test-missing";
    let args = ["webhooks", "set-secret", "gh", "--endpoint", endpoint];
    let Some(mut terminal) = AtTerminal::start(&args, &[("WARDEN_WEBHOOK_SECRETS_ARN", arn)])
    else {
        return;
    };
    terminal.type_after("New secret of webhook source gh: ", 1, WEBHOOK_SECRET);
    let (ok, shown) = terminal.finish();
    assert!(!ok, "{shown}");
    assert!(shown.contains("connection refused"), "{shown}");
    assert!(
        !shown.contains(WEBHOOK_SECRET),
        "the secret was echoed: {shown}"
    );
}
