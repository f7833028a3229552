//! Streamed answers: `AnswerStream` (`for token in stream`) and `AsyncAnswerStream`
//! (`async for token in stream`), two views of one stream of the core's [`AskEvent`]s.
//!
//! The stream is lazy: the core is opened (if needed) and the request sent on the first
//! token asked for. Events come in the core's order: the sources, then tokens, then the whole
//! answer, which the stream keeps (`.answer`) once exhausted. Dropping it (or Ctrl-C while a
//! token is awaited) drops the request, which makes the server stop generating.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;

use itassist::ollama::ChatMessage;
use itassist::{AskEvent, AskOptions, AskStream};

use crate::error::{to_py, IntoPyResult};
use crate::op::{core_async, lock, Handle, Operation};
use crate::runtime;
use crate::types::{Answer, Passage};

/// What is asked: one question, a conversation, or a question in a stored conversation.
pub enum Question {
    /// `Assistant.ask_stream`.
    Single(String),
    /// `Assistant.chat_stream`: messages whose last `user` message is the question.
    Messages(Vec<ChatMessage>),
    /// `Assistant.continue_conversation_stream`: `(conversation id, question)`.
    Stored(u64, String),
}

impl Question {
    /// Starts the core's stream for this question.
    fn stream(self, core: &itassist::Assistant, options: AskOptions) -> AskStream {
        match self {
            Question::Single(question) => core.ask_stream(&question, options),
            Question::Messages(messages) => core.chat_stream(&messages, options),
            Question::Stored(id, question) => {
                core.continue_conversation_stream(id, &question, options)
            }
        }
    }
}

/// A question to stream the answer of: `Assistant.ask_stream` makes an `AnswerStream` of it,
/// `_aask_stream` an `AsyncAnswerStream`.
pub struct AskRequest {
    shared: Arc<StreamShared>,
}

impl AskRequest {
    /// A request for the answer to `question`, sent on the first token asked for.
    pub fn new(handle: &Arc<Handle>, question: Question, options: AskOptions) -> Self {
        AskRequest {
            shared: Arc::new(StreamShared {
                source: tokio::sync::Mutex::new(StreamSource::Pending {
                    handle: handle.clone(),
                    question,
                    options,
                }),
                sources: Mutex::new(None),
                answer: Mutex::new(None),
            }),
        }
    }
}

impl Operation for AskRequest {
    type Output = AnswerStream;
    type AsyncOutput = AsyncAnswerStream;

    fn run(self, _py: Python<'_>) -> PyResult<AnswerStream> {
        Ok(AnswerStream {
            shared: self.shared,
        })
    }

    fn run_async(self, _py: Python<'_>) -> PyResult<AsyncAnswerStream> {
        Ok(AsyncAnswerStream {
            shared: self.shared,
        })
    }
}

enum StreamSource {
    /// Not started: the core may still have to be opened.
    Pending {
        handle: Arc<Handle>,
        question: Question,
        options: AskOptions,
    },
    Running(AskStream),
    Finished,
}

/// State shared by the sync and async stream classes.
struct StreamShared {
    source: tokio::sync::Mutex<StreamSource>,
    sources: Mutex<Option<(Vec<itassist::Passage>, usize)>>,
    answer: Mutex<Option<itassist::Answer>>,
}

impl StreamShared {
    /// The next token, or `None` at the end (the answer is then stored).
    async fn next_token(self: Arc<Self>) -> itassist::Result<Option<String>> {
        let mut source = self.source.lock().await;
        loop {
            match &mut *source {
                StreamSource::Finished => return Ok(None),
                StreamSource::Pending { .. } => {
                    let StreamSource::Pending {
                        handle,
                        question,
                        options,
                    } = std::mem::replace(&mut *source, StreamSource::Finished)
                    else {
                        continue;
                    };
                    let core = core_async(handle).await?;
                    *source = StreamSource::Running(question.stream(&core, options));
                }
                StreamSource::Running(events) => match events.next().await {
                    None => {
                        *source = StreamSource::Finished;
                        return Ok(None);
                    }
                    Some(Err(e)) => {
                        *source = StreamSource::Finished;
                        return Err(e);
                    }
                    Some(Ok(AskEvent::Token { text })) => return Ok(Some(text)),
                    Some(Ok(AskEvent::Sources {
                        sources,
                        dropped_passages,
                    })) => {
                        *lock(&self.sources) = Some((sources, dropped_passages));
                    }
                    Some(Ok(AskEvent::Done { answer })) => {
                        *lock(&self.answer) = Some(*answer);
                        *source = StreamSource::Finished;
                        return Ok(None);
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
    }

    fn answer(&self) -> Option<Answer> {
        lock(&self.answer).clone().map(Answer)
    }

    fn sources(&self) -> Option<Vec<Passage>> {
        lock(&self.sources)
            .as_ref()
            .map(|(s, _)| s.iter().cloned().map(Passage).collect())
    }

    fn dropped_passages(&self) -> Option<usize> {
        lock(&self.sources).as_ref().map(|(_, d)| *d)
    }

    /// `NAME(done=True|False)`.
    fn repr(&self, class: &str) -> String {
        let done = if self.answer().is_some() {
            "True"
        } else {
            "False"
        };
        format!("{class}(done={done})")
    }
}

/// Emits the `#[pymethods]` of a stream class: its own `methods`, then the accessors both
/// stream classes share.
macro_rules! stream_methods {
    ($class:ident { $($methods:tt)* }) => {
        #[pymethods]
        impl $class {
            $($methods)*

            /// The whole answer, once the stream is exhausted (else `None`).
            #[getter]
            fn answer(&self) -> Option<Answer> {
                self.shared.answer()
            }

            /// The passages given to the model (numbered from 1), once chosen (else `None`).
            #[getter]
            fn sources(&self) -> Option<Vec<Passage>> {
                self.shared.sources()
            }

            /// Retrieved passages left out because they did not fit the window (once known).
            #[getter]
            fn dropped_passages(&self) -> Option<usize> {
                self.shared.dropped_passages()
            }

            fn __repr__(&self) -> String {
                self.shared.repr(stringify!($class))
            }
        }
    };
}

/// A streamed answer: iterate to get its tokens; then `.answer` is the whole `Answer`.
#[pyclass(frozen, module = "itassist")]
pub struct AnswerStream {
    shared: Arc<StreamShared>,
}

stream_methods!(AnswerStream {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let shared = self.shared.clone();
        runtime::wait(py, shared.next_token())?.py()
    }
});

/// A streamed answer for `async for`: yields tokens; then `.answer` is the whole `Answer`.
#[pyclass(frozen, module = "itassist")]
pub struct AsyncAnswerStream {
    shared: Arc<StreamShared>,
}

stream_methods!(AsyncAnswerStream {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        runtime::future_into_py(py, async move {
            match shared.next_token().await {
                Ok(Some(token)) => Ok(token),
                Ok(None) => Err(PyStopAsyncIteration::new_err(())),
                Err(e) => Err(to_py(e)),
            }
        })
    }
});
