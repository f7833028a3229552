//! The peer comparison: itassist against the original sketch's Python stack (LangChain
//! 1000/200 character chunks, Chroma, all-MiniLM-L6-v2) on the same PDFs, the same timed
//! queries and SciFact. `benches/peer/peer.py` measures the peer and writes raw figures and
//! rankings; this module scores the rankings with the code that scores itassist and writes
//! the comparison table next to itassist's own figures.

use std::collections::HashMap;
use std::path::Path;

use itassist::Result;
use serde::{Deserialize, Serialize};

use crate::scifact::{evaluate, read_qrels, ScifactFigures, Scores};
use crate::{read_json, IngestFigures};

/// What `peer.py ingest` measured on the PDFs.
#[derive(Debug, Serialize, Deserialize)]
pub struct PeerIngest {
    pub files: usize,
    pub pages: u64,
    pub chunks: u64,
    pub megabytes: f64,
    pub parse_and_split_seconds: f64,
    pub ingest_seconds: f64,
    pub search_queries: usize,
    pub search_p50_ms: f64,
    pub search_p95_ms: f64,
    pub search_p99_ms: f64,
    pub index_disk_mib: f64,
    pub stack: HashMap<String, String>,
    /// The machine's 1-minute load average when the peer's ingest started and ended.
    #[serde(default)]
    pub load_average: Option<(f64, f64)>,
}

/// What `peer.py scifact` measured, with its test rankings (document ids, best first).
#[derive(Debug, Serialize, Deserialize)]
pub struct PeerScifact {
    pub documents: usize,
    pub chunks: u64,
    pub ingest_seconds: f64,
    pub test_runs: HashMap<String, Vec<String>>,
}

/// The comparison written to `peer.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PeerFigures {
    pub peer_ingest: PeerIngest,
    pub peer_scifact_documents: usize,
    pub peer_scifact_chunks: u64,
    pub peer_scifact_ingest_seconds: f64,
    pub peer_scifact_test: Scores,
    pub itassist_scifact_dense: Option<Scores>,
    pub itassist_scifact_default: Option<Scores>,
    /// `None` when the SciFact run reused a cached index (nothing was timed).
    #[serde(default)]
    pub itassist_scifact_ingest_seconds: Option<f64>,
    pub itassist_ingest_seconds: f64,
    pub itassist_search_p50_ms: f64,
    pub itassist_search_p95_ms: f64,
    pub itassist_search_p99_ms: f64,
    pub itassist_index_disk_mib: f64,
    /// The embedding model itassist ingested with.
    #[serde(default)]
    pub itassist_model: String,
    /// The load average (1 minute) at the start and end of itassist's ingest.
    #[serde(default)]
    pub itassist_load_average: (f64, f64),
}

/// The peer's SciFact figures: scored from its rankings, or (`None`) taken from the
/// `peer.json` of an earlier comparison (the peer's SciFact run does not change).
fn peer_scifact_figures(
    figures_dir: &Path,
    peer_scifact: Option<&Path>,
    data: &Path,
) -> Result<(usize, u64, f64, Scores)> {
    match peer_scifact {
        Some(path) => {
            let peer: PeerScifact = read_json(path, "`peer.py scifact`")?;
            let test = read_qrels(&data.join("qrels/test.tsv"))?;
            let scores = evaluate(&peer.test_runs, &test);
            Ok((peer.documents, peer.chunks, peer.ingest_seconds, scores))
        }
        None => {
            let earlier: PeerFigures = read_json(
                &figures_dir.join("peer.json"),
                "`bash scripts/bench.sh peer`",
            )?;
            Ok((
                earlier.peer_scifact_documents,
                earlier.peer_scifact_chunks,
                earlier.peer_scifact_ingest_seconds,
                earlier.peer_scifact_test,
            ))
        }
    }
}

/// Scores the peer's runs and joins them with itassist's figures in `figures_dir`.
pub fn compare(
    figures_dir: &Path,
    peer_ingest: &Path,
    peer_scifact: Option<&Path>,
    data: &Path,
) -> Result<PeerFigures> {
    let ours: IngestFigures =
        read_json(&figures_dir.join("ingest.json"), "`itassist-bench ingest`")?;
    let scifact: ScifactFigures = read_json(
        &figures_dir.join("scifact.json"),
        "`itassist-bench scifact`",
    )?;
    let peer_ingest: PeerIngest = read_json(peer_ingest, "`peer.py ingest`")?;
    let (documents, chunks, seconds, scores) =
        peer_scifact_figures(figures_dir, peer_scifact, data)?;
    let row = |prefix: &str| {
        scifact
            .rows
            .iter()
            .find(|r| r.retriever.starts_with(prefix))
            .map(|r| r.test.clone())
    };
    Ok(PeerFigures {
        peer_scifact_documents: documents,
        peer_scifact_chunks: chunks,
        peer_scifact_ingest_seconds: seconds,
        peer_scifact_test: scores,
        peer_ingest,
        itassist_scifact_dense: row("dense, itassist chunks"),
        itassist_scifact_default: row("hybrid RRF, defaults"),
        itassist_scifact_ingest_seconds: (!scifact.ingest_cached).then_some(scifact.ingest_seconds),
        itassist_ingest_seconds: ours.ingest_seconds,
        itassist_search_p50_ms: ours.search_p50_ms,
        itassist_search_p95_ms: ours.search_p95_ms,
        itassist_search_p99_ms: ours.search_p99_ms,
        itassist_index_disk_mib: ours.index_disk_mib,
        itassist_model: ours.model,
        itassist_load_average: ours.load_average,
    })
}

