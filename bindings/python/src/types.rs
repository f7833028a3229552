//! The Python shapes of the core's types: the result classes (thin read-only wrappers over
//! the core's types, with a `repr` that shows what matters and `to_dict()`, the core's own
//! serde serialisation, for JSON services), and the conversions of method arguments and of
//! vectors.

use std::path::PathBuf;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::error;

/// `json.loads(serde_json::to_string(value))`: the core's serialisation as Python objects.
pub fn to_python<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// A short, one-line preview of a text for `repr`.
fn preview(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    format!("{cut}\u{2026}")
}

/// Python-style repr of a string (quotes and escapes).
fn pyrepr(py: Python<'_>, text: &str) -> String {
    pyo3::types::PyString::new(py, text)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| format!("'{text}'"))
}

fn opt_repr(py: Python<'_>, value: Option<&str>) -> String {
    value.map_or_else(|| "None".to_string(), |v| pyrepr(py, v))
}

/// A retrieved passage with where it came from.
#[pyclass(frozen, module = "itassist")]
#[derive(Clone)]
pub struct Passage(pub itassist::Passage);

#[pymethods]
impl Passage {
    /// Chunk id in the index.
    #[getter]
    fn chunk_id(&self) -> u32 {
        self.0.chunk_id
    }
    /// Id of the document the passage belongs to.
    #[getter]
    fn document_id(&self) -> u64 {
        self.0.document_id
    }
    /// The document's source: an absolute file path, or `upload:NAME`.
    #[getter]
    fn source(&self) -> &str {
        &self.0.source
    }
    /// The document's display name.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// The document's title, when known.
    #[getter]
    fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// 1-based page, for paged documents.
    #[getter]
    fn page(&self) -> Option<u32> {
        self.0.page
    }
    /// Heading the passage sits under, for structured documents.
    #[getter]
    fn section(&self) -> Option<&str> {
        self.0.section.as_deref()
    }
    /// The passage text.
    #[getter]
    fn text(&self) -> &str {
        &self.0.text
    }
    /// Relevance score, higher is better (cosine similarity).
    #[getter]
    fn score(&self) -> f32 {
        self.0.score
    }
    /// Byte range `(start, end)` of the passage in the document text.
    #[getter]
    fn span(&self) -> (usize, usize) {
        self.0.span
    }
    /// The source as a path, or `None` for an upload.
    #[getter]
    fn path(&self) -> Option<std::path::PathBuf> {
        self.0.path()
    }
    /// A short human-readable citation: name plus page or section.
    fn citation(&self) -> String {
        self.0.citation()
    }
    /// The passage as a dict of plain values.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.0)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Passage>().is_ok_and(|o| o.get().0 == self.0)
    }
    fn __hash__(&self) -> u64 {
        (self.0.document_id << 32) ^ u64::from(self.0.chunk_id)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Passage(score={:.3}, citation={}, text={})",
            self.0.score,
            pyrepr(py, &self.0.citation()),
            pyrepr(py, &preview(&self.0.text, 60))
        )
    }
}

/// A document in the index.
#[pyclass(frozen, module = "itassist")]
#[derive(Clone)]
pub struct Document(pub itassist::Document);

