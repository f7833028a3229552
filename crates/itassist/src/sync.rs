//! Sync: make the index match folders.
//!
//! A sync is a plan computed from the folders and the index (add, replace, move, remove,
//! unchanged), then applied: moves re-point documents (nothing is re-embedded), removals
//! delete the documents whose files are gone, and the files to add or replace go through
//! the ingest pipeline. Only documents whose source lies under the given roots are ever
//! touched: documents from other folders and uploads are left alone.
//!
//! The same plan serves `--dry-run` (plan only), the watcher (a plan restricted to the paths
//! that changed, see [`SyncOptions::scope`]) and a full sync.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::index::Document;
use crate::pipeline::{
    discover, mtime_secs, read_regular_file, sha256_hex, Flow, Found, IngestEvent, IngestReport,
    Pipeline,
};

/// How a sync runs.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only compute and report the plan; change nothing.
    pub dry_run: bool,
    /// Try again files that failed before even when they did not change (by default a file
    /// whose recorded failure has the same size and mtime is skipped as a known failure).
    pub retry_failed: bool,
    /// Only look at these paths (files or folders inside the roots, existing or deleted);
    /// `None` looks at everything under the roots. The watcher passes the paths that changed.
    pub scope: Option<Vec<PathBuf>>,
}

/// What the sync does (or, in a dry run, would do) about one path.
#[derive(Debug, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SyncAction {
    /// A new file: ingested.
    Add,
    /// A file whose content changed: re-ingested, replacing its document.
    Replace {
        /// The document replaced.
        document_id: u64,
    },
    /// A file whose content is a document whose file is gone (moved or renamed): the
    /// document is re-pointed, nothing is re-embedded.
    Move {
        /// The document moved.
        document_id: u64,
        /// Its previous source.
        from: String,
    },
    /// A document whose file is gone: removed.
    Remove {
        /// The document removed.
        document_id: u64,
    },
    /// The same content is indexed from another file that still exists: not indexed twice.
    Duplicate {
        /// The document holding the content.
        document_id: u64,
        /// Its source.
        source: String,
    },
    /// The file failed before and did not change since (same size and mtime): not retried.
    KnownFailure {
        /// The recorded error code.
        code: String,
        /// The recorded message.
        message: String,
    },
    /// Not a supported format, or not a regular file: not read.
    Skipped {
        /// Why.
        reason: String,
    },
    /// The path could not be looked at.
    Failed {
        /// What went wrong.
        error: Error,
    },
}

impl SyncAction {
    /// A short word for the action: `add`, `replace`, `move`, `remove`, `duplicate`,
    /// `known_failure`, `skipped` or `failed`.
    pub fn label(&self) -> &'static str {
        match self {
            SyncAction::Add => "add",
            SyncAction::Replace { .. } => "replace",
            SyncAction::Move { .. } => "move",
            SyncAction::Remove { .. } => "remove",
            SyncAction::Duplicate { .. } => "duplicate",
            SyncAction::KnownFailure { .. } => "known_failure",
            SyncAction::Skipped { .. } => "skipped",
            SyncAction::Failed { .. } => "failed",
        }
    }
}

/// One planned change.
#[derive(Debug, Serialize)]
pub struct SyncChange {
    /// The file (for a removal: the document's source).
    pub path: PathBuf,
    /// What happens to it.
    #[serde(flatten)]
    pub action: SyncAction,
}

/// Counts of a sync. In a dry run they count what would happen.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SyncTotals {
    /// Files newly indexed.
    pub added: usize,
    /// Files re-indexed because their content changed.
    pub replaced: usize,
    /// Documents removed because their file is gone.
    pub removed: usize,
    /// Documents re-pointed to a moved or renamed file.
    pub moved: usize,
    /// Files already indexed as they are.
    pub unchanged: usize,
    /// Files that failed (now).
    pub failed: usize,
    /// Files skipped as known failures (failed before, unchanged since).
    pub known_failures: usize,
    /// Files whose content is already indexed from another file.
    pub duplicates: usize,
    /// Files skipped as unsupported.
    pub skipped: usize,
    /// Wall time.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The outcome of a sync.
