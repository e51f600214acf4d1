//! Sandbox records and their forward-only lifecycle (spec/README.md §4, §5).
//!
//! Rows are never deleted, which is what keeps a sandbox name reserved forever. Phase changes
//! only move forward (`queued` → `creating` → `running` → one terminal phase), and the first
//! terminal transition wins: a late workload-exit event cannot overwrite a termination, nor the
//! other way round.

use std::sync::LazyLock;

use porter_sandbox::types::{
    SandboxSpec, StatusResponse, StatusResponsePhase, StatusResponseTerminationReason,
};
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::volumes::attach_in;
use super::{Store, StoreError, StoreResult, from_json, to_json};
use crate::time::{format_micros, now_micros};

/// The columns [`decode`] reads, in order.
pub(super) const COLUMNS: &str = "id, name, image, spec_json, phase, exit_code, created_at, \
     started_at, finished_at, termination_reason, host, internal_address, runtime_state_json, \
     snapshot_id, runs_image";

/// The statement of [`Store::get_sandbox`], formatted once (status reads are the hottest path).
static SELECT_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLUMNS} FROM sandboxes WHERE id = ?1"));

/// SQL rank of the stored phase: live phases 0..=2, anything else (terminal) 9, so a
/// `rank <= new rank` test both forbids going backwards and freezes terminal rows.
const RANK_SQL: &str =
    "CASE phase WHEN 'queued' THEN 0 WHEN 'creating' THEN 1 WHEN 'running' THEN 2 ELSE 9 END";

/// One sandbox as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxRow {
    /// Sandbox id (`sb-…`).
    pub id: String,
    /// Name; the id when none was given. Reserved forever.
    pub name: String,
    /// Image the sandbox runs (may differ from `spec.image`, e.g. when started from a snapshot).
    pub image: String,
    /// The create request as accepted; tags and volume mounts are read from it.
    pub spec: SandboxSpec,
    /// Current phase.
    pub phase: StatusResponsePhase,
    /// Exit code of the workload, once it completed.
    pub exit_code: Option<i64>,
    /// Creation time, Unix microseconds.
    pub created_at: i64,
    /// When the workload started, Unix microseconds.
    pub started_at: Option<i64>,
    /// When a terminal phase was reached, Unix microseconds.
    pub finished_at: Option<i64>,
    /// Why a terminal phase was reached.
    pub termination_reason: Option<StatusResponseTerminationReason>,
    /// Public hostname; `""` when none.
    pub host: String,
    /// Internal `host:port` of the exposed port.
    pub internal_address: Option<String>,
    /// Opaque JSON the runtime keeps to re-adopt or clean up the workload (paths, pids, offsets).
    pub runtime_state: Option<String>,
    /// Snapshot the sandbox was started from.
    pub snapshot_id: Option<String>,
    /// The image that runs instead of `image` (`host`, after an unreachable registry under
    /// `--offline-images host`); `None` when the sandbox runs what was asked.
    pub runs_image: Option<String>,
}

impl SandboxRow {
    /// A freshly created sandbox: phase `queued`, nothing started or finished yet.
    #[must_use]
    pub fn new_queued(id: String, name: String, spec: SandboxSpec, created_at: i64) -> Self {
        Self {
            id,
            name,
            image: spec.image.clone(),
            snapshot_id: spec.snapshot_id.clone(),
            spec,
            phase: StatusResponsePhase::Queued,
            exit_code: None,
            created_at,
            started_at: None,
            finished_at: None,
            termination_reason: None,
            host: String::new(),
            internal_address: None,
            runtime_state: None,
            runs_image: None,
        }
    }

