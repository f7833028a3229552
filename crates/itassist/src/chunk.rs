//! Chunking: cutting a loaded document into passages sized in embedding-model tokens.
//!
//! Chunks never cross a section (page or heading) boundary, so every chunk has exactly one
//! page or section to cite. Markdown is split on its structure (headings, lists, code
//! blocks) first; other text on paragraphs, lines, sentences and words. A heading is never a
//! chunk on its own: one the splitter cuts off joins the passage after it.

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

/// Token counts of the pieces of one section, from one tokenization of the whole section: a
/// piece counts the section's tokens that overlap it.
///
/// Splitting a section asks for the size of many overlapping candidate pieces (a binary
/// search per chunk, then another for its overlap); tokenizing every candidate anew made
/// chunking the largest part of parsing. Pieces cut where the tokenizer splits words anyway
/// (spaces, punctuation, line ends: what the splitter cuts at) count exactly what they
/// would count alone. A piece cut inside a word (only a word longer than a chunk is) counts
/// the section's tokens it overlaps, which can be fewer than its own: [`Chunker::chunk`]
/// checks every chunk's own count and splits again, counting exactly, a chunk found too
/// long. Pieces that are not slices of the section, and tokenizers whose offsets are out
/// of order, are tokenized on their own.
struct SectionTokens<'a> {
    section: &'a str,
    /// Byte offsets `(start, end)` of the section's tokens, in order; `None` when the
    /// section's tokenization cannot be used (a piece is then tokenized on its own).
    spans: Option<Vec<(usize, usize)>>,
    counter: TokenCounter<'a>,
}

impl<'a> SectionTokens<'a> {
    fn new(tokenizer: &'a Tokenizer, section: &'a str) -> Self {
        let spans = tokenizer
            .encode(section, false)
            .ok()
            .map(|encoding| encoding.get_offsets().to_vec())
            .filter(|spans| {
                spans
                    .windows(2)
                    .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
            });
        SectionTokens {
            section,
            spans,
            counter: TokenCounter(tokenizer),
        }
    }

    /// The byte range of `piece` in the section, when it is a slice of it.
    fn range_of(&self, piece: &str) -> Option<(usize, usize)> {
        let start = (piece.as_ptr() as usize).checked_sub(self.section.as_ptr() as usize)?;
        let end = start.checked_add(piece.len())?;
        (end <= self.section.len()).then_some((start, end))
    }
}

impl ChunkSizer for SectionTokens<'_> {
    fn size(&self, piece: &str) -> usize {
        match (&self.spans, self.range_of(piece)) {
            (Some(spans), Some((start, end))) => {
                let first = spans.partition_point(|&(_, token_end)| token_end <= start);
                let last = spans.partition_point(|&(token_start, _)| token_start < end);
                last.saturating_sub(first)
            }
            _ => self.counter.size(piece),
        }
    }
}

/// Splits documents into [`Chunk`]s no longer than the embedding model's window.
#[derive(Debug, Clone)]
pub struct Chunker {
    tokenizer: Tokenizer,
    max_tokens: usize,
    overlap_tokens: usize,
    /// The longest chunk the model takes whole (its window less its two special tokens): a
    /// heading joined to the passage after it may exceed `max_tokens`, never this.
    window_tokens: usize,
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
            window_tokens: model_max_tokens.saturating_sub(2).max(max_tokens),
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

    fn config<S: ChunkSizer>(&self, sizer: S) -> Result<ChunkConfig<S>> {
        ChunkConfig::new(self.max_tokens)
            .with_sizer(sizer)
            .with_overlap(self.overlap_tokens)
            .map_err(|e| Error::InvalidInput(e.to_string()))
    }

    /// Splits a loaded document into chunks, in reading order.
    pub fn chunk(&self, document: &LoadedDocument) -> Result<Vec<Chunk>> {
        self.chunk_sized(document, |section| {
            SectionTokens::new(&self.tokenizer, section)
        })
    }

