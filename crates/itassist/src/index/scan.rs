//! The vector scan: a compact copy of the index's vectors, kept in memory, that finds the
//! nearest chunks of a query in a few milliseconds at 100,000 chunks without trees.
//!
//! Each vector is held twice, in small forms:
//! - its **signs**, one bit per dimension (48 bytes for 384 dimensions), compared with the
//!   query's signs by Hamming distance (XOR and population count): a scan of every vector
//!   that keeps a shortlist;
//! - its **int8 codes**, one byte per dimension with one scale per vector, which re-rank the
//!   shortlist by an integer dot product.
//!
//! The best of those are then re-scored exactly on the stored f32 vectors by the caller
//! ([`super::Index::nearest`]). The copy follows the index as of each search's read
//! transaction: chunks appended since it was made are added to it, and any other change (a
//! removal, a re-index) makes it again. At 384 dimensions it takes 437 bytes per chunk (44 MB
//! at 100,000 chunks), against 1,536 for the f32 vectors it stands for.

use arroy::distances::Cosine;
use heed::RoTxn;

use super::storage::StorageResult;
use super::IndexMeta;

/// Which vectors a [`VectorScan`] holds: the arroy index and dimensions, the chunk ids handed
/// out so far, and the number of chunks, as of the read transaction it was brought up to date
/// in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ScanStamp {
    pub vector_index: u16,
    pub dimensions: usize,
    pub next_chunk_id: u32,
    pub chunks: u64,
}

impl ScanStamp {
    /// The stamp of the index described by `meta`, holding `chunks` chunks.
    pub fn of(meta: &IndexMeta, chunks: u64) -> ScanStamp {
        ScanStamp {
            vector_index: meta.vector_index,
            dimensions: meta.dimensions,
            next_chunk_id: meta.next_chunk_id,
            chunks,
        }
    }
}

/// The compact copy of an index's vectors (see the module documentation).
#[derive(Debug)]
pub(super) struct VectorScan {
    stamp: ScanStamp,
    /// `u64` words of sign bits per vector.
    words: usize,
    ids: Vec<u32>,
    signs: Vec<u64>,
    codes: Vec<i8>,
    scales: Vec<f32>,
}

impl VectorScan {
    /// An empty scan for vectors of `dimensions`.
    fn empty(stamp: ScanStamp) -> VectorScan {
        VectorScan {
            words: stamp.dimensions.div_ceil(64),
            stamp,
            ids: Vec::new(),
            signs: Vec::new(),
            codes: Vec::new(),
            scales: Vec::new(),
        }
    }

    /// Reads every vector of `writer` as of `rtxn`.
    pub fn build(
        rtxn: &RoTxn,
        writer: &arroy::Writer<Cosine>,
        stamp: ScanStamp,
    ) -> StorageResult<VectorScan> {
        let mut scan = VectorScan::empty(stamp);
        let capacity = usize::try_from(stamp.chunks).unwrap_or(0);
        scan.reserve(capacity);
        for item in writer.iter(rtxn)? {
            let (id, vector) = item?;
            scan.push(id, &vector);
        }
        Ok(scan)
    }

    /// Brings the scan up to `stamp` as of `rtxn`: adds the chunks appended since it was made,
    /// and returns `false` (leaving it unusable) when anything else changed, so the caller
    /// makes it again.
    pub fn update(
        &mut self,
        rtxn: &RoTxn,
        writer: &arroy::Writer<Cosine>,
        stamp: ScanStamp,
    ) -> StorageResult<bool> {
        if self.stamp == stamp {
            return Ok(true);
        }
        let appended_only = stamp.vector_index == self.stamp.vector_index
            && stamp.dimensions == self.stamp.dimensions
            && stamp.next_chunk_id >= self.stamp.next_chunk_id
            && stamp.chunks >= self.stamp.chunks;
        if !appended_only {
            return Ok(false);
        }
        for id in self.stamp.next_chunk_id..stamp.next_chunk_id {
            if let Some(vector) = writer.item_vector(rtxn, id)? {
                self.push(id, &vector);
            }
        }
        // Any removal since the scan was made leaves fewer chunks than it now holds.
        self.stamp = stamp;
        Ok(self.ids.len() as u64 == stamp.chunks)
    }

    /// What the scan holds.
    pub fn stamp(&self) -> ScanStamp {
        self.stamp
    }

    fn reserve(&mut self, vectors: usize) {
        self.ids.reserve(vectors);
        self.signs.reserve(vectors * self.words);
        self.codes.reserve(vectors * self.stamp.dimensions);
        self.scales.reserve(vectors);
    }

    fn push(&mut self, id: u32, vector: &[f32]) {
        let dimensions = self.stamp.dimensions;
        let mut padded;
        let vector = if vector.len() == dimensions {
            vector
        } else {
            // Not expected (arroy checks lengths), but a short vector must not shift the rows.
            padded = vector.to_vec();
            padded.resize(dimensions, 0.0);
            &padded
        };
        self.ids.push(id);
        self.signs.extend(sign_words(vector));
        let (codes, scale) = int8_codes(vector);
        self.codes.extend(codes);
        self.scales.push(scale);
    }

