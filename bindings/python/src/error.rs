//! Exceptions: `itassist.ItassistError` and one subclass per core error code.
//!
//! Every exception carries `.code` (the core's stable `Error::code()`) and `.message` (the
//! core's message with its cause chain, also `str(exc)`). Some subclasses also derive from the
//! matching built-in exception (`InvalidInputError` is a `ValueError`, `PathNotFoundError` a
//! `FileNotFoundError`, ...) so that generic `except` clauses keep working.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

pyo3::create_exception!(
    itassist,
    ItassistError,
    PyException,
    "Base class of every itassist error; `.code` is the core's stable error code and `.message` its message."
);

/// One row of the mapping: core code, Python class name, extra built-in base, docstring.
struct ErrorClass {
    code: &'static str,
    name: &'static str,
    builtin: Option<&'static str>,
    doc: &'static str,
}

/// The mapping from core error codes to exception classes (must cover `Error::CODES`; the
/// Python tests check it does).
const ERROR_CLASSES: &[ErrorClass] = &[
    ErrorClass {
        code: "unsupported_format",
        name: "UnsupportedFormatError",
        builtin: None,
        doc: "The file's type is not one itassist can read.",
    },
    ErrorClass {
        code: "corrupt_document",
        name: "CorruptDocumentError",
        builtin: None,
        doc: "The file claims a supported format but cannot be parsed.",
    },
    ErrorClass {
        code: "empty_document",
        name: "EmptyDocumentError",
        builtin: None,
        doc: "The file parsed but holds no text to index.",
    },
    ErrorClass {
        code: "ocr_unavailable",
        name: "OcrUnavailableError",
        builtin: None,
        doc: "The file needs OCR but Tesseract (or pdftoppm) is not installed.",
    },
    ErrorClass {
        code: "ocr_failed",
        name: "OcrFailedError",
        builtin: None,
        doc: "OCR ran but failed.",
    },
    ErrorClass {
        code: "path_not_found",
        name: "PathNotFoundError",
        builtin: Some("FileNotFoundError"),
        doc: "A path given by the user does not exist.",
    },
    ErrorClass {
        code: "io",
        name: "IoError",
        builtin: Some("OSError"),
        doc: "An operating-system I/O error.",
    },
    ErrorClass {
        code: "runtime_unavailable",
        name: "RuntimeUnavailableError",
        builtin: None,
        doc: "ONNX Runtime could not be loaded.",
    },
    ErrorClass {
        code: "embedding_model_unavailable",
        name: "EmbeddingModelUnavailableError",
        builtin: None,
        doc: "The embedding model files could not be found or loaded.",
    },
    ErrorClass {
        code: "embedding_failed",
        name: "EmbeddingFailedError",
        builtin: None,
        doc: "Running the embedding model failed.",
    },
    ErrorClass {
        code: "embedding_model_mismatch",
        name: "EmbeddingModelMismatchError",
        builtin: None,
        doc: "The index was built with another embedding model.",
    },
    ErrorClass {
        code: "index_locked",
        name: "IndexLockedError",
        builtin: None,
        doc: "The index is locked by another process.",
    },
    ErrorClass {
        code: "index_full",
        name: "IndexFullError",
        builtin: None,
        doc: "The index reached its configured maximum size.",
    },
    ErrorClass {
        code: "index_corrupt",
        name: "IndexCorruptError",
        builtin: None,
        doc: "The index files are unreadable or of an incompatible version.",
    },
    ErrorClass {
        code: "index_error",
        name: "IndexStorageError",
        builtin: None,
        doc: "A storage-layer error (LMDB or the vector index).",
    },
    ErrorClass {
        code: "document_not_found",
        name: "DocumentNotFoundError",
        builtin: Some("LookupError"),
        doc: "No document with that id, path or name is in the index.",
    },
    ErrorClass {
        code: "invalid_input",
        name: "InvalidInputError",
        builtin: Some("ValueError"),
        doc: "An argument or configuration value is invalid.",
    },
    ErrorClass {
        code: "ollama_unreachable",
        name: "OllamaUnreachableError",
        builtin: Some("ConnectionError"),
        doc: "The Ollama (or OpenAI-compatible) server cannot be reached.",
    },
    ErrorClass {
        code: "model_not_found",
        name: "ModelNotFoundError",
        builtin: Some("LookupError"),
        doc: "The requested chat model is not pulled.",
    },
    ErrorClass {
        code: "ollama_error",
        name: "OllamaError",
        builtin: None,
        doc: "The model server answered with an error.",
    },
    ErrorClass {
        code: "timeout",
        name: "RequestTimeoutError",
        builtin: Some("TimeoutError"),
        doc: "A request to the model server took longer than allowed.",
    },
    ErrorClass {
        code: "context_overflow",
        name: "ContextOverflowError",
        builtin: None,
        doc: "The question and its context cannot fit into the model's context window.",
    },
    ErrorClass {
        code: "cancelled",
        name: "OperationCancelledError",
        builtin: None,
        doc: "The operation was cancelled.",
    },
];

/// code -> exception class, filled when the module is imported.
static CLASSES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// Creates the exception classes and adds them (and `ERROR_CLASSES`) to the module.
pub fn register(py: Python<'_>, module: &Bound<'_, PyModule>) -> PyResult<()> {
    let base = py.get_type::<ItassistError>();
    base.setattr("code", "itassist_error")?;
    base.setattr("message", "")?;
    module.add("ItassistError", &base)?;
    let builtins = py.import("builtins")?;
    let type_ = builtins.getattr("type")?;
    let by_code = PyDict::new(py);
    for row in ERROR_CLASSES {
        let bases = match row.builtin {
            Some(b) => PyTuple::new(py, [base.as_any().clone(), builtins.getattr(b)?])?,
            None => PyTuple::new(py, [base.as_any().clone()])?,
        };
        let namespace = PyDict::new(py);
        namespace.set_item("code", row.code)?;
        namespace.set_item("__doc__", row.doc)?;
        namespace.set_item("__module__", "itassist")?;
        let class = type_.call1((row.name, bases, namespace))?;
        module.add(row.name, &class)?;
        by_code.set_item(row.code, &class)?;
    }
    module.add("ERROR_CLASSES", &by_code)?;
    let _ = CLASSES.set(py, by_code.unbind());
    Ok(())
}

/// The class raised for `code` (the base class for a code this build does not know).
pub fn class_for<'py>(py: Python<'py>, code: &str) -> Bound<'py, PyType> {
    CLASSES
        .get(py)
        .and_then(|d| d.bind(py).get_item(code).ok().flatten())
        .and_then(|c| c.cast_into::<PyType>().ok())
        .unwrap_or_else(|| py.get_type::<ItassistError>())
}

/// Builds (without raising) the exception instance for a core error.
pub fn exception<'py>(py: Python<'py>, err: &itassist::Error) -> PyResult<Bound<'py, PyAny>> {
    let code = err.code();
    let message = err.display_chain();
    let instance = class_for(py, code).call1((message.as_str(),))?;
    instance.setattr("code", code)?;
    instance.setattr("message", message)?;
    Ok(instance)
}

/// Converts a core error into the Python exception to raise.
pub fn to_py(err: itassist::Error) -> PyErr {
    Python::attach(|py| match exception(py, &err) {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    })
}

/// `Result` conversion: `core_call().map_err(to_py)?` reads as `core_call().py()?`.
pub trait IntoPyResult<T> {
    /// Maps the core error to its exception.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for itassist::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
