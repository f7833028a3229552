//! `Assistant::watch`: real file operations in a temp dir (slow writes, temp file + rename,
//! deletion, a burst of 1,000 files), real inotify, real LMDB, real embeddings. The tests wait
//! on the index state with a generous deadline; they never assert how long anything took.

mod common;

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{assistant, corpus_file};
use itassist::{Assistant, IngestEvent, SyncEvent, WatchEvent, WatchOptions};

/// What the watcher reported, in order.
#[derive(Debug, Default)]
struct Log {
    synced: bool,
    /// Per applied batch: the number of paths, and each file outcome (path, status).
    batches: Vec<(usize, Vec<(PathBuf, String)>)>,
    /// File outcomes seen in progress events (initial sync included).
    files: Vec<(PathBuf, String)>,
    moved: usize,
    removed: usize,
}

/// Runs the watch on `root` on another thread while `body` runs, then stops it.
fn watching(
    assistant: &Assistant,
    root: &Path,
    options: WatchOptions,
    body: impl FnOnce(&Mutex<Log>),
) -> Log {
    let log = Mutex::new(Log::default());
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            assistant.watch(&[root], &options, &|event| {
                let mut log = log.lock().unwrap();
                match event {
                    WatchEvent::Synced(_) => log.synced = true,
                    WatchEvent::Batch { report, paths, .. } => {
                        let outcomes = report
                            .ingest
                            .files
                            .iter()
                            .map(|f| (f.path.clone(), f.status.label().to_string()))
                            .collect();
                        log.batches.push((*paths, outcomes));
                    }
                    WatchEvent::Progress(SyncEvent::Ingest(IngestEvent::File(f))) => log
                        .files
                        .push((f.path.clone(), f.status.label().to_string())),
                    WatchEvent::Progress(SyncEvent::Moved(_)) => log.moved += 1,
                    WatchEvent::Progress(SyncEvent::Removed(_)) => log.removed += 1,
                    _ => {}
                }
                if stop.load(Ordering::Relaxed) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
        });
        wait_for("the initial sync", || log.lock().unwrap().synced);
        body(&log);
        stop.store(true, Ordering::Relaxed);
        watcher.join().unwrap().unwrap();
    });
    log.into_inner().unwrap()
}

/// Polls `done` until it holds; fails after a generous deadline.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn source(path: &Path) -> String {
    path.canonicalize()
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn has_document(assistant: &Assistant, path: &Path) -> bool {
    assistant
        .index()
        .document_by_source(&source(path))
        .unwrap()
        .is_some()
}