    /// The wire record (`StatusResponse`); optional fields are present only when set, and
    /// `termination_reason` only on terminal sandboxes.
    #[must_use]
    pub fn to_status(&self) -> StatusResponse {
        StatusResponse {
            id: self.id.clone(),
            name: self.name.clone(),
            image: self.image.clone(),
            tags: self.spec.tags.clone(),
            phase: self.phase.clone(),
            exit_code: self.exit_code,
            created_at: format_micros(self.created_at),
            started_at: self.started_at.map(format_micros),
            finished_at: self.finished_at.map(format_micros),
            termination_reason: self
                .termination_reason
                .clone()
                .filter(|_| self.phase.is_terminal()),
            host: self.host.clone(),
            internal_address: self.internal_address.clone(),
            volume_mounts: self.spec.volume_mounts.clone(),
            exec_target: None,
            runs_image: self.runs_image.clone(),
        }
    }
}

/// Fields a phase change may set; `None` keeps what is stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhaseUpdate {
    /// When the workload started.
    pub started_at: Option<i64>,
    /// When the terminal phase was reached; defaults to now on a terminal transition.
    pub finished_at: Option<i64>,
    /// Exit code of the workload.
    pub exit_code: Option<i64>,
    /// Why the terminal phase was reached.
    pub termination_reason: Option<StatusResponseTerminationReason>,
}

/// Position of a phase in the lifecycle (all terminal phases share the last one); `Invalid` for
/// a phase this server does not know, which it must never store.
fn rank(phase: &StatusResponsePhase) -> StoreResult<i64> {
    match phase {
        StatusResponsePhase::Queued => Ok(0),
        StatusResponsePhase::Creating => Ok(1),
        StatusResponsePhase::Running => Ok(2),
        p if p.is_terminal() => Ok(3),
        other => Err(StoreError::Invalid(format!("unknown sandbox phase {other:?}"))),
    }
}

/// Decodes one row selected with [`COLUMNS`].
pub(super) fn decode(r: &Row<'_>) -> StoreResult<SandboxRow> {
    let id: String = r.get(0)?;
    let spec_json: String = r.get(3)?;
    let spec = from_json(&spec_json, "spec", &id)?;
    Ok(SandboxRow {
        name: r.get(1)?,
        image: r.get(2)?,
        spec,
        phase: StatusResponsePhase::from_wire(&r.get::<_, String>(4)?),
        exit_code: r.get(5)?,
        created_at: r.get(6)?,
        started_at: r.get(7)?,
        finished_at: r.get(8)?,
        termination_reason: r
            .get::<_, Option<String>>(9)?
            .map(|s| StatusResponseTerminationReason::from_wire(&s)),
        host: r.get(10)?,
        internal_address: r.get(11)?,
        runtime_state: r.get(12)?,
        snapshot_id: r.get(13)?,
        runs_image: r.get(14)?,
        id,
    })
}

/// Whether a sandbox with this id exists.
fn exists(tx: &Transaction<'_>, id: &str) -> StoreResult<bool> {
    let mut stmt = tx.prepare_cached("SELECT 1 FROM sandboxes WHERE id = ?1")?;
    Ok(stmt.exists([id])?)
}

/// Fails with `NameTaken` when another sandbox (any phase, ever) holds `name`.
fn check_name_free(tx: &Transaction<'_>, name: &str, own_id: &str) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached("SELECT 1 FROM sandboxes WHERE name = ?1 AND id != ?2")?;
    if stmt.exists([name, own_id])? {
        return Err(StoreError::NameTaken(name.to_owned()));
    }
    Ok(())
}

/// Drops the volume attachments of a sandbox that reached a terminal phase, in the same
/// transaction: a crash in between must not leave a volume undeletable forever.
fn detach(tx: &Transaction<'_>, id: &str) -> StoreResult<()> {
    tx.prepare_cached("DELETE FROM attachments WHERE sandbox_id = ?1")?.execute([id])?;
    Ok(())
}

/// Replaces the tag rows of a sandbox with the tags of its spec.
fn write_tags(tx: &Transaction<'_>, row: &SandboxRow) -> StoreResult<()> {
    tx.prepare_cached("DELETE FROM sandbox_tags WHERE sandbox_id = ?1")?.execute([&row.id])?;
    let mut insert =
        tx.prepare_cached("INSERT INTO sandbox_tags (sandbox_id, key, value) VALUES (?1, ?2, ?3)")?;
    for (key, value) in row.spec.tags.iter().flatten() {
        insert.execute([&row.id, key, value])?;
    }
    Ok(())
}

