//! Flattening an image's layers into one content-addressed rootfs directory.
//!
//! Layers are applied in a private staging directory next to the store, then renamed into
//! `rootfs/<key>` in one step: a rootfs that exists is always complete, and a crash leaves only a
//! staging directory behind (swept on the next start).
//!
//! Owners are shifted into the sandboxes' id range while unpacking (see `unpack.rs`); the
//! rootfs directory itself belongs to the range's root, which is how a rootfs unpacked before
//! that shift (owned by host root) is recognised and unpacked again.

use std::fs::{self, File, Permissions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::digest::HashingReader;
use super::{ImageConfig, ImageError, unpack};
use crate::runtime::idmap::{self, IdRange};

/// How a layer is compressed, as declared by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// Undeclared: decided from the first bytes.
    Sniff,
    /// A plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd (not supported).
    Zstd,
}

impl Compression {
    /// The compression a layer media type declares.
    pub(crate) fn from_media_type(media_type: Option<&str>) -> Self {
        match media_type {
            Some(m) if m.ends_with("+zstd") || m.ends_with(".zstd") => Self::Zstd,
            Some(m) if m.ends_with("+gzip") || m.ends_with(".gzip") => Self::Gzip,
            Some(m) if m.ends_with(".tar") || m.ends_with(".rootfs.diff.tar") => Self::None,
            _ => Self::Sniff,
        }
    }
}

/// The first bytes of a gzip stream.
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
/// The first bytes of a zstd frame.
pub(crate) const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Whether `head` starts a gzip stream.
pub(crate) fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(GZIP_MAGIC)
}

/// One layer: a byte range of a file (a blob, or a member of an archive).
#[derive(Debug, Clone)]
pub(crate) struct LayerSource {
    /// The file holding the layer.
    pub(crate) file: PathBuf,
    /// Where the layer starts in it.
    pub(crate) offset: u64,
    /// Its length in bytes, when known (else: to the end of the file).
    pub(crate) len: Option<u64>,
    /// The expected sha256 (hex) of the stored bytes, when known.
    pub(crate) digest: Option<String>,
    /// The expected sha256 (hex) of the uncompressed tar (the config's `diff_id`), when known.
    pub(crate) diff_id: Option<String>,
    /// The declared compression.
    pub(crate) compression: Compression,
    /// A name for messages (`sha256:ab12…` or the archive member).
    pub(crate) label: String,
}

/// A file deleted when dropped (an uncompressed copy of a gzipped archive).
#[derive(Debug)]
pub(crate) struct TempFile(pub(crate) PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.0) {
            tracing::warn!(
                path = %self.0.display(), error = %e, "could not remove a temporary image file"
            );
        }
    }
}

/// Everything needed to produce an image's rootfs, read from its manifest and config.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The content address of the rootfs (hex).
    pub(crate) key: String,
    /// The image's runtime defaults.
    pub(crate) config: ImageConfig,
    /// The layers, lowest first.
    pub(crate) layers: Vec<LayerSource>,
    /// Keeps a temporary file the layers live in.
    pub(crate) _temp: Option<TempFile>,
    /// Keeps the descriptors that `/proc/self/fd/N` layer paths name (see `access.rs`).
    pub(crate) _held: Vec<std::os::fd::OwnedFd>,
}

/// Where the store keeps rootfs directories and staging areas.
#[derive(Debug, Clone)]
pub(crate) struct StoreDirs {
    /// `<root>/rootfs`.
    pub(crate) rootfs: PathBuf,
    /// `<root>/tmp` (same filesystem, so renames are atomic).
    pub(crate) tmp: PathBuf,
}

