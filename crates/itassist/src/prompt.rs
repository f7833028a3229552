//! Prompts: fitting retrieved passages into the model's window, the prompt with numbered
//! sources, and finding the `[n]` citations in an answer.
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

/// The instruction given with the sources.
pub const SYSTEM_PROMPT: &str = "You are an IT assistant. Answer the question using only the numbered sources provided. \
Cite every source you use with its number in square brackets, like [1] or [2][3]. \
If the sources do not contain the answer, say that the documents do not contain the answer; do not make one up.";

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
    let fixed = estimator.estimate(SYSTEM_PROMPT)
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
    let total = passages.len();
    let mut used = 0;
    let mut blocks = String::new();
    let mut sources = Vec::with_capacity(total);
    for passage in passages {
        let block = source_block(sources.len() + 1, &passage);
        let cost = estimator.estimate(&block);
        if used + cost > budget {
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
    Ok(Prompt {
        messages: vec![
            ChatMessage::system(SYSTEM_PROMPT),
            ChatMessage::user(user_message(&blocks, question)),
        ],
        sources,
        dropped,
        estimated_tokens: fixed + used,
        window,
        answer_reserve,
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
