//! `itassist.Assistant`: the core [`itassist::Assistant`] behind a Python class.
//!
//! The class keeps the configuration and the id of the process that opened the core. When a
//! call comes from another process (a child made by `fork()`: multiprocessing, gunicorn), the
//! inherited core is dropped (its ONNX session is leaked by the core, its LMDB environment
//! closed) and a new one is opened from the same configuration.
//!
//! Sync methods release the GIL while the core works; the underscore-prefixed `_a*` methods
//! return `asyncio` futures and back `itassist.AsyncAssistant`.

use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures_util::StreamExt;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyStopAsyncIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use itassist::{AskEvent, AskOptions, AskStream, Config, IngestEvent};

use crate::error::{to_py, IntoPyResult};
use crate::runtime::{self, in_process_pool};
use crate::types::{Answer, Document, FileReport, IndexStats, IngestReport, ModelInfo, Passage};

type Core = itassist::Assistant;

/// Locks a mutex, recovering the data if a panic poisoned it (the data is only ever
/// replaced whole).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The configuration and the core opened from it, per process.
pub struct Handle {
    config: Config,
    opened: Mutex<Option<(u32, Arc<Core>)>>,
}

impl Handle {
    fn new(config: Config) -> Self {
        Handle {
            config,
            opened: Mutex::new(None),
        }
    }

    /// The core for this process, opening it on first use and again after a fork.
    /// Blocking (loads the embedding model); call it without the GIL.
    fn core(&self) -> itassist::Result<Arc<Core>> {
        let pid = std::process::id();
        let mut opened = lock(&self.opened);
        if let Some((owner, core)) = opened.as_ref() {
            if *owner == pid {
                return Ok(core.clone());
            }
        }
        // Inherited from the parent (or never opened): drop it before reopening, since an
        // LMDB environment can be open only once per process.
        *opened = None;
        let core = shared_core(&self.config)?;
        *opened = Some((pid, core.clone()));
        Ok(core)
    }

    /// Forgets the core (it closes when no other `Assistant` of this process uses it).
    fn close(&self) {
        *lock(&self.opened) = None;
    }

    /// Whether the core is open in this process.
    fn is_open(&self) -> bool {
        lock(&self.opened)
            .as_ref()
            .is_some_and(|(pid, _)| *pid == std::process::id())
    }
}

/// The cores open in this process, by canonical data directory: LMDB (and so the core)
/// allows one open environment per directory and process, so a second `Assistant` over the
/// same directory with the same settings (a re-run notebook cell) shares the first one's core.
type Registry = Mutex<Vec<(u32, PathBuf, String, Weak<Core>)>>;
static OPEN_CORES: Registry = Mutex::new(Vec::new());

/// The settings that must match for two assistants to share a core.
fn config_key(config: &Config) -> String {
    let mut key = serde_json::to_string(config).unwrap_or_default();
    if let Some(api_key) = &config.answer.api_key {
        key.push_str(api_key);
    }
    key
}

/// Opens the core of `config`, or shares the one already open in this process.
fn shared_core(config: &Config) -> itassist::Result<Arc<Core>> {
    let pid = std::process::id();
    let dir = config.data_dir.canonicalize().ok();
    let key = config_key(config);
    let mut open = lock(&OPEN_CORES);
    // Entries of other processes (before a fork) or of closed cores are stale.
    open.retain(|(p, _, _, core)| *p == pid && core.strong_count() > 0);
    if let Some(dir) = &dir {
        for (_, d, k, core) in open.iter() {
            if d != dir {
                continue;
            }
            if let Some(core) = core.upgrade() {
                if *k == key {
                    return Ok(core);
                }
                return Err(itassist::Error::InvalidInput(format!(
                    "the index at {} is already open in this process with other settings: close \
                     the other Assistant (`close()` or `del`) or open it with the same settings",
                    dir.display()
                )));
            }
        }
    }
    let core = Arc::new(Core::open(config.clone())?);
    if let Ok(dir) = config.data_dir.canonicalize() {
        open.push((pid, dir, key, Arc::downgrade(&core)));
    }
    Ok(core)
}

