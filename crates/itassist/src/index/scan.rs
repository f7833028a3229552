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
            nearest_by_signs(&self.signs, &query_signs, self.words, shortlist)
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
    for i in 0..scored.len() {
        // The rows lie far apart in a large array: ask for a later row's codes while this one
        // is scored, so that its cache misses overlap.
        if let Some((ahead, _)) = scored.get(i + PREFETCH_ROWS_AHEAD) {
            prefetch(&codes[*ahead * dimensions..(*ahead + 1) * dimensions]);
        }
        let (row, score) = &mut scored[i];
        let row_codes = &codes[*row * dimensions..(*row + 1) * dimensions];
        let mut dot = 0i32;
        for (x, y) in query.iter().zip(row_codes) {
            dot += i32::from(*x) * i32::from(*y);
        }
        *score = dot as f32 * scales[*row];
    }
}

/// How many rows ahead [`int8_scores`] prefetches.
const PREFETCH_ROWS_AHEAD: usize = 4;

/// Asks the CPU to bring `bytes` into its caches (a hint; nothing on other architectures).
#[inline(always)]
fn prefetch(bytes: &[i8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: a prefetch is a hint that never faults, here of memory `bytes` borrows.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Rows each thread of the sign scan must have, or the scan stays on the calling thread.
///
/// A thread pays off only for large collections: starting one costs about as much as
/// scanning tens of thousands of rows, and the cores share the memory bandwidth the scan of
/// 48-byte rows is near. On the 2-core reference machine the one-pass search at 132,192
/// chunks on one thread took half the time of the earlier two-pass scan split over both cores
/// (`bash scripts/bench.sh scale` before and after; docs/benchmarks.md). 262,144 rows take
/// about 1 ms to scan on one core.
const ROWS_PER_THREAD: usize = 262_144;

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

/// Rows whose distances estimate where a shortlist ends (see [`sampled_cut`]).
const SAMPLE_ROWS: usize = 4_096;

/// The rows of the `count` smallest Hamming distances from `signs` (`words` words per row)
/// to `query`, ties broken by row, in row order.
///
/// One pass over the rows keeps those within a distance estimated beforehand from a sample
/// ([`sampled_cut`]), so no distance is stored per row; should the estimate keep fewer than
/// `count` rows (an unlikely draw), a second pass keeps every row.
fn nearest_by_signs(signs: &[u64], query: &[u64], words: usize, count: usize) -> Vec<usize> {
    let rows = signs.len().checked_div(words).unwrap_or(0);
    if count == 0 || rows == 0 || query.len() != words {
        return (0..count.min(rows)).collect();
    }
    let mut found = rows_within(signs, query, words, sampled_cut(signs, query, words, count));
    if found.len() < count {
        found = rows_within(signs, query, words, u16::MAX);
    }
    if found.len() > count {
        // `(distance, row)` pairs order by distance, then row.
        found.select_nth_unstable(count - 1);
        found.truncate(count);
    }
    let mut nearest: Vec<usize> = found.into_iter().map(|(_, row)| row as usize).collect();
    nearest.sort_unstable();
    nearest
}

/// A distance within which about twice `count` of the rows of `signs` lie, estimated from
/// [`SAMPLE_ROWS`] rows spread evenly over them (all of them, in a smaller collection; then
/// the estimate is exact). The margin makes a cut that keeps fewer than `count` rows
/// improbable: at 1% of the rows, the sample would have to hold under half its expected
/// share below the true cut, several standard deviations away.
fn sampled_cut(signs: &[u64], query: &[u64], words: usize, count: usize) -> u16 {
    let rows = signs.len() / words;
    let step = (rows / SAMPLE_ROWS).max(1);
    let mut sample: Vec<u16> = signs
        .chunks_exact(words)
        .step_by(step)
        .map(|row| hamming(row, query))
        .collect();
    let wanted = (count * sample.len()).div_ceil(rows) * 2 + 16;
    if wanted >= sample.len() {
        return u16::MAX;
    }
    *sample.select_nth_unstable(wanted).1
}

/// The Hamming distance between two rows of sign words.
fn hamming(row: &[u64], query: &[u64]) -> u16 {
    let bits: u32 = row
        .iter()
        .zip(query)
        .map(|(a, b)| (a ^ b).count_ones())
        .sum();
    u16::try_from(bits).unwrap_or(u16::MAX)
}

/// What a pass over rows of sign words keeps: the rows within Hamming distance `cut` of
/// `query` (`words` words per row).
#[derive(Debug, Clone, Copy)]
struct Within<'a> {
    query: &'a [u64],
    words: usize,
    cut: u16,
}

/// The `(distance, row)` of every row of `signs` within Hamming distance `cut` of `query`,
/// by row. Large scans are split over the CPU's cores.
fn rows_within(signs: &[u64], query: &[u64], words: usize, cut: u16) -> Vec<(u16, u32)> {
    let within = Within { query, words, cut };
    let rows = signs.len() / words;
    let threads = (rows / ROWS_PER_THREAD).clamp(1, scan_threads());
    let mut found = Vec::new();
    if threads == 1 {
        within_block(signs, within, 0, &mut found);
        return found;
    }
    let per_thread = rows.div_ceil(threads);
    let mut parts: Vec<Vec<(u16, u32)>> = vec![Vec::new(); threads];
    std::thread::scope(|scope| {
        let mut blocks = signs
            .chunks(per_thread * words)
            .zip(parts.iter_mut())
            .enumerate()
            .map(|(i, (block, part))| (block, part, (i * per_thread) as u32));
        // The calling thread takes the first block itself.
        let first = blocks.next();
        for (block, part, first_row) in blocks {
            scope.spawn(move || within_block(block, within, first_row, part));
        }
        if let Some((block, part, first_row)) = first {
            within_block(block, within, first_row, part);
        }
    });
    found.reserve(parts.iter().map(Vec::len).sum());
    for part in parts {
        found.extend(part);
    }
    found
}

/// [`rows_within`] for one block of rows on the current thread (its first row numbered
/// `first_row`), appending to `found`.
fn within_block(signs: &[u64], within: Within, first_row: u32, found: &mut Vec<(u16, u32)>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has the `popcnt` instruction, checked just above.
            unsafe { within_block_popcnt(signs, within, first_row, found) };
            return;
        }
    }
    within_block_portable(signs, within, first_row, found);
}

