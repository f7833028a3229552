//! Watch: keep the index in sync with folders from filesystem notifications.
//!
//! The watch starts listening, then syncs the folders once (catching changes made while no
//! watcher ran), then applies changes as they come:
//!
//! - notifications go through `notify-debouncer-full` (which pairs renames and drops
//!   duplicates), then a path is looked at once no event touched it for
//!   [`WatchOptions::quiet`], so an editor's save through a temporary file and a rename is one
//!   change of the file;
//! - a path is applied only once its size and modification time stayed the same over
//!   [`WatchOptions::settle`], so a file still being written is ingested once, when complete;
//! - ready paths are applied in batches of at most [`WatchOptions::batch_size`] by a sync
//!   restricted to them ([`SyncOptions::scope`]): additions and replacements go through the
//!   ingest pipeline, deletions remove documents, renames re-point them. A folder that
//!   appears (or a rescan after lost events) is split into its files, batch by batch.
//!
//! [`watch`] blocks until the callback returns [`std::ops::ControlFlow::Break`] (it is called
//! with [`WatchEvent::Idle`] several times a second); a server runs it on a blocking thread
//! (`tokio::task::spawn_blocking`) and stops it through the callback.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use notify_debouncer_full::notify::event::{AccessKind, AccessMode, ModifyKind};
use notify_debouncer_full::notify::{self, EventKind, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult};

use crate::error::{Error, Result};
use crate::pipeline::{discover, Flow, Found, Pipeline};
use crate::sync::{
    absolute, canonical_roots, hidden_below, sync, SyncEvent, SyncOptions, SyncReport,
};

/// How a watch behaves.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// A path is looked at once no notification touched it for this long.
    pub quiet: Duration,
    /// Then it is applied once its size and mtime stayed the same for this long.
    pub settle: Duration,
    /// Most paths applied in one batch (a burst of copies is applied batch by batch).
    pub batch_size: usize,
    /// Retry files that failed before even when unchanged (see [`SyncOptions::retry_failed`]).
    pub retry_failed: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            quiet: Duration::from_millis(1000),
            settle: Duration::from_millis(500),
            batch_size: 200,
            retry_failed: false,
        }
    }
}

impl WatchOptions {
    /// The default options with another quiet period; the settle time follows it (half of
    /// it, at least 100 ms).
    pub fn with_quiet(quiet: Duration) -> Self {
        WatchOptions {
            quiet,
            settle: (quiet / 2).max(Duration::from_millis(100)),
            ..WatchOptions::default()
        }
    }
}

