//! `--stack NAME` and `WARDEN_STACK` against a stack created in moto's
//! CloudFormation from `infra/moto-stack.yaml` (template.yaml's outputs,
//! in plain CloudFormation: moto does not run the SAM transform). One flag
//! instead of ten variables: the tables, queues and their dead-letter
//! queues, secrets, KMS keys and issuer all come from the outputs. Skips
//! without `WARDEN_TEST_AWS_ENDPOINT` (fails without it under
//! `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use aws_sdk_cloudformation::types::Parameter;
use common::{block, fails, json_lines, ok, run, serve_on_dynamodb, words};
use serde_json::Value;

/// A stack of `infra/moto-stack.yaml` in moto, with its two secrets; its
/// name and the pepper secret's ARN.
fn create_stack(endpoint: &str) -> (String, String) {
    block(async {
        let aws = warden::testing::aws_config(endpoint).await;
        let secrets = aws_sdk_secretsmanager::Client::new(&aws);
        // Stack names start with a letter; the prefix of its tables is
        // `<name>-`.
        let name = format!("s{}", ulid::Ulid::new().to_string().to_lowercase());
        let webhooks =
            warden::testing::create_secret(&secrets, &format!("{name}/webhook-sources"), "[]")
                .await;
        let pepper = warden::testing::create_secret(
            &secrets,
            &format!("{name}/api-key-pepper"),
            "stack-test-pepper-0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .await;
        let mac = warden::testing::create_secret(
            &secrets,
            &format!("{name}/audit-mac-key"),
            "stack-test-audit-mac-key-0123456789abcdef0123456789abcdef0123",
        )
        .await;
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../moto-stack.yaml"))
                .unwrap();
        let parameter = |key: &str, value: &str| {
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        };
        aws_sdk_cloudformation::Client::new(&aws)
            .create_stack()
            .stack_name(&name)
            .template_body(template)
            .parameters(parameter("WebhookSecretArn", &webhooks))
            .parameters(parameter("ApiKeyPepperSecretArn", &pepper))
            .parameters(parameter("AuditMacSecretArn", &mac))
            .send()
            .await
            .unwrap();
        (name, pepper)
    })
}

/// `warden` pointed at the emulator as at AWS (`AWS_ENDPOINT_URL`, no
/// `--endpoint`), with no WARDEN_* variable: what it knows of the
/// deployment, it reads from the stack.
fn warden(endpoint: &str) -> Command {
    let mut cmd = common::warden();
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("WARDEN_TABLE_PREFIX")
        .env_remove("WARDEN_STACK");
    cmd
}

#[test]
fn one_flag_names_the_deployment_and_every_command_reads_it_from_the_stack() {
    let Some(endpoint) = warden::testing::aws_endpoint() else {
        return;
    };
    let e = endpoint.as_str();
    let (stack, pepper_arn) = create_stack(e);
    let with_stack = |args: &[&str], stdin: &str| {
        let mut cmd = warden(e);
        cmd.args(["--stack", &stack]).args(args);
        ok(run(cmd, stdin), &args.join(" "))
    };

    // The tables, named by the stack's TablePrefix.
    let tables = json_lines(&with_stack(&["tables", "create", "--output", "json"], ""));
    assert_eq!(tables.len(), warden::store::dynamo::tables::ALL.len());
    assert!(
        tables.iter().all(|t| t["created"] == true
            && t["table"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{stack}-"))),
        "{tables:?}"
    );

    // Users, workspaces, agents: the operator's everyday commands.
    with_stack(
        &words("users add ann --role admin"),
        "ann's password on the stack\n",
    );
    with_stack(&words("workspaces add acme --name Acme"), "");
    with_stack(
        &words("agents register books --type accounting --maturity supervised --workspace acme"),
        "",
    );
    let users = json_lines(&with_stack(&["users", "list", "--output", "json"], ""));
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["username"], "ann");
    // WARDEN_STACK is the flag's default.
    let mut by_variable = warden(e);
    by_variable
        .env("WARDEN_STACK", &stack)
        .args(["users", "list", "--output", "json"]);
    assert_eq!(json_lines(&ok(run(by_variable, ""), "users list")), users);

    // A key made with the stack's pepper (ApiKeyPepperSecretArn) is
    // accepted by an API that reads that pepper.
    let created: Value = serde_json::from_str(&with_stack(
        &words("apikeys create --owner books --for ann --scope agents:run --output json"),
        "",
    ))
    .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with(&format!("wdn_{}_", created["key_id"].as_str().unwrap())));
    let mut api = common::warden();
    api.env("WARDEN_TABLE_PREFIX", format!("{stack}-"))
        .env("WARDEN_API_KEY_PEPPER_ARN", &pepper_arn)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
    let (_server, _, url) = serve_on_dynamodb(api, e);
    let status = common::run_books_with_key(&url, &key);
    assert_eq!(status, 202, "the stack's pepper made the key");

    // The health report reads every queue with its dead-letter queue (the
    // events DLQ is an output now): none degraded for want of one.
    let report: Value = serde_json::from_str(&with_stack(&["health", "--output", "json"], ""))
        .unwrap_or_else(|e| panic!("health --output json: {e}"));
    let checks = report["checks"].as_array().unwrap();
    for queue in ["queue:events", "queue:jobs", "queue:outbound"] {
        let check = checks
            .iter()
            .find(|c| c["name"] == queue)
            .unwrap_or_else(|| panic!("no {queue} in {report}"));
        assert_eq!(check["status"], "ok", "{check}");
        assert!(
            check["detail"].as_str().unwrap().contains("dead-letter"),
            "{check}"
        );
    }
    assert!(report["findings"].is_array(), "{report}");

    // A variable that says otherwise than the stack: refused, both named.
    let mut contradicted = warden(e);
    contradicted
        .env("WARDEN_TABLE_PREFIX", "elsewhere-")
        .args(["--stack", &stack, "users", "list"]);
    let err = fails(run(contradicted, ""), "a contradicting variable");
    assert!(
        err.contains("WARDEN_TABLE_PREFIX=elsewhere-") && err.contains(&format!("{stack}-")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    // A stack that does not exist, and serve (which serves locally).
    let mut unknown = warden(e);
    unknown.args(["--stack", "no-such-stack", "users", "list"]);
    let err = fails(run(unknown, ""), "an unknown stack");
    assert!(
        err.starts_with("error: no stack no-such-stack in region us-east-1"),
        "{err}"
    );
    let mut serve = warden(e);
    serve.args(["--stack", &stack, "serve"]);
    let err = fails(run(serve, ""), "serve --stack");
    assert!(err.contains("does not apply to `warden serve`"), "{err}");
}
