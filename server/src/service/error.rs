//! The errors of the service: a kind that says what went wrong, and the message clients get
//! (what was wrong and what to do). `crate::http` is the one place that turns kinds into HTTP
//! statuses.

use crate::{images::ImageError, runtime::RuntimeError, volumes::FsError};

/// What kind of failure a service operation had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is invalid (a field, a parameter, an option this server lacks).
    Invalid,
    /// The addressed thing does not exist.
    NotFound,
    /// The request conflicts with the current state (a sandbox not running, a name taken).
    Conflict,
    /// The request carries more data than the operation takes.
    TooLarge,
    /// A read asks for a range past the end of the file.
    RangeNotSatisfiable,
    /// The request is well-formed but cannot be honoured as sent (an idempotency key reused
    /// for a different request).
    Unprocessable,
    /// This server cannot do this at all (processes without a supervisor).
    NotImplemented,
    /// The server cannot serve this now (its runtime is not usable).
    Unavailable,
    /// The storage the request needs is full.
    StorageFull,
    /// The server failed; the message says where.
    Internal,
}

/// A failed service operation: its kind and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// What was wrong and what to do, as clients see it.
    pub message: String,
}

impl ServiceError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// [`ErrorKind::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// [`ErrorKind::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// [`ErrorKind::StorageFull`].
    pub fn storage_full(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::StorageFull, message)
    }

    /// [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// [`ErrorKind::Invalid`] for an option this server does not support yet, named so it is
    /// never silently ignored.
    #[must_use]
    pub fn unsupported_option(feature: &str) -> Self {
        Self::invalid(format!(
            "{feature} is not supported by this local server yet; remove it from the request"
        ))
    }
}

/// A runtime failure, by kind, with the runtime's message. Operations whose answer does not
/// depend on the runtime's kind (exec: 500 whatever failed) build their error themselves.
impl From<RuntimeError> for ServiceError {
    fn from(err: RuntimeError) -> Self {
        let kind = match &err {
            RuntimeError::NotFound(_) => ErrorKind::NotFound,
            RuntimeError::NotRunning(_) => ErrorKind::Conflict,
            RuntimeError::Invalid(_) => ErrorKind::Invalid,
            RuntimeError::NoSpace(_) => ErrorKind::StorageFull,
            RuntimeError::Unsupported(_) => ErrorKind::NotImplemented,
            RuntimeError::Unavailable(_) => ErrorKind::Unavailable,
            RuntimeError::Failed(_) => ErrorKind::Internal,
        };
        Self::new(kind, err.to_string())
    }
}

/// An image that cannot be made ready, by kind, with the image store's message.
impl From<ImageError> for ServiceError {
    fn from(err: ImageError) -> Self {
        let kind = match &err {
            ImageError::Unsupported(_) | ImageError::Invalid(_) => ErrorKind::Invalid,
            ImageError::NotFound(_) => ErrorKind::NotFound,
            ImageError::Unreachable(_) | ImageError::Registry(_) => ErrorKind::Unavailable,
            ImageError::Io(_) => ErrorKind::Internal,
        };
        Self::new(kind, err.to_string())
    }
}

/// A volume file operation's failure, by kind; the server's own failures are logged.
impl From<FsError> for ServiceError {
    fn from(err: FsError) -> Self {
        let kind = match &err {
            FsError::InvalidPath(_) => ErrorKind::Invalid,
            FsError::NotFound(_) => ErrorKind::NotFound,
            FsError::Conflict(_) => ErrorKind::Conflict,
            FsError::RangeNotSatisfiable { .. } => ErrorKind::RangeNotSatisfiable,
            FsError::NoSpace(_) => ErrorKind::StorageFull,
            FsError::Io(_) => ErrorKind::Internal,
        };
        if kind == ErrorKind::Internal {
            tracing::error!("volume file operation failed: {err}");
        }
        Self::new(kind, err.to_string())
    }
}

/// The result of service operations.
pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_keep_their_message_and_get_a_kind() {
        let cases = [
            (FsError::InvalidPath("bad".into()), ErrorKind::Invalid),
            (FsError::NotFound("gone".into()), ErrorKind::NotFound),
            (FsError::Conflict("taken".into()), ErrorKind::Conflict),
            (FsError::RangeNotSatisfiable { size: 10 }, ErrorKind::RangeNotSatisfiable),
            (FsError::NoSpace("full".into()), ErrorKind::StorageFull),
            (FsError::Io(std::io::Error::other("disk")), ErrorKind::Internal),
        ];
        for (err, kind) in cases {
            let message = err.to_string();
            assert_eq!(ServiceError::from(err), ServiceError::new(kind, message));
        }
    }

    #[test]
    fn runtime_errors_keep_their_message_and_get_a_kind() {
        let err = ServiceError::from(RuntimeError::NoSpace("the disk is full".into()));
        assert_eq!(err, ServiceError::storage_full("the disk is full"));
        let err = ServiceError::from(RuntimeError::other("crun failed"));
        assert_eq!(err, ServiceError::internal("crun failed"));
    }
}
