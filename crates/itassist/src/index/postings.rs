//! The keyword index: BM25 postings kept beside the chunks, in the same transactions.
//!
//! A term's postings are blocks (postings format 1, `posting_blocks`) keyed by the term, a 0
//! byte and the block's first chunk id (big-endian, so a term's blocks are contiguous and
//! ordered by chunk); each posting holds the term's frequency in the chunk and the chunk's
//! length in terms. Indexes written before blocks (format 0) hold one record per posting,
//! under the same key with the posting's chunk id, and keep that layout until their keyword
//! index is rebuilt ([`Index::rebuild_keyword_index`]). `terms` counts the chunks holding
//! each term, and the metadata record keeps the number of chunks and their total length,
//! which is all BM25 needs. Text analysis and the formula itself are in [`crate::keyword`].
//!
//! Each chunk is analysed in its own language (analyzer versions 2 and 3): the language is kept
//! under the key `0, "lang", chunk id` (no term starts with a 0 byte), so that removing the
//! chunk analyses it the same way, and the metadata counts the chunks of each language.
//! Indexes written with the legacy analyzer (version 1) have no such records: every chunk
//! and query is analysed as English, as when they were written.

use std::collections::HashMap;

use heed::{RoTxn, RwTxn};

use super::posting_blocks::{self, BlockReader, Insert, Posting, Removal, POSTINGS_FORMAT};
use super::storage::StorageResult;
use super::PostingsDb;
use super::{sort_scored, Index, IndexMeta, META_KEY};
use crate::error::{Error, Result};
use crate::keyword::{
    analyze_query, chunk_language, detect, document_language, Analyzer, Bm25, Language,
    QueryAnalysis, ANALYZER_VERSION, FIRST_PER_LANGUAGE_ANALYZER_VERSION, LEGACY_ANALYZER_VERSION,
};

/// What happens to a chunk's postings.
#[derive(Debug, Clone, Copy)]
pub(super) enum Change {
    /// The chunk is written; its document is in this language (the chunk's own is used
    /// when it can be detected reliably).
    Add(Language),
    /// The chunk is deleted.
    Remove,
}

/// What [`Index::rebuild_keyword_index`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordRebuild {
    /// The analyzer version the postings are now written with.
    pub analyzer_version: u32,
    /// Documents analysed.
    pub documents: u64,
    /// Chunks analysed.
    pub chunks: u64,
    /// Chunks per language (empty for the legacy analyzer).
    pub languages: Vec<(Language, u64)>,
}

/// The key of the record holding a chunk's language.
fn language_key(chunk_id: u32) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[1..5].copy_from_slice(b"lang");
    key[5..].copy_from_slice(&chunk_id.to_be_bytes());
    key
}

/// The languages of an index's chunks, with their counts, most chunks first.
fn languages_of(meta: &IndexMeta) -> Vec<(Language, u64)> {
    let mut languages: Vec<(Language, u64)> = meta
        .keyword_languages
        .iter()
        .filter(|(_, n)| **n > 0)
        .filter_map(|(code, n)| Some((Language::from_code(code)?, *n)))
        .collect();
    languages.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    languages
}

