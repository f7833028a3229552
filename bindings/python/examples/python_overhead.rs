//! The Rust side of the Python-overhead figures in `docs/python.md`: times the same calls that
//! `examples/python/bench_overhead.py` makes from Python, on the same index and texts, and
//! prints one JSON line.
//!
//! ```text
//! cargo run --release -p itassist-python --example overhead -- DATA_DIR QUERY SEARCHES TEXTS_JSON
//! ```
//! Searches are timed as the best of three rounds of SEARCHES calls, `stats()` as the best of
//! three rounds of 10,000 calls. `TEXTS_JSON` is a file holding a JSON array of strings to embed (all in one call, as
//! `Assistant.embed` does). The model comes from `ITASSIST_MODEL_DIR`.

use std::time::Instant;

/// Calls of `stats()` per timing round.
const STATS_CALLS: usize = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, query, searches, texts] = args.as_slice() else {
        return Err("usage: overhead DATA_DIR QUERY SEARCHES TEXTS_JSON".into());
    };
    let searches: usize = searches.parse()?;
    let texts: Vec<String> = serde_json::from_str(&std::fs::read_to_string(texts)?)?;
    let mut config = itassist::Config::new(data_dir);
    config.loading.ocr = false;
    let assistant = itassist::Assistant::open(config)?;

    // Warm up, then time the searches one by one (as a Python loop does): the best of three
    // rounds, since the model's time varies with the machine's load.
    for _ in 0..10 {
        assistant.search(query, 5)?;
    }
    let mut search_us = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        for _ in 0..searches {
            assistant.search(query, 5)?;
        }
        search_us = search_us.min(started.elapsed().as_secs_f64() * 1e6 / searches as f64);
    }

    // A call without the model (one LMDB read): what a binding adds shows here.
    let mut stats_us = f64::INFINITY;
    for _ in 0..3 {
        let started = Instant::now();
        for _ in 0..STATS_CALLS {
            assistant.stats()?;
        }
        stats_us = stats_us.min(started.elapsed().as_secs_f64() * 1e6 / STATS_CALLS as f64);
    }

    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    assistant.embed(&refs[..refs.len().min(32)])?;
    let started = Instant::now();
    let vectors = assistant.embed(&refs)?;
    let embed_seconds = started.elapsed().as_secs_f64();

    println!(
        "{}",
        serde_json::json!({
            "search_us_per_call": search_us,
            "stats_us_per_call": stats_us,
            "searches": searches,
            "embed_texts": vectors.len(),
            "embed_texts_per_second": vectors.len() as f64 / embed_seconds,
        })
    );
    Ok(())
}