/// What a watch reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum WatchEvent<'a> {
    /// The initial sync is done; notifications are applied from now on.
    Synced(&'a SyncReport),
    /// Progress of the initial sync or of a batch.
    Progress(&'a SyncEvent<'a>),
    /// A batch of changed paths was applied.
    Batch {
        /// What the batch did.
        report: &'a SyncReport,
        /// Files in the batch (a folder in it is not counted).
        paths: usize,
        /// Paths still waiting (later batches, or not settled yet).
        pending: usize,
    },
    /// The notification backend reported a problem; the watch goes on (a full sync follows
    /// when events may have been lost).
    Warning(&'a str),
    /// Nothing to apply right now. Return `Break` to stop the watch.
    Idle,
}

/// A path waiting to be applied.
#[derive(Debug)]
struct Pending {
    /// Size and mtime when last looked at (`None`: gone).
    stat: Option<(u64, Option<SystemTime>)>,
    /// When to look again.
    due: Instant,
}

fn stat(path: &Path) -> Option<(u64, Option<SystemTime>)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

/// How often the loop wakes up when nothing happens.
const TICK: Duration = Duration::from_millis(100);

/// Watches `roots` and keeps the index in sync until `on_event` returns `Break`.
pub(crate) fn watch<P: AsRef<Path>>(
    pipeline: &Pipeline,
    roots: &[P],
    options: &WatchOptions,
    on_event: &dyn Fn(&WatchEvent) -> Flow,
) -> Result<()> {
    let roots = canonical_roots(roots)?;
    let (sender, receiver) = mpsc::channel::<DebounceEventResult>();
    // The debouncer's own delay is short: the quiet period is counted here, from each path's
    // last event (the debouncer counts from each event, even while more follow).
    let delay = options.quiet.min(Duration::from_millis(250));
    let mut debouncer = new_debouncer(delay, None, sender).map_err(watch_error)?;
    for root in &roots {
        debouncer
            .watch(root, RecursiveMode::Recursive)
            .map_err(watch_error)?;
    }
    let sync_options = |scope: Option<Vec<PathBuf>>| SyncOptions {
        dry_run: false,
        retry_failed: options.retry_failed,
        scope,
    };
    let progress = |event: &SyncEvent| on_event(&WatchEvent::Progress(event));
    let initial = sync(pipeline, &roots, &sync_options(None), &progress)?;
    if on_event(&WatchEvent::Synced(&initial)).is_break() || initial.cancelled {
        return Ok(());
    }
    let mut pending: BTreeMap<PathBuf, Pending> = BTreeMap::new();
    let mut rescan = false;
    loop {
        match receiver.recv_timeout(TICK) {
            Ok(Ok(events)) => {
                let now = Instant::now();
                for event in events {
                    if event.need_rescan() {
                        rescan = true;
                    }
                    if !changes_content(&event.kind) {
                        continue;
                    }
                    for path in &event.paths {
                        // An existing folder matters when it appears (created or moved in),
                        // not when its entries change (those come as their own events).
                        if path.is_dir() && !appears(&event.kind) {
                            continue;
                        }
                        let Some(root) = roots.iter().find(|r| path.starts_with(r)) else {
                            continue;
                        };
                        if hidden_below(path, root) {
                            continue;
                        }
                        pending.insert(
                            path.clone(),
                            Pending {
                                stat: stat(path),
                                due: now + options.quiet,
                            },
                        );
                    }
                }
            }
            Ok(Err(errors)) => {
                for error in errors {
                    let message = error.to_string();
                    if on_event(&WatchEvent::Warning(&message)).is_break() {
                        return Ok(());
                    }
                }
                rescan = true;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::InvalidInput(
                    "the filesystem watcher stopped unexpectedly".into(),
                ))
            }
        }
        let mut ready = take_ready(&mut pending, options.settle);
        if rescan {
            // Events may have been lost: everything under the roots is looked at again.
            rescan = false;
            pending.clear();
            ready = roots.clone();
        }
        let batches = batches(ready, options.batch_size);
        let mut left: usize = batches.iter().map(Vec::len).sum();
        for batch in batches {
            left -= batch.len();
            let scope: Vec<PathBuf> = batch.iter().map(|p| absolute(p)).collect();
            let report = sync(pipeline, &roots, &sync_options(Some(scope)), &progress)?;
            let flow = on_event(&WatchEvent::Batch {
                report: &report,
                paths: batch.iter().filter(|p| !p.is_dir()).count(),
                pending: pending.len() + left,
            });
            if flow.is_break() || report.cancelled {
                return Ok(());
            }
        }
        if on_event(&WatchEvent::Idle).is_break() {
            return Ok(());
        }
    }
}

/// Whether an event can change what a sync finds: reads (open, access, close after reading)
/// cannot, and the sync's own reads would otherwise wake the watch again.
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Whether an event makes a path appear (created, or renamed to it).
fn appears(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_))
    )
}

/// Splits ready paths into batches of at most `size` files. A folder counts as its files
/// (found as a sync would find them); the folder itself goes into the last batch, where its
/// sync removes the documents of files deleted under it.
fn batches(ready: Vec<PathBuf>, size: usize) -> Vec<Vec<PathBuf>> {
    let mut files = std::collections::BTreeSet::new();
    let mut folders = Vec::new();
    for path in ready {
        if path.is_dir() {
            for found in discover(std::slice::from_ref(&path)) {
                if let Found::File { path, .. } = found {
                    files.insert(path);
                }
            }
            folders.push(path);
        } else {
            files.insert(path);
        }
    }
    let files: Vec<PathBuf> = files.into_iter().collect();
    let mut out: Vec<Vec<PathBuf>> = files.chunks(size.max(1)).map(<[PathBuf]>::to_vec).collect();
    if !folders.is_empty() {
        match out.last_mut() {
            Some(last) => last.extend(folders),
            None => out.push(folders),
        }
    }
    out
}

/// Takes the paths whose size and mtime did not change since they were last looked at (or
/// that are gone), and looks again later at the others.
fn take_ready(pending: &mut BTreeMap<PathBuf, Pending>, settle: Duration) -> Vec<PathBuf> {
    let now = Instant::now();
    let mut ready = Vec::new();
    for (path, entry) in pending.iter_mut() {
        if now < entry.due {
            continue;
        }
        let current = stat(path);
        if current.is_none() || current == entry.stat {
            ready.push(path.clone());
        } else {
            entry.stat = current;
            entry.due = now + settle;
        }
    }
    for path in &ready {
        pending.remove(path);
    }
    ready
}

fn watch_error(e: notify::Error) -> Error {
    let paths = e
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let hint = match e.kind {
        notify::ErrorKind::MaxFilesWatch => {
            "; raise the limit of inotify watches (sysctl fs.inotify.max_user_watches)"
        }
        _ => "",
    };
    Error::InvalidInput(format!("cannot watch {paths}: {e}{hint}"))
}