impl Index {
    /// Adds or removes the postings of a chunk's `text` inside `wtxn`, counting the chunk in
    /// (or out of) `meta`.
    pub(super) fn change_postings(
        &self,
        wtxn: &mut RwTxn<'_>,
        change: Change,
        (chunk_id, text): (u32, &str),
        meta: &mut IndexMeta,
    ) -> StorageResult<()> {
        let dbs = self.dbs();
        let analyzer = if meta.analyzer_version < FIRST_PER_LANGUAGE_ANALYZER_VERSION {
            Analyzer::shared_legacy()
        } else {
            let key = language_key(chunk_id);
            let language = match change {
                Change::Add(document) => {
                    let language = chunk_language(text, document);
                    dbs.postings.put(wtxn, &key, language.code().as_bytes())?;
                    *meta
                        .keyword_languages
                        .entry(language.code().to_string())
                        .or_default() += 1;
                    language
                }
                Change::Remove => {
                    let recorded = dbs
                        .postings
                        .get(wtxn, &key)?
                        .and_then(|code| Language::from_code(std::str::from_utf8(code).ok()?));
                    dbs.postings.delete(wtxn, &key)?;
                    let language = recorded.unwrap_or(Language::English);
                    if let Some(count) = meta.keyword_languages.get_mut(language.code()) {
                        *count = count.saturating_sub(1);
                        if *count == 0 {
                            meta.keyword_languages.remove(language.code());
                        }
                    }
                    language
                }
            };
            Analyzer::shared_version(language, meta.analyzer_version)
        };
        let (frequencies, len) = analyzer.frequencies(text);
        let blocks = meta.postings_format >= POSTINGS_FORMAT;
        for (term, tf) in &frequencies {
            let posting = Posting {
                chunk: chunk_id,
                tf: *tf,
                len,
            };
            let changed = match (change, blocks) {
                (Change::Add(_), true) => add_to_block(dbs.postings, wtxn, term, posting)?,
                (Change::Remove, true) => remove_from_block(dbs.postings, wtxn, term, chunk_id)?,
                (Change::Add(_), false) => {
                    let key = posting_key(term, chunk_id);
                    dbs.postings.put(wtxn, &key, &posting_value(*tf, len))?;
                    true
                }
                (Change::Remove, false) => {
                    dbs.postings.delete(wtxn, &posting_key(term, chunk_id))?
                }
            };
            let df = match change {
                Change::Add(_) if changed => dbs.terms.get(wtxn, term)?.unwrap_or(0) + 1,
                Change::Remove if changed => {
                    dbs.terms.get(wtxn, term)?.unwrap_or(0).saturating_sub(1)
                }
                // Already counted, or not indexed under this term: nothing to count.
                _ => continue,
            };
            if df > 0 {
                dbs.terms.put(wtxn, term, &df)?;
            } else {
                dbs.terms.delete(wtxn, term)?;
            }
        }
        match change {
            Change::Add(_) => {
                meta.keyword_chunks += 1;
                meta.keyword_terms += u64::from(len);
            }
            Change::Remove => {
                meta.keyword_chunks = meta.keyword_chunks.saturating_sub(1);
                meta.keyword_terms = meta.keyword_terms.saturating_sub(u64::from(len));
            }
        }
        Ok(())
    }

    /// The `k` chunks that best match `query` by BM25, best first, as `(chunk id, score)`.
    pub fn keyword_nearest(&self, query: &str, k: usize, bm25: Bm25) -> Result<Vec<(u32, f32)>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        self.shared.read(|rtxn| {
            let dbs = self.dbs();
            let meta = self.shared.meta_in(rtxn)?;
            if meta.keyword_chunks == 0 {
                return Ok(Vec::new());
            }
            let avg_len = meta.keyword_terms as f32 / meta.keyword_chunks as f32;
            let analysis = query_analysis(&meta, query);
            // Scores accumulate in a slot per chunk id (ids are dense: faster than a hash map
            // when common terms bring tens of thousands of postings), with the ids touched.
            let mut scores = vec![f32::NAN; meta.next_chunk_id as usize];
            let mut touched: Vec<u32> = Vec::new();
            let mut group_best: HashMap<u32, f32> = HashMap::new();
            for group in &analysis.groups {
                // A chunk scores the best term of the group: one word, counted once.
                group_best.clear();
                let single = group.len() == 1;
                for term in group {
                    let Some(df) = dbs.terms.get(rtxn, term)? else {
                        continue;
                    };
                    let idf = bm25.idf(meta.keyword_chunks, df);
                    for_each_posting(dbs.postings, rtxn, meta.postings_format, term, |p| {
                        let weight = bm25.weight(idf, p.tf, p.len, avg_len);
                        if single {
                            add_score(&mut scores, &mut touched, p.chunk, weight);
                        } else {
                            let slot = group_best.entry(p.chunk).or_default();
                            *slot = slot.max(weight);
                        }
                    })?;
                }
                for (chunk, weight) in group_best.drain() {
                    add_score(&mut scores, &mut touched, chunk, weight);
                }
            }
            let mut scored: Vec<(u32, f32)> = touched
                .into_iter()
                .map(|id| (id, scores[id as usize]))
                .collect();
            if scored.len() > k {
                scored
                    .select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                scored.truncate(k);
            }
            sort_scored(&mut scored);
            scored.truncate(k);
            Ok(scored)
        })
    }
}

