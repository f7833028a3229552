//! The core on real documents: ingest, search, dedup, replace, remove, model mismatch.

mod common;

use std::path::Path;
use std::sync::Arc;

use itassist::{Assistant, Embedder, Error, FileStatus};
use tokenizers::Tokenizer;

fn copy_into(dir: &Path, files: &[&str]) -> Vec<std::path::PathBuf> {
    files
        .iter()
        .map(|rel| {
            let src = common::corpus_file(rel);
            let dst = dir.join(src.file_name().unwrap());
            std::fs::copy(&src, &dst).unwrap();
            dst
        })
        .collect()
}

/// One real file per format of the shared corpus.
const ONE_PER_FORMAT: &[&str] = &[
    "debdocs/pdf/refcard-en-a4.pdf",
    "debdocs/html/apt-guide/ch2.html",
    "debdocs/markdown/nodejs-api/child_process.md",
    "debdocs/rst/debian-policy/ap-pkg-conffiles.rst",
    "debdocs/text/copyright-format-1.0.txt",
    "debdocs/man/openssh/ssh-keygen.1",
    "debdocs/odt/api-for-odfpy.odt",
    "debdocs/ods/countrystatistics.ods",
    "debdocs/epub/developers-reference.epub",
    "owasp-asvs/docx/OWASP_Application_Security_Verification_Standard_5.0.0_en.docx",
    "owasp-asvs/csv/OWASP_Application_Security_Verification_Standard_4.0.3-en.csv",
    "owasp-asvs/json/OWASP_Application_Security_Verification_Standard_4.0.3-en.json",
];

#[test]
fn every_format_is_ingested_and_searchable() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let paths: Vec<_> = ONE_PER_FORMAT
        .iter()
        .map(|f| common::corpus_file(f))
        .collect();
    let report = assistant.ingest(&paths).unwrap();
    for file in &report.files {
        assert!(
            matches!(file.status, FileStatus::Added { .. }),
            "{}: {:?}",
            file.path.display(),
            file.status.error().map(|e| e.to_string())
        );
        assert!(file.status.document().unwrap().chunk_count > 0);
    }
    assert_eq!(report.totals.added, ONE_PER_FORMAT.len());
    assert_eq!(assistant.documents().unwrap().len(), ONE_PER_FORMAT.len());

    let top = |query: &str| {
        let hits = assistant.search(query, 3).unwrap();
        assert!(!hits.is_empty(), "no hits for {query}");
        hits
    };
    assert_eq!(
        top("generate a new SSH authentication key pair with ssh-keygen")[0].name,
        "ssh-keygen.1"
    );
    assert_eq!(
        top("spawn a child process and read its stdout in Node.js")[0].name,
        "child_process.md"
    );
    let conffiles =
        top("how does dpkg handle configuration files modified by the administrator on upgrade?");
    assert!(
        conffiles.iter().any(|p| p.name == "ap-pkg-conffiles.rst"),
        "{:?}",
        conffiles.iter().map(|p| &p.name).collect::<Vec<_>>()
    );
    // "apt full-upgrade" is on page 2 of the reference card (pdftotext agrees).
    let refcard = top("apt full-upgrade: upgrade with advanced conflict resolution");
    assert!(
        refcard
            .iter()
            .any(|p| p.name == "refcard-en-a4.pdf" && p.page == Some(2)),
        "{refcard:#?}"
    );
    for p in top("machine-readable debian/copyright file format Files field") {
        assert!(p.score > 0.0 && p.score <= 1.0001);
    }
}

#[test]
fn pdf_passages_cite_the_right_page() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let fhs = common::corpus_file("debdocs/pdf/fhs-3.0.pdf");
    let report = assistant.ingest(&[&fhs]).unwrap();
    let doc = report.files[0]
        .status
        .document()
        .expect("fhs ingested")
        .clone();
    assert!(doc.page_count.unwrap() > 30);
    let hits = assistant
        .search("/var/mail user mailbox files location", 5)
        .unwrap();
    let best = &hits[0];
    assert!(best.page.is_some());
    // The page cited must contain the passage: check it against pdftotext's text of that page.
    let page = best.page.unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-f", &page.to_string(), "-l", &page.to_string(), "-layout"])
        .arg(&fhs)
        .arg("-")
        .output();
    if let Ok(out) = out {
        let page_text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        let words: Vec<&str> = best
            .text
            .split_whitespace()
            .filter(|w| w.len() > 5)
            .take(8)
            .collect();
        let present = words
            .iter()
            .filter(|w| page_text.contains(&w.to_lowercase()))
            .count();
        assert!(
            present * 2 >= words.len(),
            "page {page} does not hold the passage: {}",
            best.text
        );
    }
    assert!(best.text.to_lowercase().contains("mail"), "{}", best.text);
}

