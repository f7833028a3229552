//! Answers: the [`Answerer`] trait, which turns a question and retrieved passages into an
//! answer that cites them, and [`LlmAnswerer`], its implementation over a chat-model server
//! (Ollama's native API or an OpenAI-compatible one, see [`crate::ollama`]).
//!
//! Answers stream: [`Answerer::answer_stream`] yields [`AskEvent::Sources`] (the passages
//! given to the model), then [`AskEvent::Token`]s as they arrive, then one
//! [`AskEvent::Done`] with the whole [`Answer`]; or an `Err` and nothing after it. Dropping
//! the stream cancels the request on the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::config::{AnswerConfig, Backend};
use crate::conversation::Dialogue;
use crate::error::{Error, Result};
use crate::ollama::{backend_from_config, ChatBackend, ChatEvent, ChatRequest, ChatStream};
use crate::ollama::{ChatStats, GenerationOptions};
use crate::prompt::{self, Prompt, PromptInput, TokenEstimator};
use crate::retrieve::Passage;

/// Options of one question.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AskOptions {
    /// Chat model (default: the answerer's configured model).
    pub model: Option<String>,
    /// Passages to retrieve (default: the configured `top_k`).
    pub top_k: Option<usize>,
    /// Ask the model directly, without retrieved context.
    pub no_context: bool,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Context window to request from the model, in tokens.
    pub num_ctx: Option<u32>,
    /// Most tokens to generate.
    pub num_predict: Option<u32>,
    /// Random seed, for reproducible answers.
    pub seed: Option<u64>,
}

/// Highest sampling temperature accepted: the top of the OpenAI-compatible range (0 to 2),
/// which every supported server honours; higher values only produce noise.
pub const MAX_TEMPERATURE: f32 = 2.0;

/// Checks a sampling temperature: a finite number from 0 to [`MAX_TEMPERATURE`].
pub fn validate_temperature(temperature: Option<f32>) -> Result<()> {
    match temperature {
        Some(t) if !(t.is_finite() && (0.0..=MAX_TEMPERATURE).contains(&t)) => {
            Err(Error::InvalidInput(format!(
                "temperature {t} is out of range: use a number from 0 to {MAX_TEMPERATURE}"
            )))
        }
        _ => Ok(()),
    }
}

impl AskOptions {
    /// Checks the options that do not depend on the model server: the temperature range,
    /// and `top_k` and `num_predict` of at least 1 when given.
    pub fn validate(&self) -> Result<()> {
        validate_temperature(self.temperature)?;
        if self.top_k == Some(0) {
            return Err(Error::InvalidInput("top_k must be at least 1".into()));
        }
        if self.num_predict == Some(0) {
            return Err(Error::InvalidInput("num_predict must be at least 1".into()));
        }
        Ok(())
    }
}

/// Token counts and speed reported by the model server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Tokens in the prompt.
    pub prompt_tokens: Option<u64>,
    /// Tokens generated.
    pub generated_tokens: Option<u64>,
    /// Generation speed.
    pub tokens_per_second: Option<f64>,
    /// Seconds until the first token arrived.
    pub first_token_seconds: Option<f64>,
    /// Seconds for the whole answer (retrieval included when the [`Assistant`](crate::Assistant)
    /// retrieved the passages).
    pub total_seconds: Option<f64>,
    /// Seconds spent retrieving the passages (embedding the question and searching).
    #[serde(default)]
    pub retrieval_seconds: Option<f64>,
    /// Seconds spent fitting the passages and building the prompt (including learning the
    /// model's window from the server, the first time).
    #[serde(default)]
    pub prompt_build_seconds: Option<f64>,
    /// Seconds the server spent reading the prompt, when it says.
    #[serde(default)]
    pub prompt_eval_seconds: Option<f64>,
}

/// Something the caller should know about an answer that is not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Stable code: `context_truncated` (the model server read fewer prompt tokens than were
    /// sent, so it evidently dropped part of the prompt).
    pub code: String,
    /// What happened and what to do, naming the counts.
    pub message: String,
}

/// Code of the warning given when the server evidently dropped part of the prompt.
pub const CONTEXT_TRUNCATED: &str = "context_truncated";

