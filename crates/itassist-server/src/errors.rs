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
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            extra: None,
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

/// The HTTP status for a core error code.
pub fn status_for_code(code: &str) -> StatusCode {
    match code {
        "invalid_input" => StatusCode::BAD_REQUEST,
        "document_not_found" | "path_not_found" => StatusCode::NOT_FOUND,
        "unsupported_format" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        // The request is fine but the model it depends on is missing: 424 Failed Dependency.
        "model_not_found" => StatusCode::FAILED_DEPENDENCY,
        "ollama_unreachable" => StatusCode::SERVICE_UNAVAILABLE,
        "ollama_error" => StatusCode::BAD_GATEWAY,
        "timeout" => StatusCode::GATEWAY_TIMEOUT,
        "context_overflow" | "corrupt_document" | "empty_document" => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        "index_locked" | "ocr_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "index_full" => StatusCode::INSUFFICIENT_STORAGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<itassist::Error> for ApiError {
    fn from(err: itassist::Error) -> Self {
        let code = err.code();
        let mut api = ApiError::new(status_for_code(code), code, err.to_string());
        if code == "unsupported_format" {
            api = api.with_extra(json!({ "supported": itassist::ingest::SUPPORTED_EXTENSIONS }));
        }
        api
    }
}

impl From<&itassist::Error> for ApiError {
    fn from(err: &itassist::Error) -> Self {
        let code = err.code();
        let mut api = ApiError::new(status_for_code(code), code, err.to_string());
        if code == "unsupported_format" {
            api = api.with_extra(json!({ "supported": itassist::ingest::SUPPORTED_EXTENSIONS }));
        }
        api
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
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
