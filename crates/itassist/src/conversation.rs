//! Conversations: a question asked after earlier turns ("and how do I turn off password
//! login?"), made standalone before searching.
//!
//! The input is a list of chat messages (`system` / `user` / `assistant`, as OpenAI clients
//! send them); the last `user` message is the question ([`Dialogue::from_messages`]).
//!
//! A follow-up alone usually misses its topic, so the query searched is built from the
//! conversation ([`QueryMode`]):
//! - [`QueryMode::Weighted`] (no model): the question, repeated so that it weighs most, then
//!   the salient words of earlier user turns, the most recent turn first and older turns
//!   with fewer words ([`weighted_query`]). Works with every retriever: dense retrieval reads
//!   the words as context, BM25 matches them at a lower weight than the repeated question.
//! - [`QueryMode::Rewrite`]: the chat model rewrites the follow-up into a standalone query
//!   with a short prompt ([`rewrite_messages`]); when its reply is unusable, the weighted
//!   query is searched instead.
//! - [`QueryMode::LastTurn`] and [`QueryMode::Joined`]: the baselines of the benchmark (the
//!   question alone; every user turn joined).
//!
//! `itassist-bench followups` measures them (see `docs/bench/followups.md`); the default is
//! the one that measured best.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ollama::ChatMessage;

/// How the query is made from a conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryMode {
    /// The last question alone.
    LastTurn,
    /// Every user turn joined, oldest first.
    Joined,
    /// The question weighted above the salient words of earlier turns (no model).
    #[default]
    Weighted,
    /// The chat model rewrites the follow-up into a standalone query.
    Rewrite,
}

impl std::str::FromStr for QueryMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "last_turn" | "last" => Ok(QueryMode::LastTurn),
            "joined" | "join" => Ok(QueryMode::Joined),
            "weighted" => Ok(QueryMode::Weighted),
            "rewrite" => Ok(QueryMode::Rewrite),
            other => Err(Error::InvalidInput(format!(
                "unknown conversation query mode '{other}': use weighted, rewrite, joined or last_turn"
            ))),
        }
    }
}

impl std::fmt::Display for QueryMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QueryMode::LastTurn => "last_turn",
            QueryMode::Joined => "joined",
            QueryMode::Weighted => "weighted",
            QueryMode::Rewrite => "rewrite",
        })
    }
}

/// Settings of conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatConfig {
    /// How the query is made from the conversation.
    pub query_mode: QueryMode,
    /// Earlier user turns that contribute words to the weighted query.
    pub query_turns: usize,
    /// Words taken from the most recent earlier turn; each older turn gives half as many.
    pub query_words: usize,
    /// Most tokens the rewrite may generate.
    pub rewrite_max_tokens: u32,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            query_mode: QueryMode::default(),
            query_turns: 2,
            query_words: 8,
            rewrite_max_tokens: 48,
        }
    }
}

/// A conversation ready to answer: the question (the last `user` message), the earlier
/// `user` and `assistant` messages, and the caller's `system` messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialogue {
    /// The last user message.
    pub question: String,
    /// Earlier `user` and `assistant` messages, oldest first.
    pub history: Vec<ChatMessage>,
    /// The caller's `system` messages.
    pub system: Vec<String>,
}

impl Dialogue {
    /// A single question without earlier turns.
    pub fn question(question: impl Into<String>) -> Self {
        Dialogue {
            question: question.into(),
            ..Dialogue::default()
        }
    }

