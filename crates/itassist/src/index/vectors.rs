//! The vectors: arroy's database of chunk vectors (cosine), its trees, and the exact scan
//! used for small collections and while the trees are out of date.

use arroy::distances::Cosine;
use heed::{RoTxn, RwTxn};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::scan::{ScanStamp, VectorScan};
use super::storage::StorageResult;
use super::{sort_scored, Index, IndexMeta, VectorsDb};
use crate::embed::dot;
use crate::error::{Error, Result};

/// How [`Index::nearest`] searches the vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorSearch {
    /// Collections of at most this many chunks are searched by the in-memory scan; larger
    /// ones through the arroy trees (once built).
    pub scan_below: usize,
    /// arroy search oversampling factor (how many more tree nodes to visit than `k`).
    pub oversampling: usize,
    /// Vectors the scan keeps by sign bits (Hamming distance) before re-ranking them by their
    /// int8 codes (at least `k`, and at least 1% of the collection).
    pub shortlist: usize,
    /// Of the shortlist, `k` times this many are re-scored exactly ...
    pub rescore_per_result: usize,
    /// ... and at least this many.
    pub rescore_min: usize,
}

impl VectorSearch {
    /// The search the retrieval settings ask for.
    pub fn from_config(config: &crate::config::RetrievalConfig) -> VectorSearch {
        VectorSearch {
            scan_below: config.exact_search_below,
            oversampling: config.oversampling,
            shortlist: config.scan_shortlist,
            rescore_per_result: config.scan_rescore_per_result,
            rescore_min: config.scan_rescore_min,
        }
    }
}

/// Seed of the tree builder, so builds are reproducible.
const TREE_SEED: u64 = 0x17a5_5157;

/// The arroy writer of the vectors recorded by `meta` (its arroy index and dimensions).
pub(super) fn writer_of(vectors: VectorsDb, meta: &IndexMeta) -> arroy::Writer<Cosine> {
    arroy::Writer::new(vectors, meta.vector_index, meta.dimensions)
}

/// Brings the trees of `writer` up to date inside `wtxn` (incrementally, with `n_trees`).
pub(super) fn build_writer(
    writer: &arroy::Writer<Cosine>,
    wtxn: &mut RwTxn<'_>,
    n_trees: usize,
) -> StorageResult<()> {
    if !writer.need_build(wtxn)? {
        return Ok(());
    }
    let mut rng = StdRng::seed_from_u64(TREE_SEED);
    let mut builder = writer.builder(&mut rng);
    builder.n_trees(n_trees);
    Ok(builder.build(wtxn)?)
}

impl Index {
    /// The arroy writer of this handle's vectors (also used to read them while trees are
    /// stale). Callers check [`Index::check_active`] first: after a re-index another arroy
    /// index is the active one.
    pub(super) fn writer(&self) -> arroy::Writer<Cosine> {
        writer_of(self.dbs().vectors, &self.meta)
    }

    /// Fails with `embedding_model_mismatch` when the index was re-indexed (another model,
    /// or another arroy index) after this handle was opened: its vectors and query
    /// embeddings would no longer match. Reopen the index (a new `Assistant`) to go on.
    pub(super) fn check_active(&self, active: &IndexMeta) -> StorageResult<()> {
        if active.vector_index == self.meta.vector_index
            && active.embedding_model == self.meta.embedding_model
            && active.dimensions == self.meta.dimensions
        {
            return Ok(());
        }
        Err(Error::EmbeddingModelMismatch {
            data_dir: self.shared.data_dir.clone(),
            index_model: active.embedding_model.clone(),
            index_dimensions: active.dimensions,
            requested_model: self.meta.embedding_model.clone(),
            requested_dimensions: self.meta.dimensions,
        }
        .into())
    }

    /// [`Index::check_active`] against the metadata as of `rtxn`.
    pub(super) fn check_active_in(&self, rtxn: &RoTxn) -> StorageResult<()> {
        let active = self.shared.meta_in(rtxn)?;
        self.check_active(&active)
    }

    /// The stored vector of a chunk.
    pub fn vector(&self, chunk_id: u32) -> Result<Option<Vec<f32>>> {
        self.shared.read(|rtxn| {
            self.check_active_in(rtxn)?;
            Ok(self.writer().item_vector(rtxn, chunk_id)?)
        })
    }

    /// Number of vectors (chunks) in the index.
    pub fn vector_count(&self) -> Result<u64> {
        self.shared.read(|rtxn| Ok(self.dbs().chunks.len(rtxn)?))
    }

    /// Whether the collection is large enough, as of `rtxn`, to be searched through trees
    /// (smaller ones are searched by the vector scan and need none).
    pub(super) fn wants_trees(&self, rtxn: &RoTxn) -> StorageResult<bool> {
        Ok(self.dbs().chunks.len(rtxn)? > self.trees_above as u64)
    }

    /// Brings the trees up to date inside `wtxn` (incrementally, with the index's fixed
    /// number of trees), when the collection is large enough to want them.
    pub(super) fn build_in(&self, wtxn: &mut RwTxn<'_>) -> StorageResult<()> {
        self.check_active_in(wtxn)?;
        if !self.wants_trees(wtxn)? {
            return Ok(());
        }
        build_writer(&self.writer(), wtxn, self.meta.n_trees)
    }