#[pymethods]
impl Document {
    /// Stable id, unique in this index.
    #[getter]
    fn id(&self) -> u64 {
        self.0.id
    }
    /// The source: an absolute file path, or `upload:NAME` for uploaded bytes.
    #[getter]
    fn source(&self) -> &str {
        &self.0.source
    }
    /// A display name (file name or the uploaded name).
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// Document title, when the format carries one.
    #[getter]
    fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// Detected format (`pdf`, `html`, `markdown`, `man`, ...).
    #[getter]
    fn format(&self) -> &'static str {
        self.0.format.name()
    }
    /// Media type.
    #[getter]
    fn media_type(&self) -> &str {
        &self.0.media_type
    }
    /// sha256 of the file content, hex.
    #[getter]
    fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// Size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.0.size
    }
    /// Modification time of the file (seconds since the epoch), when known.
    #[getter]
    fn modified(&self) -> Option<u64> {
        self.0.modified
    }
    /// Number of pages, for paged formats.
    #[getter]
    fn page_count(&self) -> Option<u32> {
        self.0.page_count
    }
    /// Pages read by OCR.
    #[getter]
    fn ocr_pages(&self) -> Vec<u32> {
        self.0.ocr_pages.clone()
    }
    /// First chunk id.
    #[getter]
    fn first_chunk(&self) -> u32 {
        self.0.first_chunk
    }
    /// Number of chunks.
    #[getter]
    fn chunk_count(&self) -> u32 {
        self.0.chunk_count
    }
    /// Total tokens over all chunks.
    #[getter]
    fn token_count(&self) -> u64 {
        self.0.token_count
    }
    /// When it was ingested (seconds since the epoch).
    #[getter]
    fn ingested_at(&self) -> u64 {
        self.0.ingested_at
    }
    /// The document as a dict of plain values.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.0)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Document>().is_ok_and(|o| o.get().0 == self.0)
    }
    fn __hash__(&self) -> u64 {
        self.0.id
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Document(id={}, name={}, format={}, chunks={}, source={})",
            self.0.id,
            pyrepr(py, &self.0.name),
            pyrepr(py, self.0.format.name()),
            self.0.chunk_count,
            pyrepr(py, &self.0.source)
        )
    }
}

/// What happened to one file of an ingest run.
#[pyclass(frozen, module = "itassist")]
pub struct FileReport(pub itassist::FileReport);

#[pymethods]
impl FileReport {
    /// The file (or upload name).
    #[getter]
    fn path(&self) -> std::path::PathBuf {
        self.0.path.clone()
    }
    /// `added`, `replaced`, `unchanged`, `duplicate`, `skipped` or `failed`.
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.label()
    }
    /// Whether the file is in the index now (added, replaced, unchanged or duplicate).
    #[getter]
    fn ok(&self) -> bool {
        !matches!(
            self.0.status,
            itassist::FileStatus::Failed { .. } | itassist::FileStatus::Skipped { .. }
        )
    }
    /// The document written (`added` and `replaced`).
    #[getter]
    fn document(&self) -> Option<Document> {
        self.0.status.document().cloned().map(Document)
    }
    /// The id of the document holding the file's content (not for `skipped` and `failed`;
    /// 0 for a duplicate of a file written in the same run).
    #[getter]
    fn document_id(&self) -> Option<u64> {
        use itassist::FileStatus as S;
        match &self.0.status {
            S::Added { document } | S::Replaced { document, .. } => Some(document.id),
            S::Unchanged { document_id } | S::Duplicate { document_id, .. } => Some(*document_id),
            _ => None,
        }
    }
    /// For `replaced`: the id the document had before.
    #[getter]
    fn previous_id(&self) -> Option<u64> {
        match &self.0.status {
            itassist::FileStatus::Replaced { previous_id, .. } => Some(*previous_id),
            _ => None,
        }
    }
    /// For `duplicate`: the source that already holds the same content.
    #[getter]
    fn duplicate_of(&self) -> Option<&str> {
        match &self.0.status {
            itassist::FileStatus::Duplicate { source, .. } => Some(source),
            _ => None,
        }
    }
    /// For `skipped`: why.
    #[getter]
    fn reason(&self) -> Option<&str> {
        match &self.0.status {
            itassist::FileStatus::Skipped { reason } => Some(reason),
            _ => None,
        }
    }
    /// For `failed`: the error code (`unsupported_format`, `corrupt_document`, ...).
    #[getter]
    fn error_code(&self) -> Option<&'static str> {
        self.0.status.error().map(itassist::Error::code)
    }
    /// For `failed`: the error, as the exception instance it would be (not raised).
    #[getter]
    fn error(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.0
            .status
            .error()
            .map(|e| error::exception(py, e).map(Bound::unbind))
            .transpose()
    }
    /// The report as a dict of plain values.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let path = pyrepr(py, &self.0.path.to_string_lossy());
        let status = self.0.status.label();
        match self.0.status.error() {
            Some(e) => format!(
                "FileReport(path={path}, status='{status}', error_code='{}', error={})",
                e.code(),
                pyrepr(py, &preview(&e.to_string(), 80))
            ),
            None => match self.document_id() {
                Some(id) => format!("FileReport(path={path}, status='{status}', document_id={id})"),
                None => format!("FileReport(path={path}, status='{status}')"),
            },
        }
    }
}

