//! Storage failures, mapped to [`Error`] in one place.
//!
//! Code inside a transaction returns [`StorageResult`], so heed and arroy errors (and the
//! index's own errors, such as a missing metadata record) pass through `?` unchanged; the
//! transaction helpers (`Shared::read`, `Shared::write`) turn the outcome into an [`Error`]
//! once, with the index's directory and map size for the messages that need them.

use std::path::Path;

use super::Shared;
use crate::error::Error;

/// What can fail inside a transaction.
pub(super) enum StorageError {
    /// LMDB, through heed (also when arroy reports it).
    Heed(heed::Error),
    /// The vector store.
    Arroy(arroy::Error),
    /// An error of the index itself (already an [`Error`]).
    Index(Error),
}

/// The result of work inside a transaction.
pub(super) type StorageResult<T> = std::result::Result<T, StorageError>;

impl From<heed::Error> for StorageError {
    fn from(e: heed::Error) -> Self {
        StorageError::Heed(e)
    }
}

impl From<arroy::Error> for StorageError {
    fn from(e: arroy::Error) -> Self {
        match e {
            arroy::Error::Heed(h) => StorageError::Heed(h),
            other => StorageError::Arroy(other),
        }
    }
}

impl From<Error> for StorageError {
    fn from(e: Error) -> Self {
        StorageError::Index(e)
    }
}

impl Shared {
    /// The [`Error`] for a failure in this environment: a full map is [`Error::IndexFull`]
    /// (with the directory and map size, so the message can say what to raise).
    pub(super) fn error(&self, e: StorageError) -> Error {
        match e {
            StorageError::Heed(heed::Error::Mdb(heed::MdbError::MapFull)) => Error::IndexFull {
                data_dir: self.data_dir.clone(),
                map_size: self.map_size,
            },
            // The reason says where it failed; the storage error itself is the source, so the
            // message chain names it once.
            StorageError::Heed(e) => Error::Index {
                reason: format!("LMDB failed in {}", self.data_dir.display()),
                source: Some(Box::new(e)),
            },
            StorageError::Arroy(e) => Error::Index {
                reason: format!("the vector index in {} failed", self.data_dir.display()),
                source: Some(Box::new(e)),
            },
            StorageError::Index(e) => e,
        }
    }
}

/// The [`Error`] for a failure to open the environment in `dir`.
pub(super) fn open_error(dir: &Path, e: heed::Error) -> Error {
    match e {
        heed::Error::Io(io) => Error::io(dir, io),
        heed::Error::Mdb(heed::MdbError::Invalid)
        | heed::Error::Mdb(heed::MdbError::VersionMismatch) => Error::IndexCorrupt {
            data_dir: dir.to_path_buf(),
            reason: "the files are not an LMDB environment of a compatible version".into(),
            source: Some(Box::new(e)),
        },
        heed::Error::Mdb(heed::MdbError::Panic) | heed::Error::Mdb(heed::MdbError::Corrupted) => {
            Error::IndexCorrupt {
                data_dir: dir.to_path_buf(),
                reason: "LMDB reports corruption; restore a backup or re-index".into(),
                source: Some(Box::new(e)),
            }
        }
        heed::Error::Mdb(heed::MdbError::ReadersFull) => Error::IndexLocked {
            data_dir: dir.to_path_buf(),
            reason: e.to_string(),
        },
        other => Error::Index {
            reason: format!("cannot open the index at {}", dir.display()),
            source: Some(Box::new(other)),
        },
    }
}
