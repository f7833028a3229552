//! Background jobs: uploads ingested after `POST /upload/` has answered, and re-indexing.
//!
//! A job is queued by [`Jobs::submit_upload`] or [`Jobs::submit_reindex`] and run by a single
//! worker task, one job at a time (ingestion is blocking work: each job runs on tokio's
//! blocking pool, so searches and answers go on meanwhile). Progress (chunks embedded, pages)
//! is kept in memory and sent to subscribers ([`Jobs::subscribe`], the SSE streams of
//! [`crate::job_routes`]).
//!
//! **Persistence.** Each job is a JSON file `<data_dir>/jobs/<id>.json`, rewritten atomically
//! (written to `<id>.json.tmp`, synced, then renamed over the old one) when its state changes
//! (queued, running, done, failed); an upload's bytes are staged beside it as
//! `<id>.upload` until the job ends. Plain files rather than a database in the index: the
//! staged bytes live next to their record, nothing in the core changes, and a record is
//! readable with `cat`. When the server starts ([`Jobs::start`]), jobs left queued or running
//! by a server that was killed are queued again (ingest writes one document per transaction,
//! so re-running is safe and nothing is half-written), or marked failed with
//! `staged_file_missing` when their staged file is gone. Finished jobs are kept (the newest
//! [`KEEP_FINISHED`]) so that `GET /jobs` can list them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use itassist::{Assistant, Embedder, FastEmbedder, Flow, IngestEvent, ReindexEvent};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, mpsc, Notify};

use crate::errors::ApiError;
use crate::SharedAssistant;

/// Finished jobs kept on disk and listed; older ones are deleted when the server starts.
pub const KEEP_FINISHED: usize = 500;

/// The state of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for the worker.
    Queued,
    /// Being run.
    Running,
    /// Finished; `result` says what happened.
    Done,
    /// Finished with an error; `error` says which.
    Failed,
}

impl JobState {
    /// Whether the job has ended (done or failed).
    pub fn is_final(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed)
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Ingest one uploaded file.
    Upload,
    /// Re-embed every chunk with an embedding model and swap it in.
    Reindex,
}

/// How far a job got. Fields are absent until known.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JobProgress {
    /// What is being done: `embedding`, `building_index`, `swapping`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Chunks embedded so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_done: Option<u64>,
    /// Chunks to embed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_total: Option<u64>,
    /// Pages of the uploaded document (known once it is indexed; PDFs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages_total: Option<u64>,
}

/// One job, as stored and as answered by `GET /jobs/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// The job id.
    pub id: u64,
    /// What it does.
    pub kind: JobKind,
    /// Where it is.
    pub state: JobState,
    /// Upload: the document's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Upload: the client's file name, when it differs from `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_name: Option<String>,
    /// Upload: size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Upload: SHA-256 of the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Upload: the document this upload replaces (`?replace=ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<u64>,
    /// Re-index: the embedding model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Who submitted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    /// Progress so far.
    #[serde(default)]
    pub progress: JobProgress,
    /// When done: for an upload, the same per-file entry `?wait=true` answers; for a
    /// re-index, its report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// When failed: `{code, message, ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Times the job was started (more than 1 when a restart resumed it).
    #[serde(default)]
    pub attempts: u32,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
}

impl Job {
    /// The job as answered by the API: the record plus the `url` and `events` paths.
    pub fn to_json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or_else(|_| json!({ "id": self.id }));
        if let Value::Object(map) = &mut value {
            map.insert("url".into(), json!(format!("/jobs/{}", self.id)));
            map.insert("events".into(), json!(format!("/jobs/{}/events", self.id)));
        }
        value
    }

    fn new(id: u64, kind: JobKind) -> Job {
        Job {
            id,
            kind,
            state: JobState::Queued,
            name: None,
            original_name: None,
            size: None,
            sha256: None,
            replace: None,
            model: None,
            submitted_by: None,
            progress: JobProgress::default(),
            result: None,
            error: None,
            attempts: 0,
            created_at: now(),
            started_at: None,
            finished_at: None,
        }
    }

    fn fail(&mut self, error: &ApiError) {
        self.state = JobState::Failed;
        self.error = Some(error.body()["error"].clone());
        self.finished_at = Some(now());
    }
}

