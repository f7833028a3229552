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
#[derive(Debug, Serialize)]
pub struct PeerFigures {
    pub peer_ingest: PeerIngest,
    pub peer_scifact_documents: usize,
    pub peer_scifact_chunks: u64,
    pub peer_scifact_ingest_seconds: f64,
    pub peer_scifact_test: Scores,
    pub itassist_scifact_dense: Option<Scores>,
    pub itassist_scifact_default: Option<Scores>,
    pub itassist_scifact_ingest_seconds: f64,
    pub itassist_ingest_seconds: f64,
    pub itassist_search_p50_ms: f64,
    pub itassist_search_p95_ms: f64,
    pub itassist_search_p99_ms: f64,
    pub itassist_index_disk_mib: f64,
}

/// Scores the peer's runs and joins them with itassist's figures in `figures_dir`.
pub fn compare(
    figures_dir: &Path,
    peer_ingest: &Path,
    peer_scifact: &Path,
    data: &Path,
) -> Result<PeerFigures> {
    let ours: IngestFigures =
        read_json(&figures_dir.join("ingest.json"), "`itassist-bench ingest`")?;
    let scifact: ScifactFigures = read_json(
        &figures_dir.join("scifact.json"),
        "`itassist-bench scifact`",
    )?;
    let peer_ingest: PeerIngest = read_json(peer_ingest, "`peer.py ingest`")?;
    let peer_scifact: PeerScifact = read_json(peer_scifact, "`peer.py scifact`")?;
    let test = read_qrels(&data.join("qrels/test.tsv"))?;
    let row = |prefix: &str| {
        scifact
            .rows
            .iter()
            .find(|r| r.retriever.starts_with(prefix))
            .map(|r| r.test.clone())
    };
    Ok(PeerFigures {
        peer_scifact_documents: peer_scifact.documents,
        peer_scifact_chunks: peer_scifact.chunks,
        peer_scifact_ingest_seconds: peer_scifact.ingest_seconds,
        peer_scifact_test: evaluate(&peer_scifact.test_runs, &test),
        peer_ingest,
        itassist_scifact_dense: row("dense, itassist chunks"),
        itassist_scifact_default: row("hybrid RRF, defaults"),
        itassist_scifact_ingest_seconds: scifact.ingest_seconds,
        itassist_ingest_seconds: ours.ingest_seconds,
        itassist_search_p50_ms: ours.search_p50_ms,
        itassist_search_p95_ms: ours.search_p95_ms,
        itassist_search_p99_ms: ours.search_p99_ms,
        itassist_index_disk_mib: ours.index_disk_mib,
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
            format!("{:.0} s", f.itassist_scifact_ingest_seconds),
            format!(
                "{:.0} s ({} chunks)",
                f.peer_scifact_ingest_seconds, f.peer_scifact_chunks
            ),
            ratio(
                f.itassist_scifact_ingest_seconds,
                f.peer_scifact_ingest_seconds,
            ),
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
    md
}
