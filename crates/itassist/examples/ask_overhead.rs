//! What itassist adds to a question: retrieval and prompt-building time, and the overhead of
//! its client on time to first token and tokens/s, against calling llama-server directly with
//! the very same request.
//!
//! ```text
//! eval "$(bash scripts/provision-llama.sh --print-env | sed 's/^/export /')"
//! eval "$(bash scripts/provision-models.sh --print-env | sed 's/^/export /')"
//! cargo run -p itassist --example ask_overhead -- [REPS] [cold|cached]
//! ```
//! It starts llama-server (SmolLM2-135M-Instruct, `-t 1 -c 4096 -np 1`) on a free port, indexes
//! four documents of the shared corpus, and for each question and repetition measures three
//! paths with the very same request: `Assistant::ask_stream` (retrieval + prompt + client),
//! itassist's `OpenAiClient::chat_stream` alone, and a bare reqwest call. Each run follows a
//! one-token "flush" request with an unrelated prompt; the order of the paths rotates.
//! `cold` (default) starts the server with `--no-cache-prompt --cache-ram 0`, so every prompt
//! is evaluated in full, as for a new question; `cached` keeps llama.cpp's prompt cache, which
//! leaves almost only the client-side costs in the time to first token.

#[path = "../tests/support/llama_server.rs"]
mod llama_server;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use itassist::ollama::{ChatEvent, ChatRequest, GenerationOptions};
use itassist::prompt::{self, TokenEstimator};
use itassist::{AskEvent, AskOptions, Assistant, Backend, Config, FastEmbedder, OpenAiClient};
use serde_json::json;

const DOCS: &[&str] = &[
    "debdocs/man/openssh/scp.1",
    "debdocs/man/openssh/ssh-keygen.1",
    "debdocs/man/openssh/ssh-add.1",
    "debdocs/html/apt-guide/ch2.html",
];

const QUESTIONS: &[&str] = &[
    "How do I securely copy a file to another host with scp?",
    "How do I generate a new SSH key?",
    "How do I add a private key to the authentication agent?",
    "How do I update the list of available packages with apt?",
    "How can I change the passphrase of an existing key?",
];

const NUM_PREDICT: u32 = 96;
const SEED: u64 = 42;

/// One measured generation.
#[derive(Debug, Default, Clone)]
struct Run {
    /// From sending the chat request to the first token.
    ttft: f64,
    /// Tokens received / time between the first and last token (client side).
    client_tps: f64,
    /// The server's own tokens/s.
    server_tps: f64,
    tokens: usize,
    text: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn client_tps(times: &[Instant]) -> f64 {
    match (times.first(), times.last()) {
        (Some(a), Some(b)) if times.len() > 1 && b > a => {
            (times.len() - 1) as f64 / (*b - *a).as_secs_f64()
        }
        _ => f64::NAN,
    }
}

/// Calls llama-server directly: the same JSON itassist sends, a minimal SSE reader.
async fn direct(http: &reqwest::Client, url: &str, body: &serde_json::Value) -> Run {
    let sent = Instant::now();
    let mut response = http
        .post(format!("{url}/v1/chat/completions"))
        .json(body)
        .send()
        .await
        .expect("direct request");
    let mut buf = Vec::new();
    let mut times = Vec::new();
    let mut text = String::new();
    let mut server_tps = f64::NAN;
    let mut ttft = f64::NAN;
    'read: while let Some(chunk) = response.chunk().await.expect("direct body") {
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim().strip_prefix("data: ") else {
                continue;
            };
            if data == "[DONE]" {
                break 'read;
            }
            let v: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            if let Some(tps) = v
                .pointer("/timings/predicted_per_second")
                .and_then(|t| t.as_f64())
            {
                server_tps = tps;
            }
            if let Some(piece) = v
                .pointer("/choices/0/delta/content")
                .and_then(|c| c.as_str())
            {
                if !piece.is_empty() {
                    if times.is_empty() {
                        ttft = sent.elapsed().as_secs_f64();
                    }
                    times.push(Instant::now());
                    text.push_str(piece);
                }
            }
        }
    }
    Run {
        ttft,
        client_tps: client_tps(&times),
        server_tps,
        tokens: times.len(),
        text,
    }
}

