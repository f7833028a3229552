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
        /// Which step failed (the source, when there is one, says why).
        reason: String,
        /// The underlying error, e.g. the failed process spawn.
        #[source]
        source: Option<BoxError>,
    },

    /// The path names something other than a regular file (a device, a FIFO, a socket).
    #[error("{}: is {kind}, not a regular file; only regular files are read (name the file itself, or copy the data into one)", path.display())]
    NotARegularFile {
        /// The path.
        path: PathBuf,
        /// What it is instead, e.g. "a character device".
        kind: String,
    },

    /// The document is over one of the configured size limits.
    #[error("{}: {what} is over the limit of {limit} bytes; raise `{setting}` in the config if this document is genuine, the other files are not affected", path.display())]
    DocumentTooLarge {
        /// The file.
        path: PathBuf,
        /// What was measured, e.g. "the file" or "the extracted text".
        what: String,
        /// The limit that was exceeded, in bytes.
        limit: u64,
        /// The setting that raises the limit (e.g. `loading.max_file_bytes`).
        setting: String,
    },

    /// Reading the document took longer than the per-document time limit. Only this file
    /// fails; the others are still ingested.
    #[error("{}: reading the document took longer than {seconds} s; raise `loading.max_document_seconds` in the config if the document is genuine (0 turns the limit off); the other files are not affected", path.display())]
    DocumentTimeout {
        /// The file.
        path: PathBuf,
        /// The limit that expired, in seconds.
        seconds: f64,
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
        /// The underlying loader error, when there is one.
        #[source]
        source: Option<BoxError>,
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
        /// Which step failed (the source, when there is one, says why).
        reason: String,
        /// What ONNX Runtime or the tokenizer reported.
        #[source]
        source: Option<BoxError>,
    },

    /// The index was built with another embedding model.
    #[error("the index at {} was built with embedding model '{index_model}' ({index_dimensions} dimensions) but '{requested_model}' ({requested_dimensions} dimensions) was requested: open it with '{index_model}', or re-embed the stored text with the new model: `itassist reindex --model {requested_model}` (the old vectors keep answering until it is done; an itassist opened before a re-index must be restarted)", data_dir.display())]
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

    /// No stored conversation with that id.
    #[error("no conversation '{id}' in the index; `itassist chat --list` lists the conversations")]
    ConversationNotFound {
        /// The id asked for.
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

/// Declares the error table: [`ErrorKind`] and every fact derived from it.
macro_rules! error_kinds {
    ($(
        $(#[doc = $doc:literal])+
        $kind:ident => ($code:literal, $status:literal, $class:literal, $base:expr);
    )+) => {
        /// The kind of an [`Error`]: one row of the error table, which defines each kind's
        /// stable code, HTTP status, Python exception class and documentation. The CLI, the
        /// HTTP server and the Python and Node packages all take these facts from here.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $( $(#[doc = $doc])+ $kind, )+
        }

        impl ErrorKind {
            /// Every kind, in table order.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),+];

            /// The stable, machine-readable code, e.g. `"corrupt_document"`.
            pub const fn code(self) -> &'static str {
                match self { $(ErrorKind::$kind => $code,)+ }
            }

            /// The HTTP status the server answers with.
            pub const fn http_status(self) -> u16 {
                match self { $(ErrorKind::$kind => $status,)+ }
            }

            /// The Python exception class raised for it (a subclass of `ItassistError`).
            pub const fn python_class(self) -> &'static str {
                match self { $(ErrorKind::$kind => $class,)+ }
            }

            /// A built-in Python exception the class also derives from, so generic `except`
            /// clauses keep working (`InvalidInputError` is a `ValueError`, ...).
            pub const fn python_base(self) -> Option<&'static str> {
                match self { $(ErrorKind::$kind => $base,)+ }
            }

            /// What the kind means (one paragraph).
            pub const fn doc(self) -> &'static str {
                match self { $(ErrorKind::$kind => concat!($($doc),+),)+ }
            }
        }

        impl Error {
            /// Every error code, in table order (the codes of [`ErrorKind::ALL`]).
            pub const CODES: &'static [&'static str] = &[$($code),+];
        }
    };
}

