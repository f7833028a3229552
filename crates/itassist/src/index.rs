//! The index: one LMDB environment (heed) holding documents, chunks and their vectors (arroy).
//!
//! Layout (one named database each):
//! - `meta`: the [`IndexMeta`] record (schema, embedding model, dimensions, id counters);
//! - `documents`: document id -> [`Document`];
//! - `sources`: source path or upload name -> document id;
//! - `hashes`: sha256 of the content -> document id;
//! - `chunks`: chunk id -> [`StoredChunk`] (chunk ids are arroy item ids);
//! - `vectors`: the arroy database (cosine distance, index 0);
//! - `postings`: term + 0 + chunk id -> (term frequency, chunk length) for BM25;
//! - `terms`: term -> number of chunks holding it.
//!
//! Every document is written in one write transaction (its record, chunks and vectors), so a
//! crash leaves either the whole document or nothing. The arroy trees are rebuilt
//! incrementally, with a fixed number of trees, after a batch of writes; until then searches
//! fall back to an exact scan, so results are never missing a committed document.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use arroy::distances::Cosine;
use heed::byteorder::BigEndian;
use heed::types::{Bytes, SerdeJson, Str, U32, U64};
use heed::{Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::embed::dot;
use crate::error::{Error, Result};
use crate::ingest::Format;
use crate::keyword::{self, Analyzer, Bm25};

/// Version of the on-disk layout.
pub const SCHEMA_VERSION: u32 = 1;
const META_KEY: &str = "meta";
const ARROY_INDEX: u16 = 0;

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
}

/// A document in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Stable id, unique in this index.
    pub id: u64,
    /// The source: an absolute file path, or `upload:NAME` for uploaded bytes.
    pub source: String,
    /// A display name (file name or the uploaded name).
    pub name: String,
    /// Document title, when the format carries one.
    pub title: Option<String>,
    /// Detected format.
    pub format: Format,
    /// Media type.
    pub media_type: String,
    /// sha256 of the file content, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time of the file (seconds since the epoch), when known.
    pub modified: Option<u64>,
    /// Number of pages, for paged formats.
    pub page_count: Option<u32>,
    /// Pages read by OCR.
    pub ocr_pages: Vec<u32>,
    /// First chunk id; the document's chunks are `first_chunk .. first_chunk + chunk_count`.
    pub first_chunk: u32,
    /// Number of chunks.
    pub chunk_count: u32,
    /// Total tokens over all chunks.
    pub token_count: u64,
    /// When it was ingested (seconds since the epoch).
    pub ingested_at: u64,
}

impl Document {
    /// The ids of the document's chunks.
    pub fn chunk_ids(&self) -> std::ops::Range<u32> {
        self.first_chunk..self.first_chunk + self.chunk_count
    }
}

/// A chunk as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredChunk {
    /// The document it belongs to.
    pub document_id: u64,
    /// Position in the document.
    pub ordinal: u32,
    /// The text.
    pub text: String,
    /// 1-based page, for paged documents.
    pub page: Option<u32>,
    /// Heading it sits under.
    pub section: Option<String>,
    /// Byte range in the document text.
    pub span: (usize, usize),
    /// Length in model tokens.
    pub tokens: u32,
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
    /// Whether the vector trees are up to date (otherwise searches scan exactly).
    pub trees_built: bool,
}

/// A document ready to be written: its record (ids are assigned on write), chunks and vectors.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// The record; `id`, `first_chunk` and `chunk_count` are set on write.
    pub document: Document,
    /// Chunks in order.
    pub chunks: Vec<StoredChunk>,
    /// One vector per chunk.
    pub vectors: Vec<Vec<f32>>,
}

struct Databases {
    meta: Database<'static, Str, SerdeJson<IndexMeta>>,
    documents: DocumentsDb,
    sources: LookupDb,
    hashes: LookupDb,
    chunks: ChunksDb,
    vectors: VectorsDb,
    postings: PostingsDb,
    terms: TermsDb,
}

/// The storage shared by every handle on one directory in this process.
struct Shared {
    env: Env<WithoutTls>,
    analyzer: Analyzer,
    dbs: Databases,
    data_dir: PathBuf,
    map_size: usize,
}

/// Open environments of this process, by canonical directory: LMDB allows one per process.
static OPEN: Mutex<Vec<(PathBuf, Weak<Shared>)>> = Mutex::new(Vec::new());

