//! # itassist
//!
//! A local assistant over an IT team's documents: it reads PDF, HTML, Markdown, office
//! files, man pages and scanned images (OCR), splits them into passages, embeds them on the
//! machine (fastembed / ONNX Runtime), keeps them in an embedded LMDB vector index (heed +
//! arroy), finds the passages that answer a question, and has a local model served by
//! Ollama write the answer with citations. Nothing leaves the machine.
//!
//! The entry point is [`Assistant`]:
//!
//! ```no_run
//! use itassist::{Assistant, Config};
//!
//! # fn main() -> itassist::Result<()> {
//! let config = Config::new("./itassist-data").with_model_dir("./models/all-MiniLM-L6-v2-int8");
//! let assistant = Assistant::open(config)?;
//! let report = assistant.ingest(&["./docs"])?;
//! for failure in report.failures() {
//!     eprintln!("{}", failure.status.error().map(|e| e.to_string()).unwrap_or_default());
//! }
//! let passages = assistant.search("how do I configure the network?", 5)?;
//! # Ok(()) }
//! ```
//!
//! Each part sits behind a trait so it can be replaced: [`Ingestor`], [`Embedder`],
//! [`Retriever`], [`Answerer`].

// Library code never unwraps: failures are errors with a code, never panics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod answer;
pub mod assistant;
pub mod attribution;
pub mod chunk;
pub mod config;
pub mod conversation;
pub mod embed;
pub mod error;
pub mod index;
pub mod ingest;
pub mod keyword;
pub mod names;
pub mod ollama;
pub mod overrides;
pub mod pipeline;
pub mod prompt;
pub mod reindex;
pub mod retrieve;
pub mod sync;
mod thread_priority;
pub mod watch;

pub use answer::Warning;
pub use answer::{Answer, Answerer, AskEvent, AskOptions, AskStream, LlmAnswerer, Timings};
pub use assistant::Assistant;
pub use chunk::{Chunk, Chunker};
pub use config::{AnswerConfig, Backend, Config, DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL};
pub use conversation::{ChatConfig, Dialogue, QueryMode};
pub use embed::{Embedder, FastEmbedder};
pub use error::{Error, ErrorKind, Result};
pub use index::FailureRecord;
pub use index::{Conversation, ConversationSummary, Turn};
pub use index::{Document, Index, IndexStats, VectorSearch};
pub use ingest::{Format, LoadNote, LoadOptions, LoadedDocument, NoteKind, Section};
pub use ollama::{ChatBackend, ModelInfo, OllamaClient, OpenAiClient, PullProgress};
pub use overrides::ConfigOverrides;
pub use pipeline::{FileReport, FileStatus, Flow, IngestEvent, IngestReport, Ingestor, Pipeline};
pub use reindex::{ReindexEvent, ReindexReport};
pub use retrieve::{DenseRetriever, Passage, Retriever};
pub use sync::{SyncAction, SyncChange, SyncEvent, SyncOptions, SyncReport, SyncTotals};
pub use watch::{WatchEvent, WatchOptions};

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
