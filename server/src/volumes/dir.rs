//! Open directory handles that reach entries inside a volume without ever following a symlink.
//!
//! Each step opens the next directory with `O_NOFOLLOW | O_DIRECTORY` relative to the directory
//! already open, addressed as `/proc/self/fd/<fd>/<name>` (an `openat` without `unsafe`). A
//! sandbox that swaps a directory for a symlink between our check and our use therefore gets an
//! error, not an escape. Without `/proc` the handles fall back to plain paths, checked
//! component by component.

use std::{
    ffi::OsStr,
    fs::{self, File, Metadata, OpenOptions},
    io,
    os::{fd::AsRawFd, unix::fs::OpenOptionsExt},
    path::{Path, PathBuf},
    sync::OnceLock,
};

use super::{FsError, error::io_error, paths::VolPath};

/// Whether `/proc/self/fd` can address open directories (Linux with `/proc` mounted).
fn proc_fd_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| Path::new("/proc/self/fd").is_dir())
}

/// An open directory of the volume.
#[derive(Debug)]
pub(crate) struct Dir {
    file: File,
    base: PathBuf,
}

impl Dir {
    /// Opens the volume root itself (trusted: it is the server's own data directory).
    pub(crate) fn open_root(root: &Path) -> Result<Self, FsError> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(root)
            .map(|file| Self::from_file(file, root.to_path_buf()))
            .map_err(|e| {
                // The host path stays in the server's log; clients see the volume's root.
                tracing::error!("opening volume directory {}: {e}", root.display());
                io_error(e, "opening the volume's root directory")
            })
    }

    fn from_file(file: File, plain: PathBuf) -> Self {
        let base = if proc_fd_available() {
            PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
        } else {
            plain
        };
        Self { file, base }
    }

    /// Path addressing `name` inside this directory; `name` never contains `/`.
    pub(crate) fn child(&self, name: impl AsRef<OsStr>) -> PathBuf {
        self.base.join(name.as_ref())
    }

    /// `lstat` of `name`; `None` when nothing is there.
    pub(crate) fn lstat(&self, name: impl AsRef<OsStr>) -> io::Result<Option<Metadata>> {
        match fs::symlink_metadata(self.child(name)) {
            Ok(meta) => Ok(Some(meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens the subdirectory `name`; fails with ENOTDIR if it is a symlink or not a directory.
    pub(crate) fn open_dir(&self, name: impl AsRef<OsStr>) -> io::Result<Self> {
        let plain = self.child(name.as_ref());
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(&plain)?;
        Ok(Self::from_file(file, plain))
    }

    /// Opens the file `name` for reading; refuses a symlink and never blocks on a FIFO.
    pub(crate) fn open_file(&self, name: &str) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(self.child(name))
    }

    /// Creates the new file `name` for writing; fails if anything is there already. The file
    /// belongs to the sandboxes' root, as if a sandbox had written it.
    pub(crate) fn create_new(&self, name: &str) -> io::Result<File> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.child(name))?;
        give_to_sandboxes(|uid, gid| std::os::unix::fs::fchown(&file, Some(uid), Some(gid)));
        Ok(file)
    }

    /// Lists the directory.
    pub(crate) fn read_dir(&self) -> io::Result<fs::ReadDir> {
        fs::read_dir(&self.base)
    }

    /// Flushes the directory itself, making creations and renames in it durable.
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

/// Hands something the files API created to the sandboxes' default user (uid 1000 in every
/// sandbox: the base of their id range + 1000), so that commands can change what was uploaded
/// (edit a file, create one beside it) like their own files; a sandbox's root can anyway.
/// Skipped when the server cannot (not root, or no id range: then no sandbox runs either).
fn give_to_sandboxes(chown: impl FnOnce(u32, u32) -> io::Result<()>) {
    if let Ok(range) = crate::runtime::idmap::range() {
        let (uid, gid) = crate::runtime::DEFAULT_SANDBOX_USER;
        if let Err(err) = chown(range.uid_base + uid, range.gid_base + gid) {
            if err.kind() != io::ErrorKind::PermissionDenied {
                tracing::warn!("cannot give a volume file to the sandboxes' root: {err}");
            }
        }
    }
}

/// What to do when a directory on the way does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Fail with `NotFound`.
    Fail,
    /// Create it (and make its creation durable).
    Create,
}

