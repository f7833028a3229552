//! The HTTP layer shared by both clients: timeouts, retries with backoff, and the mapping of
//! transport failures and error statuses to [`Error`] variants the user can act on.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::time::Instant;

use crate::config::{AnswerConfig, Backend};
use crate::error::{Error, Result};

/// Longest error body read from a failed response.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Longest delay between two retries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A configured HTTP client for one server.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    pub client: reqwest::Client,
    /// Normalised base URL, no trailing slash.
    pub base: String,
    pub backend: Backend,
    pub request_timeout: Duration,
    pub generation_timeout: Duration,
    pub connect_timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    pub api_key: Option<Secret>,
}

/// Why one attempt of a request failed.
enum Failure {
    /// No HTTP status: refused, reset, timed out.
    Transport(reqwest::Error),
    /// An error status, with the path asked for and the start of the body.
    Status {
        status: StatusCode,
        path: String,
        body: String,
    },
}

impl Failure {
    /// Whether another attempt may succeed: the server is failing (5xx) or busy (429).
    fn retryable(&self) -> bool {
        match self {
            Failure::Transport(_) => false,
            Failure::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
        }
    }
}

/// A bearer token, never printed.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// When a request must be finished.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub at: Instant,
    pub seconds: f64,
}

impl Deadline {
    pub fn after(limit: Duration) -> Self {
        Deadline {
            at: Instant::now() + limit,
            seconds: limit.as_secs_f64(),
        }
    }

    pub fn error(&self) -> Error {
        Error::Timeout {
            seconds: self.seconds.ceil() as u64,
        }
    }

    /// Runs `fut`, failing with [`Error::Timeout`] at the deadline.
    pub async fn run<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout_at(self.at, fut).await {
            Ok(result) => result,
            Err(_) => Err(self.error()),
        }
    }
}

fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::from_secs(1))
}

