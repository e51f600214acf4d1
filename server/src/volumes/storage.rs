//! Where a disk volume's files live: the directory `<volumes>/<id>`, on which a size-limited
//! ext4 image `<volumes>/<id>.img` is loop-mounted (`image.rs`) — or, without a size limit
//! (or for a server that is not root and cannot mount), the plain directory.
//!
//! The mount is made in the server's mount namespace at create, made again at start when it
//! is missing (after a reboot; a server killed with SIGKILL leaves it in place), and removed
//! when the server stops (sandboxes keep their own copies) and when the volume is deleted.

use std::{
    path::{Path, PathBuf},
    time::SystemTime,
};

use super::image::{self, ImageError, VOLUME_MOUNT_OPTIONS};

/// The image file of the volume whose directory is `dir`.
#[must_use]
pub fn image_of(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".img");
    dir.with_file_name(name)
}

/// Whether this process runs as root (only root can loop-mount).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .is_some_and(|uid| uid == "0")
}

/// Creates the empty volume directory `dir` with a filesystem of `size` bytes mounted on it
/// (`None`: a plain directory). On failure nothing is left behind.
pub fn create(dir: &Path, size: Option<u64>) -> Result<(), ImageError> {
    std::fs::create_dir(dir).map_err(|e| {
        let message = format!("cannot create the volume directory: {e}");
        if matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)) {
            ImageError::NoSpace(message)
        } else {
            ImageError::Failed(message)
        }
    })?;
    let Some(size) = size else { return Ok(()) };
    if !is_root() {
        tracing::warn!(
            "volume {} has no size limit: only a server running as root can mount its \
             filesystem",
            dir.display()
        );
        return Ok(());
    }
    let image = image_of(dir);
    let made = image::create(&image, size, None).and_then(|()| {
        image::mount(&image, dir, VOLUME_MOUNT_OPTIONS)?;
        // mkfs's lost+found would show in the volume; fsck recreates it if ever needed.
        let _ = std::fs::remove_dir(dir.join("lost+found"));
        Ok(())
    });
    if made.is_err() {
        if image::mounted_device(dir).is_some() {
            let _ = image::unmount(dir);
        }
        let _ = std::fs::remove_file(&image);
        let _ = std::fs::remove_dir(dir);
    }
    made
}

/// Mounts the volume's filesystem on `dir` again when it has one and it is not mounted.
pub fn restore(dir: &Path) -> Result<(), ImageError> {
    let image = image_of(dir);
    if !image.is_file() || image::mounted_device(dir).is_some() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ImageError::Failed(format!("cannot create the volume directory: {e}")))?;
    image::mount(&image, dir, VOLUME_MOUNT_OPTIONS)
}

/// `Err` when the volume at `dir` has a filesystem that is not mounted: a sandbox would
/// otherwise get the bare directory underneath, on the host's disk and without a limit.
pub fn check_mounted(dir: &Path) -> Result<(), String> {
    if image_of(dir).is_file() && image::mounted_device(dir).is_none() {
        let id = dir.file_name().unwrap_or_default().to_string_lossy();
        return Err(format!(
            "volume {id} is not mounted on the server (see the server log for why); restart \
             the server, or delete the volume"
        ));
    }
    Ok(())
}

/// Unmounts the volume's filesystem from this server (sandboxes using it keep their copies).
pub fn release(dir: &Path) {
    if image_of(dir).is_file() && image::mounted_device(dir).is_some() {
        if let Err(err) = image::unmount(dir) {
            tracing::warn!("cannot unmount volume {}: {err}", dir.display());
        }
    }
}

/// Deletes the volume's files, filesystem and image. The mount is removed everywhere first
/// (see [`image::evict_copies`]) so its loop device and disk space are released at once; the
/// files of a plain directory are removed in the background.
pub fn remove(dir: &Path) {
    if let Some(device) = image::mounted_device(dir) {
        if let Err(err) = image::unmount(dir) {
            tracing::warn!("cannot unmount deleted volume {}: {err}", dir.display());
            return;
        }
        image::evict_copies(dir, &device);
    }
    let _ = std::fs::remove_file(image_of(dir));
    if image::mounted_device(dir).is_some() {
        // Never delete through a mount that is still there.
        return;
    }
    // Out of the way first, so a crash leaves no half-deleted volume under its old name.
    let mut trash_name = std::ffi::OsString::from(".deleted-");
    trash_name.push(dir.file_name().unwrap_or_default());
    let trash = dir.with_file_name(trash_name);
    if std::fs::rename(dir, &trash).is_ok() {
        std::thread::spawn(move || {
            let _ = std::fs::remove_dir_all(trash);
        });
    }
}

/// Removes what a crash left in the volumes directory `volumes` besides the volumes in
/// `keep`: the storage of a volume whose create or delete was cut short (its record is
/// missing), and deleted volumes' files not yet removed (`.deleted-*`).
pub fn remove_orphans(volumes: &Path, keep: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(volumes) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else { continue };
        let volume_dir = match name.strip_suffix(".img") {
            Some(id) if kind.is_file() => volumes.join(id),
            None if kind.is_dir() => path.clone(),
            _ => continue,
        };
        if keep.contains(&volume_dir) {
            continue;
        }
        if name.starts_with(".deleted-") {
            if image::mounted_device(&path).is_none() {
                let _ = std::fs::remove_dir_all(&path);
            }
            continue;
        }
        // Only what looks like ours: `vol-…` directories and their images.
        if !name.starts_with("vol-") {
            continue;
        }
        tracing::warn!("removing {}: no volume record refers to it", path.display());
        remove(&volume_dir);
    }
}

/// Removes the upload temp files older than `before` that a crash left in the volume at
/// `root` (the uploads of this process all started later); returns how many.
pub fn remove_upload_leftovers(root: &Path, before: SystemTime) -> usize {
    super::leftovers::remove(root, before)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn an_unmounted_volume_is_never_handed_out() {
        if !is_root() {
            eprintln!("skipping: loop mounts need root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vol-x");
        create(&dir, Some(16 << 20)).unwrap();
        check_mounted(&dir).unwrap();
        release(&dir);
        let err = check_mounted(&dir).unwrap_err();
        assert!(err.contains("vol-x is not mounted") && !err.contains("/tmp"), "{err}");
        restore(&dir).unwrap();
        check_mounted(&dir).unwrap();
        remove(&dir);
        assert!(!image_of(&dir).exists() && image::mounted_device(&dir).is_none());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !image::loop_devices_of(&image_of(&dir)).is_empty() {
            assert!(std::time::Instant::now() < deadline, "the loop device was not released");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // A plain directory (no size limit) is always fine.
        create(&tmp.path().join("vol-plain"), None).unwrap();
        check_mounted(&tmp.path().join("vol-plain")).unwrap();
    }
}
