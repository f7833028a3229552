//! # itassist-server
//!
//! The itassist HTTP service (axum on tokio) over an [`itassist::Assistant`]:
//!
//! | Method | Path | Auth | What |
//! |---|---|---|---|
//! | `POST` | `/upload/` | Basic | multipart upload of one or many files: a job per file (202), or with `?wait=true` a status per file |
//! | `GET` | `/jobs`, `/jobs/{id}` | Basic | upload and re-index jobs ([`jobs`], [`job_routes`]) |
//! | `GET` | `/jobs/{id}/events`, `/jobs/events` | Basic | job progress as Server-Sent Events |
//! | `POST` | `/reindex` | Basic, admin | re-embed with another model, then answer from it |
//! | `POST` | `/ask/` | Basic | `{"question", "context"}` → answer, `context_used`, sources |
//! | `POST`/`GET` | `/ask/stream` | Basic | the answer as Server-Sent Events |
//! | `POST` | `/search` | Basic | `{"query", "k"}` → passages |
//! | `GET` | `/documents` | Basic | the indexed documents |
//! | `DELETE` | `/documents/{id}` | Basic | remove one |
//! | `GET` | `/models` | Basic | models of the chat-model server |
//! | `GET`/`POST` | `/conversations` | Basic | stored conversations ([`conversations`]) |
//! | `GET`/`DELETE` | `/conversations/{id}` | Basic | one conversation |
//! | `POST` | `/conversations/{id}/ask[/stream]` | Basic | ask in a conversation |
//! | `GET` | `/v1/models` | Bearer or Basic | OpenAI-compatible model list ([`v1`]) |
//! | `POST` | `/v1/chat/completions` | Bearer or Basic | OpenAI-compatible chat |
//! | `GET` | `/health` | none | index and model-server state |
//! | `GET` | `/openapi.json` | Basic | the OpenAPI 3.1 description |
//! | `GET` | `/` | Basic | the web page |
//!
//! Errors are JSON `{"error": {"code", "message"}}` (see [`errors`] and [`guard::json_errors`]).
//! Blocking core calls (ingestion, search, listing, removal) run on tokio's blocking pool, so
//! questions are answered while an upload is being ingested. Failed logins cost bounded memory
//! and CPU ([`auth`]); cross-site state-changing requests are refused and request heads are
//! bounded ([`guard`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use itassist_server::{serve, ServerConfig};
//! let config = itassist::Config::new("./itassist-data");
//! let server = ServerConfig::from_env()?;
//! serve(config, server, "127.0.0.1:8000".parse()?).await?;
//! # Ok(()) }
//! ```

// Library code never unwraps: failures are errors with a code, never panics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod api_keys;
pub mod auth;
pub mod conversations;
pub mod errors;
pub mod guard;
pub mod job_routes;
pub mod jobs;
pub mod openapi;
pub mod routes;
pub mod upload;
pub mod v1;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{header, Method};
use axum::routing::{delete, get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use itassist::Assistant;
use tower_http::cors::CorsLayer;

pub use api_keys::ApiKeys;
pub use auth::{hash_password, AuthLimits, Users};
pub use errors::ApiError;
pub use jobs::Jobs;

/// The web page, embedded in the binary.
pub const INDEX_HTML: &str = include_str!("../static/index.html");

/// Default upload limit: 64 MiB per request.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// Environment variable with the users (`NAME:ARGON2_HASH`, separated by spaces, `;` or new
/// lines).
pub const ENV_USERS: &str = "ITASSIST_USERS";
/// Environment variable naming a file of users, one `NAME:ARGON2_HASH` per line.
pub const ENV_USERS_FILE: &str = "ITASSIST_USERS_FILE";
/// Environment variable with the upload limit in bytes (suffixes `K`, `M`, `G` allowed).
pub const ENV_MAX_UPLOAD: &str = "ITASSIST_MAX_UPLOAD";
/// Environment variable with the allowed CORS origins, comma-separated.
pub const ENV_CORS_ORIGINS: &str = "ITASSIST_CORS_ORIGINS";
/// Environment variable with the failed logins allowed per client address per minute (0: no
/// limit).
pub const ENV_MAX_LOGIN_FAILURES: &str = "ITASSIST_MAX_LOGIN_FAILURES";
/// Environment variable with the users who may re-index (`POST /reindex`), comma-separated.
pub const ENV_ADMINS: &str = "ITASSIST_ADMINS";

/// How long a client may take to send a request's head (slow clients holding connections
/// open are dropped).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Most headers hyper parses in a request; [`guard::limit_request_head`] answers anything over
/// [`guard::MAX_HEADER_COUNT`] with a JSON 431, so between the two the client gets JSON.
pub const HYPER_MAX_HEADERS: usize = 1024;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Users allowed to call the API (every endpoint but `/health` requires one).
    pub users: Users,
    /// Largest upload request body, in bytes; larger uploads get 413.
    pub max_upload_bytes: usize,
    /// Origins allowed by CORS (`scheme://host[:port]`); empty (the default) sends no CORS
    /// headers at all. `*` is refused by [`ServerConfig::validate`].
    pub cors_origins: Vec<String>,
    /// Limits on the cost of authentication (concurrent Argon2 checks, failed logins per
    /// client address).
    pub auth: AuthLimits,
    /// API keys accepted as `Authorization: Bearer <key>` (see [`api_keys`]); [`serve`] reads
    /// them from the data directory when none are set here.
    pub api_keys: ApiKeys,
    /// Users (by name, signed in with Basic) allowed to call `POST /reindex`.
    pub admins: Vec<String>,
    /// Folders (or files) kept in sync with the index while the server runs
    /// (`itassist serve --watch PATH`): synced at start, then watched.
    pub watch: Vec<PathBuf>,
}

