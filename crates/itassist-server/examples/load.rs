//! Load figures: requests/s and p50/p99 latency of `/search` and `/health` with 32 concurrent
//! clients on loopback, and (with `LLAMA_URL` set to a running llama-server) the overhead of
//! `POST /ask/` over `Assistant::ask` alone.
//!
//! ```sh
//! ORT_DYLIB_PATH=... ITASSIST_MODEL_DIR=... cargo run -p itassist-server --example load
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use itassist::{AskOptions, Assistant, Backend, Config};
use itassist_server::{hash_password, router, serve_listener, ServerConfig, Users};

const CLIENTS: usize = 32;
const SECONDS: u64 = 10;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn hammer(client: reqwest::Client, url: String, body: Option<serde_json::Value>) {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let client = client.clone();
        let url = url.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                let mut req = if let Some(b) = &body {
                    client.post(&url).json(b)
                } else {
                    client.get(&url)
                };
                req = req.basic_auth("bench", Some("bench"));
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            all.extend(l);
            errors += e;
        }
    }
    all.sort();
    println!(
        "{url}: {} requests in {SECONDS} s = {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {errors}",
        all.len(),
        all.len() as f64 / SECONDS as f64,
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let model_dir = std::env::var_os("ITASSIST_MODEL_DIR")
        .map(PathBuf::from)
        .ok_or("set ITASSIST_MODEL_DIR")?;
    let mut config = Config::new(dir.path().join("data")).with_model_dir(model_dir);
    config.answer.retries = 0;
    match std::env::var("LLAMA_URL") {
        Ok(url) => {
            config.answer.base_url = url;
            config.answer.backend = Backend::OpenAi;
        }
        Err(_) => config.answer.base_url = "http://127.0.0.1:9".into(),
    }
    let assistant = Arc::new(tokio::task::spawn_blocking(move || Assistant::open(config)).await??);
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    let inputs = [
        corpus.join("debdocs/html/apt-offline"),
        corpus.join("debdocs/pdf/refcard-en-a4.pdf"),
    ];
    let a = assistant.clone();
    let report = tokio::task::spawn_blocking(move || a.ingest(&inputs)).await??;
    println!("indexed {} chunks", report.totals.chunks);

    let users = Users::parse(&format!("bench:{}", hash_password("bench")?))?;
    let app = router(assistant.clone(), &ServerConfig::new(users));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(serve_listener(listener, app, std::future::pending()));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()?;

    hammer(client.clone(), format!("{base}/health"), None).await;
    hammer(
        client.clone(),
        format!("{base}/search"),
        Some(serde_json::json!({"query": "how do I update packages offline?", "k": 5})),
    )
    .await;

    if std::env::var("LLAMA_URL").is_ok() {
        let options = AskOptions {
            num_predict: Some(32),
            seed: Some(1),
            temperature: Some(0.0),
            ..AskOptions::default()
        };
        let question = "What does apt-offline do?";
        let _ = assistant.ask(question, &options).await?; // warm-up
        let n = 5;
        let mut direct = Vec::new();
        let mut http = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            assistant.ask(question, &options).await?;
            direct.push(t.elapsed());
            let t = Instant::now();
            let r = client
                .post(format!("{base}/ask/"))
                .basic_auth("bench", Some("bench"))
                .json(&serde_json::json!({"question": question, "num_predict": 32, "seed": 1, "temperature": 0.0}))
                .send()
                .await?;
            let status = r.status();
            let _ = r.bytes().await?;
            if !status.is_success() {
                return Err(format!("/ask/ answered {status}").into());
            }
            http.push(t.elapsed());
        }
        direct.sort();
        http.sort();
        println!(
            "ask median: Assistant::ask {:.1} ms, POST /ask/ {:.1} ms, overhead {:.1} ms (n={n})",
            percentile(&direct, 0.5).as_secs_f64() * 1e3,
            percentile(&http, 0.5).as_secs_f64() * 1e3,
            (percentile(&http, 0.5).as_secs_f64() - percentile(&direct, 0.5).as_secs_f64()) * 1e3
        );
    }
    Ok(())
}
