//! Conversions between Python values and the core's serde types.
//!
//! Responses are already validated by serde in the core; they reach Python as plain dicts, lists
//! and scalars (the wire JSON), from which the Python layer builds its model objects without
//! validating again. Request bodies go the other way: a dict (a model is dumped to one by the
//! Python layer) becomes the core's typed body.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use porter_sandbox::{BinaryContent, Error, OutputChunk, Process, VolumeFile};
use pyo3::{
    exceptions::{PyTypeError, PyValueError},
    prelude::*,
    types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Number, Value};

use crate::process::NativeProcess;

/// What a core operation hands back to Python.
pub enum Out {
    /// Nothing (`None`).
    Unit,
    /// A wire object, as dicts, lists and scalars.
    Json(Value),
    /// Raw bytes.
    Bytes(Bytes),
    /// A file read: `(data, (start, end, size) | None, last_modified_unix_seconds | None)`.
    Content(BinaryContent),
    /// One listed file: `(name, path, type, size_bytes, modified_at, truncated)`.
    File(VolumeFile),
    /// Several listed files.
    Files(Vec<VolumeFile>),
    /// A process handle (a `NativeProcess`).
    Process(Process),
    /// Several process handles.
    Processes(Vec<Process>),
    /// A piece of process output: `(stream, data, offset)`.
    Chunk(OutputChunk),
    /// The end of a stream (`None`).
    End,
}

impl Out {
    /// The wire JSON of `value`.
    pub fn json(value: &impl Serialize) -> porter_sandbox::Result<Self> {
        serde_json::to_value(value)
            .map(Self::Json)
            .map_err(|e| Error::decode(format!("cannot convert the response: {e}")))
    }
}

impl<'py> IntoPyObject<'py> for Out {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Self::Unit | Self::End => Ok(py.None().into_bound(py)),
            Self::Json(value) => json_to_py(py, &value),
            Self::Bytes(bytes) => Ok(PyBytes::new(py, &bytes).into_any()),
            Self::Content(content) => {
                let range = content.content_range.map(|r| (r.start, r.end, r.size));
                let modified = content.last_modified.map(unix_seconds);
                Ok((PyBytes::new(py, &content.data), range, modified).into_pyobject(py)?.into_any())
            }
            Self::File(file) => file_to_py(py, &file),
            Self::Files(files) => {
                let items =
                    files.iter().map(|f| file_to_py(py, f)).collect::<PyResult<Vec<_>>>()?;
                Ok(PyList::new(py, items)?.into_any())
            }
            Self::Process(process) => Ok(Bound::new(py, NativeProcess::new(process))?.into_any()),
            Self::Processes(processes) => {
                let items = processes
                    .into_iter()
                    .map(|p| Bound::new(py, NativeProcess::new(p)))
                    .collect::<PyResult<Vec<_>>>()?;
                Ok(PyList::new(py, items)?.into_any())
            }
            Self::Chunk(chunk) => {
                Ok((chunk.stream.as_str(), PyBytes::new(py, &chunk.data), chunk.offset)
                    .into_pyobject(py)?
                    .into_any())
            }
        }
    }
}

fn unix_seconds(time: SystemTime) -> f64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

fn file_to_py<'py>(py: Python<'py>, file: &VolumeFile) -> PyResult<Bound<'py, PyAny>> {
    let tuple = PyTuple::new(
        py,
        [
            file.name.as_str().into_pyobject(py)?.into_any(),
            file.path.as_str().into_pyobject(py)?.into_any(),
            file.kind.as_str().into_pyobject(py)?.into_any(),
            file.size_bytes.into_pyobject(py)?.into_any(),
            file.modified_at.as_deref().into_pyobject(py)?,
            PyBool::new(py, file.truncated).to_owned().into_any(),
        ],
    )?;
    Ok(tuple.into_any())
}

/// A JSON value as Python objects (`dict`, `list`, `str`, `int`, `float`, `bool`, `None`).
pub fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, json_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A Python value (dicts with string keys, lists, tuples, strings — `str` enums included —,
/// numbers, booleans, `None`) as JSON.
pub fn py_to_json(value: &Bound<'_, PyAny>) -> PyResult<Value> {
    if value.is_none() {
        Ok(Value::Null)
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(Value::String(s.to_str()?.to_owned()))
    } else if let Ok(b) = value.cast::<PyBool>() {
        Ok(Value::Bool(b.is_true()))
    } else if let Ok(i) = value.cast::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            Ok(Value::Number(v.into()))
        } else {
            Ok(Value::Number(i.extract::<u64>()?.into()))
        }
    } else if let Ok(f) = value.cast::<PyFloat>() {
        Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err("NaN and infinity cannot be sent as JSON"))
    } else if let Ok(d) = value.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("JSON object keys must be strings"))?;
            map.insert(key.to_str()?.to_owned(), py_to_json(&v)?);
        }
        Ok(Value::Object(map))
    } else if let Ok(l) = value.cast::<PyList>() {
        l.iter().map(|v| py_to_json(&v)).collect::<PyResult<Vec<_>>>().map(Value::Array)
    } else if let Ok(t) = value.cast::<PyTuple>() {
        t.iter().map(|v| py_to_json(&v)).collect::<PyResult<Vec<_>>>().map(Value::Array)
    } else {
        Err(PyTypeError::new_err(format!(
            "cannot send a value of type {} as JSON",
            value.get_type().name()?
        )))
    }
}

/// A request body: a dict (or any JSON-able value) as the core's typed body.
pub fn body<T: DeserializeOwned>(value: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    serde_json::from_value(py_to_json(value)?)
        .map_err(|e| PyValueError::new_err(format!("invalid {what}: {e}")))
}

/// A timeout in seconds: `None` stays `None` (the call's default); it must be a finite number
/// that is not negative.
pub fn timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                PyValueError::new_err(format!(
                    "timeout must be a finite number of seconds ≥ 0, not {s}"
                ))
            })
        })
        .transpose()
}
