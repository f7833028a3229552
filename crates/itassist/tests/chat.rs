//! Conversations: the chat prompt (turns fitted to the window, the answer language), the
//! standalone query, stored conversations on a real LMDB index, and end to end against a real
//! llama-server (SmolLM2-135M-Instruct, `bash scripts/provision-llama.sh`): a follow-up, a
//! Spanish question, and a window too small for the prompt.

mod common;
#[path = "support/llama_server.rs"]
mod llama_server;

use itassist::answer::truncation_warning;
use itassist::ollama::ChatMessage;
use itassist::prompt::{build_chat_prompt, detect_language, PromptInput, TokenEstimator};
use itassist::{AskOptions, Assistant, Backend, Dialogue, FileStatus, Passage, QueryMode};
use llama_server::LlamaServer;

fn passage(text: &str) -> Passage {
    Passage {
        chunk_id: 1,
        document_id: 1,
        source: "/docs/ssh.html".into(),
        name: "ssh.html".into(),
        title: None,
        page: None,
        section: Some("Keys".into()),
        text: text.into(),
        score: 1.0,
        span: (0, text.len()),
    }
}

#[test]
fn the_prompt_names_the_language_of_the_question() {
    let est = TokenEstimator::chars();
    let spanish = "¿Cómo genero una contraseña cifrada para un usuario?";
    let english = "How do I generate an encrypted password for a user?";
    for (question, language) in [(spanish, "Spanish"), (english, "English")] {
        assert_eq!(detect_language(question), Some(language), "{question}");
        let input = PromptInput {
            question,
            ..PromptInput::default()
        };
        let prompt =
            build_chat_prompt(&input, vec![passage("Use mkpasswd.")], 4096, 512, &est).unwrap();
        assert_eq!(prompt.language.as_deref(), Some(language));
        let system = &prompt.messages[0].content;
        assert_eq!(prompt.messages[0].role, "system");
        assert!(
            system.contains(&format!("write your whole answer in {language}")),
            "{system}"
        );
    }
    // Short questions too.
    assert_eq!(detect_language("¿Qué es apt?"), Some("Spanish"));
    assert_eq!(detect_language("What is apt?"), Some("English"));
}

#[test]
fn older_turns_are_dropped_whole_and_counted() {
    let est = TokenEstimator::chars();
    let long = "word ".repeat(150); // 750 chars = 250 tokens per message
    let mut history = Vec::new();
    for i in 0..4 {
        history.push(ChatMessage::user(format!("question {i} {long}")));
        history.push(ChatMessage::assistant(format!("answer {i} {long}")));
    }
    let input = PromptInput {
        question: "and then?",
        history: &history,
        system: &[],
    };
    let prompt = build_chat_prompt(&input, vec![passage("short")], 2600, 300, &est).unwrap();
    assert!(prompt.dropped_turns >= 1, "{}", prompt.dropped_turns);
    assert_eq!(prompt.history_turns + prompt.dropped_turns, 4);
    // The kept turns are the most recent ones, whole, in order, between the instruction and
    // the question.
    let kept = &prompt.messages[1..prompt.messages.len() - 1];
    assert_eq!(kept.len(), prompt.history_turns * 2);
    let first_kept = 4 - prompt.history_turns;
    assert!(kept[0]
        .content
        .starts_with(&format!("question {first_kept} ")));
    assert!(kept
        .iter()
        .all(|m| m.content.ends_with(long.trim_end()) || m.content.ends_with(&long)));
    assert_eq!(kept.last().unwrap().role, "assistant");
    assert!(prompt.estimated_tokens + 300 <= 2600);
    assert_eq!(prompt.sources.len(), 1);
    // With room for everything, nothing is dropped.
    let all = build_chat_prompt(&input, vec![passage("short")], 8192, 300, &est).unwrap();
    assert_eq!((all.history_turns, all.dropped_turns), (4, 0));
    assert_eq!(all.messages.len(), 10);
}

