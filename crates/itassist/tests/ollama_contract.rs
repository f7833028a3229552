//! Contract tests of the model-server clients against a real HTTP server on 127.0.0.1 that
//! replays the exact wire format of `shared/docs/ollama-api.md` (Ollama's native API) and the
//! OpenAI-compatible SSE format of llama-server: streamed and non-streamed chat, tags, show,
//! pull (with its error line), embed, version, and every error case.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use itassist::config::{AnswerConfig, Backend};
use itassist::ollama::{ChatEvent, ChatMessage, ChatRequest, GenerationOptions};
use itassist::prompt::TokenEstimator;
use itassist::{
    AskEvent, AskOptions, ChatBackend, Error, LlmAnswerer, OllamaClient, OpenAiClient, Passage,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---- the fake server ---------------------------------------------------------------------

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    body: Value,
}

/// What the server answers.
#[derive(Clone)]
enum Reply {
    /// Status + JSON (or any) body with Content-Length.
    Body(u16, &'static str, String),
    /// 200, chunked, one chunk per line after `delay` each.
    Lines(&'static str, Vec<String>, Duration),
    /// 200, chunked: send the lines, then keep the connection open until the client closes it
    /// (recorded in `closed`).
    LinesThenHang(&'static str, Vec<String>),
    /// 200, chunked: send the lines, then end the body properly.
    LinesThenEof(&'static str, Vec<String>),
}

type Handler = Arc<dyn Fn(&Req, usize) -> Reply + Send + Sync>;

struct Server {
    url: String,
    requests: Arc<Mutex<Vec<Req>>>,
    closed: Arc<AtomicBool>,
}

impl Server {
    async fn start(handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        let (reqs, cl) = (requests.clone(), closed.clone());
        tokio::spawn(async move {
            let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (handler, reqs, cl, counts) =
                    (handler.clone(), reqs.clone(), cl.clone(), counts.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, handler, reqs, cl, counts).await;
                });
            }
        });
        Server {
            url,
            requests,
            closed,
        }
    }

    fn hits(&self, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    fn last(&self, path: &str) -> Req {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|r| r.path == path)
            .cloned()
            .unwrap_or_else(|| panic!("no request to {path}"))
    }
}

async fn serve(
    mut socket: TcpStream,
    handler: Handler,
    reqs: Arc<Mutex<Vec<Req>>>,
    closed: Arc<AtomicBool>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = socket.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = serde_json::from_slice(&buf[header_end..]).unwrap_or(Value::Null);
    let req = Req {
        method,
        path: path.clone(),
        body,
    };
    reqs.lock().unwrap().push(req.clone());
    let attempt = {
        let mut c = counts.lock().unwrap();
        let n = c.entry(path).or_insert(0);
        *n += 1;
        *n
    };
    match handler(&req, attempt) {
        Reply::Body(status, ctype, body) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(body.as_bytes()).await?;
            socket.flush().await?;
        }
        Reply::Lines(ctype, lines, delay) => {
            start_chunked(&mut socket, ctype).await?;
            for line in lines {
                tokio::time::sleep(delay).await;
                chunk(&mut socket, &line).await?;
            }
            socket.write_all(b"0\r\n\r\n").await?;
        }
        Reply::LinesThenEof(ctype, lines) => {
            start_chunked(&mut socket, ctype).await?;
            for line in lines {
                chunk(&mut socket, &line).await?;
            }
            socket.write_all(b"0\r\n\r\n").await?;
        }
        Reply::LinesThenHang(ctype, lines) => {
            start_chunked(&mut socket, ctype).await?;
            for line in lines {
                chunk(&mut socket, &line).await?;
            }
            // Wait for the client to go away: read returns 0 (or fails) when it closes.
            loop {
                match socket.read(&mut tmp).await {
                    Ok(0) | Err(_) => {
                        closed.store(true, Ordering::SeqCst);
                        return Ok(());
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    socket.shutdown().await
}

async fn start_chunked(socket: &mut TcpStream, ctype: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await
}

async fn chunk(socket: &mut TcpStream, line: &str) -> std::io::Result<()> {
    let data = format!("{line}\n");
    socket
        .write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())
        .await?;
    socket.flush().await
}

// ---- wire-format fixtures (from ollama-api.md) -------------------------------------------

const NDJSON: &str = "application/x-ndjson";
const JSON: &str = "application/json";

fn token_line(text: &str) -> String {
    json!({"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00",
           "message":{"role":"assistant","content":text},"done":false})
    .to_string()
}

fn final_line() -> String {
    r#"{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}"#.to_string()
}

fn chat_lines(tokens: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = tokens.iter().map(|t| token_line(t)).collect();
    lines.push(final_line());
    lines
}

const NON_STREAMED: &str = r#"{
  "model": "llama3.2",
  "created_at": "2023-12-12T14:13:43.416799Z",
  "message": {"role": "assistant", "content": "Hello! How are you today?"},
  "done": true,
  "done_reason": "stop",
  "total_duration": 5191566416,
  "load_duration": 2154458,
  "prompt_eval_count": 26,
  "prompt_eval_duration": 383809000,
  "eval_count": 298,
  "eval_duration": 4799921000
}"#;

const TAGS: &str = r#"{
  "models": [
    {
      "name": "llama3.2:latest",
      "model": "llama3.2:latest",
      "modified_at": "2025-05-04T17:37:44.706015396-07:00",
      "size": 2019393189,
      "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
      "details": {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M"
      }
    }
  ]
}"#;

const SHOW: &str = r##"{
  "license": "...",
  "modelfile": "# Modelfile generated by \"ollama show\"\nFROM ...",
  "parameters": "stop \"<|eot_id|>\"",
  "template": "{{ if .System }}...",
  "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
              "parameter_size": "8.0B", "quantization_level": "Q4_0"},
  "model_info": {"general.architecture": "llama", "general.parameter_count": 8030261248,
                 "llama.context_length": 8192, "llama.embedding_length": 4096},
  "capabilities": ["completion", "tools"],
  "modified_at": "2025-05-04T17:37:44.706015396-07:00"
}"##;

