//! Teardown of a sandbox: everything it may own on the host, found by its id alone, so a
//! restarted server (or a start that failed halfway) can clean up as well (idempotent).

use crate::runtime::RuntimeError;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use super::{CGROUP_PARENT, Layout, host, network};

/// How long the supervisor gets to record the exit after the container was killed.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// Where cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// What `crun state` says about a container: `Ok(None)` only when the engine says it does not
/// exist; `Err` when the engine cannot tell (it could not run, out of file descriptors, …).
pub(super) async fn container_status(
    engine: &Path,
    id: &str,
) -> Result<Option<String>, RuntimeError> {
    let text = match host::run(engine, &["state", id]).await {
        Ok(text) => text,
        // crun: "error opening file `/run/crun/<id>/status`: No such file or directory";
        // runc: "container does not exist".
        // The engine itself could not be started: it told nothing.
        Err(host::RunError::Failed { stderr, .. })
            if stderr.contains("No such file or directory")
                || stderr.contains("does not exist") =>
        {
            return Ok(None);
        }
        Err(err) => return Err(err.into()),
    };
    let state: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("unreadable state of container {id}: {e}"))?;
    Ok(state["status"].as_str().map(str::to_owned))
}

/// Stops the sandbox and removes its container, network, cgroups and directory. Nothing is
/// removed unless the container is known to be gone: a sandbox whose state cannot be read
/// (e.g. the server is out of file descriptors) is left intact and the error says why, so the
/// caller retries instead of deleting the files of a workload that still runs.
pub(super) async fn teardown(layout: &Layout, engine: Option<&Path>) -> Result<(), RuntimeError> {
    let id = layout.id.as_str();
    let shim = host::read_pid_file(&layout.shim_pid());
    let shim_alive = || shim.is_some_and(|(pid, start)| host::alive(pid, start));
    if let Some(engine) = engine {
        if container_status(engine, id).await?.is_some() {
            // Killing init ends the pid namespace; the foreground `crun run` then returns and the
            // shim records 137 and ends, taking the overlay's mount namespace with it.
            let _ = host::run(engine, &["kill", id, "KILL"]).await;
            host::poll_until(EXIT_WAIT, Duration::from_millis(2), || (!shim_alive()).then_some(()))
                .await;
            // `crun run` normally deletes the container itself; this covers a dead supervisor.
            if container_status(engine, id).await?.is_some() {
                let _ = host::run(engine, &["delete", "-f", id]).await;
            }
            if let Some(status) = container_status(engine, id).await? {
                return Err(RuntimeError::other(format!(
                    "container {id} is still there ({status}) after kill"
                )));
            }
        }
    }
    if let Some((pid, start)) = shim.filter(|_| shim_alive()) {
        host::kill(&[pid]).await;
        host::wait_dead(pid, start).await;
    }
    network::down(id, &layout.dir).await;
    remove_cgroups(id).await;
    remove_dir(&layout.dir).await
}

/// The cgroup leaves of sandbox `id`: one per v1 hierarchy, or one in a unified hierarchy.
fn cgroup_leaves(id: &str) -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    let mut roots = vec![root.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(root) {
        roots.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    roots.into_iter().map(|r| r.join(CGROUP_PARENT).join(id)).filter(|p| p.is_dir()).collect()
}

/// Kills whatever is left in the sandbox's cgroups and removes them (deepest first).
async fn remove_cgroups(id: &str) {
    for _ in 0..50 {
        let leaves = cgroup_leaves(id);
        if leaves.is_empty() {
            return;
        }
        let mut dirs = Vec::new();
        for leaf in &leaves {
            collect_dirs(leaf, &mut dirs);
        }
        let pids: Vec<u32> = dirs
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .flat_map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect::<Vec<u32>>())
            .collect();
        host::kill(&pids).await;
        // Children before parents: a cgroup with sub-cgroups cannot be removed.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in &dirs {
            let _ = std::fs::remove_dir(dir);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!("cannot remove the cgroups of sandbox {id}: {:?}", cgroup_leaves(id));
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&entry.path(), out);
            }
        }
    }
}

/// Removes the empty `porter-sandbox` parent cgroups (call only while no sandbox is starting:
/// crun creates the parent and then the leaf).
pub(super) fn remove_cgroup_parents() {
    let root = Path::new(CGROUP_ROOT);
    let _ = std::fs::remove_dir(root.join(CGROUP_PARENT));
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_dir(entry.path().join(CGROUP_PARENT));
        }
    }
}

/// Mount points in our mount namespace at or below `dir`.
pub(super) fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mount_path(field)))
        .filter(|mount| mount.starts_with(dir))
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes the sandbox directory (and with it the writable layer). The overlay lives only in
/// the supervisor's mount namespace; should anything be mounted below `dir` in ours, it is
/// unmounted first, and the directory is kept if that fails: deleting through a mount could
/// reach files that are not the sandbox's.
async fn remove_dir(dir: &Path) -> Result<(), RuntimeError> {
    let mut mounts = mounts_under(dir);
    if !mounts.is_empty() {
        mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
        if let Some(umount) = host::which("umount") {
            for mount in &mounts {
                let _ = host::run(&umount, &["-l", &mount.to_string_lossy()]).await;
            }
        }
        let left = mounts_under(dir);
        if !left.is_empty() {
            return Err(RuntimeError::other(format!(
                "cannot unmount {left:?}: keeping {}",
                dir.display()
            )));
        }
    }
    let mut attempt = 0;
    loop {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // A process that was just stopped may have created a file meanwhile.
            Err(_) if attempt < 3 => attempt += 1,
            Err(err) => {
                return Err(RuntimeError::other(format!("cannot remove {}: {err}", dir.display())));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn unescapes_mountinfo_paths() {
        assert_eq!(unescape_mount_path(r"/a\040b\134c"), r"/a b\c");
        assert_eq!(unescape_mount_path(r"/plain\x"), r"/plain\x");
        assert_eq!(unescape_mount_path(r"/end\04"), r"/end\04");
    }

    #[tokio::test]
    async fn an_unreadable_container_state_keeps_the_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout { id: "t-unknown".into(), dir: dir.path().join("t-unknown") };
        std::fs::create_dir_all(layout.dir.join("upper")).unwrap();
        std::fs::write(layout.dir.join("upper/file"), "workload data").unwrap();
        // An engine that cannot run stands for one the server cannot start (no fds left).
        let engine = Path::new("/nonexistent/crun");
        assert!(container_status(engine, "t-unknown").await.is_err());
        let err = teardown(&layout, Some(engine)).await.unwrap_err();
        assert!(err.message().contains("cannot run"), "{err}");
        assert!(layout.dir.join("upper/file").exists(), "the writable layer was kept");
    }

    #[test]
    fn finds_the_root_mount() {
        assert!(!mounts_under(Path::new("/")).is_empty());
        assert!(mounts_under(Path::new("/nonexistent-dir-xyz")).is_empty());
    }
}
