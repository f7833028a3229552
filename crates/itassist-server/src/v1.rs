//! The OpenAI-compatible chat API, so that any OpenAI client (the `openai` Python and npm
//! packages, Open WebUI, editor plugins) can ask the documents.
//!
//! - `GET /v1/models`: the chat models under names that say they answer from the documents
//!   (`itassist-docs/<model>`).
//! - `POST /v1/chat/completions`: `messages` (the history; the last `user` message is the
//!   question), `model`, `stream`, `temperature`, `max_tokens` (or `max_completion_tokens`),
//!   `seed`, `stream_options.include_usage`, and itassist's own `top_k`. The answer comes
//!   from [`itassist::Assistant::chat`]: a standalone query made from the conversation, the
//!   recent turns in the prompt. Its sources are listed at the end of the content (after
//!   [`SOURCES_MARKER`], which is removed again when a client sends the answer back as
//!   history) and, structured, in the response's `sources` field; `itassist` holds the
//!   searched query, the dropped turns and warnings (`context_truncated`).
//! - Auth: `Authorization: Bearer <key>` (`itassist serve --new-api-key NAME`) or Basic.
//! - Errors: OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`
//!   ([`openai_errors`]).

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, StreamExt};
use itassist::ollama::ChatMessage;
use itassist::{Answer, AskEvent, AskOptions};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::errors::{ApiError, ApiResult};
use crate::routes::json_body;
use crate::AppState;

/// Prefix of the model names `/v1/models` lists.
pub const MODEL_PREFIX: &str = "itassist-docs/";
/// Put before the sources list at the end of an answer's content.
pub const SOURCES_MARKER: &str = "\n\n---\nSources:\n";

/// Largest body of the bigger error responses reshaped by [`openai_errors`].
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The OpenAI `type` of an HTTP status.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        s if s < 500 => "invalid_request_error",
        _ => "server_error",
    }
}

/// Middleware of `/v1`: every error leaves in OpenAI's shape,
/// `{"error": {"message", "type", "param", "code"}}` (the itassist code as `code`, its other
/// fields kept).
pub async fn openai_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    let mut error = parsed
        .and_then(|v| v.get("error").cloned())
        .filter(Value::is_object)
        .unwrap_or_else(|| {
            json!({
                "code": "error",
                "message": String::from_utf8_lossy(&bytes).chars().take(500).collect::<String>(),
            })
        });
    if let Value::Object(map) = &mut error {
        map.insert("type".into(), json!(error_type(status)));
        map.entry("param").or_insert(Value::Null);
    }
    let body = json!({ "error": error }).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `GET /v1/models` — the chat models, named `itassist-docs/<model>`; the configured model
/// first (listed even when the model server cannot be reached).
pub async fn models(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let default = state.assistant().config().answer.model.clone();
    let mut names = vec![default.clone()];
    if let Ok(models) = state.assistant().models().await {
        for m in models {
            if !names.contains(&m.name) && m.name != format!("{default}:latest") {
                names.push(m.name);
            }
        }
    }
    let data: Vec<Value> = names
        .iter()
        .map(|n| {
            json!({
                "id": format!("{MODEL_PREFIX}{n}"),
                "object": "model",
                "created": 0,
                "owned_by": "itassist",
                "description": format!("{n}, answering from the indexed documents with numbered sources"),
            })
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

/// A message of a chat completion request: `content` is a string or a list of parts, of
/// which the `text` ones are read.
#[derive(Debug, Deserialize)]
pub struct RequestMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// The text, or the parts.
    #[serde(default)]
    pub content: Value,
}

impl RequestMessage {
    fn text(&self) -> ApiResult<String> {
        match &self.content {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Ok(String::new()),
            Value::Array(parts) => Ok(parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n")),
            _ => Err(ApiError::bad_request(
                "a message's content is a string or a list of {\"type\": \"text\", \"text\"} parts",
            )),
        }
    }
}

/// `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with `usage`.
    #[serde(default)]
    pub include_usage: bool,
}

/// Body of `POST /v1/chat/completions` (other OpenAI fields are accepted and ignored).
#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    /// `itassist-docs/<model>`, or a model name (default: the configured one).
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation; the last `user` message is the question.
    pub messages: Vec<RequestMessage>,
    /// Stream the answer as Server-Sent Events.
    #[serde(default)]
    pub stream: bool,
    /// Sampling temperature (0 to 2).
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Most tokens to generate.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Most tokens to generate (the newer name).
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    /// Random seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Number of choices: only 1.
    #[serde(default)]
    pub n: Option<u32>,
    /// Streaming options.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Passages to retrieve (itassist's own field).
    #[serde(default)]
    pub top_k: Option<usize>,
}

impl CompletionRequest {
    fn messages(&self) -> ApiResult<Vec<ChatMessage>> {
        self.messages
            .iter()
            .map(|m| {
                let mut content = m.text()?;
                if m.role == "assistant" {
                    // An earlier answer sent back with its sources list: the list is ours.
                    if let Some(i) = content.rfind(SOURCES_MARKER) {
                        content.truncate(i);
                    }
                }
                Ok(ChatMessage {
                    role: m.role.clone(),
                    content,
                })
            })
            .collect()
    }

    fn options(&self, default_model: &str) -> ApiResult<AskOptions> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::bad_request("only n = 1 is supported"));
        }
        let model = self
            .model
            .as_deref()
            .map(|m| m.strip_prefix(MODEL_PREFIX).unwrap_or(m).trim().to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| default_model.to_string());
        let options = AskOptions {
            model: Some(model),
            top_k: self.top_k,
            temperature: self.temperature,
            num_predict: self.max_completion_tokens.or(self.max_tokens),
            seed: self.seed,
            ..AskOptions::default()
        };
        options.validate()?;
        Ok(options)
    }
}

