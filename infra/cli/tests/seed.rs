//! The seed file's strictness (a key it does not define is refused, naming
//! the key and where it is) and the password policy wherever the `warden`
//! command sets a password: `users add`, `users set-password` and the
//! seed's users.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fails, run, warden};
use warden_cli::seed::Seed;

/// What parsing `text` as a seed file says is wrong.
fn refused(text: &str) -> String {
    match Seed::parse(text) {
        Ok(seed) => panic!("accepted: {seed:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_misspelt_top_level_key_is_refused_naming_it_and_the_keys_there_are() {
    let err = refused(r#"{"user": [{"username": "x", "password": "a long password"}]}"#);
    assert_eq!(
        err,
        r#"unknown field "user" at the top level; expected one of users, webhook_sources, workspaces, agents, tools, api_keys"#
    );
}

#[test]
fn a_misspelt_key_in_any_entry_is_refused_naming_where_it_is() {
    let cases = [
        (
            r#"{"agents": [{"agent_id": "a", "agent_type": "sales", "maturity": "INTERN"},
                           {"agent_id": "b", "agent_type": "sales", "maturity": "INTERN", "enabeld": false}]}"#,
            r#"unknown field "enabeld" at agents[1]; expected one of agent_id, agent_type, maturity, workspaces, enabled"#,
        ),
        (
            r#"{"users": [{"username": "x", "pasword": "a long password"}]}"#,
            r#"unknown field "pasword" at users[0]"#,
        ),
        (
            r#"{"workspaces": [{"workspace_id": "w", "name": "W", "member": ["x"]}]}"#,
            r#"unknown field "member" at workspaces[0]"#,
        ),
        (
            r#"{"tools": [{"name": "t", "complexity": 1, "workspace": ["w"]}]}"#,
            r#"unknown field "workspace" at tools[0]"#,
        ),
        (
            r#"{"api_keys": [{"key": "k", "owner": "a", "scopes": [], "expires": "2030-01-01T00:00:00Z"}]}"#,
            r#"unknown field "expires" at api_keys[0]"#,
        ),
        (
            r#"{"webhook_sources": [{"name": "gh", "scheme": "github", "secret": "s3cr3t-value"}]}"#,
            r#"unknown field "secret" at webhook_sources[0]; expected one of name, scheme, secrets"#,
        ),
    ];
    for (text, says) in cases {
        let err = refused(text);
        assert!(err.starts_with(says), "{text}: {err}");
        assert!(!err.contains("s3cr3t-value"), "{err}");
    }
}

#[test]
fn other_mistakes_are_placed_too_and_never_quote_a_value() {
    let err = refused(
        r#"{"users": [{"username": "x", "password": "a long password", "roles": "a long password"}]}"#,
    );
    assert_eq!(
        err,
        "invalid type: string, expected a sequence at users[0].roles"
    );
    let err = refused(r#"{"users": [{"username": "x"}]}"#);
    assert_eq!(err, "missing field `password` at users[0]");
    let err = refused(r#"{"users": []} {}"#);
    assert!(err.contains("trailing characters"), "{err}");
    let err = refused(r#"{"users": ["#);
    assert!(err.contains("line 1 column"), "{err}");
    // A well-formed seed still loads.
    let seed = Seed::parse(
        r#"{"users": [{"username": "x", "password": "a long password", "roles": ["admin"]}],
            "webhook_sources": [{"name": "gh", "scheme": "github", "secrets": ["s"]}],
            "agents": [{"agent_id": "a", "agent_type": "sales", "maturity": "INTERN", "enabled": false}]}"#,
    )
    .unwrap();
    assert_eq!(seed.users.len(), 1);
    assert!(!seed.agents[0].enabled);
}

/// A seed file of this test, named `name`, holding `contents`.
fn seed_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-seed-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// `warden serve --seed` with `contents`, which must refuse to start: its
/// standard error.
fn serve_refuses(name: &str, contents: &str) -> String {
    let seed = seed_file(name, contents);
    let out = warden()
        .args(["serve", "--addr", "127.0.0.1:0", "--seed"])
        .arg(&seed)
        .output()
        .unwrap();
    fails(out, name)
}

#[test]
fn serve_refuses_a_seed_with_an_unknown_key_naming_the_file_and_the_key() {
    let err = serve_refuses(
        "user.json",
        r#"{"user": [{"username": "x", "password": "a long password"}]}"#,
    );
    assert!(err.contains("seed file"), "{err}");
    assert!(err.contains("user.json"), "{err}");
    assert!(
        err.contains(r#"unknown field "user" at the top level; expected one of users,"#),
        "{err}"
    );
    let err = serve_refuses(
        "agent.json",
        r#"{"agents": [{"agent_id": "a", "agent_type": "sales", "maturity": "INTERN", "workspace": ["w"]}]}"#,
    );
    assert!(
        err.contains(r#"unknown field "workspace" at agents[0]"#),
        "{err}"
    );
}

#[test]
fn serve_refuses_a_seed_user_whose_password_breaks_the_policy() {
    for (password, rule) in [
        ("elevenchars", "the password must be at least 12 characters"),
        (
            "Password1234",
            "the password is one of the most common passwords; choose another",
        ),
    ] {
        let err = serve_refuses(
            "short.json",
            &format!(
                r#"{{"users": [{{"username": "ok", "password": "a long enough password"}},
                              {{"username": "carol", "password": "{password}"}}]}}"#
            ),
        );
        assert!(err.contains(r#"seed user "carol""#), "{err}");
        assert!(err.contains(rule), "{err}");
        assert!(!err.contains(password), "{err}");
    }
}

#[test]
fn serve_takes_the_minimum_from_the_configuration() {
    let seed = seed_file(
        "minimum.json",
        r#"{"users": [{"username": "carol", "password": "a twenty-char secret"}]}"#,
    );
    let out = warden()
        .args(["serve", "--addr", "127.0.0.1:0", "--seed"])
        .arg(&seed)
        .env("WARDEN_PASSWORD_MIN_LENGTH", "21")
        .output()
        .unwrap();
    let err = fails(out, "a minimum of 21");
    assert!(
        err.contains("the password must be at least 21 characters"),
        "{err}"
    );
    let out = warden()
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("WARDEN_PASSWORD_MIN_LENGTH", "7")
        .output()
        .unwrap();
    let err = fails(out, "a minimum of 7");
    assert!(err.contains("WARDEN_PASSWORD_MIN_LENGTH is 7"), "{err}");
}

/// The one line `warden users COMMAND alice` wrote to standard error, given
/// `password` on standard input; it must have failed.
fn users_refuse(command: &str, password: &str) -> String {
    let mut cmd = warden();
    // An endpoint nothing listens on: the policy refuses before any call.
    cmd.args([
        "users",
        command,
        "alice",
        "--endpoint",
        "http://127.0.0.1:9",
    ]);
    if command == "add" {
        cmd.args(["--role", "admin"]);
    }
    let err = fails(run(cmd, &format!("{password}\n")), command);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains(password), "{err}");
    err.trim_end().to_owned()
}

#[test]
fn users_add_and_set_password_refuse_a_password_that_breaks_the_policy_in_one_line() {
    for command in ["add", "set-password"] {
        assert_eq!(
            users_refuse(command, "elevenchars"),
            "error: the password must be at least 12 characters"
        );
        assert_eq!(
            users_refuse(command, &"x".repeat(129)),
            "error: the password must be at most 128 characters"
        );
        assert_eq!(
            users_refuse(command, "QwertyUiop123"),
            "error: the password is one of the most common passwords; choose another"
        );
    }
}
