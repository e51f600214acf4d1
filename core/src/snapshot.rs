//! Snapshots: the [`Snapshots`] namespace.

use crate::{
    Result,
    api::SnapshotsApi,
    types::{Snapshot, SnapshotListResponse, SnapshotSpec},
};

/// The snapshot namespace of a [`Porter`](crate::Porter).
#[derive(Debug, Clone)]
pub struct Snapshots {
    api: SnapshotsApi,
}

impl Snapshots {
    pub(crate) fn new(api: SnapshotsApi) -> Self {
        Self { api }
    }

    /// Captures the running sandbox `sandbox_id`; it keeps running. The capture completes
    /// asynchronously: poll [`Snapshots::get`] until `status` is `ready` or `failed`.
    pub async fn create(&self, sandbox_id: &str, spec: SnapshotSpec) -> Result<Snapshot> {
        self.api.create_snapshot(sandbox_id, &spec).await
    }

    /// Snapshots, newest first, optionally only those of one sandbox.
    pub async fn list(&self, sandbox_id: Option<&str>) -> Result<SnapshotListResponse> {
        self.api.list_snapshots(sandbox_id).await
    }

    /// One snapshot and its capture status.
    pub async fn get(&self, id: &str) -> Result<Snapshot> {
        self.api.get_snapshot(id).await
    }

    /// Deletes a snapshot and what it captured.
    pub async fn delete(&self, id: &str) -> Result<()> {
        self.api.delete_snapshot(id).await
    }

    /// The low-level snapshot endpoints.
    #[must_use]
    pub fn raw(&self) -> &SnapshotsApi {
        &self.api
    }
}
