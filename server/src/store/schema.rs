//! Schema migrations, tracked by `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`. Steps are only ever appended,
//! never edited, so every database can be brought forward from whatever version it has.

use rusqlite::{Connection, TransactionBehavior};

use super::{StoreError, StoreResult};

/// The migration steps, oldest first.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;

    -- Rows are never deleted: a sandbox name stays reserved forever.
    CREATE TABLE sandboxes (
        id                 TEXT PRIMARY KEY,
        name               TEXT NOT NULL UNIQUE,
        image              TEXT NOT NULL,
        spec_json          TEXT NOT NULL,
        phase              TEXT NOT NULL,
        exit_code          INTEGER,
        created_at         INTEGER NOT NULL,
        started_at         INTEGER,
        finished_at        INTEGER,
        termination_reason TEXT,
        host               TEXT NOT NULL DEFAULT '',
        internal_address   TEXT,
        runtime_state_json TEXT,
        snapshot_id        TEXT
    ) STRICT;
    CREATE INDEX sandboxes_created ON sandboxes (created_at, id);
    CREATE INDEX sandboxes_phase ON sandboxes (phase);
    CREATE INDEX sandboxes_image ON sandboxes (image);

    -- The tags of each sandbox, one row per key, for exact and index-backed tag filters
    -- (a JSON-path query on the spec would need every key escaped as a path).
    CREATE TABLE sandbox_tags (
        sandbox_id TEXT NOT NULL REFERENCES sandboxes (id),
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        PRIMARY KEY (sandbox_id, key)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX sandbox_tags_kv ON sandbox_tags (key, value);

    CREATE TABLE logs (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        sandbox_id TEXT NOT NULL REFERENCES sandboxes (id),
        ts         INTEGER NOT NULL,
        level      TEXT NOT NULL,
        line       TEXT NOT NULL,
        exec_id    TEXT NOT NULL DEFAULT ''
    ) STRICT;
    CREATE INDEX logs_by_sandbox ON logs (sandbox_id, ts, seq);

    -- Deleted volumes' rows are removed, which frees their names.
    CREATE TABLE volumes (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        type        TEXT NOT NULL,
        object_json TEXT,
        path        TEXT NOT NULL,
        phase       TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE attachments (
        volume_id  TEXT NOT NULL REFERENCES volumes (id),
        sandbox_id TEXT NOT NULL REFERENCES sandboxes (id),
        PRIMARY KEY (volume_id, sandbox_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX attachments_by_sandbox ON attachments (sandbox_id);
    ",
    // 2: snapshots and resource-usage samples.
    "
    -- A deleted snapshot's row is removed with its files; failed captures keep theirs.
    CREATE TABLE snapshots (
        id             TEXT PRIMARY KEY,
        sandbox_id     TEXT NOT NULL REFERENCES sandboxes (id),
        mode           TEXT NOT NULL,
        status         TEXT NOT NULL,
        image          TEXT NOT NULL,
        parent_id      TEXT,
        created_at     INTEGER NOT NULL,
        ready_at       INTEGER,
        failure_reason TEXT,
        size_bytes     INTEGER
    ) STRICT;
    CREATE INDEX snapshots_by_sandbox ON snapshots (sandbox_id, created_at);
    CREATE INDEX snapshots_by_parent ON snapshots (parent_id);

    -- Cumulative counters read from a sandbox's cgroup and network namespace.
    CREATE TABLE usage_samples (
        sandbox_id   TEXT NOT NULL REFERENCES sandboxes (id),
        ts           INTEGER NOT NULL,
        cpu_usec     INTEGER NOT NULL,
        memory_bytes INTEGER NOT NULL,
        rx_bytes     INTEGER NOT NULL,
        tx_bytes     INTEGER NOT NULL,
        PRIMARY KEY (sandbox_id, ts)
    ) STRICT, WITHOUT ROWID;
    ",
    // 3: the running size of each sandbox's log, for its retention cap (`retention.rs`).
    "
    CREATE TABLE log_totals (
        sandbox_id    TEXT PRIMARY KEY REFERENCES sandboxes (id),
        bytes         INTEGER NOT NULL,
        dropped_lines INTEGER NOT NULL DEFAULT 0,
        dropped_bytes INTEGER NOT NULL DEFAULT 0,
        marker_seq    INTEGER
    ) STRICT, WITHOUT ROWID;
    INSERT INTO log_totals (sandbox_id, bytes)
        SELECT sandbox_id, sum(length(CAST(line AS BLOB)) + 64) FROM logs GROUP BY sandbox_id;
    ",
    // 4: idempotency keys of sandbox creates (kept 24 hours).
    "
    CREATE TABLE idempotency_keys (
        key           TEXT PRIMARY KEY,
        request_json  TEXT NOT NULL,
        response_json TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
    ",
    // 5: the image a sandbox runs instead of the one asked for (`host`, when its registry was
    // unreachable and the server runs with `--offline-images host`); NULL when as asked.
    "
    ALTER TABLE sandboxes ADD COLUMN runs_image TEXT;
    ",
];

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies every pending step, each in its own transaction together with its version bump, so a
/// crash mid-migration leaves the database at the previous version rather than half-migrated.
/// The version is read inside the (exclusive) transaction, so two servers opening the same file
/// at once cannot both apply a step.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if !(0..=SCHEMA_VERSION).contains(&current) {
            return Err(StoreError::Corrupt(format!(
                "database schema version {current} is unknown to this server (which writes \
                 {SCHEMA_VERSION}); was it written by a newer server?"
            )));
        }
        let Some(step) = usize::try_from(current).ok().and_then(|i| MIGRATIONS.get(i)) else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}
