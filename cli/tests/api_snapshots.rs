//! Snapshots end to end: filesystem captures of real sandboxes and sandboxes started from them
//! (also from a snapshot of a snapshot, deletions included). The refusals run on the fake
//! runtime in `server/tests/api/snapshots.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use porter_sandbox::{
    ErrorKind, Porter, Sandbox,
    types::{
        SandboxSpec, Snapshot, SnapshotMode, SnapshotSpec, SnapshotStatus, StatusResponsePhase,
    },
};
use support::{shared, unique, wait_started};

const START: Duration = Duration::from_secs(30);

async fn running(porter: &Porter, spec: SandboxSpec) -> Sandbox {
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    assert_eq!(wait_started(&sandbox, START).await, StatusResponsePhase::Running);
    sandbox
}

async fn sh(sandbox: &Sandbox, script: &str) -> String {
    let out = sandbox.exec(["sh", "-c", script]).await.unwrap();
    assert_eq!(out.exit_code, 0, "{script}: {}", out.stderr);
    out.stdout
}

/// Takes a snapshot and waits until its capture settled.
async fn capture(porter: &Porter, sandbox: &Sandbox) -> Snapshot {
    let pending = porter.snapshots().create(sandbox.id(), SnapshotSpec::default()).await.unwrap();
    assert_eq!(pending.sandbox_id, sandbox.id());
    assert_eq!(pending.mode, SnapshotMode::Filesystem);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let snapshot = porter.snapshots().get(&pending.id).await.unwrap();
        if snapshot.status != SnapshotStatus::Pending || Instant::now() > deadline {
            return snapshot;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_snapshot_captures_files_and_starts_new_sandboxes() {
    let porter = shared().client();
    let source = running(
        &porter,
        SandboxSpec::new("host").name(unique("snap-src")).command(["sleep", "300"]),
    )
    .await;
    sh(&source, "echo prepared > $HOME/state.txt && mkdir -p /tmp/work && head -c 100000 /dev/zero > /tmp/work/blob").await;

    let snapshot = capture(&porter, &source).await;
    assert_eq!(snapshot.status, SnapshotStatus::Ready, "{snapshot:?}");
    assert!(snapshot.size_bytes.unwrap() >= 100_000, "{snapshot:?}");
    let (created, ready) = (snapshot.t_created_unix_ms.unwrap(), snapshot.t_ready_unix_ms.unwrap());
    assert!(ready >= created, "{snapshot:?}");
    assert!(snapshot.failure_reason.is_none());

    // The source kept running and is unchanged.
    assert_eq!(source.refresh().await.unwrap().phase, StatusResponsePhase::Running);
    assert_eq!(sh(&source, "cat $HOME/state.txt").await, "prepared\n");

    // A new sandbox from the snapshot sees the files; its own writes stay its own.
    let copy =
        running(&porter, SandboxSpec::from_snapshot(&snapshot.id).command(["sleep", "300"])).await;
    let status = copy.status().unwrap();
    assert_eq!(status.image, "host", "a snapshot's sandbox shows the base image");
    assert_eq!(
        sh(&copy, "cat $HOME/state.txt; wc -c < /tmp/work/blob").await,
        "prepared\n100000\n"
    );
    sh(&copy, "echo changed > $HOME/state.txt").await;
    assert_eq!(sh(&source, "cat $HOME/state.txt").await, "prepared\n");

    // Listing: newest first, by sandbox.
    let second = capture(&porter, &source).await;
    let listed = porter.snapshots().list(Some(source.id())).await.unwrap().snapshots;
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [second.id.as_str(), snapshot.id.as_str()]);
    let all = porter.snapshots().list(None).await.unwrap().snapshots;
    assert!(all.iter().any(|s| s.id == snapshot.id));
    let other = porter.snapshots().list(Some("sb-none")).await.unwrap().snapshots;
    assert!(other.is_empty());

    // In use by a running sandbox: not deletable; once that one ends, it is.
    let err = porter.snapshots().delete(&snapshot.id).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert!(err.message().contains(copy.id()), "{}", err.message());
    copy.terminate().await.unwrap();
    porter.snapshots().delete(&snapshot.id).await.unwrap();
    let gone = porter.snapshots().get(&snapshot.id).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    let err =
        porter.sandboxes().create(SandboxSpec::from_snapshot(&snapshot.id)).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    porter.snapshots().delete(&second.id).await.unwrap();
    source.terminate().await.unwrap();
}

#[tokio::test]
async fn snapshots_of_snapshots_keep_deletions() {
    let porter = shared().client();
    let first = running(&porter, SandboxSpec::new("host").command(["sleep", "300"])).await;
    sh(&first, "echo a > /tmp/a && echo keep > /tmp/keep").await;
    let base = capture(&porter, &first).await;
    assert_eq!(base.status, SnapshotStatus::Ready);

    // The second sandbox deletes a file of the first snapshot: a whiteout in its layer.
    let second =
        running(&porter, SandboxSpec::from_snapshot(&base.id).command(["sleep", "300"])).await;
    sh(&second, "rm /tmp/a && echo b > /tmp/b").await;
    let top = capture(&porter, &second).await;
    assert_eq!(top.status, SnapshotStatus::Ready);

    let third =
        running(&porter, SandboxSpec::from_snapshot(&top.id).command(["sleep", "300"])).await;
    assert_eq!(sh(&third, "ls /tmp | sort | tr '\\n' ' '").await, "b keep ");

    // The base snapshot holds files `top` needs: it goes only after `top`.
    for sandbox in [&first, &second, &third] {
        sandbox.terminate().await.unwrap();
    }
    let err = porter.snapshots().delete(&base.id).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert!(err.message().contains(&top.id), "{}", err.message());
    porter.snapshots().delete(&top.id).await.unwrap();
    porter.snapshots().delete(&base.id).await.unwrap();
}
