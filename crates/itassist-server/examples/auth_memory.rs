//! Memory and time of failed logins against the real `itassist serve` process (issue 12,
//! item 2): resident memory (`VmRSS`) and its peak (`VmHWM`) from `/proc/PID/status` before and
//! after N wrong-password requests sent 16 at a time.
//!
//! Two runs: with the per-address limiter off (`ITASSIST_MAX_LOGIN_FAILURES=0`: every attempt
//! runs Argon2, as from an attacker with many addresses), and with the default limiter (one
//! address: after 10 failures the answers are 429 without any password check).
//!
//! ```sh
//! cargo build -p itassist-cli
//! ORT_DYLIB_PATH=... ITASSIST_MODEL_DIR=... cargo run -p itassist-server --example auth_memory [-- ATTEMPTS]
//! ```
//! `ITASSIST_BIN` names the binary (default `$CARGO_TARGET_DIR/debug/itassist`, else
//! `target/debug/itassist`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

const CONCURRENCY: usize = 16;

fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("ITASSIST_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")));
    target.join("debug/itassist")
}

/// `(VmRSS, VmHWM)` of a process, in MB.
fn memory_mb(pid: u32) -> Result<(u64, u64), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024 / 1_000_000)
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, Box<dyn std::error::Error>> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start(users: &str, limiter_off: bool) -> Result<Server, Box<dyn std::error::Error>> {
    let bin = binary();
    if !bin.exists() {
        return Err(format!(
            "{} not found: run `cargo build -p itassist-cli` or set ITASSIST_BIN",
            bin.display()
        )
        .into());
    }
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let mut command = Command::new(&bin);
    command
        .args(["--data-dir"])
        .arg(dir.path().join("data"))
        .args([
            "--ollama-url",
            &format!("http://127.0.0.1:{}", free_port()?),
        ])
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("ITASSIST_USERS", users)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if limiter_off {
        command.env("ITASSIST_MAX_LOGIN_FAILURES", "0");
    }
    let child = command.spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    let server = Server {
        child,
        url,
        _dir: dir,
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = client.get(format!("{}/health", server.url)).send().await {
            if r.status().is_success() {
                return Ok(server);
            }
        }
        if Instant::now() > deadline {
            return Err("the server did not answer /health within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends `n` wrong-password requests, `CONCURRENCY` at a time; returns the count per status.
async fn wrong_logins(url: &str, n: usize) -> std::collections::BTreeMap<u16, usize> {
    let client = reqwest::Client::new();
    let statuses: Vec<u16> = stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            let url = format!("{url}/documents");
            async move {
                client
                    .get(url)
                    .basic_auth("alice", Some(format!("guess {i}")))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut counts = std::collections::BTreeMap::new();
    for s in statuses {
        *counts.entry(s).or_insert(0) += 1;
    }
    counts
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let attempts: usize = match std::env::args().nth(1) {
        Some(n) => n
            .parse()
            .map_err(|_| format!("'{n}' is not a number of attempts"))?,
        None => 1000,
    };
    let hash = itassist_server::hash_password("the right password")?;
    let users = format!("alice:{hash}");
    println!("binary: {}", binary().display());
    println!("| limiter | attempts | answers | RSS before | RSS after | peak (VmHWM) | time |");
    println!("|---|---|---|---|---|---|---|");
    for limiter_off in [true, false] {
        let server = start(&users, limiter_off).await?;
        let pid = server.child.id();
        // Let the process settle after start-up.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (before, _) = memory_mb(pid)?;
        let t = Instant::now();
        let counts = wrong_logins(&server.url, attempts).await;
        let elapsed = t.elapsed();
        let (after, peak) = memory_mb(pid)?;
        let answers: Vec<String> = counts.iter().map(|(s, n)| format!("{n}x{s}")).collect();
        println!(
            "| {} | {attempts} | {} | {before} MB | {after} MB | {peak} MB | {:.1} s |",
            if limiter_off {
                "off (ITASSIST_MAX_LOGIN_FAILURES=0)"
            } else {
                "default, one address"
            },
            answers.join(" "),
            elapsed.as_secs_f64()
        );
    }
    Ok(())
}
