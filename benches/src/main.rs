//! `itassist-bench`: end-to-end figures of itassist on real documents.
//!
//! ```text
//! itassist-bench ingest [--corpus DIR]... [--queries N] [--out DIR]
//! ```
//! ingests the corpus into a fresh index and measures, in one run:
//! ingest throughput (pages/s, chunks/s, tokens/s, MB/s), the pure-embedding throughput of the
//! same chunks and the ratio between them, peak RSS during ingest, the time to re-ingest the
//! unchanged corpus, index size on disk, search latency (p50/p95/p99 over N queries) and
//! recall@10 of the arroy tree search against exact search on the real embeddings.
//! It prints a Markdown table and writes `ingest.json` and `ingest.md` to `--out`.
//!
//! `itassist-bench scifact` measures retrieval quality on BEIR SciFact, and
//! `itassist-bench peer` compares both with the Python stack measured by
//! `benches/peer/peer.py`. `bash scripts/bench.sh` runs them all and writes
//! `docs/benchmarks.md`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod followups;
mod micro;
mod peer;
mod scale;
mod scifact;
mod spanish;

use clap::{Parser, Subcommand};
use itassist::{Assistant, Config, IngestEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Parser)]
#[command(
    name = "itassist-bench",
    about = "Benchmarks of itassist on real documents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest throughput, embedding throughput, search latency and recall.
    Ingest {
        /// Folders or files to ingest [default: ../shared/corpus/debdocs/pdf].
        #[arg(long)]
        corpus: Vec<PathBuf>,
        /// Number of search queries to time.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Where to write ingest.json and ingest.md.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Local embedding model directory [env: ITASSIST_MODEL_DIR].
        #[arg(long)]
        model_dir: Option<PathBuf>,
        /// Embedding model name [default: the library's default].
        #[arg(long)]
        model: Option<String>,
        /// Write the index here (a new folder) and keep it, instead of a temporary folder.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// Retrieval quality on BEIR SciFact: dense, BM25 and hybrid.
    Scifact {
        /// Chunk size in tokens [default: the library's default].
        #[arg(long)]
        chunk_tokens: Option<usize>,
        /// Chunk overlap in tokens [default: the library's default].
        #[arg(long)]
        chunk_overlap: Option<usize>,
        /// Skip the whole-document (MTEB setting) dense run.
        #[arg(long)]
        skip_mteb: bool,
        /// Skip tuning BM25 and the fusion on train (default settings only).
        #[arg(long)]
        skip_tuning: bool,
        /// The SciFact directory [default: ../shared/data/scifact].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Where to write NAME.json and NAME.md.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Base name of the output files (a variant run keeps the main figures).
        #[arg(long, default_value = "scifact")]
        name: String,
        /// Local embedding model directory [env: ITASSIST_MODEL_DIR].
        #[arg(long)]
        model_dir: Option<PathBuf>,
        /// Embedding model name [default: the library's default].
        #[arg(long)]
        model: Option<String>,
        /// Keep the corpus files and the index in this folder, so a second run skips the
        /// ingest.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Follow-up questions: recall@5 of the right source for the last turn of the
    /// conversations of benches/data/followups.json, searched alone, joined, with itassist's
    /// conversation-aware query, and rewritten by a chat model.
    Followups {
        /// The corpus root [default: ../shared/corpus].
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// The conversation set [default: benches/data/followups.json].
        #[arg(long)]
        set: Option<PathBuf>,
        /// Where to write followups.json and followups.md.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Local embedding model directory [env: ITASSIST_MODEL_DIR].
        #[arg(long)]
        model_dir: Option<PathBuf>,
        /// Keep the index in this folder, so a second run skips the ingest.
        #[arg(long)]
        cache: Option<PathBuf>,
        /// An OpenAI-compatible chat server (llama-server) for the model rewrite.
        #[arg(long, value_name = "URL")]
        rewrite_url: Option<String>,
        /// The model name sent to that server.
        #[arg(long, default_value = "SmolLM2-135M-Instruct")]
        rewrite_model: String,
    },
    /// Spanish retrieval: hit@5 and MRR@10 of the right source for the questions of
    /// benches/data/spanish-questions.json, before (English-only analyzer) and after.
    Spanish {
        /// The Spanish corpus [default: ../shared/corpus/spanish].
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// The question set [default: benches/data/spanish-questions.json].
        #[arg(long)]
        questions: Option<PathBuf>,
        /// Where to write spanish.json and spanish.md.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Local embedding model directory [env: ITASSIST_MODEL_DIR].
        #[arg(long)]
        model_dir: Option<PathBuf>,
        /// Also measure with these embedding models (names from the config's catalogue),
        /// each in its own index.
        #[arg(long = "model")]
        models: Vec<String>,
        /// Keep the indexes in this folder, so a second run skips the ingest.
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Print why each question missed by the per-language analysis was missed.
        #[arg(long)]
        explain: bool,
        /// Search with the hybrid settings tuned on SciFact's train split, read from this
        /// scifact.json (e.g. docs/bench/scifact.json), instead of the defaults.
        #[arg(long, value_name = "SCIFACT_JSON")]
        settings_from: Option<PathBuf>,
    },
    /// Search at 100,000 real chunks: the default hybrid search from query text, the query
    /// embedding alone, and each way of searching the vectors with its recall against an
    /// exact scan.
    Scale {
        /// The index folder; kept, so a second run only searches.
        #[arg(long)]
        index: PathBuf,
        /// Folders and files to ingest into it first (files already in it are skipped).
        #[arg(long)]
        corpus: Vec<PathBuf>,
        /// Most queries timed (SciFact's claims, then the Spanish questions).
        #[arg(long, default_value_t = 600)]
        queries: usize,
        /// Where to write scale.json and scale.md.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Local embedding model directory [env: ITASSIST_MODEL_DIR].
        #[arg(long)]
        model_dir: Option<PathBuf>,
    },
    /// Collects the criterion micro-benchmarks into micro.json and micro.md.
    Micro {
        /// criterion's output folder (`$CARGO_TARGET_DIR/criterion`).
        #[arg(long)]
        criterion: PathBuf,
        /// Where to write micro.json and micro.md.
        #[arg(long)]
        out: PathBuf,
    },
    /// Compares itassist with the peer stack measured by `benches/peer/peer.py`.
    Peer {
        /// The peer's ingest figures (`peer.py ingest --out`).
        #[arg(long)]
        ingest: PathBuf,
        /// The peer's SciFact rankings (`peer.py scifact --out`) [default: the peer's SciFact
        /// figures of the last peer.json in --figures].
        #[arg(long)]
        scifact: Option<PathBuf>,
        /// Folder holding itassist's ingest.json and scifact.json; peer.json and peer.md are
        /// written there too.
        #[arg(long)]
        figures: PathBuf,
        /// The SciFact directory [default: ../shared/data/scifact].
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

fn default_scifact() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/scifact")
}

/// Reads a JSON file written by a benchmark step; `what` names the step that writes it.
fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> itassist::Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| itassist::Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        itassist::Error::InvalidInput(format!(
            "{}: not the expected figures ({e}); re-run {what}",
            path.display()
        ))
    })
}

