//! The JSON endpoints (upload is in [`crate::upload`], the OpenAPI document in
//! [`crate::openapi`]).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, StreamExt};
use itassist::{Answer, AskEvent, AskOptions};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::errors::{ApiError, ApiResult};
use crate::AppState;

/// How long `/health` waits for the model server.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Parses a JSON request body: `415 unsupported_media_type` unless the `Content-Type` is JSON
/// (so a cross-site form or a `text/plain` body is never taken for a request), `413
/// payload_too_large` over [`crate::guard::MAX_JSON_BODY_BYTES`], `400 invalid_json` when it is
/// not what the endpoint expects.
pub fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<T> {
    if !crate::guard::is_json_content_type(headers) {
        let got = headers
            .get(header::CONTENT_TYPE)
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(80)
                    .collect::<String>()
            })
            .unwrap_or_else(|| "none".into());
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("this endpoint takes a JSON body: send it with Content-Type: application/json (got {got})"),
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the JSON body is larger than the limit of {} bytes: send less (uploads go to POST /upload/)",
                    crate::guard::MAX_JSON_BODY_BYTES
                ),
            )
            .with_extra(json!({ "limit_bytes": crate::guard::MAX_JSON_BODY_BYTES }))
        } else {
            ApiError::bad_request(format!("cannot read the request body: {}", e.body_text()))
        }
    })?;
    parse_json(&body)
}

/// Parses a JSON body, answering 400 `invalid_json` when it is not what the endpoint expects.
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::invalid_json(
            "the request body is empty: send a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid_json(format!(
            "the request body is not valid JSON for this endpoint: {e}"
        ))
    })
}

/// `GET /` — the web page.
pub async fn index_page() -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(crate::INDEX_HTML),
    )
        .into_response()
}

/// Unknown route: 404 JSON.
pub async fn fallback() -> ApiError {
    ApiError::not_found()
}

/// Known route, wrong method: 405 JSON.
pub async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// `GET /health` — index counts and model-server state; no authentication.
pub async fn health(State(state): State<AppState>) -> Response {
    let assistant = state.assistant();
    let stats = tokio::task::spawn_blocking(move || assistant.stats()).await;
    let (index, index_ok) = match stats {
        Ok(Ok(s)) => (
            json!({
                "ok": true,
                "documents": s.documents,
                "chunks": s.chunks,
                "tokens": s.tokens,
                "embedding_model": s.embedding_model,
                "dimensions": s.dimensions,
                "trees_built": s.trees_built,
            }),
            true,
        ),
        Ok(Err(e)) => (
            json!({ "ok": false, "error": ApiError::from(e).body()["error"] }),
            false,
        ),
        Err(e) => (
            json!({ "ok": false, "error": ApiError::internal(e).body()["error"] }),
            false,
        ),
    };
    let assistant = state.assistant();
    let answer = &assistant.config().answer;
    let mut model_server = json!({
        "backend": answer.backend.to_string(),
        "default_model": answer.model,
    });
    let reachable = match tokio::time::timeout(HEALTH_TIMEOUT, assistant.models()).await {
        Ok(Ok(models)) => {
            model_server["models"] = json!(models.len());
            model_server["default_model_available"] = json!(models
                .iter()
                .any(|m| m.name == answer.model || m.name == format!("{}:latest", answer.model)));
            true
        }
        Ok(Err(e)) => {
            model_server["error"] = ApiError::from(e).body()["error"].clone();
            false
        }
        Err(_) => {
            model_server["error"] = json!({
                "code": "timeout",
                "message": format!("the model server did not answer within {} s", HEALTH_TIMEOUT.as_secs()),
            });
            false
        }
    };
    model_server["reachable"] = json!(reachable);
    let status = if !index_ok {
        "error"
    } else if reachable {
        "ok"
    } else {
        "degraded"
    };
    let code = if index_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({
            "status": status,
            "version": env!("CARGO_PKG_VERSION"),
            "index": index,
            "model_server": model_server,
        })),
    )
        .into_response()
}

