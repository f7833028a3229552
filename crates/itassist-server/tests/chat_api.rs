//! Conversations and the OpenAI-compatible API over a real socket: `/conversations`, `/v1`
//! with Bearer API keys and Basic, OpenAI's error shape, and answers from a real llama-server
//! (SmolLM2-135M, `bash scripts/provision-llama.sh`) over real corpus files.

mod support;

#[path = "../../itassist/tests/support/llama_server.rs"]
mod llama_server;

use std::path::PathBuf;
use std::sync::Arc;

use itassist::{Assistant, Backend, Config};
use itassist_server::{hash_password, router, serve_listener, ApiKeys, ServerConfig, Users};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{closed_port_url, corpus, model_dir};

const USER: &str = "alice";
const PASSWORD: &str = "pw for the chat tests";
const KEY: &str = "itk-0123456789abcdef0123456789abcdef";

struct Server {
    url: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A server over a fresh index holding `docs`, answering with the model server at
    /// `model_url` (OpenAI-compatible).
    async fn start(model_url: String, docs: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data")).with_model_dir(model_dir());
        config.answer.base_url = model_url;
        config.answer.backend = Backend::OpenAi;
        config.answer.retries = 0;
        config.answer.model = "SmolLM2-135M-Instruct".into();
        config.answer.temperature = Some(0.0);
        config.answer.seed = Some(42);
        config.answer.num_predict = Some(48);
        config.answer.generation_timeout_secs = 300.0;
        let paths: Vec<PathBuf> = docs.iter().map(|d| corpus(d)).collect();
        let assistant = tokio::task::spawn_blocking(move || {
            let a = Assistant::open(config).expect("open (set ORT_DYLIB_PATH, ITASSIST_MODEL_DIR)");
            if !paths.is_empty() {
                let report = a.ingest(&paths).expect("ingest");
                assert_eq!(report.totals.failed, 0);
            }
            a
        })
        .await
        .unwrap();
        let hash = hash_password(PASSWORD).unwrap();
        let mut server = ServerConfig::new(Users::parse(&format!("{USER}:{hash}")).unwrap());
        server.api_keys = ApiKeys::from_keys([("tests", KEY)]);
        let app = router(Arc::new(assistant), &server);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = serve_listener(listener, app, std::future::pending()).await;
        });
        Server {
            url,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    fn bearer(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(KEY)
    }

    fn basic(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .basic_auth(USER, Some(PASSWORD))
    }
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
    (status, body)
}

use reqwest::Method;

