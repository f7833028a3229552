//! `itassist chat`: conversations with follow-up questions, kept in the index.
//!
//! - `itassist chat` reads questions line by line (from a terminal or a pipe) in one
//!   conversation; `/sources`, `/new`, `/history`, `/list`, `/help` and `/quit` are commands.
//!   Ctrl-C stops the answer being written, not the session; Ctrl-D or `/quit` leaves.
//! - `itassist chat "question"` asks one question in a new conversation and prints its id;
//!   `--conversation ID "question"` continues conversation `ID`.
//! - `--list`, `--show ID`, `--delete ID` manage the stored conversations.
//!
//! `--messages FILE` of `itassist search` and `itassist ask` reads an OpenAI-format message
//! array ([`read_messages`]).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use itassist::index::{Conversation, ConversationSummary};
use itassist::ollama::ChatMessage;
use itassist::{Answer, AskEvent, AskOptions, Assistant, Error};

/// Options of `itassist chat`.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Ask this one question and exit (without it, questions are read line by line).
    pub question: Option<String>,
    /// Continue the stored conversation with this id.
    #[arg(long, value_name = "ID")]
    pub conversation: Option<u64>,
    /// List the stored conversations.
    #[arg(long, conflicts_with_all = ["question", "show", "delete"])]
    pub list: bool,
    /// Show a stored conversation with its turns and sources.
    #[arg(long, value_name = "ID", conflicts_with_all = ["question", "delete"])]
    pub show: Option<u64>,
    /// Delete a stored conversation.
    #[arg(long, value_name = "ID", conflicts_with = "question")]
    pub delete: Option<u64>,
    /// Chat model [default: the configured one].
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Passages to retrieve per question [default: 5].
    #[arg(short, long, value_name = "N")]
    pub k: Option<usize>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Context window to request, in tokens.
    #[arg(long, value_name = "TOKENS")]
    pub num_ctx: Option<u32>,
    /// Most tokens to generate per answer.
    #[arg(long, value_name = "TOKENS")]
    pub num_predict: Option<u32>,
    /// Random seed for reproducible answers.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl ChatArgs {
    fn options(&self) -> AskOptions {
        AskOptions {
            model: self.model.clone(),
            top_k: self.k,
            temperature: self.temperature,
            num_ctx: self.num_ctx,
            num_predict: self.num_predict,
            seed: self.seed,
            ..AskOptions::default()
        }
    }
}

/// Reads `--messages FILE`: a JSON array of `{"role", "content"}` objects (OpenAI's chat
/// format; other keys are ignored), `-` for standard input.
pub fn read_messages(path: &Path) -> Result<Vec<ChatMessage>, Error> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| Error::Io {
            path: None,
            source: e,
        })?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?
    };
    serde_json::from_str(&text).map_err(|e| {
        Error::InvalidInput(format!(
            "{} is not a JSON array of {{\"role\", \"content\"}} messages: {e}",
            path.display()
        ))
    })
}

/// Set by Ctrl-C; taken by the answer being written.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Whether an answer is being written (Ctrl-C at the prompt only prints a hint).
static ANSWERING: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    if ANSWERING.load(Ordering::SeqCst) {
        INTERRUPTED.store(true, Ordering::SeqCst);
    } else {
        let hint = b"\n(Ctrl-C stops an answer; type /quit or press Ctrl-D to leave)\n";
        // SAFETY: write(2) is async-signal-safe; the buffer is a static byte string.
        unsafe {
            libc::write(2, hint.as_ptr().cast(), hint.len());
        }
    }
}

