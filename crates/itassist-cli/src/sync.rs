//! `itassist sync`, `itassist watch`, `itassist reindex` and `itassist docs --failed`.

use std::cell::Cell;
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use itassist::{
    Assistant, Config, Error, FileStatus, IngestEvent, ReindexEvent, SyncAction, SyncEvent,
    SyncOptions, SyncReport, WatchEvent, WatchOptions,
};

/// A progress bar on stderr when it is a terminal (and the output is not JSON).
fn progress_bar(json: bool) -> ProgressBar {
    let bar = ProgressBar::hidden();
    if std::io::stderr().is_terminal() && !json {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {prefix} (eta {eta}) {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::InvalidInput(format!("cannot encode the output as JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// The one-line summary of a sync.
fn summary(report: &SyncReport) -> String {
    let t = &report.totals;
    let mut line = format!(
        "{} added, {} replaced, {} removed, {} moved, {} unchanged, {} failed",
        t.added, t.replaced, t.removed, t.moved, t.unchanged, t.failed
    );
    let mut extra = Vec::new();
    if t.known_failures > 0 {
        extra.push(format!(
            "{} skipped as known failures (`itassist docs --failed`; --retry-failed tries them again)",
            t.known_failures
        ));
    }
    if t.duplicates > 0 {
        extra.push(format!("{} duplicates", t.duplicates));
    }
    if t.skipped > 0 {
        extra.push(format!("{} unsupported", t.skipped));
    }
    if !extra.is_empty() {
        line.push_str(&format!(" ({})", extra.join(", ")));
    }
    line.push_str(&format!(" in {:.1}s", t.elapsed.as_secs_f64()));
    if report.cancelled {
        line.push_str(", stopped before the end");
    }
    line
}

/// One line for a planned change (`None` for those not worth a line).
fn change_line(path: &std::path::Path, action: &SyncAction, dry_run: bool) -> Option<String> {
    let verb = |done: &'static str, planned: &'static str| if dry_run { planned } else { done };
    Some(match action {
        SyncAction::Add => format!("{} {}", verb("adding", "add"), path.display()),
        SyncAction::Replace { .. } => {
            format!("{} {}", verb("replacing", "replace"), path.display())
        }
        SyncAction::Move { from, .. } => {
            format!("{} {from} -> {}", verb("moved", "move"), path.display())
        }
        SyncAction::Remove { .. } => format!("{} {}", verb("removed", "remove"), path.display()),
        SyncAction::Failed { error } => format!("failed [{}] {}", error.code(), error),
        _ => return None,
    })
}

/// Prints the failures of a sync's ingest.
fn print_failures(report: &SyncReport) {
    let failures: Vec<_> = report.ingest.failures().collect();
    if !failures.is_empty() {
        eprintln!("\nfailed files:");
        for f in failures {
            if let Some(err) = f.status.error() {
                eprintln!("  [{}] {}", err.code(), err);
            }
        }
    }
}

/// The progress callback of a sync: a bar over the files to ingest on a terminal, one line
/// per change otherwise.
struct SyncProgress {
    bar: ProgressBar,
    /// Print one line per ingested file (no terminal, or watch mode).
    lines: bool,
    /// Print moves and removals (all but JSON output).
    changes: bool,
    dry_run: bool,
    done: Cell<u64>,
}

impl SyncProgress {
    fn on(&self, event: &SyncEvent) {
        match event {
            SyncEvent::Planned { changes, .. } if self.dry_run => {
                for c in changes.iter() {
                    if let Some(line) = change_line(&c.path, &c.action, true) {
                        println!("{line}");
                    }
                }
            }
            SyncEvent::Moved(c) | SyncEvent::Removed(c) if self.changes => {
                if let Some(line) = change_line(&c.path, &c.action, false) {
                    self.bar.suspend(|| println!("{line}"));
                }
            }
            SyncEvent::Ingest(IngestEvent::Discovered { files, .. }) => {
                self.bar.set_length(*files as u64);
                self.bar.set_position(0);
                self.done.set(0);
                self.bar.set_prefix("files");
            }
            SyncEvent::Ingest(IngestEvent::Embedded {
                path,
                chunks_done,
                chunks_total,
                ..
            }) => {
                let name = path.file_name().unwrap_or(path.as_os_str());
                self.bar.set_message(format!(
                    "{}: {chunks_done}/{chunks_total} chunks",
                    name.to_string_lossy()
                ));
            }
            SyncEvent::Ingest(IngestEvent::File(file)) => {
                self.done.set(self.done.get() + 1);
                self.bar.set_position(self.done.get());
                if self.lines {
                    let line = match &file.status {
                        FileStatus::Failed { error } => {
                            format!("failed {} [{}]", file.path.display(), error.code())
                        }
                        status => format!("{} {}", status.label(), file.path.display()),
                    };
                    self.bar.suspend(|| println!("{line}"));
                }
            }
            SyncEvent::Ingest(IngestEvent::BuildingIndex) => {
                self.bar.set_message("updating the vector index")
            }
            _ => {}
        }
    }
}

/// `itassist sync PATH... [--dry-run] [--retry-failed]`.
pub fn sync(
    assistant: &Assistant,
    paths: &[PathBuf],
    dry_run: bool,
    retry_failed: bool,
    json: bool,
) -> Result<ExitCode, Error> {
    let bar = progress_bar(json);
    let progress = SyncProgress {
        lines: !json && !std::io::stderr().is_terminal(),
        changes: !json,
        bar: bar.clone(),
        dry_run: dry_run && !json,
        done: Cell::new(0),
    };
    let stop = install_stop_handler();
    let options = SyncOptions {
        dry_run,
        retry_failed,
        scope: None,
    };
    let report = assistant.sync_with_progress(paths, &options, &|event| {
        progress.on(event);
        if stop.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    bar.finish_and_clear();
    if json {
        print_json(&report)?;
    } else {
        let prefix = if dry_run { "dry run, would be: " } else { "" };
        println!("{prefix}{}", summary(&report));
        print_failures(&report);
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Set by SIGINT/SIGTERM: the long commands stop cleanly at the next callback.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Makes Ctrl-C (and SIGTERM) set [`STOP`] instead of killing the process.
fn install_stop_handler() -> &'static AtomicBool {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    &STOP
}

fn now_hms() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// `itassist watch PATH...`: a sync, then changes as they happen, until Ctrl-C.
pub fn watch(
    assistant: &Assistant,
    paths: &[PathBuf],
    quiet_ms: Option<u64>,
    retry_failed: bool,
    json: bool,
) -> Result<ExitCode, Error> {
    let stop = install_stop_handler();
    let bar = ProgressBar::hidden();
    let progress = SyncProgress {
        lines: !json,
        changes: !json,
        bar,
        dry_run: false,
        done: Cell::new(0),
    };
    let mut options = match quiet_ms {
        Some(ms) => WatchOptions::with_quiet(Duration::from_millis(ms)),
        None => WatchOptions::default(),
    };
    options.retry_failed = retry_failed;
    let emit_json = |kind: &str, report: &SyncReport| {
        let line = serde_json::json!({ "event": kind, "at": now_hms(), "report": report });
        println!("{line}");
    };
    assistant.watch(paths, &options, &|event| {
        match event {
            WatchEvent::Progress(e) => progress.on(e),
            WatchEvent::Synced(report) => {
                if json {
                    emit_json("synced", report);
                } else {
                    println!("[{}] synced: {}", now_hms(), summary(report));
                    print_failures(report);
                    eprintln!(
                        "watching {} (Ctrl-C stops)",
                        paths
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            WatchEvent::Batch {
                report, pending, ..
            } => {
                if json {
                    emit_json("batch", report);
                } else if report.has_changes() || report.totals.failed > 0 {
                    let more = if *pending > 0 {
                        format!(" ({pending} more pending)")
                    } else {
                        String::new()
                    };
                    println!("[{}] applied: {}{more}", now_hms(), summary(report));
                    print_failures(report);
                }
            }
            WatchEvent::Warning(message) => eprintln!("warning: {message}"),
            _ => {}
        }
        if stop.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    if !json {
        eprintln!("stopped watching");
    }
    Ok(ExitCode::SUCCESS)
}

/// `itassist reindex [--model M]`: re-embeds the stored chunks with the configured model.
pub fn reindex(config: &Config, json: bool) -> Result<ExitCode, Error> {
    let stop = install_stop_handler();
    let bar = progress_bar(json);
    let quiet_log = !json && !std::io::stderr().is_terminal();
    let logged_tenth = Cell::new(0u64);
    let report = Assistant::reindex(config, &|event| {
        match event {
            ReindexEvent::Started { chunks, model } => {
                bar.set_length((*chunks).max(1));
                bar.set_prefix("chunks");
                bar.set_message(format!("embedding with {model}"));
                if quiet_log {
                    eprintln!("re-embedding {chunks} chunks with {model}");
                }
            }
            ReindexEvent::Embedded { done, total } => {
                bar.set_position(*done);
                let tenth = done.saturating_mul(10) / (*total).max(1);
                if quiet_log && tenth > logged_tenth.get() {
                    logged_tenth.set(tenth);
                    eprintln!("[{:>3}%] {done}/{total} chunks", tenth.min(10) * 10);
                }
            }
            ReindexEvent::BuildingIndex => bar.set_message("building the new vector index"),
            ReindexEvent::Swapping => bar.set_message("swapping in the new vectors"),
            _ => {}
        }
        if stop.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    bar.finish_and_clear();
    if json {
        print_json(&report)?;
    } else if report.cancelled {
        println!(
            "stopped: the index still uses {} ({} dimensions); nothing changed",
            report.previous_model, report.previous_dimensions
        );
    } else {
        println!(
            "re-indexed {} chunks: {} ({} dimensions) -> {} ({} dimensions) in {:.1}s",
            report.chunks,
            report.previous_model,
            report.previous_dimensions,
            report.model,
            report.dimensions,
            report.elapsed.as_secs_f64()
        );
    }
    Ok(if report.cancelled {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `itassist docs --failed`: the files whose last ingest, sync or watch failed.
pub fn failed(assistant: &Assistant, json: bool) -> Result<ExitCode, Error> {
    let failures = assistant.failures()?;
    if json {
        print_json(&failures)?;
        return Ok(ExitCode::SUCCESS);
    }
    for f in &failures {
        println!("{}  [{}]", f.source, f.code);
        println!("    {}", f.message);
    }
    println!("{} failed files", failures.len());
    Ok(ExitCode::SUCCESS)
}
