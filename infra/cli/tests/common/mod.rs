//! What the `warden` binary's test binaries share: the command with a
//! clean environment, a server that is stopped when dropped, standard
//! input for the commands that read a password, and what a command that
//! must succeed (or fail) printed.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};

/// The `warden` binary, logging warnings only, with nothing of the
/// caller's environment that would change its behaviour.
pub fn warden() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    for var in [
        "WARDEN_ENV",
        "WARDEN_ISSUER",
        "WARDEN_ISSUER_PARAMETER",
        "WARDEN_SIGNING_KEY_ARN",
        "WARDEN_SIGNING_KEY_FILE",
        "WARDEN_WEBHOOK_SECRETS_ARN",
        "WARDEN_API_KEY_PEPPER",
        "WARDEN_API_KEY_PEPPER_ARN",
        "WARDEN_ACCESS_TOKEN_TTL",
        "WARDEN_SECRET_CACHE_TTL_SECS",
        "WARDEN_ARGON2_M_COST",
        "WARDEN_ARGON2_T_COST",
        "WARDEN_ARGON2_P_COST",
        "WARDEN_PASSWORD_CONCURRENCY",
        "WARDEN_PASSWORD_QUEUE_TIMEOUT_MS",
        "WARDEN_PASSWORD_MIN_LENGTH",
        "AWS_ENDPOINT_URL",
        "ALLOWED_ORIGINS",
        "WARDEN_STACK",
        "WARDEN_DATA_DIR",
        "WARDEN_AUDIT_MAC_KEY",
        "WARDEN_AUDIT_MAC_SECRET_ARN",
        "WARDEN_CHECKPOINT_KEY_ARN",
        "WARDEN_CHECKPOINT_KEY_FILE",
        "WARDEN_CHECKPOINT_BUCKET",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// The emulator's endpoint and a table prefix no other test uses; `None`
/// (the test skips) without an emulator.
#[allow(dead_code, reason = "memory.rs only starts a server")]
pub fn emulator_and_prefix() -> Option<(String, String)> {
    let endpoint = warden::testing::aws_endpoint()?;
    Some((endpoint, warden::testing::unique_prefix()))
}

/// The words of a command line, as the arguments of a command (no
/// argument may hold a space).
#[allow(dead_code, reason = "memory.rs only starts a server")]
pub fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The objects of `--output json` for a listing: one JSON object a line.
#[allow(dead_code, reason = "memory.rs only starts a server")]
pub fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The first word after `prefix` in `line`, if it starts with `prefix`.
#[allow(dead_code, reason = "memory.rs only starts a server")]
pub fn first_word_after<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix)?.split_whitespace().next()
}

/// A running `warden`, killed (and waited for) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd`, a `warden serve`, and waits until it listens: the server,
/// the lines it printed up to and including "warden listening on", and its
/// URL. The rest of its output is read on a thread, so that a later line
/// never meets a closed pipe.
pub fn serve(mut cmd: Command) -> (Killed, Vec<String>, String) {
    let child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut child = Killed(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    while let Some(line) = lines.next() {
        let line = line.unwrap();
        printed.push(line.clone());
        if let Some(url) = line.strip_prefix("warden listening on ") {
            let url = url.to_owned();
            std::thread::spawn(move || lines.for_each(drop));
            return (child, printed, url);
        }
    }
    panic!("warden serve exited early: {printed:?}");
}

/// Starts `cmd` as `warden serve` on a free port over DynamoDB at
/// `endpoint`: the server, the lines it printed, its URL.
#[allow(dead_code, reason = "memory.rs only starts a server")]
pub fn serve_on_dynamodb(mut cmd: Command, endpoint: &str) -> (Killed, Vec<String>, String) {
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--dynamodb-endpoint",
        endpoint,
        "--data-dir",
    ]);
    // Its ledger's key and copies, out of the working tree.
    cmd.arg(std::env::temp_dir().join(format!("warden-serve-{}", ulid::Ulid::new())));
    serve(cmd)
}

/// Runs `cmd` with `stdin` as its standard input, to the end.
#[allow(dead_code, reason = "memory.rs only starts a server")]
pub fn run(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The standard output of `out`, a command that must have succeeded
/// (`what` names it in the failure).
#[allow(dead_code, reason = "memory.rs only starts a server")]
pub fn ok(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The standard error of `out`, a command that must have failed (`what`
/// names it in the failure).
#[allow(dead_code, reason = "memory.rs only starts a server")]
pub fn fails(out: Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `f` to completion on a runtime of its own.
#[allow(dead_code, reason = "memory.rs only starts a server")]
pub fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

/// POSTs a `resolve_entities` run of agent `books` in workspace `acme`
/// with API key `key` to the API at `url` (a fresh Idempotency-Key each
/// time); the status.
#[allow(dead_code, reason = "only the tests that make keys run with them")]
pub fn run_books_with_key(url: &str, key: &str) -> u16 {
    block(async {
        reqwest::Client::new()
            .post(format!("{url}/agents/books/runs"))
            .header("x-api-key", key)
            .header("idempotency-key", format!("run-{}", ulid::Ulid::new()))
            .json(&serde_json::json!({
                "workspace_id": "acme",
                "action": "resolve_entities",
                "input": {"records": [{"id": "r1", "email": "ann@example.com"}]}
            }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}
