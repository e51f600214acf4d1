//! Sandbox records, names and the forward-only phase machine.

use porter_sandbox::types::{
    SandboxSpec, StatusResponsePhase as Phase, StatusResponseTerminationReason as Reason,
};
use serde_json::json;

use super::{mem, sandbox};
use crate::store::{PhaseUpdate, StoreError};

fn terminal(reason: Reason) -> PhaseUpdate {
    PhaseUpdate { termination_reason: Some(reason), ..PhaseUpdate::default() }
}

#[test]
fn insert_and_get_round_trip() {
    let store = mem();
    let mut row = sandbox("sb-1", "web", 1_700_000_000_000_000);
    row.spec = SandboxSpec::new("python:3").tag("team", "a").volume_mount("/data", "vol-1");
    row.image = "python:3".to_owned();
    row.host = "web.example.com".to_owned();
    row.internal_address = Some("10.0.0.2:8080".to_owned());
    row.runtime_state = Some(r#"{"pid":42}"#.to_owned());
    store.insert_sandbox(&row).unwrap();
    assert_eq!(store.get_sandbox("sb-1").unwrap(), Some(row));
    assert_eq!(store.get_sandbox("sb-2").unwrap(), None);
    assert_eq!(store.sandbox_id_by_name("web").unwrap().as_deref(), Some("sb-1"));
    assert_eq!(store.sandbox_id_by_name("nope").unwrap(), None);
}

#[test]
fn sandbox_names_are_never_reusable() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "web", 1)).unwrap();
    assert!(matches!(
        store.insert_sandbox(&sandbox("sb-2", "web", 2)),
        Err(StoreError::NameTaken(n)) if n == "web"
    ));
    assert!(store.set_phase("sb-1", &Phase::Terminated, &terminal(Reason::Sdk)).unwrap());
    assert!(matches!(
        store.insert_sandbox(&sandbox("sb-3", "web", 3)),
        Err(StoreError::NameTaken(_))
    ));
    // Still resolvable after termination, and the failed inserts left nothing behind.
    assert_eq!(store.sandbox_id_by_name("web").unwrap().as_deref(), Some("sb-1"));
    assert_eq!(store.get_sandbox("sb-2").unwrap(), None);
    // Renaming onto a taken name is refused too.
    let mut other = sandbox("sb-4", "api", 4);
    store.insert_sandbox(&other).unwrap();
    other.name = "web".to_owned();
    assert!(matches!(store.update_sandbox(&other), Err(StoreError::NameTaken(_))));
}

#[test]
fn duplicate_id_is_refused() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    assert!(matches!(store.insert_sandbox(&sandbox("sb-1", "b", 1)), Err(StoreError::Invalid(_))));
}

#[test]
fn set_phase_only_moves_forward() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    let none = PhaseUpdate::default();
    assert!(store.set_phase("sb-1", &Phase::Creating, &none).unwrap());
    assert!(!store.set_phase("sb-1", &Phase::Queued, &none).unwrap());
    let started = PhaseUpdate { started_at: Some(10), ..PhaseUpdate::default() };
    assert!(store.set_phase("sb-1", &Phase::Running, &started).unwrap());
    // Staying in the same live phase is allowed and keeps what is not given.
    assert!(store.set_phase("sb-1", &Phase::Running, &none).unwrap());
    let exited = PhaseUpdate {
        exit_code: Some(0),
        finished_at: Some(20),
        termination_reason: Some(Reason::WorkloadExited),
        ..PhaseUpdate::default()
    };
    assert!(store.set_phase("sb-1", &Phase::Succeeded, &exited).unwrap());
    // The first terminal transition wins: nothing changes afterwards.
    let late = PhaseUpdate { exit_code: Some(137), finished_at: Some(30), ..terminal(Reason::Sdk) };
    assert!(!store.set_phase("sb-1", &Phase::Terminated, &late).unwrap());
    assert!(!store.set_phase("sb-1", &Phase::Succeeded, &late).unwrap());
    assert!(!store.set_phase("sb-1", &Phase::Running, &none).unwrap());
    let row = store.get_sandbox("sb-1").unwrap().unwrap();
    assert_eq!(row.phase, Phase::Succeeded);
    assert_eq!((row.started_at, row.finished_at, row.exit_code), (Some(10), Some(20), Some(0)));
    assert_eq!(row.termination_reason, Some(Reason::WorkloadExited));
}

#[test]
fn set_phase_terminal_from_queued_defaults_finish_time() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    assert!(store.set_phase("sb-1", &Phase::Terminated, &terminal(Reason::TtlExpired)).unwrap());
    let row = store.get_sandbox("sb-1").unwrap().unwrap();
    assert!(row.finished_at.is_some_and(|t| t > 1));
    assert_eq!(row.started_at, None);
}

#[test]
fn set_phase_errors() {
    let store = mem();
    let none = PhaseUpdate::default();
    assert!(matches!(store.set_phase("sb-x", &Phase::Running, &none), Err(StoreError::NotFound)));
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    let unknown = Phase::from_wire("paused");
    assert!(matches!(store.set_phase("sb-1", &unknown, &none), Err(StoreError::Invalid(_))));
}

