//! The status read (`GET /v1/sandbox/{id}`), the hottest path of the server: clients poll it.
//!
//! It answers exactly what [`SandboxRow::to_status`](super::SandboxRow::to_status) answers, but
//! reads only the columns the wire record needs and only `tags` and `volume_mounts` of the
//! stored spec, and moves the strings it reads into the record instead of copying them.
//!
//! Statuses read once are kept in memory ([`StatusCache`]) and answered from there, without
//! the connection's lock and SQLite's WAL read lock: a status is never stale, because the
//! cache is only filled while the connection is held (by the read that found the row) and
//! every write that may change a sandbox's row forgets that sandbox's entry before it lets go
//! of the connection (`Store::write_sandbox`). A read that starts after a write returned
//! therefore finds either nothing (and reads the database) or what was read after the write.
//! Only this process writes the `sandboxes` table (`images prune` opens the database from
//! another process, and only reads it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
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

/// Statuses kept, at most; beyond it the cache starts over (the polled ones come back first).
const CACHED_STATUSES: usize = 4096;

/// A status as read, and its JSON encoding (what `GET /v1/sandbox/{id}` answers).
#[derive(Debug)]
struct Cached {
    status: StatusResponse,
    json: Bytes,
}

/// The statuses already read, by sandbox id (see the module docs for why they are never stale).
#[derive(Debug, Default)]
pub(super) struct StatusCache {
    entries: Mutex<HashMap<String, Arc<Cached>>>,
}

impl StatusCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Cached>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, id: &str) -> Option<Arc<Cached>> {
        self.entries().get(id).cloned()
    }

    /// Keeps `status`; the caller holds the store's connection.
    fn keep(&self, status: StatusResponse) -> StoreResult<Arc<Cached>> {
        let json = serde_json::to_vec(&status)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode a status: {e}")))?;
        let cached = Arc::new(Cached { status, json: Bytes::from(json) });
        let mut entries = self.entries();
        if entries.len() >= CACHED_STATUSES {
            entries.clear();
        }
        entries.insert(cached.status.id.clone(), cached.clone());
        Ok(cached)
    }

    /// Forgets the status of `id`; the caller holds the store's connection.
    pub(super) fn forget(&self, id: &str) {
        self.entries().remove(id);
    }
}

impl Store {
    /// The wire status of the sandbox with this id, in any phase.
    pub fn sandbox_status(&self, id: &str) -> StoreResult<Option<StatusResponse>> {
        Ok(self.cached_status(id)?.map(|cached| cached.status.clone()))
    }

    /// [`Store::sandbox_status`] encoded as JSON, as the API answers it.
    pub fn sandbox_status_json(&self, id: &str) -> StoreResult<Option<Bytes>> {
        Ok(self.cached_status(id)?.map(|cached| cached.json.clone()))
    }

    fn cached_status(&self, id: &str) -> StoreResult<Option<Arc<Cached>>> {
        if let Some(cached) = self.statuses.get(id) {
            return Ok(Some(cached));
        }
        self.read_one(|conn| {
            let mut stmt = conn.prepare_cached(SELECT_STATUS)?;
            let status = stmt.query_row([id], |r| Ok(decode_status(r))).optional()?.transpose()?;
            // Still holding the connection: no write can slip in between.
            status.map(|status| self.statuses.keep(status)).transpose()
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