impl Store {
    /// Records a new sandbox; `NameTaken` when any sandbox ever had this name.
    pub fn insert_sandbox(&self, row: &SandboxRow) -> StoreResult<()> {
        self.insert_sandbox_with_volumes(row, &[])
    }

    /// Records a new sandbox and attaches the volumes it mounts, all or nothing: `NameTaken` as
    /// for [`Store::insert_sandbox`], `NotFound` when one of the volumes does not exist (or was
    /// deleted concurrently) — then no sandbox is recorded and its name stays free.
    pub fn insert_sandbox_with_volumes(
        &self,
        row: &SandboxRow,
        volume_ids: &[&str],
    ) -> StoreResult<()> {
        rank(&row.phase)?;
        let spec_json = to_json(&row.spec)?;
        self.write_sandbox(Some(&row.id), |tx| {
            check_name_free(tx, &row.name, &row.id)?;
            if exists(tx, &row.id)? {
                return Err(StoreError::Invalid(format!("sandbox id {} already exists", row.id)));
            }
            tx.prepare_cached(&format!(
                "INSERT INTO sandboxes ({COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ))?
            .execute(params![
                row.id,
                row.name,
                row.image,
                spec_json,
                row.phase.as_str(),
                row.exit_code,
                row.created_at,
                row.started_at,
                row.finished_at,
                row.termination_reason.as_ref().map(StatusResponseTerminationReason::as_str),
                row.host,
                row.internal_address,
                row.runtime_state,
                row.snapshot_id,
                row.runs_image,
            ])?;
            write_tags(tx, row)?;
            attach_in(tx, &row.id, volume_ids)
        })
    }

    /// The sandbox with this id, in any phase.
    pub fn get_sandbox(&self, id: &str) -> StoreResult<Option<SandboxRow>> {
        self.read_one(|conn| {
            let mut stmt = conn.prepare_cached(&SELECT_BY_ID)?;
            stmt.query_row([id], |r| Ok(decode(r))).optional()?.transpose()
        })
    }

    /// The id of the sandbox that has (or had) this name.
    pub fn sandbox_id_by_name(&self, name: &str) -> StoreResult<Option<String>> {
        self.read_one(|tx| {
            let mut stmt = tx.prepare_cached("SELECT id FROM sandboxes WHERE name = ?1")?;
            Ok(stmt.query_row([name], |r| r.get(0)).optional()?)
        })
    }

    /// Overwrites every column of the sandbox `row.id` (and its tags). Returns `Ok(false)`,
    /// writing nothing, when that would move the phase backwards or change a terminal phase —
    /// the row changed since it was read; re-read it. A terminal row loses its volume
    /// attachments. `NotFound` when there is no such sandbox.
    pub fn update_sandbox(&self, row: &SandboxRow) -> StoreResult<bool> {
        let new_rank = rank(&row.phase)?;
        let spec_json = to_json(&row.spec)?;
        self.write_sandbox(Some(&row.id), |tx| {
            check_name_free(tx, &row.name, &row.id)?;
            let changed = tx
                .prepare_cached(&format!(
                    "UPDATE sandboxes SET name = ?2, image = ?3, spec_json = ?4, phase = ?5,
                        exit_code = ?6, created_at = ?7, started_at = ?8, finished_at = ?9,
                        termination_reason = ?10, host = ?11, internal_address = ?12,
                        runtime_state_json = ?13, snapshot_id = ?14, runs_image = ?16
                     WHERE id = ?1 AND (phase = ?5 OR {RANK_SQL} <= ?15)"
                ))?
                .execute(params![
                    row.id,
                    row.name,
                    row.image,
                    spec_json,
                    row.phase.as_str(),
                    row.exit_code,
                    row.created_at,
                    row.started_at,
                    row.finished_at,
                    row.termination_reason.as_ref().map(StatusResponseTerminationReason::as_str),
                    row.host,
                    row.internal_address,
                    row.runtime_state,
                    row.snapshot_id,
                    new_rank,
                    row.runs_image,
                ])?;
            if changed == 0 {
                return if exists(tx, &row.id)? { Ok(false) } else { Err(StoreError::NotFound) };
            }
            write_tags(tx, row)?;
            if row.phase.is_terminal() {
                detach(tx, &row.id)?;
            }
            Ok(true)
        })
    }

    /// Moves the sandbox to `phase`, setting the given fields. Returns `Ok(false)`, writing
    /// nothing, when the sandbox is already terminal (the first terminal transition wins) or
    /// `phase` lies behind the stored one. Staying in the same live phase is allowed (e.g. to
    /// set `started_at`). A terminal transition also detaches the sandbox's volumes.
    /// `NotFound` when there is no such sandbox.
    pub fn set_phase(
        &self,
        id: &str,
        phase: &StatusResponsePhase,
        update: &PhaseUpdate,
    ) -> StoreResult<bool> {
        let new_rank = rank(phase)?;
        // A terminal row always gets a finish time, even if the caller did not give one.
        let finished_default = phase.is_terminal().then(now_micros);
        self.write_sandbox(Some(id), |tx| {
            let changed = tx
                .prepare_cached(&format!(
                    "UPDATE sandboxes SET phase = ?2,
                        started_at = COALESCE(?3, started_at),
                        finished_at = COALESCE(?4, finished_at, ?5),
                        exit_code = COALESCE(?6, exit_code),
                        termination_reason = COALESCE(?7, termination_reason)
                     WHERE id = ?1 AND {RANK_SQL} <= ?8"
                ))?
                .execute(params![
                    id,
                    phase.as_str(),
                    update.started_at,
                    update.finished_at,
                    finished_default,
                    update.exit_code,
                    update.termination_reason.as_ref().map(StatusResponseTerminationReason::as_str),
                    new_rank,
                ])?;
            if changed == 0 {
                return if exists(tx, id)? { Ok(false) } else { Err(StoreError::NotFound) };
            }
            if phase.is_terminal() {
                detach(tx, id)?;
            }
            Ok(true)
        })
    }

    /// Replaces (or clears, with `None`) the runtime's opaque state of the sandbox.
    pub fn set_runtime_state(&self, id: &str, state: Option<&str>) -> StoreResult<()> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached("UPDATE sandboxes SET runtime_state_json = ?2 WHERE id = ?1")?
                .execute(params![id, state])?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    /// Records where the sandbox's exposed port is reachable: the public `host` (`""` for
    /// none) and the `internal_address` (`host:port`).
    pub fn set_endpoint(&self, id: &str, host: &str, internal_address: &str) -> StoreResult<()> {
        self.write_sandbox(Some(id), |tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE sandboxes SET host = ?2, internal_address = ?3 WHERE id = ?1",
                )?
                .execute(params![id, host, internal_address])?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    /// Records that the sandbox runs `image` instead of the one it was created with.
    pub fn set_runs_image(&self, id: &str, image: &str) -> StoreResult<()> {
        self.write_sandbox(Some(id), |tx| {
            let changed = tx
                .prepare_cached("UPDATE sandboxes SET runs_image = ?2 WHERE id = ?1")?
                .execute(params![id, image])?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    /// Every sandbox not yet in a terminal phase, oldest first (for re-adoption after a restart
    /// and for the TTL reaper).
    pub fn live_sandboxes(&self) -> StoreResult<Vec<SandboxRow>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM sandboxes
                 WHERE phase NOT IN ('succeeded', 'failed', 'terminated')
                 ORDER BY created_at, id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(decode(r)?);
            }
            Ok(out)
        })
    }

    /// How many sandboxes are `queued`, `creating` or `running` (for capacity limits).
    pub fn count_active(&self) -> StoreResult<i64> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT COUNT(*) FROM sandboxes WHERE phase IN ('queued', 'creating', 'running')",
            )?;
            Ok(stmt.query_row([], |r| r.get(0))?)
        })
    }
}
