//! `itassist.Assistant`: the core [`itassist::Assistant`] behind a Python class.
//!
//! The class keeps the configuration and the id of the process that opened the core. When a
//! call comes from another process (a child made by `fork()`: multiprocessing, gunicorn), the
//! inherited core is dropped (its ONNX session is leaked by the core, its LMDB environment
//! closed) and a new one is opened from the same configuration. Two `Assistant`s over one
//! directory each open a core; the core shares the LMDB environment between them.
//!
//! Each operation is written once (see [`crate::op`]): its blocking method releases the GIL
//! while the core works, and its underscore-prefixed async twin (`_asearch`, ...) returns an
//! `asyncio` awaitable and backs `itassist.AsyncAssistant`.

use std::cell::Cell;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use itassist::{AskOptions, Config, IngestEvent};

use crate::answer::AskRequest;
use crate::error::{to_py, IntoPyResult};
use crate::op::{lock, twin_methods, Core, Handle, Op, Operation};
use crate::types::{
    extract_paths, extract_selector, extract_texts, vectors_to_numpy, Answer, Document, FileReport,
    IndexStats, IngestReport, ModelInfo, Passage,
};

/// A local document assistant over one index directory.
///
/// Opens (or creates) the index in `data_dir` and loads the embedding model (unless
/// `lazy=True`, which defers both to the first call). Every keyword argument defaults to the
/// core's default. Safe to share between threads; keeps working in a child after `os.fork()`.
#[pyclass(frozen, module = "itassist")]
pub struct Assistant {
    handle: Arc<Handle>,
}

