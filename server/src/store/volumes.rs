//! Volume records and their attachments to sandboxes (spec/README.md §8).
//!
//! Unlike sandboxes, a deleted volume's row is removed, which frees its name for reuse. A volume
//! cannot be deleted while attached; the check and the delete happen in one transaction.

use porter_sandbox::types::{
    StatusResponsePhase, VolumeObjectSpec, VolumePhase, VolumeRecord, VolumeType,
};
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Store, StoreError, StoreResult, from_json, to_json};
use crate::time::format_micros;

/// The columns [`decode`] reads, in order.
const COLUMNS: &str = "id, name, type, object_json, path, phase, created_at";

/// One volume as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeRow {
    /// Volume id (`vol-…`).
    pub id: String,
    /// Name; the id when none was given. Unique among existing volumes.
    pub name: String,
    /// `disk` or `object`.
    pub r#type: VolumeType,
    /// The bucket an object volume exposes.
    pub object: Option<VolumeObjectSpec>,
    /// Data subdirectory of a disk volume under the volumes root; `""` for object volumes.
    pub path: String,
    /// Lifecycle phase.
    pub phase: VolumePhase,
    /// Creation time, Unix microseconds.
    pub created_at: i64,
}

impl VolumeRow {
    /// The wire record, with the ids of the sandboxes it is attached to.
    #[must_use]
    pub fn to_record(&self, attached_to: Vec<String>) -> VolumeRecord {
        VolumeRecord {
            id: self.id.clone(),
            name: self.name.clone(),
            r#type: self.r#type.clone(),
            object: self.object.clone(),
            path: self.path.clone(),
            phase: self.phase.clone(),
            attached_to,
            created_at: format_micros(self.created_at),
        }
    }
}

/// What `delete_volume` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The volume's row was removed; its name is free again.
    Deleted,
    /// There was no such volume.
    NotFound,
}

/// Decodes one row selected with [`COLUMNS`].
fn decode(r: &Row<'_>) -> StoreResult<VolumeRow> {
    let id: String = r.get(0)?;
    let object = match r.get::<_, Option<String>>(3)? {
        Some(json) => Some(from_json(&json, "object spec", &id)?),
        None => None,
    };
    Ok(VolumeRow {
        name: r.get(1)?,
        r#type: VolumeType::from_wire(&r.get::<_, String>(2)?),
        object,
        path: r.get(4)?,
        phase: VolumePhase::from_wire(&r.get::<_, String>(5)?),
        created_at: r.get(6)?,
        id,
    })
}

/// Ids of the sandboxes the volume is attached to, sorted.
fn attached(tx: &Transaction<'_>, volume_id: &str) -> StoreResult<Vec<String>> {
    let mut stmt = tx.prepare_cached(
        "SELECT sandbox_id FROM attachments WHERE volume_id = ?1 ORDER BY sandbox_id",
    )?;
    let ids = stmt.query_map([volume_id], |r| r.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// Attaches the volumes to an existing sandbox inside the caller's transaction; `NotFound` when a
/// volume does not exist (the caller's transaction then rolls back, attaching none).
pub(super) fn attach_in(
    tx: &Transaction<'_>,
    sandbox_id: &str,
    volume_ids: &[&str],
) -> StoreResult<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO attachments (volume_id, sandbox_id) VALUES (?1, ?2)",
    )?;
    for volume_id in volume_ids {
        if !exists(tx, "volumes", volume_id)? {
            return Err(StoreError::NotFound);
        }
        insert.execute(params![volume_id, sandbox_id])?;
    }
    Ok(())
}

/// Whether a row with this id exists in `table` (a constant name, never user input).
fn exists(tx: &Transaction<'_>, table: &str, id: &str) -> StoreResult<bool> {
    Ok(tx.prepare_cached(&format!("SELECT 1 FROM {table} WHERE id = ?1"))?.exists([id])?)
}

impl Store {
    /// Records a new volume; `NameTaken` when an existing volume has this name.
    pub fn insert_volume(&self, row: &VolumeRow) -> StoreResult<()> {
        let object_json = row.object.as_ref().map(to_json).transpose()?;
        self.write(|tx| {
            if tx.prepare_cached("SELECT 1 FROM volumes WHERE name = ?1")?.exists([&row.name])? {
                return Err(StoreError::NameTaken(row.name.clone()));
            }
            if exists(tx, "volumes", &row.id)? {
                return Err(StoreError::Invalid(format!("volume id {} already exists", row.id)));
            }
            tx.prepare_cached(&format!(
                "INSERT INTO volumes ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                row.id,
                row.name,
                row.r#type.as_str(),
                object_json,
                row.path,
                row.phase.as_str(),
                row.created_at,
            ])?;
            Ok(())
        })
    }

