//! `warden audit check-proof FILE --key PUBKEY.pem`: a proof of one audit
//! event checked offline, with no AWS access and no configuration, against
//! a key pinned out of band; never against one the proof carries.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::{fails, ok, warden};
use warden::audit::checkpoint::Checkpoint;
use warden::audit::merkle::{self, Hash};
use warden::audit::note::{LocalNoteSigner, NoteSigner as _};
use warden::audit::proof::Proof;
use warden::audit::{AuditEvent, EventType, Origin, Severity, ledger};

const ORIGIN: &str = "warden.example/audit";

/// A file in the system's temporary directory, holding `text`.
fn file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("warden-ledger-{}-{name}", ulid::Ulid::new()));
    std::fs::write(&path, text).unwrap();
    path
}

/// A checkpoint of four events signed by `signer`, and the proof of the
/// third.
fn proof(signer: &LocalNoteSigner) -> Proof {
    let events: Vec<AuditEvent> = (0..4)
        .map(|i| {
            AuditEvent::new(
                EventType::AgentDisabled,
                Severity::Warning,
                Origin::Cli {
                    operator: "local".into(),
                },
                1_796_631_000_000 + i * 10,
                365,
            )
            .subject(format!("agent:a{i}"))
        })
        .collect();
    let canon: Vec<String> = events
        .iter()
        .map(|e| ledger::canonical(e).unwrap())
        .collect();
    let leaves: Vec<Hash> = canon
        .iter()
        .map(|c| merkle::leaf_hash(c.as_bytes()))
        .collect();
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        minute: 29_943_850,
        size: 4,
        root: merkle::root(&leaves),
        prev: None,
    };
    let note = common::block(signer.sign_note(&checkpoint.text())).unwrap();
    Proof {
        event: canon[2].clone(),
        index: 2,
        path: merkle::inclusion_path(2, &leaves).unwrap(),
        checkpoint: note,
    }
}

