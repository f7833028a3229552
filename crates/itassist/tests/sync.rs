//! `Assistant::sync`: real files in a temp dir, real LMDB, real embeddings.

mod common;

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use common::{assistant, corpus_file};
use itassist::{Assistant, SyncAction, SyncEvent, SyncOptions, SyncReport};

/// Copies a corpus file to `to` as a writable file (the corpus is read-only).
fn put(relative: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(to, std::fs::read(corpus_file(relative)).unwrap()).unwrap();
}

fn sync(assistant: &Assistant, root: &Path) -> SyncReport {
    let report = assistant.sync(&[root], &SyncOptions::default()).unwrap();
    assert!(!report.dry_run && !report.cancelled);
    report
}

fn sources(assistant: &Assistant) -> Vec<String> {
    let mut s: Vec<String> = assistant
        .documents()
        .unwrap()
        .into_iter()
        .map(|d| d.source)
        .collect();
    s.sort();
    s
}

fn canon(p: &Path) -> String {
    p.canonicalize().unwrap().to_string_lossy().into_owned()
}

/// The summary as (added, replaced, removed, moved, unchanged, failed).
fn counts(r: &SyncReport) -> (usize, usize, usize, usize, usize, usize) {
    let t = &r.totals;
    (
        t.added,
        t.replaced,
        t.removed,
        t.moved,
        t.unchanged,
        t.failed,
    )
}

#[test]
fn sync_adds_replaces_moves_and_removes_only_under_its_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = assistant(&tmp.path().join("index"));
    let docs = tmp.path().join("docs");
    put("debdocs/man/openssh/scp.1", &docs.join("scp.1"));
    put("debdocs/man/openssh/ssh-add.1", &docs.join("ssh-add.1"));
    put(
        "debdocs/man/openssh/ssh-keyscan.1",
        &docs.join("tools/ssh-keyscan.1"),
    );
    std::fs::write(docs.join("notes.xyz"), "not a supported format").unwrap();

    // Another folder and an upload: a sync of `docs` never touches them.
    let other = tmp.path().join("other");
    put("debdocs/man/openssh/sftp.1", &other.join("sftp.1"));
    assert_eq!(assistant.ingest(&[&other]).unwrap().totals.added, 1);
    let upload = assistant
        .ingest_bytes(
            "policy.md",
            b"# Passwords\n\nRotate the root password every 90 days.\n",
        )
        .unwrap();
    let upload_id = upload.status.document().unwrap().id;

    let first = sync(&assistant, &docs);
    assert_eq!(counts(&first), (3, 0, 0, 0, 0, 0), "{first:#?}");
    assert_eq!(
        first.totals.skipped, 1,
        "the .xyz file is skipped as unsupported"
    );
    assert_eq!(assistant.documents().unwrap().len(), 5);

    // Nothing changed: nothing to do.
    let again = sync(&assistant, &docs);
    assert_eq!(counts(&again), (0, 0, 0, 0, 3, 0), "{again:#?}");
    assert!(!again.has_changes());

    // A changed file is replaced; a renamed one is moved (same document, not re-embedded);
    // a deleted one is removed; one outside the roots is left alone even though it is gone.
    let scp = docs.join("scp.1");
    let mut text = std::fs::read_to_string(&scp).unwrap();
    text.push_str("\n.SH ZEBRA\nThe zebra option copies striped files between hosts.\n");
    std::fs::write(&scp, text).unwrap();
    let keyscan = assistant
        .find_document(&canon(&docs.join("tools/ssh-keyscan.1")))
        .unwrap();
    std::fs::create_dir_all(docs.join("renamed")).unwrap();
    std::fs::rename(
        docs.join("tools/ssh-keyscan.1"),
        docs.join("renamed/keyscan.1"),
    )
    .unwrap();
    let ssh_add = canon(&docs.join("ssh-add.1"));
    std::fs::remove_file(docs.join("ssh-add.1")).unwrap();
    std::fs::remove_file(other.join("sftp.1")).unwrap();

    let events = RefCell::new(Vec::new());
    let report = assistant
        .sync_with_progress(&[&docs], &SyncOptions::default(), &|event| {
            events.borrow_mut().push(match event {
                SyncEvent::Planned { .. } => "planned".to_string(),
                SyncEvent::Moved(_) => "moved".into(),
                SyncEvent::Removed(_) => "removed".into(),
                SyncEvent::Ingest(itassist::IngestEvent::File(f)) => {
                    format!("file {}", f.status.label())
                }
                SyncEvent::Ingest(_) => "ingest".into(),
                _ => "other".into(),
            });
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(counts(&report), (0, 1, 1, 1, 0, 0), "{report:#?}");
    let events = events.into_inner();
    assert_eq!(events[0], "planned");
    for expected in ["moved", "removed", "file replaced"] {
        assert!(events.iter().any(|e| e == expected), "{events:?}");
    }

    let moved = assistant
        .find_document(&canon(&docs.join("renamed/keyscan.1")))
        .unwrap();
    assert_eq!(moved.id, keyscan.id, "the moved file keeps its document");
    assert_eq!(moved.first_chunk, keyscan.first_chunk, "and its chunks");
    assert_eq!(moved.name, "keyscan.1");
    assert!(!sources(&assistant).contains(&ssh_add));
    // The other root's document and the upload are still there.
    assert!(sources(&assistant).contains(&other.join("sftp.1").to_string_lossy().into_owned()));
    assert!(assistant.index().document(upload_id).unwrap().is_some());

    let hits = assistant.search("zebra option striped files", 3).unwrap();
    assert_eq!(
        hits[0].name, "scp.1",
        "the replaced text is searchable: {hits:#?}"
    );
    let hits = assistant.search("gather SSH public host keys", 3).unwrap();
    assert!(
        hits.iter().any(|h| h.source.ends_with("renamed/keyscan.1")),
        "passages of the moved document cite its new path: {hits:#?}"
    );
}

#[test]
fn dry_run_lists_the_changes_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = assistant(&tmp.path().join("index"));
    let docs = tmp.path().join("docs");
    put("debdocs/man/openssh/scp.1", &docs.join("scp.1"));
    put("debdocs/man/openssh/ssh-add.1", &docs.join("ssh-add.1"));
    sync(&assistant, &docs);
    let before = sources(&assistant);

    put("debdocs/man/openssh/ssh-agent.1", &docs.join("ssh-agent.1"));
    std::fs::rename(docs.join("scp.1"), docs.join("copy.1")).unwrap();
    std::fs::remove_file(docs.join("ssh-add.1")).unwrap();
    let options = SyncOptions {
        dry_run: true,
        ..SyncOptions::default()
    };
    let plan = assistant.sync(&[&docs], &options).unwrap();
    assert!(plan.dry_run);
    assert_eq!(counts(&plan), (1, 0, 1, 1, 0, 0), "{plan:#?}");
    let mut listed: Vec<(String, String)> = plan
        .changes
        .iter()
        .map(|c| {
            let name = c.path.file_name().unwrap().to_string_lossy().into_owned();
            (c.action.label().to_string(), name)
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("add".to_string(), "ssh-agent.1".to_string()),
            ("move".into(), "copy.1".into()),
            ("remove".into(), "ssh-add.1".into())
        ]
    );
    assert_eq!(sources(&assistant), before, "a dry run changes nothing");

    // A root that does not exist is an error, never "everything under it is gone".
    let err = assistant
        .sync(&[tmp.path().join("unmounted")], &SyncOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), "path_not_found");
    assert_eq!(sources(&assistant), before);
}