fn not_found(model: &str) -> Reply {
    Reply::Body(
        404,
        JSON,
        json!({"error": format!("model '{model}' not found")}).to_string(),
    )
}

fn config(url: &str) -> AnswerConfig {
    AnswerConfig {
        base_url: url.to_string(),
        model: "llama3.2".into(),
        connect_timeout_secs: 2.0,
        request_timeout_secs: 5.0,
        generation_timeout_secs: 10.0,
        retries: 3,
        retry_backoff_ms: 10,
        ..AnswerConfig::default()
    }
}

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![
            ChatMessage::system("Answer only from the context."),
            ChatMessage::user("Why is the sky blue?"),
        ],
        options: GenerationOptions {
            temperature: Some(0.0),
            num_ctx: Some(4096),
            num_predict: Some(128),
            seed: Some(42),
        },
    }
}

fn client(url: &str) -> OllamaClient {
    OllamaClient::new(&config(url)).unwrap()
}

async fn collect(
    mut s: itassist::ollama::ChatStream,
) -> (
    Vec<String>,
    Option<itassist::ollama::ChatStats>,
    Option<Error>,
) {
    let (mut tokens, mut done, mut err) = (Vec::new(), None, None);
    while let Some(item) = s.next().await {
        match item {
            Ok(ChatEvent::Token(t)) => tokens.push(t),
            Ok(ChatEvent::Done(stats)) => done = Some(stats),
            Err(e) => err = Some(e),
        }
    }
    (tokens, done, err)
}

// ---- native API ---------------------------------------------------------------------------

