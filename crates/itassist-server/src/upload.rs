//! `POST /upload/`: multipart upload of one or many files.
//!
//! By default each file is staged and queued as a job ([`crate::jobs`]) and the answer (202)
//! gives a job id per file at once; `?wait=true` ingests before answering, with a status per
//! file, as the first versions of the API did. Either way each file goes to
//! [`itassist::Assistant::ingest_bytes`] (incremental: only what was uploaded is parsed and
//! embedded). New content is always a new document: two uploads named
//! `notes.txt` with different contents are two documents. To replace a document, name it:
//! `POST /upload/?replace=ID` with exactly one file ([`itassist::Assistant::replace_bytes`]).
//!
//! The client's filename is never used as a path: the core's
//! [`itassist::names::upload_name`] keeps its last component, without control or
//! bidirectional-control characters, shortened with its extension kept; it is only the
//! document's display name. Nothing is written outside the index. Identical content is
//! recognised from its hash (`unchanged` / `duplicate`).

use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::errors::{ApiError, ApiResult};
use crate::AppState;

/// The display name for an uploaded file (the core's rule, [`itassist::names::upload_name`]).
pub fn sanitize_name(name: &str) -> String {
    itassist::names::upload_name(name)
}

/// Query of `POST /upload/`.
#[derive(Debug, Default, Deserialize)]
pub struct UploadQuery {
    /// Replace the document with this id by the (single) uploaded file.
    #[serde(default)]
    pub replace: Option<String>,
    /// Ingest before answering (status per file, 200) instead of queuing jobs (202).
    #[serde(default)]
    pub wait: bool,
}

/// The per-file entry of an upload's answer (the core's report with `name`,
/// `original_name`, `size`, `sha256`, and `error` when it failed), and the failure as an
/// API error.
pub fn file_entry(
    report: &itassist::FileReport,
    name: &str,
    original: &str,
    size: usize,
    sha256: String,
) -> (Value, Option<ApiError>) {
    let mut entry = serde_json::to_value(report).unwrap_or_else(|_| json!({}));
    let mut failure = None;
    if let Some(error) = report.status.error() {
        let api = ApiError::from(error);
        if let Value::Object(map) = &mut entry {
            map.insert("error".into(), api.body()["error"].clone());
        }
        failure = Some(api);
    }
    if let Value::Object(map) = &mut entry {
        map.insert("name".into(), json!(name));
        if original != name {
            map.insert("original_name".into(), json!(original));
        }
        map.insert("size".into(), json!(size));
        map.insert("sha256".into(), json!(sha256));
    }
    (entry, failure)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the upload is larger than the limit of {limit} bytes (ITASSIST_MAX_UPLOAD)"),
    )
    .with_extra(json!({ "limit_bytes": limit }))
}

fn multipart_error(err: MultipartError, limit: usize) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        ApiError::bad_request(format!("malformed multipart body: {}", err.body_text()))
    }
}

/// One file of the request, read in full (the request is bounded by the upload limit).
struct UploadedFile {
    original: String,
    name: String,
    bytes: Vec<u8>,
}

/// `POST /upload/` — ingests the uploaded files and reports a status per file; with
/// `?replace=ID`, replaces that document by the one uploaded file.
pub async fn upload(
    State(state): State<AppState>,
    principal: Option<axum::Extension<crate::auth::Principal>>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let limit = state.max_upload_bytes;
    let Query(query) = query
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {}", e.body_text())))?;
    let replace = match query.replace.as_deref() {
        None => None,
        Some(text) => Some(itassist::names::parse_document_id(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "replace='{}' is not a document id: ids are plain decimal digits (GET /documents lists them)",
                text.chars().take(64).collect::<String>()
            ))
        })?),
    };
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!(
                "expected a multipart/form-data body with file fields: {}",
                e.body_text()
            ),
        )
    })?;
    let mut uploaded: Vec<UploadedFile> = Vec::new();
    let mut total = 0usize;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let Some(original) = field.file_name().map(str::to_string) else {
            continue; // a plain form field, not a file
        };
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
            total = total.saturating_add(chunk.len());
            if total > limit {
                return Err(too_large(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        let name = sanitize_name(&original);
        uploaded.push(UploadedFile {
            original,
            name,
            bytes,
        });
    }
    if uploaded.is_empty() {
        return Err(ApiError::bad_request(
            "no files in the upload: send multipart/form-data with one or more file fields",
        ));
    }
    if replace.is_some() && uploaded.len() != 1 {
        return Err(ApiError::bad_request(format!(
            "replace=ID takes exactly one file, this upload has {}: send the other files without replace",
            uploaded.len()
        )));
    }
    if !query.wait {
        return queue(
            &state,
            uploaded,
            replace,
            principal.map(|p| p.0.name().to_string()),
        )
        .await;
    }
    let mut files: Vec<Value> = Vec::new();
    let mut first_failure: Option<ApiError> = None;
    let mut failures = 0usize;
    for file in uploaded {
        let UploadedFile {
            original,
            name,
            bytes,
        } = file;
        let size = bytes.len();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let assistant = state.assistant();
        let ingest_name = name.clone();
        let report = tokio::task::spawn_blocking(move || match replace {
            Some(id) => assistant.replace_bytes(id, &ingest_name, &bytes),
            None => assistant.ingest_bytes(&ingest_name, &bytes),
        })
        .await??;
        let (entry, failure) = file_entry(&report, &name, &original, size, sha256);
        if let Some(api) = failure {
            failures += 1;
            first_failure.get_or_insert(api);
        }
        files.push(entry);
    }
    if failures == files.len() {
        if let Some(error) = first_failure {
            let status = error.status;
            let mut body = error.body();
            body["files"] = json!(files);
            return Ok((status, Json(body)).into_response());
        }
    }
    Ok((
        StatusCode::OK,
        Json(json!({ "files": files, "failed": failures })),
    )
        .into_response())
}

/// Stages the files and queues a job for each: 202 with the jobs. With `replace`, the
/// document must exist now (404 otherwise); the job replaces it when it runs.
async fn queue(
    state: &AppState,
    uploaded: Vec<UploadedFile>,
    replace: Option<u64>,
    submitted_by: Option<String>,
) -> ApiResult<Response> {
    if let Some(id) = replace {
        let assistant = state.assistant();
        tokio::task::spawn_blocking(move || match assistant.index().document(id) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(itassist::Error::DocumentNotFound { id: id.to_string() }),
            Err(e) => Err(e),
        })
        .await??;
    }
    let jobs = state.jobs.clone();
    let queued = tokio::task::spawn_blocking(move || {
        uploaded
            .into_iter()
            .map(|file| {
                jobs.submit_upload(crate::jobs::NewUpload {
                    name: file.name,
                    original_name: file.original,
                    bytes: file.bytes,
                    replace,
                    submitted_by: submitted_by.clone(),
                })
            })
            .collect::<ApiResult<Vec<_>>>()
    })
    .await??;
    let jobs: Vec<Value> = queued.iter().map(crate::jobs::Job::to_json).collect();
    Ok((StatusCode::ACCEPTED, Json(json!({ "jobs": jobs }))).into_response())
}

#[cfg(test)]
mod tests {
    use super::sanitize_name;

    #[test]
    fn names_are_never_paths() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize_name("/abs/notes.md"), "notes.md");
        assert_eq!(sanitize_name(".."), "upload");
        assert_eq!(sanitize_name("a/"), "upload");
        assert_eq!(sanitize_name("bad\u{0}name\n.txt"), "badname.txt");
        assert_eq!(sanitize_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
    }
}