error_kinds! {
    /// The file's type is not one itassist can read.
    UnsupportedFormat => ("unsupported_format", 415, "UnsupportedFormatError", None);
    /// The file claims a supported format but cannot be parsed.
    CorruptDocument => ("corrupt_document", 422, "CorruptDocumentError", None);
    /// The file parsed but holds no text to index.
    EmptyDocument => ("empty_document", 422, "EmptyDocumentError", None);
    /// The file needs OCR but Tesseract (or pdftoppm) is not installed.
    OcrUnavailable => ("ocr_unavailable", 503, "OcrUnavailableError", None);
    /// OCR ran but failed on this file.
    OcrFailed => ("ocr_failed", 422, "OcrFailedError", None);
    /// The path names a device, a FIFO or a socket, not a regular file.
    NotARegularFile => ("not_a_regular_file", 400, "NotARegularFileError", Some("OSError"));
    /// The file or its extracted text is over a configured size limit.
    DocumentTooLarge => ("document_too_large", 413, "DocumentTooLargeError", None);
    /// Reading the document took longer than the per-document time limit.
    DocumentTimeout => ("document_timeout", 422, "DocumentTimeoutError", None);
    /// A path given by the user does not exist.
    PathNotFound => ("path_not_found", 404, "PathNotFoundError", Some("FileNotFoundError"));
    /// An operating-system I/O error.
    Io => ("io", 500, "IoError", Some("OSError"));
    /// ONNX Runtime could not be loaded.
    RuntimeUnavailable => ("runtime_unavailable", 503, "RuntimeUnavailableError", None);
    /// The embedding model files could not be found or loaded.
    EmbeddingModelUnavailable => ("embedding_model_unavailable", 503, "EmbeddingModelUnavailableError", None);
    /// Running the embedding model failed.
    EmbeddingFailed => ("embedding_failed", 500, "EmbeddingFailedError", None);
    /// The index was built with another embedding model.
    EmbeddingModelMismatch => ("embedding_model_mismatch", 503, "EmbeddingModelMismatchError", None);
    /// The index is in use by another process, or its lock cannot be taken.
    IndexLocked => ("index_locked", 503, "IndexLockedError", None);
    /// The index reached its configured maximum size.
    IndexFull => ("index_full", 507, "IndexFullError", None);
    /// The index files are unreadable or written by an incompatible version.
    IndexCorrupt => ("index_corrupt", 500, "IndexCorruptError", None);
    /// A storage-layer error (LMDB or the vector index).
    IndexStorage => ("index_error", 500, "IndexStorageError", None);
    /// No document with that id, path or name is in the index.
    DocumentNotFound => ("document_not_found", 404, "DocumentNotFoundError", Some("LookupError"));
    /// No stored conversation has that id.
    ConversationNotFound => ("conversation_not_found", 404, "ConversationNotFoundError", Some("LookupError"));
    /// An argument or configuration value is invalid.
    InvalidInput => ("invalid_input", 400, "InvalidInputError", Some("ValueError"));
    /// The Ollama (or OpenAI-compatible) server cannot be reached.
    OllamaUnreachable => ("ollama_unreachable", 503, "OllamaUnreachableError", Some("ConnectionError"));
    /// The requested chat model is not available on the model server.
    ModelNotFound => ("model_not_found", 424, "ModelNotFoundError", Some("LookupError"));
    /// The model server answered with an error.
    ModelServer => ("ollama_error", 502, "OllamaError", None);
    /// A request to the model server took longer than allowed.
    Timeout => ("timeout", 504, "RequestTimeoutError", Some("TimeoutError"));
    /// The question and its context cannot fit into the model's context window.
    ContextOverflow => ("context_overflow", 422, "ContextOverflowError", None);
    /// The operation was cancelled by the caller, or the service is shutting down.
    Cancelled => ("cancelled", 503, "OperationCancelledError", None);
}

