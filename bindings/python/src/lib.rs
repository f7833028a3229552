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

/// The core's default configuration for `data_dir`, as JSON text (so tests can check that
/// an `Assistant` opened without keyword arguments uses exactly the core's defaults).
#[pyfunction]
fn _core_config(data_dir: std::path::PathBuf) -> PyResult<String> {
    serde_json::to_string(&itassist::Config::new(data_dir))
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
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
    m.add_function(wrap_pyfunction!(_core_config, m)?)?;
    m.add_function(wrap_pyfunction!(_is_forked_child, m)?)?;
    Ok(())
}
