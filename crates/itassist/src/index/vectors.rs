//! The vectors: arroy's database of chunk vectors (cosine), its trees, and the exact scan
//! used for small collections and while the trees are out of date.

use arroy::distances::Cosine;
use heed::{RoTxn, RwTxn};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::storage::StorageResult;
use super::{sort_scored, Index};
use crate::embed::dot;
use crate::error::{Error, Result};

/// The arroy index (within the `vectors` database) holding the chunk vectors.
const ARROY_INDEX: u16 = 0;

/// Seed of the tree builder, so builds are reproducible.
const TREE_SEED: u64 = 0x17a5_5157;

impl Index {
    /// The arroy writer of the chunk vectors (also used to read them while trees are stale).
    pub(super) fn writer(&self) -> arroy::Writer<Cosine> {
        arroy::Writer::new(self.dbs().vectors, ARROY_INDEX, self.meta.dimensions)
    }

    /// The stored vector of a chunk.
    pub fn vector(&self, chunk_id: u32) -> Result<Option<Vec<f32>>> {
        self.shared
            .read(|rtxn| Ok(self.writer().item_vector(rtxn, chunk_id)?))
    }

    /// Number of vectors (chunks) in the index.
    pub fn vector_count(&self) -> Result<u64> {
        self.shared.read(|rtxn| Ok(self.dbs().chunks.len(rtxn)?))
    }

    /// Brings the trees up to date inside `wtxn` (incrementally, with the index's fixed
    /// number of trees).
    pub(super) fn build_in(&self, wtxn: &mut RwTxn<'_>) -> StorageResult<()> {
        let writer = self.writer();
        if !writer.need_build(wtxn)? {
            return Ok(());
        }
        let mut rng = StdRng::seed_from_u64(TREE_SEED);
        let mut builder = writer.builder(&mut rng);
        builder.n_trees(self.meta.n_trees);
        Ok(builder.build(wtxn)?)
    }

    /// Brings the vector trees up to date with the stored vectors (incrementally).
    pub fn build_trees(&self) -> Result<()> {
        if !self
            .shared
            .read(|rtxn| Ok(self.writer().need_build(rtxn)?))?
        {
            return Ok(());
        }
        self.shared.write(|wtxn| self.build_in(wtxn))
    }

    /// The `k` chunks nearest to `query`, best first, as `(chunk id, cosine similarity)`.
    ///
    /// Collections of at most `exact_below` vectors (and any collection whose trees are not
    /// built yet) are scanned exactly; larger ones are searched through the arroy trees with
    /// the given oversampling, and the candidates are re-scored exactly.
    pub fn nearest(
        &self,
        query: &[f32],
        k: usize,
        exact_below: usize,
        oversampling: usize,
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
            let count = self.dbs().chunks.len(rtxn)?;
            if count == 0 {
                return Ok(Vec::new());
            }
            let built = !self.writer().need_build(rtxn)?;
            if count as usize <= exact_below || !built {
                return self.exact_nearest(rtxn, query, k);
            }
            let reader = arroy::Reader::<Cosine>::open(rtxn, ARROY_INDEX, self.dbs().vectors)?;
            let mut builder = reader.nns(k);
            if let Some(o) = std::num::NonZeroUsize::new(oversampling) {
                builder.oversampling(o);
            }
            let found = builder.by_vector(rtxn, query)?;
            let mut scored = Vec::with_capacity(found.len());
            for (id, _) in found {
                if let Some(v) = reader.item_vector(rtxn, id)? {
                    scored.push((id, dot(query, &v)));
                }
            }
            sort_scored(&mut scored);
            scored.truncate(k);
            Ok(scored)
        })
    }

    /// Exact nearest neighbours by scanning every vector.
    pub fn exact_nearest_all(&self, query: &[f32], k: usize) -> Result<Vec<(u32, f32)>> {
        self.shared.read(|rtxn| self.exact_nearest(rtxn, query, k))
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