/// Runs blocking core work on this process's pool with the core opened.
fn with_core<T: Send>(
    handle: &Handle,
    work: impl FnOnce(&Core) -> itassist::Result<T> + Send,
) -> itassist::Result<T> {
    in_process_pool(|| handle.core().and_then(|core| work(&core)))
}

/// Returns an awaitable that runs `work` on the blocking pool, then `convert` with the GIL.
fn spawn_blocking_py<'py, T, W, C>(
    py: Python<'py>,
    handle: Arc<Handle>,
    work: W,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    W: FnOnce(&Core) -> itassist::Result<T> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    runtime::future_into_py(py, async move {
        let task = tokio::task::spawn_blocking(move || {
            let outcome = with_core(&handle, work);
            Python::attach(|py| convert(py, outcome.py()?))
        });
        task.await
            .map_err(|e| PyRuntimeError::new_err(format!("itassist task failed: {e}")))?
    })
}

/// The core opened for this process, without blocking the event loop.
async fn core_async(handle: Arc<Handle>) -> itassist::Result<Arc<Core>> {
    tokio::task::spawn_blocking(move || in_process_pool(|| handle.core()))
        .await
        .map_err(|e| itassist::Error::Index {
            reason: format!("opening the assistant failed: {e}"),
            source: None,
        })?
}

/// `str`, `os.PathLike` or a sequence of them.
fn extract_paths(paths: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(one) = paths.extract::<PathBuf>() {
        return Ok(vec![one]);
    }
    paths.extract::<Vec<PathBuf>>().map_err(|_| {
        PyTypeError::new_err("paths must be a str, an os.PathLike, or a sequence of them")
    })
}

/// `str` or a sequence of `str`.
fn extract_texts(texts: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(one) = texts.cast::<PyString>() {
        return Ok(vec![one.to_cow()?.into_owned()]);
    }
    texts
        .extract::<Vec<String>>()
        .map_err(|_| PyTypeError::new_err("texts must be a str or a sequence of str"))
}

/// A document selector: id (`int`), `Document`, path, `upload:NAME` or display name.
fn extract_selector(doc: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(d) = doc.cast::<Document>() {
        return Ok(d.get().0.id.to_string());
    }
    if let Ok(id) = doc.extract::<u64>() {
        return Ok(id.to_string());
    }
    if let Ok(path) = doc.extract::<PathBuf>() {
        return Ok(path.to_string_lossy().into_owned());
    }
    Err(PyTypeError::new_err(
        "doc must be a Document, an id (int), a path, 'upload:NAME' or a document name",
    ))
}

/// Vectors as a float32 array of shape `[n, dimensions]`.
fn vectors_to_numpy(
    py: Python<'_>,
    vectors: Vec<Vec<f32>>,
    dimensions: usize,
) -> PyResult<Py<PyAny>> {
    let rows = vectors.len();
    let mut flat = Vec::with_capacity(rows * dimensions);
    for v in vectors {
        if v.len() != dimensions {
            return Err(PyRuntimeError::new_err(format!(
                "the embedder returned a vector of length {} instead of {dimensions}",
                v.len()
            )));
        }
        flat.extend_from_slice(&v);
    }
    Ok(PyArray1::from_vec(py, flat)
        .reshape([rows, dimensions])?
        .into_any()
        .unbind())
}

fn passages_to_py(py: Python<'_>, passages: Vec<itassist::Passage>) -> PyResult<Py<PyAny>> {
    let list: Vec<Passage> = passages.into_iter().map(Passage).collect();
    Ok(list.into_pyobject(py)?.into_any().unbind())
}

/// Payload of the unwind that stops an ingest run between two files.
struct StopIngest;

