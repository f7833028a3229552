//! HTTP Basic authentication, with a bounded cost for failed logins.
//!
//! Users are `name:hash` pairs where the hash is an Argon2id PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$...`, made by [`hash_password`] or
//! `itassist serve --hash-password`). Plain-text passwords are never stored.
//!
//! Argon2 is deliberately slow and memory-hard (the default parameters fill 19 MiB in tens of
//! milliseconds), so an attacker sending wrong passwords could otherwise make the server spend
//! unbounded CPU and memory. What bounds it:
//!
//! - **Accepted credentials are remembered**: after the first successful check the server keeps
//!   a keyed SHA-256 of that user's password (the key is random per process) and compares later
//!   requests against it in constant time, so signed-in users never wait for Argon2.
//! - **At most [`AuthLimits::max_concurrent_verifications`] Argon2 checks run at once** (a
//!   semaphore; default 2), each in a memory buffer taken from a pool and given back, never
//!   allocated per request. Memory for checks is therefore at most that many buffers (2 x 19 MiB
//!   with the default parameters) for the life of the process, whatever the allocator does.
//!   At most [`MAX_QUEUED_VERIFICATIONS`] more wait for a turn; beyond that the answer is
//!   `503 busy` with `Retry-After`.
//! - **Failed attempts are limited per client address** ([`FailureLimiter`]): after
//!   [`AuthLimits::max_failures`] wrong passwords within [`AuthLimits::failure_window`], that
//!   address gets `429 too_many_attempts` with `Retry-After` until the window ends, without any
//!   password check (not even the remembered one, so the cache cannot be used to guess fast).
//! - A hash whose memory cost is over [`MAX_HASH_MEMORY_KIB`] is refused when users are loaded.
//!
//! Unknown users are checked against a dummy hash so that the response time does not tell which
//! user names exist.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::errors::ApiError;

/// Default number of Argon2 checks that may run at the same time.
pub const DEFAULT_MAX_CONCURRENT_VERIFICATIONS: usize = 2;
/// Requests that may wait for an Argon2 check beyond those running; more get `503 busy`.
pub const MAX_QUEUED_VERIFICATIONS: usize = 256;
/// Largest Argon2 memory cost accepted in a user's hash, in KiB (256 MiB). Each concurrent check
/// holds that much memory, so a larger hash is refused when the users are loaded.
pub const MAX_HASH_MEMORY_KIB: u32 = 256 * 1024;
/// Default number of failed logins from one client address before it must wait.
pub const DEFAULT_MAX_FAILURES: u32 = 10;
/// Default window over which failed logins are counted.
pub const DEFAULT_FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Most client addresses whose failures are remembered at once (about 64 bytes each).
pub const MAX_TRACKED_CLIENTS: usize = 10_000;

/// Hashes a password as an Argon2id PHC string, for `ITASSIST_USERS`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// A parsed Argon2 PHC hash, ready to be checked without parsing again.
#[derive(Clone)]
struct StoredHash {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl StoredHash {
    fn parse(phc: &str) -> Result<Self, String> {
        let parsed = PasswordHash::new(phc).map_err(|e| e.to_string())?;
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| e.to_string())?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
        if params.m_cost() > MAX_HASH_MEMORY_KIB {
            return Err(format!(
                "its memory cost m={} KiB is over the limit of {MAX_HASH_MEMORY_KIB} KiB",
                params.m_cost()
            ));
        }
        let salt = parsed.salt.ok_or("it has no salt")?;
        let mut salt_buf = [0u8; 64];
        let salt = salt
            .decode_b64(&mut salt_buf)
            .map_err(|e| e.to_string())?
            .to_vec();
        let hash = parsed
            .hash
            .ok_or("it has no hash value")?
            .as_bytes()
            .to_vec();
        Ok(StoredHash {
            algorithm,
            version,
            params,
            salt,
            hash,
        })
    }

