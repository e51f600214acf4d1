//! Applying one layer tar onto a root directory: whiteouts, and extraction that can never write
//! outside the root.
//!
//! Every entry path is split into components (`..` is refused), and its parent directories are
//! resolved one component at a time with symlinks followed *as if the root were `/`* (a
//! chroot-style walk, like containerd's). So `lib -> usr/lib` from a lower layer still works,
//! while a symlink to `/etc` or `../../..` lands inside the root. The last component is never
//! followed: an existing entry there is removed and replaced. Only this process writes into the
//! staging root, so nothing can swap a directory for a symlink between the check and the write.
//!
//! Ownership is shifted into the sandboxes' id range ([`crate::runtime::idmap`]): an image's
//! uid 0 becomes the range's first host uid, so image files are never owned by host root or a
//! host user. Set-uid and set-gid bits are dropped from every file (sandboxes run with
//! `noNewPrivileges`, where they do nothing, and on the host they must never exist); the
//! set-gid bit of directories (group inheritance, no privilege) is kept.

use std::collections::{HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tar::{EntryType, Header};

use super::ImageError;
use crate::runtime::idmap::IdRange;

/// Linux's own limit on symlinks followed while resolving one path.
const MAX_SYMLINK_HOPS: usize = 40;

/// The whiteout prefix of the OCI layer format.
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// `.wh..wh..opq` once [`WHITEOUT_PREFIX`] has been stripped: the directory is opaque.
const OPAQUE_MARKER: &[u8] = b".wh..opq";

/// The mode bits a regular file keeps: everything but set-uid and set-gid.
const FILE_MODE_BITS: u32 = 0o1777;

/// Applies the layer tar read from `reader` onto `root`, with owners shifted into `ids`.
pub(crate) fn apply_layer(root: &Path, reader: impl Read, ids: IdRange) -> Result<(), ImageError> {
    let mut archive = tar::Archive::new(reader);
    let mut applier =
        Applier { root, ids, created: HashSet::new(), dirs: Vec::new(), buf: vec![0; 128 * 1024] };
    let entries = archive.entries().map_err(not_a_tar)?;
    for entry in entries {
        let mut entry = entry.map_err(not_a_tar)?;
        applier.apply(&mut entry)?;
    }
    applier.finish();
    Ok(())
}

fn not_a_tar(e: io::Error) -> ImageError {
    ImageError::Invalid(format!("the layer is not a valid (or is a truncated) tar archive: {e}"))
}

fn io_error(action: &str, path: &Path, e: &io::Error) -> ImageError {
    ImageError::Io(format!(
        "{action} `{}` while unpacking an image failed: {e}; check that the server's data \
         directory is writable and has free space",
        path.display()
    ))
}

struct Applier<'a> {
    root: &'a Path,
    /// The host ids the image's ids are shifted to.
    ids: IdRange,
    /// Paths this layer wrote (and their ancestors): an opaque marker keeps them.
    created: HashSet<PathBuf>,
    /// Directory modes and times, applied once the layer is done (writing children would
    /// change the times, and a read-only mode would get in the way of a non-root unpacker).
    dirs: Vec<(PathBuf, u32, SystemTime)>,
    buf: Vec<u8>,
}

/// Ownership and times of an entry.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: SystemTime,
}

impl Meta {
    /// The entry's metadata, owners shifted into `ids`.
    fn of(header: &Header, shown: &str, ids: IdRange) -> Result<Self, ImageError> {
        let bad = |field: &str, e: io::Error| {
            ImageError::Invalid(format!("layer entry `{shown}` has an invalid {field}: {e}"))
        };
        let id = |v: u64, field: &str| {
            u32::try_from(v).map_err(|_| {
                ImageError::Invalid(format!(
                    "layer entry `{shown}` has an out-of-range {field} {v}"
                ))
            })
        };
        Ok(Self {
            mode: header.mode().map_err(|e| bad("mode", e))? & 0o7777,
            uid: ids.host_uid(id(header.uid().map_err(|e| bad("uid", e))?, "uid")?),
            gid: ids.host_gid(id(header.gid().map_err(|e| bad("gid", e))?, "gid")?),
            mtime: SystemTime::UNIX_EPOCH
                + Duration::from_secs(header.mtime().map_err(|e| bad("mtime", e))?),
        })
    }
}

/// Splits an archive path into its names: `/` and `.` are dropped, `..` is refused.
pub(crate) fn components(bytes: &[u8]) -> Result<Vec<OsString>, ImageError> {
    let mut out = Vec::new();
    for part in bytes.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                return Err(ImageError::Invalid(format!(
                    "layer entry `{}` points outside the image root (`..`); the image is \
                     malformed or malicious and was not unpacked",
                    String::from_utf8_lossy(bytes)
                )));
            }
            _ => out.push(OsStr::from_bytes(part).to_owned()),
        }
    }
    Ok(out)
}

