//! The keyword index per language: real English and Spanish documents in one index, queries
//! with and without accents, and an index written before languages were recognised.

mod common;

use std::path::Path;

use itassist::config::RetrievalMode;
use itassist::keyword::{
    Analyzer, Bm25, Language, ANALYZER_VERSION, FIRST_PER_LANGUAGE_ANALYZER_VERSION,
    LEGACY_ANALYZER_VERSION,
};
use itassist::{Assistant, Passage};

fn assistant_with(dir: &Path, mode: RetrievalMode) -> Assistant {
    let mut config = common::config(dir);
    config.retrieval.mode = mode;
    Assistant::with_embedder(config, common::embedder()).unwrap()
}

/// The source file names of the passages, best first.
fn names(passages: &[Passage]) -> Vec<String> {
    passages.iter().map(|p| p.source.clone()).collect()
}

/// The four real man pages: `hosts(5)` and `group(5)` in English and in Spanish.
fn pages() -> [(std::path::PathBuf, &'static str); 4] {
    [
        (
            common::corpus_file("debdocs/man/linux-manpages/man5/hosts.5"),
            "en-hosts",
        ),
        (
            common::corpus_file("debdocs/man/linux-manpages/man5/group.5"),
            "en-group",
        ),
        (
            common::corpus_file("spanish/manpages-es/man5/hosts.5.gz"),
            "es-hosts",
        ),
        (
            common::corpus_file("spanish/manpages-es/man5/group.5.gz"),
            "es-group",
        ),
    ]
}

/// Which of the four pages a passage comes from.
fn page_of(source: &str) -> &'static str {
    let spanish = source.contains("manpages-es");
    match (spanish, source.contains("hosts.5")) {
        (false, true) => "en-hosts",
        (false, false) => "en-group",
        (true, true) => "es-hosts",
        (true, false) => "es-group",
    }
}

#[test]
fn a_mixed_collection_answers_each_language_with_its_own_text() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    let keyword = assistant_with(&dir, RetrievalMode::Keyword);
    let files: Vec<_> = pages().into_iter().map(|(path, _)| path).collect();
    let report = keyword.ingest(&files).unwrap();
    assert_eq!(report.totals.added, 4, "{report:?}");
    let index = keyword.index().clone();
    assert_eq!(index.analyzer_version().unwrap(), ANALYZER_VERSION);

    // Every chunk is counted under its language, and both languages are there.
    let languages = index.keyword_languages().unwrap();
    let count = |l: Language| {
        languages
            .iter()
            .find(|(x, _)| *x == l)
            .map_or(0, |(_, n)| *n)
    };
    assert!(count(Language::English) > 0, "{languages:?}");
    assert!(count(Language::Spanish) > 0, "{languages:?}");
    let total: u64 = languages.iter().map(|(_, n)| n).sum();
    assert_eq!(total, report.totals.chunks);

    let cases = [
        ("static table lookup for hostnames", "en-hosts"),
        (
            "which fields describe a group: name, password, GID and member list",
            "en-group",
        ),
        (
            "tabla estática de búsqueda para nombres de host",
            "es-hosts",
        ),
        (
            "tabla estatica de busqueda para nombres de host",
            "es-hosts",
        ),
        (
            "¿Qué significa cada campo del fichero de grupos? contraseña cifrada",
            "es-group",
        ),
        (
            "que significa cada campo del fichero de grupos contrasena cifrada",
            "es-group",
        ),
    ];
    for (query, expected) in cases {
        let found = keyword.search(query, 3).unwrap();
        assert!(!found.is_empty(), "{query}: nothing found");
        assert_eq!(
            page_of(&found[0].source),
            expected,
            "{query}: {:?}",
            names(&found)
        );
    }
    // The accents make no difference to the keyword scores.
    let with = index
        .keyword_nearest("configuración de la contraseña", 5, Bm25::default())
        .unwrap();
    let without = index
        .keyword_nearest("configuracion de la contrasena", 5, Bm25::default())
        .unwrap();
    assert!(!with.is_empty());
    assert_eq!(with, without);
    drop(keyword);

    // Hybrid search (real embeddings with the English model) keeps the Spanish text first
    // for the Spanish questions.
    let hybrid = assistant_with(&dir, RetrievalMode::Hybrid);
    for (query, expected) in cases {
        let found = hybrid.search(query, 3).unwrap();
        assert_eq!(
            page_of(&found[0].source),
            expected,
            "{query}: {:?}",
            names(&found)
        );
    }
}

#[test]
fn removing_a_document_removes_its_language() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = assistant_with(&tmp.path().join("index"), RetrievalMode::Keyword);
    let [(en, _), _, (es, _), _] = pages();
    assistant.ingest(&[&en, &es]).unwrap();
    let index = assistant.index().clone();
    let before = index.keyword_languages().unwrap();
    assert_eq!(before.len(), 2, "{before:?}");

    assistant.remove("hosts.5.gz").unwrap();
    let after = index.keyword_languages().unwrap();
    assert!(
        after.iter().all(|(l, _)| *l != Language::Spanish),
        "{after:?}"
    );
    assert!(index
        .keyword_nearest("tabla estática de búsqueda", 5, Bm25::default())
        .unwrap()
        .is_empty());
    // Only English is left: queries are analysed for English alone.
    let query = index.keyword_query("tabla de búsqueda").unwrap();
    assert_eq!(query.languages, [Language::English]);
}

/// Copies the index written by the code before this analyzer into `dir`.
fn legacy_index(dir: &Path) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/legacy-index-v1");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(fixture.join("data.mdb"), dir.join("data.mdb")).unwrap();
}

