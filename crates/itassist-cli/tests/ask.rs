//! `itassist ask` and `itassist models`, run as a user runs them, against a fake Ollama on
//! 127.0.0.1 speaking the wire format of `shared/docs/ollama-api.md`, over a real document.

mod common;

use common::{corpus, model_dir, run, text};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

fn itassist(data_dir: &Path, url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_itassist"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("--model-dir")
        .arg(model_dir())
        .arg("--ollama-url")
        .arg(url)
        .env_remove("OLLAMA_HOST")
        .env_remove("ITASSIST_BACKEND")
        .stdin(Stdio::null());
    cmd
}

/// A fake Ollama: answers by path, records request bodies.
struct FakeOllama {
    url: String,
    bodies: Arc<Mutex<Vec<(String, Value)>>>,
}

fn ndjson(lines: &[String]) -> (u16, &'static str, Vec<String>) {
    (200, "application/x-ndjson", lines.to_vec())
}

fn respond(path: &str, body: &Value) -> (u16, &'static str, Vec<String>) {
    let model = body["model"].as_str().unwrap_or_default();
    let missing = || {
        (
            404,
            "application/json",
            vec![json!({"error": format!("model '{model}' not found")}).to_string()],
        )
    };
    match path {
        "/api/tags" => (200, "application/json", vec![json!({"models": [{
            "name": "llama3.2:latest", "model": "llama3.2:latest",
            "modified_at": "2025-05-04T17:37:44.706015396-07:00", "size": 2019393189u64,
            "digest": "a80c4f17acd5",
            "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"}
        }]}).to_string()]),
        "/api/show" if model == "nosuch" => missing(),
        "/api/show" => (200, "application/json", vec![json!({
            "details": {"family": "llama"},
            "model_info": {"general.architecture": "llama", "llama.context_length": 8192},
            "capabilities": ["completion"]
        }).to_string()]),
        "/api/chat" => ndjson(&[
            json!({"model": model, "created_at": "2023-08-04T08:52:19.385406455-07:00", "message": {"role": "assistant", "content": "Use apt-get install "}, "done": false}).to_string(),
            json!({"model": model, "created_at": "2023-08-04T08:52:19.405406455-07:00", "message": {"role": "assistant", "content": "to install a package [1]."}, "done": false}).to_string(),
            json!({"model": model, "created_at": "2023-08-04T19:22:45.499127Z", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop", "total_duration": 4883583458u64, "prompt_eval_count": 26, "prompt_eval_duration": 342546000, "eval_count": 12, "eval_duration": 400000000}).to_string(),
        ]),
        "/api/pull" if model == "llama3.2" => ndjson(&[
            r#"{"status":"pulling manifest"}"#.into(),
            r#"{"status":"pulling dde5aa3fc5ff","digest":"sha256:dde5aa3fc5ff","total":2019377376}"#.into(),
            r#"{"status":"pulling dde5aa3fc5ff","digest":"sha256:dde5aa3fc5ff","total":2019377376,"completed":2019377376}"#.into(),
            r#"{"status":"verifying sha256 digest"}"#.into(),
            r#"{"status":"writing manifest"}"#.into(),
            r#"{"status":"success"}"#.into(),
        ]),
        "/api/pull" => ndjson(&[
            r#"{"status":"pulling manifest"}"#.into(),
            r#"{"error":"pull model manifest: file does not exist"}"#.into(),
        ]),
        _ => (404, "application/json", vec![r#"{"error":"not found"}"#.into()]),
    }
}

impl FakeOllama {
    fn start() -> FakeOllama {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let recorded = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = recorded.clone();
                std::thread::spawn(move || {
                    let _ = handle(stream, &recorded);
                });
            }
        });
        FakeOllama { url, bodies }
    }

    fn last_body(&self, path: &str) -> Value {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .unwrap_or(Value::Null)
    }
}

