//! [`ConfigOverrides`]: the settings a caller may give when opening an assistant, each left
//! unset to keep the core's default.
//!
//! The Python and Node packages build one of these from their keyword arguments / options
//! object and let the core apply and validate it, so neither package holds a default or a
//! rule of its own.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::Result;

/// Settings to change from the defaults of [`Config`]; `None` keeps the default.
///
/// ```
/// let config = itassist::ConfigOverrides {
///     top_k: Some(8),
///     ..Default::default()
/// }
/// .into_config("/tmp/itassist-doc")?;
/// assert_eq!(config.retrieval.top_k, 8);
/// assert_eq!(config.chunking.max_tokens, itassist::Config::default().chunking.max_tokens);
/// # Ok::<(), itassist::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigOverrides {
    /// Local embedding model directory (`embedding.model_dir`).
    pub model_dir: Option<PathBuf>,
    /// Embedding model name (`embedding.model`).
    pub embedding_model: Option<String>,
    /// Path of `libonnxruntime.so` (`embedding.onnxruntime`).
    pub onnxruntime: Option<PathBuf>,
    /// Texts per embedding batch (`embedding.batch_size`).
    pub batch_size: Option<usize>,
    /// ONNX Runtime threads (`embedding.threads`).
    pub threads: Option<usize>,
    /// Passages retrieved by default (`retrieval.top_k`).
    pub top_k: Option<usize>,
    /// Largest chunk in model tokens (`chunking.max_tokens`).
    pub chunk_tokens: Option<usize>,
    /// Tokens shared by neighbouring chunks (`chunking.overlap_tokens`).
    pub chunk_overlap: Option<usize>,
    /// Run OCR on scanned pages and images (`loading.ocr`).
    pub ocr: Option<bool>,
    /// Tesseract languages (`loading.ocr_languages`).
    pub ocr_languages: Option<Vec<String>>,
    /// Chat-model server URL (`answer.base_url`).
    pub ollama_url: Option<String>,
    /// The API the chat-model server speaks, `ollama` or `openai` (`answer.backend`).
    pub backend: Option<String>,
    /// Chat model (`answer.model`).
    pub model: Option<String>,
    /// Sampling temperature (`answer.temperature`).
    pub temperature: Option<f32>,
    /// Context window to request (`answer.num_ctx`).
    pub num_ctx: Option<u32>,
    /// Most tokens to generate (`answer.num_predict`).
    pub num_predict: Option<u32>,
    /// Random seed (`answer.seed`).
    pub seed: Option<u64>,
    /// API key of an OpenAI-compatible chat server (`answer.api_key`).
    pub api_key: Option<String>,
    /// Seconds allowed to connect (`answer.connect_timeout_secs`).
    pub connect_timeout: Option<f64>,
    /// Seconds allowed for a non-streamed request (`answer.request_timeout_secs`).
    pub request_timeout: Option<f64>,
    /// Seconds allowed for a whole generated answer (`answer.generation_timeout_secs`).
    pub generation_timeout: Option<f64>,
}

impl ConfigOverrides {
    /// Applies the overrides to `config`. Fails with `invalid_input` on a value the core
    /// does not accept (an unknown backend); [`Config::validate`] checks the rest.
    pub fn apply(self, config: &mut Config) -> Result<()> {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *slot = value;
            }
        }
        let e = &mut config.embedding;
        if self.model_dir.is_some() {
            e.model_dir = self.model_dir;
        }
        set(&mut e.model, self.embedding_model);
        if self.onnxruntime.is_some() {
            e.onnxruntime = self.onnxruntime;
        }
        set(&mut e.batch_size, self.batch_size);
        if self.threads.is_some() {
            e.threads = self.threads;
        }
        set(&mut config.retrieval.top_k, self.top_k);
        set(&mut config.chunking.max_tokens, self.chunk_tokens);
        set(&mut config.chunking.overlap_tokens, self.chunk_overlap);
        set(&mut config.loading.ocr, self.ocr);
        set(&mut config.loading.ocr_languages, self.ocr_languages);
        let a = &mut config.answer;
        set(&mut a.base_url, self.ollama_url);
        if let Some(backend) = self.backend {
            a.backend = backend.parse()?;
        }
        set(&mut a.model, self.model);
        if self.temperature.is_some() {
            a.temperature = self.temperature;
        }
        if self.num_ctx.is_some() {
            a.num_ctx = self.num_ctx;
        }
        if self.num_predict.is_some() {
            a.num_predict = self.num_predict;
        }
        if self.seed.is_some() {
            a.seed = self.seed;
        }
        if self.api_key.is_some() {
            a.api_key = self.api_key;
        }
        set(&mut a.connect_timeout_secs, self.connect_timeout);
        set(&mut a.request_timeout_secs, self.request_timeout);
        set(&mut a.generation_timeout_secs, self.generation_timeout);
        Ok(())
    }

    /// The default configuration for `data_dir` with these overrides applied, validated.
    pub fn into_config(self, data_dir: impl Into<PathBuf>) -> Result<Config> {
        let mut config = Config::new(data_dir);
        self.apply(&mut config)?;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_fields_keep_the_defaults_and_set_ones_win() -> Result<()> {
        let defaults = Config::new("/tmp/x");
        let same = ConfigOverrides::default().into_config("/tmp/x")?;
        assert_eq!(
            serde_json::to_value(&same).ok(),
            serde_json::to_value(&defaults).ok()
        );
        let changed = ConfigOverrides {
            backend: Some("openai".into()),
            num_predict: Some(64),
            ocr_languages: Some(vec!["spa".into()]),
            ..Default::default()
        }
        .into_config("/tmp/x")?;
        assert_eq!(changed.answer.backend.to_string(), "openai");
        assert_eq!(changed.answer.num_predict, Some(64));
        assert_eq!(changed.loading.ocr_languages, ["spa"]);
        Ok(())
    }

    #[test]
    fn bad_values_are_invalid_input() {
        for overrides in [
            ConfigOverrides {
                backend: Some("grpc".into()),
                ..Default::default()
            },
            ConfigOverrides {
                top_k: Some(0),
                ..Default::default()
            },
        ] {
            let err = overrides.into_config("/tmp/x").err();
            assert_eq!(err.map(|e| e.code()), Some("invalid_input"));
        }
    }
}
