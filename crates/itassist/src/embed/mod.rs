//! Embeddings: the [`Embedder`] trait and its fastembed (ONNX Runtime) implementation.
//!
//! Which model runs, and how (pooling, query and passage prefixes, precision), is a
//! [`ModelSpec`]: from fastembed's catalogue by name ([`catalogue`]), or from a local model
//! directory's `itassist-model.json` ([`local`]). See `docs/models.md`.

pub mod batching;
pub mod catalogue;
pub mod language;
pub mod local;

use std::borrow::Cow;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use fastembed::{
    InitOptionsUserDefined, QuantizationMode, TextEmbedding, TokenizerFiles,
    UserDefinedEmbeddingModel,
};
use tokenizers::Tokenizer;

pub use catalogue::{ModelSpec, PoolingKind, Quantization};

use crate::config::EmbeddingConfig;
use crate::error::{Error, Result};

/// Turns texts into vectors.
///
/// Implementations must be deterministic: the same text always gives the same vector, so
/// that vectors stored in the index stay comparable with query vectors.
pub trait Embedder: Send + Sync {
    /// The model identifier recorded in the index.
    fn model_id(&self) -> &str;
    /// Length of every vector.
    fn dimensions(&self) -> usize;
    /// The largest input in tokens, special tokens included; longer inputs are truncated.
    fn max_tokens(&self) -> usize;
    /// The model's tokenizer with truncation off, used to size chunks in model tokens.
    fn tokenizer(&self) -> &Tokenizer;
    /// Embeds a batch of texts; returns one L2-normalised vector per text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;

    /// Embeds one search query. Implementations should answer it promptly even while a
    /// long [`Embedder::embed`] of documents runs on another thread (searches must not wait
    /// behind ingestion); the default simply calls `embed`.
    fn embed_query(&self, query: &str) -> Result<Vec<f32>> {
        self.embed(&[query])?.pop().ok_or_else(|| Error::Embedding {
            reason: "the model returned no vector for the query".into(),
            source: None,
        })
    }

    /// A warning to attach to a document whose text the model is not suited for (an
    /// English-only model and a document mostly in another language), naming the model to
    /// use instead; `None` when there is nothing to say. The default says nothing.
    fn language_note(&self, _document_text: &str) -> Option<String> {
        None
    }
}

/// ONNX Runtime session settings: the worker threads spin between the operators of a run
/// (a query's operators take microseconds, less than waking a sleeping thread for each:
/// the query embedding of `bash scripts/bench.sh scale` went from 4.08 to about 3 ms), and
/// stop spinning when the run ends, so that nothing busy-waits between runs (the CPU goes
/// to the chat model while it answers; the same bench measures the CPU used after a search).
const SESSION_CONFIG: [(&str, &str); 2] = [
    ("session.intra_op.allow_spinning", "1"),
    ("session.force_spinning_stop", "1"),
];

/// Where the ONNX Runtime library was loaded from, once it was loaded.
static ORT_LOADED: OnceLock<std::result::Result<PathBuf, RuntimeLoadFailure>> = OnceLock::new();

/// Why ONNX Runtime could not be loaded: what was tried, and the loader's own error.
#[derive(Clone)]
struct RuntimeLoadFailure {
    reason: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl RuntimeLoadFailure {
    fn new(reason: String) -> Self {
        RuntimeLoadFailure {
            reason,
            source: None,
        }
    }
}

/// Locations tried for `libonnxruntime.so` when neither the config nor `ORT_DYLIB_PATH`
/// names one.
fn candidate_runtime_paths() -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        let dir = Path::new(&home).join(".cache/itassist/onnxruntime");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut libs: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("libonnxruntime.so"))
                })
                .collect();
            libs.sort();
            found.extend(libs);
        }
    }
    for dir in ["/usr/lib", "/usr/local/lib", "/usr/lib/x86_64-linux-gnu"] {
        let lib = Path::new(dir).join("libonnxruntime.so");
        if lib.exists() {
            found.push(lib);
        }
    }
    found
}

