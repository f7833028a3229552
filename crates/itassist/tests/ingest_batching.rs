//! Chunks are embedded in batches of similar length (less padding), and vectors are appended
//! to the index: every chunk must still get its own vector, in its own place, and indexes
//! written before (inserted vectors, an older layout) must keep working.

mod common;

use std::path::Path;

use itassist::embed::batching::embed_by_length;
use itassist::embed::dot;

/// Texts of very different lengths, in an order that length sorting changes.
const TEXTS: [&str; 5] = [
    "apt-get install openssh-server",
    "The Debian package management system keeps track of installed packages, their versions and their dependencies, and it can upgrade the whole system in one step.",
    "ssh-keygen",
    "To copy a public key to a remote host, run ssh-copy-id user@host; the key is then appended to the remote ~/.ssh/authorized_keys file.",
    "man 5 sshd_config",
];

#[test]
fn embedding_by_length_returns_each_text_its_own_vector_in_order() {
    let embedder = common::fp32_embedder();
    let lengths: Vec<u32> = TEXTS
        .iter()
        .map(|t| t.split_whitespace().count() as u32)
        .collect();
    let mut progress = Vec::new();
    let vectors = embed_by_length(embedder.as_ref(), &TEXTS, &lengths, 2, |done| {
        progress.push(done)
    })
    .unwrap();
    assert_eq!(vectors.len(), TEXTS.len());
    assert_eq!(progress, vec![2, 4, 5], "progress after every batch");
    for (text, vector) in TEXTS.iter().zip(&vectors) {
        let alone = embedder.embed(&[text]).unwrap().remove(0);
        let similarity = dot(&alone, vector);
        assert!(similarity > 0.9999, "{text}: {similarity}");
    }
}

#[test]
fn lengths_must_match_the_texts() {
    let embedder = common::fp32_embedder();
    let error = embed_by_length(embedder.as_ref(), &TEXTS, &[1, 2], 2, |_| {}).unwrap_err();
    assert_eq!(error.kind(), itassist::ErrorKind::InvalidInput, "{error}");
}

/// Every stored chunk's vector is the vector of its own text.
fn assert_vectors_belong_to_their_chunks(assistant: &itassist::Assistant) {
    let embedder = common::fp32_embedder();
    let index = assistant.index();
    let mut checked = 0;
    for document in assistant.documents().unwrap() {
        let mut previous = None;
        for id in document.chunk_ids() {
            let chunk = index.chunk(id).unwrap().expect("the chunk is stored");
            if let Some(previous) = previous {
                assert_eq!(chunk.ordinal, previous + 1, "chunks stay in document order");
            }
            previous = Some(chunk.ordinal);
            let stored = index.vector(id).unwrap().expect("the chunk has a vector");
            let fresh = embedder.embed(&[chunk.text.as_str()]).unwrap().remove(0);
            let similarity = dot(&stored, &fresh);
            assert!(
                similarity > 0.9999,
                "chunk {id} of {} holds another text's vector ({similarity})",
                document.name
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} chunks checked");
}

#[test]
fn ingested_chunks_keep_their_own_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let assistant = common::fp32_assistant(dir.path());
    // A man page: sections of very different lengths, so batches are reordered.
    let file = common::corpus_file("debdocs/man/openssh/ssh-keygen.1");
    let report = assistant.ingest(&[&file]).unwrap();
    assert_eq!(report.totals.added, 1, "{report:?}");
    assert_vectors_belong_to_their_chunks(&assistant);
    let hits = assistant.search("generate a new key pair", 3).unwrap();
    assert!(!hits.is_empty());
}

#[test]
fn replaced_and_added_documents_after_a_reopen_keep_their_own_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    let first = docs.path().join("first.txt");
    let second = docs.path().join("second.txt");
    let text =
        std::fs::read_to_string(common::corpus_file("debdocs/man/openssh/ssh-keygen.1")).unwrap();
    std::fs::write(&first, &text).unwrap();
    {
        let assistant = common::fp32_assistant(dir.path());
        assistant.ingest(&[&first]).unwrap();
    }
    // Reopened: a new document after the existing vectors, and a replaced one (its old
    // vectors deleted, new ones written after every other).
    let assistant = common::fp32_assistant(dir.path());
    std::fs::write(&second, &text[..text.len() / 2]).unwrap();
    std::fs::write(&first, format!("{text}\nA changed ending.\n")).unwrap();
    let report = assistant.ingest(&[docs.path()]).unwrap();
    assert_eq!(
        report.totals.added + report.totals.replaced,
        2,
        "{report:?}"
    );
    assert_vectors_belong_to_their_chunks(&assistant);
}

#[test]
fn an_index_written_before_vectors_were_appended_still_takes_documents() {
    // The index of tests/data/legacy-index-v1 was written by an older itassist (vectors
    // inserted one by one): a copy of it takes new documents and finds them.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/legacy-index-v1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture.join("data.mdb"), dir.path().join("data.mdb")).unwrap();
    let assistant = common::fp32_assistant(dir.path());
    let before = assistant.documents().unwrap().len();
    let file = common::corpus_file("debdocs/man/openssh/ssh-keygen.1");
    let report = assistant.ingest(&[&file]).unwrap();
    assert_eq!(report.totals.added, 1, "{report:?}");
    assert_eq!(assistant.documents().unwrap().len(), before + 1);
    assert_vectors_belong_to_their_chunks(&assistant);
    let hits = assistant.search("ssh-keygen key pair", 5).unwrap();
    assert!(hits.iter().any(|h| h.name == "ssh-keygen.1"), "{hits:?}");
}