#[tokio::test]
async fn conversations_are_created_listed_shown_and_deleted() {
    let s = Server::start(closed_port_url(), &[]).await;
    let (status, created) = send(
        s.basic(Method::POST, "/conversations")
            .json(&json!({"title": "Printers"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["title"], "Printers");
    // An empty body is fine too.
    let (status, _) = send(s.bearer(Method::POST, "/conversations")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, list) = send(s.basic(Method::GET, "/conversations")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["conversations"].as_array().unwrap().len(), 2);
    let (status, shown) = send(s.basic(Method::GET, &format!("/conversations/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["turns"], json!([]));
    let (status, deleted) = send(s.basic(Method::DELETE, &format!("/conversations/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["deleted"]["id"], id);
    for (method, path) in [
        (Method::GET, format!("/conversations/{id}")),
        (Method::DELETE, format!("/conversations/{id}")),
    ] {
        let (status, body) = send(s.basic(method, &path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "conversation_not_found");
    }
    let (status, body) = send(
        s.basic(Method::POST, &format!("/conversations/{id}/ask"))
            .json(&json!({"question": "hello?"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = send(s.basic(Method::GET, "/conversations/x1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_input");
}

#[tokio::test]
async fn v1_takes_bearer_keys_and_basic_and_answers_errors_in_openai_shape() {
    let s = Server::start(closed_port_url(), &[]).await;
    for request in [
        s.bearer(Method::GET, "/v1/models"),
        s.basic(Method::GET, "/v1/models"),
    ] {
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["object"], "list");
        // The model server is down: the configured model is still listed.
        assert_eq!(body["data"][0]["id"], "itassist-docs/SmolLM2-135M-Instruct");
    }
    let (status, body) = send(
        s.client
            .get(format!("{}/v1/models", s.url))
            .bearer_auth("itk-wrong"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["type"], "authentication_error");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(body["error"].get("param").is_some());
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--new-api-key"));
    // A wrong key is refused on the other endpoints too, and the right one accepted.
    let (status, _) = send(
        s.client
            .get(format!("{}/documents", s.url))
            .bearer_auth("itk-x"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(s.bearer(Method::GET, "/documents")).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = send(s.bearer(Method::POST, "/v1/chat/completions").json(
        &json!({"model": "itassist-docs/x", "messages": [{"role": "assistant", "content": "hi"}]}),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_input");
    let (status, body) = send(
        s.bearer(Method::POST, "/v1/chat/completions")
            .json(&json!({"messages": [{"role": "user", "content": "hi"}], "temperature": 5})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("temperature"));
    let (status, body) = send(
        s.bearer(Method::POST, "/v1/chat/completions")
            .json(&json!({"messages": [{"role": "user", "content": "How do I copy files?"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "ollama_unreachable");
    assert_eq!(body["error"]["type"], "server_error");
}

/// The `data:` payloads of an SSE body.
fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|block| {
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:").map(str::trim_start))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_conversations_answer_from_the_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let llama = llama_server::LlamaServer::start(tmp.path());
    let s = Server::start(
        llama.url.clone(),
        &[
            "debdocs/man/openssh/scp.1",
            "debdocs/man/openssh/ssh-keygen.1",
            "debdocs/html/apt-guide/ch2.html",
        ],
    )
    .await;

    // Not streamed: content with the sources list, usage, structured sources.
    let (status, body) = send(s.bearer(Method::POST, "/v1/chat/completions").json(&json!({
        "model": "itassist-docs/SmolLM2-135M-Instruct",
        "messages": [{"role": "user", "content": "How do I copy a file to another host with scp?"}],
        "max_tokens": 40,
        "temperature": 0,
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}\n{}", llama.log_tail());
    assert_eq!(body["object"], "chat.completion");
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.contains("\n\n---\nSources:\n["), "{content}");
    assert!(content.contains("scp.1"), "{content}");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(body["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["sources"][0]["name"], "scp.1");
    let first_answer = content.to_string();

    // A follow-up, with the first answer (and its sources list) sent back as history.
    let (status, body) = send(s.bearer(Method::POST, "/v1/chat/completions").json(&json!({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "How do I copy a file to another host with scp?"},
            {"role": "assistant", "content": first_answer},
            {"role": "user", "content": [{"type": "text", "text": "And how do I copy a whole directory?"}]},
        ],
        "max_tokens": 40,
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["itassist"]["history_turns"], 1);
    assert!(body["itassist"]["searched_query"]
        .as_str()
        .unwrap()
        .contains("scp"));
    assert_eq!(body["sources"][0]["name"], "scp.1");

    // Streamed: chunks, the sources as the last content, finish_reason, usage, [DONE].
    let response = s
        .bearer(Method::POST, "/v1/chat/completions")
        .json(&json!({
            "messages": [{"role": "user", "content": "How do I generate a new SSH key pair?"}],
            "stream": true,
            "max_tokens": 32,
            "stream_options": {"include_usage": true},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let data = sse_data(&response.text().await.unwrap());
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text.contains("Sources:"), "{text}");
    let finished = chunks
        .iter()
        .find(|c| c["choices"][0]["finish_reason"].is_string())
        .expect("a chunk with finish_reason");
    assert!(finished["sources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "ssh-keygen.1"));
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    // A stored conversation: two turns, the second searched with the first.
    let (_, c) = send(s.basic(Method::POST, "/conversations")).await;
    let id = c["id"].as_u64().unwrap();
    for q in [
        "How do I copy a file to another host with scp?",
        "And how do I copy a whole directory recursively?",
    ] {
        let (status, body) = send(
            s.basic(Method::POST, &format!("/conversations/{id}/ask"))
                .json(&json!({"question": q, "top_k": 3})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["conversation_id"], id);
    }
    let (_, shown) = send(s.basic(Method::GET, &format!("/conversations/{id}"))).await;
    let turns = shown["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    assert!(turns[1]["searched_query"].as_str().unwrap().contains("scp"));
    assert_eq!(turns[1]["sources"][0]["name"], "scp.1");
    // Streamed in the conversation: the SSE events of /ask/stream, and a third stored turn.
    let response = s
        .basic(Method::POST, &format!("/conversations/{id}/ask/stream"))
        .json(&json!({"question": "Which option keeps the modification times?"}))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.contains("event: done"), "{text}");
    let (_, shown) = send(s.basic(Method::GET, &format!("/conversations/{id}"))).await;
    assert_eq!(shown["turns"].as_array().unwrap().len(), 3);
}
