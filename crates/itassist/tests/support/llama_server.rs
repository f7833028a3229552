//! A real llama.cpp `llama-server` for end-to-end tests and the overhead benchmark, started on
//! a free 127.0.0.1 port and killed when the guard is dropped.
//!
//! The binary and the model come from `scripts/provision-llama.sh` (`LLAMA_SERVER`,
//! `LLAMA_MODEL`; when unset, the default cache locations are tried).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running llama-server; killed on drop.
pub struct LlamaServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's log file.
    pub log: PathBuf,
}

fn cache_dir() -> PathBuf {
    std::env::var_os("ITASSIST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/itassist")
        })
}

/// The path in `var`, else `default` when it exists; panics with what to run otherwise.
fn provisioned(var: &str, default: PathBuf) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
    assert!(
        path.is_file(),
        "{var} is not set or {} does not exist: run `bash scripts/provision-llama.sh` \
         (it builds llama-server and fetches SmolLM2 once per machine; CI runs it) and export \
         the LLAMA_SERVER and LLAMA_MODEL lines it prints",
        path.display()
    );
    path
}

impl LlamaServer {
    /// Starts llama-server with SmolLM2-135M-Instruct (`-t 1 -c 4096`) and waits until
    /// `/health` answers 200.
    pub fn start(log_dir: &Path) -> LlamaServer {
        Self::start_with(log_dir, &[])
    }

    /// Like [`LlamaServer::start`], with extra command-line arguments.
    pub fn start_with(log_dir: &Path, extra_args: &[&str]) -> LlamaServer {
        let binary = provisioned("LLAMA_SERVER", cache_dir().join("llama/bin/llama-server"));
        let model = provisioned(
            "LLAMA_MODEL",
            cache_dir().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let log = log_dir.join(format!("llama-server-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create the llama-server log");
        let log_err = log_file.try_clone().expect("clone the log handle");
        let child = Command::new(&binary)
            .arg("-m")
            .arg(&model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-c", "4096", "-t", "1", "-np", "1"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = LlamaServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_healthy(Duration::from_secs(120));
        server
    }

    fn wait_healthy(&mut self, limit: Duration) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("llama-server exited with {status}:\n{}", self.log_tail());
            }
            if health_ok(&self.url) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "llama-server not healthy after {limit:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The end of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// `GET /health` returns 200 (plain HTTP/1.1 over a socket: no runtime needed).
fn health_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(addr) = url.strip_prefix("http://") else {
        return false;
    };
    let Ok(mut socket) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if socket.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = socket.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