twin_methods! {
    impl Assistant / AssistantOps {
        /// Opens the index and loads the embedding model now (a no-op when already open).
        #[pyo3(signature = ())]
        fn open(&self) -> Op<()> {
            Ok(Op::blocking(&self.handle, |_| Ok(()), |_, ()| Ok(())))
        }
        #[pyo3(signature = ())]
        async fn _aopen;

        /// Ingests files, folders (recursively) and glob patterns.
        ///
        /// Per-file failures are in the report (`report.failures()`), never raised. `progress`,
        /// when given, is called as `progress(done, total, path, status)` after each file. Ctrl-C
        /// (or an exception raised by `progress`) stops the run after the current file; what was
        /// written until then stays.
        #[pyo3(signature = (paths, *, progress = None))]
        fn ingest(
            &self,
            paths: &Bound<'py, PyAny>,
            progress: Option<Py<PyAny>>,
        ) -> Op<IngestReport> {
            let inputs = extract_paths(paths)?;
            Ok(Op::cancellable(
                &self.handle,
                move |core, cancelled| run_ingest(core, &inputs, progress.as_ref(), cancelled),
                IngestReport::new,
            ))
        }
        #[pyo3(signature = (paths, progress = None))]
        async fn _aingest;

        /// Ingests one uploaded document given as bytes; `name` is its display name and format
        /// hint, never used as a path.
        #[pyo3(signature = (name, data))]
        fn ingest_bytes(&self, name: String, data: Vec<u8>) -> Op<FileReport> {
            Ok(Op::blocking(
                &self.handle,
                move |core| core.ingest_bytes(&name, &data),
                |_, report| Ok(FileReport(report)),
            ))
        }
        #[pyo3(signature = (name, data))]
        async fn _aingest_bytes;

        /// The `k` passages that best match `query`, best first (`k` defaults to `top_k`).
        #[pyo3(signature = (query, k = None))]
        fn search(&self, query: String, k: Option<usize>) -> Op<Vec<Passage>> {
            let k = k.unwrap_or(self.handle.config.retrieval.top_k);
            Ok(Op::blocking(
                &self.handle,
                move |core| core.search(&query, k),
                |_, passages| Ok(passages.into_iter().map(Passage).collect()),
            ))
        }
        #[pyo3(signature = (query, k = None))]
        async fn _asearch;

        /// Embeds texts with the index's model: a float32 array of shape `[len(texts), dim]`
        /// (L2-normalised rows). A single `str` gives one row.
        #[pyo3(signature = (texts))]
        fn embed(&self, texts: &Bound<'py, PyAny>) -> Op<Py<PyAny>> {
            let texts = extract_texts(texts)?;
            Ok(Op::blocking(
                &self.handle,
                move |core| {
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    Ok((core.embed(&refs)?, core.embedder().dimensions()))
                },
                |py, (vectors, dims)| vectors_to_numpy(py, vectors, dims),
            ))
        }
        #[pyo3(signature = (texts))]
        async fn _aembed;

        /// All documents in the index.
        #[pyo3(signature = ())]
        fn documents(&self) -> Op<Vec<Document>> {
            Ok(Op::blocking(
                &self.handle,
                |core| core.documents(),
                |_, docs| Ok(docs.into_iter().map(Document).collect()),
            ))
        }
        #[pyo3(signature = ())]
        async fn _adocuments;

        /// Finds a document by id, `Document`, source path, `upload:NAME` or unique display
        /// name.
        #[pyo3(signature = (doc))]
        fn document(&self, doc: &Bound<'py, PyAny>) -> Op<Document> {
            self.on_document(doc, |core, selector| core.find_document(selector))
        }
        #[pyo3(signature = (doc))]
        async fn _adocument;

        /// Removes a document (see `document()` for `doc`) with its chunks and vectors; returns
        /// what was removed.
        #[pyo3(signature = (doc))]
        fn remove(&self, doc: &Bound<'py, PyAny>) -> Op<Document> {
            self.on_document(doc, |core, selector| core.remove(selector))
        }
        #[pyo3(signature = (doc))]
        async fn _aremove;

        /// Counts and sizes of the index.
        #[pyo3(signature = ())]
        fn stats(&self) -> Op<IndexStats> {
            Ok(Op::blocking(
                &self.handle,
                |core| core.stats(),
                |_, stats| Ok(IndexStats(stats)),
            ))
        }
        #[pyo3(signature = ())]
        async fn _astats;

        /// The models the chat-model server has.
        #[pyo3(signature = ())]
        fn models(&self) -> Op<Vec<ModelInfo>> {
            Ok(Op::future(
                &self.handle,
                |core| async move { core.models().await },
                |_, models| Ok(models.into_iter().map(ModelInfo).collect()),
            ))
        }
        #[pyo3(signature = ())]
        async fn _amodels;

        /// Answers a question from the indexed documents, with `[n]` citations of its sources.
        /// Keyword arguments override the assistant's defaults for this question.
        #[pyo3(signature = (question, *, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        fn ask(
            &self,
            question: String,
            model: Option<String>,
            top_k: Option<usize>,
            no_context: bool,
            temperature: Option<f32>,
            num_ctx: Option<u32>,
            num_predict: Option<u32>,
            seed: Option<u64>,
        ) -> Op<Answer> {
            let options = AskOptions {
                model, top_k, no_context, temperature, num_ctx, num_predict, seed,
            };
            Ok(Op::future(
                &self.handle,
                move |core| async move { core.ask(&question, &options).await },
                |_, answer| Ok(Answer(answer)),
            ))
        }
        #[pyo3(signature = (question, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        async fn _aask;

        /// Like `ask`, streaming: iterate over the returned `AnswerStream` to get the answer's
        /// tokens (`str`) as the model writes them; afterwards `stream.answer` holds the whole
        /// `Answer` (`stream.sources` is set once the passages are chosen).
        #[pyo3(signature = (question, *, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
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
        ) -> AskRequest {
            let options = AskOptions {
                model, top_k, no_context, temperature, num_ctx, num_predict, seed,
            };
            Ok(AskRequest::new(&self.handle, question, options))
        }
        #[pyo3(signature = (question, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        async fn _aask_stream;
    }

    methods {
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

        /// Releases the index and the model (the next call opens them again). The index closes
        /// when no other `Assistant` of this process uses it.
        fn close(&self) {
            self.handle.close();
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
}

impl Assistant {
    /// The operation that runs `work` on the document `doc` selects (see `document()`).
    fn on_document(
        &self,
        doc: &Bound<'_, PyAny>,
        work: fn(&Core, &str) -> itassist::Result<itassist::Document>,
    ) -> PyResult<Op<Document>> {
        let selector = extract_selector(doc)?;
        Ok(Op::blocking(
            &self.handle,
            move |core| work(core, &selector),
            |_, doc| Ok(Document(doc)),
        ))
    }

    fn from_config(py: Python<'_>, config: Config, lazy: bool) -> PyResult<Self> {
        let assistant = Assistant {
            handle: Arc::new(Handle::new(config)),
        };
        if !lazy {
            AssistantOps(&assistant).open()?.run(py)?;
        }
        Ok(assistant)
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

/// Runs an ingest (without the GIL), reporting each file to `progress` and stopping after the
/// current file on Ctrl-C, when `progress` raises, or when `cancelled` is set (the awaiting
/// task of `_aingest` was cancelled). The core stops
/// cleanly when the progress callback says so: the document in flight is committed, the
/// trees are brought up to date, and the report says it was cancelled.
fn run_ingest(
    core: &Core,
    inputs: &[PathBuf],
    progress: Option<&Py<PyAny>>,
    cancelled: &AtomicBool,
) -> PyResult<itassist::IngestReport> {
    let stop: Mutex<Option<PyErr>> = Mutex::new(None);
    let total = Cell::new(0usize);
    let done = Cell::new(0usize);
    let on_event = |event: &IngestEvent| -> itassist::Flow {
        let file = match event {
            IngestEvent::Discovered { files, .. } => {
                total.set(*files);
                return ControlFlow::Continue(());
            }
            IngestEvent::File(file) => file,
            _ => return ControlFlow::Continue(()),
        };
        done.set(done.get() + 1);
        let outcome = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if cancelled.load(Ordering::Relaxed) {
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
        match outcome {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                *lock(&stop) = Some(e);
                ControlFlow::Break(())
            }
        }
    };
    let report = core
        .ingest_with_progress(inputs, &on_event)
        .map_err(to_py)?;
    if report.cancelled {
        return Err(lock(&stop)
            .take()
            .unwrap_or_else(|| PyRuntimeError::new_err("ingest stopped")));
    }
    Ok(report)
}
