//! Terminate never answers success without stopping the sandbox and recording it (issue 12,
//! row 6): when the store cannot be written (a full disk), DELETE stops the container and
//! answers 5xx; once the store works again, DELETE records the termination.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hardening_support;
mod support;

use std::{path::Path, process::Command, time::Duration};

use hardening_support::container_exists;
use porter_sandbox::types::{SandboxSpec, StatusResponsePhase};
use support::{start_server, wait_started};

/// Makes the database files immutable (`+i`) or writable again (`-i`): writes then fail the
/// way they do on a full disk, even through the server's open descriptors.
fn chattr(flag: &str, data_dir: &Path) {
    for name in ["state.db", "state.db-wal"] {
        let status = Command::new("chattr").arg(flag).arg(data_dir.join(name)).status().unwrap();
        assert!(status.success(), "chattr {flag} {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_stops_first_and_fails_when_it_cannot_record() {
    let server = start_server(&[]);
    let porter = server.client();
    let sandbox = porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sleep", "infinity"]))
        .await
        .unwrap();
    assert_eq!(wait_started(&sandbox, Duration::from_secs(30)).await, StatusResponsePhase::Running);
    let id = sandbox.id().to_owned();

    chattr("+i", &server.data_dir);
    let refused = sandbox.terminate().await;
    let stopped = !container_exists(&id);
    chattr("-i", &server.data_dir);

    let phase_after_failure = sandbox.refresh().await.unwrap().phase;
    let retried = sandbox.terminate().await;
    let phase = sandbox.refresh().await.unwrap().phase;
    if !stopped {
        let _ = Command::new("crun").args(["kill", &id, "KILL"]).status();
    }
    server.stop();

    let err = refused.expect_err("DELETE must not succeed when the termination is not recorded");
    assert!(err.to_string().contains("could not be recorded"), "{err}");
    assert!(stopped, "the container was stopped before the record was attempted");
    assert_eq!(phase_after_failure, StatusResponsePhase::Running, "nothing was recorded");
    retried.unwrap();
    assert_eq!(phase, StatusResponsePhase::Terminated);
}
