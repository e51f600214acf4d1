//! Log lines: order, `since`, `limit`.

use porter_sandbox::types::LogLineLevel;

use super::{mem, sandbox};
use crate::store::{NewLogLine, Store, StoreError};

/// An `info` line emitted at `ts` µs.
pub(super) fn line(ts: i64, text: &str, exec_id: &str) -> NewLogLine {
    NewLogLine { ts, level: LogLineLevel::Info, line: text.to_owned(), exec_id: exec_id.to_owned() }
}

fn texts(store: &Store, since: Option<i64>, limit: i64) -> Vec<String> {
    store.logs("sb-1", since, limit).unwrap().into_iter().map(|l| l.line).collect()
}

fn fixture() -> Store {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    store.insert_sandbox(&sandbox("sb-2", "b", 1)).unwrap();
    store.append_logs("sb-1", &[line(10, "one", ""), line(20, "two", "")]).unwrap();
    // Out-of-order timestamps across batches still read in emission order; equal timestamps
    // keep insertion order.
    store
        .append_logs("sb-1", &[line(15, "one-and-a-half", "ex-1"), line(30, "three", "")])
        .unwrap();
    store.append_logs("sb-1", &[line(30, "three-bis", "")]).unwrap();
    store.append_logs("sb-2", &[line(12, "other", "")]).unwrap();
    store
}

#[test]
fn oldest_first_per_sandbox() {
    let store = fixture();
    assert_eq!(texts(&store, None, 1000), ["one", "one-and-a-half", "two", "three", "three-bis"]);
    let other = store.logs("sb-2", None, 1000).unwrap();
    assert_eq!(other.len(), 1);
    assert!(store.logs("sb-9", None, 1000).unwrap().is_empty());
}

#[test]
fn limit_takes_the_most_recent_lines() {
    let store = fixture();
    assert_eq!(texts(&store, None, 2), ["three", "three-bis"]);
    assert!(texts(&store, None, 0).is_empty());
    assert!(texts(&store, None, -1).is_empty());
}

#[test]
fn since_is_inclusive() {
    let store = fixture();
    assert_eq!(texts(&store, Some(20), 1000), ["two", "three", "three-bis"]);
    assert_eq!(texts(&store, Some(16), 1), ["three-bis"]);
    assert!(texts(&store, Some(31), 1000).is_empty());
}

#[test]
fn wire_fields() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    let err = NewLogLine { level: LogLineLevel::Error, ..line(1_000_001, "boom", "ex-7") };
    store.append_logs("sb-1", &[err]).unwrap();
    let got = serde_json::to_value(&store.logs("sb-1", None, 10).unwrap()[0]).unwrap();
    assert_eq!(
        got,
        serde_json::json!({
            "timestamp": "1970-01-01T00:00:01.000001Z", "line": "boom",
            "level": "error", "exec_id": "ex-7"
        })
    );
}

#[test]
fn append_needs_an_existing_sandbox() {
    let store = mem();
    assert!(matches!(store.append_logs("sb-9", &[line(1, "x", "")]), Err(StoreError::NotFound)));
    store.append_logs("sb-9", &[]).unwrap();
}
