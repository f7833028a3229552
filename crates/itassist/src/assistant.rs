//! The [`Assistant`] facade: one object that ingests, searches and lists documents.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::stream::{self, StreamExt};

use crate::answer::{
    collect_answer, Answer, Answerer, AskEvent, AskOptions, AskStream, LlmAnswerer,
};
use crate::ollama::{backend_from_config, ChatBackend, ModelInfo, PullStream};
use crate::prompt::TokenEstimator;

use crate::chunk::Chunker;
use crate::config::Config;
use crate::embed::{Embedder, FastEmbedder};
use crate::error::{Error, Result};
use crate::index::{Document, Index, IndexSettings, IndexStats};
use crate::pipeline::{FileReport, Flow, IngestEvent, IngestReport, Ingestor, Pipeline};
use crate::retrieve::{Passage, Retriever};

/// A local document assistant over one index directory.
///
/// Cheap to share between threads (`Arc<Assistant>`); every method takes `&self`.
/// Ingestion goes through LMDB's single writer while searches keep reading.
///
/// ```no_run
/// use itassist::{Assistant, Config};
///
/// # fn main() -> itassist::Result<()> {
/// let assistant = Assistant::open(Config::new("./itassist-data"))?;
/// let report = assistant.ingest(&["./docs"])?;
/// println!("{} files added", report.totals.added);
/// for passage in assistant.search("how do I pin a package version?", 3)? {
///     println!("{:.3} {}: {}", passage.score, passage.citation(), passage.text);
/// }
/// # Ok(()) }
/// ```
pub struct Assistant {
    config: Config,
    index: Index,
    embedder: Arc<dyn Embedder>,
    pipeline: Pipeline,
    retriever: Arc<dyn Retriever>,
    /// The chat-model server, created on first use.
    backend: OnceLock<Arc<dyn ChatBackend>>,
    /// The answerer, created on first use.
    answerer: OnceLock<Arc<dyn Answerer>>,
}

impl std::fmt::Debug for Assistant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assistant")
            .field("data_dir", &self.config.data_dir)
            .field("embedding_model", &self.embedder.model_id())
            .finish()
    }
}

impl Assistant {
    /// Opens (or creates) the index in `config.data_dir`, loading the embedding model.
    pub fn open(config: Config) -> Result<Self> {
        config.validate()?;
        let embedder = Arc::new(FastEmbedder::new(&config.embedding)?);
        Self::with_embedder(config, embedder)
    }

