#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Disk limits and the volume files API under abuse, through
//! HTTP against a service built here, so the size limits can be tiny. Needs root (loop mounts);
//! the sandbox tests also need crun and skip without it.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use porter_sandbox::{
    Porter,
    types::{SandboxSpec, StatusResponsePhase, VolumeSpec},
};
use porter_sandbox_server::{
    http::router,
    runtime::oci::OciRuntime,
    service::{Service, ServiceOptions},
    volumes::{image, storage},
};
use tempfile::TempDir;

const KEY: &str = "disk-test-key-0123456789";
const MIB: u64 = 1 << 20;

/// A service on a temporary data directory, served on a free loopback port. Dropping it
/// unmounts whatever is still mounted under the data directory, even after a failed assert.
struct Server {
    service: Arc<Service>,
    porter: Porter,
    data: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(data: &Path, configure: impl FnOnce(&mut ServiceOptions)) -> Server {
    let mut options = ServiceOptions::new(data.to_path_buf());
    options.api_keys = vec![KEY.to_owned()];
    configure(&mut options);
    let runtime = Arc::new(OciRuntime::new(data.join("sandboxes")));
    let service = Service::start(options, runtime).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(service.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let porter = Porter::builder().base_url(format!("http://{addr}")).api_key(KEY).build().unwrap();
    Server { service, porter, data: data.to_path_buf(), task }
}

impl Server {
    /// Like SIGKILL for the volumes: the listener stops, the mounts stay.
    fn crash(self) {
        self.task.abort();
        std::mem::forget(self);
    }

    /// A graceful stop: waits for teardowns and unmounts the volumes.
    async fn stop(self) {
        self.task.abort();
        self.service.wait_teardowns(Duration::from_secs(10)).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        unmount_all_under(&self.data);
    }
}

fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect()
}

fn unmount_all_under(dir: &Path) {
    for point in mounts_under(dir) {
        let _ = std::process::Command::new("umount").arg("-l").arg(point).status();
    }
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap().split_whitespace().nth(2);
    if uid == Some("0") {
        return true;
    }
    eprintln!("skipping: loop mounts need root");
    false
}

async fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_volume_answers_507_and_keeps_the_host_disk() {
    if !is_root() {
        return;
    }
    let tmp = TempDir::new().unwrap();
    let server = serve(&tmp.path().join("data"), |o| o.volume_size_bytes = Some(16 * MIB)).await;
    let volume = server.porter.volumes().create(VolumeSpec::disk()).await.unwrap();
    let disk = volume.as_disk().unwrap();
    let dir = server.data.join("volumes").join(volume.id());
    assert!(mounts_under(&dir).contains(&dir), "the volume has a filesystem of its own");
    assert!(names_in(&dir).is_empty(), "no lost+found in a new volume: {:?}", names_in(&dir));

    disk.write_file("/keep.txt", b"before".to_vec()).await.unwrap();
    let started = Instant::now();
    let err = disk.write_file("/big/blob.bin", vec![7u8; 32 * MIB as usize]).await.unwrap_err();
    assert_eq!(err.status(), Some(507), "{}", err.message());
    assert!(err.message().contains("volume is full"), "{}", err.message());
    assert!(!err.message().contains(&*server.data.to_string_lossy()), "{}", err.message());
    // Not retried: four attempts with backoff would take well over a second.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // The failed upload left no temp file, and the old content is intact.
    assert!(names_in(&dir.join("big")).is_empty(), "{:?}", names_in(&dir.join("big")));
    assert_eq!(disk.read_file("/keep.txt", None, None).await.unwrap().as_ref(), b"before");
    // Space is back once the failure cleaned up: a small write works.
    disk.write_file("/after.txt", b"after".to_vec()).await.unwrap();
    server.stop().await;
    assert!(mounts_under(&dir).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_are_remounted_after_a_crash_or_a_reboot_and_leftovers_removed() {
    if !is_root() {
        return;
    }
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let server = serve(&data, |o| o.volume_size_bytes = Some(32 * MIB)).await;
    let volume = server.porter.volumes().create(VolumeSpec::disk()).await.unwrap();
    let id = volume.id().to_owned();
    volume.as_disk().unwrap().write_file("/a/data.txt", b"durable".to_vec()).await.unwrap();
    let dir = data.join("volumes").join(&id);
    // An upload cut short by a crash leaves its temp file.
    std::fs::write(dir.join("a/.porter-upload-00000000000000ff"), b"half").unwrap();
    server.crash();

    // The mount survived the crash; a new server uses it as it is.
    let server = serve(&data, |_| {}).await;
    let disk = server.porter.volumes().get_by_id(&id).await.unwrap().into_disk().unwrap();
    assert_eq!(disk.read_file("/a/data.txt", None, None).await.unwrap().as_ref(), b"durable");
    poll("the leftover upload to be removed", || {
        (!dir.join("a/.porter-upload-00000000000000ff").exists()).then_some(())
    })
    .await;
    // A reboot: nothing is mounted any more; the next start mounts the volume again.
    server.crash();
    unmount_all_under(&data);
    assert!(dir.is_dir() && names_in(&dir).is_empty());
    // A crash in the middle of a create left storage without a record.
    let volumes = data.join("volumes");
    storage::create(&volumes.join("vol-halfmade"), Some(32 * MIB)).unwrap();
    let server = serve(&data, |_| {}).await;
    let disk = server.porter.volumes().get_by_id(&id).await.unwrap().into_disk().unwrap();
    assert_eq!(disk.read_file("/a/data.txt", None, None).await.unwrap().as_ref(), b"durable");
    let img = volumes.join("vol-halfmade.img");
    assert!(!img.exists() && image::loop_devices_of(&img).is_empty());
    poll("the orphan directory to go", || (!volumes.join("vol-halfmade").exists()).then_some(()))
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_volume_releases_its_loop_device_everywhere() {
    if !is_root() {
        return;
    }
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let server = serve(&data, |o| o.volume_size_bytes = Some(32 * MIB)).await;
    let volume = server.porter.volumes().create(VolumeSpec::disk()).await.unwrap();
    let dir = data.join("volumes").join(volume.id());
    let img = storage::image_of(&dir);
    assert_eq!(image::loop_devices_of(&img).len(), 1);
    // A process that copied the host's mounts into its own namespace (as sandbox supervisors
    // and slirp4netns do) holds the filesystem too.
    let mut holder = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sleep", "60"])
        .spawn()
        .unwrap();
    let holder_info = format!("/proc/{}/mountinfo", holder.id());
    poll("the holder's namespace", || {
        std::fs::read_to_string(&holder_info)
            .ok()
            .filter(|t| t.contains(&*dir.to_string_lossy()))
            .map(|_| ())
    })
    .await;
    server.porter.volumes().delete(volume.id()).await.unwrap();
    let released = async {
        poll("the loop device to be released", || {
            image::loop_devices_of(&img).is_empty().then_some(())
        })
        .await;
    };
    released.await;
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!img.exists());
    poll("the volume directory to go", || (!dir.exists()).then_some(())).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_create_on_a_full_disk_answers_507_and_leaves_nothing() {
    if !is_root() {
        return;
    }
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // A small data disk, filled up once the server runs.
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(mounted.success());
    let server = serve(&data, |_| {}).await;
    let mut filler = std::fs::File::create(data.join("filler")).unwrap();
    let chunk = vec![1u8; 64 * 1024];
    while std::io::Write::write_all(&mut filler, &chunk).is_ok() {}
    drop(filler);
    let err = server.porter.volumes().create(VolumeSpec::disk()).await.unwrap_err();
    assert_eq!(err.status(), Some(507), "{}", err.message());
    assert!(err.message().contains("disk is full"), "{}", err.message());
    assert!(!err.message().contains(&*data.to_string_lossy()), "{}", err.message());
    assert!(names_in(&data.join("volumes")).is_empty(), "{:?}", names_in(&data.join("volumes")));
    assert!(server.porter.volumes().list().await.unwrap().is_empty());
    // Once there is space again, creates work.
    std::fs::remove_file(data.join("filler")).unwrap();
    server.porter.volumes().create(VolumeSpec::disk()).await.unwrap();
    server.stop().await; // its drop unmounts the small disk too
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_fifos_and_internal_errors() {
    if !is_root() {
        return;
    }
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let server = serve(&data, |o| o.volume_size_bytes = Some(16 * MIB)).await;
    let volume = server.porter.volumes().create(VolumeSpec::disk()).await.unwrap();
    let disk = volume.as_disk().unwrap();
    let dir = data.join("volumes").join(volume.id());
    // What a sandbox can leave in a volume.
    let _socket = std::os::unix::net::UnixListener::bind(dir.join("sock")).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(dir.join("fifo")).status().unwrap().success());
    for name in ["/sock", "/fifo"] {
        let read = tokio::time::timeout(Duration::from_secs(10), disk.read_file(name, None, None));
        let err = read.await.expect("never hangs").unwrap_err();
        assert_eq!(err.status(), Some(400), "{name}: {}", err.message());
        assert!(err.message().contains("not a regular file"), "{}", err.message());
    }
    // The volume's filesystem is not mounted: refused, rather than serving (and filling) the
    // bare directory on the host's disk.
    unmount_all_under(&data);
    let err = disk.write_file("/x", b"x".to_vec()).await.unwrap_err();
    assert!(err.message().contains("not mounted"), "{}", err.message());
    assert!(names_in(&dir).is_empty());
    // The storage under the volume vanished: a 500 that does not show the host's paths.
    std::fs::remove_file(storage::image_of(&dir)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let err = disk.listdir("/").await.unwrap_err();
    assert_eq!(err.status(), Some(500), "{}", err.message());
    assert!(!err.message().contains(&*data.to_string_lossy()), "{}", err.message());
    assert!(!err.message().contains("/proc/self/fd"), "{}", err.message());
    server.stop().await;
}

/// Sandbox tests need crun; `None` (with a message) without it.
fn sandboxes_available() -> bool {
    if !is_root() {
        return false;
    }
    if let Err(reason) = OciRuntime::detect() {
        eprintln!("skipping: the OCI runtime is unavailable here: {reason}");
        return false;
    }
    true
}

async fn wait_running(sandbox: &porter_sandbox::Sandbox) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = sandbox.refresh().await.unwrap();
        match status.phase.clone() {
            StatusResponsePhase::Running => return,
            StatusResponsePhase::Queued | StatusResponsePhase::Creating => {}
            other => panic!("the sandbox did not start: {other:?} {status:?}"),
        }
        assert!(Instant::now() < deadline, "the sandbox did not start in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_that_fills_its_writable_layer_gets_enospc() {
    if !sandboxes_available() {
        return;
    }
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let server = serve(&data, |o| o.sandbox_disk_bytes = Some(32 * MIB)).await;
    let sandbox = server
        .porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sleep", "300"]))
        .await
        .unwrap();
    wait_running(&sandbox).await;
    let img = data.join("sandboxes").join(sandbox.id()).join("layer.img");
    assert_eq!(image::loop_devices_of(&img).len(), 1, "the layer is a filesystem of its own");
    assert!(mounts_under(&data).is_empty(), "the layer is mounted in the sandbox's namespace only");
    let out = sandbox
        .exec(["sh", "-c", "dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1; echo rc=$?"])
        .await
        .unwrap();
    assert!(out.stdout.contains("No space left on device"), "{}", out.stdout);
    assert!(!out.stdout.contains("rc=0"), "{}", out.stdout);
    // The layer still works for what fits, and a snapshot reads it.
    let out = sandbox.exec(["sh", "-c", "rm /tmp/fill && echo ok > /tmp/small && cat /tmp/small"]);
    assert_eq!(out.await.unwrap().stdout.trim(), "ok");
    sandbox.terminate().await.unwrap();
    poll("the layer's loop device to be released", || {
        image::loop_devices_of(&img).is_empty().then_some(())
    })
    .await;
    poll("the layer image to be deleted", || (!img.exists()).then_some(())).await;
    server.stop().await;
}

/// Median time from create to running, over `n` sandboxes.
async fn create_latency(porter: &Porter, n: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let sandbox = porter
            .sandboxes()
            .create(SandboxSpec::new("host").command(["sleep", "300"]))
            .await
            .unwrap();
        wait_running(&sandbox).await;
        times.push(started.elapsed());
        sandbox.terminate().await.unwrap();
    }
    times.sort();
    times[n / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_limit_costs_little_at_create() {
    if !sandboxes_available() {
        return;
    }
    let tmp = TempDir::new().unwrap();
    let server = serve(&tmp.path().join("a"), |o| o.sandbox_disk_bytes = None).await;
    create_latency(&server.porter, 1).await; // warm up: the host image is prepared once
    let without = create_latency(&server.porter, 7).await;
    server.stop().await;
    let server = serve(&tmp.path().join("b"), |_| {}).await; // the default 10 GiB limit
    create_latency(&server.porter, 1).await;
    let with = create_latency(&server.porter, 7).await;
    server.stop().await;
    eprintln!("create → running, median of 7: {without:?} without a layer limit, {with:?} with");
    // mkfs + loop mount measure ~40–90 ms here; the bound leaves room for a loaded machine.
    assert!(with < without + Duration::from_millis(400), "{with:?} vs {without:?}");
}