#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
    /// The roots, as absolute paths.
    pub roots: Vec<PathBuf>,
    /// The plan: every path that is not unchanged, with its action.
    pub changes: Vec<SyncChange>,
    /// What the ingest of the added and replaced files did, file by file (empty in a dry run).
    pub ingest: IngestReport,
    /// Counts.
    pub totals: SyncTotals,
    /// Whether the progress callback stopped the sync (what was done stays done).
    pub cancelled: bool,
}

impl SyncReport {
    /// Whether anything changed (or, in a dry run, would change).
    pub fn has_changes(&self) -> bool {
        let t = &self.totals;
        t.added + t.replaced + t.removed + t.moved > 0
    }

    /// Whether no file failed.
    pub fn is_success(&self) -> bool {
        self.totals.failed == 0
    }
}

/// Progress of a sync.
#[derive(Debug)]
#[non_exhaustive]
pub enum SyncEvent<'a> {
    /// The plan is ready (in a dry run, this is all that happens).
    Planned {
        /// The changes planned (unchanged files are not listed).
        changes: &'a [SyncChange],
        /// Files unchanged.
        unchanged: usize,
    },
    /// A document was re-pointed to its moved file.
    Moved(&'a SyncChange),
    /// A document whose file is gone was removed.
    Removed(&'a SyncChange),
    /// Progress of the ingest of the added and replaced files.
    Ingest(&'a IngestEvent<'a>),
}

/// Whether `path` is `root` or inside it.
fn under(path: &Path, root: &Path) -> bool {
    path.starts_with(root)
}

fn under_any(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| under(path, r))
}