    /// Brings the vector trees up to date with the stored vectors (incrementally), when the
    /// collection is large enough to be searched through them.
    pub fn build_trees(&self) -> Result<()> {
        if !self.shared.read(|rtxn| {
            self.check_active_in(rtxn)?;
            Ok(self.wants_trees(rtxn)? && self.writer().need_build(rtxn)?)
        })? {
            return Ok(());
        }
        self.shared.write(|wtxn| self.build_in(wtxn))
    }

    /// The `k` chunks nearest to `query`, best first, as `(chunk id, cosine similarity)`.
    ///
    /// Collections of at most `search.scan_below` vectors (and any collection whose trees are
    /// not built yet) are searched by the in-memory vector scan (see `scan`); larger ones
    /// through the arroy trees with `search.oversampling`. Either way the candidates are
    /// re-scored exactly on the stored vectors.
    pub fn nearest(
        &self,
        query: &[f32],
        k: usize,
        search: &VectorSearch,
    ) -> Result<Vec<(u32, f32)>> {
        if query.len() != self.meta.dimensions {
            return Err(Error::InvalidInput(format!(
                "the query vector has {} dimensions, the index holds {}",
                query.len(),
                self.meta.dimensions
            )));
        }
        if k == 0 {
            return Ok(Vec::new());
        }
        self.shared.read(|rtxn| {
            self.check_active_in(rtxn)?;
            let count = self.dbs().chunks.len(rtxn)?;
            if count == 0 {
                return Ok(Vec::new());
            }
            let candidates =
                if count as usize <= search.scan_below || self.writer().need_build(rtxn)? {
                    self.scan_candidates(rtxn, query, k, count, search)?
                } else {
                    let reader = arroy::Reader::<Cosine>::open(
                        rtxn,
                        self.meta.vector_index,
                        self.dbs().vectors,
                    )?;
                    let mut builder = reader.nns(k);
                    if let Some(o) = std::num::NonZeroUsize::new(search.oversampling) {
                        builder.oversampling(o);
                    }
                    builder
                        .by_vector(rtxn, query)?
                        .into_iter()
                        .map(|(id, _)| id)
                        .collect()
                };
            self.rescore(rtxn, query, &candidates, k)
        })
    }

    /// The candidates of the in-memory scan for `query`, bringing the scan up to date with
    /// `rtxn` first (or making it, on the first search).
    fn scan_candidates(
        &self,
        rtxn: &RoTxn,
        query: &[f32],
        k: usize,
        count: u64,
        search: &VectorSearch,
    ) -> StorageResult<Vec<u32>> {
        let stamp = ScanStamp::of(&self.shared.meta_in(rtxn)?, count);
        // The shortlist grows with the collection (1% of it), so that recall holds as it grows.
        let shortlist = search.shortlist.max(k).max((count / 100) as usize);
        let keep = k
            .saturating_mul(search.rescore_per_result)
            .max(search.rescore_min);
        {
            let held = self.shared.scan.read().unwrap_or_else(|p| p.into_inner());
            if let Some(scan) = held.as_ref().filter(|s| s.stamp() == stamp) {
                return Ok(scan.candidates(query, shortlist, keep));
            }
        }
        let mut held = self.shared.scan.write().unwrap_or_else(|p| p.into_inner());
        let writer = self.writer();
        let current = match held.as_mut() {
            Some(scan) => scan.update(rtxn, &writer, stamp)?,
            None => false,
        };
        if !current {
            *held = Some(VectorScan::build(rtxn, &writer, stamp)?);
        }
        Ok(held
            .as_ref()
            .map(|scan| scan.candidates(query, shortlist, keep))
            .unwrap_or_default())
    }

    /// The `k` best of `candidates` by the exact similarity of their stored vectors to
    /// `query`; candidates without a vector as of `rtxn` are dropped.
    fn rescore(
        &self,
        rtxn: &RoTxn,
        query: &[f32],
        candidates: &[u32],
        k: usize,
    ) -> StorageResult<Vec<(u32, f32)>> {
        let writer = self.writer();
        // In id order, so that neighbouring lookups share the B-tree pages they walk.
        let mut ids = candidates.to_vec();
        ids.sort_unstable();
        let mut scored = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(vector) = writer.item_vector(rtxn, *id)? {
                scored.push((*id, dot(query, &vector)));
            }
        }
        sort_scored(&mut scored);
        scored.truncate(k);
        Ok(scored)
    }

    /// Exact nearest neighbours by scanning every vector.
    pub fn exact_nearest_all(&self, query: &[f32], k: usize) -> Result<Vec<(u32, f32)>> {
        self.shared.read(|rtxn| {
            self.check_active_in(rtxn)?;
            self.exact_nearest(rtxn, query, k)
        })
    }

    fn exact_nearest(
        &self,
        rtxn: &RoTxn,
        query: &[f32],
        k: usize,
    ) -> StorageResult<Vec<(u32, f32)>> {
        let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
        let mut worst = f32::NEG_INFINITY;
        for item in self.writer().iter(rtxn)? {
            let (id, vector) = item?;
            let score = dot(query, &vector);
            if best.len() < k || score > worst {
                best.push((id, score));
                if best.len() > k {
                    sort_scored(&mut best);
                    best.truncate(k);
                }
                worst = best.iter().map(|(_, s)| *s).fold(f32::INFINITY, f32::min);
            }
        }
        sort_scored(&mut best);
        Ok(best)
    }
}
