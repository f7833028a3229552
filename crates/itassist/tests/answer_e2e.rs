//! End to end against a real model: llama.cpp's `llama-server` serving SmolLM2-135M-Instruct,
//! through the OpenAI-compatible backend, over real documents of the shared corpus.
//!
//! Needs `bash scripts/provision-llama.sh` (CI runs it); without it these tests FAIL, with a
//! message saying so.

mod common;
#[path = "support/llama_server.rs"]
mod llama_server;

use std::time::Instant;

use futures_util::StreamExt;
use itassist::{AskEvent, AskOptions, Assistant, Backend, FileStatus};
use llama_server::LlamaServer;

const DOCS: &[&str] = &[
    "debdocs/man/openssh/scp.1",
    "debdocs/man/openssh/ssh-keygen.1",
    "debdocs/man/openssh/ssh-add.1",
    "debdocs/html/apt-guide/ch2.html",
];

fn assistant(data_dir: &std::path::Path, server: &LlamaServer) -> Assistant {
    let mut config = common::config(data_dir);
    config.answer.base_url = server.url.clone();
    config.answer.backend = Backend::OpenAi;
    config.answer.model = "SmolLM2-135M-Instruct".into();
    config.answer.temperature = Some(0.0);
    config.answer.seed = Some(42);
    config.answer.num_predict = Some(96);
    config.answer.generation_timeout_secs = 300.0;
    let assistant =
        Assistant::with_embedder(config, common::embedder()).expect("open the assistant");
    let paths: Vec<_> = DOCS.iter().map(|d| common::corpus_file(d)).collect();
    let report = assistant.ingest(&paths).expect("ingest");
    for file in &report.files {
        assert!(
            matches!(file.status, FileStatus::Added { .. }),
            "{}: {:?}",
            file.path.display(),
            file.status.error().map(|e| e.to_string())
        );
    }
    assistant
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_from_real_documents_with_sources_streaming_and_timings() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LlamaServer::start(tmp.path());
    let assistant = assistant(&tmp.path().join("index"), &server);

    // --- a whole answer ---
    let question = "How do I securely copy a file to another host with scp?";
    let answer = assistant
        .ask(
            question,
            &AskOptions {
                top_k: Some(4),
                ..AskOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("ask failed: {}\n{}", e.display_chain(), server.log_tail()));
    println!(
        "answer: {}\ncited: {:?}\ntimings: {:?}",
        answer.answer, answer.cited, answer.timings
    );
    assert!(!answer.answer.trim().is_empty(), "empty answer");
    assert_eq!(answer.question, question);
    assert_eq!(
        answer.sources.len(),
        4,
        "4 short passages fit a 4096-token window"
    );
    assert_eq!(answer.dropped_passages, 0);
    assert!(
        answer.sources.iter().any(|p| p.name == "scp.1"),
        "scp.1 is among the sources: {:?}",
        answer
            .sources
            .iter()
            .map(|p| p.citation())
            .collect::<Vec<_>>()
    );
    for p in &answer.sources {
        assert!(DOCS.iter().any(|d| d.ends_with(&p.name)), "{}", p.name);
        assert!(!p.text.is_empty() && p.score > 0.0);
    }
    assert!(
        answer.sources.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    assert!(answer.cited.iter().all(|&n| (1..=4).contains(&n)));
    assert!(!answer.model.is_empty());
    assert_eq!(
        answer.context_window,
        Some(4096),
        "learned from llama-server's /props"
    );
    let t = &answer.timings;
    let prompt_tokens = t.prompt_tokens.expect("prompt tokens");
    assert!(
        prompt_tokens > 100,
        "the sources are in the prompt: {prompt_tokens}"
    );
    assert!(t.generated_tokens.expect("generated tokens") > 0);
    assert!(t.tokens_per_second.expect("tokens/s") > 0.0);
    assert!(t.first_token_seconds.is_some() && t.total_seconds.is_some());
    assert!(t.retrieval_seconds.is_some() && t.prompt_build_seconds.is_some());
    // The documented estimate (embedding tokenizer x 1.3) must not under-count the real prompt.
    let estimated = answer.estimated_prompt_tokens.expect("estimate");
    assert!(
        estimated as u64 >= prompt_tokens,
        "estimate {estimated} < real {prompt_tokens}"
    );

    // --- streaming: sources, then tokens as they arrive, then the result ---
    let started = Instant::now();
    let mut events =
        assistant.ask_stream("How do I generate a new SSH key?", AskOptions::default());
    let mut kinds = Vec::new();
    let mut tokens = String::new();
    let mut token_times = Vec::new();
    let mut done = None;
    while let Some(event) = events.next().await {
        match event.unwrap_or_else(|e| panic!("{}\n{}", e.display_chain(), server.log_tail())) {
            AskEvent::Sources { sources, .. } => {
                assert!(!sources.is_empty());
                kinds.push("sources");
            }
            AskEvent::Token { text } => {
                token_times.push(started.elapsed());
                tokens.push_str(&text);
                kinds.push("token");
            }
            AskEvent::Done { answer } => {
                done = Some((started.elapsed(), answer));
                kinds.push("done");
            }
            _ => {}
        }
    }
    let (done_at, answer) = done.expect("a final result");
    assert_eq!(kinds.first(), Some(&"sources"));
    assert_eq!(kinds.last(), Some(&"done"));
    assert!(token_times.len() >= 2, "several tokens: {kinds:?}");
    assert!(
        token_times[0] < done_at,
        "tokens arrive before the final result"
    );
    assert!(
        token_times[0] < token_times[token_times.len() - 1],
        "tokens arrive over time"
    );
    assert_eq!(tokens.trim(), answer.answer);
    assert!(answer.sources.iter().any(|p| p.name == "ssh-keygen.1"));

    // --- without context: the model is asked directly ---
    let direct = assistant
        .ask(
            "What is the capital of France?",
            &AskOptions {
                no_context: true,
                num_predict: Some(24),
                ..AskOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(direct.sources.is_empty() && direct.cited.is_empty());
    assert!(!direct.answer.trim().is_empty());
    assert!(
        direct.timings.prompt_tokens.unwrap_or(0) < 60,
        "no sources in the prompt"
    );

    // --- a dropped stream leaves the server usable ---
    let mut events = assistant.ask_stream(
        "Explain ssh-add in detail.",
        AskOptions {
            num_predict: Some(400),
            ..AskOptions::default()
        },
    );
    while let Some(event) = events.next().await {
        if matches!(event, Ok(AskEvent::Token { .. })) {
            break;
        }
    }
    drop(events);
    let again = assistant.models().await.expect("server still answers");
    assert!(!again.is_empty());
    let after = assistant
        .ask(
            "What does ssh-add do?",
            &AskOptions {
                num_predict: Some(16),
                ..AskOptions::default()
            },
        )
        .await
        .expect("the next question is answered");
    assert!(!after.answer.is_empty());
}
