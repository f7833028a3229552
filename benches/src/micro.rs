//! Collects the results of the criterion micro-benchmarks (`cargo bench -p itassist-bench
//! --bench steps`) from criterion's output folder into one JSON file and a Markdown table.

use std::path::{Path, PathBuf};

use itassist::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::read_json;

/// The command that writes criterion's results.
const BENCH_COMMAND: &str = "`cargo bench -p itassist-bench --bench steps`";

#[derive(Debug, Deserialize)]
struct BenchmarkId {
    group_id: String,
    function_id: Option<String>,
    throughput: Option<Throughput>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Throughput {
    Bytes(u64),
    BytesDecimal(u64),
    Elements(u64),
}

#[derive(Debug, Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Debug, Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Debug, Deserialize)]
struct Estimates {
    mean: Estimate,
}

/// One micro-benchmark: its mean time per iteration (ns) with the 95% interval.
#[derive(Debug, Serialize)]
pub struct MicroResult {
    pub group: String,
    pub benchmark: String,
    pub mean_ns: f64,
    pub mean_low_ns: f64,
    pub mean_high_ns: f64,
    pub throughput: Option<String>,
}

fn find_results(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "new") {
                if path.join("benchmark.json").is_file() {
                    found.push(path);
                }
            } else {
                find_results(&path, found)?;
            }
        }
    }
    Ok(())
}

fn format_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn format_throughput(throughput: &Throughput, ns: f64) -> String {
    let per_second = |n: u64| n as f64 / (ns / 1e9);
    match throughput {
        Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
            format!("{:.2} MB/s", per_second(*n) / 1e6)
        }
        Throughput::Elements(n) => format!("{:.1} items/s ({n} per iteration)", per_second(*n)),
    }
}

/// Reads every benchmark criterion recorded under `criterion_dir` (its `new` results).
pub fn collect(criterion_dir: &Path) -> Result<Vec<MicroResult>> {
    let mut dirs = Vec::new();
    find_results(criterion_dir, &mut dirs)?;
    let mut results = Vec::new();
    for dir in dirs {
        let id: BenchmarkId = read_json(&dir.join("benchmark.json"), BENCH_COMMAND)?;
        let estimates: Estimates = read_json(&dir.join("estimates.json"), BENCH_COMMAND)?;
        let mean = estimates.mean;
        results.push(MicroResult {
            group: id.group_id,
            benchmark: id.function_id.unwrap_or_default(),
            throughput: id
                .throughput
                .map(|t| format_throughput(&t, mean.point_estimate)),
            mean_ns: mean.point_estimate,
            mean_low_ns: mean.confidence_interval.lower_bound,
            mean_high_ns: mean.confidence_interval.upper_bound,
        });
    }
    if results.is_empty() {
        return Err(Error::InvalidInput(format!(
            "no criterion results under {}: run {BENCH_COMMAND} first",
            criterion_dir.display()
        )));
    }
    results.sort_by(|a, b| (&a.group, &a.benchmark).cmp(&(&b.group, &b.benchmark)));
    Ok(results)
}

/// The results as a Markdown table.
pub fn markdown(results: &[MicroResult]) -> String {
    let mut md = String::from(
        "| group | benchmark | mean time | 95% interval | throughput |\n|---|---|---|---|---|\n",
    );
    for r in results {
        md.push_str(&format!(
            "| {} | {} | {} | {} – {} | {} |\n",
            r.group,
            r.benchmark,
            format_time(r.mean_ns),
            format_time(r.mean_low_ns),
            format_time(r.mean_high_ns),
            r.throughput.as_deref().unwrap_or("")
        ));
    }
    md
}
