//! The OpenAI-compatible API (`/v1/chat/completions` with SSE, `/v1/models`), as served by
//! llama.cpp's `llama-server`, vLLM, LM Studio and Ollama's own `/v1`.

use std::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::stream;
use serde::Deserialize;
use serde_json::json;

use super::http::{parse_stream_item, Deadline, Http};
use super::stream::{LineReader, SseParser};
use super::{
    normalize_base_url, ChatBackend, ChatEvent, ChatRequest, ChatResponse, ChatStats, ChatStream,
    ModelInfo,
};
use crate::config::{AnswerConfig, Backend};
use crate::error::{Error, Result};

/// A client of an OpenAI-compatible chat server. Cheap to clone.
///
/// The base URL may name the server (`http://127.0.0.1:8080`) or its `/v1` root
/// (`http://localhost:11434/v1`). `temperature`, `num_predict` (as `max_tokens`) and `seed`
/// are passed through; `num_ctx` is not part of this API (the server's own setting rules).
#[derive(Debug, Clone)]
pub struct OpenAiClient {
    http: Http,
    /// `<server>/v1`.
    v1: String,
    /// The server without `/v1` (for llama.cpp's `/props` and `/health`).
    root: String,
}

#[derive(Debug, Default, Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    /// llama.cpp's own timings.
    #[serde(default)]
    timings: Option<LlamaTimings>,
}

