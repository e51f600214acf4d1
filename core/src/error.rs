//! The one error type of the client, with a [`ErrorKind`] that every binding maps 1:1.

use std::fmt;

/// What went wrong, coarsely: the bindings turn each kind into their own exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server rejected the credentials (HTTP 401).
    Authentication,
    /// The addressed thing does not exist (HTTP 404).
    NotFound,
    /// Rate limited (HTTP 429), after the retries ran out.
    RateLimit,
    /// The server failed (HTTP 5xx), after the retries ran out.
    Server,
    /// Any other non-2xx answer (400, 403, 409, a 3xx without `Location`, …).
    Api,
    /// The call did not finish within its timeout; never retried.
    Timeout,
    /// The request could not be delivered or the answer not read (connection refused, reset, too
    /// many redirects…).
    Network,
    /// The client could not be configured (no base URL, malformed API key…).
    Config,
    /// A successful answer did not have the expected shape.
    Decode,
    /// The caller passed something unusable (negative offset, a closed client…).
    InvalidArgument,
    /// A sandbox awaited as running reached a terminal phase instead
    /// ([`Sandbox::wait_until_running`](crate::Sandbox::wait_until_running)); the message
    /// says how it ended and [`Error::body`] holds its status.
    SandboxTerminal,
    /// The server does not offer the extension this call needs (processes, for example, exist
    /// only on the local server); the call failed at once, nothing was sent.
    Unsupported,
}

impl ErrorKind {
    /// The kind an HTTP error status maps to.
    #[must_use]
    pub fn from_status(status: u16) -> Self {
        match status {
            401 => Self::Authentication,
            404 => Self::NotFound,
            429 => Self::RateLimit,
            500..=599 => Self::Server,
            _ => Self::Api,
        }
    }

    /// A stable lower-case name (`not_found`, `rate_limit`…), used by the bindings.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "authentication",
            Self::NotFound => "not_found",
            Self::RateLimit => "rate_limit",
            Self::Server => "server",
            Self::Api => "api",
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::Config => "config",
            Self::Decode => "decode",
            Self::InvalidArgument => "invalid_argument",
            Self::SandboxTerminal => "sandbox_terminal",
            Self::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decoded body of an error response.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodedBody {
    /// A JSON body (`Content-Type` containing `application/json` that parsed).
    Json(serde_json::Value),
    /// Any other body, as text.
    Text(String),
}

impl DecodedBody {
    /// Decodes a response body the way every SDK does: empty → none; JSON content type → parsed
    /// JSON, falling back to the raw text; anything else → text.
    #[must_use]
    pub fn decode(status: u16, content_type: Option<&str>, bytes: &[u8]) -> Option<Self> {
        if status == 204 || bytes.is_empty() {
            return None;
        }
        let text = String::from_utf8_lossy(bytes);
        if content_type.is_some_and(|ct| ct.contains("application/json")) {
            if let Ok(value) = serde_json::from_slice(bytes) {
                return Some(Self::Json(value));
            }
        }
        Some(Self::Text(text.into_owned()))
    }

    /// The `error` string of a JSON object body, if there is one.
    #[must_use]
    pub fn error_message(&self) -> Option<&str> {
        match self {
            Self::Json(serde_json::Value::Object(map)) => map.get("error")?.as_str(),
            _ => None,
        }
    }
}

/// An error from the Porter Sandbox client: a kind, a message, and — for HTTP errors — the status
/// and the decoded response body.
#[derive(thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    body: Option<DecodedBody>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("status", &self.status)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl Error {
    /// An error of `kind` with `message` and nothing else.
    #[must_use]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), status: None, body: None, source: None }
    }

    /// An HTTP error for `status`, with the message taken from the body's `error` string, else
    /// `HTTP <status>`.
    #[must_use]
    pub fn from_response(status: u16, body: Option<DecodedBody>) -> Self {
        let message = body
            .as_ref()
            .and_then(DecodedBody::error_message)
            .map_or_else(|| format!("HTTP {status}"), str::to_owned);
        Self {
            kind: ErrorKind::from_status(status),
            message,
            status: Some(status),
            body,
            source: None,
        }
    }

    /// An invalid-argument error: the caller passed something unusable.
    #[must_use]
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// A decode error: a successful answer did not have the expected shape.
    #[must_use]
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }

    /// Attaches a body (for errors that carry a record, such as the sandbox status of
    /// [`ErrorKind::SandboxTerminal`]).
    #[must_use]
    pub fn with_body(mut self, body: Option<DecodedBody>) -> Self {
        self.body = body;
        self
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message (the server's `error` string for HTTP errors).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status, for errors answered by the server.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The decoded response body, for errors answered by the server with a body.
    #[must_use]
    pub fn body(&self) -> Option<&DecodedBody> {
        self.body.as_ref()
    }

    /// Whether this is a 404.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

#[cfg(feature = "client")]
impl From<crate::config::ConfigError> for Error {
    fn from(err: crate::config::ConfigError) -> Self {
        Self::new(ErrorKind::Config, err.message())
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
