//! The LMDB environments open in this process, one per directory.
//!
//! LMDB forbids opening one environment twice in a process: its locks are per process, so a
//! second `mdb_env_open` of the same file would share them unknowingly, and closing either
//! copy would release the other's locks (the LMDB manual: "do not have open an LMDB database
//! twice in the same process at the same time"). heed enforces this by refusing the second
//! open. Yet one process often holds several handles on one directory: two `Assistant`s (a
//! re-run notebook cell, a server and a command in one test), or a metadata read while the
//! index is open. So every [`Index`](super::Index) on a directory shares one environment:
//! this registry hands out the one already open while any handle keeps it alive, and opens it
//! otherwise. It holds weak references only: the environment closes with its last handle.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use super::Shared;
use crate::error::Result;

/// Open environments, by canonical directory.
static OPEN: Mutex<Vec<(PathBuf, Weak<Shared>)>> = Mutex::new(Vec::new());

/// The environment of `canonical` (a canonical path), opening it with `map_size` unless it is
/// already open in this process (then it keeps the map size it was opened with).
pub(super) fn shared(canonical: &Path, map_size: usize) -> Result<Arc<Shared>> {
    // The lock is held while opening, so two threads cannot open the same directory at once.
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    open.retain(|(_, weak)| weak.strong_count() > 0);
    if let Some(shared) = open
        .iter()
        .find(|(path, _)| path == canonical)
        .and_then(|(_, weak)| weak.upgrade())
    {
        return Ok(shared);
    }
    let shared = Arc::new(Shared::open(canonical, map_size)?);
    open.push((canonical.to_path_buf(), Arc::downgrade(&shared)));
    Ok(shared)
}