/// The sources list put at the end of the content: the cited sources, or every source when
/// the answer cites none.
pub fn sources_text(answer: &Answer) -> String {
    if answer.sources.is_empty() {
        return String::new();
    }
    let cited: Vec<(usize, &itassist::Passage)> = answer.cited_sources().collect();
    let list: Vec<(usize, &itassist::Passage)> = if cited.is_empty() {
        answer
            .sources
            .iter()
            .enumerate()
            .map(|(i, p)| (i + 1, p))
            .collect()
    } else {
        cited
    };
    let mut text = SOURCES_MARKER.to_string();
    for (n, p) in list {
        text.push_str(&format!("[{n}] {}\n", p.citation()));
    }
    text.trim_end().to_string()
}

/// The structured sources: every passage given to the model, numbered, with `cited`.
pub fn sources_json(answer: &Answer) -> Value {
    let list: Vec<Value> = answer
        .sources
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let n = i + 1;
            json!({
                "number": n,
                "citation": p.citation(),
                "name": p.name,
                "source": p.source,
                "document_id": p.document_id,
                "page": p.page,
                "section": p.section,
                "score": p.score,
                "cited": answer.cited.contains(&n),
                "text": p.text,
            })
        })
        .collect();
    json!(list)
}

fn usage(answer: &Answer) -> Value {
    let prompt = answer.timings.prompt_tokens.unwrap_or(0);
    let completion = answer.timings.generated_tokens.unwrap_or(0);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

fn extras(answer: &Answer) -> Value {
    json!({
        "searched_query": answer.searched_query,
        "history_turns": answer.history_turns,
        "dropped_turns": answer.dropped_turns,
        "dropped_passages": answer.dropped_passages,
        "language": answer.language,
        "warnings": answer.warnings,
        "model": answer.model,
    })
}

fn finish_reason(answer: &Answer) -> &'static str {
    match answer.finish_reason.as_deref() {
        Some("length") => "length",
        _ => "stop",
    }
}

fn completion_id() -> String {
    let mut raw = [0u8; 12];
    argon2::password_hash::rand_core::RngCore::fill_bytes(
        &mut argon2::password_hash::rand_core::OsRng,
        &mut raw,
    );
    format!("chatcmpl-{}", hex::encode(raw))
}

/// `POST /v1/chat/completions` — answers the last user message from the documents.
pub async fn chat_completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let request: CompletionRequest = json_body(&headers, body)?;
    let assistant = state.assistant();
    let config = assistant.config();
    let options = request.options(&config.answer.model)?;
    let messages = request.messages()?;
    let model_name = format!(
        "{MODEL_PREFIX}{}",
        options.model.clone().unwrap_or_default()
    );
    let id = completion_id();
    let created = now();
    if !request.stream {
        let answer = state.assistant().chat(&messages, &options).await?;
        let content = format!("{}{}", answer.answer, sources_text(&answer));
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model_name,
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content },
                "finish_reason": finish_reason(&answer),
            }],
            "usage": usage(&answer),
            "sources": sources_json(&answer),
            "itassist": extras(&answer),
        }))
        .into_response());
    }
    let include_usage = request
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    let mut events = state.assistant().chat_stream(&messages, options);
    // Hold back until generation starts, so that an early failure is an HTTP error.
    let mut head: Vec<AskEvent> = Vec::new();
    loop {
        match events.next().await {
            Some(Ok(event)) => {
                let started = !matches!(event, AskEvent::Sources { .. });
                head.push(event);
                if started {
                    break;
                }
            }
            Some(Err(e)) => return Err(ApiError::from(e)),
            None => break,
        }
    }
    let chunk = {
        let (id, model) = (id.clone(), model_name.clone());
        move |delta: Value, finish: Option<&str>| -> Value {
            json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
            })
        }
    };
    let first = chunk(json!({ "role": "assistant", "content": "" }), None);
    let events = stream::iter(head.into_iter().map(Ok)).chain(events);
    let mapper = chunk.clone();
    let (id2, model2) = (id.clone(), model_name.clone());
    let body = events
        .scan(false, move |failed, item| {
            if *failed {
                return std::future::ready(None);
            }
            let out: Vec<Value> = match item {
                Ok(AskEvent::Token { text }) => vec![mapper(json!({ "content": text }), None)],
                Ok(AskEvent::Done { answer }) => {
                    let mut last = mapper(json!({}), Some(finish_reason(&answer)));
                    last["sources"] = sources_json(&answer);
                    last["itassist"] = extras(&answer);
                    let mut out = Vec::new();
                    let text = sources_text(&answer);
                    if !text.is_empty() {
                        out.push(mapper(json!({ "content": text }), None));
                    }
                    out.push(last);
                    if include_usage {
                        out.push(json!({
                            "id": id2,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": model2,
                            "choices": [],
                            "usage": usage(&answer),
                        }));
                    }
                    out
                }
                Ok(_) => Vec::new(),
                Err(e) => {
                    *failed = true;
                    let api = ApiError::from(e);
                    let mut body = api.body();
                    body["error"]["type"] = json!(error_type(api.status));
                    body["error"]["param"] = Value::Null;
                    vec![body]
                }
            };
            std::future::ready(Some(out))
        })
        .flat_map(|values| {
            stream::iter(
                values
                    .into_iter()
                    .map(|v| Event::default().data(v.to_string())),
            )
        });
    let all = stream::once(async move { Event::default().data(first.to_string()) })
        .chain(body)
        .chain(stream::once(async { Event::default().data("[DONE]") }))
        .map(Ok::<Event, Infallible>);
    Ok(Sse::new(all)
        .keep_alive(KeepAlive::default())
        .into_response())
}
