//! The size limit of a sandbox's writable layer.
//!
//! With a limit, `upper/` and `work/` live in a sparse ext4 image, `layer.img` in the sandbox
//! directory, made before the start from the staging directory `layer/` (so the owners and
//! modes of `upper/` and `work/` carry over). The supervisor loop-mounts the image on `layer/`
//! inside its own mount namespace only: no other namespace ever copies the mount, the host
//! mount table never changes, and when the sandbox ends its namespace goes, the loop device is
//! released (auto-clear) and the teardown deletes the image with the rest of the directory.
//! A workload that fills the layer gets `ENOSPC`; the host disk keeps its free space.
//!
//! Snapshots read the layer through the supervisor's root (`/proc/<pid>/root`), which shows
//! its mount namespace.

use crate::runtime::RuntimeError;
use std::{
    fs::DirBuilder,
    os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::Arc,
};

use super::layer_pool::{LayerPool, Shape};
use super::{Layout, host};
use crate::volumes::image;

/// The image file of the layer, in the sandbox directory.
const IMAGE: &str = "layer.img";
/// Where the supervisor mounts it (and the staging directory it is made from).
const MOUNT: &str = "layer";

/// Makes the layer image of `size` bytes for the sandbox directory `dir`, whose `upper/` and
/// `work/` already exist (they stay as the staging copy's model); `None` keeps the layer on
/// the data disk without a limit.
pub(super) fn prepare(
    dir: &Path,
    size: Option<u64>,
    pool: &Arc<LayerPool>,
) -> Result<(), RuntimeError> {
    let Some(size) = size else { return Ok(()) };
    let staging = dir.join(MOUNT);
    DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .map_err(|e| format!("cannot create the writable layer's staging directory: {e}"))?;
    for sub in ["upper", "work"] {
        let model = std::fs::metadata(dir.join(sub))
            .map_err(|e| format!("cannot read the writable layer's {sub} directory: {e}"))?;
        let copy = staging.join(sub);
        std::fs::create_dir(&copy)
            .and_then(|()| {
                std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(model.mode()))
            })
            .and_then(|()| std::os::unix::fs::chown(&copy, Some(model.uid()), Some(model.gid())))
            .map_err(|e| format!("cannot prepare the writable layer's {sub} directory: {e}"))?;
    }
    let image = dir.join(IMAGE);
    // A pooled image is the one the lines below would make (see `layer_pool.rs`).
    match Shape::of(&staging, size) {
        Ok(shape) if pool.take(shape, &image) => return Ok(()),
        Ok(_) => {}
        Err(err) => tracing::warn!("cannot read the writable layer's staging directory: {err}"),
    }
    image::create(&image, size, Some(&staging)).map_err(|e| {
        // The details name host paths: they go to the server's log, not to the client.
        tracing::error!("making the writable layer of {}: {e}", dir.display());
        match e {
            image::ImageError::NoSpace(_) => RuntimeError::NoSpace(
                "the server's data disk is full, so the sandbox's writable layer cannot be \
                 made: free space on the host, or delete unused sandboxes, volumes and images"
                    .to_owned(),
            ),
            image::ImageError::Failed(_) => RuntimeError::other(
                "cannot make the sandbox's size-limited writable layer (is mkfs.ext4 \
                 installed?); the server log says why",
            ),
        }
    })
}

/// The writable layer as the host can read it: through the supervisor's mount namespace when
/// the layer is an image; `None` when the supervisor is gone.
pub(super) fn upper_dir(layout: &Layout) -> Option<PathBuf> {
    if !layout.dir.join(IMAGE).is_file() {
        return Some(layout.dir.join("upper"));
    }
    let (pid, start) = host::read_pid_file(&layout.shim_pid())?;
    if !host::alive(pid, start) {
        return None;
    }
    let inside = layout.dir.join(MOUNT).join("upper");
    let relative = inside.strip_prefix("/").unwrap_or(&inside);
    Some(PathBuf::from(format!("/proc/{pid}/root")).join(relative))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn without_a_limit_nothing_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let pool = LayerPool::new(dir.path());
        prepare(dir.path(), None, &pool).unwrap();
        assert!(!dir.path().join(IMAGE).exists() && !dir.path().join(MOUNT).exists());
        pool.close();
        let layout = Layout { id: "x".into(), dir: dir.path().to_path_buf() };
        assert_eq!(upper_dir(&layout), Some(dir.path().join("upper")));
    }
}
