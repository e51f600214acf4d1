#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]
//! Registry images end to end: Debian's `docker-registry` on loopback, busybox images built
//! offline with umoci and pushed with skopeo, and the real server (crun sandboxes) pulling them.
//! Needs root and `apt-get install -y crun tini slirp4netns docker-registry umoci skopeo
//! busybox-static apache2-utils`; a missing tool fails the test with what to install.

#[path = "support/registry.rs"]
mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use porter_sandbox::{
    LogsQuery, Porter, Sandbox,
    types::{
        LogLineLevel, SandboxSpec, SnapshotSpec, SnapshotStatus, StatusResponse,
        StatusResponsePhase, StatusResponseTerminationReason,
    },
};
use porter_sandbox_server::{
    images::{ImageOptions, ImageStore, OfflineImages, parse_credentials},
    serve::{self, ServeOptions},
    store::Store,
};

use support::{
    Images, PASSWORD, Registry, USER, build_images, free_port, need, push, push_index, read, run,
};

const WAIT: Duration = Duration::from_secs(60);

/// The tools, the images and an open registry with them pushed, once per test binary.
struct Fixture {
    images: Images,
    open: Registry,
    locked: Registry,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        for (tool, package) in [
            ("docker-registry", "docker-registry"),
            ("umoci", "umoci"),
            ("skopeo", "skopeo"),
            ("htpasswd", "apache2-utils"),
            ("crun", "crun"),
            ("tini", "tini"),
        ] {
            need(tool, package);
        }
        assert!(Path::new("/bin/busybox").is_file(), "install busybox-static");
        let dir = tempfile::tempdir().unwrap();
        let images = build_images(dir.path());
        let open_dir = dir.path().join("open");
        std::fs::create_dir_all(&open_dir).unwrap();
        let open = Registry::start(&open_dir, None);
        let locked_dir = dir.path().join("locked");
        std::fs::create_dir_all(&locked_dir).unwrap();
        let htpasswd = locked_dir.join("htpasswd");
        run(Command::new("htpasswd").args(["-Bbc"]).arg(&htpasswd).args([USER, PASSWORD]));
        let locked = Registry::start(&locked_dir, Some(&htpasswd));
        let o = &open.addr;
        push(&images, "base", &format!("{o}/tools/busybox:oci"), false, false);
        push(&images, "base", &format!("{o}/tools/busybox:docker"), true, false);
        push(&images, "fresh", &format!("{o}/tools/fresh:1"), false, false);
        push_index(&images, &format!("{o}/tools/busybox:multi"));
        push(&images, "base", &format!("{}/private/busybox:1", locked.addr), false, true);
        Fixture { images, open, locked, _dir: dir }
    })
}

/// A real server on a temporary data directory.
struct Server {
    porter: Porter,
    data_dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<Result<(), String>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(images: ImageOptions) -> Self {
        Self::start_with(images, None).await
    }

    async fn start_with(images: ImageOptions, prune_every: Option<Duration>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let server = serve::bind(ServeOptions {
            ephemeral: true,
            images,
            image_prune_interval: prune_every,
            ..ServeOptions::new("127.0.0.1:0".parse().unwrap(), data_dir.clone())
        })
        .await
        .unwrap();
        // The server generated its key into the data directory.
        let porter = Porter::builder()
            .base_url(server.url())
            .api_key(server.api_key().unwrap())
            .build()
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        Self { porter, data_dir, stop: Some(stop), serving: Some(serving), _dir: dir }
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.serving.take().unwrap().await.unwrap().unwrap();
    }

    /// Creates a sandbox of `image` and waits until it leaves queued/creating.
    async fn settle(&self, image: &str) -> (Sandbox, StatusResponse, Duration) {
        let started = Instant::now();
        let sandbox = self.porter.sandboxes().create(SandboxSpec::new(image)).await.unwrap();
        let status = wait_settled(&sandbox).await;
        (sandbox, status, started.elapsed())
    }
}

