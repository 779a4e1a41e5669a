//! `warden tools register|list|remove` and the seed file's `tools`: each
//! registration a new version, audited with the operator. The DynamoDB
//! tests skip without `WARDEN_TEST_AWS_ENDPOINT` (and fail without it
//! under `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{fails, ok, run, serve, words};
use serde_json::Value;

/// A `warden` command on the tables under `prefix`, in development.
fn warden(prefix: &str) -> Command {
    let mut cmd = common::warden();
    cmd.env("WARDEN_TABLE_PREFIX", prefix)
        .env("WARDEN_ENV", "development");
    cmd
}

/// `warden args --endpoint endpoint` on the tables under `prefix`.
fn at(prefix: &str, endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = warden(prefix);
    cmd.args(args).args(["--endpoint", endpoint]);
    cmd
}

/// The one line of `list` that starts with `name`, as its words.
fn listed<'a>(list: &'a str, name: &str) -> Vec<&'a str> {
    let lines: Vec<_> = list
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(name))
        .collect();
    assert_eq!(lines.len(), 1, "{name}: {list}");
    lines[0].split_whitespace().collect()
}

/// The word after `version ` in `line`, without trailing punctuation.
fn version_in(line: &str) -> String {
    line.split("version ")
        .nth(1)
        .and_then(|rest| rest.split([')', ';', ' ']).next())
        .unwrap_or_else(|| panic!("no version in {line}"))
        .to_owned()
}

/// A seed file of this test with `contents`.
fn seed_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-tools-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn tools_are_registered_again_with_a_new_version_listed_and_removed_against_dynamodb() {
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    let (p, e) = (prefix.as_str(), endpoint.as_str());
    let ok = |args: &[&str]| ok(run(at(p, e, args), ""), &args.join(" "));
    let fails = |args: &[&str]| fails(run(at(p, e, args), ""), &args.join(" "));
    ok(&["tables", "create"]);
    ok(&["workspaces", "add", "acme", "--name", "Acme"]);
    ok(&["workspaces", "add", "beta", "--name", "Beta"]);
    assert!(ok(&["tools", "list"]).ends_with("\n(none)\n"));

    let out = ok(&words(
        "tools register send_email.v2 --complexity 4 --workspace acme",
    ));
    assert!(
        out.starts_with("registered tool send_email.v2 (complexity 4, workspaces: acme, version "),
        "{out}"
    );
    let first = version_in(&out);
    assert_eq!(first.len(), 26, "a ULID: {first}");
    let list = ok(&["tools", "list"]);
    let line = listed(&list, "send_email.v2");
    assert_eq!(line[1], "4", "{list}");
    assert_eq!(line[2], first, "{list}");
    assert!(line[3].ends_with('Z') && line[3].contains('T'), "{list}");
    assert_eq!(line[4], "acme", "{list}");

    // Registered again: a new version, the old one's approvals void.
    let out = ok(&words(
        "tools register send_email.v2 --complexity 3 --workspace beta --workspace acme",
    ));
    assert!(
        out.starts_with(
            "re-registered tool send_email.v2 (complexity 3, workspaces: acme,beta, version "
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!("version {first} (complexity 4) is replaced"))
            && out.contains("pending proposals and unused approvals are void"),
        "{out}"
    );
    let second = version_in(&out);
    assert_ne!(second, first);
    let list = ok(&["tools", "list"]);
    let line = listed(&list, "send_email.v2");
    assert_eq!(
        (line[1], line[2], line[4]),
        ("3", second.as_str(), "acme,beta")
    );

    // Refused, and nothing registered: a bad complexity, name or workspace.
    let err = fails(&words(
        "tools register other --complexity 5 --workspace acme",
    ));
    assert!(err.contains("a complexity is 1"), "{err}");
    let err = fails(&words("tools register a/b --complexity 1 --workspace acme"));
    assert!(err.contains("a tool name is"), "{err}");
    let err = fails(&words(
        "tools register other --complexity 1 --workspace nowhere",
    ));
    assert!(err.contains("no workspace nowhere"), "{err}");
    assert_eq!(
        ok(&["tools", "list"]).lines().count(),
        2,
        "a header and one tool"
    );
    // Names are case-sensitive: Send_email.v2 is another tool.
    let err = fails(&["tools", "remove", "Send_email.v2"]);
    assert!(err.contains("no tool Send_email.v2"), "{err}");

    let out = ok(&["tools", "remove", "send_email.v2"]);
    assert!(
        out.contains("removed tool send_email.v2") && out.contains("void"),
        "{out}"
    );
    assert!(ok(&["tools", "list"]).ends_with("\n(none)\n"));
    let err = fails(&["tools", "remove", "send_email.v2"]);
    assert!(err.contains("no tool send_email.v2"), "{err}");

    // Each change audited, its operator `local` (the endpoint is loopback).
    let audit = ok(&["audit", "query", "--json", "--actor", "local"]);
    let events: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|ev: &Value| ev["subject"] == "tool:send_email.v2")
        .collect();
    let types: Vec<_> = events
        .iter()
        .map(|ev| ev["event_type"].as_str().unwrap())
        .collect();
    // Newest first.
    assert_eq!(
        types,
        ["TOOL_REMOVED", "TOOL_REGISTERED", "TOOL_REGISTERED"],
        "{audit}"
    );
    assert_eq!(events[1]["details"]["version"], second.as_str(), "{audit}");
    assert_eq!(
        events[1]["details"]["replaces_version"],
        first.as_str(),
        "{audit}"
    );
    assert_eq!(events[2]["details"]["version"], first.as_str(), "{audit}");
    for ev in &events {
        assert_eq!(ev["origin"]["operator"], "local", "{ev}");
    }
}