    /// The ids of the `keep` vectors nearest to `query` by the int8 codes, taken from the
    /// `shortlist` nearest by sign bits, best first. `query` has the scan's dimensions.
    pub fn candidates(&self, query: &[f32], shortlist: usize, keep: usize) -> Vec<u32> {
        let n = self.ids.len();
        if n == 0 || keep == 0 {
            return Vec::new();
        }
        let rows: Vec<usize> = if shortlist >= n {
            (0..n).collect()
        } else {
            let query_signs: Vec<u64> = sign_words(query).collect();
            let distances = hamming_distances(&self.signs, &query_signs, self.words);
            nearest_rows(&distances, shortlist)
        };
        let (query_codes, _) = int8_codes(query);
        let dimensions = self.stamp.dimensions;
        let mut scored: Vec<(usize, f32)> = rows
            .into_iter()
            .map(|row| {
                let codes = &self.codes[row * dimensions..(row + 1) * dimensions];
                (row, dot_i8(&query_codes, codes) as f32 * self.scales[row])
            })
            .collect();
        let keep = keep.min(scored.len());
        if keep < scored.len() {
            scored.select_nth_unstable_by(keep - 1, |a, b| b.1.total_cmp(&a.1));
            scored.truncate(keep);
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.into_iter().map(|(row, _)| self.ids[row]).collect()
    }
}

/// The sign bits of `vector`, 64 dimensions per word (bit set: the component is positive).
fn sign_words(vector: &[f32]) -> impl Iterator<Item = u64> + '_ {
    vector.chunks(64).map(|chunk| {
        chunk
            .iter()
            .enumerate()
            .fold(0u64, |word, (bit, x)| word | (u64::from(*x > 0.0) << bit))
    })
}

/// `vector` scaled into `-127..=127` by its largest magnitude, and that scale (the factor
/// that turns a code back into the component).
fn int8_codes(vector: &[f32]) -> (Vec<i8>, f32) {
    let largest = vector.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if largest == 0.0 || !largest.is_finite() {
        return (vec![0; vector.len()], 0.0);
    }
    let factor = 127.0 / largest;
    let codes = vector
        .iter()
        .map(|x| (x * factor).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (codes, largest / 127.0)
}

/// Integer dot product of two int8 code rows (exact: at most 127² per dimension).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum()
}

/// The Hamming distance of every row of `signs` (`words` words each) to `query`.
fn hamming_distances(signs: &[u64], query: &[u64], words: usize) -> Vec<u16> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has the `popcnt` instruction, checked just above.
            return unsafe { hamming_distances_popcnt(signs, query, words) };
        }
    }
    hamming_distances_portable(signs, query, words)
}

/// [`hamming_distances`] compiled with the `popcnt` instruction (several times faster than
/// the portable bit counting of the x86-64 baseline).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn hamming_distances_popcnt(signs: &[u64], query: &[u64], words: usize) -> Vec<u16> {
    hamming_distances_portable(signs, query, words)
}

#[inline(always)]
fn hamming_distances_portable(signs: &[u64], query: &[u64], words: usize) -> Vec<u16> {
    signs
        .chunks_exact(words)
        .map(|row| {
            row.iter()
                .zip(query)
                .map(|(a, b)| (a ^ b).count_ones() as u16)
                .sum()
        })
        .collect()
}

/// The rows of the `count` smallest distances (ties broken by row), in no particular order.
fn nearest_rows(distances: &[u16], count: usize) -> Vec<usize> {
    // Distances are small integers: count them, find the distance at which `count` rows are
    // reached, then take the rows below it and as many as needed at it.
    let largest = distances.iter().copied().max().unwrap_or(0) as usize;
    let mut histogram = vec![0usize; largest + 1];
    for d in distances {
        histogram[*d as usize] += 1;
    }
    let mut below = 0;
    let mut cut = largest;
    for (distance, n) in histogram.iter().enumerate() {
        if below + n >= count {
            cut = distance;
            break;
        }
        below += n;
    }
    let mut at_cut = count.saturating_sub(below);
    let mut rows = Vec::with_capacity(count);
    for (row, d) in distances.iter().enumerate() {
        let d = *d as usize;
        if d < cut {
            rows.push(row);
        } else if d == cut && at_cut > 0 {
            rows.push(row);
            at_cut -= 1;
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_words_set_a_bit_per_positive_component() {
        let mut v = vec![-1.0f32; 70];
        v[0] = 0.5;
        v[63] = 0.1;
        v[64] = 2.0;
        let words: Vec<u64> = sign_words(&v).collect();
        assert_eq!(words, vec![1 | (1 << 63), 1]);
    }

    #[test]
    fn int8_codes_keep_the_direction() {
        let v = [0.5f32, -0.25, 0.0, 0.125];
        let (codes, scale) = int8_codes(&v);
        assert_eq!(codes, vec![127, -64, 0, 32]);
        for (c, x) in codes.iter().zip(v) {
            assert!((f32::from(*c) * scale - x).abs() < 0.003);
        }
        assert_eq!(int8_codes(&[0.0, 0.0]), (vec![0, 0], 0.0));
    }

    #[test]
    fn nearest_rows_takes_the_smallest_distances_and_breaks_ties_by_row() {
        let distances = [5u16, 1, 3, 1, 9, 3, 0];
        let mut rows = nearest_rows(&distances, 4);
        rows.sort();
        assert_eq!(rows, vec![1, 2, 3, 6]);
        assert_eq!(nearest_rows(&distances, 7).len(), 7);
    }

    #[test]
    fn hamming_distances_count_differing_bits_per_row() {
        let signs = [0b1011u64, 0, u64::MAX, 0b1000, 0, 0];
        let distances = hamming_distances(&signs, &[0b1001, 0], 2);
        assert_eq!(distances, vec![1, 62 + 1, 2]);
        assert_eq!(
            hamming_distances(&signs, &[0b1001, 0], 2),
            hamming_distances_portable(&signs, &[0b1001, 0], 2)
        );
    }
}
