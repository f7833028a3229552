//! Re-index: re-embeds every stored chunk with another embedding model, from the text already
//! in the index (no original files needed), into a new generation of vectors that replaces
//! the old one atomically (see `index::generation`). Searches keep answering from the old
//! vectors until the new ones are complete; a crash or a cancel leaves the old index intact.
//! A keyword index written by an older analyzer or postings layout is rewritten afterwards,
//! from the stored text, so `itassist reindex` also upgrades an index made by an older
//! itassist.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::embed::Embedder;
use crate::error::Result;
use crate::index::{Generation, Index, POSTINGS_FORMAT};
use crate::keyword::ANALYZER_VERSION;
use crate::pipeline::Flow;

/// Chunks read from the index per round (then embedded in batches of the embedder's size).
const ROUND: usize = 256;

/// Progress of a re-index.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReindexEvent<'a> {
    /// The re-index starts: this many chunks are to be embedded with `model`.
    Started {
        /// Chunks in the index.
        chunks: u64,
        /// The new model.
        model: &'a str,
    },
    /// Some chunks were embedded.
    Embedded {
        /// Chunks embedded so far (chunks added meanwhile by an ingest count too).
        done: u64,
        /// Chunks in the index when the re-index started.
        total: u64,
    },
    /// Every chunk is embedded; the new vector trees are being built.
    BuildingIndex,
    /// The new vectors replace the old ones (one write transaction).
    Swapping,
}

/// The outcome of a re-index.
#[derive(Debug, Clone, Serialize)]
pub struct ReindexReport {
    /// The index directory.
    pub data_dir: std::path::PathBuf,
    /// The model the vectors came from before.
    pub previous_model: String,
    /// Their length before.
    pub previous_dimensions: usize,
    /// The model the vectors come from now (unchanged when cancelled).
    pub model: String,
    /// Their length now.
    pub dimensions: usize,
    /// Chunks embedded.
    pub chunks: u64,
    /// Whether the progress callback stopped the re-index: the old vectors stay in use and
    /// the new ones were dropped.
    pub cancelled: bool,
    /// Wall time.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// Time spent inside the embedding model.
    #[serde(serialize_with = "secs")]
    pub embedding_time: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Re-embeds every chunk of the index in `data_dir` with `embedder` and makes the new vectors
/// the active ones (see the module documentation). `batch_size` chunks are embedded per call;
/// the trees are built only above `trees_above` chunks ([`crate::index::IndexSettings`]).
pub fn reindex(
    data_dir: &Path,
    map_size: usize,
    trees_above: usize,
    embedder: &dyn Embedder,
    batch_size: usize,
    progress: &dyn Fn(&ReindexEvent) -> Flow,
) -> Result<ReindexReport> {
    let started = Instant::now();
    let index = Index::open_existing(data_dir, map_size, trees_above)?;
    let previous = index.meta().clone();
    let mut report = ReindexReport {
        data_dir: index.data_dir().to_path_buf(),
        previous_model: previous.embedding_model.clone(),
        previous_dimensions: previous.dimensions,
        model: previous.embedding_model.clone(),
        dimensions: previous.dimensions,
        chunks: 0,
        cancelled: false,
        elapsed: Duration::ZERO,
        embedding_time: Duration::ZERO,
    };
    let generation = index.begin_generation(embedder.model_id(), embedder.dimensions())?;
    match fill(&generation, embedder, batch_size, progress, &mut report) {
        Ok(true) => {}
        Ok(false) => {
            generation.abandon()?;
            report.cancelled = true;
            report.elapsed = started.elapsed();
            return Ok(report);
        }
        Err(e) => {
            // The error is what the caller needs; dropping the half-written vectors is
            // housekeeping (the next re-index clears them anyway).
            let _ = generation.abandon();
            return Err(e);
        }
    }
    let _ = progress(&ReindexEvent::BuildingIndex);
    generation.build(previous.n_trees)?;
    let _ = progress(&ReindexEvent::Swapping);
    let meta = generation.activate(embedder)?;
    // The keyword index is brought up to date too: one written by an older analyzer or in
    // the older postings layout is analysed again from the stored text (nothing to embed).
    if meta.analyzer_version < ANALYZER_VERSION || meta.postings_format < POSTINGS_FORMAT {
        index.rebuild_keyword_index(ANALYZER_VERSION)?;
    }
    report.model = meta.embedding_model;
    report.dimensions = meta.dimensions;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Embeds every chunk the generation lacks, until none is missing (chunks written by an
/// ingest meanwhile included). `Ok(false)` when the progress callback asked to stop.
fn fill(
    generation: &Generation,
    embedder: &dyn Embedder,
    batch_size: usize,
    progress: &dyn Fn(&ReindexEvent) -> Flow,
    report: &mut ReindexReport,
) -> Result<bool> {
    let total = generation.chunk_count()?;
    if progress(&ReindexEvent::Started {
        chunks: total,
        model: generation.model(),
    })
    .is_break()
    {
        return Ok(false);
    }
    // First pass in id order from the last id done; then passes from the start catch the
    // chunks an ingest wrote meanwhile, until none is missing.
    let mut after = None;
    let mut first_pass = true;
    loop {
        let round = generation.missing_chunks(if first_pass { after } else { None }, ROUND)?;
        if round.is_empty() {
            if first_pass {
                first_pass = false;
                continue;
            }
            return Ok(true);
        }
        after = round.last().map(|(id, _)| *id);
        let mut items = Vec::with_capacity(round.len());
        for batch in round.chunks(batch_size.max(1)) {
            let texts: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
            let t = Instant::now();
            let vectors = embedder.embed(&texts)?;
            report.embedding_time += t.elapsed();
            items.extend(batch.iter().map(|(id, _)| *id).zip(vectors));
        }
        generation.add_vectors(&items)?;
        report.chunks += items.len() as u64;
        if progress(&ReindexEvent::Embedded {
            done: report.chunks,
            total,
        })
        .is_break()
        {
            return Ok(false);
        }
    }
}