#[tokio::test]
async fn streamed_chat_yields_tokens_then_final_stats() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/api/chat" => Reply::Lines(
            NDJSON,
            chat_lines(&["The", " sky", " is", " blue"]),
            Duration::from_millis(5),
        ),
        _ => not_found("x"),
    })
    .await;
    let (tokens, done, err) = collect(client(&server.url).chat_stream(request("llama3.2"))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(tokens.concat(), "The sky is blue");
    let stats = done.expect("final line");
    assert_eq!(stats.model, "llama3.2");
    assert_eq!(stats.finish_reason.as_deref(), Some("stop"));
    assert_eq!(stats.prompt_tokens, Some(26));
    assert_eq!(stats.generated_tokens, Some(282));
    let tps = stats.tokens_per_second.unwrap();
    assert!((tps - 282.0 / 4.535599).abs() < 1e-6, "{tps}");
    assert!((stats.prompt_eval_seconds.unwrap() - 0.342546).abs() < 1e-9);

    let sent = server.last("/api/chat");
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.body["stream"], json!(true));
    assert_eq!(sent.body["model"], json!("llama3.2"));
    assert_eq!(
        sent.body["messages"][0],
        json!({"role":"system","content":"Answer only from the context."})
    );
    assert_eq!(
        sent.body["options"],
        json!({"temperature":0.0,"num_ctx":4096,"num_predict":128,"seed":42})
    );
}

#[tokio::test]
async fn non_streamed_chat() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/api/chat" => Reply::Body(200, JSON, NON_STREAMED.into()),
        _ => not_found("x"),
    })
    .await;
    let reply = client(&server.url).chat(request("llama3.2")).await.unwrap();
    assert_eq!(reply.content, "Hello! How are you today?");
    assert_eq!(reply.stats.generated_tokens, Some(298));
    assert_eq!(reply.stats.prompt_tokens, Some(26));
    assert_eq!(server.last("/api/chat").body["stream"], json!(false));
}

#[tokio::test]
async fn tags_show_embed_version_health() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/api/tags" => Reply::Body(200, JSON, TAGS.into()),
        "/api/show" => Reply::Body(200, JSON, SHOW.into()),
        "/api/version" => Reply::Body(200, JSON, r#"{"version": "0.5.1"}"#.into()),
        "/" => Reply::Body(200, "text/plain; charset=utf-8", "Ollama is running".into()),
        "/api/embed" => Reply::Body(200, JSON, r#"{
  "model": "all-minilm",
  "embeddings": [[0.010071029, -0.0017594862, 0.05007221], [-0.0098027075, 0.06042469, 0.025257962]],
  "total_duration": 14143917,
  "load_duration": 1019500,
  "prompt_eval_count": 8
}"#.into()),
        _ => not_found("x"),
    })
    .await;
    let c = client(&server.url);
    let models = c.tags().await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].name, "llama3.2:latest");
    assert_eq!(models[0].size, Some(2019393189));
    assert_eq!(models[0].family.as_deref(), Some("llama"));
    assert_eq!(models[0].parameter_size.as_deref(), Some("3.2B"));
    assert_eq!(models[0].quantization_level.as_deref(), Some("Q4_K_M"));
    assert_eq!(server.last("/api/tags").method, "GET");

    let show = c.show("llama3.2").await.unwrap();
    assert_eq!(show.context_length, Some(8192));
    assert_eq!(show.architecture.as_deref(), Some("llama"));
    assert_eq!(show.capabilities, ["completion", "tools"]);
    assert_eq!(server.last("/api/show").body["model"], json!("llama3.2"));
    assert_eq!(c.context_length("llama3.2").await.unwrap(), Some(8192));

    let vectors = c
        .embed(
            "all-minilm",
            &["Why is the sky blue?", "Why is the grass green?"],
        )
        .await
        .unwrap();
    assert_eq!(vectors.len(), 2);
    assert!((vectors[1][1] - 0.06042469).abs() < 1e-7);
    assert_eq!(
        server.last("/api/embed").body["input"][1],
        json!("Why is the grass green?")
    );

    assert_eq!(c.version().await.unwrap(), "0.5.1");
    c.health().await.unwrap();
}

