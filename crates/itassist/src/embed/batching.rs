//! Embedding many texts in batches of similar length.
//!
//! The model pads every text of a batch to the longest one, so a batch mixing a few short
//! chunks (the end of a section or a page) with full-size ones spends part of its time on
//! padding. [`embed_by_length`] embeds the texts in batches taken in order of length, and
//! returns the vectors in the texts' own order.

use super::Embedder;
use crate::error::{Error, Result};

/// The order in which to embed texts of these lengths: longest first (ties keep their
/// order), so that each batch holds texts of similar length.
pub fn length_order(lengths: &[u32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    order
}

/// Embeds `texts` (with their `lengths` in model tokens, one per text) in batches of at most
/// `batch_size` texts of similar length, calling `after_batch` with the number of texts
/// embedded so far after each batch. Returns one vector per text, in the order of `texts`.
pub fn embed_by_length(
    embedder: &dyn Embedder,
    texts: &[&str],
    lengths: &[u32],
    batch_size: usize,
    mut after_batch: impl FnMut(usize),
) -> Result<Vec<Vec<f32>>> {
    if texts.len() != lengths.len() {
        return Err(Error::InvalidInput(format!(
            "{} texts but {} lengths",
            texts.len(),
            lengths.len()
        )));
    }
    let order = length_order(lengths);
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
    let mut done = 0;
    for batch in order.chunks(batch_size.max(1)) {
        let inputs: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
        let embedded = embedder.embed(&inputs)?;
        if embedded.len() != batch.len() {
            return Err(Error::Embedding {
                reason: format!(
                    "the model returned {} vectors for {} texts",
                    embedded.len(),
                    batch.len()
                ),
                source: None,
            });
        }
        for (&i, vector) in batch.iter().zip(embedded) {
            vectors[i] = Some(vector);
        }
        done += batch.len();
        after_batch(done);
    }
    vectors
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::Embedding {
            reason: "a text was left without a vector".into(),
            source: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_first_and_ties_keep_their_order() {
        assert_eq!(length_order(&[5, 9, 5, 1, 9]), vec![1, 4, 0, 2, 3]);
        assert!(length_order(&[]).is_empty());
    }
}
