//! Retrieval: finding the passages that answer a query.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::embed::Embedder;
use crate::error::Result;
use crate::index::Index;

/// A retrieved passage with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// Chunk id in the index.
    pub chunk_id: u32,
    /// Document id in the index.
    pub document_id: u64,
    /// The document's source (file path or `upload:NAME`).
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
    /// Relevance score, higher is better (cosine similarity for dense retrieval).
    pub score: f32,
    /// Byte range of the passage in the document text.
    pub span: (usize, usize),
}

impl Passage {
    /// A short human-readable citation: name plus page or section.
    pub fn citation(&self) -> String {
        match (&self.page, &self.section) {
            (Some(page), _) => format!("{}, page {page}", self.name),
            (None, Some(section)) => format!("{}, \u{a7} {section}", self.name),
            (None, None) => self.name.clone(),
        }
    }

    /// The source as a path, when it is a file.
    pub fn path(&self) -> Option<PathBuf> {
        (!self.source.starts_with("upload:")).then(|| PathBuf::from(&self.source))
    }
}

/// Finds passages for a query.
pub trait Retriever: Send + Sync {
    /// The `k` best passages for `query`, best first.
    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>>;
}

/// Dense retrieval: embeds the query and finds the nearest chunk vectors.
pub struct DenseRetriever {
    index: Index,
    embedder: Arc<dyn Embedder>,
    exact_below: usize,
    oversampling: usize,
}

impl std::fmt::Debug for DenseRetriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseRetriever")
            .field("exact_below", &self.exact_below)
            .field("oversampling", &self.oversampling)
            .finish()
    }
}

impl DenseRetriever {
    /// A dense retriever over `index`, embedding queries with `embedder`.
    ///
    /// Collections of at most `exact_below` chunks are searched exactly; larger ones through
    /// the arroy trees with `oversampling`.
    pub fn new(
        index: Index,
        embedder: Arc<dyn Embedder>,
        exact_below: usize,
        oversampling: usize,
    ) -> Self {
        DenseRetriever {
            index,
            embedder,
            exact_below,
            oversampling,
        }
    }

    /// The `k` best passages for an already embedded query.
    pub fn retrieve_vector(&self, query: &[f32], k: usize) -> Result<Vec<Passage>> {
        let hits = self
            .index
            .nearest(query, k, self.exact_below, self.oversampling)?;
        passages_for(&self.index, &hits)
    }
}

/// Turns `(chunk id, score)` hits into passages, keeping their order; hits whose chunk is
/// gone (removed since the search) are dropped.
pub fn passages_for(index: &Index, hits: &[(u32, f32)]) -> Result<Vec<Passage>> {
    let ids: Vec<u32> = hits.iter().map(|(id, _)| *id).collect();
    let loaded = index.chunks_with_documents(&ids)?;
    let passages = hits
        .iter()
        .zip(loaded)
        .filter_map(|((chunk_id, score), found)| {
            let (chunk, document) = found?;
            Some(Passage {
                chunk_id: *chunk_id,
                document_id: document.id,
                source: document.source,
                name: document.name,
                title: document.title,
                page: chunk.page,
                section: chunk.section,
                text: chunk.text,
                score: *score,
                span: chunk.span,
            })
        })
        .collect();
    Ok(passages)
}

impl Retriever for DenseRetriever {
    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        let vectors = self.embedder.embed(&[query])?;
        let Some(vector) = vectors.first() else {
            return Ok(Vec::new());
        };
        self.retrieve_vector(vector, k)
    }
}
