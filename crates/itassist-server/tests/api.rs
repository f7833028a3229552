//! The HTTP API over a real socket: every endpoint, status code and error case, with real
//! corpus files and the real embedding model.
//!
//! Needs `ORT_DYLIB_PATH` and `ITASSIST_MODEL_DIR` (the default cache locations are tried).

mod support;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use itassist::{Assistant, Config};
use itassist_server::{hash_password, router, serve_listener, ServerConfig, Users};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{closed_port_url, corpus, model_dir};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

/// Bytes of an executable: not a document format.
fn binary() -> Vec<u8> {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00".to_vec();
    bytes.extend((0u32..2048).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    bytes
}

fn users() -> Users {
    static HASH: OnceLock<String> = OnceLock::new();
    let hash = HASH.get_or_init(|| hash_password(PASSWORD).expect("hash"));
    Users::parse(&format!("{USER}:{hash}")).expect("users")
}

struct TestServer {
    url: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    async fn start(max_upload: usize, cors: Vec<String>) -> TestServer {
        Self::start_with(max_upload, cors, closed_port_url(), None, |_| {}).await
    }

    async fn start_with(
        max_upload: usize,
        cors: Vec<String>,
        model_url: String,
        backend: Option<itassist::Backend>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::new(dir.path().join("data")).with_model_dir(model_dir());
        config.answer.base_url = model_url;
        config.answer.retries = 0;
        if let Some(b) = backend {
            config.answer.backend = b;
        }
        let assistant = tokio::task::spawn_blocking(move || Assistant::open(config))
            .await
            .expect("join")
            .expect("open the assistant (set ORT_DYLIB_PATH and ITASSIST_MODEL_DIR)");
        let mut server = ServerConfig::new(users());
        server.max_upload_bytes = max_upload;
        server.cors_origins = cors;
        configure(&mut server);
        server.validate().expect("valid server config");
        let app = router(Arc::new(assistant), &server);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve_listener(listener, app, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        TestServer {
            url,
            client: reqwest::Client::new(),
            _dir: dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.url))
            .basic_auth(USER, Some(PASSWORD))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.url))
            .basic_auth(USER, Some(PASSWORD))
    }

    fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .delete(format!("{}{path}", self.url))
            .basic_auth(USER, Some(PASSWORD))
    }

    async fn upload(&self, files: &[(&str, Vec<u8>)]) -> (StatusCode, Value) {
        let mut form = Form::new();
        for (name, bytes) in files {
            form = form.part(
                "files",
                Part::bytes(bytes.clone()).file_name(name.to_string()),
            );
        }
        let response = self
            .post("/upload/?wait=true")
            .multipart(form)
            .send()
            .await
            .expect("send");
        let status = response.status();
        (status, response.json().await.expect("json body"))
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("graceful shutdown in time")
                .expect("server task");
        }
    }
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.expect("JSON body");
    (status, body)
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "message in {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_health_openapi_page_and_routing() {
    let server = TestServer::start(1 << 20, vec![]).await;

    // /health needs no auth and reports the model server down.
    let (status, health) = json_of(
        server
            .client
            .get(format!("{}/health", server.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["index"]["documents"], 0);
    assert_eq!(health["model_server"]["reachable"], false);
    assert_eq!(
        health["model_server"]["error"]["code"],
        "ollama_unreachable"
    );

    // Missing credentials: 401 with WWW-Authenticate, on every protected endpoint.
    for path in ["/documents", "/models", "/openapi.json", "/"] {
        let response = server
            .client
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.starts_with("Basic realm=\"itassist\""),
            "{challenge}"
        );
        let (_, body) = json_of(response).await;
        assert_error(&body, "unauthorized");
    }
    for (path, method) in [
        ("/search", "POST"),
        ("/ask/", "POST"),
        ("/upload/", "POST"),
        ("/documents/1", "DELETE"),
    ] {
        let request = server
            .client
            .request(method.parse().unwrap(), format!("{}{path}", server.url))
            .body("{}");
        assert_eq!(
            request.send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    // Wrong password, unknown user, malformed header.
    let wrong = server
        .client
        .get(format!("{}/documents", server.url))
        .basic_auth(USER, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().contains_key("www-authenticate"));
    assert_error(&wrong.json::<Value>().await.unwrap(), "unauthorized");
    let unknown = server
        .client
        .get(format!("{}/documents", server.url))
        .basic_auth("mallory", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let garbage = server
        .client
        .get(format!("{}/documents", server.url))
        .header("Authorization", "Basic ###")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);

    // The right password, twice (the second takes the cached path).
    for _ in 0..2 {
        let (status, docs) = json_of(server.get("/documents").send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(docs["documents"], json!([]));
    }

    // OpenAPI describes every endpoint.
    let (status, spec) = json_of(server.get("/openapi.json").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/upload/",
        "/ask/",
        "/ask/stream",
        "/search",
        "/documents",
        "/documents/{id}",
        "/models",
        "/health",
        "/openapi.json",
        "/jobs",
        "/jobs/{id}",
        "/jobs/{id}/events",
        "/jobs/events",
        "/reindex",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from openapi.json"
        );
    }

    // The web page.
    let page = server.get("/").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<title>itassist</title>"));

    // Unknown route and wrong method: JSON errors.
    let (status, body) = json_of(server.get("/nope").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    let (status, body) = json_of(server.get("/search").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body, "method_not_allowed");

    // CORS is off by default: no Access-Control headers.
    let response = server
        .get("/documents")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_configured_origins() {
    let server = TestServer::start(1 << 20, vec!["https://ok.example".into()]).await;
    let preflight = server
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/search", server.url))
        .header("Origin", "https://ok.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://ok.example"
    );
    let other = server
        .get("/documents")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_search_list_delete() {
    let server = TestServer::start(8 << 20, vec![]).await;
    let pdf = std::fs::read(corpus("debdocs/pdf/refcard-en-a4.pdf")).unwrap();
    let html = std::fs::read(corpus("debdocs/html/apt-offline/ch1.html")).unwrap();

    // Two files in one request.
    let (status, report) = server
        .upload(&[
            ("refcard-en-a4.pdf", pdf.clone()),
            ("ch1.html", html.clone()),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for f in files {
        assert_eq!(f["status"], "added", "{f}");
    }
    assert_eq!(files[0]["name"], "refcard-en-a4.pdf");
    assert_eq!(files[0]["document"]["name"], "refcard-en-a4.pdf");
    assert!(files[0]["document"]["source"]
        .as_str()
        .is_some_and(|s| s.starts_with("upload:")));
    let pdf_id = files[0]["document"]["id"].as_u64().unwrap();

    // The same bytes again: unchanged; the same bytes under another name: duplicate.
    let (status, again) = server.upload(&[("refcard-en-a4.pdf", pdf.clone())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["files"][0]["status"], "unchanged", "{again}");
    let (status, dup) = server.upload(&[("copy.pdf", pdf.clone())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dup["files"][0]["status"], "duplicate", "{dup}");

    // Listed.
    let (status, docs) = json_of(server.get("/documents").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = docs["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(
        names.contains(&"refcard-en-a4.pdf") && names.contains(&"ch1.html"),
        "{names:?}"
    );

    // Search.
    let (status, found) = json_of(
        server
            .post("/search")
            .json(&json!({"query": "apt-offline set-update signature", "k": 3}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let results = found["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 3);
    assert!(results[0]["source"]
        .as_str()
        .unwrap()
        .starts_with("upload:"));
    let (status, body) = json_of(
        server
            .post("/search")
            .json(&json!({"query": "  "}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_input");
    let (status, _) = json_of(
        server
            .post("/search")
            .json(&json!({"query": "x", "k": 0}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Delete, then 404, then 400 for a non-numeric id.
    let (status, removed) = json_of(
        server
            .delete(&format!("/documents/{pdf_id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["removed"]["id"], pdf_id);
    let (status, body) = json_of(
        server
            .delete(&format!("/documents/{pdf_id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "document_not_found");
    let (status, body) = json_of(server.delete("/documents/abc").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_input");
    let (_, docs) = json_of(server.get("/documents").send().await.unwrap()).await;
    assert_eq!(docs["documents"].as_array().unwrap().len(), 1);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_errors_traversal_oversize_type() {
    let server = TestServer::start(64 * 1024, vec![]).await;
    let md = std::fs::read(corpus("debdocs/html/apt-offline/ch2.html")).unwrap();

    // Traversal names are cut to their last component and kept only as a name.
    let (status, report) = server
        .upload(&[("../../../tmp/itassist-evil.html", md.clone())])
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let f = &report["files"][0];
    assert_eq!(f["status"], "added");
    assert_eq!(f["name"], "itassist-evil.html");
    assert_eq!(f["original_name"], "../../../tmp/itassist-evil.html");
    assert_eq!(f["document"]["name"], "itassist-evil.html");
    assert!(!Path::new("/tmp/itassist-evil.html").exists());

    // `../../etc/passwd`: only a name (the core sniffs the bytes as text), never a path.
    let before = std::fs::read("/etc/passwd").ok();
    let (status, body) = server
        .upload(&[("../../etc/passwd", b"root:x:0:0 evil".to_vec())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["files"][0]["name"], "passwd");
    assert_eq!(body["files"][0]["original_name"], "../../etc/passwd");
    assert_eq!(body["files"][0]["document"]["name"], "passwd");
    assert_eq!(
        std::fs::read("/etc/passwd").ok(),
        before,
        "/etc/passwd untouched"
    );

    // Wrong type: 415 with the supported list.
    let (status, body) = server.upload(&[("tool.exe", binary())]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_error(&body, "unsupported_format");
    let supported = body["error"]["supported"].as_array().unwrap();
    assert!(supported.iter().any(|s| s == "pdf"));

    // A good and a bad file together: 200 with a status for each.
    let (status, body) = server
        .upload(&[
            ("ok.txt", b"Use apt-get to install packages.".to_vec()),
            ("bad.exe", binary()),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["files"][0]["status"], "added");
    assert_eq!(body["files"][1]["status"], "failed");
    assert_eq!(body["files"][1]["error"]["code"], "unsupported_format");
    assert_eq!(body["failed"], 1);

    // Oversize: 413 JSON.
    let big = std::fs::read(corpus("debdocs/pdf/refcard-en-a4.pdf")).unwrap();
    assert!(big.len() > 64 * 1024);
    let (status, body) = server.upload(&[("big.pdf", big)]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_error(&body, "payload_too_large");

    // Not multipart, and multipart without files: 400.
    let (status, body) = json_of(
        server
            .post("/upload/?wait=true")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_input");
    let form = Form::new().text("note", "no file here");
    let (status, body) = json_of(
        server
            .post("/upload/?wait=true")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_input");

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_and_model_server_down() {
    let server = TestServer::start(1 << 20, vec![]).await;
    for path in ["/ask/", "/ask/stream", "/search"] {
        for body in ["{not json", "", "[1,2]", "{\"wrong\": 1}"] {
            let response = server
                .post(path)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let (status, json) = json_of(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body:?}");
            assert_error(&json, "invalid_json");
        }
    }
    let (status, body) = json_of(
        server
            .post("/ask/")
            .json(&json!({"question": " "}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_input");

    server
        .upload(&[(
            "ch3.html",
            std::fs::read(corpus("debdocs/html/apt-offline/ch3.html")).unwrap(),
        )])
        .await;

    // The model server is down: 503 ollama_unreachable, as JSON, on each model endpoint.
    let started = Instant::now();
    for context in [true, false] {
        let (status, body) = json_of(
            server
                .post("/ask/")
                .json(&json!({"question": "How does apt-offline work?", "context": context}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_error(&body, "ollama_unreachable");
    }
    let (status, body) = json_of(
        server
            .post("/ask/stream")
            .json(&json!({"question": "How does apt-offline work?"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "ollama_unreachable");
    let (status, body) = json_of(
        server
            .get("/ask/stream?question=hello")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, body) = json_of(server.get("/models").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "ollama_unreachable");
    assert!(started.elapsed() < Duration::from_secs(30));

    server.stop().await;
}

/// Searches keep being answered while a large upload is ingested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_answered_during_an_upload() {
    let server = TestServer::start(8 << 20, vec![]).await;
    server
        .upload(&[(
            "ch1.html",
            std::fs::read(corpus("debdocs/html/apt-offline/ch1.html")).unwrap(),
        )])
        .await;
    let big = std::fs::read(corpus("debdocs/pdf/bashref.pdf")).unwrap();
    let server = Arc::new(server);
    let uploader = {
        let server = server.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let (status, body) = server.upload(&[("bashref.pdf", big)]).await;
            (status, body, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut searches = 0;
    let mut slowest = Duration::ZERO;
    while !uploader.is_finished() && searches < 50 {
        let t = Instant::now();
        let response = server
            .post("/search")
            .json(&json!({"query": "apt-offline", "k": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        slowest = slowest.max(t.elapsed());
        searches += 1;
    }
    let (status, body, upload_time) = uploader.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    eprintln!("upload took {upload_time:?}; {searches} searches meanwhile, slowest {slowest:?}");
    assert!(searches >= 1, "no search completed during the upload");
    assert!(
        slowest < upload_time,
        "a search waited for the whole upload"
    );
}

/// Sends raw bytes on a new connection and reads the whole answer (the server closes it or
/// answers with a length): status code, lower-cased head and body.
async fn raw_request(url: &str, request: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before reading everything; a write error is fine then.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&answer);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head.to_ascii_lowercase().lines().find_map(|l| {
                        l.strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    });
                    if length.is_some_and(|n| body.len() >= n) {
                        break;
                    }
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn basic_header() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    )
}

/// Issue 12, item 3: `--cors-origin '*'` is refused before anything is opened or bound, with
/// the reason (it used to panic after "serving on").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_cors_is_refused_before_serving() {
    let mut server = ServerConfig::new(users());
    server.cors_origins = vec!["*".into()];
    let err = server.validate().expect_err("'*' must be refused");
    assert!(err.contains("credentials"), "{err}");
    assert!(
        err.contains("--cors-origin https://"),
        "says what to do: {err}"
    );

    // serve() reports it as a configuration error before opening the index or binding.
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = Config::new(dir.path().join("data")).with_model_dir(model_dir());
    match itassist_server::serve(config, server, addr).await {
        Err(itassist_server::ServeError::Config(message)) => {
            assert!(message.contains("credentials"), "{message}")
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing was opened before the check"
    );

    // Other malformed origins are refused too; a valid one with a trailing slash is accepted.
    for bad in [
        "null",
        "intranet.example",
        "https://a.example/app",
        "https://*.example",
    ] {
        let mut server = ServerConfig::new(users());
        server.cors_origins = vec![bad.into()];
        assert!(server.validate().is_err(), "{bad}");
    }
    let mut server = ServerConfig::new(users());
    server.cors_origins = vec!["https://Intranet.example/".into()];
    server.validate().expect("a valid origin");
}

/// Issue 12, item 6: cross-site state-changing requests are refused unless CORS allows the
/// origin, and JSON endpoints take only JSON bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_are_refused() {
    let server = TestServer::start_with(
        1 << 20,
        vec!["https://ok.example".into()],
        closed_port_url(),
        None,
        |_| {},
    )
    .await;
    let text = b"Cross-site uploads must never be indexed.".to_vec();

    // An upload from another site, with credentials: refused, nothing indexed.
    let form = Form::new().part("files", Part::bytes(text.clone()).file_name("evil.txt"));
    let response = server
        .post("/upload/?wait=true")
        .header("Origin", "http://evil.example")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "forbidden_origin");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--cors-origin"));
    // The browser's own marking, without Origin; and `Origin: null` (sandboxed frame).
    for (name, value) in [("Sec-Fetch-Site", "cross-site"), ("Origin", "null")] {
        let form = Form::new().part("files", Part::bytes(text.clone()).file_name("evil.txt"));
        let response = server
            .post("/upload/?wait=true")
            .header(name, value)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    let response = server
        .delete("/documents/1")
        .header("Origin", "http://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (_, docs) = json_of(server.get("/documents").send().await.unwrap()).await;
    assert_eq!(docs["documents"], json!([]), "nothing was indexed");

    // The page itself (same origin), the allowed CORS origin, and clients that are not
    // browsers (no Origin, no Sec-Fetch-Site) are served.
    let same = server.url.clone();
    let form = Form::new().part("files", Part::bytes(text.clone()).file_name("ok.txt"));
    let response = server
        .post("/upload/?wait=true")
        .header("Origin", same.as_str())
        .header("Sec-Fetch-Site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = server
        .post("/search")
        .header("Origin", same.as_str())
        .json(&json!({"query": "cross-site uploads"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = server
        .post("/search")
        .header("Origin", "https://ok.example")
        .header("Sec-Fetch-Site", "cross-site")
        .json(&json!({"query": "cross-site uploads"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://ok.example"
    );
    let response = server
        .post("/search")
        .json(&json!({"query": "cross-site uploads"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // JSON endpoints refuse bodies that are not declared JSON (a cross-site form can send
    // text/plain or urlencoded bodies without a preflight).
    for path in ["/search", "/ask/", "/ask/stream"] {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut request = server.post(path).body(r#"{"query": "x", "question": "x"}"#);
            if let Some(ct) = content_type {
                request = request.header("Content-Type", ct);
            }
            let (status, body) = json_of(request.send().await.unwrap()).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type:?}"
            );
            assert_error(&body, "unsupported_media_type");
        }
    }
    server.stop().await;
}

/// Issue 12, item 7: errors are JSON, including oversize bodies, long URLs and large headers;
/// what hyper answers by itself keeps its status (see docs/server.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json() {
    let server = TestServer::start(1 << 20, vec![]).await;

    // A JSON body over 2 MiB.
    let limit = itassist_server::guard::MAX_JSON_BODY_BYTES;
    let big = json!({"query": "x".repeat(limit + 1024)});
    let (status, body) = json_of(server.post("/search").json(&big).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&body, "payload_too_large");

    // A long URL (10 KiB) and large headers (150 of them; one of 100 KiB).
    let long = format!("/documents?{}", "a".repeat(10 * 1024));
    let response = server.get(&long).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::URI_TOO_LONG);
    let (_, body) = json_of(response).await;
    assert_error(&body, "uri_too_long");
    let mut request = server.get("/documents");
    for i in 0..150 {
        request = request.header(format!("x-filler-{i}"), "1");
    }
    let (status, body) = json_of(request.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_error(&body, "headers_too_large");
    let (status, body) = json_of(
        server
            .get("/documents")
            .header("x-filler", "b".repeat(100 * 1024))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_error(&body, "headers_too_large");

    // Rejections of extractors: a bad query string, a bad path parameter.
    let (status, body) = json_of(
        server
            .get("/ask/stream?context=maybe")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "invalid_input");
    // The same over a raw socket, as a client with no HTTP library sees it.
    let (status, head, body) = raw_request(
        &server.url,
        format!(
            "POST /search HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            basic_header(),
            limit + 1024,
            "{".repeat(limit + 1024)
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(status, 413);
    assert!(head.contains("content-type: application/json"), "{head}");
    let body: Value = serde_json::from_str(&body).expect("JSON body");
    assert_error(&body, "payload_too_large");

    // Answered by hyper before any request exists (no layer can run): the status is right,
    // the body is empty. A garbage request line, a URL over hyper's 65534 bytes, and a head
    // over its read buffer (~400 KiB).
    let (status, _, body) = raw_request(&server.url, b"\x16\x03\x01 garbage\r\n\r\n").await;
    assert_eq!(status, 400);
    assert!(body.is_empty());
    let (status, _, _) = raw_request(
        &server.url,
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70 * 1024)).as_bytes(),
    )
    .await;
    assert_eq!(status, 414);
    let (status, _, _) = raw_request(
        &server.url,
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "c".repeat(600 * 1024)
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(status, 431);
    server.stop().await;
}

/// Issue 12, item 9: uploads never replace each other by name; replacing is asked for by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_never_overwrite_each_other_by_name() {
    let server = TestServer::start(1 << 20, vec![]).await;
    let a = b"Alpha notes: the backup server is called tortoise.".to_vec();
    let b = b"Beta notes: the print server is called hare.".to_vec();

    let (status, first) = server.upload(&[("dirA/notes.txt", a.clone())]).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["files"][0]["status"], "added");
    let (status, second) = server.upload(&[("dirB/notes.txt", b.clone())]).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["files"][0]["status"], "added", "{second}");
    let id_a = first["files"][0]["document"]["id"].as_u64().unwrap();
    let id_b = second["files"][0]["document"]["id"].as_u64().unwrap();
    assert_ne!(id_a, id_b);
    let (_, docs) = json_of(server.get("/documents").send().await.unwrap()).await;
    let notes: Vec<&Value> = docs["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"] == "notes.txt")
        .collect();
    assert_eq!(notes.len(), 2, "{docs}");
    let (_, found) = json_of(
        server
            .post("/search")
            .json(&json!({"query": "backup server tortoise", "k": 5}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        found["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["text"].as_str().unwrap_or("").contains("tortoise")),
        "the first upload is still searchable: {found}"
    );

    // Names that sanitise to the same string are still different documents.
    let (status, odd) = server
        .upload(&[
            ("..", b"First odd name: gamma.".to_vec()),
            ("", b"Second odd name: delta.".to_vec()),
            ("a/", b"Third odd name: epsilon.".to_vec()),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{odd}");
    let ids: std::collections::HashSet<u64> = odd["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["status"], "added", "{f}");
            assert_eq!(f["name"], "upload");
            f["document"]["id"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 3);

    // The same bytes again: unchanged (same name) or duplicate (another name), never a copy.
    let (_, again) = server.upload(&[("dirC/notes.txt", a.clone())]).await;
    assert_eq!(again["files"][0]["status"], "unchanged", "{again}");
    assert_eq!(again["files"][0]["document_id"], id_a);
    let (_, dup) = server.upload(&[("other.txt", a.clone())]).await;
    assert_eq!(dup["files"][0]["status"], "duplicate", "{dup}");
    assert_eq!(dup["files"][0]["document_id"], id_a);

    // Replacing is explicit: ?replace=ID with one file.
    let c = b"Alpha notes, revised: the backup server is now called snail.".to_vec();
    let form = Form::new().part("files", Part::bytes(c.clone()).file_name("notes.txt"));
    let (status, replaced) = json_of(
        server
            .post(&format!("/upload/?wait=true&replace={id_a}"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["files"][0]["status"], "replaced", "{replaced}");
    assert_eq!(replaced["files"][0]["previous_id"], id_a);
    let (_, docs) = json_of(server.get("/documents").send().await.unwrap()).await;
    let docs = docs["documents"].as_array().unwrap().clone();
    assert_eq!(docs.len(), 5, "replaced, not added: {docs:?}");
    assert!(docs.iter().all(|d| d["sha256"] != json!(hex_sha256(&a))));
    assert!(docs.iter().any(|d| d["id"] == json!(id_b)), "B untouched");

    // Replacing something that is not there, or with a malformed id, or with two files.
    for (query, code, status) in [
        (
            "replace=999999",
            "document_not_found",
            StatusCode::NOT_FOUND,
        ),
        ("replace=+1", "invalid_input", StatusCode::BAD_REQUEST),
        ("replace=", "invalid_input", StatusCode::BAD_REQUEST),
    ] {
        let form = Form::new().part(
            "files",
            Part::bytes(b"new text here".to_vec()).file_name("x.txt"),
        );
        let (got, body) = json_of(
            server
                .post(&format!("/upload/?wait=true&{query}"))
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got, status, "{query}: {body}");
        assert_error(&body, code);
    }
    let form = Form::new()
        .part("files", Part::bytes(b"one".to_vec()).file_name("1.txt"))
        .part("files", Part::bytes(b"two".to_vec()).file_name("2.txt"));
    let (status, body) = json_of(
        server
            .post(&format!("/upload/?wait=true&replace={id_b}"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, docs) = json_of(server.get("/documents").send().await.unwrap()).await;
    assert_eq!(docs["documents"].as_array().unwrap().len(), 5);
    server.stop().await;
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Issue 12, item 10 (server side): names lose bidirectional controls and keep their
/// extension when shortened; `+1` is not id 1; an out-of-range temperature is a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_ids_and_temperature_follow_the_core_rules() {
    let server = TestServer::start(1 << 20, vec![]).await;
    let long = format!("{}.txt", "n".repeat(300));
    let form = Form::new()
        .part(
            "files",
            Part::bytes(b"Quarterly invoice for the spare disks.".to_vec())
                .file_name("invoice\u{202E}fdp.txt"),
        )
        .part(
            "files",
            Part::bytes(b"A document with a very long name.".to_vec()).file_name(long.clone()),
        )
        .percent_encode_noop();
    let (status, report) = json_of(
        server
            .post("/upload/?wait=true")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let files = report["files"].as_array().unwrap();
    let bidi = files[0]["name"].as_str().unwrap();
    assert!(!bidi.contains('\u{202E}'), "{bidi:?}");
    assert_eq!(bidi, "invoicefdp.txt");
    assert_eq!(files[0]["original_name"], "invoice\u{202E}fdp.txt");
    let short = files[1]["name"].as_str().unwrap();
    assert!(short.len() <= 200 && short.ends_with(".txt"), "{short}");
    let first_id = files[0]["document"]["id"].as_u64().unwrap();

    // `+1` (and its percent-encoded form, and ` 1`) are not ids, even when id 1 exists.
    for path in [
        "/documents/+1",
        "/documents/%2B1",
        "/documents/%201",
        "/documents/1e0",
    ] {
        let (status, body) = json_of(server.delete(path).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_error(&body, "invalid_input");
    }
    let (_, docs) = json_of(server.get("/documents").send().await.unwrap()).await;
    assert!(docs["documents"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == json!(first_id)));

    // Temperatures outside 0..=2 are refused before the model server is contacted (it is
    // down here: a 503 would mean the request went through).
    for temperature in [-0.5, 2.5, 100.0] {
        for path in ["/ask/", "/ask/stream"] {
            let (status, body) = json_of(
                server
                    .post(path)
                    .json(
                        &json!({"question": "What is on the invoice?", "temperature": temperature}),
                    )
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{path} {temperature}: {body}"
            );
            assert_error(&body, "invalid_input");
            assert!(body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("temperature"));
        }
    }
    server.stop().await;
}

/// Issue 12, item 2: failed logins are limited per client address (429 with Retry-After);
/// other addresses are not affected; the wait ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_per_address() {
    let server = TestServer::start_with(1 << 20, vec![], closed_port_url(), None, |c| {
        c.auth.max_failures = 3;
        c.auth.failure_window = Duration::from_secs(2);
    })
    .await;
    let wrong = |client: &reqwest::Client| {
        client
            .get(format!("{}/documents", server.url))
            .basic_auth(USER, Some("not the password"))
    };
    for _ in 0..3 {
        assert_eq!(
            wrong(&server.client).send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = wrong(&server.client).send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let (_, body) = json_of(limited).await;
    assert_error(&body, "too_many_attempts");
    // While limited, even the right password is not checked from this address (a remembered
    // password must not become a fast oracle)...
    let (status, _) = json_of(server.get("/documents").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // ...but another address is served.
    let other = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let response = other
        .get(format!("{}/documents", server.url))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // After Retry-After, this address may log in again.
    tokio::time::sleep(Duration::from_millis(retry * 1000 + 100)).await;
    let (status, _) = json_of(server.get("/documents").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}

/// The shared edge-case table (`tests/edge_cases.json`) through HTTP: the same outcome as the
/// Rust core, Python and Node for the same input. (Ingesting a server-side path has no HTTP
/// door, so the table's `ingest_path` cases do not apply here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_edge_cases_behave_as_in_every_other_door() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/edge_cases.json"
    ))
    .expect("tests/edge_cases.json");
    let table: Value = serde_json::from_str(&text).expect("valid JSON");
    let server = TestServer::start(4 << 20, vec![]).await;
    let doc = &table["document"];
    let (status, report) = server
        .upload(&[(
            doc["name"].as_str().unwrap(),
            doc["text"].as_str().unwrap().as_bytes().to_vec(),
        )])
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");

    for case in table["search"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let query = match (&case["query"], &case["query_repeat"]) {
            (Value::String(q), _) => q.clone(),
            (_, Value::Array(parts)) => parts[0]
                .as_str()
                .unwrap()
                .repeat(parts[1].as_u64().unwrap() as usize),
            _ => panic!("{name}: no query"),
        };
        let (status, body) = json_of(
            server
                .post("/search")
                .json(&json!({ "query": query, "k": case["k"] }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        match case["error"].as_str() {
            Some(code) => {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
                assert_error(&body, code);
            }
            None => {
                assert_eq!(status, StatusCode::OK, "{name}: {body}");
                let results = body["results"].as_array().expect("results");
                assert!(results.len() as u64 >= case["ok"]["min_results"].as_u64().unwrap());
                assert_eq!(results[0]["name"], case["ok"]["first_name"], "{name}");
            }
        }
    }

    for case in table["upload"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        // An HTTP header cannot carry control characters at all: a part whose name has them
        // is refused whole as malformed (400 invalid_input, nothing stored). The HTTP door
        // therefore gets the name without them; bidi controls and dots go through as they are.
        let raw = case["name"].as_str().unwrap();
        if raw.chars().any(char::is_control) {
            let form = Form::new()
                .part(
                    "files",
                    Part::bytes(b"x".to_vec()).file_name(raw.to_string()),
                )
                .percent_encode_noop();
            let (status, body) = json_of(
                server
                    .post("/upload/?wait=true")
                    .multipart(form)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
            assert_error(&body, "invalid_input");
        }
        let file_name: String = raw.chars().filter(|c| !c.is_control()).collect();
        let form = Form::new()
            .part(
                "files",
                Part::bytes(case["text"].as_str().unwrap().as_bytes().to_vec())
                    .file_name(file_name),
            )
            .percent_encode_noop();
        let (status, body) = json_of(
            server
                .post("/upload/?wait=true")
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let file = &body["files"][0];
        assert_eq!(file["status"], case["ok"]["status"], "{name}: {body}");
        assert_eq!(file["name"], case["ok"]["name"], "{name}: {body}");
    }
    server.stop().await;
}
