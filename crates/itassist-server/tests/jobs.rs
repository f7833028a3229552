//! Upload jobs, their progress stream, restarts, `serve --watch` and `POST /reindex`, over a
//! real socket with the server's own `run` function, real LMDB on disk and the real embedding
//! model.
//!
//! Needs `ORT_DYLIB_PATH` and `ITASSIST_MODEL_DIR` (the default cache locations are tried).

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use itassist::Config;
use itassist_server::jobs::{Job, JobKind, JobState, JobStore};
use itassist_server::{hash_password, run, ServeError, ServerConfig, Users};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{closed_port_url, corpus, model_dir};

const ADMIN: &str = "alice";
const USER: &str = "bob";
const PASSWORD: &str = "correct horse battery staple";
/// Generous: the machine is shared with other builds.
const DEADLINE: Duration = Duration::from_secs(600);

fn read_corpus(rel: &str) -> Vec<u8> {
    std::fs::read(corpus(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn users() -> Users {
    static HASH: OnceLock<String> = OnceLock::new();
    let hash = HASH.get_or_init(|| hash_password(PASSWORD).expect("hash"));
    Users::parse(&format!("{ADMIN}:{hash} {USER}:{hash}")).expect("users")
}

fn config(data: &Path, model_dir: &Path) -> Config {
    let mut config = Config::new(data).with_model_dir(model_dir);
    config.answer.base_url = closed_port_url();
    config.answer.retries = 0;
    config
}

struct Server {
    url: String,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

impl Server {
    /// Runs the server (`itassist_server::run`) on `config` and waits until it answers.
    async fn start(config: Config, configure: impl FnOnce(&mut ServerConfig)) -> Server {
        let mut server = ServerConfig::new(users());
        configure(&mut server);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(config, server, listener, async {
            let _ = rx.await;
        }));
        let server = Server {
            url,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
        };
        let until = Instant::now() + DEADLINE;
        loop {
            if let Ok(r) = server
                .client
                .get(format!("{}/health", server.url))
                .send()
                .await
            {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < until, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.url))
            .basic_auth(ADMIN, Some(PASSWORD))
    }

    fn post_as(&self, user: &str, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.url))
            .basic_auth(user, Some(PASSWORD))
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("send");
        let status = response.status();
        (status, response.json().await.expect("json body"))
    }

    async fn upload(&self, query: &str, files: &[(&str, Vec<u8>)]) -> (StatusCode, Value) {
        let mut form = Form::new();
        for (name, bytes) in files {
            form = form.part(
                "files",
                Part::bytes(bytes.clone()).file_name(name.to_string()),
            );
        }
        self.json(
            self.post_as(USER, &format!("/upload/{query}"))
                .multipart(form),
        )
        .await
    }

    /// Polls `GET /jobs/{id}` until the job ends.
    async fn wait_job(&self, id: u64) -> Value {
        let until = Instant::now() + DEADLINE;
        loop {
            let (status, job) = self.json(self.get(&format!("/jobs/{id}"))).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            if job["state"] == "done" || job["state"] == "failed" {
                return job;
            }
            assert!(Instant::now() < until, "job {id} did not end: {job}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn search(&self, query: &str) -> Value {
        let (status, body) = self
            .json(
                self.post_as(USER, "/search")
                    .json(&json!({ "query": query, "k": 3 })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn document_names(&self) -> Vec<String> {
        let (_, docs) = self.json(self.get("/documents")).await;
        let mut names: Vec<String> = docs["documents"]
            .as_array()
            .expect("documents")
            .iter()
            .map(|d| d["name"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        names
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }
}

fn job_ids(body: &Value) -> Vec<u64> {
    body["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("no jobs in {body}"))
        .iter()
        .map(|j| j["id"].as_u64().expect("job id"))
        .collect()
}

/// Reads Server-Sent Events until the stream ends: `(event name, data as JSON)`.
async fn read_events(response: reqwest::Response) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    let mut body = response.bytes_stream();
    let until = Instant::now() + DEADLINE;
    while let Some(chunk) = body.next().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk.expect("stream")));
        while let Some(cut) = buffer.find("\n\n") {
            let block: String = buffer.drain(..cut + 2).collect();
            let mut name = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if !data.is_empty() {
                events.push((name, serde_json::from_str(&data).expect("event data")));
            }
        }
        assert!(Instant::now() < until, "the stream did not end");
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_jobs_that_end_searchable_or_failed_with_their_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let server = Server::start(config(&data, &model_dir()), |_| {}).await;

    // Two files, a corrupt PDF and an executable: 202 at once, a job per file.
    let (status, body) = server
        .upload(
            "",
            &[
                ("scp.1", read_corpus("debdocs/man/openssh/scp.1")),
                (
                    "../notes.txt",
                    b"The backup server is called tortoise and runs restic nightly.".to_vec(),
                ),
                ("broken.pdf", b"%PDF-1.7\nthis is not a real PDF".to_vec()),
                (
                    "tool.exe",
                    b"\x7fELF\x02\x01\x01\x00\x00\x00binary".to_vec(),
                ),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let ids = job_ids(&body);
    assert_eq!(ids.len(), 4, "{body}");
    let first = &body["jobs"][0];
    assert_eq!(first["kind"], "upload");
    assert!(
        first["state"] == "queued" || first["state"] == "running",
        "{first}"
    );
    assert_eq!(first["name"], "scp.1");
    assert_eq!(
        first["size"],
        read_corpus("debdocs/man/openssh/scp.1").len()
    );
    assert_eq!(first["url"], format!("/jobs/{}", ids[0]));
    assert_eq!(body["jobs"][1]["name"], "notes.txt");
    assert_eq!(body["jobs"][1]["original_name"], "../notes.txt");
    assert_eq!(first["submitted_by"], USER);

    let scp = server.wait_job(ids[0]).await;
    assert_eq!(scp["state"], "done", "{scp}");
    assert_eq!(scp["result"]["status"], "added", "{scp}");
    let chunks = scp["result"]["document"]["chunk_count"]
        .as_u64()
        .expect("chunks");
    assert_eq!(scp["progress"]["chunks_done"], chunks, "{scp}");
    assert_eq!(scp["progress"]["chunks_total"], chunks, "{scp}");
    assert_eq!(scp["attempts"], 1);
    let notes = server.wait_job(ids[1]).await;
    assert_eq!(notes["result"]["status"], "added", "{notes}");

    let broken = server.wait_job(ids[2]).await;
    assert_eq!(broken["state"], "failed", "{broken}");
    assert_eq!(broken["error"]["code"], "corrupt_document", "{broken}");
    assert!(
        broken["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("broken.pdf"),
        "{broken}"
    );
    let exe = server.wait_job(ids[3]).await;
    assert_eq!(exe["state"], "failed", "{exe}");
    assert_eq!(exe["error"]["code"], "unsupported_format", "{exe}");

    // The documents are searchable.
    let hits = server.search("which server runs restic backups").await;
    assert_eq!(hits["results"][0]["name"], "notes.txt", "{hits}");
    let hits = server.search("secure copy of files between hosts").await;
    assert_eq!(hits["results"][0]["name"], "scp.1", "{hits}");

    // The list, newest first; staged uploads are gone once their jobs ended.
    let (status, list) = server.json(server.get("/jobs")).await;
    assert_eq!(status, StatusCode::OK);
    let listed = job_ids(&list);
    assert_eq!(listed, ids.iter().rev().copied().collect::<Vec<_>>());
    let store = JobStore::new(&data);
    for id in &ids {
        assert!(
            !store.staged_path(*id).exists(),
            "staged upload of job {id}"
        );
        assert!(store.record_path(*id).is_file(), "record of job {id}");
    }
    let (status, body) = server.json(server.get("/jobs/999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "job_not_found");

    // Without credentials: 401.
    let response = server
        .client
        .get(format!("{}/jobs", server.url))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The stream of all jobs does not end by itself, but does not hold the shutdown.
    let stream = server.get("/jobs/events").send().await.expect("events");
    assert_eq!(stream.status(), StatusCode::OK);
    server.stop().await;
    assert!(read_events(stream).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_reports_progress_to_the_end() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(config(&tmp.path().join("data"), &model_dir()), |_| {}).await;
    // A PDF first, so that the man page's job waits in the queue while the stream opens.
    let (status, body) = server
        .upload(
            "",
            &[
                ("fhs-3.0.pdf", read_corpus("debdocs/pdf/fhs-3.0.pdf")),
                (
                    "ssh-keygen.1",
                    read_corpus("debdocs/man/openssh/ssh-keygen.1"),
                ),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let ids = job_ids(&body);
    let response = server
        .get(&format!("/jobs/{}/events", ids[1]))
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .starts_with("text/event-stream"));
    let events = read_events(response).await;
    let (last_name, last) = events.last().expect("events");
    assert_eq!(last_name, "done", "{events:?}");
    assert_eq!(last["state"], "done");
    assert_eq!(last["result"]["status"], "added");
    let total = last["progress"]["chunks_total"].as_u64().expect("total");
    assert!(total > 32, "several embedding batches: {total}");
    assert_eq!(last["progress"]["chunks_done"], total);
    // Progress while running: chunks embedded so far, out of the total.
    let running: Vec<&Value> = events
        .iter()
        .filter(|(name, job)| name == "progress" && job["state"] == "running")
        .map(|(_, job)| job)
        .collect();
    assert!(
        running.iter().any(
            |j| j["progress"]["chunks_done"].as_u64().unwrap_or(0) < total
                && j["progress"]["chunks_total"] == total
        ),
        "{events:?}"
    );
    assert!(events.iter().all(|(_, j)| j["id"] == ids[1]));
    // The PDF's pages are known once it is indexed.
    let pdf = server.wait_job(ids[0]).await;
    assert_eq!(pdf["state"], "done", "{pdf}");
    assert!(
        pdf["progress"]["pages_total"].as_u64().unwrap_or(0) > 1,
        "{pdf}"
    );

    // The stream of a job that ended is its final state, then the end.
    let events = read_events(
        server
            .get(&format!("/jobs/{}/events", ids[0]))
            .send()
            .await
            .expect("events"),
    )
    .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "done");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_true_answers_as_before_and_replace_works_both_ways() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(config(&tmp.path().join("data"), &model_dir()), |_| {}).await;
    let text = b"Alpha notes: the backup server is called tortoise.".to_vec();
    let (status, body) = server
        .upload("?wait=true", &[("notes.txt", text.clone())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["failed"], 0);
    let file = &body["files"][0];
    assert_eq!(file["status"], "added");
    assert_eq!(file["name"], "notes.txt");
    assert_eq!(file["size"], text.len());
    assert_eq!(file["sha256"].as_str().map(str::len), Some(64));
    let id = file["document"]["id"].as_u64().expect("id");
    assert!(body.get("jobs").is_none(), "{body}");

    // Replace with wait: as before.
    let (status, body) = server
        .upload(
            &format!("?wait=true&replace={id}"),
            &[(
                "notes.txt",
                b"Alpha notes, revised: the server is snail.".to_vec(),
            )],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["files"][0]["status"], "replaced");
    assert_eq!(body["files"][0]["previous_id"], id);
    let id = body["files"][0]["document"]["id"].as_u64().expect("id");

    // Replace as a job.
    let (status, body) = server
        .upload(
            &format!("?replace={id}"),
            &[(
                "notes.txt",
                b"Alpha notes, third: the server is hare.".to_vec(),
            )],
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["jobs"][0]["replace"], id);
    let job = server.wait_job(job_ids(&body)[0]).await;
    assert_eq!(job["result"]["status"], "replaced", "{job}");
    assert_eq!(job["result"]["previous_id"], id, "{job}");
    assert_eq!(server.document_names().await, ["notes.txt"]);
    let hits = server.search("what is the backup server called").await;
    assert!(
        hits["results"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("hare"),
        "{hits}"
    );

    // Replacing a document that is not there: 404 at once, no job.
    let (status, body) = server
        .upload("?replace=999999", &[("x.txt", b"new text".to_vec())])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "document_not_found");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_interrupted_jobs_or_fails_those_whose_upload_is_gone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    // A first run creates the index, and stops.
    let server = Server::start(config(&data, &model_dir()), |_| {}).await;
    server.stop().await;

    // What a server killed mid-job leaves: records in state running (and queued), one
    // with its staged upload, one whose staged upload is gone.
    let store = JobStore::new(&data);
    let job = |id: u64, name: &str, state: JobState| -> Job {
        serde_json::from_value(json!({
            "id": id, "kind": "upload", "state": state, "name": name,
            "size": 10, "attempts": 1, "created_at": 1_700_000_000u64, "progress": {}
        }))
        .expect("job")
    };
    let interrupted = job(7, "ssh-agent.1", JobState::Running);
    store
        .stage(7, &read_corpus("debdocs/man/openssh/ssh-agent.1"))
        .expect("stage");
    store.save(&interrupted).expect("save");
    let queued = job(8, "notes.txt", JobState::Queued);
    store
        .stage(8, b"The printer on floor 3 is called hedgehog.")
        .expect("stage");
    store.save(&queued).expect("save");
    store
        .save(&job(9, "lost.txt", JobState::Running))
        .expect("save");
    assert_eq!(interrupted.kind, JobKind::Upload);

    let server = Server::start(config(&data, &model_dir()), |_| {}).await;
    let resumed = server.wait_job(7).await;
    assert_eq!(resumed["state"], "done", "{resumed}");
    assert_eq!(resumed["result"]["status"], "added", "{resumed}");
    assert_eq!(resumed["attempts"], 2, "{resumed}");
    let queued = server.wait_job(8).await;
    assert_eq!(queued["state"], "done", "{queued}");
    let lost = server.wait_job(9).await;
    assert_eq!(lost["state"], "failed", "{lost}");
    assert_eq!(lost["error"]["code"], "staged_file_missing", "{lost}");
    assert!(
        lost["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("upload the file again"),
        "{lost}"
    );
    assert!(!store.staged_path(7).exists());
    assert!(!store.staged_path(8).exists());
    assert_eq!(server.document_names().await, ["notes.txt", "ssh-agent.1"]);
    let hits = server.search("which printer is hedgehog").await;
    assert_eq!(hits["results"][0]["name"], "notes.txt", "{hits}");

    // New jobs get ids after the stored ones.
    let (_, body) = server
        .upload("", &[("more.txt", b"More notes.".to_vec())])
        .await;
    assert_eq!(job_ids(&body), [10]);
    server.wait_job(10).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_watch_syncs_at_start_and_picks_up_new_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).expect("docs");
    std::fs::write(docs.join("scp.1"), read_corpus("debdocs/man/openssh/scp.1")).expect("write");
    let watched = docs.clone();
    let server = Server::start(config(&tmp.path().join("data"), &model_dir()), |s| {
        s.watch = vec![watched];
    })
    .await;
    let until = Instant::now() + DEADLINE;
    while server.document_names().await != ["scp.1"] {
        assert!(
            Instant::now() < until,
            "the sync at start did not ingest scp.1"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A new file, written as an editor would (temporary file, then rename).
    std::fs::write(
        docs.join(".runbook.md.swp"),
        "# Restarting the queue\n\nRun `systemctl restart rabbitmq-server` on the broker host named badger.\n",
    )
    .expect("write");
    std::fs::rename(docs.join(".runbook.md.swp"), docs.join("runbook.md")).expect("rename");
    while server.document_names().await != ["runbook.md", "scp.1"] {
        assert!(
            Instant::now() < until,
            "the watch did not ingest runbook.md"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let hits = server
        .search("how do I restart the message queue broker")
        .await;
    assert_eq!(hits["results"][0]["name"], "runbook.md", "{hits}");
    // A deletion removes the document.
    std::fs::remove_file(docs.join("scp.1")).expect("remove");
    while server.document_names().await != ["runbook.md"] {
        assert!(Instant::now() < until, "the watch did not remove scp.1");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The server stops, with its watch.
    server.stop().await;
}

/// A model directory laid out as `scripts/provision-models.sh` does, with a second "model"
/// beside it: links to the same files under another name (`minilm-copy`, as in
/// docs/sync.md).
fn two_models(root: &Path) -> PathBuf {
    let base = root.join("all-MiniLM-L6-v2");
    let copy = root.join("minilm-copy");
    std::fs::create_dir_all(&base).expect("base");
    std::fs::create_dir_all(&copy).expect("copy");
    for entry in std::fs::read_dir(model_dir()).expect("model dir (ITASSIST_MODEL_DIR)") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_owned();
        std::os::unix::fs::symlink(&path, base.join(&name)).expect("link");
        if name != "itassist-model.json" {
            std::os::unix::fs::symlink(&path, copy.join(&name)).expect("link");
        }
    }
    std::fs::write(
        copy.join("itassist-model.json"),
        r#"{"name": "minilm-copy", "max_length": 96}"#,
    )
    .expect("model config");
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_is_an_admin_job_that_swaps_the_model_without_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let models = two_models(&tmp.path().join("models"));
    let server = Server::start(config(&tmp.path().join("data"), &models), |s| {
        s.admins = vec![ADMIN.to_string()];
    })
    .await;
    let (status, body) = server
        .upload(
            "?wait=true",
            &[
                ("scp.1", read_corpus("debdocs/man/openssh/scp.1")),
                (
                    "ssh-keygen.1",
                    read_corpus("debdocs/man/openssh/ssh-keygen.1"),
                ),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, health) = server.json(server.get("/health")).await;
    let old_model = health["index"]["embedding_model"].clone();

    // Not an admin: 403, nothing queued.
    let (status, body) = server
        .json(
            server
                .post_as(USER, "/reindex")
                .json(&json!({ "model": "minilm-copy" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");

    let (status, body) = server
        .json(
            server
                .post_as(ADMIN, "/reindex")
                .json(&json!({ "model": "minilm-copy" })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["job"]["id"].as_u64().expect("job id");
    assert_eq!(body["job"]["kind"], "reindex");
    assert_eq!(body["job"]["model"], "minilm-copy");
    // Searches answer while the job runs (from the old vectors, or the new once swapped).
    let hits = server.search("secure copy of files between hosts").await;
    assert_eq!(hits["results"][0]["name"], "scp.1", "{hits}");

    let job = server.wait_job(id).await;
    assert_eq!(job["state"], "done", "{job}");
    let total = job["progress"]["chunks_total"].as_u64().expect("total");
    assert!(total > 0, "{job}");
    assert_eq!(job["progress"]["chunks_done"], total, "{job}");
    assert_eq!(job["result"]["previous_model"], old_model, "{job}");
    let new_model = job["result"]["model"].as_str().expect("model").to_string();
    assert!(new_model.contains("minilm-copy"), "{job}");

    // Same server, new model: health says so, search and uploads work.
    let (_, health) = server.json(server.get("/health")).await;
    assert_eq!(health["index"]["embedding_model"], new_model, "{health}");
    let hits = server.search("secure copy of files between hosts").await;
    assert_eq!(hits["results"][0]["name"], "scp.1", "{hits}");
    let (_, body) = server
        .upload(
            "",
            &[(
                "notes.txt",
                b"The NAS in the basement is called mole.".to_vec(),
            )],
        )
        .await;
    let upload = server.wait_job(job_ids(&body)[0]).await;
    assert_eq!(upload["state"], "done", "{upload}");
    let hits = server.search("what is the NAS called").await;
    assert_eq!(hits["results"][0]["name"], "notes.txt", "{hits}");
    server.stop().await;
}