/// The outcome of an ingest run: one report per file (in the order they finished) and totals.
#[pyclass(frozen, module = "itassist")]
pub struct IngestReport {
    files: Vec<Py<FileReport>>,
    totals: itassist::pipeline::IngestTotals,
    report: itassist::IngestReport,
}

impl IngestReport {
    /// Wraps a core report.
    pub fn new(py: Python<'_>, mut report: itassist::IngestReport) -> PyResult<Self> {
        let files = std::mem::take(&mut report.files)
            .into_iter()
            .map(|f| Py::new(py, FileReport(f)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(IngestReport {
            files,
            totals: report.totals.clone(),
            report,
        })
    }
}

#[pymethods]
impl IngestReport {
    /// Per-file outcomes.
    #[getter]
    fn files(&self, py: Python<'_>) -> Vec<Py<FileReport>> {
        self.files.iter().map(|f| f.clone_ref(py)).collect()
    }
    /// The files that failed.
    fn failures(&self, py: Python<'_>) -> Vec<Py<FileReport>> {
        self.files
            .iter()
            .filter(|f| f.get().0.status.error().is_some())
            .map(|f| f.clone_ref(py))
            .collect()
    }
    /// Whether every file was ingested (or already was).
    #[getter]
    fn is_success(&self) -> bool {
        self.totals.failed == 0
    }
    /// Files newly indexed.
    #[getter]
    fn added(&self) -> usize {
        self.totals.added
    }
    /// Files re-indexed because their content changed.
    #[getter]
    fn replaced(&self) -> usize {
        self.totals.replaced
    }
    /// Files already indexed with the same content.
    #[getter]
    fn unchanged(&self) -> usize {
        self.totals.unchanged
    }
    /// Files whose content was already indexed from another source.
    #[getter]
    fn duplicates(&self) -> usize {
        self.totals.duplicates
    }
    /// Files skipped as unsupported while walking folders.
    #[getter]
    fn skipped(&self) -> usize {
        self.totals.skipped
    }
    /// Files that failed.
    #[getter]
    fn failed(&self) -> usize {
        self.totals.failed
    }
    /// Pages read (paged formats).
    #[getter]
    fn pages(&self) -> u64 {
        self.totals.pages
    }
    /// Chunks written.
    #[getter]
    fn chunks(&self) -> u64 {
        self.totals.chunks
    }
    /// Tokens over the chunks written.
    #[getter]
    fn tokens(&self) -> u64 {
        self.totals.tokens
    }
    /// Bytes of the files parsed.
    #[getter]
    fn bytes(&self) -> u64 {
        self.totals.bytes
    }
    /// Wall time of the run, in seconds.
    #[getter]
    fn elapsed(&self) -> f64 {
        self.totals.elapsed.as_secs_f64()
    }
    /// Seconds spent inside the embedding model.
    #[getter]
    fn embedding_time(&self) -> f64 {
        self.totals.embedding_time.as_secs_f64()
    }
    /// The report (files and totals) as a dict of plain values.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let dict = to_python(py, &self.report)?;
        let files = self
            .files
            .iter()
            .map(|f| to_python(py, &f.get().0))
            .collect::<PyResult<Vec<_>>>()?;
        dict.bind(py).set_item("files", files)?;
        Ok(dict)
    }
    fn __len__(&self) -> usize {
        self.files.len()
    }
    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let files = PyTuple::new(slf.py(), slf.get().files.iter())?;
        Ok(files.try_iter()?.into_any().unbind())
    }
    fn __repr__(&self) -> String {
        let t = &self.totals;
        format!(
            "IngestReport(files={}, added={}, replaced={}, unchanged={}, duplicates={}, skipped={}, failed={}, chunks={}, elapsed={:.2})",
            self.files.len(),
            t.added,
            t.replaced,
            t.unchanged,
            t.duplicates,
            t.skipped,
            t.failed,
            t.chunks,
            t.elapsed.as_secs_f64()
        )
    }
}

