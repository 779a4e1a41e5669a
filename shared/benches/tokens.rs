//! The CPU cost of checking a bearer token: signature and claims
//! ([`warden::auth::jwt::AccessTokens::verify`]) on a verified-token cache
//! hit and on a miss (an RS256 signature check), the RS256 check alone, the
//! whole check on the embedded store (verify plus the denylist read), and
//! issuing with a local RSA key (in AWS the signature is KMS's, a network
//! call). Budget: a hit within microseconds of the HS256 one; a miss in
//! tens of microseconds. Delegated tokens (RFC 8693): the whole check (its
//! one read holds the actor key and the agent too) and the exchange that
//! issues one (two token checks' worth of work, the key's HMAC and use, a
//! local signature and the audit write).
//!
//! `cargo bench -p warden --bench tokens`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use warden::clock::{Clock, SystemClock};
use warden::domain::Role;
use warden::store::memory::MemoryStore;

/// More distinct tokens than the verified-token cache holds (256 slots),
/// so that cycling through them misses nearly every time.
const MISSES: usize = 2048;

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = warden::testing::state(Arc::new(MemoryStore::new()), Arc::new(SystemClock));
    let now = SystemClock.now_secs();
    // A user that exists: a token whose user is gone is refused.
    let user = rt
        .block_on(warden::auth::login::create_user(
            &state,
            warden::audit::Origin::Cli {
                operator: "bench".into(),
            },
            &warden::domain::Username::parse("alice").unwrap(),
            &secrecy::SecretString::from("a bench password"),
            &[Role::User],
        ))
        .unwrap();
    let user_id = user.user_id.as_str();
    let issue = |sid: &str| {
        rt.block_on(
            state
                .tokens
                .issue(user_id, &[Role::User, Role::Approver], 0, sid, now),
        )
        .unwrap()
        .0
    };
    let token = issue("01SESSION");
    let many: Vec<String> = (0..MISSES).map(|i| issue(&format!("S{i}"))).collect();

    c.bench_function("access token verify, cache hit", |b| {
        b.iter(|| {
            rt.block_on(state.tokens.verify(black_box(&token), now))
                .unwrap()
        });
    });
    let mut next = 0;
    c.bench_function("access token verify, cache miss (RS256 + claims)", |b| {
        b.iter(|| {
            next = (next + 1) % MISSES;
            rt.block_on(state.tokens.verify(black_box(&many[next]), now))
                .unwrap()
        });
    });
    let public = warden::testing::test_signer()
        .public_key_of(warden::testing::TEST_KEY_ARN)
        .unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    c.bench_function("RS256 signature check alone (ring, 2048 bits)", |b| {
        b.iter(|| assert!(public.verifies(black_box(input.as_bytes()), &signature)));
    });
    c.bench_function("access token issue (local RSA key)", |b| {
        b.iter(|| {
            rt.block_on(
                state
                    .tokens
                    .issue(user_id, &[Role::User], 0, "01SESSION", now),
            )
            .unwrap()
        });
    });
    c.bench_function("authenticate (verify + denylist read, memory store)", |b| {
        b.iter(|| {
            rt.block_on(state.bearer().token(black_box(&token)))
                .unwrap()
        });
    });

    // A delegated token, over the token endpoint's state on the same store.
    let store = Arc::new(MemoryStore::new());
    let keys = warden::testing::token_endpoint_state(store.clone(), Arc::new(SystemClock));
    let registry = &keys.api_keys.as_ref().unwrap().registry;
    rt.block_on(warden::agents::registry::add_workspace(
        registry,
        warden::audit::Origin::Cli {
            operator: "bench".into(),
        },
        warden::domain::agents::WorkspaceId::parse("acme").unwrap(),
        "Acme",
    ))
    .unwrap();
    let bob = rt
        .block_on(warden::auth::login::create_user(
            &keys,
            warden::audit::Origin::Cli {
                operator: "bench".into(),
            },
            &warden::domain::Username::parse("bob").unwrap(),
            &secrecy::SecretString::from("a bench password"),
            &[Role::User],
        ))
        .unwrap();
    let subject = rt
        .block_on(
            keys.tokens
                .issue(&bob.user_id, &[Role::User], 0, "01BOBSESSION", now),
        )
        .unwrap()
        .0;
    let (delegated, key) = rt.block_on(warden::testing::delegate(
        &keys,
        "helper",
        &["acme"],
        &bob.user_id,
        &subject,
    ));
    c.bench_function(
        "authenticate a delegated token (verify + one read: denylist, key, agent)",
        |b| {
            b.iter(|| {
                rt.block_on(keys.bearer().live(black_box(&delegated)))
                    .unwrap()
            });
        },
    );
    c.bench_function(
        "token exchange (RFC 8693, memory store, local RSA key)",
        |b| {
            b.iter(|| {
                rt.block_on(warden::testing::exchange(&keys, black_box(&subject), &key))
                    .unwrap()
            });
        },
    );
}

criterion_group!(tokens, benches);
criterion_main!(tokens);
