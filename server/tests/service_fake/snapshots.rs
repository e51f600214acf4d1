//! Snapshots: capture, list, get, sandboxes started from them, and deletion rules.

use axum::http::StatusCode;
use porter_sandbox_server::runtime::fake::FakeRuntime;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{FakeServer, wait_until};

/// Takes a snapshot of `sandbox` and waits until its capture ended; returns its record.
async fn snapshot(server: &FakeServer, sandbox: &str) -> Value {
    let (status, pending) =
        server.post(&format!("/v1/sandbox/{sandbox}/snapshot"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    assert_eq!(pending["sandbox_id"], sandbox, "{pending}");
    let id = pending["id"].as_str().unwrap().to_owned();
    let mut record = Value::Null;
    wait_until("the capture to end", async || {
        record = server.get(&format!("/v1/snapshot/{id}")).await.1;
        record["status"] != "pending"
    })
    .await;
    record
}

#[tokio::test]
async fn snapshots_are_captured_listed_started_from_and_deleted_in_order() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    let server = crate::support::start(data.path(), &fake).await;
    let source = server.create_running(&["app"]).await;
    let base = snapshot(&server, &source).await;
    assert_eq!(base["status"], "ready", "{base}");
    assert!(base["size_bytes"].as_i64().unwrap() > 0, "{base}");
    let base_id = base["id"].as_str().unwrap().to_owned();
    let base_layer = data.path().join("snapshots").join(&base_id).join("layer");
    assert!(base_layer.join("fake-layer.json").is_file());

    // A sandbox from the snapshot runs the base image with the captured layer.
    let child =
        server.create(json!({ "image": "", "snapshot_id": base_id, "command": ["app"] })).await;
    let child_status = server.wait_phase(&child, "running").await;
    assert_eq!(child_status["image"], "host", "{child_status}");
    let launch = fake.launches().pop().unwrap();
    assert_eq!(launch.sandbox_id, child);
    assert_eq!(launch.layers, std::slice::from_ref(&base_layer));
    // A snapshot of it stacks on the base.
    let top = snapshot(&server, &child).await;
    assert_eq!(top["status"], "ready", "{top}");
    let top_id = top["id"].as_str().unwrap().to_owned();
    let grandchild =
        server.create(json!({ "image": "", "snapshot_id": top_id, "command": ["app"] })).await;
    server.wait_phase(&grandchild, "running").await;
    let top_layer = data.path().join("snapshots").join(&top_id).join("layer");
    assert_eq!(fake.launches().pop().unwrap().layers, [top_layer, base_layer]);

    let (_, listed) = server.get("/v1/snapshot").await;
    let ids: Vec<&str> =
        listed["snapshots"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [top_id.as_str(), base_id.as_str()], "newest first");
    let (_, mine) = server.get(&format!("/v1/snapshot?sandbox_id={source}")).await;
    assert_eq!(mine["snapshots"].as_array().unwrap().len(), 1, "{mine}");

    // In use by a live sandbox, then the base of another snapshot: both refused.
    let (status, body) = server.delete(&format!("/v1/snapshot/{top_id}")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["error"],
        format!(
            "snapshot {top_id} is in use by running sandboxes ({grandchild}): terminate them first"
        )
    );
    for id in [&source, &child, &grandchild] {
        assert_eq!(server.delete(&format!("/v1/sandbox/{id}")).await.0, StatusCode::NO_CONTENT);
    }
    let (status, body) = server.delete(&format!("/v1/snapshot/{base_id}")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains(&format!("base of snapshots {top_id}")));
    assert_eq!(server.delete(&format!("/v1/snapshot/{top_id}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(server.delete(&format!("/v1/snapshot/{base_id}")).await.0, StatusCode::NO_CONTENT);
    assert!(!data.path().join("snapshots").join(&base_id).exists());
    let (status, body) = server.get(&format!("/v1/snapshot/{base_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], format!("snapshot {base_id} does not exist"));
}

#[tokio::test]
async fn a_failed_capture_keeps_its_reason_and_cannot_be_started_from() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    let server = crate::support::start(data.path(), &fake).await;
    let source = server.create_running(&["app"]).await;
    let in_data = format!("cannot freeze: {}/sandboxes/x is busy", data.path().display());
    fake.fail_next_snapshot(&in_data);
    let failed = snapshot(&server, &source).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    // The data directory's place is not told to clients.
    assert_eq!(failed["failure_reason"], "cannot freeze: <data dir>/sandboxes/x is busy");
    let id = failed["id"].as_str().unwrap();
    assert!(!data.path().join("snapshots").join(id).exists());
    let (status, body) =
        server.post("/v1/sandbox/run", json!({ "image": "", "snapshot_id": id })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        format!(
            "snapshot {id} cannot be used: its capture failed (cannot freeze: <data dir>/sandboxes/x is busy)"
        )
    );
}

#[tokio::test]
async fn only_a_running_sandbox_can_be_snapshotted() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    let server = crate::support::start(data.path(), &fake).await;
    let id = server.create_running(&["app"]).await;
    assert_eq!(server.delete(&format!("/v1/sandbox/{id}")).await.0, StatusCode::NO_CONTENT);
    let (status, body) = server.post(&format!("/v1/sandbox/{id}/snapshot"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["error"],
        format!("sandbox {id} has been terminated: only a running sandbox can be snapshotted")
    );
    let (status, body) =
        server.post(&format!("/v1/sandbox/{id}/snapshot"), json!({ "mode": "full" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
