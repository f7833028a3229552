//! Follow-up questions: recall@5 of the right source for the last turn of the conversations
//! of `benches/data/followups.json`, searched four ways (see `itassist::conversation`):
//! the last turn alone, every user turn naively joined, itassist's model-free weighted query,
//! and the chat model's rewrite (when a model server is given). Retrieval is the default
//! (hybrid); a conversation scores a hit when one of the 5 passages comes from one of its
//! source files, and 1/rank for MRR@10.

use std::path::{Path, PathBuf};
use std::time::Instant;

use itassist::ollama::ChatMessage;
use itassist::{AskOptions, Assistant, Backend, Config, Dialogue, Error, QueryMode, Result};
use serde::{Deserialize, Serialize};

/// Passages looked at: recall@5 and MRR@10.
const DEPTH: usize = 10;

/// One conversation of the set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    /// The user turns, oldest first; the last one is the follow-up.
    pub turns: Vec<String>,
    /// Corpus files that answer the last turn.
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct FollowupSet {
    folders: Vec<String>,
    conversations: Vec<Conversation>,
}

/// Scores of one way of making the query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub query: String,
    pub recall_at_5: f64,
    pub mrr_at_10: f64,
    pub seconds_per_query: f64,
    /// Conversations without a right source in the top 5.
    pub missed: Vec<String>,
    /// The query searched for the first conversations, for a reader checking the method.
    pub examples: Vec<(String, String)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FollowupFigures {
    pub conversations: usize,
    pub folders: Vec<String>,
    pub documents: u64,
    pub chunks: u64,
    pub retrieval: String,
    pub rewrite_model: Option<String>,
    pub rows: Vec<Row>,
}

/// Settings of a run.
pub struct Settings {
    pub corpus: PathBuf,
    pub set: PathBuf,
    pub out: Option<PathBuf>,
    pub model_dir: Option<PathBuf>,
    pub cache: Option<PathBuf>,
    /// An OpenAI-compatible server (llama-server) for the rewrite.
    pub rewrite_url: Option<String>,
    pub rewrite_model: String,
}

fn default_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The default corpus and set.
pub fn defaults() -> (PathBuf, PathBuf) {
    (
        default_path("../../shared/corpus"),
        default_path("data/followups.json"),
    )
}

fn messages(c: &Conversation) -> Vec<ChatMessage> {
    // Earlier answers are not part of the set: the follow-up is made standalone from the
    // user's own turns, as the conversation-aware query does.
    let mut out = Vec::new();
    for (i, t) in c.turns.iter().enumerate() {
        out.push(ChatMessage::user(t.clone()));
        if i + 1 < c.turns.len() {
            out.push(ChatMessage::assistant(String::new()));
        }
    }
    out
}

fn rank_of(assistant: &Assistant, query: &str, sources: &[PathBuf]) -> Result<Option<usize>> {
    let passages = assistant.search(query, DEPTH)?;
    Ok(passages
        .iter()
        .position(|p| p.path().is_some_and(|path| sources.contains(&path))))
}

