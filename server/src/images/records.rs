//! Small durable records of the store: tag → image (`refs/`), holder → rootfs (`pins/`), and the
//! store-wide lock that keeps a prune away from images being resolved.
//!
//! `refs/<sha256 of the reference>.json` remembers which image a registry reference resolved to,
//! so a warm start needs no registry. `pins/<holder>` names the rootfs a sandbox (or any other
//! holder) runs on; a prune keeps what live holders pin. Resolves hold `lock` shared, a prune
//! holds it exclusively — an `flock`, so a `porter-sandbox images prune` in another process is
//! kept out too.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};
use serde::{Deserialize, Serialize};

use super::ImageError;
use super::digest::{is_sha256_hex, sha256_hex};
use super::flatten::store_io;

/// What a registry reference resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RefRecord {
    /// The fully qualified reference.
    pub(crate) reference: String,
    /// The platform manifest's digest (hex): also the rootfs key.
    pub(crate) manifest: String,
    /// The image config's digest (hex), kept in `blobs/`.
    pub(crate) config: String,
    /// When it was pulled (Unix seconds).
    pub(crate) pulled_at: u64,
}

/// Writes `bytes` to `dest` atomically: a synced file in `tmp`, renamed into place.
pub(crate) fn write_atomic(tmp: &Path, dest: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    fs::create_dir_all(tmp).map_err(|e| store_io("creating", tmp, &e))?;
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| store_io("creating", parent, &e))?;
    }
    let staging = tmp.join(format!("record.{}.{:016x}", std::process::id(), rand::random::<u64>()));
    let written = File::create(&staging).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let result = written.and_then(|()| fs::rename(&staging, dest));
    if let Err(e) = result {
        let _ = fs::remove_file(&staging);
        return Err(store_io("writing", dest, &e));
    }
    Ok(())
}

fn ref_path(root: &Path, reference: &str) -> PathBuf {
    root.join("refs").join(format!("{}.json", sha256_hex(reference.as_bytes())))
}

/// The record of `reference`, if one was written (unreadable records count as absent).
pub(crate) fn read_ref(root: &Path, reference: &str) -> Option<RefRecord> {
    let bytes = fs::read(ref_path(root, reference)).ok()?;
    serde_json::from_slice::<RefRecord>(&bytes).ok().filter(|r| {
        r.reference == reference && is_sha256_hex(&r.manifest) && is_sha256_hex(&r.config)
    })
}

/// Records what `record.reference` resolved to.
pub(crate) fn write_ref(root: &Path, tmp: &Path, record: &RefRecord) -> Result<(), ImageError> {
    let bytes = serde_json::to_vec(record)
        .map_err(|e| ImageError::Io(format!("cannot encode an image record: {e}")))?;
    write_atomic(tmp, &ref_path(root, &record.reference), &bytes)
}

/// Every ref record (for a prune).
pub(crate) fn all_refs(root: &Path) -> Vec<(PathBuf, Option<RefRecord>)> {
    let Ok(entries) = fs::read_dir(root.join("refs")) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            let path = e.path();
            let record = fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
            (path, record)
        })
        .collect()
}

/// A file name for `holder`: kept readable when it is safe, hashed otherwise.
fn pin_name(holder: &str) -> String {
    let safe = !holder.is_empty()
        && holder.len() <= 128
        && !holder.starts_with('.')
        && holder.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if safe { holder.to_owned() } else { format!("h-{}", &sha256_hex(holder.as_bytes())[..32]) }
}

/// Records that `holder` runs on `rootfs` (a path inside `root`), replacing its earlier pin.
pub(crate) fn pin(root: &Path, tmp: &Path, holder: &str, rootfs: &Path) -> Result<(), ImageError> {
    let relative = rootfs.strip_prefix(root).map_err(|_| {
        ImageError::Io(format!("`{}` is not inside the image store", rootfs.display()))
    })?;
    let line = format!("{holder}\n{}\n", relative.display());
    write_atomic(tmp, &root.join("pins").join(pin_name(holder)), line.as_bytes())
}

/// Every pin: its file, holder and rootfs (relative to the store's root).
pub(crate) fn all_pins(root: &Path) -> Vec<(PathBuf, String, PathBuf)> {
    let Ok(entries) = fs::read_dir(root.join("pins")) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let text = fs::read_to_string(&path).ok()?;
            let mut lines = text.lines();
            let holder = lines.next()?.to_owned();
            let rootfs = PathBuf::from(lines.next()?);
            Some((path, holder, rootfs))
        })
        .collect()
}

/// A held store lock; released when dropped (the file closes).
#[derive(Debug)]
pub(crate) struct StoreLock(#[allow(dead_code)] File);

/// Takes the store lock, shared (resolves) or exclusive (prunes); `wait: false` gives up at
/// once when it is held (`Ok(None)`).
pub(crate) fn lock_store(
    root: &Path,
    exclusive: bool,
    wait: bool,
) -> Result<Option<StoreLock>, ImageError> {
    fs::create_dir_all(root).map_err(|e| store_io("creating", root, &e))?;
    let path = root.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| store_io("opening", &path, &e))?;
    let operation = match (exclusive, wait) {
        (true, true) => FlockOperation::LockExclusive,
        (true, false) => FlockOperation::NonBlockingLockExclusive,
        (false, true) => FlockOperation::LockShared,
        (false, false) => FlockOperation::NonBlockingLockShared,
    };
    match flock(&file, operation) {
        Ok(()) => Ok(Some(StoreLock(file))),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(store_io("locking", &path, &io::Error::from(e))),
    }
}