    /// The volume with this id.
    pub fn get_volume(&self, id: &str) -> StoreResult<Option<VolumeRow>> {
        self.read_one(|tx| {
            let mut stmt =
                tx.prepare_cached(&format!("SELECT {COLUMNS} FROM volumes WHERE id = ?1"))?;
            stmt.query_row([id], |r| Ok(decode(r))).optional()?.transpose()
        })
    }

    /// The id of the existing volume with this name.
    pub fn volume_id_by_name(&self, name: &str) -> StoreResult<Option<String>> {
        self.read_one(|tx| {
            let mut stmt = tx.prepare_cached("SELECT id FROM volumes WHERE name = ?1")?;
            Ok(stmt.query_row([name], |r| r.get(0)).optional()?)
        })
    }

    /// Every volume, oldest first.
    pub fn list_volumes(&self) -> StoreResult<Vec<VolumeRow>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM volumes ORDER BY created_at, id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(decode(r)?);
            }
            Ok(out)
        })
    }

    /// The wire record of the volume, attachments included, read in one snapshot.
    pub fn volume_record(&self, id: &str) -> StoreResult<Option<VolumeRecord>> {
        self.read(|tx| {
            let mut stmt =
                tx.prepare_cached(&format!("SELECT {COLUMNS} FROM volumes WHERE id = ?1"))?;
            let Some(row) = stmt.query_row([id], |r| Ok(decode(r))).optional()?.transpose()? else {
                return Ok(None);
            };
            Ok(Some(row.to_record(attached(tx, id)?)))
        })
    }

    /// The wire records of every volume, oldest first, read in one snapshot.
    pub fn volume_records(&self) -> StoreResult<Vec<VolumeRecord>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM volumes ORDER BY created_at, id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let row = decode(r)?;
                out.push(row.to_record(attached(tx, &row.id)?));
            }
            Ok(out)
        })
    }

    /// Sets the phase of a volume (`pending` → `ready` | `failed`).
    pub fn set_volume_phase(&self, id: &str, phase: &VolumePhase) -> StoreResult<()> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached("UPDATE volumes SET phase = ?2 WHERE id = ?1")?
                .execute([id, phase.as_str()])?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    /// Removes the volume unless it is attached (`Attached` with the sandbox ids, nothing
    /// removed). The check and the delete are one transaction, so no attach can slip between.
    pub fn delete_volume(&self, id: &str) -> StoreResult<DeleteOutcome> {
        self.write(|tx| {
            let sandboxes = attached(tx, id)?;
            if !sandboxes.is_empty() {
                return Err(StoreError::Attached(sandboxes));
            }
            let removed = tx.prepare_cached("DELETE FROM volumes WHERE id = ?1")?.execute([id])?;
            Ok(if removed == 0 { DeleteOutcome::NotFound } else { DeleteOutcome::Deleted })
        })
    }

    /// Records that the volume is attached to the sandbox (idempotent). `NotFound` when either
    /// does not exist.
    pub fn attach(&self, volume_id: &str, sandbox_id: &str) -> StoreResult<()> {
        self.attach_all(sandbox_id, &[volume_id])
    }

    /// Attaches several volumes to one sandbox, all or none. `NotFound` when the sandbox or any
    /// of the volumes does not exist; `Invalid` when the sandbox is in a terminal phase.
    pub fn attach_all(&self, sandbox_id: &str, volume_ids: &[&str]) -> StoreResult<()> {
        self.write(|tx| {
            let phase: Option<String> = tx
                .prepare_cached("SELECT phase FROM sandboxes WHERE id = ?1")?
                .query_row([sandbox_id], |r| r.get(0))
                .optional()?;
            let Some(phase) = phase else {
                return Err(StoreError::NotFound);
            };
            // A finished sandbox holds no volumes; attaching would block their deletion forever.
            if StatusResponsePhase::from_wire(&phase).is_terminal() {
                return Err(StoreError::Invalid(format!("sandbox {sandbox_id} has finished")));
            }
            attach_in(tx, sandbox_id, volume_ids)
        })
    }

    /// Removes every attachment of the sandbox. Terminal transitions (`set_phase`,
    /// `update_sandbox`) already do this; it is for a sandbox whose launch is abandoned.
    pub fn detach_sandbox(&self, sandbox_id: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM attachments WHERE sandbox_id = ?1")?
                .execute([sandbox_id])?;
            Ok(())
        })
    }

    /// Ids of the sandboxes the volume is attached to, sorted.
    pub fn attached_to(&self, volume_id: &str) -> StoreResult<Vec<String>> {
        self.read(|tx| attached(tx, volume_id))
    }
}
