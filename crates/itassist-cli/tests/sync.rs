//! `itassist sync`, `watch`, `reindex` and `docs --failed`, run as a user runs them: the real
//! binary on real files, a real index and the real embedding model.

mod common;

use common::{corpus, model_dir, run, text};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn itassist(data_dir: &Path) -> Command {
    itassist_with(data_dir, &model_dir())
}

fn itassist_with(data_dir: &Path, model_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_itassist"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("--model-dir")
        .arg(model_dir)
        .stdin(Stdio::null());
    cmd
}

fn put(relative: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(to, std::fs::read(corpus(relative)).unwrap()).unwrap();
}

fn doc_names(data: &Path) -> Vec<String> {
    let out = run(itassist(data).args(["docs", "--json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let docs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<String> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn sync_dry_run_failures_and_reindex_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("index");
    let docs = tmp.path().join("docs");
    put("debdocs/man/openssh/scp.1", &docs.join("scp.1"));
    put("debdocs/man/openssh/ssh-add.1", &docs.join("ssh-add.1"));
    let pdf = std::fs::read(corpus("debdocs/pdf/refcard-en-a4.pdf")).unwrap();
    std::fs::write(docs.join("broken.pdf"), &pdf[..2000]).unwrap();

    let out = run(itassist(&data).arg("sync").arg(&docs));
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed file makes the exit non-zero\n{stdout}"
    );
    assert!(
        stdout.contains("2 added, 0 replaced, 0 removed, 0 moved, 0 unchanged, 1 failed"),
        "{stdout}"
    );

    // The failure is listed with its code and message, and not retried while unchanged.
    let out = run(itassist(&data).args(["docs", "--failed"]));
    let listed = text(&out.stdout);
    assert!(out.status.success());
    assert!(
        listed.contains("broken.pdf  [corrupt_document]") && listed.contains("1 failed files"),
        "{listed}"
    );
    let out = run(itassist(&data).arg("sync").arg(&docs));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("0 added, 0 replaced, 0 removed, 0 moved, 2 unchanged, 0 failed (1 skipped as known failures"),
        "{stdout}"
    );

    // A dry run lists the changes and makes none.
    std::fs::rename(docs.join("scp.1"), docs.join("secure-copy.1")).unwrap();
    std::fs::remove_file(docs.join("ssh-add.1")).unwrap();
    put("debdocs/man/openssh/ssh-agent.1", &docs.join("ssh-agent.1"));
    let out = run(itassist(&data).arg("sync").arg(&docs).arg("--dry-run"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for line in [
        format!("add {}", docs.join("ssh-agent.1").display()),
        format!("move {} -> ", docs.join("scp.1").display()),
        "remove ".to_string(),
        "dry run, would be: 1 added, 0 replaced, 1 removed, 1 moved".to_string(),
    ] {
        assert!(stdout.contains(&line), "{line:?} in\n{stdout}");
    }
    assert_eq!(doc_names(&data), ["scp.1", "ssh-add.1"]);
    let out = run(itassist(&data).arg("sync").arg(&docs).arg("--json"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &report["totals"];
    assert_eq!(
        (&t["added"], &t["removed"], &t["moved"]),
        (&1.into(), &1.into(), &1.into()),
        "{report:#}"
    );
    assert_eq!(doc_names(&data), ["secure-copy.1", "ssh-agent.1"]);

    // Re-index with another model (a copy of the model directory under another name).
    let other_model = tmp.path().join("minilm-copy");
    std::fs::create_dir_all(&other_model).unwrap();
    for entry in std::fs::read_dir(model_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if name != "itassist-model.json" {
            std::os::unix::fs::symlink(&path, other_model.join(name)).unwrap();
        }
    }
    std::fs::write(
        other_model.join("itassist-model.json"),
        r#"{"name": "minilm-copy", "max_length": 96}"#,
    )
    .unwrap();
    let out = run(itassist_with(&data, &other_model).args(["search", "copy files"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("itassist reindex --model minilm-copy"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&docs).unwrap();
    let out = run(itassist_with(&data, &other_model).args(["reindex", "--model", "minilm-copy"]));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("re-indexed") && stdout.contains("-> minilm-copy"),
        "{stdout}"
    );
    let out = run(itassist_with(&data, &other_model).args([
        "search",
        "secure copy of files between hosts",
        "--json",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits[0]["name"], "secure-copy.1", "{hits:#}");
}

#[test]
fn watch_applies_changes_and_stops_cleanly_on_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("index");
    let docs = tmp.path().join("docs");
    put("debdocs/man/openssh/scp.1", &docs.join("scp.1"));
    let mut child = itassist(&data)
        .args(["watch", "--quiet-ms", "500"])
        .arg(&docs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    // The initial sync, then "watching ...".
    loop {
        let line = lines.next().expect("the watch ended early").unwrap();
        if line.starts_with("watching ") {
            break;
        }
    }
    put("debdocs/man/openssh/ssh-agent.1", &docs.join("ssh-agent.1"));
    std::fs::remove_file(docs.join("scp.1")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while doc_names(&data) != ["ssh-agent.1"] {
        assert!(
            Instant::now() < deadline,
            "the watch did not apply the changes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Ctrl-C.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(status.success(), "{status:?}\n{stdout}\n{rest:?}");
    assert!(rest.iter().any(|l| l == "stopped watching"), "{rest:?}");
    assert!(stdout.contains("synced: 1 added"), "{stdout}");
    assert!(stdout.contains("applied: "), "{stdout}");
}
