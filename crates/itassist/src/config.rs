//! Configuration of an [`Assistant`](crate::Assistant).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ingest::LoadOptions;

/// The default embedding model: sentence-transformers' all-MiniLM-L6-v2 (384 dimensions)
/// with int8 weights, about 1.3x as fast to ingest as fp32 with the same retrieval quality
/// (`docs/models.md`). Offline, the model directory decides what the default is
/// ([`crate::embed::local::resolve_model_dir`]); an index made with another catalogued
/// model keeps opening with that model while the configuration leaves the choice open
/// ([`crate::Assistant::open`]).
pub const DEFAULT_EMBEDDING_MODEL: &str = "all-MiniLM-L6-v2-int8";

/// Environment variable naming the data directory (used when the config does not set one).
pub const ENV_DATA_DIR: &str = "ITASSIST_DATA_DIR";
/// Environment variable naming a local embedding model directory.
pub const ENV_MODEL_DIR: &str = "ITASSIST_MODEL_DIR";

/// Everything an [`Assistant`](crate::Assistant) needs to know.
///
/// ```
/// let config = itassist::Config::new("/tmp/itassist-doc-config")
///     .with_top_k(5)
///     .with_chunk_tokens(200, 40);
/// assert_eq!(config.retrieval.top_k, 5);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Directory holding the index (one LMDB environment).
    pub data_dir: PathBuf,
    /// Embedding model settings.
    pub embedding: EmbeddingConfig,
    /// Chunking settings.
    pub chunking: ChunkingConfig,
    /// Retrieval settings.
    pub retrieval: RetrievalConfig,
    /// Document loading settings (OCR and its tools).
    pub loading: LoadOptions,
    /// Maximum size of the index file in bytes. The file is sparse; this is a cap, not an
    /// allocation.
    pub map_size: usize,
    /// The chat-model server that writes answers (Ollama or an OpenAI-compatible server).
    pub answer: AnswerConfig,
    /// Conversations: how a follow-up is made standalone before searching.
    #[serde(default)]
    pub chat: crate::conversation::ChatConfig,
}

/// Environment variable naming the Ollama server, as Ollama itself reads it
/// (`http://host:port`, `host:port`, `host`, or `https://host`).
pub const ENV_OLLAMA_HOST: &str = "OLLAMA_HOST";
/// The Ollama server used when neither the config nor `OLLAMA_HOST` names one.
pub const DEFAULT_OLLAMA_URL: &str = "http://localhost:11434";
/// The chat model used when none is configured (the original service's default).
pub const DEFAULT_CHAT_MODEL: &str = "llama3";

/// Which HTTP API the chat-model server speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Ollama's native API (`/api/chat`, `/api/show`, `/api/tags`, `/api/pull`, ...).
    #[default]
    Ollama,
    /// The OpenAI-compatible API (`/v1/chat/completions` with SSE): llama.cpp's
    /// `llama-server`, vLLM, LM Studio, or Ollama's own `/v1`.
    OpenAi,
}

impl std::str::FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ollama" => Ok(Backend::Ollama),
            "openai" | "open-ai" | "openai-compatible" => Ok(Backend::OpenAi),
            other => Err(Error::InvalidInput(format!(
                "unknown backend '{other}': use 'ollama' or 'openai'"
            ))),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Ollama => "ollama",
            Backend::OpenAi => "openai",
        })
    }
}

