//! Python bindings of itassist: the `itassist._native` extension module of the `itassist`
//! Python package (built by maturin from `python/pyproject.toml`).
//!
//! Thin by design: every class wraps a core type, every method calls the core, errors map to
//! one exception class per core error code. The Python package (`python/itassist`) adds the
//! `AsyncAssistant` coroutine wrapper and finds ONNX Runtime in the `onnxruntime` package.
//!
//! Split like the Node binding: `assistant` (the class and its operations), `answer`
//! (streamed answers), `types` (result classes and argument conversions), `error`
//! (exceptions); plus `op` (how an operation runs blocking or as an awaitable, and the macro
//! that makes both methods of each operation) and `runtime` (fork-safe tokio and rayon).

// Library code never unwraps: failures are errors with a code, never panics.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod answer;
mod assistant;
mod error;
mod op;
mod runtime;
mod types;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The core's defaults for the keyword arguments of `Assistant` (so tests can check that
/// the Python signatures match them).
#[pyfunction]
fn _core_defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let c = itassist::Config::default();
    let d = PyDict::new(py);
    d.set_item("embedding_model", &c.embedding.model)?;
    d.set_item("top_k", c.retrieval.top_k)?;
    d.set_item("chunk_tokens", c.chunking.max_tokens)?;
    d.set_item("chunk_overlap", c.chunking.overlap_tokens)?;
    d.set_item("ocr", c.loading.ocr)?;
    d.set_item("ocr_languages", c.loading.ocr_languages.clone())?;
    d.set_item("backend", c.answer.backend.to_string())?;
    d.set_item("model", &c.answer.model)?;
    d.set_item("temperature", c.answer.temperature)?;
    d.set_item("num_ctx", c.answer.num_ctx)?;
    d.set_item("num_predict", c.answer.num_predict)?;
    d.set_item("seed", c.answer.seed)?;
    d.set_item("batch_size", c.embedding.batch_size)?;
    d.set_item("threads", c.embedding.threads)?;
    d.set_item("connect_timeout", c.answer.connect_timeout_secs)?;
    d.set_item("request_timeout", c.answer.request_timeout_secs)?;
    d.set_item("generation_timeout", c.answer.generation_timeout_secs)?;
    Ok(d)
}

/// Whether this process is a fork of the one that imported the module (diagnostics).
#[pyfunction]
fn _is_forked_child() -> bool {
    runtime::is_forked_child()
}

/// The `itassist._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::init();
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ERROR_CODES", itassist::Error::CODES.to_vec())?;
    error::register(py, m)?;
    m.add_class::<assistant::Assistant>()?;
    m.add_class::<answer::AnswerStream>()?;
    m.add_class::<answer::AsyncAnswerStream>()?;
    m.add_class::<types::Passage>()?;
    m.add_class::<types::Document>()?;
    m.add_class::<types::FileReport>()?;
    m.add_class::<types::IngestReport>()?;
    m.add_class::<types::IndexStats>()?;
    m.add_class::<types::ModelInfo>()?;
    m.add_class::<types::Answer>()?;
    m.add_class::<types::Timings>()?;
    m.add_function(wrap_pyfunction!(_core_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(_is_forked_child, m)?)?;
    Ok(())
}
