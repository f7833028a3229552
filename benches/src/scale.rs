//! `itassist-bench scale`: search at 100,000 real chunks.
//!
//! Ingests the given folders into one index (kept in `--cache`, so a second run only
//! searches), then times, over real queries (SciFact's claims and the Spanish questions):
//! - the query embedding alone;
//! - the default hybrid search from query text to the top 10 passages, and the same without
//!   the embedding;
//! - the dense search (vector given) by exact scan, by the in-memory vector scan at several
//!   shortlist sizes, and by the arroy trees at several oversampling factors, each with its
//!   recall@10 against the exact scan;
//! - the keyword (BM25) search alone.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use itassist::index::POSTINGS_FORMAT;
use itassist::keyword::ANALYZER_VERSION;
use itassist::retrieve::hybrid_retriever;
use itassist::{Assistant, Config, Error, IngestEvent, Result, VectorSearch};
use serde::{Deserialize, Serialize};

use crate::{load_average, machine, percentile, CpuTicks, Machine};

/// What to run.
pub struct Options {
    /// The index folder (created and filled from `corpus` when it holds fewer chunks).
    pub index: PathBuf,
    /// Folders and files ingested into the index (files already in it are skipped).
    pub corpus: Vec<PathBuf>,
    /// Local embedding model directory.
    pub model_dir: Option<PathBuf>,
    /// SciFact's queries.jsonl.
    pub scifact_queries: PathBuf,
    /// The Spanish question set.
    pub spanish_questions: PathBuf,
    /// Most queries timed.
    pub queries: usize,
}

/// One way of searching the vectors, with its latency and recall.
#[derive(Debug, Serialize, Deserialize)]
pub struct DenseRow {
    pub method: String,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub recall_at_10: f64,
}

/// The figures of `itassist-bench scale`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ScaleFigures {
    pub machine: Machine,
    /// The embedding model's identity, as the index records it.
    #[serde(default)]
    pub model: String,
    pub load_average: (f64, f64),
    /// The share of the machine's CPU time the hypervisor ran other work instead (steal)
    /// while the searches were timed, in percent; `None` when not measured. Timings on a
    /// shared host move with it.
    #[serde(default)]
    pub host_steal_percent: Option<f64>,
    pub documents: u64,
    pub chunks: u64,
    pub index_disk_mib: f64,
    pub sources: Vec<String>,
    pub queries: usize,
    /// Opening the index (model included) and the first search, which makes the vector scan.
    pub open_seconds: f64,
    pub first_search_ms: f64,
    pub embed_query_p50_ms: f64,
    pub embed_query_p99_ms: f64,
    /// Default hybrid search, query text to the top 10 passages.
    pub hybrid_p50_ms: f64,
    pub hybrid_p99_ms: f64,
    /// From query text with the keyword ranking made after the embedding, beside the dense
    /// search, instead of beside the embedding.
    #[serde(default)]
    pub sequential_p50_ms: f64,
    #[serde(default)]
    pub sequential_p99_ms: f64,
    /// The same with the query embedding given.
    pub hybrid_without_embedding_p50_ms: f64,
    pub hybrid_without_embedding_p99_ms: f64,
    /// BM25 alone, `fusion_candidates` candidates (what hybrid search asks for).
    pub keyword_p50_ms: f64,
    pub keyword_p99_ms: f64,
    /// Dense search (10 nearest, vector given) by each method.
    pub dense: Vec<DenseRow>,
    /// The dense search the default settings use at this size, with `fusion_candidates`
    /// candidates as the hybrid search asks for: its recall of the exact ones (the field
    /// keeps the name it had when that was 50).
    pub default_dense_50_recall_at_50: f64,
    /// How deep hybrid search reads each ranking (the default `fusion_candidates`).
    #[serde(default = "fifty")]
    pub fusion_candidates: usize,
    pub default_scan_shortlist: usize,
    pub default_scan_below: usize,
    /// CPU time this process used in the second after its last search (ONNX Runtime's
    /// threads must not keep spinning once a run is over); negative when not measured.
    #[serde(default = "not_measured")]
    pub idle_cpu_seconds_after_search: f64,
}

fn not_measured() -> f64 {
    -1.0
}

/// CPU time (user and system) this process has used, in seconds, from `/proc/self/stat`.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks / per_second as f64)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn p50_p99(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    (percentile(&times, 50.0), percentile(&times, 99.0))
}

