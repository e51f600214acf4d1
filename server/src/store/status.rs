//! The status read (`GET /v1/sandbox/{id}`), the hottest path of the server: clients poll it.
//!
//! It answers exactly what [`SandboxRow::to_status`](super::SandboxRow::to_status) answers, but
//! reads only the columns the wire record needs and only `tags` and `volume_mounts` of the
//! stored spec, and moves the strings it reads into the record instead of copying them.
//! Nothing is cached: every call reads the database.

use indexmap::IndexMap;
use porter_sandbox::types::{StatusResponse, StatusResponsePhase, StatusResponseTerminationReason};
use rusqlite::{OptionalExtension, Row};
use serde::Deserialize;

use super::{Store, StoreError, StoreResult, from_json};
use crate::time::format_micros;

/// The statement of [`Store::sandbox_status`].
const SELECT_STATUS: &str = "SELECT id, name, image, spec_json, phase, exit_code, created_at, \
     started_at, finished_at, termination_reason, host, internal_address, runs_image \
     FROM sandboxes WHERE id = ?1";

/// The parts of a stored spec a status shows; the rest of the document is skipped, not built.
#[derive(Deserialize)]
struct SpecParts {
    #[serde(default)]
    tags: Option<IndexMap<String, String>>,
    #[serde(default)]
    volume_mounts: Option<IndexMap<String, String>>,
}

impl Store {
    /// The wire status of the sandbox with this id, in any phase.
    pub fn sandbox_status(&self, id: &str) -> StoreResult<Option<StatusResponse>> {
        self.read_one(|conn| {
            let mut stmt = conn.prepare_cached(SELECT_STATUS)?;
            stmt.query_row([id], |r| Ok(decode_status(r))).optional()?.transpose()
        })
    }
}

/// Decodes one row selected with [`SELECT_STATUS`].
fn decode_status(r: &Row<'_>) -> StoreResult<StatusResponse> {
    let id: String = r.get(0)?;
    let spec: SpecParts = from_json(text(r, 3, &id)?, "spec", &id)?;
    let phase = StatusResponsePhase::from_wire(text(r, 4, &id)?);
    let termination_reason = match r.get_ref(9)?.as_str_or_null().map_err(|e| corrupt(9, &id, e))? {
        Some(reason) if phase.is_terminal() => {
            Some(StatusResponseTerminationReason::from_wire(reason))
        }
        _ => None,
    };
    Ok(StatusResponse {
        name: r.get(1)?,
        image: r.get(2)?,
        tags: spec.tags,
        phase,
        exit_code: r.get(5)?,
        created_at: format_micros(r.get(6)?),
        started_at: r.get::<_, Option<i64>>(7)?.map(format_micros),
        finished_at: r.get::<_, Option<i64>>(8)?.map(format_micros),
        termination_reason,
        host: r.get(10)?,
        internal_address: r.get(11)?,
        volume_mounts: spec.volume_mounts,
        exec_target: None,
        runs_image: r.get(12)?,
        id,
    })
}

/// Column `index` as text, borrowed from the row (no copy).
fn text<'r>(r: &'r Row<'_>, index: usize, id: &str) -> StoreResult<&'r str> {
    r.get_ref(index)?.as_str().map_err(|e| corrupt(index, id, e))
}

fn corrupt(index: usize, id: &str, err: rusqlite::types::FromSqlError) -> StoreError {
    StoreError::Corrupt(format!("column {index} of sandbox {id}: {err}"))
}
