//! No sandbox runs untracked (issue 12, row 4): a server starting on a data directory ends
//! every container of its own that its store does not track.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use porter_sandbox::types::{SandboxSpec, StatusResponsePhase};
use support::{start_server, start_server_in, wait_started};

/// The pid of the server serving `data_dir` (the harness keeps its child private).
fn server_pid(data_dir: &Path) -> u32 {
    let needle = data_dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<String> =
                raw.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            args.iter().any(|a| a == "serve") && args.iter().any(|a| *a == needle)
        })
        .expect("the server process")
}

/// Whether crun knows container `id`.
fn container_exists(id: &str) -> bool {
    Command::new("crun").args(["state", id]).output().is_ok_and(|o| o.status.success())
}

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
    let pid = server_pid(&first.data_dir);
    // SAFETY: signalling the test's own server process.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
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
