//! The `itassist` command: ingest documents, search them, list and remove them, ask a local
//! model about them, list and pull models.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod chat;
mod sync;
use indicatif::{ProgressBar, ProgressStyle};
use itassist::ollama::backend_from_config;
use itassist::{
    Answer, AskEvent, AskOptions, Assistant, Backend, Config, Error, FileStatus, IngestEvent,
};

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

    /// Embedding model by name, e.g. all-MiniLM-L6-v2-int8 (default; an existing index keeps
    /// the model it was made with), all-MiniLM-L6-v2 (fp32), multilingual-e5-small (Spanish
    /// and other languages); see docs/models.md.
    #[arg(long, global = true, value_name = "NAME")]
    embedding_model: Option<String>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    /// Chat-model server URL [default: $OLLAMA_HOST, else http://localhost:11434]; `host:port`
    /// is accepted.
    #[arg(long, global = true, value_name = "URL")]
    ollama_url: Option<String>,

    /// API of the chat-model server: `ollama` (native) or `openai` (OpenAI-compatible:
    /// llama-server, vLLM, LM Studio, Ollama's /v1).
    #[arg(long, global = true, value_name = "BACKEND", env = "ITASSIST_BACKEND")]
    backend: Option<Backend>,

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
        #[arg(required_unless_present = "messages")]
        query: Option<String>,
        /// Search for the last question of a conversation: a JSON array of {"role",
        /// "content"} messages (OpenAI's chat format; `-` for stdin), made standalone first.
        #[arg(long, value_name = "FILE", conflicts_with = "query")]
        messages: Option<PathBuf>,
        /// Number of passages [default: the config's retrieval.top_k].
        #[arg(short, long)]
        k: Option<usize>,
        /// Ranking: dense (meaning), keyword (BM25) or hybrid (both fused) [default: hybrid].
        #[arg(long, value_name = "MODE")]
        mode: Option<itassist::config::RetrievalMode>,
    },
    /// List the indexed documents (--failed: the files whose last ingest, sync or watch
    /// failed, with code and message).
    Docs {
        /// List the files that failed instead.
        #[arg(long)]
        failed: bool,
    },
    /// Make the index match folders: add new files, replace changed ones, re-point moved
    /// ones, remove documents whose files are gone (only under these folders).
    Sync {
        /// Folders or files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// List what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Try files that failed before again even if they did not change.
        #[arg(long)]
        retry_failed: bool,
    },
    /// Sync folders, then keep the index in sync as files change, until Ctrl-C.
    Watch {
        /// Folders or files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Milliseconds without events before a changed file is looked at [default: the
        /// core's, 1000].
        #[arg(long, value_name = "MS")]
        quiet_ms: Option<u64>,
        /// Try files that failed before again even if they did not change.
        #[arg(long)]
        retry_failed: bool,
    },
    /// Re-embed every stored chunk with another embedding model (no original files needed);
    /// the old index answers until the new one is complete. A keyword index made by an older
    /// itassist is rewritten in the current format too.
    Reindex {
        /// Embedding model (recorded in the index) [default: the configured one].
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
    },
    /// Remove a document (by id, path or name) with its chunks and vectors.
    Rm {
        /// Document id, source path, or name.
        document: String,
    },
    /// Show index counts and sizes.
    Stats,
    /// Ask a question: the answer from the indexed documents, then its numbered sources.
    Ask {
        /// The question.
        #[arg(required_unless_present = "messages")]
        question: Option<String>,
        /// Ask the last question of a conversation: a JSON array of {"role", "content"}
        /// messages (OpenAI's chat format; `-` for stdin); earlier turns are used.
        #[arg(long, value_name = "FILE", conflicts_with = "question")]
        messages: Option<PathBuf>,
        /// Chat model [default: llama3].
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
        /// Ask the model directly, without passages from the documents.
        #[arg(long)]
        no_context: bool,
        /// Print the answer as it is written (with --json: one JSON event per line).
        #[arg(long)]
        stream: bool,
        /// Passages to retrieve [default: 5].
        #[arg(short, long, value_name = "N")]
        k: Option<usize>,
        /// Sampling temperature.
        #[arg(long)]
        temperature: Option<f32>,
        /// Context window to request, in tokens [default: the model's, at most 8192].
        #[arg(long, value_name = "TOKENS")]
        num_ctx: Option<u32>,
        /// Most tokens to generate [default: 512].
        #[arg(long, value_name = "TOKENS")]
        num_predict: Option<u32>,
        /// Random seed for a reproducible answer.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Chat with follow-up questions: interactive, or one question with --conversation ID;
    /// conversations are kept in the index (--list, --show ID, --delete ID).
    Chat(chat::ChatArgs),
    /// Run the HTTP service and web page (Basic auth users from ITASSIST_USERS).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000", env = "ITASSIST_ADDR")]
        addr: std::net::SocketAddr,
        /// Largest upload per request (bytes, or with a K/M/G suffix) [default: 64M].
        #[arg(long, value_name = "SIZE")]
        max_upload: Option<String>,
        /// Allowed CORS origin (repeatable); CORS is off when none is given.
        #[arg(long = "cors-origin", value_name = "ORIGIN")]
        cors_origins: Vec<String>,
        /// Default chat model for questions [default: llama3].
        #[arg(long, value_name = "MODEL", env = "ITASSIST_CHAT_MODEL")]
        chat_model: Option<String>,
        /// Print an Argon2 hash of the password read from stdin (for ITASSIST_USERS) and exit.
        #[arg(long)]
        hash_password: bool,
        /// Create an API key named NAME for `Authorization: Bearer` (OpenAI clients), store
        /// its hash in the data directory, print the key once and exit.
        #[arg(long, value_name = "NAME")]
        new_api_key: Option<String>,
        /// Keep these folders (or files) in sync with the index while serving: a sync at
        /// start, then filesystem notifications (repeatable; see `itassist watch`).
        #[arg(long = "watch", value_name = "PATH")]
        watch: Vec<PathBuf>,
    },
    /// List the models of the chat-model server, or pull one (`models pull NAME`).
    Models {
        #[command(subcommand)]
        action: Option<ModelsAction>,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsAction {
    /// Download a model into Ollama, showing progress.
    Pull {
        /// Model name (`model:tag`).
        name: String,
    },
}

fn config_for(cli: &Cli) -> Config {
    let mut config = match &cli.data_dir {
        Some(dir) => Config::new(dir),
        None => Config::default(),
    };
    if let Some(dir) = &cli.model_dir {
        config.embedding.model_dir = Some(dir.clone());
    }
    if let Some(name) = &cli.embedding_model {
        config.embedding.model = name.clone();
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
    if let Command::Search {
        mode: Some(mode), ..
    } = &cli.command
    {
        config.retrieval.mode = *mode;
    }
    if let Some(url) = &cli.ollama_url {
        config.answer.base_url = url.clone();
    }
    if let Some(backend) = cli.backend {
        config.answer.backend = backend;
    }
    config
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            path: None,
            source: e,
        })
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
    // `models` needs only the model server, not the index or the embedding model.
    if let Command::Models { action } = &cli.command {
        let config = config_for(cli);
        config.answer.validate()?;
        return runtime()?.block_on(models(&config, action.as_ref(), cli.json));
    }
    if let Command::Serve {
        addr,
        max_upload,
        cors_origins,
        chat_model,
        hash_password,
        new_api_key,
        watch,
    } = &cli.command
    {
        if *hash_password {
            return hash_password_from_stdin();
        }
        if let Some(name) = new_api_key {
            let path = itassist_server::ApiKeys::path_in(&config_for(cli).data_dir);
            let key = itassist_server::ApiKeys::create(&path, name).map_err(Error::InvalidInput)?;
            println!("{key}");
            eprintln!(
                "API key '{name}' created; its hash is in {} (the key is shown only now). \
                 Use it as `Authorization: Bearer <key>`, e.g. the `api_key` of an OpenAI client \
                 with base URL http://HOST:PORT/v1; restart a running server to accept it.",
                path.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let mut config = config_for(cli);
        if let Some(model) = chat_model {
            config.answer.model = model.clone();
        }
        return serve(config, *addr, max_upload.as_deref(), cors_origins, watch);
    }
    if let Command::Reindex { model } = &cli.command {
        let mut config = config_for(cli);
        if let Some(model) = model {
            config.embedding.model = model.clone();
        }
        return sync::reindex(&config, cli.json);
    }
    let assistant = Assistant::open(config_for(cli))?;
    match &cli.command {
        Command::Models { .. } | Command::Serve { .. } | Command::Reindex { .. } => {
            Ok(ExitCode::SUCCESS)
        }
        Command::Docs { failed: true } => sync::failed(&assistant, cli.json),
        Command::Sync {
            paths,
            dry_run,
            retry_failed,
        } => sync::sync(&assistant, paths, *dry_run, *retry_failed, cli.json),
        Command::Watch {
            paths,
            quiet_ms,
            retry_failed,
        } => sync::watch(&assistant, paths, *quiet_ms, *retry_failed, cli.json),
        Command::Chat(args) => runtime()?.block_on(chat::run(&assistant, args, cli.json)),
        Command::Ask {
            question,
            messages,
            model,
            no_context,
            stream,
            k,
            temperature,
            num_ctx,
            num_predict,
            seed,
        } => {
            let options = AskOptions {
                model: model.clone(),
                top_k: *k,
                no_context: *no_context,
                temperature: *temperature,
                num_ctx: *num_ctx,
                num_predict: *num_predict,
                seed: *seed,
            };
            let input = match messages {
                Some(path) => Input::Messages(chat::read_messages(path)?),
                None => Input::Question(question.clone().unwrap_or_default()),
            };
            runtime()?.block_on(ask(&assistant, input, options, *stream, cli.json))
        }
        Command::Ingest { paths, .. } => ingest(&assistant, paths, cli.json),
        Command::Search {
            query, k, messages, ..
        } => {
            let k = k.unwrap_or(assistant.config().retrieval.top_k);
            let passages = match messages {
                Some(path) => {
                    let messages = chat::read_messages(path)?;
                    let (searched, passages) =
                        runtime()?.block_on(assistant.search_messages(&messages, k))?;
                    if !cli.json {
                        println!("searched: {searched}");
                    }
                    passages
                }
                None => assistant.search(query.as_deref().unwrap_or_default(), k)?,
            };
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
        Command::Docs { .. } => {
            let docs = assistant.documents()?;
            if cli.json {
                print_json(&docs)?;
            } else {
                println!(
                    "{:>6}  {:<8} {:>6} {:>7}  SOURCE",
                    "ID", "FORMAT", "PAGES", "CHUNKS"
                );
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
                println!(
                    "model:      {} ({} dimensions)",
                    stats.embedding_model, stats.dimensions
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What `itassist ask` answers: one question, or the last one of a conversation.
enum Input {
    Question(String),
    Messages(Vec<itassist::ollama::ChatMessage>),
}

async fn ask(
    assistant: &Assistant,
    input: Input,
    options: AskOptions,
    stream: bool,
    json: bool,
) -> Result<ExitCode, Error> {
    use futures_util::StreamExt;
    let mut events = match &input {
        Input::Question(question) => assistant.ask_stream(question, options),
        Input::Messages(messages) => assistant.chat_stream(messages, options),
    };
    let mut stdout = std::io::stdout();
    let mut answer: Option<Answer> = None;
    while let Some(event) = events.next().await {
        let event = event?;
        if stream && json {
            let line = serde_json::to_string(&event)
                .map_err(|e| Error::InvalidInput(format!("cannot encode an event: {e}")))?;
            println!("{line}");
        } else if stream {
            if let AskEvent::Token { text } = &event {
                // Writing to a closed pipe ends the command quietly.
                if stdout
                    .write_all(text.as_bytes())
                    .and_then(|_| stdout.flush())
                    .is_err()
                {
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
        if let AskEvent::Done { answer: done } = event {
            answer = Some(*done);
        }
    }
    let Some(answer) = answer else {
        return Err(Error::Ollama {
            status: None,
            message: "the answer stream ended without a result".into(),
        });
    };
    if json {
        if !stream {
            print_json(&answer)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if stream {
        println!();
    } else {
        println!("{}", answer.answer);
    }
    print_sources(&answer);
    print_inferred_citations(assistant, &answer);
    Ok(ExitCode::SUCCESS)
}

/// When the model cited no source as `[n]` (small models rarely do), prints which sources
/// the answer's sentences restate, matched by the embedding model and labelled as inferred.
fn print_inferred_citations(assistant: &Assistant, answer: &Answer) {
    use itassist::attribution::{infer_citations, MIN_SIMILARITY};
    if !answer.cited.is_empty() || answer.sources.is_empty() {
        return;
    }
    let embedder = assistant.embedder().clone();
    // Best effort: the answer is already printed, a failure here only loses the hint.
    let Ok(found) = infer_citations(
        embedder.as_ref(),
        &answer.answer,
        &answer.sources,
        MIN_SIMILARITY,
    ) else {
        return;
    };
    if found.is_empty() {
        return;
    }
    println!(
        "
Citations inferred by similarity (the model wrote no [n]):"
    );
    for citation in &found {
        let sentence: String = answer.answer[citation.sentence.clone()]
            .chars()
            .take(100)
            .collect();
        println!(
            "  [{}] {sentence} (similarity {:.2})",
            citation.source, citation.similarity
        );
    }
}

/// Prints the answer's warnings (e.g. `context_truncated`) on stderr.
fn print_warnings(answer: &Answer) {
    for w in &answer.warnings {
        eprintln!("warning[{}]: {}", w.code, w.message);
    }
    if answer.dropped_turns > 0 {
        eprintln!(
            "note: the {} oldest turns of the conversation were left out to fit the model's {}-token window",
            answer.dropped_turns,
            answer.context_window.unwrap_or_default()
        );
    }
}

fn print_sources(answer: &Answer) {
    print_warnings(answer);
    if !answer.sources.is_empty() {
        println!("\nSources:");
        for (i, p) in answer.sources.iter().enumerate() {
            let n = i + 1;
            let cited = if answer.cited.contains(&n) {
                "  (cited)"
            } else {
                ""
            };
            println!("  [{n}] {} [score {:.3}]{cited}", p.citation(), p.score);
            println!("      {}", p.source);
        }
    }
    if answer.dropped_passages > 0 {
        println!(
            "  ({} lower-ranked passages were left out to fit the model's {}-token window)",
            answer.dropped_passages,
            answer.context_window.unwrap_or_default()
        );
    }
    let t = &answer.timings;
    let mut parts = vec![format!("model {}", answer.model)];
    if let Some(n) = t.prompt_tokens {
        parts.push(format!("{n} prompt tokens"));
    }
    if let Some(n) = t.generated_tokens {
        parts.push(format!("{n} generated"));
    }
    if let Some(v) = t.tokens_per_second {
        parts.push(format!("{v:.1} tokens/s"));
    }
    if let Some(v) = t.first_token_seconds {
        parts.push(format!("first token {v:.2} s"));
    }
    if let Some(v) = t.total_seconds {
        parts.push(format!("total {v:.2} s"));
    }
    if answer.finish_reason.as_deref() == Some("length") {
        parts.push("cut at num_predict (raise --num-predict)".into());
    }
    eprintln!("{}", parts.join(" · "));
}

async fn models(
    config: &Config,
    action: Option<&ModelsAction>,
    json: bool,
) -> Result<ExitCode, Error> {
    use futures_util::StreamExt;
    let backend = backend_from_config(&config.answer)?;
    match action {
        None => {
            let models = backend.models().await?;
            if json {
                print_json(&models)?;
            } else if models.is_empty() {
                println!(
                    "no models on {}: pull one with `itassist models pull llama3`",
                    backend.base_url()
                );
            } else {
                println!("{:<40} {:>10}  {:<10} MODIFIED", "NAME", "SIZE", "PARAMS");
                for m in &models {
                    let size = m
                        .size
                        .map(|b| format!("{:.1} GB", b as f64 / 1e9))
                        .unwrap_or_else(|| "-".into());
                    println!(
                        "{:<40} {:>10}  {:<10} {}",
                        m.name,
                        size,
                        m.parameter_size.as_deref().unwrap_or("-"),
                        m.modified_at.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(ModelsAction::Pull { name }) => {
            let interactive = std::io::stderr().is_terminal() && !json;
            let bar = ProgressBar::hidden();
            if interactive {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {wide_msg} {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let mut last_status = String::new();
            let mut progress = backend.pull(name);
            while let Some(line) = progress.next().await {
                let line = match line {
                    Ok(line) => line,
                    Err(e) => {
                        bar.abandon();
                        return Err(e);
                    }
                };
                if json {
                    let text = serde_json::to_string(&line)
                        .map_err(|e| Error::InvalidInput(format!("cannot encode progress: {e}")))?;
                    println!("{text}");
                    continue;
                }
                if let Some(total) = line.total {
                    bar.set_length(total);
                    bar.set_position(line.completed.unwrap_or(0));
                }
                if line.status != last_status {
                    bar.set_message(line.status.clone());
                    if !interactive {
                        eprintln!("{}", line.status);
                    }
                    last_status = line.status.clone();
                }
            }
            bar.finish_and_clear();
            if !json {
                println!("pulled {name}");
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
    // The bar counts bytes of input, advanced inside a file as its chunks are embedded, so a
    // large PDF moves the bar while it is embedded and the ETA weighs each file by its size.
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {percent:>3}% {prefix} (eta {eta}) {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let quiet_log = !interactive && !json;
    let files_total = Cell::new(0usize);
    let files_done = Cell::new(0usize);
    // Bytes of the file in flight already added to the bar.
    let counted = Cell::new(0u64);
    // Last tenth of the work logged without a terminal.
    let logged_tenth = Cell::new(0u64);
    let log_tenths = |message: &str| {
        if !quiet_log {
            return;
        }
        let total = bar.length().unwrap_or(0).max(1);
        let tenth = bar.position().saturating_mul(10) / total;
        if tenth > logged_tenth.get() {
            logged_tenth.set(tenth);
            eprintln!(
                "[{:>3}%] {}/{} files, eta {}s: {message}",
                tenth * 10,
                files_done.get(),
                files_total.get(),
                bar.eta().as_secs()
            );
        }
    };
    let progress = |event: &IngestEvent| {
        match event {
            IngestEvent::Discovered { files, bytes } => {
                files_total.set(*files);
                bar.set_length((*bytes).max(1));
                bar.set_prefix(format!("0/{files} files"));
                if quiet_log {
                    eprintln!(
                        "ingesting {files} files ({:.1} MB)",
                        *bytes as f64 / 1_000_000.0
                    );
                }
            }
            IngestEvent::Embedded {
                path,
                chunks_done,
                chunks_total,
                file_bytes,
            } => {
                let share = (*file_bytes as u128 * *chunks_done as u128
                    / (*chunks_total).max(1) as u128) as u64;
                bar.inc(share.saturating_sub(counted.get()));
                counted.set(counted.get().max(share));
                let name = path.file_name().unwrap_or(path.as_os_str());
                let message = format!(
                    "{}: {chunks_done}/{chunks_total} chunks",
                    name.to_string_lossy()
                );
                log_tenths(&message);
                bar.set_message(message);
            }
            IngestEvent::File(file) => {
                let size = std::fs::metadata(&file.path)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .unwrap_or(0);
                bar.inc(size.saturating_sub(counted.get()));
                counted.set(0);
                files_done.set(files_done.get() + 1);
                bar.set_prefix(format!("{}/{} files", files_done.get(), files_total.get()));
                bar.set_message(file.path.display().to_string());
                if quiet_log && matches!(file.status, FileStatus::Failed { .. }) {
                    eprintln!("failed {}", file.path.display());
                }
                log_tenths(&format!("{} {}", file.status.label(), file.path.display()));
            }
            IngestEvent::BuildingIndex => bar.set_message("updating the vector index"),
            _ => {}
        }
        ControlFlow::Continue(())
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
        // How the text was obtained, where it matters: OCR and why, skipped pages, charset.
        let noted: Vec<_> = report
            .files
            .iter()
            .filter_map(|f| f.status.document().map(|d| (f, d)))
            .filter(|(_, d)| !d.notes.is_empty())
            .collect();
        if !noted.is_empty() {
            eprintln!("\nnotes:");
            for (file, document) in noted {
                for note in &document.notes {
                    eprintln!("  {}: {}", file.path.display(), note.message);
                }
            }
        }
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

/// `itassist serve --hash-password`: prints the Argon2 hash of the password on stdin.
fn hash_password_from_stdin() -> Result<ExitCode, Error> {
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|e| Error::Io {
            path: None,
            source: e,
        })?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(Error::InvalidInput(
            "no password on stdin: `echo -n PASSWORD | itassist serve --hash-password`".into(),
        ));
    }
    let hash = itassist_server::hash_password(password).map_err(Error::InvalidInput)?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}

/// `itassist serve`: the HTTP service, until Ctrl-C or SIGTERM.
fn serve(
    config: Config,
    addr: std::net::SocketAddr,
    max_upload: Option<&str>,
    cors_origins: &[String],
    watch: &[PathBuf],
) -> Result<ExitCode, Error> {
    let mut server = itassist_server::ServerConfig::from_env().map_err(Error::InvalidInput)?;
    server.watch = watch.to_vec();
    if let Some(limit) = max_upload {
        server.max_upload_bytes =
            itassist_server::parse_size(limit).map_err(Error::InvalidInput)?;
    }
    if !cors_origins.is_empty() {
        server.cors_origins = cors_origins.to_vec();
    }
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            path: None,
            source: e,
        })?;
    match runtime.block_on(itassist_server::serve(config, server, addr)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(itassist_server::ServeError::Core(e)) => Err(e),
        Err(itassist_server::ServeError::Config(m)) => Err(Error::InvalidInput(m)),
        Err(itassist_server::ServeError::Io(e)) => Err(Error::Io {
            path: None,
            source: e,
        }),
    }
}

/// Lets a closed pipe end the process quietly (`itassist docs --json | head -1`), as other
/// command-line tools do, instead of a panic in `println!`.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(err) => {
            if cli.json {
                // The code, the message with its cause chain, and the structured details.
                let body = serde_json::json!({ "error": err });
                println!("{body}");
            } else {
                eprintln!("error[{}]: {}", err.code(), err.display_chain());
            }
            ExitCode::from(2)
        }
    }
}
