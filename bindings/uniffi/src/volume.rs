//! `NativeVolume`: the core's volume handle (disk or object) with the disk file operations, and
//! the pull-based iterators behind `iterdir` and `stream`.

use std::{pin::Pin, sync::Arc};

use futures_util::{Stream, StreamExt};
use porter_sandbox::{BinaryBody, DEFAULT_CHUNK_BYTES, Volume, VolumeHandle};
use tokio::sync::Mutex;

use crate::{
    client::non_negative,
    enums::{VolumePhase, VolumeType},
    errors::Result,
    volume_records::{VolumeFile, VolumeObjectSpec, VolumeRecord},
};

/// A volume of either kind. The file methods fail with `InvalidArgument` on an object volume,
/// whose files live in its bucket.
#[derive(uniffi::Object)]
pub struct NativeVolume {
    inner: VolumeHandle,
}

impl NativeVolume {
    pub(crate) fn wrap(inner: VolumeHandle) -> Arc<Self> {
        Arc::new(Self { inner })
    }

    /// The disk handle, or the core's error naming the object volume.
    fn disk(&self) -> Result<Volume> {
        Ok(self.inner.clone().into_disk()?)
    }
}

/// An optional byte count passed as a signed Kotlin number.
fn count(value: Option<i64>, what: &str) -> Result<Option<u64>> {
    value.map(|v| non_negative(v, what)).transpose()
}

#[uniffi::export(async_runtime = "tokio")]
impl NativeVolume {
    /// The volume id.
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// The volume name (cached record).
    pub fn name(&self) -> String {
        self.inner.record().name
    }

    /// The volume type (cached record).
    pub fn volume_type(&self) -> VolumeType {
        self.inner.record().r#type.into()
    }

    /// The lifecycle phase (cached record).
    pub fn phase(&self) -> VolumePhase {
        self.inner.record().phase.into()
    }

    /// Ids of the sandboxes the volume is attached to (cached record).
    pub fn attached_to(&self) -> Vec<String> {
        self.inner.record().attached_to
    }

    /// Creation time, RFC 3339 (cached record).
    pub fn created_at(&self) -> String {
        self.inner.record().created_at
    }

    /// The data subdirectory under the shared volumes mount; `""` for object volumes.
    pub fn path(&self) -> String {
        self.inner.record().path
    }

    /// The cached record.
    pub fn record(&self) -> VolumeRecord {
        self.inner.record().into()
    }

    /// Whether this is an object (bucket) volume.
    pub fn is_object(&self) -> bool {
        self.inner.as_object().is_some()
    }

    /// The bucket description of an object volume; `null` for a disk volume.
    pub fn object_spec(&self) -> Result<Option<VolumeObjectSpec>> {
        self.inner.as_object().map(|v| Ok(v.object()?.into())).transpose()
    }

    /// Reads the record again and caches it.
    pub async fn refresh(&self) -> Result<VolumeRecord> {
        let record = match &self.inner {
            VolumeHandle::Disk(v) => v.refresh().await?,
            VolumeHandle::Object(v) => v.refresh().await?,
        };
        Ok(record.into())
    }

    /// Deletes the volume (refused while it is attached to a sandbox).
    pub async fn delete(&self) -> Result<()> {
        match &self.inner {
            VolumeHandle::Disk(v) => v.delete().await?,
            VolumeHandle::Object(v) => v.delete().await?,
        }
        Ok(())
    }

    /// The direct entries of the directory `path`: directories first, then files.
    pub async fn listdir(&self, path: String) -> Result<Vec<VolumeFile>> {
        let files = self.disk()?.listdir(&path).await?;
        Ok(files.into_iter().map(VolumeFile::from).collect())
    }

    /// Every entry below `path`, depth-first pre-order, listed lazily as `next` is called.
    pub fn iterdir(&self, path: String) -> Result<Arc<NativeFileIterator>> {
        let stream = self.disk()?.iterdir(&path);
        Ok(Arc::new(NativeFileIterator { stream: Mutex::new(Some(stream)) }))
    }

    /// Entries under `path` whose name contains `query`, case-insensitively.
    pub async fn search(&self, query: String, path: String) -> Result<Vec<VolumeFile>> {
        let files = self.disk()?.search(&query, &path).await?;
        Ok(files.into_iter().map(VolumeFile::from).collect())
    }