/// An upload to queue: the display name, the client's name, the bytes and an optional
/// document to replace.
#[derive(Debug)]
pub struct NewUpload {
    /// Display name ([`itassist::names::upload_name`]).
    pub name: String,
    /// The client's file name.
    pub original_name: String,
    /// The content.
    pub bytes: Vec<u8>,
    /// Document to replace.
    pub replace: Option<u64>,
    /// Who submitted it.
    pub submitted_by: Option<String>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The job records and staged uploads in `<data_dir>/jobs/`.
#[derive(Debug, Clone)]
pub struct JobStore {
    dir: PathBuf,
}

impl JobStore {
    /// The store of the index in `data_dir`.
    pub fn new(data_dir: &Path) -> JobStore {
        JobStore {
            dir: data_dir.join("jobs"),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where job `id`'s record is.
    pub fn record_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Where job `id`'s upload is staged.
    pub fn staged_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.upload"))
    }

    /// Writes `bytes` to `path` atomically: a temporary file, synced, renamed over `path`.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    }

    /// Stores a job's record (atomically).
    pub fn save(&self, job: &Job) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(job).map_err(std::io::Error::other)?;
        self.write_atomic(&self.record_path(job.id), &bytes)
    }

    /// Stages an upload's bytes (atomically).
    pub fn stage(&self, id: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.write_atomic(&self.staged_path(id), bytes)
    }

    /// Deletes a job's staged upload, if any.
    pub fn unstage(&self, id: u64) {
        match std::fs::remove_file(self.staged_path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot delete the staged upload of job {id}: {e}"),
        }
    }

    /// Every readable record, by id. Unreadable records and temporary files are logged and
    /// skipped; staged uploads without a record (a crash between staging and recording) are
    /// deleted.
    pub fn load(&self) -> BTreeMap<u64, Job> {
        let mut jobs = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return jobs;
        };
        let mut staged = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name
                .strip_suffix(".upload")
                .and_then(|s| s.parse::<u64>().ok())
            {
                staged.push(id);
            } else if name.ends_with(".json") {
                match std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice::<Job>(&b).map_err(|e| e.to_string()))
                {
                    Ok(job) => {
                        jobs.insert(job.id, job);
                    }
                    Err(e) => tracing::warn!("skipping the job record {}: {e}", path.display()),
                }
            } else if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
            }
        }
        for id in staged {
            if !jobs.contains_key(&id) {
                self.unstage(id);
            }
        }
        jobs
    }
}

