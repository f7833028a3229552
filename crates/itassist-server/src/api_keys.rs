//! API keys for `Authorization: Bearer <key>` (what OpenAI clients send), beside HTTP Basic.
//!
//! `itassist serve --new-api-key NAME` makes a key ([`ApiKeys::create`]): 32 random bytes,
//! written out once as `itk-` + hex. Only its SHA-256 is stored, one `NAME SHA256HEX` line per
//! key in `<data dir>/api-keys` (mode 0600). A key is random, so a plain hash cannot be
//! reversed by guessing; checking it is one hash and constant-time comparisons, with no
//! Argon2 cost. The server reads the file when it starts (restart it after adding a key);
//! remove a key by deleting its line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Name of the key file in the data directory.
pub const API_KEYS_FILE: &str = "api-keys";
/// Prefix of every key.
pub const KEY_PREFIX: &str = "itk-";

/// The API keys the server accepts (names and SHA-256 digests). Cheap to clone.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Arc<Vec<(String, [u8; 32])>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.keys.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ApiKeys").field("names", &names).finish()
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.trim().as_bytes()).into()
}

impl ApiKeys {
    /// The key file of a data directory.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(API_KEYS_FILE)
    }

    /// Reads a key file (`NAME SHA256HEX` per line; `#` comments); a missing file is no keys.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(format!(
                    "cannot read the API keys in {}: {e}",
                    path.display()
                ))
            }
        };
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || {
                format!(
                    "{} line {}: expected `NAME SHA256HEX` (made by `itassist serve --new-api-key NAME`)",
                    path.display(),
                    i + 1
                )
            };
            let (name, hash) = line.rsplit_once(' ').ok_or_else(bad)?;
            let bytes = hex::decode(hash.trim()).map_err(|_| bad())?;
            let hash: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
            keys.push((name.trim().to_string(), hash));
        }
        Ok(ApiKeys {
            keys: Arc::new(keys),
        })
    }

    /// Makes a new key named `name`, appends its hash to the file at `path` (created with mode
    /// 0600), and returns the key: it is shown once and never stored.
    pub fn create(path: &Path, name: &str) -> Result<String, String> {
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err("an API key name is one word, e.g. `open-webui`".into());
        }
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let key = format!("{KEY_PREFIX}{}", hex::encode(raw));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| format!("cannot write the API keys in {}: {e}", path.display()))?;
        writeln!(file, "{name} {}", hex::encode(digest(&key)))
            .map_err(|e| format!("cannot write the API keys in {}: {e}", path.display()))?;
        Ok(key)
    }

    /// Keys with these names and plain-text values (for tests and embedding).
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        ApiKeys {
            keys: Arc::new(
                keys.into_iter()
                    .map(|(n, k)| (n.to_string(), digest(k)))
                    .collect(),
            ),
        }
    }

    /// The name of the key `key`, when it is one of these; every stored key is compared, in
    /// constant time.
    pub fn check(&self, key: &str) -> Option<&str> {
        let d = digest(key);
        let mut found = None;
        for (name, hash) in self.keys.iter() {
            if bool::from(hash.ct_eq(&d)) {
                found = Some(name.as_str());
            }
        }
        found
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The key of an `Authorization: Bearer <key>` header.
pub fn parse_bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_load_check() {
        let tmp = tempfile::tempdir().unwrap();
        let path = ApiKeys::path_in(tmp.path());
        let key = ApiKeys::create(&path, "webui").unwrap();
        assert!(key.starts_with(KEY_PREFIX) && key.len() == 68);
        let other = ApiKeys::create(&path, "editor").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&key[4..]), "only the hash is stored");
        let keys = ApiKeys::load(&path).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.check(&key), Some("webui"));
        assert_eq!(keys.check(&other), Some("editor"));
        assert_eq!(keys.check("itk-00"), None);
        assert!(ApiKeys::create(&path, "two words").is_err());
        assert_eq!(parse_bearer("Bearer abc"), Some("abc"));
        assert_eq!(parse_bearer("Basic abc"), None);
        assert!(ApiKeys::load(&tmp.path().join("none")).unwrap().is_empty());
    }
}
