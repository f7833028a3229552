//! Ollama's native API: `/api/chat` (streamed NDJSON and not), `/api/tags`, `/api/show`,
//! `/api/pull`, `/api/embed`, `/api/version`, and `GET /` as a health check.

use futures_util::future::BoxFuture;
use futures_util::stream;
use serde::Deserialize;
use serde_json::json;

use super::http::{error_value_message, parse_stream_item, Deadline, Http};
use super::stream::LineReader;
use super::{
    normalize_base_url, ChatBackend, ChatEvent, ChatRequest, ChatResponse, ChatStats, ChatStream,
    ModelDetails, ModelInfo, PullProgress, PullStream,
};
use crate::config::{AnswerConfig, Backend};
use crate::error::{Error, Result};

/// A client of Ollama's native HTTP API. Cheap to clone (the connection pool is shared).
///
/// ```no_run
/// # async fn demo() -> itassist::Result<()> {
/// use itassist::ollama::{ChatMessage, ChatRequest, OllamaClient};
/// let client = OllamaClient::new(&itassist::config::AnswerConfig::default())?;
/// println!("Ollama {}", client.version().await?);
/// let reply = client
///     .chat(ChatRequest {
///         model: "llama3".into(),
///         messages: vec![ChatMessage::user("Why is the sky blue?")],
///         options: Default::default(),
///     })
///     .await?;
/// println!("{}", reply.content);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OllamaClient {
    http: Http,
}

/// One line of `/api/chat` (a token chunk, the final line, or an error).
#[derive(Debug, Deserialize)]
struct ChatLine {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    message: Option<LineMessage>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    prompt_eval_duration: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
    #[serde(default)]
    eval_duration: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct LineMessage {
    #[serde(default)]
    content: Option<String>,
}

impl ChatLine {
    fn stats(&self, requested_model: &str) -> ChatStats {
        let ns = |d: Option<u64>| d.map(|d| d as f64 / 1e9);
        let tokens_per_second = match (self.eval_count, self.eval_duration) {
            (Some(n), Some(d)) if d > 0 => Some(n as f64 / (d as f64 / 1e9)),
            _ => None,
        };
        ChatStats {
            model: self
                .model
                .clone()
                .unwrap_or_else(|| requested_model.to_string()),
            finish_reason: self.done_reason.clone(),
            prompt_tokens: self.prompt_eval_count,
            generated_tokens: self.eval_count,
            tokens_per_second,
            prompt_eval_seconds: ns(self.prompt_eval_duration),
            generation_seconds: ns(self.eval_duration),
        }
    }
}

/// Parses one NDJSON line, turning an `error` key into an `Err`.
fn parse_line<T: for<'de> Deserialize<'de>>(line: &str, tokens_so_far: usize) -> Result<T> {
    parse_stream_item(line, "line", tokens_so_far as u64)
}

fn closed_early(what: &str) -> Error {
    Error::Ollama {
        status: None,
        message: format!(
            "the server closed the {what} stream before its final line (was it restarted or out of memory?); the partial result was discarded"
        ),
    }
}

impl OllamaClient {
    /// A client for the server in `config.base_url` (see
    /// [`normalize_base_url`](super::normalize_base_url)).
    pub fn new(config: &AnswerConfig) -> Result<Self> {
        let mut config = config.clone();
        config.backend = Backend::Ollama;
        let base = normalize_base_url(&config.base_url)?;
        Ok(OllamaClient {
            http: Http::new(&config, base)?,
        })
    }

    /// The normalised base URL.
    pub fn base_url(&self) -> &str {
        &self.http.base
    }

