//! The HTTP API over a real socket: every endpoint, status code and error case, with real
//! corpus files and the real embedding model.
//!
//! Needs `ORT_DYLIB_PATH` and `ITASSIST_MODEL_DIR` (the default cache locations are tried).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use itassist::{Assistant, Config};
use itassist_server::{hash_password, router, serve_listener, ServerConfig, Users};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

/// Bytes of an executable: not a document format.
fn binary() -> Vec<u8> {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00".to_vec();
    bytes.extend((0u32..2048).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    bytes
}

fn corpus(rel: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ))
    .join(rel)
}

fn model_dir() -> PathBuf {
    std::env::var_os("ITASSIST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/itassist/models/all-MiniLM-L6-v2")
        })
}

fn users() -> Users {
    static HASH: OnceLock<String> = OnceLock::new();
    let hash = HASH.get_or_init(|| hash_password(PASSWORD).expect("hash"));
    Users::parse(&format!("{USER}:{hash}")).expect("users")
}

/// A port where nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
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
        Self::start_with(max_upload, cors, closed_port_url(), None).await
    }

    async fn start_with(
        max_upload: usize,
        cors: Vec<String>,
        model_url: String,
        backend: Option<itassist::Backend>,
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
            .post("/upload/")
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
    assert_eq!(files[0]["document"]["source"], "upload:refcard-en-a4.pdf");
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
    assert_eq!(f["document"]["source"], "upload:itassist-evil.html");
    assert!(!Path::new("/tmp/itassist-evil.html").exists());

    // `../../etc/passwd`: only a name (the core sniffs the bytes as text), never a path.
    let before = std::fs::read("/etc/passwd").ok();
    let (status, body) = server
        .upload(&[("../../etc/passwd", b"root:x:0:0 evil".to_vec())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["files"][0]["name"], "passwd");
    assert_eq!(body["files"][0]["original_name"], "../../etc/passwd");
    assert_eq!(body["files"][0]["document"]["source"], "upload:passwd");
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
            .post("/upload/")
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
            .post("/upload/")
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