/// Loads the ONNX Runtime shared library once per process.
///
/// The library is taken from `explicit`, else `ORT_DYLIB_PATH`, else
/// `~/.cache/itassist/onnxruntime/` (where `scripts/provision-models.sh` puts it), else the
/// system library directories. Returns the path that was loaded.
pub fn load_onnx_runtime(explicit: Option<&Path>) -> Result<PathBuf> {
    let outcome = ORT_LOADED.get_or_init(|| {
        let path = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from))
            .or_else(|| candidate_runtime_paths().into_iter().next());
        let Some(path) = path else {
            return Err(RuntimeLoadFailure::new(
                "no libonnxruntime.so was found (ORT_DYLIB_PATH is not set)".to_string(),
            ));
        };
        if !path.exists() {
            return Err(RuntimeLoadFailure::new(format!(
                "{} does not exist",
                path.display()
            )));
        }
        match ort::init_from(&path) {
            Ok(builder) => {
                // Dropping the builder keeps the loaded library; sessions create the
                // environment lazily.
                drop(builder);
                Ok(path)
            }
            Err(e) => Err(RuntimeLoadFailure {
                reason: format!("{} could not be loaded", path.display()),
                source: Some(Arc::new(e)),
            }),
        }
    });
    outcome
        .clone()
        .map_err(|failure| Error::RuntimeUnavailable {
            reason: failure.reason,
            source: failure
                .source
                .map(|e| -> crate::error::BoxError { Box::new(e) }),
        })
}

/// The fastembed implementation of [`Embedder`]: a BERT-style ONNX model run by ONNX Runtime
/// on the CPU, with the pooling and prefixes of its [`ModelSpec`] and L2 normalisation.
pub struct FastEmbedder {
    model_id: String,
    spec: ModelSpec,
    /// The local directory the model was loaded from (`None` for a hub download).
    model_dir: Option<PathBuf>,
    dimensions: usize,
    max_tokens: usize,
    tokenizer: Tokenizer,
    model: ManuallyDrop<Mutex<TextEmbedding>>,
    /// A second session for queries, opened the first time a query arrives while `model`
    /// is busy embedding documents, so searches never wait behind ingestion.
    query_model: ManuallyDrop<OnceLock<Mutex<TextEmbedding>>>,
    /// Held by the one thread that opens `query_model`; the others use `model` meanwhile.
    opening_query_model: Mutex<()>,
    /// Where the model was loaded from, to open `query_model` the same way.
    source: ModelSource,
    /// How the model was loaded, to open `query_model` the same way.
    config: EmbeddingConfig,
    batch_size: usize,
    /// The process that created the ONNX session; see the `Drop` impl.
    owner_pid: u32,
}

impl Drop for FastEmbedder {
    fn drop(&mut self) {
        // An ONNX Runtime session's worker threads do not exist in a child made by fork():
        // tearing the session down there could wait on them forever. A child that drops an
        // embedder inherited from its parent leaks it instead (and opens a new one).
        if std::process::id() == self.owner_pid {
            // SAFETY: `model` and `query_model` are never used again; this is the only place
            // they are dropped.
            unsafe {
                ManuallyDrop::drop(&mut self.model);
                ManuallyDrop::drop(&mut self.query_model);
            }
        }
    }
}

impl std::fmt::Debug for FastEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastEmbedder")
            .field("model_id", &self.model_id)
            .field("model_dir", &self.model_dir)
            .field("dimensions", &self.dimensions)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

fn read_model_file(dir: &Path, name: &str, required: bool) -> Result<Option<Vec<u8>>> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
        Err(e) => Err(Error::EmbeddingModelUnavailable {
            reason: format!("cannot read {}", path.display()),
            source: Some(Box::new(e)),
        }),
    }
}

fn model_error(reason: impl Into<String>, err: impl std::fmt::Display) -> Error {
    Error::EmbeddingModelUnavailable {
        reason: format!("{}: {err}", reason.into()),
        source: None,
    }
}

