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
    // One class per row of the core's error table: its name, its built-in base and its doc
    // all come from `itassist::ErrorKind`, so a new kind in the core is a new class here.
    for kind in itassist::ErrorKind::ALL {
        let bases = match kind.python_base() {
            Some(b) => PyTuple::new(py, [base.as_any().clone(), builtins.getattr(b)?])?,
            None => PyTuple::new(py, [base.as_any().clone()])?,
        };
        let namespace = PyDict::new(py);
        namespace.set_item("code", kind.code())?;
        namespace.set_item("__doc__", kind.doc())?;
        namespace.set_item("__module__", "itassist")?;
        let class = type_.call1((kind.python_class(), bases, namespace))?;
        module.add(kind.python_class(), &class)?;
        by_code.set_item(kind.code(), &class)?;
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
    // The structured details (path, model, token counts, limits) as attributes.
    for (key, value) in err.details() {
        let value: Bound<'py, PyAny> = match value {
            serde_json::Value::String(text) => text.into_pyobject(py)?.into_any(),
            serde_json::Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(whole) => whole.into_pyobject(py)?.into_any(),
                None => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
            },
            _ => continue,
        };
        instance.setattr(key.as_str(), value)?;
    }
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