    /// Whether `password` matches, computing Argon2 in `memory` (grown as needed, never
    /// shrunk, so the same buffer serves every check).
    fn matches(&self, password: &[u8], memory: &mut Vec<Block>) -> bool {
        let blocks = self.params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let argon = Argon2::new(self.algorithm, self.version, self.params.clone());
        let mut out = vec![0u8; self.hash.len()];
        match argon.hash_password_into_with_memory(password, &self.salt, &mut out, &mut memory[..])
        {
            Ok(()) => bool::from(out.ct_eq(&self.hash)),
            Err(_) => false,
        }
    }
}

/// The users allowed to call the API.
#[derive(Clone, Default)]
pub struct Users {
    hashes: HashMap<String, StoredHash>,
    /// user -> keyed SHA-256 of the password last accepted by Argon2.
    verified: Arc<RwLock<HashMap<String, [u8; 32]>>>,
    /// Argon2 working memory, reused by every check (one buffer per concurrent check).
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.hashes.keys().collect();
        names.sort();
        f.debug_struct("Users").field("names", &names).finish()
    }
}

/// A random key for this process, mixed into the remembered password digests so that they
/// cannot be attacked offline from a memory dump.
fn process_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        key
    })
}

fn credential_digest(name: &str, password: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(process_key())
        .chain_update(name.as_bytes())
        .chain_update([0u8])
        .chain_update(password.as_bytes())
        .finalize()
        .into()
}

/// Hash of a fixed password, checked for unknown users so they take as long as known ones.
fn dummy_hash() -> Option<&'static StoredHash> {
    static DUMMY: OnceLock<Option<StoredHash>> = OnceLock::new();
    DUMMY
        .get_or_init(|| {
            hash_password("itassist-dummy-password")
                .ok()
                .and_then(|phc| StoredHash::parse(&phc).ok())
        })
        .as_ref()
}

impl Users {
    /// No users.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user with an Argon2 PHC hash; fails when the hash does not parse or asks for more
    /// than [`MAX_HASH_MEMORY_KIB`] of memory.
    pub fn add(&mut self, name: &str, hash: &str) -> Result<(), String> {
        if name.is_empty() || name.contains(':') {
            return Err(format!("invalid user name '{name}'"));
        }
        let stored = StoredHash::parse(hash).map_err(|e| {
            format!("user '{name}': the password hash is not a usable Argon2 PHC string ({e}); make one with `itassist serve --hash-password`")
        })?;
        self.hashes.insert(name.to_string(), stored);
        Ok(())
    }

    /// Parses `name:hash` entries separated by whitespace, `;` or new lines (PHC strings
    /// contain commas, so commas do not separate entries). Lines starting with `#` are ignored.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut users = Users::new();
        for line in spec.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for entry in line.split(|c: char| c == ';' || c.is_whitespace()) {
                if entry.is_empty() {
                    continue;
                }
                let (name, hash) = entry.split_once(':').ok_or_else(|| {
                    format!(
                        "user entry '{}' is not NAME:HASH",
                        entry.chars().take(40).collect::<String>()
                    )
                })?;
                users.add(name, hash)?;
            }
        }
        Ok(users)
    }

    /// Whether no user is configured.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether a user of this name is configured.
    pub fn contains(&self, name: &str) -> bool {
        self.hashes.contains_key(name)
    }

    /// Whether these credentials were already accepted by Argon2 (fast: one SHA-256 and a
    /// constant-time comparison; never runs Argon2).
    pub fn check_remembered(&self, name: &str, password: &str) -> bool {
        let digest = credential_digest(name, password);
        match self.verified.read() {
            Ok(cache) => cache
                .get(name)
                .is_some_and(|known| bool::from(known.ct_eq(&digest))),
            Err(_) => false,
        }
    }

    /// Checks a user name and password with Argon2 (blocking, tens of milliseconds), and
    /// remembers them when they are right. Callers bound how many run at once (the server
    /// allows [`AuthLimits::max_concurrent_verifications`]).
    pub fn verify_with_argon2(&self, name: &str, password: &str) -> bool {
        let stored = self.hashes.get(name);
        let Some(hash) = stored.or(dummy_hash()) else {
            return false;
        };
        let mut memory = self
            .memory
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default();
        let ok = hash.matches(password.as_bytes(), &mut memory) && stored.is_some();
        // Given back for the next check: the pool holds as many buffers as checks ever ran at
        // the same time (the server allows `max_concurrent_verifications`).
        if let Ok(mut pool) = self.memory.lock() {
            pool.push(memory);
        }
        if ok {
            if let Ok(mut cache) = self.verified.write() {
                cache.insert(name.to_string(), credential_digest(name, password));
            }
        }
        ok
    }

    /// Checks a user name and password (blocking: may run Argon2).
    pub fn verify(&self, name: &str, password: &str) -> bool {
        self.check_remembered(name, password) || self.verify_with_argon2(name, password)
    }
}