fn write_outputs<T: Serialize>(
    out: &Path,
    name: &str,
    value: &T,
    markdown: &str,
) -> itassist::Result<()> {
    std::fs::create_dir_all(out).map_err(|e| itassist::Error::io(out, e))?;
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| itassist::Error::InvalidInput(e.to_string()))?;
    let json_path = out.join(format!("{name}.json"));
    std::fs::write(&json_path, json).map_err(|e| itassist::Error::io(&json_path, e))?;
    let md_path = out.join(format!("{name}.md"));
    std::fs::write(&md_path, markdown).map_err(|e| itassist::Error::io(&md_path, e))?;
    eprintln!("wrote {} and {}", json_path.display(), md_path.display());
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
struct IngestFigures {
    corpus: Vec<String>,
    machine: Machine,
    files: usize,
    failed: usize,
    pages: u64,
    chunks: u64,
    tokens: u64,
    megabytes: f64,
    ingest_seconds: f64,
    pages_per_second: f64,
    chunks_per_second: f64,
    tokens_per_second: f64,
    megabytes_per_second: f64,
    embedding_seconds_in_pipeline: f64,
    pure_embedding_seconds: f64,
    pure_embedding_chunks_per_second: f64,
    pipeline_to_pure_embedding_ratio: f64,
    peak_rss_mib_during_ingest: f64,
    reingest_unchanged_seconds: f64,
    index_disk_mib: f64,
    search_queries: usize,
    search_p50_ms: f64,
    search_p95_ms: f64,
    search_p99_ms: f64,
    tree_search_p50_ms: f64,
    tree_search_p95_ms: f64,
    tree_recall_at_10: f64,
    tree_oversampling: usize,
    tree_count: usize,
    /// The embedding model's identity (as the index records it).
    #[serde(default)]
    model: String,
    /// Chunks/s embedding the corpus's first 640 chunks in their own order, then in batches
    /// of similar length (what batching by length gives).
    #[serde(default)]
    sample_in_order_chunks_per_second: f64,
    #[serde(default)]
    sample_by_length_chunks_per_second: f64,
    /// Chunks per embedding call.
    #[serde(default)]
    batch_size: usize,
    /// The machine's load average (1 minute) when the ingest started and when it ended.
    #[serde(default)]
    load_average: (f64, f64),
    /// Peak RSS once the assistant was open (the model loaded), before the ingest.
    #[serde(default)]
    peak_rss_mib_after_open: f64,
    /// Opening the index with its model, then the first search, in a fresh assistant.
    #[serde(default)]
    open_seconds: f64,
    /// The first search after opening (query embedding included).
    #[serde(default)]
    first_search_ms: f64,
    /// The timed queries, so that the peer comparison times the same ones.
    queries: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Machine {
    cpus: usize,
    cpu_model: String,
    /// The widest vector instructions the CPU offers (int8 inference speed depends on them).
    #[serde(default)]
    simd: String,
    memory_gib: f64,
}

impl Machine {
    /// The CPU's model name and, when known, its vector instruction set.
    fn cpu(&self) -> String {
        if self.simd.is_empty() {
            self.cpu_model.clone()
        } else {
            format!("{}, {}", self.cpu_model, self.simd)
        }
    }
}

/// The widest vector instruction set `/proc/cpuinfo`'s flags list: what ONNX Runtime's int8
/// and fp32 kernels can use.
fn simd_level(cpuinfo: &str) -> String {
    let flags: std::collections::HashSet<&str> = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split(':').nth(1))
        .map(|f| f.split_whitespace().collect())
        .unwrap_or_default();
    let level = if flags.contains("avx512_vnni") {
        "AVX-512 VNNI"
    } else if flags.contains("avx512f") {
        "AVX-512, no VNNI"
    } else if flags.contains("avx_vnni") {
        "AVX2 with AVX-VNNI"
    } else if flags.contains("avx2") {
        "AVX2, no AVX-512"
    } else {
        "no AVX2"
    };
    level.to_string()
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Machine {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        simd: simd_level(&cpuinfo),
        cpu_model,
        memory_gib: memory_kib / 1048576.0,
    }
}

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// A memory figure of this process's `/proc/self/status` (`VmHWM:`, `VmRSS:`), in MiB.
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn per_second(count: f64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count / seconds
    } else {
        0.0
    }
}

