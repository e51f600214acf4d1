//! A server restart: a second service over the same data directory and the sandboxes the first
//! one left on the (fake) host. Each server runs in a tokio runtime of its own, and the first
//! runtime is shut down before the second server starts: every task of the first server (event
//! loop, reaper, exit timers) ends with it, as with a process that ended.

use std::time::Duration;

use porter_sandbox_server::runtime::{
    Runtime,
    fake::{FakeRuntime, FakeState, Workload},
};
use serde_json::json;
use tempfile::TempDir;

use crate::support::{self, wait_until};

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn a_restarted_server_adopts_settles_and_cleans_up_what_the_previous_one_left() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    fake.script_workload(&["work"], Workload::runs());

    let first = tokio_runtime();
    let (adopted, exited, lost, creating) = first.block_on(async {
        let server = support::start(data.path(), &fake).await;
        let adopted = server.create_running(&["work", "1"]).await;
        let exited = server.create_running(&["work", "2"]).await;
        let lost = server.create_running(&["work", "3"]).await;
        // Still starting when this server ends: no runtime state was recorded for it.
        fake.script_workload(&["slow"], Workload::runs().starting_in(Duration::from_secs(3600)));
        let creating = server.create(json!({ "image": "host", "command": ["slow"] })).await;
        server.wait_phase(&creating, "creating").await;
        (adopted, exited, lost, creating)
    });
    // The first server ends (its tasks with it); meanwhile, one workload exits and one
    // sandbox vanishes from the host; one that no server tracks appears.
    drop(first);
    let second = tokio_runtime();
    second.block_on(async {
        let restarted = fake.restarted();
        assert!(restarted.exit(&exited, 5).await);
        restarted.kill(&lost).await.unwrap();
        restarted.plant("sb-untracked");

        let server = support::start(data.path(), &restarted).await;
        let running = server.status(&adopted).await;
        assert_eq!(running["phase"], "running", "{running}");
        let settled = server.wait_phase(&exited, "failed").await;
        assert_eq!(settled["exit_code"], 5, "{settled}");
        assert_eq!(settled["termination_reason"], "workload_exited", "{settled}");
        let gone = server.wait_phase(&lost, "failed").await;
        assert_eq!(gone["termination_reason"], "backend_lost", "{gone}");
        let lines = server.log_lines(&lost).await;
        assert_eq!(lines, ["the sandbox was lost when the server restarted"]);
        let unfinished = server.status(&creating).await;
        assert_eq!(unfinished["phase"], "failed", "{unfinished}");
        assert_eq!(unfinished["termination_reason"], "backend_lost", "{unfinished}");
        assert_eq!(restarted.state("sb-untracked"), None, "the untracked sandbox was ended");
        assert!(restarted.kills().contains(&"sb-untracked".to_owned()));

        // The adopted sandbox's events reach the new server.
        assert_eq!(restarted.state(&adopted), Some(FakeState::Running));
        assert!(restarted.exit(&adopted, 0).await);
        let done = server.wait_phase(&adopted, "succeeded").await;
        assert_eq!(done["exit_code"], 0, "{done}");
        wait_until("the adopted sandbox's removal", async || restarted.state(&adopted).is_none())
            .await;
    });
}

#[test]
fn an_exit_due_while_no_server_watched_is_found_at_the_restart() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    fake.script_workload(&["brief"], Workload::exits(7, Duration::from_millis(500)));
    let first = tokio_runtime();
    let id = first.block_on(async {
        let server = support::start(data.path(), &fake).await;
        server.create_running(&["brief"]).await
    });
    drop(first);
    // Past the exit, which no server saw.
    std::thread::sleep(Duration::from_millis(600));
    tokio_runtime().block_on(async {
        let server = support::start(data.path(), &fake.restarted()).await;
        let ended = server.wait_phase(&id, "failed").await;
        assert_eq!(ended["exit_code"], 7, "{ended}");
        assert_eq!(ended["termination_reason"], "workload_exited", "{ended}");
    });
}

#[test]
fn a_capture_cut_short_by_the_restart_is_failed_and_its_files_removed() {
    let data = TempDir::new().unwrap();
    let fake = FakeRuntime::new();
    fake.set_snapshot_time(Duration::from_secs(3600));
    let first = tokio_runtime();
    let (sandbox, snapshot) = first.block_on(async {
        let server = support::start(data.path(), &fake).await;
        let sandbox = server.create_running(&["app"]).await;
        let (_, pending) = server.post(&format!("/v1/sandbox/{sandbox}/snapshot"), json!({})).await;
        assert_eq!(pending["status"], "pending", "{pending}");
        // Cut short in the capture itself (not while its base image is still being resolved).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !fake.captures().contains(&sandbox) {
            assert!(std::time::Instant::now() < deadline, "the capture never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (sandbox, pending["id"].as_str().unwrap().to_owned())
    });
    drop(first);
    // What a capture cut short may leave behind.
    let leftover = data.path().join("snapshots").join(&snapshot);
    std::fs::create_dir_all(leftover.join("layer.partial")).unwrap();
    tokio_runtime().block_on(async {
        let server = support::start(data.path(), &fake.restarted()).await;
        let (_, record) = server.get(&format!("/v1/snapshot/{snapshot}")).await;
        assert_eq!(record["status"], "failed", "{record}");
        assert_eq!(
            record["failure_reason"],
            "the server stopped during the capture: take the snapshot again"
        );
        assert!(!leftover.exists(), "the partial capture is removed");
        assert_eq!(server.status(&sandbox).await["phase"], "running", "its sandbox runs on");
    });
}