/// The server counted fewer than this share of the estimated prompt tokens: the estimate
/// (see [`crate::prompt`]) over-counts by about 1.3x, so a count below 40% means part of the
/// prompt was not read.
pub const TRUNCATION_RATIO: f64 = 0.4;

/// Compares the prompt tokens the server reports with the estimate: a `context_truncated`
/// warning when the server evidently dropped part of the prompt (it read less than
/// [`TRUNCATION_RATIO`] of the estimate, or at least the whole window), else `None`.
///
/// ```
/// use itassist::answer::truncation_warning;
/// assert!(truncation_warning(Some(2000), 2400, 4096).is_none());
/// let w = truncation_warning(Some(2048), 7000, 8192).unwrap();
/// assert_eq!(w.code, "context_truncated");
/// assert!(w.message.contains("2048") && w.message.contains("7000"));
/// ```
pub fn truncation_warning(
    reported: Option<u64>,
    estimated: usize,
    window: usize,
) -> Option<Warning> {
    let reported = reported?;
    let too_few = (reported as f64) < estimated as f64 * TRUNCATION_RATIO;
    let filled = window > 0 && reported >= window as u64;
    (too_few || filled).then(|| Warning {
        code: CONTEXT_TRUNCATED.into(),
        message: format!(
            "the model server read {reported} prompt tokens where about {estimated} were sent \
             (window {window}): it evidently dropped part of the prompt, so the answer may ignore \
             sources or earlier turns; raise the server's context size (Ollama: num_ctx; \
             llama-server: -c) or lower top_k"
        ),
    })
}

/// An answer with its sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The question asked.
    pub question: String,
    /// The model's answer.
    pub answer: String,
    /// The model that answered.
    pub model: String,
    /// The passages given to the model, numbered from 1 in this order.
    pub sources: Vec<Passage>,
    /// 1-based numbers of the sources the answer cites as `[n]`.
    pub cited: Vec<usize>,
    /// Passages retrieved but left out because they did not fit the model's window.
    pub dropped_passages: usize,
    /// Token counts and speed.
    pub timings: Timings,
    /// Why generation stopped: `stop`, or `length` when `num_predict` or the window cut the
    /// answer short.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// The context window the prompt was fitted to, in tokens.
    #[serde(default)]
    pub context_window: Option<usize>,
    /// Estimated prompt tokens (see [`crate::prompt`] for the rule).
    #[serde(default)]
    pub estimated_prompt_tokens: Option<usize>,
    /// The query the passages were retrieved with: the question itself, or within a
    /// conversation the standalone query made from it (see [`crate::conversation`]).
    /// `None` when nothing was retrieved (`no_context`).
    #[serde(default)]
    pub searched_query: Option<String>,
    /// Earlier turns of the conversation given to the model.
    #[serde(default)]
    pub history_turns: usize,
    /// Earlier turns left out (the oldest, whole) because they did not fit the window.
    #[serde(default)]
    pub dropped_turns: usize,
    /// The language the model was told to answer in (`"Spanish"`), when it could be told.
    #[serde(default)]
    pub language: Option<String>,
    /// Warnings, e.g. `context_truncated`.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The stored conversation the turn was added to, when asked in one.
    #[serde(default)]
    pub conversation_id: Option<u64>,
}

impl Answer {
    /// The sources the answer cites, with their 1-based numbers.
    pub fn cited_sources(&self) -> impl Iterator<Item = (usize, &Passage)> {
        self.cited
            .iter()
            .filter_map(|&n| self.sources.get(n.wrapping_sub(1)).map(|p| (n, p)))
    }
}

/// An event of a streamed answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AskEvent {
    /// The passages given to the model (numbered from 1), before generation starts.
    Sources {
        /// The passages, best first.
        sources: Vec<Passage>,
        /// Retrieved passages left out because they did not fit the window.
        dropped_passages: usize,
    },
    /// A piece of the answer, as the model writes it.
    Token {
        /// The text.
        text: String,
    },
    /// The end: the whole answer with its sources, citations and timings.
    Done {
        /// The answer.
        answer: Box<Answer>,
    },
}

/// A streamed answer (see the [module documentation](self)). `'static` and `Send`, so
/// bindings can drive it from their own runtimes.
pub type AskStream = BoxStream<'static, Result<AskEvent>>;

