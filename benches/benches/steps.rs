//! Criterion micro-benchmarks of itassist's steps on real documents and the real model:
//! chunking a document, embedding a batch, writing a document to the LMDB index, and
//! searching (dense exact, arroy trees, BM25, hybrid).
//!
//! ```text
//! cargo bench -p itassist-bench --bench steps
//! ```
//!
//! Needs the embedding model and ONNX Runtime, as the library does: `ITASSIST_MODEL_DIR`
//! and `ORT_DYLIB_PATH` (both set up by `bash scripts/setup.sh`), or the online download.
//! Inputs come from `../shared/corpus` (override with `ITASSIST_BENCH_CORPUS`).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use itassist::config::RetrievalMode;
use itassist::index::{NewDocument, StoredChunk};
use itassist::retrieve::retriever_for;
use itassist::{ingest, Assistant, Chunker, Config, Document, Embedder, LoadOptions};

/// The shared corpus directory.
fn corpus() -> PathBuf {
    std::env::var_os("ITASSIST_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"))
}

/// Fails the bench run with the library's own message (which names the fix).
fn or_exit<T>(result: itassist::Result<T>, what: &str) -> T {
    result.unwrap_or_else(|e| {
        eprintln!("steps bench: {what}: {}", e.display_chain());
        std::process::exit(2)
    })
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| {
        eprintln!("steps bench: cannot create a temporary directory: {e}");
        std::process::exit(2)
    })
}

struct Fixture {
    _dir: tempfile::TempDir,
    assistant: Assistant,
    chunker: Chunker,
    document: itassist::LoadedDocument,
}

fn fixture() -> Fixture {
    let dir = temp_dir();
    let config = Config::new(dir.path().join("index"));
    let assistant = or_exit(Assistant::open(config.clone()), "opening the index");
    let embedder = assistant.embedder();
    let chunker = or_exit(
        Chunker::new(
            embedder.tokenizer().clone(),
            &config.chunking,
            embedder.max_tokens(),
        ),
        "building the chunker",
    );
    let path = corpus().join("debdocs/text/developers-reference.txt");
    let document = or_exit(
        ingest::load_file(&path, &LoadOptions::default()),
        "loading the chunking input",
    );
    Fixture {
        _dir: dir,
        assistant,
        chunker,
        document,
    }
}

fn bench_chunking(c: &mut Criterion, f: &Fixture) {
    let bytes = f.document.text().len() as u64;
    let mut group = c.benchmark_group("chunk");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("developers-reference.txt (304 kB, 128-token chunks)", |b| {
        b.iter(|| black_box(or_exit(f.chunker.chunk(&f.document), "chunking")))
    });
    group.finish();
}

fn bench_embedding(c: &mut Criterion, f: &Fixture, texts: &[String]) {
    let embedder = f.assistant.embedder();
    let mut group = c.benchmark_group("embed");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(35));
    for batch in [1usize, 32] {
        let refs: Vec<&str> = texts.iter().take(batch).map(String::as_str).collect();
        group.throughput(Throughput::Elements(refs.len() as u64));
        group.bench_function(format!("batch of {} chunks", refs.len()), |b| {
            b.iter(|| black_box(or_exit(embedder.embed(&refs), "embedding")))
        });
    }
    group.finish();
}

/// A document record and its chunks ready for [`itassist::Index::write_document`].
fn new_document(
    f: &Fixture,
    chunks: &[itassist::Chunk],
    vectors: &[Vec<f32>],
    n: u64,
) -> NewDocument {
    let tokens: u64 = chunks.iter().map(|c| u64::from(c.tokens)).sum();
    NewDocument {
        document: Document {
            id: 0,
            source: format!("bench:{n}"),
            name: format!("bench-{n}.txt"),
            title: None,
            format: f.document.format,
            media_type: f.document.format.media_type().to_string(),
            sha256: format!("{n:064x}"),
            size: f.document.text().len() as u64,
            modified: None,
            page_count: None,
            ocr_pages: Vec::new(),
            first_chunk: 0,
            chunk_count: 0,
            token_count: tokens,
            ingested_at: 0,
            notes: Vec::new(),
        },
        chunks: chunks
            .iter()
            .enumerate()
            .map(|(i, c)| StoredChunk {
                document_id: 0,
                ordinal: i as u32,
                text: c.text.clone(),
                page: c.page,
                section: c.section.clone(),
                span: c.span,
                tokens: c.tokens,
            })
            .collect(),
        vectors: vectors.to_vec(),
    }
}

