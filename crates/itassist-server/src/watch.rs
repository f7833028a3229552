//! `itassist serve --watch PATH...`: the server keeps folders in sync with the index while
//! it runs, with the core's [`itassist::Assistant::watch`] (a sync at start, then filesystem
//! notifications, debounced and applied in batches; see `docs/sync.md`).
//!
//! The watch runs on a blocking thread and logs each applied batch to stderr. It stops when
//! the server shuts down. After a re-index swapped the server's assistant, it starts again
//! with the new one (a sync first, which finds nothing to do when nothing changed).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use itassist::{SyncTotals, WatchEvent, WatchOptions};

use crate::SharedAssistant;

/// How long to wait before watching again after the watch failed.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// One line of counts, as `itassist watch` prints them.
pub fn summary(t: &SyncTotals) -> String {
    format!(
        "{} added, {} replaced, {} removed, {} moved, {} unchanged, {} failed in {:.1}s",
        t.added,
        t.replaced,
        t.removed,
        t.moved,
        t.unchanged,
        t.failed,
        t.elapsed.as_secs_f64()
    )
}

/// Keeps `paths` in sync with the index of the current assistant of `shared` until `stop`
/// is set (blocking: run it with `tokio::task::spawn_blocking`).
pub fn keep_in_sync(shared: &SharedAssistant, paths: &[PathBuf], stop: &AtomicBool) {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    while !stop.load(Ordering::SeqCst) {
        let assistant = shared.get();
        eprintln!("itassist: watch: syncing and watching {}", shown.join(", "));
        let swapped = AtomicBool::new(false);
        let on_event = |event: &WatchEvent| {
            match event {
                WatchEvent::Synced(report) => {
                    eprintln!("itassist: watch: synced: {}", summary(&report.totals));
                }
                WatchEvent::Batch {
                    report,
                    paths,
                    pending,
                } => {
                    for change in &report.changes {
                        eprintln!(
                            "itassist: watch: {} {}",
                            change.action.label(),
                            change.path.display()
                        );
                    }
                    eprintln!(
                        "itassist: watch: applied {paths} path(s): {} ({pending} pending)",
                        summary(&report.totals)
                    );
                }
                WatchEvent::Warning(message) => eprintln!("itassist: watch: warning: {message}"),
                _ => {}
            }
            if stop.load(Ordering::SeqCst) {
                return ControlFlow::Break(());
            }
            if !Arc::ptr_eq(&shared.get(), &assistant) {
                swapped.store(true, Ordering::SeqCst);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        };
        match assistant.watch(paths, &WatchOptions::default(), &on_event) {
            Ok(()) if swapped.load(Ordering::SeqCst) => {
                eprintln!("itassist: watch: the index was re-indexed; watching with the new model");
            }
            Ok(()) => {}
            Err(e) => {
                eprintln!(
                    "itassist: watch: failed: {}; trying again in {} s",
                    e.display_chain(),
                    RETRY_AFTER.as_secs()
                );
                let until = Instant::now() + RETRY_AFTER;
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
    eprintln!("itassist: watch: stopped");
}