#[tokio::test]
async fn empty_tags() {
    let server = Server::start(|_, _| Reply::Body(200, JSON, r#"{"models":[]}"#.into())).await;
    assert!(client(&server.url).tags().await.unwrap().is_empty());
}

#[tokio::test]
async fn pull_progress_and_error_line() {
    let server = Server::start(|req, _| {
        let lines: Vec<&str> = if req.body["model"] == json!("llama3.2") {
            vec![
                r#"{"status":"pulling manifest"}"#,
                r#"{"status":"pulling dde5aa3fc5ff","digest":"sha256:dde5aa3fc5ff","total":2019377376}"#,
                r#"{"status":"pulling dde5aa3fc5ff","digest":"sha256:dde5aa3fc5ff","total":2019377376,"completed":241970}"#,
                r#"{"status":"verifying sha256 digest"}"#,
                r#"{"status":"writing manifest"}"#,
                r#"{"status":"removing any unused layers"}"#,
                r#"{"status":"success"}"#,
            ]
        } else {
            vec![
                r#"{"status":"pulling manifest"}"#,
                r#"{"error":"pull model manifest: file does not exist"}"#,
            ]
        };
        Reply::LinesThenEof(NDJSON, lines.into_iter().map(String::from).collect())
    })
    .await;
    let c = client(&server.url);
    let progress: Vec<_> = c.pull("llama3.2").collect().await;
    let progress: Vec<_> = progress.into_iter().map(|p| p.unwrap()).collect();
    assert_eq!(progress.len(), 7);
    assert_eq!(progress[1].total, Some(2019377376));
    assert_eq!(progress[1].completed, None);
    assert_eq!(progress[2].completed, Some(241970));
    assert_eq!(progress.last().unwrap().status, "success");
    let sent = server.last("/api/pull");
    assert_eq!(sent.body, json!({"model":"llama3.2","stream":true}));

    let items: Vec<_> = c.pull("nosuch").collect().await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().status, "pulling manifest");
    let err = items[1].as_ref().unwrap_err();
    assert_eq!(err.code(), "ollama_error");
    assert!(err.to_string().contains("file does not exist"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_unreachable_with_url_and_hint() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("127.0.0.1:{port}"); // host:port without a scheme, as OLLAMA_HOST allows
    let c = client(&url);
    for err in [
        c.version().await.unwrap_err(),
        collect(c.chat_stream(request("llama3.2"))).await.2.unwrap(),
        c.chat(request("llama3.2")).await.unwrap_err(),
    ] {
        assert_eq!(err.code(), "ollama_unreachable");
        let msg = err.to_string();
        assert!(msg.contains(&format!("http://127.0.0.1:{port}")), "{msg}");
        assert!(
            msg.contains("ollama serve") && msg.contains("docker compose up"),
            "{msg}"
        );
        assert!(msg.to_lowercase().contains("refused"), "{msg}");
    }
}

#[tokio::test]
async fn model_not_found_says_how_to_pull() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/api/show" => not_found("nosuch"),
        "/api/chat" => Reply::Body(
            404,
            JSON,
            r#"{"error":"model \"nosuch\" not found, try pulling it first"}"#.into(),
        ),
        _ => not_found("x"),
    })
    .await;
    let c = client(&server.url);
    for err in [
        c.show("nosuch").await.unwrap_err(),
        c.chat(request("nosuch")).await.unwrap_err(),
        collect(c.chat_stream(request("nosuch"))).await.2.unwrap(),
    ] {
        assert_eq!(err.code(), "model_not_found");
        assert!(err.to_string().contains("ollama pull nosuch"), "{err}");
    }
    // 404 is not retried.
    assert_eq!(server.hits("/api/chat"), 2);
}

#[tokio::test]
async fn mid_stream_error_line_is_an_error_not_a_truncated_answer() {
    let server = Server::start(|_, _| {
        Reply::LinesThenEof(
            NDJSON,
            vec![
                token_line("The"),
                token_line(" sky"),
                r#"{"error":"an error was encountered while running the model"}"#.into(),
            ],
        )
    })
    .await;
    let (tokens, done, err) = collect(client(&server.url).chat_stream(request("llama3.2"))).await;
    assert_eq!(tokens.len(), 2);
    assert!(done.is_none());
    let err = err.expect("an error");
    assert_eq!(err.code(), "ollama_error");
    assert!(
        err.to_string()
            .contains("an error was encountered while running the model"),
        "{err}"
    );
    assert!(err.to_string().contains("discarded"), "{err}");
}

