//! The state machine: queued → creating → running → an ending, and the TTL reaper.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use porter_sandbox_server::runtime::{
    OutputStream,
    fake::{FakeRuntime, FakeState, Workload},
};
use serde_json::json;
use tempfile::TempDir;

use crate::support::{self, wait_until};

#[tokio::test]
async fn a_workload_runs_then_its_exit_code_is_recorded() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    fake.script_workload(&["worker"], Workload::runs().printing(OutputStream::Stdout, "hello"));
    let server = support::start(data.path(), &fake).await;
    let id = server.create(json!({ "image": "host", "command": ["worker", "--fast"] })).await;
    let running = server.wait_phase(&id, "running").await;
    assert!(running["started_at"].is_string(), "{running}");
    assert!(running.get("exit_code").is_none(), "{running}");
    let launch = fake.launches().pop().unwrap();
    assert_eq!(launch.sandbox_id, id);
    assert_eq!(launch.argv, ["worker", "--fast"]);
    // The server's default size is applied when the request gives none.
    assert_eq!(launch.limits.cpu_millis, Some(1000));
    assert_eq!(launch.limits.memory_bytes, Some(2 << 30));

    assert!(fake.print(&id, OutputStream::Stderr, "almost done").await);
    assert!(fake.exit(&id, 3).await);
    let ended = server.wait_phase(&id, "failed").await;
    assert_eq!(ended["exit_code"], 3, "{ended}");
    assert_eq!(ended["termination_reason"], "workload_exited", "{ended}");
    assert!(ended["finished_at"].is_string(), "{ended}");
    wait_until("the sandbox to be removed from the host", async || fake.state(&id).is_none()).await;
    let (_, logs) = server.get(&format!("/v1/sandbox/{id}/logs")).await;
    let lines: Vec<(&str, &str)> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["level"].as_str().unwrap(), l["line"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [("info", "hello"), ("error", "almost done")]);
}

#[tokio::test]
async fn a_workload_that_exits_by_itself_with_zero_succeeds() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    fake.script_workload(&["job"], Workload::exits(0, Duration::from_millis(50)));
    let server = support::start(data.path(), &fake).await;
    let id = server.create(json!({ "image": "host", "command": ["job"] })).await;
    let ended = server.wait_phase(&id, "succeeded").await;
    assert_eq!(ended["exit_code"], 0, "{ended}");
    assert_eq!(ended["termination_reason"], "workload_exited", "{ended}");
}

#[tokio::test]
async fn a_start_failure_fails_the_sandbox_with_the_reason_in_its_log() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    fake.script_workload(&["broken"], Workload::fails_to_start("the engine said no"));
    let server = support::start(data.path(), &fake).await;
    let id = server.create(json!({ "image": "host", "command": ["broken"] })).await;
    let failed = server.wait_phase(&id, "failed").await;
    assert_eq!(failed["termination_reason"], "launch_failed", "{failed}");
    assert!(failed.get("exit_code").is_none(), "{failed}");
    let lines = server.log_lines(&id).await;
    assert_eq!(lines, ["launch failed: the engine said no"]);
}

#[tokio::test]
async fn terminate_stops_the_sandbox_and_is_idempotent() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    let server = support::start(data.path(), &fake).await;
    let id = server.create_running(&["sleep", "infinity"]).await;
    assert_eq!(fake.state(&id), Some(FakeState::Running));
    // A teardown refused twice is retried until it succeeds.
    fake.fail_kills(2);
    let (status, body) = server.delete(&format!("/v1/sandbox/{id}?source=cli")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(fake.state(&id), None);
    assert_eq!(fake.kills(), [id.clone(), id.clone(), id.clone()]);
    let ended = server.status(&id).await;
    assert_eq!(ended["phase"], "terminated", "{ended}");
    assert_eq!(ended["termination_reason"], "cli", "{ended}");
    let (again, _) = server.delete(&format!("/v1/sandbox/{id}")).await;
    assert_eq!(again, StatusCode::NO_CONTENT);
    assert_eq!(server.status(&id).await["termination_reason"], "cli");

    let (missing, body) = server.delete("/v1/sandbox/sb-nope").await;
    assert_eq!(missing, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "sandbox sb-nope does not exist");
}

