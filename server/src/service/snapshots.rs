//! Snapshots (spec/README.md §7): capture a running sandbox's filesystem, list, get, delete, and
//! the layers a sandbox started from a snapshot stacks on its base image.
//!
//! A snapshot is the sandbox's writable layer, copied to `<data>/snapshots/<id>/layer` while
//! the sandbox keeps running. A sandbox started from it runs the base image with that layer
//! (and, for a snapshot of a sandbox that was itself started from a snapshot, the parent's
//! layers) below its own fresh writable layer.
//!
//! Deletion is refused (409) while a live sandbox runs from the snapshot or another snapshot
//! was captured on top of it, because their filesystems are made of its layer.

use std::{path::PathBuf, sync::Arc};

use porter_sandbox::types::{
    Snapshot, SnapshotListResponse, SnapshotMode, SnapshotSpec, SnapshotStatus, StatusResponsePhase,
};

use super::error::{ServiceError, ServiceResult};
use super::{Service, names, store_error};
use crate::{runtime::RuntimeError, store::SnapshotRow, time::now_micros};

/// Parents followed at most when assembling a snapshot's layers (overlayfs allows ~500 lower
/// layers; a chain this long is a loop or a misuse).
const MAX_CHAIN: usize = 100;

impl Service {
    fn snapshots_dir(&self) -> PathBuf {
        self.options.data_dir.join("snapshots")
    }

    /// The captured layer of a snapshot.
    pub(crate) fn snapshot_layer(&self, id: &str) -> PathBuf {
        self.snapshots_dir().join(id).join("layer")
    }

    /// `POST /v1/sandbox/{id}/snapshot`: records a pending snapshot and captures in the
    /// background.
    pub async fn create_snapshot(
        self: &Arc<Self>,
        sandbox_id: &str,
        spec: SnapshotSpec,
    ) -> ServiceResult<Snapshot> {
        let row = self.sandbox_row(sandbox_id)?;
        if let Some(why) = self.runtime.refuse_snapshots() {
            return Err(ServiceError::invalid(why));
        }
        let mode = spec.mode.unwrap_or(SnapshotMode::Filesystem);
        match &mode {
            SnapshotMode::Filesystem => {}
            SnapshotMode::Full => {
                return Err(ServiceError::invalid(
                    "snapshot mode \"full\" (memory and processes) is not supported by this local \
                     server: use mode \"filesystem\" (the default), which captures every file",
                ));
            }
            other => {
                return Err(ServiceError::invalid(format!(
                    "unknown snapshot mode {:?}: use \"filesystem\"",
                    other.as_str()
                )));
            }
        }
        if row.phase != StatusResponsePhase::Running {
            return Err(ServiceError::conflict(format!(
                "sandbox {sandbox_id} {}: only a running sandbox can be snapshotted{}",
                row.phase.as_state(),
                if row.phase.is_terminal() { "" } else { "; wait until its phase is running" }
            )));
        }
        let snapshot = SnapshotRow {
            id: names::new_id("snap"),
            sandbox_id: sandbox_id.to_owned(),
            mode,
            status: SnapshotStatus::Pending,
            image: row.image.clone(),
            parent_id: row.snapshot_id,
            created_at: now_micros(),
            ready_at: None,
            failure_reason: None,
            size_bytes: None,
        };
        self.store.insert_snapshot(&snapshot).map_err(store_error)?;
        let service = self.clone();
        let (id, sandbox, image) =
            (snapshot.id.clone(), sandbox_id.to_owned(), snapshot.image.clone());
        tokio::spawn(async move { service.capture(&id, &sandbox, &image).await });
        Ok(snapshot.to_wire())
    }

    async fn capture(&self, id: &str, sandbox_id: &str, image: &str) {
        let started = std::time::Instant::now();
        let dest = self.snapshot_layer(id);
        // The snapshot holds its base image (a prune keeps it); it is cached, as the source
        // sandbox runs on it.
        let outcome = match self.images.resolve_for(image, Some(id), &|_| {}).await {
            Ok(_) => self.runtime.snapshot(sandbox_id, dest.clone()).await,
            Err(err) => {
                Err(RuntimeError::other(format!("the base image {image} is not available: {err}")))
            }
        };
        // The recorded reason reaches clients: the data directory's place stays in the log.
        let data_dir = self.options.data_dir.to_string_lossy();
        let redacted =
            outcome.as_ref().err().map(|r| r.message().replace(data_dir.as_ref(), "<data dir>"));
        let result = match &outcome {
            Ok(size) => Ok(i64::try_from(*size).unwrap_or(i64::MAX)),
            Err(_) => Err(redacted.as_deref().unwrap_or_default()),
        };
        let failed = result.is_err();
        match self.store.finish_snapshot(id, now_micros(), result) {
            // A failed capture keeps its record, not its (partial) files.
            Ok(true) if failed => remove_dir(&self.snapshots_dir().join(id)),
            Ok(true) => {}
            // Deleted meanwhile (or settled by recovery): its files must not linger.
            Ok(false) => remove_dir(&self.snapshots_dir().join(id)),
            Err(err) => tracing::error!("recording snapshot {id}: {err}"),
        }
        match outcome {
            Ok(size) => tracing::info!(
                "snapshot {id} of {sandbox_id}: {size} bytes in {} ms",
                started.elapsed().as_millis()
            ),
            Err(reason) => tracing::warn!("snapshot {id} of {sandbox_id} failed: {reason}"),
        }
    }