#[tokio::test]
async fn stream_closed_before_final_line_is_an_error() {
    let server = Server::start(|_, _| {
        Reply::LinesThenEof(NDJSON, vec![token_line("The"), token_line(" sky")])
    })
    .await;
    let (tokens, done, err) = collect(client(&server.url).chat_stream(request("llama3.2"))).await;
    assert_eq!(tokens.len(), 2);
    assert!(done.is_none());
    assert_eq!(err.expect("an error").code(), "ollama_error");
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_reported() {
    // 503 twice (queue full), then success.
    let server = Server::start(|req, attempt| match (req.path.as_str(), attempt) {
        ("/api/chat", 1 | 2) => Reply::Body(
            503,
            JSON,
            r#"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#
                .into(),
        ),
        ("/api/chat", _) => Reply::Lines(NDJSON, chat_lines(&["ok"]), Duration::ZERO),
        _ => Reply::Body(
            500,
            JSON,
            r#"{"error":"llama runner process has terminated"}"#.into(),
        ),
    })
    .await;
    let c = client(&server.url);
    let t = Instant::now();
    let (tokens, done, err) = collect(c.chat_stream(request("llama3.2"))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(tokens.concat(), "ok");
    assert!(done.is_some());
    assert_eq!(server.hits("/api/chat"), 3);
    assert!(
        t.elapsed() >= Duration::from_millis(30),
        "backoff 10 ms then 20 ms"
    );

    // 500 forever: 1 + 3 retries, then the error with its status and message.
    let err = c.version().await.unwrap_err();
    assert_eq!(server.hits("/api/version"), 4);
    assert_eq!(err.code(), "ollama_error");
    assert!(matches!(
        err,
        Error::Ollama {
            status: Some(500),
            ..
        }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("llama runner process has terminated") && msg.contains("after 4 attempts"),
        "{msg}"
    );
}

#[tokio::test]
async fn generation_timeout() {
    let server = Server::start(|_, _| Reply::LinesThenHang(NDJSON, vec![token_line("The")])).await;
    let mut cfg = config(&server.url);
    cfg.generation_timeout_secs = 0.5;
    let c = OllamaClient::new(&cfg).unwrap();
    let t = Instant::now();
    let (tokens, done, err) = collect(c.chat_stream(request("llama3.2"))).await;
    assert_eq!(tokens, ["The"]);
    assert!(done.is_none());
    let err = err.expect("timeout");
    assert_eq!(err.code(), "timeout");
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_request() {
    let server = Server::start(|_, _| {
        Reply::LinesThenHang(NDJSON, vec![token_line("The"), token_line(" sky")])
    })
    .await;
    let mut stream = client(&server.url).chat_stream(request("llama3.2"));
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first, ChatEvent::Token("The".into()));
    assert!(!server.closed.load(Ordering::SeqCst));
    drop(stream);
    let t = Instant::now();
    while !server.closed.load(Ordering::SeqCst) {
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "the server never saw the connection close"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn native_client_on_an_openai_only_server_says_which_backend_to_use() {
    // llama-server answers every /api/* path like this.
    let server = Server::start(|_, _| {
        Reply::Body(
            404,
            JSON,
            r#"{"error":{"message":"File Not Found","type":"not_found_error","code":404}}"#.into(),
        )
    })
    .await;
    let err = client(&server.url).show("llama3.2").await.unwrap_err();
    assert_eq!(err.code(), "ollama_error");
    assert!(err.to_string().contains("backend = openai"), "{err}");
}

// ---- the answerer over the native API ------------------------------------------------------

fn passage(rank: usize, text: &str) -> Passage {
    Passage {
        chunk_id: rank as u32,
        document_id: 7,
        source: "/docs/apt-guide.pdf".into(),
        name: "apt-guide.pdf".into(),
        title: None,
        page: Some(rank as u32 + 10),
        section: None,
        text: text.into(),
        score: 1.0 - rank as f32 / 10.0,
        span: (0, text.len()),
    }
}

fn answer_server(
    answer_tokens: &'static [&'static str],
) -> impl Fn(&Req, usize) -> Reply + Send + Sync + 'static {
    move |req, _| match req.path.as_str() {
        "/api/show" => Reply::Body(200, JSON, SHOW.into()),
        "/api/chat" => Reply::Lines(NDJSON, chat_lines(answer_tokens), Duration::from_millis(2)),
        _ => not_found("x"),
    }
}

#[tokio::test]
async fn answerer_fits_passages_prompts_with_numbered_sources_and_finds_citations() {
    let server = Server::start(answer_server(&[
        "Run ",
        "`apt-get update` [2]",
        " then install [1].",
    ]))
    .await;
    let cfg = config(&server.url);
    let answerer = Arc::new(LlmAnswerer::from_config(&cfg, TokenEstimator::chars()).unwrap());
    let passages: Vec<Passage> = (0..3)
        .map(|i| passage(i, &format!("passage number {i} about apt")))
        .collect();

    // Streamed: Sources, tokens, Done.
    let options = AskOptions {
        temperature: Some(0.1),
        seed: Some(7),
        ..AskOptions::default()
    };
    let events: Vec<_> = answerer
        .stream(
            "How do I install a package?".into(),
            passages.clone(),
            options,
        )
        .collect()
        .await;
    let events: Vec<AskEvent> = events.into_iter().map(|e| e.unwrap()).collect();
    assert!(
        matches!(&events[0], AskEvent::Sources { sources, dropped_passages: 0 } if sources.len() == 3)
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, AskEvent::Token { .. }))
            .count(),
        3
    );
    let AskEvent::Done { answer } = events.last().unwrap() else {
        panic!("no Done")
    };
    assert_eq!(answer.answer, "Run `apt-get update` [2] then install [1].");
    assert_eq!(answer.cited, vec![1, 2]);
    assert_eq!(answer.sources.len(), 3);
    assert_eq!(answer.model, "llama3.2");
    assert_eq!(answer.timings.prompt_tokens, Some(26));
    assert_eq!(answer.timings.generated_tokens, Some(282));
    assert!(answer.timings.tokens_per_second.is_some());
    assert!(answer.timings.first_token_seconds.is_some());
    assert_eq!(answer.context_window, Some(8192));
    assert_eq!(
        answer
            .cited_sources()
            .map(|(_, p)| p.page)
            .collect::<Vec<_>>(),
        [Some(10), Some(11)]
    );

    let sent = server.last("/api/chat").body;
    // The learned window is sent as num_ctx so Ollama never truncates silently.
    assert_eq!(sent["options"]["num_ctx"], json!(8192));
    assert_eq!(sent["options"]["num_predict"], json!(512));
    assert_eq!(sent["options"]["seed"], json!(7));
    assert!((sent["options"]["temperature"].as_f64().unwrap() - 0.1).abs() < 1e-6);
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("only the numbered sources")
            && system.contains("[1]")
            && system.contains("do not contain the answer")
    );
    let user = sent["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("[1] apt-guide.pdf, page 10\npassage number 0 about apt"),
        "{user}"
    );
    assert!(user.contains("[3] apt-guide.pdf, page 12"), "{user}");
    assert!(
        user.ends_with("Question: How do I install a package?"),
        "{user}"
    );
    // /api/show is asked once per model.
    use itassist::Answerer;
    answerer
        .answer("again?", passages, &AskOptions::default())
        .await
        .unwrap();
    assert_eq!(server.hits("/api/show"), 1);
}

