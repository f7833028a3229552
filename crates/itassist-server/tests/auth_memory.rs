//! Issue 12, item 2: 1,000 wrong-password requests, 16 at a time, leave the server's resident
//! memory within 100 MB of where it started (before the fix: 167 MB -> 4.4 GB after 300).
//!
//! Its own test binary, so that no other test's memory shows in this process's RSS. The
//! per-address limiter is turned off here so that every attempt runs Argon2 (the worst case:
//! an attacker with many addresses); `examples/auth_memory.rs` measures the real
//! `itassist serve` process the same way and prints the figures.
//!
//! Needs `ORT_DYLIB_PATH` and `ITASSIST_MODEL_DIR` (the default cache locations are tried).

mod support;

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use itassist::{Assistant, Config};
use itassist_server::{hash_password, router, serve_listener, ServerConfig, Users};
use reqwest::StatusCode;
use support::model_dir;

const ATTEMPTS: usize = 1000;
const CONCURRENCY: usize = 16;
const ALLOWED_GROWTH_BYTES: u64 = 100 * 1000 * 1000;

/// Resident set size of this process, from /proc.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .expect("VmRSS in /proc/self/status")
}

async fn wrong_logins(client: &reqwest::Client, url: &str, n: usize) -> usize {
    stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            let url = url.to_string();
            async move {
                client
                    .get(format!("{url}/documents"))
                    .basic_auth("alice", Some(format!("guess number {i}")))
                    .send()
                    .await
                    .map(|r| r.status())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|s| std::future::ready(matches!(s, Ok(StatusCode::UNAUTHORIZED))))
        .count()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_cost_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::new(dir.path().join("data")).with_model_dir(model_dir());
    let assistant = tokio::task::spawn_blocking(move || Assistant::open(config))
        .await
        .expect("join")
        .expect("open the assistant (set ORT_DYLIB_PATH and ITASSIST_MODEL_DIR)");
    let hash = hash_password("the right password").expect("hash");
    let mut server = ServerConfig::new(Users::parse(&format!("alice:{hash}")).expect("users"));
    server.auth.max_failures = 0; // every attempt runs Argon2
    let app = router(Arc::new(assistant), &server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(serve_listener(listener, app, std::future::pending()));
    let client = reqwest::Client::new();

    // Warm up: threads, connection pools and the Argon2 buffers exist after this.
    assert_eq!(
        wrong_logins(&client, &url, 2 * CONCURRENCY).await,
        2 * CONCURRENCY
    );
    let before = rss_bytes();
    let refused = wrong_logins(&client, &url, ATTEMPTS).await;
    let after = rss_bytes();
    eprintln!(
        "RSS before {} MB, after {ATTEMPTS} wrong passwords ({CONCURRENCY} at a time) {} MB",
        before / 1_000_000,
        after / 1_000_000
    );
    assert_eq!(refused, ATTEMPTS, "every wrong password is a 401");
    assert!(
        after < before + ALLOWED_GROWTH_BYTES,
        "RSS grew from {before} to {after} bytes"
    );
    // The right password still works afterwards.
    let ok = client
        .get(format!("{url}/documents"))
        .basic_auth("alice", Some("the right password"))
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), StatusCode::OK);
}
