//! The disk volume handle and its file operations.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt, future, stream};

use super::{
    VolumeState,
    files::{VolumeFile, normalize_path, search_tree},
};
use crate::{
    BinaryContent, Error, ErrorKind, Result,
    api::VolumesApi,
    transport::BinaryBody,
    types::{VolumeFileEntry, VolumeFileMoveRequest},
};

/// Chunk size of [`Volume::stream`] (8 MiB).
pub const DEFAULT_CHUNK_BYTES: u64 = 8 * 1024 * 1024;

/// A disk volume, with file operations. Every path is normalized (`a/b/` → `/a/b`).
#[derive(Debug, Clone)]
pub struct Volume {
    pub(super) state: VolumeState,
}

/// One step of [`Volume::iterdir`]'s depth-first walk.
enum Pending {
    /// An entry to yield, then descend into.
    Entry(VolumeFileEntry, String),
    /// A truncated directory whose contents must be listed with a further request.
    List(String),
}

impl Volume {
    fn api(&self) -> &VolumesApi {
        &self.state.api
    }

    /// The data subdirectory under the shared volumes mount.
    #[must_use]
    pub fn path(&self) -> String {
        self.state.read(|r| r.path.clone())
    }

    /// The direct entries of the directory `path`: directories first, then files, each by name.
    /// Directories the server did not fully read carry `truncated`.
    pub async fn listdir(&self, path: &str) -> Result<Vec<VolumeFile>> {
        let listing =
            self.api().list_volume_files(self.id(), Some(&normalize_path(path)), None).await?;
        Ok(listing.entries.iter().map(|e| VolumeFile::new(e, &listing.path)).collect())
    }

    /// Every entry below `path`, depth-first pre-order, lazily: a directory the listing left
    /// truncated and unread is listed with a further request when the walk reaches it.
    pub fn iterdir(&self, path: &str) -> Pin<Box<dyn Stream<Item = Result<VolumeFile>> + Send>> {
        let volume = self.clone();
        let start = vec![Pending::List(normalize_path(path))];
        Box::pin(stream::try_unfold((volume, start), |(volume, mut stack)| async move {
            while let Some(next) = stack.pop() {
                match next {
                    Pending::List(dir) => {
                        let listing =
                            volume.api().list_volume_files(volume.id(), Some(&dir), None).await?;
                        push_children(&mut stack, listing.entries, &listing.path);
                    }
                    Pending::Entry(entry, parent) => {
                        let file = VolumeFile::new(&entry, &parent);
                        match entry.entries {
                            Some(children) => push_children(&mut stack, children, &file.path),
                            None if file.is_directory() && file.truncated => {
                                stack.push(Pending::List(file.path.clone()));
                            }
                            None => {}
                        }
                        return Ok(Some((file, (volume, stack))));
                    }
                }
            }
            Ok(None)
        }))
    }

    /// Entries under `path` whose name contains `query` (case-insensitive), from one listing with
    /// the server-side search; truncated directories are not followed.
    pub async fn search(&self, query: &str, path: &str) -> Result<Vec<VolumeFile>> {
        let listing = self
            .api()
            .list_volume_files(self.id(), Some(&normalize_path(path)), Some(query))
            .await?;
        Ok(search_tree(&listing.entries, &listing.path, query))
    }

    /// Reads a file, or `length` bytes from `offset` (to the end when `length` is `None`).
    /// `length` 0 returns nothing without a request. No timeout.
    pub async fn read_file(
        &self,
        path: &str,
        offset: Option<u64>,
        length: Option<u64>,
    ) -> Result<Bytes> {
        let range = match (offset, length) {
            (_, Some(0)) => return Ok(Bytes::new()),
            (None, None) => None,
            (offset, None) => Some(format!("bytes={}-", offset.unwrap_or(0))),
            (offset, Some(length)) => {
                let start = offset.unwrap_or(0);
                let end = start.checked_add(length - 1).ok_or_else(|| {
                    Error::invalid_argument("offset + length is beyond the largest file size")
                })?;
                Some(format!("bytes={start}-{end}"))
            }
        };
        let content = self
            .api()
            .read_volume_file(self.id(), &normalize_path(path), range.as_deref(), None)
            .await?;
        Ok(content.data)
    }