/// Adds `weight` to chunk `id`'s score, noting the id the first time it scores.
fn add_score(scores: &mut Vec<f32>, touched: &mut Vec<u32>, id: u32, weight: f32) {
    let slot = id as usize;
    if slot >= scores.len() {
        // A posting of a chunk id the metadata does not count yet: not expected, but
        // harmless.
        scores.resize(slot + 1, f32::NAN);
    }
    if scores[slot].is_nan() {
        // Not scored yet (NaN marks the untouched slots).
        touched.push(id);
        scores[slot] = weight;
    } else {
        scores[slot] += weight;
    }
}

/// How `query` is analysed for the index described by `meta`: for the languages holding at
/// least 2% of the chunks (a few passages misdetected as another language must not bring
/// that language's analysis into every query), and the language the query looks most like.
fn query_analysis(meta: &IndexMeta, query: &str) -> QueryAnalysis {
    let languages = languages_of(meta);
    let total: u64 = languages.iter().map(|(_, n)| n).sum();
    let all: Vec<Language> = languages.iter().map(|(l, _)| *l).collect();
    let mut present: Vec<Language> = languages
        .iter()
        .filter(|(_, n)| n * 50 >= total)
        .map(|(l, _)| *l)
        .collect();
    if let Some(found) = detect(query, &all) {
        if !present.contains(&found.language) {
            present.push(found.language);
        }
    }
    present.sort();
    analyze_query(query, meta.analyzer_version, &present)
}

impl Index {
    /// How the keyword index reads `query` now: the languages it is analysed for and its
    /// terms.
    pub fn keyword_query(&self, query: &str) -> Result<QueryAnalysis> {
        self.shared
            .read(|rtxn| Ok(query_analysis(&self.shared.meta_in(rtxn)?, query)))
    }

    /// The analyzer version of the keyword index now (1: English only, written before
    /// languages were recognised; 2 and 3: per language, see [`crate::keyword`]).
    pub fn analyzer_version(&self) -> Result<u32> {
        self.shared
            .read(|rtxn| Ok(self.shared.meta_in(rtxn)?.analyzer_version))
    }

    /// The languages of the keyword index's chunks, with their counts, most chunks first.
    pub fn keyword_languages(&self) -> Result<Vec<(Language, u64)>> {
        self.shared
            .read(|rtxn| Ok(languages_of(&self.shared.meta_in(rtxn)?)))
    }