/// Limits on the cost of authentication (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Argon2 checks that may run at once (at least 1).
    pub max_concurrent_verifications: usize,
    /// Failed logins from one client address within [`AuthLimits::failure_window`] before
    /// that address gets 429; 0 turns the limiter off.
    pub max_failures: u32,
    /// The window over which failures are counted; also the longest wait imposed.
    pub failure_window: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            max_concurrent_verifications: DEFAULT_MAX_CONCURRENT_VERIFICATIONS,
            max_failures: DEFAULT_MAX_FAILURES,
            failure_window: DEFAULT_FAILURE_WINDOW,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
}

/// Counts failed logins per client address, in a map of at most [`MAX_TRACKED_CLIENTS`]
/// entries.
///
/// A client is blocked once it has `max_failures` failures within `window` of its first one,
/// until that window ends. A success clears its count. IPv6 clients are counted per /64 (one
/// host usually holds a whole /64); IPv4-mapped IPv6 addresses count as their IPv4 address.
///
/// When the map is full, expired entries are dropped; if it is still full, the entry whose
/// window started first is evicted (so memory stays bounded even when an attacker uses many
/// addresses; the global limit on concurrent Argon2 checks still bounds the CPU).
///
/// Written here rather than with `governor`: what is counted is failures (known only after
/// the check), and a blocked client must be refused before any check, which a plain request-rate
/// limiter does not model.
#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    clients: Mutex<HashMap<IpAddr, Failures>>,
}

