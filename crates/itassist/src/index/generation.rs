//! Vector generations: a re-index writes every chunk's new vector into the arroy index that is
//! not active (`IndexMeta::vector_index` names the active one), builds its trees, and then
//! flips the metadata (model, dimensions, active arroy index) in one write transaction that
//! also clears the old vectors. Until the flip every reader keeps using the old vectors; a
//! crash before it leaves the old index as it was (the next re-index clears the half-written
//! one first).

use std::path::Path;

use arroy::distances::Cosine;

use super::vectors::build_writer;
use super::{registry, Index, IndexMeta, META_KEY};
use crate::embed::Embedder;
use crate::error::{Error, Result};

/// A generation of vectors being written by a re-index: another arroy index in the same
/// environment, invisible to searches until [`Generation::activate`].
#[derive(Debug)]
pub struct Generation {
    index: Index,
    /// The arroy index written.
    arroy_index: u16,
    /// The arroy index active when the generation began.
    previous: u16,
    model: String,
    dimensions: usize,
}

impl Index {
    /// Opens an existing index whatever embedding model it records (a re-index is how its
    /// model changes); its trees are built only above `trees_above` chunks. Fails with
    /// `invalid_input` when `data_dir` holds no index.
    pub fn open_existing(data_dir: &Path, map_size: usize, trees_above: usize) -> Result<Index> {
        if !data_dir.join("data.mdb").exists() {
            return Err(Error::InvalidInput(format!(
                "there is no index in {} to re-index: ingest documents first (`itassist ingest PATH`)",
                data_dir.display()
            )));
        }
        let canonical = data_dir
            .canonicalize()
            .map_err(|e| Error::io(data_dir, e))?;
        let shared = registry::shared(&canonical, map_size)?;
        let meta = shared.read(|rtxn| shared.meta_in(rtxn))?;
        Ok(Index {
            shared,
            meta,
            trees_above,
        })
    }

    /// Starts a new generation of vectors of `model` (`dimensions` long) in the arroy index
    /// that is not active, clearing whatever an interrupted re-index left there.
    pub fn begin_generation(&self, model: &str, dimensions: usize) -> Result<Generation> {
        if dimensions == 0 {
            return Err(Error::InvalidInput(
                "the new embedding model gives empty vectors".into(),
            ));
        }
        let previous = self.shared.read(|rtxn| {
            let meta = self.shared.meta_in(rtxn)?;
            Ok(meta.vector_index)
        })?;
        let arroy_index = if previous == 0 { 1 } else { 0 };
        let generation = Generation {
            index: self.clone(),
            arroy_index,
            previous,
            model: model.to_string(),
            dimensions,
        };
        self.shared
            .write(|wtxn| Ok(generation.writer().clear(wtxn)?))?;
        Ok(generation)
    }
}

impl Generation {
    fn writer(&self) -> arroy::Writer<Cosine> {
        arroy::Writer::new(self.index.dbs().vectors, self.arroy_index, self.dimensions)
    }

    /// The model the generation's vectors come from.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Number of chunks in the index (what the generation must cover).
    pub fn chunk_count(&self) -> Result<u64> {
        self.index
            .shared
            .read(|rtxn| Ok(self.index.dbs().chunks.len(rtxn)?))
    }

    /// Up to `limit` chunks (id and text), by id after `after`, whose vectors this generation
    /// does not have yet.
    pub fn missing_chunks(&self, after: Option<u32>, limit: usize) -> Result<Vec<(u32, String)>> {
        self.index.shared.read(|rtxn| {
            let writer = self.writer();
            let start = after.map_or(0, |a| a.saturating_add(1));
            let mut out = Vec::new();
            if after == Some(u32::MAX) {
                return Ok(out);
            }
            for entry in self.index.dbs().chunks.range(rtxn, &(start..))? {
                let (id, chunk) = entry?;
                if !writer.contains_item(rtxn, id)? {
                    out.push((id, chunk.text));
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    /// Writes vectors (by chunk id) into the generation, in one transaction. Chunks removed
    /// meanwhile are passed over.
    pub fn add_vectors(&self, items: &[(u32, Vec<f32>)]) -> Result<()> {
        if let Some((_, bad)) = items.iter().find(|(_, v)| v.len() != self.dimensions) {
            return Err(Error::InvalidInput(format!(
                "a vector has {} dimensions, the new model gives {}",
                bad.len(),
                self.dimensions
            )));
        }
        self.index.shared.write(|wtxn| {
            let writer = self.writer();
            let chunks = self.index.dbs().chunks;
            for (id, vector) in items {
                if chunks.get(wtxn, id)?.is_some() {
                    super::documents::put_vector(&writer, wtxn, *id, vector)?;
                }
            }
            Ok(())
        })
    }

    /// Builds the generation's trees (searches go on meanwhile; writers wait).
    pub fn build(&self, n_trees: usize) -> Result<()> {
        self.index.shared.write(|wtxn| {
            if self.index.wants_trees(wtxn)? {
                build_writer(&self.writer(), wtxn, n_trees)?;
            }
            Ok(())
        })
    }

    /// Makes the generation the active one, in one write transaction: vectors of chunks
    /// written since (embedded here with `embedder`) are added, vectors of chunks removed since
    /// are dropped, the trees are brought up to date, the metadata records the new model,
    /// dimensions and arroy index, and the old vectors are cleared. Returns the new metadata.
    pub fn activate(self, embedder: &dyn Embedder) -> Result<IndexMeta> {
        let shared = &self.index.shared;
        shared.write(|wtxn| {
            let dbs = self.index.dbs();
            let mut meta = shared.meta_in(wtxn)?;
            if meta.vector_index != self.previous {
                return Err(Error::InvalidInput(
                    "another re-index finished first: nothing was changed by this one".into(),
                )
                .into());
            }
            let writer = self.writer();
            // Chunks removed while the generation was written.
            let mut orphans = Vec::new();
            for item in writer.iter(wtxn)? {
                let (id, _) = item?;
                if dbs.chunks.get(wtxn, &id)?.is_none() {
                    orphans.push(id);
                }
            }
            for id in orphans {
                writer.del_item(wtxn, id)?;
            }
            // Chunks written while the generation was written.
            let mut missing = Vec::new();
            for entry in dbs.chunks.iter(wtxn)? {
                let (id, chunk) = entry?;
                if !writer.contains_item(wtxn, id)? {
                    missing.push((id, chunk.text));
                }
            }
            if !missing.is_empty() {
                let texts: Vec<&str> = missing.iter().map(|(_, t)| t.as_str()).collect();
                let vectors = embedder.embed(&texts)?;
                for ((id, _), vector) in missing.iter().zip(&vectors) {
                    writer.add_item(wtxn, *id, vector)?;
                }
            }
            if self.index.wants_trees(wtxn)? {
                build_writer(&writer, wtxn, meta.n_trees)?;
            }
            let old = super::vectors::writer_of(dbs.vectors, &meta);
            meta.embedding_model = self.model.clone();
            meta.dimensions = self.dimensions;
            meta.vector_index = self.arroy_index;
            dbs.meta.put(wtxn, META_KEY, &meta)?;
            old.clear(wtxn)?;
            Ok(meta)
        })
    }

    /// Drops the generation's vectors (a cancelled re-index); the active index is untouched.
    pub fn abandon(self) -> Result<()> {
        self.index
            .shared
            .write(|wtxn| Ok(self.writer().clear(wtxn)?))
    }
}