/// Sends an unrelated one-token request so the next prompt starts from a cold cache.
async fn flush(http: &reqwest::Client, url: &str, i: usize) {
    let body = json!({
        "model": "x",
        "messages": [{"role": "user", "content": format!("Count from {i} to {}.", i + 3)}],
        "max_tokens": 1,
        "stream": false,
    });
    let _ = http
        .post(format!("{url}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .and_then(|r| r.error_for_status());
}

fn model_dir() -> PathBuf {
    std::env::var_os("ITASSIST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/itassist/models/all-MiniLM-L6-v2-int8")
        })
}

/// Runs itassist's own client on a request.
async fn via_client(client: &OpenAiClient, request: ChatRequest) -> Run {
    let sent = Instant::now();
    let mut stream = client.chat_stream(request);
    let mut run = Run {
        ttft: f64::NAN,
        ..Run::default()
    };
    let mut times = Vec::new();
    while let Some(event) = stream.next().await {
        match event.expect("chat") {
            ChatEvent::Token(t) => {
                if times.is_empty() {
                    run.ttft = sent.elapsed().as_secs_f64();
                }
                times.push(Instant::now());
                run.text.push_str(&t);
            }
            ChatEvent::Done(stats) => run.server_tps = stats.tokens_per_second.unwrap_or(f64::NAN),
        }
    }
    run.client_tps = client_tps(&times);
    run.tokens = times.len();
    run
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let cached = args.next().as_deref() == Some("cached");
    let tmp = tempfile::tempdir().expect("temp dir");
    let extra: &[&str] = if cached {
        &[]
    } else {
        &["--no-cache-prompt", "--cache-ram", "0"]
    };
    let server = llama_server::LlamaServer::start_with(tmp.path(), extra);
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");

    let mut config = Config::new(tmp.path().join("index")).with_model_dir(model_dir());
    config.answer.base_url = server.url.clone();
    config.answer.backend = Backend::OpenAi;
    config.answer.model = "SmolLM2-135M-Instruct".into();
    config.answer.temperature = Some(0.0);
    config.answer.seed = Some(SEED);
    config.answer.num_predict = Some(NUM_PREDICT);
    // ONNX Runtime's intra-op worker threads spin after each run; on a small machine they
    // compete with the model server for the cores (see the report). BENCH_EMBED_THREADS=1
    // keeps the query embedding on the calling thread.
    config.embedding.threads = std::env::var("BENCH_EMBED_THREADS")
        .ok()
        .and_then(|t| t.parse().ok());
    let embedder = Arc::new(FastEmbedder::new(&config.embedding).expect("embedding model"));
    let estimator =
        TokenEstimator::with_tokenizer(itassist::Embedder::tokenizer(embedder.as_ref()).clone());
    let assistant = Assistant::with_embedder(config.clone(), embedder).expect("assistant");
    let client = OpenAiClient::new(&config.answer).expect("client");
    let paths: Vec<PathBuf> = DOCS.iter().map(|d| corpus.join(d)).collect();
    let report = assistant.ingest(&paths).expect("ingest");
    println!(
        "indexed {} documents, {} chunks; llama-server at {} ({})",
        report.totals.added,
        report.totals.chunks,
        server.url,
        if cached {
            "prompt cache on"
        } else {
            "prompt cache off"
        }
    );

    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("http client");
    // Warm-up: loads everything once, and learns the window the server runs with.
    let warm = assistant
        .ask(QUESTIONS[0], &AskOptions::default())
        .await
        .expect("warm-up question");
    let window = warm.context_window.unwrap_or(4096);

    let (mut ours, mut client_runs, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut retrieval, mut build, mut e2e_ttft, mut prompt_tokens) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut same_text = 0;
    let mut flushes = 0;
    for rep in 0..reps {
        for (qi, question) in QUESTIONS.iter().enumerate() {
            // The very request itassist sends: same passages, same prompt, same options.
            let passages = assistant
                .search(question, config.retrieval.top_k)
                .expect("search");
            let reserve = prompt::answer_reserve(window, Some(NUM_PREDICT));
            let p = prompt::build_prompt(question, passages, window, reserve, &estimator)
                .expect("prompt");
            let request = ChatRequest {
                model: config.answer.model.clone(),
                messages: p.messages.clone(),
                options: GenerationOptions {
                    temperature: Some(0.0),
                    num_ctx: None,
                    num_predict: Some(NUM_PREDICT),
                    seed: Some(SEED),
                },
            };
            let body = json!({
                "model": config.answer.model,
                "messages": p.messages,
                "stream": true,
                "temperature": 0.0,
                "max_tokens": NUM_PREDICT,
                "seed": SEED,
                "stream_options": {"include_usage": true},
            });
            let (mut run_ours, mut run_client, mut run_theirs) =
                (Run::default(), Run::default(), Run::default());
            for turn in 0..3 {
                flushes += 1;
                flush(&http, &server.url, flushes).await;
                match (turn + rep + qi) % 3 {
                    0 => run_theirs = direct(&http, &server.url, &body).await,
                    1 => run_client = via_client(&client, request.clone()).await,
                    _ => {
                        let started = Instant::now();
                        let mut events = assistant.ask_stream(question, AskOptions::default());
                        let mut times = Vec::new();
                        let mut first_e2e = None;
                        while let Some(event) = events.next().await {
                            match event.expect("ask") {
                                AskEvent::Token { .. } => {
                                    first_e2e.get_or_insert(started.elapsed().as_secs_f64());
                                    times.push(Instant::now());
                                }
                                AskEvent::Done { answer } => {
                                    let t = &answer.timings;
                                    retrieval.push(t.retrieval_seconds.unwrap_or(f64::NAN));
                                    build.push(t.prompt_build_seconds.unwrap_or(f64::NAN));
                                    e2e_ttft.push(first_e2e.unwrap_or(f64::NAN));
                                    prompt_tokens.push(t.prompt_tokens.unwrap_or(0) as f64);
                                    run_ours = Run {
                                        ttft: t.first_token_seconds.unwrap_or(f64::NAN),
                                        client_tps: client_tps(&times),
                                        server_tps: t.tokens_per_second.unwrap_or(f64::NAN),
                                        tokens: times.len(),
                                        text: answer.answer.clone(),
                                    };
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
            if run_ours.text.trim() == run_theirs.text.trim() {
                same_text += 1;
            }
            println!(
                "rep {rep} q{qi}: ttft ask_stream {:.3}s / client {:.3}s / direct {:.3}s; tok/s {:.1} / {:.1} / {:.1}",
                run_ours.ttft, run_client.ttft, run_theirs.ttft,
                run_ours.client_tps, run_client.client_tps, run_theirs.client_tps
            );
            ours.push(run_ours);
            client_runs.push(run_client);
            theirs.push(run_theirs);
        }
    }

    let n = ours.len();
    let m = |runs: &[Run], f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let (ttft_o, ttft_c, ttft_d) = (
        m(&ours, |r| r.ttft),
        m(&client_runs, |r| r.ttft),
        m(&theirs, |r| r.ttft),
    );
    let (tps_o, tps_c, tps_d) = (
        m(&ours, |r| r.client_tps),
        m(&client_runs, |r| r.client_tps),
        m(&theirs, |r| r.client_tps),
    );
    let (stps_o, stps_d) = (m(&ours, |r| r.server_tps), m(&theirs, |r| r.server_tps));
    let pct = |a: f64, b: f64| (a / b - 1.0) * 100.0;
    println!("\n== {n} questions per path, medians (SmolLM2-135M Q4_1, llama-server -t 1, prompt cache {}) ==",
        if cached { "on" } else { "off" });
    println!("prompt tokens (server count): {:.0}", median(prompt_tokens));
    println!("time to first token from sending the request: ask_stream {:.1} ms ({:+.1}%), OpenAiClient {:.1} ms ({:+.1}%), direct {:.1} ms",
        ttft_o * 1e3, pct(ttft_o, ttft_d), ttft_c * 1e3, pct(ttft_c, ttft_d), ttft_d * 1e3);
    println!(
        "time to first token from calling ask_stream (retrieval + prompt included): {:.1} ms",
        median(e2e_ttft) * 1e3
    );
    println!("tokens/s received: ask_stream {tps_o:.1} ({:+.1}%), OpenAiClient {tps_c:.1} ({:+.1}%), direct {tps_d:.1}",
        pct(tps_o, tps_d), pct(tps_c, tps_d));
    println!("tokens/s reported by the server: ask_stream {stps_o:.1}, direct {stps_d:.1}");
    println!(
        "retrieval (embed question + search): median {:.1} ms",
        median(retrieval) * 1e3
    );
    println!(
        "prompt building (fit + format, window cached): median {:.2} ms",
        median(build) * 1e3
    );
    println!("identical answers through ask_stream and direct: {same_text}/{n}");
    drop(server);
}