/// Where a model's files come from, resolved once when the embedder is created (the query
/// session opens the same files).
#[derive(Debug, Clone)]
enum ModelSource {
    /// A local directory (`model_dir`, or its sibling holding the chosen model).
    Local(PathBuf),
    /// fastembed's download from the Hugging Face hub (feature `online`).
    Hub(fastembed::EmbeddingModel),
}

/// Some names to suggest when a model name is unknown.
const SUGGESTED_MODELS: &str = "all-MiniLM-L6-v2, all-MiniLM-L6-v2-int8, multilingual-e5-small, paraphrase-multilingual-MiniLM-L12-v2, bge-small-en-v1.5, bge-m3";

/// The files and settings of the model `config` chooses (see [`local::resolve_model_dir`]
/// for how a local directory is picked).
fn resolve(config: &EmbeddingConfig) -> Result<(ModelSource, ModelSpec)> {
    match &config.model_dir {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Error::EmbeddingModelUnavailable {
                    reason: format!("model directory {} does not exist", dir.display()),
                    source: None,
                });
            }
            let (dir, spec) = local::resolve_model_dir(dir, &config.model)?;
            Ok((ModelSource::Local(dir), spec))
        }
        None => match catalogue::find_entry(&config.model) {
            Some(entry) => Ok((ModelSource::Hub(entry.fastembed), entry.spec)),
            None => Err(Error::InvalidInput(format!(
                "unknown embedding model '{}': choose one of fastembed's catalogue ({SUGGESTED_MODELS}, ...; see docs/models.md), or set model_dir to a local model directory",
                config.model
            ))),
        },
    }
}

impl FastEmbedder {
    /// Loads the model `config` chooses: `config.model` names it (a catalogue name, see
    /// [`catalogue::find_entry`]); it is read from `model_dir` when set (see
    /// [`local::resolve_model_dir`]), else downloaded from the Hugging Face hub (feature
    /// `online`).
    pub fn new(config: &EmbeddingConfig) -> Result<Self> {
        load_onnx_runtime(config.onnxruntime.as_deref())?;
        let (source, spec) = resolve(config)?;
        let model = open_session(&source, &spec, config)?;
        let mut tokenizer = model.tokenizer.clone();
        tokenizer
            .with_truncation(None)
            .map_err(|e| model_error("cannot configure the tokenizer", e))?;
        tokenizer.with_padding(None);
        // The chunker sizes passages to what is left of the window after the prefix.
        let prefix_tokens = if spec.passage_prefix.is_empty() {
            0
        } else {
            tokenizer
                .encode(spec.passage_prefix.as_str(), false)
                .map_err(|e| model_error("cannot tokenize the passage prefix", e))?
                .len()
        };
        let window = config.max_tokens.min(spec.max_length);
        let model_dir = match &source {
            ModelSource::Local(dir) => Some(dir.clone()),
            ModelSource::Hub(_) => None,
        };
        let mut embedder = FastEmbedder {
            model_id: spec.identity(),
            spec,
            model_dir,
            dimensions: 0,
            max_tokens: window.saturating_sub(prefix_tokens).max(8),
            tokenizer,
            model: ManuallyDrop::new(Mutex::new(model)),
            query_model: ManuallyDrop::new(OnceLock::new()),
            opening_query_model: Mutex::new(()),
            source,
            config: config.clone(),
            batch_size: config.batch_size.max(1),
            owner_pid: std::process::id(),
        };
        let probe = embedder.embed(&["dimension probe"])?;
        embedder.dimensions = probe.first().map(Vec::len).unwrap_or(0);
        if embedder.dimensions == 0 {
            return Err(model_error("the model", "returned empty vectors"));
        }
        if embedder.spec.dimension != 0 && embedder.spec.dimension != embedder.dimensions {
            return Err(model_error(
                format!("'{}'", embedder.spec.short_name),
                format!(
                    "declares {} dimensions but returns vectors of {}: fix `dimension` in {}",
                    embedder.spec.dimension,
                    embedder.dimensions,
                    local::MODEL_CONFIG_FILE
                ),
            ));
        }
        embedder.spec.dimension = embedder.dimensions;
        Ok(embedder)
    }

