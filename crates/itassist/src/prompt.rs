//! Prompts: fitting retrieved passages (and the earlier turns of a conversation) into the
//! model's window, the prompt with numbered sources, and finding the `[n]` citations in an
//! answer.
//!
//! # Conversations
//! Earlier turns go between the instruction and the last question, oldest first. They may take
//! at most [`HISTORY_SHARE`] of the tokens left after the instruction and the question; the
//! most recent turns are kept and older ones are dropped whole (a turn is a user message with
//! the assistant's reply), never cut, and counted in [`Prompt::dropped_turns`]. Passages take
//! what is left.
//!
//! # Answer language
//! The instruction names the language of the question ([`detect_language`]), which small
//! models follow better than "the same language as the question".
//!
//! # Token estimates
//! The chat model's tokenizer is not available on this side of the HTTP API, so prompt sizes
//! are estimated with a documented rule ([`TokenEstimator`]): the embedding model's tokenizer
//! count (WordPiece) times [`TOKEN_SAFETY_FACTOR`] (1.3), or, without a tokenizer,
//! `ceil(chars / 3)`. Both over-estimate the usual BPE counts of chat models on English and
//! Spanish prose (about 4 characters per token), so a prompt that "fits" does fit; the
//! window is also kept free of [`CHAT_TEMPLATE_OVERHEAD`] tokens for the chat template.

use tokenizers::Tokenizer;

use crate::error::{Error, Result};
use crate::ollama::ChatMessage;
use crate::retrieve::Passage;

/// Multiplier applied to the embedding tokenizer's count.
pub const TOKEN_SAFETY_FACTOR: f64 = 1.3;
/// Characters per token assumed without a tokenizer.
pub const CHARS_PER_TOKEN: f64 = 3.0;
/// Tokens kept for the chat template (role markers, separators) of the whole prompt.
pub const CHAT_TEMPLATE_OVERHEAD: usize = 32;
/// Tokens kept for the answer when `num_predict` is not set: a quarter of the window, at
/// most this many.
pub const DEFAULT_ANSWER_RESERVE: usize = 512;
/// Tokens counted for the role markers of each earlier turn's message.
pub const MESSAGE_OVERHEAD: usize = 8;
/// Most of the budget (after the instruction and the question) that earlier turns may take.
pub const HISTORY_SHARE: f64 = 0.5;

/// The instruction given with the sources.
pub const SYSTEM_PROMPT: &str = "You are an IT assistant. Answer the question using only the numbered sources provided. \
Cite every source you use with its number in square brackets, like [1] or [2][3]. \
If the sources do not contain the answer, say that the documents do not contain the answer; do not make one up.";

/// Common words of English and Spanish, to settle the language of short questions that
/// statistical detection finds unreliable.
const ENGLISH_WORDS: &[&str] = &[
    "the", "how", "what", "do", "does", "is", "are", "can", "i", "to", "and", "of", "in", "my",
    "which", "where", "why", "with", "on", "it", "turn", "off", "set", "up", "use",
];
const SPANISH_WORDS: &[&str] = &[
    "el",
    "la",
    "los",
    "las",
    "de",
    "del",
    "cómo",
    "como",
    "qué",
    "que",
    "es",
    "un",
    "una",
    "en",
    "para",
    "por",
    "con",
    "se",
    "mi",
    "puedo",
    "dónde",
    "cuál",
    "y",
    "o",
    "desactivar",
];

/// The language of `text`, by its English name (`"Spanish"`, `"English"`), or `None` when
/// it cannot be told. Uses `whatlang`; for short texts it cannot call reliably, a vote of
/// common English and Spanish words settles it.
///
/// ```
/// use itassist::prompt::detect_language;
/// assert_eq!(detect_language("¿Cómo configuro la red en Debian?"), Some("Spanish"));
/// assert_eq!(detect_language("How do I configure the network on Debian?"), Some("English"));
/// ```
pub fn detect_language(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text);
    if let Some(info) = &info {
        if info.is_reliable() {
            return Some(info.lang().eng_name());
        }
    }
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let count = |list: &[&str]| words.iter().filter(|w| list.contains(w)).count();
    let spanish = count(SPANISH_WORDS) + usize::from(text.contains(['¿', '¡', 'ñ']));
    let english = count(ENGLISH_WORDS);
    match spanish.cmp(&english) {
        std::cmp::Ordering::Greater => Some("Spanish"),
        std::cmp::Ordering::Less => Some("English"),
        std::cmp::Ordering::Equal => info
            .filter(|i| i.confidence() >= 0.5)
            .map(|i| i.lang().eng_name()),
    }
}

