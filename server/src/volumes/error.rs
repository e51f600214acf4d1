//! Errors of the volume file layer (the service gives each a kind: `crate::service::ServiceError`).

use std::{fmt::Display, io};

/// What went wrong in a volume file operation; `Display` is the message for `{"error": ...}`.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The path is unusable (`..`, NUL, a symlink on the way, wrong kind of entry).
    #[error("{0}")]
    InvalidPath(String),
    /// The file or directory (or a parent of it) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is there (move target taken, write onto a directory).
    #[error("{0}")]
    Conflict(String),
    /// The `Range` asks for bytes the file does not have (answered with
    /// `Content-Range: bytes */size`).
    #[error(
        "the requested range is not satisfiable: the file has {size} bytes; ask for a range \
         starting below {size}, or send no Range header to read the whole file"
    )]
    RangeNotSatisfiable {
        /// Current size of the file, for `Content-Range: bytes */<size>`.
        size: u64,
    },
    /// The volume (or the disk under it) is full, which clients must not retry as they would
    /// a failure of the server.
    #[error("{0}")]
    NoSpace(String),
    /// The storage itself failed.
    #[error("volume storage error: {0}")]
    Io(#[from] io::Error),
}

/// Wraps an unexpected I/O error with what was being done (never a host path: the message
/// reaches the client); a name the filesystem finds too long is the caller's mistake, so it
/// is invalid, and a full volume is [`FsError::NoSpace`].
pub(crate) fn io_error(err: io::Error, doing: impl Display) -> FsError {
    match err.raw_os_error() {
        Some(libc::ENAMETOOLONG) => {
            return FsError::InvalidPath(format!(
                "{doing}: a name in the path is too long for the filesystem; use shorter names"
            ));
        }
        Some(libc::ENOSPC | libc::EDQUOT) => {
            return FsError::NoSpace(format!(
                "{doing}: the volume is full (it has reached its size limit, or the server's \
                 disk is full): delete files from the volume, or use another volume"
            ));
        }
        Some(libc::ENXIO) => {
            // open(2) of a unix socket file.
            return FsError::InvalidPath(format!(
                "{doing}: it is not a regular file (a socket or device) and cannot be read"
            ));
        }
        _ => {}
    }
    FsError::Io(io::Error::new(err.kind(), format!("{doing}: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        assert_eq!(FsError::NotFound("gone".into()).to_string(), "gone");
        let range = FsError::RangeNotSatisfiable { size: 10 };
        assert!(range.to_string().contains("10 bytes"));
        let long = io_error(io::Error::from_raw_os_error(libc::ENAMETOOLONG), "writing \"/x\"");
        assert!(matches!(long, FsError::InvalidPath(_)), "{long}");
        let full = io_error(io::Error::from_raw_os_error(libc::ENOSPC), "writing \"/x\"");
        assert!(matches!(full, FsError::NoSpace(_)), "{full}");
        assert!(full.to_string().contains("volume is full"), "{full}");
        let quota = io_error(io::Error::from_raw_os_error(libc::EDQUOT), "x");
        assert!(matches!(quota, FsError::NoSpace(_)), "{quota}");
        let other = io_error(io::Error::from_raw_os_error(libc::EIO), "x");
        assert!(matches!(other, FsError::Io(_)), "{other}");
    }
}
