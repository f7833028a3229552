//! JavaScript-side shapes of the core's types (plain objects, camelCase fields), with the
//! conversions from the core. Counts and sizes that are `u64` in Rust are `number`s here.

use napi_derive::napi;

use itassist::pipeline::IngestTotals as CoreTotals;

/// `u64` as a JavaScript number (exact below 2^53).
fn num(value: u64) -> f64 {
    value as f64
}

/// `u64` id as a JavaScript integer.
fn id(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Options of `Assistant.open()`.
#[napi(object)]
#[derive(Debug, Default, Clone)]
pub struct AssistantOptions {
    /// Directory holding the index (created if missing).
    pub data_dir: String,
    /// Directory of the embedding model (`model.onnx`, `tokenizer.json`, ...). Default:
    /// `ITASSIST_MODEL_DIR`.
    pub model_dir: Option<String>,
    /// Embedding model id recorded in the index (a fastembed model code when downloaded).
    /// Default: the core's, `all-MiniLM-L6-v2-int8` (an existing index keeps its own model).
    pub embedding_model: Option<String>,
    /// Path of `libonnxruntime.so` (>= 1.24). Default: `ORT_DYLIB_PATH`, else the library of
    /// the `onnxruntime-node` package (found by the package's loader).
    pub onnx_runtime: Option<String>,
    /// Passages retrieved by default (`search` without `k`, `ask`). Default 5.
    pub top_k: Option<u32>,
    /// Largest chunk, in embedding-model tokens. Default: the core's `chunking.max_tokens`.
    pub chunk_tokens: Option<u32>,
    /// Tokens shared by neighbouring chunks. Default 32.
    pub chunk_overlap: Option<u32>,
    /// Run OCR on scanned PDFs and images (needs Tesseract). Default true.
    pub ocr: Option<bool>,
    /// Chat-model server URL. Default: `OLLAMA_HOST`, else `http://localhost:11434`.
    pub ollama_url: Option<String>,
    /// The API the server speaks: `'ollama'` (default) or `'openai'` (OpenAI-compatible, e.g.
    /// llama.cpp's `llama-server`).
    #[napi(ts_type = "'ollama' | 'openai'")]
    pub backend: Option<String>,
    /// Chat model. Default `llama3`.
    pub model: Option<String>,
    /// Seconds allowed to connect to the chat-model server. Default 5.
    pub connect_timeout_secs: Option<f64>,
}

/// Options of one question (`ask`, `askStream`).
#[napi(object)]
#[derive(Debug, Default, Clone)]
pub struct AskOptions {
    /// Chat model (default: the assistant's).
    pub model: Option<String>,
    /// Passages to retrieve (default: the assistant's `topK`).
    pub top_k: Option<u32>,
    /// Ask the model directly, without retrieved context.
    pub no_context: Option<bool>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Context window to request, in tokens.
    pub num_ctx: Option<u32>,
    /// Most tokens to generate.
    pub num_predict: Option<u32>,
    /// Random seed, for reproducible answers.
    pub seed: Option<u32>,
}

impl From<AskOptions> for itassist::AskOptions {
    fn from(o: AskOptions) -> Self {
        itassist::AskOptions {
            model: o.model,
            top_k: o.top_k.map(|k| k as usize),
            no_context: o.no_context.unwrap_or(false),
            temperature: o.temperature.map(|t| t as f32),
            num_ctx: o.num_ctx,
            num_predict: o.num_predict,
            seed: o.seed.map(u64::from),
        }
    }
}

/// A retrieved passage with where it came from.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Passage {
    /// Chunk id in the index.
    pub chunk_id: u32,
    /// Document id in the index.
    pub document_id: i64,
    /// The document's source (absolute file path or `upload:NAME`).
    pub source: String,
    /// The document's display name.
    pub name: String,
    /// The document's title, when known.
    pub title: Option<String>,
    /// 1-based page, for paged documents.
    pub page: Option<u32>,
    /// Heading the passage sits under, for structured documents.
    pub section: Option<String>,
    /// The passage text.
    pub text: String,
    /// Relevance score, higher is better (cosine similarity).
    pub score: f64,
    /// Byte range `[start, end)` of the passage in the document text.
    #[napi(ts_type = "[number, number]")]
    pub span: Vec<f64>,
    /// Name plus page or section, e.g. `bash.pdf, page 12`.
    pub citation: String,
}