#[test]
fn unchanged_files_are_not_reprocessed_and_changed_files_are_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    copy_into(
        &docs,
        &["debdocs/man/openssh/scp.1", "debdocs/text/menu-policy.txt"],
    );
    let assistant = common::assistant(&tmp.path().join("index"));

    let first = assistant.ingest(&[&docs]).unwrap();
    assert_eq!(first.totals.added, 2);
    let stats = assistant.stats().unwrap();

    // Same tree again: nothing parsed, nothing embedded, nothing written.
    let again = assistant.ingest(&[&docs]).unwrap();
    assert_eq!(again.totals.unchanged, 2);
    assert_eq!(again.totals.chunks, 0);
    assert_eq!(again.totals.embedding_time, std::time::Duration::ZERO);
    assert_eq!(assistant.stats().unwrap(), stats);

    // Touching a file without changing it is still unchanged (content hash).
    let scp = docs.join("scp.1");
    let content = std::fs::read(&scp).unwrap();
    std::fs::write(&scp, &content).unwrap();
    let touched = assistant.ingest(&[&scp]).unwrap();
    assert!(matches!(
        touched.files[0].status,
        FileStatus::Unchanged { .. }
    ));

    // A changed file replaces its chunks.
    let old = assistant.find_document(scp.to_str().unwrap()).unwrap();
    std::fs::write(
        &scp,
        "The zebra-striped frobnicator controls quantum teleportation of files.\n",
    )
    .unwrap();
    let replaced = assistant.ingest(&[&scp]).unwrap();
    let FileStatus::Replaced {
        document,
        previous_id,
    } = &replaced.files[0].status
    else {
        panic!("expected a replacement, got {:?}", replaced.files[0].status);
    };
    assert_eq!(*previous_id, old.id);
    assert_eq!(document.chunk_count, 1);
    for id in old.chunk_ids() {
        assert!(
            assistant.index().chunk(id).unwrap().is_none(),
            "old chunk {id} left"
        );
        assert!(
            assistant.index().vector(id).unwrap().is_none(),
            "old vector {id} left"
        );
    }
    let hits = assistant
        .search("frobnicator quantum teleportation", 1)
        .unwrap();
    assert_eq!(hits[0].document_id, document.id);
    assert_eq!(assistant.documents().unwrap().len(), 2);
}

#[test]
fn duplicate_content_from_another_path_is_recognised() {
    let tmp = tempfile::tempdir().unwrap();
    let a = copy_into(tmp.path(), &["debdocs/man/openssh/sftp.1"]).remove(0);
    let b = tmp.path().join("copy-of-sftp.1");
    std::fs::copy(&a, &b).unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let report = assistant.ingest(&[&a, &b]).unwrap();
    assert_eq!(report.totals.added, 1);
    assert_eq!(report.totals.duplicates, 1);
}

#[test]
fn remove_deletes_document_chunks_and_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let files = copy_into(
        tmp.path(),
        &[
            "debdocs/man/openssh/ssh-agent.1",
            "debdocs/man/openssh/ssh-add.1",
        ],
    );
    let assistant = common::assistant(&tmp.path().join("index"));
    assistant.ingest(&files).unwrap();
    let agent = assistant.find_document("ssh-agent.1").unwrap();
    let removed = assistant.remove(&agent.id.to_string()).unwrap();
    assert_eq!(removed.id, agent.id);
    for id in agent.chunk_ids() {
        assert!(assistant.index().chunk(id).unwrap().is_none());
        assert!(assistant.index().vector(id).unwrap().is_none());
    }
    let hits = assistant
        .search("ssh-agent holds private keys", 10)
        .unwrap();
    assert!(hits.iter().all(|p| p.document_id != agent.id));
    assert_eq!(assistant.stats().unwrap().documents, 1);
    let err = assistant.remove(&agent.id.to_string()).unwrap_err();
    assert_eq!(err.code(), "document_not_found");
    // Re-ingesting the removed file adds it again.
    let again = assistant.ingest(&[&files[0]]).unwrap();
    assert_eq!(again.totals.added, 1);
}

/// The real embedder under another model name: an index must refuse to mix them.
struct Renamed(Arc<dyn Embedder>);