/// Counts and sizes of the index.
#[pyclass(frozen, module = "itassist")]
pub struct IndexStats(pub itassist::IndexStats);

#[pymethods]
impl IndexStats {
    /// The data directory.
    #[getter]
    fn data_dir(&self) -> std::path::PathBuf {
        self.0.data_dir.clone()
    }
    /// Documents indexed.
    #[getter]
    fn documents(&self) -> u64 {
        self.0.documents
    }
    /// Chunks (and vectors) indexed.
    #[getter]
    fn chunks(&self) -> u64 {
        self.0.chunks
    }
    /// Total tokens over all chunks.
    #[getter]
    fn tokens(&self) -> u64 {
        self.0.tokens
    }
    /// Bytes used on disk by the LMDB file.
    #[getter]
    fn disk_bytes(&self) -> u64 {
        self.0.disk_bytes
    }
    /// Embedding model of the vectors.
    #[getter]
    fn embedding_model(&self) -> &str {
        &self.0.embedding_model
    }
    /// Vector length.
    #[getter]
    fn dimensions(&self) -> usize {
        self.0.dimensions
    }
    /// Whether the vector search is up to date (false only while the trees of a collection
    /// large enough to use them are out of date; searches scan meanwhile).
    #[getter]
    fn trees_built(&self) -> bool {
        self.0.trees_built
    }
    /// The statistics as a dict of plain values.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "IndexStats(documents={}, chunks={}, tokens={}, disk_bytes={}, embedding_model={}, dimensions={})",
            self.0.documents,
            self.0.chunks,
            self.0.tokens,
            self.0.disk_bytes,
            pyrepr(py, &self.0.embedding_model),
            self.0.dimensions
        )
    }
}

/// A model the chat-model server has.
#[pyclass(frozen, module = "itassist")]
pub struct ModelInfo(pub itassist::ModelInfo);

#[pymethods]
impl ModelInfo {
    /// Name (`model:tag` for Ollama).
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// Size on disk in bytes.
    #[getter]
    fn size(&self) -> Option<u64> {
        self.0.size
    }
    /// Last modification time (RFC 3339).
    #[getter]
    fn modified_at(&self) -> Option<&str> {
        self.0.modified_at.as_deref()
    }
    /// Content digest.
    #[getter]
    fn digest(&self) -> Option<&str> {
        self.0.digest.as_deref()
    }
    /// Model family (`llama`, ...).
    #[getter]
    fn family(&self) -> Option<&str> {
        self.0.family.as_deref()
    }
    /// Parameter count as the server prints it (`3.2B`).
    #[getter]
    fn parameter_size(&self) -> Option<&str> {
        self.0.parameter_size.as_deref()
    }
    /// Quantisation (`Q4_K_M`).
    #[getter]
    fn quantization_level(&self) -> Option<&str> {
        self.0.quantization_level.as_deref()
    }
    /// The model as a dict of plain values.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "ModelInfo(name={}, parameter_size={}, quantization_level={})",
            pyrepr(py, &self.0.name),
            opt_repr(py, self.0.parameter_size.as_deref()),
            opt_repr(py, self.0.quantization_level.as_deref())
        )
    }
}

/// Token counts and speed of an answer.
#[pyclass(frozen, module = "itassist")]
#[derive(Clone)]
pub struct Timings(pub itassist::Timings);

