//! The ingestion pipeline: from paths to indexed documents.
//!
//! Files are discovered (folders recursively, globs expanded), then a loader thread reads,
//! hashes, parses and chunks them while the calling thread embeds the chunks and writes each
//! document in its own transaction. A document's chunks are embedded in batches of similar
//! length (see [`crate::embed::batching`]), so little time goes to padding. Unchanged files (same size and mtime, or same content
//! hash) cost no parsing or embedding. A file that fails is reported and never stops the
//! others.

use std::collections::HashMap;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::chunk::Chunker;
use crate::embed::batching::embed_by_length;
use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::index::{Document, Index, NewDocument, StoredChunk};
use crate::ingest::{self, is_supported_name, LoadNote, LoadOptions, NoteKind};

/// What a progress callback tells the ingest run: go on, or stop after the document in
/// flight (every document already written stays committed).
pub type Flow = ControlFlow<()>;

/// Ingests files into an index.
pub trait Ingestor: Send + Sync {
    /// Ingests files, folders (recursively) and glob patterns, reporting progress to
    /// `progress`. When `progress` returns [`ControlFlow::Break`], the run finishes the
    /// document in flight, skips the rest, brings the vector trees up to date and returns a
    /// report with [`IngestReport::cancelled`] set.
    fn ingest(
        &self,
        inputs: &[PathBuf],
        progress: &dyn Fn(&IngestEvent) -> Flow,
    ) -> Result<IngestReport>;

    /// Ingests one document given as bytes (an upload); `name` is cleaned by
    /// [`crate::names::upload_name`] and kept as its display name and format hint, never used
    /// as a path. New content is always a new document: another upload with the same name
    /// never replaces it (see [`Ingestor::replace_bytes`]).
    fn ingest_bytes(&self, name: &str, bytes: &[u8]) -> Result<FileReport>;

    /// Replaces document `id` with uploaded bytes, in one transaction (the old chunks and
    /// vectors go, the new ones come). Fails with `document_not_found` when there is no such
    /// document.
    fn replace_bytes(&self, id: u64, name: &str, bytes: &[u8]) -> Result<FileReport>;
}

/// What happened to one file.
#[derive(Debug)]
pub enum FileStatus {
    /// Indexed for the first time.
    Added {
        /// The new document.
        document: Document,
    },
    /// Its content changed; the old chunks were replaced.
    Replaced {
        /// The new document record.
        document: Document,
        /// The id the document had before.
        previous_id: u64,
    },
    /// Already indexed with the same content: nothing was parsed or embedded.
    Unchanged {
        /// The existing document id.
        document_id: u64,
    },
    /// The same content is already indexed from another source.
    Duplicate {
        /// The document holding that content (0 when it is being written in this same run).
        document_id: u64,
        /// Its source.
        source: String,
    },
    /// Found while walking a folder but not a supported format; not an error.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Could not be ingested; nothing of it was written.
    Failed {
        /// What went wrong.
        error: Error,
    },
}

impl FileStatus {
    /// A short word for the status: `added`, `replaced`, `unchanged`, `duplicate`, `skipped`
    /// or `failed`.
    pub fn label(&self) -> &'static str {
        match self {
            FileStatus::Added { .. } => "added",
            FileStatus::Replaced { .. } => "replaced",
            FileStatus::Unchanged { .. } => "unchanged",
            FileStatus::Duplicate { .. } => "duplicate",
            FileStatus::Skipped { .. } => "skipped",
            FileStatus::Failed { .. } => "failed",
        }
    }

    /// The document written, for `Added` and `Replaced`.
    pub fn document(&self) -> Option<&Document> {
        match self {
            FileStatus::Added { document } | FileStatus::Replaced { document, .. } => {
                Some(document)
            }
            _ => None,
        }
    }

    /// The error, for `Failed`.
    pub fn error(&self) -> Option<&Error> {
        match self {
            FileStatus::Failed { error } => Some(error),
            _ => None,
        }
    }
}