impl From<itassist::Passage> for Passage {
    fn from(p: itassist::Passage) -> Self {
        let citation = p.citation();
        Passage {
            chunk_id: p.chunk_id,
            document_id: id(p.document_id),
            source: p.source,
            name: p.name,
            title: p.title,
            page: p.page,
            section: p.section,
            text: p.text,
            score: f64::from(p.score),
            span: vec![p.span.0 as f64, p.span.1 as f64],
            citation,
        }
    }
}

/// A document in the index.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Document {
    /// Stable id, unique in this index.
    pub id: i64,
    /// Absolute file path, or `upload:NAME`.
    pub source: String,
    /// Display name.
    pub name: String,
    /// Title, when the format carries one.
    pub title: Option<String>,
    /// Detected format (`pdf`, `html`, `markdown`, ...).
    pub format: String,
    /// Media type.
    pub media_type: String,
    /// sha256 of the content, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: f64,
    /// Modification time of the file (seconds since the epoch), when known.
    pub modified: Option<f64>,
    /// Number of pages, for paged formats.
    pub page_count: Option<u32>,
    /// Pages read by OCR.
    pub ocr_pages: Vec<u32>,
    /// Number of chunks.
    pub chunk_count: u32,
    /// Tokens over all chunks.
    pub token_count: f64,
    /// When it was ingested (seconds since the epoch).
    pub ingested_at: f64,
}

impl From<itassist::Document> for Document {
    fn from(d: itassist::Document) -> Self {
        let format = serde_json::to_value(d.format)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{:?}", d.format).to_lowercase());
        Document {
            id: id(d.id),
            source: d.source,
            name: d.name,
            title: d.title,
            format,
            media_type: d.media_type,
            sha256: d.sha256,
            size: num(d.size),
            modified: d.modified.map(num),
            page_count: d.page_count,
            ocr_pages: d.ocr_pages,
            chunk_count: d.chunk_count,
            token_count: num(d.token_count),
            ingested_at: num(d.ingested_at),
        }
    }
}

/// A core error as data (in ingest reports): the stable `code` and the message.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// Stable machine-readable code, e.g. `corrupt_document`.
    pub code: String,
    /// What went wrong and what to do, with the cause chain.
    pub message: String,
}

impl From<&itassist::Error> for ErrorInfo {
    fn from(e: &itassist::Error) -> Self {
        ErrorInfo {
            code: e.code().to_string(),
            message: e.display_chain(),
        }
    }
}

/// What happened to one file of an ingest run.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file (or upload name).
    pub path: String,
    /// `added`, `replaced`, `unchanged`, `duplicate`, `skipped` or `failed`.
    #[napi(ts_type = "'added' | 'replaced' | 'unchanged' | 'duplicate' | 'skipped' | 'failed'")]
    pub status: String,
    /// The document written (`added`, `replaced`).
    pub document: Option<Document>,
    /// The id the document had before (`replaced`).
    pub previous_id: Option<i64>,
    /// The existing document (`unchanged`, `duplicate`).
    pub document_id: Option<i64>,
    /// The source already holding the same content (`duplicate`).
    pub duplicate_of: Option<String>,
    /// Why the file was skipped (`skipped`).
    pub reason: Option<String>,
    /// The error (`failed`).
    pub error: Option<ErrorInfo>,
}

impl From<itassist::FileReport> for FileReport {
    fn from(r: itassist::FileReport) -> Self {
        use itassist::FileStatus;
        let mut out = FileReport {
            path: r.path.to_string_lossy().into_owned(),
            status: r.status.label().to_string(),
            document: None,
            previous_id: None,
            document_id: None,
            duplicate_of: None,
            reason: None,
            error: None,
        };
        match r.status {
            FileStatus::Added { document } => out.document = Some(document.into()),
            FileStatus::Replaced {
                document,
                previous_id,
            } => {
                out.document = Some(document.into());
                out.previous_id = Some(id(previous_id));
            }
            FileStatus::Unchanged { document_id } => out.document_id = Some(id(document_id)),
            FileStatus::Duplicate {
                document_id,
                source,
            } => {
                out.document_id = Some(id(document_id));
                out.duplicate_of = Some(source);
            }
            FileStatus::Skipped { reason } => out.reason = Some(reason),
            FileStatus::Failed { error } => out.error = Some(ErrorInfo::from(&error)),
        }
        out
    }
}

