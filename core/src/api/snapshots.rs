//! Snapshot endpoints.

use std::sync::Arc;

use crate::{
    Result,
    transport::{RequestSpec, Transport, segment},
    types::{Snapshot, SnapshotListResponse, SnapshotSpec},
};

/// The snapshot endpoints.
#[derive(Debug, Clone)]
pub struct SnapshotsApi {
    transport: Arc<Transport>,
}

impl SnapshotsApi {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        Self { transport }
    }

    /// `POST /v1/sandbox/{id}/snapshot`: capture a running sandbox (`id` is the sandbox's).
    pub async fn create_snapshot(&self, id: &str, body: &SnapshotSpec) -> Result<Snapshot> {
        let spec = RequestSpec::post(format!("/v1/sandbox/{}/snapshot", segment(id))).json(body)?;
        self.transport.execute(spec).await?.json().await
    }

    /// `GET /v1/snapshot`: snapshots, newest first, optionally of one sandbox.
    pub async fn list_snapshots(&self, sandbox_id: Option<&str>) -> Result<SnapshotListResponse> {
        let spec = RequestSpec::get("/v1/snapshot").query_opt("sandbox_id", sandbox_id);
        self.transport.execute(spec).await?.json().await
    }

    /// `GET /v1/snapshot/{id}`: one snapshot and its capture status.
    pub async fn get_snapshot(&self, id: &str) -> Result<Snapshot> {
        let spec = RequestSpec::get(format!("/v1/snapshot/{}", segment(id)));
        self.transport.execute(spec).await?.json().await
    }

    /// `DELETE /v1/snapshot/{id}`: delete the snapshot and what it captured.
    pub async fn delete_snapshot(&self, id: &str) -> Result<()> {
        let spec = RequestSpec::delete(format!("/v1/snapshot/{}", segment(id)));
        self.transport.execute(spec).await.map(drop)
    }
}