#[test]
fn the_server_reading_fewer_tokens_than_sent_is_a_warning() {
    assert!(truncation_warning(Some(900), 1200, 4096).is_none());
    assert!(truncation_warning(None, 1200, 4096).is_none());
    let w = truncation_warning(Some(2048), 6000, 8192).unwrap();
    assert_eq!(w.code, "context_truncated");
    assert!(w.message.contains("2048") && w.message.contains("6000"));
    let w = truncation_warning(Some(4096), 4000, 4096).unwrap();
    assert!(w.message.contains("4096"));
}

#[test]
fn conversations_are_stored_in_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    let assistant = common::assistant(&dir);
    assert!(assistant.conversations().unwrap().is_empty());
    let a = assistant.new_conversation(None).unwrap();
    let b = assistant.new_conversation(Some("Printers")).unwrap();
    assert_ne!(a.id, b.id);
    let answer = itassist::Answer {
        question: "How do I set up SSH keys?".into(),
        answer: "Run ssh-keygen [1].".into(),
        model: "m".into(),
        sources: vec![passage("ssh-keygen makes a key pair")],
        cited: vec![1],
        dropped_passages: 0,
        timings: Default::default(),
        finish_reason: None,
        context_window: None,
        estimated_prompt_tokens: None,
        searched_query: Some("How do I set up SSH keys?".into()),
        history_turns: 0,
        dropped_turns: 0,
        language: Some("English".into()),
        warnings: vec![],
        conversation_id: None,
    };
    let turn = itassist::index::Turn::from_answer(&answer);
    let updated = assistant.index().append_turn(a.id, turn).unwrap();
    assert_eq!(updated.title, "How do I set up SSH keys?");
    assert_eq!(updated.turns.len(), 1);
    let messages = updated.messages_with("and password login?");
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1].role, "assistant");
    drop(assistant);

    // Kept across a reopen, with the sources of each turn.
    let assistant = common::assistant(&dir);
    let list = assistant.conversations().unwrap();
    assert_eq!(list.len(), 2);
    let shown = assistant.conversation(a.id).unwrap();
    assert_eq!(shown.turns[0].sources[0].name, "ssh.html");
    assert_eq!(shown.turns[0].cited, vec![1]);
    let deleted = assistant.delete_conversation(a.id).unwrap();
    assert_eq!(deleted.id, a.id);
    let err = assistant.conversation(a.id).unwrap_err();
    assert_eq!(err.code(), "conversation_not_found");
    assert_eq!(
        assistant.delete_conversation(a.id).unwrap_err().code(),
        "conversation_not_found"
    );
    // Ids are never reused.
    let c = assistant.new_conversation(None).unwrap();
    assert!(c.id > b.id);
}

#[test]
fn the_follow_up_query_carries_the_topic() {
    let d = Dialogue::from_messages(&[
        ChatMessage::user("How do I copy files to a remote host with scp?"),
        ChatMessage::assistant("Use scp file host:path [1]."),
        ChatMessage::user("And how do I copy a whole directory?"),
    ])
    .unwrap();
    let config = itassist::ChatConfig::default();
    let q = d.query(QueryMode::Weighted, &config);
    assert!(q.contains("scp") && q.contains("remote"), "{q}");
    assert!(q.starts_with("And how do I copy a whole directory?"), "{q}");
    assert_eq!(
        d.query(QueryMode::LastTurn, &config),
        "And how do I copy a whole directory?"
    );
}

