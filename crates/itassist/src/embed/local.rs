//! Local model directories: which model a directory holds (`itassist-model.json`), and which
//! directory to use for the model the configuration names.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::catalogue::{
    find_model, ModelSpec, PoolingKind, Quantization, DEFAULT_SHORT_NAME,
    UNDESCRIBED_DIRECTORY_MODEL,
};
use crate::error::{Error, Result};

/// The file in a model directory that says which model it holds and how to run it.
pub const MODEL_CONFIG_FILE: &str = "itassist-model.json";

/// The contents of `itassist-model.json`. Only `name` is required: a catalogue name brings
/// that model's settings, which the other fields override; any other name starts from
/// all-MiniLM-L6-v2's settings (mean pooling, no prefixes, 256 tokens, fp32).
///
/// ```
/// let json = r#"{"name": "multilingual-e5-small", "max_length": 256}"#;
/// let config: itassist::embed::local::LocalModelConfig = serde_json::from_str(json).unwrap();
/// let spec = config.spec().unwrap();
/// assert_eq!(spec.query_prefix, "query: ");
/// assert_eq!(spec.max_length, 256);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalModelConfig {
    /// A catalogue name (`all-MiniLM-L6-v2`, `multilingual-e5-small`, ...) or any other name.
    pub name: String,
    /// `mean` or `cls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling: Option<PoolingKind>,
    /// Must be true when given: itassist ranks by cosine similarity of unit vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
    /// Put in front of every search query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_prefix: Option<String>,
    /// Put in front of every indexed passage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage_prefix: Option<String>,
    /// Longest input in tokens, special tokens included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Vector length; checked against the model's output when it loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<usize>,
    /// `fp32`, `int8` or `q4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
    /// True for a model trained on English only (ingesting other languages then warns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_only: Option<bool>,
}

impl LocalModelConfig {
    /// The settings this file describes.
    pub fn spec(&self) -> Result<ModelSpec> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(invalid(
                "`name` is empty: name the model the directory holds",
            ));
        }
        if self.normalize == Some(false) {
            return Err(invalid(
                "`normalize` is false, but itassist ranks passages by the cosine of unit vectors: remove the field or set it to true",
            ));
        }
        if self.max_length == Some(0) {
            return Err(invalid("`max_length` must be at least 1 token"));
        }
        let catalogued = find_model(name);
        let mut spec = catalogued.clone().unwrap_or_else(|| ModelSpec::plain(name));
        if let Some(pooling) = self.pooling {
            spec.pooling = pooling;
        }
        if let Some(prefix) = &self.query_prefix {
            spec.query_prefix = prefix.clone();
        }
        if let Some(prefix) = &self.passage_prefix {
            spec.passage_prefix = prefix.clone();
        }
        if let Some(max_length) = self.max_length {
            spec.max_length = max_length;
        }
        if let Some(dimension) = self.dimension {
            spec.dimension = dimension;
        }
        if let Some(quantization) = self.quantization {
            spec.quantization = quantization;
            // A variant the catalogue does not have is chosen by its own short name, e.g.
            // `multilingual-e5-small-q4`.
            if let Some(base) = catalogued.filter(|c| c.quantization != quantization) {
                let stem = match base.quantization {
                    Quantization::Fp32 => base.short_name.as_str(),
                    q => base
                        .short_name
                        .strip_suffix(&format!("-{}", q.as_str()))
                        .unwrap_or(&base.short_name),
                };
                spec.short_name = match quantization {
                    Quantization::Fp32 => stem.to_string(),
                    q => format!("{stem}-{}", q.as_str()),
                };
            }
        }
        if let Some(english_only) = self.english_only {
            spec.english_only = english_only;
        }
        Ok(spec)
    }
}

fn invalid(reason: &str) -> Error {
    Error::EmbeddingModelUnavailable {
        reason: format!("{MODEL_CONFIG_FILE}: {reason}"),
        source: None,
    }
}

/// The settings of a directory without `itassist-model.json`: all-MiniLM-L6-v2 at fp32, as
/// every model directory held before the file existed.
pub fn legacy_spec() -> ModelSpec {
    find_model(UNDESCRIBED_DIRECTORY_MODEL)
        .unwrap_or_else(|| ModelSpec::plain("sentence-transformers/all-MiniLM-L6-v2"))
}

/// Reads `dir/itassist-model.json`; `None` when the directory has none.
pub fn read_model_config(dir: &Path) -> Result<Option<ModelSpec>> {
    let path = dir.join(MODEL_CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::EmbeddingModelUnavailable {
                reason: format!("cannot read {}", path.display()),
                source: Some(Box::new(e)),
            })
        }
    };
    let config: LocalModelConfig =
        serde_json::from_str(&text).map_err(|e| Error::EmbeddingModelUnavailable {
            reason: format!("{} is not a valid model description", path.display()),
            source: Some(Box::new(e)),
        })?;
    config.spec().map(Some)
}