    /// Rewrites the keyword index from the stored chunks with analyzer `version`
    /// ([`ANALYZER_VERSION`] to upgrade an index written by an older analyzer;
    /// [`LEGACY_ANALYZER_VERSION`] to compare with the old analysis). Nothing is
    /// re-embedded; it runs in one write transaction, so a failure leaves the old postings.
    pub fn rebuild_keyword_index(&self, version: u32) -> Result<KeywordRebuild> {
        if !(LEGACY_ANALYZER_VERSION..=ANALYZER_VERSION).contains(&version) {
            return Err(Error::InvalidInput(format!(
                "keyword analyzer version {version} does not exist: use {ANALYZER_VERSION} (per language, current) or {LEGACY_ANALYZER_VERSION} (English only)"
            )));
        }
        self.shared.write(|wtxn| {
            let dbs = self.dbs();
            let mut meta = self.shared.meta_in(wtxn)?;
            dbs.postings.clear(wtxn)?;
            dbs.terms.clear(wtxn)?;
            meta.keyword_chunks = 0;
            meta.keyword_terms = 0;
            meta.keyword_languages.clear();
            meta.analyzer_version = version;
            meta.postings_format = POSTINGS_FORMAT;
            let mut documents = Vec::new();
            for entry in dbs.documents.iter(wtxn)? {
                documents.push(entry?.1);
            }
            let mut chunks = 0;
            for document in &documents {
                let mut texts = Vec::with_capacity(document.chunk_count as usize);
                for chunk_id in document.chunk_ids() {
                    if let Some(chunk) = dbs.chunks.get(wtxn, &chunk_id)? {
                        texts.push((chunk_id, chunk.text));
                    }
                }
                let language = document_language(texts.iter().map(|(_, t)| t.as_str()));
                for (chunk_id, text) in &texts {
                    self.change_postings(
                        wtxn,
                        Change::Add(language),
                        (*chunk_id, text),
                        &mut meta,
                    )?;
                }
                chunks += texts.len() as u64;
            }
            dbs.meta.put(wtxn, META_KEY, &meta)?;
            Ok(KeywordRebuild {
                analyzer_version: version,
                documents: documents.len() as u64,
                chunks,
                languages: languages_of(&meta),
            })
        })
    }
}

/// Calls `visit` with every posting of `term`, in chunk order, in either postings format.
fn for_each_posting(
    postings: PostingsDb,
    rtxn: &RoTxn<'_>,
    format: u32,
    term: &str,
    mut visit: impl FnMut(Posting),
) -> StorageResult<()> {
    for entry in postings.prefix_iter(rtxn, &posting_prefix(term))? {
        let (key, value) = entry?;
        let Some(first) = posting_chunk(key) else {
            continue;
        };
        if format >= POSTINGS_FORMAT {
            BlockReader::new(first, value).for_each(&mut visit);
        } else if let Some((tf, len)) = read_posting_value(value) {
            visit(Posting {
                chunk: first,
                tf,
                len,
            });
        }
    }
    Ok(())
}

/// The block of `term` that holds (or would hold) chunk `chunk`: the one with the largest
/// first chunk id not above it, as (first chunk id, encoded postings).
fn block_at(
    postings: PostingsDb,
    wtxn: &RwTxn<'_>,
    term: &str,
    chunk: u32,
) -> StorageResult<Option<(u32, Vec<u8>)>> {
    let prefix = posting_prefix(term);
    let found = postings.get_lower_than_or_equal_to(wtxn, &posting_key(term, chunk))?;
    Ok(found.and_then(|(key, value)| {
        let same_term = key.len() == prefix.len() + 4 && key.starts_with(&prefix);
        Some((posting_chunk(key).filter(|_| same_term)?, value.to_vec()))
    }))
}

/// Adds `posting` to `term`'s blocks; returns whether the chunk was not indexed under the
/// term before.
fn add_to_block(
    postings: PostingsDb,
    wtxn: &mut RwTxn<'_>,
    term: &str,
    posting: Posting,
) -> StorageResult<bool> {
    let Some((first, bytes)) = block_at(postings, wtxn, term, posting.chunk)? else {
        // Before every block of the term (or its first posting): a block of its own.
        let mut bytes = Vec::new();
        posting_blocks::encode_block(&[posting], &mut bytes);
        postings.put(wtxn, &posting_key(term, posting.chunk), &bytes)?;
        return Ok(true);
    };
    let (write, added) = posting_blocks::insert(first, &bytes, posting);
    match write {
        Insert::Rewrite(bytes) => postings.put(wtxn, &posting_key(term, first), &bytes)?,
        Insert::NewBlock(bytes) => postings.put(wtxn, &posting_key(term, posting.chunk), &bytes)?,
        Insert::Split {
            left,
            right_first,
            right,
        } => {
            postings.put(wtxn, &posting_key(term, first), &left)?;
            postings.put(wtxn, &posting_key(term, right_first), &right)?;
        }
    }
    Ok(added)
}

