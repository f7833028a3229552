//! HTTP Basic authentication.
//!
//! Users are `name:hash` pairs where the hash is an Argon2id PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$...`, made by [`hash_password`] or
//! `itassist serve --hash-password`). Plain-text passwords are never stored.
//!
//! Argon2 is deliberately slow (tens of milliseconds), so after the first successful check the
//! server remembers a SHA-256 of that user's accepted password in memory and compares later
//! requests against it with a constant-time comparison; a wrong password always goes through
//! Argon2 again. Unknown users are checked against a dummy hash so that the response time does
//! not tell which user names exist.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::errors::ApiError;

/// Hashes a password as an Argon2id PHC string, for `ITASSIST_USERS`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// The users allowed to call the API.
#[derive(Clone, Default)]
pub struct Users {
    hashes: HashMap<String, String>,
    /// user -> SHA-256 of the password last verified with Argon2.
    verified: Arc<RwLock<HashMap<String, [u8; 32]>>>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.hashes.keys().collect();
        names.sort();
        f.debug_struct("Users").field("names", &names).finish()
    }
}

impl Users {
    /// No users.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user with an Argon2 PHC hash; fails when the hash does not parse.
    pub fn add(&mut self, name: &str, hash: &str) -> Result<(), String> {
        if name.is_empty() || name.contains(':') {
            return Err(format!("invalid user name '{name}'"));
        }
        PasswordHash::new(hash).map_err(|e| {
            format!("user '{name}': the password hash is not an Argon2 PHC string ({e}); make one with `itassist serve --hash-password`")
        })?;
        self.hashes.insert(name.to_string(), hash.to_string());
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

    /// Checks a user name and password (blocking: may run Argon2).
    pub fn verify(&self, name: &str, password: &str) -> bool {
        let digest: [u8; 32] = Sha256::new()
            .chain_update(name.as_bytes())
            .chain_update([0u8])
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        if let Ok(cache) = self.verified.read() {
            if let Some(known) = cache.get(name) {
                if bool::from(known.ct_eq(&digest)) {
                    return true;
                }
            }
        }
        let stored = self.hashes.get(name);
        let hash_text: &str = match stored {
            Some(h) => h.as_str(),
            None => dummy_hash(),
        };
        let ok = match PasswordHash::new(hash_text) {
            Ok(hash) => Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok(),
            Err(_) => false,
        };
        let ok = ok && stored.is_some();
        if ok {
            if let Ok(mut cache) = self.verified.write() {
                cache.insert(name.to_string(), digest);
            }
        }
        ok
    }
}

/// Hash of a fixed password, checked for unknown users so they take as long as known ones.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("itassist-dummy-password").unwrap_or_default())
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
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
pub async fn require_auth(
    State(users): State<Arc<Users>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("authentication required: send HTTP Basic credentials"))?;
    let (user, password) = parse_basic(header).ok_or_else(|| {
        unauthorized("malformed Authorization header: expected Basic credentials")
    })?;
    let checker = users.clone();
    let ok = tokio::task::spawn_blocking(move || checker.verify(&user, &password)).await?;
    if !ok {
        return Err(unauthorized("wrong user name or password"));
    }
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let hash = hash_password("s3cret").unwrap();
        let users = Users::parse(&format!("alice:{hash}")).unwrap();
        assert!(users.verify("alice", "s3cret"));
        assert!(users.verify("alice", "s3cret"), "cached path");
        assert!(!users.verify("alice", "wrong"));
        assert!(!users.verify("bob", "s3cret"));
    }

    #[test]
    fn parse_rejects_bad_entries() {
        assert!(Users::parse("alice").is_err());
        assert!(Users::parse("alice:plaintext").is_err());
        assert!(Users::parse("# comment\n").unwrap().is_empty());
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
}