/// Totals of an ingest run.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct IngestTotals {
    /// Files newly indexed.
    pub added: u32,
    /// Files re-indexed because their content changed.
    pub replaced: u32,
    /// Files already indexed.
    pub unchanged: u32,
    /// Files whose content was already indexed from another source.
    pub duplicates: u32,
    /// Files skipped as unsupported while walking folders.
    pub skipped: u32,
    /// Files that failed.
    pub failed: u32,
    /// Pages read.
    pub pages: f64,
    /// Chunks written.
    pub chunks: f64,
    /// Tokens over the chunks written.
    pub tokens: f64,
    /// Bytes parsed.
    pub bytes: f64,
    /// Wall time of the run, seconds.
    pub elapsed_seconds: f64,
    /// Time inside the embedding model, seconds.
    pub embedding_seconds: f64,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<CoreTotals> for IngestTotals {
    fn from(t: CoreTotals) -> Self {
        IngestTotals {
            added: count(t.added),
            replaced: count(t.replaced),
            unchanged: count(t.unchanged),
            duplicates: count(t.duplicates),
            skipped: count(t.skipped),
            failed: count(t.failed),
            pages: num(t.pages),
            chunks: num(t.chunks),
            tokens: num(t.tokens),
            bytes: num(t.bytes),
            elapsed_seconds: t.elapsed.as_secs_f64(),
            embedding_seconds: t.embedding_time.as_secs_f64(),
        }
    }
}

/// The outcome of an ingest run. Per-file failures are here (with their `error.code`), never
/// a rejection: a rejection means the index itself failed.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct IngestReport {
    /// One report per file, in the order they finished.
    pub files: Vec<FileReport>,
    /// Totals.
    pub totals: IngestTotals,
}

impl From<itassist::IngestReport> for IngestReport {
    fn from(r: itassist::IngestReport) -> Self {
        IngestReport {
            files: r.files.into_iter().map(FileReport::from).collect(),
            totals: r.totals.into(),
        }
    }
}

/// Counts and sizes of the index.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct IndexStats {
    /// The data directory.
    pub data_dir: String,
    /// Documents indexed.
    pub documents: f64,
    /// Chunks (and vectors) indexed.
    pub chunks: f64,
    /// Tokens over all chunks.
    pub tokens: f64,
    /// Bytes used on disk.
    pub disk_bytes: f64,
    /// Embedding model of the vectors.
    pub embedding_model: String,
    /// Vector length.
    pub dimensions: u32,
    /// Whether the vector search is up to date (false only while the trees of a collection
    /// large enough to use them are out of date; searches scan meanwhile).
    pub trees_built: bool,
}

impl From<itassist::IndexStats> for IndexStats {
    fn from(s: itassist::IndexStats) -> Self {
        IndexStats {
            data_dir: s.data_dir.to_string_lossy().into_owned(),
            documents: num(s.documents),
            chunks: num(s.chunks),
            tokens: num(s.tokens),
            disk_bytes: num(s.disk_bytes),
            embedding_model: s.embedding_model,
            dimensions: count(s.dimensions),
            trees_built: s.trees_built,
        }
    }
}

/// A model the chat-model server has.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// Name (`model:tag` for Ollama).
    pub name: String,
    /// Size on disk in bytes.
    pub size: Option<f64>,
    /// Last modification time (RFC 3339).
    pub modified_at: Option<String>,
    /// Content digest.
    pub digest: Option<String>,
    /// Model family.
    pub family: Option<String>,
    /// Parameter count as the server prints it (`3.2B`).
    pub parameter_size: Option<String>,
    /// Quantisation (`Q4_K_M`).
    pub quantization_level: Option<String>,
}

impl From<itassist::ModelInfo> for ModelInfo {
    fn from(m: itassist::ModelInfo) -> Self {
        ModelInfo {
            name: m.name,
            size: m.size.map(num),
            modified_at: m.modified_at,
            digest: m.digest,
            family: m.family,
            parameter_size: m.parameter_size,
            quantization_level: m.quantization_level,
        }
    }
}

/// Token counts and speed of an answer.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Timings {
    /// Tokens in the prompt.
    pub prompt_tokens: Option<f64>,
    /// Tokens generated.
    pub generated_tokens: Option<f64>,
    /// Generation speed.
    pub tokens_per_second: Option<f64>,
    /// Seconds until the first token.
    pub first_token_seconds: Option<f64>,
    /// Seconds for the whole answer.
    pub total_seconds: Option<f64>,
    /// Seconds spent retrieving passages.
    pub retrieval_seconds: Option<f64>,
    /// Seconds spent building the prompt.
    pub prompt_build_seconds: Option<f64>,
    /// Seconds the server spent reading the prompt.
    pub prompt_eval_seconds: Option<f64>,
}

