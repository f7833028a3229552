//! The index: one LMDB environment (heed) holding documents, chunks, their vectors (arroy)
//! and keyword postings.
//!
//! Layout (one named database each):
//! - `meta`: the [`IndexMeta`] record (schema, embedding model, dimensions, id counters);
//! - `documents`: document id -> [`Document`];
//! - `sources`: source path or upload name -> document id;
//! - `hashes`: sha256 of the content -> document id;
//! - `chunks`: chunk id -> [`StoredChunk`] (chunk ids are arroy item ids);
//! - `vectors`: the arroy database (cosine distance, index 0);
//! - `postings`: term + 0 + first chunk id -> a block of (chunk, term frequency, chunk length)
//!   for BM25 (`posting_blocks`);
//! - `terms`: term -> number of chunks holding it.
//! - `failures`: source path -> [`FailureRecord`] of the file's last failed ingest (`failures`);
//!   the active arroy index is `IndexMeta::vector_index` (`generation`: re-index).
//!
//! Every document is written in one write transaction (its record, chunks, vectors and
//! postings), so a crash leaves either the whole document or nothing. The arroy trees are
//! rebuilt incrementally, with a fixed number of trees, after a batch of writes; until then
//! searches fall back to an exact scan, so results are never missing a committed document.
//!
//! The module is split by what is stored: this file opens the environment and keeps the
//! metadata; `documents` holds the document and chunk records, `vectors` the arroy side
//! (trees and exact scans), `postings` the keyword index, `storage` the mapping of LMDB and
//! arroy failures to [`Error`], and `registry` the environments open in this process.

mod conversations;
mod documents;
mod failures;
mod generation;
mod posting_blocks;
mod postings;
mod registry;
mod scan;
mod storage;
mod vectors;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arroy::distances::Cosine;
use heed::byteorder::BigEndian;
use heed::types::{Bytes, SerdeJson, Str, U32, U64};
use heed::{Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use conversations::{Conversation, ConversationSummary, Turn};
pub use documents::{Document, NewDocument, StoredChunk};
pub use failures::FailureRecord;
pub use generation::Generation;
pub use posting_blocks::POSTINGS_FORMAT;
use storage::{open_error, StorageResult};
pub use vectors::VectorSearch;

/// Version of the on-disk layout.
pub const SCHEMA_VERSION: u32 = 1;
const META_KEY: &str = "meta";

type MetaDb = Database<'static, Str, SerdeJson<IndexMeta>>;
type DocumentsDb = Database<'static, U64<BigEndian>, SerdeJson<Document>>;
type ChunksDb = Database<'static, U32<BigEndian>, SerdeJson<StoredChunk>>;
type LookupDb = Database<'static, Str, U64<BigEndian>>;
type VectorsDb = arroy::Database<'static, Cosine>;
type PostingsDb = Database<'static, Bytes, Bytes>;
type TermsDb = Database<'static, Str, U64<BigEndian>>;

/// What the index records about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    /// Version of the on-disk layout.
    pub schema_version: u32,
    /// Embedding model the vectors come from.
    pub embedding_model: String,
    /// Length of every vector.
    pub dimensions: usize,
    /// Pooling of the embedding model.
    pub pooling: String,
    /// Number of arroy trees (fixed for the index's life, so builds stay incremental).
    pub n_trees: usize,
    /// Chunk size in tokens the documents were split with.
    pub chunk_max_tokens: usize,
    /// Chunk overlap in tokens.
    pub chunk_overlap_tokens: usize,
    /// Next document id to hand out.
    pub next_document_id: u64,
    /// Next chunk id to hand out.
    pub next_chunk_id: u32,
    /// itassist version that created the index.
    pub created_by: String,
    /// Chunks in the keyword index.
    #[serde(default)]
    pub keyword_chunks: u64,
    /// Sum of the chunks' lengths in keyword terms (for BM25's average length).
    #[serde(default)]
    pub keyword_terms: u64,
    /// The arroy index (within the `vectors` database) holding the active vectors; a
    /// re-index writes the other one and flips this in one transaction.
    #[serde(default)]
    pub vector_index: u16,
    /// Version of the keyword analyzer the postings were written with (see
    /// [`crate::keyword::ANALYZER_VERSION`]); indexes from before it was recorded are
    /// version 1, English only, and keep being read that way.
    #[serde(default = "legacy_analyzer_version")]
    pub analyzer_version: u32,
    /// Chunks of the keyword index per language (ISO 639-1 code): the languages a query
    /// is analysed for when its own is uncertain.
    #[serde(default)]
    pub keyword_languages: std::collections::BTreeMap<String, u64>,
    /// How the postings are laid out: 0, one record per term and chunk (indexes written
    /// before blocks, read and written that way until their keyword index is rebuilt); 1,
    /// blocks of postings (see `posting_blocks`).
    #[serde(default)]
    pub postings_format: u32,
}

