//! The native module of the `porter-sandbox` npm package: the Rust core of the Porter Sandbox
//! client, exposed to Node through Node-API (napi-rs).
//!
//! This crate is deliberately thin. It converts JavaScript values into the core's types and
//! back, and core errors into an encoding the JavaScript layer turns into its error classes;
//! every request, retry, redirect, timeout, configuration rule and path rule lives in the
//! `porter-sandbox` crate. Every operation returns a Promise that runs on napi-rs's tokio
//! runtime, so the event loop is never blocked, and nothing keeps the process alive once no
//! call is pending.

mod client;
mod convert;
mod errors;
mod options;
mod process;
mod sandbox;
mod volume;

use napi_derive::napi;

/// The version of this package, sent in the User-Agent as `porter-sandbox-node/<version>`.
#[napi]
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The prefix of the message of a native error that encodes a core error.
#[napi]
pub const ERROR_MARKER: &str = errors::MARKER;

/// Chunk size of `Volume.stream` (8 MiB).
#[napi]
pub const DEFAULT_CHUNK_BYTES: f64 = 8_388_608.0;

/// The form every volume handle sends a path in (`a/b/` → `/a/b`).
#[napi]
pub fn normalize_path(path: String) -> String {
    porter_sandbox::normalize_path(&path)
}
