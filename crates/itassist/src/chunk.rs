//! Chunking: cutting a loaded document into passages sized in embedding-model tokens.
//!
//! Chunks never cross a section (page or heading) boundary, so every chunk has exactly one
//! page or section to cite. Markdown is split on its structure (headings, lists, code
//! blocks) first; other text on paragraphs, lines, sentences and words.

use serde::{Deserialize, Serialize};
use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};
use tokenizers::Tokenizer;

use crate::config::ChunkingConfig;
use crate::error::{Error, Result};
use crate::ingest::{Format, LoadedDocument};

/// Separator placed between sections when a document's text is laid end to end; chunk spans
/// are byte offsets into that text.
pub const SECTION_SEPARATOR: &str = "\n\n";

/// One passage of a document, the unit that is embedded and retrieved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// Position of the chunk in its document (0-based).
    pub ordinal: u32,
    /// The passage text.
    pub text: String,
    /// 1-based page number, for paged documents.
    pub page: Option<u32>,
    /// The heading the passage sits under, for structured documents.
    pub section: Option<String>,
    /// Byte range of the passage in the document text (sections joined by
    /// [`SECTION_SEPARATOR`]).
    pub span: (usize, usize),
    /// Length in embedding-model tokens (without the model's special tokens).
    pub tokens: u32,
}

/// Counts tokens with the embedding model's tokenizer; never panics (a text the tokenizer
/// rejects is estimated from its length).
struct TokenCounter<'t>(&'t Tokenizer);

impl ChunkSizer for TokenCounter<'_> {
    fn size(&self, chunk: &str) -> usize {
        match self.0.encode_fast(chunk, false) {
            Ok(encoding) => encoding.len(),
            Err(_) => chunk.len() / 3 + 1,
        }
    }
}

/// Splits documents into [`Chunk`]s no longer than the embedding model's window.
#[derive(Debug, Clone)]
pub struct Chunker {
    tokenizer: Tokenizer,
    max_tokens: usize,
    overlap_tokens: usize,
}

impl Chunker {
    /// A chunker for a model whose window is `model_max_tokens` (special tokens included).
    ///
    /// The chunk size is capped so that a chunk plus the model's two special tokens fits the
    /// window, so no chunk is ever truncated by the model.
    pub fn new(
        tokenizer: Tokenizer,
        config: &ChunkingConfig,
        model_max_tokens: usize,
    ) -> Result<Self> {
        let max_tokens = config.max_tokens.min(model_max_tokens.saturating_sub(2));
        if max_tokens < 8 {
            return Err(Error::InvalidInput(format!(
                "chunk size {max_tokens} tokens is too small"
            )));
        }
        if config.overlap_tokens >= max_tokens / 2 {
            return Err(Error::InvalidInput(format!(
                "chunk overlap {} must be less than half the chunk size {max_tokens}",
                config.overlap_tokens
            )));
        }
        Ok(Chunker {
            tokenizer,
            max_tokens,
            overlap_tokens: config.overlap_tokens,
        })
    }

    /// The largest chunk this chunker produces, in tokens.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Counts the tokens of `text` as the chunker does.
    pub fn count_tokens(&self, text: &str) -> usize {
        TokenCounter(&self.tokenizer).size(text)
    }

    fn config(&self) -> Result<ChunkConfig<TokenCounter<'_>>> {
        ChunkConfig::new(self.max_tokens)
            .with_sizer(TokenCounter(&self.tokenizer))
            .with_overlap(self.overlap_tokens)
            .map_err(|e| Error::InvalidInput(e.to_string()))
    }

    /// Splits a loaded document into chunks, in reading order.
    pub fn chunk(&self, document: &LoadedDocument) -> Result<Vec<Chunk>> {
        let mut chunks = Vec::new();
        let mut offset = 0usize;
        let markdown = document.format == Format::Markdown;
        let text_splitter = TextSplitter::new(self.config()?);
        let markdown_splitter = MarkdownSplitter::new(self.config()?);
        for (index, section) in document.sections.iter().enumerate() {
            if index > 0 {
                offset += SECTION_SEPARATOR.len();
            }
            let pieces: Vec<(usize, &str)> = if markdown {
                markdown_splitter.chunk_indices(&section.text).collect()
            } else {
                text_splitter.chunk_indices(&section.text).collect()
            };
            for (start, piece) in pieces {
                if piece.trim().is_empty() {
                    continue;
                }
                let tokens = self.count_tokens(piece);
                chunks.push(Chunk {
                    ordinal: chunks.len() as u32,
                    text: piece.to_string(),
                    page: section.page,
                    section: section.heading.clone(),
                    span: (offset + start, offset + start + piece.len()),
                    tokens: tokens as u32,
                });
            }
            offset += section.text.len();
        }
        Ok(chunks)
    }
}

/// The text that chunk spans refer to: the sections joined by [`SECTION_SEPARATOR`].
pub fn document_text(document: &LoadedDocument) -> String {
    let parts: Vec<&str> = document.sections.iter().map(|s| s.text.as_str()).collect();
    parts.join(SECTION_SEPARATOR)
}
