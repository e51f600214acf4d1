//! Snapshot records (spec/README.md §7): `pending` → `ready` | `failed`. A failed capture keeps
//! its record so the reason stays visible; a deleted snapshot's row is removed.

use porter_sandbox::types::{Snapshot, SnapshotMode, SnapshotStatus};
use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError, StoreResult};

const COLUMNS: &str = "id, sandbox_id, mode, status, image, parent_id, created_at, ready_at, \
     failure_reason, size_bytes";

/// One snapshot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    /// Snapshot id (`snap-…`).
    pub id: String,
    /// The sandbox it was captured from.
    pub sandbox_id: String,
    /// What was captured.
    pub mode: SnapshotMode,
    /// Capture state.
    pub status: SnapshotStatus,
    /// The base image the captured layer sits on (the source sandbox's image).
    pub image: String,
    /// The snapshot the source sandbox was itself started from: its layers lie below this one.
    pub parent_id: Option<String>,
    /// Capture start, Unix microseconds.
    pub created_at: i64,
    /// Capture end, Unix microseconds.
    pub ready_at: Option<i64>,
    /// Why the capture failed.
    pub failure_reason: Option<String>,
    /// Bytes captured.
    pub size_bytes: Option<i64>,
}

impl SnapshotRow {
    /// The wire record.
    #[must_use]
    pub fn to_wire(&self) -> Snapshot {
        Snapshot {
            id: self.id.clone(),
            sandbox_id: self.sandbox_id.clone(),
            mode: self.mode.clone(),
            status: self.status.clone(),
            t_created_unix_ms: Some(self.created_at / 1000),
            t_ready_unix_ms: self.ready_at.map(|t| t / 1000),
            failure_reason: self.failure_reason.clone(),
            size_bytes: self.size_bytes,
        }
    }
}

fn decode(r: &Row<'_>) -> rusqlite::Result<SnapshotRow> {
    Ok(SnapshotRow {
        id: r.get(0)?,
        sandbox_id: r.get(1)?,
        mode: SnapshotMode::from_wire(&r.get::<_, String>(2)?),
        status: SnapshotStatus::from_wire(&r.get::<_, String>(3)?),
        image: r.get(4)?,
        parent_id: r.get(5)?,
        created_at: r.get(6)?,
        ready_at: r.get(7)?,
        failure_reason: r.get(8)?,
        size_bytes: r.get(9)?,
    })
}

impl Store {
    /// Records a new (pending) snapshot. `NotFound` when its sandbox does not exist.
    pub fn insert_snapshot(&self, row: &SnapshotRow) -> StoreResult<()> {
        self.write(|tx| {
            if !tx
                .prepare_cached("SELECT 1 FROM sandboxes WHERE id = ?1")?
                .exists([&row.sandbox_id])?
            {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                &format!("INSERT INTO snapshots ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    row.id,
                    row.sandbox_id,
                    row.mode.as_str(),
                    row.status.as_str(),
                    row.image,
                    row.parent_id,
                    row.created_at,
                    row.ready_at,
                    row.failure_reason,
                    row.size_bytes
                ],
            )?;
            Ok(())
        })
    }

    /// Settles a pending snapshot: `ready` with its size, or `failed` with the reason. A
    /// snapshot no longer pending (or deleted meanwhile) is left alone; returns whether it
    /// changed.
    pub fn finish_snapshot(
        &self,
        id: &str,
        at: i64,
        outcome: Result<i64, &str>,
    ) -> StoreResult<bool> {
        self.write(|tx| {
            let changed = match outcome {
                Ok(size) => tx.execute(
                    "UPDATE snapshots SET status = 'ready', ready_at = ?2, size_bytes = ?3
                     WHERE id = ?1 AND status = 'pending'",
                    params![id, at, size],
                )?,
                Err(reason) => tx.execute(
                    "UPDATE snapshots SET status = 'failed', ready_at = ?2, failure_reason = ?3
                     WHERE id = ?1 AND status = 'pending'",
                    params![id, at, reason],
                )?,
            };
            Ok(changed == 1)
        })
    }

    /// One snapshot.
    pub fn get_snapshot(&self, id: &str) -> StoreResult<Option<SnapshotRow>> {
        self.read_one(|tx| {
            let mut stmt =
                tx.prepare_cached(&format!("SELECT {COLUMNS} FROM snapshots WHERE id = ?1"))?;
            Ok(stmt.query_row([id], decode).optional()?)
        })
    }

    /// Snapshots, newest first; only those of `sandbox_id` when given.
    pub fn list_snapshots(&self, sandbox_id: Option<&str>) -> StoreResult<Vec<SnapshotRow>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM snapshots WHERE ?1 IS NULL OR sandbox_id = ?1
                 ORDER BY created_at DESC, id DESC"
            ))?;
            let rows = stmt.query_map([sandbox_id], decode)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Snapshots still `pending` (a capture a previous process did not finish).
    pub fn pending_snapshots(&self) -> StoreResult<Vec<SnapshotRow>> {
        Ok(self
            .list_snapshots(None)?
            .into_iter()
            .filter(|s| s.status == SnapshotStatus::Pending)
            .collect())
    }

    /// What keeps a snapshot from being deleted: live sandboxes started from it, and snapshots
    /// captured on top of it (their layers need its layer below them).
    pub fn snapshot_users(&self, id: &str) -> StoreResult<(Vec<String>, Vec<String>)> {
        self.read(|tx| {
            let mut live = tx.prepare_cached(
                "SELECT id FROM sandboxes WHERE snapshot_id = ?1
                 AND phase IN ('queued', 'creating', 'running') ORDER BY created_at",
            )?;
            let sandboxes = live.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
            let mut children = tx.prepare_cached(
                "SELECT id FROM snapshots WHERE parent_id = ?1 AND status != 'failed'
                 ORDER BY created_at",
            )?;
            let snapshots = children.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok((sandboxes, snapshots))
        })
    }

    /// Removes a snapshot's record; false when there was none.
    pub fn delete_snapshot(&self, id: &str) -> StoreResult<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM snapshots WHERE id = ?1", [id])? == 1))
    }

    /// The base images of every snapshot that is kept (image garbage collection keeps them).
    pub fn snapshot_images(&self) -> StoreResult<Vec<String>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT DISTINCT image FROM snapshots WHERE status != 'failed' ORDER BY image",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}
