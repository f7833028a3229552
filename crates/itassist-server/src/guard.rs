//! Layers that protect every route: request-head limits, the cross-site request guard, and the
//! layer that gives every error response the JSON shape.
//!
//! - [`limit_request_head`]: a URL longer than [`MAX_URI_BYTES`] is `414 uri_too_long`; more
//!   than [`MAX_HEADER_COUNT`] headers or more than [`MAX_HEADER_BYTES`] of them is
//!   `431 headers_too_large`, both as JSON. (Larger heads are refused by hyper itself before
//!   any layer runs; see `docs/server.md`.)
//! - [`reject_cross_site`]: a state-changing request (`POST`, `PUT`, `PATCH`, `DELETE`) sent
//!   by a browser from another site is `403 forbidden_origin`, unless CORS allows that origin.
//!   A browser marks such requests with `Sec-Fetch-Site` and `Origin`, which pages cannot forge.
//! - [`json_errors`]: any 4xx/5xx response that is not JSON yet (an extractor's plain-text
//!   rejection, a framework default) is rewritten to `{"error": {"code", "message"}}`, keeping
//!   its status and headers.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::errors::{code_for_status, ApiError};

/// Longest request target (path and query) accepted, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most request headers accepted.
pub const MAX_HEADER_COUNT: usize = 100;
/// Most bytes of request headers accepted (names and values).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest JSON request body, in bytes (axum's default body limit).
pub const MAX_JSON_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Middleware: refuses request heads over [`MAX_URI_BYTES`], [`MAX_HEADER_COUNT`] or
/// [`MAX_HEADER_BYTES`] with a JSON 414 or 431.
pub async fn limit_request_head(request: Request, next: Next) -> Result<Response, ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the URL is {target} bytes long; the limit is {MAX_URI_BYTES}: send long input in a JSON body"
            ),
        ));
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers.len() > MAX_HEADER_COUNT || bytes > MAX_HEADER_BYTES {
        return Err(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request has {} headers ({bytes} bytes); the limits are {MAX_HEADER_COUNT} headers and {MAX_HEADER_BYTES} bytes",
                headers.len()
            ),
        ));
    }
    Ok(next.run(request).await)
}

/// An origin as browsers send it: `scheme://host[:port]`, lower case, without a default port.
///
/// Refuses `*` and `null` (with the reason), paths, queries, user info and wildcards.
pub fn normalize_origin(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t == "*" {
        return Err("'*' (any origin) cannot be used: the API is called with credentials (HTTP Basic auth), browsers refuse `Access-Control-Allow-Origin: *` on credentialed requests, and letting every web site send requests with your users' credentials would expose the documents; list each origin instead, e.g. --cors-origin https://intranet.example".into());
    }
    if t.eq_ignore_ascii_case("null") {
        return Err("'null' cannot be allowed: it is the origin of sandboxed frames and local files, which any page can produce; serve the client from a real origin and list that".into());
    }
    let bad = |why: &str| {
        Err(format!(
            "'{t}' is not a CORS origin ({why}): write scheme://host[:port], e.g. https://intranet.example or http://localhost:3000"
        ))
    };
    if t.contains('*') {
        return bad("wildcards are not supported; list each origin");
    }
    if t.contains('@') {
        return bad("an origin has no user name or password");
    }
    let Ok(uri) = t.parse::<Uri>() else {
        return bad("it does not parse as a URL");
    };
    let scheme = match uri.scheme_str().map(str::to_ascii_lowercase) {
        Some(s) if s == "http" || s == "https" => s,
        Some(_) => return bad("the scheme must be http or https"),
        None => return bad("the scheme is missing"),
    };
    let Some(authority) = uri.authority() else {
        return bad("the host is missing");
    };
    if uri.query().is_some() || !matches!(uri.path(), "" | "/") {
        return bad("an origin has no path or query");
    }
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return bad("the host is missing");
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    Ok(match authority.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// The origins allowed by CORS, normalised with [`normalize_origin`].
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Arc<Vec<String>>);

impl AllowedOrigins {
    /// The valid origins among `origins` (invalid ones are left out; [`crate::ServerConfig::validate`]
    /// reports them before the server starts).
    pub fn new(origins: &[String]) -> Self {
        AllowedOrigins(Arc::new(
            origins
                .iter()
                .filter_map(|o| normalize_origin(o).ok())
                .collect(),
        ))
    }

    /// Whether `origin` (a request's `Origin` header) is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        normalize_origin(origin).is_ok_and(|o| self.0.contains(&o))
    }

    /// The origins as header values, for the CORS layer.
    pub fn header_values(&self) -> Vec<HeaderValue> {
        self.0
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect()
    }

    /// Whether no origin is allowed (CORS off).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether `origin` names this server, as reached through the request's `Host` header.
fn same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let Ok(origin) = normalize_origin(origin) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://").unwrap_or(("", origin.as_str()));
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    authority == host
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden_origin", message)
}