/// Writes answers from retrieved passages with a language model.
pub trait Answerer: Send + Sync + 'static {
    /// Answers `question` from `passages` (best first).
    fn answer<'a>(
        &'a self,
        question: &'a str,
        passages: Vec<Passage>,
        options: &'a AskOptions,
    ) -> BoxFuture<'a, Result<Answer>>;

    /// Streams the answer to the last question of a conversation, from `passages`. The
    /// default implementation ignores the earlier turns and calls [`Answerer::answer_stream`].
    fn chat_stream(
        self: Arc<Self>,
        dialogue: Dialogue,
        passages: Vec<Passage>,
        options: AskOptions,
    ) -> AskStream {
        self.answer_stream(dialogue.question, passages, options)
    }

    /// Streams the answer. The default implementation waits for [`Answerer::answer`] and
    /// yields only [`AskEvent::Done`].
    fn answer_stream(
        self: Arc<Self>,
        question: String,
        passages: Vec<Passage>,
        options: AskOptions,
    ) -> AskStream {
        Box::pin(stream::once(async move {
            self.answer(&question, passages, &options)
                .await
                .map(|answer| AskEvent::Done {
                    answer: Box::new(answer),
                })
        }))
    }
}

/// Collects a streamed answer into its final [`Answer`].
pub async fn collect_answer(mut events: AskStream) -> Result<Answer> {
    while let Some(event) = events.next().await {
        if let AskEvent::Done { answer } = event? {
            return Ok(*answer);
        }
    }
    Err(Error::Ollama {
        status: None,
        message: "the answer stream ended without a result".into(),
    })
}

/// The [`Answerer`] over a chat-model server.
///
/// For each question it learns the model's window (once per model: `num_ctx` when set, else
/// `/api/show`'s `context_length` — or llama.cpp's `/props` — capped at
/// `max_context_window`), keeps `num_predict` tokens free for the answer, fits the passages by
/// dropping the lowest-ranked whole ones ([`prompt::build_prompt`]), and asks with numbered
/// sources. With Ollama the window is always sent as `num_ctx`, so Ollama never truncates the
/// prompt silently.
#[derive(Clone)]
pub struct LlmAnswerer {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn ChatBackend>,
    config: AnswerConfig,
    estimator: TokenEstimator,
    /// Learned context lengths per model.
    windows: Mutex<HashMap<String, Option<usize>>>,
}

impl std::fmt::Debug for LlmAnswerer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmAnswerer")
            .field("backend", &self.inner.backend.kind())
            .field("base_url", &self.inner.backend.base_url())
            .field("model", &self.inner.config.model)
            .finish()
    }
}

/// A generation in progress.
struct Generating {
    chat: ChatStream,
    dialogue: Dialogue,
    prepared: Prepared,
    started: Instant,
    sent: Instant,
    text: String,
    first_token: Option<f64>,
}

/// Everything decided before the request is sent.
#[derive(Debug, Clone)]
struct Prepared {
    request: ChatRequest,
    prompt: Prompt,
    build_seconds: f64,
}

