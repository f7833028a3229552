//! The `Assistant` class: the core [`itassist::Assistant`] with Promise-returning methods.
//!
//! Blocking work (loading the model, parsing, embedding, LMDB) runs on tokio's blocking pool
//! and network work (the model server) on napi-rs's tokio runtime, so the JavaScript event
//! loop never waits for either. Each method's promise settles on the JavaScript thread, where
//! a failure becomes an `Error` with the core's `code` (see [`crate::error`]).

use std::future::Future;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use napi::bindgen_prelude::{
    AbortSignal, Either, Float32Array, PromiseRaw, ToNapiValue, Uint8Array,
};
use napi::Env;
use napi_derive::napi;

use crate::answer::AskStream;
use crate::error;
use crate::types::{
    Answer, AskOptions, AssistantOptions, ChatMessage, Conversation, ConversationSummary, Document,
    FailureRecord, FileReport, IndexStats, IngestReport, ModelInfo, Passage, ReindexOptions,
    ReindexReport, SyncOptions, SyncReport,
};

/// A local document assistant over one index directory.
///
/// Create it with `await Assistant.open({ dataDir })` (there is no constructor: opening loads
/// the embedding model, which is too slow for the event loop). One object can serve many
/// concurrent calls; searches keep running while an ingest writes.
#[napi]
pub struct Assistant {
    /// The core; replaced by one opened with the new model after `reindex`.
    core: Arc<RwLock<Arc<itassist::Assistant>>>,
}

impl Assistant {
    fn new(core: itassist::Assistant) -> Self {
        Assistant {
            core: Arc::new(RwLock::new(Arc::new(core))),
        }
    }

    /// The core in use (the one opened with the new model once a re-index is done).
    fn inner(&self) -> Arc<itassist::Assistant> {
        read_core(&self.core)
    }
}

fn read_core(core: &RwLock<Arc<itassist::Assistant>>) -> Arc<itassist::Assistant> {
    // The lock only ever guards a whole replacement: a poisoned one still holds a valid core.
    core.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// A conversation id from JavaScript (ids are never negative: a negative one names no
/// conversation).
fn conversation_id(id: i64) -> itassist::Result<u64> {
    u64::try_from(id).map_err(|_| itassist::Error::ConversationNotFound { id: id.to_string() })
}

/// Whether an `AbortSignal` given to a long operation has fired, read by the core's
/// progress callbacks (which stop the operation with `Break`).
#[derive(Clone, Default)]
struct Aborted(Arc<AtomicBool>);

impl Aborted {
    /// Follows `signal` (never fires without one).
    fn watch(signal: Option<AbortSignal>) -> Self {
        let aborted = Aborted::default();
        if let Some(signal) = signal {
            let flag = aborted.0.clone();
            signal.on_abort(move || flag.store(true, Ordering::Relaxed));
        }
        aborted
    }

    /// `Break` once the signal has fired.
    fn flow(&self) -> itassist::Flow {
        if self.0.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// Runs `work` on tokio's blocking pool and settles a promise with its result.
fn blocking<'env, V, F>(env: &'env Env, work: F) -> napi::Result<PromiseRaw<'env, V>>
where
    V: ToNapiValue + Send + 'static,
    F: FnOnce() -> itassist::Result<V> + Send + 'static,
{
    env.spawn_future_with_callback(
        async move { Ok(tokio::task::spawn_blocking(work).await) },
        |env, joined| match joined {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(error::core_error(env, &e)),
            Err(join) => Err(error::internal(env, "itassist worker thread failed", join)),
        },
    )
}

/// Settles a promise with the outcome of a core future (run on napi-rs's tokio runtime).
fn future<'env, V, F>(env: &'env Env, work: F) -> napi::Result<PromiseRaw<'env, V>>
where
    V: ToNapiValue + Send + 'static,
    F: Future<Output = itassist::Result<V>> + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(work.await) }, |env, outcome| {
        outcome.map_err(|e| error::core_error(env, &e))
    })
}

/// The core configuration for `options` (unset options keep the core's defaults).
fn config(options: AssistantOptions) -> itassist::Result<itassist::Config> {
    itassist::ConfigOverrides {
        model_dir: options.model_dir.map(PathBuf::from),
        embedding_model: options.embedding_model,
        // The `onnxruntime-node` package's library, unless one is named.
        onnxruntime: options
            .onnx_runtime
            .map(PathBuf::from)
            .or_else(crate::default_onnx_runtime),
        top_k: options.top_k.map(|k| k as usize),
        chunk_tokens: options.chunk_tokens.map(|t| t as usize),
        chunk_overlap: options.chunk_overlap.map(|t| t as usize),
        ocr: options.ocr,
        ollama_url: options.ollama_url,
        backend: options.backend,
        model: options.model,
        connect_timeout: options.connect_timeout_secs,
        ..Default::default()
    }
    .into_config(options.data_dir)
}

