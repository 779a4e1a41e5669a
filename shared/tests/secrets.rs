//! The Secrets Manager adapter through the real SDK against the emulator:
//! the JWT key set follows AWSCURRENT and AWSPREVIOUS, and a weak key in
//! the secret refuses start-up.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use secrecy::ExposeSecret;
use warden::clock::SystemClock;
use warden::config::Config;
use warden::secrets::{SecretVersion, SecretsManager, SecretsPort};
use warden::state::AuthState;
use warden::store::memory::MemoryStore;
use warden::wiring::signing_keys;

async fn client() -> Option<aws_sdk_secretsmanager::Client> {
    let endpoint = warden::testing::aws_endpoint()?;
    Some(aws_sdk_secretsmanager::Client::new(
        &warden::testing::aws_config(&endpoint).await,
    ))
}

/// A staging configuration whose JWT key is the secret `arn`, with
/// `extra` variables.
fn staging_config(arn: &str, extra: &[(&str, &str)]) -> Config {
    let (config, findings) = Config::load(|k| match k {
        "WARDEN_ENV" => Some("staging".into()),
        "WARDEN_JWT_SECRET_ARN" => Some(arn.to_owned()),
        _ => extra
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned()),
    });
    assert!(!findings.has_errors(), "{findings:?}");
    config.unwrap()
}

/// A new secret holding `value`: its ARN.
async fn new_secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let name = format!("warden-test-{}", ulid::Ulid::new());
    warden::testing::create_secret(client, &name, value).await
}

/// A new current value of the secret `arn`: `value`.
async fn put_value(client: &aws_sdk_secretsmanager::Client, arn: &str, value: &str) {
    let put = client
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value);
    put.send().await.unwrap();
}

/// An auth state over a memory store with `config` and the key set `keys`.
fn state_with_keys(config: Config, keys: &[SecretVersion]) -> warden::Result<AuthState> {
    AuthState::new(
        config,
        Arc::new(MemoryStore::new()),
        keys,
        Arc::new(SystemClock),
    )
}

#[tokio::test]
async fn the_key_set_is_the_current_version_and_after_rotation_the_previous_one_too() {
    let Some(client) = client().await else {
        return;
    };
    let first = "first-key-0123456789abcdef0123456789abcdef";
    let arn = new_secret(&client, first).await;
    let secrets = SecretsManager::new(client.clone());

    let versions = secrets.current_and_previous(&arn).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert!(versions[0].current);
    assert_eq!(versions[0].value.expose_secret(), first);
    let first_version = versions[0].version_id.clone();

    let second = "second-key-0123456789abcdef0123456789abcdef";
    put_value(&client, &arn, second).await;
    let versions = secrets.current_and_previous(&arn).await.unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions[0].current && !versions[1].current);
    assert_eq!(versions[0].value.expose_secret(), second);
    assert_eq!(versions[1].version_id, first_version);

    // A state built from the secret signs with the new key and still
    // verifies tokens signed with the old one.
    let config = staging_config(&arn, &[]);
    let keys = signing_keys(&config, Some(&secrets)).await.unwrap();
    let state = state_with_keys(config.clone(), &keys).unwrap();
    let old_only = [keys[1].clone()].map(|mut k| {
        k.current = true;
        k
    });
    let old_state = state_with_keys(config, &old_only).unwrap();
    let now = 1_900_000_000;
    let (old_token, _) = old_state.tokens.issue("u", &[], 0, "s", now).await.unwrap();
    assert!(state.tokens.verify(&old_token, now).await.is_ok());
    let (new_token, _) = state.tokens.issue("u", &[], 0, "s", now).await.unwrap();
    let kid = kid(&new_token);
    assert_eq!(
        kid, versions[0].version_id,
        "the kid is the secret's version id"
    );
    assert!(old_state.tokens.verify(&new_token, now).await.is_err());
}

#[tokio::test]
async fn a_short_key_in_secrets_manager_refuses_start_up() {
    let Some(client) = client().await else {
        return;
    };
    let arn = new_secret(&client, &"a".repeat(31)).await;
    let secrets = SecretsManager::new(client);
    let config = staging_config(&arn, &[]);
    let keys = signing_keys(&config, Some(&secrets)).await.unwrap();
    let err = state_with_keys(config, &keys).unwrap_err();
    assert!(err.to_string().contains("31 bytes"), "{err}");
}

#[tokio::test]
async fn a_missing_secret_is_an_error_not_a_generated_key() {
    let Some(client) = client().await else {
        return;
    };
    let secrets = SecretsManager::new(client);
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf";
    let config = staging_config(missing, &[]);
    assert!(signing_keys(&config, Some(&secrets)).await.is_err());
}

/// What `warden jwt-key rotate` relies on: functions already running pick
/// the new key up without a redeploy, through the real SDK.
#[tokio::test]
async fn warm_functions_follow_a_rotated_key_without_a_redeploy() {
    let Some(client) = client().await else {
        return;
    };
    let endpoint = warden::testing::aws_endpoint().unwrap();
    let aws = warden::testing::aws_config(&endpoint).await;
    let arn = new_secret(&client, "first-key-0123456789abcdef0123456789abcdef").await;
    let config = || staging_config(&arn, &[("WARDEN_SECRET_CACHE_TTL_SECS", "1")]);
    // Two warm functions, started before the rotation.
    let warm = warden::wiring::auth_with(config(), &aws).await.unwrap();
    let idle = warden::wiring::auth_with(config(), &aws).await.unwrap();
    let now = 1_900_000_000;
    let (old_token, _) = warm.tokens.issue("u", &[], 0, "s", now).await.unwrap();

    put_value(&client, &arn, "second-key-0123456789abcdef0123456789abcdef").await;
    let cold = warden::wiring::auth_with(config(), &aws).await.unwrap();
    let (new_token, _) = cold.tokens.issue("u", &[], 0, "s", now).await.unwrap();
    assert_ne!(kid(&new_token), kid(&old_token));

    // At once: a token with an unknown kid makes the warm function read
    // the key set again, and both keys verify.
    assert!(warm.tokens.verify(&new_token, now).await.is_ok());
    assert!(warm.tokens.verify(&old_token, now).await.is_ok());
    assert!(cold.tokens.verify(&old_token, now).await.is_ok());

    // Within one cache TTL, a function that saw no new token signs with
    // the new key too.
    let (still_old, _) = idle.tokens.issue("u", &[], 0, "s", now).await.unwrap();
    assert_eq!(kid(&still_old), kid(&old_token), "within the TTL");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (renewed, _) = idle.tokens.issue("u", &[], 0, "s", now).await.unwrap();
    assert_eq!(kid(&renewed), kid(&new_token), "after the TTL");
}

/// The `kid` in an access token's header.
fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}