/// The instruction: [`SYSTEM_PROMPT`], then which language to answer in, then the caller's
/// own system messages (for example those an OpenAI client sends).
pub fn system_prompt(language: Option<&str>, extra: &[String]) -> String {
    let mut text = SYSTEM_PROMPT.to_string();
    match language {
        Some(lang) => text.push_str(&format!(
            " The question is in {lang}: write your whole answer in {lang}."
        )),
        None => text.push_str(" Answer in the language of the question."),
    }
    for e in extra.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        text.push_str("\n\n");
        text.push_str(e);
    }
    text
}

/// What a prompt is built from besides the passages.
#[derive(Debug, Clone, Copy, Default)]
pub struct PromptInput<'a> {
    /// The question (the last user message).
    pub question: &'a str,
    /// Earlier messages of the conversation (`user` and `assistant`), oldest first.
    pub history: &'a [ChatMessage],
    /// The caller's own system messages, added after the instruction.
    pub system: &'a [String],
}

/// Estimates token counts (see the [module documentation](self) for the rule).
#[derive(Clone, Default)]
pub struct TokenEstimator {
    tokenizer: Option<Tokenizer>,
}

impl std::fmt::Debug for TokenEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEstimator")
            .field("tokenizer", &self.tokenizer.is_some())
            .finish()
    }
}

impl TokenEstimator {
    /// Estimates from the character count only (`ceil(chars / 3)`).
    pub fn chars() -> Self {
        TokenEstimator { tokenizer: None }
    }

    /// Estimates as `ceil(1.3 * tokenizer count)`.
    pub fn with_tokenizer(tokenizer: Tokenizer) -> Self {
        TokenEstimator {
            tokenizer: Some(tokenizer),
        }
    }

    /// The estimated token count of `text`.
    pub fn estimate(&self, text: &str) -> usize {
        let by_chars = || (text.chars().count() as f64 / CHARS_PER_TOKEN).ceil() as usize;
        match &self.tokenizer {
            Some(t) => match t.encode_fast(text, false) {
                Ok(enc) => (enc.len() as f64 * TOKEN_SAFETY_FACTOR).ceil() as usize,
                Err(_) => by_chars(),
            },
            None => by_chars(),
        }
    }
}

/// A prompt ready to send, with the passages it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// The chat messages.
    pub messages: Vec<ChatMessage>,
    /// The passages in the prompt, numbered from 1 in this order.
    pub sources: Vec<Passage>,
    /// Passages left out (the lowest-ranked ones) because they did not fit.
    pub dropped: usize,
    /// Estimated prompt tokens.
    pub estimated_tokens: usize,
    /// The window the prompt was fitted to.
    pub window: usize,
    /// Tokens kept free for the answer.
    pub answer_reserve: usize,
    /// Earlier turns of the conversation in the prompt.
    pub history_turns: usize,
    /// Earlier turns left out (the oldest ones, whole) because they did not fit.
    pub dropped_turns: usize,
    /// The language the model was told to answer in, when it could be told.
    pub language: Option<String>,
}

/// How a source is introduced in the prompt: `[n] name, page p`.
pub fn source_header(number: usize, passage: &Passage) -> String {
    format!("[{number}] {}", passage.citation())
}

fn source_block(number: usize, passage: &Passage) -> String {
    format!(
        "{}\n{}\n\n",
        source_header(number, passage),
        passage.text.trim()
    )
}

fn user_message(sources: &str, question: &str) -> String {
    if sources.is_empty() {
        format!("Sources:\n(no passages were found in the documents)\n\nQuestion: {question}")
    } else {
        format!("Sources:\n\n{sources}Question: {question}")
    }
}

/// Tokens to keep free for the answer.
pub fn answer_reserve(window: usize, num_predict: Option<u32>) -> usize {
    match num_predict {
        Some(n) => n as usize,
        None => (window / 4).min(DEFAULT_ANSWER_RESERVE),
    }
}