/// The address failures are counted under.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl FailureLimiter {
    /// A limiter allowing `max_failures` failures per `window` (0 failures: never blocks).
    pub fn new(max_failures: u32, window: Duration) -> Self {
        FailureLimiter {
            max_failures,
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// How long `ip` must still wait, or `None` when it may try.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        if self.max_failures == 0 {
            return None;
        }
        let clients = self.clients.lock().ok()?;
        let f = clients.get(&client_key(ip))?;
        let elapsed = f.since.elapsed();
        (f.count >= self.max_failures && elapsed < self.window).then(|| self.window - elapsed)
    }

    /// Records a failed login from `ip`.
    pub fn record_failure(&self, ip: IpAddr) {
        if self.max_failures == 0 {
            return;
        }
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        let key = client_key(ip);
        let now = Instant::now();
        if !clients.contains_key(&key) && clients.len() >= MAX_TRACKED_CLIENTS {
            let window = self.window;
            clients.retain(|_, f| now.duration_since(f.since) < window);
            if clients.len() >= MAX_TRACKED_CLIENTS {
                if let Some(oldest) = clients.iter().min_by_key(|(_, f)| f.since).map(|(k, _)| *k) {
                    clients.remove(&oldest);
                }
            }
        }
        let entry = clients.entry(key).or_insert(Failures {
            count: 0,
            since: now,
        });
        if now.duration_since(entry.since) >= self.window {
            *entry = Failures {
                count: 0,
                since: now,
            };
        }
        entry.count = entry.count.saturating_add(1);
    }

    /// Clears the failures of `ip` after a successful login.
    pub fn record_success(&self, ip: IpAddr) {
        if let Ok(mut clients) = self.clients.lock() {
            clients.remove(&client_key(ip));
        }
    }

    /// Number of client addresses currently remembered.
    pub fn tracked(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// What the authentication middleware shares: the users, the bound on concurrent Argon2
/// checks and the per-address failure limiter.
#[derive(Debug)]
pub struct Authenticator {
    users: Users,
    api_keys: crate::api_keys::ApiKeys,
    permits: Arc<Semaphore>,
    queued: AtomicUsize,
    limiter: FailureLimiter,
}

impl Authenticator {
    /// An authenticator over `users` with these limits.
    pub fn new(users: Users, limits: AuthLimits) -> Self {
        Authenticator {
            users,
            api_keys: crate::api_keys::ApiKeys::default(),
            permits: Arc::new(Semaphore::new(limits.max_concurrent_verifications.max(1))),
            queued: AtomicUsize::new(0),
            limiter: FailureLimiter::new(limits.max_failures, limits.failure_window),
        }
    }

    /// Also accepts these API keys (`Authorization: Bearer <key>`).
    pub fn with_api_keys(mut self, keys: crate::api_keys::ApiKeys) -> Self {
        self.api_keys = keys;
        self
    }

    /// The per-address failure limiter.
    pub fn limiter(&self) -> &FailureLimiter {
        &self.limiter
    }
}

/// Counts a request waiting for an Argon2 check; released on drop.
struct QueueSlot<'a>(&'a AtomicUsize);

impl<'a> QueueSlot<'a> {
    fn enter(counter: &'a AtomicUsize, max: usize) -> Option<Self> {
        let previous = counter.fetch_add(1, Ordering::SeqCst);
        let slot = QueueSlot(counter);
        (previous < max).then_some(slot)
    }
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

fn too_many_attempts(wait: Duration) -> ApiError {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many failed logins from this address: wait {seconds} s (Retry-After) and check the user name and password"),
    )
    .with_retry_after(seconds.max(1))
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "too many logins are being checked at the moment: retry in a second",
    )
    .with_retry_after(1)
}

/// Splits an `Authorization: Basic ...` header into user and password.
pub fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Middleware: lets the request through when it carries the credentials of a configured user.
///
/// The client address comes from [`ConnectInfo<SocketAddr>`] (set by
/// [`crate::serve_listener`]); without it the failure limiter is not applied.
pub async fn require_auth(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(wait) = client.and_then(|ip| auth.limiter.blocked(ip)) {
        return Err(too_many_attempts(wait));
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("authentication required: send HTTP Basic credentials"))?;
    if let Some(key) = crate::api_keys::parse_bearer(header) {
        // API keys are random: one hash and constant-time comparisons, no Argon2.
        if let Some(name) = auth.api_keys.check(key) {
            if let Some(ip) = client {
                auth.limiter.record_success(ip);
            }
            let principal = Principal::ApiKey(name.to_string());
            request.extensions_mut().insert(principal);
            return Ok(next.run(request).await);
        }
        if let Some(ip) = client {
            auth.limiter.record_failure(ip);
        }
        return Err(unauthorized(
            "unknown API key: create one with `itassist serve --new-api-key NAME` and restart the server",
        ));
    }
    let (user, password) = parse_basic(header).ok_or_else(|| {
        unauthorized("malformed Authorization header: expected Basic credentials")
    })?;
    if auth.users.check_remembered(&user, &password) {
        request.extensions_mut().insert(Principal::User(user));
        return Ok(next.run(request).await);
    }
    let permit = {
        let _slot = QueueSlot::enter(&auth.queued, MAX_QUEUED_VERIFICATIONS).ok_or_else(busy)?;
        auth.permits
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?
    };
    // Failures of this client may have reached the limit while this request waited.
    if let Some(wait) = client.and_then(|ip| auth.limiter.blocked(ip)) {
        return Err(too_many_attempts(wait));
    }
    let users = auth.users.clone();
    let name = user.clone();
    let ok = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        users.verify_with_argon2(&user, &password)
    })
    .await?;
    if !ok {
        if let Some(ip) = client {
            auth.limiter.record_failure(ip);
        }
        return Err(unauthorized("wrong user name or password"));
    }
    if let Some(ip) = client {
        auth.limiter.record_success(ip);
    }
    request.extensions_mut().insert(Principal::User(name));
    Ok(next.run(request).await)
}