#[tokio::test]
async fn sandboxes_whose_ttl_elapsed_together_end_together() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    // Each sandbox takes a second to stop: one after the other, eight would take eight.
    fake.set_kill_time(Duration::from_secs(1));
    let server = support::start(data.path(), &fake).await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        let spec = json!({ "image": "host", "command": ["a"], "ttl_seconds": 1 });
        ids.push(server.create(spec).await);
    }
    for id in &ids {
        server.wait_phase(id, "running").await;
    }
    let started = Instant::now();
    for id in &ids {
        let ended = server.wait_phase(id, "terminated").await;
        assert_eq!(ended["termination_reason"], "ttl_expired", "{ended}");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "eight expired TTLs took {took:?} to end");
}

#[tokio::test]
async fn the_reaper_ends_a_sandbox_whose_ttl_elapsed() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    let server = support::start(data.path(), &fake).await;
    // Long enough to be seen running on a loaded machine (the TTL counts from the create
    // until then: it could otherwise end before it ever ran).
    let short = server.create(json!({ "image": "host", "command": ["a"], "ttl_seconds": 3 })).await;
    let long =
        server.create(json!({ "image": "host", "command": ["b"], "ttl_seconds": 3600 })).await;
    server.wait_phase(&short, "running").await;
    server.wait_phase(&long, "running").await;
    let ended = server.wait_phase(&short, "terminated").await;
    assert_eq!(ended["termination_reason"], "ttl_expired", "{ended}");
    wait_until("the expired sandbox to be stopped", async || fake.state(&short).is_none()).await;
    // Its TTL counts from its start: at least a second ran.
    let started = time::OffsetDateTime::parse(
        ended["started_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let finished = time::OffsetDateTime::parse(
        ended["finished_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(finished - started >= time::Duration::SECOND, "{ended}");
    assert_eq!(server.status(&long).await["phase"], "running");
    assert_eq!(fake.state(&long), Some(FakeState::Running));
}

#[tokio::test]
async fn readiness_reports_a_runtime_that_cannot_start_sandboxes() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    let server = support::start(data.path(), &fake).await;
    let (status, body) = server.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    fake.set_unavailable(Some("crun is not installed"));
    let (status, body) = server.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "the sandbox runtime is not usable: crun is not installed");
    let id = server.create(json!({ "image": "host", "command": ["x"] })).await;
    server.wait_phase(&id, "failed").await;
    assert_eq!(server.log_lines(&id).await, ["launch failed: crun is not installed"]);
}

#[tokio::test]
async fn a_lease_keeps_a_sandbox_while_renewed_and_ends_it_after() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    let server = support::start(data.path(), &fake).await;
    let id = server.create(json!({ "image": "host", "command": ["a"], "lease_seconds": 2 })).await;
    server.wait_phase(&id, "running").await;
    let renew = format!("/v1/sandbox/{id}/lease");
    // Renewed ten times a second for longer than the lease: it lives on.
    let until = std::time::Instant::now() + Duration::from_millis(2500);
    while std::time::Instant::now() < until {
        let (status, body) = server.post(&renew, json!({})).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.status(&id).await["phase"], "running");
    let ended = server.wait_phase(&id, "terminated").await;
    assert_eq!(ended["termination_reason"], "lease_expired", "{ended}");
    wait_until("the expired sandbox to be stopped", async || fake.state(&id).is_none()).await;
    let (status, body) = server.post(&renew, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"].as_str().unwrap().contains("only a live sandbox's lease"), "{body}");

    let unleased = server.create_running(&["b"]).await;
    let (status, body) = server.post(&format!("/v1/sandbox/{unleased}/lease"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["error"],
        format!("sandbox {unleased} has no lease: it was created without lease_seconds")
    );
}
