//! Crashes and restarts: `kill -9` of the server mid-run and mid-upload, then a restart on the
//! same data directory. Nothing is lost, nothing is torn, running sandboxes are re-adopted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use porter_sandbox::{
    BinaryBody, LogsQuery,
    types::{
        SandboxSpec, SnapshotSpec, SnapshotStatus, StatusResponsePhase,
        StatusResponseTerminationReason, VolumeSpec,
    },
};
use support::{start_server, start_unprivileged_server, unique, wait_finished, wait_started};

const START: Duration = Duration::from_secs(30);

/// Waits (bounded by `START`) until `sandbox` has logged `line`.
async fn wait_for_line(sandbox: &porter_sandbox::Sandbox, line: &str) {
    let deadline = Instant::now() + START;
    while !sandbox.logs(LogsQuery::new()).await.unwrap().iter().any(|l| l.line == line) {
        assert!(Instant::now() < deadline, "{line:?} was never logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_no_record_and_running_sandboxes_are_readopted() {
    let server = start_server(&[]);
    let porter = server.client();
    let name = unique("survivor");
    let survivor = porter
        .sandboxes()
        .create(SandboxSpec::new("host").name(&name).command([
            "sh",
            "-c",
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
        ]))
        .await
        .unwrap();
    let finisher = porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sh", "-c", "sleep 2; echo bye; exit 5"]))
        .await
        .unwrap();
    assert_eq!(wait_started(&survivor, START).await, StatusResponsePhase::Running);
    assert_eq!(wait_started(&finisher, START).await, StatusResponsePhase::Running);
    let volume = porter.volumes().create(VolumeSpec::named(unique("keep"))).await.unwrap();
    let volume = volume.into_disk().unwrap();
    volume.write_text("kept.txt", "still here").await.unwrap();
    // Some output is logged before the crash, so that a line logged twice would show.
    wait_for_line(&survivor, "tick 2").await;

    // kill -9 while both run; the finisher exits while no server watches.
    let server = server.crash_and_restart();
    let porter = server.client();

    let survivor = porter.sandboxes().get(&name).await.unwrap();
    assert_eq!(survivor.phase(), Some(StatusResponsePhase::Running), "re-adopted");
    let out = survivor.exec(["echo", "alive"]).await.unwrap();
    assert_eq!(out.stdout, "alive\n");
    let before = survivor.logs(LogsQuery::new()).await.unwrap().len();
    let deadline = Instant::now() + START;
    let logs = loop {
        let logs = survivor.logs(LogsQuery::new()).await.unwrap();
        if logs.len() > before + 2 {
            break logs;
        }
        assert!(Instant::now() < deadline, "output keeps flowing after the restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ticks: Vec<&str> =
        logs.iter().map(|l| l.line.as_str()).filter(|l| l.starts_with("tick")).collect();
    let mut unique_ticks = ticks.clone();
    unique_ticks.dedup();
    assert_eq!(ticks, unique_ticks, "no line is logged twice");

    let finisher = porter.sandboxes().get_by_id(finisher.id()).await.unwrap();
    assert_eq!(wait_finished(&finisher, START).await, StatusResponsePhase::Failed);
    let status = finisher.status().unwrap();
    assert_eq!(status.exit_code, Some(5), "the exit code survives the crash");
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::WorkloadExited));
    assert!(finisher.logs(LogsQuery::new()).await.unwrap().iter().any(|l| l.line == "bye"));

    let volume = porter.volumes().get(&volume.name()).await.unwrap().into_disk().unwrap();
    assert_eq!(volume.read_text("kept.txt", None, None).await.unwrap(), "still here");
    survivor.terminate().await.unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_snapshot_fails_the_capture_and_thaws_the_sandbox() {
    let server = start_server(&[]);
    let porter = server.client();
    let sandbox = idle_sandbox(&porter).await;
    // Enough data that the copy is still running when the server dies.
    let fill = sandbox.exec(["sh", "-c", "head -c 400000000 /dev/zero > /tmp/big"]).await.unwrap();
    assert_eq!(fill.exit_code, 0, "{fill:?}");
    let pending = porter.snapshots().create(sandbox.id(), SnapshotSpec::default()).await.unwrap();
    let server = server.crash_and_restart();
    let porter = server.client();

    let snapshot = porter.snapshots().get(&pending.id).await.unwrap();
    assert_eq!(snapshot.status, SnapshotStatus::Failed, "{snapshot:?}");
    assert!(snapshot.failure_reason.unwrap().contains("server stopped"));
    assert!(!server.data_dir.join("snapshots").join(&pending.id).exists(), "no partial files");
    // The sandbox was frozen for the copy: the new server thawed and re-adopted it.
    let sandbox = porter.sandboxes().get_by_id(sandbox.id()).await.unwrap();
    assert_eq!(sandbox.phase(), Some(StatusResponsePhase::Running));
    let out = tokio::time::timeout(Duration::from_secs(10), sandbox.exec(["echo", "thawed"]))
        .await
        .expect("the sandbox answers")
        .unwrap();
    assert_eq!(out.stdout, "thawed\n");
    // And it can be captured again.
    let again = porter.snapshots().create(sandbox.id(), SnapshotSpec::default()).await.unwrap();
    let mut status = again.status;
    for _ in 0..600 {
        status = porter.snapshots().get(&again.id).await.unwrap().status;
        if status != SnapshotStatus::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, SnapshotStatus::Ready);
    sandbox.terminate().await.unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_upload_leaves_the_old_content() {
    let server = start_server(&[]);
    let porter = server.client();
    let volume = porter.volumes().create(VolumeSpec::default()).await.unwrap().into_disk().unwrap();
    volume.write_text("model.bin", "old content").await.unwrap();

    // An upload that never finishes: the body trickles until the server is killed.
    let slow = BinaryBody::from_stream_factory(None, || {
        let chunks = futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok(bytes::Bytes::from(vec![b'x'; 64 * 1024])), n + 1))
        });
        Ok(Box::pin(chunks))
    });
    let raw = volume.raw().clone();
    let id = volume.id().to_owned();
    let upload = tokio::spawn(async move {
        raw.write_volume_file(&id, slow, "/model.bin", Some(Duration::from_secs(20))).await
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let server = server.crash_and_restart();
    assert!(upload.await.unwrap().is_err());

    let porter = server.client();
    let volume = porter.volumes().get_by_id(volume.id()).await.unwrap().into_disk().unwrap();
    assert_eq!(volume.read_text("model.bin", None, None).await.unwrap(), "old content");
    let names: Vec<String> =
        volume.listdir("/").await.unwrap().into_iter().map(|f| f.name).collect();
    assert_eq!(names, vec!["model.bin"], "no partial upload is visible");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_is_killed_when_the_client_goes_away() {
    let server = start_server(&[]);
    let porter = server.client();
    let sandbox = idle_sandbox(&porter).await;
    let body = porter_sandbox::types::ExecRequest::new([
        "sh",
        "-c",
        "while true; do date >> /tmp/alive; sleep 0.1; done",
    ]);
    let err = sandbox
        .raw()
        .exec_sandbox(sandbox.id(), &body, Some(Duration::from_millis(700)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), porter_sandbox::ErrorKind::Timeout);
    // Killed once the server notices the client left: the file stops growing (it grows every
    // 0.1 s while the command runs); awaited, within a bound.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let first = sandbox.exec(["wc", "-l", "/tmp/alive"]).await.unwrap().stdout;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let second = sandbox.exec(["wc", "-l", "/tmp/alive"]).await.unwrap().stdout;
        if first == second {
            break;
        }
        assert!(Instant::now() < deadline, "the abandoned command must have been killed");
    }
    sandbox.terminate().await.unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_an_unusable_runtime() {
    let server = start_unprivileged_server();
    let porter = server.client();
    let err = porter.readyz().await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.message().contains("root"), "{}", err.message());
    let sandbox = porter.sandboxes().create(SandboxSpec::new("host")).await.unwrap();
    assert_eq!(wait_finished(&sandbox, START).await, StatusResponsePhase::Failed);
    assert_eq!(
        sandbox.status().unwrap().termination_reason,
        Some(StatusResponseTerminationReason::LaunchFailed)
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_required_when_configured() {
    let server = start_server(&["--api-key", "sekrit"]);
    let anonymous = server.anonymous_client();
    let err = anonymous.sandboxes().get("any").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    // Health probes carry no key: /healthz is open and reveals nothing.
    assert_eq!(anonymous.healthz().await.unwrap().status, "ok");
    let wrong = porter_sandbox::Porter::builder()
        .base_url(&server.base_url)
        .api_key("nope")
        .build()
        .unwrap();
    assert_eq!(wrong.readyz().await.unwrap_err().status(), Some(401));
    let right = porter_sandbox::Porter::builder()
        .base_url(&server.base_url)
        .api_key("sekrit")
        .build()
        .unwrap();
    right.readyz().await.unwrap();
    let volume = right.volumes().create(VolumeSpec::default()).await.unwrap().into_disk().unwrap();
    volume.write_text("a.txt", "through the redirect, with the key").await.unwrap();
    assert_eq!(
        volume.read_text("a.txt", None, None).await.unwrap(),
        "through the redirect, with the key"
    );
    server.stop();
}

#[test]
fn no_authentication_is_refused_off_loopback() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_porter-sandbox"))
        .args(["serve", "--insecure-no-auth", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .env_remove("PORTER_SANDBOX_SERVER_API_KEYS")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("only allowed on a loopback address"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_does_not_wait_for_ever_on_a_running_exec() {
    let server = start_server(&[]);
    let porter = server.client();
    let sandbox = idle_sandbox(&porter).await;
    let pending = {
        let sandbox = sandbox.clone();
        tokio::spawn(async move { sandbox.exec(["sleep", "120"]).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(20), "stopping took {waited:?}");
    // The exec ends with the server: cut off, or answered 409 since its (ephemeral) sandbox
    // was terminated while it ran.
    match pending.await.unwrap() {
        Ok(out) => assert_ne!(out.exit_code, 0, "{out:?}"),
        Err(err) => assert!(
            err.kind() == porter_sandbox::ErrorKind::Network
                || (err.status() == Some(409) && err.to_string().contains("while the command ran")),
            "{err}"
        ),
    }
}

/// A running `host` sandbox that sleeps.
async fn idle_sandbox(porter: &porter_sandbox::Porter) -> porter_sandbox::Sandbox {
    let spec = SandboxSpec::new("host").command(["sleep", "300"]);
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    assert_eq!(wait_started(&sandbox, START).await, StatusResponsePhase::Running);
    sandbox
}
