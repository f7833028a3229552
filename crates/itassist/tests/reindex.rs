//! `Assistant::reindex`: re-embedding the stored text with another model configuration, real
//! LMDB and real ONNX inference. The "new model" is a copy of the local model directory whose
//! `itassist-model.json` gives it another name and a 96-token input window, which changes the
//! vectors of every chunk longer than that (chunks are up to 128 tokens).

mod common;

use std::cell::Cell;
use std::ops::ControlFlow;
use std::path::Path;

use common::{assistant, config, corpus_file, embedder, model_dir};
use itassist::index::POSTINGS_FORMAT;
use itassist::keyword::{ANALYZER_VERSION, LEGACY_ANALYZER_VERSION};
use itassist::{Assistant, Config, Embedder, FastEmbedder, Index, ReindexEvent};

const NEW_MODEL: &str = "minilm-short-window";

/// A configuration for the "new model": a directory of links to the local model's files
/// with its own `itassist-model.json`, next to the index.
fn new_config(data_dir: &Path) -> Config {
    let dir = data_dir.with_file_name("minilm-short-window");
    if !dir.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(model_dir()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap();
            if name != "itassist-model.json" {
                std::os::unix::fs::symlink(&path, dir.join(name)).unwrap();
            }
        }
        std::fs::write(
            dir.join("itassist-model.json"),
            format!(r#"{{"name": "{NEW_MODEL}", "max_length": 96}}"#),
        )
        .unwrap();
    }
    let mut config = config(data_dir).with_model_dir(&dir);
    config.embedding.model = NEW_MODEL.into();
    config
}

fn old_model() -> String {
    embedder().model_id().to_string()
}

/// An index of real documents whose originals are deleted afterwards.
fn indexed(tmp: &Path) -> (std::path::PathBuf, Assistant) {
    let data = tmp.join("index");
    let docs = tmp.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for (from, to) in [
        ("debdocs/man/openssh/scp.1", "scp.1"),
        ("debdocs/man/openssh/ssh-keygen.1", "ssh-keygen.1"),
        ("debdocs/text/fhs-3.0.txt", "fhs.txt"),
    ] {
        std::fs::write(docs.join(to), std::fs::read(corpus_file(from)).unwrap()).unwrap();
    }
    let assistant = assistant(&data);
    assert_eq!(assistant.ingest(&[&docs]).unwrap().totals.added, 3);
    std::fs::remove_dir_all(&docs).unwrap();
    (data, assistant)
}