fn install_sigint() {
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: the handler only touches atomics and calls write(2), both async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

/// Runs `itassist chat`.
pub async fn run(assistant: &Assistant, args: &ChatArgs, json: bool) -> Result<ExitCode, Error> {
    if args.list {
        let list = assistant.conversations()?;
        if json {
            crate::print_json(&list)?;
        } else {
            print_list(&list);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(id) = args.show {
        let c = assistant.conversation(id)?;
        if json {
            crate::print_json(&c)?;
        } else {
            print_conversation(&c);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(id) = args.delete {
        let c = assistant.delete_conversation(id)?;
        if json {
            crate::print_json(&c.summary())?;
        } else {
            println!("deleted conversation {id} ({} turns)", c.turns.len());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(question) = &args.question {
        let id = match args.conversation {
            Some(id) => assistant.conversation(id)?.id,
            None => assistant.new_conversation(None)?.id,
        };
        let answer = assistant
            .continue_conversation(id, question, &args.options())
            .await?;
        if json {
            crate::print_json(&answer)?;
        } else {
            println!("{}", answer.answer);
            crate::print_sources(&answer);
            eprintln!(
                "conversation {id} (continue with: itassist chat --conversation {id} \"...\")"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    interactive(assistant, args).await
}

fn print_list(list: &[ConversationSummary]) {
    if list.is_empty() {
        println!("no conversations yet: start one with `itassist chat`");
        return;
    }
    println!("{:>6} {:>6}  TITLE", "ID", "TURNS");
    for c in list {
        let title = if c.title.is_empty() {
            "(no question yet)"
        } else {
            &c.title
        };
        println!("{:>6} {:>6}  {title}", c.id, c.turns);
    }
}

fn print_conversation(c: &Conversation) {
    println!("conversation {}: {}", c.id, c.title);
    for (i, t) in c.turns.iter().enumerate() {
        println!("\n[{}] you: {}", i + 1, t.question);
        println!("assistant: {}", t.answer);
        print_turn_sources(&t.sources, &t.cited);
    }
}

fn print_turn_sources(sources: &[itassist::Passage], cited: &[usize]) {
    for (i, p) in sources.iter().enumerate() {
        let n = i + 1;
        let mark = if cited.contains(&n) { "  (cited)" } else { "" };
        println!("  [{n}] {}{mark}", p.citation());
    }
}

const HELP: &str =
    "commands: /sources (sources of the last answer), /history, /new (new conversation), \
/list (stored conversations), /quit (or Ctrl-D); Ctrl-C stops an answer";

async fn interactive(assistant: &Assistant, args: &ChatArgs) -> Result<ExitCode, Error> {
    let terminal = std::io::stdin().is_terminal();
    let mut conversation: Option<u64> = match args.conversation {
        Some(id) => Some(assistant.conversation(id)?.id),
        None => None,
    };
    install_sigint();
    if terminal {
        eprintln!("{HELP}");
    }
    if let Some(id) = conversation {
        eprintln!("continuing conversation {id}");
    }
    let mut last: Option<Answer> = None;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if terminal {
            eprint!("you> ");
            let _ = std::io::stderr().flush();
        }
        let Some(line) = lines.next() else { break };
        let line = line.map_err(|e| Error::Io {
            path: None,
            source: e,
        })?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line {
            "/quit" | "/exit" | "/q" => break,
            "/help" | "/?" => println!("{HELP}"),
            "/new" => {
                conversation = None;
                last = None;
                println!("(new conversation)");
            }
            "/sources" => match &last {
                Some(a) if !a.sources.is_empty() => {
                    if let Some(q) = &a.searched_query {
                        println!("searched: {q}");
                    }
                    crate::print_sources(a);
                }
                Some(_) => println!("(the last answer had no sources)"),
                None => println!("(no answer yet)"),
            },
            "/history" => match conversation {
                Some(id) => print_conversation(&assistant.conversation(id)?),
                None => println!("(no turns yet)"),
            },
            "/list" => print_list(&assistant.conversations()?),
            command if command.starts_with('/') => {
                println!("unknown command {command}; {HELP}")
            }
            question => {
                let id = match conversation {
                    Some(id) => id,
                    None => {
                        let id = assistant.new_conversation(None)?.id;
                        println!("(conversation {id})");
                        id
                    }
                };
                conversation = Some(id);
                match answer_one(assistant, id, question, args.options()).await {
                    Ok(Some(answer)) => last = Some(answer),
                    Ok(None) => println!("\n[stopped: the answer was not kept]"),
                    // A failed question does not end the session.
                    Err(e) => eprintln!("error[{}]: {}", e.code(), e.display_chain()),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams one answer to stdout; `None` when Ctrl-C stopped it.
async fn answer_one(
    assistant: &Assistant,
    id: u64,
    question: &str,
    options: AskOptions,
) -> Result<Option<Answer>, Error> {
    INTERRUPTED.store(false, Ordering::SeqCst);
    ANSWERING.store(true, Ordering::SeqCst);
    let result = stream_answer(assistant, id, question, options).await;
    ANSWERING.store(false, Ordering::SeqCst);
    result
}

async fn stream_answer(
    assistant: &Assistant,
    id: u64,
    question: &str,
    options: AskOptions,
) -> Result<Option<Answer>, Error> {
    let mut events = assistant.continue_conversation_stream(id, question, options);
    let mut stdout = std::io::stdout();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else {
                    return Err(Error::Ollama {
                        status: None,
                        message: "the answer stream ended without a result".into(),
                    });
                };
                match event? {
                    AskEvent::Token { text } => {
                        let _ = stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush());
                    }
                    AskEvent::Done { answer } => {
                        println!();
                        let cited: Vec<String> = answer
                            .cited_sources()
                            .map(|(n, p)| format!("[{n}] {}", p.citation()))
                            .collect();
                        if !cited.is_empty() {
                            println!("  sources: {}", cited.join("; "));
                        }
                        crate::print_warnings(&answer);
                        return Ok(Some(*answer));
                    }
                    _ => {}
                }
            }
            _ = tick.tick() => {
                if INTERRUPTED.swap(false, Ordering::SeqCst) {
                    // Dropping the stream closes the request: the server stops generating.
                    return Ok(None);
                }
            }
        }
    }
}
