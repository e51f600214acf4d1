//! Errors of the volume file layer, each with the HTTP status it maps to.

use std::{fmt::Display, io};

/// What went wrong in a volume file operation; `Display` is the message for `{"error": ...}`.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The path is unusable (`..`, NUL, a symlink on the way, wrong kind of entry): 400.
    #[error("{0}")]
    InvalidPath(String),
    /// The file or directory (or a parent of it) does not exist: 404.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is there (move target taken, write onto a directory): 409.
    #[error("{0}")]
    Conflict(String),
    /// The `Range` asks for bytes the file does not have: 416 with `Content-Range: bytes */size`.
    #[error(
        "the requested range is not satisfiable: the file has {size} bytes; ask for a range \
         starting below {size}, or send no Range header to read the whole file"
    )]
    RangeNotSatisfiable {
        /// Current size of the file, for `Content-Range: bytes */<size>`.
        size: u64,
    },
    /// The volume (or the disk under it) is full: 507 Insufficient Storage, which clients
    /// must not retry as they would a 500.
    #[error("{0}")]
    NoSpace(String),
    /// The storage itself failed: 500.
    #[error("volume storage error: {0}")]
    Io(#[from] io::Error),
}

impl FsError {
    /// The HTTP status for this error (400, 404, 409, 416, 507 or 500).
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidPath(_) => 400,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::RangeNotSatisfiable { .. } => 416,
            Self::NoSpace(_) => 507,
            Self::Io(_) => 500,
        }
    }
}

/// Wraps an unexpected I/O error with what was being done (never a host path: the message
/// reaches the client); a name the filesystem finds too long is the caller's mistake, so it
/// becomes a 400, and a full volume a 507.
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
    fn statuses_and_messages() {
        assert_eq!(FsError::InvalidPath("bad".into()).status(), 400);
        assert_eq!(FsError::NotFound("gone".into()).to_string(), "gone");
        assert_eq!(FsError::Conflict("taken".into()).status(), 409);
        let range = FsError::RangeNotSatisfiable { size: 10 };
        assert_eq!(range.status(), 416);
        assert!(range.to_string().contains("10 bytes"));
        assert_eq!(FsError::Io(io::Error::other("disk")).status(), 500);
        let long = io_error(io::Error::from_raw_os_error(libc::ENAMETOOLONG), "writing \"/x\"");
        assert_eq!(long.status(), 400);
        let full = io_error(io::Error::from_raw_os_error(libc::ENOSPC), "writing \"/x\"");
        assert_eq!(full.status(), 507);
        assert!(full.to_string().contains("volume is full"), "{full}");
        assert_eq!(io_error(io::Error::from_raw_os_error(libc::EDQUOT), "x").status(), 507);
    }
}
