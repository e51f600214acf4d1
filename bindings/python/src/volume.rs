//! The core's volume handle (`NativeVolume`: listdir, iterdir, search, reads, writes, moves,
//! ranged streaming) and lazily pulled streams of items (`NativeStream`).

use std::{pin::Pin, sync::Arc};

use futures_util::{Stream, StreamExt, TryStreamExt, stream};
use porter_sandbox::{BinaryStream, ContentRange, Volume, VolumeHandle};
use pyo3::prelude::*;

use crate::{
    body::binary_body,
    client::endpoints,
    convert::Out,
    errors,
    run::{self, CoreResult},
};

type ItemStream = Pin<Box<dyn Stream<Item = CoreResult> + Send>>;

/// A stream of items (listed files, or chunks of bytes) pulled one at a time from Python, either
/// blocking (`next`) or awaited (`next_async`); both give `None` at the end. After an error the
/// stream is over.
#[pyclass(frozen, module = "porter_sandbox._native")]
pub struct NativeStream {
    inner: Arc<tokio::sync::Mutex<Option<ItemStream>>>,
}

impl NativeStream {
    /// A stream of `items`, pulled one at a time.
    pub fn new(items: impl Stream<Item = CoreResult> + Send + 'static) -> Self {
        Self { inner: Arc::new(tokio::sync::Mutex::new(Some(Box::pin(items)))) }
    }

    /// The chunks of a streamed response, opened by `open` on the first pull.
    pub fn bytes_from_response<F>(open: F) -> Self
    where
        F: Future<Output = porter_sandbox::Result<BinaryStream>> + Send + 'static,
    {
        let chunks =
            stream::once(open).map_ok(|response| response.stream.map_ok(Out::Bytes)).try_flatten();
        Self::new(chunks)
    }

    fn pull(&self) -> impl Future<Output = CoreResult> + Send + 'static {
        let inner = self.inner.clone();
        async move {
            let mut guard = inner.lock().await;
            let Some(items) = guard.as_mut() else {
                return Ok(Out::End);
            };
            match items.next().await {
                Some(Ok(item)) => Ok(item),
                Some(Err(e)) => {
                    *guard = None;
                    Err(e)
                }
                None => {
                    *guard = None;
                    Ok(Out::End)
                }
            }
        }
    }
}

#[pymethods]
impl NativeStream {
    /// The next item, blocking (GIL released, interruptible); `None` at the end.
    fn next(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        run::call(py, self.pull())
    }

    /// An awaitable of the next item; `None` at the end.
    fn next_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::aio::awaitable(py, self.pull())
    }
}

/// A volume handle of the core (disk or object) for one record.
#[pyclass(frozen, module = "porter_sandbox._native")]
pub struct NativeVolume {
    handle: VolumeHandle,
}

impl NativeVolume {
    /// Wraps a core handle.
    pub fn new(handle: VolumeHandle) -> Self {
        Self { handle }
    }

    fn disk(&self) -> PyResult<Volume> {
        self.handle.clone().into_disk().map_err(|e| Python::attach(|py| errors::to_py(py, &e)))
    }
}

endpoints! {
    NativeVolume;

    /// `GET` the volume again: its record.
    fn refresh / refresh_async() |this| {
        let handle = this.handle.clone();
        async move {
            let record = match &handle {
                VolumeHandle::Disk(v) => v.refresh().await?,
                VolumeHandle::Object(v) => v.refresh().await?,
            };
            Out::json(&record)
        }
    }

    /// Deletes the volume.
    fn delete / delete_async() |this| {
        let handle = this.handle.clone();
        async move {
            match &handle {
                VolumeHandle::Disk(v) => v.delete().await?,
                VolumeHandle::Object(v) => v.delete().await?,
            }
            Ok(Out::Unit)
        }
    }

    /// The direct entries of the directory `path`.
    fn listdir / listdir_async(path: String) |this| {
        let volume = this.disk()?;
        async move { Ok(Out::Files(volume.listdir(&path).await?)) }
    }

    /// Entries under `path` whose name contains `query`, case-insensitively.
    fn search / search_async(query: String, path: String) |this| {
        let volume = this.disk()?;
        async move { Ok(Out::Files(volume.search(&query, &path).await?)) }
    }

    /// The file's bytes, or `length` bytes from `offset`.
    fn read_file / read_file_async(path: String, offset: Option<u64>, length: Option<u64>) |this| {
        let volume = this.disk()?;
        async move { Ok(Out::Bytes(volume.read_file(&path, offset, length).await?)) }
    }

    /// Replaces the file with `bytes` or the content of a binary file object.
    fn write_file / write_file_async(path: String, content: &Bound<'_, PyAny>) |this| {
        let volume = this.disk()?;
        let content = binary_body(content)?;
        async move {
            volume.write_file(&path, content).await?;
            Ok(Out::Unit)
        }
    }

    /// Moves `from_path` to `to_path`; never overwrites.
    fn move_file / move_file_async(from_path: String, to_path: String) |this| {
        let volume = this.disk()?;
        async move {
            volume.move_file(&from_path, &to_path).await?;
            Ok(Out::Unit)
        }
    }

    extra {
        /// The volume id.
        #[getter]
        fn id(&self) -> &str {
            self.handle.id()
        }

        /// A lazy depth-first walk of everything under `path` (one listing, plus one per
        /// truncated directory reached).
        fn iterdir(&self, path: String) -> PyResult<NativeStream> {
            let volume = self.disk()?;
            Ok(NativeStream::new(volume.iterdir(&path).map_ok(Out::File)))
        }

        /// The file read in ranged chunks of `chunk_size` bytes.
        fn stream(&self, path: String, chunk_size: u64) -> PyResult<NativeStream> {
            let volume = self.disk()?;
            let chunks = volume
                .stream(&path, chunk_size)
                .map_err(|e| Python::attach(|py| errors::to_py(py, &e)))?;
            Ok(NativeStream::new(chunks.map_ok(Out::Bytes)))
        }
    }
}

/// The form every volume handle sends: `a/b/` → `/a/b`, the root is `/`.
#[pyfunction]
pub fn normalize_path(path: &str) -> String {
    porter_sandbox::normalize_path(path)
}

/// The path of `name` inside the directory `parent`.
#[pyfunction]
pub fn join_path(parent: &str, name: &str) -> String {
    porter_sandbox::join_path(parent, name)
}

/// `(start, end, size)` of a `Content-Range: bytes <start>-<end>/<size>` header, else `None`.
#[pyfunction]
pub fn parse_content_range(header: &str) -> Option<(u64, u64, u64)> {
    ContentRange::parse(header).map(|r| (r.start, r.end, r.size))
}