async fn wait_settled(sandbox: &Sandbox) -> StatusResponse {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = sandbox.refresh().await.unwrap();
        if !matches!(status.phase, StatusResponsePhase::Queued | StatusResponsePhase::Creating) {
            return status;
        }
        assert!(Instant::now() < deadline, "still {:?} after {WAIT:?}", status.phase);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn log_lines(sandbox: &Sandbox) -> Vec<(LogLineLevel, String)> {
    let lines = sandbox.logs(LogsQuery::new()).await.unwrap();
    lines.into_iter().map(|l| (l.level, l.line)).collect()
}

async fn sh(sandbox: &Sandbox, script: &str) -> (i64, String) {
    let out = sandbox.exec(["sh", "-c", script]).await.unwrap();
    (out.exit_code, format!("{}{}", out.stdout, out.stderr))
}

fn assert_running(status: &StatusResponse, logs: &[(LogLineLevel, String)]) {
    assert_eq!(status.phase, StatusResponsePhase::Running, "{status:?}\n{logs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_oci_docker_and_multi_arch_images_dedups_and_prunes() {
    let fx = fixture();
    let o = &fx.open.addr;
    let server = Server::start(ImageOptions::default()).await;

    // OCI manifest, two layers, the second deleting a file of the first.
    let oci = format!("{o}/tools/busybox:oci");
    let (first, status, cold) = server.settle(&oci).await;
    let logs = log_lines(&first).await;
    assert_running(&status, &logs);
    assert_eq!(status.image, oci);
    let progress: Vec<&String> =
        logs.iter().map(|(_, l)| l).filter(|l| l.contains("pulling")).collect();
    assert!(progress.iter().any(|l| l.contains("layer 1/2 (") && l.contains("iB)")), "{logs:#?}");
    assert!(progress.iter().any(|l| l.contains("layer 2/2")), "{logs:#?}");
    assert!(logs.iter().all(|(level, _)| *level == LogLineLevel::Info), "{logs:#?}");
    assert_eq!(sh(&first, "cat /etc/kept /etc/added").await, (0, "kept\nlayer two\n".into()));
    assert_eq!(sh(&first, "test -e /etc/doomed").await.0, 1, "the whiteout deleted it");
    assert_eq!(sh(&first, "echo $FLAVOR").await.1, "native\n");

    // A warm start: no registry round trip, no progress lines.
    let manifest_gets = fx.open.gets("/v2/tools/busybox/manifests/oci");
    let (warm, status, warm_time) = server.settle(&oci).await;
    let logs = log_lines(&warm).await;
    assert_running(&status, &logs);
    assert!(logs.iter().all(|(_, l)| !l.contains("pulling")), "{logs:#?}");
    assert_eq!(fx.open.gets("/v2/tools/busybox/manifests/oci"), manifest_gets);
    eprintln!("registry image: cold pull + start {cold:?}, warm start {warm_time:?}");

    // Docker v2 manifest of the same image: its layers are already here.
    let (docker, status, _) = server.settle(&format!("{o}/tools/busybox:docker")).await;
    let logs = log_lines(&docker).await;
    assert_running(&status, &logs);
    assert!(logs.iter().any(|(_, l)| l.contains("already present")), "{logs:#?}");
    assert_eq!(sh(&docker, "cat /etc/added").await, (0, "layer two\n".into()));

    // A multi-platform index: this machine's entry is chosen, not the first.
    let (multi, status, _) = server.settle(&format!("{o}/tools/busybox:multi")).await;
    assert_running(&status, &log_lines(&multi).await);
    assert_eq!(sh(&multi, "echo $FLAVOR").await.1, "native\n");

    // A missing tag fails the sandbox, and the log says why.
    let (missing, status, _) = server.settle(&format!("{o}/tools/busybox:nope")).await;
    assert_eq!(status.phase, StatusResponsePhase::Failed);
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::LaunchFailed));
    let logs = log_lines(&missing).await;
    assert!(
        logs.iter().any(|(level, l)| *level == LogLineLevel::Error
            && l.starts_with("launch failed:")
            && l.contains("has no image")
            && l.contains("`nope`")),
        "{logs:#?}"
    );

    // Two sandboxes of a fresh image at once: one pull.
    let fresh = format!("{o}/tools/fresh:1");
    let (a, b) = tokio::join!(server.settle(&fresh), server.settle(&fresh));
    for (sandbox, status, _) in [&a, &b] {
        assert_running(status, &log_lines(sandbox).await);
        assert_eq!(sh(sandbox, "test -s /etc/fresh").await.0, 0);
    }
    assert_eq!(fx.open.gets(&format!("/v2/tools/fresh/blobs/{}", fx.images.fresh_layer)), 1);
    assert_eq!(fx.open.gets("/v2/tools/fresh/manifests/1"), 1);

    // Prune (as `porter-sandbox images prune` does, beside the running server): the fresh
    // image goes once its sandboxes are gone; the busybox image stays while one runs.
    for sandbox in [&warm, &docker, &multi, &a.0, &b.0] {
        sandbox.terminate().await.unwrap();
    }
    let images = ImageStore::new(server.data_dir.join("images"));
    let store = Store::open(&server.data_dir.join("state.db")).unwrap();
    let blobs = server.data_dir.join("images/blobs/sha256");
    let fresh_blob = blobs.join(fx.images.fresh_layer.trim_start_matches("sha256:"));
    assert!(fresh_blob.is_file());
    let rootfs_before: HashSet<_> = dir_names(&server.data_dir.join("images/rootfs"));
    let report = images.prune_unused(&store, true).await.unwrap().unwrap();
    let rootfs_after = dir_names(&server.data_dir.join("images/rootfs"));
    assert!(!fresh_blob.exists(), "the fresh image's own layer is gone: {report:?}");
    assert_eq!(rootfs_after.len(), 1, "only the running sandbox's image stays: {report:?}");
    assert!(rootfs_before.len() >= 3 && report.removed_images >= 2, "{report:?}");
    assert!(report.kept_blobs >= 4 && report.removed_blobs >= 1, "{report:?}");
    assert_eq!(sh(&first, "cat /etc/kept").await, (0, "kept\n".into()), "still runs");
    // Its layers stayed, so a new sandbox of it needs no download.
    let layer_gets = count_blob_gets(&fx.open, "tools/busybox");
    let (again, status, _) = server.settle(&oci).await;
    assert_running(&status, &log_lines(&again).await);
    assert_eq!(count_blob_gets(&fx.open, "tools/busybox"), layer_gets);
    server.shutdown().await;
}