    /// Reads chat messages: roles `system`, `user` or `assistant` (any case); the last `user`
    /// message is the question, and must be the last message apart from `system` ones.
    /// `invalid_input` when there is no user message, a role is unknown, or an assistant
    /// message follows the question.
    pub fn from_messages(messages: &[ChatMessage]) -> Result<Self> {
        let mut dialogue = Dialogue::default();
        let mut turns: Vec<ChatMessage> = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let role = m.role.trim().to_ascii_lowercase();
            match role.as_str() {
                "system" | "developer" => dialogue.system.push(m.content.clone()),
                "user" | "assistant" => turns.push(ChatMessage {
                    role,
                    content: m.content.clone(),
                }),
                other => {
                    return Err(Error::InvalidInput(format!(
                        "message {} has role '{other}': use system, user or assistant",
                        i + 1
                    )))
                }
            }
        }
        match turns.pop() {
            Some(last) if last.role == "user" => {
                if last.content.trim().is_empty() {
                    return Err(Error::InvalidInput("the last user message is empty".into()));
                }
                dialogue.question = last.content;
                dialogue.history = turns;
                Ok(dialogue)
            }
            Some(_) => Err(Error::InvalidInput(
                "the last message is the assistant's: end the messages with the user's question"
                    .into(),
            )),
            None => Err(Error::InvalidInput(
                "no user message: the last user message is the question".into(),
            )),
        }
    }

    /// The earlier user messages, most recent first.
    pub fn earlier_questions(&self) -> impl Iterator<Item = &str> {
        self.history
            .iter()
            .rev()
            .filter(|m| m.role == "user")
            .map(|m| m.content.as_str())
    }

    /// The query made by `mode` without a model ([`QueryMode::Rewrite`] gives the weighted
    /// query: the fallback when the rewrite is unusable).
    pub fn query(&self, mode: QueryMode, config: &ChatConfig) -> String {
        match mode {
            QueryMode::LastTurn => self.question.clone(),
            QueryMode::Joined => {
                let mut parts: Vec<&str> = self.earlier_questions().collect();
                parts.reverse();
                parts.push(&self.question);
                parts.join(" ")
            }
            QueryMode::Weighted | QueryMode::Rewrite => weighted_query(
                &self.question,
                self.earlier_questions(),
                config.query_turns,
                config.query_words,
            ),
        }
    }
}

/// Function words of English and Spanish (and question words), never taken as salient.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "done",
    "each", "else", "for", "from", "get", "got", "had", "has", "have", "how", "i", "if", "in",
    "into", "is", "it", "its", "just", "let", "like", "make", "me", "might", "more", "most", "my",
    "need", "no", "not", "now", "of", "on", "one", "only", "or", "other", "our", "out", "please",
    "same", "should", "so", "some", "such", "tell", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "too", "up", "use", "used", "using", "want",
    "was", "way", "we", "were", "what", "when", "where", "which", "while", "who", "why", "will",
    "with", "without", "would", "you", "your", "al", "como", "cómo", "con", "cual", "cuál", "de",
    "del", "donde", "dónde", "el", "en", "es", "esa", "ese", "eso", "esta", "este", "esto", "hay",
    "la", "las", "lo", "los", "me", "mi", "para", "pero", "por", "puedo", "que", "qué", "se", "si",
    "sin", "su", "sus", "un", "una", "uno", "y", "ya",
];

/// The salient words of `text`, in order, without repeats: not function words, at least two
/// characters, or containing a digit or a symbol (`sshd_config`, `-r`).
pub fn salient_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.split_whitespace() {
        let word = raw
            .trim_matches(|c: char| !(c.is_alphanumeric() || "-_./".contains(c)))
            .trim_end_matches(['.', '/'])
            .to_lowercase();
        if word.chars().count() < 2 || STOPWORDS.contains(&word.as_str()) {
            continue;
        }
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// The model-free standalone query: `question` twice (so that it weighs most), then the
/// salient words of up to `turns` earlier questions (most recent first) that the question
/// does not already hold: `words` from the most recent, half as many from each older one.
///
/// ```
/// use itassist::conversation::weighted_query;
/// let q = weighted_query(
///     "and how do I turn off password login?",
///     ["How do I set up SSH keys for a server?"],
///     2,
///     8,
/// );
/// assert!(q.starts_with("and how do I turn off password login? and how do I turn off password login?"));
/// assert!(q.contains("ssh") && q.contains("keys") && q.contains("server"));
/// ```
pub fn weighted_query<'a>(
    question: &str,
    earlier: impl IntoIterator<Item = &'a str>,
    turns: usize,
    words: usize,
) -> String {
    let question = question.trim();
    let mut seen = salient_words(question);
    let mut extra: Vec<String> = Vec::new();
    let mut budget = words;
    for turn in earlier.into_iter().take(turns) {
        let mut taken = 0;
        for w in salient_words(turn) {
            if taken >= budget {
                break;
            }
            if !seen.contains(&w) {
                seen.push(w.clone());
                extra.push(w);
                taken += 1;
            }
        }
        budget = (budget / 2).max(1);
    }
    if extra.is_empty() {
        return question.to_string();
    }
    format!("{question} {question} {}", extra.join(" "))
}

