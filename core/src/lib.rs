//! Client for the Porter Sandbox API: create isolated sandboxes from images, run commands in
//! them, read their logs, keep files in volumes and capture snapshots.
//!
//! # Quickstart
//!
//! ```no_run
//! use porter_sandbox::{LogsQuery, Porter, types::SandboxSpec};
//!
//! # async fn demo() -> porter_sandbox::Result<()> {
//! // Explicit settings win; anything unset comes from PORTER_SANDBOX_BASE_URL,
//! // PORTER_CLUSTER_ID + PORTER_SANDBOX_API_KEY, or the in-cluster address.
//! let porter = Porter::builder().base_url("http://127.0.0.1:8080").build()?;
//!
//! let sandbox = porter
//!     .sandboxes()
//!     .create(SandboxSpec::new("host").name("quickstart").tag("workflow", "demo"))
//!     .await?;
//! let result = sandbox.exec(["python3", "-c", "print('hello')"]).await?;
//! println!("exit {} stdout {}", result.exit_code, result.stdout);
//! for line in sandbox.logs(LogsQuery::new().limit(20)).await? {
//!     println!("{} {}", line.timestamp, line.line);
//! }
//! sandbox.terminate().await?;
//! # Ok(()) }
//! ```
//!
//! # Layers
//! - [`types`]: every wire schema and enum (builds without the HTTP client: feature `client` off).
//! - [`config`]: base URL / API key / timeout resolution.
//! - the transport (private): auth, timeouts, retries, redirects, error mapping.
//! - [`api`]: the low-level client, one method per endpoint ([`Porter::raw`]).
//! - [`Porter`] and its namespaces and handles ([`Sandbox`], [`Volume`], …).
//! - [`blocking`]: the same surface for synchronous callers.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod discovery;
pub mod types;

#[cfg(feature = "client")]
pub mod api;
#[cfg(feature = "client")]
pub mod blocking;
#[cfg(feature = "client")]
pub mod config;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod exec_options;
#[cfg(feature = "client")]
mod guard;
#[cfg(feature = "client")]
pub mod lease;
#[cfg(feature = "client")]
mod porter;
#[cfg(feature = "client")]
mod process;
#[cfg(feature = "client")]
pub mod runtime;
#[cfg(feature = "client")]
mod sandbox;
#[cfg(feature = "client")]
mod snapshot;
#[cfg(feature = "client")]
mod transport;
#[cfg(feature = "client")]
mod volume;
#[cfg(feature = "client")]
pub mod wait;

#[cfg(feature = "client")]
pub use error::{DecodedBody, Error, ErrorKind, Result};
#[cfg(feature = "client")]
pub use exec_options::{EXEC_DEADLINE_MARGIN, ExecOptions};
#[cfg(feature = "client")]
pub use guard::{DROP_TERMINATE_TIMEOUT, SandboxGuard};
#[cfg(feature = "client")]
pub use porter::{Porter, PorterBuilder};
#[cfg(feature = "client")]
pub use process::{DEFAULT_TERMINAL, OutputChunk, OutputStream, Process, ProcessSpec};
#[cfg(feature = "client")]
pub use sandbox::{LogsQuery, Sandbox, Sandboxes};
#[cfg(feature = "client")]
pub use snapshot::Snapshots;
#[cfg(feature = "client")]
pub use transport::{
    BinaryBody, BinaryContent, BinaryStream, ChunkStream, ContentRange, MAX_REDIRECTS,
    UPLOAD_CHUNK_BYTES, retry,
};
#[cfg(feature = "client")]
pub use volume::{
    DEFAULT_CHUNK_BYTES, ObjectVolume, Volume, VolumeFile, VolumeHandle, Volumes, join_path,
    normalize_path,
};
