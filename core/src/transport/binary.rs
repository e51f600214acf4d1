//! Binary request bodies (replayable, streamed) and binary responses (file content).

use std::{fmt, io, path::PathBuf, pin::Pin, sync::Arc, time::SystemTime};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::io::AsyncRead;

/// A boxed stream of body chunks.
pub type ChunkStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

type StreamFactory = Arc<dyn Fn() -> io::Result<ChunkStream> + Send + Sync>;

/// Read size when streaming a file or a reader (1 MiB, as the Python SDK's async upload).
pub const UPLOAD_CHUNK_BYTES: usize = 1024 * 1024;

/// The body of a file upload. Every form can be sent again from its start, which retries and
/// redirects (the API answers writes with a 307) need; files and readers are streamed, never
/// read into memory.
#[derive(Clone)]
pub struct BinaryBody(BodySource);

#[derive(Clone)]
enum BodySource {
    Bytes(Bytes),
    File(PathBuf),
    Factory { length: Option<u64>, open: StreamFactory },
}

impl fmt::Debug for BinaryBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            BodySource::Bytes(b) => write!(f, "BinaryBody::Bytes({} bytes)", b.len()),
            BodySource::File(p) => write!(f, "BinaryBody::File({})", p.display()),
            BodySource::Factory { length, .. } => write!(f, "BinaryBody::Stream({length:?})"),
        }
    }
}

impl BinaryBody {
    /// A body held in memory.
    #[must_use]
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self(BodySource::Bytes(bytes.into()))
    }

    /// The content of a local file, opened and streamed anew on every send.
    #[must_use]
    pub fn from_path(path: impl Into<PathBuf>) -> Self {
        Self(BodySource::File(path.into()))
    }

    /// A reader opened anew by `open` on every send (each send must start from the beginning).
    /// `length`, when known, is sent as `Content-Length`; otherwise the body is chunked.
    #[must_use]
    pub fn from_reader_factory<R, F>(length: Option<u64>, open: F) -> Self
    where
        R: AsyncRead + Send + 'static,
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
    {
        Self::from_stream_factory(length, move || {
            let reader = open()?;
            Ok(tokio_util::io::ReaderStream::with_capacity(reader, UPLOAD_CHUNK_BYTES).boxed())
        })
    }

    /// A stream of chunks created anew by `open` on every send.
    #[must_use]
    pub fn from_stream_factory<F>(length: Option<u64>, open: F) -> Self
    where
        F: Fn() -> io::Result<ChunkStream> + Send + Sync + 'static,
    {
        Self(BodySource::Factory { length, open: Arc::new(open) })
    }

    /// The bytes, when the body is held in memory.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.0 {
            BodySource::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Opens the body for one send: the reqwest body and its length when known.
    pub(crate) async fn open(&self) -> io::Result<(reqwest::Body, Option<u64>)> {
        match &self.0 {
            BodySource::Bytes(b) => Ok((reqwest::Body::from(b.clone()), Some(b.len() as u64))),
            BodySource::File(path) => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display()))
                })?;
                let length = file.metadata().await?.len();
                let stream = tokio_util::io::ReaderStream::with_capacity(file, UPLOAD_CHUNK_BYTES);
                Ok((reqwest::Body::wrap_stream(stream), Some(length)))
            }
            BodySource::Factory { length, open } => {
                let stream = open()?.map_err(io::Error::other);
                Ok((reqwest::Body::wrap_stream(stream), *length))
            }
        }
    }
}

impl From<Bytes> for BinaryBody {
    fn from(value: Bytes) -> Self {
        Self::from_bytes(value)
    }
}

impl From<Vec<u8>> for BinaryBody {
    fn from(value: Vec<u8>) -> Self {
        Self::from_bytes(value)
    }
}

impl From<&'static [u8]> for BinaryBody {
    fn from(value: &'static [u8]) -> Self {
        Self::from_bytes(value)
    }
}

impl From<String> for BinaryBody {
    fn from(value: String) -> Self {
        Self::from_bytes(value)
    }
}

impl From<&'static str> for BinaryBody {
    fn from(value: &'static str) -> Self {
        Self::from_bytes(value.as_bytes())
    }
}

/// A byte range of a file as reported by `Content-Range: bytes <start>-<end>/<size>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentRange {
    /// First byte of the range (inclusive).
    pub start: u64,
    /// Last byte of the range (inclusive).
    pub end: u64,
    /// Size of the whole file.
    pub size: u64,
}

impl ContentRange {
    /// Parses exactly `bytes <start>-<end>/<size>` (decimal digits); anything else is `None`.
    #[must_use]
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.strip_prefix("bytes ")?;
        let (range, size) = rest.split_once('/')?;
        let (start, end) = range.split_once('-')?;
        Some(Self { start: digits(start)?, end: digits(end)?, size: digits(size)? })
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The content of a file read, with the range it covers and its modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryContent {
    /// The bytes read.
    pub data: Bytes,
    /// The range these bytes cover, when the server answered a ranged read with one.
    pub content_range: Option<ContentRange>,
    /// The file's `Last-Modified` time, when the server sent a parsable one.
    pub last_modified: Option<SystemTime>,
}

/// A file read as a stream of chunks, for files too large to hold in memory.
pub struct BinaryStream {
    /// The range the stream covers, when the server answered a ranged read with one.
    pub content_range: Option<ContentRange>,
    /// The file's `Last-Modified` time, when the server sent a parsable one.
    pub last_modified: Option<SystemTime>,
    /// The number of bytes the stream will yield, when the server said.
    pub content_length: Option<u64>,
    /// The bytes, chunk by chunk.
    pub stream: Pin<Box<dyn Stream<Item = crate::Result<Bytes>> + Send + 'static>>,
}

impl fmt::Debug for BinaryStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinaryStream")
            .field("content_range", &self.content_range)
            .field("last_modified", &self.last_modified)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses_only_the_exact_form() {
        assert_eq!(
            ContentRange::parse("bytes 0-9/100"),
            Some(ContentRange { start: 0, end: 9, size: 100 })
        );
        for bad in ["bytes 0-9/*", "bytes */100", "bytes=0-9/100", "bytes -1-9/100", "0-9/100", ""]
        {
            assert_eq!(ContentRange::parse(bad), None, "{bad}");
        }
    }
}