/// The outcome for one file.
#[derive(Debug, Serialize)]
pub struct FileReport {
    /// The file (or upload name).
    pub path: PathBuf,
    /// What happened.
    #[serde(flatten)]
    pub status: FileStatus,
}

impl Serialize for FileStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("status", self.label())?;
        match self {
            FileStatus::Added { document } => map.serialize_entry("document", document)?,
            FileStatus::Replaced {
                document,
                previous_id,
            } => {
                map.serialize_entry("document", document)?;
                map.serialize_entry("previous_id", previous_id)?;
            }
            FileStatus::Unchanged { document_id } => {
                map.serialize_entry("document_id", document_id)?
            }
            FileStatus::Duplicate {
                document_id,
                source,
            } => {
                map.serialize_entry("document_id", document_id)?;
                map.serialize_entry("duplicate_of", source)?;
            }
            FileStatus::Skipped { reason } => map.serialize_entry("reason", reason)?,
            FileStatus::Failed { error } => map.serialize_entry("error", error)?,
        }
        map.end()
    }
}

/// Totals of an ingest run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestTotals {
    /// Files newly indexed.
    pub added: usize,
    /// Files re-indexed because their content changed.
    pub replaced: usize,
    /// Files already indexed.
    pub unchanged: usize,
    /// Files whose content was already indexed from another source.
    pub duplicates: usize,
    /// Files skipped as unsupported while walking folders.
    pub skipped: usize,
    /// Files that failed.
    pub failed: usize,
    /// Pages read (paged formats).
    pub pages: u64,
    /// Chunks written.
    pub chunks: u64,
    /// Tokens over the chunks written.
    pub tokens: u64,
    /// Bytes of the files parsed.
    pub bytes: u64,
    /// Wall time of the run.
    #[serde(with = "secs")]
    pub elapsed: Duration,
    /// Time spent inside the embedding model.
    #[serde(with = "secs")]
    pub embedding_time: Duration,
}

mod secs {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// The outcome of an ingest run: one report per file, in the order they finished.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    /// Per-file outcomes.
    pub files: Vec<FileReport>,
    /// Totals.
    pub totals: IngestTotals,
    /// Whether the progress callback stopped the run: the files after the last report were
    /// not read.
    pub cancelled: bool,
}

impl IngestReport {
    /// The files that failed.
    pub fn failures(&self) -> impl Iterator<Item = &FileReport> {
        self.files
            .iter()
            .filter(|f| matches!(f.status, FileStatus::Failed { .. }))
    }

    /// Whether every file was ingested (or was already).
    pub fn is_success(&self) -> bool {
        self.totals.failed == 0
    }
}

/// Progress of an ingest run.
#[derive(Debug)]
#[non_exhaustive]
pub enum IngestEvent<'a> {
    /// The inputs were expanded to this many files.
    Discovered {
        /// Number of files.
        files: usize,
        /// Their total size in bytes (the unit in which progress is honest: a large file
        /// weighs what it costs).
        bytes: u64,
    },
    /// Some of a file's chunks were embedded: progress inside a large file.
    Embedded {
        /// The file.
        path: &'a Path,
        /// Chunks embedded so far.
        chunks_done: usize,
        /// Chunks in the file.
        chunks_total: usize,
        /// The file's size in bytes (its share of [`IngestEvent::Discovered::bytes`]).
        file_bytes: u64,
    },
    /// A file is done.
    File(&'a FileReport),
    /// All files are done; the vector trees are being updated.
    BuildingIndex,
}

/// The default [`Ingestor`]: loaders, [`Chunker`], an [`Embedder`] and an [`Index`].
pub struct Pipeline {
    index: Index,
    embedder: Arc<dyn Embedder>,
    chunker: Chunker,
    load_options: LoadOptions,
    /// Chunks embedded per call, so progress moves and searches interleave.
    batch_size: usize,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("index", &self.index)
            .field("chunker", &self.chunker)
            .finish()
    }
}

