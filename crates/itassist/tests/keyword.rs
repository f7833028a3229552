//! The keyword (BM25) index stays consistent with the documents, and hybrid search uses it.

mod common;

use itassist::config::{FusionMethod, RetrievalMode};
use itassist::keyword::Bm25;
use itassist::retrieve::{hybrid_retriever, Retriever};
use itassist::{Assistant, FileStatus};

fn assistant_with(dir: &std::path::Path, mode: RetrievalMode) -> Assistant {
    let mut config = common::config(dir);
    config.retrieval.mode = mode;
    Assistant::with_embedder(config, common::embedder()).unwrap()
}

#[test]
fn keyword_index_follows_ingest_replace_and_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("notes.txt");
    std::fs::write(
        &file,
        "The backup server is called zanzibar-7 and runs restic nightly.\n",
    )
    .unwrap();
    let assistant = assistant_with(&tmp.path().join("index"), RetrievalMode::Keyword);
    let index = assistant.index().clone();
    assistant.ingest(&[&file]).unwrap();
    let hits = index
        .keyword_nearest("zanzibar-7", 5, Bm25::default())
        .unwrap();
    assert_eq!(hits.len(), 1);
    let found = assistant.search("which host is zanzibar-7?", 3).unwrap();
    assert!(found[0].text.contains("zanzibar-7"));

    // Replace: the old words are gone from the keyword index, the new ones are there.
    std::fs::write(
        &file,
        "The backup server moved to kilimanjaro-2 with borg.\n",
    )
    .unwrap();
    let report = assistant.ingest(&[&file]).unwrap();
    assert!(matches!(
        report.files[0].status,
        FileStatus::Replaced { .. }
    ));
    assert!(index
        .keyword_nearest("zanzibar", 5, Bm25::default())
        .unwrap()
        .is_empty());
    assert_eq!(
        index
            .keyword_nearest("kilimanjaro", 5, Bm25::default())
            .unwrap()
            .len(),
        1
    );

    // Remove: nothing left.
    assistant.remove("notes.txt").unwrap();
    assert!(index
        .keyword_nearest("kilimanjaro", 5, Bm25::default())
        .unwrap()
        .is_empty());
    assert!(assistant.search("kilimanjaro", 5).unwrap().is_empty());
}

#[test]
fn hybrid_search_finds_exact_terms_that_dense_search_ranks_low() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    let files: Vec<_> = [
        "debdocs/man/openssh/ssh_config.5",
        "debdocs/man/openssh/ssh-keygen.1",
        "debdocs/man/openssh/sftp.1",
        "debdocs/man/openssh/ssh-agent.1",
    ]
    .iter()
    .map(|f| common::corpus_file(f))
    .collect();
    {
        let assistant = assistant_with(&dir, RetrievalMode::Hybrid);
        assistant.ingest(&files).unwrap();
    }
    // An option name: a keyword query by nature.
    let query = "StrictHostKeyChecking";
    let keyword = assistant_with(&dir, RetrievalMode::Keyword)
        .search(query, 3)
        .unwrap();
    assert!(
        keyword[0].text.contains("StrictHostKeyChecking"),
        "{:?}",
        keyword[0].text
    );
    let hybrid = assistant_with(&dir, RetrievalMode::Hybrid)
        .search(query, 3)
        .unwrap();
    assert!(
        hybrid
            .iter()
            .any(|p| p.text.contains("StrictHostKeyChecking")),
        "hybrid lost the exact match"
    );
    // A question in other words than the page: dense and hybrid both find the right page.
    let q = "an authentication agent program to hold private keys for public key authentication";
    let dense = assistant_with(&dir, RetrievalMode::Dense)
        .search(q, 3)
        .unwrap();
    assert!(dense.iter().any(|p| p.name == "ssh-agent.1"), "{dense:#?}");
    let hybrid = assistant_with(&dir, RetrievalMode::Hybrid)
        .search(q, 3)
        .unwrap();
    assert!(
        hybrid.iter().any(|p| p.name == "ssh-agent.1"),
        "{hybrid:#?}"
    );

    // Fusing the two rankings' scores instead of their ranks finds the same pages.
    let mut config = common::config(&dir);
    config.retrieval.mode = RetrievalMode::Hybrid;
    config.retrieval.fusion = FusionMethod::Scores;
    let scores = Assistant::with_embedder(config, common::embedder()).unwrap();
    let exact = scores.search("StrictHostKeyChecking", 3).unwrap();
    assert!(
        exact
            .iter()
            .any(|p| p.text.contains("StrictHostKeyChecking")),
        "{exact:#?}"
    );
    let reworded = scores.search(q, 3).unwrap();
    assert!(
        reworded.iter().any(|p| p.name == "ssh-agent.1"),
        "{reworded:#?}"
    );
    drop(scores);

    // From query text, BM25 runs beside the query's embedding: the passages are those of
    // fusing the same two rankings one after the other.
    let assistant = assistant_with(&dir, RetrievalMode::Hybrid);
    let retriever = hybrid_retriever(
        assistant.index(),
        assistant.embedder(),
        &assistant.config().retrieval,
    );
    for query in ["StrictHostKeyChecking", q] {
        let vector = assistant.embedder().embed_query(query).unwrap();
        let sequential = retriever.retrieve_with_vector(query, &vector, 5).unwrap();
        let concurrent = retriever.retrieve(query, 5).unwrap();
        let ids =
            |found: &[itassist::Passage]| found.iter().map(|p| p.chunk_id).collect::<Vec<_>>();
        assert_eq!(ids(&concurrent), ids(&sequential), "{query}");
        assert_eq!(concurrent.len(), 5);
    }
}

