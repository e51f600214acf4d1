//! The low-level client ("raw"): one method per endpoint of the API, named as in the official
//! SDKs' low-level resources. Bodies and results are the wire types of [`crate::types`].

mod health;
mod processes;
mod sandboxes;
mod snapshots;
mod volume_files;
mod volumes;

use std::sync::Arc;

pub use health::{HealthzApi, ReadyzApi};
pub use processes::{MAX_STATUS_WAIT_SECONDS, MAX_STDIN_CHUNK};
pub use sandboxes::{
    IDEMPOTENCY_KEY_HEADER, ListSandboxesParams, SandboxFilter, SandboxesApi, new_idempotency_key,
};
pub use snapshots::SnapshotsApi;
pub use volumes::VolumesApi;

use crate::transport::Transport;

/// The low-level client: every endpoint, grouped by resource. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RawClient {
    transport: Arc<Transport>,
}

impl RawClient {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        Self { transport }
    }

    /// Sandbox endpoints: list, counts, create, lookup, get, delete, logs, exec, metrics.
    #[must_use]
    pub fn sandboxes(&self) -> SandboxesApi {
        SandboxesApi::new(self.transport.clone())
    }

    /// Snapshot endpoints: create, list, get, delete.
    #[must_use]
    pub fn snapshots(&self) -> SnapshotsApi {
        SnapshotsApi::new(self.transport.clone())
    }

    /// Volume and volume-file endpoints.
    #[must_use]
    pub fn volumes(&self) -> VolumesApi {
        VolumesApi::new(self.transport.clone())
    }

    /// `GET /healthz`.
    #[must_use]
    pub fn healthz(&self) -> HealthzApi {
        HealthzApi::new(self.transport.clone())
    }

    /// `GET /readyz`.
    #[must_use]
    pub fn readyz(&self) -> ReadyzApi {
        ReadyzApi::new(self.transport.clone())
    }

    /// The base URL every path is appended to.
    #[must_use]
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// Releases the connection pool; later calls fail with a clear error.
    pub fn close(&self) {
        self.transport.close();
    }
}
