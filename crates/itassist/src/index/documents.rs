//! Document and chunk records: writing a document with its chunks, vectors and postings in
//! one transaction, replacing or removing it, and the lookups by id, source and content hash.

use std::collections::HashMap;

use heed::RwTxn;
use serde::{Deserialize, Serialize};

use super::postings::Change;
use super::storage::StorageResult;
use super::{Index, IndexMeta, LookupDb, META_KEY};
use crate::error::{Error, Result};
use crate::ingest::Format;

/// A document in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Stable id, unique in this index.
    pub id: u64,
    /// The source: an absolute file path, or `upload:HASH/NAME` for uploaded bytes (the first 16 hex digits of the content hash, then the cleaned name).
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
    /// What a reader should know about how the text was obtained: pages read by OCR and
    /// why (for example because text extraction failed), pages skipped, the character set
    /// assumed, markup flattened.
    #[serde(default)]
    pub notes: Vec<crate::ingest::LoadNote>,
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

/// Stores a chunk record, appended (full pages, as for vectors) when its id is the largest.
fn put_chunk(
    chunks: super::ChunksDb,
    wtxn: &mut RwTxn<'_>,
    chunk_id: u32,
    chunk: &StoredChunk,
) -> StorageResult<()> {
    match chunks.put_with_flags(wtxn, heed::PutFlags::APPEND, &chunk_id, chunk) {
        Err(heed::Error::Mdb(heed::MdbError::KeyExist)) => Ok(chunks.put(wtxn, &chunk_id, chunk)?),
        other => Ok(other?),
    }
}