/// [`within_block`] compiled with the `popcnt` instruction (several times faster than the
/// portable bit counting of the x86-64 baseline).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn within_block_popcnt(signs: &[u64], within: Within, first_row: u32, found: &mut Vec<(u16, u32)>) {
    within_block_portable(signs, within, first_row, found);
}

// Inlined into the `popcnt` copy; plain loops, for the reason given at `int8_scores_portable`.
// The common widths (384, 768 and 1,024 dimensions) pass their width as a constant, so that
// the inlined loop over a row's words is unrolled for it.
#[inline(always)]
fn within_block_portable(
    signs: &[u64],
    within: Within,
    first_row: u32,
    found: &mut Vec<(u16, u32)>,
) {
    let Within { query, words, cut } = within;
    match words {
        6 => within_rows(signs, query, 6, cut, first_row, found),
        12 => within_rows(signs, query, 12, cut, first_row, found),
        16 => within_rows(signs, query, 16, cut, first_row, found),
        _ => within_rows(signs, query, words, cut, first_row, found),
    }
}

#[inline(always)]
fn within_rows(
    signs: &[u64],
    query: &[u64],
    words: usize,
    cut: u16,
    first_row: u32,
    found: &mut Vec<(u16, u32)>,
) {
    let query = &query[..words];
    let cut = u32::from(cut);
    for (row, signs) in (first_row..).zip(signs.chunks_exact(words)) {
        let mut bits = 0u32;
        for i in 0..words {
            bits += (signs[i] ^ query[i]).count_ones();
        }
        if bits <= cut {
            found.push((bits as u16, row));
        }
    }
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

    /// Deterministic pseudo-random words (an LCG).
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

    /// The rows of the `count` smallest distances by a full sort (ties by row), in row order.
    fn nearest_by_sorting(signs: &[u64], query: &[u64], words: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<(u32, usize)> = signs
            .chunks_exact(words)
            .enumerate()
            .map(|(row, w)| {
                let d = w.iter().zip(query).map(|(a, b)| (a ^ b).count_ones()).sum();
                (d, row)
            })
            .collect();
        all.sort_unstable();
        let mut rows: Vec<usize> = all.into_iter().take(count).map(|(_, row)| row).collect();
        rows.sort_unstable();
        rows
    }

    #[test]
    fn nearest_by_signs_takes_the_smallest_distances_and_breaks_ties_by_row() {
        // One word per row: the distance to a zero query is the row's number of set bits.
        let signs = [0b11111u64, 0b1, 0b111, 0b10, 0b1_1111_1111, 0b1011, 0];
        assert_eq!(nearest_by_signs(&signs, &[0], 1, 4), vec![1, 2, 3, 6]);
        assert_eq!(nearest_by_signs(&signs, &[0], 1, 1), vec![6]);
        assert_eq!(
            nearest_by_signs(&signs, &[0], 1, 7),
            (0..7).collect::<Vec<_>>()
        );
        assert_eq!(nearest_by_signs(&signs, &[0], 1, 0), Vec::<usize>::new());
    }

    #[test]
    fn nearest_by_signs_finds_what_a_full_sort_finds() {
        // 384 dimensions (the unrolled width) and 128 (the general loop); 50,000 rows are
        // sampled one in twelve, 3,000 rows all sampled.
        for (words, rows) in [(6usize, 50_000usize), (2, 50_000), (6, 3_000)] {
            let mut signs = words_from(7, rows * words);
            // Copies of the first row make ties near the query's distances.
            for row in 1..rows / 100 {
                let (head, tail) = signs.split_at_mut(row * 97 % rows * words);
                if let Some(copy) = tail.get_mut(..words).filter(|_| !head.is_empty()) {
                    copy.copy_from_slice(&head[..words]);
                }
            }
            let query = words_from(99, words);
            for count in [1, 10, 500, rows / 100, rows / 3, rows - 1] {
                assert_eq!(
                    nearest_by_signs(&signs, &query, words, count),
                    nearest_by_sorting(&signs, &query, words, count),
                    "{words} words, {rows} rows, {count} nearest"
                );
            }
        }
    }

    #[test]
    fn a_cut_that_keeps_too_few_rows_is_followed_by_a_pass_over_every_row() {
        // 40,960 rows are sampled one in ten: the sampled rows (every tenth) equal the query,
        // every other row differs in all its bits, so the sampled cut (distance 0) keeps 4,096
        // rows, fewer than the 5,000 asked for.
        let words = 1;
        let query = [0x0123_4567_89ab_cdefu64];
        let signs: Vec<u64> = (0..40_960)
            .map(|row| if row % 10 == 0 { query[0] } else { !query[0] })
            .collect();
        assert_eq!(sampled_cut(&signs, &query, words, 5_000), 0);
        let nearest = nearest_by_signs(&signs, &query, words, 5_000);
        assert_eq!(nearest, nearest_by_sorting(&signs, &query, words, 5_000));
        assert_eq!(nearest.iter().filter(|row| *row % 10 == 0).count(), 4_096);
    }

    #[test]
    fn a_scan_split_over_threads_keeps_what_one_pass_keeps() {
        let words = 6;
        let rows = 2 * ROWS_PER_THREAD + 17;
        let signs = words_from(11, rows * words);
        let query = words_from(5, words);
        let cut = 170;
        let mut one_pass = Vec::new();
        let within = Within {
            query: &query,
            words,
            cut,
        };
        within_block_portable(&signs, within, 0, &mut one_pass);
        assert!(one_pass.len() > 100, "the cut keeps some rows");
        assert_eq!(rows_within(&signs, &query, words, cut), one_pass);
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
