//! The Rust side of the Node binding's overhead figures (`node/bench/overhead.mjs` runs it):
//! times `search`, `stats` and `embed` through the core directly, on the same index and texts
//! the Node side uses, and prints one JSON line.
//!
//! ```text
//! node_overhead DATA_DIR TEXTS_JSON SEARCHES QUERY
//! ```
//!
//! The embedding model comes from `ITASSIST_MODEL_DIR`, ONNX Runtime from `ORT_DYLIB_PATH`.

use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("overhead: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, texts_path, searches, query] = args.as_slice() else {
        return Err("usage: node_overhead DATA_DIR TEXTS_JSON SEARCHES QUERY".into());
    };
    let searches: usize = searches.parse()?;
    let texts: Vec<String> = serde_json::from_str(&std::fs::read_to_string(texts_path)?)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    let assistant = itassist::Assistant::open(itassist::Config::new(data_dir))?;
    // Warm up (first calls load pages and allocate).
    for _ in 0..20 {
        assistant.search(query, 5)?;
    }

    let started = Instant::now();
    for _ in 0..searches {
        assistant.search(query, 5)?;
    }
    let search_us = started.elapsed().as_secs_f64() * 1e6 / searches as f64;

    let stats_calls = 10_000;
    let started = Instant::now();
    for _ in 0..stats_calls {
        assistant.stats()?;
    }
    let stats_us = started.elapsed().as_secs_f64() * 1e6 / stats_calls as f64;

    assistant.embed(&refs[..refs.len().min(32)])?;
    let started = Instant::now();
    let vectors = assistant.embed(&refs)?;
    let embed_seconds = started.elapsed().as_secs_f64();

    println!(
        "{}",
        serde_json::json!({
            "search_us": search_us,
            "stats_us": stats_us,
            "embed_texts": vectors.len(),
            "embed_seconds": embed_seconds,
            "embed_texts_per_second": vectors.len() as f64 / embed_seconds,
        })
    );
    Ok(())
}
