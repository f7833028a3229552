//! What an attack on the ingest pipeline found (issue 12), each case reproduced with real
//! files, a real index on disk and the real embedding model.

mod common;

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;
use std::path::Path;

use itassist::{AskOptions, FileStatus, IngestEvent};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const SSH_TEXT: &str = "To copy your public key to a remote server, run ssh-copy-id user@host. \
It appends the key to ~/.ssh/authorized_keys on the server, so later logins need no password.";

#[cfg(unix)]
#[test]
fn special_files_are_refused_by_name_and_skipped_in_walks() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    write(&docs, "ssh.md", SSH_TEXT);
    // A FIFO with no writer: opening it for reading would block forever.
    let fifo = docs.join("pipe.txt");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils) must be installed");
    assert!(status.success());
    // A link to an endless device.
    let zero = docs.join("zero.txt");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();

    let assistant = common::assistant(&tmp.path().join("index"));

    // Named explicitly: a per-file error naming what it is, and the run goes on.
    let report = assistant
        .ingest(&[fifo.clone(), zero.clone(), docs.join("ssh.md")])
        .unwrap();
    let status_of = |path: &Path| {
        report
            .files
            .iter()
            .find(|f| f.path == path)
            .map(|f| &f.status)
            .unwrap()
    };
    for (path, kind) in [(&fifo, "FIFO"), (&zero, "character device")] {
        let error = status_of(path).error().expect("a special file must fail");
        assert_eq!(error.code(), "not_a_regular_file");
        assert!(error.to_string().contains(kind), "{error}");
    }
    assert_eq!(report.totals.added, 1);

    // Found by walking the folder: reported as skipped, with the reason.
    let walked = assistant.ingest(&[&docs]).unwrap();
    let skipped: Vec<_> = walked
        .files
        .iter()
        .filter_map(|f| match &f.status {
            FileStatus::Skipped { reason } => Some((f.path.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped
        .iter()
        .any(|(p, r)| p == &fifo && r.contains("FIFO")));
    assert!(skipped
        .iter()
        .any(|(p, r)| p == &zero && r.contains("character device")));
    assert_eq!(walked.totals.failed, 0);
}

#[test]
fn files_over_the_size_limit_fail_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let big = write(tmp.path(), "big.txt", &"word ".repeat(10_000));
    let small = write(tmp.path(), "small.md", SSH_TEXT);
    let mut config = common::config(&tmp.path().join("index"));
    config.loading.max_file_bytes = 4096;
    let assistant = itassist::Assistant::with_embedder(config, common::embedder()).unwrap();
    let report = assistant.ingest(&[&big, &small]).unwrap();
    let error = report.files[0].status.error().expect("over the limit");
    assert_eq!(error.code(), "document_too_large");
    assert!(
        error.to_string().contains("loading.max_file_bytes"),
        "{error}"
    );
    assert_eq!(report.totals.added, 1);
    // Uploads obey the same limit.
    let upload = assistant
        .ingest_bytes("big.txt", "word ".repeat(10_000).as_bytes())
        .unwrap();
    assert_eq!(
        upload.status.error().map(|e| e.code()),
        Some("document_too_large")
    );
}

#[test]
fn uploads_with_one_name_and_different_contents_are_two_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let first = assistant
        .ingest_bytes("dirA/notes.txt", SSH_TEXT.as_bytes())
        .unwrap();
    let second = assistant
        .ingest_bytes(
            "dirB/notes.txt",
            b"Pin a package version with an apt preferences file in /etc/apt/preferences.d.",
        )
        .unwrap();
    let (FileStatus::Added { document: a }, FileStatus::Added { document: b }) =
        (&first.status, &second.status)
    else {
        panic!("both uploads must be added: {first:?} {second:?}");
    };
    assert_ne!(a.id, b.id);
    assert_eq!(a.name, "notes.txt");
    assert_eq!(assistant.documents().unwrap().len(), 2);

    // Names that clean to the same fallback do not replace each other either.
    for (name, text) in [
        ("..", "alpha beta gamma"),
        ("", "delta epsilon"),
        ("a/", "zeta eta"),
    ] {
        let report = assistant.ingest_bytes(name, text.as_bytes()).unwrap();
        assert_eq!(report.status.label(), "added", "{name:?}: {report:?}");
    }
    assert_eq!(assistant.documents().unwrap().len(), 5);

    // The same bytes again: unchanged, not a new document.
    let again = assistant
        .ingest_bytes("dirA/notes.txt", SSH_TEXT.as_bytes())
        .unwrap();
    assert_eq!(again.status.label(), "unchanged");

    // Replacing is explicit, by id.
    let replaced = assistant
        .replace_bytes(
            a.id,
            "notes.txt",
            b"Disable password login with PasswordAuthentication no in sshd_config.",
        )
        .unwrap();
    match &replaced.status {
        FileStatus::Replaced {
            previous_id,
            document,
        } => {
            assert_eq!(*previous_id, a.id);
            assert_eq!(document.name, "notes.txt");
        }
        other => panic!("expected a replacement, got {other:?}"),
    }
    assert_eq!(assistant.documents().unwrap().len(), 5);
    let missing = assistant
        .replace_bytes(9_999, "x.txt", b"text")
        .unwrap_err();
    assert_eq!(missing.code(), "document_not_found");
}