impl Embedder for Renamed {
    fn model_id(&self) -> &str {
        "BAAI/bge-small-en-v1.5"
    }
    fn dimensions(&self) -> usize {
        self.0.dimensions()
    }
    fn max_tokens(&self) -> usize {
        self.0.max_tokens()
    }
    fn tokenizer(&self) -> &Tokenizer {
        self.0.tokenizer()
    }
    fn embed(&self, texts: &[&str]) -> itassist::Result<Vec<Vec<f32>>> {
        self.0.embed(texts)
    }
}

#[test]
fn opening_with_another_embedding_model_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    {
        let assistant = common::assistant(&dir);
        assistant
            .ingest(&[common::corpus_file("debdocs/man/openssh/ssh-argv0.1")])
            .unwrap();
    }
    let err = Assistant::with_embedder(common::config(&dir), Arc::new(Renamed(common::embedder())))
        .unwrap_err();
    assert_eq!(err.code(), "embedding_model_mismatch");
    let msg = err.to_string();
    assert!(
        msg.contains("all-MiniLM-L6-v2") && msg.contains("bge-small"),
        "{msg}"
    );
    assert!(msg.contains("re-index"), "{msg}");
    // The index is untouched and still opens with its own model.
    let assistant = common::assistant(&dir);
    assert_eq!(assistant.documents().unwrap().len(), 1);
}

#[test]
fn tree_search_agrees_with_exact_search() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = common::config(&tmp.path().join("index"));
    config.retrieval.exact_search_below = 0; // always go through the arroy trees
    config.retrieval.mode = itassist::config::RetrievalMode::Dense;
    let assistant = Assistant::with_embedder(config, common::embedder()).unwrap();
    assistant
        .ingest(&[common::corpus_file("debdocs/text/maint-guide.en.txt")])
        .unwrap();
    assert!(assistant.stats().unwrap().trees_built);
    let recall = recall_at_10(&assistant, &MAINT_GUIDE_QUERIES[..5]);
    assert!(recall >= 0.98, "recall@10 of the tree search: {recall}");
}

/// Questions about the New Maintainers' Guide.
const MAINT_GUIDE_QUERIES: [&str; 8] = [
    "how to build a Debian package with debuild",
    "the debian/control file fields",
    "uploading a package to the archive with dput",
    "quilt patch system",
    "writing the changelog entry",
    "what the rules file of a package does",
    "installing the package with dpkg to test it",
    "lintian warnings about the package",
];

/// The share of the exact 10 nearest chunks of each query that the default search returns.
fn recall_at_10(assistant: &Assistant, queries: &[&str]) -> f64 {
    let (mut agree, mut total) = (0, 0);
    for q in queries {
        let (exact, searched) = exact_and_searched(assistant, q);
        agree += searched.iter().filter(|id| exact.contains(id)).count();
        total += exact.len();
    }
    agree as f64 / total as f64
}

/// The chunk ids of the exact 10 nearest chunks of `q`, and of the default dense search.
fn exact_and_searched(assistant: &Assistant, q: &str) -> (Vec<u32>, Vec<u32>) {
    let v = assistant.embed(&[q]).unwrap().remove(0);
    let exact = assistant
        .index()
        .exact_nearest_all(&v, 10)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let searched = assistant
        .search(q, 10)
        .unwrap()
        .iter()
        .map(|p| p.chunk_id)
        .collect();
    (exact, searched)
}

#[test]
fn vector_scan_finds_the_exact_neighbours_and_follows_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = common::config(&tmp.path().join("index"));
    config.retrieval.mode = itassist::config::RetrievalMode::Dense;
    // A shortlist far smaller than the collection, so the sign-bit stage really prunes.
    config.retrieval.scan_shortlist = 100;
    let assistant = Assistant::with_embedder(config, common::embedder()).unwrap();
    assistant
        .ingest(&[common::corpus_file("debdocs/text/maint-guide.en.txt")])
        .unwrap();
    let stats = assistant.stats().unwrap();
    assert!(stats.chunks > 400, "{} chunks", stats.chunks);
    assert!(
        stats.trees_built,
        "a scanned collection is always up to date"
    );
    let recall = recall_at_10(&assistant, &MAINT_GUIDE_QUERIES);
    assert!(recall >= 0.95, "recall@10 of the vector scan: {recall}");

    // A document ingested after the first search is found (the scan takes in appended
    // chunks) ...
    assistant
        .ingest(&[common::corpus_file("debdocs/text/fhs-3.0.txt")])
        .unwrap();
    let q = "the /var/spool directory holds data awaiting processing";
    let found = assistant.search(q, 5).unwrap();
    assert!(
        found.iter().any(|p| p.name == "fhs-3.0.txt"),
        "{:?}",
        found.iter().map(|p| &p.name).collect::<Vec<_>>()
    );
    let (exact, searched) = exact_and_searched(&assistant, q);
    assert_eq!(searched[..5], exact[..5]);
    // ... and one removed is not, though the scan held it.
    assistant.remove("fhs-3.0.txt").unwrap();
    let found = assistant.search(q, 10).unwrap();
    assert!(found.iter().all(|p| p.name == "maint-guide.en.txt"));
    let (exact, searched) = exact_and_searched(&assistant, q);
    assert_eq!(searched[..5], exact[..5]);
}

