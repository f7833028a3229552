//! Answers: the [`Answerer`] trait, which turns a question and retrieved passages into an
//! answer that cites them.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::error::Result;
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
    /// Seconds for the whole answer.
    pub total_seconds: Option<f64>,
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
}

/// Writes answers from retrieved passages with a language model.
pub trait Answerer: Send + Sync {
    /// Answers `question` from `passages` (best first).
    fn answer<'a>(
        &'a self,
        question: &'a str,
        passages: Vec<Passage>,
        options: &'a AskOptions,
    ) -> BoxFuture<'a, Result<Answer>>;
}
