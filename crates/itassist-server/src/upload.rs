//! `POST /upload/`: multipart upload of one or many files.
//!
//! Each file goes to [`itassist::Assistant::ingest_bytes`] (incremental: only what was
//! uploaded is parsed and embedded). New content is always a new document: two uploads named
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
        let assistant = state.assistant.clone();
        let ingest_name = name.clone();
        let report = tokio::task::spawn_blocking(move || match replace {
            Some(id) => assistant.replace_bytes(id, &ingest_name, &bytes),
            None => assistant.ingest_bytes(&ingest_name, &bytes),
        })
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
