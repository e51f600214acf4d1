//! Reading files (spec/README.md §9), with single byte ranges.
//!
//! Range rules: only one `bytes=a-b`, `bytes=a-` or `bytes=-n` range is honoured; `b` is clamped
//! to the last byte. A start at or past the end (or `bytes=-0`) is unsatisfiable (416). An empty
//! file answers any range with the whole (empty) file and no `Content-Range`, which the SDKs'
//! chunked reader relies on. A malformed, multi-range or non-`bytes` header is ignored and the
//! whole file is served, as RFC 7233 allows.

use std::{
    fs::Metadata,
    io::{self, Seek, SeekFrom},
    time::SystemTime,
};

use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncReadExt;

use super::{
    FsError, VolumeFs, blocking,
    dir::{Dir, Missing, descend, symlink_error},
    error::io_error,
    paths::VolPath,
};

/// An opened file ready to be sent: the body is the next `len` bytes of `file`.
#[derive(Debug)]
pub struct ReadPlan {
    /// The file, positioned at the first byte to send.
    pub file: tokio::fs::File,
    /// Number of bytes to send.
    pub len: u64,
    /// Size of the whole file.
    pub size: u64,
    /// Modification time, for `Last-Modified`.
    pub modified: SystemTime,
    /// `Some((start, end))` (inclusive) for a 206 answer; `None` for a 200 with the whole file.
    pub partial: Option<(u64, u64)>,
}

/// Size of the reads that feed a file download.
const READ_CHUNK_BYTES: usize = 1024 * 1024;

impl ReadPlan {
    /// The `Content-Range` header value of a partial answer: `bytes <start>-<end>/<size>`.
    #[must_use]
    pub fn content_range(&self) -> Option<String> {
        self.partial.map(|(start, end)| format!("bytes {start}-{end}/{}", self.size))
    }

    /// The body: exactly `len` bytes from the current position, in chunks of up to
    /// `READ_CHUNK_BYTES` (each read of a `tokio::fs::File` is one trip to a blocking thread,
    /// so the default 4 KiB chunks would cap a transfer at a few dozen MB/s).
    pub fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        tokio_util::io::ReaderStream::with_capacity(self.file.take(self.len), READ_CHUNK_BYTES)
    }
}

impl VolumeFs {
    /// Opens the file at `path` for sending, honouring the raw `Range` header value `range`.
    /// Missing → `NotFound`; a directory or other non-file → `InvalidPath`; a range starting past
    /// the end → `RangeNotSatisfiable`.
    pub async fn read(&self, path: &str, range: Option<&str>) -> Result<ReadPlan, FsError> {
        let path = VolPath::parse(path)?;
        let range = range.and_then(parse_range);
        let root = self.root.clone();
        let (file, meta, partial) = blocking(move || {
            let (file, meta) = open_for_read(Dir::open_root(&root)?, &path)?;
            let partial = range.map(|r| r.resolve(meta.len())).transpose()?.flatten();
            let mut file = file;
            if let Some((start, _)) = partial {
                file.seek(SeekFrom::Start(start))
                    .map_err(|e| io_error(e, format_args!("reading {path}")))?;
            }
            Ok((file, meta, partial))
        })
        .await?;
        let size = meta.len();
        Ok(ReadPlan {
            file: tokio::fs::File::from_std(file),
            len: partial.map_or(size, |(start, end)| end - start + 1),
            size,
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            partial,
        })
    }
}

fn open_for_read(root: Dir, path: &VolPath) -> Result<(std::fs::File, Metadata), FsError> {
    let Some(name) = path.name() else {
        return Err(FsError::InvalidPath(
            "\"/\" is the volume root, a directory: give the path of a file to read".to_owned(),
        ));
    };
    let parent = descend(root, path, path.parts().len() - 1, Missing::Fail)?;
    // Sockets, FIFOs and devices are refused before being opened (opening one can block,
    // fail oddly or act on a device); the check on the open file below covers a swap.
    let kind = parent.lstat(name).map_err(|e| io_error(e, format_args!("looking up {path}")))?;
    if kind.is_some_and(|m| !(m.is_file() || m.is_dir() || m.file_type().is_symlink())) {
        return Err(not_regular(path));
    }
    let file = match parent.open_file(name) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(FsError::NotFound(format!("file {path} does not exist")));
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(symlink_error(&path.to_string()));
        }
        Err(e) => return Err(io_error(e, format_args!("opening {path}"))),
    };
    // Checked on the open file itself, so nothing can be swapped in after the check.
    let meta = file.metadata().map_err(|e| io_error(e, format_args!("reading {path}")))?;
    if meta.is_dir() {
        return Err(FsError::InvalidPath(format!(
            "{path} is a directory: list it through the files endpoint instead of reading it"
        )));
    }
    if !meta.is_file() {
        return Err(not_regular(path));
    }
    Ok((file, meta))
}

fn not_regular(path: &VolPath) -> FsError {
    FsError::InvalidPath(format!(
        "{path} is not a regular file (a device, FIFO or socket) and cannot be read"
    ))
}

/// A syntactically valid single byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteRange {
    /// `bytes=first-` or `bytes=first-last`.
    From { first: u64, last: Option<u64> },
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// Parses a `Range` header value; `None` means "ignore it and send the whole file".
fn parse_range(header: &str) -> Option<ByteRange> {
    let (unit, spec) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return None;
    }
    let (first, last) = spec.trim().split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return number(last).map(ByteRange::Suffix);
    }
    let first = number(first)?;
    if last.is_empty() {
        return Some(ByteRange::From { first, last: None });
    }
    let last = number(last)?;
    // RFC 7233: last < first makes the range invalid, hence ignored.
    (last >= first).then_some(ByteRange::From { first, last: Some(last) })
}