/// Returns `rootfs/<key>`, flattening the layers into it first unless it already exists.
pub(crate) fn materialize(dirs: &StoreDirs, plan: &Plan) -> Result<PathBuf, ImageError> {
    let ids = sandbox_ids()?;
    let dest = dirs.rootfs.join(&plan.key);
    if is_current(&dest, ids) {
        return Ok(dest);
    }
    let staging = new_staging_dir(&dirs.tmp, &plan.key)?;
    let built = plan
        .layers
        .iter()
        .try_for_each(|layer| apply_layer_source(&staging, layer, ids))
        .and_then(|()| give_root(&staging, ids));
    if let Err(e) = built {
        discard(&staging);
        return Err(e);
    }
    retire(&dest, &dirs.tmp);
    publish(&staging, &dest, &dirs.rootfs)?;
    tracing::info!(rootfs = %dest.display(), layers = plan.layers.len(), "unpacked an image");
    Ok(dest)
}

/// The sandboxes' id range, as an image error.
pub(crate) fn sandbox_ids() -> Result<IdRange, ImageError> {
    idmap::range().map_err(|e| ImageError::Io(e.to_string()))
}

/// Whether `dest` is a rootfs unpacked for the id range `ids` (its root belongs to the range's
/// root; a server not running as root cannot chown, so any rootfs is current for it).
pub(crate) fn is_current(dest: &Path, ids: IdRange) -> bool {
    let Ok(meta) = fs::symlink_metadata(dest) else { return false };
    let as_root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    meta.is_dir() && (meta.uid() == ids.uid_base || !as_root)
}

/// Gives the root directory of a built rootfs to the range's root (see [`is_current`]).
pub(crate) fn give_root(staging: &Path, ids: IdRange) -> Result<(), ImageError> {
    match std::os::unix::fs::chown(staging, Some(ids.uid_base), Some(ids.gid_base)) {
        Err(e) if e.kind() != io::ErrorKind::PermissionDenied => {
            Err(store_io("changing the owner of", staging, &e))
        }
        _ => Ok(()),
    }
}

/// Moves an outdated rootfs at `dest` out of the way, into `tmp` under a staging name, so the
/// next start's sweep removes it (sandboxes still running on it keep working until then).
pub(crate) fn retire(dest: &Path, tmp: &Path) {
    if !dest.exists() {
        return;
    }
    let aside = tmp.join(format!("stale.{}.{:016x}", std::process::id(), rand::random::<u64>()));
    match fs::rename(dest, &aside) {
        Ok(()) => {
            tracing::info!(rootfs = %dest.display(), "replacing a rootfs of an older layout");
        }
        Err(e) => {
            tracing::warn!(rootfs = %dest.display(), error = %e, "cannot move aside a rootfs");
        }
    }
}

/// Creates `tmp/<label>.<pid>.<random>` (mode 0755) to build into.
pub(crate) fn new_staging_dir(tmp: &Path, label: &str) -> Result<PathBuf, ImageError> {
    fs::create_dir_all(tmp).map_err(|e| store_io("creating", tmp, &e))?;
    let staging =
        tmp.join(format!("{label}.{}.{:016x}", std::process::id(), rand::random::<u64>()));
    fs::create_dir(&staging).map_err(|e| store_io("creating", &staging, &e))?;
    fs::set_permissions(&staging, Permissions::from_mode(0o755))
        .map_err(|e| store_io("setting the mode of", &staging, &e))?;
    Ok(staging)
}

/// Renames the finished `staging` to `dest`. Losing a race to another builder is fine: the
/// other copy is identical, so ours is dropped.
pub(crate) fn publish(staging: &Path, dest: &Path, parent: &Path) -> Result<(), ImageError> {
    fs::create_dir_all(parent).map_err(|e| store_io("creating", parent, &e))?;
    match fs::rename(staging, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.is_dir() => {
            discard(staging);
            Ok(())
        }
        Err(e) => {
            discard(staging);
            Err(store_io("moving the unpacked image to", dest, &e))
        }
    }
}

/// Removes a staging directory, best effort.
pub(crate) fn discard(staging: &Path) {
    if let Err(e) = fs::remove_dir_all(staging) {
        tracing::warn!(
            path = %staging.display(), error = %e, "could not remove an image staging directory"
        );
    }
}