#[test]
fn bad_files_fail_alone_and_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    copy_into(
        &docs,
        &[
            "debdocs/man/openssh/ssh-keyscan.1",
            "debdocs/text/perl-policy.txt",
        ],
    );
    let pdf = std::fs::read(common::corpus_file("debdocs/pdf/refcard-en-a4.pdf")).unwrap();
    std::fs::write(docs.join("truncated.pdf"), &pdf[..1000]).unwrap();
    std::fs::write(docs.join("zero.pdf"), b"").unwrap();
    std::fs::write(docs.join("empty.txt"), b"").unwrap();
    let docx = std::fs::read(common::corpus_file(
        "owasp-asvs/docx/OWASP_Application_Security_Verification_Standard_5.0.0_en.docx",
    ))
    .unwrap();
    std::fs::write(docs.join("truncated.docx"), &docx[..docx.len() / 2]).unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let missing = tmp.path().join("does-not-exist.pdf");
    let report = assistant.ingest(&[docs.clone(), missing.clone()]).unwrap();
    assert_eq!(report.totals.added, 2, "{report:#?}");
    let code_of = |name: &str| -> &'static str {
        let file = report
            .files
            .iter()
            .find(|f| f.path.file_name().unwrap() == name)
            .unwrap_or_else(|| panic!("{name} not reported"));
        let err: &Error = file
            .status
            .error()
            .unwrap_or_else(|| panic!("{name} did not fail"));
        assert!(
            err.to_string().contains(name),
            "error does not name the file: {err}"
        );
        err.code()
    };
    assert_eq!(code_of("truncated.pdf"), "corrupt_document");
    assert_eq!(code_of("zero.pdf"), "empty_document");
    assert_eq!(code_of("empty.txt"), "empty_document");
    assert_eq!(code_of("truncated.docx"), "corrupt_document");
    assert_eq!(code_of("does-not-exist.pdf"), "path_not_found");
    assert_eq!(report.totals.failed, 5);
    // Nothing of the failed files reached the index.
    assert_eq!(assistant.documents().unwrap().len(), 2);
}

#[test]
fn an_explicitly_named_unsupported_file_fails_but_is_skipped_in_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("tool.exe"), [0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00]).unwrap();
    copy_into(&docs, &["debdocs/man/openssh/ssh-copy-id.1"]);
    let assistant = common::assistant(&tmp.path().join("index"));
    let walked = assistant.ingest(&[&docs]).unwrap();
    assert_eq!(walked.totals.added, 1);
    assert_eq!(walked.totals.skipped, 1);
    assert!(walked.is_success());
    let named = assistant.ingest(&[docs.join("tool.exe")]).unwrap();
    assert_eq!(
        named.files[0].status.error().unwrap().code(),
        "unsupported_format"
    );
}

#[test]
fn uploaded_bytes_are_ingested_under_their_name_only() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let bytes = std::fs::read(common::corpus_file("debdocs/man/openssh/ssh_config.5")).unwrap();
    let report = assistant
        .ingest_bytes("../../etc/ssh_config.5", &bytes)
        .unwrap();
    let doc = report.status.document().expect("added").clone();
    assert_eq!(doc.name, "ssh_config.5");
    // The source key holds the content hash, so another upload of this name is another
    // document unless its bytes are the same.
    assert!(doc.source.starts_with("upload:"), "{}", doc.source);
    assert!(doc.source.ends_with("/ssh_config.5"), "{}", doc.source);
    assert!(!doc.source.contains(".."), "{}", doc.source);
    let again = assistant.ingest_bytes("ssh_config.5", &bytes).unwrap();
    assert!(matches!(again.status, FileStatus::Unchanged { .. }));
}
