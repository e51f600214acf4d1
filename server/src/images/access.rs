//! Which local image paths the server reads (`docker-archive:PATH`, `oci-layout:PATH`).
//!
//! The server usually runs as root, while whoever names a path may be any local user: reading
//! it with root's rights would let them run (and so read) an image they cannot read themselves.
//! The rule: **a local image is read only if every user of the machine could read it.**
//!
//! - The path is looked up one component at a time from `/` without following symbolic links;
//!   a symlink anywhere on it is refused (name the real path, see `realpath`), as is `..`.
//! - Every directory on the way is searchable by others (`o+x`).
//! - The archive (`docker-archive:`) is readable by others (`o+r`); the layout directory
//!   (`oci-layout:`) is readable and searchable by others (`o+rx`), and so is everything the
//!   server reads from it (`oci-layout`, `index.json`, `blobs/`, `blobs/sha256/`, the blobs),
//!   again without symlinks.
//!
//! Everything is checked on, and then read through, file descriptors held until the image is
//! unpacked (`/proc/self/fd/N`), so renaming or swapping parts of the path after the check
//! changes nothing. Paths that fail the rule are refused when the sandbox is created (400) and
//! again when the image is read.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::ImageError;

/// What the last component must be readable as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// A file (`o+r`).
    File,
    /// A directory (`o+rx`).
    Dir,
}

/// Why a path cannot be used.
#[derive(Debug)]
pub(crate) enum Denied {
    /// Something on the path does not exist.
    Missing,
    /// The path breaks the rule (the message says how and what to do).
    Refused(String),
    /// The filesystem failed.
    Io(String),
}

impl Denied {
    /// As an image error, with `missing` used for [`Denied::Missing`].
    pub(crate) fn into_error(self, missing: impl FnOnce() -> ImageError) -> ImageError {
        match self {
            Self::Missing => missing(),
            Self::Refused(m) => ImageError::Invalid(m),
            Self::Io(m) => ImageError::Io(m),
        }
    }
}

/// Opens the absolute `path` (as an `O_PATH` descriptor) if the rule allows it.
pub(crate) fn open_public(path: &Path, want: Want) -> Result<OwnedFd, Denied> {
    let mut names = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => names.push(name),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Denied::Refused(format!(
                    "the image path `{}` must be absolute and without `..`; name the real path \
                     (see `realpath`)",
                    path.display()
                )));
            }
        }
    }
    if !path.is_absolute() {
        return Err(Denied::Refused(format!(
            "the image path `{}` must be absolute",
            path.display()
        )));
    }
    let root = open_path(rustix::fs::CWD, OsStr::new("/"), Path::new("/"))?;
    walk(root, Path::new("/"), &names, want)
}

/// Opens `relative` (plain names separated by `/`) inside the directory `dir` (shown as
/// `shown`) under the same rule.
pub(crate) fn open_beneath(
    dir: &OwnedFd,
    shown: &Path,
    relative: &str,
    want: Want,
) -> Result<OwnedFd, Denied> {
    let names: Vec<&OsStr> =
        relative.split('/').filter(|n| !n.is_empty()).map(OsStr::new).collect();
    let start = open_path(dir, OsStr::new("."), shown)?;
    walk(start, shown, &names, want)
}

/// The path that reopens `fd` (valid while `fd` is open).
pub(crate) fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Whether the file behind `fd` is a directory.
pub(crate) fn is_dir(fd: &OwnedFd) -> Result<bool, Denied> {
    let stat = rustix::fs::fstat(fd).map_err(|e| Denied::Io(format!("cannot inspect: {e}")))?;
    Ok(FileType::from_raw_mode(stat.st_mode) == FileType::Directory)
}

