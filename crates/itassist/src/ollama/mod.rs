//! Chat-model servers: a complete client of Ollama's native API ([`OllamaClient`]) and a
//! client of the OpenAI-compatible API ([`OpenAiClient`]: llama.cpp's `llama-server`, vLLM,
//! LM Studio, Ollama's `/v1`), both behind the [`ChatBackend`] trait used by the
//! [`LlmAnswerer`](crate::answer::LlmAnswerer).
//!
//! Behaviour shared by both clients:
//! - a short connect timeout (`connect_timeout_secs`), a timeout for metadata requests
//!   (`request_timeout_secs`) and a long deadline for one whole generation
//!   (`generation_timeout_secs`), reported as [`Error::Timeout`];
//! - a refused or timed-out connection is [`Error::OllamaUnreachable`] with the URL and how to
//!   start the server; HTTP 404 "model ... not found" is [`Error::ModelNotFound`];
//! - HTTP 5xx and 429 are retried `retries` times with exponential backoff, then reported as
//!   [`Error::Ollama`] with the status;
//! - an error inside a stream (an `{"error": ...}` line, a connection closed before the final
//!   line) is an `Err` item, never a silently truncated answer;
//! - streams are lazy and own their HTTP response: dropping one closes the connection, which
//!   makes the server stop generating.

mod client;
mod http;
mod openai;
pub mod stream;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub use client::OllamaClient;
pub use openai::OpenAiClient;

use crate::config::{AnswerConfig, Backend};
use crate::error::{Error, Result};

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "system".into(),
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// An assistant message (an earlier answer).
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "assistant".into(),
            content: content.into(),
        }
    }
}

/// Generation options, passed through to the server (Ollama's `options` object; the
/// OpenAI backend maps them to `temperature`, `max_tokens` and `seed`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationOptions {
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Context window, in tokens (Ollama only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<u32>,
    /// Most tokens to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_predict: Option<u32>,
    /// Random seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// A chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// Model name.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Generation options.
    pub options: GenerationOptions,
}

/// What the server reports at the end of a generation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatStats {
    /// The model that answered, as the server names it.
    pub model: String,
    /// Why generation stopped: `stop`, `length` (hit `num_predict` or the window), ...
    pub finish_reason: Option<String>,
    /// Tokens in the prompt (absent when the server does not say, e.g. fully cached).
    pub prompt_tokens: Option<u64>,
    /// Tokens generated.
    pub generated_tokens: Option<u64>,
    /// Generation speed, from the server's own timings when it reports them.
    pub tokens_per_second: Option<f64>,
    /// Seconds the server spent on the prompt.
    pub prompt_eval_seconds: Option<f64>,
    /// Seconds the server spent generating.
    pub generation_seconds: Option<f64>,
}

/// An event of a streamed chat.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// A piece of the answer, as it arrives.
    Token(String),
    /// The end of the generation, with the server's statistics.
    Done(ChatStats),
}

/// The whole answer of a non-streamed chat.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The answer text.
    pub content: String,
    /// The server's statistics.
    pub stats: ChatStats,
}

/// A streamed chat: tokens, then exactly one [`ChatEvent::Done`], or an `Err` and nothing
/// after it. Dropping it cancels the request.
pub type ChatStream = BoxStream<'static, Result<ChatEvent>>;

/// A model the server has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Name (`model:tag` for Ollama).
    pub name: String,
    /// Size on disk in bytes.
    pub size: Option<u64>,
    /// Last modification time (RFC 3339).
    pub modified_at: Option<String>,
    /// Content digest.
    pub digest: Option<String>,
    /// Model family (`llama`, ...).
    pub family: Option<String>,
    /// Parameter count as the server prints it (`3.2B`).
    pub parameter_size: Option<String>,
    /// Quantisation (`Q4_K_M`).
    pub quantization_level: Option<String>,
}

/// What `/api/show` says about a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelDetails {
    /// `general.architecture` (`llama`, `gemma3`, ...).
    pub architecture: Option<String>,
    /// The trained context window, `model_info["<arch>.context_length"]`.
    pub context_length: Option<usize>,
    /// Capabilities (`completion`, `tools`, `embedding`, ...).
    pub capabilities: Vec<String>,
    /// Model family.
    pub family: Option<String>,
    /// Parameter count as the server prints it.
    pub parameter_size: Option<String>,
    /// Quantisation.
    pub quantization_level: Option<String>,
}

/// One progress line of a pull.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullProgress {
    /// `pulling manifest`, `pulling <digest>`, `verifying sha256 digest`, ..., `success`.
    pub status: String,
    /// The layer being downloaded.
    #[serde(default)]
    pub digest: Option<String>,
    /// Bytes of the layer.
    #[serde(default)]
    pub total: Option<u64>,
    /// Bytes downloaded so far.
    #[serde(default)]
    pub completed: Option<u64>,
}