/// Builds the prompt: the instruction, then as many passages as fit into `window` minus
/// `answer_reserve` tokens, best first. Lower-ranked passages that do not fit are dropped
/// whole (never cut), and counted in [`Prompt::dropped`].
///
/// Fails with [`Error::ContextOverflow`] when the question alone, or the question with the
/// best passage, does not fit.
pub fn build_prompt(
    question: &str,
    passages: Vec<Passage>,
    window: usize,
    answer_reserve: usize,
    estimator: &TokenEstimator,
) -> Result<Prompt> {
    let input = PromptInput {
        question,
        ..PromptInput::default()
    };
    build_chat_prompt(&input, passages, window, answer_reserve, estimator)
}

/// Splits earlier messages into turns: each starts at a `user` message and holds the
/// replies after it (a leading reply without a question is a turn of its own).
fn split_turns(history: &[ChatMessage]) -> Vec<&[ChatMessage]> {
    let mut turns = Vec::new();
    let mut start = 0;
    for (i, m) in history.iter().enumerate() {
        if m.role == "user" && i > start {
            turns.push(&history[start..i]);
            start = i;
        }
    }
    if start < history.len() {
        turns.push(&history[start..]);
    }
    turns
}

/// Like [`build_prompt`], within a conversation: the earlier turns of `input.history` go
/// between the instruction and the last question, the most recent ones first to be kept,
/// older ones dropped whole (see the [module documentation](self)). When the best passage
/// does not fit beside the turns, more turns are dropped before failing.
pub fn build_chat_prompt(
    input: &PromptInput<'_>,
    passages: Vec<Passage>,
    window: usize,
    answer_reserve: usize,
    estimator: &TokenEstimator,
) -> Result<Prompt> {
    let question = input.question;
    let language = detect_language(question);
    let system = system_prompt(language, input.system);
    let fixed = estimator.estimate(&system)
        + estimator.estimate(&user_message("", question))
        + CHAT_TEMPLATE_OVERHEAD;
    let available = window.saturating_sub(answer_reserve);
    if fixed > available {
        return Err(Error::ContextOverflow {
            needed: fixed + answer_reserve,
            available: window,
        });
    }
    let budget = available - fixed;
    let turns = split_turns(input.history);
    let costs: Vec<usize> = turns
        .iter()
        .map(|t| {
            t.iter()
                .map(|m| estimator.estimate(&m.content) + MESSAGE_OVERHEAD)
                .sum()
        })
        .collect();
    // The most recent turns that fit the history share, newest first.
    let history_budget = (budget as f64 * HISTORY_SHARE) as usize;
    let mut kept = 0;
    let mut history_cost = 0;
    for cost in costs.iter().rev() {
        if history_cost + cost > history_budget {
            break;
        }
        history_cost += cost;
        kept += 1;
    }
    let first_cost = passages
        .first()
        .map(|p| estimator.estimate(&source_block(1, p)));
    if let Some(first) = first_cost {
        // Drop more turns, oldest first, until the best passage fits beside them.
        while kept > 0 && history_cost + first > budget {
            history_cost -= costs[costs.len() - kept];
            kept -= 1;
        }
    }
    let passage_budget = budget - history_cost;
    let total = passages.len();
    let mut used = 0;
    let mut blocks = String::new();
    let mut sources = Vec::with_capacity(total);
    for passage in passages {
        let block = source_block(sources.len() + 1, &passage);
        let cost = estimator.estimate(&block);
        if used + cost > passage_budget {
            if sources.is_empty() {
                return Err(Error::ContextOverflow {
                    needed: fixed + cost + answer_reserve,
                    available: window,
                });
            }
            break;
        }
        used += cost;
        blocks.push_str(&block);
        sources.push(passage);
    }
    let dropped = total - sources.len();
    let mut messages = vec![ChatMessage::system(system)];
    for turn in &turns[turns.len() - kept..] {
        messages.extend(turn.iter().cloned());
    }
    messages.push(ChatMessage::user(user_message(&blocks, question)));
    Ok(Prompt {
        messages,
        sources,
        dropped,
        estimated_tokens: fixed + history_cost + used,
        window,
        answer_reserve,
        history_turns: kept,
        dropped_turns: turns.len() - kept,
        language: language.map(str::to_string),
    })
}