    /// The model's settings: name, pooling, prefixes, precision.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The local directory the model was read from (`None` when it was downloaded).
    pub fn model_dir(&self) -> Option<&Path> {
        self.model_dir.as_deref()
    }

    /// Embeds `texts` (already prefixed) on one session, `batch_size` texts per run. Each
    /// run gets exactly one batch, so that models quantized on the fly (fastembed refuses to
    /// split their input) work like the others.
    fn run(&self, session: &Mutex<TextEmbedding>, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut model = session.lock().map_err(|_| Error::Embedding {
            reason: "the embedding model was poisoned by an earlier panic".into(),
            source: None,
        })?;
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            let embedded = model
                .embed(batch, Some(batch.len()))
                .map_err(|e| Error::Embedding {
                    reason: format!("the model could not embed a batch of {} texts", batch.len()),
                    source: Some(e.into()),
                })?;
            vectors.extend(embedded);
        }
        if vectors.len() != texts.len() {
            return Err(Error::Embedding {
                reason: format!(
                    "the model returned {} vectors for {} texts",
                    vectors.len(),
                    texts.len()
                ),
                source: None,
            });
        }
        Ok(vectors)
    }

    fn check_process(&self) -> Result<()> {
        if std::process::id() != self.owner_pid {
            return Err(Error::Embedding {
                reason:
                    "this embedder was created before fork(): open a new one in the child process"
                        .into(),
                source: None,
            });
        }
        Ok(())
    }
}

/// Opens an ONNX session of the model.
fn open_session(
    source: &ModelSource,
    spec: &ModelSpec,
    config: &EmbeddingConfig,
) -> Result<TextEmbedding> {
    match source {
        ModelSource::Local(dir) => load_local(dir, spec, config),
        ModelSource::Hub(model) => load_hub(model, spec, config),
    }
}

fn load_local(dir: &Path, spec: &ModelSpec, config: &EmbeddingConfig) -> Result<TextEmbedding> {
    let onnx = read_model_file(dir, "model.onnx", true)?.unwrap_or_default();
    let files = TokenizerFiles {
        tokenizer_file: read_model_file(dir, "tokenizer.json", true)?.unwrap_or_default(),
        config_file: read_model_file(dir, "config.json", true)?.unwrap_or_default(),
        special_tokens_map_file: read_model_file(dir, "special_tokens_map.json", false)?
            .unwrap_or_else(|| b"{}".to_vec()),
        tokenizer_config_file: read_model_file(dir, "tokenizer_config.json", true)?
            .unwrap_or_default(),
    };
    // Batches are never split (see `FastEmbedder::run`), so the int8 model's on-the-fly
    // activation ranges need no special mode here.
    let model = UserDefinedEmbeddingModel::new(onnx, files)
        .with_pooling(spec.pooling.to_fastembed())
        .with_quantization(QuantizationMode::None);
    let mut options =
        InitOptionsUserDefined::new().with_max_length(config.max_tokens.min(spec.max_length));
    for (key, value) in SESSION_CONFIG {
        options = options.with_session_config(key, value);
    }
    if let Some(threads) = config.threads {
        options = options.with_intra_threads(threads);
    }
    TextEmbedding::try_new_from_user_defined(model, options)
        .map_err(|e| model_error(format!("cannot load the model in {}", dir.display()), e))
}

#[cfg(feature = "online")]
fn load_hub(
    model: &fastembed::EmbeddingModel,
    spec: &ModelSpec,
    config: &EmbeddingConfig,
) -> Result<TextEmbedding> {
    // fastembed applies the catalogue's pooling itself (the same as `spec.pooling`).
    let mut options = fastembed::TextInitOptions::new(model.clone())
        .with_max_length(config.max_tokens.min(spec.max_length))
        .with_show_download_progress(false);
    for (key, value) in SESSION_CONFIG {
        options = options.with_session_config(key, value);
    }
    if let Some(cache) = &config.cache_dir {
        options = options.with_cache_dir(cache.clone());
    }
    if let Some(threads) = config.threads {
        options = options.with_intra_threads(threads);
    }
    TextEmbedding::try_new(options).map_err(|e| Error::EmbeddingModelUnavailable {
        reason: format!(
            "cannot download or load '{}' ({}) from the Hugging Face hub; without the internet, set model_dir (--model-dir, ITASSIST_MODEL_DIR) to a local copy of it",
            spec.short_name, spec.name
        ),
        source: Some(Box::new(e)),
    })
}

