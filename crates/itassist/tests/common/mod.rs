//! Shared helpers of the integration tests: the real corpus, the real model, temp dirs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use itassist::{Config, Embedder, FastEmbedder};

/// The shared corpus of real IT documents (read-only).
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// A file of the shared corpus.
pub fn corpus_file(relative: &str) -> PathBuf {
    let path = corpus().join(relative);
    assert!(path.exists(), "corpus file missing: {}", path.display());
    path
}

/// The default model's directory made by `scripts/provision-models.sh` (all-MiniLM-L6-v2-int8;
/// the fp32 model sits beside it).
pub fn model_dir() -> PathBuf {
    let dir = std::env::var_os("ITASSIST_MODEL_DIR")
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

/// A configuration for a fresh index in `data_dir` using the local model.
pub fn config(data_dir: &Path) -> Config {
    Config::new(data_dir).with_model_dir(model_dir())
}

/// One embedder per test binary (loading the model takes a moment).
pub fn embedder() -> Arc<dyn Embedder> {
    static EMBEDDER: OnceLock<Arc<FastEmbedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            let config = config(Path::new("/nonexistent"));
            Arc::new(FastEmbedder::new(&config.embedding).expect("load the embedding model"))
        })
        .clone()
}

/// all-MiniLM-L6-v2 at fp32, beside the default int8 model: for tests whose vectors must not
/// depend on the other texts of their batch, and for indexes made with fp32 (the default
/// before int8).
pub fn fp32_embedder() -> Arc<dyn Embedder> {
    static EMBEDDER: OnceLock<Arc<FastEmbedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            let mut config = config(Path::new("/nonexistent"));
            config.embedding.model = "all-MiniLM-L6-v2".into();
            Arc::new(FastEmbedder::new(&config.embedding).expect("load the fp32 model"))
        })
        .clone()
}

/// Opens an assistant with the fp32 model over a new temporary directory.
pub fn fp32_assistant(dir: &Path) -> itassist::Assistant {
    itassist::Assistant::with_embedder(config(dir), fp32_embedder()).expect("open the assistant")
}

/// Opens an assistant over a new temporary directory.
pub fn assistant(dir: &Path) -> itassist::Assistant {
    itassist::Assistant::with_embedder(config(dir), embedder()).expect("open the assistant")
}