/// The prompt without context: the question alone, as the original `/ask/` sent it.
pub fn direct_prompt(
    question: &str,
    window: usize,
    answer_reserve: usize,
    estimator: &TokenEstimator,
) -> Result<Prompt> {
    let needed = estimator.estimate(question) + CHAT_TEMPLATE_OVERHEAD;
    if needed + answer_reserve > window {
        return Err(Error::ContextOverflow {
            needed: needed + answer_reserve,
            available: window,
        });
    }
    Ok(Prompt {
        messages: vec![ChatMessage::user(question)],
        sources: Vec::new(),
        dropped: 0,
        estimated_tokens: needed,
        window,
        answer_reserve,
        history_turns: 0,
        dropped_turns: 0,
        language: None,
    })
}

/// The source numbers cited in `answer`, ascending, without repeats, limited to
/// `1..=sources`. Recognises `[1]`, `[1, 3]`, `[1][2]`, `[2-4]`, `[Source 2]`, `[source 1; 3]`.
///
/// ```
/// use itassist::prompt::extract_citations;
/// assert_eq!(extract_citations("Use apt [2]. See [1, 3] and [Source 2][9].", 3), vec![1, 2, 3]);
/// ```
pub fn extract_citations(answer: &str, sources: usize) -> Vec<usize> {
    let mut cited = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inside = &rest[..close];
        if inside.len() <= 40 {
            let lower = inside.to_ascii_lowercase();
            let body = lower
                .trim()
                .trim_start_matches("sources")
                .trim_start_matches("source")
                .trim();
            let valid = !body.is_empty()
                && body
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, ',' | ';' | '-' | ' '));
            if valid {
                for part in body.split([',', ';', ' ']).filter(|p| !p.is_empty()) {
                    let numbers: Vec<usize> = match part.split_once('-') {
                        Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                            (Ok(a), Ok(b)) if a <= b && b - a < 50 => (a..=b).collect(),
                            _ => Vec::new(),
                        },
                        None => part.parse().into_iter().collect(),
                    };
                    cited.extend(numbers.into_iter().filter(|n| (1..=sources).contains(n)));
                }
            }
        }
        rest = &rest[close + 1..];
    }
    cited.sort_unstable();
    cited.dedup();
    cited
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(text: &str, page: u32) -> Passage {
        Passage {
            chunk_id: page,
            document_id: 1,
            source: "/docs/guide.pdf".into(),
            name: "guide.pdf".into(),
            title: None,
            page: Some(page),
            section: None,
            text: text.into(),
            score: 1.0 / page as f32,
            span: (0, text.len()),
        }
    }

    #[test]
    fn drops_lowest_ranked_whole_passages() {
        let est = TokenEstimator::chars();
        let long = "word ".repeat(300); // 1500 chars = 500 tokens
        let passages = vec![passage(&long, 1), passage(&long, 2), passage(&long, 3)];
        let prompt = build_prompt("how?", passages, 1400, 200, &est).unwrap();
        assert_eq!(prompt.sources.len(), 2);
        assert_eq!(prompt.dropped, 1);
        assert_eq!(prompt.sources[1].page, Some(2));
        let user = &prompt.messages[1].content;
        assert!(user.contains("[1] guide.pdf, page 1"));
        assert!(user.contains("[2] guide.pdf, page 2"));
        assert!(!user.contains("[3]"));
        assert!(user.contains(long.trim()), "passages are never cut");
        assert!(prompt.estimated_tokens + 200 <= 1400);
    }

    #[test]
    fn overflow_when_nothing_fits() {
        let est = TokenEstimator::chars();
        let long = "word ".repeat(300);
        let err = build_prompt("how?", vec![passage(&long, 1)], 600, 200, &est).unwrap_err();
        assert_eq!(err.code(), "context_overflow");
        let err = build_prompt("how?", vec![], 100, 90, &est).unwrap_err();
        assert_eq!(err.code(), "context_overflow");
    }

    #[test]
    fn citations() {
        assert_eq!(
            extract_citations("a [1] b [3][1] c [2-3]", 5),
            vec![1, 2, 3]
        );
        assert_eq!(
            extract_citations("[Sources 4; 5] [0] [6] [x] [", 5),
            vec![4, 5]
        );
        assert_eq!(extract_citations("no citations", 5), Vec::<usize>::new());
        assert_eq!(extract_citations("[1 ,2]", 1), vec![1]);
    }
}