#[test]
fn watch_applies_slow_writes_editor_saves_renames_and_deletions() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = assistant(&tmp.path().join("index"));
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    // Made before the watch starts: the initial sync catches them.
    std::fs::write(
        docs.join("scp.1"),
        std::fs::read(corpus_file("debdocs/man/openssh/scp.1")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        docs.join("notes.md"),
        "# Notes\n\nThe backup server is called tortoise.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("old.md"),
        "# Old\n\nThe fax gateway was retired in 2019.\n",
    )
    .unwrap();
    let options = WatchOptions {
        quiet: Duration::from_millis(2000),
        settle: Duration::from_millis(500),
        ..WatchOptions::default()
    };
    let log = watching(&assistant, &docs, options, |_| {
        assert!(has_document(&assistant, &docs.join("notes.md")));

        // A file written slowly, in chunks: ingested once, complete.
        let slow = docs.join("slow.md");
        let mut file = std::fs::File::create(&slow).unwrap();
        for part in 0..6 {
            writeln!(
                file,
                "## Part {part}\n\nRunbook step {part}: restart the queue worker number {part}.\n"
            )
            .unwrap();
            file.flush().unwrap();
            std::thread::sleep(Duration::from_millis(150));
        }
        writeln!(
            file,
            "## Last\n\nThe final step pages the on-call engineer with a marmalade alert.\n"
        )
        .unwrap();
        drop(file);
        let full_size = std::fs::metadata(&slow).unwrap().len();
        wait_for("the slowly written file", || {
            assistant
                .index()
                .document_by_source(&source(&slow))
                .unwrap()
                .is_some_and(|d| d.size == full_size)
        });
        let hits = assistant.search("marmalade alert on-call", 1).unwrap();
        assert_eq!(hits[0].name, "slow.md", "{hits:#?}");

        // An editor's save: the new text goes to a temporary file renamed over the original.
        let notes = docs.join("notes.md");
        let before = assistant
            .index()
            .document_by_source(&source(&notes))
            .unwrap()
            .unwrap();
        let tmp_file = docs.join("notes.md.tmp~");
        std::fs::write(
            &tmp_file,
            "# Notes\n\nThe backup server is now called hedgehog.\n",
        )
        .unwrap();
        std::fs::rename(&tmp_file, &notes).unwrap();
        wait_for("the saved file", || {
            assistant
                .index()
                .document_by_source(&source(&notes))
                .unwrap()
                .is_some_and(|d| d.sha256 != before.sha256)
        });

        // A rename re-points the document; a deletion removes it.
        let scp = assistant
            .index()
            .document_by_source(&source(&docs.join("scp.1")))
            .unwrap()
            .unwrap();
        std::fs::rename(docs.join("scp.1"), docs.join("secure-copy.1")).unwrap();
        std::fs::remove_file(docs.join("old.md")).unwrap();
        wait_for("the rename and the deletion", || {
            !has_document(&assistant, &docs.join("old.md"))
                && has_document(&assistant, &docs.join("secure-copy.1"))
        });
        let moved = assistant
            .index()
            .document_by_source(&source(&docs.join("secure-copy.1")))
            .unwrap()
            .unwrap();
        assert_eq!(moved.id, scp.id, "renamed, not re-embedded");
        assert!(!has_document(&assistant, &docs.join("scp.1")));
    });
    // The slow file and the save were each one change; the temporary file never was one.
    assert_eq!(ingests_of_log(&log, "slow.md"), 1, "{log:#?}");
    assert_eq!(
        log.files
            .iter()
            .filter(|(p, s)| p.ends_with("notes.md") && s == "replaced")
            .count(),
        1,
        "{log:#?}"
    );
    assert!(
        !log.files.iter().any(|(p, _)| p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("notes.md.tmp"))),
        "{log:#?}"
    );
    assert_eq!((log.moved, log.removed), (1, 1), "{log:#?}");
    let sources: Vec<String> = assistant
        .documents()
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(sources.len(), 3, "{sources:?}");
}

fn ingests_of_log(log: &Log, name: &str) -> usize {
    log.files
        .iter()
        .filter(|(p, status)| p.file_name().is_some_and(|n| n == name) && status != "unchanged")
        .count()
}

#[test]
fn a_burst_of_1000_files_is_ingested_in_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = assistant(&tmp.path().join("index"));
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let options = WatchOptions {
        quiet: Duration::from_millis(500),
        settle: Duration::from_millis(300),
        batch_size: 200,
        ..WatchOptions::default()
    };
    let log = watching(&assistant, &docs, options, |_| {
        // Written elsewhere, then moved in at once (as a copy of a folder would land).
        let staging = tmp.path().join("staging");
        std::fs::create_dir_all(&staging).unwrap();
        for i in 0..1000 {
            std::fs::write(
                staging.join(format!("host-{i:04}.md")),
                format!(
                    "# Host {i}\n\nHost number {i} runs service s{i} on port {}; its owner is team t{}.\n",
                    10_000 + i,
                    i % 17
                ),
            )
            .unwrap();
        }
        for i in 0..1000 {
            let name = format!("host-{i:04}.md");
            std::fs::copy(staging.join(&name), docs.join(&name)).unwrap();
        }
        wait_for("1,000 documents", || {
            assistant.documents().unwrap().len() == 1000
        });
    });
    let applied: Vec<usize> = log
        .batches
        .iter()
        .filter(|(_, outcomes)| !outcomes.is_empty())
        .map(|(paths, _)| *paths)
        .collect();
    assert!(applied.len() >= 5, "ingested in batches: {applied:?}");
    assert!(applied.iter().all(|n| *n <= 200), "{applied:?}");
    let added = log.files.iter().filter(|(_, s)| s == "added").count();
    assert_eq!(added, 1000, "each file ingested once");
    let hits = assistant.search("host 777 runs service s777", 3).unwrap();
    assert!(hits.iter().any(|h| h.name == "host-0777.md"), "{hits:#?}");
}
