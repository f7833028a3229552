//! Spanish retrieval: the questions of `benches/data/spanish-questions.json` over the
//! Spanish Debian documentation of `shared/corpus/spanish` (Debian Reference, man pages,
//! aptitude's manual and the New Maintainers' Guide). For each question the set names the
//! source files that answer it; a question scores a hit@5 when one of the 5 passages
//! returned comes from one of them, and 1/rank for MRR@10.
//!
//! Keyword, dense and hybrid retrieval are measured with the keyword index written by the
//! English-only analyzer (version 1, "before") and by the per-language analyzer (version 2,
//! "after"); both come from the same ingest (`Index::rebuild_keyword_index` rewrites the
//! postings from the stored chunks), so only the analysis differs. Each extra embedding
//! model (`--model`) gets its own index.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use itassist::config::RetrievalMode;
use itassist::index::Index;
use itassist::keyword::{chunk_language, Analyzer};
use itassist::keyword::{ANALYZER_VERSION, LEGACY_ANALYZER_VERSION};
use itassist::retrieve::{passages_for, retriever_for};
use itassist::{Assistant, Config, Error, IngestEvent, Result};
use serde::{Deserialize, Serialize};

/// What is ingested: the HTML editions of the two books (their PDF and text editions hold
/// the same text), the man pages and aptitude's manual; not the licences nor the manifest.
const FOLDERS: [&str; 4] = [
    "debian-reference-es",
    "manpages-es",
    "aptitude-doc-es",
    "maint-guide-es/html",
];

/// The files and folders of `corpus` to ingest: the folders above, without PDF and text
/// editions.
fn inputs(corpus: &Path) -> Result<Vec<PathBuf>> {
    let mut inputs = Vec::new();
    for folder in FOLDERS {
        let dir = corpus.join(folder);
        if folder != "debian-reference-es" {
            inputs.push(dir);
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            if path.extension().is_some_and(|e| e == "html") {
                inputs.push(path);
            }
        }
    }
    inputs.sort();
    Ok(inputs)
}

/// Passages looked at: hit@5 and MRR@10.
const DEPTH: usize = 10;

/// One question of the set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    pub question: String,
    /// Files (relative to the corpus) whose text answers the question.
    pub sources: Vec<String>,
    /// Where in them, for a reader checking the set.
    #[serde(default)]
    pub passage: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QuestionSet {
    questions: Vec<Question>,
}

/// Scores of one retriever.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scores {
    pub hit_at_5: f64,
    pub mrr_at_10: f64,
    /// Questions without a right source in the top 5.
    pub missed: Vec<String>,
}

/// One row: a model, an analyzer and a retrieval mode.
#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    pub model: String,
    pub analyzer: String,
    pub mode: String,
    pub scores: Scores,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SpanishFigures {
    pub corpus: String,
    pub questions: usize,
    pub documents: u64,
    pub chunks: u64,
    pub languages: Vec<(String, u64)>,
    pub rows: Vec<Row>,
    pub ingest_seconds: Vec<(String, f64)>,
    /// Where the retrieval settings came from, when not the defaults.
    #[serde(default)]
    pub settings: Option<String>,
}

/// Settings of a run.
#[derive(Debug)]
pub struct Options {
    pub corpus: PathBuf,
    pub questions: PathBuf,
    pub model_dir: Option<PathBuf>,
    /// Extra embedding models, by name.
    pub models: Vec<String>,
    pub cache: Option<PathBuf>,
    /// Print, for each question the per-language keyword or hybrid retrieval misses, how
    /// the query was analysed, where the right sources rank and the terms of the best right
    /// passage.
    pub explain: bool,
    /// Search with the hybrid settings tuned on SciFact's train split, read from this
    /// `scifact.json`, instead of the defaults.
    pub settings_from: Option<PathBuf>,
}

pub fn default_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/spanish")
}

pub fn default_questions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/spanish-questions.json")
}

fn read_questions(path: &Path) -> Result<Vec<Question>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let set: QuestionSet = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidInput(format!("{}: not a question set: {e}", path.display())))?;
    Ok(set.questions)
}

/// Whether a passage's source is one of the question's sources.
fn is_right(source: &str, question: &Question) -> bool {
    question
        .sources
        .iter()
        .any(|s| source.ends_with(&format!("/{s}")))
}

/// hit@5 and MRR@10 of the rankings (passage sources, best first), one per question.
pub fn score(questions: &[Question], rankings: &[Vec<String>]) -> Scores {
    let (mut hits, mut rr) = (0usize, 0.0);
    let mut missed = Vec::new();
    for (question, ranked) in questions.iter().zip(rankings) {
        let first = ranked
            .iter()
            .take(DEPTH)
            .position(|s| is_right(s, question));
        match first {
            Some(rank) if rank < 5 => hits += 1,
            _ => missed.push(question.id.clone()),
        }
        if let Some(rank) = first {
            rr += 1.0 / (rank + 1) as f64;
        }
    }
    let n = questions.len().max(1) as f64;
    Scores {
        hit_at_5: hits as f64 / n,
        mrr_at_10: rr / n,
        missed,
    }
}

