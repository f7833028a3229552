//! The `itassist` command, run as a user runs it, on real documents.

mod common;

use common::{corpus, model_dir, run, text};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn itassist(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_itassist"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("--model-dir")
        .arg(model_dir())
        .stdin(Stdio::null());
    cmd
}

fn copy_all(from: &Path, to: &Path, limit: usize) -> usize {
    std::fs::create_dir_all(to).unwrap();
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    entries.truncate(limit);
    for p in &entries {
        std::fs::copy(p, to.join(p.file_name().unwrap())).unwrap();
    }
    entries.len()
}

#[test]
fn ingest_search_docs_rm_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("index");
    let docs = tmp.path().join("docs");
    copy_all(&corpus("debdocs/man/openssh"), &docs, 100);
    let pdf = std::fs::read(corpus("debdocs/pdf/refcard-en-a4.pdf")).unwrap();
    std::fs::write(docs.join("broken.pdf"), &pdf[..2000]).unwrap();

    let out = run(itassist(&data).arg("ingest").arg(&docs));
    let stderr = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed file makes the exit non-zero\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("13 added"), "{stdout}");
    assert!(stdout.contains("1 failed"), "{stdout}");
    assert!(
        stderr.contains("[corrupt_document]") && stderr.contains("broken.pdf"),
        "the failure list names the file and the problem:\n{stderr}"
    );

    let out = run(itassist(&data).args([
        "search",
        "OpenSSH secure file copy between hosts",
        "-k",
        "3",
        "--json",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0]["name"], "scp.1", "{hits:#?}");
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(
        scores[0] > 0.0 && scores.windows(2).all(|w| w[0] >= w[1]),
        "{scores:?}"
    );

    let out = run(itassist(&data).args(["search", "ssh-agent", "-k", "2"]));
    assert!(
        text(&out.stdout).starts_with("1. ["),
        "{}",
        text(&out.stdout)
    );

    let out = run(itassist(&data).args(["docs", "--json"]));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 13);

    let out = run(itassist(&data).args(["rm", "scp.1"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("removed document"));
    let out = run(itassist(&data).args(["rm", "scp.1"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("[document_not_found]"),
        "{}",
        text(&out.stderr)
    );

    let out = run(itassist(&data).args(["stats", "--json"]));
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["documents"], 12);
    assert_eq!(stats["dimensions"], 384);

    // Unchanged tree: nothing to do, and only the broken file fails again.
    let out = run(itassist(&data).arg("ingest").arg(&docs));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1 added") && stdout.contains("12 unchanged"),
        "{stdout}"
    );
}

#[test]
fn every_bad_input_is_named_and_loses_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("index");
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::copy(
        corpus("debdocs/man/openssh/ssh-add.1"),
        docs.join("ssh-add.1"),
    )
    .unwrap();
    std::fs::write(docs.join("empty.md"), "").unwrap();
    std::fs::write(docs.join("zero.pdf"), "").unwrap();
    let docx = std::fs::read(corpus(
        "owasp-asvs/docx/OWASP_Application_Security_Verification_Standard_5.0.0_en.docx",
    ))
    .unwrap();
    std::fs::write(docs.join("cut.docx"), &docx[..5000]).unwrap();
    let unsupported = tmp.path().join("image.svg");
    std::fs::write(&unsupported, "<svg xmlns='http://www.w3.org/2000/svg'/>").unwrap();
    let locked = docs.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::os::unix::fs::symlink(&locked, locked.join("loop")).unwrap();
    let missing = tmp.path().join("nope.txt");

    let out = run(itassist(&data)
        .arg("ingest")
        .arg(&docs)
        .arg(&unsupported)
        .arg(&missing));
    let stderr = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 added"), "{stdout}");
    for (name, code) in [
        ("empty.md", "empty_document"),
        ("zero.pdf", "empty_document"),
        ("cut.docx", "corrupt_document"),
        ("image.svg", "unsupported_format"),
        ("nope.txt", "path_not_found"),
        ("loop", "invalid_input"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(name) && l.contains(&format!("[{code}]")))
            .unwrap_or_else(|| panic!("no [{code}] line naming {name}:\n{stderr}"));
        assert!(line.len() > name.len() + code.len() + 10, "{line}");
    }
    let out = run(itassist(&data).args(["docs", "--json"]));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[test]
fn missing_or_wrong_onnx_runtime_is_an_error_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a library").unwrap();
    for lib in [tmp.path().join("absent.so"), fake] {
        let out = run(itassist(&tmp.path().join("index"))
            .env("ORT_DYLIB_PATH", &lib)
            .arg("stats"));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("[runtime_unavailable]"), "{stderr}");
        assert!(stderr.contains("ORT_DYLIB_PATH"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn killing_an_ingest_midway_leaves_only_whole_documents_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("index");
    let docs = tmp.path().join("docs");
    let total = copy_all(&corpus("debdocs/man/linux-manpages/man7"), &docs, 60);
    assert!(total >= 40);

    let mut child = itassist(&data)
        .arg("ingest")
        .arg(&docs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Progress lines come every 10%: kill the process once a few files are in.
    let stderr = child.stderr.take().unwrap();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if line.starts_with('[') && !line.starts_with("[1/") && !line.starts_with("[2/") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Every committed document is whole: all its chunks and vectors are there.
    let config = itassist::Config::new(&data).with_model_dir(model_dir());
    let assistant = itassist::Assistant::open(config.clone()).unwrap();
    let documents = assistant.documents().unwrap();
    assert!(
        !documents.is_empty() && documents.len() < total,
        "killed too late: {}",
        documents.len()
    );
    let mut chunks = 0u64;
    for doc in &documents {
        assert!(doc.chunk_count > 0);
        for id in doc.chunk_ids() {
            assert!(
                assistant.index().chunk(id).unwrap().is_some(),
                "chunk {id} of {} missing",
                doc.name
            );
            assert!(
                assistant.index().vector(id).unwrap().is_some(),
                "vector {id} of {} missing",
                doc.name
            );
        }
        chunks += u64::from(doc.chunk_count);
    }
    assert_eq!(
        assistant.stats().unwrap().chunks,
        chunks,
        "orphan chunks after the kill"
    );
    let committed = documents.len();
    drop(assistant);

    // The next run picks up where the first stopped.
    let out = run(itassist(&data).arg("ingest").arg(&docs));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("{} added", total - committed))
            && stdout.contains(&format!("{committed} unchanged")),
        "{stdout}"
    );
    let assistant = itassist::Assistant::open(config).unwrap();
    assert_eq!(assistant.documents().unwrap().len(), total);
    assert!(assistant.stats().unwrap().trees_built);
}

/// `itassist docs --json | head -1`: a reader that goes away must end the command quietly,
/// never with a panic about a broken pipe.
#[test]
fn a_closed_pipe_ends_output_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    for i in 0..40 {
        std::fs::write(
            docs.join(format!("note-{i}.md")),
            format!("# Note {i}\n\nRestart the ssh service with systemctl restart ssh ({i})."),
        )
        .unwrap();
    }
    let ingested = run(itassist(&data).arg("ingest").arg(&docs));
    assert!(ingested.status.success(), "{}", text(&ingested.stderr));
    for args in [
        &["docs", "--json"][..],
        &["docs"][..],
        &["search", "ssh", "-k", "20"][..],
    ] {
        let mut child = itassist(&data)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the command writes: every write then fails with EPIPE.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        // Killed by SIGPIPE, as `cat` or `grep` would be; never the panic exit code 101.
        use std::os::unix::process::ExitStatusExt;
        assert!(
            output.status.signal() == Some(13) || output.status.success(),
            "{args:?}: {:?} {stderr}",
            output.status
        );
    }
}
