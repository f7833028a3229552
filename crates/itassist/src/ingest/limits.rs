//! Per-document limits: how much text one document may produce and how long reading it may
//! take.
//!
//! A [`Budget`] is made for each document from [`LoadOptions`] and handed to its loader,
//! which calls [`Budget::check`] inside its loops (per line, per XML event, per glyph). The
//! deadline is cooperative: nothing is abandoned on another thread, the loader itself stops
//! and returns [`Error::DocumentTimeout`]; too much text is [`Error::DocumentTooLarge`].
//! OCR (external programs, page by page) is not counted against the deadline.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::LoadOptions;
use crate::error::{Error, Result};

/// The setting that raises the text limit, as named in error messages.
pub(crate) const TEXT_SETTING: &str = "loading.max_text_bytes";

/// Smallest size accepted for one compressed part (a ZIP entry, a gzip stream) whatever the
/// text limit: the markup around the text takes room too.
const MIN_PART_BYTES: u64 = 16 * 1024 * 1024;
/// Compressed parts may expand to this many times the text limit (markup overhead).
const PART_FACTOR: u64 = 4;

/// The limits of one document and what it has used of them.
pub(crate) struct Budget {
    path: PathBuf,
    /// Largest text in bytes (`u64::MAX`: no limit).
    max_text: u64,
    /// The configured time limit, for messages.
    seconds: f64,
    deadline: Cell<Option<Instant>>,
    /// Text produced by finished parts (EPUB chapters), counted with each check.
    committed: Cell<u64>,
    /// Calls since the clock was last read.
    ticks: Cell<u32>,
}

impl Budget {
    /// The budget of one document, starting now.
    pub(crate) fn new(path: &Path, options: &LoadOptions) -> Budget {
        let max_text = match options.max_text_bytes {
            0 => u64::MAX,
            n => n,
        };
        let seconds = options.max_document_seconds;
        let deadline = if seconds > 0.0 {
            // Too large to represent: no deadline.
            Duration::try_from_secs_f64(seconds)
                .ok()
                .and_then(|d| Instant::now().checked_add(d))
        } else {
            None
        };
        Budget {
            path: path.to_path_buf(),
            max_text,
            seconds: options.max_document_seconds,
            deadline: Cell::new(deadline),
            committed: Cell::new(0),
            ticks: Cell::new(0),
        }
    }

    /// A budget without limits (unit tests of single loaders).
    #[cfg(test)]
    pub(crate) fn unlimited(path: &Path) -> Budget {
        let options = LoadOptions {
            max_text_bytes: 0,
            max_document_seconds: 0.0,
            ..LoadOptions::default()
        };
        Budget::new(path, &options)
    }

    /// The document's path, for errors.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Fails when `text_len` bytes of text (plus what finished parts produced) are over the
    /// text limit, or when the deadline has passed. Cheap enough to call for every line or
    /// event: the clock is read every 64th call.
    pub(crate) fn check(&self, text_len: usize) -> Result<()> {
        self.check_text(text_len)?;
        let ticks = self.ticks.get().wrapping_add(1);
        self.ticks.set(ticks);
        if ticks.is_multiple_of(64) {
            self.check_time()?;
        }
        Ok(())
    }

    /// Fails when the text is over the limit (see [`Budget::check`]), without the clock.
    pub(crate) fn check_text(&self, text_len: usize) -> Result<()> {
        let total = self.committed.get().saturating_add(text_len as u64);
        if total > self.max_text {
            return Err(self.too_large("the extracted text".to_string(), self.max_text));
        }
        Ok(())
    }

    /// Fails when a whole document's text of `total` bytes is over the limit (what finished
    /// parts committed is part of `total` already).
    pub(crate) fn check_document(&self, total: usize) -> Result<()> {
        if total as u64 > self.max_text {
            return Err(self.too_large("the extracted text".to_string(), self.max_text));
        }
        Ok(())
    }

    /// Fails when the deadline has passed.
    pub(crate) fn check_time(&self) -> Result<()> {
        match self.deadline.get() {
            Some(deadline) if Instant::now() > deadline => Err(Error::DocumentTimeout {
                path: self.path.clone(),
                seconds: self.seconds,
            }),
            _ => Ok(()),
        }
    }

    /// Records `len` bytes of text produced by a finished part.
    pub(crate) fn commit(&self, len: usize) {
        self.committed
            .set(self.committed.get().saturating_add(len as u64));
    }

    /// Runs `work` (OCR) without counting its time against the deadline.
    pub(crate) fn paused<T>(&self, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = work();
        if let Some(deadline) = self.deadline.get() {
            self.deadline
                .set(deadline.checked_add(started.elapsed()).or(Some(deadline)));
        }
        out
    }

    /// Largest decompressed size of one compressed part (ZIP entry, gzip stream): a few
    /// times the text limit, never less than 16 MiB.
    pub(crate) fn max_part_bytes(&self) -> u64 {
        self.max_text
            .saturating_mul(PART_FACTOR)
            .max(MIN_PART_BYTES)
    }

    /// A [`Error::DocumentTooLarge`] for this document.
    pub(crate) fn too_large(&self, what: String, limit: u64) -> Error {
        Error::DocumentTooLarge {
            path: self.path.clone(),
            what,
            limit,
            setting: TEXT_SETTING.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limit_counts_committed_parts() {
        let options = LoadOptions {
            max_text_bytes: 100,
            ..LoadOptions::default()
        };
        let budget = Budget::new(Path::new("book.epub"), &options);
        assert!(budget.check(100).is_ok());
        budget.commit(60);
        let err = budget.check(41).unwrap_err();
        assert_eq!(err.code(), "document_too_large");
        let message = err.to_string();
        assert!(message.contains("book.epub"), "{message}");
        assert!(message.contains("loading.max_text_bytes"), "{message}");
        assert!(message.contains("100 bytes"), "{message}");
    }

    #[test]
    fn zero_turns_limits_off() {
        let budget = Budget::unlimited(Path::new("x"));
        assert!(budget.check(usize::MAX).is_ok());
        assert!(budget.check_time().is_ok());
        assert_eq!(budget.max_part_bytes(), u64::MAX);
    }
}
