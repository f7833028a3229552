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
            let (distances, histogram) = hamming_distances(&self.signs, &query_signs, self.words);
            nearest_rows(&distances, &histogram, shortlist)
        };
        let (query_codes, _) = int8_codes(query);
        let mut scored: Vec<(usize, f32)> = rows.into_iter().map(|row| (row, 0.0)).collect();
        int8_scores(&self.codes, &self.scales, &query_codes, &mut scored);
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

/// Scores each `(row, _)` of `scored` by the integer dot product of its int8 codes with
/// `query` times its scale (the rows of `codes` have `query.len()` codes each).
fn int8_scores(codes: &[i8], scales: &[f32], query: &[i8], scored: &mut [(usize, f32)]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { int8_scores_avx2(codes, scales, query, scored) };
        }
    }
    int8_scores_portable(codes, scales, query, scored);
}

/// [`int8_scores`] compiled for AVX2, which widens and multiplies 16 codes per instruction
/// (the x86-64 baseline has 4).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn int8_scores_avx2(codes: &[i8], scales: &[f32], query: &[i8], scored: &mut [(usize, f32)]) {
    int8_scores_portable(codes, scales, query, scored);
}

// Inlined into the AVX2 copy, so that its loops are compiled for that instruction set: no
// iterator that collects (those are compiled once, for the baseline).
#[inline(always)]
fn int8_scores_portable(codes: &[i8], scales: &[f32], query: &[i8], scored: &mut [(usize, f32)]) {
    let dimensions = query.len();
    for (row, score) in scored.iter_mut() {
        let row_codes = &codes[*row * dimensions..(*row + 1) * dimensions];
        let mut dot = 0i32;
        for (x, y) in query.iter().zip(row_codes) {
            dot += i32::from(*x) * i32::from(*y);
        }
        *score = dot as f32 * scales[*row];
    }
}

/// Rows below which the sign scan stays on the calling thread: starting a thread costs tens
/// of microseconds, about what 30,000 rows take.
const ROWS_PER_THREAD: usize = 32_768;

/// The most threads the sign scan uses.
fn scan_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4)
    })
}

/// The Hamming distance of every row of `signs` (`words` words each) to `query`, and how
/// many rows lie at each distance (`histogram[d]`, for `d` up to `words * 64`). Large scans
/// are split over the CPU's cores.
fn hamming_distances(signs: &[u64], query: &[u64], words: usize) -> (Vec<u16>, Vec<u32>) {
    let bins = words * 64 + 1;
    if words == 0 || query.len() != words {
        return (
            vec![0; signs.len().checked_div(words).unwrap_or(0)],
            vec![0; bins],
        );
    }
    let rows = signs.len() / words;
    let mut distances = vec![0u16; rows];
    let threads = (rows / ROWS_PER_THREAD).clamp(1, scan_threads());
    if threads == 1 {
        let mut histogram = vec![0u32; bins];
        hamming_block(signs, query, words, &mut distances, &mut histogram);
        return (distances, histogram);
    }
    let per_thread = rows.div_ceil(threads);
    let mut histograms = vec![vec![0u32; bins]; threads];
    std::thread::scope(|scope| {
        let mut parts = distances
            .chunks_mut(per_thread)
            .zip(signs.chunks(per_thread * words))
            .zip(histograms.iter_mut());
        // The calling thread takes the first part itself.
        let first = parts.next();
        for ((out, block), histogram) in parts {
            scope.spawn(move || hamming_block(block, query, words, out, histogram));
        }
        if let Some(((out, block), histogram)) = first {
            hamming_block(block, query, words, out, histogram);
        }
    });
    let mut histogram = vec![0u32; bins];
    for part in &histograms {
        for (total, n) in histogram.iter_mut().zip(part) {
            *total += n;
        }
    }
    (distances, histogram)
}

/// [`hamming_distances`] of one block of rows on the current thread, adding to `histogram`.
fn hamming_block(
    signs: &[u64],
    query: &[u64],
    words: usize,
    out: &mut [u16],
    histogram: &mut [u32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has the `popcnt` instruction, checked just above.
            unsafe { hamming_block_popcnt(signs, query, words, out, histogram) };
            return;
        }
    }
    hamming_block_portable(signs, query, words, out, histogram);
}

/// [`hamming_block`] compiled with the `popcnt` instruction (several times faster than the
/// portable bit counting of the x86-64 baseline).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn hamming_block_popcnt(
    signs: &[u64],
    query: &[u64],
    words: usize,
    out: &mut [u16],
    histogram: &mut [u32],
) {
    hamming_block_portable(signs, query, words, out, histogram);
}

// Inlined into the `popcnt` copy; plain loops, for the reason given at `int8_scores_portable`.
// The common widths (384, 768 and 1,024 dimensions) pass their width as a constant, so that
// the inlined loop over a row's words is unrolled for it.
#[inline(always)]
fn hamming_block_portable(
    signs: &[u64],
    query: &[u64],
    words: usize,
    out: &mut [u16],
    histogram: &mut [u32],
) {
    match words {
        6 => hamming_rows(signs, query, 6, out),
        12 => hamming_rows(signs, query, 12, out),
        16 => hamming_rows(signs, query, 16, out),
        _ => hamming_rows(signs, query, words, out),
    }
    for distance in out.iter() {
        histogram[usize::from(*distance)] += 1;
    }
}