fn legacy_analyzer_version() -> u32 {
    crate::keyword::LEGACY_ANALYZER_VERSION
}

/// Sizes of the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexStats {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Documents indexed.
    pub documents: u64,
    /// Chunks (and vectors) indexed.
    pub chunks: u64,
    /// Total tokens over all chunks.
    pub tokens: u64,
    /// Bytes used on disk by the LMDB file.
    pub disk_bytes: u64,
    /// Embedding model of the vectors.
    pub embedding_model: String,
    /// Vector length.
    pub dimensions: usize,
    /// Whether the vector search is up to date: false only while a collection large enough
    /// for the arroy trees (above `exact_search_below` chunks) has trees out of date; searches
    /// then use the vector scan meanwhile. Smaller collections need no trees and are always
    /// up to date.
    pub trees_built: bool,
}

/// Settings an index is created with, checked when it is opened again.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// Embedding model id.
    pub embedding_model: String,
    /// Vector length.
    pub dimensions: usize,
    /// Number of arroy trees for a new index.
    pub n_trees: usize,
    /// The trees are built only for collections of more than this many chunks (smaller ones
    /// are searched by the vector scan, which needs none).
    pub trees_above: usize,
    /// Chunk size recorded in a new index.
    pub chunk_max_tokens: usize,
    /// Chunk overlap recorded in a new index.
    pub chunk_overlap_tokens: usize,
    /// LMDB map size.
    pub map_size: usize,
}

struct Databases {
    meta: MetaDb,
    documents: DocumentsDb,
    sources: LookupDb,
    hashes: LookupDb,
    chunks: ChunksDb,
    vectors: VectorsDb,
    postings: PostingsDb,
    terms: TermsDb,
    failures: failures::FailuresDb,
}

/// The storage shared by every handle on one directory in this process (see `registry`).
struct Shared {
    env: Env<WithoutTls>,
    dbs: Databases,
    data_dir: PathBuf,
    map_size: usize,
    /// The `conversations` database, created on first use (see `conversations`).
    conversations: std::sync::OnceLock<conversations::ConversationsDb>,
    /// The in-memory copy of the vectors that searches scan (see `scan`), made on the first
    /// search and kept up to date by the searches after it.
    scan: std::sync::RwLock<Option<scan::VectorScan>>,
}

