//! Error mapping: every core [`itassist::Error`] becomes a JavaScript `Error` whose `code` is
//! the core's stable [`itassist::Error::code`] and whose message is the whole cause chain
//! ([`itassist::Error::display_chain`]).
//!
//! napi-rs turns a Rust error returned from a future into an `Error` whose `code` is a napi
//! status (`GenericFailure`). To keep the core's code, the JavaScript error object is built
//! here, on the JavaScript thread, and handed back to napi-rs as a reference: napi-rs then
//! rejects the promise with that very object.

use napi::bindgen_prelude::{JsError, JsObjectValue, Object, Unknown};
use napi::Env;
use serde_json::Value;

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

/// `data_dir` -> `dataDir`: the core's field names as JavaScript property names.
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The JavaScript error for a core error: `code` = [`itassist::Error::code`], message = the
/// cause chain, and one property per structured detail of [`itassist::Error::details`]
/// (`path`, `model`, `needed`, `available`, `dataDir`, ...).
pub fn core_error(env: &Env, error: &itassist::Error) -> napi::Error {
    let js: napi::Error<String> = napi::Error::new(error.code().to_string(), error.display_chain());
    let value: Unknown<'_> = JsError::from(js).into_unknown(*env);
    // SAFETY: `value` was just created by `napi_create_error`, so it is an object.
    if let Ok(mut object) = unsafe { value.cast::<Object<'_>>() } {
        for (key, detail) in error.details() {
            let name = camel_case(&key);
            // A detail that cannot be set leaves the error as it is: code and message stay.
            let _ = match detail {
                Value::String(text) => object.set_named_property(&name, text),
                Value::Number(n) => {
                    object.set_named_property(&name, n.as_f64().unwrap_or(f64::NAN))
                }
                Value::Bool(b) => object.set_named_property(&name, b),
                _ => Ok(()),
            };
        }
    }
    napi::Error::from(value)
}

/// A failure of the binding itself (a panicked or cancelled worker task).
pub fn internal(env: &Env, what: &str, cause: impl std::fmt::Display) -> napi::Error {
    js_error(env, INTERNAL, format!("{what}: {cause}"))
}