    /// `GET /v1/snapshot`: newest first.
    pub fn list_snapshots(&self, sandbox_id: Option<&str>) -> ServiceResult<SnapshotListResponse> {
        let rows = self.store.list_snapshots(sandbox_id).map_err(store_error)?;
        Ok(SnapshotListResponse { snapshots: rows.iter().map(SnapshotRow::to_wire).collect() })
    }

    fn snapshot_row(&self, id: &str) -> ServiceResult<SnapshotRow> {
        self.store
            .get_snapshot(id)
            .map_err(store_error)?
            .ok_or_else(|| ServiceError::not_found(format!("snapshot {id} does not exist")))
    }

    /// `GET /v1/snapshot/{id}`.
    pub fn get_snapshot(&self, id: &str) -> ServiceResult<Snapshot> {
        Ok(self.snapshot_row(id)?.to_wire())
    }

    /// `DELETE /v1/snapshot/{id}`: the record and its captured files.
    pub fn delete_snapshot(&self, id: &str) -> ServiceResult<()> {
        let row = self.snapshot_row(id)?;
        if row.status == SnapshotStatus::Pending {
            return Err(ServiceError::conflict(format!(
                "snapshot {id} is still being captured: delete it once its status is ready or \
                 failed"
            )));
        }
        let (sandboxes, snapshots) = self.store.snapshot_users(id).map_err(store_error)?;
        if !sandboxes.is_empty() {
            return Err(ServiceError::conflict(format!(
                "snapshot {id} is in use by running sandboxes ({}): terminate them first",
                sandboxes.join(", ")
            )));
        }
        if !snapshots.is_empty() {
            return Err(ServiceError::conflict(format!(
                "snapshot {id} is the base of snapshots {}, which need its files: delete those \
                 first",
                snapshots.join(", ")
            )));
        }
        self.store.delete_snapshot(id).map_err(store_error)?;
        remove_dir(&self.snapshots_dir().join(id));
        Ok(())
    }

    /// Checks `snapshot_id` of a create request: it must exist and be ready. Returns it.
    pub(crate) fn snapshot_for_launch(&self, id: &str) -> ServiceResult<SnapshotRow> {
        let row = self.store.get_snapshot(id).map_err(store_error)?.ok_or_else(|| {
            ServiceError::invalid(format!(
                "snapshot {id:?} does not exist: pass the id of a snapshot from GET /v1/snapshot"
            ))
        })?;
        match row.status {
            SnapshotStatus::Ready => Ok(row),
            SnapshotStatus::Pending => Err(ServiceError::conflict(format!(
                "snapshot {id} is still being captured: start from it once its status is ready"
            ))),
            _ => Err(ServiceError::invalid(format!(
                "snapshot {id} cannot be used: its capture failed ({})",
                row.failure_reason.as_deref().unwrap_or("no reason recorded")
            ))),
        }
    }

    /// The read-only layers of a sandbox started from `snapshot_id`, topmost first.
    pub(crate) fn snapshot_layers(&self, snapshot_id: &str) -> ServiceResult<Vec<PathBuf>> {
        let mut layers = Vec::new();
        let mut next = Some(snapshot_id.to_owned());
        while let Some(id) = next {
            if layers.len() >= MAX_CHAIN {
                return Err(ServiceError::invalid(format!(
                    "snapshot {snapshot_id} has more than {MAX_CHAIN} layers"
                )));
            }
            let row = self
                .store
                .get_snapshot(&id)
                .map_err(|e| ServiceError::internal(e.to_string()))?
                .ok_or_else(|| ServiceError::not_found(format!("snapshot {id} was deleted")))?;
            layers.push(self.snapshot_layer(&id));
            next = row.parent_id;
        }
        Ok(layers)
    }

    /// After a restart: captures the previous process did not finish are failed (their
    /// sandboxes are thawed when re-adopted), and snapshot directories without a record (a
    /// deletion cut short) are removed.
    pub(super) fn recover_snapshots(&self) {
        match self.store.pending_snapshots() {
            Ok(pending) => {
                for row in pending {
                    let reason = "the server stopped during the capture: take the snapshot again";
                    if let Err(err) = self.store.finish_snapshot(&row.id, now_micros(), Err(reason))
                    {
                        tracing::warn!("settling snapshot {}: {err}", row.id);
                    }
                    remove_dir(&self.snapshots_dir().join(&row.id));
                }
            }
            Err(err) => tracing::error!("recovery of snapshots: {err}"),
        }
        let Ok(entries) = std::fs::read_dir(self.snapshots_dir()) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if matches!(self.store.get_snapshot(&name), Ok(None)) {
                remove_dir(&entry.path());
            }
        }
    }
}

fn remove_dir(dir: &std::path::Path) {
    if let Err(err) = std::fs::remove_dir_all(dir) {
        if err.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("cannot remove {}: {err}", dir.display());
        }
    }
}