    /// The pieces of `text`, with their byte offsets, sized by `sizer`.
    fn split<'t, S: ChunkSizer>(
        &self,
        markdown: bool,
        sizer: S,
        text: &'t str,
    ) -> Result<Vec<(usize, &'t str)>> {
        let config = self.config(sizer)?;
        Ok(if markdown {
            MarkdownSplitter::new(config).chunk_indices(text).collect()
        } else {
            TextSplitter::new(config).chunk_indices(text).collect()
        })
    }

    /// [`Chunker::chunk`] with the sizer `sizer_for` makes for each section's text.
    fn chunk_sized<'a, S: ChunkSizer>(
        &'a self,
        document: &'a LoadedDocument,
        sizer_for: impl Fn(&'a str) -> S,
    ) -> Result<Vec<Chunk>> {
        let mut chunks = Vec::new();
        let mut offset = 0usize;
        let markdown = document.format == Format::Markdown;
        for (index, section) in document.sections.iter().enumerate() {
            if index > 0 {
                offset += SECTION_SEPARATOR.len();
            }
            let first_of_section = chunks.len();
            let mut pieces = self.split(markdown, sizer_for(&section.text), &section.text)?;
            pieces.reverse();
            while let Some((start, piece)) = pieces.pop() {
                if piece.trim().is_empty() {
                    continue;
                }
                let tokens = self.count_tokens(piece);
                if tokens > self.max_tokens {
                    // Sized short by the section's tokenization (a cut inside a word it saw
                    // whole): split the piece again, counting each candidate on its own.
                    let exact = self.split(markdown, TokenCounter(&self.tokenizer), piece)?;
                    if exact.len() > 1 {
                        pieces.extend(exact.into_iter().rev().map(|(s, p)| (start + s, p)));
                        continue;
                    }
                }
                chunks.push(Chunk {
                    ordinal: chunks.len() as u32,
                    text: piece.to_string(),
                    page: section.page,
                    section: section.heading.clone(),
                    span: (offset + start, offset + start + piece.len()),
                    tokens: tokens as u32,
                });
            }
            self.join_lone_heading(&mut chunks, first_of_section, &section.text, offset);
            offset += section.text.len();
        }
        Ok(chunks)
    }

    /// Joins a section's first chunk to the next one when it holds nothing but the section's
    /// heading (the Markdown splitter cuts a heading off a section too long for one chunk): a
    /// heading alone is a poor passage to find, and the passage under it reads better with
    /// it. The joined chunk may exceed the chunk size, up to the model's window; `chunks[first..]`
    /// are the section's chunks, whose spans start at `offset` in the document text.
    fn join_lone_heading(&self, chunks: &mut Vec<Chunk>, first: usize, text: &str, offset: usize) {
        let (Some(heading), Some(next)) = (chunks.get(first), chunks.get(first + 1)) else {
            return;
        };
        let lone = heading.text.trim();
        let is_heading = heading.section.as_deref().is_some_and(|h| {
            !h.trim().is_empty() && !lone.contains('\n') && lone.contains(h.trim())
        });
        if !is_heading {
            return;
        }
        let start = heading.span.0.min(next.span.0).saturating_sub(offset);
        let end = heading.span.1.max(next.span.1).saturating_sub(offset);
        let Some(joined) = text.get(start..end) else {
            return;
        };
        let tokens = self.count_tokens(joined);
        if tokens > self.window_tokens {
            return;
        }
        let merged = Chunk {
            ordinal: heading.ordinal,
            text: joined.to_string(),
            span: (offset + start, offset + end),
            tokens: tokens as u32,
            ..next.clone()
        };
        chunks.splice(first..first + 2, [merged]);
        // The section's later chunks move up one place (they are the last chunks so far).
        for chunk in &mut chunks[first + 1..] {
            chunk.ordinal -= 1;
        }
    }
}

