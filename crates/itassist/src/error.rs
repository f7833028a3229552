//! The one error type of itassist.
//!
//! Every failure is an [`Error`] variant with a stable machine-readable [`Error::code`] (used by
//! the CLI, the HTTP server, and the Python and Node packages) and a message that says what went
//! wrong and what to do next. Underlying causes are kept as the error's `source()` chain.

use std::path::{Path, PathBuf};

/// Boxed cause of an error, kept for the `source()` chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used throughout itassist.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The Debian packages that provide OCR.
pub const OCR_PACKAGES: &str = "tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa poppler-utils";

/// Everything that can go wrong in itassist.
///
/// Match on [`Error::code`] rather than on the message: codes are stable across releases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file's type is not one itassist can read.
    #[error("{}: unsupported format ({detail}); supported: {}", path.display(), crate::ingest::SUPPORTED_EXTENSIONS.join(", "))]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },

    /// The file claims a supported format but cannot be parsed.
    #[error("{}: corrupt or unreadable {format} document: {reason}; fix or re-export the file, the other files are not affected", path.display())]
    CorruptDocument {
        /// The file.
        path: PathBuf,
        /// The format it claimed to be.
        format: String,
        /// What the parser reported.
        reason: String,
        /// The parser's error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// The file parsed but holds no text to index.
    #[error("{}: no text found ({reason}); nothing was indexed for this file", path.display())]
    EmptyDocument {
        /// The file.
        path: PathBuf,
        /// Why it is empty (0 bytes, no text layer and OCR disabled, ...).
        reason: String,
    },

    /// The file needs OCR but Tesseract (or pdftoppm) is not installed.
    #[error("{}: needs OCR but {tool} is not available: install it with `apt-get install {OCR_PACKAGES}` (or set the tool path in the config)", path.display())]
    OcrUnavailable {
        /// The file that needed OCR.
        path: PathBuf,
        /// The missing program.
        tool: String,
    },

    /// OCR ran but failed.
    #[error("{}: OCR failed: {reason}", path.display())]
    OcrFailed {
        /// The file.
        path: PathBuf,
        /// What Tesseract or pdftoppm reported.
        reason: String,
    },

    /// A path given by the user does not exist.
    #[error("{}: no such file or directory; check the path", path.display())]
    PathNotFound {
        /// The missing path.
        path: PathBuf,
    },

    /// An operating-system I/O error.
    #[error("{}: {source}", path.as_deref().map(Path::display).map(|d| d.to_string()).unwrap_or_else(|| "I/O".to_string()))]
    Io {
        /// The file or directory involved, if known.
        path: Option<PathBuf>,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// ONNX Runtime could not be loaded.
    #[error("ONNX Runtime is not available: {reason}; set ORT_DYLIB_PATH to libonnxruntime.so (>= 1.24), e.g. from `pip install onnxruntime`, or run `bash scripts/provision-models.sh`")]
    RuntimeUnavailable {
        /// Why loading failed.
        reason: String,
    },

    /// The embedding model files could not be found or loaded.
    #[error("embedding model unavailable: {reason}; point `model_dir` (or ITASSIST_MODEL_DIR) to a directory with model.onnx and tokenizer.json, or run `bash scripts/provision-models.sh`")]
    EmbeddingModelUnavailable {
        /// Why loading failed.
        reason: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// Running the embedding model failed.
    #[error("embedding failed: {reason}")]
    Embedding {
        /// What ONNX Runtime or the tokenizer reported.
        reason: String,
    },

    /// The index was built with another embedding model.
    #[error("the index at {} was built with embedding model '{index_model}' ({index_dimensions} dimensions) but '{requested_model}' ({requested_dimensions} dimensions) was requested: open it with '{index_model}', or re-index into a new data directory (`itassist --data-dir NEW ingest ...`)", data_dir.display())]
    EmbeddingModelMismatch {
        /// The index directory.
        data_dir: PathBuf,
        /// Model recorded in the index.
        index_model: String,
        /// Dimensions recorded in the index.
        index_dimensions: usize,
        /// Model of the current configuration.
        requested_model: String,
        /// Dimensions of the current configuration.
        requested_dimensions: usize,
    },

    /// The index is in use by a process that holds it exclusively, or its lock cannot be taken.
    #[error("the index at {} is locked: {reason}; close the other itassist process or wait for it to finish", data_dir.display())]
    IndexLocked {
        /// The index directory.
        data_dir: PathBuf,
        /// What LMDB reported.
        reason: String,
    },

    /// The index reached its configured maximum size.
    #[error("the index at {} is full (map size {map_size} bytes): raise `map_size` in the config", data_dir.display())]
    IndexFull {
        /// The index directory.
        data_dir: PathBuf,
        /// The configured limit.
        map_size: usize,
    },

    /// The index files are unreadable or written by an incompatible version.
    #[error("the index at {} cannot be used: {reason}", data_dir.display())]
    IndexCorrupt {
        /// The index directory.
        data_dir: PathBuf,
        /// What is wrong.
        reason: String,
        /// The storage error.
        #[source]
        source: Option<BoxError>,
    },

    /// A storage-layer error (LMDB or the vector index).
    #[error("index error: {reason}")]
    Index {
        /// What failed.
        reason: String,
        /// The storage error.
        #[source]
        source: Option<BoxError>,
    },

    /// No document with that id or path is in the index.
    #[error("no document '{id}' in the index; `itassist docs` lists the documents")]
    DocumentNotFound {
        /// The id or path asked for.
        id: String,
    },

    /// An argument or configuration value is invalid.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The Ollama (or OpenAI-compatible) server cannot be reached.
    #[error("cannot reach the model server at {url}: {reason}; start it with `ollama serve` (or `docker compose up`), or set OLLAMA_HOST")]
    OllamaUnreachable {
        /// The base URL tried.
        url: String,
        /// What the connection reported.
        reason: String,
        /// The HTTP client error.
        #[source]
        source: Option<BoxError>,
    },

    /// The requested chat model is not pulled.
    #[error("model '{model}' is not pulled: run `ollama pull {model}`")]
    ModelNotFound {
        /// The model name.
        model: String,
    },

    /// The model server answered with an error.
    #[error("the model server returned an error{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Ollama {
        /// HTTP status, when there is one.
        status: Option<u16>,
        /// The server's message.
        message: String,
    },

    /// A request to the model server took longer than allowed.
    #[error("the model server did not answer within {seconds} s: raise the timeout or use a smaller model")]
    Timeout {
        /// The timeout that expired.
        seconds: u64,
    },

    /// The question and its context cannot fit into the model's context window.
    #[error("the prompt needs {needed} tokens but the model's window is {available}: raise num_ctx, lower top_k or num_predict")]
    ContextOverflow {
        /// Tokens the prompt needs.
        needed: usize,
        /// Tokens available.
        available: usize,
    },

    /// The operation was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// A stable, machine-readable identifier of the error kind, e.g. `"corrupt_document"`.
    ///
    /// ```
    /// let err = itassist::Error::ModelNotFound { model: "llama3".into() };
    /// assert_eq!(err.code(), "model_not_found");
    /// assert!(err.to_string().contains("ollama pull llama3"));
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::UnsupportedFormat { .. } => "unsupported_format",
            Error::CorruptDocument { .. } => "corrupt_document",
            Error::EmptyDocument { .. } => "empty_document",
            Error::OcrUnavailable { .. } => "ocr_unavailable",
            Error::OcrFailed { .. } => "ocr_failed",
            Error::PathNotFound { .. } => "path_not_found",
            Error::Io { .. } => "io",
            Error::RuntimeUnavailable { .. } => "runtime_unavailable",
            Error::EmbeddingModelUnavailable { .. } => "embedding_model_unavailable",
            Error::Embedding { .. } => "embedding_failed",
            Error::EmbeddingModelMismatch { .. } => "embedding_model_mismatch",
            Error::IndexLocked { .. } => "index_locked",
            Error::IndexFull { .. } => "index_full",
            Error::IndexCorrupt { .. } => "index_corrupt",
            Error::Index { .. } => "index_error",
            Error::DocumentNotFound { .. } => "document_not_found",
            Error::InvalidInput(_) => "invalid_input",
            Error::OllamaUnreachable { .. } => "ollama_unreachable",
            Error::ModelNotFound { .. } => "model_not_found",
            Error::Ollama { .. } => "ollama_error",
            Error::Timeout { .. } => "timeout",
            Error::ContextOverflow { .. } => "context_overflow",
            Error::Cancelled => "cancelled",
        }
    }

    /// Every error code, for bindings that map codes to exception classes.
    pub const CODES: &'static [&'static str] = &[
        "unsupported_format",
        "corrupt_document",
        "empty_document",
        "ocr_unavailable",
        "ocr_failed",
        "path_not_found",
        "io",
        "runtime_unavailable",
        "embedding_model_unavailable",
        "embedding_failed",
        "embedding_model_mismatch",
        "index_locked",
        "index_full",
        "index_corrupt",
        "index_error",
        "document_not_found",
        "invalid_input",
        "ollama_unreachable",
        "model_not_found",
        "ollama_error",
        "timeout",
        "context_overflow",
        "cancelled",
    ];

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            return Error::PathNotFound { path };
        }
        Error::Io {
            path: Some(path),
            source,
        }
    }

    /// Builds a [`Error::CorruptDocument`] from a parser error.
    pub fn corrupt(
        path: impl Into<PathBuf>,
        format: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::CorruptDocument {
            path: path.into(),
            format: format.to_string(),
            reason: source.to_string(),
            source: Some(Box::new(source)),
        }
    }

    /// The full message with its cause chain, one cause per `: ` segment.
    pub fn display_chain(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let text = c.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cause = c.source();
        }
        out
    }
}
