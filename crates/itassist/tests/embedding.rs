//! The embedding model gives the vectors sentence-transformers gives.

mod common;

use std::path::Path;

use itassist::{Embedder, FastEmbedder};

/// all-MiniLM-L6-v2 at fp32, provisioned beside the default (int8) model.
fn fp32() -> FastEmbedder {
    let mut config = common::config(Path::new("/nonexistent"));
    config.embedding.model = "all-MiniLM-L6-v2".into();
    FastEmbedder::new(&config.embedding).expect("load the fp32 model")
}

#[test]
fn reference_sentence_matches_reference_vector() {
    let embedder = fp32();
    assert_eq!(
        embedder.model_id(),
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    assert_eq!(embedder.dimensions(), 384);
    let vectors = embedder.embed(&["The cat sits on the mat"]).unwrap();
    let v = &vectors[0];
    let expected = [0.13489f32, -0.03206, -0.02034, 0.03590, -0.02833, 0.04150];
    for (i, (got, want)) in v.iter().zip(expected).enumerate() {
        assert!(
            (got - want).abs() <= 1e-4,
            "component {i}: got {got}, expected {want}"
        );
    }
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "not L2-normalised: {norm}");
}

#[test]
fn batching_does_not_change_vectors() {
    let short = "apt-get install";
    let long = "The Debian package management system keeps track of installed packages, their versions and dependencies.";
    // fp32: padding and batch neighbours change nothing.
    let embedder = fp32();
    let alone = embedder.embed(&[short]).unwrap();
    let batched = embedder.embed(&[long, short]).unwrap();
    for (a, b) in alone[0].iter().zip(&batched[1]) {
        assert!((a - b).abs() < 1e-5);
    }
    // The default int8 model quantizes each batch's activations with one range, so a
    // neighbour moves a vector within int8's own error (docs/models.md). Each int8 vector
    // carries its own error and the two can point different ways (on an AVX-512 VNNI CPU
    // this text alone and beside the longer one were 0.979 apart, each within 0.989 and
    // 0.985 of fp32), so each is compared with the fp32 vector.
    let exact = &alone[0];
    let embedder = common::embedder();
    let int8_alone = embedder.embed(&[short]).unwrap();
    let int8_batched = embedder.embed(&[long, short]).unwrap();
    for (how, vector) in [("alone", &int8_alone[0]), ("batched", &int8_batched[1])] {
        let cosine = itassist::embed::dot(exact, vector);
        assert!(cosine > 0.98, "int8 {how}: cosine {cosine} with fp32");
    }
}

#[test]
fn similar_texts_score_higher_than_unrelated_ones() {
    let embedder = common::embedder();
    let v = embedder
        .embed(&[
            "How do I generate an SSH key pair?",
            "ssh-keygen creates a new public/private key pair for SSH authentication",
            "The kernel scheduler balances processes across CPUs",
        ])
        .unwrap();
    let related = itassist::embed::dot(&v[0], &v[1]);
    let unrelated = itassist::embed::dot(&v[0], &v[2]);
    assert!(related > unrelated + 0.2, "{related} vs {unrelated}");
}

#[test]
fn missing_model_dir_is_an_actionable_error() {
    let mut config = itassist::Config::new("/tmp/unused");
    config.embedding.model_dir = Some("/nonexistent/model".into());
    let err = itassist::FastEmbedder::new(&config.embedding).unwrap_err();
    assert_eq!(err.code(), "embedding_model_unavailable");
    assert!(err.to_string().contains("provision-models.sh"), "{err}");
}