    /// Opens the index with an embedder of your own.
    pub fn with_embedder(config: Config, embedder: Arc<dyn Embedder>) -> Result<Self> {
        config.validate()?;
        let chunker = Chunker::new(
            embedder.tokenizer().clone(),
            &config.chunking,
            embedder.max_tokens(),
        )?;
        let settings = IndexSettings {
            embedding_model: embedder.model_id().to_string(),
            dimensions: embedder.dimensions(),
            n_trees: config.retrieval.n_trees,
            chunk_max_tokens: chunker.max_tokens(),
            chunk_overlap_tokens: config.chunking.overlap_tokens,
            map_size: config.map_size,
        };
        let index = Index::open(&config.data_dir, &settings)?;
        let pipeline = Pipeline::new(
            index.clone(),
            embedder.clone(),
            chunker,
            config.loading.clone(),
        )
        .with_batch_size(config.embedding.batch_size);
        let retriever = crate::retrieve::retriever_for(&index, &embedder, &config.retrieval);
        Ok(Assistant {
            config,
            index,
            embedder,
            pipeline,
            retriever,
            backend: OnceLock::new(),
            answerer: OnceLock::new(),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Replaces the retriever (for example with a hybrid one).
    pub fn set_retriever(&mut self, retriever: Arc<dyn Retriever>) {
        self.retriever = retriever;
    }

    /// Ingests files, folders (recursively) and glob patterns.
    ///
    /// Per-file failures are in the report, never an `Err`: an `Err` means the index itself
    /// failed.
    pub fn ingest<P: AsRef<Path>>(&self, inputs: &[P]) -> Result<IngestReport> {
        self.ingest_with_progress(inputs, &|_| Flow::Continue(()))
    }

    /// Like [`Assistant::ingest`], calling `progress` as files are discovered, as chunks of
    /// each file are embedded, and as files are done.
    ///
    /// Returning [`std::ops::ControlFlow::Break`] from `progress` stops the run cleanly: the
    /// document in flight is finished and committed, the rest is not read, the vector trees
    /// are brought up to date, and the report says [`IngestReport::cancelled`].
    pub fn ingest_with_progress<P: AsRef<Path>>(
        &self,
        inputs: &[P],
        progress: &dyn Fn(&IngestEvent) -> Flow,
    ) -> Result<IngestReport> {
        if inputs.is_empty() {
            return Err(Error::InvalidInput(
                "no paths to ingest: name files, folders or glob patterns".into(),
            ));
        }
        let inputs: Vec<PathBuf> = inputs.iter().map(|p| p.as_ref().to_path_buf()).collect();
        self.pipeline.ingest(&inputs, progress)
    }

    /// Ingests one uploaded document. `name` is only a display name and a format hint (see
    /// [`crate::names::upload_name`]). New content is always a new document: an upload never
    /// replaces another because they share a name; use [`Assistant::replace_bytes`] for that.
    pub fn ingest_bytes(&self, name: &str, bytes: &[u8]) -> Result<FileReport> {
        self.pipeline.ingest_bytes(name, bytes)
    }

    /// Replaces document `id` with uploaded bytes (its chunks and vectors are swapped in one
    /// transaction); `document_not_found` when there is no such document.
    pub fn replace_bytes(&self, id: u64, name: &str, bytes: &[u8]) -> Result<FileReport> {
        self.pipeline.replace_bytes(id, name, bytes)
    }

    /// The `k` passages that best match `query`, best first.
    ///
    /// `k` runs from 1 to `retrieval.max_top_k` and the query may not be empty or longer than
    /// `retrieval.max_query_bytes`: anything else is `invalid_input`
    /// ([`crate::config::RetrievalConfig::check_query`]).
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        self.config.retrieval.check_query(query, k)?;
        self.retriever.retrieve(query, k)
    }

    /// Embeds texts with the index's model (L2-normalised vectors).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embedder.embed(texts)
    }

    /// All documents in the index.
    pub fn documents(&self) -> Result<Vec<Document>> {
        self.index.documents()
    }

    /// Finds a document by id, source (a path or `upload:HASH/NAME`), or unique display name.
    pub fn find_document(&self, selector: &str) -> Result<Document> {
        let not_found = || Error::DocumentNotFound {
            id: selector.to_string(),
        };
        if let Some(id) = crate::names::parse_document_id(selector) {
            if let Some(doc) = self.index.document(id)? {
                return Ok(doc);
            }
        }
        if let Some(doc) = self.index.document_by_source(selector)? {
            return Ok(doc);
        }
        if let Ok(path) = Path::new(selector).canonicalize() {
            if let Some(doc) = self.index.document_by_source(&path.to_string_lossy())? {
                return Ok(doc);
            }
        }
        let named: Vec<Document> = self
            .index
            .documents()?
            .into_iter()
            .filter(|d| d.name == selector)
            .collect();
        match named.len() {
            0 => Err(not_found()),
            1 => named.into_iter().next().ok_or_else(not_found),
            n => Err(Error::InvalidInput(format!(
                "{n} documents are named '{selector}': remove one by id (`itassist docs` lists them)"
            ))),
        }
    }

    /// Removes a document (see [`Assistant::find_document`] for the selector) with its
    /// chunks and vectors; returns what was removed.
    pub fn remove(&self, selector: &str) -> Result<Document> {
        let doc = self.find_document(selector)?;
        self.index.remove_document(doc.id)
    }

    /// Counts and sizes of the index.
    pub fn stats(&self) -> Result<IndexStats> {
        self.index.stats()
    }

    /// Replaces the answerer (for example with one over another model server).
    pub fn set_answerer(&mut self, answerer: Arc<dyn Answerer>) {
        self.answerer = OnceLock::from(answerer);
    }

    /// Replaces the chat-model server used by [`Assistant::ask`], [`Assistant::models`] and
    /// [`Assistant::pull_model`] (the answerer is rebuilt over it).
    pub fn set_chat_backend(&mut self, backend: Arc<dyn ChatBackend>) {
        self.backend = OnceLock::from(backend);
        self.answerer = OnceLock::new();
    }

    /// The chat-model server of `config.answer`.
    pub fn chat_backend(&self) -> Result<Arc<dyn ChatBackend>> {
        if let Some(backend) = self.backend.get() {
            return Ok(backend.clone());
        }
        let backend = backend_from_config(&self.config.answer)?;
        Ok(self.backend.get_or_init(|| backend).clone())
    }

    /// The answerer: by default an [`LlmAnswerer`] over [`Assistant::chat_backend`], estimating
    /// tokens with the embedding model's tokenizer (see [`crate::prompt`]).
    pub fn answerer(&self) -> Result<Arc<dyn Answerer>> {
        if let Some(answerer) = self.answerer.get() {
            return Ok(answerer.clone());
        }
        let answerer: Arc<dyn Answerer> = Arc::new(LlmAnswerer::new(
            self.chat_backend()?,
            self.config.answer.clone(),
            TokenEstimator::with_tokenizer(self.embedder.tokenizer().clone()),
        ));
        Ok(self.answerer.get_or_init(|| answerer).clone())
    }

    /// Answers a question from the indexed documents: retrieves the top-k passages, fits them
    /// into the model's window, and asks the model to answer from them with `[n]` citations.
    /// With `options.no_context` the model is asked directly.
    ///
    /// ```no_run
    /// # async fn demo() -> itassist::Result<()> {
    /// use itassist::{AskOptions, Assistant, Config};
    /// let assistant = Assistant::open(Config::new("./itassist-data"))?;
    /// let answer = assistant.ask("How do I pin a package version?", &AskOptions::default()).await?;
    /// println!("{}", answer.answer);
    /// for (n, source) in answer.cited_sources() {
    ///     println!("[{n}] {}", source.citation());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn ask(&self, question: &str, options: &AskOptions) -> Result<Answer> {
        collect_answer(self.ask_stream(question, options.clone())).await
    }