impl ServerConfig {
    /// A configuration with these users, the default upload limit and CORS off.
    pub fn new(users: Users) -> Self {
        ServerConfig {
            users,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            cors_origins: Vec::new(),
            auth: AuthLimits::default(),
            api_keys: ApiKeys::default(),
            admins: Vec::new(),
            watch: Vec::new(),
        }
    }

    /// Checks the configuration before the server starts: at least one user, a positive upload
    /// limit, and CORS origins that are each `scheme://host[:port]` (`*` is refused: the API
    /// uses credentials). The error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.users.is_empty() && self.api_keys.is_empty() {
            return Err(format!(
                "no users configured: set {ENV_USERS}=\"NAME:HASH\" (make a hash with `itassist serve --hash-password`) or {ENV_USERS_FILE}, or create an API key with `itassist serve --new-api-key NAME`"
            ));
        }
        if self.max_upload_bytes == 0 {
            return Err("the upload limit is 0: set --max-upload (ITASSIST_MAX_UPLOAD) to a size such as 64M".into());
        }
        if self.auth.max_concurrent_verifications == 0 {
            return Err("auth.max_concurrent_verifications is 0: at least one password check must be able to run".into());
        }
        let problems: Vec<String> = self
            .cors_origins
            .iter()
            .filter_map(|o| guard::normalize_origin(o).err())
            .collect();
        if !problems.is_empty() {
            return Err(format!(
                "invalid CORS origin (--cors-origin / {ENV_CORS_ORIGINS}): {}",
                problems.join("; ")
            ));
        }
        if let Some(unknown) = self.admins.iter().find(|a| !self.users.contains(a)) {
            return Err(format!(
                "{ENV_ADMINS} names '{unknown}', who is not a user: admins must be users of {ENV_USERS} or {ENV_USERS_FILE}"
            ));
        }
        if let Some(missing) = self.watch.iter().find(|p| !p.exists()) {
            return Err(format!(
                "--watch {}: no such file or folder: name folders that exist",
                missing.display()
            ));
        }
        Ok(())
    }

    /// Reads `ITASSIST_USERS`, `ITASSIST_USERS_FILE`, `ITASSIST_MAX_UPLOAD`,
    /// `ITASSIST_CORS_ORIGINS` and `ITASSIST_MAX_LOGIN_FAILURES`.
    pub fn from_env() -> Result<Self, String> {
        let mut spec = std::env::var(ENV_USERS).unwrap_or_default();
        if let Some(path) = std::env::var_os(ENV_USERS_FILE) {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "cannot read {ENV_USERS_FILE}={}: {e}",
                    path.to_string_lossy()
                )
            })?;
            spec.push('\n');
            spec.push_str(&text);
        }
        let mut config = ServerConfig::new(Users::parse(&spec)?);
        if let Ok(limit) = std::env::var(ENV_MAX_UPLOAD) {
            config.max_upload_bytes = parse_size(&limit)?;
        }
        if let Ok(origins) = std::env::var(ENV_CORS_ORIGINS) {
            config.cors_origins = origins
                .split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Ok(admins) = std::env::var(ENV_ADMINS) {
            config.admins = admins
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect();
        }
        if let Ok(limit) = std::env::var(ENV_MAX_LOGIN_FAILURES) {
            config.auth.max_failures = limit.trim().parse().map_err(|_| {
                format!("invalid {ENV_MAX_LOGIN_FAILURES}='{limit}': use a whole number of failed logins per minute (0 turns the limit off)")
            })?;
        }
        Ok(config)
    }
}

