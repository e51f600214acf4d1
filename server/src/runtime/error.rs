//! The errors of [`super::Runtime`]: a kind the service acts on, and a message that says what
//! failed and what to do (shown to clients as it is, so it never changes with the kind).

/// Why a runtime could not do what it was asked.
///
/// A backend builds most errors with [`RuntimeError::other`] (or `?` on a `String`, which is an
/// engine failure); it uses a specific kind only where the service must answer differently.
/// The HTTP status of each kind is chosen in `crate::http`, never here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The sandbox is not on this runtime (never started here, or already removed).
    #[error("{0}")]
    NotFound(String),
    /// The sandbox exists, but its workload does not run (it ended, or is being torn down).
    #[error("{0}")]
    NotRunning(String),
    /// The request cannot be carried out as given (a malformed sandbox id, an invalid entry of
    /// an allow-list, a path a sandbox cannot use).
    #[error("{0}")]
    Invalid(String),
    /// The storage the operation needs is full.
    #[error("{0}")]
    NoSpace(String),
    /// This runtime cannot do this at all (processes on a runtime without them).
    #[error("{0}")]
    Unsupported(String),
    /// The runtime cannot run sandboxes on this host (its engine is missing, too old, or
    /// lacks a kernel feature); the message says what to install or enable.
    #[error("{0}")]
    Unavailable(String),
    /// The engine or the host failed.
    #[error("{0}")]
    Failed(String),
}

impl RuntimeError {
    /// An engine or host failure with `message` ([`RuntimeError::Failed`]).
    pub fn other(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The message, without the kind.
    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::NotRunning(m)
            | Self::Invalid(m)
            | Self::NoSpace(m)
            | Self::Unsupported(m)
            | Self::Unavailable(m)
            | Self::Failed(m) => m,
        }
    }

    /// The same error with `what` before its message (`"<what>: <message>"`).
    #[must_use]
    pub fn context(self, what: &str) -> Self {
        self.map_message(|m| format!("{what}: {m}"))
    }

    /// The same kind with its message rewritten by `f`.
    #[must_use]
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            Self::NotFound(m) => Self::NotFound(f(m)),
            Self::NotRunning(m) => Self::NotRunning(f(m)),
            Self::Invalid(m) => Self::Invalid(f(m)),
            Self::NoSpace(m) => Self::NoSpace(f(m)),
            Self::Unsupported(m) => Self::Unsupported(f(m)),
            Self::Unavailable(m) => Self::Unavailable(f(m)),
            Self::Failed(m) => Self::Failed(f(m)),
        }
    }
}

/// A bare message is an engine or host failure.
impl From<String> for RuntimeError {
    fn from(message: String) -> Self {
        Self::Failed(message)
    }
}

/// A bare message is an engine or host failure.
impl From<&str> for RuntimeError {
    fn from(message: &str) -> Self {
        Self::Failed(message.to_owned())
    }
}

/// The result of runtime operations.
pub type RuntimeResult<T> = Result<T, RuntimeError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_shown_as_they_are_and_context_keeps_the_kind() {
        let err = RuntimeError::NotRunning("sandbox sb-1 is not running".to_owned());
        assert_eq!(err.to_string(), "sandbox sb-1 is not running");
        let wrapped = err.context("snapshot");
        assert_eq!(
            wrapped,
            RuntimeError::NotRunning("snapshot: sandbox sb-1 is not running".into())
        );
        assert_eq!(wrapped.message(), "snapshot: sandbox sb-1 is not running");
        assert_eq!(RuntimeError::from("boom"), RuntimeError::other("boom"));
    }
}