/// Stores a chunk's vector. Chunk ids only grow, so the vector is appended at the end of the
/// database when it can be: LMDB then fills each page (about twice as many vectors per page
/// as inserts, which split full pages in half). When appending is not possible (another
/// arroy index sorts after this one), it is inserted.
pub(super) fn put_vector(
    writer: &arroy::Writer<arroy::distances::Cosine>,
    wtxn: &mut RwTxn<'_>,
    chunk_id: u32,
    vector: &[f32],
) -> StorageResult<()> {
    match writer.append_item(wtxn, chunk_id, vector) {
        Err(arroy::Error::InvalidItemAppend) => Ok(writer.add_item(wtxn, chunk_id, vector)?),
        other => Ok(other?),
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Index {
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
        self.shared.read(|rtxn| {
            let Some(id) = lookup.get(rtxn, key)? else {
                return Ok(None);
            };
            Ok(self.dbs().documents.get(rtxn, &id)?)
        })
    }

    /// The document with this id.
    pub fn document(&self, id: u64) -> Result<Option<Document>> {
        self.shared
            .read(|rtxn| Ok(self.dbs().documents.get(rtxn, &id)?))
    }

    /// All documents, by id.
    pub fn documents(&self) -> Result<Vec<Document>> {
        self.shared.read(|rtxn| {
            let mut documents = Vec::new();
            for entry in self.dbs().documents.iter(rtxn)? {
                documents.push(entry?.1);
            }
            Ok(documents)
        })
    }

    /// The chunk with this id.
    pub fn chunk(&self, id: u32) -> Result<Option<StoredChunk>> {
        self.shared
            .read(|rtxn| Ok(self.dbs().chunks.get(rtxn, &id)?))
    }

    /// Loads several chunks with their documents in one read transaction; `None` where a
    /// chunk does not exist.
    pub fn chunks_with_documents(
        &self,
        ids: &[u32],
    ) -> Result<Vec<Option<(StoredChunk, Document)>>> {
        self.shared.read(|rtxn| {
            let dbs = self.dbs();
            let mut documents: HashMap<u64, Document> = HashMap::new();
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(chunk) = dbs.chunks.get(rtxn, id)? else {
                    out.push(None);
                    continue;
                };
                let document = match documents.get(&chunk.document_id) {
                    Some(doc) => doc.clone(),
                    None => {
                        let Some(doc) = dbs.documents.get(rtxn, &chunk.document_id)? else {
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
        })
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
        self.shared.write(|wtxn| {
            let dbs = self.dbs();
            let mut meta = self.shared.meta_in(wtxn)?;
            self.check_active(&meta)?;
            if let Some(old_id) = replaces {
                self.delete_in(wtxn, old_id, &mut meta)?;
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
            let language =
                crate::keyword::document_language(chunks.iter().map(|c| c.text.as_str()));
            for (offset, (mut chunk, vector)) in chunks.into_iter().zip(&vectors).enumerate() {
                let chunk_id = document.first_chunk + offset as u32;
                chunk.document_id = document.id;
                let change = Change::Add(language);
                self.change_postings(wtxn, change, (chunk_id, &chunk.text), &mut meta)?;
                put_chunk(dbs.chunks, wtxn, chunk_id, &chunk)?;
                put_vector(&writer, wtxn, chunk_id, vector)?;
            }
            dbs.documents.put(wtxn, &document.id, &document)?;
            dbs.sources.put(wtxn, &document.source, &document.id)?;
            dbs.hashes.put(wtxn, &document.sha256, &document.id)?;
            meta.next_document_id += 1;
            meta.next_chunk_id += chunk_count;
            dbs.meta.put(wtxn, META_KEY, &meta)?;
            Ok(document)
        })
    }

    /// Records a new modification time for a document whose content did not change.
    pub fn touch_document(&self, id: u64, modified: Option<u64>) -> Result<()> {
        self.shared.write(|wtxn| {
            let documents = self.dbs().documents;
            if let Some(mut doc) = documents.get(wtxn, &id)? {
                doc.modified = modified;
                documents.put(wtxn, &id, &doc)?;
            }
            Ok(())
        })
    }

    /// Removes a document with its chunks and vectors, and updates the trees, in one
    /// transaction.
    pub fn remove_document(&self, id: u64) -> Result<Document> {
        self.shared.write(|wtxn| {
            let mut meta = self.shared.meta_in(wtxn)?;
            let document = self
                .delete_in(wtxn, id, &mut meta)?
                .ok_or_else(|| Error::DocumentNotFound { id: id.to_string() })?;
            self.dbs().meta.put(wtxn, META_KEY, &meta)?;
            self.build_in(wtxn)?;
            Ok(document)
        })
    }

    /// Removes several documents (with their chunks, vectors and postings) and updates the
    /// trees, in one transaction; returns the records removed (ids not found are passed over).
    pub fn remove_documents(&self, ids: &[u64]) -> Result<Vec<Document>> {
        self.shared.write(|wtxn| {
            let mut meta = self.shared.meta_in(wtxn)?;
            let mut removed = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(document) = self.delete_in(wtxn, *id, &mut meta)? {
                    removed.push(document);
                }
            }
            self.dbs().meta.put(wtxn, META_KEY, &meta)?;
            self.build_in(wtxn)?;
            Ok(removed)
        })
    }

    /// Re-points document `id` at another source (a moved or renamed file with the same
    /// content): its record and the `sources` lookup change in one transaction; its chunks,
    /// vectors and postings stay as they are (nothing is re-embedded).
    pub fn move_document(
        &self,
        id: u64,
        source: &str,
        name: &str,
        modified: Option<u64>,
    ) -> Result<Document> {
        self.shared.write(|wtxn| {
            let dbs = self.dbs();
            let mut document = dbs
                .documents
                .get(wtxn, &id)?
                .ok_or_else(|| Error::DocumentNotFound { id: id.to_string() })?;
            if let Some(other) = dbs.sources.get(wtxn, source)? {
                if other != id {
                    return Err(Error::InvalidInput(format!(
                        "cannot move document {id} to {source}: document {other} is indexed from there"
                    ))
                    .into());
                }
            }
            if dbs.sources.get(wtxn, &document.source)? == Some(id) {
                dbs.sources.delete(wtxn, &document.source)?;
            }
            document.source = source.to_string();
            document.name = name.to_string();
            document.modified = modified;
            dbs.sources.put(wtxn, source, &id)?;
            dbs.documents.put(wtxn, &id, &document)?;
            Ok(document)
        })
    }

    /// Deletes a document's records, chunks, vectors and postings inside `wtxn`; returns the
    /// record.
    fn delete_in(
        &self,
        wtxn: &mut RwTxn<'_>,
        id: u64,
        meta: &mut IndexMeta,
    ) -> StorageResult<Option<Document>> {
        self.check_active(meta)?;
        let dbs = self.dbs();
        let Some(document) = dbs.documents.get(wtxn, &id)? else {
            return Ok(None);
        };
        let writer = self.writer();
        for chunk_id in document.chunk_ids() {
            if let Some(chunk) = dbs.chunks.get(wtxn, &chunk_id)? {
                self.change_postings(wtxn, Change::Remove, (chunk_id, &chunk.text), meta)?;
            }
            dbs.chunks.delete(wtxn, &chunk_id)?;
            writer.del_item(wtxn, chunk_id)?;
        }
        dbs.documents.delete(wtxn, &id)?;
        if dbs.sources.get(wtxn, &document.source)? == Some(id) {
            dbs.sources.delete(wtxn, &document.source)?;
        }
        if dbs.hashes.get(wtxn, &document.sha256)? == Some(id) {
            dbs.hashes.delete(wtxn, &document.sha256)?;
        }
        Ok(Some(document))
    }
}