/// Opens the directory made of the first `depth` components of `path`, starting at `root`.
/// Refuses symlinks on the way; `missing` decides what a missing directory means.
pub(crate) fn descend(
    root: Dir,
    path: &VolPath,
    depth: usize,
    missing: Missing,
) -> Result<Dir, FsError> {
    let mut dir = root;
    for (i, name) in path.parts()[..depth].iter().enumerate() {
        let here = path.prefix(i + 1);
        let meta = dir.lstat(name).map_err(|e| io_error(e, format_args!("looking up {here:?}")))?;
        match meta {
            None if missing == Missing::Create => {
                match fs::create_dir(dir.child(name)) {
                    Ok(()) => {
                        let child = dir.child(name);
                        give_to_sandboxes(|uid, gid| {
                            std::os::unix::fs::lchown(&child, Some(uid), Some(gid))
                        });
                        dir.sync().map_err(|e| io_error(e, "syncing a new directory"))?;
                    }
                    // Someone else created it meanwhile; opening it below checks what it is.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_error(e, format_args!("creating directory {here:?}"))),
                }
            }
            None => {
                return Err(FsError::NotFound(format!(
                    "{path} does not exist: there is no directory {here:?}"
                )));
            }
            Some(meta) if meta.file_type().is_symlink() => return Err(symlink_error(&here)),
            Some(meta) if !meta.is_dir() => return Err(not_a_directory(path, &here, missing)),
            Some(_) => {}
        }
        dir = match dir.open_dir(name) {
            Ok(next) => next,
            // Swapped since the lstat; O_NOFOLLOW | O_DIRECTORY reports a symlink as ENOTDIR.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                let now_link = dir.lstat(name).ok().flatten().is_some_and(|m| m.is_symlink());
                return Err(if now_link {
                    symlink_error(&here)
                } else {
                    not_a_directory(path, &here, missing)
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(FsError::NotFound(format!(
                    "{path} does not exist: directory {here:?} disappeared while being opened"
                )));
            }
            Err(e) => return Err(io_error(e, format_args!("opening directory {here:?}"))),
        };
    }
    Ok(dir)
}

/// The error for a path that goes through (or ends at) a symlink.
pub(crate) fn symlink_error(at: &str) -> FsError {
    FsError::InvalidPath(format!(
        "{at:?} is a symbolic link; the files API never follows links, since they may point \
         outside the volume: use the real path of the target inside the volume"
    ))
}

fn not_a_directory(path: &VolPath, at: &str, missing: Missing) -> FsError {
    match missing {
        Missing::Fail => {
            FsError::NotFound(format!("{path} does not exist: {at:?} is a file, not a directory"))
        }
        Missing::Create => FsError::Conflict(format!(
            "cannot create {path}: {at:?} is a file, not a directory; move or delete it, or \
             choose another path"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn handles_stay_bound_to_the_directory_they_opened() {
        assert!(proc_fd_available(), "these tests expect Linux with /proc");
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("vol");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir(tmp.path().join("outside")).unwrap();
        let a = Dir::open_root(&root).unwrap().open_dir("a").unwrap();
        // A sandbox swaps the directory for a symlink to the outside after we opened it.
        std::fs::rename(root.join("a"), root.join("b")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside"), root.join("a")).unwrap();
        drop(a.create_new("f").unwrap());
        assert!(root.join("b/f").exists());
        assert_eq!(std::fs::read_dir(tmp.path().join("outside")).unwrap().count(), 0);
        // Opening through the swapped-in symlink fails instead of following it.
        let err = Dir::open_root(&root).unwrap().open_dir("a").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
    }
}