/// A file found while expanding the inputs.
#[derive(Debug)]
pub(crate) enum Found {
    /// A file to ingest; `explicit` when the user named it (not found by walking).
    File { path: PathBuf, explicit: bool },
    /// Something met while walking a folder that is not a regular file (a FIFO, a device,
    /// a socket, or a link to one): reported as skipped, never opened.
    Special { path: PathBuf, kind: &'static str },
    /// An input that could not be used.
    Bad { path: PathBuf, error: Error },
}

/// A document parsed and chunked, waiting to be embedded and written.
struct Prepared {
    path: PathBuf,
    new: NewDocument,
    replaces: Option<u64>,
    bytes: u64,
}

impl Prepared {
    /// The report of a document that could not be committed.
    fn failed(self, error: Error) -> FileReport {
        FileReport {
            path: self.path,
            status: FileStatus::Failed { error },
        }
    }
}

// One value per file through a two-slot channel: boxing the report would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Work {
    Ready(Box<Prepared>),
    Done(FileReport),
}

fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Expands files, folders and glob patterns into the files to ingest, sorted per input.
pub(crate) fn discover(inputs: &[PathBuf]) -> Vec<Found> {
    let mut found = Vec::new();
    for input in inputs {
        let text = input.to_string_lossy();
        if !input.exists() && has_glob(&text) {
            match glob::glob(&text) {
                Ok(paths) => {
                    let mut any = false;
                    for entry in paths {
                        any = true;
                        match entry {
                            Ok(path) if path.is_dir() => walk(&path, &mut found),
                            Ok(path) => found.push(Found::File {
                                path,
                                explicit: true,
                            }),
                            Err(e) => {
                                let path = e.path().to_path_buf();
                                found.push(Found::Bad {
                                    error: Error::io(&path, e.into()),
                                    path,
                                })
                            }
                        }
                    }
                    if !any {
                        found.push(Found::Bad {
                            path: input.clone(),
                            error: Error::PathNotFound {
                                path: input.clone(),
                            },
                        });
                    }
                }
                Err(e) => found.push(Found::Bad {
                    path: input.clone(),
                    error: Error::InvalidInput(format!("bad glob pattern '{text}': {e}")),
                }),
            }
        } else if input.is_dir() {
            walk(input, &mut found);
        } else if input.exists() {
            found.push(Found::File {
                path: input.clone(),
                explicit: true,
            });
        } else {
            found.push(Found::Bad {
                path: input.clone(),
                error: Error::PathNotFound {
                    path: input.clone(),
                },
            });
        }
    }
    found
}

fn walk(dir: &Path, found: &mut Vec<Found>) {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_file() => found.push(Found::File {
                path: entry.into_path(),
                explicit: false,
            }),
            Ok(entry) if entry.file_type().is_dir() => {}
            Ok(entry) => found.push(Found::Special {
                kind: file_kind(&entry.file_type()),
                path: entry.into_path(),
            }),
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                let error = match e.into_io_error() {
                    Some(io) => Error::io(&path, io),
                    None => Error::InvalidInput(format!("{}: symbolic link loop", path.display())),
                };
                found.push(Found::Bad { path, error });
            }
        }
    }
}

/// What a file type is, in words, for everything that is not a regular file.
fn file_kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a broken symbolic link"
    } else {
        "not a regular file"
    }
}