/// The absolute form of a path that may no longer exist: its deepest existing ancestor
/// canonicalized, then the rest of it.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let mut rest = Vec::new();
    let mut current = path;
    while let Some(parent) = current.parent() {
        if let Some(name) = current.file_name() {
            rest.push(name.to_os_string());
        }
        if let Ok(base) = parent.canonicalize() {
            let mut out = base;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        current = parent;
    }
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether a path below `root` has a hidden component (those are never walked).
pub(crate) fn hidden_below(path: &Path, root: &Path) -> bool {
    path.strip_prefix(root).is_ok_and(|rest| {
        rest.components().any(|c| match c {
            Component::Normal(name) => name.to_string_lossy().starts_with('.'),
            _ => false,
        })
    })
}

/// The roots as canonical paths; each must exist (a missing root is an error, never "every
/// document under it is gone").
pub(crate) fn canonical_roots<P: AsRef<Path>>(roots: &[P]) -> Result<Vec<PathBuf>> {
    if roots.is_empty() {
        return Err(Error::InvalidInput(
            "no folders to sync: name one or more folders or files".into(),
        ));
    }
    roots
        .iter()
        .map(|r| {
            let r = r.as_ref();
            r.canonicalize().map_err(|e| Error::io(r, e))
        })
        .collect()
}

/// A file that needs the pipeline.
struct ToIngest {
    path: PathBuf,
    explicit: bool,
}

/// The plan, before it is applied.
struct Plan {
    changes: Vec<SyncChange>,
    /// Indexes into `changes` of the moves, with the new source and mtime.
    moves: Vec<(usize, String, Option<u64>)>,
    /// Indexes into `changes` of the removals.
    removals: Vec<usize>,
    /// Unchanged content with a new mtime: (document id, mtime).
    touches: Vec<(u64, Option<u64>)>,
    ingest: Vec<ToIngest>,
    unchanged: usize,
}

/// Computes the plan.
fn plan(
    pipeline: &Pipeline,
    roots: &[PathBuf],
    scope: &[PathBuf],
    explicit_roots: bool,
    retry_failed: bool,
) -> Result<Plan> {
    let index = pipeline.index();
    let mut plan = Plan {
        changes: Vec::new(),
        moves: Vec::new(),
        removals: Vec::new(),
        touches: Vec::new(),
        ingest: Vec::new(),
        unchanged: 0,
    };
    // Documents under the scope whose file is gone: removed, unless a file below is the
    // same content (then it is a move).
    let gone: Vec<Document> = index
        .documents()?
        .into_iter()
        .filter(|d| {
            let source = Path::new(&d.source);
            source.is_absolute()
                && under_any(source, roots)
                && under_any(source, scope)
                && !source.exists()
        })
        .collect();
    let mut gone_by_hash: HashMap<&str, usize> = HashMap::new();
    for (i, d) in gone.iter().enumerate() {
        gone_by_hash.entry(d.sha256.as_str()).or_insert(i);
    }
    let mut claimed = vec![false; gone.len()];
    let existing: Vec<PathBuf> = scope.iter().filter(|p| p.exists()).cloned().collect();
    let max_bytes = pipeline.load_options().max_file_bytes;
    // A file reached twice (named, and inside a named folder) is looked at once.
    let mut seen = std::collections::HashSet::new();
    for found in discover(&existing) {
        let (path, explicit) = match found {
            Found::File { path, explicit } => (path, explicit && explicit_roots),
            Found::Special { path, kind } => {
                plan.changes.push(SyncChange {
                    path,
                    action: SyncAction::Skipped {
                        reason: format!("{kind}, not a regular file"),
                    },
                });
                continue;
            }
            Found::Bad { path, error } => {
                plan.changes.push(SyncChange {
                    path,
                    action: SyncAction::Failed { error },
                });
                continue;
            }
        };
        if !Pipeline::wanted(&path, explicit) {
            plan.changes.push(SyncChange {
                path,
                action: SyncAction::Skipped {
                    reason: "not a supported format".into(),
                },
            });
            continue;
        }
        let fail = |path: PathBuf, error: Error| SyncChange {
            path,
            action: SyncAction::Failed { error },
        };
        let source_path = match path.canonicalize() {
            Ok(p) => p,
            Err(e) => {
                plan.changes.push(fail(path.clone(), Error::io(&path, e)));
                continue;
            }
        };
        let meta = match std::fs::metadata(&source_path) {
            Ok(m) => m,
            Err(e) => {
                plan.changes.push(fail(path.clone(), Error::io(&path, e)));
                continue;
            }
        };
        let source = source_path.to_string_lossy().into_owned();
        if !seen.insert(source.clone()) {
            continue;
        }
        let modified = mtime_secs(&meta);
        let document = index.document_by_source(&source)?;
        if let Some(doc) = &document {
            if doc.size == meta.len() && doc.modified == modified {
                plan.unchanged += 1;
                continue;
            }
        }
        if !retry_failed {
            if let Some(failure) = index.failure(&source)? {
                if failure.same_file(meta.len(), modified) {
                    plan.changes.push(SyncChange {
                        path,
                        action: SyncAction::KnownFailure {
                            code: failure.code,
                            message: failure.message,
                        },
                    });
                    continue;
                }
            }
        }
        // The content decides between unchanged, replace, move, duplicate and add; a file
        // that cannot be read goes to the pipeline, which reports (and records) the failure.
        let sha256 = match read_regular_file(&source_path, &meta, max_bytes) {
            Ok(bytes) => sha256_hex(&bytes),
            Err(_) => {
                plan.ingest.push(ToIngest { path, explicit });
                continue;
            }
        };
        if let Some(doc) = document {
            if doc.sha256 == sha256 {
                plan.unchanged += 1;
                plan.touches.push((doc.id, modified));
            } else {
                plan.changes.push(SyncChange {
                    path: path.clone(),
                    action: SyncAction::Replace {
                        document_id: doc.id,
                    },
                });
                plan.ingest.push(ToIngest { path, explicit });
            }
            continue;
        }
        if let Some(&i) = gone_by_hash.get(sha256.as_str()) {
            if !claimed[i] {
                claimed[i] = true;
                plan.moves.push((plan.changes.len(), source, modified));
                plan.changes.push(SyncChange {
                    path,
                    action: SyncAction::Move {
                        document_id: gone[i].id,
                        from: gone[i].source.clone(),
                    },
                });
                continue;
            }
        }
        if let Some(doc) = index.document_by_hash(&sha256)? {
            plan.changes.push(SyncChange {
                path,
                action: SyncAction::Duplicate {
                    document_id: doc.id,
                    source: doc.source,
                },
            });
            continue;
        }
        plan.changes.push(SyncChange {
            path: path.clone(),
            action: SyncAction::Add,
        });
        plan.ingest.push(ToIngest { path, explicit });
    }
    for (i, doc) in gone.iter().enumerate() {
        if !claimed[i] {
            plan.removals.push(plan.changes.len());
            plan.changes.push(SyncChange {
                path: PathBuf::from(&doc.source),
                action: SyncAction::Remove {
                    document_id: doc.id,
                },
            });
        }
    }
    Ok(plan)
}

/// Counts the plan's actions into `totals`.
fn count_plan(plan: &Plan, totals: &mut SyncTotals) {
    totals.unchanged = plan.unchanged;
    for change in &plan.changes {
        match change.action {
            SyncAction::Add => totals.added += 1,
            SyncAction::Replace { .. } => totals.replaced += 1,
            SyncAction::Move { .. } => totals.moved += 1,
            SyncAction::Remove { .. } => totals.removed += 1,
            SyncAction::Duplicate { .. } => totals.duplicates += 1,
            SyncAction::KnownFailure { .. } => totals.known_failures += 1,
            SyncAction::Skipped { .. } => totals.skipped += 1,
            SyncAction::Failed { .. } => totals.failed += 1,
        }
    }
}

/// Makes the index match `roots` (see the module documentation).
pub(crate) fn sync<P: AsRef<Path>>(
    pipeline: &Pipeline,
    roots: &[P],
    options: &SyncOptions,
    progress: &dyn Fn(&SyncEvent) -> Flow,
) -> Result<SyncReport> {
    let started = Instant::now();
    let roots = canonical_roots(roots)?;
    let scope: Vec<PathBuf> = match &options.scope {
        None => roots.clone(),
        Some(paths) => paths
            .iter()
            .map(|p| absolute(p))
            .filter(|p| under_any(p, &roots))
            .collect(),
    };
    let plan = plan(
        pipeline,
        &roots,
        &scope,
        options.scope.is_none(),
        options.retry_failed,
    )?;
    let mut report = SyncReport {
        dry_run: options.dry_run,
        roots,
        ..SyncReport::default()
    };
    count_plan(&plan, &mut report.totals);
    let flow = progress(&SyncEvent::Planned {
        changes: &plan.changes,
        unchanged: plan.unchanged,
    });
    if options.dry_run || flow.is_break() {
        report.cancelled = flow.is_break();
        report.changes = plan.changes;
        report.totals.elapsed = started.elapsed();
        return Ok(report);
    }
    let index = pipeline.index();
    let Plan {
        changes,
        moves,
        removals,
        touches,
        ingest,
        ..
    } = plan;
    report.changes = changes;
    for (i, source, modified) in &moves {
        let change = &report.changes[*i];
        if let SyncAction::Move { document_id, .. } = change.action {
            let name = change
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| source.clone());
            index.move_document(document_id, source, &name, *modified)?;
            index.clear_failure(source)?;
            if progress(&SyncEvent::Moved(change)).is_break() {
                report.cancelled = true;
            }
        }
    }
    if !report.cancelled && !removals.is_empty() {
        let ids: Vec<u64> = removals
            .iter()
            .filter_map(|i| match report.changes[*i].action {
                SyncAction::Remove { document_id } => Some(document_id),
                _ => None,
            })
            .collect();
        index.remove_documents(&ids)?;
        for i in &removals {
            let change = &report.changes[*i];
            index.clear_failure(&change.path.to_string_lossy())?;
            if progress(&SyncEvent::Removed(change)).is_break() {
                report.cancelled = true;
            }
        }
    }
    // Failures of files that are gone are forgotten.
    for failure in index.failures()? {
        let source = Path::new(&failure.source);
        if under_any(source, &scope) && !source.exists() {
            index.clear_failure(&failure.source)?;
        }
    }
    for (id, modified) in touches {
        index.touch_document(id, modified)?;
    }
    if report.cancelled {
        // The files planned for the pipeline were not read.
        report.totals.added = 0;
        report.totals.replaced = 0;
    } else if !ingest.is_empty() {
        let found = ingest
            .into_iter()
            .map(|f| Found::File {
                path: f.path,
                explicit: f.explicit,
            })
            .collect();
        report.ingest =
            pipeline.ingest_found(found, &|event| progress(&SyncEvent::Ingest(event)))?;
        report.cancelled = report.ingest.cancelled;
        // The ingest's outcome is what happened to the files planned as added or replaced.
        let t = &mut report.totals;
        let it = &report.ingest.totals;
        let planned_failed = report
            .changes
            .iter()
            .filter(|c| matches!(c.action, SyncAction::Failed { .. }))
            .count();
        t.added = it.added;
        t.replaced = it.replaced;
        t.unchanged += it.unchanged;
        t.duplicates += it.duplicates;
        t.skipped += it.skipped;
        t.failed = planned_failed + it.failed;
    }
    report.totals.elapsed = started.elapsed();
    Ok(report)
}