impl Shared {
    /// Opens the environment in `canonical` and creates the databases that are missing.
    fn open(canonical: &Path, map_size: usize) -> Result<Shared> {
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(map_size).max_dbs(16).max_readers(1024);
        // SAFETY: LMDB requires that the environment is not opened twice in one process and
        // that the file is not modified by other means; the registry (the only caller) ensures
        // the first, and the file lives in itassist's own data directory.
        let env = unsafe { options.open(canonical) }.map_err(|e| open_error(canonical, e))?;
        let wtxn = env.write_txn().map_err(|e| open_error(canonical, e))?;
        let committed = env
            .create_databases_and_commit(wtxn, |opener, wtxn| {
                let meta = opener.create_database(wtxn, Some("meta"))?;
                let documents = opener.create_database(wtxn, Some("documents"))?;
                let sources = opener.create_database(wtxn, Some("sources"))?;
                let hashes = opener.create_database(wtxn, Some("hashes"))?;
                let chunks = opener.create_database(wtxn, Some("chunks"))?;
                let vectors = opener.create_database(wtxn, Some("vectors"))?;
                let postings = opener.create_database(wtxn, Some("postings"))?;
                let terms = opener.create_database(wtxn, Some("terms"))?;
                let failures = opener.create_database(wtxn, Some("failures"))?;
                Ok::<_, heed::Error>(heed::CommitOrAbort::<_, ()>::Commit((
                    meta, documents, sources, hashes, chunks, vectors, postings, terms, failures,
                )))
            })
            .map_err(|e| open_error(canonical, e))?;
        let heed::CommitOrAbort::Commit((
            meta,
            documents,
            sources,
            hashes,
            chunks,
            vectors,
            postings,
            terms,
            failures,
        )) = committed
        else {
            return Err(Error::Index {
                reason: "creating the databases was aborted".into(),
                source: None,
            });
        };
        let dbs = Databases {
            meta,
            documents,
            sources,
            hashes,
            chunks,
            vectors,
            postings,
            terms,
            failures,
        };
        Ok(Shared {
            env,
            dbs,
            data_dir: canonical.to_path_buf(),
            map_size,
            conversations: std::sync::OnceLock::new(),
            scan: std::sync::RwLock::new(None),
        })
    }

    /// Runs `f` in a read transaction.
    fn read<T>(&self, f: impl FnOnce(&RoTxn<'_, WithoutTls>) -> StorageResult<T>) -> Result<T> {
        let run = || f(&self.env.read_txn()?);
        run().map_err(|e| self.error(e))
    }

    /// Runs `f` in a write transaction and commits it when `f` succeeds (an `Err` aborts it:
    /// nothing `f` wrote is kept).
    fn write<T>(&self, f: impl FnOnce(&mut RwTxn<'_>) -> StorageResult<T>) -> Result<T> {
        let run = || {
            let mut wtxn = self.env.write_txn()?;
            let value = f(&mut wtxn)?;
            wtxn.commit()?;
            Ok(value)
        };
        run().map_err(|e| self.error(e))
    }

    /// The metadata record as of `rtxn`.
    fn meta_in(&self, rtxn: &RoTxn) -> StorageResult<IndexMeta> {
        self.dbs
            .meta
            .get(rtxn, META_KEY)?
            .ok_or_else(|| self.missing_meta().into())
    }

    fn missing_meta(&self) -> Error {
        Error::IndexCorrupt {
            data_dir: self.data_dir.clone(),
            reason: "the metadata record is missing".into(),
            source: None,
        }
    }
}

/// A handle on an index directory. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Index {
    shared: Arc<Shared>,
    meta: IndexMeta,
    /// Trees are built only above this many chunks (see [`IndexSettings::trees_above`]).
    trees_above: usize,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("data_dir", &self.shared.data_dir)
            .field("meta", &self.meta)
            .finish()
    }
}

