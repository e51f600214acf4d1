//! The OCI runtime test harness shared by `oci_runtime.rs` and `isolation.rs`: a host-like test
//! image in the sandboxes' id range, a state directory, and cleanup of every sandbox started.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt, symlink},
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant},
};

use porter_sandbox_server::runtime::{
    BindMount, LaunchSpec, Limits, NetworkMode, OutputStream, Runtime, RuntimeEvent, idmap,
    oci::OciRuntime,
};
use tempfile::TempDir;
// The bounded event channel, under the names these tests were written with.
use porter_sandbox_server::runtime::event_channel as unbounded_channel;
use tokio::sync::mpsc::Receiver as UnboundedReceiver;

pub const WAIT: Duration = Duration::from_secs(20);

/// A test image, a state directory and a runtime; kills every sandbox it started when dropped.
pub struct Harness {
    /// The runtime under test.
    pub rt: OciRuntime,
    /// The test image.
    pub rootfs: PathBuf,
    /// The runtime's state directory.
    pub state: PathBuf,
    ids: Mutex<Vec<String>>,
    _image: TempDir,
    _state: TempDir,
}

impl Harness {
    pub fn new() -> Option<Self> {
        if let Err(reason) = OciRuntime::detect() {
            eprintln!("skipping: the OCI runtime is unavailable here: {reason}");
            return None;
        }
        let image = tempfile::tempdir().unwrap();
        let rootfs = image.path().join("rootfs");
        build_rootfs(&rootfs);
        let state_dir = tempfile::tempdir().unwrap();
        let state = state_dir.path().join("sandboxes");
        Some(Self {
            rt: OciRuntime::new(state.clone()),
            rootfs,
            state,
            ids: Mutex::new(Vec::new()),
            _image: image,
            _state: state_dir,
        })
    }

    pub fn id(&self, name: &str) -> String {
        let id = format!("t-{name}-{:06x}", rand::random::<u32>() & 0xff_ffff);
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    pub fn spec(&self, id: &str, argv: &[&str]) -> LaunchSpec {
        LaunchSpec {
            sandbox_id: id.to_owned(),
            rootfs: self.rootfs.clone(),
            layers: Vec::new(),
            image_mounts: vec![BindMount {
                source: "/usr".into(),
                target: "/usr".into(),
                read_only: true,
            }],
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            env: vec![("GREETING".into(), "hello".into())],
            cwd: "/home/sandbox".into(),
            user: (1000, 1000),
            mounts: Vec::new(),
            network: NetworkMode::None,
            limits: Limits { pids: Some(256), ..Limits::default() },
            workload: None,
        }
    }

    pub async fn start(
        &self,
        spec: LaunchSpec,
    ) -> (serde_json::Value, UnboundedReceiver<RuntimeEvent>, Duration) {
        let (tx, rx) = unbounded_channel();
        let t0 = Instant::now();
        let state = self.rt.start(spec, tx).await.unwrap().state;
        (state, rx, t0.elapsed())
    }

    pub async fn exec(&self, id: &str, argv: &[&str]) -> (String, String, i32) {
        let argv = argv.iter().map(|s| (*s).to_owned()).collect();
        let out = self.rt.exec(id, argv, Vec::new()).await.unwrap();
        (out.stdout, out.stderr, out.exit_code)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap());
        let state = self.state.clone();
        // A fresh runtime on its own thread: drops run inside the test's runtime.
        std::thread::spawn(move || {
            let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let rt = OciRuntime::new(state);
            for id in ids {
                if let Err(err) = tokio.block_on(rt.kill(&id)) {
                    eprintln!("cleanup of {id}: {err}");
                }
            }
        })
        .join()
        .unwrap();
    }
}

/// A host-like image: merged-/usr symlinks, empty mountpoints, a generated /etc; the host's
/// /usr arrives as a read-only bind mount.
pub fn build_rootfs(root: &Path) {
    for dir in [
        "usr",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "var/tmp",
        "home/sandbox",
        "root",
        "mnt",
        "opt",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for (link, target) in
        [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")]
    {
        if Path::new("/").join(target).exists() {
            symlink(target, root.join(link)).unwrap();
        }
    }
    let mode = |p: &str, m: u32| {
        std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(".", 0o755);
    mode("tmp", 0o1777);
    mode("var/tmp", 0o1777);
    mode("root", 0o700);
    std::os::unix::fs::chown(root.join("home/sandbox"), Some(1000), Some(1000)).unwrap();
    let files = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000::/home/sandbox:/bin/sh\n",
        ),
        ("etc/group", "root:x:0:\nsandbox:x:1000:\n"),
        ("etc/hosts", "127.0.0.1 localhost\n"),
        ("etc/resolv.conf", "nameserver 10.0.2.3\n"),
        ("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"),
    ];
    for (path, text) in files {
        std::fs::write(root.join(path), text).unwrap();
    }
    // /usr/bin/awk and friends point into /etc/alternatives.
    let status = std::process::Command::new("cp")
        .args(["-a", "/etc/alternatives"])
        .arg(root.join("etc"))
        .status()
        .unwrap();
    assert!(status.success());
    let _ = std::fs::copy("/etc/ld.so.cache", root.join("etc/ld.so.cache"));
    shift_owners(root, idmap::range().unwrap());
}

/// Moves the owners of a hand-made rootfs into the sandboxes' id range, as unpacking does.
pub fn shift_owners(path: &Path, ids: idmap::IdRange) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    std::os::unix::fs::lchown(path, Some(ids.host_uid(meta.uid())), Some(ids.host_gid(meta.gid())))
        .unwrap();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            shift_owners(&entry.unwrap().path(), ids);
        }
    }
}

pub async fn next_event(
    rx: &mut UnboundedReceiver<RuntimeEvent>,
    wait: Duration,
) -> Option<RuntimeEvent> {
    tokio::time::timeout(wait, rx.recv()).await.ok().flatten()
}

/// Lines until the exit (or until `WAIT` passes).
pub async fn run_to_exit(
    rx: &mut UnboundedReceiver<RuntimeEvent>,
) -> (Vec<(OutputStream, String)>, Option<i32>) {
    let mut lines = Vec::new();
    while let Some(event) = next_event(rx, WAIT).await {
        match event {
            RuntimeEvent::Line { stream, line, .. } => lines.push((stream, line)),
            RuntimeEvent::Exited { exit_code, .. } => return (lines, Some(exit_code)),
            RuntimeEvent::Terminated { .. } => return (lines, None),
        }
    }
    (lines, None)
}

pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

pub fn cgroup_leaves(id: &str) -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    roots.extend(std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten().map(|e| e.path()));
    roots.into_iter().map(|r| r.join("porter-sandbox").join(id)).filter(|p| p.exists()).collect()
}

pub fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !matches!(s.rsplit(')').next().unwrap_or("").trim().chars().next(), Some('Z' | 'X'))
    })
}

/// Waits (up to 30 s) until no process mentions `needle`: a killed container's `crun run`
/// exits a moment after its container; returns what is still there.
pub async fn processes_left(needle: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = processes_mentioning(needle);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Processes whose command line mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| e.file_name().to_string_lossy() != me)
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| cmd.contains(needle))
        .collect()
}
