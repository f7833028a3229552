//! Helpers shared by the CLI tests: the real corpus, the local model, running the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A file or folder of the shared corpus of real IT documents (read-only).
pub fn corpus(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(relative);
    assert!(path.exists(), "corpus file missing: {}", path.display());
    path
}

/// The local embedding model made by `scripts/provision-models.sh`.
pub fn model_dir() -> PathBuf {
    std::env::var_os("ITASSIST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/itassist/models/all-MiniLM-L6-v2-int8")
        })
}

/// Runs a command to completion.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run itassist")
}

/// Command output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