/// Runs an ingest (without the GIL), reporting each file to `progress` and stopping after the
/// current file on Ctrl-C, when `progress` raises, or when `cancelled` is set.
fn run_ingest(
    core: &Core,
    inputs: &[PathBuf],
    progress: Option<&Py<PyAny>>,
    cancelled: Option<&AtomicBool>,
) -> PyResult<itassist::IngestReport> {
    let stop: Mutex<Option<PyErr>> = Mutex::new(None);
    let total = Cell::new(0usize);
    let done = Cell::new(0usize);
    let on_event = |event: &IngestEvent| {
        let file = match event {
            IngestEvent::Discovered { files } => {
                total.set(*files);
                return;
            }
            IngestEvent::File(file) => file,
            _ => return,
        };
        done.set(done.get() + 1);
        let outcome = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if cancelled.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(PyRuntimeError::new_err("ingest cancelled"));
            }
            if let Some(callback) = progress {
                callback.call1(
                    py,
                    (
                        done.get(),
                        total.get(),
                        file.path.to_string_lossy().into_owned(),
                        file.status.label(),
                    ),
                )?;
            }
            Ok(())
        });
        if let Err(e) = outcome {
            *lock(&stop) = Some(e);
            // Leaves the core's loop between two files: every written document is committed,
            // the file being parsed ahead is dropped. `resume_unwind` skips the panic hook.
            resume_unwind(Box::new(StopIngest));
        }
    };
    match catch_unwind(AssertUnwindSafe(|| {
        core.ingest_with_progress(inputs, &on_event)
    })) {
        Ok(report) => report.map_err(to_py),
        Err(payload) if payload.is::<StopIngest>() => {
            // The run stopped before its final tree build; do it so searches use the trees.
            let _ = core.index().build_trees();
            Err(lock(&stop)
                .take()
                .unwrap_or_else(|| PyRuntimeError::new_err("ingest stopped")))
        }
        Err(payload) => resume_unwind(payload),
    }
}

/// Sets a flag when dropped: tells a blocking ingest that its awaiting task was cancelled.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[allow(clippy::too_many_arguments)]
fn ask_options(
    model: Option<String>,
    top_k: Option<usize>,
    no_context: bool,
    temperature: Option<f32>,
    num_ctx: Option<u32>,
    num_predict: Option<u32>,
    seed: Option<u64>,
) -> AskOptions {
    AskOptions {
        model,
        top_k,
        no_context,
        temperature,
        num_ctx,
        num_predict,
        seed,
    }
}

/// A local document assistant over one index directory.
///
/// Opens (or creates) the index in `data_dir` and loads the embedding model (unless
/// `lazy=True`, which defers both to the first call). Every keyword argument defaults to the
/// core's default. Safe to share between threads; keeps working in a child after `os.fork()`.
#[pyclass(frozen, module = "itassist")]
pub struct Assistant {
    handle: Arc<Handle>,
}

