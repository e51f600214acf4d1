//! Terminate never answers success without stopping the sandbox and recording it: when
//! the store cannot be written (a full disk), DELETE stops the container and answers 5xx;
//! once the store works again, DELETE records the termination.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launch_failing_while_the_store_fails_still_ends_failed() {
    // An unreachable registry must fail the launch, not fall back to the `host` image.
    let server = start_server(&["--offline-images", "fail"]);
    // A registry that accepts the connection and answers nothing until told to.
    let registry = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = registry.local_addr().unwrap().port();
    let sandbox = server
        .client()
        .sandboxes()
        .create(SandboxSpec::new(format!("127.0.0.1:{port}/hangs/forever:1")))
        .await
        .unwrap();
    let (connection, _) =
        tokio::time::timeout(Duration::from_secs(30), registry.accept()).await.unwrap().unwrap();
    assert_eq!(sandbox.refresh().await.unwrap().phase, StatusResponsePhase::Creating);

    // The pull fails while the store cannot be written, which recovers a moment later.
    chattr("+i", &server.data_dir);
    drop(connection);
    drop(registry);
    tokio::time::sleep(Duration::from_millis(600)).await;
    chattr("-i", &server.data_dir);

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = sandbox.refresh().await.unwrap();
        if status.phase.is_terminal() || std::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The reason is logged once the store works again (it may follow the phase change).
    let logs = loop {
        let logs = sandbox.logs(porter_sandbox::LogsQuery::new()).await.unwrap();
        if logs.iter().any(|l| l.line.starts_with("launch failed: "))
            || std::time::Instant::now() > deadline
        {
            break logs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    server.stop();
    assert_eq!(status.phase, StatusResponsePhase::Failed, "never left in creating: {logs:?}");
    assert_eq!(
        status.termination_reason,
        Some(porter_sandbox::types::StatusResponseTerminationReason::LaunchFailed)
    );
    assert!(logs.iter().any(|l| l.line.starts_with("launch failed: ")), "{logs:?}");
}