fn ratio(ours: f64, peer: f64) -> String {
    if peer > 0.0 {
        format!("{:.2}", ours / peer)
    } else {
        "n/a".into()
    }
}

/// The comparison as a Markdown table.
pub fn markdown(f: &PeerFigures) -> String {
    let p = &f.peer_ingest;
    let mut rows: Vec<(String, String, String, String)> = vec![
        (
            format!("PDFs ({} files, {} pages): ingest time", p.files, p.pages),
            format!("{:.1} s", f.itassist_ingest_seconds),
            format!("{:.1} s ({} chunks)", p.ingest_seconds, p.chunks),
            ratio(f.itassist_ingest_seconds, p.ingest_seconds),
        ),
        (
            "PDFs: search latency p50 (query text to top 10)".into(),
            format!("{:.2} ms", f.itassist_search_p50_ms),
            format!("{:.2} ms", p.search_p50_ms),
            ratio(f.itassist_search_p50_ms, p.search_p50_ms),
        ),
        (
            "PDFs: search latency p95".into(),
            format!("{:.2} ms", f.itassist_search_p95_ms),
            format!("{:.2} ms", p.search_p95_ms),
            ratio(f.itassist_search_p95_ms, p.search_p95_ms),
        ),
        (
            "PDFs: search latency p99".into(),
            format!("{:.2} ms", f.itassist_search_p99_ms),
            format!("{:.2} ms", p.search_p99_ms),
            ratio(f.itassist_search_p99_ms, p.search_p99_ms),
        ),
        (
            "PDFs: index size on disk".into(),
            format!("{:.1} MiB", f.itassist_index_disk_mib),
            format!("{:.1} MiB", p.index_disk_mib),
            ratio(f.itassist_index_disk_mib, p.index_disk_mib),
        ),
        (
            format!(
                "SciFact ({} documents): ingest time",
                f.peer_scifact_documents
            ),
            f.itassist_scifact_ingest_seconds.map_or_else(
                || "not timed (cached index; see the models section)".into(),
                |s| format!("{s:.0} s"),
            ),
            format!(
                "{:.0} s ({} chunks)",
                f.peer_scifact_ingest_seconds, f.peer_scifact_chunks
            ),
            f.itassist_scifact_ingest_seconds
                .map_or_else(|| "n/a".into(), |s| ratio(s, f.peer_scifact_ingest_seconds)),
        ),
    ];
    let peer = &f.peer_scifact_test;
    let mut quality = |label: &str, ours: &Option<Scores>| {
        if let Some(ours) = ours {
            for (name, a, b) in [
                ("nDCG@10", ours.ndcg_at_10, peer.ndcg_at_10),
                ("Recall@100", ours.recall_at_100, peer.recall_at_100),
                ("MRR@10", ours.mrr_at_10, peer.mrr_at_10),
            ] {
                rows.push((
                    format!("SciFact test {name}, itassist {label}"),
                    format!("{a:.4}"),
                    format!("{b:.4}"),
                    ratio(a, b),
                ));
            }
        }
    };
    quality("dense (chunks, best chunk)", &f.itassist_scifact_dense);
    quality("default retriever (hybrid)", &f.itassist_scifact_default);

    let mut md =
        String::from("| measure | itassist | peer | itassist / peer |\n|---|---|---|---|\n");
    for (measure, ours, theirs, r) in rows {
        md.push_str(&format!("| {measure} | {ours} | {theirs} | {r} |\n"));
    }
    let mut stack: Vec<_> = p.stack.iter().collect();
    stack.sort();
    md.push_str("\nPeer stack: ");
    md.push_str(
        &stack
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; "),
    );
    md.push_str(
        ".\nFor times and sizes a ratio below 1 means itassist is faster or smaller; \
         for scores a ratio above 1 means itassist ranks better.\n",
    );
    if f.itassist_ingest_seconds > 0.0 {
        md.push_str(&format!(
            "\nOn the PDFs itassist ({}) ingests {:.2}x as fast as the peer. Load average \
             (1 minute, start / end of the ingest): itassist {:.2} / {:.2}, peer {}.\n",
            if f.itassist_model.is_empty() {
                "model not recorded"
            } else {
                f.itassist_model.as_str()
            },
            p.ingest_seconds / f.itassist_ingest_seconds,
            f.itassist_load_average.0,
            f.itassist_load_average.1,
            p.load_average
                .map(|(a, b)| format!("{a:.2} / {b:.2}"))
                .unwrap_or_else(|| "not recorded".into())
        ));
    }
    md
}
