//! The audit ledger's checkpoint key in KMS (`ECC_NIST_P256`,
//! `SIGN_VERIFY`), through the real AWS SDK against the emulator (moto
//! signs ECDSA for real): a note signed with `ECDSA_SHA_256` and
//! `MessageType=RAW` verifies against the key's public half, pinned as a
//! PEM, and against nothing else. Skips without `WARDEN_TEST_AWS_ENDPOINT`
//! (fails without it under `WARDEN_REQUIRE_AWS_TESTS=1`).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use warden::audit::note::{KmsNoteSigner, NoteKey, NoteSigner as _};

const NAME: &str = "warden.example/audit";

async fn kms(endpoint: &str) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&warden::testing::aws_config(endpoint).await)
}

async fn create_key(client: &aws_sdk_kms::Client, spec: KeySpec) -> String {
    client
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .and_then(|m| m.arn)
        .unwrap()
}

#[tokio::test]
async fn a_note_signed_in_kms_verifies_with_the_pinned_public_key_only() {
    let Some(endpoint) = warden::testing::aws_endpoint() else {
        return;
    };
    let client = kms(&endpoint).await;
    let arn = create_key(&client, KeySpec::EccNistP256).await;
    let signer = KmsNoteSigner::new(client.clone(), &arn, NAME)
        .await
        .unwrap();
    let text = "warden.example/audit\nminute 2026-12-07T08:10Z\nsize 0\n";
    let note = signer.sign_note(text).await.unwrap();

    // Pinned out of band as a PEM, the key verifies the note.
    let pinned = NoteKey::from_pem(NAME, &signer.key().to_pem()).unwrap();
    assert_eq!(pinned.verify(&note).unwrap(), text);
    // Another P-256 key in KMS, with the same name, does not.
    let other_arn = create_key(&client, KeySpec::EccNistP256).await;
    let other = KmsNoteSigner::new(client.clone(), &other_arn, NAME)
        .await
        .unwrap();
    assert!(other.key().verify(&note).is_err());
    assert!(pinned.verify(&note.replace("size 0", "size 1")).is_err());

    // The access-token key (RSA) cannot be a checkpoint key.
    let rsa = create_key(&client, KeySpec::Rsa2048).await;
    let err = KmsNoteSigner::new(client, &rsa, NAME).await.unwrap_err();
    assert!(err.to_string().contains("P-256"), "{err}");
}