#[test]
fn a_proof_checks_offline_against_the_pinned_key_and_nothing_else() {
    let (signer, _) = LocalNoteSigner::generate(ORIGIN).unwrap();
    let good = proof(&signer);
    let key = file("key.pem", &signer.key().to_pem());
    let proof_file = file("proof.txt", &good.text());
    let check = |proof: &PathBuf, key: Option<&PathBuf>| {
        let mut cmd = warden();
        cmd.args(["audit", "check-proof"]).arg(proof);
        if let Some(key) = key {
            cmd.arg("--key").arg(key);
        }
        // No AWS anywhere: a bogus endpoint and region change nothing.
        cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
            .env_remove("AWS_REGION");
        cmd.output().unwrap()
    };

    let out = ok(check(&proof_file, Some(&key)), "check-proof");
    assert!(
        out.starts_with("ok: event ")
            && out.contains("leaf 2 of the checkpoint of 2026-12-07T08:10Z (4 events)"),
        "{out}"
    );

    // Without --key: refused, saying why.
    let err = fails(check(&proof_file, None), "no key");
    assert!(err.contains("--key") && err.contains("pinned"), "{err}");
    // Another key.
    let (other, _) = LocalNoteSigner::generate(ORIGIN).unwrap();
    let other_key = file("other.pem", &other.key().to_pem());
    let err = fails(check(&proof_file, Some(&other_key)), "another key");
    assert!(err.contains("no signature of the key"), "{err}");
    // The event changed, the path changed.
    let changed = file("changed.txt", &good.text().replace("agent:a2", "agent:a9"));
    let err = fails(check(&changed, Some(&key)), "a changed event");
    assert!(err.contains("not leaf 2"), "{err}");
    let mut bent = good.clone();
    bent.path[0][0] ^= 1;
    let bent = file("bent.txt", &bent.text());
    assert!(fails(check(&bent, Some(&key)), "a changed path").contains("not leaf 2"));
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

/// `warden audit verify|prove|public-key` against tables in the emulator,
/// as `warden serve --dynamodb-endpoint` leaves them: events sealed with
/// the endpoint's MAC key, checkpoints signed with the data directory's
/// key, their copies in its `checkpoints.log`. Verify holds, then names a
/// changed event and exits 1; a proof from `prove` checks offline against
/// the key `public-key` printed.
#[test]
fn verify_prove_and_public_key_read_the_ledger_serve_keeps() {
    let Some((endpoint, prefix)) = common::emulator_and_prefix() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("warden-ledger-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let event_ids = common::block(write_ledger(&endpoint, &prefix, &dir, now));
    let base = |args: &[&str]| {
        let mut cmd = warden();
        cmd.env("WARDEN_TABLE_PREFIX", &prefix)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .args(args);
        cmd
    };
    let dir_arg = dir.to_str().unwrap();

    let verify = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "verify",
            "--endpoint",
            &endpoint,
            "--data-dir",
            dir_arg,
            "--since",
            "30m",
        ];
        args.extend_from_slice(extra);
        base(&args).output().unwrap()
    };
    let held = verify(&[]);
    let stdout = String::from_utf8_lossy(&held.stdout);
    assert!(
        held.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&held.stderr)
    );
    assert!(stdout.starts_with("the ledger holds: "), "{stdout}");
    assert!(stdout.contains(", 3 events"), "{stdout}");
    assert!(
        !stdout.contains("not checked"),
        "the MAC key and the copies were read: {stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&verify(&["--output", "json"]).stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["mac_checked"], true);
    assert_eq!(json["copies_checked"], true);

    // The key, pinned out of band; a proof checked offline against it.
    let pem = ok(
        base(&[
            "audit",
            "public-key",
            "--endpoint",
            &endpoint,
            "--data-dir",
            dir_arg,
        ])
        .output()
        .unwrap(),
        "public-key",
    );
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    let key_file = file("key.pem", &pem);
    let proof = ok(
        base(&["audit", "prove", &event_ids[1], "--endpoint", &endpoint])
            .output()
            .unwrap(),
        "prove",
    );
    assert!(proof.starts_with("warden audit proof\n"), "{proof}");
    let proof_file = file("proof.txt", &proof);
    let checked = ok(
        warden()
            .args([
                "audit",
                "check-proof",
                proof_file.to_str().unwrap(),
                "--key",
                key_file.to_str().unwrap(),
            ])
            .output()
            .unwrap(),
        "check-proof",
    );
    assert!(checked.contains(&event_ids[1]), "{checked}");

    // An event changed in the table: exit 1, the event named.
    common::block(async {
        let aws = warden::testing::aws_config(&endpoint).await;
        let client = aws_sdk_dynamodb::Client::new(&aws);
        let (store, _) = (
            warden::store::dynamo::DynamoStore::new(client.clone(), &prefix),
            (),
        );
        let event = warden::store::AuditStore::ledger_events(&store, now - 3_600_000, now + 60_000)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.event.event_id == event_ids[2])
            .unwrap()
            .event;
        client
            .update_item()
            .table_name(format!("{prefix}audit-log"))
            .key(
                "bucket",
                aws_sdk_dynamodb::types::AttributeValue::S(event.bucket()),
            )
            .key(
                "event_id",
                aws_sdk_dynamodb::types::AttributeValue::S(event.event_id.clone()),
            )
            .update_expression("SET severity = :s")
            .expression_attribute_values(
                ":s",
                aws_sdk_dynamodb::types::AttributeValue::S("INFO".into()),
            )
            .send()
            .await
            .unwrap();
    });
    let broken = verify(&[]);
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the ledger does not hold: event") && stderr.contains(&event_ids[2]),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes three events through a store sealing with the endpoint's MAC
/// key, around two checkpointer runs of `warden serve`'s in-process
/// checkpointer (key and copies in `dir`); the events' ids.
async fn write_ledger(
    endpoint: &str,
    prefix: &str,
    dir: &std::path::Path,
    now: i64,
) -> Vec<String> {
    use std::sync::Arc;
    use warden::store::Transactions as _;
    let aws = warden::testing::aws_config(endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    warden::store::dynamo::tables::create_all(&client, prefix)
        .await
        .unwrap();
    let (config, _) = warden::config::Config::load(|k| match k {
        "WARDEN_ENV" => Some("development".into()),
        "WARDEN_TABLE_PREFIX" => Some(prefix.to_owned()),
        _ => None,
    });
    let config = config.unwrap();
    let mac = warden_cli::ledger::mac_key(&config, Some(&aws), Some(&aws), false)
        .await
        .unwrap()
        .unwrap();
    let clock = Arc::new(warden::clock::ManualClock::at_millis(now));
    let store = Arc::new(
        warden::store::dynamo::DynamoStore::new(client, prefix)
            .with_audit_mac(mac)
            .with_writer_clock(clock.clone()),
    );
    let checkpointer =
        warden_cli::ledger::local_checkpointer(&config, store.clone(), Some(dir)).unwrap();
    let minute = 60_000;
    checkpointer.run(now - 10 * minute).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let event = AuditEvent::new(
            EventType::UserDisabled,
            Severity::Warning,
            Origin::Cli {
                operator: "local".into(),
            },
            now - 6 * minute + i * 1000,
            365,
        )
        .subject(format!("user:u{i}"));
        ids.push(event.event_id.clone());
        clock.set_millis(event.at_millis);
        store
            .transact(vec![warden::store::Write::Audit(event)])
            .await
            .unwrap();
    }
    checkpointer.run(now).await.unwrap();
    ids
}