#[pymethods]
impl Timings {
    /// Tokens in the prompt.
    #[getter]
    fn prompt_tokens(&self) -> Option<u64> {
        self.0.prompt_tokens
    }
    /// Tokens generated.
    #[getter]
    fn generated_tokens(&self) -> Option<u64> {
        self.0.generated_tokens
    }
    /// Generation speed.
    #[getter]
    fn tokens_per_second(&self) -> Option<f64> {
        self.0.tokens_per_second
    }
    /// Seconds until the first token arrived.
    #[getter]
    fn first_token_seconds(&self) -> Option<f64> {
        self.0.first_token_seconds
    }
    /// Seconds for the whole answer.
    #[getter]
    fn total_seconds(&self) -> Option<f64> {
        self.0.total_seconds
    }
    /// Seconds spent retrieving the passages.
    #[getter]
    fn retrieval_seconds(&self) -> Option<f64> {
        self.0.retrieval_seconds
    }
    /// Seconds spent fitting the passages and building the prompt.
    #[getter]
    fn prompt_build_seconds(&self) -> Option<f64> {
        self.0.prompt_build_seconds
    }
    /// Seconds the server spent reading the prompt, when it says.
    #[getter]
    fn prompt_eval_seconds(&self) -> Option<f64> {
        self.0.prompt_eval_seconds
    }
    /// The timings as a dict of plain values.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.0)
    }
    fn __repr__(&self) -> String {
        let f = |v: Option<f64>| v.map_or_else(|| "None".into(), |v| format!("{v:.3}"));
        let i = |v: Option<u64>| v.map_or_else(|| "None".into(), |v| v.to_string());
        format!(
            "Timings(prompt_tokens={}, generated_tokens={}, tokens_per_second={}, first_token_seconds={}, total_seconds={})",
            i(self.0.prompt_tokens),
            i(self.0.generated_tokens),
            f(self.0.tokens_per_second),
            f(self.0.first_token_seconds),
            f(self.0.total_seconds)
        )
    }
}

/// An answer with its sources.
#[pyclass(frozen, module = "itassist")]
pub struct Answer(pub itassist::Answer);

#[pymethods]
impl Answer {
    /// The question asked.
    #[getter]
    fn question(&self) -> &str {
        &self.0.question
    }
    /// The model's answer.
    #[getter]
    fn answer(&self) -> &str {
        &self.0.answer
    }
    /// The model that answered.
    #[getter]
    fn model(&self) -> &str {
        &self.0.model
    }
    /// The passages given to the model, numbered from 1 in this order.
    #[getter]
    fn sources(&self) -> Vec<Passage> {
        self.0.sources.iter().cloned().map(Passage).collect()
    }
    /// 1-based numbers of the sources the answer cites as `[n]`.
    #[getter]
    fn cited(&self) -> Vec<usize> {
        self.0.cited.clone()
    }
    /// The sources the answer cites, as `(n, passage)` pairs.
    fn cited_sources(&self) -> Vec<(usize, Passage)> {
        self.0
            .cited_sources()
            .map(|(n, p)| (n, Passage(p.clone())))
            .collect()
    }
    /// Passages retrieved but left out because they did not fit the model's window.
    #[getter]
    fn dropped_passages(&self) -> usize {
        self.0.dropped_passages
    }
    /// Token counts and speed.
    #[getter]
    fn timings(&self) -> Timings {
        Timings(self.0.timings.clone())
    }
    /// Why generation stopped: `stop`, or `length` when the answer was cut short.
    #[getter]
    fn finish_reason(&self) -> Option<&str> {
        self.0.finish_reason.as_deref()
    }
    /// The context window the prompt was fitted to, in tokens.
    #[getter]
    fn context_window(&self) -> Option<usize> {
        self.0.context_window
    }
    /// Estimated prompt tokens.
    #[getter]
    fn estimated_prompt_tokens(&self) -> Option<usize> {
        self.0.estimated_prompt_tokens
    }
    /// The query the passages were retrieved with (in a conversation, the standalone query
    /// made from it); `None` when nothing was retrieved.
    #[getter]
    fn searched_query(&self) -> Option<&str> {
        self.0.searched_query.as_deref()
    }
    /// Earlier turns of the conversation given to the model.
    #[getter]
    fn history_turns(&self) -> usize {
        self.0.history_turns
    }
    /// Earlier turns left out, oldest first and whole, because they did not fit the window.
    #[getter]
    fn dropped_turns(&self) -> usize {
        self.0.dropped_turns
    }
    /// The language the model was told to answer in (e.g. `"Spanish"`), when known.
    #[getter]
    fn language(&self) -> Option<&str> {
        self.0.language.as_deref()
    }
    /// Warnings as dicts with `code` and `message` (e.g. `context_truncated`).
    #[getter]
    fn warnings(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.0.warnings)
    }
    /// The stored conversation the turn was added to, when asked in one.
    #[getter]
    fn conversation_id(&self) -> Option<u64> {
        self.0.conversation_id
    }
    /// The answer as a dict of plain values.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_python(py, &self.0)
    }
    fn __str__(&self) -> &str {
        &self.0.answer
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Answer(model={}, answer={}, sources={}, cited={:?})",
            pyrepr(py, &self.0.model),
            pyrepr(py, &preview(&self.0.answer, 80)),
            self.0.sources.len(),
            self.0.cited
        )
    }
}