impl Http {
    pub fn new(config: &AnswerConfig, base: String) -> Result<Self> {
        let connect_timeout = secs(config.connect_timeout_secs);
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::InvalidInput(format!("cannot create the HTTP client: {e}")))?;
        Ok(Http {
            client,
            base,
            backend: config.backend,
            request_timeout: secs(config.request_timeout_secs),
            generation_timeout: secs(config.generation_timeout_secs),
            connect_timeout,
            retries: config.retries,
            backoff: Duration::from_millis(config.retry_backoff_ms),
            api_key: config.api_key.clone().filter(|k| !k.is_empty()).map(Secret),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, url: &str) -> RequestBuilder {
        self.authorize(self.client.get(url))
    }

    pub fn post_json(&self, url: &str, body: &serde_json::Value) -> RequestBuilder {
        self.authorize(self.client.post(url).json(body))
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.api_key {
            Some(Secret(key)) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends a request (rebuilt by `build` for every attempt) until it gets a 2xx response,
    /// retrying 5xx and 429 with exponential backoff (backon), all before `deadline`.
    /// `model` turns a 404 "model ... not found" into [`Error::ModelNotFound`].
    pub async fn send(
        &self,
        build: impl Fn() -> RequestBuilder,
        model: Option<&str>,
        deadline: Deadline,
    ) -> Result<Response> {
        deadline.run(self.send_inner(build, model)).await
    }

    async fn send_inner(
        &self,
        build: impl Fn() -> RequestBuilder,
        model: Option<&str>,
    ) -> Result<Response> {
        let attempts = AtomicU32::new(0);
        let attempt = || {
            attempts.fetch_add(1, Ordering::Relaxed);
            let request = build();
            async move {
                let response = request.send().await.map_err(Failure::Transport)?;
                let status = response.status();
                if status.is_success() {
                    return Ok(response);
                }
                let path = response.url().path().to_string();
                let body = read_error_body(response).await;
                Err(Failure::Status { status, path, body })
            }
        };
        let outcome = attempt
            .retry(self.retry_policy())
            .when(Failure::retryable)
            .notify(|failure, delay| {
                if let Failure::Status { status, .. } = failure {
                    tracing::debug!(
                        status = status.as_u16(),
                        attempt = attempts.load(Ordering::Relaxed),
                        ?delay,
                        "model server error, retrying"
                    );
                }
            })
            .await;
        outcome.map_err(|failure| match failure {
            Failure::Transport(e) => self.transport_error(e),
            Failure::Status { status, path, body } => self.status_error(
                status.as_u16(),
                &body,
                &path,
                model,
                attempts.load(Ordering::Relaxed),
            ),
        })
    }

    /// Delays between attempts: `backoff`, doubling each time, at most [`MAX_BACKOFF`], for
    /// `retries` retries.
    fn retry_policy(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.backoff.min(MAX_BACKOFF))
            .with_factor(2.0)
            .with_max_delay(MAX_BACKOFF)
            .with_max_times(self.retries as usize)
    }

    /// Maps a reqwest failure (no HTTP status) to an error.
    pub fn transport_error(&self, err: reqwest::Error) -> Error {
        let reason = root_cause(&err);
        if err.is_connect() {
            let reason = if err.is_timeout() || reason.contains("timed out") {
                format!(
                    "no connection within {:.1} s ({reason})",
                    self.connect_timeout.as_secs_f64()
                )
            } else {
                reason
            };
            return Error::OllamaUnreachable {
                url: self.base.clone(),
                reason,
                source: Some(Box::new(err)),
            };
        }
        if err.is_timeout() {
            return Error::Timeout {
                seconds: self.request_timeout.as_secs_f64().ceil() as u64,
            };
        }
        Error::Ollama {
            status: None,
            message: format!("request to {} failed: {reason}", self.base),
        }
    }

    /// Maps an error status and its body to an error.
    pub fn status_error(
        &self,
        status: u16,
        body: &str,
        path: &str,
        model: Option<&str>,
        attempts: u32,
    ) -> Error {
        let message = error_message(body).unwrap_or_else(|| {
            let text = body.trim();
            if text.is_empty() {
                format!("HTTP {status} from {path}")
            } else {
                text.chars().take(500).collect()
            }
        });
        if let Some((needed, available)) = context_size_error(body) {
            // llama-server refuses a prompt longer than its context (`-c`) and says both
            // counts: a clear overflow, never a truncated prompt.
            return Error::ContextOverflow { needed, available };
        }
        let lower = message.to_ascii_lowercase();
        if status == 404 {
            if let Some(model) = model {
                if lower.contains("not found") && lower.contains("model") {
                    return Error::ModelNotFound {
                        model: model.to_string(),
                    };
                }
            }
            let hint = match self.backend {
                Backend::Ollama => "; this server does not speak Ollama's native API: if it is an OpenAI-compatible server (llama-server, vLLM, LM Studio) use backend = openai",
                Backend::OpenAi => "; check the base URL (the OpenAI-compatible API lives under /v1)",
            };
            return Error::Ollama {
                status: Some(status),
                message: format!("{message} ({} {path}){hint}", self.base),
            };
        }
        let message = if attempts > 1 {
            format!("{message} (after {attempts} attempts)")
        } else {
            message
        };
        Error::Ollama {
            status: Some(status),
            message,
        }
    }
}

/// The token counts of llama-server's `exceed_context_size_error`
/// (`{"error": {"n_prompt_tokens", "n_ctx", ...}}`): what the prompt needs and the window.
fn context_size_error(body: &str) -> Option<(usize, usize)> {
    let value: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    let error = value.get("error")?;
    let needed = error.get("n_prompt_tokens")?.as_u64()?;
    let available = error.get("n_ctx")?.as_u64()?;
    Some((needed as usize, available as usize))
}

/// The message of an error body: Ollama's `{"error": "..."}`, OpenAI's
/// `{"error": {"message": "..."}}`, or `{"message": "..."}`.
pub(crate) fn error_message(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    error_value_message(value.get("error")?).or_else(|| {
        value
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
    })
}

/// The message of an `error` value (a string or an object with `message`).
pub(crate) fn error_value_message(error: &serde_json::Value) -> Option<String> {
    match error {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(map) => Some(
            map.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| error.to_string()),
        ),
        other => Some(other.to_string()),
    }
}

async fn read_error_body(mut response: Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The innermost cause's message (e.g. "Connection refused (os error 111)").
pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        last = c.to_string();
        cause = c.source();
    }
    last
}

/// Parses one streamed item (an NDJSON line or an SSE event's data), turning an `error` key
/// into an `Err` that says how far the stream got (the partial answer is never returned).
/// `kind` names the item in messages ("line", "event", "chat completion").
pub(crate) fn parse_stream_item<T: for<'de> serde::Deserialize<'de>>(
    text: &str,
    kind: &str,
    chunks_so_far: u64,
) -> Result<T> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Ollama {
        status: None,
        message: format!(
            "the server sent a {kind} that is not JSON ({e}): {}",
            text.chars().take(200).collect::<String>()
        ),
    })?;
    if let Some(message) = value.get("error").and_then(error_value_message) {
        let message = if chunks_so_far > 0 {
            format!("{message} (the stream failed after {chunks_so_far} chunks; the partial answer was discarded)")
        } else {
            message
        };
        return Err(Error::Ollama {
            status: Some(200),
            message,
        });
    }
    serde_json::from_value(value).map_err(|e| Error::Ollama {
        status: None,
        message: format!("unexpected {kind} from the server ({e})"),
    })
}
