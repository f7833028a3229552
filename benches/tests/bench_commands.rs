//! Runs the `itassist-bench` commands that `scripts/bench.sh` chains, on small real inputs:
//! a real PDF for the ingest figures and a slice of BEIR SciFact for retrieval quality.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn shared(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(relative);
    assert!(path.exists(), "shared input missing: {}", path.display());
    path
}

fn bench(args: &[&str]) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_itassist-bench"))
        .args(args)
        .output()
        .expect("run itassist-bench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "itassist-bench {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} not written: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn ingest_figures_of_a_real_pdf() {
    let out = tempfile::tempdir().unwrap();
    let pdf = shared("corpus/debdocs/pdf/refcard-en-a4.pdf");
    let out_dir = out.path().to_str().unwrap();
    let (stdout, _) = bench(&[
        "ingest",
        "--corpus",
        pdf.to_str().unwrap(),
        "--queries",
        "5",
        "--out",
        out_dir,
    ]);
    assert!(stdout.contains("| ingest throughput |"), "{stdout}");
    let figures = read_json(&out.path().join("ingest.json"));
    assert_eq!(figures["files"], 1);
    assert_eq!(figures["failed"], 0);
    assert_eq!(figures["pages"], 2, "the reference card has two pages");
    assert!(figures["chunks"].as_u64().unwrap() > 5);
    assert!(figures["tokens"].as_u64().unwrap() > 1000);
    assert!(figures["peak_rss_mib_during_ingest"].as_f64().unwrap() > 0.0);
    assert!(figures["index_disk_mib"].as_f64().unwrap() > 0.0);
    let queries = figures["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 5, "the timed queries are kept for the peer");
    assert_eq!(figures["search_queries"], 5);
    let recall = figures["tree_recall_at_10"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&recall), "{recall}");
    let markdown = std::fs::read_to_string(out.path().join("ingest.md")).unwrap();
    assert!(markdown.contains("| pages / chunks / tokens |"));
}

/// A slice of SciFact: the first judged queries of each split, their relevant documents and
/// a few hundred others, in the BEIR layout.
fn scifact_slice(dir: &Path, queries_per_split: usize, extra_documents: usize) {
    let source = shared("data/scifact");
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    let mut wanted_docs = BTreeSet::new();
    let mut wanted_queries = BTreeSet::new();
    for split in ["test", "train"] {
        let text = std::fs::read_to_string(source.join(format!("qrels/{split}.tsv"))).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let mut kept = vec![header.to_string()];
        let mut seen = BTreeSet::new();
        for line in lines {
            let cols: Vec<&str> = line.split('\t').collect();
            if seen.len() == queries_per_split && !seen.contains(cols[0]) {
                break;
            }
            seen.insert(cols[0].to_string());
            wanted_queries.insert(cols[0].to_string());
            wanted_docs.insert(cols[1].to_string());
            kept.push(line.to_string());
        }
        std::fs::write(dir.join(format!("qrels/{split}.tsv")), kept.join("\n")).unwrap();
    }
    let corpus = std::fs::read_to_string(source.join("corpus.jsonl")).unwrap();
    let mut lines = Vec::new();
    for (i, line) in corpus.lines().enumerate() {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        if i < extra_documents || wanted_docs.contains(doc["_id"].as_str().unwrap()) {
            lines.push(line);
        }
    }
    std::fs::write(dir.join("corpus.jsonl"), lines.join("\n")).unwrap();
    let queries = std::fs::read_to_string(source.join("queries.jsonl")).unwrap();
    let kept: Vec<&str> = queries
        .lines()
        .filter(|line| {
            let q: serde_json::Value = serde_json::from_str(line).unwrap();
            wanted_queries.contains(q["_id"].as_str().unwrap())
        })
        .collect();
    std::fs::write(dir.join("queries.jsonl"), kept.join("\n")).unwrap();
}

#[test]
fn scifact_quality_on_a_slice_of_the_benchmark() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("scifact");
    scifact_slice(&data, 15, 150);
    let out = work.path().join("out");
    bench(&[
        "scifact",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let figures = read_json(&out.join("scifact.json"));
    assert_eq!(figures["test_queries"], 15);
    assert_eq!(figures["train_queries"], 15);
    let rows = figures["rows"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["retriever"].as_str().unwrap())
        .collect();
    for prefix in [
        "dense all-MiniLM-L6-v2, one vector per document",
        "dense, itassist chunks",
        "BM25",
        "hybrid RRF, defaults",
        "hybrid, tuned on train",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "no {prefix} row in {names:?}"
        );
    }
    // The tuned settings name their fusion method, which the Spanish bench applies.
    let method = figures["hybrid_fusion"].as_str().unwrap_or_default();
    assert!(["rrf", "scores"].contains(&method), "{method:?}");
    // Among ~170 abstracts the relevant one is found near the top by every retriever; a
    // broken embedding or index would score near zero.
    for row in rows {
        let ndcg = row["test"]["ndcg_at_10"].as_f64().unwrap();
        let recall = row["test"]["recall_at_100"].as_f64().unwrap();
        assert!(ndcg > 0.6, "{}: nDCG@10 {ndcg}", row["retriever"]);
        assert!(recall > 0.9, "{}: Recall@100 {recall}", row["retriever"]);
    }
}
