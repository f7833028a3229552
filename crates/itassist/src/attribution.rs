//! Citations inferred after the fact, for models that write none.
//!
//! Large models follow the prompt and cite their sources as `[n]`; small ones (a 135M model
//! on a laptop) mostly do not. When an answer cites nothing, each of its sentences is
//! compared with the sources it was written from, by the same embedding model that ranked
//! them, and a sentence that clearly restates one source is attributed to it. These
//! citations are marked as inferred everywhere they are shown, so a reader can tell them
//! from the ones the model wrote.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::embed::{dot, Embedder};
use crate::error::Result;
use crate::retrieve::Passage;

/// Lowest cosine similarity between a sentence and a source for the sentence to be
/// attributed to it. all-MiniLM-L6-v2 puts unrelated sentences of the same technical
/// domain at 0.1–0.4 and a sentence that restates a passage at 0.55 and above.
pub const MIN_SIMILARITY: f32 = 0.5;

/// Sentences shorter than this (in characters) are not attributed: "Yes." says nothing a
/// source could support.
const MIN_SENTENCE_CHARS: usize = 20;

/// One answer sentence matched to the source it restates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferredCitation {
    /// Byte range of the sentence in the answer text.
    pub sentence: Range<usize>,
    /// 1-based number of the source, as in `Answer::sources`.
    pub source: usize,
    /// Cosine similarity of the sentence and the source passage.
    pub similarity: f32,
}

/// Matches each sentence of `answer` to the most similar of `sources` (1-based numbers),
/// keeping matches of at least `min_similarity`. Embeds the sentences with `embedder`'s
/// query session and compares them with the sources' stored vectors when they have them,
/// else embeds the sources' texts.
pub fn infer_citations(
    embedder: &dyn Embedder,
    answer: &str,
    sources: &[Passage],
    min_similarity: f32,
) -> Result<Vec<InferredCitation>> {
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let sentences: Vec<Range<usize>> = answer
        .split_sentence_bound_indices()
        .filter_map(|(start, text)| {
            let trimmed = text.trim();
            (trimmed.chars().count() >= MIN_SENTENCE_CHARS).then(|| {
                let lead = text.len() - text.trim_start().len();
                start + lead..start + lead + trimmed.len()
            })
        })
        .collect();
    if sentences.is_empty() {
        return Ok(Vec::new());
    }
    let source_texts: Vec<&str> = sources.iter().map(|p| p.text.as_str()).collect();
    let source_vectors = embedder.embed(&source_texts)?;
    let mut found = Vec::new();
    for range in sentences {
        let vector = embedder.embed_query(&answer[range.clone()])?;
        let best = source_vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (i + 1, dot(&vector, v)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((source, similarity)) = best {
            if similarity >= min_similarity {
                found.push(InferredCitation {
                    sentence: range,
                    source,
                    similarity,
                });
            }
        }
    }
    Ok(found)
}

/// The distinct source numbers of `citations`, in ascending order.
pub fn cited_sources(citations: &[InferredCitation]) -> Vec<usize> {
    let mut numbers: Vec<usize> = citations.iter().map(|c| c.source).collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
}