/// Progress of a pull; ends after the `success` line or with an `Err`.
pub type PullStream = BoxStream<'static, Result<PullProgress>>;

/// A chat-model server, as the [`LlmAnswerer`](crate::answer::LlmAnswerer) needs it.
///
/// Futures and streams are `'static` (they own clones of the client), so language bindings
/// can hand them to their own runtimes.
pub trait ChatBackend: Send + Sync + 'static {
    /// Which API this is.
    fn kind(&self) -> Backend;
    /// The normalised base URL.
    fn base_url(&self) -> &str;
    /// A non-streamed chat.
    fn chat(&self, request: ChatRequest) -> BoxFuture<'static, Result<ChatResponse>>;
    /// A streamed chat (lazy: nothing is sent before the first poll).
    fn chat_stream(&self, request: ChatRequest) -> ChatStream;
    /// The model's trained context window, when the server can tell.
    fn context_length(&self, model: &str) -> BoxFuture<'static, Result<Option<usize>>>;
    /// The models the server has.
    fn models(&self) -> BoxFuture<'static, Result<Vec<ModelInfo>>>;
    /// Checks that the server answers.
    fn health(&self) -> BoxFuture<'static, Result<()>>;
    /// Downloads a model (Ollama only; other servers return an error).
    fn pull(&self, model: &str) -> PullStream {
        let kind = self.kind();
        let model = model.to_string();
        Box::pin(futures_util::stream::once(async move {
            Err(Error::InvalidInput(format!(
                "cannot pull '{model}': the {kind} backend has no pull API; pull it with `ollama pull {model}` or use backend = ollama"
            )))
        }))
    }
}

/// The backend the configuration asks for.
pub fn backend_from_config(config: &AnswerConfig) -> Result<Arc<dyn ChatBackend>> {
    Ok(match config.backend {
        Backend::Ollama => Arc::new(OllamaClient::new(config)?),
        Backend::OpenAi => Arc::new(OpenAiClient::new(config)?),
    })
}

/// Normalises a server address the way Ollama reads `OLLAMA_HOST`: `host:port`, `host`
/// (port 11434), `:port` (127.0.0.1), `http://host` (port 80), `https://host` (port 443); an
/// optional path is kept. The result has a scheme, a port and no trailing slash.
///
/// ```
/// use itassist::ollama::normalize_base_url;
/// assert_eq!(normalize_base_url("example.com:8080").unwrap(), "http://example.com:8080");
/// assert_eq!(normalize_base_url("0.0.0.0").unwrap(), "http://0.0.0.0:11434");
/// assert_eq!(normalize_base_url("https://ollama.lan/").unwrap(), "https://ollama.lan:443");
/// assert_eq!(normalize_base_url("http://localhost:11434/v1").unwrap(), "http://localhost:11434/v1");
/// ```
pub fn normalize_base_url(raw: &str) -> Result<String> {
    let s = raw.trim();
    let (scheme, rest, default_port) = match s.split_once("://") {
        None => ("http", s, "11434"),
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "http" => ("http", rest, "80"),
            "https" => ("https", rest, "443"),
            other => {
                return Err(Error::InvalidInput(format!(
                    "model server URL '{raw}': unsupported scheme '{other}' (use http or https)"
                )))
            }
        },
    };
    let (hostport, path) = match rest.split_once('/') {
        Some((h, p)) => (h, p.trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(hostport);
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let port = port.unwrap_or(default_port);
    if port.parse::<u16>().is_err() || host.contains(char::is_whitespace) {
        return Err(Error::InvalidInput(format!(
            "model server URL '{raw}' is not a valid host:port"
        )));
    }
    let mut url = format!("{scheme}://{host}:{port}");
    if !path.is_empty() {
        url.push('/');
        url.push_str(path);
    }
    Ok(url)
}

/// Splits `host:port`, `[v6]:port`, `[v6]`, `host`.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            let host = &s[..host.len() + 2];
            return (host, after.strip_prefix(':').filter(|p| !p.is_empty()));
        }
    }
    match s.rsplit_once(':') {
        // A bare IPv6 address has several colons and no brackets: no port.
        Some((host, port)) if !host.contains(':') => (host, Some(port).filter(|p| !p.is_empty())),
        _ => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_like_ollama() {
        let n = |s: &str| normalize_base_url(s).unwrap();
        assert_eq!(n("localhost:11434"), "http://localhost:11434");
        assert_eq!(n("localhost"), "http://localhost:11434");
        assert_eq!(n(":1234"), "http://127.0.0.1:1234");
        assert_eq!(n(""), "http://127.0.0.1:11434");
        assert_eq!(n("http://h"), "http://h:80");
        assert_eq!(n("http://h:99/"), "http://h:99");
        assert_eq!(n("[::1]:8080"), "http://[::1]:8080");
        assert_eq!(n("[::1]"), "http://[::1]:11434");
        assert!(normalize_base_url("ftp://h").is_err());
        assert!(normalize_base_url("h:notaport").is_err());
    }
}