#[tokio::test]
async fn answerer_drops_lowest_ranked_whole_passages_to_fit_num_ctx() {
    let server = Server::start(answer_server(&["ok [1]"])).await;
    let answerer = LlmAnswerer::from_config(&config(&server.url), TokenEstimator::chars()).unwrap();
    // Each passage ~ 1500 chars = 500 estimated tokens; window 2048 - 256 for the answer.
    let passages: Vec<Passage> = (0..5)
        .map(|i| passage(i, &format!("p{i} {}", "word ".repeat(300))))
        .collect();
    let options = AskOptions {
        num_ctx: Some(2048),
        num_predict: Some(256),
        ..AskOptions::default()
    };
    use itassist::Answerer;
    let answer = answerer.answer("q?", passages, &options).await.unwrap();
    assert_eq!(answer.sources.len(), 3);
    assert_eq!(answer.dropped_passages, 2);
    assert_eq!(
        answer
            .sources
            .iter()
            .map(|p| p.chunk_id)
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let sent = server.last("/api/chat").body;
    assert_eq!(sent["options"]["num_ctx"], json!(2048));
    let user = sent["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("[3] ") && !user.contains("[4] "));
    assert!(
        user.contains(&format!("p2 {}", "word ".repeat(300).trim())),
        "never cut mid-way"
    );
    assert_eq!(server.hits("/api/show"), 0, "num_ctx given: no need to ask");

    // Nothing fits: a clear error, not a silently truncated prompt.
    let big = vec![passage(0, &"word ".repeat(3000))];
    let err = answerer.answer("q?", big, &options).await.unwrap_err();
    assert_eq!(err.code(), "context_overflow");
}

#[tokio::test]
async fn answerer_without_context_asks_directly_and_errors_propagate() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/api/show" if req.body["model"] == json!("nosuch") => not_found("nosuch"),
        "/api/show" => Reply::Body(200, JSON, SHOW.into()),
        _ => Reply::LinesThenEof(
            NDJSON,
            vec![
                token_line("Blue"),
                r#"{"error":"an error was encountered while running the model"}"#.into(),
            ],
        ),
    })
    .await;
    let answerer = LlmAnswerer::from_config(&config(&server.url), TokenEstimator::chars()).unwrap();
    use itassist::Answerer;
    let options = AskOptions {
        no_context: true,
        ..AskOptions::default()
    };
    let err = answerer
        .answer("Why is the sky blue?", vec![passage(0, "x")], &options)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        "ollama_error",
        "a mid-stream error never becomes a partial answer"
    );
    let sent = server.last("/api/chat").body;
    assert_eq!(
        sent["messages"],
        json!([{"role":"user","content":"Why is the sky blue?"}])
    );

    let options = AskOptions {
        model: Some("nosuch".into()),
        ..AskOptions::default()
    };
    let err = answerer.answer("q?", vec![], &options).await.unwrap_err();
    assert_eq!(err.code(), "model_not_found");
    assert!(err.to_string().contains("ollama pull nosuch"));
}