/// Resolves the directory `names` under `root`, following symlinks as if `root` were `/`.
/// Missing directories are created (mode 0755) when `create`; otherwise `None` is returned.
pub(crate) fn resolve_dir(
    root: &Path,
    names: &[OsString],
    create: bool,
) -> Result<Option<PathBuf>, ImageError> {
    let mut pending: VecDeque<OsString> = names.iter().cloned().collect();
    let mut cur = root.to_path_buf();
    let mut depth = 0usize;
    let mut hops = 0usize;
    while let Some(name) = pending.pop_front() {
        match name.as_bytes() {
            b"" | b"." => continue,
            b".." => {
                // Symlink targets may climb; never above the root.
                if depth > 0 {
                    cur.pop();
                    depth -= 1;
                }
                continue;
            }
            _ => {}
        }
        let next = cur.join(&name);
        match fs::symlink_metadata(&next) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(ImageError::Invalid(format!(
                        "too many levels of symbolic links under `{}` in the image",
                        shown(root, &next)
                    )));
                }
                let target = fs::read_link(&next).map_err(|e| io_error("reading", &next, &e))?;
                let target = target.as_os_str().as_bytes();
                if target.starts_with(b"/") {
                    cur = root.to_path_buf();
                    depth = 0;
                }
                for part in target.split(|&b| b == b'/').rev() {
                    pending.push_front(OsStr::from_bytes(part).to_owned());
                }
                continue;
            }
            Ok(_) => {
                return Err(ImageError::Invalid(format!(
                    "the image puts entries under `{}`, which is not a directory",
                    shown(root, &next)
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !create {
                    return Ok(None);
                }
                fs::create_dir(&next).map_err(|e| io_error("creating", &next, &e))?;
                fs::set_permissions(&next, Permissions::from_mode(0o755))
                    .map_err(|e| io_error("setting the mode of", &next, &e))?;
            }
            Err(e) => return Err(io_error("inspecting", &next, &e)),
        }
        cur = next;
        depth += 1;
    }
    Ok(Some(cur))
}

/// `path` relative to `root`, for messages.
fn shown(root: &Path, path: &Path) -> String {
    format!("/{}", path.strip_prefix(root).unwrap_or(path).display())
}

/// Removes whatever is at `path` (a directory recursively, never following a symlink).
pub(crate) fn remove_any(path: &Path) -> Result<(), ImageError> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("removing", path, &e)),
        _ => Ok(()),
    }
}

/// chown that tolerates not being root (then files simply stay ours).
fn tolerate_eperm(result: io::Result<()>, path: &Path) -> Result<(), ImageError> {
    match result {
        Err(e) if e.kind() != io::ErrorKind::PermissionDenied => {
            Err(io_error("changing the owner of", path, &e))
        }
        _ => Ok(()),
    }
}