/// The display name of a model: its configured name, or the local directory's.
fn model_label(config: &Config) -> String {
    let name = config
        .embedding
        .model
        .rsplit('/')
        .next()
        .unwrap_or_default();
    name.to_string()
}

pub fn run(options: &Options) -> Result<SpanishFigures> {
    let questions = read_questions(&options.questions)?;
    let tmp = tempfile::tempdir().map_err(|e| Error::io("temporary directory", e))?;
    let root = options
        .cache
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let inputs = inputs(&options.corpus)?;
    let mut models: Vec<Option<String>> = vec![None];
    models.extend(options.models.iter().cloned().map(Some));

    let mut rows = Vec::new();
    let mut ingest_seconds = Vec::new();
    let mut counts = (0, 0, Vec::new());
    for (n, model) in models.iter().enumerate() {
        let dir = root.join(match model {
            None => "spanish-default".to_string(),
            Some(name) => format!("spanish-{}", name.replace('/', "_")),
        });
        let mut config = Config::new(dir.join("index"));
        if let Some(model_dir) = &options.model_dir {
            config.embedding.model_dir = Some(model_dir.clone());
        }
        if let Some(name) = model {
            config.embedding.model = name.clone();
        }
        if let Some(path) = &options.settings_from {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let tuned: crate::scifact::ScifactFigures = serde_json::from_str(&text)
                .map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
            if !tuned.apply_tuned(&mut config.retrieval) {
                return Err(Error::InvalidInput(format!(
                    "{} holds no tuned settings (a --skip-tuning run): run `bash scripts/bench.sh scifact`",
                    path.display()
                )));
            }
        }
        let label = model_label(&config);
        eprintln!(
            "spanish: ingesting {} with {label} ...",
            options.corpus.display()
        );
        let mut assistant = Assistant::open(config.clone())?;
        let started = Instant::now();
        let progress = |event: &IngestEvent| {
            if let IngestEvent::File(file) = event {
                eprintln!("  {} {}", file.status.label(), file.path.display());
            }
            std::ops::ControlFlow::Continue(())
        };
        let report = assistant.ingest_with_progress(&inputs, &progress)?;
        ingest_seconds.push((label.clone(), started.elapsed().as_secs_f64()));
        if report.totals.failed > 0 {
            eprintln!(
                "spanish: {} files failed to ingest (their questions count as misses)",
                report.totals.failed
            );
        }
        let index = assistant.index().clone();
        let embedder = assistant.embedder().clone();
        for (version, analyzer) in [
            (LEGACY_ANALYZER_VERSION, "English only (before)"),
            (ANALYZER_VERSION, "per language (after)"),
        ] {
            index.rebuild_keyword_index(version)?;
            for mode in [
                RetrievalMode::Keyword,
                RetrievalMode::Dense,
                RetrievalMode::Hybrid,
            ] {
                // Dense retrieval does not read the keyword index: measure it once.
                if mode == RetrievalMode::Dense && version != ANALYZER_VERSION {
                    continue;
                }
                let mut retrieval = config.retrieval.clone();
                retrieval.mode = mode;
                assistant.set_retriever(retriever_for(&index, &embedder, &retrieval));
                let mut rankings = Vec::with_capacity(questions.len());
                for question in &questions {
                    let found = assistant.search(&question.question, DEPTH)?;
                    rankings.push(found.into_iter().map(|p| p.source).collect());
                }
                let scores = score(&questions, &rankings);
                let mode = format!("{mode:?}").to_lowercase();
                eprintln!(
                    "spanish: {label}, {analyzer}, {mode}: hit@5 {:.3}, MRR@10 {:.3}",
                    scores.hit_at_5, scores.mrr_at_10
                );
                rows.push(Row {
                    model: label.clone(),
                    analyzer: if mode == "dense" {
                        "(not used)".into()
                    } else {
                        analyzer.into()
                    },
                    mode,
                    scores,
                });
            }
        }
        if options.explain {
            let missed: HashSet<&String> = rows
                .iter()
                .filter(|r| r.model == label && r.analyzer.contains("after"))
                .flat_map(|r| &r.scores.missed)
                .collect();
            for question in questions.iter().filter(|q| missed.contains(&q.id)) {
                explain(&index, &assistant, question, config.retrieval.bm25)?;
            }
        }
        if n == 0 {
            let stats = index.stats()?;
            let languages = index
                .keyword_languages()?
                .into_iter()
                .map(|(l, c)| (l.code().to_string(), c))
                .collect();
            counts = (stats.documents, stats.chunks, languages);
        }
    }
    Ok(SpanishFigures {
        corpus: options.corpus.display().to_string(),
        questions: questions.len(),
        documents: counts.0,
        chunks: counts.1,
        languages: counts.2,
        rows,
        ingest_seconds,
        settings: options.settings_from.as_ref().map(|p| {
            format!(
                "the hybrid settings tuned on SciFact's train split, from {}",
                p.display()
            )
        }),
    })
}