/// The text that chunk spans refer to: the sections joined by [`SECTION_SEPARATOR`].
pub fn document_text(document: &LoadedDocument) -> String {
    let parts: Vec<&str> = document.sections.iter().map(|s| s.text.as_str()).collect();
    parts.join(SECTION_SEPARATOR)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::ingest::{load_bytes, LoadOptions};

    /// The tokenizer of the provisioned model, set up as the embedder sets it up.
    fn tokenizer() -> Result<Tokenizer> {
        let file = crate::embed::provisioned_model_dir().join("tokenizer.json");
        let invalid =
            |e: tokenizers::Error| Error::InvalidInput(format!("{}: {e}", file.display()));
        let mut tokenizer = Tokenizer::from_file(&file).map_err(invalid)?;
        tokenizer.with_truncation(None).map_err(invalid)?;
        tokenizer.with_padding(None);
        Ok(tokenizer)
    }

    fn corpus_document(relative: &str) -> Result<LoadedDocument> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus")
            .join(relative);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        load_bytes(&path, &bytes, &LoadOptions::default())
    }

    #[test]
    fn counting_from_the_section_gives_the_chunks_of_counting_each_piece() -> Result<()> {
        let chunker = Chunker::new(tokenizer()?, &ChunkingConfig::default(), 256)?;
        for file in [
            "debdocs/man/openssh/ssh_config.5",
            "debdocs/pdf/refcard-en-a4.pdf",
            "debdocs/markdown/nodejs-api/assert.md",
            "spanish/debian-reference-es/ch01.es.html",
        ] {
            let document = corpus_document(file)?;
            let fast = chunker.chunk(&document)?;
            let exact = chunker.chunk_sized(&document, |_| TokenCounter(&chunker.tokenizer))?;
            assert!(fast.len() > 5, "{file}: {} chunks", fast.len());
            assert_eq!(fast, exact, "{file}");
        }
        Ok(())
    }

    #[test]
    fn pieces_are_counted_from_the_section_or_on_their_own() -> Result<()> {
        let tokenizer = tokenizer()?;
        let section = "Configure unattended-upgrades, then restart the service.";
        let sizer = SectionTokens::new(&tokenizer, section);
        let alone = |text: &str| TokenCounter(&tokenizer).size(text);
        assert_eq!(sizer.size(section), alone(section));
        // Cut where words end: the same count as the piece alone.
        assert_eq!(sizer.size(&section[..9]), alone("Configure"));
        assert_eq!(sizer.size(&section[10..35]), alone(&section[10..35]));
        // A string that is not a slice of the section is counted on its own.
        let other = String::from("Configure");
        assert_eq!(sizer.size(&other), alone(&other));
        Ok(())
    }

    /// Counts a quarter of a piece's tokens, as the section's tokenization can for a piece
    /// cut inside a word it saw whole.
    struct Undercounting<'t>(TokenCounter<'t>);

    impl ChunkSizer for Undercounting<'_> {
        fn size(&self, piece: &str) -> usize {
            self.0.size(piece) / 4
        }
    }

    #[test]
    fn a_chunk_sized_short_is_split_again_to_fit() -> Result<()> {
        let document = corpus_document("debdocs/man/openssh/ssh_config.5")?;
        let chunker = Chunker::new(tokenizer()?, &ChunkingConfig::default(), 256)?;
        let exact = chunker.chunk(&document)?;
        let chunks = chunker.chunk_sized(&document, |_| {
            Undercounting(TokenCounter(&chunker.tokenizer))
        })?;
        assert!(chunks.len() >= exact.len() / 2, "{} chunks", chunks.len());
        for chunk in &chunks {
            assert!(
                chunk.tokens as usize <= chunker.max_tokens(),
                "{} tokens",
                chunk.tokens
            );
            assert_eq!(chunk.tokens as usize, chunker.count_tokens(&chunk.text));
        }
        // Nothing is lost: the chunks follow each other through the whole text.
        let text = document_text(&document);
        assert_eq!(chunks[0].span.0, exact[0].span.0);
        assert_eq!(
            chunks[chunks.len() - 1].span.1,
            exact[exact.len() - 1].span.1
        );
        for pair in chunks.windows(2) {
            let gap = &text[pair[0].span.1.min(pair[1].span.0)..pair[1].span.0];
            assert!(gap.trim().is_empty(), "text lost between chunks: {gap:?}");
        }
        Ok(())
    }

    #[test]
    fn a_heading_never_stands_alone_as_a_chunk() -> Result<()> {
        let sentence =
            "The nightly job rotates the logs of every service and compresses the old ones. ";
        let source = format!(
            "# Log rotation\n\n{}\n\n## Short\n\nOne line.\n",
            sentence.repeat(12)
        );
        let path = Path::new("rotation.md");
        let document = load_bytes(path, source.as_bytes(), &LoadOptions::default())?;
        let chunker = Chunker::new(tokenizer()?, &ChunkingConfig::default(), 256)?;
        let chunks = chunker.chunk(&document)?;
        assert!(chunks.len() >= 3, "{chunks:#?}");
        let first = &chunks[0];
        assert!(
            first.text.starts_with("# Log rotation\n\nThe nightly job"),
            "the heading leads the passage under it: {:?}",
            first.text
        );
        assert!(first.tokens as usize > chunker.max_tokens() - 40);
        assert!(first.tokens as usize <= 254);
        assert_eq!(first.tokens as usize, chunker.count_tokens(&first.text));
        let text = document_text(&document);
        for (ordinal, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.ordinal as usize, ordinal);
            assert_eq!(&text[chunk.span.0..chunk.span.1], chunk.text);
            assert!(
                !chunk.text.trim().starts_with('#') || chunk.text.trim().contains('\n'),
                "a heading alone: {:?}",
                chunk.text
            );
        }
        // A short section is one chunk, heading included, as before.
        let last = chunks
            .last()
            .ok_or(Error::InvalidInput("no chunks".into()))?;
        assert_eq!(last.text.trim(), "## Short\n\nOne line.");
        Ok(())
    }
}