/// Parses `1048576`, `512K`, `64M` or `1G` into bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let (digits, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1024),
        Some('M') => (&t[..t.len() - 1], 1024 * 1024),
        Some('G') => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        _ => (t, 1),
    };
    digits
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid size '{text}': use bytes or a K/M/G suffix, e.g. 64M"))
}

/// The server's assistant, swappable: a re-index replaces it with one opened with the new
/// model while requests in flight finish with the one they started with.
#[derive(Debug, Clone)]
pub struct SharedAssistant(Arc<RwLock<Arc<Assistant>>>);

impl SharedAssistant {
    /// Shares `assistant`.
    pub fn new(assistant: Arc<Assistant>) -> Self {
        SharedAssistant(Arc::new(RwLock::new(assistant)))
    }

    /// The current assistant.
    pub fn get(&self) -> Arc<Assistant> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes `assistant` the current one.
    pub fn replace(&self, assistant: Arc<Assistant>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = assistant;
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The assistant (LMDB index, embedder, answerer); `Sync`, shared by all requests, and
    /// replaced after a re-index ([`AppState::assistant`] gives the current one).
    pub shared: SharedAssistant,
    /// Upload limit in bytes.
    pub max_upload_bytes: usize,
    /// The upload and re-index jobs.
    pub jobs: Jobs,
    /// Users who may re-index.
    pub admins: Arc<Vec<String>>,
}

impl AppState {
    /// The state for `assistant` and `config`; starts the job worker (resuming the jobs a
    /// killed server left), so it must be called inside a tokio runtime.
    pub fn new(assistant: Arc<Assistant>, config: &ServerConfig) -> AppState {
        let shared = SharedAssistant::new(assistant);
        AppState {
            jobs: Jobs::start(shared.clone()),
            shared,
            max_upload_bytes: config.max_upload_bytes,
            admins: Arc::new(config.admins.clone()),
        }
    }