fn llama_assistant(data_dir: &std::path::Path, server: &LlamaServer, docs: &[&str]) -> Assistant {
    let mut config = common::config(data_dir);
    config.answer.base_url = server.url.clone();
    config.answer.backend = Backend::OpenAi;
    config.answer.model = "SmolLM2-135M-Instruct".into();
    config.answer.temperature = Some(0.0);
    config.answer.seed = Some(42);
    config.answer.num_predict = Some(80);
    config.answer.generation_timeout_secs = 300.0;
    let assistant = Assistant::with_embedder(config, common::embedder()).expect("open");
    let paths: Vec<_> = docs.iter().map(|d| common::corpus_file(d)).collect();
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
async fn a_follow_up_is_answered_from_the_conversation_and_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LlamaServer::start(tmp.path());
    let assistant = llama_assistant(
        &tmp.path().join("index"),
        &server,
        &[
            "debdocs/man/openssh/scp.1",
            "debdocs/man/openssh/ssh-keygen.1",
            "debdocs/html/apt-guide/ch2.html",
        ],
    );
    let options = AskOptions {
        top_k: Some(3),
        ..AskOptions::default()
    };
    let c = assistant.new_conversation(None).unwrap();
    let first = assistant
        .continue_conversation(
            c.id,
            "How do I copy a file to another host with scp?",
            &options,
        )
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.display_chain(), server.log_tail()));
    assert_eq!(first.conversation_id, Some(c.id));
    assert_eq!(first.history_turns, 0);
    let second = assistant
        .continue_conversation(
            c.id,
            "And how do I copy a whole directory recursively?",
            &options,
        )
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.display_chain(), server.log_tail()));
    println!(
        "second: {} | searched {:?}",
        second.answer, second.searched_query
    );
    assert!(!second.answer.trim().is_empty());
    assert_eq!(second.history_turns, 1, "the first turn is in the prompt");
    assert_eq!(second.dropped_turns, 0);
    let searched = second.searched_query.clone().unwrap();
    assert!(
        searched.contains("scp"),
        "the searched query names the topic: {searched}"
    );
    assert_eq!(second.sources[0].name, "scp.1", "{:?}", second.sources);
    // No warning: the server read the whole prompt, and the estimate is above its count.
    assert!(second.warnings.is_empty(), "{:?}", second.warnings);
    let reported = second.timings.prompt_tokens.unwrap() as usize;
    assert!(second.estimated_prompt_tokens.unwrap() >= reported);
    let stored = assistant.conversation(c.id).unwrap();
    assert_eq!(stored.turns.len(), 2);
    assert_eq!(stored.turns[1].sources, second.sources);
    assert_eq!(
        stored.turns[1].searched_query.as_deref(),
        Some(searched.as_str())
    );

    // The same conversation as OpenAI-style messages, streamed.
    let messages = stored.messages_with("Which option keeps the modification times?");
    let answer = assistant.chat(&messages, &options).await.unwrap();
    assert_eq!(answer.history_turns, 2);
    assert!(answer.searched_query.unwrap().contains("scp"));

    // The model rewrite makes a query (whatever a 135M model writes, it is searched).
    let d = Dialogue::from_messages(&messages).unwrap();
    let rewritten = assistant
        .conversation_query(&d, QueryMode::Rewrite, &options)
        .await
        .unwrap();
    assert!(!rewritten.trim().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spanish_question_is_answered_in_spanish() {
    let tmp = tempfile::tempdir().unwrap();
    let server = LlamaServer::start(tmp.path());
    let assistant = llama_assistant(
        &tmp.path().join("index"),
        &server,
        &[
            "spanish/aptitude-doc-es/ch01s01s04.html",
            "spanish/aptitude-doc-es/ch01.html",
        ],
    );
    let answer = assistant
        .ask(
            "¿Cómo se instala un paquete con aptitude?",
            &AskOptions {
                top_k: Some(2),
                ..AskOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{}\n{}", e.display_chain(), server.log_tail()));
    println!("answer: {}", answer.answer);
    assert_eq!(answer.language.as_deref(), Some("Spanish"));
    assert_eq!(
        detect_language(&answer.answer),
        Some("Spanish"),
        "the answer is in Spanish: {}",
        answer.answer
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_too_small_for_the_prompt_is_a_clear_error_naming_both_counts() {
    let tmp = tempfile::tempdir().unwrap();
    // The server's real window is 512 tokens; itassist is told 4096.
    let server = LlamaServer::start_with(tmp.path(), &["-c", "512"]);
    let mut assistant = llama_assistant(
        &tmp.path().join("index"),
        &server,
        &[
            "debdocs/man/openssh/scp.1",
            "debdocs/man/openssh/ssh-keygen.1",
        ],
    );
    let _ = &mut assistant;
    let err = assistant
        .ask(
            "How do I copy a file to another host with scp?",
            &AskOptions {
                top_k: Some(5),
                num_ctx: Some(4096),
                ..AskOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "context_overflow", "{}", err.display_chain());
    let message = err.to_string();
    assert!(message.contains("512"), "{message}");
    let details = serde_json::to_value(&err).unwrap();
    println!("{details}");
}
