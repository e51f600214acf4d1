//! The durable store: SQLite (bundled) in the data directory.
//!
//! Every record (sandboxes, their tags, log lines, volumes and attachments) is written in a
//! transaction on a WAL-mode database with `synchronous=FULL`, so a committed write survives a
//! process crash or a power loss. Times are kept as Unix microseconds (`i64`) and formatted only
//! when converted to wire types.
//!
//! [`Store`] is synchronous: a single [`rusqlite::Connection`] behind a [`Mutex`]. Every method
//! is one short transaction, so async callers may call quick lookups directly and run anything
//! that touches many rows (listing, log batches) on `tokio::task::spawn_blocking`.
//!
//! Sub-modules: [`sandboxes`] (records and the forward-only phase machine), [`listing`]
//! (filters, pages, counts, filter values), [`logs`], [`volumes`] (records and attachments) and
//! [`snapshots`], [`usage`] (resource samples) and the private `schema` (migrations),
//! `retention` (the per-sandbox log cap) and `status` (the status read clients poll).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

pub mod idempotency;
pub mod listing;
pub mod logs;
mod retention;
pub mod sandboxes;
mod schema;
pub mod snapshots;
mod status;
pub mod usage;
pub mod volumes;

pub use idempotency::IdempotentCall;
pub use listing::SandboxQuery;
pub use logs::NewLogLine;
pub use retention::{DEFAULT_LOG_RETENTION, ROW_OVERHEAD as LOG_ROW_OVERHEAD};
pub use sandboxes::{PhaseUpdate, SandboxRow};
pub use snapshots::SnapshotRow;
pub use usage::UsageSample;
pub use volumes::{DeleteOutcome, VolumeRow};

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The name is already used (sandbox names: ever; volume names: by an existing volume).
    #[error("name {0:?} is already taken")]
    NameTaken(String),
    /// The volume cannot be deleted while attached to these sandboxes.
    #[error("volume is attached to sandboxes: {}", .0.join(", "))]
    Attached(Vec<String>),
    /// The addressed record does not exist.
    #[error("record not found")]
    NotFound,
    /// An argument the store cannot act on (e.g. a non-positive bucket width).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row cannot be decoded (bad JSON, or a database from a newer server).
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

/// Result type of every store method.
pub type StoreResult<T> = Result<T, StoreError>;

/// The durable store; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    /// Statuses already read (see `status.rs`); only filled and emptied while `conn` is held.
    statuses: status::StatusCache,
    /// Log bytes kept per sandbox (see `retention.rs`).
    log_retention: AtomicU64,
}

impl Store {
    /// Opens (creating when missing) the database file at `path` and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<Store> {
        let conn = Connection::open(path)?;
        // WAL lets readers proceed during a write; FULL syncs the WAL on every commit, which
        // NORMAL does not (NORMAL may lose the last transactions on power loss).
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!("cannot enable WAL mode (got {mode:?})")));
        }
        Self::init(conn)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> StoreResult<Store> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> StoreResult<Store> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            statuses: status::StatusCache::default(),
            log_retention: AtomicU64::new(DEFAULT_LOG_RETENTION),
        })
    }

    /// Sets how many bytes of log lines are kept per sandbox (each line counts its bytes plus
    /// a fixed row overhead); older lines are dropped beyond it. At least 64 KiB.
    pub fn set_log_retention(&self, bytes: u64) {
        self.log_retention.store(bytes.max(64 << 10), Ordering::Relaxed);
    }

    /// Bytes of log lines kept per sandbox.
    #[must_use]
    pub fn log_retention(&self) -> u64 {
        self.log_retention.load(Ordering::Relaxed)
    }

    /// The schema version (`PRAGMA user_version`) of the open database.
    pub fn schema_version(&self) -> StoreResult<i64> {
        self.read(|tx| Ok(tx.pragma_query_value(None, "user_version", |r| r.get(0))?))
    }

    /// A server setting stored under `key`, if any.
    pub fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.read_one(|tx| {
            let mut stmt = tx.prepare_cached("SELECT value FROM meta WHERE key = ?1")?;
            Ok(stmt.query_row([key], |r| r.get(0)).optional()?)
        })
    }

    /// Stores (or replaces) the server setting `key`.
    pub fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
            Ok(())
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction behind (an uncommitted
        // `Transaction` rolls back on drop), so the connection is still sound.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in an IMMEDIATE transaction (the write lock is taken up front, so a read inside
    /// never has to be upgraded), committing only when `f` succeeds.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        self.write_sandbox(None, f)
    }

    /// [`Store::write`] of a transaction that may change the row of sandbox `sandbox` (its
    /// status): the cached status goes in the same critical section, before the connection
    /// is free again, so no read that starts after the write returns sees the old one.
    fn write_sandbox<T>(
        &self,
        sandbox: Option<&str>,
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx);
        if let Some(id) = sandbox {
            self.statuses.forget(id);
        }
        let out = out?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f`, which runs exactly one statement, without an explicit transaction: SQLite
    /// runs a lone statement in its own implicit read transaction (one consistent snapshot),
    /// and skipping `BEGIN`/`COMMIT` saves two statements on every hot read (status polls).
    fn read_one<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        f(&self.lock())
    }

    /// Runs `f` in a read transaction, so several queries see one consistent snapshot.
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Decodes a JSON column, naming the table and row when it is not valid.
fn from_json<T: serde::de::DeserializeOwned>(json: &str, what: &str, id: &str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("{what} of {id}: {e}")))
}

/// Encodes a value for a JSON column.
fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

#[cfg(test)]
mod tests;