/// Prints how the keyword index reads `question`, the rank of its first right passage by
/// keyword and dense retrieval, the top 5 sources, and the terms of the best right passage.
fn explain(
    index: &Index,
    assistant: &Assistant,
    question: &Question,
    bm25: itassist::keyword::Bm25,
) -> Result<()> {
    const DEEP: usize = 1000;
    let analysis = index.keyword_query(&question.question)?;
    eprintln!("\n== {} {}", question.id, question.question);
    eprintln!(
        "   languages {:?}, groups {:?}",
        analysis.languages, analysis.groups
    );
    let keyword = passages_for(
        index,
        &index.keyword_nearest(&question.question, DEEP, bm25)?,
    )?;
    let vector = assistant.embedder().embed_query(&question.question)?;
    let dense = passages_for(index, &index.exact_nearest_all(&vector, DEEP)?)?;
    let short = |s: &str| s.rsplit("/spanish/").next().unwrap_or(s).to_string();
    for (name, ranking) in [("keyword", &keyword), ("dense", &dense)] {
        let first = ranking.iter().position(|p| is_right(&p.source, question));
        let top: Vec<String> = ranking.iter().take(5).map(|p| short(&p.source)).collect();
        eprintln!("   {name}: first right at {first:?}; top 5 {top:?}");
    }
    if let Some(right) = keyword.iter().find(|p| is_right(&p.source, question)) {
        let document = itassist::keyword::document_language([right.text.as_str()]);
        let language = chunk_language(&right.text, document);
        let terms = Analyzer::shared(language).terms(&right.text);
        eprintln!(
            "   best right passage ({}, {language}, score {:.2}): {:?}",
            short(&right.source),
            right.score,
            right.text.chars().take(300).collect::<String>()
        );
        eprintln!(
            "   its terms: {:?}",
            terms.iter().take(80).collect::<Vec<_>>()
        );
    }
    Ok(())
}

pub fn markdown(f: &SpanishFigures) -> String {
    let languages: Vec<String> = f
        .languages
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect();
    let mut md = format!(
        "{} questions over {} documents ({} chunks; chunks per detected language: {}).\n\n\
         | embedding model | keyword analyzer | retrieval | hit@5 | MRR@10 |\n|---|---|---|---|---|\n",
        f.questions,
        f.documents,
        f.chunks,
        languages.join(", ")
    );
    for r in &f.rows {
        md.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} |\n",
            r.model, r.analyzer, r.mode, r.scores.hit_at_5, r.scores.mrr_at_10
        ));
    }
    let missed: HashSet<&String> = f
        .rows
        .iter()
        .filter(|r| r.mode == "hybrid" && r.analyzer.contains("after"))
        .flat_map(|r| &r.scores.missed)
        .collect();
    let mut missed: Vec<&String> = missed.into_iter().collect();
    missed.sort();
    let seconds: Vec<String> = f
        .ingest_seconds
        .iter()
        .map(|(m, s)| format!("{m} {s:.0} s"))
        .collect();
    md.push_str(&format!(
        "\nQuestions missed by hybrid retrieval after the change (any model): {}.\n\
         Ingest time: {} (0 s when the index was cached).\n",
        if missed.is_empty() {
            "none".to_string()
        } else {
            missed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        seconds.join(", ")
    ));
    if let Some(settings) = &f.settings {
        md.push_str(&format!("Retrieval settings: {settings}.\n"));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_is_a_right_source_in_the_top_five() {
        let q = |id: &str, source: &str| Question {
            id: id.into(),
            question: "?".into(),
            sources: vec![source.into()],
            passage: None,
        };
        let questions = [
            q("a", "debian-reference-es/ch04.es.html"),
            q("b", "manpages-es/man5/hosts.5.gz"),
            q("c", "aptitude-doc-es/ch01.html"),
        ];
        let path = |s: &str| format!("/corpus/spanish/{s}");
        let rankings = vec![
            vec![path("debian-reference-es/ch04.es.html")],
            vec![
                path("x"),
                path("x"),
                path("x"),
                path("x"),
                path("x"),
                path("manpages-es/man5/hosts.5.gz"),
            ],
            vec![path("aptitude-doc-es/ch01.html.bak")],
        ];
        let scores = score(&questions, &rankings);
        assert!((scores.hit_at_5 - 1.0 / 3.0).abs() < 1e-12);
        assert!((scores.mrr_at_10 - (1.0 + 1.0 / 6.0) / 3.0).abs() < 1e-12);
        assert_eq!(scores.missed, ["b", "c"]);
    }
}