    /// Like [`Assistant::ask`], streaming: [`AskEvent::Sources`], then [`AskEvent::Token`]s as
    /// the model writes them, then [`AskEvent::Done`] with the whole answer (or an `Err` and
    /// nothing after it). The stream is `'static`; dropping it cancels the request.
    ///
    /// Retrieval runs on tokio's blocking pool when polled inside a tokio runtime.
    pub fn ask_stream(&self, question: &str, options: AskOptions) -> AskStream {
        let fail = |e: Error| -> AskStream { Box::pin(stream::once(async move { Err(e) })) };
        if let Err(e) = options.validate() {
            return fail(e);
        }
        let k = options.top_k.unwrap_or(self.config.retrieval.top_k);
        if let Err(e) = self.config.retrieval.check_question(question, k) {
            return fail(e);
        }
        let answerer = match self.answerer() {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        let retriever = self.retriever.clone();
        let question = question.to_string();
        let started = Instant::now();
        let prepared = async move {
            let (passages, retrieval_seconds) = if options.no_context {
                (Vec::new(), None)
            } else {
                let t = Instant::now();
                match retrieve(retriever, question.clone(), k).await {
                    Ok(p) => (p, Some(t.elapsed().as_secs_f64())),
                    Err(e) => return fail(e),
                }
            };
            let events = answerer.answer_stream(question, passages, options);
            Box::pin(events.map(move |event| match event {
                Ok(AskEvent::Done { mut answer }) => {
                    answer.timings.retrieval_seconds = retrieval_seconds;
                    answer.timings.total_seconds = Some(started.elapsed().as_secs_f64());
                    Ok(AskEvent::Done { answer })
                }
                other => other,
            })) as AskStream
        };
        Box::pin(stream::once(prepared).flatten())
    }

    /// The models the chat-model server has (`/api/tags`, or `/v1/models`).
    pub async fn models(&self) -> Result<Vec<ModelInfo>> {
        self.chat_backend()?.models().await
    }

    /// Pulls a model into Ollama (`/api/pull`), streaming its progress; ends after the
    /// `success` line or with an `Err`.
    pub fn pull_model(&self, name: &str) -> PullStream {
        match self.chat_backend() {
            Ok(backend) => backend.pull(name),
            Err(e) => Box::pin(stream::once(async move { Err(e) })),
        }
    }
}

/// Runs a (blocking, CPU-bound) retrieval off the async threads when possible.
async fn retrieve(
    retriever: Arc<dyn Retriever>,
    question: String,
    k: usize,
) -> Result<Vec<Passage>> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(move || retriever.retrieve(&question, k))
            .await
            .map_err(|e| {
                if e.is_cancelled() {
                    Error::Cancelled
                } else {
                    Error::Index {
                        reason: format!("retrieval failed: {e}"),
                        source: None,
                    }
                }
            })?,
        Err(_) => retriever.retrieve(&question, k),
    }
}