    fn metadata_deadline(&self) -> Deadline {
        Deadline::after(self.http.request_timeout)
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T> {
        let url = self.http.url(path);
        let deadline = self.metadata_deadline();
        let response = self
            .http
            .send(|| self.http.get(&url), None, deadline)
            .await?;
        self.read_json(response, deadline).await
    }

    async fn post_json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: serde_json::Value,
        model: Option<&str>,
        deadline: Deadline,
    ) -> Result<T> {
        let url = self.http.url(path);
        let response = self
            .http
            .send(|| self.http.post_json(&url, &body), model, deadline)
            .await?;
        self.read_json(response, deadline).await
    }

    async fn read_json<T: for<'de> Deserialize<'de>>(
        &self,
        response: reqwest::Response,
        deadline: Deadline,
    ) -> Result<T> {
        let path = response.url().path().to_string();
        let bytes = deadline
            .run(async {
                response
                    .bytes()
                    .await
                    .map_err(|e| self.http.transport_error(e))
            })
            .await?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::Ollama {
                status: None,
                message: format!(
                    "{path} did not return JSON ({e}); is {} an Ollama server?",
                    self.http.base
                ),
            })?;
        if let Some(message) = value.get("error").and_then(error_value_message) {
            return Err(Error::Ollama {
                status: Some(200),
                message,
            });
        }
        serde_json::from_value(value).map_err(|e| Error::Ollama {
            status: None,
            message: format!("unexpected response from {path}: {e}"),
        })
    }

    /// The server's version (`GET /api/version`).
    pub async fn version(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Version {
            version: String,
        }
        Ok(self.get_json::<Version>("/api/version").await?.version)
    }

    /// Checks that the server answers (`GET /`, "Ollama is running").
    pub async fn health(&self) -> Result<()> {
        let url = self.http.url("/");
        self.http
            .send(|| self.http.get(&url), None, self.metadata_deadline())
            .await
            .map(|_| ())
    }