/// The chat-model server and the defaults of every question.
///
/// Timeouts are in seconds. `num_ctx`, `num_predict`, `temperature` and `seed` are defaults
/// that [`AskOptions`](crate::AskOptions) override per question.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AnswerConfig {
    /// Server base URL (default: `$OLLAMA_HOST`, else `http://localhost:11434`). Accepts
    /// `host:port` without a scheme, as Ollama does. For the OpenAI backend a trailing `/v1`
    /// is optional.
    pub base_url: String,
    /// Which API the server speaks.
    pub backend: Backend,
    /// Chat model name (`model:tag`; ignored by single-model servers such as llama-server).
    pub model: String,
    /// Seconds allowed to open a TCP connection to the server.
    pub connect_timeout_secs: f64,
    /// Seconds allowed for metadata requests (`/api/tags`, `/api/show`, `/api/version`).
    pub request_timeout_secs: f64,
    /// Seconds allowed for one whole answer (model loading included); also the longest
    /// silence allowed between two progress lines of a pull.
    pub generation_timeout_secs: f64,
    /// Retries of a request answered with HTTP 5xx (or 429) before the error is reported.
    pub retries: u32,
    /// First retry delay in milliseconds; doubled on every further retry (capped at 5 s).
    pub retry_backoff_ms: u64,
    /// Sampling temperature (server default when unset).
    pub temperature: Option<f32>,
    /// Context window to request, in tokens. When unset, the model's trained window
    /// (`/api/show` `model_info["<arch>.context_length"]`) capped at `max_context_window`
    /// is used and sent as `num_ctx`, so the server never truncates the prompt silently.
    pub num_ctx: Option<u32>,
    /// Upper bound of the window used when `num_ctx` is unset (memory grows with it).
    pub max_context_window: u32,
    /// Window assumed when the server cannot tell (OpenAI-compatible servers without
    /// llama.cpp's `/props`).
    pub fallback_context_window: u32,
    /// Most tokens to generate; this much room is kept free in the window for the answer.
    pub num_predict: Option<u32>,
    /// Random seed for reproducible answers.
    pub seed: Option<u64>,
    /// Bearer token for OpenAI-compatible servers that require one (vLLM, hosted proxies).
    #[serde(skip_serializing)]
    pub api_key: Option<String>,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            base_url: std::env::var(ENV_OLLAMA_HOST)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_OLLAMA_URL.to_string()),
            backend: Backend::Ollama,
            model: DEFAULT_CHAT_MODEL.to_string(),
            connect_timeout_secs: 5.0,
            request_timeout_secs: 30.0,
            generation_timeout_secs: 600.0,
            retries: 3,
            retry_backoff_ms: 500,
            temperature: None,
            num_ctx: None,
            max_context_window: 8192,
            fallback_context_window: 4096,
            num_predict: Some(512),
            seed: None,
            api_key: None,
        }
    }
}

impl std::fmt::Debug for AnswerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerConfig")
            .field("base_url", &self.base_url)
            .field("backend", &self.backend)
            .field("model", &self.model)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("generation_timeout_secs", &self.generation_timeout_secs)
            .field("retries", &self.retries)
            .field("retry_backoff_ms", &self.retry_backoff_ms)
            .field("temperature", &self.temperature)
            .field("num_ctx", &self.num_ctx)
            .field("max_context_window", &self.max_context_window)
            .field("fallback_context_window", &self.fallback_context_window)
            .field("num_predict", &self.num_predict)
            .field("seed", &self.seed)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl AnswerConfig {
    /// Checks that the settings make sense.
    pub fn validate(&self) -> Result<()> {
        let invalid = |msg: String| Err(Error::InvalidInput(msg));
        for (name, value) in [
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("request_timeout_secs", self.request_timeout_secs),
            ("generation_timeout_secs", self.generation_timeout_secs),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return invalid(format!("{name} must be a positive number of seconds"));
            }
        }
        if self.model.trim().is_empty() {
            return invalid("the chat model name is empty".into());
        }
        if self.max_context_window < 256 || self.fallback_context_window < 256 {
            return invalid("context windows must be at least 256 tokens".into());
        }
        crate::answer::validate_temperature(self.temperature)
    }
}

