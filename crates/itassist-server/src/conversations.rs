//! `/conversations`: stored conversations with follow-up questions.
//!
//! | Method | Path | What |
//! |---|---|---|
//! | `GET` | `/conversations` | `{"conversations": [{id, title, created_at, updated_at, turns}]}` |
//! | `POST` | `/conversations` | `{"title"?}` → the new conversation (201) |
//! | `GET` | `/conversations/{id}` | the conversation with its turns and their sources |
//! | `DELETE` | `/conversations/{id}` | `{"deleted": {summary}}` |
//! | `POST` | `/conversations/{id}/ask` | the `/ask/` body; the answer, stored as a turn |
//! | `POST` | `/conversations/{id}/ask/stream` | the same as Server-Sent Events |
//!
//! An unknown id is `404 conversation_not_found`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::errors::{ApiError, ApiResult};
use crate::routes::{answer_json, json_body, sse_answer, AskRequest};
use crate::AppState;

fn conversation_id(raw: &str) -> ApiResult<u64> {
    itassist::names::parse_document_id(raw).ok_or_else(|| {
        ApiError::bad_request(format!(
            "'{}' is not a conversation id: ids are plain decimal digits (GET /conversations lists them)",
            raw.chars().take(64).collect::<String>()
        ))
    })
}

/// Body of `POST /conversations`.
#[derive(Debug, Default, Deserialize)]
pub struct NewConversation {
    /// A title (default: the first question).
    #[serde(default)]
    pub title: Option<String>,
}

/// `GET /conversations` — the stored conversations, most recent first.
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let assistant = state.assistant();
    let list = tokio::task::spawn_blocking(move || assistant.conversations()).await??;
    Ok(Json(json!({ "conversations": list })))
}

/// `POST /conversations` — starts a conversation.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let request: NewConversation = match &body {
        Ok(b) if b.is_empty() => NewConversation::default(),
        _ => json_body(&headers, body)?,
    };
    let assistant = state.assistant();
    let created =
        tokio::task::spawn_blocking(move || assistant.new_conversation(request.title.as_deref()))
            .await??;
    Ok((StatusCode::CREATED, Json(json!(created))).into_response())
}

/// `GET /conversations/{id}` — a conversation with its turns.
pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = conversation_id(&id)?;
    let assistant = state.assistant();
    let c = tokio::task::spawn_blocking(move || assistant.conversation(id)).await??;
    Ok(Json(json!(c)))
}

/// `DELETE /conversations/{id}` — deletes a conversation.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = conversation_id(&id)?;
    let assistant = state.assistant();
    let c = tokio::task::spawn_blocking(move || assistant.delete_conversation(id)).await??;
    Ok(Json(json!({ "deleted": c.summary() })))
}

/// `POST /conversations/{id}/ask` — asks in the conversation; the turn is stored.
pub async fn ask(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let id = conversation_id(&id)?;
    let request: AskRequest = json_body(&headers, body)?;
    let options = request.options(&state.assistant().config().retrieval)?;
    let answer = state
        .assistant()
        .continue_conversation(id, &request.question, &options)
        .await?;
    Ok(Json(answer_json(&answer)))
}

/// `POST /conversations/{id}/ask/stream` — like `ask`, as Server-Sent Events; the turn is
/// stored when the answer is complete.
pub async fn ask_stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let id = conversation_id(&id)?;
    let request: AskRequest = json_body(&headers, body)?;
    let options = request.options(&state.assistant().config().retrieval)?;
    sse_answer(
        state
            .assistant()
            .continue_conversation_stream(id, &request.question, options),
    )
    .await
}