/// Body of `/ask/` and `/ask/stream`.
#[derive(Debug, Deserialize)]
pub struct AskRequest {
    /// The question.
    pub question: String,
    /// Answer from the indexed documents (default) or ask the model directly.
    #[serde(default = "yes")]
    pub context: bool,
    /// Chat model (default: the configured one).
    #[serde(default)]
    pub model: Option<String>,
    /// Passages to retrieve.
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Context window to request.
    #[serde(default)]
    pub num_ctx: Option<u32>,
    /// Most tokens to generate.
    #[serde(default)]
    pub num_predict: Option<u32>,
    /// Random seed.
    #[serde(default)]
    pub seed: Option<u64>,
}

fn yes() -> bool {
    true
}

impl AskRequest {
    /// The core's options for this request, checked by the core's rules (the question, `k`,
    /// the temperature range) before any work is done, so a stream never starts for a request
    /// that must fail.
    pub fn options(&self, retrieval: &itassist::config::RetrievalConfig) -> ApiResult<AskOptions> {
        retrieval.check_question(&self.question, self.top_k.unwrap_or(retrieval.top_k))?;
        let options = AskOptions {
            model: self.model.clone().filter(|m| !m.trim().is_empty()),
            top_k: self.top_k,
            no_context: !self.context,
            temperature: self.temperature,
            num_ctx: self.num_ctx,
            num_predict: self.num_predict,
            seed: self.seed,
        };
        options.validate()?;
        Ok(options)
    }
}

/// The JSON of an answer: the original `{"question", "answer", "context_used"}` plus sources.
pub fn answer_json(answer: &Answer) -> Value {
    json!({
        "question": answer.question,
        "answer": answer.answer,
        "context_used": !answer.sources.is_empty(),
        "sources": answer.sources,
        "cited": answer.cited,
        "model": answer.model,
        "dropped_passages": answer.dropped_passages,
        "finish_reason": answer.finish_reason,
        "timings": answer.timings,
        "searched_query": answer.searched_query,
        "history_turns": answer.history_turns,
        "dropped_turns": answer.dropped_turns,
        "language": answer.language,
        "warnings": answer.warnings,
        "conversation_id": answer.conversation_id,
        "context_window": answer.context_window,
        "estimated_prompt_tokens": answer.estimated_prompt_tokens,
    })
}

/// `POST /ask/` — answers a question.
pub async fn ask(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let request: AskRequest = json_body(&headers, body)?;
    let options = request.options(&state.assistant().config().retrieval)?;
    let answer = state.assistant().ask(&request.question, &options).await?;
    Ok(Json(answer_json(&answer)))
}

/// `POST /ask/stream` — the answer as Server-Sent Events (`sources`, `token`..., `done`, or
/// `error`). Errors before the first token are answered as a JSON error with its status.
pub async fn ask_stream_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let request: AskRequest = json_body(&headers, body)?;
    stream_answer(state, request).await
}

/// Query of `GET /ask/stream` (for `EventSource`).
#[derive(Debug, Deserialize)]
pub struct AskQuery {
    /// The question.
    pub question: String,
    /// Answer from the documents (default true).
    #[serde(default = "yes")]
    pub context: bool,
    /// Chat model.
    #[serde(default)]
    pub model: Option<String>,
    /// Passages to retrieve.
    #[serde(default)]
    pub top_k: Option<usize>,
}

/// `GET /ask/stream?question=...` — like the POST form.
pub async fn ask_stream_get(
    State(state): State<AppState>,
    query: Result<Query<AskQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {}", e.body_text())))?;
    let request = AskRequest {
        question: q.question,
        context: q.context,
        model: q.model,
        top_k: q.top_k,
        temperature: None,
        num_ctx: None,
        num_predict: None,
        seed: None,
    };
    stream_answer(state, request).await
}