/// Where the embedding model comes from and how it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddingConfig {
    /// The embedding model, by name: a model of fastembed's catalogue (`all-MiniLM-L6-v2`,
    /// `all-MiniLM-L6-v2-int8`, `multilingual-e5-small`, `bge-small-en-v1.5`, ...; its full
    /// name such as `intfloat/multilingual-e5-small` also works), each run with its own
    /// pooling and query/passage prefixes (see `docs/models.md`). With `model_dir` set, the
    /// default name lets the directory's `itassist-model.json` decide. The index records the
    /// model (with its precision and prefixes) and refuses vectors of another.
    pub model: String,
    /// A local directory with `model.onnx`, `tokenizer.json`, `config.json`,
    /// `tokenizer_config.json`, optionally `special_tokens_map.json`, and optionally
    /// `itassist-model.json` (which model it is and how to run it; without it, the directory
    /// is taken as all-MiniLM-L6-v2). When `model` names another model than the directory
    /// holds, a sibling directory named after that model is used. When unset, the model is
    /// downloaded from the Hugging Face hub on first use (feature `online`).
    pub model_dir: Option<PathBuf>,
    /// Where downloaded models are cached.
    pub cache_dir: Option<PathBuf>,
    /// Path to the ONNX Runtime shared library (`libonnxruntime.so`). When unset,
    /// `ORT_DYLIB_PATH` and the usual install locations are tried.
    pub onnxruntime: Option<PathBuf>,
    /// Maximum tokens per input, including the two special tokens (the model's window).
    pub max_tokens: usize,
    /// Texts per inference batch.
    pub batch_size: usize,
    /// ONNX Runtime intra-op threads (default: all cores).
    pub threads: Option<usize>,
}

/// How documents are cut into chunks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkingConfig {
    /// Largest chunk, in embedding-model tokens (capped to the model window). A heading the
    /// splitter would leave alone joins the chunk after it, which may then exceed this size,
    /// never the model window.
    pub max_tokens: usize,
    /// Tokens shared between neighbouring chunks.
    pub overlap_tokens: usize,
}

/// How passages are found.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RetrievalConfig {
    /// Passages returned by default.
    pub top_k: usize,
    /// Most passages one search may ask for; a larger `k` is `invalid_input`.
    pub max_top_k: usize,
    /// Longest query or question accepted, in bytes of UTF-8; a longer one is
    /// `invalid_input` (a query is a question, not a document).
    pub max_query_bytes: usize,
    /// Collections with at most this many chunks are searched by the in-memory vector scan
    /// (sign bits, then int8 codes, then the exact vectors; about 1 ms at 100,000 chunks);
    /// larger ones through the arroy trees. The name is kept from when that scan was exact.
    pub exact_search_below: usize,
    /// Vectors the scan shortlists by sign bits before re-ranking them by int8 codes (at
    /// least 1% of the collection).
    pub scan_shortlist: usize,
    /// Of the shortlist, the scan re-scores `k` times this many exactly ... (2: at 132,192
    /// chunks `bash scripts/bench.sh scale` finds 0.9892 of the exact 50 nearest with 2k as
    /// with 4k, since the int8 order already holds them, and each re-scored vector is an
    /// LMDB read.)
    pub scan_rescore_per_result: usize,
    /// ... and at least this many.
    pub scan_rescore_min: usize,
    /// arroy search oversampling factor (how many more tree nodes to visit than `top_k`).
    pub oversampling: usize,
    /// Number of arroy trees, fixed when the index is created.
    pub n_trees: usize,
    /// How passages are ranked: by meaning, by keywords, or both fused.
    pub mode: RetrievalMode,
    /// BM25 parameters of the keyword search.
    pub bm25: crate::keyword::Bm25,
    /// How hybrid search fuses the dense and keyword rankings.
    pub fusion: FusionMethod,
    /// Reciprocal-rank-fusion constant of hybrid search (larger flattens the ranks); only
    /// [`FusionMethod::Rrf`] reads it.
    pub rrf_k: f32,
    /// Weight of the keyword ranking in hybrid search (the dense ranking weighs 1), with
    /// either fusion method.
    pub keyword_weight: f32,
    /// Candidates taken from each ranking before fusing (at least `k`).
    pub fusion_candidates: usize,
    /// In hybrid search, the fraction of the best fused score of another passage of the same
    /// document that a passage gains (0 turns it off): a document found by several passages
    /// ranks above one found by a single passage.
    pub document_weight: f32,
}

