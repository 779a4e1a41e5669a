//! `warden serve` under bursts of concurrent logins: its memory stays flat.
//!
//! A separate test binary from `cli.rs` so that no other test hashes
//! passwords in the same moment and the numbers are this test's alone.

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;

/// Bursts, and concurrent logins per burst.
const BURSTS: usize = 10;
const PER_BURST: usize = 100;

/// Password hashes at once: fixed rather than the default (the number of
/// cores) so that the bound below holds on any machine.
const CONCURRENCY: &str = "4";

/// The most resident memory `warden serve` may hold, now or at its peak,
/// in KiB: 200 MiB. Idle it holds about 35 MiB (the admin's hash at start
/// already took one argon2 buffer); four slots of 19 MiB each add 76 MiB.
/// Without the bound, one burst of 100 concurrent hashes needs 1.9 GiB,
/// and glibc kept all of it, burst after burst.
const MAX_RSS_KIB: u64 = 200 * 1024;

/// `VmRSS` and `VmHWM` of process `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn memory_stays_flat_under_bursts_of_concurrent_logins() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipping: no /proc to read resident memory from");
        return;
    }
    let mut cmd = common::warden();
    // Every request comes from 127.0.0.1; the per-IP limit would answer
    // 429 before any hashing.
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .env("WARDEN_LOGIN_IP_LIMIT", "1000000/60")
        .env("WARDEN_PASSWORD_CONCURRENCY", CONCURRENCY)
        .env("RUST_LOG", "off")
        .stderr(Stdio::null());
    let (server, _, url) = common::serve(cmd);
    let pid = server.0.id();

    let (idle, _) = memory_kib(pid);
    eprintln!("idle: VmRSS {idle} KiB");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    for burst in 0..BURSTS {
        let statuses = rt.block_on(async {
            let requests = (0..PER_BURST).map(|i| {
                let request = client
                    .post(format!("{url}/auth/login"))
                    .json(&serde_json::json!({
                        "username": format!("nobody-{burst}-{i}"),
                        "password": "not a password anybody has",
                    }))
                    .send();
                tokio::spawn(async move { request.await.map(|r| r.status().as_u16()) })
            });
            let mut statuses = Vec::with_capacity(PER_BURST);
            for request in requests.collect::<Vec<_>>() {
                statuses.push(request.await.unwrap().unwrap());
            }
            statuses
        });
        let unauthorized = statuses.iter().filter(|&&s| s == 401).count();
        let saturated = statuses.iter().filter(|&&s| s == 503).count();
        let (rss, hwm) = memory_kib(pid);
        eprintln!(
            "burst {}: {unauthorized} x 401, {saturated} x 503; VmRSS {rss} KiB, VmHWM {hwm} KiB",
            burst + 1
        );
        assert_eq!(
            unauthorized + saturated,
            PER_BURST,
            "only 401 (unknown user) or 503 (saturated) are right: {statuses:?}"
        );
        // Checked after every burst, so that a regression fails before it
        // takes the machine's memory.
        assert!(
            rss <= MAX_RSS_KIB && hwm <= MAX_RSS_KIB,
            "burst {}: VmRSS {rss} KiB, VmHWM {hwm} KiB; the bound is {MAX_RSS_KIB} KiB",
            burst + 1
        );
    }
}