    /// The current assistant.
    pub fn assistant(&self) -> Arc<Assistant> {
        self.shared.get()
    }
}

/// Builds the router: every route, auth, CORS, the cross-site guard, request-head and body
/// limits, and JSON for every error.
///
/// Layers, outermost first: [`guard::json_errors`], CORS (when origins are configured),
/// [`guard::limit_request_head`], [`guard::reject_cross_site`], then per route the body limit
/// and [`auth::require_auth`]. The failure limiter needs the client address
/// ([`ConnectInfo<SocketAddr>`]), which [`serve_listener`] provides.
///
/// Starts the job worker ([`AppState::new`]): call it inside a tokio runtime.
pub fn router(assistant: Arc<Assistant>, config: &ServerConfig) -> Router {
    app(AppState::new(assistant, config), config)
}

/// Like [`router`], over a state made by [`AppState::new`] (whose jobs and assistant the
/// caller keeps, e.g. to stop the job worker at shutdown).
pub fn app(state: AppState, config: &ServerConfig) -> Router {
    let authenticator = Arc::new(
        auth::Authenticator::new(config.users.clone(), config.auth)
            .with_api_keys(config.api_keys.clone()),
    );
    let allowed = guard::AllowedOrigins::new(&config.cors_origins);
    let upload_limit = config.max_upload_bytes.saturating_add(64 * 1024);
    let protected = Router::new()
        .route("/", get(routes::index_page))
        .route("/index.html", get(routes::index_page))
        .route(
            "/upload/",
            post(upload::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/upload",
            post(upload::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/jobs", get(job_routes::list))
        .route("/jobs/events", get(job_routes::all_events))
        .route("/jobs/{id}", get(job_routes::show))
        .route("/jobs/{id}/events", get(job_routes::events))
        .route("/reindex", post(job_routes::reindex))
        .route("/ask/", post(routes::ask))
        .route("/ask", post(routes::ask))
        .route(
            "/ask/stream",
            post(routes::ask_stream_post).get(routes::ask_stream_get),
        )
        .route("/search", post(routes::search))
        .route("/documents", get(routes::documents))
        .route("/documents/{id}", delete(routes::delete_document))
        .route("/models", get(routes::models))
        .route("/openapi.json", get(openapi::openapi))
        .route(
            "/conversations",
            get(conversations::list).post(conversations::create),
        )
        .route(
            "/conversations/{id}",
            get(conversations::show).delete(conversations::delete),
        )
        .route("/conversations/{id}/ask", post(conversations::ask))
        .route(
            "/conversations/{id}/ask/stream",
            post(conversations::ask_stream),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            authenticator.clone(),
            auth::require_auth,
        ));
    // The OpenAI-compatible API: same auth, errors in OpenAI's shape.
    let openai = Router::new()
        .route("/v1/models", get(v1::models))
        .route("/v1/chat/completions", post(v1::chat_completions))
        .route_layer(axum::middleware::from_fn_with_state(
            authenticator,
            auth::require_auth,
        ))
        .layer(axum::middleware::from_fn(v1::openai_errors));
    let mut app = Router::new()
        .route("/health", get(routes::health))
        .merge(protected)
        .merge(openai)
        .fallback(routes::fallback)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            allowed.clone(),
            guard::reject_cross_site,
        ))
        .layer(axum::middleware::from_fn(guard::limit_request_head));
    if !allowed.is_empty() {
        app = app.layer(
            CorsLayer::new()
                .allow_origin(allowed.header_values())
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .allow_credentials(true),
        );
    }
    app.layer(axum::middleware::from_fn(guard::json_errors))
}

/// Errors that stop the server from starting.
#[derive(Debug)]
pub enum ServeError {
    /// The assistant could not be opened.
    Core(itassist::Error),
    /// The configuration is unusable (e.g. no users).
    Config(String),
    /// The address cannot be bound, or the server failed.
    Io(std::io::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Core(e) => write!(f, "{e}"),
            ServeError::Config(m) => write!(f, "{m}"),
            ServeError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Opens the assistant and serves on `addr` until Ctrl-C or SIGTERM, finishing in-flight
/// requests before returning (see [`run`]).
pub async fn serve(
    config: itassist::Config,
    server: ServerConfig,
    addr: SocketAddr,
) -> Result<(), ServeError> {
    // Before anything is opened or bound: a bad setting is reported, never a panic later.
    let server = checked(&config, server)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(ServeError::Io)?;
    run(config, server, listener, shutdown_signal()).await
}

/// Opens the assistant and serves on `listener` until `shutdown` completes: loads the API
/// keys of the data directory when none are set, resumes the jobs a killed server left,
/// keeps [`ServerConfig::watch`] in sync (a sync at start, then [`Assistant::watch`] on a
/// blocking thread, each applied batch logged), and at shutdown finishes in-flight requests,
/// stops the watch and the job worker.
pub async fn run(
    config: itassist::Config,
    server: ServerConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let server = checked(&config, server)?;
    let assistant = tokio::task::spawn_blocking(move || Assistant::open(config))
        .await
        .map_err(|e| ServeError::Config(format!("opening the assistant failed: {e}")))?
        .map_err(ServeError::Core)?;
    let local = listener.local_addr().map_err(ServeError::Io)?;
    eprintln!(
        "itassist: serving on http://{local}/ ({} user(s), {} API key(s); OpenAI-compatible API at http://{local}/v1)",
        server.users.len(),
        server.api_keys.len()
    );
    let state = AppState::new(Arc::new(assistant), &server);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = (!server.watch.is_empty()).then(|| {
        let (shared, paths, stop) = (state.shared.clone(), server.watch.clone(), stop.clone());
        tokio::task::spawn_blocking(move || watch::keep_in_sync(&shared, &paths, &stop))
    });
    let jobs = state.jobs.clone();
    let app = app(state, &server);
    // Open progress streams end when shutdown starts, so they do not hold it.
    let closer = jobs.clone();
    let shutdown = async move {
        shutdown.await;
        closer.close_streams();
    };
    let served = serve_listener(listener, app, shutdown).await;
    stop.store(true, Ordering::SeqCst);
    if let Some(watcher) = watcher {
        let _ = watcher.await;
    }
    jobs.shutdown().await;
    served
}

/// `server` with the API keys of the data directory when it has none, once it is valid.
fn checked(
    config: &itassist::Config,
    mut server: ServerConfig,
) -> Result<ServerConfig, ServeError> {
    if server.api_keys.is_empty() {
        server.api_keys =
            ApiKeys::load(&ApiKeys::path_in(&config.data_dir)).map_err(ServeError::Config)?;
    }
    server.validate().map_err(ServeError::Config)?;
    Ok(server)
}

/// Serves `app` on an already bound listener until `shutdown` completes (graceful: in-flight
/// requests finish).
///
/// Each connection is served by hyper's HTTP/1 server with a [`HEADER_READ_TIMEOUT`] and up to
/// [`HYPER_MAX_HEADERS`] headers, and each request carries the client address as
/// [`ConnectInfo<SocketAddr>`] (for the failed-login limiter).
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(HYPER_MAX_HEADERS);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // A connection that failed while being accepted concerns only its client;
                    // anything else (e.g. out of file descriptors) is logged and retried.
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::ConnectionRefused
                    ) {
                        tracing::error!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                tower::ServiceExt::oneshot(app.clone(), request.map(axum::body::Body::new))
            },
        );
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection from {remote} ended with an error: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    eprintln!("itassist: shutting down, finishing in-flight requests");
}