/// Who sent a request, as [`require_auth`] established it (a request extension of every
/// authenticated request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user signed in with HTTP Basic.
    User(String),
    /// A client with the API key of this name.
    ApiKey(String),
}

impl Principal {
    /// The user or key name.
    pub fn name(&self) -> &str {
        match self {
            Principal::User(name) | Principal::ApiKey(name) => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let hash = hash_password("s3cret").unwrap();
        let users = Users::parse(&format!("alice:{hash}")).unwrap();
        assert!(!users.check_remembered("alice", "s3cret"));
        assert!(users.verify("alice", "s3cret"));
        assert!(users.check_remembered("alice", "s3cret"), "remembered");
        assert!(users.verify("alice", "s3cret"), "cached path");
        assert!(!users.verify("alice", "wrong"));
        assert!(!users.verify("bob", "s3cret"));
    }

    #[test]
    fn parse_rejects_bad_entries() {
        assert!(Users::parse("alice").is_err());
        assert!(Users::parse("alice:plaintext").is_err());
        assert!(Users::parse("# comment\n").unwrap().is_empty());
        // 1 GiB of memory per check: refused when loading, with the reason.
        let huge = "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Q1mE8Qq8oG2Gk0bGg0uD0ypd1Jk3nOqkUe7CbdmNqz4";
        let err = Users::parse(&format!("alice:{huge}")).unwrap_err();
        assert!(err.contains("memory cost"), "{err}");
    }

    #[test]
    fn basic_header() {
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("a:b:c")
        );
        assert_eq!(parse_basic(&v), Some(("a".into(), "b:c".into())));
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }

    #[test]
    fn limiter_blocks_after_the_limit_and_forgets_on_success() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..2 {
            limiter.record_failure(ip);
            assert_eq!(limiter.blocked(ip), None);
        }
        limiter.record_failure(ip);
        assert!(limiter.blocked(ip).is_some());
        // The IPv4-mapped form is the same client; another address is not affected.
        assert!(limiter
            .blocked("::ffff:192.0.2.7".parse().unwrap())
            .is_some());
        assert_eq!(limiter.blocked("192.0.2.8".parse().unwrap()), None);
        limiter.record_success(ip);
        assert_eq!(limiter.blocked(ip), None);
        // IPv6 clients count per /64.
        limiter.record_failure("2001:db8::1".parse().unwrap());
        limiter.record_failure("2001:db8::2".parse().unwrap());
        limiter.record_failure("2001:db8::3".parse().unwrap());
        assert!(limiter.blocked("2001:db8::ffff".parse().unwrap()).is_some());
        assert_eq!(limiter.blocked("2001:db8:0:1::1".parse().unwrap()), None);
        // Off.
        let off = FailureLimiter::new(0, Duration::from_secs(60));
        for _ in 0..100 {
            off.record_failure(ip);
        }
        assert_eq!(off.blocked(ip), None);
        assert_eq!(off.tracked(), 0);
    }

    #[test]
    fn limiter_memory_is_bounded() {
        let limiter = FailureLimiter::new(5, Duration::from_secs(60));
        for i in 0..(MAX_TRACKED_CLIENTS as u32 + 500) {
            limiter.record_failure(IpAddr::V4(std::net::Ipv4Addr::from(i)));
        }
        assert_eq!(limiter.tracked(), MAX_TRACKED_CLIENTS);
    }
}
