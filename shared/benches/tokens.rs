//! The CPU cost of checking a bearer token: signature and claims
//! ([`warden::auth::jwt::AccessTokens::verify`]), and the whole check on the embedded store
//! (verify plus the denylist read). Budget: tens of microseconds.
//!
//! `cargo bench -p warden --bench tokens`

// Benchmarks panic on setup failure like tests do.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use warden::clock::{Clock, SystemClock};
use warden::domain::Role;
use warden::store::memory::MemoryStore;

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = warden::testing::state(Arc::new(MemoryStore::new()), Arc::new(SystemClock));
    let now = SystemClock.now_secs();
    let (token, _) = rt
        .block_on(
            state
                .tokens
                .issue("01USER", &[Role::User, Role::Approver], 0, "01SESSION", now),
        )
        .unwrap();

    c.bench_function("jwt verify (signature + claims)", |b| {
        b.iter(|| {
            rt.block_on(state.tokens.verify(black_box(&token), now))
                .unwrap()
        });
    });
    c.bench_function("jwt issue", |b| {
        b.iter(|| {
            rt.block_on(
                state
                    .tokens
                    .issue("01USER", &[Role::User], 0, "01SESSION", now),
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
}

criterion_group!(tokens, benches);
criterion_main!(tokens);