fn handle(stream: TcpStream, recorded: &Mutex<Vec<(String, Value)>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    recorded.lock().unwrap().push((path.clone(), body.clone()));
    let (status, ctype, lines) = respond(&path, &body);
    let mut out = stream;
    if ctype == "application/x-ndjson" {
        write!(out, "HTTP/1.1 {status} OK\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")?;
        for line in lines {
            let data = format!("{line}\n");
            write!(out, "{:x}\r\n{data}\r\n", data.len())?;
            out.flush()?;
        }
        write!(out, "0\r\n\r\n")?;
    } else {
        let data = lines.concat();
        write!(out, "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{data}", data.len())?;
    }
    out.flush()
}

#[test]
fn models_lists_and_pulls_with_progress() {
    let server = FakeOllama::start();
    let tmp = tempfile::tempdir().unwrap();
    // `models` needs no index and no embedding model.
    let data = tmp.path().join("never-created");

    let out = run(itassist(&data, &server.url).arg("models"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("llama3.2:latest") && stdout.contains("2.0 GB") && stdout.contains("3.2B"),
        "{stdout}"
    );
    assert!(!data.exists(), "models must not create an index");

    let out = run(itassist(&data, &server.url).args(["models", "--json"]));
    let models: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(models[0]["name"], "llama3.2:latest");

    let out = run(itassist(&data, &server.url).args(["models", "pull", "llama3.2"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for status in [
        "pulling manifest",
        "pulling dde5aa3fc5ff",
        "verifying sha256 digest",
        "success",
    ] {
        assert!(
            stderr.contains(status),
            "progress shows '{status}':\n{stderr}"
        );
    }
    assert!(text(&out.stdout).contains("pulled llama3.2"));
    assert_eq!(
        server.last_body("/api/pull"),
        json!({"model": "llama3.2", "stream": true})
    );

    let out = run(itassist(&data, &server.url).args(["models", "pull", "nosuch"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error[ollama_error]") && stderr.contains("file does not exist"),
        "{stderr}"
    );
}

#[test]
fn ask_prints_the_answer_then_numbered_sources() {
    let server = FakeOllama::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("index");
    let out = run(itassist(&data, &server.url)
        .arg("ingest")
        .arg(corpus("debdocs/pdf/refcard-en-a4.pdf")));
    assert!(out.status.success(), "{}", text(&out.stderr));

    let question = "How do I install a package with apt?";
    let out =
        run(itassist(&data, &server.url).args(["ask", question, "-k", "3", "--model", "llama3.2"]));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{}", stdout, text(&out.stderr));
    assert!(
        stdout.starts_with("Use apt-get install to install a package [1]."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Sources:\n  [1] refcard-en-a4.pdf, page "),
        "{stdout}"
    );
    assert!(stdout.contains("[3] refcard-en-a4.pdf, page "), "{stdout}");
    assert!(stdout.contains("(cited)"), "{stdout}");
    assert!(
        text(&out.stderr).contains("model llama3.2"),
        "{}",
        text(&out.stderr)
    );
    let sent = server.last_body("/api/chat");
    assert_eq!(sent["model"], "llama3.2");
    assert_eq!(sent["options"]["num_ctx"], 8192);
    let user = sent["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("[1] refcard-en-a4.pdf, page") && user.ends_with(question),
        "{user}"
    );

    let out = run(itassist(&data, &server.url).args([
        "ask",
        question,
        "--json",
        "--num-predict",
        "64",
        "--seed",
        "3",
    ]));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer["answer"],
        "Use apt-get install to install a package [1]."
    );
    assert_eq!(answer["cited"], json!([1]));
    assert_eq!(answer["sources"].as_array().unwrap().len(), 5);
    assert!(answer["sources"][0]["page"].as_u64().is_some());
    assert_eq!(answer["timings"]["generated_tokens"], 12);
    assert_eq!(server.last_body("/api/chat")["options"]["num_predict"], 64);
    assert_eq!(server.last_body("/api/chat")["options"]["seed"], 3);

    let out = run(itassist(&data, &server.url).args(["ask", question, "--stream", "--json"]));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "sources");
    assert_eq!(events[1]["type"], "token");
    assert_eq!(events.last().unwrap()["type"], "done");

    let out = run(itassist(&data, &server.url).args(["ask", question, "--stream", "--no-context"]));
    assert!(out.status.success());
    assert!(
        text(&out.stdout).starts_with("Use apt-get install"),
        "{}",
        text(&out.stdout)
    );
    assert!(!text(&out.stdout).contains("Sources:"));
    assert_eq!(
        server.last_body("/api/chat")["messages"],
        json!([{"role": "user", "content": question}])
    );

    let out = run(itassist(&data, &server.url).args(["ask", question, "--model", "nosuch"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error[model_not_found]") && stderr.contains("ollama pull nosuch"),
        "{stderr}"
    );

    // Nothing listens on this port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(itassist(&data, &format!("127.0.0.1:{port}")).args(["ask", question]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error[ollama_unreachable]")
            && stderr.contains(&format!("http://127.0.0.1:{port}"))
            && stderr.contains("ollama serve"),
        "{stderr}"
    );
    let out = run(itassist(&data, &format!("127.0.0.1:{port}")).args(["ask", question, "--json"]));
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "ollama_unreachable");
}

#[test]
fn chat_keeps_conversations_and_messages_files_ask_the_last_question() {
    let server = FakeOllama::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("index");
    let out = run(itassist(&data, &server.url)
        .arg("ingest")
        .arg(corpus("debdocs/pdf/refcard-en-a4.pdf")));
    assert!(out.status.success(), "{}", text(&out.stderr));

    // One-shot chat: a new stored conversation, whose id the command names.
    let out = run(itassist(&data, &server.url).args([
        "chat",
        "How do I install a package with apt?",
        "--model",
        "llama3.2",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("Use apt-get install"));
    assert!(text(&out.stderr).contains("itassist chat --conversation 1"));

    // A follow-up in it: the earlier turn reaches the model.
    let out = run(itassist(&data, &server.url).args([
        "chat",
        "--conversation",
        "1",
        "and how do I remove it again?",
        "--model",
        "llama3.2",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sent = server.last_body("/api/chat");
    let earlier: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(
        earlier
            .iter()
            .any(|c| c.contains("How do I install a package with apt?")),
        "{earlier:?}"
    );

    let out = run(itassist(&data, &server.url).args(["--json", "chat", "--show", "1"]));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["turns"].as_array().unwrap().len(), 2);
    assert!(!shown["turns"][0]["sources"].as_array().unwrap().is_empty());
    let out = run(itassist(&data, &server.url).args(["chat", "--list"]));
    assert!(text(&out.stdout).contains("How do I install a package"));
    let out = run(itassist(&data, &server.url).args(["chat", "--delete", "1"]));
    assert!(out.status.success());
    let out = run(itassist(&data, &server.url).args(["chat", "--show", "1"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("conversation_not_found"),
        "{}",
        text(&out.stderr)
    );

    // --messages: OpenAI-format messages; the search uses the earlier turn.
    let messages = tmp.path().join("messages.json");
    std::fs::write(
        &messages,
        json!([
            {"role": "user", "content": "How do I install a package with apt?"},
            {"role": "assistant", "content": "Use apt-get install."},
            {"role": "user", "content": "and how do I remove it again?"}
        ])
        .to_string(),
    )
    .unwrap();
    let out = run(itassist(&data, &server.url)
        .args(["search", "--messages"])
        .arg(&messages));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let searched = stdout.lines().next().unwrap_or_default();
    assert!(
        searched.starts_with("searched: ") && searched.contains("install"),
        "{stdout}"
    );
    let out = run(itassist(&data, &server.url)
        .args(["--json", "ask", "--model", "llama3.2", "--messages"])
        .arg(&messages));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["question"], "and how do I remove it again?");
    assert!(answer["searched_query"]
        .as_str()
        .unwrap()
        .contains("install"));
}