fn dir_names(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into()).collect()
        })
        .unwrap_or_default()
}

fn count_blob_gets(registry: &Registry, repository: &str) -> usize {
    read(&registry.log)
        .lines()
        .filter(|l| l.contains(&format!("\"GET /v2/{repository}/blobs/")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_from_a_docker_config_file_and_from_the_environment_format() {
    let fx = fixture();
    let image = format!("{}/private/busybox:1", fx.locked.addr);
    let dir = tempfile::tempdir().unwrap();

    // No credentials: failed, and the log says where to put them.
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let anonymous =
        Server::start(ImageOptions { auth_file: Some(empty), ..ImageOptions::default() }).await;
    let (sandbox, status, _) = anonymous.settle(&image).await;
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::LaunchFailed));
    let logs = log_lines(&sandbox).await;
    assert!(
        logs.iter().any(|(_, l)| l.contains("requires credentials")
            && l.contains("PORTER_SANDBOX_REGISTRY_AUTH")),
        "{logs:#?}"
    );
    anonymous.shutdown().await;

    // A Docker config.json, as `docker login` writes it.
    let config = dir.path().join("config.json");
    let auth = base64_encode(&format!("{USER}:{PASSWORD}"));
    std::fs::write(
        &config,
        serde_json::json!({"auths": {fx.locked.addr.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let from_file =
        Server::start(ImageOptions { auth_file: Some(config), ..ImageOptions::default() }).await;
    let (sandbox, status, _) = from_file.settle(&image).await;
    assert_running(&status, &log_lines(&sandbox).await);
    assert_eq!(sh(&sandbox, "cat /etc/added").await, (0, "layer two\n".into()));
    from_file.shutdown().await;

    // PORTER_SANDBOX_REGISTRY_AUTH's format (the CLI parses the variable with this).
    let nowhere = dir.path().join("none.json");
    std::fs::write(&nowhere, "{}").unwrap();
    let env_value = format!("{}={USER}:{PASSWORD}", fx.locked.addr);
    let from_env = Server::start(ImageOptions {
        credentials: parse_credentials(&env_value).unwrap(),
        auth_file: Some(nowhere.clone()),
        ..ImageOptions::default()
    })
    .await;
    let (sandbox, status, _) = from_env.settle(&image).await;
    assert_running(&status, &log_lines(&sandbox).await);
    from_env.shutdown().await;

    // A wrong password: refused, and the log names where the credentials came from.
    let wrong = format!("{}={USER}:nope", fx.locked.addr);
    let refused = Server::start(ImageOptions {
        credentials: parse_credentials(&wrong).unwrap(),
        auth_file: Some(nowhere),
        ..ImageOptions::default()
    })
    .await;
    let (sandbox, status, _) = refused.settle(&image).await;
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::LaunchFailed));
    let logs = log_lines(&sandbox).await;
    assert!(
        logs.iter().any(|(_, l)| l.contains("refused the credentials")
            && l.contains("PORTER_SANDBOX_REGISTRY_AUTH")),
        "{logs:#?}"
    );
    refused.shutdown().await;
}

fn base64_encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_runs_on_the_host_image_or_fails_as_configured() {
    fixture();
    // Nothing listens on this port: connection refused, the "no route to Docker Hub" case.
    let image = format!("127.0.0.1:{}/library/python:3.12-slim", free_port());

    let fallback =
        Server::start(ImageOptions { offline: OfflineImages::Host, ..ImageOptions::default() })
            .await;
    let (sandbox, status, _) = fallback.settle(&image).await;
    let logs = log_lines(&sandbox).await;
    assert_running(&status, &logs);
    assert_eq!(status.image, image, "the sandbox still shows what was asked for");
    assert_eq!(status.runs_image.as_deref(), Some("host"), "and says what it runs instead");
    let warning = logs.iter().find(|(level, _)| *level == LogLineLevel::Warning);
    let (_, warning) = warning.unwrap_or_else(|| panic!("no warning: {logs:#?}"));
    for part in [image.as_str(), "cannot reach", "`host` image", "--offline-images fail"] {
        assert!(warning.contains(part), "{part:?} missing from {warning:?}");
    }
    // `python` works on the host image even where the host only has python3.
    let out = sandbox.exec(["python", "-c", "print(6 * 7)"]).await.unwrap();
    assert_eq!((out.exit_code, out.stdout.as_str()), (0, "42\n"), "{out:?}");
    fallback.shutdown().await;

    // Failing is the default.
    let strict = Server::start(ImageOptions::default()).await;
    let (sandbox, status, _) = strict.settle(&image).await;
    assert_eq!(status.phase, StatusResponsePhase::Failed);
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::LaunchFailed));
    assert_eq!(status.runs_image, None);
    let logs = log_lines(&sandbox).await;
    assert!(
        logs.iter().any(|(_, l)| l.starts_with("launch failed:")
            && l.contains("cannot reach the registry")
            && l.contains("--offline-images host")),
        "{logs:#?}"
    );
    strict.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_setting_prunes_images_once_their_sandboxes_are_gone() {
    let fx = fixture();
    let every = Duration::from_millis(300);
    let server = Server::start_with(ImageOptions::default(), Some(every)).await;
    let (sandbox, status, _) = server.settle(&format!("{}/tools/busybox:oci", fx.open.addr)).await;
    assert_running(&status, &log_lines(&sandbox).await);
    let rootfs = server.data_dir.join("images/rootfs");
    tokio::time::sleep(every * 4).await;
    assert_eq!(dir_names(&rootfs).len(), 1, "kept while its sandbox runs");
    assert_eq!(sh(&sandbox, "cat /etc/kept").await, (0, "kept\n".into()));
    sandbox.terminate().await.unwrap();
    // The pruner removes the rootfs, then the blobs: wait for both (one round may be cut
    // between them), never for a duration.
    let blobs = server.data_dir.join("images/blobs/sha256");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir_names(&rootfs).is_empty() || !dir_names(&blobs).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the unused image was never pruned: rootfs {:?}, blobs {:?}",
            dir_names(&rootfs),
            dir_names(&blobs)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_hub_mirror_serves_docker_hub_names() {
    let fx = fixture();
    let mirror = ImageOptions { mirror: Some(fx.open.addr.clone()), ..ImageOptions::default() };
    let server = Server::start(mirror).await;
    // `tools/busybox:oci` is Docker Hub's docker.io/tools/busybox:oci; the mirror has it, so
    // Docker Hub is never asked.
    let (sandbox, status, _) = server.settle("tools/busybox:oci").await;
    let logs = log_lines(&sandbox).await;
    assert_running(&status, &logs);
    assert_eq!(status.image, "tools/busybox:oci");
    let from = format!("pulling tools/busybox:oci from {}", fx.open.addr);
    assert!(logs.iter().any(|(_, l)| l.starts_with(&from)), "{logs:#?}");
    assert_eq!(sh(&sandbox, "cat /etc/added").await, (0, "layer two\n".into()));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_that_does_not_match_its_digest_fails_the_sandbox() {
    let fx = fixture();
    // A registry of its own, since its storage gets corrupted.
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(dir.path(), None);
    let image = format!("{}/tools/busybox:1", registry.addr);
    push(&fx.images, "base", &image, false, false);
    let layer = fx.images.base_layers[0].trim_start_matches("sha256:").to_owned();
    let data = dir.path().join("storage/docker/registry/v2/blobs/sha256").join(&layer[..2]);
    let data = data.join(&layer).join("data");
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff; // same length, different content
    std::fs::write(&data, bytes).unwrap();

    let server = Server::start(ImageOptions::default()).await;
    let (sandbox, status, _) = server.settle(&image).await;
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::LaunchFailed));
    let logs = log_lines(&sandbox).await;
    assert!(
        logs.iter().any(|(_, l)| l.starts_with("launch failed:")
            && l.contains(&layer)
            && l.contains("does not match its digest")),
        "{logs:#?}"
    );
    let blobs = server.data_dir.join("images/blobs/sha256");
    assert!(!blobs.join(&layer).exists(), "nothing unverified is kept");
    server.shutdown().await;
}

#[tokio::test]
async fn a_snapshot_keeps_its_base_image_through_a_prune() {
    let fx = fixture();
    let image = format!("{}/tools/snapbase:1", fx.open.addr);
    push(&fx.images, "base", &image, false, false);
    let server = Server::start(ImageOptions::default()).await;
    let (source, status, _) = server.settle(&image).await;
    assert_running(&status, &log_lines(&source).await);
    let porter = &server.porter;
    let mut snapshot =
        porter.snapshots().create(source.id(), SnapshotSpec::default()).await.unwrap();
    while snapshot.status == SnapshotStatus::Pending {
        tokio::time::sleep(Duration::from_millis(20)).await;
        snapshot = porter.snapshots().get(&snapshot.id).await.unwrap();
    }
    assert_eq!(snapshot.status, SnapshotStatus::Ready, "{snapshot:?}");
    source.terminate().await.unwrap();

    // No sandbox runs, but the snapshot holds its base image.
    let images = ImageStore::new(server.data_dir.join("images"));
    let store = Store::open(&server.data_dir.join("state.db")).unwrap();
    let report = images.prune_unused(&store, true).await.unwrap().unwrap();
    assert_eq!(dir_names(&server.data_dir.join("images/rootfs")).len(), 1, "{report:?}");
    let gets = count_blob_gets(&fx.open, "tools/snapbase");
    let spec = SandboxSpec::from_snapshot(&snapshot.id);
    let copy = porter.sandboxes().create(spec).await.unwrap();
    let status = wait_settled(&copy).await;
    assert_running(&status, &log_lines(&copy).await);
    assert_eq!(status.image, image);
    assert_eq!(sh(&copy, "cat /etc/kept").await, (0, "kept\n".into()));
    assert_eq!(count_blob_gets(&fx.open, "tools/snapbase"), gets, "no download");

    // Once the snapshot and its sandboxes are gone, so is the image.
    copy.terminate().await.unwrap();
    porter.snapshots().delete(&snapshot.id).await.unwrap();
    let report = images.prune_unused(&store, true).await.unwrap().unwrap();
    assert!(dir_names(&server.data_dir.join("images/rootfs")).is_empty(), "{report:?}");
    server.shutdown().await;
}
