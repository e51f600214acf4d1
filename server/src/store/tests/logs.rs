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

/// Every stored line of sb-1, oldest first.
fn all(store: &Store) -> Vec<String> {
    store.logs("sb-1", None, i64::MAX).unwrap().into_iter().map(|l| l.line).collect()
}

#[test]
fn retention_keeps_the_newest_lines_after_a_marker() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    store.set_log_retention(64 << 10);
    let text = "x".repeat(100);
    // 2000 lines of 164 counted bytes (328 KB) against a 64 KiB cap, in batches.
    for batch in 0..20 {
        let lines: Vec<NewLogLine> =
            (0..100).map(|i| line(batch * 100 + i, &format!("{i:03}{text}"), "")).collect();
        store.append_logs("sb-1", &lines).unwrap();
    }
    let got = all(&store);
    let kept = got.len() - 1;
    let stored: usize = got[1..].iter().map(|l| l.len() + 64).sum();
    assert!(stored <= 64 << 10, "{stored} bytes kept");
    assert!(kept >= 300, "at least 7/8 of the cap is kept: {kept} lines");
    assert!(got.last().unwrap().starts_with("099x"), "the newest line is kept");
    let marker = format!(
        "[porter-sandbox: {} earlier log lines ({} bytes) dropped: the sandbox's log is capped \
         at 64 KiB]",
        2000 - kept,
        (2000 - kept) * 103
    );
    assert_eq!(got[0], marker);
}

#[test]
fn a_batch_larger_than_the_cap_keeps_its_end() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    store.set_log_retention(64 << 10);
    store.append_logs("sb-1", &[line(1, "old", "")]).unwrap();
    // Empty lines count too: 100 000 of them would be 6.4 MB of rows.
    let lines: Vec<NewLogLine> = (0..100_000).map(|i| line(2 + i, "", "")).collect();
    store.append_logs("sb-1", &lines).unwrap();
    let got = all(&store);
    assert!(got.len() <= (64 << 10) / 64 + 1, "{} rows", got.len());
    assert!(got[0].starts_with("[porter-sandbox: "), "{}", got[0]);
    assert!(got[1..].iter().all(String::is_empty), "the old line is gone");
}

#[test]
fn long_lines_are_split() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    let long = "y".repeat(crate::store::logs::MAX_LINE * 3 + 5);
    store.append_logs("sb-1", &[line(1, &long, "")]).unwrap();
    let got = all(&store);
    assert_eq!(got.len(), 4);
    assert_eq!(got.concat(), long);
}

#[test]
fn a_read_returns_a_bounded_amount_of_json() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    // NULs take six bytes of JSON each: 100 lines of 64 KiB would be 39 MB.
    let nuls = "\0".repeat(crate::store::logs::MAX_LINE);
    let lines: Vec<NewLogLine> = (0..100).map(|i| line(i, &nuls, "")).collect();
    store.append_logs("sb-1", &lines).unwrap();
    let got = store.logs("sb-1", None, 10_000).unwrap();
    let json = serde_json::to_string(&got).unwrap();
    assert!(json.len() <= crate::store::logs::MAX_READ_BYTES, "{} bytes", json.len());
    assert!(!got.is_empty());
}
