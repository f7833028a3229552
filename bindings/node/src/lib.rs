//! # itassist-node
//!
//! The Node.js binding of [itassist](https://docs.rs/itassist) (the npm package `itassist`),
//! built with napi-rs. A thin layer: it converts arguments and results between the core's
//! types and plain JavaScript objects (camelCase), runs blocking work off the event loop,
//! and maps every core error to a JavaScript `Error` carrying the core's `code`. It holds no
//! logic of its own.
//!
//! ```js
//! const { Assistant } = require('itassist')
//! const assistant = await Assistant.open({ dataDir: './itassist-data' })
//! await assistant.ingest(['./docs'])
//! const passages = await assistant.search('how do I configure the network?', 3)
//! ```

// Library code never unwraps: failures are errors with a code, never panics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(missing_docs)]

use std::path::PathBuf;
use std::sync::Mutex;

use napi_derive::napi;

pub mod answer;
pub mod assistant;
pub mod error;
pub mod types;

/// The ONNX Runtime library the package's loader found (the `onnxruntime-node` dependency's).
static DEFAULT_ONNX_RUNTIME: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Sets the ONNX Runtime library used when neither `onnxRuntime` nor `ORT_DYLIB_PATH` names
/// one. Called by the package's `index.js` with the `onnxruntime-node` library; not part of
/// the typed API.
#[napi(js_name = "__setDefaultOnnxRuntime", skip_typescript)]
pub fn set_default_onnx_runtime(path: Option<String>) {
    if let Ok(mut slot) = DEFAULT_ONNX_RUNTIME.lock() {
        *slot = path.filter(|p| !p.is_empty()).map(PathBuf::from);
    }
}

/// The library to use when the options name none: `None` when `ORT_DYLIB_PATH` is set (the
/// core reads it), else the loader's default.
pub(crate) fn default_onnx_runtime() -> Option<PathBuf> {
    if std::env::var_os("ORT_DYLIB_PATH").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    DEFAULT_ONNX_RUNTIME
        .lock()
        .ok()
        .and_then(|slot| slot.clone())
}

/// Every error `code` the package can reject with (the core's codes plus `internal`).
#[napi]
pub fn error_codes() -> Vec<String> {
    itassist::Error::CODES
        .iter()
        .chain(std::iter::once(&error::INTERNAL))
        .map(|c| c.to_string())
        .collect()
}