/// Middleware: refuses state-changing requests that a browser sends from another site unless
/// CORS allows that origin.
///
/// - `Sec-Fetch-Site: same-origin` or `none` (typed by the user): allowed.
/// - `Sec-Fetch-Site: same-site` / `cross-site`: allowed only when `Origin` is a CORS origin.
/// - No `Sec-Fetch-Site` but an `Origin`: allowed when it is this server (same host as the
///   `Host` header) or a CORS origin. `Origin: null` is refused.
/// - Neither header (curl, scripts, server-to-server clients): allowed; they carry no
///   ambient browser credentials.
pub async fn reject_cross_site(
    State(allowed): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return Ok(next.run(request).await);
    }
    let headers = request.headers();
    let origin = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("(not text)").to_string());
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let cors_allowed = origin.as_deref().is_some_and(|o| allowed.allows(o));
    let refused = match (fetch_site.as_deref(), origin.as_deref()) {
        (Some("same-origin" | "none"), _) => None,
        (Some(site), origin) => (!cors_allowed).then(|| {
            format!(
                "cross-site request refused: the browser says it comes from another site (Sec-Fetch-Site: {site}, Origin: {})",
                origin.unwrap_or("none")
            )
        }),
        (None, Some(o)) => (!cors_allowed && !same_origin(o, headers)).then(|| {
            format!("cross-site request refused: Origin {o} is neither this server nor an allowed CORS origin")
        }),
        (None, None) => None,
    };
    if let Some(message) = refused {
        return Err(forbidden(format!(
            "{message}; if that site should use this API, start the server with --cors-origin ORIGIN (ITASSIST_CORS_ORIGINS)"
        )));
    }
    Ok(next.run(request).await)
}

/// Whether `headers` declare a JSON body (`application/json` or `application/*+json`, any
/// parameters).
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|essence| {
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
}

fn guidance(status: StatusCode) -> String {
    match status.as_u16() {
        400 => "the request is malformed".into(),
        413 => format!(
            "the request body is too large (JSON bodies: at most {MAX_JSON_BODY_BYTES} bytes; uploads: ITASSIST_MAX_UPLOAD)"
        ),
        414 => format!("the URL is too long (at most {MAX_URI_BYTES} bytes)"),
        415 => "unsupported Content-Type".into(),
        431 => format!(
            "the request headers are too large (at most {MAX_HEADER_COUNT} headers, {MAX_HEADER_BYTES} bytes)"
        ),
        _ => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
    }
}

/// Middleware: turns every 4xx/5xx response that is not JSON into
/// `{"error": {"code", "message"}}`, with the original text (if any) in the message.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || is_json_content_type(response.headers())
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let detail = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let mut message = guidance(status);
    if let Some(detail) = detail {
        message = format!("{message}: {detail}");
    }
    let body = json!({ "error": { "code": code_for_status(status), "message": message } });
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_normalised() {
        assert_eq!(
            normalize_origin("https://Intranet.Example/").unwrap(),
            "https://intranet.example"
        );
        assert_eq!(
            normalize_origin("http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        assert_eq!(
            normalize_origin("https://a.example:443").unwrap(),
            "https://a.example"
        );
        let star = normalize_origin("*").unwrap_err();
        assert!(star.contains("credentials"), "{star}");
        assert!(normalize_origin("null").is_err());
        for bad in [
            "intranet.example",
            "ftp://a.example",
            "https://a.example/app",
            "https://a.example?x=1",
            "https://*.example",
            "https://user@a.example",
            "",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn same_origin_compares_with_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8000"));
        assert!(same_origin("http://127.0.0.1:8000", &headers));
        assert!(!same_origin("http://evil.example", &headers));
        assert!(!same_origin("null", &headers));
        headers.insert(header::HOST, HeaderValue::from_static("Assist.Example"));
        assert!(same_origin("https://assist.example", &headers));
        headers.insert(header::HOST, HeaderValue::from_static("assist.example:443"));
        assert!(same_origin("https://assist.example", &headers));
    }

    #[test]
    fn json_content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json_content_type(&headers));
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json_content_type(&headers), ok, "{value}");
        }
    }
}