    /// Reads a file as UTF-8 text (see [`Volume::read_file`]).
    pub async fn read_text(
        &self,
        path: &str,
        offset: Option<u64>,
        length: Option<u64>,
    ) -> Result<String> {
        let bytes = self.read_file(path, offset, length).await?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::decode(format!("{} is not valid UTF-8: {e}", normalize_path(path))))
    }

    /// Replaces the file at `path` atomically, creating its parents. Files and readers are
    /// streamed, never loaded into memory. No timeout.
    pub async fn write_file(&self, path: &str, content: impl Into<BinaryBody>) -> Result<()> {
        self.api().write_volume_file(self.id(), content.into(), &normalize_path(path), None).await
    }

    /// Writes UTF-8 text (see [`Volume::write_file`]).
    pub async fn write_text(&self, path: &str, content: impl Into<String>) -> Result<()> {
        self.write_file(path, content.into()).await
    }

    /// Moves or renames `from_path` to `to_path` (the full new path; its parent must exist).
    /// Never overwrites.
    pub async fn move_file(&self, from_path: &str, to_path: &str) -> Result<()> {
        let body = VolumeFileMoveRequest::new(normalize_path(from_path), normalize_path(to_path));
        self.api().move_volume_file(self.id(), &body).await
    }

    /// Reads a file in ranged chunks of `chunk_size` bytes (see [`DEFAULT_CHUNK_BYTES`]), one
    /// request per chunk, so memory stays bounded whatever the file size. Once the first chunk
    /// gave the file's size, the next two chunks are requested while the
    /// caller consumes the current one (so at most that many more chunks are held); a chunk that
    /// does not cover exactly the range asked for (the file changed size meanwhile) ends the
    /// stream with an error. A server that answers shorter ranges than asked is read one range
    /// after the other, each starting where the previous one ended.
    pub fn stream(
        &self,
        path: &str,
        chunk_size: u64,
    ) -> Result<Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>> {
        if chunk_size == 0 {
            return Err(Error::invalid_argument("chunk_size must be at least 1 byte"));
        }
        let (volume, path) = (self.clone(), normalize_path(path));
        let first = read_range(volume.clone(), path.clone(), 0, chunk_size);
        let chunks = stream::once(first).map_ok(move |content| {
            let head = stream::iter([Ok(content.data)]);
            let tail: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>> =
                match content.content_range {
                    Some(r) if r.end.saturating_add(1) < r.size => {
                        let (volume, path) = (volume.clone(), path.clone());
                        if r.start == 0 && r.end.saturating_add(1) == chunk_size {
                            Box::pin(read_ahead(volume, path, chunk_size, r.end + 1, r.size))
                        } else {
                            Box::pin(read_in_turn(volume, path, chunk_size, r.end + 1))
                        }
                    }
                    _ => Box::pin(stream::empty()),
                };
            head.chain(tail)
        });
        // An error ends the stream, as it did when every chunk was read in turn.
        let mut failed = false;
        let chunks = chunks.try_flatten().take_while(move |item| {
            let go_on = !failed;
            failed |= item.is_err();
            future::ready(go_on)
        });
        Ok(Box::pin(chunks.try_filter(|data| future::ready(!data.is_empty()))))
    }
}

/// How many chunk requests [`Volume::stream`] keeps running ahead of its reader.
const STREAM_READ_AHEAD: usize = 2;

/// `bytes=offset-(offset + chunk_size - 1)` of the file, read whole.
async fn read_range(
    volume: Volume,
    path: String,
    offset: u64,
    chunk_size: u64,
) -> Result<BinaryContent> {
    let range = format!("bytes={offset}-{}", offset.saturating_add(chunk_size - 1));
    volume.api().read_volume_file(volume.id(), &path, Some(&range), None).await
}

/// The chunks from `offset` to `size`, [`STREAM_READ_AHEAD`] requests in flight, each on the
/// runtime (so it completes while the reader works) and aborted when the stream is dropped.
fn read_ahead(
    volume: Volume,
    path: String,
    chunk_size: u64,
    offset: u64,
    size: u64,
) -> impl Stream<Item = Result<Bytes>> + Send {
    let offsets = (offset..size).step_by(usize::try_from(chunk_size).unwrap_or(usize::MAX));
    stream::iter(offsets)
        .map(move |offset| {
            let expected_end = offset.saturating_add(chunk_size - 1).min(size - 1);
            let task = tokio::spawn(read_range(volume.clone(), path.clone(), offset, chunk_size));
            let task = AbortOnDrop(task);
            let path = path.clone();
            async move {
                let content = task.await?;
                match content.content_range {
                    Some(r) if r.start == offset && r.end == expected_end && r.size == size => {
                        Ok(content.data)
                    }
                    _ => Err(Error::new(
                        ErrorKind::Decode,
                        format!("{path} changed while it was streamed: read it again"),
                    )),
                }
            }
        })
        .buffered(STREAM_READ_AHEAD)
}

/// The chunks from `offset`, one request after the other, each where the previous one ended.
fn read_in_turn(
    volume: Volume,
    path: String,
    chunk_size: u64,
    offset: u64,
) -> impl Stream<Item = Result<Bytes>> + Send {
    stream::try_unfold(Some(offset), move |offset| {
        let (volume, path) = (volume.clone(), path.clone());
        async move {
            let Some(offset) = offset else {
                return Ok(None);
            };
            let content = read_range(volume, path, offset, chunk_size).await?;
            let next = match content.content_range {
                Some(r) if r.end.saturating_add(1) < r.size => Some(r.end + 1),
                _ => None,
            };
            Ok(Some((content.data, next)))
        }
    })
}

/// A task that is aborted when its handle is dropped (a dropped stream cancels its reads).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<Result<T>> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| {
            joined.unwrap_or_else(|e| {
                Err(Error::new(ErrorKind::Network, format!("a chunk read stopped: {e}")))
            })
        })
    }
}

fn push_children(stack: &mut Vec<Pending>, children: Vec<VolumeFileEntry>, parent: &str) {
    let parent = parent.to_owned();
    stack.extend(children.into_iter().rev().map(|c| Pending::Entry(c, parent.clone())));
}