#[inline(always)]
fn hamming_rows(signs: &[u64], query: &[u64], words: usize, out: &mut [u16]) {
    let query = &query[..words];
    for (row, distance) in signs.chunks_exact(words).zip(out.iter_mut()) {
        let mut bits = 0u32;
        for i in 0..words {
            bits += (row[i] ^ query[i]).count_ones();
        }
        *distance = bits as u16;
    }
}

/// The rows of the `count` smallest `distances` (ties broken by row), in no particular
/// order; `histogram` counts the rows at each distance.
fn nearest_rows(distances: &[u16], histogram: &[u32], count: usize) -> Vec<usize> {
    // Find the distance at which `count` rows are reached, then take the rows below it and
    // as many as needed at it.
    let mut below = 0usize;
    let mut cut = histogram.len();
    for (distance, n) in histogram.iter().enumerate() {
        let n = *n as usize;
        if below + n >= count {
            cut = distance;
            break;
        }
        below += n;
    }
    let mut at_cut = count.saturating_sub(below);
    let mut rows = Vec::with_capacity(count);
    for (row, d) in distances.iter().enumerate() {
        let d = usize::from(*d);
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

    fn histogram_of(distances: &[u16], bins: usize) -> Vec<u32> {
        let mut histogram = vec![0u32; bins];
        for d in distances {
            histogram[usize::from(*d)] += 1;
        }
        histogram
    }

    #[test]
    fn nearest_rows_takes_the_smallest_distances_and_breaks_ties_by_row() {
        let distances = [5u16, 1, 3, 1, 9, 3, 0];
        let histogram = histogram_of(&distances, 10);
        let mut rows = nearest_rows(&distances, &histogram, 4);
        rows.sort();
        assert_eq!(rows, vec![1, 2, 3, 6]);
        assert_eq!(nearest_rows(&distances, &histogram, 7).len(), 7);
    }

    #[test]
    fn hamming_distances_count_differing_bits_per_row() {
        let signs = [0b1011u64, 0, u64::MAX, 0b1000, 0, 0];
        let (distances, histogram) = hamming_distances(&signs, &[0b1001, 0], 2);
        assert_eq!(distances, vec![1, 62 + 1, 2]);
        assert_eq!(histogram, histogram_of(&distances, 129));
        let mut portable = vec![0u16; 3];
        let mut portable_histogram = vec![0u32; 129];
        hamming_block_portable(
            &signs,
            &[0b1001, 0],
            2,
            &mut portable,
            &mut portable_histogram,
        );
        assert_eq!(distances, portable);
        assert_eq!(histogram, portable_histogram);
    }

    /// Deterministic pseudo-random words (an LCG), for scans large enough to be split.
    fn words_from(seed: u64, n: usize) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x
            })
            .collect()
    }

    #[test]
    fn a_scan_split_over_threads_counts_what_one_pass_counts() {
        // 384 dimensions (the unrolled width) and 100 (the general loop), over enough rows
        // for several threads.
        for words in [6usize, 2] {
            let rows = 3 * ROWS_PER_THREAD + 17;
            let signs = words_from(7, rows * words);
            let query = words_from(99, words);
            let (distances, histogram) = hamming_distances(&signs, &query, words);
            let expected: Vec<u16> = signs
                .chunks_exact(words)
                .map(|row| {
                    row.iter()
                        .zip(&query)
                        .map(|(a, b)| (a ^ b).count_ones() as u16)
                        .sum()
                })
                .collect();
            assert_eq!(distances, expected);
            assert_eq!(histogram, histogram_of(&expected, words * 64 + 1));
            assert_eq!(histogram.iter().map(|n| *n as usize).sum::<usize>(), rows);
        }
    }

    #[test]
    fn int8_scores_are_scaled_dot_products_of_the_codes() {
        let dimensions = 384;
        let codes: Vec<i8> = words_from(3, 4 * dimensions)
            .into_iter()
            .map(|w| (w >> 56) as i8)
            .collect();
        let query: Vec<i8> = words_from(5, dimensions)
            .into_iter()
            .map(|w| (w >> 56) as i8)
            .collect();
        let scales = [0.5f32, 1.0, 2.0, 0.25];
        let mut scored = vec![(2usize, 0.0f32), (0, 0.0), (3, 0.0)];
        int8_scores(&codes, &scales, &query, &mut scored);
        for (row, score) in scored {
            let dot: i32 = codes[row * dimensions..(row + 1) * dimensions]
                .iter()
                .zip(&query)
                .map(|(a, b)| i32::from(*a) * i32::from(*b))
                .sum();
            assert_eq!(score, dot as f32 * scales[row]);
        }
    }
}