/// An I/O error on the store itself.
pub(crate) fn store_io(action: &str, path: &Path, e: &io::Error) -> ImageError {
    ImageError::Io(format!(
        "{action} `{}` failed: {e}; check that the server's data directory is writable and has \
         free space",
        path.display()
    ))
}

/// Verifies and applies one layer onto `root`.
fn apply_layer_source(root: &Path, layer: &LayerSource, ids: IdRange) -> Result<(), ImageError> {
    let read_err = |e: io::Error| {
        ImageError::Io(format!(
            "reading layer {} from `{}` failed: {e}",
            layer.label,
            layer.file.display()
        ))
    };
    // Opened only now, so a cached image needs none of its layer files.
    let mut file = match File::open(&layer.file) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ImageError::NotFound(format!(
                "layer {} is missing; the image is incomplete, copy or export it again",
                layer.label
            )));
        }
        Err(e) => return Err(read_err(e)),
    };
    let stored = file.metadata().map_err(read_err)?.len().saturating_sub(layer.offset);
    let expected = layer.len.unwrap_or(stored);
    if expected > stored {
        return Err(ImageError::Invalid(format!(
            "layer {} is truncated: expected {expected} bytes, found {stored}; copy or export \
             the image again",
            layer.label
        )));
    }
    file.seek(SeekFrom::Start(layer.offset)).map_err(read_err)?;
    let mut raw = HashingReader::new(file.take(expected));

    let applied = apply_stream(root, layer, &mut raw, ids);
    // A corrupt blob usually also breaks gzip or tar; report the digest, which says why.
    raw.drain().map_err(read_err)?;
    let (digest, len) = raw.finish();
    if len != expected {
        return Err(ImageError::Invalid(format!(
            "layer {} changed while it was read ({len} of {expected} bytes); try again",
            layer.label
        )));
    }
    if let Some(expected) = layer.digest.as_deref().filter(|expected| *expected != digest) {
        return Err(ImageError::Invalid(format!(
            "layer {} is corrupt: its content hashes to sha256:{digest}, not sha256:{expected}; \
             export the image again",
            layer.label
        )));
    }
    applied.map_err(|e| e.context(&format!("layer {}", layer.label)))
}

/// Decompresses and unpacks the layer read from `raw`, checking its `diff_id`.
fn apply_stream(
    root: &Path,
    layer: &LayerSource,
    raw: &mut impl Read,
    ids: IdRange,
) -> Result<(), ImageError> {
    let mut buffered = BufReader::with_capacity(256 * 1024, raw);
    let head = buffered
        .fill_buf()
        .map_err(|e| ImageError::Io(format!("reading layer {}: {e}", layer.label)))?;
    let zstd = match layer.compression {
        Compression::Zstd => true,
        _ if head.starts_with(ZSTD_MAGIC) => true,
        _ => false,
    };
    if zstd {
        return Err(ImageError::Unsupported(format!(
            "layer {} is zstd-compressed, which this server cannot unpack yet; convert the image \
             to gzip layers (e.g. `skopeo copy --dest-compress-format gzip ...`)",
            layer.label
        )));
    }
    // The declared `+gzip` wins; undeclared or plain layers are sniffed too, since some tools
    // label gzipped layers as plain tars.
    let decoded: Box<dyn Read + '_> = if layer.compression == Compression::Gzip || is_gzip(head) {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let mut tar = HashingReader::new(decoded);
    unpack::apply_layer(root, &mut tar, ids)?;
    // Trailing zero blocks after the end-of-archive marker belong to the diff_id too.
    tar.drain().map_err(|e| {
        ImageError::Invalid(format!("the end of the layer could not be decompressed: {e}"))
    })?;
    let (diff_id, _) = tar.finish();
    match &layer.diff_id {
        Some(expected) if *expected != diff_id => Err(ImageError::Invalid(format!(
            "its uncompressed content hashes to sha256:{diff_id}, but the image config says \
             sha256:{expected}; the image is corrupt, export it again"
        ))),
        _ => Ok(()),
    }
}