/// Reads a regular file of at most `limit` bytes. The type is checked before opening (so a
/// FIFO is never opened and cannot block) and again on the opened handle; the size is
/// checked before reading and while reading (a file that grows is cut off at the limit).
pub(crate) fn read_regular_file(
    path: &Path,
    meta: &std::fs::Metadata,
    limit: u64,
) -> Result<Vec<u8>> {
    let not_regular = |file_type: &std::fs::FileType| Error::NotARegularFile {
        path: path.to_path_buf(),
        kind: file_kind(file_type).to_string(),
    };
    let too_large = |what: &str| Error::DocumentTooLarge {
        path: path.to_path_buf(),
        what: what.to_string(),
        limit,
        setting: "loading.max_file_bytes".into(),
    };
    if !meta.is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    if meta.len() > limit {
        return Err(too_large("the file"));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let opened = file.metadata().map_err(|e| Error::io(path, e))?;
    if !opened.is_file() {
        return Err(not_regular(&opened.file_type()));
    }
    let capacity = usize::try_from(opened.len().min(limit)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large("the file (it grew while being read)"));
    }
    Ok(bytes)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn mtime_secs(meta: &std::fs::Metadata) -> Option<u64> {
    meta.modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

impl Pipeline {
    /// A pipeline writing into `index`.
    pub fn new(
        index: Index,
        embedder: Arc<dyn Embedder>,
        chunker: Chunker,
        load_options: LoadOptions,
    ) -> Self {
        Pipeline {
            index,
            embedder,
            chunker,
            load_options,
            batch_size: 32,
        }
    }

    /// Sets how many chunks are embedded per call (progress is reported after each call).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The index written to.
    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    /// The loader settings (limits, OCR).
    pub(crate) fn load_options(&self) -> &LoadOptions {
        &self.load_options
    }

    /// Whether a file is read at all: one named by the user always is, one found by walking a
    /// folder only when its name is of a supported format (or a known text name).
    pub(crate) fn wanted(path: &Path, explicit: bool) -> bool {
        explicit || is_supported_name(path) || looks_like_text_name(path)
    }

    /// Records the outcome of a file in the per-file status: a failure is kept (with the
    /// file's size and mtime, so a sync retries it only once it changed), any other outcome
    /// forgets an earlier failure. Files that vanished are not recorded.
    fn note_status(&self, file: &FileReport) -> Result<()> {
        match &file.status {
            FileStatus::Failed {
                error: Error::PathNotFound { .. },
            } => Ok(()),
            FileStatus::Failed { error } => {
                let Ok(source) = file.path.canonicalize() else {
                    return Ok(());
                };
                let meta = std::fs::metadata(&source).ok();
                let record = crate::index::FailureRecord::new(
                    source.to_string_lossy().into_owned(),
                    error,
                    meta.as_ref().map(|m| m.len()),
                    meta.as_ref().and_then(mtime_secs),
                );
                self.index.record_failure(&record)
            }
            FileStatus::Skipped { .. } => Ok(()),
            _ => {
                let source = match file.status.document() {
                    Some(doc) => doc.source.clone(),
                    None => match file.path.canonicalize() {
                        Ok(p) => p.to_string_lossy().into_owned(),
                        Err(_) => return Ok(()),
                    },
                };
                self.index.clear_failure(&source).map(|_| ())
            }
        }
    }

    /// Parses and chunks one document; `Err` is a per-file failure.
    #[allow(clippy::too_many_arguments)]
    fn prepare(
        &self,
        path: &Path,
        source: String,
        name: String,
        bytes: &[u8],
        modified: Option<u64>,
        replacing: Option<u64>,
        pending: &mut HashMap<String, String>,
    ) -> std::result::Result<Work, Error> {
        let sha256 = sha256_hex(bytes);
        // The same content earlier in this run, not yet written.
        if let Some(first) = pending.get(&sha256) {
            if *first != source {
                return Ok(Work::Done(FileReport {
                    path: path.to_path_buf(),
                    status: FileStatus::Duplicate {
                        document_id: 0,
                        source: first.clone(),
                    },
                }));
            }
        }
        let existing = match replacing {
            Some(id) => Some(
                self.index
                    .document(id)?
                    .ok_or_else(|| Error::DocumentNotFound { id: id.to_string() })?,
            ),
            None => self.index.document_by_source(&source)?,
        };
        if let Some(doc) = &existing {
            if doc.sha256 == sha256 {
                if doc.modified != modified {
                    self.index.touch_document(doc.id, modified)?;
                }
                return Ok(Work::Done(FileReport {
                    path: path.to_path_buf(),
                    status: FileStatus::Unchanged {
                        document_id: doc.id,
                    },
                }));
            }
        }
        if let Some(doc) = self.index.document_by_hash(&sha256)? {
            if doc.source != source && Some(doc.id) != replacing {
                return Ok(Work::Done(FileReport {
                    path: path.to_path_buf(),
                    status: FileStatus::Duplicate {
                        document_id: doc.id,
                        source: doc.source,
                    },
                }));
            }
        }
        if bytes.is_empty() {
            return Err(Error::EmptyDocument {
                path: path.to_path_buf(),
                reason: "the file is empty (0 bytes)".into(),
            });
        }
        pending.insert(sha256.clone(), source.clone());
        let options = &self.load_options;
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ingest::load_bytes(path, bytes, options)
        }))
        .map_err(|panic| Error::CorruptDocument {
            path: path.to_path_buf(),
            format: "document".into(),
            reason: format!("the parser crashed: {}", panic_message(&panic)),
            source: None,
        })??;
        let chunks = self.chunker.chunk(&loaded)?;
        if chunks.is_empty() {
            return Err(Error::EmptyDocument {
                path: path.to_path_buf(),
                reason: "no text left after extraction".into(),
            });
        }
        let mut notes = loaded.notes.clone();
        if let Some(message) = self.embedder.language_note(&loaded.text()) {
            notes.push(LoadNote {
                kind: NoteKind::Language,
                pages: Vec::new(),
                message,
            });
        }
        let stored = chunks
            .into_iter()
            .map(|c| StoredChunk {
                document_id: 0,
                ordinal: c.ordinal,
                text: c.text,
                page: c.page,
                section: c.section,
                span: c.span,
                tokens: c.tokens,
            })
            .collect();
        let document = Document {
            id: 0,
            source,
            name,
            title: loaded.title.clone(),
            format: loaded.format,
            media_type: loaded.format.media_type().to_string(),
            sha256,
            size: bytes.len() as u64,
            modified,
            page_count: loaded.page_count,
            ocr_pages: loaded.ocr_pages.clone(),
            notes,
            first_chunk: 0,
            chunk_count: 0,
            token_count: 0,
            ingested_at: 0,
        };
        Ok(Work::Ready(Box::new(Prepared {
            path: path.to_path_buf(),
            new: NewDocument {
                document,
                chunks: stored,
                vectors: Vec::new(),
            },
            replaces: existing.map(|d| d.id),
            bytes: bytes.len() as u64,
        })))
    }

    /// Reads a file and prepares it, turning every error into a failed report.
    fn prepare_file(
        &self,
        path: &Path,
        explicit: bool,
        pending: &mut HashMap<String, String>,
    ) -> Work {
        let failed = |error: Error| {
            Work::Done(FileReport {
                path: path.to_path_buf(),
                status: FileStatus::Failed { error },
            })
        };
        if !Self::wanted(path, explicit) {
            return Work::Done(FileReport {
                path: path.to_path_buf(),
                status: FileStatus::Skipped {
                    reason: "not a supported format".into(),
                },
            });
        }
        let absolute = match path.canonicalize() {
            Ok(p) => p,
            Err(e) => return failed(Error::io(path, e)),
        };
        let meta = match std::fs::metadata(&absolute) {
            Ok(m) => m,
            Err(e) => return failed(Error::io(path, e)),
        };
        let source = absolute.to_string_lossy().into_owned();
        let modified = mtime_secs(&meta);
        // Fast path: same size and mtime as the indexed copy means nothing to do.
        match self.index.document_by_source(&source) {
            Ok(Some(doc)) if doc.size == meta.len() && doc.modified == modified => {
                return Work::Done(FileReport {
                    path: path.to_path_buf(),
                    status: FileStatus::Unchanged {
                        document_id: doc.id,
                    },
                });
            }
            Ok(_) => {}
            Err(e) => return failed(e),
        }
        let bytes = match read_regular_file(&absolute, &meta, self.load_options.max_file_bytes) {
            Ok(b) => b,
            Err(e) => return failed(e),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| source.clone());
        match self.prepare(path, source, name, &bytes, modified, None, pending) {
            Ok(work) => work,
            Err(error) => failed(error),
        }
    }

    /// Embeds a prepared document batch by batch (reporting each batch to `progress`, and
    /// leaving the embedder free between batches for searches) and writes it in one
    /// transaction; returns its report and the time spent embedding.
    fn commit(
        &self,
        mut prepared: Prepared,
        progress: &dyn Fn(&IngestEvent) -> Flow,
    ) -> (FileReport, Duration) {
        let (embedded, embedding_time) = self.embed(&mut prepared, progress);
        let report = match embedded {
            Ok(()) => self.write(prepared),
            Err(error) => prepared.failed(error),
        };
        (report, embedding_time)
    }

    /// Embeds a prepared document's chunks into `prepared.new.vectors`, batch by batch
    /// (reporting each batch to `progress`); returns the time it took.
    fn embed(
        &self,
        prepared: &mut Prepared,
        progress: &dyn Fn(&IngestEvent) -> Flow,
    ) -> (Result<()>, Duration) {
        let started = Instant::now();
        let chunks = &prepared.new.chunks;
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        let lengths: Vec<u32> = chunks.iter().map(|c| c.tokens).collect();
        // Batches of similar length (less padding); the vectors come back in chunk order.
        let embedded = embed_by_length(
            self.embedder.as_ref(),
            &texts,
            &lengths,
            self.batch_size,
            |done| {
                // The document in flight is always finished: a stop request is honoured by
                // the caller once it is written.
                let _ = progress(&IngestEvent::Embedded {
                    path: &prepared.path,
                    chunks_done: done,
                    chunks_total: texts.len(),
                    file_bytes: prepared.bytes,
                });
            },
        );
        let result = embedded.map(|vectors| prepared.new.vectors = vectors);
        (result, started.elapsed())
    }

    /// Writes an embedded document (its chunks, vectors and keyword postings) in one
    /// transaction.
    fn write(&self, prepared: Prepared) -> FileReport {
        let status = match self.index.write_document(prepared.new, prepared.replaces) {
            Ok(document) => match prepared.replaces {
                Some(previous_id) => FileStatus::Replaced {
                    document,
                    previous_id,
                },
                None => FileStatus::Added { document },
            },
            Err(error) => FileStatus::Failed { error },
        };
        FileReport {
            path: prepared.path,
            status,
        }
    }

    fn record(totals: &mut IngestTotals, report: &FileReport, bytes: u64) {
        match &report.status {
            FileStatus::Added { document } | FileStatus::Replaced { document, .. } => {
                if matches!(report.status, FileStatus::Added { .. }) {
                    totals.added += 1;
                } else {
                    totals.replaced += 1;
                }
                totals.chunks += u64::from(document.chunk_count);
                totals.tokens += document.token_count;
                totals.pages += u64::from(document.page_count.unwrap_or(0));
                totals.bytes += bytes;
            }
            FileStatus::Unchanged { .. } => totals.unchanged += 1,
            FileStatus::Duplicate { .. } => totals.duplicates += 1,
            FileStatus::Skipped { .. } => totals.skipped += 1,
            FileStatus::Failed { .. } => totals.failed += 1,
        }
    }
}