#[test]
fn update_sandbox_respects_the_lifecycle() {
    let store = mem();
    let mut row = sandbox("sb-1", "a", 1);
    store.insert_sandbox(&row).unwrap();
    row.phase = Phase::Running;
    row.host = "a.example.com".to_owned();
    assert!(store.update_sandbox(&row).unwrap());
    assert_eq!(store.get_sandbox("sb-1").unwrap().unwrap(), row);

    // A stale copy (read while queued) cannot move the phase backwards.
    let stale = sandbox("sb-1", "a", 1);
    assert!(!store.update_sandbox(&stale).unwrap());

    assert!(store.set_phase("sb-1", &Phase::Failed, &terminal(Reason::BackendLost)).unwrap());
    // A copy still saying `running` cannot undo the terminal phase ...
    assert!(!store.update_sandbox(&row).unwrap());
    // ... but a current copy of the terminal row can still be edited.
    let mut current = store.get_sandbox("sb-1").unwrap().unwrap();
    current.runtime_state = None;
    current.host = String::new();
    assert!(store.update_sandbox(&current).unwrap());
    assert_eq!(store.get_sandbox("sb-1").unwrap().unwrap(), current);

    assert!(matches!(store.update_sandbox(&sandbox("sb-9", "z", 1)), Err(StoreError::NotFound)));
}

#[test]
fn runtime_state_set_and_cleared() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    store.set_runtime_state("sb-1", Some(r#"{"bundle":"/x"}"#)).unwrap();
    let state = store.get_sandbox("sb-1").unwrap().unwrap().runtime_state;
    assert_eq!(state.as_deref(), Some(r#"{"bundle":"/x"}"#));
    store.set_runtime_state("sb-1", None).unwrap();
    assert_eq!(store.get_sandbox("sb-1").unwrap().unwrap().runtime_state, None);
    assert!(matches!(store.set_runtime_state("sb-2", None), Err(StoreError::NotFound)));
}

#[test]
fn live_sandboxes_and_active_count() {
    let store = mem();
    for (i, phase) in [
        Phase::Queued,
        Phase::Creating,
        Phase::Running,
        Phase::Succeeded,
        Phase::Failed,
        Phase::Terminated,
    ]
    .iter()
    .enumerate()
    {
        let id = format!("sb-{i}");
        store.insert_sandbox(&sandbox(&id, &id, 10 - i64::try_from(i).unwrap())).unwrap();
        store.set_phase(&id, phase, &PhaseUpdate::default()).unwrap();
    }
    let live: Vec<String> = store.live_sandboxes().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(live, ["sb-2", "sb-1", "sb-0"], "oldest first");
    assert_eq!(store.count_active().unwrap(), 3);
}

#[test]
fn status_json_omits_unset_fields() {
    let row = sandbox("sb-1", "sb-1", 1_700_000_000_123_456);
    let value = serde_json::to_value(row.to_status()).unwrap();
    assert_eq!(
        value,
        json!({
            "id": "sb-1", "name": "sb-1", "image": "busybox", "phase": "queued",
            "created_at": "2023-11-14T22:13:20.123456Z", "host": ""
        })
    );

    // A reason on a live row is never shown.
    let mut live = row;
    live.termination_reason = Some(Reason::Sdk);
    assert!(serde_json::to_value(live.to_status()).unwrap().get("termination_reason").is_none());
}

#[test]
fn status_json_of_a_finished_sandbox() {
    let mut row = sandbox("sb-1", "web", 0);
    row.spec = SandboxSpec::new("busybox").tag("team", "a").volume_mount("/data", "vol-1");
    row.phase = Phase::Failed;
    row.exit_code = Some(3);
    row.started_at = Some(1_000_000);
    row.finished_at = Some(2_000_000);
    row.termination_reason = Some(Reason::WorkloadExited);
    row.internal_address = Some("10.0.0.2:8080".to_owned());
    row.runtime_state = Some("{}".to_owned());
    assert_eq!(
        serde_json::to_value(row.to_status()).unwrap(),
        json!({
            "id": "sb-1", "name": "web", "image": "busybox", "tags": {"team": "a"},
            "phase": "failed", "exit_code": 3, "created_at": "1970-01-01T00:00:00.000000Z",
            "started_at": "1970-01-01T00:00:01.000000Z",
            "finished_at": "1970-01-01T00:00:02.000000Z",
            "termination_reason": "workload_exited", "host": "",
            "internal_address": "10.0.0.2:8080", "volume_mounts": {"/data": "vol-1"}
        })
    );
}

#[test]
fn exactly_one_racing_terminal_transition_wins() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(crate::store::Store::open(&dir.path().join("s.db")).unwrap());
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    let phases = [Phase::Succeeded, Phase::Failed, Phase::Terminated];
    let handles: Vec<_> = (0..9)
        .map(|i| {
            let store = store.clone();
            let phase = phases[i % 3].clone();
            let update =
                PhaseUpdate { exit_code: Some(i64::try_from(i).unwrap()), ..terminal(Reason::Sdk) };
            std::thread::spawn(move || store.set_phase("sb-1", &phase, &update).unwrap())
        })
        .collect();
    let wins = handles.into_iter().map(|h| h.join().unwrap()).filter(|won| *won).count();
    assert_eq!(wins, 1);
}

#[test]
fn the_endpoint_is_recorded() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "a", 1)).unwrap();
    store.set_endpoint("sb-1", "", "127.0.0.1:43125").unwrap();
    let status = store.get_sandbox("sb-1").unwrap().unwrap().to_status();
    assert_eq!(status.host, "");
    assert_eq!(status.internal_address.as_deref(), Some("127.0.0.1:43125"));
    assert!(matches!(store.set_endpoint("sb-9", "", "x:1"), Err(StoreError::NotFound)));
}

