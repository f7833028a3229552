//! The [`Assistant`] facade: one object that ingests, searches and lists documents.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::stream::{self, StreamExt};

use crate::answer::{
    collect_answer, Answer, Answerer, AskEvent, AskOptions, AskStream, LlmAnswerer,
};
use crate::conversation::{self, Dialogue, QueryMode};
use crate::ollama::{
    backend_from_config, ChatBackend, ChatMessage, ChatRequest, GenerationOptions, ModelInfo,
    PullStream,
};
use crate::prompt::TokenEstimator;

use crate::chunk::Chunker;
use crate::config::Config;
use crate::embed::{Embedder, FastEmbedder};
use crate::error::{Error, Result};
use crate::index::{
    Conversation, ConversationSummary, Document, Index, IndexSettings, IndexStats, Turn,
};
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
    ///
    /// When the configuration leaves the model open (the default name) and the index already
    /// holds vectors of another catalogued model, that model is loaded, so an index made
    /// before the default changed keeps working; `itassist reindex` (or
    /// [`Assistant::reindex`]) moves it to the default model.
    pub fn open(config: Config) -> Result<Self> {
        config.validate()?;
        let embedding = Self::embedding_for_index(&config)?;
        let embedder = Arc::new(FastEmbedder::new(&embedding)?);
        Self::with_embedder(config, embedder)
    }

    /// The embedding settings to open `config.data_dir` with: `config.embedding`, with the
    /// model the index records when the configuration names none (the default name).
    fn embedding_for_index(config: &Config) -> Result<crate::config::EmbeddingConfig> {
        let mut embedding = config.embedding.clone();
        if !crate::embed::local::is_default_choice(&embedding.model) {
            return Ok(embedding);
        }
        let recorded = Index::read_meta(&config.data_dir, config.map_size)?
            .and_then(|meta| crate::embed::catalogue::find_model(&meta.embedding_model));
        if let Some(recorded) = recorded {
            if !crate::embed::local::is_default_choice(&recorded.short_name) {
                tracing::info!(
                    "the index in {} holds vectors of '{}': using that model (`itassist reindex` moves it to the default, '{}')",
                    config.data_dir.display(),
                    recorded.short_name,
                    crate::config::DEFAULT_EMBEDDING_MODEL
                );
            }
            embedding.model = recorded.short_name;
        }
        Ok(embedding)
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
            trees_above: config.retrieval.exact_search_below,
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

    /// Like [`Assistant::ingest_bytes`], calling `progress` with [`IngestEvent::Embedded`] as
    /// the document's chunks are embedded (the document is always finished: `Break` is
    /// ignored).
    pub fn ingest_bytes_with_progress(
        &self,
        name: &str,
        bytes: &[u8],
        progress: &dyn Fn(&IngestEvent) -> Flow,
    ) -> Result<FileReport> {
        self.pipeline.ingest_upload(name, bytes, None, progress)
    }

    /// Like [`Assistant::replace_bytes`], reporting progress as
    /// [`Assistant::ingest_bytes_with_progress`] does.
    pub fn replace_bytes_with_progress(
        &self,
        id: u64,
        name: &str,
        bytes: &[u8],
        progress: &dyn Fn(&IngestEvent) -> Flow,
    ) -> Result<FileReport> {
        self.pipeline.ingest_upload(name, bytes, Some(id), progress)
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
            let searched = (!options.no_context).then(|| question.clone());
            let events = answerer.answer_stream(question, passages, options);
            Box::pin(events.map(move |event| match event {
                Ok(AskEvent::Done { mut answer }) => {
                    answer.searched_query = searched.clone();
                    answer.timings.retrieval_seconds = retrieval_seconds;
                    answer.timings.total_seconds = Some(started.elapsed().as_secs_f64());
                    Ok(AskEvent::Done { answer })
                }
                other => other,
            })) as AskStream
        };
        Box::pin(stream::once(prepared).flatten())
    }

    /// Answers the last `user` message of a conversation (`system` / `user` / `assistant`
    /// messages, as OpenAI clients send them) from the indexed documents: the passages are
    /// retrieved with a standalone query made from the conversation
    /// ([`Assistant::conversation_query`], mode `config.chat.query_mode`), and the recent
    /// turns go into the prompt within the window, older ones dropped whole
    /// ([`Answer::dropped_turns`]). [`Answer::searched_query`] is the query searched.
    ///
    /// ```no_run
    /// # async fn demo() -> itassist::Result<()> {
    /// use itassist::ollama::ChatMessage;
    /// use itassist::{AskOptions, Assistant, Config};
    /// let assistant = Assistant::open(Config::new("./itassist-data"))?;
    /// let messages = [
    ///     ChatMessage::user("How do I set up SSH keys?"),
    ///     ChatMessage::assistant("Run ssh-keygen, then ssh-copy-id [1]."),
    ///     ChatMessage::user("and how do I turn off password login?"),
    /// ];
    /// let answer = assistant.chat(&messages, &AskOptions::default()).await?;
    /// println!("{} (searched: {:?})", answer.answer, answer.searched_query);
    /// # Ok(()) }
    /// ```
    pub async fn chat(&self, messages: &[ChatMessage], options: &AskOptions) -> Result<Answer> {
        collect_answer(self.chat_stream(messages, options.clone())).await
    }

    /// Like [`Assistant::chat`], streaming the same events as [`Assistant::ask_stream`].
    pub fn chat_stream(&self, messages: &[ChatMessage], options: AskOptions) -> AskStream {
        let fail = |e: Error| -> AskStream { Box::pin(stream::once(async move { Err(e) })) };
        if let Err(e) = options.validate() {
            return fail(e);
        }
        let dialogue = match Dialogue::from_messages(messages) {
            Ok(d) => d,
            Err(e) => return fail(e),
        };
        let k = options.top_k.unwrap_or(self.config.retrieval.top_k);
        if let Err(e) = self.config.retrieval.check_question(&dialogue.question, k) {
            return fail(e);
        }
        let answerer = match self.answerer() {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        let retriever = self.retriever.clone();
        let query =
            self.conversation_query_future(&dialogue, self.config.chat.query_mode, &options);
        let max_bytes = self.config.retrieval.max_query_bytes;
        let started = Instant::now();
        let prepared = async move {
            let (passages, searched, retrieval_seconds) = if options.no_context {
                (Vec::new(), None, None)
            } else {
                let t = Instant::now();
                let query = match query.await {
                    Ok(q) => clip_query(q, max_bytes),
                    Err(e) => return fail(e),
                };
                match retrieve(retriever, query.clone(), k).await {
                    Ok(p) => (p, Some(query), Some(t.elapsed().as_secs_f64())),
                    Err(e) => return fail(e),
                }
            };
            let events = answerer.chat_stream(dialogue, passages, options);
            Box::pin(events.map(move |event| match event {
                Ok(AskEvent::Done { mut answer }) => {
                    answer.searched_query = searched.clone();
                    answer.timings.retrieval_seconds = retrieval_seconds;
                    answer.timings.total_seconds = Some(started.elapsed().as_secs_f64());
                    Ok(AskEvent::Done { answer })
                }
                other => other,
            })) as AskStream
        };
        Box::pin(stream::once(prepared).flatten())
    }

    /// Starts a stored conversation (`title` defaults to its first question).
    pub fn new_conversation(&self, title: Option<&str>) -> Result<Conversation> {
        self.index.create_conversation(title)
    }

    /// The stored conversations, most recently updated first.
    pub fn conversations(&self) -> Result<Vec<ConversationSummary>> {
        self.index.conversations()
    }

    /// A stored conversation with its turns (`conversation_not_found` when there is none).
    pub fn conversation(&self, id: u64) -> Result<Conversation> {
        self.index.conversation(id)
    }

    /// Deletes a stored conversation, returning it.
    pub fn delete_conversation(&self, id: u64) -> Result<Conversation> {
        self.index.delete_conversation(id)
    }

    /// Asks `question` in stored conversation `id` (see [`Assistant::chat`]) and stores the
    /// turn with its sources; [`Answer::conversation_id`] is `id`.
    pub async fn continue_conversation(
        &self,
        id: u64,
        question: &str,
        options: &AskOptions,
    ) -> Result<Answer> {
        collect_answer(self.continue_conversation_stream(id, question, options.clone())).await
    }

    /// Like [`Assistant::continue_conversation`], streaming. The turn is stored when the
    /// answer is complete ([`AskEvent::Done`]); a stream dropped before stores nothing.
    pub fn continue_conversation_stream(
        &self,
        id: u64,
        question: &str,
        options: AskOptions,
    ) -> AskStream {
        let conversation = match self.index.conversation(id) {
            Ok(c) => c,
            Err(e) => return Box::pin(stream::once(async move { Err(e) })),
        };
        let messages = conversation.messages_with(question);
        let index = self.index.clone();
        Box::pin(
            self.chat_stream(&messages, options)
                .map(move |event| match event {
                    Ok(AskEvent::Done { mut answer }) => {
                        index.append_turn(id, Turn::from_answer(&answer))?;
                        answer.conversation_id = Some(id);
                        Ok(AskEvent::Done { answer })
                    }
                    other => other,
                }),
        )
    }

    /// The standalone query searched for the last question of `dialogue` (see
    /// [`crate::conversation`]). [`QueryMode::Rewrite`] asks the chat model (with `options`'
    /// model and the answers' `num_ctx`), and falls back to the weighted query when its reply
    /// is unusable.
    pub async fn conversation_query(
        &self,
        dialogue: &Dialogue,
        mode: QueryMode,
        options: &AskOptions,
    ) -> Result<String> {
        self.conversation_query_future(dialogue, mode, options)
            .await
    }

    /// Like [`Assistant::search`], for the last question of a conversation: searches the
    /// standalone query made with `config.chat.query_mode`, and returns it with the passages.
    pub async fn search_messages(
        &self,
        messages: &[ChatMessage],
        k: usize,
    ) -> Result<(String, Vec<Passage>)> {
        let dialogue = Dialogue::from_messages(messages)?;
        let query = self
            .conversation_query(
                &dialogue,
                self.config.chat.query_mode,
                &AskOptions::default(),
            )
            .await?;
        let query = clip_query(query, self.config.retrieval.max_query_bytes);
        let passages = self.search(&query, k)?;
        Ok((query, passages))
    }

    /// The query future, owning what it needs (so streams stay `'static`).
    fn conversation_query_future(
        &self,
        dialogue: &Dialogue,
        mode: QueryMode,
        options: &AskOptions,
    ) -> futures_util::future::BoxFuture<'static, Result<String>> {
        let fallback = dialogue.query(mode, &self.config.chat);
        if mode != QueryMode::Rewrite || dialogue.history.is_empty() {
            return Box::pin(async move { Ok(fallback) });
        }
        let backend = match self.chat_backend() {
            Ok(b) => b,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let config = self.config.answer.clone();
        let messages =
            conversation::rewrite_messages(dialogue, self.config.chat.query_turns.max(1));
        let max_tokens = self.config.chat.rewrite_max_tokens;
        let options = options.clone();
        Box::pin(async move {
            let model = options
                .model
                .clone()
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| config.model.clone());
            let num_ctx =
                crate::answer::request_num_ctx(backend.as_ref(), &config, &model, &options).await?;
            let request = ChatRequest {
                model,
                messages,
                options: GenerationOptions {
                    temperature: Some(0.0),
                    num_ctx,
                    num_predict: Some(max_tokens),
                    seed: options.seed.or(config.seed),
                },
            };
            let reply = backend.chat(request).await?;
            Ok(conversation::parse_rewrite(&reply.content).unwrap_or(fallback))
        })
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

/// Cuts a made-up query to `max_bytes` at a word boundary (the earlier-turn words go last, so
/// they are what is cut).
fn clip_query(query: String, max_bytes: usize) -> String {
    if query.len() <= max_bytes {
        return query;
    }
    let mut end = max_bytes;
    while end > 0 && !query.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &query[..end];
    cut.rfind(char::is_whitespace)
        .map_or(cut, |i| &cut[..i])
        .to_string()
}

/// Keeping folders in sync, watching them, per-file failures and re-indexing (see
/// [`crate::sync`], [`crate::watch`], [`crate::reindex`]).
impl Assistant {
    /// Makes the index match `roots` (folders or files): adds new files, replaces changed
    /// ones, re-points moved or renamed ones (recognised by content, not re-embedded) and
    /// removes documents whose files under the roots are gone. Documents from other folders
    /// and uploads are never touched. With `options.dry_run` nothing changes and the report
    /// lists what would. Per-file failures are in the report; an `Err` means a root is
    /// missing or the index failed.
    pub fn sync<P: AsRef<Path>>(
        &self,
        roots: &[P],
        options: &crate::sync::SyncOptions,
    ) -> Result<crate::sync::SyncReport> {
        self.sync_with_progress(roots, options, &|_| Flow::Continue(()))
    }

    /// Like [`Assistant::sync`], reporting progress; `Break` stops it after the document in
    /// flight (everything done stays done).
    pub fn sync_with_progress<P: AsRef<Path>>(
        &self,
        roots: &[P],
        options: &crate::sync::SyncOptions,
        progress: &dyn Fn(&crate::sync::SyncEvent) -> Flow,
    ) -> Result<crate::sync::SyncReport> {
        crate::sync::sync(&self.pipeline, roots, options, progress)
    }

    /// Syncs `roots`, then keeps the index in sync from filesystem notifications until
    /// `on_event` returns `Break` (it is called with [`crate::WatchEvent::Idle`] several times
    /// a second). Blocking: run it on its own thread (`tokio::task::spawn_blocking`).
    pub fn watch<P: AsRef<Path>>(
        &self,
        roots: &[P],
        options: &crate::watch::WatchOptions,
        on_event: &dyn Fn(&crate::watch::WatchEvent) -> Flow,
    ) -> Result<()> {
        crate::watch::watch(&self.pipeline, roots, options, on_event)
    }

    /// The files whose last ingest, sync or watch failed, with code and message.
    pub fn failures(&self) -> Result<Vec<crate::index::FailureRecord>> {
        self.index.failures()
    }

    /// Re-embeds every chunk of the index in `config.data_dir` with the embedding model of
    /// `config`, from the text stored in the index (no original files needed), and swaps the
    /// new vectors in atomically: searches keep answering from the old ones until the new
    /// ones are complete, and a crash or a cancel (`Break` from `progress`) leaves the old
    /// index intact. Afterwards the index records the new model: open it with `config`.
    /// Assistants opened before on the same directory answer `embedding_model_mismatch`
    /// from then on and must be reopened. A keyword index written by an older itassist
    /// (older analyzer or postings layout) is rewritten in the current one as well.
    pub fn reindex(
        config: &Config,
        progress: &dyn Fn(&crate::reindex::ReindexEvent) -> Flow,
    ) -> Result<crate::reindex::ReindexReport> {
        config.validate()?;
        let embedder = FastEmbedder::new(&config.embedding)?;
        Self::reindex_with_embedder(config, &embedder, progress)
    }

    /// Like [`Assistant::reindex`], with an embedder of your own.
    pub fn reindex_with_embedder(
        config: &Config,
        embedder: &dyn Embedder,
        progress: &dyn Fn(&crate::reindex::ReindexEvent) -> Flow,
    ) -> Result<crate::reindex::ReindexReport> {
        crate::reindex::reindex(
            &config.data_dir,
            config.map_size,
            config.retrieval.exact_search_below,
            embedder,
            config.embedding.batch_size,
            progress,
        )
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