/// Removes chunk `chunk` from `term`'s blocks; returns whether it was there.
fn remove_from_block(
    postings: PostingsDb,
    wtxn: &mut RwTxn<'_>,
    term: &str,
    chunk: u32,
) -> StorageResult<bool> {
    let Some((first, bytes)) = block_at(postings, wtxn, term, chunk)? else {
        return Ok(false);
    };
    match posting_blocks::remove(first, &bytes, chunk) {
        Removal::Absent => return Ok(false),
        Removal::Empty => {
            postings.delete(wtxn, &posting_key(term, first))?;
        }
        Removal::Rekey {
            first: new_first,
            bytes,
        } => {
            postings.delete(wtxn, &posting_key(term, first))?;
            postings.put(wtxn, &posting_key(term, new_first), &bytes)?;
        }
        Removal::Rewrite(bytes) => postings.put(wtxn, &posting_key(term, first), &bytes)?,
    }
    Ok(true)
}

/// The key of one posting (format 0) or of the block starting at `chunk_id` (format 1): the
/// term, a 0 byte, and the chunk id (big-endian).
fn posting_key(term: &str, chunk_id: u32) -> Vec<u8> {
    let mut key = posting_prefix(term);
    key.extend_from_slice(&chunk_id.to_be_bytes());
    key
}

/// The prefix of all postings of `term`.
fn posting_prefix(term: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(term.len() + 5);
    key.extend_from_slice(term.as_bytes());
    key.push(0);
    key
}

/// The chunk id at the end of a posting key.
fn posting_chunk(key: &[u8]) -> Option<u32> {
    let tail: [u8; 4] = key.get(key.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u32::from_be_bytes(tail))
}

/// A posting's value in format 0: the term's frequency in the chunk and the chunk's length in
/// terms.
fn posting_value(tf: u32, len: u32) -> [u8; 8] {
    let mut value = [0u8; 8];
    value[..4].copy_from_slice(&tf.to_be_bytes());
    value[4..].copy_from_slice(&len.to_be_bytes());
    value
}

