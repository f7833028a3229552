//! Streamed answers: [`AskStream`], a JavaScript async iterator over the core's
//! [`itassist::AskStream`].
//!
//! ```js
//! for await (const event of assistant.askStream('How do I pin a package?')) {
//!   if (event.type === 'token') process.stdout.write(event.text)
//!   else if (event.type === 'done') console.log(event.answer.cited)
//! }
//! ```
//!
//! Events come in the core's order: one `sources`, then `token`s, then one `done` with the
//! whole [`Answer`]. A failure rejects the pending `next()` with an `Error` carrying `code`,
//! and the iteration ends. Leaving the loop early (`break`) drops the request on the server.

use std::sync::Arc;

use futures_util::StreamExt;
use napi::bindgen_prelude::{AsyncGenerator, ToNapiValue};
use napi::{sys, Env};
use napi_derive::napi;
use tokio::sync::Mutex;

use crate::error;
use crate::types::{Answer, Passage};

/// An event of a streamed answer, discriminated by `type`.
///
/// `Done` is larger than the other variants; events are converted to JavaScript at once, so
/// boxing it would only add an allocation.
#[napi(discriminant = "type", discriminant_case = "lowercase")]
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum AskEvent {
    /// The passages given to the model (numbered from 1), before generation starts.
    Sources {
        /// The passages, best first.
        sources: Vec<Passage>,
        /// Retrieved passages left out because they did not fit the model's window.
        dropped_passages: u32,
    },
    /// A piece of the answer, as the model writes it.
    Token {
        /// The text.
        text: String,
    },
    /// The end: the whole answer with its sources, citations and timings.
    Done {
        /// The answer.
        answer: Answer,
    },
}

impl AskEvent {
    /// Converts a core event; `None` for event kinds this binding does not know yet.
    fn from_core(event: itassist::AskEvent) -> Option<Self> {
        match event {
            itassist::AskEvent::Sources {
                sources,
                dropped_passages,
            } => Some(AskEvent::Sources {
                sources: sources.into_iter().map(Passage::from).collect(),
                dropped_passages: u32::try_from(dropped_passages).unwrap_or(u32::MAX),
            }),
            itassist::AskEvent::Token { text } => Some(AskEvent::Token { text }),
            itassist::AskEvent::Done { answer } => Some(AskEvent::Done {
                answer: (*answer).into(),
            }),
            _ => None,
        }
    }
}

/// What one `next()` produces: an event, or a core error that rejects the `next()` promise.
///
/// Named like the event type on purpose: napi-rs writes the iterator's yield type into
/// `index.d.ts` by name, and to JavaScript an item *is* an [`AskEvent`] (the error case never
/// reaches JavaScript as a value; it becomes the rejection).
pub mod item {
    use super::*;

    /// An event or the error that ends the stream.
    pub struct AskEvent(pub Result<super::AskEvent, itassist::Error>);

    impl ToNapiValue for AskEvent {
        unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
            match val.0 {
                // SAFETY: `env` is the live environment napi-rs passed in.
                Ok(event) => unsafe { ToNapiValue::to_napi_value(env, event) },
                Err(e) => Err(error::core_error(&Env::from_raw(env), &e)),
            }
        }
    }
}

/// A streamed answer: an async iterator of `AskEvent`s (`for await ... of`).
///
/// Returned by `Assistant.askStream()`. Iterate it once.
#[napi(async_iterator)]
pub struct AskStream {
    /// The core stream; `None` once finished, failed or closed.
    events: Arc<Mutex<Option<itassist::AskStream>>>,
}

impl AskStream {
    /// Wraps a core stream.
    pub fn new(events: itassist::AskStream) -> Self {
        AskStream {
            events: Arc::new(Mutex::new(Some(events))),
        }
    }
}

#[napi]
impl AsyncGenerator for AskStream {
    type Yield = item::AskEvent;
    type Next = ();
    type Return = ();

    fn next(
        &mut self,
        _value: Option<Self::Next>,
    ) -> impl std::future::Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        let events = self.events.clone();
        async move {
            let mut guard = events.lock().await;
            loop {
                let Some(stream) = guard.as_mut() else {
                    return Ok(None);
                };
                match stream.next().await {
                    None => {
                        *guard = None;
                        return Ok(None);
                    }
                    Some(Ok(event)) => {
                        let done = matches!(event, itassist::AskEvent::Done { .. });
                        if done {
                            *guard = None;
                        }
                        if let Some(event) = AskEvent::from_core(event) {
                            return Ok(Some(item::AskEvent(Ok(event))));
                        }
                    }
                    Some(Err(e)) => {
                        *guard = None;
                        return Ok(Some(item::AskEvent(Err(e))));
                    }
                }
            }
        }
    }

    fn complete(
        &mut self,
        _value: Option<Self::Return>,
    ) -> impl std::future::Future<Output = napi::Result<Option<Self::Yield>>> + Send + 'static {
        let events = self.events.clone();
        async move {
            // Dropping the core stream cancels the request on the model server.
            events.lock().await.take();
            Ok(None)
        }
    }
}
