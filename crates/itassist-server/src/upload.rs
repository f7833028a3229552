//! `POST /upload/`: multipart upload of one or many files.
//!
//! Each file goes to [`itassist::Assistant::ingest_bytes`] (incremental: only what was
//! uploaded is parsed and embedded). The client's filename is never used as a path: it is cut
//! to its last component and kept only as the document's display name (the core stores it as
//! `upload:NAME`); nothing is written outside the index. Duplicates are recognised by the core
//! from the content hash (`unchanged` / `duplicate`).

use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::errors::{ApiError, ApiResult};
use crate::AppState;

/// Longest display name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// The display name for an uploaded file: its last path component (`/` or `\`), without
/// control characters, at most [`MAX_NAME_CHARS`]; `upload` when nothing is left.
pub fn sanitize_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean.chars().all(|c| c == '.') {
        "upload".to_string()
    } else {
        clean.to_string()
    }
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

/// `POST /upload/` — ingests the uploaded files and reports a status per file.
pub async fn upload(
    State(state): State<AppState>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let limit = state.max_upload_bytes;
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
    let mut files: Vec<Value> = Vec::new();
    let mut first_failure: Option<ApiError> = None;
    let mut failures = 0usize;
    let mut total = 0usize;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let Some(original) = field.file_name().map(str::to_string) else {
            continue; // a plain form field, not a file
        };
        let name = sanitize_name(&original);
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
            total = total.saturating_add(chunk.len());
            if total > limit {
                return Err(too_large(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        let size = bytes.len();
        let sha256 = hex_digest(&bytes);
        let assistant = state.assistant.clone();
        let ingest_name = name.clone();
        let report =
            tokio::task::spawn_blocking(move || assistant.ingest_bytes(&ingest_name, &bytes))
                .await??;
        let mut entry = serde_json::to_value(&report)
            .map_err(|e| ApiError::internal(format!("cannot encode a file report: {e}")))?;
        if let Some(error) = report.status.error() {
            failures += 1;
            let api = ApiError::from(error);
            if let Value::Object(map) = &mut entry {
                map.insert("error".into(), api.body()["error"].clone());
            }
            first_failure.get_or_insert(api);
        }
        if let Value::Object(map) = &mut entry {
            map.insert("name".into(), json!(name));
            if original != name {
                map.insert("original_name".into(), json!(original));
            }
            map.insert("size".into(), json!(size));
            map.insert("sha256".into(), json!(sha256));
        }
        files.push(entry);
    }
    if files.is_empty() {
        return Err(ApiError::bad_request(
            "no files in the upload: send multipart/form-data with one or more file fields",
        ));
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

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    }
}