/// Reads a posting's value back.
fn read_posting_value(value: &[u8]) -> Option<(u32, u32)> {
    let tf = u32::from_be_bytes(value.get(..4)?.try_into().ok()?);
    let len = u32::from_be_bytes(value.get(4..8)?.try_into().ok()?);
    Some((tf, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Document, IndexSettings, NewDocument, StoredChunk};

    const DIMENSIONS: usize = 4;

    fn open(dir: &std::path::Path) -> Result<Index> {
        let settings = IndexSettings {
            embedding_model: "test".into(),
            dimensions: DIMENSIONS,
            n_trees: 1,
            trees_above: usize::MAX,
            chunk_max_tokens: 128,
            chunk_overlap_tokens: 0,
            map_size: 1 << 28,
        };
        Index::open(dir, &settings)
    }

    /// Sets the postings format of an empty index, as an index written before blocks has.
    fn set_format(index: &Index, format: u32) -> Result<()> {
        index.shared.write(|wtxn| {
            let mut meta = index.shared.meta_in(wtxn)?;
            meta.postings_format = format;
            index.dbs().meta.put(wtxn, META_KEY, &meta)?;
            Ok(())
        })
    }

    /// The postings format recorded in the index.
    fn format_of(index: &Index) -> Result<u32> {
        index
            .shared
            .read(|rtxn| Ok(index.shared.meta_in(rtxn)?.postings_format))
    }

    /// Document `n`: one chunk per text, every chunk holding the word "server" (so that its
    /// postings fill several blocks) and words of its own.
    fn document(n: u64, chunks: usize) -> NewDocument {
        let texts: Vec<String> = (0..chunks)
            .map(|i| {
                let repeat = if i % 3 == 0 { " server" } else { "" };
                format!("server{repeat} restart host{n} unit{n}x{i} daemon{}", i % 5)
            })
            .collect();
        NewDocument {
            document: Document {
                id: 0,
                source: format!("doc{n}.txt"),
                name: format!("doc{n}.txt"),
                title: None,
                format: crate::ingest::Format::Text,
                media_type: "text/plain".into(),
                sha256: format!("{n:064x}"),
                size: 0,
                modified: None,
                page_count: None,
                ocr_pages: Vec::new(),
                first_chunk: 0,
                chunk_count: 0,
                token_count: 0,
                ingested_at: 0,
                notes: Vec::new(),
            },
            chunks: texts
                .into_iter()
                .enumerate()
                .map(|(i, text)| StoredChunk {
                    document_id: 0,
                    ordinal: i as u32,
                    span: (0, text.len()),
                    text,
                    page: None,
                    section: None,
                    tokens: 8,
                })
                .collect(),
            vectors: vec![vec![0.5; DIMENSIONS]; chunks],
        }
    }

    fn all_hits(index: &Index, query: &str) -> Result<Vec<(u32, f32)>> {
        index.keyword_nearest(query, 100_000, Bm25::default())
    }

    /// Both formats give the same scores through adds, removals (including of a block's
    /// first chunk) and replacements, and rebuilding turns a format-0 index into blocks.
    #[test]
    fn blocks_score_as_single_postings_did_through_writes_and_removals() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let blocks = open(&tmp.path().join("blocks"))?;
        let single = open(&tmp.path().join("single"))?;
        set_format(&single, posting_blocks::SINGLE_POSTINGS)?;
        assert_eq!(format_of(&blocks)?, POSTINGS_FORMAT);
        let mut ids = Vec::new();
        for n in 0..12 {
            let b = blocks.write_document(document(n, 40), None)?;
            let s = single.write_document(document(n, 40), None)?;
            assert_eq!((b.id, b.first_chunk), (s.id, s.first_chunk));
            ids.push(b.id);
        }
        // Removals at the start, inside and at the end of the blocks, then a replacement.
        for id in [ids[0], ids[5], ids[11]] {
            blocks.remove_document(id)?;
            single.remove_document(id)?;
        }
        blocks.write_document(document(99, 7), Some(ids[3]))?;
        single.write_document(document(99, 7), Some(ids[3]))?;

        let server = all_hits(&blocks, "server")?;
        assert_eq!(
            server.len(),
            (12 - 4) * 40 + 7,
            "every remaining chunk has the term"
        );
        for query in [
            "server",
            "restart daemon3",
            "host7 unit7x12",
            "host0",
            "host99",
        ] {
            assert_eq!(
                all_hits(&blocks, query)?,
                all_hits(&single, query)?,
                "{query}"
            );
        }
        assert!(all_hits(&blocks, "host0")?.is_empty());
        let stored = blocks.shared.read(|rtxn| {
            Ok(blocks
                .dbs()
                .postings
                .prefix_iter(rtxn, &posting_prefix("server"))?
                .count())
        })?;
        assert!(
            (2..40).contains(&stored),
            "{stored} records hold the term's {} postings",
            server.len()
        );

        // Rebuilding converts a format-0 index to blocks, with the same scores.
        let before = all_hits(&single, "server")?;
        single.rebuild_keyword_index(crate::keyword::ANALYZER_VERSION)?;
        assert_eq!(format_of(&single)?, POSTINGS_FORMAT);
        assert_eq!(all_hits(&single, "server")?, before);
        Ok(())
    }

    #[test]
    fn posting_keys_round_trip() {
        let key = posting_key("kernel", 77);
        assert!(key.starts_with(&posting_prefix("kernel")));
        assert_eq!(posting_chunk(&key), Some(77));
        assert_eq!(read_posting_value(&posting_value(3, 120)), Some((3, 120)));
    }
}