/// The status read answers exactly what the full row's `to_status` answers, in every phase.
#[test]
fn the_status_read_equals_the_rows_status() {
    let store = mem();
    let mut row = sandbox("sb-1", "web", 1_700_000_000_123_456);
    row.spec = SandboxSpec::new("python:3")
        .tag("team", "a")
        .tag("tier", "web")
        .volume_mount("/data", "vol-1")
        .volume_mount("/cache", "vol-2");
    row.image = "python:3".to_owned();
    row.runtime_state = Some(r#"{"pid":42}"#.to_owned());
    store.insert_sandbox(&row).unwrap();
    store.insert_sandbox(&sandbox("sb-2", "plain", 2)).unwrap();
    let same = |id: &str| {
        let expected = store.get_sandbox(id).unwrap().unwrap().to_status();
        assert_eq!(store.sandbox_status(id).unwrap(), Some(expected));
    };
    same("sb-1");
    same("sb-2");
    let started = PhaseUpdate { started_at: Some(1_700_000_001_000_000), ..PhaseUpdate::default() };
    store.set_phase("sb-1", &Phase::Running, &started).unwrap();
    store.set_endpoint("sb-1", "web.example.com", "10.0.0.2:8080").unwrap();
    store.set_runs_image("sb-1", "host").unwrap();
    same("sb-1");
    let failed = PhaseUpdate {
        exit_code: Some(3),
        termination_reason: Some(Reason::Sdk),
        ..PhaseUpdate::default()
    };
    store.set_phase("sb-1", &Phase::Failed, &failed).unwrap();
    store.set_phase("sb-2", &Phase::Terminated, &terminal(Reason::Sdk)).unwrap();
    same("sb-1");
    same("sb-2");
    assert_eq!(store.sandbox_status("sb-3").unwrap(), None);
}

/// Statuses are answered from memory once read: every write that changes what a status shows
/// is seen by the very next read (the cached entry goes with the write).
#[test]
fn a_cached_status_never_outlives_a_write() {
    let store = mem();
    store.insert_sandbox(&sandbox("sb-1", "web", 1)).unwrap();
    let read = || store.sandbox_status("sb-1").unwrap().unwrap();
    let row = || store.get_sandbox("sb-1").unwrap().unwrap().to_status();
    let mut seen = vec![read()];
    let started = PhaseUpdate { started_at: Some(5), ..PhaseUpdate::default() };
    store.set_phase("sb-1", &Phase::Creating, &PhaseUpdate::default()).unwrap();
    seen.push(read());
    store.set_phase("sb-1", &Phase::Running, &started).unwrap();
    seen.push(read());
    store.set_endpoint("sb-1", "", "127.0.0.1:8080").unwrap();
    seen.push(read());
    store.set_runs_image("sb-1", "host").unwrap();
    seen.push(read());
    let mut updated = store.get_sandbox("sb-1").unwrap().unwrap();
    updated.spec = updated.spec.tag("team", "a");
    assert!(store.update_sandbox(&updated).unwrap());
    seen.push(read());
    store.set_phase("sb-1", &Phase::Terminated, &terminal(Reason::Sdk)).unwrap();
    seen.push(read());
    // Each read answered the row as it was then, and each write changed the answer.
    assert_eq!(seen.last(), Some(&row()));
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1]);
    }
    assert_eq!(seen[2].phase, Phase::Running);
    assert_eq!(seen[3].internal_address.as_deref(), Some("127.0.0.1:8080"));
    assert_eq!(seen[4].runs_image.as_deref(), Some("host"));
    assert_eq!(seen[5].tags.as_ref().and_then(|t| t.get("team")).map(String::as_str), Some("a"));
    // A write that changed nothing (terminal already) leaves the answer as it was.
    assert!(!store.set_phase("sb-1", &Phase::Failed, &terminal(Reason::Sdk)).unwrap());
    assert_eq!(read(), row());
    // The encoded answer is the status's JSON, and follows writes the same way.
    let json = || store.sandbox_status_json("sb-1").unwrap().unwrap();
    assert_eq!(json(), serde_json::to_vec(&row()).unwrap());
    let mut renamed = store.get_sandbox("sb-1").unwrap().unwrap();
    renamed.name = "renamed".to_owned();
    assert!(store.update_sandbox(&renamed).unwrap());
    assert_eq!(json(), serde_json::to_vec(&row()).unwrap());
    assert!(store.sandbox_status_json("sb-9").unwrap().is_none());
}