/// Decimal digits only; values beyond `u64` saturate (still past any real file's end).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0'))))
}

impl ByteRange {
    /// The inclusive byte span to send for a file of `size` bytes; `None` for the whole file.
    fn resolve(self, size: u64) -> Result<Option<(u64, u64)>, FsError> {
        if size == 0 {
            return Ok(None);
        }
        let last_byte = size - 1;
        match self {
            Self::From { first, .. } if first >= size => Err(FsError::RangeNotSatisfiable { size }),
            Self::From { first, last } => {
                Ok(Some((first, last.map_or(last_byte, |l| l.min(last_byte)))))
            }
            Self::Suffix(0) => Err(FsError::RangeNotSatisfiable { size }),
            Self::Suffix(n) => Ok(Some((size.saturating_sub(n), last_byte))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use futures_util::TryStreamExt;

    use super::super::testutil::{TestVol, assert_invalid};
    use super::*;

    async fn body(plan: ReadPlan) -> Vec<u8> {
        let chunks: Vec<Bytes> = plan.into_stream().try_collect().await.unwrap();
        chunks.concat()
    }

    /// Reads with `range`; returns (partial, size, body).
    async fn read(
        vol: &TestVol,
        path: &str,
        range: Option<&str>,
    ) -> (Option<(u64, u64)>, u64, Vec<u8>) {
        let plan = vol.fs.read(path, range).await.unwrap();
        let (partial, size, len) = (plan.partial, plan.size, plan.len);
        let data = body(plan).await;
        assert_eq!(data.len() as u64, len);
        (partial, size, data)
    }

    #[tokio::test]
    async fn ranges() {
        let vol = TestVol::new();
        vol.put("d/f.bin", b"0123456789");
        assert_eq!(read(&vol, "/d/f.bin", None).await, (None, 10, b"0123456789".to_vec()));
        assert_eq!(
            read(&vol, "d/f.bin", Some("bytes=2-4")).await,
            (Some((2, 4)), 10, b"234".to_vec())
        );
        assert_eq!(
            read(&vol, "d/f.bin", Some("bytes=7-")).await,
            (Some((7, 9)), 10, b"789".to_vec())
        );
        assert_eq!(
            read(&vol, "d/f.bin", Some("bytes=-3")).await,
            (Some((7, 9)), 10, b"789".to_vec())
        );
        assert_eq!(read(&vol, "d/f.bin", Some("bytes=-30")).await.2, b"0123456789");
        // The SDKs' chunked reader asks past the end and relies on the clamped end.
        let (partial, _, data) = read(&vol, "d/f.bin", Some("bytes=8-8388615")).await;
        assert_eq!((partial, data), (Some((8, 9)), b"89".to_vec()));
        assert_eq!(read(&vol, "d/f.bin", Some(" Bytes = 0-0 ")).await.2, b"0");

        for bad in ["bytes=10-", "bytes=10-20", "bytes=-0", "bytes=99999999999999999999999-"] {
            match vol.fs.read("d/f.bin", Some(bad)).await {
                Err(FsError::RangeNotSatisfiable { size: 10 }) => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
        for malformed in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-3",
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=+1-2",
        ] {
            assert_eq!(
                read(&vol, "d/f.bin", Some(malformed)).await,
                (None, 10, b"0123456789".to_vec()),
                "{malformed}"
            );
        }

        let plan = vol.fs.read("d/f.bin", Some("bytes=2-4")).await.unwrap();
        assert_eq!(plan.content_range().as_deref(), Some("bytes 2-4/10"));
        assert!(plan.modified > SystemTime::UNIX_EPOCH);
    }

    #[tokio::test]
    async fn empty_file_ignores_ranges() {
        let vol = TestVol::new();
        vol.put("empty", b"");
        for range in [None, Some("bytes=0-8388607"), Some("bytes=5-"), Some("bytes=-0")] {
            let plan = vol.fs.read("/empty", range).await.unwrap();
            assert_eq!((plan.partial, plan.len, plan.size), (None, 0, 0), "{range:?}");
            assert_eq!(plan.content_range(), None);
            assert!(body(plan).await.is_empty());
        }
    }

    #[tokio::test]
    async fn refusals() {
        let vol = TestVol::new();
        vol.put("d/f", b"x");
        assert!(matches!(vol.fs.read("/d/missing", None).await, Err(FsError::NotFound(_))));
        assert!(matches!(vol.fs.read("/nodir/f", None).await, Err(FsError::NotFound(_))));
        assert!(matches!(vol.fs.read("/d/f/g", None).await, Err(FsError::NotFound(_))));
        assert!(assert_invalid(vol.fs.read("/d", None).await).contains("directory"));
        assert_invalid(vol.fs.read("/", None).await);
        assert_invalid(vol.fs.read("../canary", None).await);
        assert_invalid(vol.fs.read("/d/../../outside/canary", None).await);
        assert_invalid(vol.fs.read("d/f\0", None).await);

        let root = vol.fs.root();
        std::os::unix::fs::symlink(vol.outside().join("canary"), root.join("file-link")).unwrap();
        std::os::unix::fs::symlink(vol.outside(), root.join("dir-link")).unwrap();
        assert!(assert_invalid(vol.fs.read("/file-link", None).await).contains("symbolic link"));
        assert!(
            assert_invalid(vol.fs.read("/dir-link/canary", None).await).contains("symbolic link")
        );

        let fifo = root.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(assert_invalid(vol.fs.read("/fifo", None).await).contains("not a regular file"));
        // A unix socket a sandbox bound in the volume: open(2) would fail with ENXIO (a 500).
        let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
        assert!(assert_invalid(vol.fs.read("/sock", None).await).contains("not a regular file"));
        vol.assert_outside_untouched();
    }
}