impl From<itassist::Timings> for Timings {
    fn from(t: itassist::Timings) -> Self {
        Timings {
            prompt_tokens: t.prompt_tokens.map(num),
            generated_tokens: t.generated_tokens.map(num),
            tokens_per_second: t.tokens_per_second,
            first_token_seconds: t.first_token_seconds,
            total_seconds: t.total_seconds,
            retrieval_seconds: t.retrieval_seconds,
            prompt_build_seconds: t.prompt_build_seconds,
            prompt_eval_seconds: t.prompt_eval_seconds,
        }
    }
}

/// An answer with its sources.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Answer {
    /// The question asked.
    pub question: String,
    /// The model's answer, citing sources as `[n]`.
    pub answer: String,
    /// The model that answered.
    pub model: String,
    /// The passages given to the model, numbered from 1 in this order.
    pub sources: Vec<Passage>,
    /// 1-based numbers of the sources the answer cites.
    pub cited: Vec<u32>,
    /// Passages retrieved but left out because they did not fit the model's window.
    pub dropped_passages: u32,
    /// Token counts and speed.
    pub timings: Timings,
    /// Why generation stopped: `stop`, or `length`.
    pub finish_reason: Option<String>,
    /// The context window the prompt was fitted to, in tokens.
    pub context_window: Option<u32>,
    /// Estimated prompt tokens.
    pub estimated_prompt_tokens: Option<u32>,
    /// The query the passages were retrieved with (in a conversation, the standalone query
    /// made from it); absent when nothing was retrieved.
    pub searched_query: Option<String>,
    /// Earlier turns of the conversation given to the model.
    pub history_turns: u32,
    /// Earlier turns left out (oldest first, whole) because they did not fit the window.
    pub dropped_turns: u32,
    /// The language the model was told to answer in (e.g. `'Spanish'`), when known.
    pub language: Option<String>,
    /// Warnings, e.g. `context_truncated`.
    pub warnings: Vec<Warning>,
    /// The stored conversation the turn was added to, when asked in one.
    pub conversation_id: Option<i64>,
}

/// Something to know about an answer that is not an error.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Warning {
    /// Stable code, e.g. `context_truncated`.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
}

/// One message of a conversation, in OpenAI's chat format.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ChatMessage {
    /// `'system'`, `'user'` or `'assistant'`.
    #[napi(ts_type = "'system' | 'user' | 'assistant'")]
    pub role: String,
    /// The text.
    pub content: String,
}

impl From<ChatMessage> for itassist::ollama::ChatMessage {
    fn from(m: ChatMessage) -> Self {
        itassist::ollama::ChatMessage {
            role: m.role,
            content: m.content,
        }
    }
}

/// One stored question and answer.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Turn {
    /// The question.
    pub question: String,
    /// The answer.
    pub answer: String,
    /// The passages the answer was written from, numbered from 1.
    pub sources: Vec<Passage>,
    /// 1-based numbers of the sources the answer cites.
    pub cited: Vec<u32>,
    /// The query searched for this turn.
    pub searched_query: Option<String>,
    /// The model that answered.
    pub model: String,
    /// Warnings given with the answer.
    pub warnings: Vec<Warning>,
    /// When it was asked (seconds since the Unix epoch).
    pub created_at: f64,
}

/// A stored conversation with its turns.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Conversation {
    /// Its id (for `continueConversation`).
    pub id: i64,
    /// Its title (by default, the first question).
    pub title: String,
    /// Seconds since the Unix epoch.
    pub created_at: f64,
    /// Seconds since the Unix epoch.
    pub updated_at: f64,
    /// The turns, oldest first.
    pub turns: Vec<Turn>,
}

/// A stored conversation without its turns (`conversations()`).
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ConversationSummary {
    /// Its id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// Seconds since the Unix epoch.
    pub created_at: f64,
    /// Seconds since the Unix epoch.
    pub updated_at: f64,
    /// Number of turns.
    pub turns: u32,
}

impl From<itassist::answer::Warning> for Warning {
    fn from(w: itassist::answer::Warning) -> Self {
        Warning {
            code: w.code,
            message: w.message,
        }
    }
}

