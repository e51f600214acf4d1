//! The one error type of the binding: the core's [`ErrorKind`]s as variants, each with the
//! message, the HTTP status and the response body. The Kotlin layer turns every variant into
//! its own class of the sealed `SandboxException` hierarchy.

use porter_sandbox::{DecodedBody, Error, ErrorKind};

/// A failed call. `detail` is the message (the server's `error` string for HTTP errors); the
/// field cannot be called `message` because Kotlin exceptions already have one.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum NativeError {
    /// The server rejected the credentials (HTTP 401).
    #[error("{detail}")]
    Authentication {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// The addressed thing does not exist (HTTP 404).
    #[error("{detail}")]
    NotFound {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// Rate limited (HTTP 429), after the retries ran out.
    #[error("{detail}")]
    RateLimit {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// The server failed (HTTP 5xx), after the retries ran out.
    #[error("{detail}")]
    Server {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// Any other non-2xx answer (400, 403, 409, 416, …).
    #[error("{detail}")]
    Api {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// The call did not finish within its timeout; never retried.
    #[error("{detail}")]
    Timeout {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// The request could not be delivered or the answer not read.
    #[error("{detail}")]
    Network {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// The client could not be configured (no base URL, malformed API key…).
    #[error("{detail}")]
    Config {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// A successful answer did not have the expected shape.
    #[error("{detail}")]
    Decode {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// The server does not offer this (an extension of the local server, such as processes).
    #[error("{detail}")]
    Unsupported {
        /// What went wrong and what to use instead.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// The caller passed something unusable (negative offset, a closed client…).
    #[error("{detail}")]
    InvalidArgument {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The response body (JSON text for JSON bodies), when there was one.
        body: Option<String>,
    },
    /// A sandbox awaited as running reached a terminal phase first; `detail` carries the
    /// phase, the termination reason, the exit code and the last log lines, `body` the final
    /// status as JSON (read it with `sandbox_status_from_json`).
    #[error("{detail}")]
    SandboxTerminal {
        /// What went wrong.
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The sandbox's status as JSON text.
        body: Option<String>,
    },
}

impl From<Error> for NativeError {
    fn from(error: Error) -> Self {
        let detail = error.message().to_owned();
        let status = error.status();
        let body = error.body().map(|body| match body {
            DecodedBody::Json(value) => value.to_string(),
            DecodedBody::Text(text) => text.clone(),
        });
        match error.kind() {
            ErrorKind::Authentication => Self::Authentication { detail, status, body },
            ErrorKind::NotFound => Self::NotFound { detail, status, body },
            ErrorKind::RateLimit => Self::RateLimit { detail, status, body },
            ErrorKind::Server => Self::Server { detail, status, body },
            ErrorKind::Timeout => Self::Timeout { detail, status, body },
            ErrorKind::Network => Self::Network { detail, status, body },
            ErrorKind::Config => Self::Config { detail, status, body },
            ErrorKind::Decode => Self::Decode { detail, status, body },
            ErrorKind::InvalidArgument => Self::InvalidArgument { detail, status, body },
            ErrorKind::Unsupported => Self::Unsupported { detail, status, body },
            ErrorKind::SandboxTerminal => Self::SandboxTerminal { detail, status, body },
            // `Api`, and any kind a newer core adds: a generic API error keeps status and body.
            _ => Self::Api { detail, status, body },
        }
    }
}

/// An invalid-argument error for a value the caller passed.
pub fn invalid(detail: impl Into<String>) -> NativeError {
    Error::invalid_argument(detail).into()
}

/// The result type of every fallible export.
pub type Result<T, E = NativeError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_keeps_message_status_and_body() {
        let json = DecodedBody::Json(serde_json::json!({"error": "sandbox sb-1 not found"}));
        let not_found = NativeError::from(Error::from_response(404, Some(json)));
        let NativeError::NotFound { detail, status, body } = not_found else {
            panic!("404 must be NotFound, got {not_found:?}");
        };
        assert_eq!(detail, "sandbox sb-1 not found");
        assert_eq!(status, Some(404));
        assert_eq!(body.as_deref(), Some(r#"{"error":"sandbox sb-1 not found"}"#));

        let text = NativeError::from(Error::from_response(
            409,
            Some(DecodedBody::Text("busy".to_owned())),
        ));
        assert!(
            matches!(&text, NativeError::Api { detail, status: Some(409), body: Some(b) }
                if detail == "HTTP 409" && b == "busy"),
            "{text:?}"
        );
        for (status, kind) in [(401, "Authentication"), (429, "RateLimit"), (503, "Server")] {
            let error = NativeError::from(Error::from_response(status, None));
            assert!(format!("{error:?}").starts_with(kind), "{status}: {error:?}");
        }
        for (kind, name) in [
            (ErrorKind::Timeout, "Timeout"),
            (ErrorKind::Network, "Network"),
            (ErrorKind::Config, "Config"),
            (ErrorKind::Decode, "Decode"),
            (ErrorKind::InvalidArgument, "InvalidArgument"),
            (ErrorKind::Unsupported, "Unsupported"),
        ] {
            let error = NativeError::from(Error::new(kind, "why"));
            assert!(format!("{error:?}").starts_with(name), "{kind}: {error:?}");
            assert_eq!(error.to_string(), "why");
        }
    }
}