/// Settings an index is created with, checked when it is opened again.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// Embedding model id.
    pub embedding_model: String,
    /// Vector length.
    pub dimensions: usize,
    /// Number of arroy trees for a new index.
    pub n_trees: usize,
    /// Chunk size recorded in a new index.
    pub chunk_max_tokens: usize,
    /// Chunk overlap recorded in a new index.
    pub chunk_overlap_tokens: usize,
    /// LMDB map size.
    pub map_size: usize,
}

/// A handle on an index directory. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Index {
    shared: Arc<Shared>,
    meta: IndexMeta,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("data_dir", &self.shared.data_dir)
            .field("meta", &self.meta)
            .finish()
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
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
        let shared = Self::open_shared(&canonical, settings.map_size)?;
        let meta = Self::init_meta(&shared, settings)?;
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
        let index = Index { shared, meta };
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
        let shared = Self::open_shared(&canonical, map_size)?;
        let rtxn = shared.env.read_txn().map_err(|e| storage(&shared, e))?;
        shared
            .dbs
            .meta
            .get(&rtxn, META_KEY)
            .map_err(|e| storage(&shared, e))
    }

    fn open_shared(canonical: &Path, map_size: usize) -> Result<Arc<Shared>> {
        let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(shared) = open
            .iter()
            .find(|(path, _)| path == canonical)
            .and_then(|(_, weak)| weak.upgrade())
        {
            return Ok(shared);
        }
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(map_size).max_dbs(16).max_readers(1024);
        // SAFETY: LMDB requires that the environment is not opened twice in one process and
        // that the file is not modified by other means; the OPEN registry above ensures the
        // first, and the file lives in itassist's own data directory.
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
                Ok::<_, heed::Error>(heed::CommitOrAbort::<_, ()>::Commit((
                    meta, documents, sources, hashes, chunks, vectors, postings, terms,
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
        };
        let shared = Arc::new(Shared {
            env,
            analyzer: Analyzer::default(),
            dbs,
            data_dir: canonical.to_path_buf(),
            map_size,
        });
        open.push((canonical.to_path_buf(), Arc::downgrade(&shared)));
        Ok(shared)
    }

    fn init_meta(shared: &Shared, settings: &IndexSettings) -> Result<IndexMeta> {
        let mut wtxn = shared.env.write_txn().map_err(|e| storage(shared, e))?;
        let existing = shared
            .dbs
            .meta
            .get(&wtxn, META_KEY)
            .map_err(|e| storage(shared, e))?;
        let meta = match existing {
            Some(meta) => {
                if meta.schema_version != SCHEMA_VERSION {
                    return Err(Error::IndexCorrupt {
                        data_dir: shared.data_dir.clone(),
                        reason: format!(
                            "it has schema version {} and this itassist reads version {SCHEMA_VERSION}: re-index into a new data directory",
                            meta.schema_version
                        ),
                        source: None,
                    });
                }
                meta
            }
            None => {
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
                };
                shared
                    .dbs
                    .meta
                    .put(&mut wtxn, META_KEY, &meta)
                    .map_err(|e| storage(shared, e))?;
                meta
            }
        };
        wtxn.commit().map_err(|e| storage(shared, e))?;
        Ok(meta)
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

    fn err(&self, e: impl Into<StorageError>) -> Error {
        storage(&self.shared, e)
    }

    fn read_txn(&self) -> Result<RoTxn<'_, WithoutTls>> {
        self.shared.env.read_txn().map_err(|e| self.err(e))
    }

    fn write_txn(&self) -> Result<RwTxn<'_>> {
        self.shared.env.write_txn().map_err(|e| self.err(e))
    }

    fn writer(&self) -> arroy::Writer<Cosine> {
        arroy::Writer::new(self.dbs().vectors, ARROY_INDEX, self.meta.dimensions)
    }

    /// The document recorded for `source`, if any.
    pub fn document_by_source(&self, source: &str) -> Result<Option<Document>> {
        self.document_via(self.dbs().sources, source)
    }

    /// The document whose content has this sha256, if any.
    pub fn document_by_hash(&self, sha256: &str) -> Result<Option<Document>> {
        self.document_via(self.dbs().hashes, sha256)
    }

    /// Follows a lookup table (source or hash -> id) to the document.
    fn document_via(&self, lookup: LookupDb, key: &str) -> Result<Option<Document>> {
        let rtxn = self.read_txn()?;
        let Some(id) = lookup.get(&rtxn, key).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        self.dbs()
            .documents
            .get(&rtxn, &id)
            .map_err(|e| self.err(e))
    }

    /// The document with this id.
    pub fn document(&self, id: u64) -> Result<Option<Document>> {
        let rtxn = self.read_txn()?;
        self.dbs()
            .documents
            .get(&rtxn, &id)
            .map_err(|e| self.err(e))
    }

    /// All documents, by id.
    pub fn documents(&self) -> Result<Vec<Document>> {
        let rtxn = self.read_txn()?;
        let iter = self.dbs().documents.iter(&rtxn).map_err(|e| self.err(e))?;
        iter.map(|entry| entry.map(|(_, doc)| doc).map_err(|e| self.err(e)))
            .collect()
    }

    /// The chunk with this id.
    pub fn chunk(&self, id: u32) -> Result<Option<StoredChunk>> {
        let rtxn = self.read_txn()?;
        self.dbs().chunks.get(&rtxn, &id).map_err(|e| self.err(e))
    }

    /// Loads several chunks with their documents in one read transaction; `None` where a
    /// chunk does not exist.
    pub fn chunks_with_documents(
        &self,
        ids: &[u32],
    ) -> Result<Vec<Option<(StoredChunk, Document)>>> {
        let rtxn = self.read_txn()?;
        let mut documents: HashMap<u64, Document> = HashMap::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(chunk) = self.dbs().chunks.get(&rtxn, id).map_err(|e| self.err(e))? else {
                out.push(None);
                continue;
            };
            let document = match documents.get(&chunk.document_id) {
                Some(doc) => doc.clone(),
                None => {
                    let Some(doc) = self
                        .dbs()
                        .documents
                        .get(&rtxn, &chunk.document_id)
                        .map_err(|e| self.err(e))?
                    else {
                        out.push(None);
                        continue;
                    };
                    documents.insert(doc.id, doc.clone());
                    doc
                }
            };
            out.push(Some((chunk, document)));
        }
        Ok(out)
    }

    /// The stored vector of a chunk.
    pub fn vector(&self, chunk_id: u32) -> Result<Option<Vec<f32>>> {
        let rtxn = self.read_txn()?;
        self.writer()
            .item_vector(&rtxn, chunk_id)
            .map_err(|e| self.err(e))
    }

    /// Writes a document, its chunks and vectors in one transaction, replacing the document
    /// `replaces` (its chunks and vectors) in the same transaction when given.
    ///
    /// The vector trees are not rebuilt here: call [`Index::build_trees`] after a batch.
    pub fn write_document(&self, new: NewDocument, replaces: Option<u64>) -> Result<Document> {
        let NewDocument {
            mut document,
            chunks,
            vectors,
        } = new;
        if chunks.len() != vectors.len() {
            return Err(Error::InvalidInput(format!(
                "{} chunks but {} vectors",
                chunks.len(),
                vectors.len()
            )));
        }
        if let Some(bad) = vectors.iter().find(|v| v.len() != self.meta.dimensions) {
            return Err(Error::InvalidInput(format!(
                "a vector has {} dimensions, the index holds {}",
                bad.len(),
                self.meta.dimensions
            )));
        }
        let mut wtxn = self.write_txn()?;
        let dbs = self.dbs();
        let mut meta = dbs
            .meta
            .get(&wtxn, META_KEY)
            .map_err(|e| self.err(e))?
            .ok_or_else(|| self.missing_meta())?;
        if let Some(old_id) = replaces {
            self.delete_in(&mut wtxn, old_id, &mut meta)?;
        }
        let chunk_count = u32::try_from(chunks.len())
            .ok()
            .filter(|n| meta.next_chunk_id.checked_add(*n).is_some())
            .ok_or_else(|| Error::InvalidInput("too many chunks for one index".into()))?;
        document.id = meta.next_document_id;
        document.first_chunk = meta.next_chunk_id;
        document.chunk_count = chunk_count;
        document.token_count = chunks.iter().map(|c| u64::from(c.tokens)).sum();
        document.ingested_at = now_secs();
        let writer = self.writer();
        for (offset, (mut chunk, vector)) in chunks.into_iter().zip(&vectors).enumerate() {
            let chunk_id = document.first_chunk + offset as u32;
            chunk.document_id = document.id;
            self.add_postings(&mut wtxn, chunk_id, &chunk.text, &mut meta)?;
            dbs.chunks
                .put(&mut wtxn, &chunk_id, &chunk)
                .map_err(|e| self.err(e))?;
            writer
                .add_item(&mut wtxn, chunk_id, vector)
                .map_err(|e| self.err(e))?;
        }
        dbs.documents
            .put(&mut wtxn, &document.id, &document)
            .map_err(|e| self.err(e))?;
        dbs.sources
            .put(&mut wtxn, &document.source, &document.id)
            .map_err(|e| self.err(e))?;
        dbs.hashes
            .put(&mut wtxn, &document.sha256, &document.id)
            .map_err(|e| self.err(e))?;
        meta.next_document_id += 1;
        meta.next_chunk_id += chunk_count;
        dbs.meta
            .put(&mut wtxn, META_KEY, &meta)
            .map_err(|e| self.err(e))?;
        wtxn.commit().map_err(|e| self.err(e))?;
        Ok(document)
    }

    /// Records a new modification time for a document whose content did not change.
    pub fn touch_document(&self, id: u64, modified: Option<u64>) -> Result<()> {
        let mut wtxn = self.write_txn()?;
        if let Some(mut doc) = self
            .dbs()
            .documents
            .get(&wtxn, &id)
            .map_err(|e| self.err(e))?
        {
            doc.modified = modified;
            self.dbs()
                .documents
                .put(&mut wtxn, &id, &doc)
                .map_err(|e| self.err(e))?;
        }
        wtxn.commit().map_err(|e| self.err(e))
    }

    fn missing_meta(&self) -> Error {
        Error::IndexCorrupt {
            data_dir: self.shared.data_dir.clone(),
            reason: "the metadata record is missing".into(),
            source: None,
        }
    }

    /// Deletes a document's records and vectors inside `wtxn`; returns the record.
    fn delete_in(
        &self,
        wtxn: &mut RwTxn<'_>,
        id: u64,
        meta: &mut IndexMeta,
    ) -> Result<Option<Document>> {
        let dbs = self.dbs();
        let Some(document) = dbs.documents.get(wtxn, &id).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        let writer = self.writer();
        for chunk_id in document.chunk_ids() {
            if let Some(chunk) = dbs.chunks.get(wtxn, &chunk_id).map_err(|e| self.err(e))? {
                self.remove_postings(wtxn, chunk_id, &chunk.text, meta)?;
            }
            dbs.chunks
                .delete(wtxn, &chunk_id)
                .map_err(|e| self.err(e))?;
            writer.del_item(wtxn, chunk_id).map_err(|e| self.err(e))?;
        }
        dbs.documents.delete(wtxn, &id).map_err(|e| self.err(e))?;
        if dbs
            .sources
            .get(wtxn, &document.source)
            .map_err(|e| self.err(e))?
            == Some(id)
        {
            dbs.sources
                .delete(wtxn, &document.source)
                .map_err(|e| self.err(e))?;
        }
        if dbs
            .hashes
            .get(wtxn, &document.sha256)
            .map_err(|e| self.err(e))?
            == Some(id)
        {
            dbs.hashes
                .delete(wtxn, &document.sha256)
                .map_err(|e| self.err(e))?;
        }
        Ok(Some(document))
    }

    /// Removes a document with its chunks and vectors, and updates the trees, in one
    /// transaction.
    pub fn remove_document(&self, id: u64) -> Result<Document> {
        let mut wtxn = self.write_txn()?;
        let mut meta = self
            .dbs()
            .meta
            .get(&wtxn, META_KEY)
            .map_err(|e| self.err(e))?
            .ok_or_else(|| self.missing_meta())?;
        let document = self
            .delete_in(&mut wtxn, id, &mut meta)?
            .ok_or_else(|| Error::DocumentNotFound { id: id.to_string() })?;
        self.dbs()
            .meta
            .put(&mut wtxn, META_KEY, &meta)
            .map_err(|e| self.err(e))?;
        self.build_in(&mut wtxn)?;
        wtxn.commit().map_err(|e| self.err(e))?;
        Ok(document)
    }

    fn add_postings(
        &self,
        wtxn: &mut RwTxn<'_>,
        chunk_id: u32,
        text: &str,
        meta: &mut IndexMeta,
    ) -> Result<()> {
        let dbs = self.dbs();
        let (frequencies, len) = self.shared.analyzer.frequencies(text);
        for (term, tf) in &frequencies {
            let key = keyword::posting_key(term, chunk_id);
            dbs.postings
                .put(wtxn, &key, &keyword::posting_value(*tf, len))
                .map_err(|e| self.err(e))?;
            let df = dbs
                .terms
                .get(wtxn, term)
                .map_err(|e| self.err(e))?
                .unwrap_or(0);
            dbs.terms
                .put(wtxn, term, &(df + 1))
                .map_err(|e| self.err(e))?;
        }
        meta.keyword_chunks += 1;
        meta.keyword_terms += u64::from(len);
        Ok(())
    }

    fn remove_postings(
        &self,
        wtxn: &mut RwTxn<'_>,
        chunk_id: u32,
        text: &str,
        meta: &mut IndexMeta,
    ) -> Result<()> {
        let dbs = self.dbs();
        let (frequencies, len) = self.shared.analyzer.frequencies(text);
        for term in frequencies.keys() {
            let key = keyword::posting_key(term, chunk_id);
            if !dbs.postings.delete(wtxn, &key).map_err(|e| self.err(e))? {
                continue;
            }
            match dbs.terms.get(wtxn, term).map_err(|e| self.err(e))? {
                Some(df) if df > 1 => dbs
                    .terms
                    .put(wtxn, term, &(df - 1))
                    .map_err(|e| self.err(e))?,
                _ => {
                    dbs.terms.delete(wtxn, term).map_err(|e| self.err(e))?;
                }
            }
        }
        meta.keyword_chunks = meta.keyword_chunks.saturating_sub(1);
        meta.keyword_terms = meta.keyword_terms.saturating_sub(u64::from(len));
        Ok(())
    }

    /// The `k` chunks that best match `query` by BM25, best first, as `(chunk id, score)`.
    pub fn keyword_nearest(&self, query: &str, k: usize, bm25: Bm25) -> Result<Vec<(u32, f32)>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let rtxn = self.read_txn()?;
        let dbs = self.dbs();
        let meta = dbs
            .meta
            .get(&rtxn, META_KEY)
            .map_err(|e| self.err(e))?
            .ok_or_else(|| self.missing_meta())?;
        if meta.keyword_chunks == 0 {
            return Ok(Vec::new());
        }
        let avg_len = meta.keyword_terms as f32 / meta.keyword_chunks as f32;
        let mut terms = self.shared.analyzer.terms(query);
        terms.sort();
        terms.dedup();
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for term in &terms {
            let Some(df) = dbs.terms.get(&rtxn, term).map_err(|e| self.err(e))? else {
                continue;
            };
            let idf = bm25.idf(meta.keyword_chunks, df);
            let prefix = keyword::posting_prefix(term);
            for entry in dbs
                .postings
                .prefix_iter(&rtxn, &prefix)
                .map_err(|e| self.err(e))?
            {
                let (key, value) = entry.map_err(|e| self.err(e))?;
                let (Some(chunk), Some((tf, len))) = (
                    keyword::posting_chunk(key),
                    keyword::read_posting_value(value),
                ) else {
                    continue;
                };
                *scores.entry(chunk).or_default() += bm25.weight(idf, tf, len, avg_len);
            }
        }
        let mut scored: Vec<(u32, f32)> = scores.into_iter().collect();
        sort_scored(&mut scored);
        scored.truncate(k);
        Ok(scored)
    }

    fn build_in(&self, wtxn: &mut RwTxn<'_>) -> Result<()> {
        let writer = self.writer();
        if !writer.need_build(wtxn).map_err(|e| self.err(e))? {
            return Ok(());
        }
        let mut rng = StdRng::seed_from_u64(0x17a5_5157);
        let mut builder = writer.builder(&mut rng);
        builder.n_trees(self.meta.n_trees);
        let built = builder.build(wtxn);
        built.map_err(|e| self.err(e))
    }

    /// Brings the vector trees up to date with the stored vectors (incrementally).
    pub fn build_trees(&self) -> Result<()> {
        {
            let rtxn = self.read_txn()?;
            if !self.writer().need_build(&rtxn).map_err(|e| self.err(e))? {
                return Ok(());
            }
        }
        let mut wtxn = self.write_txn()?;
        self.build_in(&mut wtxn)?;
        wtxn.commit().map_err(|e| self.err(e))
    }

    /// Number of vectors (chunks) in the index.
    pub fn vector_count(&self) -> Result<u64> {
        let rtxn = self.read_txn()?;
        self.dbs().chunks.len(&rtxn).map_err(|e| self.err(e))
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
        let rtxn = self.read_txn()?;
        let count = self.dbs().chunks.len(&rtxn).map_err(|e| self.err(e))?;
        if count == 0 {
            return Ok(Vec::new());
        }
        let writer = self.writer();
        let built = !writer.need_build(&rtxn).map_err(|e| self.err(e))?;
        if count as usize <= exact_below || !built {
            return self.exact_nearest(&rtxn, query, k);
        }
        let reader = arroy::Reader::<Cosine>::open(&rtxn, ARROY_INDEX, self.dbs().vectors)
            .map_err(|e| self.err(e))?;
        let mut builder = reader.nns(k);
        if let Some(o) = std::num::NonZeroUsize::new(oversampling) {
            builder.oversampling(o);
        }
        let found = builder.by_vector(&rtxn, query).map_err(|e| self.err(e))?;
        let mut scored = Vec::with_capacity(found.len());
        for (id, _) in found {
            if let Some(v) = reader.item_vector(&rtxn, id).map_err(|e| self.err(e))? {
                scored.push((id, dot(query, &v)));
            }
        }
        sort_scored(&mut scored);
        scored.truncate(k);
        Ok(scored)
    }

    /// Exact nearest neighbours by scanning every vector.
    pub fn exact_nearest_all(&self, query: &[f32], k: usize) -> Result<Vec<(u32, f32)>> {
        let rtxn = self.read_txn()?;
        self.exact_nearest(&rtxn, query, k)
    }

    fn exact_nearest(
        &self,
        rtxn: &RoTxn<'_, WithoutTls>,
        query: &[f32],
        k: usize,
    ) -> Result<Vec<(u32, f32)>> {
        let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
        let mut worst = f32::NEG_INFINITY;
        for item in self.writer().iter(rtxn).map_err(|e| self.err(e))? {
            let (id, vector) = item.map_err(|e| self.err(e))?;
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

    /// Counts and sizes.
    pub fn stats(&self) -> Result<IndexStats> {
        let rtxn = self.read_txn()?;
        let documents = self.dbs().documents.len(&rtxn).map_err(|e| self.err(e))?;
        let chunks = self.dbs().chunks.len(&rtxn).map_err(|e| self.err(e))?;
        let mut tokens = 0;
        for entry in self.dbs().documents.iter(&rtxn).map_err(|e| self.err(e))? {
            let (_, doc) = entry.map_err(|e| self.err(e))?;
            tokens += doc.token_count;
        }
        let trees_built = !self.writer().need_build(&rtxn).map_err(|e| self.err(e))?;
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

fn sort_scored(scored: &mut [(u32, f32)]) {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// The storage errors that can reach this module.
enum StorageError {
    Heed(heed::Error),
    Arroy(arroy::Error),
}

impl From<heed::Error> for StorageError {
    fn from(e: heed::Error) -> Self {
        StorageError::Heed(e)
    }
}

impl From<arroy::Error> for StorageError {
    fn from(e: arroy::Error) -> Self {
        match e {
            arroy::Error::Heed(h) => StorageError::Heed(h),
            other => StorageError::Arroy(other),
        }
    }
}

fn storage(shared: &Shared, e: impl Into<StorageError>) -> Error {
    match e.into() {
        StorageError::Heed(heed::Error::Mdb(heed::MdbError::MapFull)) => Error::IndexFull {
            data_dir: shared.data_dir.clone(),
            map_size: shared.map_size,
        },
        StorageError::Heed(e) => Error::Index {
            reason: e.to_string(),
            source: Some(Box::new(e)),
        },
        StorageError::Arroy(e) => Error::Index {
            reason: e.to_string(),
            source: Some(Box::new(e)),
        },
    }
}

fn open_error(dir: &Path, e: heed::Error) -> Error {
    match e {
        heed::Error::Io(io) => Error::io(dir, io),
        heed::Error::Mdb(heed::MdbError::Invalid)
        | heed::Error::Mdb(heed::MdbError::VersionMismatch) => Error::IndexCorrupt {
            data_dir: dir.to_path_buf(),
            reason: "the files are not an LMDB environment of a compatible version".into(),
            source: Some(Box::new(e)),
        },
        heed::Error::Mdb(heed::MdbError::Panic) | heed::Error::Mdb(heed::MdbError::Corrupted) => {
            Error::IndexCorrupt {
                data_dir: dir.to_path_buf(),
                reason: "LMDB reports corruption; restore a backup or re-index".into(),
                source: Some(Box::new(e)),
            }
        }
        heed::Error::Mdb(heed::MdbError::ReadersFull) => Error::IndexLocked {
            data_dir: dir.to_path_buf(),
            reason: e.to_string(),
        },
        other => Error::Index {
            reason: format!("cannot open the index at {}: {other}", dir.display()),
            source: Some(Box::new(other)),
        },
    }
}
