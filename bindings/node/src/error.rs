//! Error mapping: every core [`itassist::Error`] becomes a JavaScript `Error` whose `code` is
//! the core's stable [`itassist::Error::code`] and whose message is the whole cause chain
//! ([`itassist::Error::display_chain`]).
//!
//! napi-rs turns a Rust error returned from a future into an `Error` whose `code` is a napi
//! status (`GenericFailure`). To keep the core's code, the JavaScript error object is built
//! here, on the JavaScript thread, and handed back to napi-rs as a reference: napi-rs then
//! rejects the promise with that very object.

use napi::bindgen_prelude::{JsError, Unknown};
use napi::Env;

/// The code of failures that are the binding's own (a worker thread that panicked).
pub const INTERNAL: &str = "internal";

/// A JavaScript `Error` with `code` and `message`, wrapped so napi-rs throws or rejects with it.
///
/// Must be called on the JavaScript thread (inside a promise callback or a `#[napi]` function).
pub fn js_error(env: &Env, code: &str, message: String) -> napi::Error {
    let error: napi::Error<String> = napi::Error::new(code.to_string(), message);
    let value: Unknown<'_> = JsError::from(error).into_unknown(*env);
    napi::Error::from(value)
}

/// The JavaScript error for a core error: `code` = [`itassist::Error::code`], message = the
/// cause chain.
pub fn core_error(env: &Env, error: &itassist::Error) -> napi::Error {
    js_error(env, error.code(), error.display_chain())
}

/// A failure of the binding itself (a panicked or cancelled worker task).
pub fn internal(env: &Env, what: &str, cause: impl std::fmt::Display) -> napi::Error {
    js_error(env, INTERNAL, format!("{what}: {cause}"))
}

/// An invalid argument, reported with the core's `invalid_input` code.
pub fn invalid_input(message: impl Into<String>) -> itassist::Error {
    itassist::Error::InvalidInput(message.into())
}