#[test]
fn an_index_written_before_languages_keeps_working_and_upgrades() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    legacy_index(&dir);
    // Opened with the default configuration: the index keeps the fp32 model it was made
    // with (int8 became the default later).
    let mut config = common::config(&dir);
    config.retrieval.mode = RetrievalMode::Keyword;
    let assistant = Assistant::open(config).unwrap();
    assert_eq!(
        assistant.embedder().model_id(),
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    let index = assistant.index().clone();
    assert_eq!(index.analyzer_version().unwrap(), LEGACY_ANALYZER_VERSION);
    assert!(index.keyword_languages().unwrap().is_empty());

    // The old analysis: English stemming, accents as written.
    let found = assistant
        .search("restart the daemon after changing the port", 2)
        .unwrap();
    assert!(
        found[0].source.ends_with("english.txt"),
        "{:?}",
        names(&found)
    );
    let found = assistant.search("configuración interfaces", 2).unwrap();
    assert!(
        found[0].source.ends_with("spanish.txt"),
        "{:?}",
        names(&found)
    );
    assert!(index
        .keyword_nearest("configuracion", 5, Bm25::default())
        .unwrap()
        .is_empty());

    // A document added now is analysed the old way too, so the index stays consistent.
    let added = tmp.path().join("more.txt");
    std::fs::write(
        &added,
        "Las contraseñas cifradas se guardan en /etc/shadow.\n",
    )
    .unwrap();
    assistant.ingest(&[&added]).unwrap();
    assert_eq!(index.analyzer_version().unwrap(), LEGACY_ANALYZER_VERSION);
    assert_eq!(
        index
            .keyword_nearest("contraseñas", 5, Bm25::default())
            .unwrap()
            .len(),
        1
    );

    // Upgrading rewrites the postings from the stored chunks, per language.
    let rebuilt = index.rebuild_keyword_index(ANALYZER_VERSION).unwrap();
    assert_eq!(rebuilt.analyzer_version, ANALYZER_VERSION);
    assert_eq!(rebuilt.documents, 3);
    assert_eq!(index.analyzer_version().unwrap(), ANALYZER_VERSION);
    let languages: Vec<Language> = rebuilt.languages.iter().map(|(l, _)| *l).collect();
    assert!(languages.contains(&Language::English), "{languages:?}");
    assert!(languages.contains(&Language::Spanish), "{languages:?}");
    let found = assistant
        .search("configuracion de las interfaces", 2)
        .unwrap();
    assert!(
        found[0].source.ends_with("spanish.txt"),
        "{:?}",
        names(&found)
    );
    let found = assistant.search("contrasena cifrada", 2).unwrap();
    assert!(found[0].source.ends_with("more.txt"), "{:?}", names(&found));
    let found = assistant
        .search("restart the daemon after changing the port", 2)
        .unwrap();
    assert!(
        found[0].source.ends_with("english.txt"),
        "{:?}",
        names(&found)
    );

    // And back: the legacy analysis can be chosen again (the benchmark compares both).
    index
        .rebuild_keyword_index(LEGACY_ANALYZER_VERSION)
        .unwrap();
    assert!(index
        .keyword_nearest("configuracion", 5, Bm25::default())
        .unwrap()
        .is_empty());
    assert_eq!(
        index.rebuild_keyword_index(7).unwrap_err().code(),
        "invalid_input"
    );
}

/// An index written by the first per-language analyzer (version 2, NLTK's stopword lists
/// whole) keeps that analysis, for its queries and for documents added to it, until it is
/// rebuilt; version 3 keeps `estado` ("state") as a term.
#[test]
fn a_version_2_index_keeps_its_analysis_until_it_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("estado.txt");
    std::fs::write(
        &state,
        "La orden aptitude-create-state-bundle guarda el estado actual de aptitude en un \
         fichero comprimido, para adjuntarlo a un informe de fallo.\n",
    )
    .unwrap();
    let other = tmp.path().join("buscar.txt");
    std::fs::write(
        &other,
        "En aptitude, la orden de búsqueda encuentra paquetes por su nombre o su descripción.\n",
    )
    .unwrap();
    let assistant = assistant_with(&tmp.path().join("index"), RetrievalMode::Keyword);
    assistant.ingest(&[&state]).unwrap();
    let index = assistant.index().clone();
    let estado = Analyzer::shared(Language::Spanish).terms("estado");
    assert_eq!(estado.len(), 1, "version 3 keeps `estado`");
    assert!(
        Analyzer::shared_version(Language::Spanish, FIRST_PER_LANGUAGE_ANALYZER_VERSION)
            .terms("estado")
            .is_empty()
    );

    index
        .rebuild_keyword_index(FIRST_PER_LANGUAGE_ANALYZER_VERSION)
        .unwrap();
    // A document added to a version 2 index is written the version 2 way.
    assistant.ingest(&[&other]).unwrap();
    assert_eq!(
        index.analyzer_version().unwrap(),
        FIRST_PER_LANGUAGE_ANALYZER_VERSION
    );
    let query = index.keyword_query("estado de aptitude").unwrap();
    assert!(
        query.groups.iter().all(|g| !g.contains(&estado[0])),
        "{query:?}"
    );
    assert!(index
        .keyword_nearest("estado", 5, Bm25::default())
        .unwrap()
        .is_empty());

    // Rebuilt with the current analyzer: `estado` is a term, and it finds its passage.
    let rebuilt = index.rebuild_keyword_index(ANALYZER_VERSION).unwrap();
    assert_eq!(rebuilt.documents, 2);
    let query = index.keyword_query("estado de aptitude").unwrap();
    assert!(
        query.groups.iter().any(|g| g.contains(&estado[0])),
        "{query:?}"
    );
    let found = assistant
        .search("guardar el estado de aptitude", 2)
        .unwrap();
    assert!(
        found[0].source.ends_with("estado.txt"),
        "{:?}",
        names(&found)
    );
}
