//! Core errors → JavaScript errors.
//!
//! Node-API cannot throw instances of JavaScript subclasses from native code, so a core error
//! crosses the boundary as a plain `Error` whose message is [`MARKER`] followed by a JSON object
//! `{"kind", "message", "status", "body"}`. The JavaScript layer (`errors.js`) recognizes the
//! marker and rethrows the matching class (`SandboxError`, `NotFoundError`, …). Configuration
//! problems are plain `Error`s with the core's message, as in the official TypeScript SDK.

use napi::Status;
use porter_sandbox::{DecodedBody, Error, ErrorKind};
use serde_json::{Value, json};

/// Prefix of the message of every encoded core error.
pub const MARKER: &str = "\u{1}porter-sandbox-error:";

/// The JavaScript error for a core error.
pub fn to_js(error: &Error) -> napi::Error {
    if error.kind() == ErrorKind::Config {
        return napi::Error::new(Status::InvalidArg, error.message().to_owned());
    }
    let body = match error.body() {
        Some(DecodedBody::Json(value)) => value.clone(),
        Some(DecodedBody::Text(text)) => Value::String(text.clone()),
        None => Value::Null,
    };
    let encoded = json!({
        "kind": error.kind().as_str(),
        "message": error.message(),
        "status": error.status(),
        "body": body,
    });
    napi::Error::new(Status::GenericFailure, format!("{MARKER}{encoded}"))
}

/// Maps a core result into a Node-API result.
pub trait IntoJs<T> {
    /// The same result, with a core error turned into its JavaScript encoding.
    fn js(self) -> napi::Result<T>;
}

impl<T> IntoJs<T> for porter_sandbox::Result<T> {
    fn js(self) -> napi::Result<T> {
        self.map_err(|e| to_js(&e))
    }
}

/// A plain `TypeError`-like error for an unusable argument.
pub fn invalid(message: impl Into<String>) -> napi::Error {
    napi::Error::new(Status::InvalidArg, message.into())
}
