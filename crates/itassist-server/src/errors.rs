//! JSON errors: every failure leaves the server as `{"error": {"code", "message"}}` with the
//! HTTP status that fits it, never as a raw internal string or a panic message.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An error answered to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code (the core's [`itassist::Error::code`] or one of the
    /// server's own: `invalid_json`, `unauthorized`, `payload_too_large`, `not_found`, ...).
    pub code: String,
    /// What went wrong and what to do next.
    pub message: String,
    /// Extra fields merged into the `error` object (e.g. `supported` for 415).
    pub extra: Option<Value>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            extra: None,
            retry_after: None,
        }
    }

    /// 400 `invalid_input`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// 400 `invalid_json`, for a body that is not the JSON the endpoint expects.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    /// 404 `not_found`, for an unknown route.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint; GET /openapi.json lists them",
        )
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not accept that method; GET /openapi.json lists them",
        )
    }

    /// 500 `internal`, for a failure inside the server (a task that panicked); the detail is
    /// logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error; see the server log",
        )
    }

    /// Adds extra fields to the `error` object.
    pub fn with_extra(mut self, extra: Value) -> Self {
        self.extra = Some(extra);
        self
    }

    /// Adds a `Retry-After` header (seconds).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let (Some(Value::Object(extra)), Value::Object(map)) = (&self.extra, &mut error) {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        json!({ "error": error })
    }
}

/// Core error codes that mean a fault inside the server (its disk, its index, its embedding
/// runtime failing mid-request): answered with 500. Every other core code has a status that
/// tells the client whether to fix the request, retry later or call the operator.
pub const INTERNAL_CODES: &[&str] = &["io", "index_error", "index_corrupt", "embedding_failed"];

/// The HTTP status for a core error code, from the core's error table
/// ([`itassist::ErrorKind::http_status`]); 500 for a code the core does not define.
pub fn status_for_code(code: &str) -> StatusCode {
    itassist::ErrorKind::ALL
        .iter()
        .find(|kind| kind.code() == code)
        .map(|kind| status_of(*kind))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The HTTP status of a kind of core error.
fn status_of(kind: itassist::ErrorKind) -> StatusCode {
    StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The code for an error response that was produced without one (by a framework layer or
/// extractor): used by [`crate::guard::json_errors`] to give every error the JSON shape.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_input",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "request_timeout",
        411 => "length_required",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "too_many_requests",
        431 => "headers_too_large",
        502 => "bad_gateway",
        503 => "unavailable",
        504 => "timeout",
        s if s >= 500 => "internal",
        _ => "http_error",
    }
}

impl From<itassist::Error> for ApiError {
    fn from(err: itassist::Error) -> Self {
        ApiError::from(&err)
    }
}

impl From<&itassist::Error> for ApiError {
    fn from(err: &itassist::Error) -> Self {
        let kind = err.kind();
        // The whole cause chain: "cannot reach the model server at ...: ...: connection refused".
        let api = ApiError::new(status_of(kind), kind.code(), err.display_chain());
        // The structured details (path, model, token counts, limits) as fields of `error`.
        let mut extra = err.details();
        if kind == itassist::ErrorKind::UnsupportedFormat {
            extra.insert(
                "supported".into(),
                json!(itassist::ingest::SUPPORTED_EXTENSIONS),
            );
        }
        if extra.is_empty() {
            api
        } else {
            api.with_extra(serde_json::Value::Object(extra))
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(err: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("a blocking task failed: {err}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"itassist\", charset=\"UTF-8\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every core error code has a status of its own; only faults inside the server are 500.
    #[test]
    fn every_core_code_has_a_sensible_status() {
        for code in itassist::Error::CODES {
            let status = status_for_code(code);
            if INTERNAL_CODES.contains(code) {
                assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{code}");
            } else {
                assert_ne!(
                    status,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "core code '{code}' falls through to 500: give it a status in status_for_code"
                );
            }
        }
        for code in INTERNAL_CODES {
            assert!(
                itassist::Error::CODES.contains(code),
                "{code} is not a core code"
            );
        }
    }

    #[test]
    fn message_carries_the_cause_chain() {
        let err = itassist::Error::Io {
            path: None,
            source: std::io::Error::other("disk on fire"),
        };
        let api = ApiError::from(&err);
        assert_eq!(api.message, err.display_chain());
        let err = itassist::Error::OllamaUnreachable {
            url: "http://127.0.0.1:9".into(),
            reason: "connect failed".into(),
            source: Some(Box::new(std::io::Error::other(
                "connection refused (os error 111)",
            ))),
        };
        let api = ApiError::from(err);
        assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            api.message.contains("connection refused"),
            "{}",
            api.message
        );
    }
}