fn bench_index_insert(c: &mut Criterion, f: &Fixture, chunks: &[itassist::Chunk]) {
    let take = chunks.len().min(64);
    let chunks = &chunks[..take];
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    let vectors = or_exit(f.assistant.embed(&texts), "embedding the insert input");
    let index = f.assistant.index();
    let mut counter = 0u64;
    let mut group = c.benchmark_group("index");
    group.throughput(Throughput::Elements(take as u64));
    group.sample_size(20);
    group.bench_function(
        format!("write a document of {take} chunks (LMDB + BM25 postings)"),
        |b| {
            b.iter_batched(
                || {
                    counter += 1;
                    new_document(f, chunks, &vectors, counter)
                },
                |doc| black_box(or_exit(index.write_document(doc, None), "writing")),
                BatchSize::SmallInput,
            )
        },
    );
    group.bench_function(
        format!("write a document of {take} chunks and update the trees"),
        |b| {
            b.iter_batched(
                || {
                    counter += 1;
                    new_document(f, chunks, &vectors, counter)
                },
                |doc| {
                    or_exit(index.write_document(doc, None), "writing");
                    or_exit(index.build_trees(), "building trees");
                },
                BatchSize::SmallInput,
            )
        },
    );
    group.finish();
}

fn bench_search(c: &mut Criterion) {
    // A separate index holding real documents only: the Node.js API reference (Markdown).
    let dir = temp_dir();
    let config = Config::new(dir.path().join("index"));
    let assistant = or_exit(Assistant::open(config.clone()), "opening the index");
    let api = corpus().join("debdocs/markdown/nodejs-api");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&api)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.truncate(12);
    eprintln!(
        "steps bench: ingesting {} files of {}",
        files.len(),
        api.display()
    );
    let report = or_exit(assistant.ingest(&files), "ingesting the search corpus");
    let chunks = report.totals.chunks;
    let embedder: Arc<dyn Embedder> = assistant.embedder().clone();
    let query = "how do I wait for a child process to exit";
    let vector = or_exit(assistant.embed(&[query]), "embedding the query").remove(0);
    let index = assistant.index();

    let mut group = c.benchmark_group(format!("search ({chunks} chunks, k=10)"));
    group.sample_size(50);
    group.bench_function("dense, exact scan (vector given)", |b| {
        b.iter(|| black_box(or_exit(index.exact_nearest_all(&vector, 10), "search")))
    });
    let mut trees = itassist::VectorSearch::from_config(&config.retrieval);
    trees.scan_below = 0;
    group.bench_function("dense, arroy trees (vector given)", |b| {
        b.iter(|| black_box(or_exit(index.nearest(&vector, 10, &trees), "search")))
    });
    let scan = itassist::VectorSearch::from_config(&config.retrieval);
    group.bench_function("dense, vector scan (vector given)", |b| {
        b.iter(|| black_box(or_exit(index.nearest(&vector, 10, &scan), "search")))
    });
    for mode in [
        RetrievalMode::Dense,
        RetrievalMode::Keyword,
        RetrievalMode::Hybrid,
    ] {
        let mut retrieval = config.retrieval.clone();
        retrieval.mode = mode;
        let retriever = retriever_for(index, &embedder, &retrieval);
        // Dense and hybrid embed the query (about 6 ms): fewer samples keep the run short.
        group.sample_size(if mode == RetrievalMode::Keyword {
            50
        } else {
            20
        });
        group.bench_function(format!("{mode:?} retriever, query text to passages"), |b| {
            b.iter(|| black_box(or_exit(retriever.retrieve(query, 10), "retrieve")))
        });
    }
    group.finish();
}

fn steps(c: &mut Criterion) {
    let f = fixture();
    let chunks = or_exit(f.chunker.chunk(&f.document), "chunking");
    let texts: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
    bench_chunking(c, &f);
    bench_embedding(c, &f, &texts);
    bench_index_insert(c, &f, &chunks);
    bench_search(c);
}

criterion_group!(benches, steps);
criterion_main!(benches);
