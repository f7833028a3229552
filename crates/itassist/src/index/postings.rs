//! The keyword index: BM25 postings kept beside the chunks, in the same transactions.
//!
//! A posting's key is the term, a 0 byte and the chunk id (big-endian, so a term's postings
//! are contiguous and ordered by chunk); its value is the term's frequency in the chunk and
//! the chunk's length in terms. `terms` counts the chunks holding each term, and the
//! metadata record keeps the number of chunks and their total length, which is all BM25
//! needs. Text analysis and the formula itself are in [`crate::keyword`].

use std::collections::HashMap;

use heed::RwTxn;

use super::storage::StorageResult;
use super::{sort_scored, Index, IndexMeta};
use crate::error::Result;
use crate::keyword::Bm25;

/// What happens to a chunk's postings.
#[derive(Debug, Clone, Copy)]
pub(super) enum Change {
    /// The chunk is written.
    Add,
    /// The chunk is deleted.
    Remove,
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
        let (frequencies, len) = self.shared.analyzer.frequencies(text);
        for (term, tf) in &frequencies {
            let key = posting_key(term, chunk_id);
            let df = match change {
                Change::Add => {
                    dbs.postings.put(wtxn, &key, &posting_value(*tf, len))?;
                    dbs.terms.get(wtxn, term)?.unwrap_or(0) + 1
                }
                Change::Remove if dbs.postings.delete(wtxn, &key)? => {
                    dbs.terms.get(wtxn, term)?.unwrap_or(0).saturating_sub(1)
                }
                // Not indexed under this term: nothing to uncount.
                Change::Remove => continue,
            };
            if df > 0 {
                dbs.terms.put(wtxn, term, &df)?;
            } else {
                dbs.terms.delete(wtxn, term)?;
            }
        }
        match change {
            Change::Add => {
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
            let mut terms = self.shared.analyzer.terms(query);
            terms.sort();
            terms.dedup();
            let mut scores: HashMap<u32, f32> = HashMap::new();
            for term in &terms {
                let Some(df) = dbs.terms.get(rtxn, term)? else {
                    continue;
                };
                let idf = bm25.idf(meta.keyword_chunks, df);
                for entry in dbs.postings.prefix_iter(rtxn, &posting_prefix(term))? {
                    let (key, value) = entry?;
                    let (Some(chunk), Some((tf, len))) =
                        (posting_chunk(key), read_posting_value(value))
                    else {
                        continue;
                    };
                    *scores.entry(chunk).or_default() += bm25.weight(idf, tf, len, avg_len);
                }
            }
            let mut scored: Vec<(u32, f32)> = scores.into_iter().collect();
            sort_scored(&mut scored);
            scored.truncate(k);
            Ok(scored)
        })
    }
}

/// The key of one posting: the term, a 0 byte, and the chunk id (big-endian).
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

/// A posting's value: the term's frequency in the chunk and the chunk's length in terms.
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

    #[test]
    fn posting_keys_round_trip() {
        let key = posting_key("kernel", 77);
        assert!(key.starts_with(&posting_prefix("kernel")));
        assert_eq!(posting_chunk(&key), Some(77));
        assert_eq!(read_posting_value(&posting_value(3, 120)), Some((3, 120)));
    }
}