/// Names without an extension that are commonly plain text (README, copyright, ...).
fn looks_like_text_name(path: &Path) -> bool {
    path.extension().is_none()
        && path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            let lower = n.to_ascii_lowercase();
            [
                "readme",
                "copyright",
                "license",
                "changelog",
                "news",
                "install",
            ]
            .iter()
            .any(|known| lower.starts_with(known))
        })
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Ingestor for Pipeline {
    fn ingest(
        &self,
        inputs: &[PathBuf],
        progress: &dyn Fn(&IngestEvent) -> Flow,
    ) -> Result<IngestReport> {
        self.ingest_found(discover(inputs), progress)
    }

    fn ingest_bytes(&self, name: &str, bytes: &[u8]) -> Result<FileReport> {
        self.ingest_upload(name, bytes, None, &|_| Flow::Continue(()))
    }

    fn replace_bytes(&self, id: u64, name: &str, bytes: &[u8]) -> Result<FileReport> {
        if self.index.document(id)?.is_none() {
            return Err(Error::DocumentNotFound { id: id.to_string() });
        }
        self.ingest_upload(name, bytes, Some(id), &|_| Flow::Continue(()))
    }
}

impl Pipeline {
    /// Ingests files already discovered (by [`discover`], or chosen by a sync): the body of
    /// [`Ingestor::ingest`].
    pub(crate) fn ingest_found(
        &self,
        found: Vec<Found>,
        progress: &dyn Fn(&IngestEvent) -> Flow,
    ) -> Result<IngestReport> {
        let started = Instant::now();
        let bytes = found
            .iter()
            .filter_map(|f| match f {
                Found::File { path, .. } => std::fs::metadata(path).ok().filter(|m| m.is_file()),
                _ => None,
            })
            .map(|m| m.len())
            .sum();
        let mut report = IngestReport::default();
        if progress(&IngestEvent::Discovered {
            files: found.len(),
            bytes,
        })
        .is_break()
        {
            report.cancelled = true;
            report.totals.elapsed = started.elapsed();
            return Ok(report);
        }
        // Three threads, one document apart: parsing runs ahead of embedding, and writing
        // (keyword analysis and the LMDB transaction) runs behind it while the next document
        // embeds. Parsing and writing run at a lower priority, in the gaps the embedding
        // model leaves on the cores. A document's report is given once it is written, and
        // the next one is handed to the writer only after that report was accepted, so a
        // stop request still stops right after the document in flight.
        let (sender, receiver) = mpsc::sync_channel::<(Work, u64)>(2);
        let (to_writer, writer_inbox) = mpsc::sync_channel::<(Prepared, u64)>(1);
        let (written_sender, written) = mpsc::channel::<(FileReport, u64)>();
        let mut embedding_time_total = Duration::ZERO;
        let mut go_on = true;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                crate::thread_priority::lower_current_thread(
                    crate::thread_priority::BACKGROUND_NICE,
                );
                let mut pending = HashMap::new();
                for item in found {
                    let work = match item {
                        Found::File { path, explicit } => {
                            self.prepare_file(&path, explicit, &mut pending)
                        }
                        Found::Special { path, kind } => Work::Done(FileReport {
                            path,
                            status: FileStatus::Skipped {
                                reason: format!("{kind}, not a regular file"),
                            },
                        }),
                        Found::Bad { path, error } => Work::Done(FileReport {
                            path,
                            status: FileStatus::Failed { error },
                        }),
                    };
                    let bytes = match &work {
                        Work::Ready(p) => p.bytes,
                        Work::Done(_) => 0,
                    };
                    if sender.send((work, bytes)).is_err() {
                        break;
                    }
                }
            });
            scope.spawn(move || {
                crate::thread_priority::lower_current_thread(
                    crate::thread_priority::BACKGROUND_NICE,
                );
                for (prepared, bytes) in writer_inbox {
                    if written_sender.send((self.write(prepared), bytes)).is_err() {
                        break;
                    }
                }
            });
            // Reports a finished file; false when `progress` asks to stop.
            let mut finish = |file: FileReport, bytes: u64| -> bool {
                Self::record(&mut report.totals, &file, bytes);
                if let Err(e) = self.note_status(&file) {
                    tracing::warn!("cannot record the status of {}: {e}", file.path.display());
                }
                let flow = progress(&IngestEvent::File(&file));
                report.files.push(file);
                flow.is_continue()
            };
            // The report of the document being written, once it is.
            let writing_done = |in_flight: &mut bool| {
                if std::mem::take(in_flight) {
                    written.recv().ok()
                } else {
                    None
                }
            };
            let mut in_flight = false;
            for (work, bytes) in receiver {
                let done = match work {
                    Work::Done(file) => Some(file),
                    Work::Ready(mut prepared) => {
                        let (embedded, embedding_time) = self.embed(&mut prepared, progress);
                        embedding_time_total += embedding_time;
                        match embedded {
                            Ok(()) => {
                                if let Some((file, bytes)) = writing_done(&mut in_flight) {
                                    go_on = finish(file, bytes);
                                }
                                if !go_on {
                                    // Embedded but not written: a stop keeps nothing of it.
                                    break;
                                }
                                match to_writer.send((*prepared, bytes)) {
                                    Ok(()) => in_flight = true,
                                    Err(mpsc::SendError((prepared, bytes))) => {
                                        let error = Error::Index {
                                            reason: "the index writer thread stopped".into(),
                                            source: None,
                                        };
                                        go_on = finish(prepared.failed(error), bytes);
                                    }
                                }
                                None
                            }
                            Err(error) => Some(prepared.failed(error)),
                        }
                    }
                };
                if let Some(file) = done {
                    // Reports stay in input order: the document being written comes first.
                    if let Some((written_file, written_bytes)) = writing_done(&mut in_flight) {
                        go_on = finish(written_file, written_bytes);
                    }
                    go_on = go_on && finish(file, bytes);
                }
                if !go_on {
                    // Dropping the receiver stops the loader thread at its next send; the
                    // document it may have parsed ahead is discarded, nothing of it written.
                    break;
                }
            }
            drop(to_writer);
            if let Some((file, bytes)) = writing_done(&mut in_flight) {
                go_on = finish(file, bytes) && go_on;
            }
        });
        report.totals.embedding_time += embedding_time_total;
        report.cancelled = !go_on;
        let _ = progress(&IngestEvent::BuildingIndex);
        self.index.build_trees()?;
        report.totals.elapsed = started.elapsed();
        Ok(report)
    }

    /// An upload's source key: its content hash and its display name, so two uploads with
    /// the same name and different contents are two documents.
    fn upload_source(display: &str, sha256: &str) -> String {
        format!("upload:{}/{display}", &sha256[..16.min(sha256.len())])
    }

    /// Ingests (or, with `replacing`, replaces a document by) one upload, reporting the
    /// embedding of its chunks to `progress` ([`IngestEvent::Embedded`]).
    pub(crate) fn ingest_upload(
        &self,
        name: &str,
        bytes: &[u8],
        replacing: Option<u64>,
        progress: &dyn Fn(&IngestEvent) -> Flow,
    ) -> Result<FileReport> {
        let display = crate::names::upload_name(name);
        let path = PathBuf::from(&display);
        if bytes.len() as u64 > self.load_options.max_file_bytes {
            return Ok(FileReport {
                status: FileStatus::Failed {
                    error: Error::DocumentTooLarge {
                        path: path.clone(),
                        what: "the upload".into(),
                        limit: self.load_options.max_file_bytes,
                        setting: "loading.max_file_bytes".into(),
                    },
                },
                path,
            });
        }
        let source = Self::upload_source(&display, &sha256_hex(bytes));
        let work = self.prepare(
            &path,
            source,
            display.clone(),
            bytes,
            None,
            replacing,
            &mut HashMap::new(),
        );
        let report = match work {
            Ok(Work::Done(report)) => report,
            Ok(Work::Ready(prepared)) => self.commit(*prepared, progress).0,
            Err(error @ Error::DocumentNotFound { .. }) => return Err(error),
            Err(error) => FileReport {
                path,
                status: FileStatus::Failed { error },
            },
        };
        self.index.build_trees()?;
        Ok(report)
    }
}
