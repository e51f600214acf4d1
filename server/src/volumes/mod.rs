//! Disk volumes on the local filesystem: the files API of spec/README.md §9 over one data
//! directory.
//!
//! Rules every operation follows:
//! - **Paths** are relative to the volume root; a leading `/` is optional, a trailing `/`, empty
//!   components (`//`) and `.` components are ignored; `/` or `""` is the root. `..` anywhere,
//!   NUL bytes, names over 255 bytes and names starting with `.porter-upload-` (reserved for
//!   uploads in progress) are refused with [`FsError::InvalidPath`]. A backslash is an ordinary
//!   character.
//! - **Symlinks are never followed.** A path any of whose existing components (the last one
//!   included) is a symlink is refused with [`FsError::InvalidPath`], whatever the link points
//!   to; nothing is created through one. Directories are opened one component at a time with
//!   `O_NOFOLLOW`, relative to the directory already open, so a symlink swapped in by a sandbox
//!   while a request runs fails the request instead of escaping the volume.
//! - **Listings** show regular files and directories only; symlinks, FIFOs, sockets and devices
//!   are left out, as are upload temp files. Names that are not UTF-8 are shown lossily.
//! - **Writes** stream into a temp file in the target's directory and are renamed into place
//!   once complete and synced, so readers see the old content or the new, never a torn file.
//! - **Moves** never overwrite. The workspace forbids `unsafe`, so `renameat2(RENAME_NOREPLACE)`
//!   is out of reach; instead the target is checked and renamed under a process-wide lock, which
//!   also orders moves against write commits. Only a sandbox creating the target in that instant
//!   can race it (and a directory rename still cannot replace a non-empty directory or a file).

mod dir;
mod error;
pub mod image;
mod leftovers;
mod listing;
mod moves;
mod paths;
mod read;
pub mod storage;
mod write;

use std::{
    io,
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard, PoisonError},
};

pub use error::FsError;
pub use read::ReadPlan;

/// Entries one listing reads before it stops and marks what it left unread as truncated.
pub const DEFAULT_LIST_BUDGET: usize = 1000;

/// The files of one disk volume, stored under its data directory.
#[derive(Debug, Clone)]
pub struct VolumeFs {
    root: PathBuf,
}

impl VolumeFs {
    /// The volume whose data directory is `root` (which must exist when operations run).
    #[must_use]
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The data directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Runs blocking filesystem work off the async runtime.
async fn blocking<T, F>(work: F) -> Result<T, FsError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, FsError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| FsError::Io(io::Error::other(format!("volume file task failed: {e}"))))?
}

/// Serializes the check-then-rename steps of moves and write commits within this process.
fn mutation_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    // The guarded data is `()`, so a panic elsewhere leaves nothing inconsistent.
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Shared helpers for the unit tests of this module.
#[cfg(test)]
mod testutil {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::PathBuf;

    use super::{FsError, VolumeFs};

    /// A volume in `<tmp>/vol` plus `<tmp>/outside/canary`, a directory outside the volume.
    pub(crate) struct TestVol {
        pub(crate) tmp: tempfile::TempDir,
        pub(crate) fs: VolumeFs,
    }

    impl TestVol {
        pub(crate) fn new() -> Self {
            let tmp = tempfile::tempdir().unwrap();
            std::fs::create_dir(tmp.path().join("vol")).unwrap();
            std::fs::create_dir(tmp.path().join("outside")).unwrap();
            std::fs::write(tmp.path().join("outside/canary"), b"canary").unwrap();
            let fs = VolumeFs::new(tmp.path().join("vol"));
            Self { tmp, fs }
        }

        /// Writes `content` at `rel` inside the volume, creating parents.
        pub(crate) fn put(&self, rel: &str, content: &[u8]) {
            let path = self.fs.root().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }

        pub(crate) fn mkdir(&self, rel: &str) {
            std::fs::create_dir_all(self.fs.root().join(rel)).unwrap();
        }

        pub(crate) fn outside(&self) -> PathBuf {
            self.tmp.path().join("outside")
        }

        /// The canary outside the volume is unchanged and nothing new appeared beside it.
        pub(crate) fn assert_outside_untouched(&self) {
            assert_eq!(std::fs::read(self.outside().join("canary")).unwrap(), b"canary");
            let mut names: Vec<String> = std::fs::read_dir(self.outside())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(names, ["canary"]);
        }
    }

    pub(crate) fn assert_invalid<T: std::fmt::Debug>(result: Result<T, FsError>) -> String {
        match result {
            Err(FsError::InvalidPath(msg)) => msg,
            other => panic!("expected InvalidPath, got {other:?}"),
        }
    }
}