/// The instruction of the rewrite.
pub const REWRITE_PROMPT: &str =
    "Rewrite the user's last question as one standalone search query that can be understood \
without the conversation: replace pronouns and vague references with the topic they refer to. \
Keep the question's language. Reply with the query only, on one line, without an answer.";

/// The short prompt asking the chat model to rewrite the follow-up into a standalone query:
/// the instruction, then the earlier user questions (up to `turns`) and the follow-up.
pub fn rewrite_messages(dialogue: &Dialogue, turns: usize) -> Vec<ChatMessage> {
    let mut earlier: Vec<&str> = dialogue.earlier_questions().take(turns).collect();
    earlier.reverse();
    let mut text = String::from("Conversation:\n");
    for q in earlier {
        text.push_str(&format!("User: {}\n", q.trim()));
    }
    text.push_str(&format!(
        "\nLast question: {}\n\nStandalone query:",
        dialogue.question.trim()
    ));
    vec![ChatMessage::system(REWRITE_PROMPT), ChatMessage::user(text)]
}

/// The query in the model's rewrite, or `None` when it is unusable (empty, or much longer
/// than a query).
pub fn parse_rewrite(reply: &str) -> Option<String> {
    let line = reply.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line
        .trim_start_matches("Standalone query:")
        .trim_start_matches("Query:")
        .trim()
        .trim_matches(['"', '\'', '`', '*'])
        .trim();
    (!line.is_empty() && line.chars().count() <= 300).then(|| line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }

    #[test]
    fn reads_messages() {
        let d = Dialogue::from_messages(&[
            msg("system", "Be brief."),
            msg("user", "How do I set up SSH keys?"),
            msg("assistant", "Run ssh-keygen."),
            msg("User", "and turn off passwords?"),
        ])
        .unwrap();
        assert_eq!(d.question, "and turn off passwords?");
        assert_eq!(d.history.len(), 2);
        assert_eq!(d.system, vec!["Be brief.".to_string()]);
        for bad in [
            vec![msg("assistant", "hi")],
            vec![],
            vec![msg("user", "q"), msg("tool", "x")],
            vec![msg("user", "  ")],
        ] {
            assert_eq!(
                Dialogue::from_messages(&bad).unwrap_err().code(),
                "invalid_input"
            );
        }
    }

    #[test]
    fn queries() {
        let d = Dialogue::from_messages(&[
            msg("user", "How do I pin a package version with apt?"),
            msg("assistant", "Use apt preferences."),
            msg("user", "What about holding it?"),
        ])
        .unwrap();
        let c = ChatConfig::default();
        assert_eq!(d.query(QueryMode::LastTurn, &c), "What about holding it?");
        assert_eq!(
            d.query(QueryMode::Joined, &c),
            "How do I pin a package version with apt? What about holding it?"
        );
        let w = d.query(QueryMode::Weighted, &c);
        assert!(w.ends_with("pin package version apt"), "{w}");
        assert_eq!(
            parse_rewrite("\"apt hold a package\"\nmore"),
            Some("apt hold a package".into())
        );
        assert_eq!(parse_rewrite("  \n"), None);
    }
}