#[test]
fn a_failed_file_is_recorded_not_retried_until_it_changes_and_then_cleared() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = assistant(&tmp.path().join("index"));
    let docs = tmp.path().join("docs");
    put("debdocs/man/openssh/scp.1", &docs.join("scp.1"));
    let pdf = std::fs::read(corpus_file("debdocs/pdf/refcard-en-a4.pdf")).unwrap();
    let broken: PathBuf = docs.join("refcard.pdf");
    std::fs::write(&broken, &pdf[..3000]).unwrap();

    let first = sync(&assistant, &docs);
    assert_eq!(
        (first.totals.added, first.totals.failed),
        (1, 1),
        "{first:#?}"
    );
    let failures = assistant.failures().unwrap();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert_eq!(failures[0].source, canon(&broken));
    assert_eq!(failures[0].code, "corrupt_document");
    assert!(failures[0].message.contains("refcard.pdf"), "{failures:#?}");
    assert_eq!(failures[0].size, Some(3000));

    // Unchanged since it failed: skipped as a known failure, not read again.
    let again = sync(&assistant, &docs);
    assert_eq!(
        (again.totals.failed, again.totals.known_failures),
        (0, 1),
        "{again:#?}"
    );
    assert!(again.changes.iter().any(
        |c| matches!(&c.action, SyncAction::KnownFailure { code, .. } if code == "corrupt_document")
    ));
    // Asked to, it tries again (and fails again).
    let retried = assistant
        .sync(
            &[&docs],
            &SyncOptions {
                retry_failed: true,
                ..SyncOptions::default()
            },
        )
        .unwrap();
    assert_eq!(retried.totals.failed, 1, "{retried:#?}");

    // Fixed: ingested, and its failure is forgotten.
    std::fs::write(&broken, &pdf).unwrap();
    let fixed = sync(&assistant, &docs);
    assert_eq!(
        (fixed.totals.added, fixed.totals.failed),
        (1, 0),
        "{fixed:#?}"
    );
    assert!(assistant.failures().unwrap().is_empty());

    // A failure whose file is deleted is forgotten too.
    let bad = docs.join("empty.md");
    std::fs::write(&bad, "").unwrap();
    assert_eq!(sync(&assistant, &docs).totals.failed, 1);
    assert_eq!(assistant.failures().unwrap()[0].code, "empty_document");
    std::fs::remove_file(&bad).unwrap();
    sync(&assistant, &docs);
    assert!(assistant.failures().unwrap().is_empty());
}
