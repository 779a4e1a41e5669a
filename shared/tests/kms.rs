//! The KMS signer through the real AWS SDK against the emulator (moto,
//! which signs RSA for real but ignores `MessageType` and enforces no key
//! policy), every signature checked by an independent RSA implementation
//! (RustCrypto's `rsa`, not ring, which Warden verifies with); and the
//! production wiring of access tokens over KMS and the stored key set.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::Verifier as _;
use warden::Error;
use warden::auth::signing::{ACCESS_KEY_SET, KeySet, MAX_SIGNING_INPUT, NewKey, Signer as _};
use warden::aws::kms::KmsSigner;
use warden::clock::{Clock as _, SystemClock};
use warden::domain::Role;
use warden::store::{AuthWrite, SessionStore as _, Transactions as _, Write};
use warden::testing;

/// RustCrypto's verifying key of a JWK's `n` and `e`.
fn independent_key(n: &str, e: &str) -> rsa::pkcs1v15::VerifyingKey<rsa::sha2::Sha256> {
    let n = rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(n).unwrap());
    let e = rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(e).unwrap());
    rsa::pkcs1v15::VerifyingKey::new(rsa::RsaPublicKey::new(n, e).unwrap())
}

/// Whether `signature` is `key`'s RS256 signature of `message`, says `rsa`.
fn independently_verified(
    key: &rsa::pkcs1v15::VerifyingKey<rsa::sha2::Sha256>,
    message: &[u8],
    signature: &[u8],
) -> bool {
    rsa::pkcs1v15::Signature::try_from(signature)
        .is_ok_and(|signature| key.verify(message, &signature).is_ok())
}

#[tokio::test]
async fn kms_signs_raw_messages_that_an_independent_implementation_verifies() {
    let Some(endpoint) = testing::aws_endpoint() else {
        return;
    };
    let arn = testing::create_signing_key(&endpoint).await;
    let client = aws_sdk_kms::Client::new(&testing::aws_config(&endpoint).await);
    let signer = KmsSigner::new(client.clone());

    // The public key as Warden reads it from the SubjectPublicKeyInfo, and
    // as `rsa` reads the same DER: the same modulus and exponent.
    let public = signer.public_key(&arn).await.unwrap();
    assert_eq!(public.bits(), 2048);
    let der = client.get_public_key().key_id(&arn).send().await.unwrap();
    let theirs = rsa::RsaPublicKey::from_public_key_der(der.public_key.unwrap().as_ref()).unwrap();
    let jwk = public.jwk();
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&jwk.n).unwrap(),
        rsa::traits::PublicKeyParts::n(&theirs).to_bytes_be()
    );
    let key = independent_key(&jwk.n, &jwk.e);

    let message = b"header.claims";
    let signature = signer.sign(&arn, message).await.unwrap();
    assert_eq!(signature.len(), 256);
    assert!(independently_verified(&key, message, &signature));
    assert!(public.verifies(message, &signature), "and by ring");
    assert!(!independently_verified(&key, b"header.claimz", &signature));

    // KMS signs a RAW message of at most 4096 bytes: longer is refused
    // before any call.
    let too_long = vec![b'a'; MAX_SIGNING_INPUT + 1];
    assert!(matches!(
        signer.sign(&arn, &too_long).await,
        Err(Error::Internal { .. })
    ));
}

#[tokio::test]
async fn a_failed_sign_is_503_with_retry_after_and_names_nothing() {
    let Some(endpoint) = testing::aws_endpoint() else {
        return;
    };
    let signer = KmsSigner::new(aws_sdk_kms::Client::new(
        &testing::aws_config(&endpoint).await,
    ));
    let missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000";
    match signer.sign(missing, b"x").await {
        Err(e @ Error::Saturated { retry_after }) => {
            assert_eq!(retry_after, Duration::from_secs(1));
            assert_eq!(e.status(), http::StatusCode::SERVICE_UNAVAILABLE);
            assert!(!e.public_detail().contains(missing));
        }
        other => panic!("expected 503, got {other:?}"),
    }
}

#[tokio::test]
async fn the_production_wiring_signs_in_kms_by_the_stored_key_set_and_verifies_what_it_signed() {
    let Some((store, prefix)) = testing::dynamo_store().await else {
        return;
    };
    let endpoint = testing::aws_endpoint().unwrap();
    let aws = testing::aws_config(&endpoint).await;
    let first = testing::create_signing_key(&endpoint).await;
    let second = testing::create_signing_key(&endpoint).await;
    let mut config = testing::config();
    config.table_prefix = prefix;
    config.signing_key_arn = Some(first.clone());
    let store = Arc::new(store);
    let clock = Arc::new(SystemClock);
    let kms = KmsSigner::new(aws_sdk_kms::Client::new(&aws));

    // No key set stored: the stack's first key signs.
    let tokens = warden::wiring::access_tokens(&config, &aws, store.clone(), clock.clone())
        .await
        .unwrap();
    let now = clock.now_secs();
    let (token, claims) = tokens
        .issue("01USER", &[Role::User], 0, "01SID", now)
        .await
        .unwrap();
    assert_eq!(*tokens.verify(&token, now).await.unwrap(), claims);
    let jwks = tokens.key_ring().await.jwks(now);
    assert_eq!(jwks.len(), 1);
    let first_kid = kms.public_key(&first).await.unwrap().thumbprint();
    assert_eq!(jwks[0].kid, first_kid);
    let (input, signature) = token.rsplit_once('.').unwrap();
    let key = independent_key(&jwks[0].n, &jwks[0].e);
    assert!(independently_verified(
        &key,
        input.as_bytes(),
        &URL_SAFE_NO_PAD.decode(signature).unwrap()
    ));

    // The first key retired at once, the second signing: a function started
    // now reads the stored set and signs with the second key only.
    let mut initial = KeySet::initial(&first);
    initial.keys[0].kid = first_kid.clone();
    let second_kid = kms.public_key(&second).await.unwrap().thumbprint();
    let retired = initial
        .retired_now(
            &first_kid,
            now,
            Some(NewKey {
                arn: second.clone(),
                kid: second_kid.clone(),
            }),
        )
        .unwrap();
    store
        .transact(vec![Write::Auth(AuthWrite::PutKeySet {
            name: ACCESS_KEY_SET.into(),
            set: retired.clone(),
        })])
        .await
        .unwrap();
    assert_eq!(store.key_set(ACCESS_KEY_SET).await.unwrap(), Some(retired));
    let after = warden::wiring::access_tokens(&config, &aws, store.clone(), clock.clone())
        .await
        .unwrap();
    let (new, _) = after
        .issue("01USER", &[Role::User], 0, "01SID", now)
        .await
        .unwrap();
    let head: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(new.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(head["kid"], second_kid.as_str());
    assert!(after.verify(&new, now).await.is_ok());
    assert!(
        matches!(after.verify(&token, now).await, Err(Error::TokenRefused(_))),
        "a retired key's token is refused"
    );
    let kids: Vec<String> = after
        .key_ring()
        .await
        .jwks(now)
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, [second_kid]);
}