    /// The pulled models (`GET /api/tags`).
    pub async fn tags(&self) -> Result<Vec<ModelInfo>> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            models: Vec<Tag>,
        }
        #[derive(Deserialize)]
        struct Tag {
            #[serde(default)]
            name: String,
            #[serde(default)]
            model: Option<String>,
            #[serde(default)]
            size: Option<u64>,
            #[serde(default)]
            modified_at: Option<String>,
            #[serde(default)]
            digest: Option<String>,
            #[serde(default)]
            details: Option<Details>,
        }
        let tags: Tags = self.get_json("/api/tags").await?;
        Ok(tags
            .models
            .into_iter()
            .map(|t| {
                let details = t.details.unwrap_or_default();
                ModelInfo {
                    name: if t.name.is_empty() {
                        t.model.unwrap_or_default()
                    } else {
                        t.name
                    },
                    size: t.size,
                    modified_at: t.modified_at,
                    digest: t.digest,
                    family: details.family,
                    parameter_size: details.parameter_size,
                    quantization_level: details.quantization_level,
                }
            })
            .collect())
    }

    /// What the server knows about a model (`POST /api/show`), notably its trained context
    /// window. A model that is not pulled is [`Error::ModelNotFound`].
    pub async fn show(&self, model: &str) -> Result<ModelDetails> {
        #[derive(Deserialize)]
        struct Show {
            #[serde(default)]
            details: Option<Details>,
            #[serde(default)]
            model_info: Option<serde_json::Map<String, serde_json::Value>>,
            #[serde(default)]
            capabilities: Vec<String>,
        }
        let show: Show = self
            .post_json(
                "/api/show",
                json!({"model": model}),
                Some(model),
                self.metadata_deadline(),
            )
            .await?;
        let info = show.model_info.unwrap_or_default();
        let architecture = info
            .get("general.architecture")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let as_usize = |v: &serde_json::Value| v.as_u64().map(|n| n as usize);
        let context_length = architecture
            .as_ref()
            .and_then(|arch| info.get(&format!("{arch}.context_length")))
            .and_then(as_usize)
            .or_else(|| {
                info.iter()
                    .find(|(k, _)| k.ends_with(".context_length"))
                    .and_then(|(_, v)| as_usize(v))
            });
        let details = show.details.unwrap_or_default();
        Ok(ModelDetails {
            architecture,
            context_length,
            capabilities: show.capabilities,
            family: details.family,
            parameter_size: details.parameter_size,
            quantization_level: details.quantization_level,
        })
    }

    /// Embeds texts with an embedding model (`POST /api/embed`).
    pub async fn embed(&self, model: &str, input: &[&str]) -> Result<Vec<Vec<f32>>> {
        #[derive(Deserialize)]
        struct Embed {
            #[serde(default)]
            embeddings: Vec<Vec<f32>>,
        }
        let out: Embed = self
            .post_json(
                "/api/embed",
                json!({"model": model, "input": input}),
                Some(model),
                Deadline::after(self.http.generation_timeout),
            )
            .await?;
        if out.embeddings.len() != input.len() {
            return Err(Error::Ollama {
                status: None,
                message: format!(
                    "/api/embed returned {} vectors for {} inputs",
                    out.embeddings.len(),
                    input.len()
                ),
            });
        }
        Ok(out.embeddings)
    }

    fn chat_body(request: &ChatRequest, stream: bool) -> serde_json::Value {
        json!({
            "model": request.model,
            "messages": request.messages,
            "stream": stream,
            "options": request.options,
        })
    }

    /// A non-streamed chat (`"stream": false`).
    pub async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let deadline = Deadline::after(self.http.generation_timeout);
        let line: ChatLine = self
            .post_json(
                "/api/chat",
                Self::chat_body(&request, false),
                Some(&request.model),
                deadline,
            )
            .await?;
        if !line.done {
            return Err(closed_early("chat"));
        }
        Ok(ChatResponse {
            stats: line.stats(&request.model),
            content: line.message.and_then(|m| m.content).unwrap_or_default(),
        })
    }

    /// A streamed chat: tokens as they arrive, then the final statistics. Lazy; dropping the
    /// stream closes the connection (Ollama then stops generating).
    pub fn chat_stream(&self, request: ChatRequest) -> ChatStream {
        enum State {
            Start(OllamaClient, ChatRequest),
            Reading {
                lines: LineReader,
                deadline: Deadline,
                model: String,
                chunks: usize,
            },
            PendingDone(ChatStats),
            Finished,
        }
        let start = State::Start(self.clone(), request);
        Box::pin(stream::unfold(start, |state| async move {
            let (mut lines, deadline, model, mut chunks) = match state {
                State::Finished => return None,
                State::PendingDone(stats) => {
                    return Some((Ok(ChatEvent::Done(stats)), State::Finished))
                }
                State::Start(client, request) => {
                    let deadline = Deadline::after(client.http.generation_timeout);
                    let url = client.http.url("/api/chat");
                    let body = Self::chat_body(&request, true);
                    let sent = client
                        .http
                        .send(
                            || client.http.post_json(&url, &body),
                            Some(&request.model),
                            deadline,
                        )
                        .await;
                    match sent {
                        Ok(response) => (LineReader::new(response), deadline, request.model, 0),
                        Err(e) => return Some((Err(e), State::Finished)),
                    }
                }
                State::Reading {
                    lines,
                    deadline,
                    model,
                    chunks,
                } => (lines, deadline, model, chunks),
            };
            loop {
                let line = match lines.next_line(&deadline).await {
                    Ok(Some(line)) => line,
                    Ok(None) => return Some((Err(closed_early("chat")), State::Finished)),
                    Err(e) => return Some((Err(e), State::Finished)),
                };
                if line.trim().is_empty() {
                    continue;
                }
                let parsed: ChatLine = match parse_line(&line, chunks) {
                    Ok(parsed) => parsed,
                    Err(e) => return Some((Err(e), State::Finished)),
                };
                let stats = parsed.done.then(|| parsed.stats(&model));
                let content = parsed.message.and_then(|m| m.content).unwrap_or_default();
                if let Some(stats) = stats {
                    // The final line usually has no text; when it has some, emit it first.
                    if content.is_empty() {
                        return Some((Ok(ChatEvent::Done(stats)), State::Finished));
                    }
                    return Some((Ok(ChatEvent::Token(content)), State::PendingDone(stats)));
                }
                if content.is_empty() {
                    continue;
                }
                chunks += 1;
                let next = State::Reading {
                    lines,
                    deadline,
                    model,
                    chunks,
                };
                return Some((Ok(ChatEvent::Token(content)), next));
            }
        }))
    }

    /// Downloads a model (`POST /api/pull`, streamed): progress lines, ending with `success`.
    /// An `{"error": ...}` line (e.g. unknown model) is an `Err`. There is no overall
    /// deadline; `generation_timeout_secs` bounds the silence between two lines.
    pub fn pull(&self, model: &str) -> PullStream {
        enum State {
            Start(OllamaClient, String),
            Reading(LineReader, OllamaClient),
            Finished,
        }
        let start = State::Start(self.clone(), model.to_string());
        Box::pin(stream::unfold(start, |state| async move {
            let (mut lines, client) = match state {
                State::Finished => return None,
                State::Start(client, model) => {
                    let url = client.http.url("/api/pull");
                    let body = json!({"model": model, "stream": true});
                    let deadline = Deadline::after(client.http.request_timeout);
                    match client
                        .http
                        .send(
                            || client.http.post_json(&url, &body),
                            Some(&model),
                            deadline,
                        )
                        .await
                    {
                        Ok(response) => (LineReader::new(response), client),
                        Err(e) => return Some((Err(e), State::Finished)),
                    }
                }
                State::Reading(lines, client) => (lines, client),
            };
            loop {
                let idle = Deadline::after(client.http.generation_timeout);
                let line = match lines.next_line(&idle).await {
                    Ok(Some(line)) => line,
                    Ok(None) => return Some((Err(closed_early("pull")), State::Finished)),
                    Err(e) => return Some((Err(e), State::Finished)),
                };
                if line.trim().is_empty() {
                    continue;
                }
                let progress: PullProgress = match parse_line(&line, 0) {
                    Ok(p) => p,
                    Err(e) => return Some((Err(e), State::Finished)),
                };
                let next = if progress.status == "success" {
                    State::Finished
                } else {
                    State::Reading(lines, client)
                };
                return Some((Ok(progress), next));
            }
        }))
    }
}