fn default_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/debdocs/pdf")
}

/// Settings of `itassist-bench ingest`.
struct IngestOptions {
    corpus: Vec<PathBuf>,
    queries: usize,
    out: Option<PathBuf>,
    model_dir: Option<PathBuf>,
    model: Option<String>,
    keep: Option<PathBuf>,
}

/// The 1-minute load average (Linux `/proc/loadavg`).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// The machine's CPU time counters (Linux `/proc/stat`, all CPUs), in clock ticks: the time
/// the hypervisor ran other work while this guest wanted to run (steal), and the whole.
#[derive(Debug, Clone, Copy)]
pub struct CpuTicks {
    steal: u64,
    total: u64,
}

impl CpuTicks {
    /// The counters now; `None` where `/proc/stat` is missing or unreadable.
    pub fn now() -> Option<CpuTicks> {
        CpuTicks::from_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// The counters in the text of `/proc/stat`: its `cpu` line, the sum over all CPUs.
    fn from_proc_stat(stat: &str) -> Option<CpuTicks> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        (fields.len() == 8).then(|| CpuTicks {
            steal: fields[7],
            total: fields.iter().sum(),
        })
    }

    /// The percentage of the CPU time since `earlier` that the hypervisor took (steal).
    pub fn steal_percent_since(&self, earlier: CpuTicks) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let steal = self.steal.checked_sub(earlier.steal)?;
        (total > 0).then(|| 100.0 * steal as f64 / total as f64)
    }
}

