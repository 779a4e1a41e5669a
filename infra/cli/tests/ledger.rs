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