/// What the worker and the handlers share.
#[derive(Debug)]
struct Inner {
    store: JobStore,
    assistant: SharedAssistant,
    jobs: Mutex<BTreeMap<u64, Job>>,
    next_id: AtomicU64,
    queue: mpsc::UnboundedSender<u64>,
    updates: broadcast::Sender<Job>,
    stopping: AtomicBool,
    stop: Notify,
    /// Set when the server shuts down: the progress streams end.
    closing: tokio::sync::watch::Sender<bool>,
    worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The job queue with its single worker (cheap to clone).
#[derive(Debug, Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

/// How a job run ended.
enum Outcome {
    Done(Value),
    Failed(ApiError),
    /// Stopped by the server's shutdown; queued again for the next start.
    Interrupted,
}

impl Jobs {
    /// Loads the jobs of `<data_dir>/jobs/`, queues again those a killed server left queued
    /// or running (or fails them when their staged upload is gone), and starts the worker.
    /// Must be called inside a tokio runtime.
    pub fn start(assistant: SharedAssistant) -> Jobs {
        let store = JobStore::new(&assistant.get().config().data_dir);
        if let Err(e) = std::fs::create_dir_all(store.dir()) {
            tracing::error!(
                "cannot create the jobs folder {}: {e}",
                store.dir().display()
            );
        }
        let mut loaded = store.load();
        let next_id = loaded.keys().next_back().map_or(1, |id| id + 1);
        let mut resume = Vec::new();
        for job in loaded.values_mut() {
            if job.state.is_final() {
                continue;
            }
            if job.kind == JobKind::Upload && !store.staged_path(job.id).is_file() {
                job.fail(&ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "staged_file_missing",
                    format!(
                        "the server stopped during this job and its staged upload {} is gone: upload the file again",
                        store.staged_path(job.id).display()
                    ),
                ));
            } else {
                job.state = JobState::Queued;
                job.progress = JobProgress::default();
                resume.push(job.id);
            }
            if let Err(e) = store.save(job) {
                tracing::error!("cannot update the record of job {}: {e}", job.id);
            }
        }
        // Keep the newest finished jobs.
        let finished: Vec<u64> = loaded
            .values()
            .filter(|j| j.state.is_final())
            .map(|j| j.id)
            .collect();
        if finished.len() > KEEP_FINISHED {
            for id in &finished[..finished.len() - KEEP_FINISHED] {
                loaded.remove(id);
                let _ = std::fs::remove_file(store.record_path(*id));
                store.unstage(*id);
            }
        }
        if !resume.is_empty() {
            eprintln!(
                "itassist: resuming {} job(s) interrupted by the last shutdown: {:?}",
                resume.len(),
                resume
            );
        }
        let (queue, receiver) = mpsc::unbounded_channel();
        let (updates, _) = broadcast::channel(1024);
        let jobs = Jobs {
            inner: Arc::new(Inner {
                store,
                assistant,
                jobs: Mutex::new(loaded),
                next_id: AtomicU64::new(next_id),
                queue,
                updates,
                stopping: AtomicBool::new(false),
                stop: Notify::new(),
                closing: tokio::sync::watch::Sender::new(false),
                worker: Mutex::new(None),
            }),
        };
        for id in resume {
            let _ = jobs.inner.queue.send(id);
        }
        let worker = tokio::spawn(jobs.clone().work(receiver));
        if let Ok(mut slot) = jobs.inner.worker.lock() {
            *slot = Some(worker);
        }
        jobs
    }

    /// The store (records and staged uploads).
    pub fn store(&self) -> &JobStore {
        &self.inner.store
    }

    /// A job, by id.
    pub fn get(&self, id: u64) -> Option<Job> {
        self.lock().get(&id).cloned()
    }

