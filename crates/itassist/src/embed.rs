//! Embeddings: the [`Embedder`] trait and its fastembed (ONNX Runtime) implementation.

use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use tokenizers::Tokenizer;

use crate::config::{EmbeddingConfig, DEFAULT_EMBEDDING_MODEL};
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
        })
    }
}

/// ONNX Runtime session setting that stops idle worker threads from spinning.
const NO_SPINNING: (&str, &str) = ("session.intra_op.allow_spinning", "0");

/// Where the ONNX Runtime library was loaded from, once it was loaded.
static ORT_LOADED: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();

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
            return Err("no libonnxruntime.so was found (ORT_DYLIB_PATH is not set)".to_string());
        };
        if !path.exists() {
            return Err(format!("{} does not exist", path.display()));
        }
        match ort::init_from(&path) {
            Ok(builder) => {
                // Dropping the builder keeps the loaded library; sessions create the
                // environment lazily.
                drop(builder);
                Ok(path)
            }
            Err(e) => Err(e.to_string()),
        }
    });
    outcome
        .clone()
        .map_err(|reason| Error::RuntimeUnavailable { reason })
}

/// The fastembed implementation of [`Embedder`]: a BERT-style ONNX model with mean pooling
/// and L2 normalisation, run by ONNX Runtime on the CPU.
pub struct FastEmbedder {
    model_id: String,
    dimensions: usize,
    max_tokens: usize,
    tokenizer: Tokenizer,
    model: ManuallyDrop<Mutex<TextEmbedding>>,
    /// A second session for queries, opened the first time a query arrives while `model`
    /// is busy embedding documents, so searches never wait behind ingestion.
    query_model: ManuallyDrop<OnceLock<Mutex<TextEmbedding>>>,
    /// Held by the one thread that opens `query_model`; the others use `model` meanwhile.
    opening_query_model: Mutex<()>,
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

impl FastEmbedder {
    /// Loads the model described by `config`: from `model_dir` when set, else from the
    /// Hugging Face hub (feature `online`).
    pub fn new(config: &EmbeddingConfig) -> Result<Self> {
        load_onnx_runtime(config.onnxruntime.as_deref())?;
        let model = Self::load(config)?;
        let mut tokenizer = model.tokenizer.clone();
        tokenizer
            .with_truncation(None)
            .map_err(|e| model_error("cannot configure the tokenizer", e))?;
        tokenizer.with_padding(None);
        let mut embedder = FastEmbedder {
            model_id: config.model.clone(),
            dimensions: 0,
            max_tokens: config.max_tokens,
            tokenizer,
            model: ManuallyDrop::new(Mutex::new(model)),
            query_model: ManuallyDrop::new(OnceLock::new()),
            opening_query_model: Mutex::new(()),
            config: config.clone(),
            batch_size: config.batch_size.max(1),
            owner_pid: std::process::id(),
        };
        let probe = embedder.embed(&["dimension probe"])?;
        embedder.dimensions = probe.first().map(Vec::len).unwrap_or(0);
        if embedder.dimensions == 0 {
            return Err(model_error("the model", "returned empty vectors"));
        }
        Ok(embedder)
    }

    /// Opens an ONNX session of the configured model.
    fn load(config: &EmbeddingConfig) -> Result<TextEmbedding> {
        match &config.model_dir {
            Some(dir) => Self::load_local(dir, config),
            None => Self::load_hub(config),
        }
    }

    /// Embeds `texts` on one session.
    fn run(&self, session: &Mutex<TextEmbedding>, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut model = session.lock().map_err(|_| Error::Embedding {
            reason: "the embedding model was poisoned by an earlier panic".into(),
        })?;
        let vectors = model
            .embed(texts, Some(self.batch_size))
            .map_err(|e| Error::Embedding {
                reason: e.to_string(),
            })?;
        if vectors.len() != texts.len() {
            return Err(Error::Embedding {
                reason: format!(
                    "the model returned {} vectors for {} texts",
                    vectors.len(),
                    texts.len()
                ),
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
            });
        }
        Ok(())
    }

