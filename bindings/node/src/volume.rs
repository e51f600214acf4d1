//! `NativeVolume`: the core's volume handles (disk and object), and the async iterators of
//! listings and file chunks.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use porter_sandbox::{
    DEFAULT_CHUNK_BYTES, Error, ObjectVolume, Volume, VolumeFile, VolumeHandle, types::VolumeRecord,
};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::{
    client::upload,
    convert::{FileEntry, buffer, byte_count, to_json},
    errors::{IntoJs, to_js},
};

/// A volume handle of either kind; the file methods fail on an object volume.
#[napi]
pub struct NativeVolume {
    inner: VolumeHandle,
}

impl From<VolumeHandle> for NativeVolume {
    fn from(inner: VolumeHandle) -> Self {
        Self { inner }
    }
}

impl NativeVolume {
    fn disk(&self) -> napi::Result<&Volume> {
        self.inner.as_disk().ok_or_else(|| {
            to_js(&Error::invalid_argument(format!(
                "volume {} is an object volume: it has no file operations",
                self.inner.id()
            )))
        })
    }

    fn object_handle(&self) -> Option<&ObjectVolume> {
        self.inner.as_object()
    }
}

#[napi]
impl NativeVolume {
    /// The volume id.
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// Whether this is an object (bucket) volume.
    #[napi(getter)]
    pub fn is_object(&self) -> bool {
        self.object_handle().is_some()
    }

    /// The cached record.
    #[napi(getter)]
    pub fn record(&self) -> napi::Result<Value> {
        to_json(&self.inner.record())
    }

    /// The bucket description of an object volume (throws when the record lacks it).
    #[napi]
    pub fn object(&self) -> napi::Result<Value> {
        let spec = match self.object_handle() {
            Some(volume) => volume.object(),
            None => Err(Error::decode("volume record is missing its object spec")),
        };
        to_json(&spec.js()?)
    }

    /// Reads the record again and caches it.
    #[napi]
    pub async fn refresh(&self) -> napi::Result<Value> {
        let record: VolumeRecord = match &self.inner {
            VolumeHandle::Disk(v) => v.refresh().await,
            VolumeHandle::Object(v) => v.refresh().await,
        }
        .js()?;
        to_json(&record)
    }

    /// Deletes the volume.
    #[napi]
    pub async fn delete(&self) -> napi::Result<()> {
        match &self.inner {
            VolumeHandle::Disk(v) => v.delete().await,
            VolumeHandle::Object(v) => v.delete().await,
        }
        .js()
    }

    /// The direct entries of the directory `path`.
    #[napi]
    pub async fn listdir(&self, path: String) -> napi::Result<Vec<FileEntry>> {
        let files = self.disk()?.listdir(&path).await.js()?;
        Ok(files.into_iter().map(FileEntry::from).collect())
    }

    /// Entries under `path` whose name contains `query`, case-insensitively.
    #[napi]
    pub async fn search(&self, query: String, path: String) -> napi::Result<Vec<FileEntry>> {
        let files = self.disk()?.search(&query, &path).await.js()?;
        Ok(files.into_iter().map(FileEntry::from).collect())
    }

    /// A lazy depth-first walk of everything below `path`.
    #[napi]
    pub fn iterdir(&self, path: String) -> napi::Result<NativeFileIterator> {
        Ok(NativeFileIterator { stream: Mutex::new(Some(self.disk()?.iterdir(&path))) })
    }

    /// Reads a file, or `length` bytes from `offset`.
    #[napi]
    pub async fn read_file(
        &self,
        path: String,
        offset: Option<f64>,
        length: Option<f64>,
    ) -> napi::Result<Buffer> {
        let offset = byte_count(offset, "offset")?;
        let length = byte_count(length, "length")?;
        Ok(buffer(self.disk()?.read_file(&path, offset, length).await.js()?))
    }

    /// Reads a file as UTF-8 text.
    #[napi]
    pub async fn read_text(
        &self,
        path: String,
        offset: Option<f64>,
        length: Option<f64>,
    ) -> napi::Result<String> {
        let offset = byte_count(offset, "offset")?;
        let length = byte_count(length, "length")?;
        self.disk()?.read_text(&path, offset, length).await.js()
    }

    /// Replaces the file at `path` with `bytes` or the content of the local file `file`.
    #[napi]
    pub async fn write_file(
        &self,
        path: String,
        bytes: Option<Buffer>,
        file: Option<String>,
    ) -> napi::Result<()> {
        let body = upload(bytes, file)?;
        self.disk()?.write_file(&path, body).await.js()
    }

    /// Writes UTF-8 text.
    #[napi]
    pub async fn write_text(&self, path: String, content: String) -> napi::Result<()> {
        self.disk()?.write_text(&path, content).await.js()
    }

    /// Moves or renames a file; never overwrites.
    #[napi]
    pub async fn move_file(&self, from: String, to: String) -> napi::Result<()> {
        self.disk()?.move_file(&from, &to).await.js()
    }

    /// Reads a file in ranged chunks of `chunkSize` bytes (8 MiB unless set).
    #[napi]
    pub fn stream(&self, path: String, chunk_size: Option<f64>) -> napi::Result<NativeChunkStream> {
        let chunk_size = byte_count(chunk_size, "chunkSize")?.unwrap_or(DEFAULT_CHUNK_BYTES);
        let stream = self.disk()?.stream(&path, chunk_size).js()?;
        Ok(NativeChunkStream { stream: Mutex::new(Some(stream)) })
    }
}

/// A boxed stream of core results, as the core's listings and output streams are.
pub type Boxed<T> = Pin<Box<dyn Stream<Item = porter_sandbox::Result<T>> + Send>>;

/// Pulls the next item of a shared stream; `None` at the end (after which the stream is
/// dropped) or after `close`.
pub async fn pull<T>(slot: &Mutex<Option<Boxed<T>>>) -> napi::Result<Option<T>> {
    let mut guard = slot.lock().await;
    let Some(stream) = guard.as_mut() else {
        return Ok(None);
    };
    match stream.next().await {
        Some(Ok(item)) => Ok(Some(item)),
        Some(Err(e)) => {
            guard.take();
            Err(to_js(&e))
        }
        None => {
            guard.take();
            Ok(None)
        }
    }
}

/// The entries of `Volume.iterdir`, one `next()` at a time.
#[napi]
pub struct NativeFileIterator {
    stream: Mutex<Option<Boxed<VolumeFile>>>,
}

#[napi]
impl NativeFileIterator {
    /// The next entry, or `null` at the end.
    #[napi]
    pub async fn next(&self) -> napi::Result<Option<FileEntry>> {
        Ok(pull(&self.stream).await?.map(FileEntry::from))
    }

    /// Stops the walk.
    #[napi]
    pub async fn close(&self) {
        self.stream.lock().await.take();
    }
}

/// The chunks of `Volume.stream`, one `next()` at a time.
#[napi]
pub struct NativeChunkStream {
    stream: Mutex<Option<Boxed<Bytes>>>,
}

#[napi]
impl NativeChunkStream {
    /// The next chunk, or `null` at the end.
    #[napi]
    pub async fn next(&self) -> napi::Result<Option<Buffer>> {
        Ok(pull(&self.stream).await?.map(buffer))
    }

    /// Stops reading.
    #[napi]
    pub async fn close(&self) {
        self.stream.lock().await.take();
    }
}