    /// Reads a file, or `length` bytes from `offset` (to the end when `length` is `null`).
    pub async fn read_file(
        &self,
        path: String,
        offset: Option<i64>,
        length: Option<i64>,
    ) -> Result<Vec<u8>> {
        let (offset, length) = (count(offset, "offset")?, count(length, "length")?);
        Ok(self.disk()?.read_file(&path, offset, length).await?.to_vec())
    }

    /// Reads a file (or a range of it) as UTF-8 text.
    pub async fn read_text(
        &self,
        path: String,
        offset: Option<i64>,
        length: Option<i64>,
    ) -> Result<String> {
        let (offset, length) = (count(offset, "offset")?, count(length, "length")?);
        Ok(self.disk()?.read_text(&path, offset, length).await?)
    }

    /// Replaces the file at `path` with `data`, atomically, creating its parents.
    pub async fn write_file(&self, path: String, data: Vec<u8>) -> Result<()> {
        Ok(self.disk()?.write_file(&path, BinaryBody::from(data)).await?)
    }

    /// Replaces the file at `path` with the content of the local file `local_path`, streamed
    /// from disk (again on a redirect or a retry), never loaded into memory.
    pub async fn upload_file(&self, path: String, local_path: String) -> Result<()> {
        Ok(self.disk()?.write_file(&path, BinaryBody::from_path(local_path)).await?)
    }

    /// Writes UTF-8 text.
    pub async fn write_text(&self, path: String, text: String) -> Result<()> {
        Ok(self.disk()?.write_text(&path, text).await?)
    }

    /// Moves or renames `from_path` to `to_path` (the full new path); never overwrites.
    pub async fn move_file(&self, from_path: String, to_path: String) -> Result<()> {
        Ok(self.disk()?.move_file(&from_path, &to_path).await?)
    }

    /// Reads a file in ranged chunks of `chunk_size` bytes (8 MiB when `null`), one request per
    /// chunk, as `next` is called.
    pub fn stream(&self, path: String, chunk_size: Option<i64>) -> Result<Arc<NativeChunkStream>> {
        let chunk_size = count(chunk_size, "chunkSize")?.unwrap_or(DEFAULT_CHUNK_BYTES);
        let stream = self.disk()?.stream(&path, chunk_size)?;
        Ok(Arc::new(NativeChunkStream { stream: Mutex::new(Some(stream)) }))
    }
}

type Boxed<T> = Pin<Box<dyn Stream<Item = porter_sandbox::Result<T>> + Send>>;

/// The next item of a shared stream; `None` at the end. The stream is dropped at its end or
/// after an error, so a finished iterator keeps answering `None`.
async fn pull<T>(slot: &Mutex<Option<Boxed<T>>>) -> Result<Option<T>> {
    let mut guard = slot.lock().await;
    let Some(stream) = guard.as_mut() else {
        return Ok(None);
    };
    match stream.next().await {
        Some(Ok(item)) => Ok(Some(item)),
        Some(Err(error)) => {
            guard.take();
            Err(error.into())
        }
        None => {
            guard.take();
            Ok(None)
        }
    }
}

/// The entries of `iterdir`, one `next` at a time.
#[derive(uniffi::Object)]
pub struct NativeFileIterator {
    stream: Mutex<Option<Boxed<porter_sandbox::VolumeFile>>>,
}

#[uniffi::export(async_runtime = "tokio")]
impl NativeFileIterator {
    /// The next entry, or `null` at the end.
    pub async fn next(&self) -> Result<Option<VolumeFile>> {
        Ok(pull(&self.stream).await?.map(VolumeFile::from))
    }
}

/// The chunks of `stream`, one `next` at a time.
#[derive(uniffi::Object)]
pub struct NativeChunkStream {
    stream: Mutex<Option<Boxed<bytes::Bytes>>>,
}

#[uniffi::export(async_runtime = "tokio")]
impl NativeChunkStream {
    /// The next chunk, or `null` at the end.
    pub async fn next(&self) -> Result<Option<Vec<u8>>> {
        Ok(pull(&self.stream).await?.map(|chunk| chunk.to_vec()))
    }
}