fn event_for(event: &AskEvent) -> Event {
    match event {
        AskEvent::Sources {
            sources,
            dropped_passages,
        } => Event::default()
            .event("sources")
            .data(json!({ "sources": sources, "dropped_passages": dropped_passages }).to_string()),
        AskEvent::Token { text } => Event::default()
            .event("token")
            .data(json!({ "text": text }).to_string()),
        AskEvent::Done { answer } => Event::default()
            .event("done")
            .data(answer_json(answer).to_string()),
        other => Event::default()
            .event("event")
            .data(serde_json::to_string(other).unwrap_or_else(|_| "{}".into())),
    }
}

async fn stream_answer(state: AppState, request: AskRequest) -> ApiResult<Response> {
    let options = request.options(&state.assistant().config().retrieval)?;
    sse_answer(state.assistant().ask_stream(&request.question, options)).await
}

/// Answers with the events of `events` as Server-Sent Events (`sources`, `token`..., `done`,
/// or `error`); a failure before the first token is answered as a JSON error with its status.
pub async fn sse_answer(mut events: itassist::AskStream) -> ApiResult<Response> {
    // Hold back the events up to the first token, so that a failure before generation starts
    // (model server down, model missing, context overflow) is answered with its HTTP status.
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
    let head = stream::iter(head.into_iter().map(|e| event_for(&e)));
    let tail = events.scan(false, |failed, item| {
        if *failed {
            return std::future::ready(None);
        }
        let event = match item {
            Ok(e) => event_for(&e),
            Err(e) => {
                *failed = true;
                Event::default()
                    .event("error")
                    .data(ApiError::from(e).body().to_string())
            }
        };
        std::future::ready(Some(event))
    });
    let all = head.chain(tail).map(Ok::<Event, Infallible>);
    Ok(Sse::new(all)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Body of `/search`.
#[derive(Debug, Deserialize)]
pub struct SearchRequest {
    /// The query.
    pub query: String,
    /// Number of passages (default: the configured top-k).
    #[serde(default)]
    pub k: Option<usize>,
}

/// `POST /search` — the passages that best match a query.
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let request: SearchRequest = json_body(&headers, body)?;
    let k = request
        .k
        .unwrap_or(state.assistant().config().retrieval.top_k);
    // k and the query are checked by the core, as in every other door.
    let assistant = state.assistant();
    let query = request.query.clone();
    let results = tokio::task::spawn_blocking(move || assistant.search(&query, k)).await??;
    Ok(Json(json!({ "query": request.query, "results": results })))
}

/// `GET /documents` — the indexed documents.
pub async fn documents(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let assistant = state.assistant();
    let docs = tokio::task::spawn_blocking(move || assistant.documents()).await??;
    Ok(Json(json!({ "documents": docs })))
}

/// `DELETE /documents/{id}` — removes a document with its chunks and vectors.
pub async fn delete_document(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    // Plain decimal digits only (the core's rule): `+1` or ` 1` is not document 1.
    let id: u64 = itassist::names::parse_document_id(&id).ok_or_else(|| {
        ApiError::bad_request(format!(
            "'{}' is not a document id: ids are plain decimal digits (GET /documents lists them)",
            id.chars().take(64).collect::<String>()
        ))
    })?;
    let assistant = state.assistant();
    let removed = tokio::task::spawn_blocking(move || {
        let doc = assistant.find_document(&id.to_string())?;
        if doc.id != id {
            return Err(itassist::Error::DocumentNotFound { id: id.to_string() });
        }
        assistant.remove(&id.to_string())
    })
    .await??;
    Ok(Json(json!({ "removed": removed })))
}

/// `GET /models` — the models of the chat-model server.
pub async fn models(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let models = state.assistant().models().await?;
    Ok(Json(json!({
        "models": models,
        "default": state.assistant().config().answer.model,
    })))
}