#[pymethods]
impl Assistant {
    #[new]
    #[pyo3(signature = (
        data_dir,
        *,
        model_dir = None,
        embedding_model = itassist::DEFAULT_EMBEDDING_MODEL.to_string(),
        onnxruntime = None,
        top_k = 5,
        chunk_tokens = 128,
        chunk_overlap = 32,
        ocr = true,
        ocr_languages = vec!["eng".to_string(), "spa".to_string()],
        ollama_url = None,
        backend = "ollama".to_string(),
        model = None,
        temperature = None,
        num_ctx = None,
        num_predict = Some(512),
        seed = None,
        api_key = None,
        batch_size = 32,
        threads = None,
        connect_timeout = 5.0,
        request_timeout = 30.0,
        generation_timeout = 600.0,
        lazy = false,
    ))]
    #[pyo3(
        text_signature = "(data_dir, *, model_dir=None, embedding_model='sentence-transformers/all-MiniLM-L6-v2', onnxruntime=None, top_k=5, chunk_tokens=128, chunk_overlap=32, ocr=True, ocr_languages=('eng', 'spa'), ollama_url=None, backend='ollama', model=None, temperature=None, num_ctx=None, num_predict=512, seed=None, api_key=None, batch_size=32, threads=None, connect_timeout=5.0, request_timeout=30.0, generation_timeout=600.0, lazy=False)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        data_dir: PathBuf,
        model_dir: Option<PathBuf>,
        embedding_model: String,
        onnxruntime: Option<PathBuf>,
        top_k: usize,
        chunk_tokens: usize,
        chunk_overlap: usize,
        ocr: bool,
        ocr_languages: Vec<String>,
        ollama_url: Option<String>,
        backend: String,
        model: Option<String>,
        temperature: Option<f32>,
        num_ctx: Option<u32>,
        num_predict: Option<u32>,
        seed: Option<u64>,
        api_key: Option<String>,
        batch_size: usize,
        threads: Option<usize>,
        connect_timeout: f64,
        request_timeout: f64,
        generation_timeout: f64,
        lazy: bool,
    ) -> PyResult<Self> {
        let mut config = Config::new(data_dir);
        if model_dir.is_some() {
            config.embedding.model_dir = model_dir;
        }
        config.embedding.model = embedding_model;
        if onnxruntime.is_some() {
            config.embedding.onnxruntime = onnxruntime;
        } else if std::env::var_os("ORT_DYLIB_PATH").is_none() {
            config.embedding.onnxruntime = default_onnxruntime(py);
        }
        config.embedding.batch_size = batch_size;
        config.embedding.threads = threads;
        config.retrieval.top_k = top_k;
        config.chunking.max_tokens = chunk_tokens;
        config.chunking.overlap_tokens = chunk_overlap;
        config.loading.ocr = ocr;
        config.loading.ocr_languages = ocr_languages;
        if let Some(url) = ollama_url {
            config.answer.base_url = url;
        }
        config.answer.backend = backend.parse().py()?;
        if let Some(model) = model {
            config.answer.model = model;
        }
        config.answer.temperature = temperature;
        config.answer.num_ctx = num_ctx;
        config.answer.num_predict = num_predict;
        config.answer.seed = seed;
        config.answer.api_key = api_key;
        config.answer.connect_timeout_secs = connect_timeout;
        config.answer.request_timeout_secs = request_timeout;
        config.answer.generation_timeout_secs = generation_timeout;
        config.validate().py()?;
        Self::from_config(py, config, lazy)
    }

    /// The index directory.
    #[getter]
    fn data_dir(&self) -> PathBuf {
        self.handle.config.data_dir.clone()
    }

    /// The configuration in use, as a dict (the core's `Config`, secrets left out).
    #[getter]
    fn config(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let text = serde_json::to_string(&self.handle.config)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
    }

    /// Whether the index and the model are open in this process.
    #[getter]
    fn is_open(&self) -> bool {
        self.handle.is_open()
    }

    /// Opens the index and loads the embedding model now (a no-op when already open).
    fn open(&self, py: Python<'_>) -> PyResult<()> {
        let handle = self.handle.clone();
        py.detach(|| in_process_pool(|| handle.core().map(drop)))
            .py()
    }

    /// Releases the index and the model (the next call opens them again). The index closes
    /// when no other `Assistant` of this process shares it.
    fn close(&self) {
        self.handle.close();
    }

    /// Ingests files, folders (recursively) and glob patterns.
    ///
    /// Per-file failures are in the report (`report.failures()`), never raised. `progress`,
    /// when given, is called as `progress(done, total, path, status)` after each file. Ctrl-C
    /// (or an exception raised by `progress`) stops the run after the current file; what was
    /// written until then stays.
    #[pyo3(signature = (paths, *, progress = None))]
    fn ingest(
        &self,
        py: Python<'_>,
        paths: &Bound<'_, PyAny>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<IngestReport> {
        let inputs = extract_paths(paths)?;
        let handle = self.handle.clone();
        let report = py.detach(|| {
            in_process_pool(|| {
                let core = handle.core().py()?;
                run_ingest(&core, &inputs, progress.as_ref(), None)
            })
        })?;
        IngestReport::new(py, report)
    }

    /// Ingests one uploaded document given as bytes; `name` is its display name and format
    /// hint, never used as a path.
    fn ingest_bytes(&self, py: Python<'_>, name: &str, data: Vec<u8>) -> PyResult<FileReport> {
        let handle = self.handle.clone();
        let report = py
            .detach(|| with_core(&handle, |core| core.ingest_bytes(name, &data)))
            .py()?;
        Ok(FileReport(report))
    }

    /// The `k` passages that best match `query`, best first (`k` defaults to `top_k`).
    #[pyo3(signature = (query, k = None))]
    fn search(&self, py: Python<'_>, query: &str, k: Option<usize>) -> PyResult<Vec<Passage>> {
        let handle = self.handle.clone();
        let k = k.unwrap_or(handle.config.retrieval.top_k);
        let passages = py
            .detach(|| with_core(&handle, |core| core.search(query, k)))
            .py()?;
        Ok(passages.into_iter().map(Passage).collect())
    }

    /// Embeds texts with the index's model: a float32 array of shape `[len(texts), dim]`
    /// (L2-normalised rows). A single `str` gives one row.
    fn embed(&self, py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let texts = extract_texts(texts)?;
        let handle = self.handle.clone();
        let (vectors, dims) = py
            .detach(|| {
                with_core(&handle, |core| {
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    Ok((core.embed(&refs)?, core.embedder().dimensions()))
                })
            })
            .py()?;
        vectors_to_numpy(py, vectors, dims)
    }

    /// All documents in the index.
    fn documents(&self, py: Python<'_>) -> PyResult<Vec<Document>> {
        let handle = self.handle.clone();
        let docs = py
            .detach(|| with_core(&handle, |core| core.documents()))
            .py()?;
        Ok(docs.into_iter().map(Document).collect())
    }

    /// Finds a document by id, `Document`, source path, `upload:NAME` or unique display name.
    fn document(&self, py: Python<'_>, doc: &Bound<'_, PyAny>) -> PyResult<Document> {
        let selector = extract_selector(doc)?;
        let handle = self.handle.clone();
        py.detach(|| with_core(&handle, |core| core.find_document(&selector)))
            .py()
            .map(Document)
    }

    /// Removes a document (see `document()` for `doc`) with its chunks and vectors; returns
    /// what was removed.
    fn remove(&self, py: Python<'_>, doc: &Bound<'_, PyAny>) -> PyResult<Document> {
        let selector = extract_selector(doc)?;
        let handle = self.handle.clone();
        py.detach(|| with_core(&handle, |core| core.remove(&selector)))
            .py()
            .map(Document)
    }

    /// Counts and sizes of the index.
    fn stats(&self, py: Python<'_>) -> PyResult<IndexStats> {
        let handle = self.handle.clone();
        py.detach(|| with_core(&handle, |core| core.stats()))
            .py()
            .map(IndexStats)
    }

    /// The models the chat-model server has.
    fn models(&self, py: Python<'_>) -> PyResult<Vec<ModelInfo>> {
        let handle = self.handle.clone();
        let models = runtime::wait(py, async move {
            let core = core_async(handle).await?;
            core.models().await
        })?
        .py()?;
        Ok(models.into_iter().map(ModelInfo).collect())
    }

    /// Answers a question from the indexed documents, with `[n]` citations of its sources.
    /// Keyword arguments override the assistant's defaults for this question.
    #[pyo3(signature = (question, *, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn ask(
        &self,
        py: Python<'_>,
        question: String,
        model: Option<String>,
        top_k: Option<usize>,
        no_context: bool,
        temperature: Option<f32>,
        num_ctx: Option<u32>,
        num_predict: Option<u32>,
        seed: Option<u64>,
    ) -> PyResult<Answer> {
        let options = ask_options(
            model,
            top_k,
            no_context,
            temperature,
            num_ctx,
            num_predict,
            seed,
        );
        let handle = self.handle.clone();
        let answer = runtime::wait(py, async move {
            let core = core_async(handle).await?;
            core.ask(&question, &options).await
        })?
        .py()?;
        Ok(Answer(answer))
    }

    /// Like `ask`, streaming: iterate over the returned `AnswerStream` to get the answer's
    /// tokens (`str`) as the model writes them; afterwards `stream.answer` holds the whole
    /// `Answer` (`stream.sources` is set once the passages are chosen).
    #[pyo3(signature = (question, *, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn ask_stream(
        &self,
        question: String,
        model: Option<String>,
        top_k: Option<usize>,
        no_context: bool,
        temperature: Option<f32>,
        num_ctx: Option<u32>,
        num_predict: Option<u32>,
        seed: Option<u64>,
    ) -> AnswerStream {
        let options = ask_options(
            model,
            top_k,
            no_context,
            temperature,
            num_ctx,
            num_predict,
            seed,
        );
        AnswerStream {
            shared: StreamShared::new(self.handle.clone(), question, options),
        }
    }

    // ----- async variants (awaitables), wrapped by itassist.AsyncAssistant -----

    fn _aopen<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        spawn_blocking_py(py, self.handle.clone(), |_| Ok(()), |py, ()| Ok(py.None()))
    }

    #[pyo3(signature = (paths, progress = None))]
    fn _aingest<'py>(
        &self,
        py: Python<'py>,
        paths: &Bound<'py, PyAny>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inputs = extract_paths(paths)?;
        let handle = self.handle.clone();
        runtime::future_into_py(py, async move {
            let flag = Arc::new(AtomicBool::new(false));
            let guard = CancelOnDrop(flag.clone());
            let task = tokio::task::spawn_blocking(move || {
                let report = in_process_pool(|| {
                    let core = handle.core().py()?;
                    run_ingest(&core, &inputs, progress.as_ref(), Some(&flag))
                })?;
                Python::attach(|py| {
                    IngestReport::new(py, report)
                        .and_then(|r| Py::new(py, r))
                        .map(Py::into_any)
                })
            });
            let result = task
                .await
                .map_err(|e| PyRuntimeError::new_err(format!("itassist task failed: {e}")))?;
            drop(guard);
            result
        })
    }

    fn _aingest_bytes<'py>(
        &self,
        py: Python<'py>,
        name: String,
        data: Vec<u8>,
    ) -> PyResult<Bound<'py, PyAny>> {
        spawn_blocking_py(
            py,
            self.handle.clone(),
            move |core| core.ingest_bytes(&name, &data),
            |py, report| Ok(Py::new(py, FileReport(report))?.into_any()),
        )
    }

    #[pyo3(signature = (query, k = None))]
    fn _asearch<'py>(
        &self,
        py: Python<'py>,
        query: String,
        k: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = k.unwrap_or(self.handle.config.retrieval.top_k);
        spawn_blocking_py(
            py,
            self.handle.clone(),
            move |core| core.search(&query, k),
            passages_to_py,
        )
    }

    fn _aembed<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let texts = extract_texts(texts)?;
        spawn_blocking_py(
            py,
            self.handle.clone(),
            move |core| {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                Ok((core.embed(&refs)?, core.embedder().dimensions()))
            },
            |py, (vectors, dims)| vectors_to_numpy(py, vectors, dims),
        )
    }

    fn _adocuments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        spawn_blocking_py(
            py,
            self.handle.clone(),
            |core| core.documents(),
            |py, docs| {
                let docs: Vec<Document> = docs.into_iter().map(Document).collect();
                Ok(docs.into_pyobject(py)?.into_any().unbind())
            },
        )
    }

    fn _adocument<'py>(
        &self,
        py: Python<'py>,
        doc: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let selector = extract_selector(doc)?;
        spawn_blocking_py(
            py,
            self.handle.clone(),
            move |core| core.find_document(&selector),
            |py, doc| Ok(Py::new(py, Document(doc))?.into_any()),
        )
    }

    fn _aremove<'py>(
        &self,
        py: Python<'py>,
        doc: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let selector = extract_selector(doc)?;
        spawn_blocking_py(
            py,
            self.handle.clone(),
            move |core| core.remove(&selector),
            |py, doc| Ok(Py::new(py, Document(doc))?.into_any()),
        )
    }

    fn _astats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        spawn_blocking_py(
            py,
            self.handle.clone(),
            |core| core.stats(),
            |py, stats| Ok(Py::new(py, IndexStats(stats))?.into_any()),
        )
    }

    fn _amodels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.handle.clone();
        runtime::future_into_py(py, async move {
            let outcome = async {
                let core = core_async(handle).await?;
                core.models().await
            }
            .await;
            finish_async(outcome, |py, models| {
                let models: Vec<ModelInfo> = models.into_iter().map(ModelInfo).collect();
                Ok(models.into_pyobject(py)?.into_any().unbind())
            })
            .await
        })
    }

    #[pyo3(signature = (question, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn _aask<'py>(
        &self,
        py: Python<'py>,
        question: String,
        model: Option<String>,
        top_k: Option<usize>,
        no_context: bool,
        temperature: Option<f32>,
        num_ctx: Option<u32>,
        num_predict: Option<u32>,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = ask_options(
            model,
            top_k,
            no_context,
            temperature,
            num_ctx,
            num_predict,
            seed,
        );
        let handle = self.handle.clone();
        runtime::future_into_py(py, async move {
            let outcome = async {
                let core = core_async(handle).await?;
                core.ask(&question, &options).await
            }
            .await;
            finish_async(outcome, |py, answer| {
                Ok(Py::new(py, Answer(answer))?.into_any())
            })
            .await
        })
    }

    #[pyo3(signature = (question, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn _aask_stream(
        &self,
        question: String,
        model: Option<String>,
        top_k: Option<usize>,
        no_context: bool,
        temperature: Option<f32>,
        num_ctx: Option<u32>,
        num_predict: Option<u32>,
        seed: Option<u64>,
    ) -> AsyncAnswerStream {
        let options = ask_options(
            model,
            top_k,
            no_context,
            temperature,
            num_ctx,
            num_predict,
            seed,
        );
        AsyncAnswerStream {
            shared: StreamShared::new(self.handle.clone(), question, options),
        }
    }

    /// Pickles as its configuration (the API key included): unpickling opens a new
    /// assistant, e.g. in a `spawn`/`forkserver` multiprocessing worker.
    fn __reduce__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let text = serde_json::to_string(&self.handle.config)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let restore = py.get_type::<Assistant>().getattr("_restore")?;
        let args = PyTuple::new(
            py,
            [
                text.into_pyobject(py)?.into_any(),
                self.handle
                    .config
                    .answer
                    .api_key
                    .clone()
                    .into_pyobject(py)?,
            ],
        )?;
        Ok(PyTuple::new(py, [restore, args.into_any()])?
            .into_any()
            .unbind())
    }

    #[staticmethod]
    fn _restore(py: Python<'_>, config: &str, api_key: Option<String>) -> PyResult<Self> {
        let mut config: Config = serde_json::from_str(config)
            .map_err(|e| PyRuntimeError::new_err(format!("bad pickled config: {e}")))?;
        config.answer.api_key = api_key;
        Self::from_config(py, config, false)
    }

    fn __repr__(&self) -> String {
        let c = &self.handle.config;
        format!(
            "Assistant(data_dir={:?}, embedding_model={:?}, model={:?}, ollama_url={:?}, open={})",
            c.data_dir.to_string_lossy(),
            c.embedding.model,
            c.answer.model,
            c.answer.base_url,
            if self.handle.is_open() {
                "True"
            } else {
                "False"
            }
        )
    }
}

