//! Filesystem snapshots: a copy of a running sandbox's writable overlay layer (`upper/`).
//!
//! The sandbox is frozen (`crun pause`, the cgroup freezer) for the copy, so the layer is a
//! consistent point in time, and thawed right after, whatever the copy's outcome. The copy
//! keeps owners, modes, times, xattrs and overlay whiteouts (`cp -a` as root), so the layer can
//! later be stacked as a read-only lower layer above the same image. It is written to
//! `<dest>.partial` and renamed into place: `dest` exists only when complete.

use crate::runtime::RuntimeError;
use std::path::{Path, PathBuf};

use super::{Layout, host, shim};

/// Copies the writable layer of the sandbox in `layout` to `dest`; returns the bytes captured.
pub(super) async fn capture(
    layout: &Layout,
    engine: &Path,
    dest: &Path,
) -> Result<u64, RuntimeError> {
    let upper = super::quota::upper_dir(layout).unwrap_or_else(|| layout.dir.join("upper"));
    if !upper.is_dir() {
        return Err(RuntimeError::other(format!(
            "sandbox {} has no writable layer to capture",
            layout.id
        )));
    }
    if dest.exists() {
        return Err(RuntimeError::other(format!(
            "snapshot directory {} already exists",
            dest.display()
        )));
    }
    let partial = partial_path(dest);
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .map_err(|e| format!("cannot clear {}: {e}", partial.display()))?;
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let cp = host::which("cp").ok_or("`cp` (coreutils) is not installed")?;
    pause(engine, &layout.id, "pause").await?;
    let copied = copy_tree(&cp, &upper, &partial).await;
    let resumed = pause(engine, &layout.id, "resume").await;
    if let Err(err) = copied.and(resumed) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(err);
    }
    let size = tokio::task::spawn_blocking({
        let partial = partial.clone();
        move || tree_size(&partial)
    })
    .await
    .map_err(|e| format!("measuring the snapshot failed: {e}"))?
    .map_err(|e| format!("cannot measure the snapshot: {e}"))?;
    std::fs::rename(&partial, dest)
        .map_err(|e| format!("cannot move the snapshot into place: {e}"))?;
    Ok(size)
}

/// Thaws a sandbox a crashed capture may have left frozen (idempotent; errors ignored).
pub(super) async fn thaw(engine: &Path, id: &str) {
    let _ = pause(engine, id, "resume").await;
}

/// Where a capture into `dest` is assembled.
pub(super) fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// `crun pause|resume ID`.
async fn pause(engine: &Path, id: &str, verb: &str) -> Result<(), RuntimeError> {
    let flag = shim::engine_flag(engine);
    let mut args: Vec<&str> = Vec::new();
    if !flag.is_empty() {
        args.push(flag);
    }
    args.extend([verb, id]);
    host::run(engine, &args)
        .await
        .map(|_| ())
        .map_err(|e| RuntimeError::other(format!("cannot {verb} sandbox {id}: {e}")))
}

async fn copy_tree(cp: &Path, from: &Path, to: &Path) -> Result<(), RuntimeError> {
    // `from/.` copies the directory's contents (and its own mode) into the new `to`.
    let source = from.join(".");
    let (source, target) = (source.to_string_lossy(), to.to_string_lossy());
    host::run(cp, &["-a", "--reflink=auto", &source, &target])
        .await
        .map(|_| ())
        .map_err(|e| RuntimeError::other(format!("copying the writable layer failed: {e}")))
}

/// Bytes in regular files under `dir` (symlinks and whiteouts count as nothing).
pub(crate) fn tree_size(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_paths_sit_beside_the_destination() {
        assert_eq!(
            partial_path(Path::new("/d/snapshots/snap-1/layer")),
            PathBuf::from("/d/snapshots/snap-1/layer.partial")
        );
    }

    #[test]
    fn sizes_count_file_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("a"), b"12345").expect("write");
        std::fs::write(dir.path().join("sub/b"), b"123").expect("write");
        std::os::unix::fs::symlink("a", dir.path().join("link")).expect("symlink");
        assert_eq!(tree_size(dir.path()).expect("size"), 8);
    }
}