fn walk(start: OwnedFd, shown: &Path, names: &[&OsStr], want: Want) -> Result<OwnedFd, Denied> {
    let mut cur = start;
    let mut here = shown.to_path_buf();
    for (i, name) in names.iter().enumerate() {
        here.push(name);
        let next = open_path(&cur, name, &here)?;
        let stat =
            rustix::fs::fstat(&next).map_err(|e| Denied::Io(format!("cannot inspect: {e}")))?;
        let kind = FileType::from_raw_mode(stat.st_mode);
        let mode = Mode::from_raw_mode(stat.st_mode);
        let last = i + 1 == names.len();
        if kind == FileType::Symlink {
            return Err(refused(
                &here,
                "is a symbolic link",
                "name the real path (see `realpath`)",
            ));
        }
        let others_x = mode.contains(Mode::XOTH);
        let others_r = mode.contains(Mode::ROTH);
        if !last {
            if kind != FileType::Directory {
                return Err(Denied::Missing);
            }
            if !others_x {
                return Err(refused(
                    &here,
                    &format!("is not searchable by other users (mode {:o})", mode.bits() & 0o7777),
                    &format!(
                        "run `chmod o+x {}` or put the image somewhere all users can reach",
                        here.display()
                    ),
                ));
            }
        } else {
            let readable = match (want, kind) {
                (_, FileType::Directory) => others_r && others_x,
                (Want::File, _) => others_r,
                (Want::Dir, _) => true, // the caller reports "not a directory"
            };
            if !readable {
                let fix = if kind == FileType::Directory { "o+rx" } else { "o+r" };
                return Err(refused(
                    &here,
                    &format!("is not readable by other users (mode {:o})", mode.bits() & 0o7777),
                    &format!("run `chmod {fix} {}`", here.display()),
                ));
            }
        }
        cur = next;
    }
    Ok(cur)
}

fn refused(path: &Path, what: &str, fix: &str) -> Denied {
    Denied::Refused(format!(
        "`{}` {what}: this server only reads local images that every user of the machine could \
         read, through no symbolic links; {fix}",
        path.display()
    ))
}

fn open_path(dir: impl AsFd, name: &OsStr, shown: &Path) -> Result<OwnedFd, Denied> {
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, name.as_bytes(), flags, Mode::empty()).map_err(|e| match e {
        Errno::NOENT | Errno::NOTDIR => Denied::Missing,
        e => Denied::Io(format!("cannot open `{}`: {e}", shown.display())),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::fs::{self, Permissions};
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn message(denied: Denied) -> String {
        match denied {
            Denied::Refused(m) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn only_paths_every_user_could_read_are_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path();
        let file = top.join("image.tar");
        fs::write(&file, b"x").unwrap();
        fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        // A private directory on the way.
        fs::set_permissions(top, Permissions::from_mode(0o700)).unwrap();
        let err = message(open_public(&file, Want::File).unwrap_err());
        assert!(
            err.contains("not searchable by other users") && err.contains("chmod o+x"),
            "{err}"
        );
        fs::set_permissions(top, Permissions::from_mode(0o755)).unwrap();
        let fd = open_public(&file, Want::File).unwrap();
        assert_eq!(fs::read(fd_path(&fd)).unwrap(), b"x");

        fs::set_permissions(&file, Permissions::from_mode(0o600)).unwrap();
        let err = message(open_public(&file, Want::File).unwrap_err());
        assert!(err.contains("not readable by other users") && err.contains("o+r"), "{err}");

        let link = top.join("link.tar");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(message(open_public(&link, Want::File).unwrap_err()).contains("symbolic link"));
        let dir_link = top.join("d");
        std::os::unix::fs::symlink(top, &dir_link).unwrap();
        let through = dir_link.join("image.tar");
        assert!(message(open_public(&through, Want::File).unwrap_err()).contains("symbolic"));
        assert!(matches!(open_public(&top.join("nope"), Want::File), Err(Denied::Missing)));
        assert!(message(open_public(Path::new("/a/../b"), Want::File).unwrap_err()).contains(".."));

        let layout = top.join("layout");
        fs::create_dir(&layout).unwrap();
        fs::set_permissions(&layout, Permissions::from_mode(0o751)).unwrap();
        assert!(message(open_public(&layout, Want::Dir).unwrap_err()).contains("o+rx"));
        fs::set_permissions(&layout, Permissions::from_mode(0o755)).unwrap();
        let dir = open_public(&layout, Want::Dir).unwrap();
        assert!(is_dir(&dir).unwrap());
        std::os::unix::fs::symlink("/etc/shadow", layout.join("index.json")).unwrap();
        let err = open_beneath(&dir, &layout, "index.json", Want::File).unwrap_err();
        assert!(message(err).contains("symbolic link"));
    }
}
