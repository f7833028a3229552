//! Configuration of an [`Assistant`](crate::Assistant).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ingest::LoadOptions;

/// The default embedding model: sentence-transformers' all-MiniLM-L6-v2 (384 dimensions).
pub const DEFAULT_EMBEDDING_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

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
}

/// Where the embedding model comes from and how it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddingConfig {
    /// Model identifier recorded in the index (for a hub download, the model's name there).
    pub model: String,
    /// A local directory with `model.onnx`, `tokenizer.json`, `config.json`,
    /// `tokenizer_config.json` (and optionally `special_tokens_map.json`). When unset, the
    /// model is downloaded from the Hugging Face hub on first use (feature `online`).
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
    /// Largest chunk, in embedding-model tokens (capped to the model window).
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
    /// Collections with at most this many chunks are searched exactly (brute force); larger
    /// ones through the arroy trees.
    pub exact_search_below: usize,
    /// arroy search oversampling factor (how many more tree nodes to visit than `top_k`).
    pub oversampling: usize,
    /// Number of arroy trees, fixed when the index is created.
    pub n_trees: usize,
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
        ChunkingConfig {
            max_tokens: 256,
            overlap_tokens: 32,
        }
    }
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        RetrievalConfig {
            top_k: 5,
            exact_search_below: 50_000,
            oversampling: 16,
            n_trees: 16,
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
        if self.embedding.max_tokens < 8 {
            return invalid("embedding max_tokens must be at least 8".into());
        }
        if self.embedding.batch_size == 0 {
            return invalid("embedding batch_size must be at least 1".into());
        }
        if self.retrieval.top_k == 0 {
            return invalid("top_k must be at least 1".into());
        }
        if self.retrieval.n_trees == 0 || self.retrieval.oversampling == 0 {
            return invalid("n_trees and oversampling must be at least 1".into());
        }
        Ok(())
    }
}
