//! Upload bodies from Python: `bytes` (shared, not copied) or a binary file object, streamed in
//! 1 MiB reads and rewound to its start before every send (the API answers writes with a 307,
//! and retries send again too).

use std::{io, sync::Arc};

use bytes::Bytes;
use futures_util::stream;
use porter_sandbox::{BinaryBody, ChunkStream, UPLOAD_CHUNK_BYTES};
use pyo3::{
    exceptions::PyTypeError,
    prelude::*,
    pybacked::PyBackedBytes,
    types::{PyByteArray, PyBytes, PyMemoryView},
};

/// The core's upload body for `content`: `bytes`, `bytearray`, `memoryview`, or a binary file
/// object with `read` (and `seek`, since the body is sent again from its start after the API's
/// redirect).
pub fn binary_body(content: &Bound<'_, PyAny>) -> PyResult<BinaryBody> {
    if let Ok(bytes) = content.cast::<PyBytes>() {
        let owned: PyBackedBytes = bytes.clone().into();
        return Ok(BinaryBody::from_bytes(Bytes::from_owner(owned)));
    }
    if content.is_instance_of::<PyByteArray>() || content.is_instance_of::<PyMemoryView>() {
        let copy: Vec<u8> =
            content.call_method0("__bytes__").and_then(|b| b.extract()).or_else(|_| {
                content.py().get_type::<PyBytes>().call1((content,))?.extract::<Vec<u8>>()
            })?;
        return Ok(BinaryBody::from_bytes(copy));
    }
    if !content.hasattr("read")? {
        return Err(PyTypeError::new_err(format!(
            "content must be bytes or a binary file object, not {}",
            content.get_type().name()?
        )));
    }
    let length = file_length(content);
    let file = Arc::new(content.clone().unbind());
    Ok(BinaryBody::from_stream_factory(length, move || Ok(file_chunks(file.clone()))))
}

/// The size of a seekable file (from its start), or `None` when it cannot be told.
fn file_length(file: &Bound<'_, PyAny>) -> Option<u64> {
    let size = file.call_method1("seek", (0, 2)).and_then(|end| end.extract::<u64>()).ok()?;
    file.call_method1("seek", (0,)).ok()?;
    Some(size)
}

/// The file read from its start in chunks of [`UPLOAD_CHUNK_BYTES`]; each read runs under the
/// GIL on a blocking thread, never on the I/O threads.
fn file_chunks(file: Arc<Py<PyAny>>) -> ChunkStream {
    Box::pin(stream::try_unfold((file, true), |(file, first)| async move {
        let reader = file.clone();
        let chunk = tokio::task::spawn_blocking(move || {
            Python::attach(|py| -> PyResult<Option<PyBackedBytes>> {
                let file = reader.bind(py);
                if first {
                    file.call_method1("seek", (0,))?;
                }
                let data = file.call_method1("read", (UPLOAD_CHUNK_BYTES,))?;
                if data.is_none() {
                    return Ok(None);
                }
                let bytes = data.cast_into::<PyBytes>().map_err(|e| {
                    PyTypeError::new_err(format!(
                        "the file's read() must return bytes (open it in binary mode): {e}"
                    ))
                })?;
                Ok(Some(bytes.into()))
            })
        })
        .await
        .map_err(io::Error::other)?
        .map_err(|e| io::Error::other(format!("reading the upload: {e}")))?;
        Ok(match chunk {
            Some(bytes) if !bytes.is_empty() => Some((Bytes::from_owner(bytes), (file, false))),
            _ => None,
        })
    }))
}
