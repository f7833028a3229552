//! What the server's integration tests share: where the test corpus and the local embedding
//! model are, and a URL where nothing listens.

#![allow(dead_code)] // each test target uses its own part of it

use std::path::{Path, PathBuf};

/// A file of the shared test corpus beside the repository.
pub fn corpus(rel: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ))
    .join(rel)
}

/// The local embedding model: `ITASSIST_MODEL_DIR`, else the set-up's cache location.
pub fn model_dir() -> PathBuf {
    std::env::var_os("ITASSIST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/itassist/models/all-MiniLM-L6-v2-int8")
        })
}

/// `http://127.0.0.1:PORT` where nothing listens (a port bound, then released).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
