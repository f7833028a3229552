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

use itassist::reindex::{ReindexEvent, ReindexReport};
use itassist::sync::{SyncEvent, SyncOptions};
use itassist::{AskOptions, Config, ConfigOverrides, IngestEvent};

use crate::answer::{AskRequest, Question};
use crate::error::{to_py, IntoPyResult};
use crate::op::{lock, twin_methods, Core, Handle, Op, Operation};
use crate::types::{
    extract_messages, extract_paths, extract_selector, extract_texts, to_python, vectors_to_numpy,
    Answer, Document, FileReport, IndexStats, IngestReport, ModelInfo, Passage,
};

/// A local document assistant over one index directory.
///
/// Opens (or creates) the index in `data_dir` and loads the embedding model (unless
/// `lazy=True`, which defers both to the first call). A keyword argument left at `None`
/// keeps the core's default (see `Assistant.config`). Safe to share between threads; keeps working in a child after `os.fork()`.
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

        /// Makes the index match the folders (or files) `paths`: adds new files, replaces
        /// changed ones, re-points moved or renamed ones without re-embedding them, and removes
        /// documents whose files under `paths` are gone (documents from elsewhere and uploads
        /// are never touched). With `dry_run=True` nothing changes and the report lists what
        /// would. Files that failed before and have not changed are skipped unless
        /// `retry_failed=True`. Returns the report as a dict (`totals`, `changes`, `ingest`,
        /// ...); `progress` is called as in `ingest`.
        #[pyo3(signature = (paths, *, dry_run = false, retry_failed = false, progress = None))]
        fn sync(
            &self,
            paths: &Bound<'py, PyAny>,
            dry_run: bool,
            retry_failed: bool,
            progress: Option<Py<PyAny>>,
        ) -> Op<Py<PyAny>> {
            let roots = extract_paths(paths)?;
            let options = SyncOptions {
                dry_run,
                retry_failed,
                ..SyncOptions::default()
            };
            Ok(Op::cancellable(
                &self.handle,
                move |core, cancelled| run_sync(core, &roots, &options, progress.as_ref(), cancelled),
                |py, report| to_python(py, &report),
            ))
        }
        #[pyo3(signature = (paths, dry_run = false, retry_failed = false, progress = None))]
        async fn _async;

        /// Re-embeds every passage of the index with another embedding model (`embedding_model`,
        /// a name from `itassist models` or of a local model directory, with `model_dir` where
        /// its files are), from the text stored in the index: no original file is needed.
        /// Searches keep answering from the old vectors until the new ones are complete, then
        /// they are swapped in at once; this assistant then uses the new model (other
        /// assistants open on the same directory must be reopened). `progress` is called as
        /// `progress(done, total)` as passages are embedded; Ctrl-C (or an exception raised by
        /// `progress`) stops it and leaves the old index as it was. Returns the report as a
        /// dict (`previous_model`, `model`, `dimensions`, `chunks`, `elapsed`, ...).
        #[pyo3(signature = (embedding_model = None, *, model_dir = None, progress = None))]
        fn reindex(
            &self,
            embedding_model: Option<String>,
            model_dir: Option<PathBuf>,
            progress: Option<Py<PyAny>>,
        ) -> Op<Py<PyAny>> {
            let mut config = self.handle.config();
            ConfigOverrides {
                embedding_model,
                model_dir,
                ..ConfigOverrides::default()
            }
            .apply(&mut config)
            .py()?;
            let handle = self.handle.clone();
            Ok(Op::cancellable(
                &self.handle,
                move |_, cancelled| run_reindex(&handle, config, progress.as_ref(), cancelled),
                |py, report| to_python(py, &report),
            ))
        }
        #[pyo3(signature = (embedding_model = None, model_dir = None, progress = None))]
        async fn _areindex;

        /// The files that failed at the last ingest, sync or watch, as dicts (`source`,
        /// `code`, `message`, `size`, `modified`, `failed_at`).
        #[pyo3(signature = ())]
        fn failures(&self) -> Op<Py<PyAny>> {
            Ok(Op::blocking(
                &self.handle,
                |core| core.failures(),
                |py, records| to_python(py, &records),
            ))
        }
        #[pyo3(signature = ())]
        async fn _afailures;

        /// The `k` passages that best match `query`, best first (`k` defaults to `top_k`).
        #[pyo3(signature = (query, k = None))]
        fn search(&self, query: String, k: Option<usize>) -> Op<Vec<Passage>> {
            let k = k.unwrap_or(self.handle.config().retrieval.top_k);
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
            Ok(AskRequest::new(&self.handle, Question::Single(question), options))
        }
        #[pyo3(signature = (question, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        async fn _aask_stream;

        /// Answers the last `user` message of a conversation, given as OpenAI-style messages
        /// (`[{"role": "user", "content": ...}, {"role": "assistant", ...}, ...]`). Earlier
        /// turns make the follow-up searchable (`answer.searched_query` is what was searched)
        /// and go into the prompt as far as the window allows (`answer.dropped_turns`).
        #[pyo3(signature = (messages, *, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        fn chat(
            &self,
            messages: &Bound<'py, PyAny>,
            model: Option<String>,
            top_k: Option<usize>,
            no_context: bool,
            temperature: Option<f32>,
            num_ctx: Option<u32>,
            num_predict: Option<u32>,
            seed: Option<u64>,
        ) -> Op<Answer> {
            let messages = extract_messages(messages)?;
            let options = AskOptions {
                model, top_k, no_context, temperature, num_ctx, num_predict, seed,
            };
            Ok(Op::future(
                &self.handle,
                move |core| async move { core.chat(&messages, &options).await },
                |_, answer| Ok(Answer(answer)),
            ))
        }
        #[pyo3(signature = (messages, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        async fn _achat;

        /// Like `chat`, streaming (see `ask_stream`).
        #[pyo3(signature = (messages, *, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        fn chat_stream(
            &self,
            messages: &Bound<'py, PyAny>,
            model: Option<String>,
            top_k: Option<usize>,
            no_context: bool,
            temperature: Option<f32>,
            num_ctx: Option<u32>,
            num_predict: Option<u32>,
            seed: Option<u64>,
        ) -> AskRequest {
            let messages = extract_messages(messages)?;
            let options = AskOptions {
                model, top_k, no_context, temperature, num_ctx, num_predict, seed,
            };
            Ok(AskRequest::new(&self.handle, Question::Messages(messages), options))
        }
        #[pyo3(signature = (messages, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        async fn _achat_stream;

        /// Asks `question` in the stored conversation `conversation_id` (see
        /// `new_conversation`): its earlier turns are the context, and the new turn is stored
        /// with its sources. `answer.conversation_id` is the id.
        #[pyo3(signature = (conversation_id, question, *, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        fn continue_conversation(
            &self,
            conversation_id: u64,
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
                move |core| async move {
                    core.continue_conversation(conversation_id, &question, &options).await
                },
                |_, answer| Ok(Answer(answer)),
            ))
        }
        #[pyo3(signature = (conversation_id, question, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        async fn _acontinue_conversation;

        /// Like `continue_conversation`, streaming; the turn is stored when the stream ends.
        #[pyo3(signature = (conversation_id, question, *, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        fn continue_conversation_stream(
            &self,
            conversation_id: u64,
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
            Ok(AskRequest::new(
                &self.handle,
                Question::Stored(conversation_id, question),
                options,
            ))
        }
        #[pyo3(signature = (conversation_id, question, model = None, top_k = None, no_context = false, temperature = None, num_ctx = None, num_predict = None, seed = None))]
        async fn _acontinue_conversation_stream;

        /// Starts a stored conversation; returns it as a dict (`id`, `title`, `turns`, ...).
        /// `title` defaults to its first question.
        #[pyo3(signature = (title = None))]
        fn new_conversation(&self, title: Option<String>) -> Op<Py<PyAny>> {
            Ok(Op::blocking(
                &self.handle,
                move |core| core.new_conversation(title.as_deref()),
                |py, conversation| to_python(py, &conversation),
            ))
        }
        #[pyo3(signature = (title = None))]
        async fn _anew_conversation;

        /// The stored conversations, most recently updated first, as dicts (`id`, `title`,
        /// `created_at`, `updated_at`, `turns`: the number of turns).
        #[pyo3(signature = ())]
        fn conversations(&self) -> Op<Py<PyAny>> {
            Ok(Op::blocking(
                &self.handle,
                |core| core.conversations(),
                |py, list| to_python(py, &list),
            ))
        }
        #[pyo3(signature = ())]
        async fn _aconversations;

        /// A stored conversation with its turns (each with its question, answer and sources),
        /// as a dict. Raises `ConversationNotFoundError` when there is none.
        #[pyo3(signature = (conversation_id))]
        fn conversation(&self, conversation_id: u64) -> Op<Py<PyAny>> {
            Ok(Op::blocking(
                &self.handle,
                move |core| core.conversation(conversation_id),
                |py, conversation| to_python(py, &conversation),
            ))
        }
        #[pyo3(signature = (conversation_id))]
        async fn _aconversation;

        /// Deletes a stored conversation; returns what was deleted, as a dict.
        #[pyo3(signature = (conversation_id))]
        fn delete_conversation(&self, conversation_id: u64) -> Op<Py<PyAny>> {
            Ok(Op::blocking(
                &self.handle,
                move |core| core.delete_conversation(conversation_id),
                |py, conversation| to_python(py, &conversation),
            ))
        }
        #[pyo3(signature = (conversation_id))]
        async fn _adelete_conversation;
    }

    methods {
        #[new]
        #[pyo3(signature = (
            data_dir,
            *,
            model_dir = None,
            embedding_model = None,
            onnxruntime = None,
            top_k = None,
            chunk_tokens = None,
            chunk_overlap = None,
            ocr = None,
            ocr_languages = None,
            ollama_url = None,
            backend = None,
            model = None,
            temperature = None,
            num_ctx = None,
            num_predict = None,
            seed = None,
            api_key = None,
            batch_size = None,
            threads = None,
            connect_timeout = None,
            request_timeout = None,
            generation_timeout = None,
            lazy = false,
        ))]
        #[allow(clippy::too_many_arguments)]
        fn new(
            py: Python<'_>,
            data_dir: PathBuf,
            model_dir: Option<PathBuf>,
            embedding_model: Option<String>,
            onnxruntime: Option<PathBuf>,
            top_k: Option<usize>,
            chunk_tokens: Option<usize>,
            chunk_overlap: Option<usize>,
            ocr: Option<bool>,
            ocr_languages: Option<Vec<String>>,
            ollama_url: Option<String>,
            backend: Option<String>,
            model: Option<String>,
            temperature: Option<f32>,
            num_ctx: Option<u32>,
            num_predict: Option<u32>,
            seed: Option<u64>,
            api_key: Option<String>,
            batch_size: Option<usize>,
            threads: Option<usize>,
            connect_timeout: Option<f64>,
            request_timeout: Option<f64>,
            generation_timeout: Option<f64>,
            lazy: bool,
        ) -> PyResult<Self> {
            // The wheel's own ONNX Runtime, unless the caller or ORT_DYLIB_PATH names one.
            let onnxruntime = onnxruntime.or_else(|| {
                std::env::var_os("ORT_DYLIB_PATH")
                    .is_none()
                    .then(|| default_onnxruntime(py))
                    .flatten()
            });
            let config = ConfigOverrides {
                model_dir,
                embedding_model,
                onnxruntime,
                batch_size,
                threads,
                top_k,
                chunk_tokens,
                chunk_overlap,
                ocr,
                ocr_languages,
                ollama_url,
                backend,
                model,
                temperature,
                num_ctx,
                num_predict,
                seed,
                api_key,
                connect_timeout,
                request_timeout,
                generation_timeout,
            }
            .into_config(data_dir)
            .py()?;
            Self::from_config(py, config, lazy)
        }

        /// The index directory.
        #[getter]
        fn data_dir(&self) -> PathBuf {
            self.handle.config().data_dir
        }

        /// The configuration in use, as a dict (the core's `Config`, secrets left out).
        #[getter]
        fn config(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            let text = serde_json::to_string(&self.handle.config())
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
            let text = serde_json::to_string(&self.handle.config())
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            let restore = py.get_type::<Assistant>().getattr("_restore")?;
            let args = PyTuple::new(
                py,
                [
                    text.into_pyobject(py)?.into_any(),
                    self.handle
                        .config()
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
            let c = &self.handle.config();
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

/// Reports ingest progress to a Python callback as `progress(done, total, path, status)` and
/// turns Ctrl-C, an exception raised by the callback, or `cancelled` (the awaiting task of an
/// async twin was cancelled) into a request to stop. The core stops cleanly when told to:
/// the document in flight is committed and the report says it was cancelled.
struct PythonProgress<'a> {
    callback: Option<&'a Py<PyAny>>,
    cancelled: &'a AtomicBool,
    stop: Mutex<Option<PyErr>>,
    total: Cell<usize>,
    done: Cell<usize>,
}

impl<'a> PythonProgress<'a> {
    fn new(callback: Option<&'a Py<PyAny>>, cancelled: &'a AtomicBool) -> Self {
        PythonProgress {
            callback,
            cancelled,
            stop: Mutex::new(None),
            total: Cell::new(0),
            done: Cell::new(0),
        }
    }

    /// Handles one ingest event.
    fn on_ingest(&self, event: &IngestEvent) -> itassist::Flow {
        let file = match event {
            IngestEvent::Discovered { files, .. } => {
                self.total.set(*files);
                return ControlFlow::Continue(());
            }
            IngestEvent::File(file) => file,
            _ => return ControlFlow::Continue(()),
        };
        self.done.set(self.done.get() + 1);
        let report = (
            self.done.get(),
            self.total.get(),
            file.path.to_string_lossy().into_owned(),
            file.status.label(),
        );
        self.call(report)
    }

    /// Handles one re-index event: `progress(done, total)` as passages are embedded.
    fn on_reindex(&self, event: &ReindexEvent) -> itassist::Flow {
        match event {
            ReindexEvent::Embedded { done, total } => self.call((*done, *total)),
            _ => ControlFlow::Continue(()),
        }
    }

    /// Checks for Ctrl-C and cancellation, then calls the callback with `args`.
    fn call<A>(&self, args: A) -> itassist::Flow
    where
        A: for<'py> pyo3::call::PyCallArgs<'py>,
    {
        let outcome = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if self.cancelled.load(Ordering::Relaxed) {
                return Err(PyRuntimeError::new_err("cancelled"));
            }
            if let Some(callback) = self.callback {
                callback.call1(py, args)?;
            }
            Ok(())
        });
        match outcome {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                *lock(&self.stop) = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// The outcome of the run: the Python exception that stopped it, if it was stopped.
    fn finish<T>(self, stopped: bool, value: T) -> PyResult<T> {
        if stopped {
            return Err(lock(&self.stop)
                .take()
                .unwrap_or_else(|| PyRuntimeError::new_err("stopped")));
        }
        Ok(value)
    }
}

/// Runs an ingest (without the GIL), reporting each file to `progress`.
fn run_ingest(
    core: &Core,
    inputs: &[PathBuf],
    progress: Option<&Py<PyAny>>,
    cancelled: &AtomicBool,
) -> PyResult<itassist::IngestReport> {
    let reporter = PythonProgress::new(progress, cancelled);
    let report = core
        .ingest_with_progress(inputs, &|event| reporter.on_ingest(event))
        .map_err(to_py)?;
    let stopped = report.cancelled;
    reporter.finish(stopped, report)
}

/// Runs a sync (without the GIL), reporting each ingested file to `progress` as `ingest` does.
fn run_reindex(
    handle: &Handle,
    config: Config,
    progress: Option<&Py<PyAny>>,
    cancelled: &AtomicBool,
) -> PyResult<ReindexReport> {
    let reporter = PythonProgress::new(progress, cancelled);
    let report = Core::reindex(&config, &|event| reporter.on_reindex(event)).map_err(to_py)?;
    let stopped = report.cancelled;
    if !stopped {
        handle.reconfigure(config);
    }
    reporter.finish(stopped, report)
}

fn run_sync(
    core: &Core,
    roots: &[PathBuf],
    options: &SyncOptions,
    progress: Option<&Py<PyAny>>,
    cancelled: &AtomicBool,
) -> PyResult<itassist::sync::SyncReport> {
    let reporter = PythonProgress::new(progress, cancelled);
    let report = core
        .sync_with_progress(roots, options, &|event| match event {
            SyncEvent::Ingest(event) => reporter.on_ingest(event),
            _ => ControlFlow::Continue(()),
        })
        .map_err(to_py)?;
    let stopped = report.cancelled;
    reporter.finish(stopped, report)
}