/// How passages are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RetrievalMode {
    /// Nearest embedding vectors (meaning).
    Dense,
    /// BM25 over the words (exact terms, names, error codes).
    Keyword,
    /// Both rankings fused with reciprocal rank fusion.
    #[default]
    Hybrid,
}

/// How hybrid search fuses its dense and keyword rankings (each cut to
/// [`RetrievalConfig::fusion_candidates`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// Weighted reciprocal rank fusion: a passage gains `weight / (rrf_k + rank)` from each
    /// ranking it is in. Only ranks count, so the two scores' scales never matter.
    #[default]
    Rrf,
    /// Weighted sum of scores: each ranking's scores are rescaled over its candidates, the
    /// best to 1 and the last to 0 (min-max), and a passage's fused score is its dense one
    /// plus `keyword_weight` times its keyword one (0 for a ranking it is not in). Unlike
    /// RRF it keeps how far apart the candidates score: a passage far ahead in one ranking
    /// stays ahead. On SciFact's train split it was the best fusion (docs/benchmarks.md).
    Scores,
}

impl std::str::FromStr for RetrievalMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "dense" => Ok(RetrievalMode::Dense),
            "keyword" | "bm25" => Ok(RetrievalMode::Keyword),
            "hybrid" => Ok(RetrievalMode::Hybrid),
            other => Err(Error::InvalidInput(format!(
                "unknown retrieval mode '{other}': use dense, keyword or hybrid"
            ))),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            embedding: EmbeddingConfig::default(),
            chunking: ChunkingConfig::default(),
            retrieval: RetrievalConfig::default(),
            loading: LoadOptions::default(),
            map_size: 64 << 30,
            answer: AnswerConfig::default(),
            chat: crate::conversation::ChatConfig::default(),
        }
    }
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            model: DEFAULT_EMBEDDING_MODEL.to_string(),
            model_dir: std::env::var_os(ENV_MODEL_DIR).map(PathBuf::from),
            cache_dir: None,
            onnxruntime: None,
            max_tokens: 256,
            batch_size: 32,
            threads: None,
        }
    }
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        // 128-token chunks beat 254-token ones on SciFact's train split (dense nDCG@10 0.683
        // vs 0.673), and all-MiniLM-L6-v2 was trained on 128-token inputs.
        ChunkingConfig {
            max_tokens: 128,
            overlap_tokens: 32,
        }
    }
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            top_k: 5,
            max_top_k: 1000,
            max_query_bytes: 16 * 1024,
            exact_search_below: 1_000_000,
            scan_shortlist: 1_000,
            scan_rescore_per_result: 2,
            scan_rescore_min: 100,
            oversampling: 16,
            n_trees: 16,
            mode: RetrievalMode::default(),
            bm25: crate::keyword::Bm25::default(),
            // Tuned on SciFact's train split (itassist-bench scifact).
            fusion: FusionMethod::Rrf,
            rrf_k: 10.0,
            keyword_weight: 1.25,
            fusion_candidates: 50,
            document_weight: 0.0,
        }
    }
}

/// The data directory used when none is given: `$ITASSIST_DATA_DIR`, else
/// `$XDG_DATA_HOME/itassist` (`~/.local/share/itassist` on Linux), else `./itassist-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(ENV_DATA_DIR) {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")));
    match base {
        Some(base) => base.join("itassist"),
        None => PathBuf::from("itassist-data"),
    }
}

impl RetrievalConfig {
    /// Checks a query (or question) and the number of passages asked for: the one place
    /// every door (Rust, the CLI, the server, Python, Node) gets the same answer for the same
    /// input.
    ///
    /// ```
    /// let retrieval = itassist::config::RetrievalConfig::default();
    /// assert!(retrieval.check_query("sshd port", 5).is_ok());
    /// assert_eq!(retrieval.check_query("sshd port", 0).unwrap_err().code(), "invalid_input");
    /// assert_eq!(retrieval.check_query("  ", 5).unwrap_err().code(), "invalid_input");
    /// ```
    pub fn check_query(&self, query: &str, k: usize) -> Result<()> {
        self.check_text("query", query, k)
    }

