//! No sandbox runs untracked: a server starting on a data directory ends
//! every container of its own that its store does not track.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hardening_support;
mod support;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use hardening_support::container_exists;
use porter_sandbox::types::{SandboxSpec, StatusResponsePhase};
use support::{start_server, start_server_in, wait_started};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_ends_a_container_its_store_does_not_track() {
    let first = start_server(&[]);
    let sandbox = first
        .client()
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sleep", "infinity"]))
        .await
        .unwrap();
    assert_eq!(wait_started(&sandbox, Duration::from_secs(30)).await, StatusResponsePhase::Running);
    let id = sandbox.id().to_owned();
    assert!(container_exists(&id));

    // A crash, then the store forgets the sandbox: its container is now untracked.
    let pid = first.pid();
    // SAFETY: signalling the test's own server process.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(Instant::now() < deadline, "the server did not die");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(first.data_dir.join(name));
    }
    assert!(container_exists(&id), "the sandbox outlives its server");

    let second = start_server_in(tempfile::tempdir().unwrap(), first.data_dir.clone(), &[], &[]);
    let still_there = container_exists(&id);
    let dir_left = first.data_dir.join("sandboxes").join(&id).exists();
    if still_there {
        // Never leave it behind, whatever the outcome.
        let _ = Command::new("crun").args(["kill", &id, "KILL"]).status();
        let _ = Command::new("crun").args(["delete", "-f", &id]).status();
    }
    second.stop();
    drop(first);
    assert!(!still_there, "the untracked container {id} still runs");
    assert!(!dir_left, "the untracked sandbox's directory was removed");
}