impl LlmAnswerer {
    /// An answerer over `backend` with the defaults of `config` and a token estimator.
    pub fn new(
        backend: Arc<dyn ChatBackend>,
        config: AnswerConfig,
        estimator: TokenEstimator,
    ) -> Self {
        LlmAnswerer {
            inner: Arc::new(Inner {
                backend,
                config,
                estimator,
                windows: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// An answerer over the server `config` names.
    pub fn from_config(config: &AnswerConfig, estimator: TokenEstimator) -> Result<Self> {
        Ok(Self::new(
            backend_from_config(config)?,
            config.clone(),
            estimator,
        ))
    }

    /// The chat-model server.
    pub fn backend(&self) -> &Arc<dyn ChatBackend> {
        &self.inner.backend
    }

    /// Streams the answer to `question` from `passages` (best first); see
    /// [`Answerer::answer_stream`].
    pub fn stream(
        &self,
        question: String,
        passages: Vec<Passage>,
        options: AskOptions,
    ) -> AskStream {
        self.inner
            .clone()
            .stream(Dialogue::question(question), passages, options)
    }

    /// Streams the answer to the last question of `dialogue`, with its earlier turns in the
    /// prompt; see [`Answerer::chat_stream`].
    pub fn chat(
        &self,
        dialogue: Dialogue,
        passages: Vec<Passage>,
        options: AskOptions,
    ) -> AskStream {
        self.inner.clone().stream(dialogue, passages, options)
    }
}

impl Inner {
    fn model(&self, options: &AskOptions) -> String {
        options
            .model
            .clone()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| self.config.model.clone())
    }

    /// The window to fit the prompt to, and the `num_ctx` to send.
    async fn window(&self, model: &str, options: &AskOptions) -> Result<(usize, Option<u32>)> {
        if let Some(n) = options.num_ctx.or(self.config.num_ctx) {
            return Ok((n as usize, Some(n)));
        }
        let cached = self.windows.lock().ok().and_then(|w| w.get(model).copied());
        let learned = match cached {
            Some(learned) => learned,
            None => {
                let learned = self.backend.context_length(model).await?;
                if let Ok(mut w) = self.windows.lock() {
                    w.insert(model.to_string(), learned);
                }
                learned
            }
        };
        Ok(window_from(learned, &self.config, self.backend.kind()))
    }

    async fn prepare(
        &self,
        dialogue: &Dialogue,
        passages: Vec<Passage>,
        options: &AskOptions,
    ) -> Result<Prepared> {
        let started = Instant::now();
        let question = dialogue.question.as_str();
        if question.trim().is_empty() {
            return Err(Error::InvalidInput("the question is empty".into()));
        }
        let model = self.model(options);
        let (window, num_ctx) = self.window(&model, options).await?;
        let num_predict = options.num_predict.or(self.config.num_predict);
        let reserve = prompt::answer_reserve(window, num_predict);
        let prompt = if options.no_context && dialogue.history.is_empty() {
            prompt::direct_prompt(question, window, reserve, &self.estimator)?
        } else {
            let input = PromptInput {
                question,
                history: &dialogue.history,
                system: &dialogue.system,
            };
            prompt::build_chat_prompt(&input, passages, window, reserve, &self.estimator)?
        };
        let request = ChatRequest {
            model,
            messages: prompt.messages.clone(),
            options: GenerationOptions {
                temperature: options.temperature.or(self.config.temperature),
                num_ctx,
                num_predict,
                seed: options.seed.or(self.config.seed),
            },
        };
        Ok(Prepared {
            request,
            prompt,
            build_seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn stream(
        self: Arc<Self>,
        dialogue: Dialogue,
        passages: Vec<Passage>,
        options: AskOptions,
    ) -> AskStream {
        enum State {
            Start(Arc<Inner>, Dialogue, Vec<Passage>, AskOptions),
            Generating(Box<Generating>),
            Finished,
        }
        let start = State::Start(self, dialogue, passages, options);
        Box::pin(stream::unfold(start, |state| async move {
            match state {
                State::Finished => None,
                State::Start(inner, dialogue, passages, options) => {
                    let started = Instant::now();
                    let prepared = match inner.prepare(&dialogue, passages, &options).await {
                        Ok(p) => p,
                        Err(e) => return Some((Err(e), State::Finished)),
                    };
                    let event = AskEvent::Sources {
                        sources: prepared.prompt.sources.clone(),
                        dropped_passages: prepared.prompt.dropped,
                    };
                    let chat = inner.backend.chat_stream(prepared.request.clone());
                    let generating = Generating {
                        chat,
                        dialogue,
                        prepared,
                        started,
                        sent: Instant::now(),
                        text: String::new(),
                        first_token: None,
                    };
                    Some((Ok(event), State::Generating(Box::new(generating))))
                }
                State::Generating(mut g) => match g.chat.next().await {
                    Some(Ok(ChatEvent::Token(text))) => {
                        if g.first_token.is_none() {
                            g.first_token = Some(g.sent.elapsed().as_secs_f64());
                        }
                        g.text.push_str(&text);
                        Some((Ok(AskEvent::Token { text }), State::Generating(g)))
                    }
                    Some(Ok(ChatEvent::Done(stats))) => {
                        let answer = finish(*g, stats);
                        Some((
                            Ok(AskEvent::Done {
                                answer: Box::new(answer),
                            }),
                            State::Finished,
                        ))
                    }
                    Some(Err(e)) => Some((Err(e), State::Finished)),
                    None => Some((
                        Err(Error::Ollama {
                            status: None,
                            message: "the chat stream ended without its final line; the partial answer was discarded".into(),
                        }),
                        State::Finished,
                    )),
                },
            }
        }))
    }
}

/// The window to fit a prompt to and the `num_ctx` to send, from the model's learned
/// context length: capped at `max_context_window`, `fallback_context_window` when unknown;
/// `num_ctx` is sent to Ollama only (the OpenAI-compatible API has no such field).
fn window_from(
    learned: Option<usize>,
    config: &AnswerConfig,
    kind: Backend,
) -> (usize, Option<u32>) {
    let window = match learned {
        Some(n) => n.min(config.max_context_window as usize),
        None => config.fallback_context_window as usize,
    };
    (window, (kind == Backend::Ollama).then_some(window as u32))
}

/// The `num_ctx` an answer of `model` is sent with, so that other requests to the same model
/// (the query rewrite) send the same one: Ollama reloads a model whose `num_ctx` changes.
pub async fn request_num_ctx(
    backend: &dyn ChatBackend,
    config: &AnswerConfig,
    model: &str,
    options: &AskOptions,
) -> Result<Option<u32>> {
    if let Some(n) = options.num_ctx.or(config.num_ctx) {
        return Ok((backend.kind() == Backend::Ollama).then_some(n));
    }
    if backend.kind() != Backend::Ollama {
        return Ok(None);
    }
    let learned = backend.context_length(model).await?;
    Ok(window_from(learned, config, backend.kind()).1)
}

fn finish(g: Generating, stats: ChatStats) -> Answer {
    let answer = g.text.trim().to_string();
    let cited = prompt::extract_citations(&answer, g.prepared.prompt.sources.len());
    let prompt = &g.prepared.prompt;
    let warnings: Vec<Warning> =
        truncation_warning(stats.prompt_tokens, prompt.estimated_tokens, prompt.window)
            .into_iter()
            .collect();
    for w in &warnings {
        tracing::warn!("{}", w.message);
    }
    let (history_turns, dropped_turns, language) = (
        prompt.history_turns,
        prompt.dropped_turns,
        prompt.language.clone(),
    );
    let timings = Timings {
        prompt_tokens: stats.prompt_tokens,
        generated_tokens: stats.generated_tokens,
        tokens_per_second: stats.tokens_per_second,
        first_token_seconds: g.first_token,
        total_seconds: Some(g.started.elapsed().as_secs_f64()),
        retrieval_seconds: None,
        prompt_build_seconds: Some(g.prepared.build_seconds),
        prompt_eval_seconds: stats.prompt_eval_seconds,
    };
    Answer {
        question: g.dialogue.question,
        answer,
        model: if stats.model.is_empty() {
            g.prepared.request.model.clone()
        } else {
            stats.model
        },
        sources: g.prepared.prompt.sources,
        cited,
        dropped_passages: g.prepared.prompt.dropped,
        timings,
        finish_reason: stats.finish_reason,
        context_window: Some(g.prepared.prompt.window),
        estimated_prompt_tokens: Some(g.prepared.prompt.estimated_tokens),
        searched_query: None,
        history_turns,
        dropped_turns,
        language,
        warnings,
        conversation_id: None,
    }
}

impl Answerer for LlmAnswerer {
    fn answer<'a>(
        &'a self,
        question: &'a str,
        passages: Vec<Passage>,
        options: &'a AskOptions,
    ) -> BoxFuture<'a, Result<Answer>> {
        let events = self.stream(question.to_string(), passages, options.clone());
        Box::pin(collect_answer(events))
    }

    fn answer_stream(
        self: Arc<Self>,
        question: String,
        passages: Vec<Passage>,
        options: AskOptions,
    ) -> AskStream {
        self.inner
            .clone()
            .stream(Dialogue::question(question), passages, options)
    }

    fn chat_stream(
        self: Arc<Self>,
        dialogue: Dialogue,
        passages: Vec<Passage>,
        options: AskOptions,
    ) -> AskStream {
        self.inner.clone().stream(dialogue, passages, options)
    }
}