#[test]
fn reindex_re_embeds_the_stored_text_and_swaps_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, old) = indexed(tmp.path());
    let chunks = old.stats().unwrap().chunks;
    assert!(chunks > 256, "enough chunks for several rounds: {chunks}");
    let before = old.index().vector(0).unwrap().unwrap();

    // Opening with the new model before a re-index is refused, pointing to the re-index.
    let embedder = FastEmbedder::new(&new_config(&data).embedding).unwrap();
    let new_model = embedder.model_id().to_string();
    assert_ne!(new_model, old_model());
    let err = Assistant::open(new_config(&data)).unwrap_err();
    assert_eq!(err.code(), "embedding_model_mismatch");
    assert!(
        err.to_string()
            .contains(&format!("itassist reindex --model {new_model}")),
        "{err}"
    );

    // An index from an older itassist: its keyword index analysed as English only.
    old.index()
        .rebuild_keyword_index(LEGACY_ANALYZER_VERSION)
        .unwrap();

    let searches = Cell::new(0);
    let rounds = Cell::new(0);
    let report = Assistant::reindex_with_embedder(&new_config(&data), &embedder, &|event| {
        if let ReindexEvent::Embedded { done, total } = event {
            rounds.set(rounds.get() + 1);
            assert!(*done <= *total);
            // The old index keeps answering, from the old vectors, while the new ones are
            // written.
            let hits = old.search("secure copy of files between hosts", 3).unwrap();
            assert_eq!(hits[0].name, "scp.1", "{hits:#?}");
            assert_eq!(old.index().vector(0).unwrap().unwrap(), before);
            searches.set(searches.get() + 1);
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(rounds.get() >= 2 && searches.get() == rounds.get());
    assert!(!report.cancelled);
    assert_eq!(report.chunks, chunks);
    assert_eq!(report.previous_model, old_model());
    assert_eq!(report.model, new_model);
    assert_eq!(report.dimensions, 384);

    // The index records the new model.
    let meta = Index::read_meta(&data, config(&data).map_size)
        .unwrap()
        .unwrap();
    assert_eq!(meta.embedding_model, new_model);
    // The re-index also upgraded the keyword index to the current analysis and layout.
    assert_eq!(meta.analyzer_version, ANALYZER_VERSION);
    assert_eq!(meta.postings_format, POSTINGS_FORMAT);

    // A handle opened before the swap says so instead of mixing vectors.
    let err = old.search("secure copy", 3).unwrap_err();
    assert_eq!(err.code(), "embedding_model_mismatch", "{err}");
    drop(old);
    let err = Assistant::open(config(&data)).unwrap_err();
    assert_eq!(err.code(), "embedding_model_mismatch");

    // Opened with the new configuration, it answers from the new vectors.
    let new = Assistant::open(new_config(&data)).unwrap();
    let stats = new.stats().unwrap();
    assert_eq!((stats.chunks, &stats.embedding_model), (chunks, &new_model));
    assert!(stats.trees_built);
    let after = new.index().vector(0).unwrap().unwrap();
    assert_ne!(after, before, "the vectors were re-embedded");
    let hits = new.search("generate authentication keys", 3).unwrap();
    assert_eq!(hits[0].name, "ssh-keygen.1", "{hits:#?}");

    // And back again, with the original model: searches find the same as before.
    let back = Assistant::reindex(&config(&data), &|_| ControlFlow::Continue(())).unwrap();
    assert_eq!(back.model, old_model());
    drop(new);
    let restored = Assistant::open(config(&data)).unwrap();
    let again = restored.index().vector(0).unwrap().unwrap();
    let cosine: f32 = again.iter().zip(&before).map(|(a, b)| a * b).sum();
    // The default int8 model quantizes each batch's activations with one range, and the
    // re-index batches chunks differently from the ingest: close, not bit-identical.
    assert!(
        cosine > 0.98,
        "the original model gives the original vectors: {cosine}"
    );
}

#[test]
fn a_cancelled_reindex_leaves_the_old_index_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, old) = indexed(tmp.path());
    let before = old.index().vector(0).unwrap().unwrap();
    let embedder = FastEmbedder::new(&new_config(&data).embedding).unwrap();
    let report = Assistant::reindex_with_embedder(&new_config(&data), &embedder, &|event| {
        if matches!(event, ReindexEvent::Embedded { .. }) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert!(report.cancelled);
    assert_eq!(report.model, old_model());
    let hits = old.search("secure copy of files between hosts", 3).unwrap();
    assert_eq!(hits[0].name, "scp.1");
    assert_eq!(old.index().vector(0).unwrap().unwrap(), before);
    assert_eq!(old.stats().unwrap().embedding_model, old_model());

    // Documents written after a cancelled re-index land in the active vectors; a later
    // re-index covers them.
    old.ingest_bytes(
        "note.md",
        b"# Backups\n\nThe nightly backup runs restic at 02:00.\n",
    )
    .unwrap();
    let done = Assistant::reindex_with_embedder(&new_config(&data), &embedder, &|_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(done.chunks, old.stats().unwrap().chunks);
    drop(old);
    let new = Assistant::open(new_config(&data)).unwrap();
    let hits = new.search("when does the nightly backup run", 1).unwrap();
    assert_eq!(hits[0].name, "note.md", "{hits:#?}");
}