impl Error {
    /// The kind of error: its row in the error table ([`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::UnsupportedFormat { .. } => ErrorKind::UnsupportedFormat,
            Error::CorruptDocument { .. } => ErrorKind::CorruptDocument,
            Error::EmptyDocument { .. } => ErrorKind::EmptyDocument,
            Error::OcrUnavailable { .. } => ErrorKind::OcrUnavailable,
            Error::OcrFailed { .. } => ErrorKind::OcrFailed,
            Error::NotARegularFile { .. } => ErrorKind::NotARegularFile,
            Error::DocumentTooLarge { .. } => ErrorKind::DocumentTooLarge,
            Error::DocumentTimeout { .. } => ErrorKind::DocumentTimeout,
            Error::PathNotFound { .. } => ErrorKind::PathNotFound,
            Error::Io { .. } => ErrorKind::Io,
            Error::RuntimeUnavailable { .. } => ErrorKind::RuntimeUnavailable,
            Error::EmbeddingModelUnavailable { .. } => ErrorKind::EmbeddingModelUnavailable,
            Error::Embedding { .. } => ErrorKind::EmbeddingFailed,
            Error::EmbeddingModelMismatch { .. } => ErrorKind::EmbeddingModelMismatch,
            Error::IndexLocked { .. } => ErrorKind::IndexLocked,
            Error::IndexFull { .. } => ErrorKind::IndexFull,
            Error::IndexCorrupt { .. } => ErrorKind::IndexCorrupt,
            Error::Index { .. } => ErrorKind::IndexStorage,
            Error::DocumentNotFound { .. } => ErrorKind::DocumentNotFound,
            Error::ConversationNotFound { .. } => ErrorKind::ConversationNotFound,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::OllamaUnreachable { .. } => ErrorKind::OllamaUnreachable,
            Error::ModelNotFound { .. } => ErrorKind::ModelNotFound,
            Error::Ollama { .. } => ErrorKind::ModelServer,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::ContextOverflow { .. } => ErrorKind::ContextOverflow,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }

    /// A stable, machine-readable identifier of the error kind, e.g. `"corrupt_document"`.
    ///
    /// ```
    /// let err = itassist::Error::ModelNotFound { model: "llama3".into() };
    /// assert_eq!(err.code(), "model_not_found");
    /// assert!(err.to_string().contains("ollama pull llama3"));
    /// ```
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// The structured facts of the error (paths, model names, token counts, limits), for the
    /// bindings' exception attributes and the server's JSON. Keys are the variant's field
    /// names; causes and free-text reasons are not included (they are in the message).
    ///
    /// ```
    /// let err = itassist::Error::ContextOverflow { needed: 9000, available: 4096 };
    /// let details = err.details();
    /// assert_eq!(details["needed"], 9000);
    /// assert_eq!(details["available"], 4096);
    /// ```
    pub fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::{json, Value};
        let path = |p: &Path| Value::from(p.to_string_lossy().into_owned());
        let fields: Vec<(&str, Value)> = match self {
            Error::UnsupportedFormat { path: p, detail } => {
                vec![("path", path(p)), ("detail", json!(detail))]
            }
            Error::CorruptDocument {
                path: p, format, ..
            } => {
                vec![("path", path(p)), ("format", json!(format))]
            }
            Error::EmptyDocument { path: p, .. }
            | Error::OcrFailed { path: p, .. }
            | Error::PathNotFound { path: p } => vec![("path", path(p))],
            Error::OcrUnavailable { path: p, tool } => {
                vec![("path", path(p)), ("tool", json!(tool))]
            }
            Error::NotARegularFile { path: p, kind } => {
                vec![("path", path(p)), ("file_kind", json!(kind))]
            }
            Error::DocumentTooLarge {
                path: p,
                limit,
                setting,
                ..
            } => vec![
                ("path", path(p)),
                ("limit", json!(limit)),
                ("setting", json!(setting)),
            ],
            Error::DocumentTimeout { path: p, seconds } => {
                vec![("path", path(p)), ("seconds", json!(seconds))]
            }
            Error::Io { path: p, .. } => p
                .as_deref()
                .map(|p| vec![("path", path(p))])
                .unwrap_or_default(),
            Error::EmbeddingModelMismatch {
                data_dir,
                index_model,
                index_dimensions,
                requested_model,
                requested_dimensions,
            } => vec![
                ("data_dir", path(data_dir)),
                ("index_model", json!(index_model)),
                ("index_dimensions", json!(index_dimensions)),
                ("requested_model", json!(requested_model)),
                ("requested_dimensions", json!(requested_dimensions)),
            ],
            Error::IndexLocked { data_dir, .. } | Error::IndexCorrupt { data_dir, .. } => {
                vec![("data_dir", path(data_dir))]
            }
            Error::IndexFull { data_dir, map_size } => {
                vec![("data_dir", path(data_dir)), ("map_size", json!(map_size))]
            }
            Error::DocumentNotFound { id } => vec![("id", json!(id))],
            Error::ConversationNotFound { id } => vec![("id", json!(id))],
            Error::OllamaUnreachable { url, .. } => vec![("url", json!(url))],
            Error::ModelNotFound { model } => vec![("model", json!(model))],
            Error::Ollama { status, .. } => status
                .map(|s| vec![("status", json!(s))])
                .unwrap_or_default(),
            Error::Timeout { seconds } => vec![("seconds", json!(seconds))],
            Error::ContextOverflow { needed, available } => {
                vec![("needed", json!(needed)), ("available", json!(available))]
            }
            Error::RuntimeUnavailable { .. }
            | Error::EmbeddingModelUnavailable { .. }
            | Error::Embedding { .. }
            | Error::Index { .. }
            | Error::InvalidInput(_)
            | Error::Cancelled => Vec::new(),
        };
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

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

