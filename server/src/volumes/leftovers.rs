//! Removing the upload temp files a crash left behind (`write.rs` removes its own temp file
//! on every other failure). Walks the volume through directory handles that never follow a
//! symlink, so a sandbox racing the walk cannot make it delete anything outside the volume.

use std::{os::unix::ffi::OsStrExt, path::Path, time::SystemTime};

use super::{dir::Dir, paths::UPLOAD_PREFIX};

/// How deep the walk goes; uploads into deeper directories are rare, and the bound keeps the
/// open directory handles few.
const MAX_DEPTH: usize = 64;

/// Removes `.porter-upload-*` regular files modified before `before` under `root`.
pub(super) fn remove(root: &Path, before: SystemTime) -> usize {
    let Ok(start) = Dir::open_root(root) else { return 0 };
    let mut removed = 0;
    let mut stack = vec![(start, 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = dir.read_dir() else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && depth < MAX_DEPTH {
                if let Ok(sub) = dir.open_dir(&name) {
                    stack.push((sub, depth + 1));
                }
            } else if kind.is_file() && name.as_bytes().starts_with(UPLOAD_PREFIX.as_bytes()) {
                let stale = dir
                    .lstat(&name)
                    .ok()
                    .flatten()
                    .and_then(|m| m.modified().ok())
                    .is_some_and(|modified| modified < before);
                if stale && std::fs::remove_file(dir.child(&name)).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use super::super::testutil::TestVol;
    use super::*;

    #[test]
    fn removes_only_old_upload_temp_files() {
        let vol = TestVol::new();
        vol.put(".porter-upload-0000000000000001", b"crashed");
        vol.put("a/b/.porter-upload-0000000000000002", b"crashed");
        vol.put("a/keep.txt", b"kept");
        vol.put("a/.porter-upload-is-a-dir/f", b"kept");
        let root = vol.fs.root();
        std::os::unix::fs::symlink(vol.outside(), root.join("out")).unwrap();
        std::fs::write(vol.outside().join(".porter-upload-0000000000000003"), b"outside").unwrap();
        // Nothing is older than a time in the past.
        let past = SystemTime::now() - Duration::from_secs(3600);
        assert_eq!(remove(root, past), 0);
        assert_eq!(remove(root, SystemTime::now() + Duration::from_secs(1)), 2);
        assert!(!root.join(".porter-upload-0000000000000001").exists());
        assert!(!root.join("a/b/.porter-upload-0000000000000002").exists());
        assert!(root.join("a/keep.txt").exists() && root.join("a/b").is_dir());
        assert!(root.join("a/.porter-upload-is-a-dir/f").exists());
        assert!(vol.outside().join(".porter-upload-0000000000000003").exists());
    }
}