fn run_ingest(options: IngestOptions) -> itassist::Result<()> {
    let IngestOptions {
        corpus,
        queries,
        out,
        model_dir,
        model,
        keep,
    } = options;
    let corpus = if corpus.is_empty() {
        vec![default_corpus()]
    } else {
        corpus
    };
    let tmp = tempfile::tempdir().map_err(|e| itassist::Error::io("temporary directory", e))?;
    let index_dir = keep.unwrap_or_else(|| tmp.path().join("index"));
    let mut config = Config::new(index_dir);
    if let Some(dir) = model_dir {
        config.embedding.model_dir = Some(dir);
    }
    if let Some(model) = model {
        config.embedding.model = model;
    }
    let assistant = Assistant::open(config.clone())?;
    let peak_rss_after_open = peak_rss_mib();
    let load_at_start = load_average();

    eprintln!("ingesting {corpus:?} ...");
    let progress = |event: &IngestEvent| {
        match event {
            IngestEvent::File(file) => eprintln!(
                "  {} {} (RSS {:.0} MiB, peak {:.0} MiB)",
                file.status.label(),
                file.path.display(),
                status_mib("VmRSS:"),
                status_mib("VmHWM:")
            ),
            IngestEvent::BuildingIndex => {
                eprintln!("  updating the vector index (trees only above exact_search_below) ...")
            }
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    };
    let report = assistant.ingest_with_progress(&corpus, &progress)?;
    let peak_rss = peak_rss_mib();
    let load_at_end = load_average();
    let t = &report.totals;
    let ingest_seconds = t.elapsed.as_secs_f64();

    eprintln!("re-ingesting the unchanged corpus ...");
    let started = Instant::now();
    let again = assistant.ingest(&corpus)?;
    let reingest = started.elapsed().as_secs_f64();
    assert_eq!(
        again.totals.chunks, 0,
        "an unchanged corpus must not be re-embedded"
    );

    // The same chunks, embedded alone, in the same process, batch size and order (each
    // document's chunks in batches of similar length, as the pipeline embeds them).
    eprintln!("embedding the same chunks alone ...");
    let index = assistant.index();
    let model_id = index.meta().embedding_model.clone();
    let mut texts = Vec::new();
    let mut documents = Vec::new();
    for doc in assistant.documents()? {
        let mut lengths = Vec::new();
        let first = texts.len();
        for id in doc.chunk_ids() {
            if let Some(chunk) = index.chunk(id)? {
                texts.push(chunk.text);
                lengths.push(chunk.tokens);
            }
        }
        documents.push((first, lengths));
    }
    let batch = config.embedding.batch_size;
    let started = Instant::now();
    for (first, lengths) in &documents {
        let refs: Vec<&str> = texts[*first..first + lengths.len()]
            .iter()
            .map(String::as_str)
            .collect();
        itassist::embed::batching::embed_by_length(
            assistant.embedder().as_ref(),
            &refs,
            lengths,
            batch,
            |_| {},
        )?;
    }
    let pure_seconds = started.elapsed().as_secs_f64();
    let pure_rate = per_second(texts.len() as f64, pure_seconds);

    // What batching by length gives: the first chunks of the corpus embedded in their own
    // order (batches mix short and long chunks) and then by length, in turn.
    eprintln!("embedding a sample in chunk order and by length ...");
    let sample: Vec<&str> = texts.iter().take(640).map(String::as_str).collect();
    let sample_lengths: Vec<u32> = documents
        .iter()
        .flat_map(|(_, lengths)| lengths.iter().copied())
        .take(sample.len())
        .collect();
    let started = Instant::now();
    for part in sample.chunks(batch) {
        assistant.embed(part)?;
    }
    let in_order_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    itassist::embed::batching::embed_by_length(
        assistant.embedder().as_ref(),
        &sample,
        &sample_lengths,
        batch,
        |_| {},
    )?;
    let by_length_seconds = started.elapsed().as_secs_f64();
    let sample_rates = (
        per_second(sample.len() as f64, in_order_seconds),
        per_second(sample.len() as f64, by_length_seconds),
    );
    let pipeline_rate = per_second(t.chunks as f64, ingest_seconds);

    // Queries: the opening words of chunks spread over the corpus.
    let step = (texts.len() / queries.max(1)).max(1);
    let query_texts: Vec<String> = texts
        .iter()
        .step_by(step)
        .take(queries)
        .map(|t| t.split_whitespace().take(10).collect::<Vec<_>>().join(" "))
        .collect();

    eprintln!("timing {} searches ...", query_texts.len());
    let mut latencies = Vec::new();
    for q in &query_texts {
        let started = Instant::now();
        assistant.search(q, 10)?;
        latencies.push(started.elapsed());
    }
    latencies.sort();

    // First search in a fresh process state: open the index with its model, then search.
    drop(assistant);
    let started = Instant::now();
    let reopened = Assistant::open(config.clone())?;
    let open_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    if let Some(q) = query_texts.first() {
        reopened.search(q, 10)?;
    }
    let first_search_ms = started.elapsed().as_secs_f64() * 1000.0;
    drop(reopened);

    // Tree search against exact search on the same query vectors.
    let mut tree_config = config.clone();
    tree_config.retrieval.exact_search_below = 0;
    let tree = Assistant::open(tree_config.clone())?;
    let mut tree_latencies = Vec::new();
    let mut hits = 0usize;
    let mut wanted = 0usize;
    for q in &query_texts {
        let vector = tree.embed(&[q.as_str()])?.remove(0);
        let exact: Vec<u32> = tree
            .index()
            .exact_nearest_all(&vector, 10)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let started = Instant::now();
        let found = tree.index().nearest(
            &vector,
            10,
            &itassist::VectorSearch::from_config(&tree_config.retrieval),
        )?;
        tree_latencies.push(started.elapsed());
        hits += found.iter().filter(|(id, _)| exact.contains(id)).count();
        wanted += exact.len();
    }
    tree_latencies.sort();
    let stats = tree.stats()?;

    let figures = IngestFigures {
        corpus: corpus
            .iter()
            .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
            .map(|p| p.display().to_string())
            .collect(),
        machine: machine(),
        files: report.files.len(),
        failed: t.failed,
        pages: t.pages,
        chunks: t.chunks,
        tokens: t.tokens,
        megabytes: t.bytes as f64 / 1e6,
        ingest_seconds,
        pages_per_second: per_second(t.pages as f64, ingest_seconds),
        chunks_per_second: pipeline_rate,
        tokens_per_second: per_second(t.tokens as f64, ingest_seconds),
        megabytes_per_second: per_second(t.bytes as f64 / 1e6, ingest_seconds),
        embedding_seconds_in_pipeline: t.embedding_time.as_secs_f64(),
        pure_embedding_seconds: pure_seconds,
        pure_embedding_chunks_per_second: pure_rate,
        pipeline_to_pure_embedding_ratio: if pure_rate > 0.0 {
            pipeline_rate / pure_rate
        } else {
            0.0
        },
        peak_rss_mib_during_ingest: peak_rss,
        reingest_unchanged_seconds: reingest,
        index_disk_mib: stats.disk_bytes as f64 / 1048576.0,
        search_queries: query_texts.len(),
        search_p50_ms: percentile(&latencies, 50.0),
        search_p95_ms: percentile(&latencies, 95.0),
        search_p99_ms: percentile(&latencies, 99.0),
        tree_search_p50_ms: percentile(&tree_latencies, 50.0),
        tree_search_p95_ms: percentile(&tree_latencies, 95.0),
        tree_recall_at_10: if wanted > 0 {
            hits as f64 / wanted as f64
        } else {
            0.0
        },
        tree_oversampling: tree_config.retrieval.oversampling,
        tree_count: tree_config.retrieval.n_trees,
        model: model_id,
        sample_in_order_chunks_per_second: sample_rates.0,
        sample_by_length_chunks_per_second: sample_rates.1,
        batch_size: batch,
        load_average: (load_at_start, load_at_end),
        peak_rss_mib_after_open: peak_rss_after_open,
        open_seconds,
        first_search_ms,
        queries: query_texts,
    };
    let markdown = ingest_markdown(&figures);
    println!("{markdown}");
    if let Some(out) = out {
        write_outputs(&out, "ingest", &figures, &markdown)?;
    }
    Ok(())
}

fn ingest_markdown(f: &IngestFigures) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("corpus", f.corpus.join(", ")),
        (
            "machine",
            format!(
                "{} cores ({}), {:.0} GiB",
                f.machine.cpus,
                f.machine.cpu(),
                f.machine.memory_gib
            ),
        ),
        ("files / failed", format!("{} / {}", f.files, f.failed)),
        (
            "pages / chunks / tokens",
            format!("{} / {} / {}", f.pages, f.chunks, f.tokens),
        ),
        ("ingest time", format!("{:.1} s", f.ingest_seconds)),
        (
            "ingest throughput",
            format!(
                "{:.2} pages/s, {:.1} chunks/s, {:.0} tokens/s, {:.3} MB/s",
                f.pages_per_second,
                f.chunks_per_second,
                f.tokens_per_second,
                f.megabytes_per_second
            ),
        ),
        (
            "pure embedding of the same chunks (by length)",
            format!(
                "{:.1} chunks/s ({:.1} s)",
                f.pure_embedding_chunks_per_second, f.pure_embedding_seconds
            ),
        ),
        (
            "640 chunks embedded in chunk order / by length",
            format!(
                "{:.1} / {:.1} chunks/s ({:.2}x)",
                f.sample_in_order_chunks_per_second,
                f.sample_by_length_chunks_per_second,
                if f.sample_in_order_chunks_per_second > 0.0 {
                    f.sample_by_length_chunks_per_second / f.sample_in_order_chunks_per_second
                } else {
                    0.0
                }
            ),
        ),
        (
            "pipeline / pure embedding",
            format!("{:.1}%", f.pipeline_to_pure_embedding_ratio * 100.0),
        ),
        (
            "peak RSS during ingest",
            format!(
                "{:.0} MiB ({:.0} MiB once the model was loaded)",
                f.peak_rss_mib_during_ingest, f.peak_rss_mib_after_open
            ),
        ),
        (
            "re-ingest unchanged corpus",
            format!("{:.2} s", f.reingest_unchanged_seconds),
        ),
        ("index size on disk", format!("{:.1} MiB", f.index_disk_mib)),
        (
            "first search after opening (model load included)",
            format!(
                "{:.2} s: open {:.2} s, then the search {:.1} ms",
                f.open_seconds + f.first_search_ms / 1000.0,
                f.open_seconds,
                f.first_search_ms
            ),
        ),
        (
            "search latency (embed + search, k=10)",
            format!(
                "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms over {} queries",
                f.search_p50_ms, f.search_p95_ms, f.search_p99_ms, f.search_queries
            ),
        ),
        (
            "arroy tree search alone",
            format!(
                "p50 {:.2} ms, p95 {:.2} ms ({} trees, oversampling {})",
                f.tree_search_p50_ms, f.tree_search_p95_ms, f.tree_count, f.tree_oversampling
            ),
        ),
        (
            "tree recall@10 vs exact",
            format!("{:.4}", f.tree_recall_at_10),
        ),
    ];
    rows.insert(
        1,
        (
            "embedding model, batch size",
            format!("{}, {} chunks per call", f.model, f.batch_size),
        ),
    );
    rows.insert(
        2,
        (
            "load average (1 min) at start / end",
            format!("{:.2} / {:.2}", f.load_average.0, f.load_average.1),
        ),
    );
    let mut md = String::from("| measure | value |\n|---|---|\n");
    for (k, v) in rows {
        md.push_str(&format!("| {k} | {v} |\n"));
    }
    md
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ingest {
            corpus,
            queries,
            out,
            model_dir,
            model,
            keep,
        } => run_ingest(IngestOptions {
            corpus,
            queries,
            out,
            model_dir,
            model,
            keep,
        }),
        Command::Scifact {
            data,
            out,
            model_dir,
            model,
            chunk_tokens,
            chunk_overlap,
            skip_mteb,
            skip_tuning,
            name,
            cache,
        } => {
            let data = data.unwrap_or_else(default_scifact);
            let options = scifact::Options {
                model_dir,
                model,
                chunk_tokens,
                chunk_overlap,
                skip_mteb,
                skip_tuning,
                cache,
            };
            scifact::run(&data, options).and_then(|figures| {
                let markdown = scifact::markdown(&figures);
                println!("{markdown}");
                match out {
                    Some(out) => write_outputs(&out, &name, &figures, &markdown),
                    None => Ok(()),
                }
            })
        }
        Command::Followups {
            corpus,
            set,
            out,
            model_dir,
            cache,
            rewrite_url,
            rewrite_model,
        } => {
            let (default_corpus, default_set) = followups::defaults();
            let settings = followups::Settings {
                corpus: corpus.unwrap_or(default_corpus),
                set: set.unwrap_or(default_set),
                out,
                model_dir,
                cache,
                rewrite_url,
                rewrite_model,
            };
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| itassist::Error::Io {
                    path: None,
                    source: e,
                })
                .and_then(|rt| rt.block_on(followups::run(settings)))
                .map(|figures| println!("{}", followups::markdown(&figures)))
        }
        Command::Spanish {
            corpus,
            questions,
            out,
            model_dir,
            models,
            cache,
            explain,
            settings_from,
        } => {
            let options = spanish::Options {
                corpus: corpus.unwrap_or_else(spanish::default_corpus),
                questions: questions.unwrap_or_else(spanish::default_questions),
                model_dir,
                models,
                cache,
                explain,
                settings_from,
            };
            spanish::run(&options).and_then(|figures| {
                let markdown = spanish::markdown(&figures);
                println!("{markdown}");
                match out {
                    Some(out) => write_outputs(&out, "spanish", &figures, &markdown),
                    None => Ok(()),
                }
            })
        }
        Command::Scale {
            index,
            corpus,
            queries,
            out,
            model_dir,
        } => scale::run(scale::Options {
            index,
            corpus,
            model_dir: model_dir
                .or_else(|| std::env::var_os("ITASSIST_MODEL_DIR").map(PathBuf::from)),
            scifact_queries: default_scifact().join("queries.jsonl"),
            spanish_questions: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("data/spanish-questions.json"),
            queries,
        })
        .and_then(|figures| {
            let md = scale::markdown(&figures);
            println!("{md}");
            match out {
                Some(out) => write_outputs(&out, "scale", &figures, &md),
                None => Ok(()),
            }
        }),
        Command::Micro { criterion, out } => micro::collect(&criterion).and_then(|results| {
            let markdown = micro::markdown(&results);
            println!("{markdown}");
            write_outputs(&out, "micro", &results, &markdown)
        }),
        Command::Peer {
            ingest,
            scifact,
            figures,
            data,
        } => {
            let data = data.unwrap_or_else(default_scifact);
            peer::compare(&figures, &ingest, scifact.as_deref(), &data).and_then(|compared| {
                let markdown = peer::markdown(&compared);
                println!("{markdown}");
                write_outputs(&figures, "peer", &compared, &markdown)
            })
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error[{}]: {}", e.code(), e.display_chain());
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CpuTicks;

    #[test]
    fn steal_is_the_hypervisors_share_of_the_cpu_time_between_two_readings() {
        // Two readings of a 2-CPU guest's /proc/stat: 1,000 ticks pass, 50 of them stolen.
        let before = "cpu  6753335 605620 671029 3241594 35667 0 10199 135309 0 0\n\
                      cpu0 3227439 279575 302973 1837646 9549 0 847 67496 0 0\n\
                      intr 1 2 3\n";
        let after = "cpu  6753935 605620 671129 3241844 35667 0 10199 135359 0 0\n\
                     cpu0 3227739 279575 303023 1837771 9549 0 847 67521 0 0\n";
        let start = CpuTicks::from_proc_stat(before).expect("a cpu line");
        let end = CpuTicks::from_proc_stat(after).expect("a cpu line");
        assert_eq!(end.steal_percent_since(start), Some(5.0));
        // No time passed, or counters that went backwards: nothing to say.
        assert_eq!(start.steal_percent_since(start), None);
        assert_eq!(start.steal_percent_since(end), None);
        assert!(CpuTicks::from_proc_stat("cpu0 1 2 3\n").is_none());
        assert!(CpuTicks::from_proc_stat("cpu  1 2 x 4 5 6 7 8\n").is_none());
    }
}