impl Applier<'_> {
    fn apply<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ImageError> {
        let raw_path = entry.path_bytes().into_owned();
        let shown_path = String::from_utf8_lossy(&raw_path).into_owned();
        let names = components(&raw_path)?;
        let kind = entry.header().entry_type();
        let Some((name, parents)) = names.split_last() else {
            // `./` itself: the root directory's own mode and times.
            if kind.is_dir() {
                let meta = Meta::of(entry.header(), &shown_path, self.ids)?;
                tolerate_eperm(
                    std::os::unix::fs::chown(self.root, Some(meta.uid), Some(meta.gid)),
                    self.root,
                )?;
                self.dirs.push((self.root.to_path_buf(), meta.mode, meta.mtime));
            }
            return Ok(());
        };
        if let Some(whiteout) = name.as_bytes().strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(parents, whiteout, &shown_path);
        }
        let parent =
            resolve_dir(self.root, parents, true)?.unwrap_or_else(|| self.root.to_path_buf());
        let dst = parent.join(name);
        self.mark_created(&dst);

        match kind {
            EntryType::Directory => {
                let meta = Meta::of(entry.header(), &shown_path, self.ids)?;
                match fs::symlink_metadata(&dst) {
                    Ok(existing) if existing.is_dir() => {}
                    other => {
                        if other.is_ok() {
                            remove_any(&dst)?;
                        }
                        fs::create_dir(&dst).map_err(|e| io_error("creating", &dst, &e))?;
                    }
                }
                tolerate_eperm(
                    std::os::unix::fs::chown(&dst, Some(meta.uid), Some(meta.gid)),
                    &dst,
                )?;
                self.dirs.push((dst, meta.mode, meta.mtime));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let meta = Meta::of(entry.header(), &shown_path, self.ids)?;
                remove_any(&dst)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&dst)
                    .map_err(|e| io_error("creating", &dst, &e))?;
                self.copy_data(entry, &mut file, &dst, &shown_path)?;
                tolerate_eperm(
                    std::os::unix::fs::fchown(&file, Some(meta.uid), Some(meta.gid)),
                    &dst,
                )?;
                file.set_permissions(Permissions::from_mode(meta.mode & FILE_MODE_BITS))
                    .map_err(|e| io_error("setting the mode of", &dst, &e))?;
                file.set_modified(meta.mtime)
                    .map_err(|e| io_error("setting the time of", &dst, &e))?;
            }
            EntryType::Symlink => {
                let meta = Meta::of(entry.header(), &shown_path, self.ids)?;
                let target = link_target(entry, &shown_path)?;
                remove_any(&dst)?;
                // Stored verbatim: it is only ever followed inside the container (or by
                // `resolve_dir`, which keeps it inside the root).
                std::os::unix::fs::symlink(OsStr::from_bytes(&target), &dst)
                    .map_err(|e| io_error("creating the symlink", &dst, &e))?;
                tolerate_eperm(
                    std::os::unix::fs::lchown(&dst, Some(meta.uid), Some(meta.gid)),
                    &dst,
                )?;
            }
            EntryType::Link => {
                let target = link_target(entry, &shown_path)?;
                let src = self.hard_link_source(&target, &shown_path)?;
                if src != dst {
                    remove_any(&dst)?;
                    fs::hard_link(&src, &dst)
                        .map_err(|e| io_error("creating the hard link", &dst, &e))?;
                }
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                // Device nodes have no business in a shared rootfs (the runtime provides /dev),
                // and a FIFO cannot be made without unsafe code here.
                tracing::warn!(
                    entry = %shown_path, kind = ?kind, "skipping a special file in an image layer"
                );
            }
            other => {
                tracing::debug!(
                    entry = %shown_path, kind = ?other, "ignoring a tar entry of an unknown type"
                );
            }
        }
        Ok(())
    }

    /// Handles `.wh.NAME` (delete NAME from lower layers) and `.wh..wh..opq` (make the directory
    /// opaque: drop everything lower layers put in it).
    fn whiteout(
        &mut self,
        parents: &[OsString],
        name: &[u8],
        shown_path: &str,
    ) -> Result<(), ImageError> {
        let Some(dir) = resolve_dir(self.root, parents, false)? else {
            return Ok(()); // nothing below to hide
        };
        if name == OPAQUE_MARKER {
            self.mark_created(&dir);
            let children = fs::read_dir(&dir).map_err(|e| io_error("listing", &dir, &e))?;
            for child in children {
                let path = child.map_err(|e| io_error("listing", &dir, &e))?.path();
                if !self.created.contains(&path) {
                    remove_any(&path)?;
                }
            }
            return Ok(());
        }
        if name.starts_with(WHITEOUT_PREFIX) {
            // Other `.wh..wh.*` names are AUFS bookkeeping (`.wh..wh.plnk`): not content.
            return Ok(());
        }
        if matches!(name, b"" | b"." | b"..") {
            return Err(ImageError::Invalid(format!(
                "the layer has the malformed whiteout `{shown_path}`; the image is malformed or \
                 malicious and was not unpacked"
            )));
        }
        remove_any(&dir.join(OsStr::from_bytes(name)))
    }

    /// The existing file a hard link entry points at, resolved inside the root.
    fn hard_link_source(&self, target: &[u8], shown_path: &str) -> Result<PathBuf, ImageError> {
        let names = components(target)?;
        let missing = || {
            ImageError::Invalid(format!(
                "the hard link `{shown_path}` points at `{}`, which is not an earlier file of \
                 the image",
                String::from_utf8_lossy(target)
            ))
        };
        let (last, parents) = names.split_last().ok_or_else(missing)?;
        let dir = resolve_dir(self.root, parents, false)?.ok_or_else(missing)?;
        let src = dir.join(last);
        match fs::symlink_metadata(&src) {
            Ok(meta) if !meta.is_dir() => Ok(src),
            _ => Err(missing()),
        }
    }

    fn copy_data<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        file: &mut File,
        dst: &Path,
        shown_path: &str,
    ) -> Result<(), ImageError> {
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(ImageError::Invalid(format!(
                        "reading `{shown_path}` from the layer failed (corrupt or truncated \
                         layer?): {e}"
                    )));
                }
            };
            file.write_all(&self.buf[..n]).map_err(|e| io_error("writing", dst, &e))?;
        }
    }

    /// Records `path` and its ancestors as written by this layer.
    fn mark_created(&mut self, path: &Path) {
        let mut cur = Some(path);
        while let Some(p) = cur {
            if p == self.root || !self.created.insert(p.to_path_buf()) {
                break;
            }
            cur = p.parent();
        }
    }

    /// Applies the deferred directory modes and times, deepest last-written first.
    fn finish(self) {
        for (dir, mode, mtime) in self.dirs.iter().rev() {
            // The directory may have been replaced or whited out later in the same layer.
            if let Err(e) = fs::set_permissions(dir, Permissions::from_mode(*mode)) {
                tracing::debug!(dir = %dir.display(), error = %e, "could not set a directory mode");
                continue;
            }
            if let Err(e) = File::open(dir).and_then(|d| d.set_modified(*mtime)) {
                tracing::debug!(dir = %dir.display(), error = %e, "could not set a directory time");
            }
        }
    }
}

fn link_target<R: Read>(
    entry: &tar::Entry<'_, R>,
    shown_path: &str,
) -> Result<Vec<u8>, ImageError> {
    entry.link_name_bytes().map(std::borrow::Cow::into_owned).ok_or_else(|| {
        ImageError::Invalid(format!("the link `{shown_path}` in the layer has no target"))
    })
}