/// Runs the benchmark.
pub async fn run(settings: Settings) -> Result<FollowupFigures> {
    let text = std::fs::read_to_string(&settings.set).map_err(|e| Error::io(&settings.set, e))?;
    let set: FollowupSet = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidInput(format!("{}: {e}", settings.set.display())))?;
    let corpus = settings
        .corpus
        .canonicalize()
        .map_err(|e| Error::io(&settings.corpus, e))?;
    let tmp = tempfile::tempdir().map_err(|e| Error::io(Path::new("/tmp"), e))?;
    let data_dir = settings
        .cache
        .clone()
        .unwrap_or_else(|| tmp.path().join("index"));
    let mut config = Config::new(&data_dir);
    if let Some(dir) = &settings.model_dir {
        config = config.with_model_dir(dir);
    }
    if let Some(url) = &settings.rewrite_url {
        config.answer.backend = Backend::OpenAi;
        config.answer.base_url = url.clone();
        config.answer.model = settings.rewrite_model.clone();
        config.answer.seed = Some(42);
        config.answer.generation_timeout_secs = 300.0;
    }
    let retrieval = format!("{:?}", config.retrieval.mode).to_lowercase();
    let assistant = Assistant::open(config)?;
    let folders: Vec<PathBuf> = set.folders.iter().map(|f| corpus.join(f)).collect();
    let started = Instant::now();
    let report = assistant.ingest(&folders)?;
    eprintln!(
        "followups: {} added, {} unchanged, {} failed in {:.1}s",
        report.totals.added,
        report.totals.unchanged,
        report.totals.failed,
        started.elapsed().as_secs_f64()
    );
    let stats = assistant.stats()?;
    let mut modes = vec![QueryMode::LastTurn, QueryMode::Joined, QueryMode::Weighted];
    if settings.rewrite_url.is_some() {
        modes.push(QueryMode::Rewrite);
    }
    let mut rows = Vec::new();
    for mode in modes {
        let mut hits = 0usize;
        let mut rr = 0.0;
        let mut missed = Vec::new();
        let mut examples = Vec::new();
        let t = Instant::now();
        for c in &set.conversations {
            let dialogue = Dialogue::from_messages(&messages(c))?;
            let query = assistant
                .conversation_query(&dialogue, mode, &AskOptions::default())
                .await?;
            let sources: Vec<PathBuf> = c.sources.iter().map(|s| corpus.join(s)).collect();
            match rank_of(&assistant, &query, &sources)? {
                Some(r) => {
                    rr += 1.0 / (r + 1) as f64;
                    if r < 5 {
                        hits += 1;
                    } else {
                        missed.push(c.id.clone());
                    }
                }
                None => missed.push(c.id.clone()),
            }
            if examples.len() < 3 {
                examples.push((c.id.clone(), query));
            }
        }
        let n = set.conversations.len().max(1) as f64;
        let row = Row {
            query: mode.to_string(),
            recall_at_5: hits as f64 / n,
            mrr_at_10: rr / n,
            seconds_per_query: t.elapsed().as_secs_f64() / n,
            missed,
            examples,
        };
        eprintln!(
            "followups: {:<10} recall@5 {:.3}  MRR@10 {:.3}",
            row.query, row.recall_at_5, row.mrr_at_10
        );
        rows.push(row);
    }
    let figures = FollowupFigures {
        conversations: set.conversations.len(),
        folders: set.folders,
        documents: stats.documents,
        chunks: stats.chunks,
        retrieval,
        rewrite_model: settings.rewrite_url.map(|_| settings.rewrite_model),
        rows,
    };
    if let Some(out) = &settings.out {
        crate::write_outputs(out, "followups", &figures, &markdown(&figures))?;
    }
    Ok(figures)
}

/// The Markdown table of the figures.
pub fn markdown(f: &FollowupFigures) -> String {
    let mut md = String::from("# Follow-up questions: recall@5 of the right source\n\n");
    md.push_str(&format!(
        "{} conversations of 2-3 turns (`benches/data/followups.json`) over {} documents ({} chunks) of {}; {} retrieval; the last turn refers back to an earlier one.\n\n",
        f.conversations,
        f.documents,
        f.chunks,
        f.folders.join(", "),
        f.retrieval
    ));
    md.push_str("| query searched | recall@5 | MRR@10 | s/query |\n|---|---|---|---|\n");
    let base = f.rows.first().map(|r| r.recall_at_5).unwrap_or(0.0);
    for r in &f.rows {
        let delta = if r.query == "last_turn" {
            String::new()
        } else {
            format!(" ({:+.3})", r.recall_at_5 - base)
        };
        md.push_str(&format!(
            "| {} | {:.3}{delta} | {:.3} | {:.3} |\n",
            r.query, r.recall_at_5, r.mrr_at_10, r.seconds_per_query
        ));
    }
    if let Some(m) = &f.rewrite_model {
        md.push_str(&format!(
            "\nThe rewrite was written by {m} (llama-server).\n"
        ));
    }
    md.push_str("\nCommand: `itassist-bench followups --out docs/bench` (`--rewrite-url URL` adds the model rewrite).\n");
    md
}
