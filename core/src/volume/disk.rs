//! The disk volume handle and its file operations.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, stream};

use super::{
    VolumeState,
    files::{VolumeFile, normalize_path, search_tree},
};
use crate::{
    Error, Result,
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
    /// request per chunk, so memory stays bounded whatever the file size.
    pub fn stream(
        &self,
        path: &str,
        chunk_size: u64,
    ) -> Result<Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>> {
        if chunk_size == 0 {
            return Err(Error::invalid_argument("chunk_size must be at least 1 byte"));
        }
        let state =
            ChunkState { volume: self.clone(), path: normalize_path(path), offset: Some(0) };
        Ok(Box::pin(stream::try_unfold(state, move |mut state| async move {
            loop {
                let Some(offset) = state.offset else {
                    return Ok(None);
                };
                let range = format!("bytes={offset}-{}", offset.saturating_add(chunk_size - 1));
                let content = state
                    .volume
                    .api()
                    .read_volume_file(state.volume.id(), &state.path, Some(&range), None)
                    .await?;
                state.offset = match content.content_range {
                    Some(r) if r.end.saturating_add(1) < r.size => Some(r.end + 1),
                    _ => None,
                };
                if !content.data.is_empty() {
                    return Ok(Some((content.data, state)));
                }
            }
        })))
    }
}

struct ChunkState {
    volume: Volume,
    path: String,
    offset: Option<u64>,
}

fn push_children(stack: &mut Vec<Pending>, children: Vec<VolumeFileEntry>, parent: &str) {
    let parent = parent.to_owned();
    stack.extend(children.into_iter().rev().map(|c| Pending::Entry(c, parent.clone())));
}
