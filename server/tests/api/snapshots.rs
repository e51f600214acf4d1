//! Snapshot refusals, and a snapshot outliving its sandbox. (What a capture holds needs real
//! containers: `cli/tests/api_snapshots.rs`.)

use std::time::{Duration, Instant};

use porter_sandbox::{
    ErrorKind, Porter, Sandbox,
    types::{
        SandboxSpec, Snapshot, SnapshotMode, SnapshotSpec, SnapshotStatus, StatusResponsePhase,
    },
};
use porter_sandbox_server::runtime::fake::FakeRuntime;

use crate::{support, wait_finished, wait_started};

async fn running(porter: &Porter, spec: SandboxSpec) -> Sandbox {
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    assert_eq!(wait_started(&sandbox).await, StatusResponsePhase::Running);
    sandbox
}

/// Takes a snapshot and waits until its capture settled.
async fn capture(porter: &Porter, sandbox: &Sandbox) -> Snapshot {
    let pending = porter.snapshots().create(sandbox.id(), SnapshotSpec::default()).await.unwrap();
    assert_eq!(pending.sandbox_id, sandbox.id());
    assert_eq!(pending.mode, SnapshotMode::Filesystem);
    let deadline = Instant::now() + crate::PATIENCE;
    loop {
        let snapshot = porter.snapshots().get(&pending.id).await.unwrap();
        if snapshot.status != SnapshotStatus::Pending || Instant::now() > deadline {
            return snapshot;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn snapshot_refusals_say_what_is_wrong() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
    let api = porter.raw().snapshots();

    let err = api.create_snapshot("sb-nope", &SnapshotSpec::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    for err in [
        api.get_snapshot("snap-nope").await.unwrap_err(),
        api.delete_snapshot("snap-nope").await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }

    let sandbox = running(&porter, SandboxSpec::new("host").command(["sleep", "300"])).await;
    let full = SnapshotSpec { mode: Some(SnapshotMode::Full) };
    let err = api.create_snapshot(sandbox.id(), &full).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.message().contains("full"), "{}", err.message());

    // Both an image and a snapshot: refused, naming both.
    let snapshot = capture(&porter, &sandbox).await;
    let mut both = SandboxSpec::from_snapshot(&snapshot.id);
    both.image = "host".into();
    let err = porter.sandboxes().create(both).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.message().contains("snapshot_id"), "{}", err.message());

    // Only running sandboxes can be captured.
    sandbox.terminate().await.unwrap();
    assert_eq!(wait_finished(&sandbox).await, StatusResponsePhase::Terminated);
    let err = api.create_snapshot(sandbox.id(), &SnapshotSpec::default()).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    assert!(err.message().contains("running"), "{}", err.message());

    // A snapshot outlives its source sandbox and still starts new ones.
    let copy =
        running(&porter, SandboxSpec::from_snapshot(&snapshot.id).command(["sleep", "300"])).await;
    copy.terminate().await.unwrap();
    api.delete_snapshot(&snapshot.id).await.unwrap();
}