    fn load_local(dir: &Path, config: &EmbeddingConfig) -> Result<TextEmbedding> {
        if !dir.is_dir() {
            return Err(Error::EmbeddingModelUnavailable {
                reason: format!("model directory {} does not exist", dir.display()),
                source: None,
            });
        }
        let onnx = read_model_file(dir, "model.onnx", true)?.unwrap_or_default();
        let files = TokenizerFiles {
            tokenizer_file: read_model_file(dir, "tokenizer.json", true)?.unwrap_or_default(),
            config_file: read_model_file(dir, "config.json", true)?.unwrap_or_default(),
            special_tokens_map_file: read_model_file(dir, "special_tokens_map.json", false)?
                .unwrap_or_else(|| b"{}".to_vec()),
            tokenizer_config_file: read_model_file(dir, "tokenizer_config.json", true)?
                .unwrap_or_default(),
        };
        let model = UserDefinedEmbeddingModel::new(onnx, files).with_pooling(Pooling::Mean);
        // No busy-waiting between runs: the CPU goes to the chat model while it answers.
        let mut options = InitOptionsUserDefined::new()
            .with_max_length(config.max_tokens)
            .with_session_config(NO_SPINNING.0, NO_SPINNING.1);
        if let Some(threads) = config.threads {
            options = options.with_intra_threads(threads);
        }
        TextEmbedding::try_new_from_user_defined(model, options)
            .map_err(|e| model_error(format!("cannot load the model in {}", dir.display()), e))
    }

    #[cfg(feature = "online")]
    fn load_hub(config: &EmbeddingConfig) -> Result<TextEmbedding> {
        use fastembed::{EmbeddingModel, TextInitOptions};
        let wanted = config.model.as_str();
        let known = TextEmbedding::list_supported_models();
        let choice = if wanted == DEFAULT_EMBEDDING_MODEL || wanted == "all-MiniLM-L6-v2" {
            Some(EmbeddingModel::AllMiniLML6V2)
        } else {
            known
                .iter()
                .find(|m| m.model_code.eq_ignore_ascii_case(wanted))
                .map(|m| m.model.clone())
        };
        let Some(choice) = choice else {
            return Err(Error::InvalidInput(format!(
                "unknown embedding model '{wanted}': use '{DEFAULT_EMBEDDING_MODEL}', a fastembed model code, or set model_dir to a local model"
            )));
        };
        let mut options = TextInitOptions::new(choice)
            .with_max_length(config.max_tokens)
            .with_session_config(NO_SPINNING.0, NO_SPINNING.1)
            .with_show_download_progress(false);
        if let Some(cache) = &config.cache_dir {
            options = options.with_cache_dir(cache.clone());
        }
        if let Some(threads) = config.threads {
            options = options.with_intra_threads(threads);
        }
        TextEmbedding::try_new(options).map_err(|e| {
            model_error(
                format!("cannot download or load '{wanted}' from the Hugging Face hub (offline machines: set model_dir)"),
                e,
            )
        })
    }

    #[cfg(not(feature = "online"))]
    fn load_hub(config: &EmbeddingConfig) -> Result<TextEmbedding> {
        Err(Error::EmbeddingModelUnavailable {
            reason: format!(
                "no model_dir is set for '{}' and this build has no `online` feature to download it",
                config.model
            ),
            source: None,
        })
    }
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
        self.run(&self.model, texts)
    }

    fn embed_query(&self, query: &str) -> Result<Vec<f32>> {
        self.check_process()?;
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
                            let opened = Self::load(&self.config)?;
                            self.query_model.get_or_init(|| Mutex::new(opened))
                        }
                    },
                    Err(_) => &*self.model,
                },
            },
        };
        self.run(session, &[query])?
            .pop()
            .ok_or_else(|| Error::Embedding {
                reason: "the model returned no vector for the query".into(),
            })
    }
}

/// Cosine similarity of two L2-normalised vectors (their dot product).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local model from `scripts/provision-models.sh` (`ITASSIST_MODEL_DIR`).
    fn local_config() -> EmbeddingConfig {
        let dir = std::env::var_os(crate::config::ENV_MODEL_DIR)
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(&std::env::var_os("HOME").unwrap_or_default())
                    .join(".cache/itassist/models/all-MiniLM-L6-v2")
            });
        assert!(
            dir.join("model.onnx").exists(),
            "no embedding model in {}: run `bash scripts/setup.sh` first",
            dir.display()
        );
        EmbeddingConfig {
            model_dir: Some(dir),
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