#[napi]
impl Assistant {
    /// Opens (or creates) the index in `options.dataDir` and loads the embedding model.
    ///
    /// Rejects with `code` `embedding_model_unavailable` (no model in `modelDir`),
    /// `runtime_unavailable` (no ONNX Runtime), `embedding_model_mismatch`, `index_locked`,
    /// `invalid_input`, ...
    #[napi(ts_return_type = "Promise<Assistant>")]
    pub fn open<'env>(
        env: &'env Env,
        options: AssistantOptions,
    ) -> napi::Result<PromiseRaw<'env, Assistant>> {
        blocking(env, move || {
            Ok(Assistant::new(itassist::Assistant::open(config(options)?)?))
        })
    }

    /// Length of every embedding vector (384 for all-MiniLM-L6-v2).
    #[napi(getter)]
    pub fn dimensions(&self) -> u32 {
        u32::try_from(self.inner().embedder().dimensions()).unwrap_or(u32::MAX)
    }

    /// The embedding model's id, as recorded in the index.
    #[napi(getter)]
    pub fn embedding_model(&self) -> String {
        self.inner().embedder().model_id().to_string()
    }

    /// The index directory.
    #[napi(getter)]
    pub fn data_dir(&self) -> String {
        self.inner()
            .config()
            .data_dir
            .to_string_lossy()
            .into_owned()
    }

    /// Ingests files, folders (recursively) and glob patterns. Unchanged files are skipped
    /// cheaply; per-file failures are in the report (`files[i].error.code`), not a rejection.
    ///
    /// Aborting `signal` stops the run cleanly: the document being embedded is finished and
    /// committed, the rest is not read, and the promise rejects with `code` `cancelled`.
    #[napi(ts_args_type = "paths: string | Array<string>, signal?: AbortSignal | undefined | null")]
    pub fn ingest<'env>(
        &self,
        env: &'env Env,
        paths: Either<String, Vec<String>>,
        signal: Option<AbortSignal>,
    ) -> napi::Result<PromiseRaw<'env, IngestReport>> {
        let inner = self.inner();
        let paths = match paths {
            Either::A(one) => vec![one],
            Either::B(many) => many,
        };
        let aborted = Aborted::watch(signal);
        blocking(env, move || {
            let stop_when_aborted = |_: &itassist::IngestEvent| aborted.flow();
            let report = inner.ingest_with_progress(&paths, &stop_when_aborted)?;
            if report.cancelled {
                return Err(itassist::Error::Cancelled);
            }
            Ok(report.into())
        })
    }

    /// Makes the index match the folders (or files) `paths`: adds new files, replaces changed
    /// ones, re-points moved or renamed ones without re-embedding them, and removes documents
    /// whose files under `paths` are gone (documents from elsewhere and uploads are never
    /// touched). `{ dryRun: true }` changes nothing and reports what would change. Aborting
    /// `signal` stops after the document in flight and rejects with `code` `cancelled`.
    #[napi(
        ts_args_type = "paths: string | Array<string>, options?: SyncOptions | undefined | null, signal?: AbortSignal | undefined | null"
    )]
    pub fn sync<'env>(
        &self,
        env: &'env Env,
        paths: Either<String, Vec<String>>,
        options: Option<SyncOptions>,
        signal: Option<AbortSignal>,
    ) -> napi::Result<PromiseRaw<'env, SyncReport>> {
        let inner = self.inner();
        let paths = match paths {
            Either::A(one) => vec![one],
            Either::B(many) => many,
        };
        let options: itassist::sync::SyncOptions = options.unwrap_or_default().into();
        let aborted = Aborted::watch(signal);
        blocking(env, move || {
            let stop_when_aborted = |_: &itassist::sync::SyncEvent| aborted.flow();
            let report = inner.sync_with_progress(&paths, &options, &stop_when_aborted)?;
            if report.cancelled {
                return Err(itassist::Error::Cancelled);
            }
            Ok(report.into())
        })
    }

    /// The files that failed at the last ingest, sync or watch, with their error code and
    /// message.
    #[napi]
    pub fn failures<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Vec<FailureRecord>>> {
        let inner = self.inner();
        blocking(env, move || {
            Ok(inner
                .failures()?
                .into_iter()
                .map(FailureRecord::from)
                .collect())
        })
    }

    /// Re-embeds every passage of the index with another embedding model, from the text stored
    /// in the index (no original file is needed). Searches keep answering from the old vectors
    /// until the new ones are complete, then they are swapped in at once and this assistant
    /// uses the new model; other assistants open on the same directory must be reopened.
    ///
    /// Aborting `signal` stops it and leaves the old index as it was; the promise then rejects
    /// with `code` `cancelled`.
    #[napi(
        ts_args_type = "options?: ReindexOptions | undefined | null, signal?: AbortSignal | undefined | null"
    )]
    pub fn reindex<'env>(
        &self,
        env: &'env Env,
        options: Option<ReindexOptions>,
        signal: Option<AbortSignal>,
    ) -> napi::Result<PromiseRaw<'env, ReindexReport>> {
        let options = options.unwrap_or_default();
        let slot = self.core.clone();
        let aborted = Aborted::watch(signal);
        blocking(env, move || {
            let mut config = read_core(&slot).config().clone();
            itassist::ConfigOverrides {
                embedding_model: options.embedding_model,
                model_dir: options.model_dir.map(PathBuf::from),
                ..Default::default()
            }
            .apply(&mut config)?;
            let stop_when_aborted = |_: &itassist::ReindexEvent| aborted.flow();
            let report = itassist::Assistant::reindex(&config, &stop_when_aborted)?;
            if report.cancelled {
                return Err(itassist::Error::Cancelled);
            }
            let reopened = Arc::new(itassist::Assistant::open(config)?);
            *slot.write().unwrap_or_else(|p| p.into_inner()) = reopened;
            Ok(report.into())
        })
    }

    /// Ingests one uploaded document given as bytes; `name` is a display name and format hint,
    /// never a path.
    #[napi]
    pub fn ingest_bytes<'env>(
        &self,
        env: &'env Env,
        name: String,
        data: Uint8Array,
    ) -> napi::Result<PromiseRaw<'env, FileReport>> {
        let inner = self.inner();
        let bytes = data.to_vec();
        blocking(env, move || Ok(inner.ingest_bytes(&name, &bytes)?.into()))
    }

    /// The `k` passages (default: `topK`) that best match `query`, best first. An empty query
    /// rejects with `invalid_input`.
    #[napi]
    pub fn search<'env>(
        &self,
        env: &'env Env,
        query: String,
        k: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Passage>>> {
        let inner = self.inner();
        blocking(env, move || {
            let k = match k {
                Some(k) => k as usize,
                None => inner.config().retrieval.top_k,
            };
            let passages = inner.search(&query, k)?;
            Ok(passages.into_iter().map(Passage::from).collect())
        })
    }

    /// Embeds texts with the index's model: one flat `Float32Array` of
    /// `texts.length * assistant.dimensions` values, vector `i` at
    /// `subarray(i * dimensions, (i + 1) * dimensions)` (L2-normalised).
    #[napi]
    pub fn embed<'env>(
        &self,
        env: &'env Env,
        texts: Vec<String>,
    ) -> napi::Result<PromiseRaw<'env, Float32Array>> {
        let inner = self.inner();
        blocking(env, move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let vectors = inner.embed(&refs)?;
            let mut flat = Vec::with_capacity(vectors.len() * inner.embedder().dimensions());
            for v in &vectors {
                flat.extend_from_slice(v);
            }
            Ok(Float32Array::new(flat))
        })
    }

    /// All documents in the index.
    #[napi]
    pub fn documents<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Vec<Document>>> {
        let inner = self.inner();
        blocking(env, move || {
            Ok(inner.documents()?.into_iter().map(Document::from).collect())
        })
    }

    /// Removes a document (by id, source path, `upload:NAME` or unique name) with its chunks
    /// and vectors; resolves to what was removed. Rejects with `document_not_found`.
    #[napi]
    pub fn remove<'env>(
        &self,
        env: &'env Env,
        doc: Either<String, i64>,
    ) -> napi::Result<PromiseRaw<'env, Document>> {
        let inner = self.inner();
        let selector = match doc {
            Either::A(s) => s,
            Either::B(id) => id.to_string(),
        };
        blocking(env, move || Ok(inner.remove(&selector)?.into()))
    }

    /// Counts and sizes of the index.
    #[napi]
    pub fn stats<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, IndexStats>> {
        let inner = self.inner();
        blocking(env, move || Ok(inner.stats()?.into()))
    }

    /// Answers a question from the indexed documents with the chat model, citing sources as
    /// `[n]`. Rejects with `ollama_unreachable`, `model_not_found`, `context_overflow`, ...
    #[napi]
    pub fn ask<'env>(
        &self,
        env: &'env Env,
        question: String,
        options: Option<AskOptions>,
    ) -> napi::Result<PromiseRaw<'env, Answer>> {
        let inner = self.inner();
        let options: itassist::AskOptions = options.unwrap_or_default().into();
        future(env, async move {
            Ok(inner.ask(&question, &options).await?.into())
        })
    }

    /// Like `ask`, streaming: an async iterator of `{ type: 'sources' }`, then
    /// `{ type: 'token', text }` events, then one `{ type: 'done', answer }`. Errors reject
    /// the pending `next()`; `break` cancels the request.
    #[napi]
    pub fn ask_stream(&self, question: String, options: Option<AskOptions>) -> AskStream {
        let options: itassist::AskOptions = options.unwrap_or_default().into();
        AskStream::new(self.inner().ask_stream(&question, options))
    }

    /// Answers the last `user` message of a conversation (OpenAI-style messages). Earlier
    /// turns make the follow-up searchable (`answer.searchedQuery` is what was searched) and
    /// go into the prompt as far as the window allows (`answer.droppedTurns`).
    #[napi]
    pub fn chat<'env>(
        &self,
        env: &'env Env,
        messages: Vec<ChatMessage>,
        options: Option<AskOptions>,
    ) -> napi::Result<PromiseRaw<'env, Answer>> {
        let inner = self.inner();
        let options: itassist::AskOptions = options.unwrap_or_default().into();
        let messages: Vec<_> = messages.into_iter().map(Into::into).collect();
        future(env, async move {
            Ok(inner.chat(&messages, &options).await?.into())
        })
    }

    /// Like `chat`, streaming the same events as `askStream`.
    #[napi]
    pub fn chat_stream(
        &self,
        messages: Vec<ChatMessage>,
        options: Option<AskOptions>,
    ) -> AskStream {
        let options: itassist::AskOptions = options.unwrap_or_default().into();
        let messages: Vec<_> = messages.into_iter().map(Into::into).collect();
        AskStream::new(self.inner().chat_stream(&messages, options))
    }

    /// Starts a stored conversation (`title` defaults to its first question).
    #[napi]
    pub fn new_conversation<'env>(
        &self,
        env: &'env Env,
        title: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, Conversation>> {
        let inner = self.inner();
        blocking(env, move || {
            Ok(inner.new_conversation(title.as_deref())?.into())
        })
    }

    /// The stored conversations, most recently updated first.
    #[napi]
    pub fn conversations<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Vec<ConversationSummary>>> {
        let inner = self.inner();
        blocking(env, move || {
            Ok(inner
                .conversations()?
                .into_iter()
                .map(ConversationSummary::from)
                .collect())
        })
    }

    /// A stored conversation with its turns; rejects with `code` `conversation_not_found`.
    #[napi]
    pub fn conversation<'env>(
        &self,
        env: &'env Env,
        id: i64,
    ) -> napi::Result<PromiseRaw<'env, Conversation>> {
        let inner = self.inner();
        blocking(env, move || {
            Ok(inner.conversation(conversation_id(id)?)?.into())
        })
    }

    /// Deletes a stored conversation; resolves to what was deleted.
    #[napi]
    pub fn delete_conversation<'env>(
        &self,
        env: &'env Env,
        id: i64,
    ) -> napi::Result<PromiseRaw<'env, Conversation>> {
        let inner = self.inner();
        blocking(env, move || {
            Ok(inner.delete_conversation(conversation_id(id)?)?.into())
        })
    }

    /// Asks `question` in stored conversation `id`: its earlier turns are the context, and
    /// the new turn is stored with its sources.
    #[napi]
    pub fn continue_conversation<'env>(
        &self,
        env: &'env Env,
        id: i64,
        question: String,
        options: Option<AskOptions>,
    ) -> napi::Result<PromiseRaw<'env, Answer>> {
        let inner = self.inner();
        let options: itassist::AskOptions = options.unwrap_or_default().into();
        future(env, async move {
            Ok(inner
                .continue_conversation(conversation_id(id)?, &question, &options)
                .await?
                .into())
        })
    }

    /// Like `continueConversation`, streaming; the turn is stored when the stream ends.
    #[napi]
    pub fn continue_conversation_stream(
        &self,
        env: &Env,
        id: i64,
        question: String,
        options: Option<AskOptions>,
    ) -> napi::Result<AskStream> {
        let options: itassist::AskOptions = options.unwrap_or_default().into();
        let id = conversation_id(id).map_err(|e| error::core_error(env, &e))?;
        Ok(AskStream::new(
            self.inner()
                .continue_conversation_stream(id, &question, options),
        ))
    }

    /// The models the chat-model server has.
    #[napi]
    pub fn models<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Vec<ModelInfo>>> {
        let inner = self.inner();
        future(env, async move {
            Ok(inner
                .models()
                .await?
                .into_iter()
                .map(ModelInfo::from)
                .collect())
        })
    }
}
