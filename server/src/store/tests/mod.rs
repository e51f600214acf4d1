//! Tests of the store: in-memory databases, and temporary files where durability matters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use porter_sandbox::types::SandboxSpec;

use super::{SandboxRow, Store, StoreError};

mod listing;
mod logs;
mod sandboxes;
mod volumes;

fn mem() -> Store {
    Store::open_in_memory().unwrap()
}

/// A queued sandbox created at `created_at` µs, running `busybox`.
fn sandbox(id: &str, name: &str, created_at: i64) -> SandboxRow {
    SandboxRow::new_queued(id.to_owned(), name.to_owned(), SandboxSpec::new("busybox"), created_at)
}

#[test]
fn migrations_are_idempotent_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = Store::open(&path).unwrap();
    let version = store.schema_version().unwrap();
    assert!(version >= 1);
    store.insert_sandbox(&sandbox("sb-1", "one", 1)).unwrap();
    drop(store);
    for _ in 0..2 {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), version);
        assert!(store.get_sandbox("sb-1").unwrap().is_some());
    }
}

#[test]
fn refuses_a_database_from_a_newer_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    assert!(matches!(Store::open(&path), Err(StoreError::Corrupt(_))));
}

#[test]
fn file_store_uses_wal_and_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.db")).unwrap();
    let conn = store.lock();
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
    let fks: i64 = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
    assert_eq!((mode.as_str(), sync, fks), ("wal", 2, 1));
}

#[test]
fn committed_writes_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = Store::open(&path).unwrap();
    store.insert_sandbox(&sandbox("sb-1", "one", 1)).unwrap();
    store.append_logs("sb-1", &[logs::line(5, "hello", "")]).unwrap();
    store.set_meta("instance", "abc").unwrap();

    // The files as a crash right now would leave them (no close, no checkpoint, no shared
    // memory index): every committed write must already be in the database or its WAL.
    let crashed = tempfile::tempdir().unwrap();
    for name in ["store.db", "store.db-wal"] {
        std::fs::copy(dir.path().join(name), crashed.path().join(name)).unwrap();
    }
    let copy = Store::open(&crashed.path().join("store.db")).unwrap();
    assert_eq!(copy.get_sandbox("sb-1").unwrap().unwrap().name, "one");
    assert_eq!(copy.logs("sb-1", None, 10).unwrap().len(), 1);
    assert_eq!(copy.get_meta("instance").unwrap().as_deref(), Some("abc"));

    // The process goes away without closing the connection; the original file reopens intact.
    std::mem::forget(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.get_sandbox("sb-1").unwrap().unwrap().name, "one");
    assert_eq!(store.logs("sb-1", None, 10).unwrap().len(), 1);
}

#[test]
fn store_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn meta_replaces_values() {
    let store = mem();
    assert_eq!(store.get_meta("k").unwrap(), None);
    store.set_meta("k", "1").unwrap();
    store.set_meta("k", "2").unwrap();
    assert_eq!(store.get_meta("k").unwrap().as_deref(), Some("2"));
}