#[test]
fn reciprocal_rank_fusion_rewards_agreement() {
    let dense = [(1, 0.9), (2, 0.8), (3, 0.7)];
    let keyword = [(3, 12.0), (4, 9.0), (1, 5.0)];
    let fused = itassist::retrieve::fuse_rankings(&dense, &keyword, 60.0, 1.0);
    assert_eq!(fused[0].0, 1, "in both lists, ranked high");
    assert_eq!(fused[1].0, 3);
    assert_eq!(fused.len(), 4);
}

/// Pages in Thai, Arabic and Greek: words made only of combining marks fold to nothing and
/// must give no term (LMDB refuses an empty key), and the pages stay searchable.
#[test]
fn pages_in_scripts_with_combining_marks_ingest_and_are_searchable() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let pages: Vec<_> = ["iso_8859-11.7", "iso_8859-6.7", "iso_8859-7.7"]
        .iter()
        .map(|p| common::corpus_file(&format!("debdocs/man/linux-manpages/man7/{p}")))
        .collect();
    let report = assistant.ingest(&pages).unwrap();
    for file in &report.files {
        assert!(
            file.status.error().is_none(),
            "{}: {:?}",
            file.path.display(),
            file.status.error().map(|e| e.to_string())
        );
    }
    let hits = assistant.search("Thai character set", 3).unwrap();
    assert!(hits.iter().any(|p| p.name == "iso_8859-11.7"));
}

/// Spanish text found by the forms an administrator types: without accents, a verb for a
/// noun, a plural for a singular, and `estado` (a stopword in NLTK's list, "state" here).
#[test]
fn spanish_passages_match_other_forms_of_their_words() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notas");
    std::fs::create_dir_all(&notes).unwrap();
    let write = |name: &str, text: &str| std::fs::write(notes.join(name), text).unwrap();
    write(
        "red.txt",
        "La configuración de las interfaces de red se guarda en /etc/network/interfaces; \
         después de cambiarla, reinicie el servicio networking para aplicarla.\n",
    );
    write(
        "estado.txt",
        "La orden aptitude-create-state-bundle guarda el estado actual de aptitude en un \
         fichero comprimido, para adjuntarlo a un informe de fallo.\n",
    );
    write(
        "contrasenas.txt",
        "Las contraseñas cifradas de los usuarios se guardan en /etc/shadow, que solo puede \
         leer el administrador.\n",
    );
    let assistant = assistant_with(&tmp.path().join("index"), RetrievalMode::Keyword);
    assistant.ingest(&[&notes]).unwrap();
    let cases = [
        ("configuracion de red", "red.txt"),
        ("configurar la red", "red.txt"),
        ("CONFIGURACIONES interfaz", "red.txt"),
        ("contrasena cifrada de un usuario", "contrasenas.txt"),
        ("¿dónde se guarda la contraseña?", "contrasenas.txt"),
        ("guardar el estado de aptitude", "estado.txt"),
    ];
    for (query, expected) in cases {
        let found = assistant.search(query, 3).unwrap();
        assert!(
            found.first().is_some_and(|p| p.name == expected),
            "{query}: {:?}",
            found.iter().map(|p| &p.name).collect::<Vec<_>>()
        );
    }
}
