//! The `itassist` command: ingest documents, search them, list and remove them.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use itassist::{Assistant, Config, Error, FileStatus, IngestEvent};

/// A local assistant over your IT documents.
#[derive(Debug, Parser)]
#[command(name = "itassist", version, about, long_about = None)]
struct Cli {
    /// Index directory [default: $ITASSIST_DATA_DIR, else ~/.local/share/itassist].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Local embedding model directory (model.onnx + tokenizer files) [env: ITASSIST_MODEL_DIR].
    #[arg(long, global = true, value_name = "DIR")]
    model_dir: Option<PathBuf>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest files, folders (recursively) and glob patterns.
    Ingest {
        /// Files, folders or quoted glob patterns ("docs/**/*.pdf").
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Do not run OCR on images and scanned pages.
        #[arg(long)]
        no_ocr: bool,
        /// OCR languages (Tesseract codes, e.g. eng,spa).
        #[arg(long, value_delimiter = ',', value_name = "LANGS")]
        ocr_lang: Option<Vec<String>>,
    },
    /// Find the passages that best match a query.
    Search {
        /// The query.
        query: String,
        /// Number of passages.
        #[arg(short, long, default_value_t = 5)]
        k: usize,
    },
    /// List the indexed documents.
    Docs,
    /// Remove a document (by id, path or name) with its chunks and vectors.
    Rm {
        /// Document id, source path, or name.
        document: String,
    },
    /// Show index counts and sizes.
    Stats,
}

fn config_for(cli: &Cli) -> Config {
    let mut config = match &cli.data_dir {
        Some(dir) => Config::new(dir),
        None => Config::default(),
    };
    if let Some(dir) = &cli.model_dir {
        config.embedding.model_dir = Some(dir.clone());
    }
    if let Command::Ingest {
        no_ocr, ocr_lang, ..
    } = &cli.command
    {
        config.loading.ocr = !no_ocr;
        if let Some(langs) = ocr_lang {
            config.loading.ocr_languages = langs.clone();
        }
    }
    config
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::InvalidInput(format!("cannot encode the output as JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

fn one_line(text: &str, width: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= width {
        flat
    } else {
        let cut: String = flat.chars().take(width).collect();
        format!("{cut}…")
    }
}

fn run(cli: &Cli) -> Result<ExitCode, Error> {
    let assistant = Assistant::open(config_for(cli))?;
    match &cli.command {
        Command::Ingest { paths, .. } => ingest(&assistant, paths, cli.json),
        Command::Search { query, k } => {
            let passages = assistant.search(query, *k)?;
            if cli.json {
                print_json(&passages)?;
            } else if passages.is_empty() {
                println!("no passages: the index is empty (run `itassist ingest <paths>`)");
            } else {
                for (rank, p) in passages.iter().enumerate() {
                    println!("{}. [{:.3}] {}", rank + 1, p.score, p.citation());
                    println!("   {}", p.source);
                    println!("   {}", one_line(&p.text, 300));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Docs => {
            let docs = assistant.documents()?;
            if cli.json {
                print_json(&docs)?;
            } else {
                println!("{:>6}  {:<8} {:>6} {:>7}  SOURCE", "ID", "FORMAT", "PAGES", "CHUNKS");
                for d in &docs {
                    let format = serde_json::to_value(d.format)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let pages = d.page_count.map(|p| p.to_string()).unwrap_or("-".into());
                    println!(
                        "{:>6}  {:<8} {:>6} {:>7}  {}",
                        d.id, format, pages, d.chunk_count, d.source
                    );
                }
                println!("{} documents", docs.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rm { document } => {
            let removed = assistant.remove(document)?;
            if cli.json {
                print_json(&removed)?;
            } else {
                println!(
                    "removed document {} ({}) and its {} chunks",
                    removed.id, removed.source, removed.chunk_count
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats => {
            let stats = assistant.stats()?;
            if cli.json {
                print_json(&stats)?;
            } else {
                println!("data dir:   {}", stats.data_dir.display());
                println!("documents:  {}", stats.documents);
                println!("chunks:     {}", stats.chunks);
                println!("tokens:     {}", stats.tokens);
                println!("disk:       {:.1} MiB", stats.disk_bytes as f64 / 1048576.0);
                println!("model:      {} ({} dimensions)", stats.embedding_model, stats.dimensions);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn ingest(assistant: &Assistant, paths: &[PathBuf], json: bool) -> Result<ExitCode, Error> {
    let interactive = std::io::stderr().is_terminal() && !json;
    let bar = ProgressBar::hidden();
    if interactive {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files ({per_sec}, eta {eta}) {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let quiet_log = !interactive && !json;
    let progress = |event: &IngestEvent| match event {
        IngestEvent::Discovered { files } => {
            bar.set_length(*files as u64);
            if quiet_log {
                eprintln!("ingesting {files} files");
            }
        }
        IngestEvent::File(file) => {
            bar.inc(1);
            bar.set_message(file.path.display().to_string());
            if quiet_log {
                let done = bar.position();
                let total = bar.length().unwrap_or(0);
                // Without a terminal, a line every 10% (and per failure) shows progress.
                if matches!(file.status, FileStatus::Failed { .. })
                    || done == total
                    || (total >= 10 && done % (total / 10).max(1) == 0)
                {
                    eprintln!("[{done}/{total}] {} {}", file.status.label(), file.path.display());
                }
            }
        }
        IngestEvent::BuildingIndex => bar.set_message("updating the vector index"),
        _ => {}
    };
    let report = assistant.ingest_with_progress(paths, &progress)?;
    bar.finish_and_clear();
    if json {
        print_json(&report)?;
    } else {
        let t = &report.totals;
        println!(
            "{} added, {} replaced, {} unchanged, {} duplicates, {} skipped, {} failed; {} chunks, {} pages in {:.1}s",
            t.added, t.replaced, t.unchanged, t.duplicates, t.skipped, t.failed, t.chunks, t.pages,
            t.elapsed.as_secs_f64()
        );
        let failures: Vec<_> = report.failures().collect();
        if !failures.is_empty() {
            eprintln!("\nfailed files:");
            for f in failures {
                if let Some(err) = f.status.error() {
                    eprintln!("  [{}] {}", err.code(), err);
                }
            }
        }
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(err) => {
            if cli.json {
                let body = serde_json::json!({"error": {"code": err.code(), "message": err.display_chain()}});
                println!("{body}");
            } else {
                eprintln!("error[{}]: {}", err.code(), err.display_chain());
            }
            ExitCode::from(2)
        }
    }
}