#[cfg(not(feature = "online"))]
fn load_hub(
    _model: &fastembed::EmbeddingModel,
    spec: &ModelSpec,
    _config: &EmbeddingConfig,
) -> Result<TextEmbedding> {
    Err(Error::EmbeddingModelUnavailable {
        reason: format!(
            "no model_dir is set for '{}' and this build has no `online` feature to download it",
            spec.short_name
        ),
        source: None,
    })
}

impl Embedder for FastEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.check_process()?;
        let prefixed: Vec<Cow<str>> = texts.iter().map(|t| self.spec.passage_text(t)).collect();
        let refs: Vec<&str> = prefixed.iter().map(|t| t.as_ref()).collect();
        self.run(&self.model, &refs)
    }

    fn embed_query(&self, query: &str) -> Result<Vec<f32>> {
        self.check_process()?;
        let query = self.spec.query_text(query);
        // The main session when it is idle; otherwise (documents are being embedded) the
        // query session, opened on first need, so the query never waits for a batch.
        let session = match self.model.try_lock() {
            Ok(guard) => {
                drop(guard);
                &*self.model
            }
            Err(_) => match self.query_model.get() {
                Some(session) => session,
                // One thread opens the query session; concurrent queries meanwhile wait for
                // the document session, as they did before it existed.
                None => match self.opening_query_model.try_lock() {
                    Ok(_opening) => match self.query_model.get() {
                        Some(session) => session,
                        None => {
                            let opened = open_session(&self.source, &self.spec, &self.config)?;
                            self.query_model.get_or_init(|| Mutex::new(opened))
                        }
                    },
                    Err(_) => &*self.model,
                },
            },
        };
        self.run(session, &[query.as_ref()])?
            .pop()
            .ok_or_else(|| Error::Embedding {
                reason: "the model returned no vector for the query".into(),
                source: None,
            })
    }

    fn language_note(&self, document_text: &str) -> Option<String> {
        language::language_warning(&self.spec, document_text)
    }
}

/// Cosine similarity of two L2-normalised vectors (their dot product).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The local model from `scripts/provision-models.sh` (`ITASSIST_MODEL_DIR`), for unit tests.
#[cfg(test)]
pub(crate) fn provisioned_model_dir() -> PathBuf {
    let dir = std::env::var_os(crate::config::ENV_MODEL_DIR)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/itassist/models/all-MiniLM-L6-v2-int8")
        });
    assert!(
        dir.join("model.onnx").exists(),
        "no embedding model in {}: run `bash scripts/setup.sh` first",
        dir.display()
    );
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_config() -> EmbeddingConfig {
        EmbeddingConfig {
            model_dir: Some(provisioned_model_dir()),
            ..EmbeddingConfig::default()
        }
    }

    #[test]
    fn a_query_does_not_wait_while_documents_are_being_embedded() -> Result<()> {
        let embedder = FastEmbedder::new(&local_config())?;
        let idle = embedder.embed_query("how do I copy my ssh key")?;
        // Hold the document session as a long ingest batch would.
        let busy = embedder.model.lock().map_err(|_| Error::Embedding {
            reason: "poisoned".into(),
            source: None,
        })?;
        let during = embedder.embed_query("how do I copy my ssh key")?;
        drop(busy);
        assert!(
            embedder.query_model.get().is_some(),
            "the query session opened"
        );
        // Same model, same vector, from either session.
        let similarity = dot(&idle, &during);
        assert!(similarity > 0.9999, "{similarity}");
        Ok(())
    }
}