#[test]
fn a_seed_registers_its_tools_once_and_names_a_bad_one() {
    let seeded = r#"{"workspaces": [{"workspace_id": "acme", "name": "Acme"}],
        "tools": [{"name": "lookup", "complexity": 1, "workspaces": ["acme"]},
                  {"name": "pay", "complexity": 4, "workspaces": ["acme"]}]}"#;
    let seed = seed_file("seed.json", seeded);
    let mut cmd = common::warden();
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--seed"])
        .arg(&seed);
    let (server, lines, _) = serve(cmd);
    drop(server);
    for line in [
        "seeded tool lookup (complexity 1, workspaces: acme)",
        "seeded tool pay (complexity 4, workspaces: acme)",
    ] {
        assert!(lines.iter().any(|l| l == line), "{line}: {lines:?}");
    }

    // A seed that must stop start-up names the tool.
    let refused = |what: &str, contents: &str| {
        let seed = seed_file(&format!("{what}.json"), contents);
        let out = common::warden()
            .args(["serve", "--addr", "127.0.0.1:0", "--seed"])
            .arg(&seed)
            .output()
            .unwrap();
        fails(out, what)
    };
    let err = refused(
        "complexity",
        r#"{"workspaces": [{"workspace_id": "acme", "name": "Acme"}],
            "tools": [{"name": "pay", "complexity": 5, "workspaces": ["acme"]}]}"#,
    );
    assert!(
        err.contains("seed tool pay: complexity 5") && err.contains("a complexity is 1"),
        "{err}"
    );
    let err = refused(
        "workspace",
        r#"{"tools": [{"name": "pay", "complexity": 2, "workspaces": ["nowhere"]}]}"#,
    );
    assert!(
        err.contains("seed tool pay") && err.contains("no workspace nowhere"),
        "{err}"
    );
    let err = refused(
        "name",
        r#"{"tools": [{"name": "p a y", "complexity": 2, "workspaces": []}]}"#,
    );
    assert!(
        err.contains("seed tool \"p a y\"") && err.contains("a tool name is"),
        "{err}"
    );

    // On DynamoDB, a second start leaves the tools (and their versions,
    // which their approvals name) as they are.
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    let (p, e) = (prefix.as_str(), endpoint.as_str());
    ok(run(at(p, e, &["tables", "create"]), ""), "tables create");
    let start = || {
        let mut cmd = warden(p);
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--dynamodb-endpoint", e])
            .arg("--seed")
            .arg(&seed);
        let (server, lines, _) = serve(cmd);
        drop(server);
        lines
    };
    let lines = start();
    assert!(
        lines.iter().any(|l| l.starts_with("seeded tool pay")),
        "{lines:?}"
    );
    let list = ok(run(at(p, e, &["tools", "list"]), ""), "tools list");
    let pay = listed(&list, "pay");
    assert_eq!((pay[1], pay[4]), ("4", "acme"), "{list}");
    assert_eq!(listed(&list, "lookup")[1], "1", "{list}");
    let lines = start();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("tool pay already exists; left unchanged")),
        "{lines:?}"
    );
    let again = ok(run(at(p, e, &["tools", "list"]), ""), "tools list");
    assert_eq!(again, list, "the versions are unchanged");
}

#[test]
fn the_help_names_every_scope_and_what_registering_again_voids() {
    let help = |args: &[&str]| ok(common::warden().args(args).output().unwrap(), "help");
    let out = help(&["apikeys", "create", "--help"]);
    for scope in [
        "agents:run",
        "agents:read",
        "tools:call",
        "tokens:introspect",
    ] {
        assert!(out.contains(scope), "{scope}: {out}");
    }
    let out = help(&["tools", "register", "--help"]);
    assert!(
        out.contains("pending proposals and unused approvals"),
        "{out}"
    );
}
