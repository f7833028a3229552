//! The job endpoints: `GET /jobs`, `GET /jobs/{id}`, the progress streams
//! `GET /jobs/{id}/events` and `GET /jobs/events`, and the admin-only `POST /reindex`
//! (see [`crate::jobs`] for the queue).
//!
//! The streams are Server-Sent Events whose data is always the whole job (the JSON of
//! `GET /jobs/{id}`). Event names: `progress` while the job is queued or running, then one
//! final `done` or `failed`. `/jobs/{id}/events` starts with the job's current state and ends
//! after its final event (at once, for a job that already ended); `/jobs/events` sends every
//! change of every job and does not end. Both end when the server shuts down.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::auth::Principal;
use crate::errors::{ApiError, ApiResult};
use crate::jobs::{Job, JobKind, Jobs};
use crate::AppState;

/// Most jobs `GET /jobs` lists.
pub const MAX_LIST: usize = 1000;

fn job_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "job_not_found",
        format!(
            "no job '{}': GET /jobs lists the recent ones",
            id.chars().take(64).collect::<String>()
        ),
    )
}

fn parse_id(id: &str) -> ApiResult<u64> {
    itassist::names::parse_document_id(id).ok_or_else(|| job_not_found(id))
}

/// Query of `GET /jobs`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Most jobs to list, newest first (default 100, at most [`MAX_LIST`]).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `GET /jobs` — the recent jobs, newest first.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(query) = query
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {}", e.body_text())))?;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_LIST);
    let jobs: Vec<Value> = state.jobs.recent(limit).iter().map(Job::to_json).collect();
    Ok(Json(json!({ "jobs": jobs })))
}

/// `GET /jobs/{id}` — one job.
pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = state
        .jobs
        .get(parse_id(&id)?)
        .ok_or_else(|| job_not_found(&id))?;
    Ok(Json(job.to_json()))
}

/// The SSE event for a job's state.
pub fn event_for(job: &Job) -> Event {
    let name = match job.state {
        crate::jobs::JobState::Done => "done",
        crate::jobs::JobState::Failed => "failed",
        _ => "progress",
    };
    Event::default().event(name).data(job.to_json().to_string())
}

/// The updates of `receiver` for job `only` (every job when `None`); after a lag, the
/// current state of the job (or of none, for the stream of all jobs) stands in for what was
/// missed.
fn updates(
    jobs: Jobs,
    receiver: broadcast::Receiver<Job>,
    only: Option<u64>,
) -> impl Stream<Item = Job> {
    stream::unfold(
        (jobs, receiver, false),
        move |(jobs, mut receiver, ended)| async move {
            if ended {
                return None;
            }
            loop {
                match receiver.recv().await {
                    Ok(job) if only.is_none_or(|id| id == job.id) => {
                        let ended = only.is_some() && job.state.is_final();
                        return Some((job, (jobs, receiver, ended)));
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Some(job) = only.and_then(|id| jobs.get(id)) {
                            let ended = job.state.is_final();
                            return Some((job, (jobs, receiver, ended)));
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    )
}

/// `GET /jobs/{id}/events` — the job's progress as Server-Sent Events, to its end.
pub async fn events(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let number = parse_id(&id)?;
    // Subscribe before reading the current state, so that no change falls in between.
    let receiver = state.jobs.subscribe();
    let current = state.jobs.get(number).ok_or_else(|| job_not_found(&id))?;
    let first = stream::iter([current.clone()]);
    let rest = if current.state.is_final() {
        stream::empty().boxed()
    } else {
        updates(state.jobs.clone(), receiver, Some(number)).boxed()
    };
    let all = first
        .chain(rest)
        .take_until(state.jobs.closed())
        .map(|job| Ok::<Event, Infallible>(event_for(&job)));
    Ok(Sse::new(all)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// `GET /jobs/events` — every change of every job, as Server-Sent Events (never ends).
pub async fn all_events(State(state): State<AppState>) -> Response {
    let receiver = state.jobs.subscribe();
    let all = updates(state.jobs.clone(), receiver, None)
        .take_until(state.jobs.closed())
        .map(|job| Ok::<Event, Infallible>(event_for(&job)));
    Sse::new(all)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Body of `POST /reindex`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReindexRequest {
    /// The embedding model (default: the one the server was started with).
    #[serde(default)]
    pub model: Option<String>,
}

/// `POST /reindex` — queues a re-index (admins only: users named in
/// [`crate::ServerConfig::admins`]). Answers 202 with the job; when it is done, the server's
/// assistant is the one opened with the new model.
pub async fn reindex(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let user = match principal.as_ref().map(|p| &p.0) {
        Some(Principal::User(name)) if state.admins.iter().any(|a| a == name) => name.clone(),
        other => {
            let who = other.map_or("this client".to_string(), |p| match p {
                Principal::User(n) => format!("user '{n}'"),
                Principal::ApiKey(n) => format!("API key '{n}'"),
            });
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "{who} may not re-index: POST /reindex is for admins, users named in {} when the server starts",
                    crate::ENV_ADMINS
                ),
            ));
        }
    };
    let empty = matches!(&body, Ok(b) if b.is_empty());
    let request: ReindexRequest = if empty {
        ReindexRequest::default()
    } else {
        crate::routes::json_body(&headers, body)?
    };
    let model = request
        .model
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    if let Some(active) = state.jobs.active(JobKind::Reindex) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "a re-index is already queued or running (job {}): follow it at /jobs/{}",
                active.id, active.id
            ),
        ));
    }
    let jobs = state.jobs.clone();
    let job = tokio::task::spawn_blocking(move || jobs.submit_reindex(model, Some(user))).await??;
    Ok((StatusCode::ACCEPTED, Json(json!({ "job": job.to_json() }))).into_response())
}