    /// Like [`RetrievalConfig::check_query`], for a question to answer (`k` is the number of
    /// passages retrieved for it).
    pub fn check_question(&self, question: &str, k: usize) -> Result<()> {
        self.check_text("question", question, k)
    }

    fn check_text(&self, what: &str, text: &str, k: usize) -> Result<()> {
        if text.trim().is_empty() {
            return Err(Error::InvalidInput(format!("the {what} is empty")));
        }
        if text.len() > self.max_query_bytes {
            return Err(Error::InvalidInput(format!(
                "the {what} is {} bytes, over the limit of {} (retrieval.max_query_bytes): ask a question, not a document",
                text.len(),
                self.max_query_bytes
            )));
        }
        if k == 0 || k > self.max_top_k {
            return Err(Error::InvalidInput(format!(
                "k = {k} passages: use a number from 1 to {} (retrieval.max_top_k)",
                self.max_top_k
            )));
        }
        Ok(())
    }
}

impl Config {
    /// A default configuration with the given data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            ..Config::default()
        }
    }

    /// Uses the embedding model stored in a local directory (offline use).
    pub fn with_model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.embedding.model_dir = Some(dir.into());
        self
    }

    /// Sets the number of passages retrieved by default.
    pub fn with_top_k(mut self, top_k: usize) -> Self {
        self.retrieval.top_k = top_k;
        self
    }

    /// Sets the chunk size and overlap, in embedding-model tokens.
    pub fn with_chunk_tokens(mut self, max_tokens: usize, overlap_tokens: usize) -> Self {
        self.chunking.max_tokens = max_tokens;
        self.chunking.overlap_tokens = overlap_tokens;
        self
    }

    /// Checks that the settings make sense together.
    pub fn validate(&self) -> Result<()> {
        let invalid = |msg: String| Err(Error::InvalidInput(msg));
        if self.data_dir.as_os_str().is_empty() {
            return invalid("the data directory is empty: name the directory that holds (or will hold) the index".into());
        }
        if self.chunking.max_tokens < 8 {
            return invalid(format!(
                "chunk size {} tokens is too small: use at least 8",
                self.chunking.max_tokens
            ));
        }
        if self.chunking.overlap_tokens >= self.chunking.max_tokens / 2 {
            return invalid(format!(
                "chunk overlap {} must be less than half the chunk size {}",
                self.chunking.overlap_tokens, self.chunking.max_tokens
            ));
        }
        let seconds = self.loading.max_document_seconds;
        if !(seconds.is_finite() && seconds >= 0.0) {
            return invalid(format!(
                "loading.max_document_seconds {seconds} must be a number of seconds >= 0 (0 turns the limit off)"
            ));
        }
        if self.embedding.max_tokens < 8 {
            return invalid("embedding max_tokens must be at least 8".into());
        }
        if self.embedding.batch_size == 0 {
            return invalid("embedding batch_size must be at least 1".into());
        }
        if self.retrieval.top_k == 0 || self.retrieval.top_k > self.retrieval.max_top_k {
            return invalid(format!(
                "top_k {} must be from 1 to max_top_k ({})",
                self.retrieval.top_k, self.retrieval.max_top_k
            ));
        }
        if self.retrieval.max_query_bytes == 0 {
            return invalid("max_query_bytes must be at least 1".into());
        }
        if self.retrieval.n_trees == 0 || self.retrieval.oversampling == 0 {
            return invalid("n_trees and oversampling must be at least 1".into());
        }
        if self.retrieval.scan_shortlist == 0 || self.retrieval.scan_rescore_per_result == 0 {
            return invalid("scan_shortlist and scan_rescore_per_result must be at least 1".into());
        }
        self.answer.validate()
    }
}
