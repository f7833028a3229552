//! Per-file failure status: the last failed ingest of each file (by its source path), kept
//! until the file ingests or is removed, so `itassist docs --failed` can list them and a sync
//! does not retry a file that failed unless it changed.

use heed::types::{SerdeJson, Str};
use heed::Database;
use serde::{Deserialize, Serialize};

use super::Index;
use crate::error::{Error, Result};

/// The `failures` database: source path -> record.
pub(super) type FailuresDb = Database<'static, Str, SerdeJson<FailureRecord>>;

/// Why a file could not be ingested, as recorded at its last attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// The file's source (its absolute path, as a document's `source` would be).
    pub source: String,
    /// The error code (see [`Error::code`]).
    pub code: String,
    /// The error message with its cause chain.
    pub message: String,
    /// The file's size when it failed, when known.
    pub size: Option<u64>,
    /// The file's modification time (seconds since the epoch) when it failed, when known.
    pub modified: Option<u64>,
    /// When it failed (seconds since the epoch).
    pub failed_at: u64,
}

impl FailureRecord {
    /// A record of `error` for the file at `source` with this size and mtime.
    pub fn new(source: String, error: &Error, size: Option<u64>, modified: Option<u64>) -> Self {
        FailureRecord {
            source,
            code: error.code().to_string(),
            message: error.display_chain(),
            size,
            modified,
            failed_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }

    /// Whether the file still looks as it did when it failed (same size and mtime): then
    /// retrying it would fail the same way.
    pub fn same_file(&self, size: u64, modified: Option<u64>) -> bool {
        self.size == Some(size) && self.modified.is_some() && self.modified == modified
    }
}

impl Index {
    /// Records (or replaces) the failure of the file at `record.source`.
    pub fn record_failure(&self, record: &FailureRecord) -> Result<()> {
        self.shared.write(|wtxn| {
            self.dbs().failures.put(wtxn, &record.source, record)?;
            Ok(())
        })
    }

    /// The recorded failure of the file at `source`, if any.
    pub fn failure(&self, source: &str) -> Result<Option<FailureRecord>> {
        self.shared
            .read(|rtxn| Ok(self.dbs().failures.get(rtxn, source)?))
    }

    /// Forgets the failure of the file at `source` (it ingested, or is gone); returns whether
    /// there was one. Costs no write transaction when there is none.
    pub fn clear_failure(&self, source: &str) -> Result<bool> {
        if self.failure(source)?.is_none() {
            return Ok(false);
        }
        self.shared
            .write(|wtxn| Ok(self.dbs().failures.delete(wtxn, source)?))
    }

    /// Every recorded failure, by source path.
    pub fn failures(&self) -> Result<Vec<FailureRecord>> {
        self.shared.read(|rtxn| {
            let mut out = Vec::new();
            for entry in self.dbs().failures.iter(rtxn)? {
                out.push(entry?.1);
            }
            Ok(out)
        })
    }
}