#[test]
fn upload_names_lose_bidi_controls_and_keep_their_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let report = assistant
        .ingest_bytes("invoice\u{202E}fdp.md", SSH_TEXT.as_bytes())
        .unwrap();
    let doc = report.status.document().expect("added");
    assert_eq!(doc.name, "invoicefdp.md");
    let long = format!("{}.md", "manual-".repeat(60));
    let report = assistant
        .ingest_bytes(
            &long,
            b"Restart the ssh service with systemctl restart ssh.",
        )
        .unwrap();
    let doc = report.status.document().expect("added");
    assert!(
        doc.name.ends_with(".md") && doc.name.len() <= 200,
        "{}",
        doc.name
    );
}

#[test]
fn a_plus_sign_is_not_a_document_id() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let report = assistant
        .ingest_bytes("ssh.md", SSH_TEXT.as_bytes())
        .unwrap();
    let id = report.status.document().unwrap().id;
    assert_eq!(id, 1);
    assert_eq!(assistant.find_document("1").unwrap().id, 1);
    assert_eq!(
        assistant.remove("+1").unwrap_err().code(),
        "document_not_found"
    );
    assert_eq!(assistant.documents().unwrap().len(), 1);
}

#[test]
fn temperatures_outside_the_servers_range_are_invalid_input() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for temperature in [-0.1, 2.5, f32::NAN] {
        let options = AskOptions {
            temperature: Some(temperature),
            ..AskOptions::default()
        };
        // Rejected before any model server is contacted (none runs here).
        let err = runtime
            .block_on(assistant.ask("how do I copy my key?", &options))
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{temperature}: {err}");
        assert!(err.to_string().contains("temperature"), "{err}");
    }
}

#[test]
fn progress_moves_inside_a_file_and_a_stop_keeps_what_was_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    // One long file (many chunks) and three more after it.
    let long: String = (0..400)
        .map(|i| format!("Section {i}. The sshd daemon reads option number {i} from its configuration file and applies it at start. "))
        .collect();
    write(&docs, "a-long.txt", &long);
    for name in ["b.md", "c.md", "d.md"] {
        write(&docs, name, &format!("{name}: {SSH_TEXT}"));
    }
    let mut config = common::config(&tmp.path().join("index"));
    config.embedding.batch_size = 8;
    let assistant = itassist::Assistant::with_embedder(config, common::embedder()).unwrap();

    let embedded: RefCell<Vec<(usize, usize)>> = RefCell::new(Vec::new());
    let discovered_bytes = Cell::new(0u64);
    let files_seen = Cell::new(0usize);
    let report = assistant
        .ingest_with_progress(&[&docs], &|event| {
            match event {
                IngestEvent::Discovered { bytes, .. } => discovered_bytes.set(*bytes),
                IngestEvent::Embedded {
                    chunks_done,
                    chunks_total,
                    ..
                } => embedded.borrow_mut().push((*chunks_done, *chunks_total)),
                IngestEvent::File(_) => {
                    files_seen.set(files_seen.get() + 1);
                    // Stop after the second file.
                    if files_seen.get() == 2 {
                        return ControlFlow::Break(());
                    }
                }
                _ => {}
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    let embedded = embedded.into_inner();
    let expected_bytes: u64 = std::fs::read_dir(&docs)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(discovered_bytes.get(), expected_bytes);
    // The long file reported its chunks batch by batch, in order, up to all of them.
    let long_steps: Vec<_> = embedded.iter().filter(|(_, total)| *total > 8).collect();
    assert!(long_steps.len() > 3, "{embedded:?}");
    assert!(long_steps.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(long_steps.last().unwrap().0, long_steps[0].1);

    assert!(report.cancelled);
    assert_eq!(report.files.len(), 2);
    assert_eq!(report.totals.added, 2);
    let stored = assistant.documents().unwrap();
    assert_eq!(stored.len(), 2, "exactly the committed documents stay");
    // The trees are consistent: a search over what was committed works.
    let hits = assistant
        .search("copy my public key to a server", 3)
        .unwrap();
    assert!(!hits.is_empty());
    assert!(assistant.stats().unwrap().trees_built);
    // A later run picks up the rest.
    let rest = assistant.ingest(&[&docs]).unwrap();
    assert_eq!((rest.totals.added, rest.totals.unchanged), (2, 2));
}
