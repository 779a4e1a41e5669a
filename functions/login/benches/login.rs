//! Login latency split: the whole handler on the embedded store, argon2id
//! verification alone, and a refresh (everything but argon2).
//!
//! `cargo bench -p warden-login --bench login`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_http::Request;
use secrecy::SecretString;
use serde_json::{Value, json};
use warden::auth::login::create_user;
use warden::clock::SystemClock;
use warden::config::Rate;
use warden::domain::Username;
use warden::http::RequestContext;
use warden::store::memory::MemoryStore;

fn request(path: &str, body: String) -> Request {
    warden::testing::api_request("POST", path, &[], body, "192.0.2.1")
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut config = warden::testing::config();
    config.login_ip_limit = Rate {
        limit: u32::MAX,
        period_secs: 1,
    };
    let state =
        warden::testing::state_with(config, Arc::new(MemoryStore::new()), Arc::new(SystemClock));
    let password = SecretString::from("correct horse battery staple");
    let ctx = RequestContext::for_tests("127.0.0.1");
    rt.block_on(create_user(
        &state,
        ctx.origin(),
        &Username::parse("alice").unwrap(),
        &password,
        &[],
    ))
    .unwrap();
    let stored = rt
        .block_on(state.store.get_user(&Username::parse("alice").unwrap()))
        .unwrap()
        .unwrap()
        .password_hash;
    let login_body =
        json!({"username": "alice", "password": "correct horse battery staple"}).to_string();

    let mut group = c.benchmark_group("login");
    group.sample_size(30);
    group.bench_function("handler (argon2id m=19456 t=2 p=1 + memory store)", |b| {
        b.to_async(&rt).iter(|| async {
            let response =
                warden_login::handler(&state, request("/auth/login", login_body.clone()))
                    .await
                    .unwrap();
            assert_eq!(response.status(), 200);
        });
    });
    group.bench_function("argon2id verify alone", |b| {
        b.to_async(&rt).iter(|| async {
            let v = state
                .passwords
                .verify(&password, Some(&stored))
                .await
                .unwrap();
            assert!(v.valid);
        });
    });
    group.finish();

    let response = rt
        .block_on(warden_login::handler(
            &state,
            request("/auth/login", login_body.clone()),
        ))
        .unwrap();
    let pair: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let mut refresh_token = pair["refresh_token"].as_str().unwrap().to_owned();
    c.bench_function(
        "refresh handler (no argon2: parse, store, sign, audit)",
        |b| {
            b.iter(|| {
                let body = json!({"refresh_token": refresh_token}).to_string();
                let response = rt
                    .block_on(warden_login::handler(
                        &state,
                        request("/auth/refresh", body),
                    ))
                    .unwrap();
                assert_eq!(response.status(), 200);
                let pair: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
                refresh_token = pair["refresh_token"].as_str().unwrap().to_owned();
            });
        },
    );
}

criterion_group!(login, benches);
criterion_main!(login);