/// True when `requested` leaves the choice open: the default name (or none). A model
/// directory then decides which model it is, and an existing index keeps its own model
/// ([`crate::Assistant::open`]).
pub fn is_default_choice(requested: &str) -> bool {
    let requested = requested.trim();
    requested.is_empty() || requested.eq_ignore_ascii_case(DEFAULT_SHORT_NAME)
}

/// Whether `held` is the model `requested` names.
fn holds(held: &ModelSpec, requested: &str) -> bool {
    match find_model(requested) {
        Some(wanted) => wanted.name == held.name && wanted.quantization == held.quantization,
        None => {
            let requested = requested.trim();
            held.name == requested || held.short_name == requested || held.identity() == requested
        }
    }
}

/// The directory and settings to load for the model named `requested`, given the configured
/// `model_dir`:
///
/// 1. `model_dir` itself when it holds that model;
/// 2. else a sibling directory named after the model's short name (how
///    `scripts/provision-models.sh` lays models out: `models/all-MiniLM-L6-v2`,
///    `models/all-MiniLM-L6-v2-int8`, ...) when it holds that model;
/// 3. else `model_dir` with whatever it holds when `requested` is the default name (a
///    directory without `itassist-model.json` is all-MiniLM-L6-v2 at fp32);
/// 4. else, for a name outside the catalogue and a directory without
///    `itassist-model.json`, `model_dir` under that name (as before the file existed);
/// 5. else an `embedding_model_unavailable` error saying what the directory holds.
pub fn resolve_model_dir(model_dir: &Path, requested: &str) -> Result<(PathBuf, ModelSpec)> {
    let held = read_model_config(model_dir)?;
    let held_spec = held.clone().unwrap_or_else(legacy_spec);
    if holds(&held_spec, requested) {
        return Ok((model_dir.to_path_buf(), held_spec));
    }
    let wanted = find_model(requested);
    // The sibling directory is named after the model's short name (a name outside the
    // catalogue, such as `multilingual-e5-small-q4`, is its own short name).
    let sibling_name = match &wanted {
        Some(wanted) => Some(wanted.short_name.clone()),
        None => Some(requested.trim().to_string())
            .filter(|n| !n.is_empty() && !n.contains(['/', '\\']) && n != ".." && n != "."),
    };
    if let (Some(parent), Some(name)) = (model_dir.parent(), sibling_name) {
        let sibling = parent.join(name);
        if sibling != model_dir && sibling.join("model.onnx").is_file() {
            let sibling_spec = read_model_config(&sibling)?.unwrap_or_else(legacy_spec);
            if holds(&sibling_spec, requested) {
                return Ok((sibling, sibling_spec));
            }
        }
    }
    if is_default_choice(requested) {
        return Ok((model_dir.to_path_buf(), held_spec));
    }
    if wanted.is_none() && held.is_none() {
        return Ok((model_dir.to_path_buf(), ModelSpec::plain(requested.trim())));
    }
    Err(Error::EmbeddingModelUnavailable {
        reason: format!(
            "the model directory {} holds '{}', not the chosen embedding model '{}': point model_dir (--model-dir, ITASSIST_MODEL_DIR) at a directory holding '{}' with an {MODEL_CONFIG_FILE}, or choose '{}'",
            model_dir.display(),
            held_spec.short_name,
            requested.trim(),
            requested.trim(),
            held_spec.short_name,
        ),
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_EMBEDDING_MODEL;

    fn dir_with(json: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("model.onnx"), b"not used").expect("write");
        if let Some(json) = json {
            std::fs::write(dir.path().join(MODEL_CONFIG_FILE), json).expect("write");
        }
        dir
    }

    #[test]
    fn a_directory_without_the_file_is_all_minilm_l6_v2() {
        let dir = dir_with(None);
        let (path, spec) = resolve_model_dir(dir.path(), DEFAULT_EMBEDDING_MODEL).expect("resolve");
        assert_eq!(path, dir.path());
        assert_eq!(spec.identity(), "sentence-transformers/all-MiniLM-L6-v2");
        assert_eq!(spec.pooling, PoolingKind::Mean);
        assert!(spec.query_prefix.is_empty() && spec.passage_prefix.is_empty());
    }

    #[test]
    fn the_file_overrides_the_catalogue_settings() {
        let dir = dir_with(Some(
            r#"{"name": "all-MiniLM-L6-v2", "pooling": "cls", "query_prefix": "q: ", "passage_prefix": "p: "}"#,
        ));
        let (_, spec) = resolve_model_dir(dir.path(), DEFAULT_EMBEDDING_MODEL).expect("resolve");
        assert_eq!(spec.pooling, PoolingKind::Cls);
        assert_eq!(spec.query_text("x"), "q: x");
        assert_eq!(spec.passage_text("x"), "p: x");
        assert_eq!(
            spec.identity(),
            "sentence-transformers/all-MiniLM-L6-v2+cls+prefixes(query=\"q: \",passage=\"p: \")"
        );
    }

    #[test]
    fn a_sibling_directory_serves_another_chosen_model() {
        let root = tempfile::tempdir().expect("tempdir");
        let fp32 = root.path().join("all-MiniLM-L6-v2");
        let int8 = root.path().join("all-MiniLM-L6-v2-int8");
        for (dir, json) in [
            (&fp32, r#"{"name": "all-MiniLM-L6-v2"}"#),
            (
                &int8,
                r#"{"name": "all-MiniLM-L6-v2-int8", "quantization": "int8"}"#,
            ),
        ] {
            std::fs::create_dir_all(dir).expect("mkdir");
            std::fs::write(dir.join("model.onnx"), b"x").expect("write");
            std::fs::write(dir.join(MODEL_CONFIG_FILE), json).expect("write");
        }
        let (path, spec) = resolve_model_dir(&fp32, "all-MiniLM-L6-v2-int8").expect("resolve");
        assert_eq!(path, int8);
        assert_eq!(
            spec.identity(),
            "sentence-transformers/all-MiniLM-L6-v2+int8"
        );
        let (path, spec) = resolve_model_dir(&int8, "all-MiniLM-L6-v2").expect("resolve");
        assert_eq!(path, fp32);
        assert_eq!(spec.identity(), "sentence-transformers/all-MiniLM-L6-v2");
        // The default (int8) is found beside the fp32 directory...
        for dir in [&fp32, &int8] {
            let (path, _) = resolve_model_dir(dir, DEFAULT_EMBEDDING_MODEL).expect("resolve");
            assert_eq!(path, int8);
        }
        // ...and a directory alone, holding another model, is used as it is.
        std::fs::remove_dir_all(&int8).expect("remove the int8 directory");
        let (path, spec) = resolve_model_dir(&fp32, DEFAULT_EMBEDDING_MODEL).expect("resolve");
        assert_eq!(path, fp32);
        assert_eq!(spec.short_name, "all-MiniLM-L6-v2");
    }

    #[test]
    fn a_directory_holding_another_model_is_an_actionable_error() {
        let dir = dir_with(None);
        let err = resolve_model_dir(dir.path(), "multilingual-e5-small").expect_err("mismatch");
        assert_eq!(err.code(), "embedding_model_unavailable");
        let text = err.to_string();
        assert!(text.contains("holds 'all-MiniLM-L6-v2'"), "{text}");
        assert!(text.contains("multilingual-e5-small"), "{text}");
    }

    #[test]
    fn a_variant_outside_the_catalogue_has_its_own_short_name() {
        let root = tempfile::tempdir().expect("tempdir");
        let minilm = root.path().join("all-MiniLM-L6-v2");
        let e5 = root.path().join("multilingual-e5-small-q4");
        for dir in [&minilm, &e5] {
            std::fs::create_dir_all(dir).expect("mkdir");
            std::fs::write(dir.join("model.onnx"), b"x").expect("write");
        }
        std::fs::write(
            e5.join(MODEL_CONFIG_FILE),
            r#"{"name": "multilingual-e5-small", "quantization": "q4"}"#,
        )
        .expect("write");
        let (path, spec) = resolve_model_dir(&minilm, "multilingual-e5-small-q4").expect("resolve");
        assert_eq!(path, e5);
        assert_eq!(spec.short_name, "multilingual-e5-small-q4");
        assert_eq!(spec.identity(), "intfloat/multilingual-e5-small+q4");
        assert_eq!(spec.query_prefix, "query: ");
        // The fp32 model is another model: not served by the 4-bit copy.
        assert!(resolve_model_dir(&minilm, "multilingual-e5-small").is_err());
    }

    #[test]
    fn a_custom_name_keeps_working_with_a_directory_without_the_file() {
        let dir = dir_with(None);
        let (_, spec) = resolve_model_dir(dir.path(), "my-team/finetuned-minilm").expect("resolve");
        assert_eq!(spec.identity(), "my-team/finetuned-minilm");
    }

    #[test]
    fn invalid_files_say_what_is_wrong() {
        for (json, expected) in [
            (r#"{"name": "x", "normalize": false}"#, "normalize"),
            (r#"{"name": ""}"#, "name"),
            (
                r#"{"name": "x", "pooling": "max"}"#,
                "not a valid model description",
            ),
            (
                r#"{"name": "x", "prefix": "q: "}"#,
                "not a valid model description",
            ),
        ] {
            let dir = dir_with(Some(json));
            let err = read_model_config(dir.path()).expect_err(json);
            assert!(err.to_string().contains(expected), "{json}: {err}");
        }
    }
}