#[derive(Debug, Default, Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Content>,
    #[serde(default)]
    message: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Content {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct LlamaTimings {
    #[serde(default)]
    prompt_n: Option<u64>,
    #[serde(default)]
    prompt_ms: Option<f64>,
    #[serde(default)]
    predicted_n: Option<u64>,
    #[serde(default)]
    predicted_ms: Option<f64>,
    #[serde(default)]
    predicted_per_second: Option<f64>,
}

/// What the stream has said so far about the end of the generation.
#[derive(Debug, Default)]
struct Tally {
    model: Option<String>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    timings: Option<LlamaTimings>,
    chunks: u64,
    first_token: Option<Instant>,
    last_token: Option<Instant>,
}

impl Tally {
    fn absorb(&mut self, c: &Completion) {
        if c.model.is_some() {
            self.model.clone_from(&c.model);
        }
        if let Some(reason) = c.choices.iter().find_map(|ch| ch.finish_reason.clone()) {
            self.finish_reason = Some(reason);
        }
        if c.usage.is_some() {
            self.usage.clone_from(&c.usage);
        }
        if c.timings.is_some() {
            self.timings.clone_from(&c.timings);
        }
    }

    fn stats(&self, requested_model: &str) -> ChatStats {
        let usage = self.usage.clone().unwrap_or_default();
        let timings = self.timings.clone().unwrap_or_default();
        let generated = usage.completion_tokens.or(timings.predicted_n).or(
            // Without usage: one SSE chunk is one token on every server we know.
            (self.chunks > 0).then_some(self.chunks),
        );
        let measured = match (self.first_token, self.last_token, generated) {
            (Some(a), Some(b), Some(n)) if n > 1 && b > a => {
                Some((n - 1) as f64 / (b - a).as_secs_f64())
            }
            _ => None,
        };
        ChatStats {
            model: self
                .model
                .clone()
                .unwrap_or_else(|| requested_model.to_string()),
            finish_reason: self.finish_reason.clone(),
            prompt_tokens: usage.prompt_tokens.or(timings.prompt_n),
            generated_tokens: generated,
            tokens_per_second: timings.predicted_per_second.or(measured),
            prompt_eval_seconds: timings.prompt_ms.map(|ms| ms / 1e3),
            generation_seconds: timings.predicted_ms.map(|ms| ms / 1e3),
        }
    }
}

fn parse_completion(data: &str, chunks: u64) -> Result<Completion> {
    parse_stream_item(data, "chat completion", chunks)
}

fn closed_early() -> Error {
    Error::Ollama {
        status: None,
        message: "the server closed the chat stream before it finished (no [DONE]); the partial answer was discarded".into(),
    }
}

impl OpenAiClient {
    /// A client for the server in `config.base_url`.
    pub fn new(config: &AnswerConfig) -> Result<Self> {
        let mut config = config.clone();
        config.backend = Backend::OpenAi;
        let base = normalize_base_url(&config.base_url)?;
        let root = base.strip_suffix("/v1").unwrap_or(&base).to_string();
        Ok(OpenAiClient {
            v1: format!("{root}/v1"),
            root,
            http: Http::new(&config, base)?,
        })
    }

    fn body(request: &ChatRequest, stream: bool) -> serde_json::Value {
        let mut body = json!({
            "model": request.model,
            "messages": request.messages,
            "stream": stream,
        });
        let o = &request.options;
        if let Some(t) = o.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = o.num_predict {
            body["max_tokens"] = json!(n);
        }
        if let Some(seed) = o.seed {
            body["seed"] = json!(seed);
        }
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }

    /// A non-streamed chat completion.
    pub async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let deadline = Deadline::after(self.http.generation_timeout);
        let url = format!("{}/chat/completions", self.v1);
        let body = Self::body(&request, false);
        let response = self
            .http
            .send(
                || self.http.post_json(&url, &body),
                Some(&request.model),
                deadline,
            )
            .await?;
        let bytes = deadline
            .run(async {
                response
                    .bytes()
                    .await
                    .map_err(|e| self.http.transport_error(e))
            })
            .await?;
        let text = String::from_utf8_lossy(&bytes);
        let completion = parse_completion(&text, 0)?;
        let mut tally = Tally::default();
        tally.absorb(&completion);
        let content = completion
            .choices
            .into_iter()
            .find_map(|c| c.message.and_then(|m| m.content))
            .unwrap_or_default();
        Ok(ChatResponse {
            content,
            stats: tally.stats(&request.model),
        })
    }

    /// A streamed chat completion (SSE). Lazy; dropping the stream closes the connection.
    pub fn chat_stream(&self, request: ChatRequest) -> ChatStream {
        enum State {
            Start(OpenAiClient, ChatRequest),
            Reading {
                lines: LineReader,
                sse: SseParser,
                deadline: Deadline,
                model: String,
                tally: Tally,
            },
            Finished,
        }
        let start = State::Start(self.clone(), request);
        Box::pin(stream::unfold(start, |state| async move {
            let (mut lines, mut sse, deadline, model, mut tally) = match state {
                State::Finished => return None,
                State::Start(client, request) => {
                    let deadline = Deadline::after(client.http.generation_timeout);
                    let url = format!("{}/chat/completions", client.v1);
                    let body = Self::body(&request, true);
                    let sent = client
                        .http
                        .send(
                            || client.http.post_json(&url, &body),
                            Some(&request.model),
                            deadline,
                        )
                        .await;
                    match sent {
                        Ok(response) => (
                            LineReader::new(response),
                            SseParser::new(),
                            deadline,
                            request.model,
                            Tally::default(),
                        ),
                        Err(e) => return Some((Err(e), State::Finished)),
                    }
                }
                State::Reading {
                    lines,
                    sse,
                    deadline,
                    model,
                    tally,
                } => (lines, sse, deadline, model, tally),
            };
            loop {
                let event = match lines.next_line(&deadline).await {
                    Ok(Some(line)) => sse.line(&line),
                    Ok(None) => match sse.finish() {
                        Some(event) => Some(event),
                        // Some servers close right after the finishing chunk.
                        None if tally.finish_reason.is_some() => {
                            return Some((
                                Ok(ChatEvent::Done(tally.stats(&model))),
                                State::Finished,
                            ))
                        }
                        None => return Some((Err(closed_early()), State::Finished)),
                    },
                    Err(e) => return Some((Err(e), State::Finished)),
                };
                let Some(event) = event else { continue };
                let data = event.data.trim();
                if data == "[DONE]" {
                    return Some((Ok(ChatEvent::Done(tally.stats(&model))), State::Finished));
                }
                if event.event.as_deref() == Some("error") {
                    let message = super::http::error_message(data)
                        .unwrap_or_else(|| data.chars().take(500).collect());
                    return Some((
                        Err(Error::Ollama {
                            status: Some(200),
                            message,
                        }),
                        State::Finished,
                    ));
                }
                let completion = match parse_completion(data, tally.chunks) {
                    Ok(c) => c,
                    Err(e) => return Some((Err(e), State::Finished)),
                };
                tally.absorb(&completion);
                let content: String = completion
                    .choices
                    .iter()
                    .filter_map(|c| c.delta.as_ref().and_then(|d| d.content.as_deref()))
                    .collect();
                if content.is_empty() {
                    continue;
                }
                let now = Instant::now();
                tally.first_token.get_or_insert(now);
                tally.last_token = Some(now);
                tally.chunks += 1;
                let next = State::Reading {
                    lines,
                    sse,
                    deadline,
                    model,
                    tally,
                };
                return Some((Ok(ChatEvent::Token(content)), next));
            }
        }))
    }

    /// The models the server offers (`GET /v1/models`).
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>> {
        #[derive(Deserialize)]
        struct Models {
            #[serde(default)]
            data: Vec<Model>,
        }
        #[derive(Deserialize)]
        struct Model {
            id: String,
        }
        let value = self.get_json(&format!("{}/models", self.v1)).await?;
        let models: Models = serde_json::from_value(value).map_err(|e| Error::Ollama {
            status: None,
            message: format!("unexpected /v1/models response: {e}"),
        })?;
        Ok(models
            .data
            .into_iter()
            .map(|m| ModelInfo {
                name: m.id,
                ..ModelInfo::default()
            })
            .collect())
    }

    /// The context window the server runs with, from llama.cpp's `/props`
    /// (`default_generation_settings.n_ctx`); `None` when the server does not say.
    pub async fn server_context_window(&self) -> Result<Option<usize>> {
        let url = format!("{}/props", self.root);
        let value = match self.get_json(&url).await {
            Ok(v) => v,
            Err(Error::Ollama { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let n_ctx = value
            .pointer("/default_generation_settings/n_ctx")
            .or_else(|| value.get("n_ctx"))
            .and_then(|v| v.as_u64())
            .map(|n| n as usize);
        Ok(n_ctx)
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value> {
        let deadline = Deadline::after(self.http.request_timeout);
        let response = self
            .http
            .send(|| self.http.get(url), None, deadline)
            .await?;
        let bytes = deadline
            .run(async {
                response
                    .bytes()
                    .await
                    .map_err(|e| self.http.transport_error(e))
            })
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Ollama {
            status: None,
            message: format!("{url} did not return JSON: {e}"),
        })
    }

    /// Checks that the server answers (`/health` when it has one, else `/v1/models`).
    pub async fn health(&self) -> Result<()> {
        let url = format!("{}/health", self.root);
        match self.get_json(&url).await {
            Ok(_) => Ok(()),
            Err(Error::Ollama {
                status: Some(404), ..
            }) => self.list_models().await.map(|_| ()),
            Err(e) => Err(e),
        }
    }
}

impl ChatBackend for OpenAiClient {
    fn kind(&self) -> Backend {
        Backend::OpenAi
    }

    fn base_url(&self) -> &str {
        &self.http.base
    }

    fn chat(&self, request: ChatRequest) -> BoxFuture<'static, Result<ChatResponse>> {
        let client = self.clone();
        Box::pin(async move { OpenAiClient::chat(&client, request).await })
    }

    fn chat_stream(&self, request: ChatRequest) -> ChatStream {
        OpenAiClient::chat_stream(self, request)
    }

    fn context_length(&self, _model: &str) -> BoxFuture<'static, Result<Option<usize>>> {
        let client = self.clone();
        Box::pin(async move { client.server_context_window().await })
    }

    fn models(&self) -> BoxFuture<'static, Result<Vec<ModelInfo>>> {
        let client = self.clone();
        Box::pin(async move { client.list_models().await })
    }

    fn health(&self) -> BoxFuture<'static, Result<()>> {
        let client = self.clone();
        Box::pin(async move { OpenAiClient::health(&client).await })
    }
}