impl Index {
    /// Opens the index in `data_dir`, creating it if needed.
    ///
    /// Fails with [`Error::EmbeddingModelMismatch`] if the index holds vectors of another
    /// model or length.
    pub fn open(data_dir: &Path, settings: &IndexSettings) -> Result<Index> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
        let canonical = data_dir
            .canonicalize()
            .map_err(|e| Error::io(data_dir, e))?;
        let shared = registry::shared(&canonical, settings.map_size)?;
        let meta = init_meta(&shared, settings)?;
        if meta.embedding_model != settings.embedding_model
            || meta.dimensions != settings.dimensions
        {
            return Err(Error::EmbeddingModelMismatch {
                data_dir: canonical,
                index_model: meta.embedding_model,
                index_dimensions: meta.dimensions,
                requested_model: settings.embedding_model.clone(),
                requested_dimensions: settings.dimensions,
            });
        }
        let index = Index {
            shared,
            meta,
            trees_above: settings.trees_above,
        };
        // Finish a tree build that a crash may have interrupted.
        index.build_trees()?;
        Ok(index)
    }

    /// Reads the metadata of an existing index without opening it for writing, or `None`
    /// when `data_dir` holds no index yet.
    pub fn read_meta(data_dir: &Path, map_size: usize) -> Result<Option<IndexMeta>> {
        if !data_dir.join("data.mdb").exists() {
            return Ok(None);
        }
        let canonical = data_dir
            .canonicalize()
            .map_err(|e| Error::io(data_dir, e))?;
        let shared = registry::shared(&canonical, map_size)?;
        shared.read(|rtxn| Ok(shared.dbs.meta.get(rtxn, META_KEY)?))
    }

    /// The index directory.
    pub fn data_dir(&self) -> &Path {
        &self.shared.data_dir
    }

    /// The index metadata as of opening.
    pub fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    fn dbs(&self) -> &Databases {
        &self.shared.dbs
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<IndexStats> {
        let (documents, chunks, tokens, trees_built) = self.shared.read(|rtxn| {
            let dbs = self.dbs();
            let mut tokens = 0;
            for entry in dbs.documents.iter(rtxn)? {
                tokens += entry?.1.token_count;
            }
            let trees_built = !(self.wants_trees(rtxn)? && self.writer().need_build(rtxn)?);
            Ok((
                dbs.documents.len(rtxn)?,
                dbs.chunks.len(rtxn)?,
                tokens,
                trees_built,
            ))
        })?;
        let disk_bytes = std::fs::metadata(self.shared.data_dir.join("data.mdb"))
            .map(|m| m.len())
            .unwrap_or(0);
        Ok(IndexStats {
            data_dir: self.shared.data_dir.clone(),
            documents,
            chunks,
            tokens,
            disk_bytes,
            embedding_model: self.meta.embedding_model.clone(),
            dimensions: self.meta.dimensions,
            trees_built,
        })
    }
}

/// Reads the metadata record, writing it first for a new index; refuses another schema.
fn init_meta(shared: &Shared, settings: &IndexSettings) -> Result<IndexMeta> {
    shared.write(|wtxn| {
        if let Some(meta) = shared.dbs.meta.get(wtxn, META_KEY)? {
            if meta.schema_version != SCHEMA_VERSION {
                return Err(Error::IndexCorrupt {
                    data_dir: shared.data_dir.clone(),
                    reason: format!(
                        "it has schema version {} and this itassist reads version {SCHEMA_VERSION}: re-index into a new data directory",
                        meta.schema_version
                    ),
                    source: None,
                }
                .into());
            }
            return Ok(meta);
        }
        let meta = IndexMeta {
            schema_version: SCHEMA_VERSION,
            embedding_model: settings.embedding_model.clone(),
            dimensions: settings.dimensions,
            pooling: "mean".into(),
            n_trees: settings.n_trees,
            chunk_max_tokens: settings.chunk_max_tokens,
            chunk_overlap_tokens: settings.chunk_overlap_tokens,
            next_document_id: 1,
            next_chunk_id: 0,
            created_by: format!("itassist {}", env!("CARGO_PKG_VERSION")),
            keyword_chunks: 0,
            keyword_terms: 0,
            vector_index: 0,
            analyzer_version: crate::keyword::ANALYZER_VERSION,
            keyword_languages: Default::default(),
            postings_format: posting_blocks::POSTINGS_FORMAT,
        };
        shared.dbs.meta.put(wtxn, META_KEY, &meta)?;
        Ok(meta)
    })
}

/// Sorts `(id, score)` pairs best first (ties by id, so results are deterministic).
fn sort_scored(scored: &mut [(u32, f32)]) {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}