// ---- OpenAI-compatible backend ---------------------------------------------------------------

fn sse(chunks: &[Value]) -> Vec<String> {
    let mut lines = Vec::new();
    for c in chunks {
        lines.push(format!("data: {c}"));
        lines.push(String::new());
    }
    lines.push("data: [DONE]".into());
    lines.push(String::new());
    lines
}

fn delta(text: &str) -> Value {
    json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"smollm2",
           "choices":[{"index":0,"delta":{"content":text},"finish_reason":null}]})
}

#[tokio::test]
async fn openai_backend_streams_sse_with_usage_and_llama_timings() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/v1/chat/completions" => Reply::Lines("text/event-stream", sse(&[
            json!({"choices":[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}],"model":"smollm2"}),
            delta("Use"), delta(" apt [1]"),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"model":"smollm2",
                   "timings":{"prompt_n":120,"prompt_ms":300.0,"predicted_n":3,"predicted_ms":40.0,"predicted_per_second":75.0}}),
            json!({"choices":[],"model":"smollm2","usage":{"prompt_tokens":120,"completion_tokens":3,"total_tokens":123}}),
        ]), Duration::from_millis(2)),
        "/props" => Reply::Body(200, JSON, r#"{"default_generation_settings":{"n_ctx":4096},"total_slots":1}"#.into()),
        "/v1/models" => Reply::Body(200, JSON, r#"{"object":"list","data":[{"id":"smollm2","object":"model","owned_by":"llamacpp"}]}"#.into()),
        "/health" => Reply::Body(200, JSON, r#"{"status":"ok"}"#.into()),
        _ => Reply::Body(404, JSON, r#"{"error":{"message":"File Not Found","type":"not_found_error","code":404}}"#.into()),
    })
    .await;
    let mut cfg = config(&format!("{}/v1", server.url));
    cfg.backend = Backend::OpenAi;
    let c = OpenAiClient::new(&cfg).unwrap();
    let (tokens, done, err) = collect(c.chat_stream(request("smollm2"))).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(tokens.concat(), "Use apt [1]");
    let stats = done.unwrap();
    assert_eq!(stats.finish_reason.as_deref(), Some("stop"));
    assert_eq!(stats.prompt_tokens, Some(120));
    assert_eq!(stats.generated_tokens, Some(3));
    assert_eq!(stats.tokens_per_second, Some(75.0));
    let sent = server.last("/v1/chat/completions").body;
    assert_eq!(sent["stream"], json!(true));
    assert_eq!(sent["max_tokens"], json!(128));
    assert_eq!(sent["seed"], json!(42));
    assert_eq!(sent["temperature"], json!(0.0));
    assert!(sent.get("options").is_none());

    assert_eq!(c.server_context_window().await.unwrap(), Some(4096));
    assert_eq!(c.list_models().await.unwrap()[0].name, "smollm2");
    c.health().await.unwrap();

    // Through the answerer: the window comes from /props, num_ctx is not sent.
    let answerer = LlmAnswerer::new(Arc::new(c), cfg, TokenEstimator::chars());
    use itassist::Answerer;
    let answer = answerer
        .answer(
            "How?",
            vec![passage(0, "apt install")],
            &AskOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(answer.context_window, Some(4096));
    assert_eq!(answer.cited, vec![1]);
    assert_eq!(answer.timings.generated_tokens, Some(3));
}

#[tokio::test]
async fn openai_backend_non_streamed_and_errors() {
    let server = Server::start(|req, attempt| match (req.path.as_str(), req.body["model"].as_str()) {
        ("/v1/chat/completions", Some("busy")) if attempt <= 1 => Reply::Body(503, JSON, r#"{"error":{"message":"Loading model","type":"unavailable_error","code":503}}"#.into()),
        ("/v1/chat/completions", Some("nosuch")) => Reply::Body(404, JSON, r#"{"error":{"message":"model \"nosuch\" not found, try pulling it first","type":"api_error","param":null,"code":null}}"#.into()),
        ("/v1/chat/completions", Some("broken")) => Reply::LinesThenEof("text/event-stream", vec![
            format!("data: {}", delta("Hal")), String::new(),
            r#"data: {"error":{"code":500,"message":"the model crashed","type":"server_error"}}"#.into(), String::new(),
        ]),
        ("/v1/chat/completions", _) => Reply::Body(200, JSON, json!({
            "choices":[{"index":0,"message":{"role":"assistant","content":"Use apt."},"finish_reason":"stop"}],
            "model":"smollm2","usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}}).to_string()),
        _ => Reply::Body(404, JSON, "{}".into()),
    })
    .await;
    let mut cfg = config(&server.url);
    cfg.backend = Backend::OpenAi;
    let c = OpenAiClient::new(&cfg).unwrap();
    let reply = c.chat(request("busy")).await.unwrap();
    assert_eq!(reply.content, "Use apt.");
    assert_eq!(reply.stats.generated_tokens, Some(4));
    assert_eq!(server.hits("/v1/chat/completions"), 2, "503 retried once");
    assert_eq!(
        server.last("/v1/chat/completions").body["stream"],
        json!(false)
    );

    let err = c.chat(request("nosuch")).await.unwrap_err();
    assert_eq!(err.code(), "model_not_found");

    let (tokens, done, err) = collect(c.chat_stream(request("broken"))).await;
    assert_eq!(tokens, ["Hal"]);
    assert!(done.is_none());
    let err = err.unwrap();
    assert_eq!(err.code(), "ollama_error");
    assert!(err.to_string().contains("the model crashed"));
}
