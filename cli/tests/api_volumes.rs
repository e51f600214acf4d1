//! Volumes mounted into real sandboxes. The volume and files API without sandboxes runs on the
//! fake runtime in `server/tests/api/volumes.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use porter_sandbox::{
    Volume,
    types::{SandboxSpec, StatusResponsePhase, VolumeSpec},
};
use support::{shared, unique, wait_started};

async fn new_volume(name: Option<&str>) -> Volume {
    let porter = shared().client();
    let spec = name.map_or_else(VolumeSpec::default, VolumeSpec::named);
    porter.volumes().create(spec).await.unwrap().into_disk().unwrap()
}

#[tokio::test]
async fn volumes_mount_into_sandboxes_and_block_deletion() {
    let porter = shared().client();
    let volume = new_volume(None).await;
    volume.write_text("in/hello.txt", "from the api").await.unwrap();
    let sandbox = porter
        .sandboxes()
        .create(
            SandboxSpec::new("host")
                .name(unique("mounted"))
                .command(["sleep", "300"])
                .volume_mount("/data", volume.id()),
        )
        .await
        .unwrap();
    assert_eq!(wait_started(&sandbox, Duration::from_secs(30)).await, StatusResponsePhase::Running);
    assert_eq!(sandbox.status().unwrap().volume_mounts.unwrap()["/data"], volume.id());
    let out = sandbox.exec(["cat", "/data/in/hello.txt"]).await.unwrap();
    assert_eq!(out.stdout, "from the api");
    let out = sandbox.exec(["sh", "-c", "echo from the sandbox > /data/out.txt"]).await.unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert_eq!(volume.read_text("out.txt", None, None).await.unwrap(), "from the sandbox\n");
    // What the files API created is the default user's to change: edit the uploaded file,
    // add one beside it in the directory the upload created.
    let script = "echo edited >> /data/in/hello.txt && echo new > /data/in/new.txt && id -u";
    let out = sandbox.exec(["sh", "-c", script]).await.unwrap();
    assert_eq!((out.exit_code, out.stdout.as_str()), (0, "1000\n"), "{}", out.stderr);
    assert_eq!(volume.read_text("in/hello.txt", None, None).await.unwrap(), "from the apiedited\n");
    assert_eq!(volume.read_text("in/new.txt", None, None).await.unwrap(), "new\n");

    assert_eq!(volume.refresh().await.unwrap().attached_to, vec![sandbox.id().to_owned()]);
    let err = volume.delete().await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    sandbox.terminate().await.unwrap();
    assert!(volume.refresh().await.unwrap().attached_to.is_empty());
    volume.delete().await.unwrap();

    let err = porter
        .sandboxes()
        .create(SandboxSpec::new("host").volume_mount("/data", "vol-missing"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
}