// ----- arguments and vectors -----

/// `str`, `os.PathLike` or a sequence of them.
pub fn extract_paths(paths: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(one) = paths.extract::<PathBuf>() {
        return Ok(vec![one]);
    }
    paths.extract::<Vec<PathBuf>>().map_err(|_| {
        PyTypeError::new_err("paths must be a str, an os.PathLike, or a sequence of them")
    })
}

/// `str` or a sequence of `str`.
pub fn extract_texts(texts: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(one) = texts.cast::<PyString>() {
        return Ok(vec![one.to_cow()?.into_owned()]);
    }
    texts
        .extract::<Vec<String>>()
        .map_err(|_| PyTypeError::new_err("texts must be a str or a sequence of str"))
}

/// Chat messages: a sequence of mappings with `role` and `content` (OpenAI's format), or of
/// objects with those attributes (e.g. the `openai` package's message objects).
pub fn extract_messages(
    messages: &Bound<'_, PyAny>,
) -> PyResult<Vec<itassist::ollama::ChatMessage>> {
    let bad = || {
        PyTypeError::new_err(
            "messages must be a sequence of {'role': ..., 'content': ...} dicts (OpenAI's chat format)",
        )
    };
    if messages.cast::<PyString>().is_ok() {
        return Err(bad());
    }
    let mut out = Vec::new();
    for item in messages.try_iter().map_err(|_| bad())? {
        let item = item?;
        let field = |name: &str| -> PyResult<String> {
            item.get_item(name)
                .or_else(|_| item.getattr(name))
                .and_then(|v| v.extract::<String>())
                .map_err(|_| bad())
        };
        out.push(itassist::ollama::ChatMessage {
            role: field("role")?,
            content: field("content")?,
        });
    }
    Ok(out)
}

/// A document selector: id (`int`), `Document`, path, `upload:NAME` or display name.
pub fn extract_selector(doc: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(d) = doc.cast::<Document>() {
        return Ok(d.get().0.id.to_string());
    }
    if let Ok(id) = doc.extract::<u64>() {
        return Ok(id.to_string());
    }
    if let Ok(path) = doc.extract::<PathBuf>() {
        return Ok(path.to_string_lossy().into_owned());
    }
    Err(PyTypeError::new_err(
        "doc must be a Document, an id (int), a path, 'upload:NAME' or a document name",
    ))
}

/// Vectors as a float32 array of shape `[n, dimensions]`.
pub fn vectors_to_numpy(
    py: Python<'_>,
    vectors: Vec<Vec<f32>>,
    dimensions: usize,
) -> PyResult<Py<PyAny>> {
    let rows = vectors.len();
    let mut flat = Vec::with_capacity(rows * dimensions);
    for v in vectors {
        if v.len() != dimensions {
            return Err(PyRuntimeError::new_err(format!(
                "the embedder returned a vector of length {} instead of {dimensions}",
                v.len()
            )));
        }
        flat.extend_from_slice(&v);
    }
    Ok(PyArray1::from_vec(py, flat)
        .reshape([rows, dimensions])?
        .into_any()
        .unbind())
}
