//! Disk limits end to end: a server with its defaults gives every sandbox's
//! writable layer and every volume a filesystem of its own, of the default size, and releases
//! them (loop devices included) on terminate and delete. Tiny limits and ENOSPC are tested at
//! the service level in `server/tests/hardening_disk.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use porter_sandbox::types::{SandboxSpec, StatusResponsePhase, VolumeSpec};
use support::{start_server, wait_started};

/// Loop devices whose backing file is `image` (sysfs).
fn loop_devices_of(image: &std::path::Path) -> usize {
    std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("loop/backing_file")).is_ok_and(|b| {
                std::path::Path::new(b.trim().trim_end_matches(" (deleted)")) == image
            })
        })
        .count()
}

async fn poll(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_limits_give_layers_and_volumes_their_own_filesystems() {
    let server = start_server(&[]);
    let porter = server.client();
    let volume = porter.volumes().create(VolumeSpec::default()).await.unwrap();
    let sandbox = porter
        .sandboxes()
        .create(
            SandboxSpec::new("host").command(["sleep", "300"]).volume_mount("/data", volume.id()),
        )
        .await
        .unwrap();
    assert_eq!(wait_started(&sandbox, Duration::from_secs(30)).await, StatusResponsePhase::Running);
    // df inside the sandbox: the root (the overlay reports its writable layer) and the volume
    // are each 10 GiB filesystems, not the host's disk.
    let out = sandbox.exec(["df", "-B1", "--output=size", "/", "/data"]).await.unwrap();
    let sizes: Vec<u64> = out.stdout.lines().skip(1).map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(sizes.len(), 2, "{}", out.stdout);
    for size in sizes {
        assert!((9 << 30..=10 << 30).contains(&size), "{size} bytes: {}", out.stdout);
    }
    let layer = server.data_dir.join("sandboxes").join(sandbox.id()).join("layer.img");
    let image = server.data_dir.join("volumes").join(format!("{}.img", volume.id()));
    assert_eq!((loop_devices_of(&layer), loop_devices_of(&image)), (1, 1));

    sandbox.terminate().await.unwrap();
    poll("the layer's loop device to go", || loop_devices_of(&layer) == 0).await;
    porter.volumes().delete(volume.id()).await.unwrap();
    poll("the volume's loop device to go", || loop_devices_of(&image) == 0).await;
    assert!(!image.exists() && !layer.exists());
    server.stop();
}
