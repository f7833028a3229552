//! Citations inferred for answers that cite nothing: each sentence is matched to the source
//! it restates, by the real embedding model, and unrelated sentences stay uncited.

mod common;

use itassist::attribution::{cited_sources, infer_citations, MIN_SIMILARITY};

#[test]
fn a_sentence_restating_a_source_is_attributed_to_it_and_chatter_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let files = [
        common::corpus_file("debdocs/man/openssh/ssh-keygen.1"),
        common::corpus_file("debdocs/text/copyright-format-1.0.txt"),
    ];
    assistant.ingest(&files).unwrap();
    let mut sources = assistant
        .search("ssh-keygen generate a key pair", 2)
        .unwrap();
    sources.extend(
        assistant
            .search("machine-readable debian/copyright file format", 1)
            .unwrap(),
    );
    assert_eq!(sources.len(), 3);
    assert!(sources[2].source.ends_with("copyright-format-1.0.txt"));

    // An answer restating the copyright-format passage (source 3), then chatter.
    let restated: String = sources[2].text.chars().take(300).collect();
    let answer = format!("{restated}. The weather in Madrid is usually sunny in July.");
    let embedder = assistant.embedder().clone();
    let found = infer_citations(embedder.as_ref(), &answer, &sources, MIN_SIMILARITY).unwrap();

    assert!(!found.is_empty(), "the restated passage was not attributed");
    assert_eq!(cited_sources(&found), [3], "{found:?}");
    for citation in &found {
        let sentence = &answer[citation.sentence.clone()];
        assert!(
            !sentence.contains("Madrid"),
            "chatter attributed: {citation:?}"
        );
        assert!(citation.similarity >= MIN_SIMILARITY);
    }
}

#[test]
fn no_sources_or_no_sentences_give_no_citations() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let embedder = assistant.embedder().clone();
    assert!(
        infer_citations(embedder.as_ref(), "Some answer text here.", &[], 0.5)
            .unwrap()
            .is_empty()
    );
    assistant
        .ingest(&[common::corpus_file("debdocs/man/openssh/ssh-keygen.1")])
        .unwrap();
    let sources = assistant.search("ssh-keygen", 1).unwrap();
    assert!(infer_citations(embedder.as_ref(), "Yes.", &sources, 0.5)
        .unwrap()
        .is_empty());
}