impl Assistant {
    fn from_config(py: Python<'_>, config: Config, lazy: bool) -> PyResult<Self> {
        let handle = Arc::new(Handle::new(config));
        if !lazy {
            let h = handle.clone();
            py.detach(|| in_process_pool(|| h.core().map(drop))).py()?;
        }
        Ok(Assistant { handle })
    }
}

/// The ONNX Runtime library of the `onnxruntime` Python package, as found by
/// `itassist._onnxruntime_library()` (None when the package is not installed).
fn default_onnxruntime(py: Python<'_>) -> Option<PathBuf> {
    py.import("itassist")
        .and_then(|m| m.getattr("_onnxruntime_library"))
        .and_then(|f| f.call0())
        .and_then(|p| p.extract::<Option<PathBuf>>())
        .ok()
        .flatten()
}

/// Converts the outcome of an async core call on the blocking pool (it needs the GIL).
async fn finish_async<T: Send + 'static>(
    outcome: itassist::Result<T>,
    convert: impl FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
) -> PyResult<Py<PyAny>> {
    tokio::task::spawn_blocking(move || Python::attach(|py| convert(py, outcome.py()?)))
        .await
        .map_err(|e| PyRuntimeError::new_err(format!("itassist task failed: {e}")))?
}

// ----- streamed answers -----