    /// The newest `limit` jobs, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Job> {
        self.lock().values().rev().take(limit).cloned().collect()
    }

    /// A queued or running job of this kind, if any.
    pub fn active(&self, kind: JobKind) -> Option<Job> {
        self.lock()
            .values()
            .find(|j| j.kind == kind && !j.state.is_final())
            .cloned()
    }

    /// Every change of every job, from now on (progress, state). A slow subscriber may miss
    /// updates (`Lagged`): [`Jobs::get`] gives the current state.
    pub fn subscribe(&self) -> broadcast::Receiver<Job> {
        self.inner.updates.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Job>> {
        self.inner.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Updates job `id`, stores its record when `persist`, and tells subscribers.
    ///
    /// A persisted change is written to disk before it is visible in memory (the lock is held
    /// across the write), so what the API reports survives a crash: a job seen `running` has
    /// its attempt on record.
    fn update(&self, id: u64, persist: bool, change: impl FnOnce(&mut Job)) -> Option<Job> {
        let job = {
            let mut jobs = self.lock();
            let job = jobs.get_mut(&id)?;
            let mut changed = job.clone();
            change(&mut changed);
            if persist {
                if let Err(e) = self.inner.store.save(&changed) {
                    tracing::error!("cannot store the record of job {id}: {e}");
                }
            }
            *job = changed.clone();
            changed
        };
        let _ = self.inner.updates.send(job.clone());
        Some(job)
    }

    /// Records a new job (on disk first, then in memory) and queues it.
    fn enqueue(&self, job: Job) -> std::io::Result<Job> {
        self.inner.store.save(&job)?;
        self.lock().insert(job.id, job.clone());
        let _ = self.inner.updates.send(job.clone());
        let _ = self.inner.queue.send(job.id);
        Ok(job)
    }

    /// Stages an upload and queues its job (blocking file I/O: call it from a blocking task).
    pub fn submit_upload(&self, upload: NewUpload) -> Result<Job, ApiError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        let mut job = Job::new(id, JobKind::Upload);
        job.size = Some(upload.bytes.len() as u64);
        job.sha256 = Some(hex::encode(Sha256::digest(&upload.bytes)));
        if upload.original_name != upload.name {
            job.original_name = Some(upload.original_name);
        }
        job.name = Some(upload.name);
        job.replace = upload.replace;
        job.submitted_by = upload.submitted_by;
        let io = |e: std::io::Error| ApiError::from(itassist::Error::io(self.inner.store.dir(), e));
        self.inner.store.stage(id, &upload.bytes).map_err(io)?;
        self.enqueue(job).map_err(|e| {
            self.inner.store.unstage(id);
            io(e)
        })
    }

    /// Queues a re-index with `model` (the configured one when `None`).
    pub fn submit_reindex(
        &self,
        model: Option<String>,
        submitted_by: Option<String>,
    ) -> Result<Job, ApiError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        let mut job = Job::new(id, JobKind::Reindex);
        job.model = Some(
            model.unwrap_or_else(|| self.inner.assistant.get().config().embedding.model.clone()),
        );
        job.submitted_by = submitted_by;
        self.enqueue(job)
            .map_err(|e| ApiError::from(itassist::Error::io(self.inner.store.dir(), e)))
    }

    /// Ends the progress streams (called when the server starts shutting down, so that
    /// open streams do not hold the graceful shutdown).
    pub fn close_streams(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Completes once [`Jobs::close_streams`] was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.inner.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }

    /// Stops the worker: a re-index in flight is cancelled (its job is queued again for the
    /// next start), an upload in flight is finished. Returns once the worker has stopped.
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.stop.notify_one();
        let worker = self.inner.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(worker) = worker {
            let _ = worker.await;
        }
    }

    fn stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }

    /// The worker: runs queued jobs one at a time until [`Jobs::shutdown`].
    async fn work(self, mut receiver: mpsc::UnboundedReceiver<u64>) {
        loop {
            let id = tokio::select! {
                id = receiver.recv() => match id { Some(id) => id, None => break },
                () = self.inner.stop.notified() => break,
            };
            if self.stopping() {
                break;
            }
            let Some(job) = self.update(id, true, |job| {
                job.state = JobState::Running;
                job.attempts += 1;
                job.started_at = Some(now());
                job.progress = JobProgress::default();
            }) else {
                continue;
            };
            let runner = self.clone();
            let outcome = tokio::task::spawn_blocking(move || runner.run(&job))
                .await
                .unwrap_or_else(|e| Outcome::Failed(ApiError::from(e)));
            let (ended, log) = match outcome {
                Outcome::Done(result) => {
                    self.update(id, true, |job| {
                        job.state = JobState::Done;
                        job.result = Some(result);
                        job.finished_at = Some(now());
                    });
                    (true, format!("job {id} done"))
                }
                Outcome::Failed(error) => {
                    let message = format!("job {id} failed: {}: {}", error.code, error.message);
                    self.update(id, true, |job| job.fail(&error));
                    (true, message)
                }
                Outcome::Interrupted => {
                    self.update(id, true, |job| {
                        job.state = JobState::Queued;
                        job.progress = JobProgress::default();
                    });
                    (
                        false,
                        format!(
                            "job {id} interrupted by the shutdown; it resumes at the next start"
                        ),
                    )
                }
            };
            if ended {
                self.inner.store.unstage(id);
                tracing::info!("{log}");
            } else {
                eprintln!("itassist: {log}");
            }
        }
    }

    /// Runs one job (blocking).
    fn run(&self, job: &Job) -> Outcome {
        match job.kind {
            JobKind::Upload => self.run_upload(job),
            JobKind::Reindex => self.run_reindex(job),
        }
    }

    fn run_upload(&self, job: &Job) -> Outcome {
        let staged = self.inner.store.staged_path(job.id);
        let bytes = match std::fs::read(&staged) {
            Ok(bytes) => bytes,
            Err(e) => {
                return Outcome::Failed(ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "staged_file_missing",
                    format!(
                        "cannot read the staged upload {}: {e}: upload the file again",
                        staged.display()
                    ),
                ))
            }
        };
        let name = job.name.clone().unwrap_or_else(|| "upload".into());
        let assistant = self.inner.assistant.get();
        let id = job.id;
        let progress = |event: &IngestEvent| {
            if let IngestEvent::Embedded {
                chunks_done,
                chunks_total,
                ..
            } = event
            {
                self.update(id, false, |job| {
                    job.progress.phase = Some("embedding".into());
                    job.progress.chunks_done = Some(*chunks_done as u64);
                    job.progress.chunks_total = Some(*chunks_total as u64);
                });
            }
            Flow::Continue(())
        };
        let report = match job.replace {
            Some(doc) => assistant.replace_bytes_with_progress(doc, &name, &bytes, &progress),
            None => assistant.ingest_bytes_with_progress(&name, &bytes, &progress),
        };
        let report = match report {
            Ok(report) => report,
            Err(e) => return Outcome::Failed(ApiError::from(e)),
        };
        if let Some(document) = report.status.document() {
            let (chunks, pages) = (document.chunk_count as u64, document.page_count);
            self.update(id, false, |job| {
                job.progress.phase = None;
                job.progress.chunks_done = Some(chunks);
                job.progress.chunks_total = Some(chunks);
                job.progress.pages_total = pages.map(|p| p as u64);
            });
        }
        let (entry, failure) = crate::upload::file_entry(
            &report,
            &name,
            job.original_name.as_deref().unwrap_or(&name),
            bytes.len(),
            job.sha256.clone().unwrap_or_default(),
        );
        match failure {
            Some(error) => {
                self.update(id, false, |job| job.result = Some(entry));
                Outcome::Failed(error)
            }
            None => Outcome::Done(entry),
        }
    }

    fn run_reindex(&self, job: &Job) -> Outcome {
        let current = self.inner.assistant.get();
        let mut config = current.config().clone();
        if let Some(model) = &job.model {
            config.embedding.model = model.clone();
        }
        // The new model is loaded first, so that the swap below only opens the index.
        let embedder: Arc<dyn Embedder> = match FastEmbedder::new(&config.embedding) {
            Ok(e) => Arc::new(e),
            Err(e) => return Outcome::Failed(ApiError::from(e)),
        };
        let id = job.id;
        let progress = |event: &ReindexEvent| {
            self.update(id, false, |job| match event {
                ReindexEvent::Started { chunks, .. } => {
                    job.progress.phase = Some("embedding".into());
                    job.progress.chunks_done = Some(0);
                    job.progress.chunks_total = Some(*chunks);
                }
                ReindexEvent::Embedded { done, total } => {
                    job.progress.chunks_done = Some(*done);
                    job.progress.chunks_total = Some(*total);
                }
                ReindexEvent::BuildingIndex => job.progress.phase = Some("building_index".into()),
                ReindexEvent::Swapping => job.progress.phase = Some("swapping".into()),
                _ => {}
            });
            if self.stopping() {
                Flow::Break(())
            } else {
                Flow::Continue(())
            }
        };
        let report = match Assistant::reindex_with_embedder(&config, &*embedder, &progress) {
            Ok(report) => report,
            Err(e) => return Outcome::Failed(ApiError::from(e)),
        };
        if report.cancelled {
            return Outcome::Interrupted;
        }
        match Assistant::with_embedder(config, embedder) {
            Ok(fresh) => self.inner.assistant.replace(Arc::new(fresh)),
            Err(e) => return Outcome::Failed(ApiError::from(e)),
        }
        eprintln!(
            "itassist: re-indexed {} chunks: {} -> {}; searches use the new model now",
            report.chunks, report.previous_model, report.model
        );
        Outcome::Done(serde_json::to_value(&report).unwrap_or(Value::Null))
    }
}