impl From<itassist::index::Turn> for Turn {
    fn from(t: itassist::index::Turn) -> Self {
        Turn {
            question: t.question,
            answer: t.answer,
            sources: t.sources.into_iter().map(Passage::from).collect(),
            cited: t.cited.into_iter().map(count).collect(),
            searched_query: t.searched_query,
            model: t.model,
            warnings: t.warnings.into_iter().map(Warning::from).collect(),
            created_at: num(t.created_at),
        }
    }
}

impl From<itassist::index::Conversation> for Conversation {
    fn from(c: itassist::index::Conversation) -> Self {
        Conversation {
            id: id(c.id),
            title: c.title,
            created_at: num(c.created_at),
            updated_at: num(c.updated_at),
            turns: c.turns.into_iter().map(Turn::from).collect(),
        }
    }
}

impl From<itassist::index::ConversationSummary> for ConversationSummary {
    fn from(c: itassist::index::ConversationSummary) -> Self {
        ConversationSummary {
            id: id(c.id),
            title: c.title,
            created_at: num(c.created_at),
            updated_at: num(c.updated_at),
            turns: count(c.turns),
        }
    }
}

impl From<itassist::Answer> for Answer {
    fn from(a: itassist::Answer) -> Self {
        Answer {
            question: a.question,
            answer: a.answer,
            model: a.model,
            sources: a.sources.into_iter().map(Passage::from).collect(),
            cited: a.cited.into_iter().map(count).collect(),
            dropped_passages: count(a.dropped_passages),
            timings: a.timings.into(),
            finish_reason: a.finish_reason,
            context_window: a.context_window.map(count),
            estimated_prompt_tokens: a.estimated_prompt_tokens.map(count),
            searched_query: a.searched_query,
            history_turns: count(a.history_turns),
            dropped_turns: count(a.dropped_turns),
            language: a.language,
            warnings: a.warnings.into_iter().map(Warning::from).collect(),
            conversation_id: a.conversation_id.map(id),
        }
    }
}

/// Options of `sync`.
#[napi(object)]
#[derive(Debug, Default, Clone)]
pub struct SyncOptions {
    /// Only report what would change; change nothing.
    pub dry_run: Option<bool>,
    /// Try again files that failed before even if they did not change.
    pub retry_failed: Option<bool>,
}

