//! Keyword search: the analyzer and BM25 scoring behind the keyword index.
//!
//! The postings live in the same LMDB environment as the chunks (see [`crate::index`]) and
//! are written in the same transaction as their document, so the keyword index can never
//! disagree with the stored chunks, even after a crash. This module holds the parts that do
//! not touch storage: turning text into terms, and the BM25 formula; the postings and their
//! on-disk encoding belong to the index.

use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};

/// English words too common to help a keyword search (Lucene's English stop set).
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Longest term kept, in bytes (longer runs are hashes, base64 and the like).
const MAX_TERM_BYTES: usize = 40;

/// BM25 parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bm25 {
    /// Term-frequency saturation.
    pub k1: f32,
    /// Length normalisation.
    pub b: f32,
}

impl Default for Bm25 {
    fn default() -> Self {
        Bm25 { k1: 0.9, b: 0.4 }
    }
}

impl Bm25 {
    /// Inverse document frequency of a term found in `df` of `n` chunks.
    pub fn idf(&self, n: u64, df: u64) -> f32 {
        let n = n as f32;
        let df = df as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// The BM25 weight of a term occurring `tf` times in a chunk of `len` terms.
    pub fn weight(&self, idf: f32, tf: u32, len: u32, avg_len: f32) -> f32 {
        let tf = tf as f32;
        let norm = 1.0 - self.b + self.b * (len as f32 / avg_len.max(1.0));
        idf * tf * (self.k1 + 1.0) / (tf + self.k1 * norm)
    }
}

/// Turns text into search terms: lowercased alphanumeric words, English stopwords removed,
/// Snowball-stemmed. Words joined by `_`, `-` or `.` inside (like `ssh-keygen`, `sshd_config`,
/// `apt.conf`) also yield their parts.
///
/// ```
/// let analyzer = itassist::keyword::Analyzer::default();
/// assert_eq!(analyzer.terms("Restarting the SSH daemons"), ["restart", "ssh", "daemon"]);
/// ```
pub struct Analyzer {
    stemmer: Stemmer,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Analyzer(english)")
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer {
            stemmer: Stemmer::create(Algorithm::English),
        }
    }
}

impl Analyzer {
    /// The terms of `text`, in order, with repeats.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
        {
            let word = word.trim_matches(|c: char| !c.is_alphanumeric());
            if word.is_empty() {
                continue;
            }
            let lower = word.to_lowercase();
            let parts: Vec<&str> = lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|p| !p.is_empty())
                .collect();
            if parts.len() > 1 {
                self.push(&lower, &mut out);
            }
            for part in parts {
                self.push(part, &mut out);
            }
        }
        out
    }

    fn push(&self, word: &str, out: &mut Vec<String>) {
        if word.len() > MAX_TERM_BYTES || STOPWORDS.contains(&word) {
            return;
        }
        out.push(self.stemmer.stem(word).into_owned());
    }

    /// Term frequencies of `text`, and its length in terms.
    pub fn frequencies(&self, text: &str) -> (HashMap<String, u32>, u32) {
        let terms = self.terms(text);
        let len = terms.len() as u32;
        let mut tf: HashMap<String, u32> = HashMap::new();
        for term in terms {
            *tf.entry(term).or_default() += 1;
        }
        (tf, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercased_stemmed_and_split() {
        let a = Analyzer::default();
        let terms = a.terms("The ssh-keygen program Generates keys for sshd_config.");
        assert!(terms.contains(&"ssh-keygen".to_string()));
        assert!(terms.contains(&"ssh".to_string()));
        assert!(terms.contains(&"keygen".to_string()));
        assert!(terms.contains(&"generat".to_string()));
        assert!(terms.contains(&"key".to_string()));
        assert!(!terms.contains(&"the".to_string()));
        assert!(terms.contains(&"sshd_config".to_string()));
    }

    #[test]
    fn rarer_terms_weigh_more() {
        let bm25 = Bm25::default();
        assert!(bm25.idf(1000, 2) > bm25.idf(1000, 500));
        let idf = bm25.idf(1000, 10);
        assert!(bm25.weight(idf, 3, 100, 100.0) > bm25.weight(idf, 1, 100, 100.0));
        assert!(bm25.weight(idf, 1, 50, 100.0) > bm25.weight(idf, 1, 200, 100.0));
    }
}