impl serde::Serialize for Error {
    /// `{"code", "message", ...details}`: the code, the message with its cause chain, and the
    /// structured facts of [`Error::details`].
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let details = self.details();
        let mut map = serializer.serialize_map(Some(2 + details.len()))?;
        map.serialize_entry("code", self.code())?;
        map.serialize_entry("message", &self.display_chain())?;
        for (key, value) in &details {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// One value of every variant, so the table can be checked against the enum.
    fn one_of_each() -> Vec<Error> {
        let p = || PathBuf::from("/docs/x.pdf");
        vec![
            Error::UnsupportedFormat {
                path: p(),
                detail: "x".into(),
            },
            Error::CorruptDocument {
                path: p(),
                format: "PDF".into(),
                reason: "x".into(),
                source: None,
            },
            Error::EmptyDocument {
                path: p(),
                reason: "x".into(),
            },
            Error::OcrUnavailable {
                path: p(),
                tool: "tesseract".into(),
            },
            Error::OcrFailed {
                path: p(),
                reason: "x".into(),
                source: None,
            },
            Error::NotARegularFile {
                path: p(),
                kind: "a FIFO".into(),
            },
            Error::DocumentTooLarge {
                path: p(),
                what: "the file".into(),
                limit: 1,
                setting: "loading.max_file_bytes".into(),
            },
            Error::DocumentTimeout {
                path: p(),
                seconds: 1.0,
            },
            Error::PathNotFound { path: p() },
            Error::Io {
                path: None,
                source: std::io::Error::other("x"),
            },
            Error::RuntimeUnavailable {
                reason: "x".into(),
                source: None,
            },
            Error::EmbeddingModelUnavailable {
                reason: "x".into(),
                source: None,
            },
            Error::Embedding {
                reason: "x".into(),
                source: None,
            },
            Error::EmbeddingModelMismatch {
                data_dir: p(),
                index_model: "a".into(),
                index_dimensions: 1,
                requested_model: "b".into(),
                requested_dimensions: 2,
            },
            Error::IndexLocked {
                data_dir: p(),
                reason: "x".into(),
            },
            Error::IndexFull {
                data_dir: p(),
                map_size: 1,
            },
            Error::IndexCorrupt {
                data_dir: p(),
                reason: "x".into(),
                source: None,
            },
            Error::Index {
                reason: "x".into(),
                source: None,
            },
            Error::DocumentNotFound { id: "1".into() },
            Error::ConversationNotFound { id: "1".into() },
            Error::InvalidInput("x".into()),
            Error::OllamaUnreachable {
                url: "http://x".into(),
                reason: "x".into(),
                source: None,
            },
            Error::ModelNotFound { model: "m".into() },
            Error::Ollama {
                status: Some(500),
                message: "x".into(),
            },
            Error::Timeout { seconds: 1 },
            Error::ContextOverflow {
                needed: 2,
                available: 1,
            },
            Error::Cancelled,
        ]
    }

    #[test]
    fn the_table_and_the_enum_agree() {
        let errors = one_of_each();
        let kinds: Vec<ErrorKind> = errors.iter().map(Error::kind).collect();
        // Every variant has its own row, and every row belongs to a variant.
        assert_eq!(kinds.len(), ErrorKind::ALL.len());
        assert_eq!(kinds.iter().collect::<HashSet<_>>().len(), kinds.len());
        assert_eq!(kinds, ErrorKind::ALL);
        let codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes, Error::CODES);
        let classes: HashSet<&str> = ErrorKind::ALL.iter().map(|k| k.python_class()).collect();
        assert_eq!(
            classes.len(),
            ErrorKind::ALL.len(),
            "Python class names are unique"
        );
        for kind in ErrorKind::ALL {
            let code = kind.code();
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
            assert!(kind.python_class().ends_with("Error"), "{kind:?}");
            assert!((400..600).contains(&kind.http_status()), "{kind:?}");
            assert!(!kind.doc().is_empty());
        }
    }

    #[test]
    fn only_failures_inside_the_machine_are_500s() {
        // A client can do something about every other error: it must not look like a crash.
        let internal = [
            ErrorKind::Io,
            ErrorKind::EmbeddingFailed,
            ErrorKind::IndexCorrupt,
            ErrorKind::IndexStorage,
        ];
        for kind in ErrorKind::ALL {
            assert_eq!(
                kind.http_status() == 500,
                internal.contains(kind),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn errors_serialise_with_code_chain_and_details() {
        let err = Error::DocumentTooLarge {
            path: PathBuf::from("/d/big.txt"),
            what: "the file".into(),
            limit: 10,
            setting: "loading.max_file_bytes".into(),
        };
        let value = serde_json::to_value(&err).unwrap();
        assert_eq!(value["code"], "document_too_large");
        assert_eq!(value["path"], "/d/big.txt");
        assert_eq!(value["limit"], 10);
        assert!(value["message"]
            .as_str()
            .unwrap()
            .contains("loading.max_file_bytes"));
    }
}
