//! Verification cost per delivery, per scheme, for 1 KiB and 64 KiB bodies,
//! and the whole handler (verify, claim, enqueue, audit) on the embedded
//! store and queue.
//!
//! `cargo bench -p warden-webhook-receive --bench verify`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use warden::clock::{Clock, SystemClock};
use warden::queue::MemoryQueue;
use warden::store::memory::MemoryStore;
use warden::webhook::{SchemeKind, SigningKey, Sources};

fn body(size: usize) -> Vec<u8> {
    let mut body = br#"{"id":"evt_1","type":"invoice.paid","pad":""#.to_vec();
    body.resize(size - 2, b'a');
    body.extend_from_slice(br#""}"#);
    body
}

fn headers(
    scheme: SchemeKind,
    key: &SigningKey,
    body: &[u8],
    now: i64,
    id: &str,
) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        h.insert(k, v.parse().unwrap());
    };
    match scheme {
        SchemeKind::Slack => {
            set("x-slack-request-timestamp", now.to_string());
            set(
                "x-slack-signature",
                format!(
                    "v0={}",
                    hex::encode(key.sign(&[format!("v0:{now}:").as_bytes(), body]))
                ),
            );
        }
        SchemeKind::Github => {
            set(
                "x-hub-signature-256",
                format!("sha256={}", hex::encode(key.sign(&[body]))),
            );
            set("x-github-delivery", id.into());
        }
        SchemeKind::Stripe => {
            set(
                "stripe-signature",
                format!(
                    "t={now},v1={}",
                    hex::encode(key.sign(&[format!("{now}.").as_bytes(), body]))
                ),
            );
        }
        SchemeKind::Standard => {
            set("webhook-id", id.into());
            set("webhook-timestamp", now.to_string());
            set(
                "webhook-signature",
                format!(
                    "v1,{}",
                    BASE64.encode(key.sign(&[format!("{id}.{now}.").as_bytes(), body]))
                ),
            );
        }
    }
    h
}

fn benches(c: &mut Criterion) {
    let now = SystemClock.now_secs();
    let key = SigningKey::new(b"bench-secret");
    let mut group = c.benchmark_group("verify");
    for size in [1024, 64 * 1024] {
        let body = body(size);
        for scheme in [
            SchemeKind::Slack,
            SchemeKind::Github,
            SchemeKind::Stripe,
            SchemeKind::Standard,
        ] {
            let h = headers(scheme, &key, &body, now, "msg_1");
            let keys = [key.clone()];
            group.bench_function(format!("{} {} KiB", scheme.as_str(), size / 1024), |b| {
                b.iter(|| scheme.scheme().verify(&h, &body, &keys, now).unwrap());
            });
        }
    }
    group.finish();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = warden::testing::webhook_state(
        Arc::new(MemoryStore::new()),
        Sources::from_json(r#"[{"name": "gh", "scheme": "github", "secrets": ["bench-secret"]}]"#)
            .unwrap(),
        Arc::new(MemoryQueue::new()),
        Arc::new(SystemClock),
    );
    let body = body(1024);
    let mut n = 0_u64;
    c.bench_function(
        "handler: github 1 KiB, verify + claim + enqueue + audit (memory)",
        |b| {
            b.iter_batched(
                || {
                    n += 1;
                    let h = headers(SchemeKind::Github, &key, &body, now, &format!("d-{n}"));
                    let mut req = http::Request::builder().method("POST").uri("/webhooks/gh");
                    for (k, v) in &h {
                        req = req.header(k, v);
                    }
                    req.body(lambda_http::Body::Binary(body.clone())).unwrap()
                },
                |req| {
                    let response = rt
                        .block_on(warden_webhook_receive::handler(&state, req))
                        .unwrap();
                    assert_eq!(response.status(), 202);
                },
                BatchSize::SmallInput,
            );
        },
    );
}

criterion_group!(verify, benches);
criterion_main!(verify);
