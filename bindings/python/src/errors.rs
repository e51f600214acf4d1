//! Core errors → the pure-Python exception classes of `porter_sandbox._errors`.

use porter_sandbox::{DecodedBody, Error, ErrorKind};
use pyo3::{
    exceptions::{PyRuntimeError, PyValueError},
    prelude::*,
    sync::PyOnceLock,
    types::{PyDict, PyModule},
};

use crate::convert::json_to_py;

static ERRORS_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The exception class of `porter_sandbox._errors` for each error kind.
pub fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Authentication => "AuthenticationError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::RateLimit => "RateLimitError",
        ErrorKind::Server => "ServerError",
        ErrorKind::Timeout => "SandboxTimeoutError",
        ErrorKind::Unsupported => "UnsupportedError",
        _ => "SandboxError",
    }
}

/// The Python exception for a core error: `ValueError` for configuration problems, otherwise
/// `SandboxError` or the subclass for its kind, with `status_code` and the decoded `body`.
pub fn to_py(py: Python<'_>, error: &Error) -> PyErr {
    if error.kind() == ErrorKind::Config {
        return PyValueError::new_err(error.message().to_owned());
    }
    build(py, error).unwrap_or_else(|e| {
        PyRuntimeError::new_err(format!("{} (and raising it failed: {e})", error.message()))
    })
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let module = ERRORS_MODULE
        .get_or_try_init(py, || py.import("porter_sandbox._errors").map(Bound::unbind))?
        .bind(py);
    let class = module.getattr(class_name(error.kind()))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("status_code", error.status())?;
    let body = match error.body() {
        Some(DecodedBody::Json(value)) => json_to_py(py, value)?,
        Some(DecodedBody::Text(text)) => text.into_pyobject(py)?.into_any(),
        None => py.None().into_bound(py),
    };
    kwargs.set_item("body", body)?;
    kwargs.set_item("kind", error.kind().as_str())?;
    let exception = class.call((error.message(),), Some(&kwargs))?;
    Ok(PyErr::from_value(exception))
}