#[derive(Debug, Default, Deserialize)]
struct Details {
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    parameter_size: Option<String>,
    #[serde(default)]
    quantization_level: Option<String>,
}

impl ChatBackend for OllamaClient {
    fn kind(&self) -> Backend {
        Backend::Ollama
    }

    fn base_url(&self) -> &str {
        &self.http.base
    }

    fn chat(&self, request: ChatRequest) -> BoxFuture<'static, Result<ChatResponse>> {
        let client = self.clone();
        Box::pin(async move { OllamaClient::chat(&client, request).await })
    }

    fn chat_stream(&self, request: ChatRequest) -> ChatStream {
        OllamaClient::chat_stream(self, request)
    }

    fn context_length(&self, model: &str) -> BoxFuture<'static, Result<Option<usize>>> {
        let client = self.clone();
        let model = model.to_string();
        Box::pin(async move { Ok(client.show(&model).await?.context_length) })
    }

    fn models(&self) -> BoxFuture<'static, Result<Vec<ModelInfo>>> {
        let client = self.clone();
        Box::pin(async move { client.tags().await })
    }

    fn health(&self) -> BoxFuture<'static, Result<()>> {
        let client = self.clone();
        Box::pin(async move { OllamaClient::health(&client).await })
    }

    fn pull(&self, model: &str) -> PullStream {
        OllamaClient::pull(self, model)
    }
}