enum StreamSource {
    /// Not started: the core may still have to be opened.
    Pending {
        handle: Arc<Handle>,
        question: String,
        options: AskOptions,
    },
    Running(AskStream),
    Finished,
}

/// State shared by the sync and async stream classes.
struct StreamShared {
    source: tokio::sync::Mutex<StreamSource>,
    sources: Mutex<Option<(Vec<itassist::Passage>, usize)>>,
    answer: Mutex<Option<itassist::Answer>>,
}

impl StreamShared {
    fn new(handle: Arc<Handle>, question: String, options: AskOptions) -> Arc<Self> {
        Arc::new(StreamShared {
            source: tokio::sync::Mutex::new(StreamSource::Pending {
                handle,
                question,
                options,
            }),
            sources: Mutex::new(None),
            answer: Mutex::new(None),
        })
    }

    /// The next token, or `None` at the end (the answer is then stored).
    async fn next_token(self: Arc<Self>) -> itassist::Result<Option<String>> {
        let mut source = self.source.lock().await;
        loop {
            match &mut *source {
                StreamSource::Finished => return Ok(None),
                StreamSource::Pending { .. } => {
                    let StreamSource::Pending {
                        handle,
                        question,
                        options,
                    } = std::mem::replace(&mut *source, StreamSource::Finished)
                    else {
                        continue;
                    };
                    let core = core_async(handle).await?;
                    *source = StreamSource::Running(core.ask_stream(&question, options));
                }
                StreamSource::Running(events) => match events.next().await {
                    None => {
                        *source = StreamSource::Finished;
                        return Ok(None);
                    }
                    Some(Err(e)) => {
                        *source = StreamSource::Finished;
                        return Err(e);
                    }
                    Some(Ok(AskEvent::Token { text })) => return Ok(Some(text)),
                    Some(Ok(AskEvent::Sources {
                        sources,
                        dropped_passages,
                    })) => {
                        *lock(&self.sources) = Some((sources, dropped_passages));
                    }
                    Some(Ok(AskEvent::Done { answer })) => {
                        *lock(&self.answer) = Some(*answer);
                        *source = StreamSource::Finished;
                        return Ok(None);
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
    }

    fn answer(&self) -> Option<Answer> {
        lock(&self.answer).clone().map(Answer)
    }

    fn sources(&self) -> Option<Vec<Passage>> {
        lock(&self.sources)
            .as_ref()
            .map(|(s, _)| s.iter().cloned().map(Passage).collect())
    }

    fn dropped_passages(&self) -> Option<usize> {
        lock(&self.sources).as_ref().map(|(_, d)| *d)
    }
}

/// A streamed answer: iterate to get its tokens; then `.answer` is the whole `Answer`.
#[pyclass(frozen, module = "itassist")]
pub struct AnswerStream {
    shared: Arc<StreamShared>,
}

#[pymethods]
impl AnswerStream {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let shared = self.shared.clone();
        runtime::wait(py, shared.next_token())?.py()
    }

    /// The whole answer, once the stream is exhausted (else `None`).
    #[getter]
    fn answer(&self) -> Option<Answer> {
        self.shared.answer()
    }

    /// The passages given to the model (numbered from 1), once chosen (else `None`).
    #[getter]
    fn sources(&self) -> Option<Vec<Passage>> {
        self.shared.sources()
    }

    /// Retrieved passages left out because they did not fit the window (once known).
    #[getter]
    fn dropped_passages(&self) -> Option<usize> {
        self.shared.dropped_passages()
    }

    fn __repr__(&self) -> String {
        format!(
            "AnswerStream(done={})",
            if self.shared.answer().is_some() {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// A streamed answer for `async for`: yields tokens; then `.answer` is the whole `Answer`.
#[pyclass(frozen, module = "itassist")]
pub struct AsyncAnswerStream {
    shared: Arc<StreamShared>,
}

#[pymethods]
impl AsyncAnswerStream {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        runtime::future_into_py(py, async move {
            match shared.next_token().await {
                Ok(Some(token)) => Ok(token),
                Ok(None) => Err(PyStopAsyncIteration::new_err(())),
                Err(e) => Err(to_py(e)),
            }
        })
    }

    /// The whole answer, once the stream is exhausted (else `None`).
    #[getter]
    fn answer(&self) -> Option<Answer> {
        self.shared.answer()
    }

    /// The passages given to the model (numbered from 1), once chosen (else `None`).
    #[getter]
    fn sources(&self) -> Option<Vec<Passage>> {
        self.shared.sources()
    }

    /// Retrieved passages left out because they did not fit the window (once known).
    #[getter]
    fn dropped_passages(&self) -> Option<usize> {
        self.shared.dropped_passages()
    }

    fn __repr__(&self) -> String {
        format!(
            "AsyncAnswerStream(done={})",
            if self.shared.answer().is_some() {
                "True"
            } else {
                "False"
            }
        )
    }
}