impl From<SyncOptions> for itassist::sync::SyncOptions {
    fn from(o: SyncOptions) -> Self {
        itassist::sync::SyncOptions {
            dry_run: o.dry_run.unwrap_or_default(),
            retry_failed: o.retry_failed.unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// One change a sync made (or, in a dry run, would make).
#[napi(object)]
#[derive(Debug, Clone)]
pub struct SyncChange {
    /// The file (for a removal: the document's source).
    pub path: String,
    /// `add`, `replace`, `move`, `remove`, `duplicate`, `known_failure`, `skipped` or `failed`.
    pub action: String,
    /// The document replaced, moved, removed or already holding the content.
    pub document_id: Option<i64>,
    /// For a move: the document's previous source; for a duplicate: the source holding it.
    pub from: Option<String>,
    /// For a known failure or a failure: the error code.
    pub code: Option<String>,
    /// Why it was skipped, or the error message.
    pub message: Option<String>,
}

impl From<&itassist::sync::SyncChange> for SyncChange {
    fn from(c: &itassist::sync::SyncChange) -> Self {
        use itassist::sync::SyncAction as A;
        let mut change = SyncChange {
            path: c.path.to_string_lossy().into_owned(),
            action: c.action.label().to_string(),
            document_id: None,
            from: None,
            code: None,
            message: None,
        };
        match &c.action {
            A::Add => {}
            A::Replace { document_id } | A::Remove { document_id } => {
                change.document_id = Some(id(*document_id));
            }
            A::Move { document_id, from } => {
                change.document_id = Some(id(*document_id));
                change.from = Some(from.clone());
            }
            A::Duplicate {
                document_id,
                source,
            } => {
                change.document_id = Some(id(*document_id));
                change.from = Some(source.clone());
            }
            A::KnownFailure { code, message } => {
                change.code = Some(code.clone());
                change.message = Some(message.clone());
            }
            A::Skipped { reason } => change.message = Some(reason.clone()),
            A::Failed { error } => {
                change.code = Some(error.code().to_string());
                change.message = Some(error.display_chain());
            }
        }
        change
    }
}

/// Counts of a sync (in a dry run, of what would happen).
#[napi(object)]
#[derive(Debug, Clone)]
pub struct SyncTotals {
    /// Files newly indexed.
    pub added: u32,
    /// Files re-indexed because their content changed.
    pub replaced: u32,
    /// Documents removed because their file is gone.
    pub removed: u32,
    /// Documents re-pointed to a moved or renamed file (not re-embedded).
    pub moved: u32,
    /// Files already indexed as they are.
    pub unchanged: u32,
    /// Files that failed.
    pub failed: u32,
    /// Files skipped as known failures (failed before, unchanged since).
    pub known_failures: u32,
    /// Files whose content is already indexed from another file.
    pub duplicates: u32,
    /// Files skipped as unsupported.
    pub skipped: u32,
    /// Wall time, in seconds.
    pub elapsed: f64,
}

/// The outcome of `sync`.
#[napi(object)]
pub struct SyncReport {
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
    /// The roots, as absolute paths.
    pub roots: Vec<String>,
    /// Every path that is not unchanged, with its action.
    pub changes: Vec<SyncChange>,
    /// The ingest of the added and replaced files (empty in a dry run).
    pub ingest: IngestReport,
    /// Counts.
    pub totals: SyncTotals,
}

impl From<itassist::sync::SyncReport> for SyncReport {
    fn from(r: itassist::sync::SyncReport) -> Self {
        let t = &r.totals;
        SyncReport {
            dry_run: r.dry_run,
            roots: r
                .roots
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
            changes: r.changes.iter().map(SyncChange::from).collect(),
            totals: SyncTotals {
                added: count(t.added),
                replaced: count(t.replaced),
                removed: count(t.removed),
                moved: count(t.moved),
                unchanged: count(t.unchanged),
                failed: count(t.failed),
                known_failures: count(t.known_failures),
                duplicates: count(t.duplicates),
                skipped: count(t.skipped),
                elapsed: t.elapsed.as_secs_f64(),
            },
            ingest: r.ingest.into(),
        }
    }
}

/// A file that failed at the last ingest, sync or watch.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct FailureRecord {
    /// The file's absolute path.
    pub source: String,
    /// The error code.
    pub code: String,
    /// The error message with its causes.
    pub message: String,
    /// The file's size when it failed.
    pub size: Option<f64>,
    /// Its modification time when it failed (seconds since the Unix epoch).
    pub modified: Option<f64>,
    /// When it failed (seconds since the Unix epoch).
    pub failed_at: f64,
}

impl From<itassist::index::FailureRecord> for FailureRecord {
    fn from(f: itassist::index::FailureRecord) -> Self {
        FailureRecord {
            source: f.source,
            code: f.code,
            message: f.message,
            size: f.size.map(num),
            modified: f.modified.map(num),
            failed_at: num(f.failed_at),
        }
    }
}

/// Options of `reindex`: the embedding model to re-embed with (unset options keep this
/// assistant's).
#[napi(object)]
#[derive(Debug, Default)]
pub struct ReindexOptions {
    /// The new model's name (see `models()`, or the `name` of a local model directory).
    pub embedding_model: Option<String>,
    /// The directory of the new model's files, when it is a local model.
    pub model_dir: Option<String>,
}

/// The outcome of `reindex`.
#[napi(object)]
pub struct ReindexReport {
    /// The index directory.
    pub data_dir: String,
    /// The model the vectors came from before.
    pub previous_model: String,
    /// Their length before.
    pub previous_dimensions: u32,
    /// The model the vectors come from now.
    pub model: String,
    /// Their length now.
    pub dimensions: u32,
    /// Passages re-embedded.
    pub chunks: i64,
    /// Wall time in seconds.
    pub elapsed: f64,
    /// Seconds spent inside the embedding model.
    pub embedding_seconds: f64,
}

impl From<itassist::ReindexReport> for ReindexReport {
    fn from(r: itassist::ReindexReport) -> Self {
        ReindexReport {
            data_dir: r.data_dir.to_string_lossy().into_owned(),
            previous_model: r.previous_model,
            previous_dimensions: u32::try_from(r.previous_dimensions).unwrap_or(u32::MAX),
            model: r.model,
            dimensions: u32::try_from(r.dimensions).unwrap_or(u32::MAX),
            chunks: i64::try_from(r.chunks).unwrap_or(i64::MAX),
            elapsed: r.elapsed.as_secs_f64(),
            embedding_seconds: r.embedding_time.as_secs_f64(),
        }
    }
}