/// SciFact's claims, then the Spanish questions, at most `limit`.
fn read_queries(scifact: &Path, spanish: &Path, limit: usize) -> Result<Vec<String>> {
    let mut queries = Vec::new();
    let text = std::fs::read_to_string(scifact).map_err(|e| Error::io(scifact, e))?;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::InvalidInput(format!("{}: {e}", scifact.display())))?;
        if let Some(q) = value.get("text").and_then(|t| t.as_str()) {
            queries.push(q.to_string());
        }
    }
    let text = std::fs::read_to_string(spanish).map_err(|e| Error::io(spanish, e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidInput(format!("{}: {e}", spanish.display())))?;
    let spanish: Vec<String> = value
        .get("questions")
        .and_then(|q| q.as_array())
        .map(|qs| {
            qs.iter()
                .filter_map(|q| q.get("question")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // Both sets are represented whatever the limit.
    let english = limit.saturating_sub(spanish.len().min(limit / 2));
    queries.truncate(english);
    queries.extend(spanish.into_iter().take(limit - queries.len()));
    Ok(queries)
}

fn recall(found: &[(u32, f32)], exact: &[(u32, f32)]) -> (usize, usize) {
    let hits = found
        .iter()
        .filter(|(id, _)| exact.iter().any(|(e, _)| e == id))
        .count();
    (hits, exact.len())
}

pub fn run(options: Options) -> Result<ScaleFigures> {
    let load_start = load_average();
    let mut config = Config::new(&options.index);
    if let Some(dir) = &options.model_dir {
        config.embedding.model_dir = Some(dir.clone());
    }
    if !options.corpus.is_empty() {
        // The trees are built too (whatever the size), to compare them with the scan.
        let mut ingest_config = config.clone();
        ingest_config.retrieval.exact_search_below = 0;
        let assistant = Assistant::open(ingest_config)?;
        eprintln!("scale: ingesting {} inputs", options.corpus.len());
        let done = std::sync::atomic::AtomicUsize::new(0);
        let progress = |event: &IngestEvent| {
            if let IngestEvent::File(_) = event {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if n.is_multiple_of(500) {
                    eprintln!("  {n} files");
                }
            }
            std::ops::ControlFlow::Continue(())
        };
        let report = assistant.ingest_with_progress(&options.corpus, &progress)?;
        let t = &report.totals;
        eprintln!(
            "scale: {} files added, {} unchanged, {} failed",
            t.added, t.unchanged, t.failed
        );
        assistant.index().build_trees()?;
    }

    {
        // The figures are for the keyword index as a new index holds it: one written by an
        // older analyzer or postings format is rewritten first (nothing is re-embedded).
        let assistant = Assistant::open(config.clone())?;
        let meta = assistant.index().meta();
        if meta.postings_format < POSTINGS_FORMAT || meta.analyzer_version < ANALYZER_VERSION {
            eprintln!("scale: rewriting the keyword index in the current format");
            assistant.index().rebuild_keyword_index(ANALYZER_VERSION)?;
        }
    }

    let started = Instant::now();
    let assistant = Assistant::open(config.clone())?;
    let open_seconds = started.elapsed().as_secs_f64();
    let queries = read_queries(
        &options.scifact_queries,
        &options.spanish_questions,
        options.queries,
    )?;
    let started = Instant::now();
    assistant.search(&queries[0], 10)?;
    let first_search_ms = ms(started.elapsed());
    let stats = assistant.stats()?;
    eprintln!(
        "scale: {} chunks in {} documents; {} queries",
        stats.chunks,
        stats.documents,
        queries.len()
    );

    let index = assistant.index();
    let retrieval = &config.retrieval;
    let embedder = assistant.embedder();
    let hybrid = hybrid_retriever(index, embedder, retrieval);

    let ticks_at_start = CpuTicks::now();
    let mut embed_times = Vec::new();
    let mut vectors = Vec::new();
    for q in &queries {
        let started = Instant::now();
        let v = embedder.embed_query(q)?;
        embed_times.push(started.elapsed());
        vectors.push(v);
    }

    let mut hybrid_times = Vec::new();
    let mut sequential_times = Vec::new();
    let mut hybrid_vector_times = Vec::new();
    let mut keyword_times = Vec::new();
    for (q, v) in queries.iter().zip(&vectors) {
        let started = Instant::now();
        assistant.search(q, 10)?;
        hybrid_times.push(started.elapsed());
        // The same search with the keyword ranking after the embedding (beside the dense
        // search), not beside the embedding.
        let started = Instant::now();
        let vector = embedder.embed_query(q)?;
        hybrid.retrieve_with_vector(q, &vector, 10)?;
        sequential_times.push(started.elapsed());
        let started = Instant::now();
        hybrid.retrieve_with_vector(q, v, 10)?;
        hybrid_vector_times.push(started.elapsed());
        let started = Instant::now();
        index.keyword_nearest(q, retrieval.fusion_candidates, retrieval.bm25)?;
        keyword_times.push(started.elapsed());
    }

    // Dense methods against the exact scan.
    let mut exact_times = Vec::new();
    let mut exact10 = Vec::new();
    let mut exact50 = Vec::new();
    for v in &vectors {
        let started = Instant::now();
        let found = index.exact_nearest_all(v, 10)?;
        exact_times.push(started.elapsed());
        exact10.push(found);
        exact50.push(index.exact_nearest_all(v, retrieval.fusion_candidates)?);
    }
    let (p50, p99) = p50_p99(exact_times);
    let mut dense = vec![DenseRow {
        method: "exact scan of the f32 vectors (ground truth; the old default below 50,000 chunks)"
            .into(),
        p50_ms: p50,
        p99_ms: p99,
        recall_at_10: 1.0,
    }];
    let default_search = VectorSearch::from_config(retrieval);
    let time_method = |search: &VectorSearch| -> Result<(f64, f64, f64)> {
        let mut times = Vec::new();
        let (mut hits, mut wanted) = (0, 0);
        for (v, exact) in vectors.iter().zip(&exact10) {
            let started = Instant::now();
            let found = index.nearest(v, 10, search)?;
            times.push(started.elapsed());
            let (h, w) = recall(&found, exact);
            hits += h;
            wanted += w;
        }
        let (p50, p99) = p50_p99(times);
        Ok((p50, p99, hits as f64 / wanted.max(1) as f64))
    };
    for shortlist in [1000, 2000, 4000, 8000] {
        let search = VectorSearch {
            scan_below: usize::MAX,
            shortlist,
            ..default_search
        };
        let (p50, p99, recall_at_10) = time_method(&search)?;
        dense.push(DenseRow {
            method: format!(
                "vector scan, shortlist max({shortlist}, 1% of the chunks){}",
                if shortlist == default_search.shortlist {
                    " (default)"
                } else {
                    ""
                }
            ),
            p50_ms: p50,
            p99_ms: p99,
            recall_at_10,
        });
    }
    if stats.trees_built {
        for oversampling in [16, 64, 256] {
            let search = VectorSearch {
                scan_below: 0,
                oversampling,
                ..default_search
            };
            let (p50, p99, recall_at_10) = time_method(&search)?;
            dense.push(DenseRow {
                method: format!(
                    "arroy, {} trees, oversampling {oversampling}{}",
                    retrieval.n_trees,
                    if oversampling == 16 {
                        " (the old default above 50,000 chunks)"
                    } else {
                        ""
                    }
                ),
                p50_ms: p50,
                p99_ms: p99,
                recall_at_10,
            });
        }
    }
    let (mut hits, mut wanted) = (0, 0);
    for (v, exact) in vectors.iter().zip(&exact50) {
        let found = index.nearest(v, retrieval.fusion_candidates, &default_search)?;
        let (h, w) = recall(&found, exact);
        hits += h;
        wanted += w;
    }

    let host_steal_percent = ticks_at_start
        .zip(CpuTicks::now())
        .and_then(|(start, end)| end.steal_percent_since(start));

    // One last search, then a second of nothing.
    assistant.search(&queries[0], 10)?;
    let idle_cpu_seconds_after_search = match process_cpu_seconds() {
        Some(before) => {
            std::thread::sleep(Duration::from_secs(1));
            process_cpu_seconds().map_or(-1.0, |after| after - before)
        }
        None => -1.0,
    };

    let (embed_query_p50_ms, embed_query_p99_ms) = p50_p99(embed_times);
    let (hybrid_p50_ms, hybrid_p99_ms) = p50_p99(hybrid_times);
    let (hybrid_without_embedding_p50_ms, hybrid_without_embedding_p99_ms) =
        p50_p99(hybrid_vector_times);
    let (keyword_p50_ms, keyword_p99_ms) = p50_p99(keyword_times);
    let (sequential_p50_ms, sequential_p99_ms) = p50_p99(sequential_times);
    Ok(ScaleFigures {
        machine: machine(),
        model: embedder.model_id().to_string(),
        load_average: (load_start, load_average()),
        host_steal_percent,
        documents: stats.documents,
        chunks: stats.chunks,
        index_disk_mib: stats.disk_bytes as f64 / (1024.0 * 1024.0),
        sources: options
            .corpus
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        queries: queries.len(),
        open_seconds,
        first_search_ms,
        embed_query_p50_ms,
        embed_query_p99_ms,
        hybrid_p50_ms,
        hybrid_p99_ms,
        sequential_p50_ms,
        sequential_p99_ms,
        hybrid_without_embedding_p50_ms,
        hybrid_without_embedding_p99_ms,
        keyword_p50_ms,
        keyword_p99_ms,
        dense,
        default_dense_50_recall_at_50: hits as f64 / wanted.max(1) as f64,
        default_scan_shortlist: default_search.shortlist,
        default_scan_below: default_search.scan_below,
        fusion_candidates: retrieval.fusion_candidates,
        idle_cpu_seconds_after_search,
    })
}

/// What `fusion_candidates` was in figures written before they recorded it.
fn fifty() -> usize {
    50
}

pub fn markdown(f: &ScaleFigures) -> String {
    let mut md = String::new();
    md.push_str(&format!(
        "Search at {} chunks ({} documents, {:.0} MiB on disk), {} queries (SciFact claims and the Spanish questions), on {} (load average {:.1} at the start, {:.1} at the end{}){}.\n\n",
        f.chunks, f.documents, f.index_disk_mib, f.queries, f.machine.cpu(), f.load_average.0, f.load_average.1,
        match f.host_steal_percent {
            Some(steal) => format!("; the hypervisor took {steal:.1}% of the CPU time while the searches were timed"),
            None => String::new(),
        },
        if f.model.is_empty() { String::new() } else { format!(", embedding model {}", f.model) }
    ));
    md.push_str("| default hybrid search, top 10 passages | p50 | p99 |\n|---|---|---|\n");
    for (what, p50, p99) in [
        (
            "from query text (embedding included)",
            f.hybrid_p50_ms,
            f.hybrid_p99_ms,
        ),
        (
            "query embedding alone",
            f.embed_query_p50_ms,
            f.embed_query_p99_ms,
        ),
        (
            "with the embedding given (BM25 beside the dense search)",
            f.hybrid_without_embedding_p50_ms,
            f.hybrid_without_embedding_p99_ms,
        ),
        (
            &format!("BM25 alone ({} candidates)", f.fusion_candidates),
            f.keyword_p50_ms,
            f.keyword_p99_ms,
        ),
    ] {
        md.push_str(&format!("| {what} | {p50:.2} ms | {p99:.2} ms |\n"));
        if what.starts_with("from query text") && f.sequential_p50_ms > 0.0 {
            md.push_str(&format!(
                "| from query text, BM25 after the embedding (beside the dense search) instead of beside it | {:.2} ms | {:.2} ms |\n",
                f.sequential_p50_ms, f.sequential_p99_ms
            ));
        }
    }
    md.push('\n');
    md.push_str("| dense search, 10 nearest (vector given) | p50 | p99 | recall@10 vs exact |\n|---|---|---|---|\n");
    for row in &f.dense {
        md.push_str(&format!(
            "| {} | {:.2} ms | {:.2} ms | {:.4} |\n",
            row.method, row.p50_ms, row.p99_ms, row.recall_at_10
        ));
    }
    if f.idle_cpu_seconds_after_search >= 0.0 {
        md.push_str(&format!(
            "\nIn the second after its last search the process used {:.3} s of CPU: ONNX Runtime's threads spin between the operators of a run (waking sleeping threads cost more than the operators) and stop when the run ends.\n",
            f.idle_cpu_seconds_after_search
        ));
    }
    md.push_str(&format!(
        "\nThe default dense search at this size (the vector scan below {} chunks, shortlist {}) finds {:.4} of the exact {} nearest (what hybrid search fuses). Opening the index with its model took {:.2} s and the first search, which makes the in-memory scan, {:.0} ms.\n",
        f.default_scan_below, f.default_scan_shortlist, f.default_dense_50_recall_at_50, f.fusion_candidates, f.open_seconds, f.first_search_ms
    ));
    md
}
