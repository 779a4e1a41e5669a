//! What an operator meets first: completions, logs kept out of a command's
//! output, errors that are one line saying what to do, and a pepper that
//! `warden serve --dynamodb-endpoint` and `warden apikeys create
//! --endpoint` share. The emulator tests skip without
//! `WARDEN_TEST_AWS_ENDPOINT` (and fail without it under
//! `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{fails, json_lines, ok, run, serve_on_dynamodb, warden, words};

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef warden"),
        ("fish", "complete -c warden"),
    ] {
        let out = ok(
            warden().args(["completions", shell]).output().unwrap(),
            shell,
        );
        assert!(
            out.contains(marker),
            "{shell}: {}",
            &out[..out.len().min(200)]
        );
        // Every command is offered.
        for command in ["users", "apikeys", "signing-key", "completions"] {
            assert!(out.contains(command), "{shell} lacks {command}");
        }
    }
    let err = fails(
        warden().args(["completions", "tcsh"]).output().unwrap(),
        "an unknown shell",
    );
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");
}

/// `warden ARGS --endpoint E` on the tables under `prefix`, in
/// development, without RUST_LOG (the command's own default level).
fn at(prefix: &str, endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = warden();
    cmd.args(args)
        .args(["--endpoint", endpoint])
        .env("WARDEN_TABLE_PREFIX", prefix)
        .env_remove("RUST_LOG");
    cmd
}

#[test]
fn errors_are_one_line_that_say_what_to_do_and_logs_stay_off_standard_output() {
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    let (p, e) = (prefix.as_str(), endpoint.as_str());

    // No table yet: the error names them and the command that creates them.
    let err = fails(run(at(p, e, &["users", "list"]), ""), "no tables");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("error: 14 tables are missing at ")
            && err.contains(&format!("{p}users"))
            && err.contains("warden tables create")
            && err.contains(&format!("WARDEN_TABLE_PREFIX={p}")),
        "{err}"
    );
    assert!(
        !err.contains("ResourceNotFoundException: Requested"),
        "{err}"
    );

    ok(run(at(p, e, &["tables", "create"]), ""), "tables create");
    // An unknown user: its name as typed, no Rust debug text.
    for args in [
        words("users disable nobody"),
        words("users revoke-all nobody --reason gone"),
        words("users set-password nobody"),
    ] {
        let err = fails(run(at(p, e, &args), "a long new password here\n"), "nobody");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("nobody"), "{args:?}: {err}");
        assert!(!err.contains("Username("), "{args:?}: debug text: {err}");
    }
    // `--actor` takes a username; one that does not exist is an error, not
    // an empty answer.
    let err = fails(
        run(at(p, e, &words("audit query --actor nobody")), ""),
        "an unknown actor",
    );
    assert!(err.contains("no user named nobody"), "{err}");

    // A listing prints the listing and nothing else: no INFO line (the
    // default level is warn), however much the command logged.
    let out = run(at(p, e, &words("users list --output json")), "");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "no users");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("INFO"), "{stderr}");
    // -v shows info, on standard error only.
    let out = run(at(p, e, &words("-v users list --output json")), "");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
}

#[test]
fn serve_on_tables_and_apikeys_create_share_one_pepper_with_none_configured() {
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    let (p, e) = (prefix.as_str(), endpoint.as_str());
    let cmd = |args: &[&str], stdin: &str| ok(run(at(p, e, args), stdin), &args.join(" "));
    cmd(&["tables", "create"], "");
    cmd(&words("users add ann --role user"), "ann's long password\n");
    cmd(&words("workspaces add acme --name Acme"), "");
    cmd(
        &words("agents register books --type accounting --maturity supervised --workspace acme"),
        "",
    );
    // No WARDEN_API_KEY_PEPPER(_ARN) anywhere: the key is made under the
    // endpoint's pepper secret, which serve creates or reads too.
    let created = cmd(
        &words("apikeys create --owner books --for ann --scope agents:run --output json"),
        "",
    );
    let key = json_lines(&created)[0]["key"].as_str().unwrap().to_owned();
    let mut server = warden();
    server.env("WARDEN_TABLE_PREFIX", p);
    let (first, _, url) = serve_on_dynamodb(server, e);
    assert_eq!(
        common::run_books_with_key(&url, &key),
        202,
        "serve took the CLI's key"
    );
    drop(first);
    // And across a restart: the pepper outlives the process, as the
    // tables do.
    let mut again = warden();
    again.env("WARDEN_TABLE_PREFIX", p);
    let (_second, _, url) = serve_on_dynamodb(again, e);
    assert_eq!(
        common::run_books_with_key(&url, &key),
        202,
        "after a restart"
    );
    // A wrong secret for a key that exists: 401 (the server's log says
    // which key, never the secret: see the api_keys tests).
    let (head, _) = key.rsplit_once('_').unwrap();
    assert_eq!(
        common::run_books_with_key(
            &url,
            &format!("{head}_wrongsecretwrongsecretwrongsecretwrongsecr")
        ),
        401
    );
}
